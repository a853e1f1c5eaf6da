//! The network manager over the fake kernel and firewall: no root, no sockets except
//! published ports on 127.0.0.1.

use std::sync::Arc;

use berth_net::firewall::{FakeFirewall, Proto};
use berth_net::link::FakeNet;

use super::endpoints::PortRequest;
use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    net: Arc<FakeNet>,
    fw: Arc<FakeFirewall>,
    m: NetworkManager,
}

fn fixture(cfg: NetConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let net = Arc::new(FakeNet::default());
    net.state.lock().unwrap().routes = vec!["172.17.0.0/16".parse().unwrap()];
    let fw = Arc::new(FakeFirewall::default());
    let m = NetworkManager::new(
        cfg,
        &dir.path().join("root"),
        &dir.path().join("exec"),
        net.clone(),
        fw.clone(),
        EventBus::new(),
    );
    m.load().unwrap();
    m.restore().unwrap();
    Fixture {
        _dir: dir,
        net,
        fw,
        m,
    }
}

fn local_cfg() -> NetConfig {
    NetConfig {
        ip: Ipv4Addr::LOCALHOST,
        ..Default::default()
    }
}

fn user_net(m: &NetworkManager, name: &str, subnet: &str) -> String {
    m.create(CreateRequest {
        name: name.into(),
        subnet: Some(subnet.into()),
        ..Default::default()
    })
    .unwrap()
}

#[test]
fn predefined_networks_and_a_default_subnet_that_avoids_host_routes() {
    let f = fixture(local_cfg());
    let names: Vec<String> = f.m.list().into_iter().map(|n| n.name).collect();
    assert!(names.contains(&"bridge".into()) && names.contains(&"host".into()));
    let b = f.m.get("bridge").unwrap();
    assert_eq!(
        b.subnet.unwrap().to_string(),
        "172.18.0.0/16",
        "172.17/16 is routed"
    );
    assert_eq!(b.bridge, "berth0");
    assert!(
        f.net.snapshot().bridges.is_empty() && f.fw.batches.lock().unwrap().is_empty(),
        "nothing is created before a container needs it"
    );
    assert_eq!(
        f.m.remove("bridge").unwrap_err().message,
        "bridge is a pre-defined network and cannot be removed"
    );
}

#[test]
fn bip_and_bridge_none() {
    let f = fixture(NetConfig {
        bip: Some("10.213.7.1/24".parse().unwrap()),
        ..local_cfg()
    });
    let b = f.m.get("bridge").unwrap();
    assert_eq!(
        (
            b.subnet.unwrap().to_string(),
            b.gateway.unwrap().to_string()
        ),
        ("10.213.7.0/24".into(), "10.213.7.1".into())
    );
    let f = fixture(NetConfig {
        bridge: None,
        ..local_cfg()
    });
    assert_eq!(
        f.m.get("bridge").unwrap_err().message,
        "network bridge not found"
    );
}

#[test]
fn create_errors_are_dockers() {
    let f = fixture(local_cfg());
    user_net(&f.m, "n1", "10.99.0.0/24");
    let e =
        f.m.create(CreateRequest {
            name: "n2".into(),
            subnet: Some("10.99.0.0/16".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        e.message,
        "invalid pool request: Pool overlaps with other one on this address space"
    );
    assert_eq!(
        f.m.create(CreateRequest {
            name: "n1".into(),
            ..Default::default()
        })
        .unwrap_err()
        .message,
        "network with name n1 already exists"
    );
    assert_eq!(
        f.m.get("nope").unwrap_err().message,
        "network nope not found"
    );
    for (req, want) in [
        (
            CreateRequest {
                name: "x".into(),
                driver: "overlay".into(),
                ..Default::default()
            },
            "plugin \"overlay\" not found",
        ),
        (
            CreateRequest {
                name: "x".into(),
                subnet: Some("10.98.0.0/24".into()),
                gateway: Some("10.97.0.1".into()),
                ..Default::default()
            },
            "no matching subnet for gateway 10.97.0.1",
        ),
        (
            CreateRequest {
                name: "bad name".into(),
                ..Default::default()
            },
            "invalid network name",
        ),
    ] {
        let e = f.m.create(req).unwrap_err();
        assert!(e.message.contains(want), "{}", e.message);
    }
}

#[tokio::test]
async fn start_and_stop_leave_nothing_behind() {
    let f = fixture(local_cfg());
    let id = user_net(&f.m, "n1", "10.99.0.0/24");
    f.m.attach_on_create("c1", "/web", "n1", EndpointRequest::default(), vec![])
        .unwrap();
    f.m.attach_on_create(
        "c2",
        "/db",
        "n1",
        EndpointRequest {
            aliases: vec!["database".into()],
            ..Default::default()
        },
        vec![],
    )
    .unwrap();
    let ports = [PortRequest {
        proto: Proto::Tcp,
        container_port: 80,
        host_ip: None,
        host_range: None,
    }];
    let v1 =
        f.m.start_container("c1", "/web", "n1", &ports, &[], &[])
            .unwrap();
    let v2 =
        f.m.start_container("c2", "/db", "n1", &[], &[], &[])
            .unwrap();
    assert_eq!(v1.ip.unwrap().to_string(), "10.99.0.2");
    assert_eq!(v2.ip.unwrap().to_string(), "10.99.0.3");
    assert!(v1.user_defined);
    let s = f.net.snapshot();
    assert_eq!((s.netns.len(), s.veths.len()), (2, 2));
    let last = f.fw.batches.lock().unwrap().last().cloned().unwrap();
    assert!(last.contains("dnat ip to 10.99.0.2:80"), "{last}");
    assert!(
        last.contains("fwd to ether daddr map"),
        "two endpoints: fast path"
    );
    let e = f.m.remove("n1").unwrap_err();
    assert_eq!(
        e.message,
        format!("error while removing network: network n1 id {id} has active endpoints")
    );
    f.m.stop_container("c1");
    f.m.stop_container("c2");
    let s = f.net.snapshot();
    assert!(s.netns.is_empty() && s.veths.is_empty(), "{s:?}");
    let last = f.fw.batches.lock().unwrap().last().cloned().unwrap();
    assert!(!last.contains("dnat ip to"), "{last}");
    f.m.forget_container("c1");
    f.m.forget_container("c2");
    f.m.remove("n1").unwrap();
    assert!(
        !f.net
            .snapshot()
            .bridges
            .iter()
            .any(|b| b.starts_with("br-"))
    );
}

#[tokio::test]
async fn a_failed_setup_is_rolled_back() {
    let f = fixture(local_cfg());
    f.m.attach_on_create("c1", "/web", "bridge", EndpointRequest::default(), vec![])
        .unwrap();
    f.net.state.lock().unwrap().fail_on = Some("veth".into());
    let e =
        f.m.start_container("c1", "/web", "bridge", &[], &[], &[])
            .unwrap_err();
    assert!(e.message.contains("injected failure"), "{}", e.message);
    let s = f.net.snapshot();
    assert!(s.netns.is_empty() && s.veths.is_empty(), "{s:?}");
    f.net.state.lock().unwrap().fail_on = None;
    // The address was not kept: the retry gets the first one again.
    let v =
        f.m.start_container("c1", "/web", "bridge", &[], &[], &[])
            .unwrap();
    assert_eq!(v.ip.unwrap().to_string(), "172.18.0.2");
    assert!(!v.user_defined);
    f.m.stop_container("c1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_host_port_is_dockers_error_and_nothing_stays_half_set_up() {
    let f = fixture(local_cfg());
    for c in ["c1", "c2"] {
        f.m.attach_on_create(c, c, "bridge", EndpointRequest::default(), vec![])
            .unwrap();
    }
    let any = [PortRequest {
        proto: Proto::Tcp,
        container_port: 80,
        host_ip: None,
        host_range: None,
    }];
    f.m.start_container("c1", "c1", "bridge", &any, &[], &[])
        .unwrap();
    let port = f.m.container_networks("c1")[0]
        .1
        .active
        .as_ref()
        .unwrap()
        .ports[0]
        .host_port;
    let same = [PortRequest {
        host_range: Some((port, port)),
        ..any[0]
    }];
    let e =
        f.m.start_container("c2", "c2", "bridge", &same, &[], &[])
            .unwrap_err();
    assert!(
        e.message.ends_with(&format!(
            "Bind for 127.0.0.1:{port} failed: port is already allocated"
        )),
        "{}",
        e.message
    );
    assert_eq!(f.net.snapshot().netns.len(), 1);
    f.m.stop_container("c1");
    // Released: now c2 gets it.
    f.m.start_container("c2", "c2", "bridge", &same, &[], &[])
        .unwrap();
    f.m.stop_container("c2");
}

#[tokio::test]
async fn connect_and_disconnect() {
    let f = fixture(local_cfg());
    user_net(&f.m, "n1", "10.99.0.0/24");
    f.m.attach_on_create("c1", "/web", "bridge", EndpointRequest::default(), vec![])
        .unwrap();
    f.m.start_container("c1", "/web", "bridge", &[], &[], &[])
        .unwrap();
    f.m.connect(
        "n1",
        "c1",
        "/web",
        EndpointRequest {
            ip: Some("10.99.0.50".parse().unwrap()),
            ..Default::default()
        },
        true,
    )
    .unwrap();
    let nets = f.m.container_networks("c1");
    let on_n1 = nets.iter().find(|(n, _)| n.name == "n1").unwrap();
    let a = on_n1.1.active.as_ref().unwrap();
    assert_eq!(
        (a.ip.to_string(), a.ifname.as_str()),
        ("10.99.0.50".into(), "eth1")
    );
    assert_eq!(
        f.m.connect("n1", "c1", "/web", EndpointRequest::default(), true)
            .unwrap_err()
            .message,
        "endpoint with name web already exists in network n1"
    );
    f.m.disconnect("n1", "c1", "/web").unwrap();
    assert_eq!(
        f.m.disconnect("n1", "c1", "/web").unwrap_err().message,
        "container web is not connected to network n1"
    );
    assert_eq!(
        f.m.connect(
            "bridge",
            "c2",
            "/x",
            EndpointRequest {
                ip: Some("172.18.0.9".parse().unwrap()),
                ..Default::default()
            },
            false
        )
        .unwrap_err()
        .message,
        "user specified IP address is supported on user defined networks only"
    );
    f.m.stop_container("c1");
    assert!(f.net.snapshot().veths.is_empty());
}

#[test]
fn records_survive_a_restart_with_their_ports_taken() {
    let dir = tempfile::tempdir().unwrap();
    let mk = || {
        let net = Arc::new(FakeNet::default());
        NetworkManager::new(
            local_cfg(),
            &dir.path().join("root"),
            &dir.path().join("exec"),
            net,
            Arc::new(FakeFirewall::default()),
            EventBus::new(),
        )
    };
    let m = mk();
    m.load().unwrap();
    let id = user_net(&m, "n1", "10.99.0.0/24");
    let bridge_id = m.get("bridge").unwrap().id;
    drop(m);
    let m = mk();
    m.load().unwrap();
    assert_eq!(m.get("n1").unwrap().id, id);
    assert_eq!(
        m.get("bridge").unwrap().id,
        bridge_id,
        "predefined ids are stable"
    );
}

#[test]
fn iptables_false_touches_no_rules() {
    let f = fixture(NetConfig {
        iptables: false,
        ..local_cfg()
    });
    user_net(&f.m, "n1", "10.99.0.0/24");
    assert!(f.fw.batches.lock().unwrap().is_empty());
}

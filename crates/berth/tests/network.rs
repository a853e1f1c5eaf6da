//! Networking end to end with the real docker CLI: the default bridge, user networks,
//! published ports (kernel DNAT and the userland proxy on 127.0.0.1), `port`,
//! network create/ls/inspect/rm/connect/disconnect/prune and docker's errors.
//! Each test daemon has its own bridge, nftables table and subnets (see the testkit's
//! `net`); traffic goes only to 127.0.0.1 and to namespaces these tests create.

mod common;
#[path = "network_support/mod.rs"]
mod support;

use support::*;

#[test]
fn default_bridge_gives_an_address_and_a_default_route() {
    let e = Env::new();
    let out = e
        .docker(&[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "ip -4 -o addr show eth0; ip route",
        ])
        .ok()
        .out();
    let prefix = format!("10.213.{}.", e.d.net().octet);
    assert!(out.contains(&format!("inet {prefix}2/24")), "{out}");
    assert!(
        out.contains(&format!("default via {prefix}1 dev eth0")),
        "{out}"
    );
    // --network none: loopback only.
    let none = e
        .docker(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ip",
            "-o",
            "link",
        ])
        .ok()
        .out();
    assert_eq!(none.lines().count(), 1, "{none}");
    // The address is in /etc/hosts and in inspect while the container runs.
    e.docker(&[
        "run",
        "-d",
        "--name",
        "c1",
        "--hostname",
        "web",
        "--domainname",
        "example.com",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let ip = e.inspect("c1", "{{.NetworkSettings.IPAddress}}");
    assert!(ip.starts_with(&prefix), "{ip}");
    assert_eq!(
        e.inspect("c1", "{{.NetworkSettings.Networks.bridge.IPAddress}}"),
        ip
    );
    // --network container:c1 shares c1's interfaces; --network host the host's.
    let shared = e
        .docker(&[
            "run",
            "--rm",
            "--network",
            "container:c1",
            "busybox",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ])
        .ok()
        .out();
    assert!(shared.contains(&format!("inet {ip}/24")), "{shared}");
    let host = e
        .docker(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "ip",
            "-o",
            "link",
            "show",
            &e.d.net().bridge,
        ])
        .ok()
        .out();
    assert!(host.contains(&e.d.net().bridge), "{host}");
    let hosts = e.docker(&["exec", "c1", "cat", "/etc/hosts"]).ok().out();
    assert!(
        hosts.ends_with(&format!("{ip}\tweb.example.com web\n")),
        "{hosts}"
    );
    e.docker(&["rm", "-f", "c1"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn containers_on_a_user_network_reach_each_other() {
    let e = Env::new();
    e.docker(&[
        "network",
        "create",
        "--subnet",
        &format!("10.214.{}.16/28", e.d.net().octet),
        "net1",
    ])
    .ok();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "n1",
        "--network",
        "net1",
        "--network-alias",
        "n1alias",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let ip = e.inspect("n1", "{{.NetworkSettings.Networks.net1.IPAddress}}");
    assert_eq!(ip, format!("10.214.{}.18", e.d.net().octet));
    assert_eq!(
        e.inspect("n1", "{{.NetworkSettings.Networks.net1.Aliases}}"),
        "[n1alias]"
    );
    let out = e
        .docker(&[
            "run",
            "--rm",
            "--network",
            "net1",
            "busybox",
            "ping",
            "-c1",
            "-W2",
            &ip,
        ])
        .ok()
        .out();
    assert!(out.contains("1 packets received"), "{out}");
    // --ip and --mac-address on a user network.
    let fixed = format!("10.214.{}.29", e.d.net().octet);
    let out = e
        .docker(&[
            "run",
            "--rm",
            "--network",
            "net1",
            "--ip",
            &fixed,
            "--mac-address",
            "02:42:de:ad:be:ef",
            "busybox",
            "ip",
            "-o",
            "addr",
            "show",
            "eth0",
        ])
        .ok()
        .out();
    assert!(out.contains(&format!("inet {fixed}/28")), "{out}");
    let link = e
        .docker(&[
            "run",
            "--rm",
            "--network",
            "net1",
            "--mac-address",
            "02:42:de:ad:be:ef",
            "busybox",
            "cat",
            "/sys/class/net/eth0/address",
        ])
        .ok()
        .out();
    assert_eq!(link, "02:42:de:ad:be:ef\n");
    // Another network is isolated from net1.
    e.docker(&[
        "network",
        "create",
        "--subnet",
        &format!("10.214.{}.32/28", e.d.net().octet),
        "net2",
    ])
    .ok();
    e.docker(&[
        "run",
        "--rm",
        "--network",
        "net2",
        "busybox",
        "ping",
        "-c1",
        "-W1",
        &ip,
    ])
    .fails();
    e.docker(&["rm", "-f", "n1"]).ok();
    e.docker(&["network", "rm", "net1", "net2"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn published_ports_are_reachable_on_loopback_and_listed() {
    let e = Env::new();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1::80",
        "-p",
        "5353:53/udp",
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ])
    .ok();
    let port_out = e.docker(&["port", "web"]).ok().out();
    let line = port_out
        .lines()
        .find(|l| l.starts_with("80/tcp -> 127.0.0.1:"))
        .unwrap_or_else(|| panic!("{port_out}"));
    assert!(port_out.contains("53/udp -> 0.0.0.0:5353"), "{port_out}");
    let hport: u16 = line.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        e.docker(&["port", "web", "80"]).ok().out(),
        format!("127.0.0.1:{hport}\n")
    );
    let short = e.inspect("web", "{{.Config.Hostname}}");
    assert_eq!(http_get_eventually(hport), format!("hello-from-{short}\n"));
    // ps PORTS column and the publish/expose filters.
    let ps = e.docker(&["ps", "--format", "{{.Ports}}"]).ok().out();
    assert!(ps.contains(&format!("127.0.0.1:{hport}->80/tcp")), "{ps}");
    assert_eq!(
        e.docker(&["ps", "-q", "--filter", "publish=80"])
            .ok()
            .lines()
            .len(),
        1
    );
    assert!(
        e.docker(&["ps", "-q", "--filter", "publish=81"])
            .ok()
            .lines()
            .is_empty()
    );
    // The same host port again: docker's error, nothing half set up.
    let taken = e
        .docker(&[
            "run",
            "-d",
            "--name",
            "web2",
            "-p",
            "5353:53/udp",
            "busybox",
            "sleep",
            "300",
        ])
        .run();
    taken.assert_code(125);
    taken.assert_stderr_contains("Bind for 0.0.0.0:5353 failed: port is already allocated");
    e.docker(&["rm", "-f", "web", "web2"]).run();
    assert!(
        http_get(hport).is_err(),
        "the proxy is gone with the container"
    );
    // The port is free again at once (docker rm -f a && docker run -p ... b).
    e.docker(&[
        "run",
        "-d",
        "--name",
        "again",
        "-p",
        "5353:53/udp",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    e.docker(&["rm", "-f", "again"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn a_published_port_held_by_another_process_is_an_error() {
    let e = Env::new();
    let l = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let p = l.local_addr().unwrap().port().to_string();
    let o = e
        .docker(&["run", "--rm", "-p", &format!("{p}:80"), "busybox", "true"])
        .run();
    o.assert_code(125);
    o.assert_stderr_contains(&format!("failed to bind host port for 0.0.0.0:{p}:"));
    o.assert_stderr_contains("address already in use");
    let bad = e
        .docker(&["run", "--rm", "-p", "99999:80", "busybox", "true"])
        .run();
    bad.assert_fails();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn network_objects_and_dockers_errors() {
    let e = Env::new();
    let sub = format!("10.214.{}.48/28", e.d.net().octet);
    let id = e
        .docker(&[
            "network", "create", "--subnet", &sub, "--label", "team=a", "mynet",
        ])
        .ok()
        .out();
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let ls = e.docker(&["network", "ls"]).ok().out();
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines[0], "NETWORK ID     NAME      DRIVER    SCOPE");
    assert!(
        lines.contains(&format!("{}   mynet     bridge    local", &id[..12]).as_str()),
        "{ls}"
    );
    for n in ["bridge", "host", "none"] {
        assert!(
            lines.iter().any(|l| l.contains(&format!("   {n}  "))),
            "{n}: {ls}"
        );
    }
    assert_eq!(
        e.docker(&["network", "ls", "-q", "--filter", "label=team=a"])
            .ok()
            .out(),
        format!("{}\n", &id[..12])
    );
    assert_eq!(
        e.docker(&[
            "network",
            "ls",
            "--format",
            "{{.Name}}",
            "--filter",
            "type=custom"
        ])
        .ok()
        .out(),
        "mynet\n"
    );
    assert_eq!(
        e.docker(&[
            "network",
            "inspect",
            "-f",
            "{{(index .IPAM.Config 0).Subnet}} {{.Driver}} {{.Labels.team}}",
            "mynet"
        ])
        .ok()
        .out(),
        format!("{sub} bridge a\n")
    );
    let overlap = e
        .docker(&[
            "network",
            "create",
            "--subnet",
            &format!("10.214.{}.0/24", e.d.net().octet),
            "other",
        ])
        .run();
    overlap.assert_code(1);
    overlap.assert_stderr_contains(
        "Error response from daemon: invalid pool request: Pool overlaps with other one on this address space",
    );
    e.docker(&["network", "create", "mynet"])
        .fails()
        .assert_stderr_contains("network with name mynet already exists");
    e.docker(&["network", "inspect", "nope"])
        .fails()
        .assert_stderr_contains("network nope not found");
    // (The CLI would try a pull on this 404, which needs the internet: ask the API.)
    let r = e.d.api(
        "POST",
        "/containers/create",
        Some(br#"{"Image":"busybox","HostConfig":{"NetworkMode":"nope"}}"#),
    );
    assert_eq!(r.status, 404);
    assert!(String::from_utf8_lossy(&r.body).contains("network nope not found"));
    e.docker(&["network", "rm", "bridge"])
        .fails()
        .assert_stderr_contains("bridge is a pre-defined network and cannot be removed");

    e.docker(&["run", "-d", "--name", "c1", "busybox", "sleep", "300"])
        .ok();
    e.docker(&[
        "network",
        "connect",
        "--alias",
        "db",
        "--ip",
        &format!("10.214.{}.60", e.d.net().octet),
        "mynet",
        "c1",
    ])
    .ok();
    let out = e
        .docker(&["exec", "c1", "ip", "-4", "-o", "addr", "show", "eth1"])
        .ok()
        .out();
    assert!(
        out.contains(&format!("10.214.{}.60/28", e.d.net().octet)),
        "{out}"
    );
    e.docker(&["network", "connect", "mynet", "c1"])
        .fails()
        .assert_stderr_contains("endpoint with name c1 already exists in network mynet");
    let containers = e
        .docker(&[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
            "mynet",
        ])
        .ok()
        .out();
    assert_eq!(containers, format!("c1 10.214.{}.60/28\n", e.d.net().octet));
    let rm = e.docker(&["network", "rm", "mynet"]).run();
    rm.assert_code(1);
    rm.assert_stderr_contains(&format!(
        "error while removing network: network mynet id {id} has active endpoints"
    ));
    e.docker(&["network", "disconnect", "mynet", "c1"]).ok();
    e.docker(&["exec", "c1", "ip", "link", "show", "eth1"])
        .fails();
    e.docker(&["network", "disconnect", "mynet", "c1"])
        .fails()
        .assert_stderr_contains("container c1 is not connected to network mynet");
    e.docker(&["rm", "-f", "c1"]).ok();
    assert_eq!(
        e.docker(&["network", "prune", "-f"]).ok().out(),
        "Deleted Networks:\nmynet\n\n"
    );
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn fifty_containers_with_published_ports_leave_nothing_behind() {
    let e = Env::new();
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..5)
            .map(|_| {
                s.spawn(|| {
                    (0..10)
                        .map(|_| {
                            e.docker(&[
                                "run",
                                "-d",
                                "-p",
                                "80",
                                "-p",
                                "127.0.0.1::81/udp",
                                "busybox",
                                "sleep",
                                "300",
                            ])
                            .ok()
                            .out()
                            .trim()
                            .to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(ids.len(), 50);
    let ports = e.docker(&["ps", "--format", "{{.Ports}}"]).ok().lines();
    let mut hostports: Vec<String> = ports
        .iter()
        .map(|l| l.split("->80/tcp").next().unwrap().to_string())
        .collect();
    hostports.sort();
    hostports.dedup();
    assert_eq!(hostports.len(), 50, "every container has its own port");
    e.docker(&["rm", "-f"]).args(&ids).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn published_ports_survive_a_daemon_restart() {
    let mut e = Env::new();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ])
    .ok();
    let hport: u16 = e
        .docker(&["port", "web", "80"])
        .ok()
        .out()
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    http_get_eventually(hport);
    e.d.kill9();
    e.d.restart();
    assert!(http_get_eventually(hport).starts_with("hello-from-"));
    assert_eq!(
        e.docker(&["port", "web", "80"]).ok().out(),
        format!("127.0.0.1:{hport}\n")
    );
    e.docker(&["rm", "-f", "web"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn internal_and_ipv6_networks() {
    let e = Env::new();
    let octet = e.d.net().octet;
    let dev = format!("bti{}", &e.d.net().bridge[2..]);
    let opt = format!("com.docker.network.bridge.name={dev}");
    e.docker(&[
        "network",
        "create",
        "--internal",
        "--ipv6",
        "--subnet",
        &format!("10.214.{octet}.80/28"),
        "--ip-range",
        &format!("10.214.{octet}.88/29"),
        "-o",
        &opt,
        "inet1",
    ])
    .ok();
    assert_eq!(
        e.docker(&[
            "network",
            "inspect",
            "-f",
            "{{.Internal}} {{.EnableIPv6}} {{(index .IPAM.Config 0).IPRange}}",
            "inet1"
        ])
        .ok()
        .out(),
        format!("true true 10.214.{octet}.88/29\n")
    );
    let out = e
        .docker(&[
            "run",
            "--rm",
            "--network",
            "inet1",
            "busybox",
            "sh",
            "-c",
            "ip -4 -o addr show eth0; ip route",
        ])
        .ok()
        .out();
    assert!(
        out.contains(&format!("inet 10.214.{octet}.89/28")),
        "from the ip-range: {out}"
    );
    assert!(
        !out.contains("default"),
        "an internal network has no gateway route: {out}"
    );
    assert!(std::path::Path::new("/sys/class/net").join(&dev).exists());
    e.docker(&["network", "rm", "inet1"]).ok();
    assert!(!std::path::Path::new("/sys/class/net").join(&dev).exists());
}

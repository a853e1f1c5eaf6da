//! One behaviour suite for [`NetOps`] and [`Firewall`], run against the fakes and
//! against the real kernel and `nft` (root; every berth test machine is). The real
//! runs use names of their own (`bc<hex>` links, a `bc<hex>` table, a namespace in a
//! temp dir, 10.215.x.0/24) and remove everything they create.

use std::path::Path;

use crate::firewall::{Firewall, FwEndpoint, FwNetwork, Ruleset, clear};
use crate::link::{EndpointSpec, NetOps, mac_for, random_veth_name};

/// Bridge, namespace, endpoint, teardown: what the daemon relies on.
pub fn net_ops_suite(ops: &dyn NetOps, dir: &Path, tag: &str, octet: u8) {
    let br = format!("bc{tag}");
    let addr = format!("10.215.{octet}.1/24").parse().unwrap();
    ops.ensure_bridge(&br, addr, 1500).unwrap();
    ops.ensure_bridge(&br, addr, 1500).unwrap(); // idempotent
    assert!(ops.link_exists(&br));
    let ns = dir.join("ns1");
    ops.create_netns(&ns).unwrap();
    let ip = format!("10.215.{octet}.2").parse().unwrap();
    let ep = EndpointSpec {
        netns: ns.clone(),
        bridge: br.clone(),
        host_if: random_veth_name(),
        ifname: "eth0".into(),
        mac: mac_for(ip),
        addr: format!("10.215.{octet}.2/24").parse().unwrap(),
        gateway: Some(format!("10.215.{octet}.1").parse().unwrap()),
        mtu: 1500,
    };
    ops.add_endpoint(&ep).unwrap();
    assert!(ops.link_exists(&ep.host_if));
    // An endpoint on a missing bridge fails and leaves no veth.
    let bad = EndpointSpec {
        bridge: format!("bx{tag}"),
        host_if: random_veth_name(),
        ..ep.clone()
    };
    assert!(ops.add_endpoint(&bad).is_err());
    assert!(!ops.link_exists(&bad.host_if));
    ops.delete_link(&ep.host_if).unwrap();
    ops.delete_link(&ep.host_if).unwrap(); // already gone: fine
    assert!(!ops.link_exists(&ep.host_if));
    ops.delete_netns(&ns).unwrap();
    ops.delete_netns(&ns).unwrap();
    ops.delete_link(&br).unwrap();
    assert!(!ops.link_exists(&br));
}

/// A ruleset applies, is replaced atomically, and is cleared.
pub fn firewall_suite(fw: &dyn Firewall, tag: &str) {
    let table = format!("bc{tag}");
    let mut r = Ruleset {
        table: table.clone(),
        networks: vec![FwNetwork {
            bridge: format!("bc{tag}"),
            subnet: "10.215.0.0/24".parse().unwrap(),
            internal: false,
            icc: true,
            endpoints: vec![FwEndpoint {
                host_if: "lo".into(),
                mac: [2, 0, 0, 0, 0, 1],
            }],
        }],
        ..Default::default()
    };
    fw.apply(&r.render()).unwrap();
    r.networks[0].internal = true;
    fw.apply(&r.render()).unwrap(); // replaces, does not append
    fw.apply(&clear(&table)).unwrap();
    fw.apply(&clear(&table)).unwrap(); // clearing twice is fine
    assert!(fw.apply("this is not nft syntax").is_err());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::{FakeFirewall, Nft};
    use crate::link::{FakeNet, Kernel};

    fn tag() -> String {
        random_veth_name()[4..].to_string()
    }

    #[test]
    fn fakes_pass_the_suite() {
        let dir = std::env::temp_dir().join(format!("berth-net-conf-{}", tag()));
        net_ops_suite(&FakeNet::default(), &dir, &tag(), 1);
        firewall_suite(&AcceptAll(FakeFirewall::default()), &tag());
    }

    /// The fake firewall accepts anything; the suite's syntax check needs a refusal.
    struct AcceptAll(FakeFirewall);
    impl Firewall for AcceptAll {
        fn apply(&self, batch: &str) -> Result<(), crate::link::NetError> {
            if batch.starts_with("this is not") {
                return Err(crate::link::NetError("syntax".into()));
            }
            self.0.apply(batch)
        }
    }

    #[test]
    fn the_kernel_and_nft_pass_the_suite() {
        let dir = std::env::temp_dir().join(format!("berth-net-conf-{}", tag()));
        std::fs::create_dir_all(&dir).unwrap();
        // A /24 nothing routes (10.215.x.0/24).
        let routes = Kernel.host_routes();
        let octet = (2..250u8)
            .find(|x| {
                let net: ipnet::Ipv4Net = format!("10.215.{x}.0/24").parse().unwrap();
                !routes.iter().any(|r| crate::ipam::overlaps(r, &net))
            })
            .expect("a free 10.215.x.0/24");
        net_ops_suite(&Kernel, &dir, &tag(), octet);
        firewall_suite(&Nft, &tag());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

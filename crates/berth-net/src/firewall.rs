//! berth's firewall: one nftables table of its own (`inet <table>` for NAT and
//! filtering, `netdev <table>` for the same-network fast path), rebuilt as a value
//! from the networks and published ports and applied as ONE atomic `nft -f` batch that
//! deletes and recreates the table. Nobody else's tables or chains are touched.
//!
//! Why a `netdev` table: a host may run another engine whose iptables FORWARD policy
//! is DROP with `bridge-nf-call-iptables=1`, which drops bridged traffic between
//! containers, and an `accept` in our own chain cannot overrule another base chain's
//! drop. Unicast IPv4 between two containers of one network is therefore forwarded at
//! the host-side veth's ingress straight to the peer's veth (`fwd`), which never enters
//! the bridge's netfilter path. ARP and broadcast still go through the bridge.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use ipnet::Ipv4Net;

use crate::link::{NetError, format_mac};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
    pub fn parse(s: &str) -> Option<Proto> {
        match s {
            "" | "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwEndpoint {
    pub host_if: String,
    pub mac: [u8; 6],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwNetwork {
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// `--internal`: no traffic in or out of the bridge.
    pub internal: bool,
    /// Containers on this network may talk to each other.
    pub icc: bool,
    pub endpoints: Vec<FwEndpoint>,
}

/// A legacy `--link` on a network without icc: the linking container (`from`) may
/// reach the exposed `ports` of the linked one (`to`), and get the replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwLink {
    pub from: FwEndpoint,
    pub from_ip: Ipv4Addr,
    pub to: FwEndpoint,
    pub to_ip: Ipv4Addr,
    pub ports: Vec<(Proto, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwPort {
    pub proto: Proto,
    /// `None`: every host address.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

/// Everything the table holds. `render` is a pure function of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    pub table: String,
    pub networks: Vec<FwNetwork>,
    pub ports: Vec<FwPort>,
    /// The userland proxy serves containers reaching published ports through a host
    /// address, so their traffic is not DNATed (it never needs forwarding).
    pub proxy_hairpin: bool,
    /// No userland proxy: 127.0.0.1:PORT is DNATed by the kernel too (the bridges
    /// need `route_localnet`), and such traffic is masqueraded.
    pub loopback_dnat: bool,
    pub links: Vec<FwLink>,
}

fn q(s: &str) -> String {
    format!("\"{}\"", s.replace(['"', '\\'], ""))
}

impl Ruleset {
    /// The batch that replaces berth's tables with this ruleset.
    pub fn render(&self) -> String {
        let t = &self.table;
        let mut s = clear(t);
        let _ = writeln!(s, "table inet {t} {{");
        let bridges: Vec<String> = self.networks.iter().map(|n| q(&n.bridge)).collect();
        let from = if self.proxy_hairpin && !bridges.is_empty() {
            format!("iifname != {{ {} }} ", bridges.join(", "))
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "\tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\t{from}fib daddr type local jump published\n\t}}"
        );
        // Loopback destinations are served by the userland proxy (the kernel does not
        // route 127/8 to a bridge).
        let lo = if self.loopback_dnat {
            ""
        } else {
            "ip daddr != 127.0.0.0/8 "
        };
        let _ = writeln!(
            s,
            "\tchain output {{\n\t\ttype nat hook output priority -100; policy accept;\n\t\t{lo}fib daddr type local jump published\n\t}}"
        );
        s.push_str("\tchain published {\n");
        for p in &self.ports {
            let daddr = p
                .host_ip
                .filter(|ip| !ip.is_unspecified())
                .map(|ip| format!("ip daddr {ip} "))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "\t\t{daddr}{proto} dport {} dnat ip to {}:{}",
                p.host_port,
                p.container_ip,
                p.container_port,
                proto = p.proto.as_str()
            );
        }
        s.push_str("\t}\n");
        s.push_str("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
        for n in &self.networks {
            let (br, net) = (q(&n.bridge), n.subnet.trunc());
            if !n.internal {
                let _ = writeln!(s, "\t\tip saddr {net} oifname != {br} masquerade");
            }
            // Hairpin: a container reaching a published port of its own network
            // through a host address must see replies come back the same way.
            let _ = writeln!(
                s,
                "\t\toifname {br} ct status dnat ip saddr {net} masquerade"
            );
            if self.loopback_dnat {
                let _ = writeln!(s, "\t\toifname {br} ip saddr 127.0.0.0/8 masquerade");
            }
        }
        s.push_str("\t}\n");
        s.push_str(
            "\tchain forward {\n\t\ttype filter hook forward priority filter - 1; policy accept;\n",
        );
        for n in &self.networks {
            let br = q(&n.bridge);
            let others: Vec<&String> = bridges.iter().filter(|b| **b != br).collect();
            if !others.is_empty() {
                let set = others
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = writeln!(s, "\t\tiifname {br} oifname {{ {set} }} drop");
            }
            if !n.icc {
                for l in &self.links {
                    for (proto, port) in &l.ports {
                        let p = proto.as_str();
                        let (a, b) = (l.from_ip, l.to_ip);
                        let _ = writeln!(
                            s,
                            "\t\tiifname {br} oifname {br} ip saddr {a} ip daddr {b} {p} dport {port} accept"
                        );
                        let _ = writeln!(
                            s,
                            "\t\tiifname {br} oifname {br} ip saddr {b} ip daddr {a} {p} sport {port} accept"
                        );
                    }
                }
            }
            let verdict = if n.icc { "accept" } else { "drop" };
            let _ = writeln!(s, "\t\tiifname {br} oifname {br} {verdict}");
            if n.internal {
                let _ = writeln!(s, "\t\tiifname {br} drop");
                let _ = writeln!(s, "\t\toifname {br} drop");
            } else {
                let _ = writeln!(s, "\t\toifname {br} ct state established,related accept");
                let _ = writeln!(s, "\t\toifname {br} ct status dnat accept");
                let _ = writeln!(s, "\t\tiifname {br} accept");
            }
        }
        s.push_str("\t}\n}\n");
        let fast: Vec<&FwNetwork> = self
            .networks
            .iter()
            .filter(|n| n.icc && n.endpoints.len() >= 2)
            .collect();
        let links: Vec<&FwLink> = self.links.iter().filter(|l| !l.ports.is_empty()).collect();
        if !fast.is_empty() || !links.is_empty() {
            let _ = writeln!(s, "table netdev {t} {{");
            // Linked pairs: only the exposed ports, straight from veth to veth.
            for (i, l) in links.iter().enumerate() {
                let mut rules = String::new();
                for (proto, port) in &l.ports {
                    let p = proto.as_str();
                    let _ = write!(
                        rules,
                        "\t\tether saddr {} ether daddr {} {p} dport {port} fwd to {}\n\t\tether saddr {} ether daddr {} {p} sport {port} fwd to {}\n",
                        format_mac(&l.from.mac),
                        format_mac(&l.to.mac),
                        q(&l.to.host_if),
                        format_mac(&l.to.mac),
                        format_mac(&l.from.mac),
                        q(&l.from.host_if),
                    );
                }
                let _ = writeln!(
                    s,
                    "\tchain link_{i} {{\n\t\ttype filter hook ingress devices = {{ {}, {} }} priority filter; policy accept;\n{rules}\t}}",
                    q(&l.from.host_if),
                    q(&l.to.host_if),
                );
            }
            for (i, n) in fast.iter().enumerate() {
                let devs: Vec<String> = n.endpoints.iter().map(|e| q(&e.host_if)).collect();
                let map: Vec<String> = n
                    .endpoints
                    .iter()
                    .map(|e| format!("{} : {}", format_mac(&e.mac), q(&e.host_if)))
                    .collect();
                let _ = writeln!(
                    s,
                    "\tchain same_net_{i} {{\n\t\ttype filter hook ingress devices = {{ {} }} priority filter; policy accept;\n\t\tether type ip fwd to ether daddr map {{ {} }}\n\t}}",
                    devs.join(", "),
                    map.join(", ")
                );
            }
            s.push_str("}\n");
        }
        s
    }
}

/// A batch that removes berth's tables (creating them first makes the delete succeed
/// whether or not they exist, in one atomic step).
pub fn clear(table: &str) -> String {
    format!(
        "table inet {table} {{}}\ndelete table inet {table}\ntable netdev {table} {{}}\ndelete table netdev {table}\n"
    )
}

/// Applies nft batches.
pub trait Firewall: Send + Sync {
    fn apply(&self, batch: &str) -> Result<(), NetError>;
}

/// The `nft` binary: one process and one atomic transaction per batch.
#[derive(Debug, Default, Clone, Copy)]
pub struct Nft;

impl Firewall for Nft {
    fn apply(&self, batch: &str) -> Result<(), NetError> {
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| NetError(format!("run nft: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(batch.as_bytes())
                .map_err(|e| NetError(format!("write to nft: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| NetError(format!("run nft: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        let msg = String::from_utf8_lossy(&out.stderr);
        let first = msg
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed");
        Err(NetError(format!("apply firewall rules: nft: {first}")))
    }
}

/// Records batches instead of applying them.
#[derive(Debug, Default)]
pub struct FakeFirewall {
    pub batches: std::sync::Mutex<Vec<String>>,
}

impl Firewall for FakeFirewall {
    fn apply(&self, batch: &str) -> Result<(), NetError> {
        self.batches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(batch.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(br: &str, subnet: &str, eps: usize) -> FwNetwork {
        FwNetwork {
            bridge: br.into(),
            subnet: subnet.parse().unwrap(),
            internal: false,
            icc: true,
            endpoints: (0..eps)
                .map(|i| FwEndpoint {
                    host_if: format!("veth{i}"),
                    mac: [2, 0x42, 10, 0, 0, i as u8 + 2],
                })
                .collect(),
        }
    }

    #[test]
    fn batch_replaces_the_table_atomically_and_touches_nothing_else() {
        let r = Ruleset {
            table: "berth".into(),
            proxy_hairpin: false,
            loopback_dnat: false,
            links: vec![],
            networks: vec![net("berth0", "10.1.0.1/24", 0)],
            ports: vec![],
        };
        let s = r.render();
        assert!(
            s.starts_with("table inet berth {}\ndelete table inet berth\n"),
            "{s}"
        );
        for line in s.lines() {
            if line.starts_with("table") || line.starts_with("delete") {
                assert!(line.contains(" berth"), "foreign table in {line}");
            }
        }
        assert!(s.contains("ip saddr 10.1.0.0/24 oifname != \"berth0\" masquerade"));
        assert!(s.contains("\t\tfib daddr type local jump published"));
        let with_proxy = Ruleset {
            proxy_hairpin: true,
            ..r.clone()
        }
        .render();
        assert!(
            with_proxy.contains("iifname != { \"berth0\" } fib daddr type local jump published")
        );
        let no_proxy = Ruleset {
            loopback_dnat: true,
            ..r.clone()
        }
        .render();
        assert!(no_proxy.contains("\t\tfib daddr type local jump published\n\t}"));
        assert!(no_proxy.contains("oifname \"berth0\" ip saddr 127.0.0.0/8 masquerade"));
        assert!(
            !s.contains("table netdev berth {\n"),
            "no fast path without two endpoints"
        );
    }

    #[test]
    fn published_ports_become_dnat_rules() {
        let r = Ruleset {
            table: "t".into(),
            proxy_hairpin: false,
            loopback_dnat: false,
            links: vec![],
            networks: vec![net("b", "10.1.0.0/24", 0)],
            ports: vec![
                FwPort {
                    proto: Proto::Tcp,
                    host_ip: None,
                    host_port: 8080,
                    container_ip: "10.1.0.2".parse().unwrap(),
                    container_port: 80,
                },
                FwPort {
                    proto: Proto::Udp,
                    host_ip: Some("127.0.0.1".parse().unwrap()),
                    host_port: 5353,
                    container_ip: "10.1.0.3".parse().unwrap(),
                    container_port: 53,
                },
            ],
        };
        let s = r.render();
        assert!(
            s.contains("\t\ttcp dport 8080 dnat ip to 10.1.0.2:80\n"),
            "{s}"
        );
        assert!(s.contains("ip daddr 127.0.0.1 udp dport 5353 dnat ip to 10.1.0.3:53"));
    }

    #[test]
    fn icc_internal_and_isolation() {
        let mut a = net("a", "10.1.0.0/24", 2);
        a.icc = false;
        let mut b = net("b", "10.2.0.0/24", 2);
        b.internal = true;
        let s = Ruleset {
            table: "t".into(),
            proxy_hairpin: false,
            loopback_dnat: false,
            links: vec![],
            networks: vec![a, b],
            ports: vec![],
        }
        .render();
        assert!(s.contains("iifname \"a\" oifname \"a\" drop"));
        assert!(s.contains("iifname \"a\" oifname { \"b\" } drop"));
        assert!(s.contains("iifname \"b\" drop") && s.contains("oifname \"b\" drop"));
        assert!(!s.contains("ip saddr 10.2.0.0/24 oifname != \"b\" masquerade"));
        // Only b (icc) gets the same-network fast path.
        assert_eq!(s.matches("fwd to ether daddr map").count(), 1);
        assert!(s.contains("02:42:0a:00:00:02 : \"veth0\""));
    }

    #[test]
    fn links_open_only_the_exposed_ports_between_the_pair() {
        let mut n = net("b", "10.1.0.0/24", 2);
        n.icc = false;
        let ep = |i: usize| n.endpoints[i].clone();
        let s = Ruleset {
            table: "t".into(),
            proxy_hairpin: false,
            loopback_dnat: false,
            links: vec![FwLink {
                from: ep(0),
                from_ip: "10.1.0.2".parse().unwrap(),
                to: ep(1),
                to_ip: "10.1.0.3".parse().unwrap(),
                ports: vec![(Proto::Tcp, 80)],
            }],
            networks: vec![n.clone()],
            ports: vec![],
        }
        .render();
        assert!(
            s.contains("ip saddr 10.1.0.2 ip daddr 10.1.0.3 tcp dport 80 accept"),
            "{s}"
        );
        assert!(s.contains("ip saddr 10.1.0.3 ip daddr 10.1.0.2 tcp sport 80 accept"));
        assert!(s.contains("tcp dport 80 fwd to \"veth1\""), "{s}");
        assert!(s.contains("tcp sport 80 fwd to \"veth0\""));
        assert!(
            !s.contains("fwd to ether daddr map"),
            "no icc: no open fast path"
        );
    }

    #[test]
    fn hostile_names_cannot_break_out_of_quotes() {
        let s = Ruleset {
            table: "t".into(),
            proxy_hairpin: false,
            loopback_dnat: false,
            links: vec![],
            networks: vec![net("x\"; flush ruleset; \"", "10.1.0.0/24", 0)],
            ports: vec![],
        }
        .render();
        assert!(!s.contains("\"; flush"), "{s}");
    }
}

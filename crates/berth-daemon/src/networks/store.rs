//! Network records: one JSON file per network under `<data-root>/networks/<id>.json`,
//! written atomically, holding the network's configuration and its endpoints (which
//! containers are attached, with what aliases and requests, and, while a container
//! runs, its address, MAC, veth and published ports). The in-memory index is rebuilt
//! from these files at start.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use berth_net::firewall::Proto;
use chrono::{DateTime, Utc};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Network {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub ipv6: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub subnet: Option<Ipv4Net>,
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    #[serde(default)]
    pub ip_range: Option<Ipv4Net>,
    /// The bridge device (bridge driver only).
    #[serde(default)]
    pub bridge: String,
    /// `bridge`, `host` and `none`: created by the daemon, never removed.
    #[serde(default)]
    pub predefined: bool,
    /// Container id -> endpoint.
    #[serde(default)]
    pub endpoints: BTreeMap<String, Endpoint>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Endpoint {
    /// The container's name (no leading slash).
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub ip_request: Option<Ipv4Addr>,
    #[serde(default)]
    pub mac_request: Option<String>,
    #[serde(default)]
    pub links: Vec<String>,
    /// Set while the container runs.
    #[serde(default)]
    pub active: Option<Active>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Active {
    pub endpoint_id: String,
    pub ip: Ipv4Addr,
    pub mac: String,
    pub host_if: String,
    pub ifname: String,
    #[serde(default)]
    pub ports: Vec<Published>,
    /// The embedded DNS server's upstreams (user-defined networks).
    #[serde(default)]
    pub upstreams: Vec<std::net::IpAddr>,
    /// The container's exposed ports (what `--link`ed containers may reach).
    #[serde(default)]
    pub exposed: Vec<(Proto, u16)>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Published {
    pub proto: Proto,
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container_port: u16,
}

impl Network {
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }

    /// docker's "is this the default bridge" (`bridge`): legacy links, icc option,
    /// no embedded DNS.
    pub fn is_default_bridge(&self) -> bool {
        self.predefined && self.driver == "bridge"
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        berth_stdx::atomic_write_json(&dir.join(format!("{}.json", self.id)), self)
    }

    pub fn remove_file(&self, dir: &Path) {
        let _ = std::fs::remove_file(dir.join(format!("{}.json", self.id)));
    }
}

/// Every record in `dir`; unreadable files are skipped with a warning.
pub fn load_all(dir: &Path) -> std::io::Result<Vec<Network>> {
    std::fs::create_dir_all(dir)?;
    let mut out = Vec::new();
    for ent in std::fs::read_dir(dir)? {
        let path = ent?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Network>(&b).map_err(|e| e.to_string()))
        {
            Ok(n) => out.push(n),
            Err(e) => tracing::warn!(file = %path.display(), "skip network: {e}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut n = Network {
            id: "a".repeat(64),
            name: "net1".into(),
            driver: "bridge".into(),
            created: Utc::now(),
            internal: false,
            attachable: false,
            ipv6: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            subnet: Some("10.1.0.0/24".parse().unwrap()),
            gateway: Some("10.1.0.1".parse().unwrap()),
            ip_range: None,
            bridge: "br-aaaaaaaaaaaa".into(),
            predefined: false,
            endpoints: BTreeMap::new(),
        };
        n.endpoints.insert(
            "c".into(),
            Endpoint {
                name: "web".into(),
                active: Some(Active {
                    endpoint_id: "e".into(),
                    ip: "10.1.0.2".parse().unwrap(),
                    mac: "02:42:0a:01:00:02".into(),
                    host_if: "veth1234567".into(),
                    ifname: "eth0".into(),
                    ports: vec![Published {
                        proto: Proto::Udp,
                        host_ip: Ipv4Addr::UNSPECIFIED,
                        host_port: 5353,
                        container_port: 53,
                    }],
                    upstreams: vec!["127.0.0.53".parse().unwrap()],
                    exposed: vec![(Proto::Tcp, 80)],
                }),
                ..Default::default()
            },
        );
        n.save(dir.path()).unwrap();
        std::fs::write(dir.path().join("junk.json"), "{").unwrap();
        let all = load_all(dir.path()).unwrap();
        assert_eq!(all, vec![n]);
    }
}

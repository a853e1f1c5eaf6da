//! The daemon's network options (dockerd's flags and daemon.json keys), read from the
//! merged daemon.json map. Flags are merged into that map by the CLI before this runs.

use std::net::{IpAddr, Ipv4Addr};

use berth_net::ipam::Pool;
use ipnet::Ipv4Net;
use serde_json::{Map, Value};

/// Key of the hidden option naming berth's nftables table (tests give each daemon
/// its own).
pub const NFT_TABLE_KEY: &str = "x-berth-nft-table";
/// Key of the hidden option that removes bridges and the table at shutdown (tests).
pub const TEARDOWN_KEY: &str = "x-berth-net-teardown";

#[derive(Debug, Clone, PartialEq)]
pub struct NetConfig {
    /// The default bridge's device; `None` when `--bridge none`.
    pub bridge: Option<String>,
    /// The default bridge's address and prefix (`bip`).
    pub bip: Option<Ipv4Net>,
    pub fixed_cidr: Option<Ipv4Net>,
    pub pools: Vec<Pool>,
    pub mtu: u32,
    /// Default host address of published ports.
    pub ip: Ipv4Addr,
    pub icc: bool,
    pub ip_forward: bool,
    pub iptables: bool,
    pub userland_proxy: bool,
    pub dns: Vec<IpAddr>,
    pub dns_search: Vec<String>,
    pub dns_opts: Vec<String>,
    pub nft_table: String,
    pub teardown_on_exit: bool,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            bridge: Some("berth0".into()),
            bip: None,
            fixed_cidr: None,
            pools: berth_net::ipam::default_pools(),
            mtu: 1500,
            ip: Ipv4Addr::UNSPECIFIED,
            icc: true,
            ip_forward: true,
            iptables: true,
            userland_proxy: true,
            dns: Vec::new(),
            dns_search: Vec::new(),
            dns_opts: Vec::new(),
            nft_table: "berth".into(),
            teardown_on_exit: false,
        }
    }
}

/// A valid Linux interface name (at most 15 bytes, no `/`, whitespace or `:`).
pub fn valid_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn strings(v: &Value, key: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(String::from)
                    .ok_or_else(|| format!("{key} must be a list of strings"))
            })
            .collect(),
        _ => Err(format!("{key} must be a list of strings")),
    }
}

fn boolean(v: &Value, key: &str) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => Err(format!("{key} must be a boolean")),
    }
}

/// Parses `base=172.30.0.0/16,size=24` (the flag form) into a pool.
pub fn parse_pool_flag(s: &str) -> Result<Pool, String> {
    let mut base = None;
    let mut size = None;
    for kv in s.split(',') {
        match kv.split_once('=') {
            Some(("base", v)) => base = v.parse::<Ipv4Net>().ok(),
            Some(("size", v)) => size = v.parse::<u8>().ok(),
            _ => return Err(format!("invalid default address pool: {s}")),
        }
    }
    pool(base, size, s)
}

fn pool(base: Option<Ipv4Net>, size: Option<u8>, s: &str) -> Result<Pool, String> {
    match (base, size) {
        (Some(base), Some(size)) if size >= base.prefix_len() && size <= 30 => Ok(Pool {
            base: base.trunc(),
            size,
        }),
        _ => Err(format!("invalid default address pool: {s}")),
    }
}

impl NetConfig {
    pub fn from_file(file: &Map<String, Value>) -> Result<NetConfig, String> {
        let mut c = NetConfig::default();
        let s = |k: &str| -> Result<Option<String>, String> {
            match file.get(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("{k} must be a string")),
            }
        };
        if let Some(b) = s("bridge")? {
            c.bridge = match b.as_str() {
                "none" => None,
                "" => c.bridge,
                b if valid_ifname(b) => Some(b.to_string()),
                b => return Err(format!("invalid bridge name: {b}")),
            };
        }
        if let Some(b) = s("bip")? {
            let net: Ipv4Net = b
                .parse()
                .map_err(|_| format!("invalid bip: {b}: expected an address in CIDR form"))?;
            if net.addr() == net.network() || net.prefix_len() > 30 {
                return Err(format!(
                    "invalid bip: {b}: the address must be a host address"
                ));
            }
            c.bip = Some(net);
        }
        if let Some(f) = s("fixed-cidr")? {
            c.fixed_cidr = Some(
                f.parse::<Ipv4Net>()
                    .map_err(|_| format!("invalid fixed-cidr: {f}"))?
                    .trunc(),
            );
        }
        if let Some(v) = file.get("default-address-pools") {
            let arr = v.as_array().ok_or("default-address-pools must be a list")?;
            c.pools = arr
                .iter()
                .map(|p| {
                    let base = p
                        .get("base")
                        .and_then(Value::as_str)
                        .and_then(|b| b.parse().ok());
                    let size = p
                        .get("size")
                        .and_then(Value::as_u64)
                        .and_then(|n| u8::try_from(n).ok());
                    pool(base, size, &p.to_string())
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = file.get("mtu") {
            let m = v
                .as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|m| (68..=65535).contains(m))
                .ok_or_else(|| format!("invalid mtu: {v}"))?;
            c.mtu = m as u32;
        }
        if let Some(ip) = s("ip")? {
            c.ip = ip
                .parse()
                .map_err(|_| format!("invalid ip: {ip}: only IPv4 addresses are supported"))?;
        }
        for (k, dst) in [
            ("icc", &mut c.icc),
            ("ip-forward", &mut c.ip_forward),
            ("iptables", &mut c.iptables),
            ("userland-proxy", &mut c.userland_proxy),
        ] {
            if let Some(v) = file.get(k) {
                *dst = boolean(v, k)?;
            }
        }
        if let Some(v) = file.get("dns") {
            c.dns = strings(v, "dns")?
                .iter()
                .map(|d| d.parse().map_err(|_| format!("{d} is not an ip address")))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = file.get("dns-search") {
            c.dns_search = strings(v, "dns-search")?;
        }
        if let Some(v) = file.get("dns-opts") {
            c.dns_opts = strings(v, "dns-opts")?;
        }
        if let Some(t) = s(NFT_TABLE_KEY)? {
            if !valid_ifname(&t) || t.contains('.') {
                return Err(format!("invalid nftables table name: {t}"));
            }
            c.nft_table = t;
        }
        if let Some(v) = file.get(TEARDOWN_KEY) {
            c.teardown_on_exit = boolean(v, TEARDOWN_KEY)?;
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<NetConfig, String> {
        NetConfig::from_file(v.as_object().unwrap())
    }

    #[test]
    fn defaults_match_dockerd() {
        let c = parse(json!({})).unwrap();
        assert_eq!(c.bridge.as_deref(), Some("berth0"));
        assert!(c.icc && c.iptables && c.userland_proxy && c.ip_forward);
        assert_eq!(c.mtu, 1500);
    }

    #[test]
    fn every_key_parses() {
        let c = parse(json!({
            "bridge": "none", "bip": "10.9.0.1/24", "fixed-cidr": "10.9.0.128/25",
            "default-address-pools": [{"base": "10.10.0.0/16", "size": 24}],
            "mtu": 1400, "ip": "127.0.0.1", "icc": false, "ip-forward": false,
            "iptables": false, "userland-proxy": false, "dns": ["1.1.1.1"],
            "dns-search": ["example.com"], "dns-opts": ["ndots:2"],
            "x-berth-nft-table": "bt1", "x-berth-net-teardown": true
        }))
        .unwrap();
        assert_eq!(c.bridge, None);
        assert_eq!(c.bip, Some("10.9.0.1/24".parse().unwrap()));
        assert_eq!(c.fixed_cidr, Some("10.9.0.128/25".parse().unwrap()));
        assert_eq!(c.pools[0].size, 24);
        assert_eq!((c.mtu, c.ip.to_string()), (1400, "127.0.0.1".to_string()));
        assert!(!c.icc && !c.ip_forward && !c.iptables && !c.userland_proxy);
        assert_eq!(c.dns_search, ["example.com"]);
        assert!(c.teardown_on_exit);
    }

    #[test]
    fn bad_values_are_clear_errors() {
        for (v, want) in [
            (json!({"bip": "10.9.0.0/24"}), "invalid bip"),
            (json!({"bip": "nonsense"}), "invalid bip"),
            (json!({"bridge": "a/b"}), "invalid bridge name"),
            (
                json!({"bridge": "waytoolongbridgename"}),
                "invalid bridge name",
            ),
            (json!({"mtu": 10}), "invalid mtu"),
            (
                json!({"default-address-pools": [{"base": "x"}]}),
                "invalid default address pool",
            ),
            (json!({"icc": "maybe"}), "icc must be a boolean"),
            (
                json!({"x-berth-nft-table": "a;b"}),
                "invalid nftables table name",
            ),
        ] {
            let e = parse(v.clone()).unwrap_err();
            assert!(e.contains(want), "{v}: {e}");
        }
        assert!(parse_pool_flag("base=10.0.0.0/8,size=24").is_ok());
        assert!(parse_pool_flag("base=10.0.0.0/8").is_err());
    }
}

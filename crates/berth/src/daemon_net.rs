//! dockerd's network flags of `berth daemon` (`-b`, `--bip`, `--icc=false`, ...),
//! merged into the daemon.json map the daemon reads, with dockerd's rule that a
//! setting given both as a flag and in the file is an error.

use serde_json::{Map, Value, json};

#[derive(Debug, Default, clap::Args)]
pub struct NetDaemonArgs {
    /// Attach containers to a network bridge ("none" disables the default bridge)
    #[arg(short = 'b', long = "bridge", value_name = "string")]
    pub bridge: Option<String>,
    /// Network bridge IP
    #[arg(long = "bip", value_name = "string")]
    pub bip: Option<String>,
    /// IPv4 subnet for fixed IPs
    #[arg(long = "fixed-cidr", value_name = "string")]
    pub fixed_cidr: Option<String>,
    /// Default address pools for node specific local networks
    #[arg(long = "default-address-pool", value_name = "pool-options")]
    pub default_address_pool: Vec<String>,
    /// Set the containers network MTU
    #[arg(long = "mtu", value_name = "int")]
    pub mtu: Option<u32>,
    /// Default IP when binding container ports
    #[arg(long = "ip", value_name = "ip")]
    pub ip: Option<String>,
    /// Enable inter-container communication
    #[arg(long = "icc", value_name = "bool", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub icc: Option<bool>,
    /// Enable net.ipv4.ip_forward
    #[arg(long = "ip-forward", value_name = "bool", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub ip_forward: Option<bool>,
    /// Enable addition of firewall rules
    #[arg(long = "iptables", value_name = "bool", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub iptables: Option<bool>,
    /// Use userland proxy for loopback traffic
    #[arg(long = "userland-proxy", value_name = "bool", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub userland_proxy: Option<bool>,
    /// DNS server to use
    #[arg(long = "dns", value_name = "list")]
    pub dns: Vec<String>,
    /// DNS search domains to use
    #[arg(long = "dns-search", value_name = "list")]
    pub dns_search: Vec<String>,
    /// DNS options to use
    #[arg(long = "dns-opt", value_name = "list")]
    pub dns_opt: Vec<String>,
    /// nftables table of this daemon (tests run several daemons side by side)
    #[arg(long = "nft-table", value_name = "string", hide = true)]
    pub nft_table: Option<String>,
    /// Remove bridges, namespaces and the nftables table at shutdown (tests)
    #[arg(long = "net-teardown-on-exit", hide = true)]
    pub net_teardown_on_exit: bool,
}

impl NetDaemonArgs {
    /// The flags as daemon.json entries.
    fn entries(&self) -> Result<Vec<(&'static str, Value)>, String> {
        let mut e: Vec<(&'static str, Value)> = Vec::new();
        let mut put = |k: &'static str, v: Option<Value>| {
            if let Some(v) = v {
                e.push((k, v));
            }
        };
        put("bridge", self.bridge.clone().map(Value::from));
        put("bip", self.bip.clone().map(Value::from));
        put("fixed-cidr", self.fixed_cidr.clone().map(Value::from));
        put("mtu", self.mtu.map(Value::from));
        put("ip", self.ip.clone().map(Value::from));
        put("icc", self.icc.map(Value::from));
        put("ip-forward", self.ip_forward.map(Value::from));
        put("iptables", self.iptables.map(Value::from));
        put("userland-proxy", self.userland_proxy.map(Value::from));
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| json!(v));
        put("dns", list(&self.dns));
        put("dns-search", list(&self.dns_search));
        put("dns-opts", list(&self.dns_opt));
        put("x-berth-nft-table", self.nft_table.clone().map(Value::from));
        put(
            "x-berth-net-teardown",
            self.net_teardown_on_exit.then_some(Value::Bool(true)),
        );
        if !self.default_address_pool.is_empty() {
            let mut pools = Vec::new();
            for p in &self.default_address_pool {
                let mut base = None;
                let mut size = None;
                for kv in p.split(',') {
                    match kv.split_once('=') {
                        Some(("base", v)) => base = Some(v.to_string()),
                        Some(("size", v)) => size = v.parse::<u64>().ok(),
                        _ => return Err(format!("invalid default address pool: {p}")),
                    }
                }
                match (base, size) {
                    (Some(b), Some(s)) => pools.push(json!({"base": b, "size": s})),
                    _ => return Err(format!("invalid default address pool: {p}")),
                }
            }
            e.push(("default-address-pools", Value::Array(pools)));
        }
        Ok(e)
    }

    /// Adds the flags to `file` (the daemon.json map), refusing keys set in both.
    pub fn merge_into(
        &self,
        file: &mut Map<String, Value>,
        config_file: &str,
    ) -> Result<(), String> {
        let entries = self.entries()?;
        let conflicts: Vec<String> = entries
            .iter()
            .filter_map(|(k, v)| {
                let fv = file.get(*k)?;
                let show = |v: &Value| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some(format!(
                    "{k}: (from flag: {}, from file: {})",
                    show(v),
                    show(fv)
                ))
            })
            .collect();
        if !conflicts.is_empty() {
            return Err(format!(
                "unable to configure the Docker daemon with file {config_file}: the following directives are specified both as a flag and in the configuration file: {}",
                conflicts.join(", ")
            ));
        }
        for (k, v) in entries {
            file.insert(k.to_string(), v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_file_keys_and_conflicts_are_refused() {
        let a = NetDaemonArgs {
            bridge: Some("none".into()),
            icc: Some(false),
            dns: vec!["1.1.1.1".into()],
            default_address_pool: vec!["base=10.10.0.0/16,size=24".into()],
            ..Default::default()
        };
        let mut file = Map::new();
        a.merge_into(&mut file, "/etc/berth/daemon.json").unwrap();
        assert_eq!(file["bridge"], "none");
        assert_eq!(file["icc"], false);
        assert_eq!(file["default-address-pools"][0]["size"], 24);
        let mut file = Map::new();
        file.insert("icc".into(), Value::Bool(true));
        let e = a.merge_into(&mut file, "/x.json").unwrap_err();
        assert!(
            e.ends_with("icc: (from flag: false, from file: true)"),
            "{e}"
        );
        let bad = NetDaemonArgs {
            default_address_pool: vec!["base=10.0.0.0/8".into()],
            ..Default::default()
        };
        assert!(bad.merge_into(&mut Map::new(), "/x").is_err());
    }
}

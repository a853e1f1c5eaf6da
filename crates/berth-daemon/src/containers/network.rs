//! The container side of networking: which namespace a container's spec names, the
//! attachments recorded at create, the set-up at start (namespace, interfaces,
//! published ports, `/etc/hosts`, resolv.conf, legacy link variables) and the teardown
//! at exit and removal. The network logic itself lives in `crate::networks`.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_net::firewall::Proto;
use berth_runtime::spec::{ContainerSpec, NetworkNamespace};
use serde_json::{Map, Value};

use super::manager::{ContainerManager, strs};
use super::record::{Record, Status};
use crate::error::{Error, Result};
use crate::networks::{EndpointRequest, NetworkManager, PortRequest};

/// The container's DNS options (its flags, else the daemon's) and the host's
/// resolv.conf.
fn dns_options(
    rec: &Record,
    cfg: &crate::networks::NetConfig,
) -> (berth_net::resolv::DnsOptions, berth_net::resolv::ResolvConf) {
    let pick = |k: &str, d: &[String]| {
        let v = strs(rec.host_config.get(k));
        if v.is_empty() { d.to_vec() } else { v }
    };
    let mut servers: Vec<IpAddr> = strs(rec.host_config.get("Dns"))
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    if servers.is_empty() {
        servers = cfg.dns.clone();
    }
    let host = berth_net::resolv::ResolvConf::parse(
        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    );
    (
        berth_net::resolv::DnsOptions {
            servers,
            search: pick("DnsSearch", &cfg.dns_search),
            options: pick("DnsOptions", &cfg.dns_opts),
        },
        host,
    )
}

/// `NetworkMode` values that share another namespace instead of joining networks.
fn shares_namespace(mode: &str) -> bool {
    mode == "host" || mode == "none" || mode.starts_with("container:")
}

/// An endpoint request from the API's `EndpointSettings` JSON.
pub(crate) fn endpoint_request(v: Option<&Value>) -> Result<EndpointRequest> {
    let Some(v) = v else {
        return Ok(EndpointRequest::default());
    };
    let ip = v
        .pointer("/IPAMConfig/IPv4Address")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Ipv4Addr>()
                .map_err(|_| Error::invalid(format!("invalid IPv4 address: {s}")))
        })
        .transpose()?;
    Ok(EndpointRequest {
        aliases: strs(v.get("Aliases")),
        ip,
        mac: v
            .get("MacAddress")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from),
        links: strs(v.get("Links")),
    })
}

/// `-p`/`-P` as the record holds them: `PortBindings` plus, with `PublishAllPorts`,
/// every exposed port not bound explicitly.
pub(crate) fn port_requests(rec: &Record) -> Result<Vec<PortRequest>> {
    let mut out = Vec::new();
    let mut bound = std::collections::BTreeSet::new();
    let parse_key = |k: &str| -> Result<(u16, Proto)> {
        let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
        let proto =
            Proto::parse(proto).ok_or_else(|| Error::invalid(format!("invalid proto: {proto}")))?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| Error::invalid(format!("invalid port specification: {k:?}")))?;
        Ok((port, proto))
    };
    if let Some(m) = rec
        .host_config
        .get("PortBindings")
        .and_then(Value::as_object)
    {
        for (k, v) in m {
            let (cport, proto) = parse_key(k)?;
            for b in v.as_array().into_iter().flatten() {
                let hip = b.get("HostIp").and_then(Value::as_str).unwrap_or("");
                if hip.contains(':') {
                    continue; // IPv6 host addresses: v4 only here.
                }
                let host_ip = if hip.is_empty() {
                    None
                } else {
                    Some(
                        hip.parse::<Ipv4Addr>()
                            .map_err(|_| Error::invalid(format!("invalid IP address: {hip}")))?,
                    )
                };
                let hp = b.get("HostPort").and_then(Value::as_str).unwrap_or("");
                let host_range = berth_net::ports::parse_host_port(hp)
                    .map_err(|_| Error::invalid(format!("invalid port specification: {hp:?}")))?;
                bound.insert((cport, proto));
                out.push(PortRequest {
                    proto,
                    container_port: cport,
                    host_ip,
                    host_range,
                });
            }
        }
    }
    if rec.hc_bool("PublishAllPorts")
        && let Some(m) = rec.config.get("ExposedPorts").and_then(Value::as_object)
    {
        for k in m.keys() {
            let (cport, proto) = parse_key(k)?;
            if bound.insert((cport, proto)) {
                out.push(PortRequest {
                    proto,
                    container_port: cport,
                    host_ip: None,
                    host_range: None,
                });
            }
        }
    }
    Ok(out)
}

impl ContainerManager {
    pub(crate) fn networks(&self) -> Option<&Arc<NetworkManager>> {
        self.net.get()
    }

    /// The network mode in effect: with the default bridge disabled (`--bridge none`)
    /// a container on the default network gets only loopback, as with dockerd.
    fn effective_mode(&self, rec: &Record) -> String {
        let mode = rec.hc_str("NetworkMode");
        let default = matches!(mode, "" | "default" | "bridge");
        match self.networks() {
            Some(n) if default && n.cfg.bridge.is_none() => "none".into(),
            _ => mode.to_string(),
        }
    }

    pub(crate) fn network_manager(&self) -> Option<Arc<NetworkManager>> {
        self.net.get().cloned()
    }

    pub fn set_networks(&self, n: Arc<NetworkManager>) {
        let _ = self.net.set(n);
    }

    /// Live-restore of bridges, rules and proxies, before the shims are checked.
    pub(crate) async fn net_restore(&self) {
        let Some(n) = self.networks().cloned() else {
            return;
        };
        if let Err(e) = crate::server::blocking(move || n.restore().map_err(Error::internal)).await
        {
            tracing::error!("restore networks: {}", e.message);
        }
    }

    pub fn net_shutdown(&self) {
        if let Some(n) = self.networks() {
            n.shutdown();
        }
    }

    /// At create: checks the network mode and records the container's attachments.
    pub(crate) fn net_on_create(&self, rec: &Record, networking: Option<&Value>) -> Result<()> {
        let mode = self.effective_mode(rec);
        if let Some(other) = mode.strip_prefix("container:") {
            self.get(other)?;
        }
        let Some(n) = self.networks() else {
            return Ok(());
        };
        let eps = networking
            .and_then(|v| v.get("EndpointsConfig"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut primary = None;
        let mut extra = Vec::new();
        for (name, v) in &eps {
            let req = endpoint_request(Some(v))?;
            if *name == mode || (name == "default" && mode == "bridge") {
                primary = Some(req);
            } else {
                extra.push((name.clone(), req));
            }
        }
        if shares_namespace(&mode) {
            return Ok(());
        }
        let mut primary = primary.unwrap_or_default();
        if primary.mac.is_none() {
            let m = rec.cfg_str("MacAddress");
            if !m.is_empty() {
                primary.mac = Some(m.to_string());
            }
        }
        if primary.links.is_empty() {
            primary.links = strs(rec.host_config.get("Links"));
        }
        n.attach_on_create(&rec.id, &rec.name, &mode, primary, extra)
    }

    /// The namespace the OCI spec names for `rec`.
    pub(crate) fn net_namespace(&self, rec: &Record) -> Result<NetworkNamespace> {
        let mode = self.effective_mode(rec);
        let mode = mode.as_str();
        if mode == "host" {
            return Ok(NetworkNamespace::Host);
        }
        if let Some(other) = mode.strip_prefix("container:") {
            let o = self.get(other)?;
            if o.state.status != Status::Running {
                return Err(Error::conflict(format!(
                    "cannot join network namespace of a non running container: {}",
                    o.id
                )));
            }
            let omode = o.hc_str("NetworkMode");
            if omode == "host" {
                return Ok(NetworkNamespace::Host);
            }
            if let Some(n) = self.networks() {
                let p = n.netns_path(&o.id);
                if p.exists() && !shares_namespace(omode) {
                    return Ok(NetworkNamespace::Path(p));
                }
            }
            return Ok(NetworkNamespace::Path(PathBuf::from(format!(
                "/proc/{}/ns/net",
                o.state.pid
            ))));
        }
        match self.networks() {
            Some(n) if mode != "none" => Ok(NetworkNamespace::Path(n.netns_path(&rec.id))),
            _ => Ok(NetworkNamespace::New),
        }
    }

    /// Before the bundle is written: the namespace and the legacy link variables.
    pub(crate) fn net_prepare(&self, rec: &Record, cs: &mut ContainerSpec) -> Result<()> {
        cs.network = self.net_namespace(rec)?;
        cs.env.extend(self.link_env(rec)?);
        Ok(())
    }

    /// docker's `--link` entries: (alias, linked record).
    fn links(&self, rec: &Record) -> Result<Vec<(String, Record)>> {
        let mut out = Vec::new();
        for l in strs(rec.host_config.get("Links")) {
            let (name, alias) = l.split_once(':').unwrap_or((&l, &l));
            let alias = alias.rsplit('/').next().unwrap_or(alias).to_string();
            let o = self.get(name.trim_start_matches('/'))?;
            if o.state.status != Status::Running {
                return Err(Error::invalid(format!(
                    "Cannot link to a non running container: {} AS {}/{}",
                    o.name, rec.name, alias
                )));
            }
            out.push((alias, o));
        }
        Ok(out)
    }

    fn ip_on_default_bridge(&self, cid: &str) -> Option<Ipv4Addr> {
        let n = self.networks()?;
        n.container_networks(cid)
            .into_iter()
            .find(|(n, _)| n.is_default_bridge())
            .and_then(|(_, e)| e.active.map(|a| a.ip))
    }

    /// docker's legacy link variables (`DB_PORT_80_TCP_ADDR`, `DB_NAME`, `DB_ENV_*`).
    fn link_env(&self, rec: &Record) -> Result<Vec<String>> {
        let mut env = Vec::new();
        for (alias, o) in self.links(rec)? {
            let Some(ip) = self.ip_on_default_bridge(&o.id) else {
                continue;
            };
            let p = alias.to_uppercase().replace('-', "_");
            env.push(format!("{p}_NAME={}/{alias}", rec.name));
            let mut ports: Vec<(u16, String)> = o
                .config
                .get("ExposedPorts")
                .and_then(Value::as_object)
                .map(|m| {
                    m.keys()
                        .filter_map(|k| {
                            let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
                            Some((port.parse().ok()?, proto.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            ports.sort();
            if let Some((port, proto)) = ports.first() {
                env.push(format!("{p}_PORT={proto}://{ip}:{port}"));
            }
            for (port, proto) in &ports {
                let q = format!("{p}_PORT_{port}_{}", proto.to_uppercase());
                env.push(format!("{q}={proto}://{ip}:{port}"));
                env.push(format!("{q}_ADDR={ip}"));
                env.push(format!("{q}_PORT={port}"));
                env.push(format!("{q}_PROTO={proto}"));
            }
            for e in strs(o.config.get("Env")) {
                let Some((k, v)) = e.split_once('=') else {
                    continue;
                };
                if ["HOME", "PATH", "HOSTNAME"].contains(&k) {
                    continue;
                }
                env.push(format!("{p}_ENV_{k}={v}"));
            }
        }
        Ok(env)
    }

    /// After the bundle is written: namespace, interfaces and ports, then the
    /// container's `/etc/hosts` and resolv.conf (blocking).
    pub(crate) fn net_setup(&self, dir: &Path, rec: &Record) -> Result<()> {
        let mode = self.effective_mode(rec);
        let Some(n) = self.networks().cloned() else {
            return Ok(());
        };
        if mode == "host" || mode.starts_with("container:") {
            return Ok(());
        }
        let view = if mode == "none" {
            Default::default()
        } else {
            let ports = port_requests(rec)?;
            let (opts, host) = dns_options(rec, &n.cfg);
            let upstreams: Vec<IpAddr> = berth_net::resolv::upstreams(&host, &opts)
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect();
            let exposed: Vec<(Proto, u16)> = rec
                .config
                .get("ExposedPorts")
                .and_then(Value::as_object)
                .map(|m| {
                    m.keys()
                        .filter_map(|k| {
                            let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
                            Some((Proto::parse(proto)?, p.parse().ok()?))
                        })
                        .collect()
                })
                .unwrap_or_default();
            n.start_container(&rec.id, &rec.name, &mode, &ports, &upstreams, &exposed)?
        };
        let embedded = view.user_defined && n.embedded_dns;
        let res = self.write_net_files(dir, rec, &n, view.ip, embedded);
        if res.is_err() && mode != "none" {
            n.stop_container(&rec.id);
        }
        res
    }

    fn write_net_files(
        &self,
        dir: &Path,
        rec: &Record,
        n: &NetworkManager,
        ip: Option<Ipv4Addr>,
        embedded: bool,
    ) -> Result<()> {
        let mut extra: Vec<(String, IpAddr)> = Vec::new();
        for h in strs(rec.host_config.get("ExtraHosts")) {
            let Some((name, addr)) = h.split_once(':').or_else(|| h.split_once('=')) else {
                continue;
            };
            let addr = if addr == "host-gateway" {
                match n.host_gateway() {
                    Some(g) => IpAddr::V4(g),
                    None => continue,
                }
            } else {
                match addr.trim_matches(['[', ']']).parse() {
                    Ok(a) => a,
                    Err(_) => continue,
                }
            };
            extra.push((name.to_string(), addr));
        }
        for (alias, o) in self.links(rec)? {
            if let Some(lip) = self.ip_on_default_bridge(&o.id) {
                let bare = o.bare_name();
                let names = if alias == bare {
                    format!("{alias} {}", &o.id[..12])
                } else {
                    format!("{alias} {} {bare}", &o.id[..12])
                };
                extra.push((names, IpAddr::V4(lip)));
            }
        }
        let hostname = rec.cfg_str("Hostname");
        let hosts = berth_net::hosts::render(&berth_net::hosts::HostsInput {
            address: ip.map(IpAddr::V4),
            hostname: if hostname.is_empty() {
                rec.id[..12].to_string()
            } else {
                hostname.to_string()
            },
            domainname: rec.cfg_str("Domainname").to_string(),
            extra,
            ipv6: true,
        });
        let io = |e: std::io::Error| Error::internal(format!("write container files: {e}"));
        std::fs::write(dir.join("hosts"), hosts).map_err(io)?;
        let (opts, host) = dns_options(rec, &n.cfg);
        let has = |k: &str| !strs(rec.host_config.get(k)).is_empty();
        let cfg = &n.cfg;
        if embedded
            || (!cfg.dns.is_empty() && !has("Dns"))
            || (!cfg.dns_search.is_empty() && !has("DnsSearch"))
            || (!cfg.dns_opts.is_empty() && !has("DnsOptions"))
        {
            let r = berth_net::resolv::for_container(&host, &opts, embedded);
            std::fs::write(dir.join("resolv.conf"), r.render()).map_err(io)?;
        }
        Ok(())
    }

    /// At exit (and after a failed start): interfaces, ports and namespace go.
    pub(crate) fn net_teardown(&self, rec_id: &str) {
        if let Some(n) = self.networks() {
            n.stop_container(rec_id);
        }
    }

    /// At removal: the container leaves its networks.
    pub(crate) fn net_forget(&self, rec_id: &str) {
        if let Some(n) = self.networks() {
            n.forget_container(rec_id);
        }
    }

    pub(crate) fn net_rename(&self, rec_id: &str, new_name: &str) {
        if let Some(n) = self.networks() {
            n.rename_container(rec_id, new_name);
        }
    }

    /// `NetworkSettings` of inspect: the networks map, docker's top-level copy of the
    /// default bridge's endpoint, and the published ports.
    pub(crate) fn network_settings(&self, rec: &Record) -> Value {
        let mut networks = Map::new();
        let mut top = Map::new();
        let mut ports = Map::new();
        // docker lists exposed and published ports only while the container runs.
        if rec.state.status.is_active()
            && let Some(m) = rec.config.get("ExposedPorts").and_then(Value::as_object)
        {
            for k in m.keys() {
                ports.insert(k.clone(), Value::Null);
            }
        }
        let mut sandbox = String::new();
        if let Some(n) = self.networks() {
            let running = rec.state.status.is_active();
            for (net, ep) in n.container_networks(&rec.id) {
                let a = ep.active.as_ref().filter(|_| running);
                let prefix = net.subnet.map(|s| s.prefix_len()).unwrap_or(0);
                let mut dns_names = Vec::new();
                if !net.is_default_bridge() {
                    dns_names.push(ep.name.clone());
                    dns_names.extend(ep.aliases.iter().cloned());
                    if a.is_some() {
                        dns_names.push(rec.id[..12].to_string());
                    }
                }
                let v = serde_json::json!({
                    "IPAMConfig": ep.ip_request.map(|ip| serde_json::json!({"IPv4Address": ip.to_string()})),
                    "Links": if ep.links.is_empty() { Value::Null } else { serde_json::json!(ep.links) },
                    "Aliases": if ep.aliases.is_empty() { Value::Null } else { serde_json::json!(ep.aliases) },
                    "MacAddress": a.map(|a| a.mac.clone()).unwrap_or_default(),
                    "DriverOpts": null,
                    "GwPriority": 0,
                    "NetworkID": net.id,
                    "EndpointID": a.map(|a| a.endpoint_id.clone()).unwrap_or_default(),
                    "Gateway": a.and(net.gateway).map(|g| g.to_string()).unwrap_or_default(),
                    "IPAddress": a.map(|a| a.ip.to_string()).unwrap_or_default(),
                    "IPPrefixLen": if a.is_some() { prefix } else { 0 },
                    "IPv6Gateway": "",
                    "GlobalIPv6Address": "",
                    "GlobalIPv6PrefixLen": 0,
                    "DNSNames": if dns_names.is_empty() { Value::Null } else { serde_json::json!(dns_names) },
                });
                if let Some(a) = a {
                    sandbox = n.netns_path(&rec.id).display().to_string();
                    for p in &a.ports {
                        let k = format!("{}/{}", p.container_port, p.proto.as_str());
                        let entry = ports.entry(k).or_insert(Value::Array(Vec::new()));
                        if !entry.is_array() {
                            *entry = Value::Array(Vec::new());
                        }
                        if let Some(arr) = entry.as_array_mut() {
                            arr.push(serde_json::json!({
                                "HostIp": p.host_ip.to_string(),
                                "HostPort": p.host_port.to_string()
                            }));
                        }
                    }
                }
                if net.is_default_bridge() {
                    for k in [
                        "EndpointID",
                        "Gateway",
                        "IPAddress",
                        "IPPrefixLen",
                        "MacAddress",
                    ] {
                        top.insert(k.to_string(), v[k].clone());
                    }
                }
                networks.insert(net.name.clone(), v);
            }
        }
        let mode = rec.hc_str("NetworkMode");
        if networks.is_empty() && shares_namespace(mode) && !mode.starts_with("container:") {
            // docker shows the `host`/`none` network with an empty endpoint.
            if let Some(n) = self.networks()
                && let Ok(net) = n.get(mode)
            {
                networks.insert(
                    net.name.clone(),
                    serde_json::json!({
                        "IPAMConfig": null, "Links": null, "Aliases": null, "MacAddress": "",
                        "DriverOpts": null, "GwPriority": 0, "NetworkID": net.id,
                        "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                        "DNSNames": null
                    }),
                );
            }
        }
        let mut out = serde_json::json!({
            "Bridge": "", "SandboxID": "", "SandboxKey": sandbox, "Ports": ports,
            "HairpinMode": false, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "SecondaryIPAddresses": null, "SecondaryIPv6Addresses": null, "EndpointID": "",
            "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "", "Networks": networks
        });
        for (k, v) in top {
            out[k] = v;
        }
        out
    }

    /// `ps`'s row: `Ports` in the list form and `NetworkSettings.Networks`.
    pub(crate) fn fill_network_row(&self, row: &mut Value, rec: &Record) {
        let ns = self.network_settings(rec);
        let mut ports = Vec::new();
        if let Some(m) = ns["Ports"].as_object() {
            for (k, v) in m {
                let (port, proto) = k.split_once('/').unwrap_or((k, "tcp"));
                let port: u16 = port.parse().unwrap_or(0);
                match v.as_array() {
                    Some(arr) if !arr.is_empty() => {
                        for b in arr {
                            let public = b["HostPort"]
                                .as_str()
                                .and_then(|s| s.parse::<u16>().ok())
                                .unwrap_or(0);
                            ports.push(serde_json::json!({
                                "IP": b["HostIp"], "PrivatePort": port,
                                "PublicPort": public, "Type": proto,
                            }));
                        }
                    }
                    _ => ports.push(serde_json::json!({"PrivatePort": port, "Type": proto})),
                }
            }
        }
        row["Ports"] = Value::Array(ports);
        row["NetworkSettings"] = serde_json::json!({"Networks": ns["Networks"].clone()});
    }

    /// `ps --filter network=NAME|ID`, `publish=PORT[/PROTO]`, `expose=PORT[/PROTO]`
    /// (ranges `A-B/proto` too), matched against container ports as docker does.
    pub(crate) fn matches_network_filters(
        &self,
        f: &berth_api::Filters,
        rec: &Record,
    ) -> Result<bool> {
        let nets = f.get("network");
        if !nets.is_empty() {
            let mine: Vec<(String, String)> = match self.networks() {
                Some(n) => n
                    .container_networks(&rec.id)
                    .into_iter()
                    .map(|(n, _)| (n.name, n.id))
                    .collect(),
                None => Vec::new(),
            };
            let mode = rec.hc_str("NetworkMode");
            let hit = nets.iter().any(|w| {
                *w == mode
                    || mine
                        .iter()
                        .any(|(name, id)| name == w || (!w.is_empty() && id.starts_with(w)))
            });
            if !hit {
                return Ok(false);
            }
        }
        for (key, obj) in [
            ("publish", rec.host_config.get("PortBindings")),
            ("expose", rec.config.get("ExposedPorts")),
        ] {
            let wants = f.get(key);
            if wants.is_empty() {
                continue;
            }
            let have: Vec<(u16, String)> = obj
                .and_then(Value::as_object)
                .map(|m| {
                    m.keys()
                        .filter_map(|k| {
                            let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
                            Some((p.parse().ok()?, proto.to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let mut hit = false;
            for w in wants {
                let (range, proto) = w.split_once('/').unwrap_or((w, "tcp"));
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) else {
                    return Err(Error::invalid(format!("invalid filter '{key}={w}'")));
                };
                hit |= have
                    .iter()
                    .any(|(p, pr)| (a..=b).contains(p) && pr == proto);
            }
            if !hit {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(hc: Value, cfg: Value) -> Record {
        Record {
            id: "a".repeat(64),
            name: "/x".into(),
            created: chrono::Utc::now(),
            image_ref: "busybox".into(),
            image_id: "sha256:00".into(),
            path: "true".into(),
            args: vec![],
            config: cfg.as_object().cloned().unwrap_or_default(),
            host_config: hc.as_object().cloned().unwrap_or_default(),
            state: Default::default(),
            log_path: String::new(),
            runtime: "embedded".into(),
            mount_points: vec![],
        }
    }

    #[test]
    fn port_requests_follow_docker() {
        let r = rec(
            json!({"PortBindings": {
                "80/tcp": [{"HostIp": "", "HostPort": "8080"}, {"HostIp": "127.0.0.1", "HostPort": ""}],
                "53/udp": [{"HostIp": "", "HostPort": "5300-5310"}],
                "90/tcp": [{"HostIp": "::", "HostPort": "90"}]
            }, "PublishAllPorts": true}),
            json!({"ExposedPorts": {"80/tcp": {}, "443/tcp": {}}}),
        );
        let mut p = port_requests(&r).unwrap();
        p.sort_by_key(|p| (p.container_port, p.host_range));
        let want = [
            (53, Proto::Udp, None, Some((5300, 5310))),
            (80, Proto::Tcp, Some("127.0.0.1".parse().unwrap()), None),
            (80, Proto::Tcp, None, Some((8080, 8080))),
            (443, Proto::Tcp, None, None),
        ];
        let got: Vec<_> = p
            .iter()
            .map(|p| (p.container_port, p.proto, p.host_ip, p.host_range))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn bad_port_specs_are_errors_not_panics() {
        for hc in [
            json!({"PortBindings": {"x/tcp": [{"HostPort": "1"}]}}),
            json!({"PortBindings": {"80/sctpx": [{"HostPort": "1"}]}}),
            json!({"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}),
            json!({"PortBindings": {"80/tcp": [{"HostIp": "nope", "HostPort": "1"}]}}),
        ] {
            assert!(port_requests(&rec(hc.clone(), json!({}))).is_err(), "{hc}");
        }
    }

    #[test]
    fn endpoint_requests_parse_the_api_shape() {
        let r = endpoint_request(Some(&json!({
            "IPAMConfig": {"IPv4Address": "10.1.0.9"}, "Aliases": ["a"], "MacAddress": "02:42:00:00:00:01"
        })))
        .unwrap();
        assert_eq!(r.ip, Some("10.1.0.9".parse().unwrap()));
        assert_eq!(r.aliases, ["a"]);
        assert!(endpoint_request(Some(&json!({"IPAMConfig": {"IPv4Address": "x"}}))).is_err());
    }
}

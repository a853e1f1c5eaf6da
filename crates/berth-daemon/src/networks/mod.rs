//! Networks as objects: the predefined `bridge`, `host` and `none`, user-defined bridge
//! networks (create, list, inspect, remove, prune, connect, disconnect), and what a
//! container's start and stop do to them (`endpoints`).
//!
//! Key decisions: the kernel and the firewall are reached only through berth-net's
//! [`NetOps`] and [`Firewall`] traits, so everything here runs against fakes in unit
//! tests; the firewall is a value rebuilt from the records after every change and
//! applied in one batch (skipped when nothing changed); records are saved atomically
//! after each change and re-applied at start (live-restore).

pub mod config;
pub mod dns;
mod endpoints;
pub mod proxy;
pub mod store;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use berth_net::firewall::{Firewall, FwEndpoint, FwNetwork, FwPort, Ruleset};
use berth_net::ipam::{self, IpamError};
use berth_net::link::{NetOps, parse_mac};
use berth_net::ports::PortAllocator;
use ipnet::Ipv4Net;

pub use config::NetConfig;
pub use endpoints::{ContainerNet, EndpointRequest, PortRequest};
pub use store::{Active, Endpoint, Network, Published};

use crate::error::{Error, Result};
use crate::events::EventBus;
use berth_stdx::ErrorKind;

pub(crate) struct State {
    pub nets: BTreeMap<String, Network>,
    pub ports: PortAllocator,
    /// The last batch applied (an identical one is not applied again).
    pub applied: Option<String>,
}

pub struct NetworkManager {
    pub cfg: NetConfig,
    dir: PathBuf,
    netns_dir: PathBuf,
    ops: Arc<dyn NetOps>,
    fw: Arc<dyn Firewall>,
    events: EventBus,
    state: Mutex<State>,
    pub(crate) proxies: proxy::Proxies,
    pub(crate) dns: dns::Dns,
    /// Serve DNS inside container namespaces (off for the fake kernel in tests).
    pub(crate) embedded_dns: bool,
    /// Delete torn-down veths on a background thread.
    pub(crate) background_link_delete: bool,
}

/// What `POST /networks/create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub driver: String,
    pub internal: bool,
    pub attachable: bool,
    pub ipv6: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
}

pub const BRIDGE_NAME_OPT: &str = "com.docker.network.bridge.name";

/// docker's object names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn valid_name(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn forbidden(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Forbidden, msg)
}

fn ipam_err(e: IpamError) -> Error {
    match e {
        IpamError::Overlap(_) | IpamError::InUse(_) => forbidden(e.to_string()),
        _ => Error::invalid(e.to_string()),
    }
}

/// The daemon's network manager over the real kernel and `nft`, records loaded.
pub fn open(
    opts: &crate::options::DaemonOptions,
    events: EventBus,
) -> std::result::Result<Arc<NetworkManager>, String> {
    let cfg = NetConfig::from_file(&opts.file).map_err(|e| format!("network options: {e}"))?;
    let mut m = NetworkManager::new(
        cfg,
        &opts.data_root,
        &opts.exec_root,
        Arc::new(berth_net::link::Kernel),
        Arc::new(berth_net::firewall::Nft),
        events,
    );
    m.embedded_dns = true;
    m.background_link_delete = true;
    m.load()?;
    Ok(Arc::new(m))
}

impl NetworkManager {
    pub fn new(
        cfg: NetConfig,
        data_root: &Path,
        exec_root: &Path,
        ops: Arc<dyn NetOps>,
        fw: Arc<dyn Firewall>,
        events: EventBus,
    ) -> NetworkManager {
        NetworkManager {
            cfg,
            dir: data_root.join("networks"),
            netns_dir: exec_root.join("netns"),
            ops,
            fw,
            events,
            state: Mutex::new(State {
                nets: BTreeMap::new(),
                ports: PortAllocator::default(),
                applied: None,
            }),
            proxies: proxy::Proxies::default(),
            dns: dns::Dns::default(),
            embedded_dns: false,
            background_link_delete: false,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The bind-mounted namespace of a container on a bridge network.
    pub fn netns_path(&self, cid: &str) -> PathBuf {
        self.netns_dir.join(cid)
    }

    /// Reads the records and makes sure the predefined networks exist (blocking).
    pub fn load(&self) -> std::result::Result<(), String> {
        let all = store::load_all(&self.dir)
            .map_err(|e| format!("load networks from {}: {e}", self.dir.display()))?;
        let mut st = self.lock();
        for n in all {
            for ep in n.endpoints.values() {
                for p in ep.active.iter().flat_map(|a| &a.ports) {
                    st.ports.take(p.proto, p.host_ip, p.host_port);
                }
            }
            st.nets.insert(n.id.clone(), n);
        }
        for (name, driver) in [("host", "host"), ("none", "null")] {
            if !st.nets.values().any(|n| n.predefined && n.name == name) {
                let n = self.new_record(name, driver, true);
                n.save(&self.dir)
                    .map_err(|e| format!("save network {name}: {e}"))?;
                st.nets.insert(n.id.clone(), n);
            }
        }
        let existing = st
            .nets
            .values()
            .find(|n| n.is_default_bridge())
            .map(|n| n.id.clone());
        match (&self.cfg.bridge, existing) {
            (None, Some(id)) => {
                // `--bridge none`: the default bridge is gone from the API.
                if let Some(n) = st.nets.remove(&id) {
                    n.remove_file(&self.dir);
                }
            }
            (None, None) => {}
            (Some(dev), existing) => {
                let mut n = existing
                    .and_then(|id| st.nets.get(&id).cloned())
                    .unwrap_or_else(|| self.new_record("bridge", "bridge", true));
                let changed_dev = n.bridge != *dev;
                n.bridge = dev.clone();
                n.options.insert(BRIDGE_NAME_OPT.into(), dev.clone());
                n.options.insert(
                    "com.docker.network.bridge.default_bridge".into(),
                    "true".into(),
                );
                n.options.insert(
                    "com.docker.network.bridge.enable_ip_masquerade".into(),
                    "true".into(),
                );
                n.options.insert(
                    "com.docker.network.bridge.enable_icc".into(),
                    self.cfg.icc.to_string(),
                );
                n.options.insert(
                    "com.docker.network.driver.mtu".into(),
                    self.cfg.mtu.to_string(),
                );
                n.options.insert(
                    "com.docker.network.bridge.host_binding_ipv4".into(),
                    self.cfg.ip.to_string(),
                );
                match self.cfg.bip {
                    Some(bip) => {
                        n.subnet = Some(bip.trunc());
                        n.gateway = Some(bip.addr());
                    }
                    None if n.subnet.is_none() || changed_dev => {
                        // An existing device keeps its subnet (as dockerd reuses docker0's).
                        if let Some(s) = self.ops.device_subnets(dev).first() {
                            n.subnet = Some(s.trunc());
                            n.gateway = Some(ipam::gateway_of(s.trunc()));
                            n.ip_range = self.cfg.fixed_cidr;
                            n.save(&self.dir)
                                .map_err(|e| format!("save network bridge: {e}"))?;
                            st.nets.insert(n.id.clone(), n);
                            return Ok(());
                        }
                        let taken = self.taken_subnets(&st, Some(&n.id));
                        let s = ipam::pick_subnet(&self.cfg.pools, &taken)
                            .map_err(|e| format!("default bridge: {e}"))?;
                        n.subnet = Some(s);
                        n.gateway = Some(ipam::gateway_of(s));
                    }
                    None => {}
                }
                n.ip_range = self.cfg.fixed_cidr;
                n.save(&self.dir)
                    .map_err(|e| format!("save network bridge: {e}"))?;
                st.nets.insert(n.id.clone(), n);
            }
        }
        Ok(())
    }

    /// Brings the kernel in line with the records after a start: bridges exist, the
    /// firewall is applied, proxies of running containers listen again (blocking;
    /// call inside the runtime). Containers whose shim is gone are torn down later by
    /// the container manager's restore.
    pub fn restore(&self) -> std::result::Result<(), String> {
        if self.cfg.ip_forward
            && let Err(e) = self.ops.enable_ip_forward()
        {
            tracing::warn!("{e}");
        }
        let nets: Vec<Network> = self.lock().nets.values().cloned().collect();
        // The default bridge is created with its first container, so a daemon that
        // never runs one leaves the host's links and rules untouched.
        let mut any = false;
        for n in nets.iter().filter(|n| n.is_bridge()) {
            let in_use = n.endpoints.values().any(|e| e.active.is_some());
            if n.is_default_bridge() && !in_use && !self.ops.link_exists(&n.bridge) {
                continue;
            }
            self.ensure_bridge(n).map_err(|e| e.message)?;
            any = true;
        }
        for n in &nets {
            for (cid, ep) in &n.endpoints {
                if let Some(a) = &ep.active {
                    self.open_ports(cid, a, true);
                    if self.embedded_dns
                        && n.is_bridge()
                        && !n.is_default_bridge()
                        && let Err(e) = self.dns.start(cid, &self.netns_path(cid), &a.upstreams)
                    {
                        tracing::warn!(container = %cid, "restart embedded dns: {e}");
                    }
                }
            }
        }
        if !any {
            return Ok(());
        }
        let mut st = self.lock();
        self.apply_firewall(&mut st).map_err(|e| e.message)
    }

    /// Creates a network's bridge if it is missing (idempotent).
    pub(crate) fn ensure_bridge(&self, n: &Network) -> Result<()> {
        let (Some(subnet), Some(gw)) = (n.subnet, n.gateway) else {
            return Err(Error::internal(format!("network {} has no subnet", n.name)));
        };
        let addr =
            Ipv4Net::new(gw, subnet.prefix_len()).map_err(|e| Error::internal(e.to_string()))?;
        self.ops
            .ensure_bridge(&n.bridge, addr, self.cfg.mtu)
            .map_err(|e| Error::internal(format!("network {}: {e}", n.name)))?;
        if !self.cfg.userland_proxy && self.cfg.iptables {
            // The kernel path must serve 127.0.0.1:PORT without the proxy.
            self.ops
                .enable_route_localnet(&n.bridge)
                .map_err(|e| Error::internal(format!("network {}: {e}", n.name)))?;
        }
        Ok(())
    }

    /// At a graceful shutdown: stop the proxies (the next daemon re-opens them). With
    /// the test option and no container running, also remove the bridges and the
    /// table; running containers keep theirs for live-restore (the test harness
    /// removes what is left when it ends).
    pub fn shutdown(&self) {
        self.proxies.stop_all();
        if !self.cfg.teardown_on_exit {
            return;
        }
        let st = self.lock();
        let running = st
            .nets
            .values()
            .any(|n| n.endpoints.values().any(|e| e.active.is_some()));
        if running {
            return;
        }
        for n in st.nets.values().filter(|n| n.is_bridge()) {
            let _ = self.ops.delete_link(&n.bridge);
        }
        if self.cfg.iptables {
            let _ = self
                .fw
                .apply(&berth_net::firewall::clear(&self.cfg.nft_table));
        }
    }

    fn new_record(&self, name: &str, driver: &str, predefined: bool) -> Network {
        Network {
            id: berth_stdx::random_id(),
            name: name.to_string(),
            driver: driver.to_string(),
            created: chrono::Utc::now(),
            internal: false,
            attachable: false,
            ipv6: false,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
            subnet: None,
            gateway: None,
            ip_range: None,
            bridge: String::new(),
            predefined,
            endpoints: BTreeMap::new(),
        }
    }

    /// Subnets a new network must not overlap: other networks' and the host's routes
    /// (except the routes of our own bridges).
    fn taken_subnets(&self, st: &State, except: Option<&str>) -> Vec<Ipv4Net> {
        let ours: Vec<Ipv4Net> = st
            .nets
            .values()
            .filter(|n| Some(n.id.as_str()) != except)
            .filter_map(|n| n.subnet)
            .collect();
        let own_bridge_subnets: Vec<Ipv4Net> = st.nets.values().filter_map(|n| n.subnet).collect();
        let mut taken = ours;
        taken.extend(
            self.ops
                .host_routes()
                .into_iter()
                .filter(|r| !own_bridge_subnets.contains(&r.trunc())),
        );
        taken
    }

    /// docker's lookup: full id, then exact name, then unique id prefix.
    pub(crate) fn resolve(st: &State, name: &str) -> Result<String> {
        if st.nets.contains_key(name) {
            return Ok(name.to_string());
        }
        if let Some(n) = st.nets.values().find(|n| n.name == name) {
            return Ok(n.id.clone());
        }
        let m: Vec<&String> = if name.is_empty() {
            Vec::new()
        } else {
            st.nets.keys().filter(|k| k.starts_with(name)).collect()
        };
        match m.len() {
            1 => Ok(m[0].clone()),
            0 => Err(Error::not_found(format!("network {name} not found"))),
            _ => Err(Error::invalid(format!(
                "network {name} is ambiguous ({} matches found based on ID prefix)",
                m.len()
            ))),
        }
    }

    pub fn get(&self, name: &str) -> Result<Network> {
        let st = self.lock();
        let id = Self::resolve(&st, name)?;
        Ok(st.nets[&id].clone())
    }

    pub fn list(&self) -> Vec<Network> {
        self.lock().nets.values().cloned().collect()
    }

    fn event(&self, n: &Network, action: &str, container: Option<&str>) {
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), n.name.clone());
        attrs.insert("type".to_string(), n.driver.clone());
        if let Some(c) = container {
            attrs.insert("container".to_string(), c.to_string());
        }
        self.events.publish("network", action, &n.id, attrs);
    }

    /// `POST /networks/create` (blocking): the record, its bridge, the firewall.
    pub fn create(&self, req: CreateRequest) -> Result<String> {
        if req.name.is_empty() {
            return Err(Error::invalid("network name is required"));
        }
        if !valid_name(&req.name) {
            return Err(Error::invalid(format!(
                "invalid network name \"{}\", only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                req.name
            )));
        }
        match req.driver.as_str() {
            "" | "bridge" => {}
            "host" | "null" => {
                return Err(forbidden(format!(
                    "only one instance of \"{}\" network is allowed",
                    req.driver
                )));
            }
            other => {
                return Err(Error::not_found(format!("plugin \"{other}\" not found")));
            }
        }
        let mut st = self.lock();
        if st.nets.values().any(|n| n.name == req.name) {
            return Err(Error::conflict(format!(
                "network with name {} already exists",
                req.name
            )));
        }
        let mut n = self.new_record(&req.name, "bridge", false);
        n.internal = req.internal;
        n.attachable = req.attachable;
        n.ipv6 = req.ipv6;
        n.labels = req.labels;
        n.options = req.options;
        n.bridge = match n.options.get(BRIDGE_NAME_OPT) {
            Some(b) => {
                if !config::valid_ifname(b) {
                    return Err(Error::invalid(format!("invalid bridge name: {b}")));
                }
                if st.nets.values().any(|o| o.bridge == *b) || self.ops.link_exists(b) {
                    return Err(forbidden(format!(
                        "bridge name {b} is already in use by another network or interface"
                    )));
                }
                b.clone()
            }
            None => format!("br-{}", &n.id[..12]),
        };
        let taken = self.taken_subnets(&st, None);
        let parse_net = |s: &str, what: &str| -> Result<Ipv4Net> {
            s.parse::<Ipv4Net>()
                .map_err(|_| Error::invalid(format!("invalid {what}: {s}")))
        };
        let subnet = match req.subnet.as_deref().filter(|s| !s.is_empty()) {
            Some(s) if s.contains(':') => {
                return Err(Error::invalid(format!(
                    "IPv6 subnets are not supported by this daemon: {s}"
                )));
            }
            Some(s) => {
                let net = parse_net(s, "subnet")?.trunc();
                ipam::check_subnet(net, &taken).map_err(ipam_err)?;
                net
            }
            None => ipam::pick_subnet(&self.cfg.pools, &taken).map_err(ipam_err)?,
        };
        let gateway = match req.gateway.as_deref().filter(|s| !s.is_empty()) {
            Some(g) => {
                let ip: Ipv4Addr = g
                    .parse()
                    .map_err(|_| Error::invalid(format!("invalid gateway address: {g}")))?;
                if !subnet.contains(&ip) || ip == subnet.network() || ip == subnet.broadcast() {
                    return Err(Error::invalid(format!(
                        "no matching subnet for gateway {g}"
                    )));
                }
                ip
            }
            None => ipam::gateway_of(subnet),
        };
        if let Some(r) = req.ip_range.as_deref().filter(|s| !s.is_empty()) {
            let r = parse_net(r, "ip-range")?.trunc();
            if !subnet.contains(&r) {
                return Err(Error::invalid(format!("no matching subnet for range {r}")));
            }
            n.ip_range = Some(r);
        }
        n.subnet = Some(subnet);
        n.gateway = Some(gateway);
        let addr = Ipv4Net::new(gateway, subnet.prefix_len())
            .map_err(|e| Error::invalid(e.to_string()))?;
        self.ops
            .ensure_bridge(&n.bridge, addr, self.cfg.mtu)
            .map_err(|e| Error::internal(format!("create bridge {}: {e}", n.bridge)))?;
        if let Err(e) = n.save(&self.dir) {
            let _ = self.ops.delete_link(&n.bridge);
            return Err(Error::internal(format!("save network {}: {e}", n.name)));
        }
        let id = n.id.clone();
        st.nets.insert(id.clone(), n.clone());
        if let Err(e) = self.apply_firewall(&mut st) {
            st.nets.remove(&id);
            n.remove_file(&self.dir);
            let _ = self.ops.delete_link(&n.bridge);
            return Err(e);
        }
        drop(st);
        self.event(&n, "create", None);
        Ok(id)
    }

    /// `DELETE /networks/{id}` (blocking).
    pub fn remove(&self, name: &str) -> Result<()> {
        let mut st = self.lock();
        let id = Self::resolve(&st, name)?;
        let n = st.nets[&id].clone();
        if n.predefined {
            return Err(forbidden(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )));
        }
        if n.endpoints.values().any(|e| e.active.is_some()) {
            return Err(forbidden(format!(
                "error while removing network: network {} id {} has active endpoints",
                n.name, n.id
            )));
        }
        st.nets.remove(&id);
        // Stopped containers may stay attached (as in docker): they fail to start later.
        if let Err(e) = self.apply_firewall(&mut st) {
            tracing::warn!("network {}: {}", n.name, e.message);
        }
        drop(st);
        if let Err(e) = self.ops.delete_link(&n.bridge) {
            tracing::warn!("network {}: {e}", n.name);
        }
        n.remove_file(&self.dir);
        self.event(&n, "destroy", None);
        Ok(())
    }

    /// `POST /networks/prune`: user networks without endpoints that `keep` spares not.
    pub fn prune(&self, keep: impl Fn(&Network) -> bool) -> Vec<String> {
        let candidates: Vec<Network> = self
            .lock()
            .nets
            .values()
            .filter(|n| !n.predefined && !n.endpoints.values().any(|e| e.active.is_some()))
            .filter(|n| !keep(n))
            .cloned()
            .collect();
        let mut out = Vec::new();
        for n in candidates {
            if self.remove(&n.id).is_ok() {
                out.push(n.name);
            }
        }
        out
    }

    /// The firewall as a value, from the records.
    fn ruleset(&self, st: &State) -> Ruleset {
        let mut r = Ruleset {
            table: self.cfg.nft_table.clone(),
            proxy_hairpin: self.cfg.userland_proxy,
            loopback_dnat: !self.cfg.userland_proxy,
            ..Default::default()
        };
        for n in st.nets.values().filter(|n| n.is_bridge()) {
            let Some(subnet) = n.subnet else { continue };
            let mut eps = Vec::new();
            for ep in n.endpoints.values() {
                let Some(a) = &ep.active else { continue };
                // A veth can vanish under us (its namespace died): a rule naming a
                // missing device would fail the whole batch.
                if let Some(mac) = parse_mac(&a.mac)
                    && self.ops.link_exists(&a.host_if)
                {
                    eps.push(FwEndpoint {
                        host_if: a.host_if.clone(),
                        mac,
                    });
                }
                for p in &a.ports {
                    r.ports.push(FwPort {
                        proto: p.proto,
                        host_ip: Some(p.host_ip),
                        host_port: p.host_port,
                        container_ip: a.ip,
                        container_port: p.container_port,
                    });
                }
            }
            let icc = !n.is_default_bridge() || self.cfg.icc;
            if !icc {
                r.links.extend(Self::links_of(n, &self.ops));
            }
            r.networks.push(FwNetwork {
                bridge: n.bridge.clone(),
                subnet,
                internal: n.internal,
                icc: !n.is_default_bridge() || self.cfg.icc,
                endpoints: eps,
            });
        }
        r
    }

    /// The embedded DNS server's names, from the records: on user-defined networks,
    /// each running container's name, aliases and short id.
    fn dns_table(st: &State) -> berth_net::dns::DnsTable {
        let mut t = berth_net::dns::DnsTable::default();
        for n in st
            .nets
            .values()
            .filter(|n| n.is_bridge() && !n.is_default_bridge())
        {
            for (cid, ep) in &n.endpoints {
                let Some(a) = &ep.active else { continue };
                let mut names = vec![ep.name.clone(), cid[..12.min(cid.len())].to_string()];
                names.extend(ep.aliases.iter().cloned());
                t.add(&n.id, cid, &names, a.ip);
                t.add_reverse(&n.id, a.ip, &ep.name, &n.name);
            }
        }
        t
    }

    /// The `--link`s between running containers of `n` (docker's legacy links).
    fn links_of(n: &Network, ops: &Arc<dyn NetOps>) -> Vec<berth_net::firewall::FwLink> {
        type Ep = (FwEndpoint, Ipv4Addr, Vec<(berth_net::firewall::Proto, u16)>);
        let ep_of = |e: &Endpoint| -> Option<Ep> {
            let a = e.active.as_ref()?;
            let mac = parse_mac(&a.mac)?;
            ops.link_exists(&a.host_if).then(|| {
                (
                    FwEndpoint {
                        host_if: a.host_if.clone(),
                        mac,
                    },
                    a.ip,
                    a.exposed.clone(),
                )
            })
        };
        let mut out = Vec::new();
        for e in n.endpoints.values() {
            let Some((from, from_ip, _)) = ep_of(e) else {
                continue;
            };
            for l in &e.links {
                let name = l.split(':').next().unwrap_or("").trim_start_matches('/');
                let Some((to, to_ip, ports)) = n
                    .endpoints
                    .values()
                    .find(|o| o.name == name)
                    .and_then(ep_of)
                else {
                    continue;
                };
                out.push(berth_net::firewall::FwLink {
                    from: from.clone(),
                    from_ip,
                    to,
                    to_ip,
                    ports,
                });
            }
        }
        out
    }

    /// Applies the ruleset if it changed (`iptables: false`: never touches nft).
    pub(crate) fn apply_firewall(&self, st: &mut State) -> Result<()> {
        self.dns.set_table(Self::dns_table(st));
        if !self.cfg.iptables {
            return Ok(());
        }
        // Nothing to filter until a bridge exists: a daemon that never networks a
        // container leaves the host's rules alone.
        if st.applied.is_none()
            && !st
                .nets
                .values()
                .any(|n| n.is_bridge() && self.ops.link_exists(&n.bridge))
        {
            return Ok(());
        }
        let batch = self.ruleset(st).render();
        if st.applied.as_deref() == Some(batch.as_str()) {
            return Ok(());
        }
        let batch = match self.fw.apply(&batch) {
            Ok(()) => batch,
            Err(e) => {
                // A veth that vanished between the check and the batch fails it:
                // recompute once without it.
                tracing::debug!("firewall batch failed, retrying: {e}");
                std::thread::sleep(std::time::Duration::from_millis(50));
                let again = self.ruleset(st).render();
                self.fw
                    .apply(&again)
                    .map_err(|e| Error::internal(e.to_string()))?;
                again
            }
        };
        st.applied = Some(batch);
        Ok(())
    }

    /// The gateway of the default bridge (`host-gateway` in `--add-host`).
    pub fn host_gateway(&self) -> Option<Ipv4Addr> {
        self.lock()
            .nets
            .values()
            .find(|n| n.is_default_bridge())
            .and_then(|n| n.gateway)
    }
}

#[cfg(test)]
mod tests;

//! Containers on networks: attachments recorded at create and by `network connect`,
//! the namespace, veths, addresses and published ports set up at start, and the
//! teardown at stop (which keeps going after an error: a half-gone container must not
//! keep its address, port or rules).

use std::net::{Ipv4Addr, SocketAddrV4};

use berth_net::firewall::Proto;
use berth_net::ipam::{Allocator, IpamError};
use berth_net::link::{EndpointSpec, format_mac, mac_for, parse_mac, random_veth_name};
use berth_net::ports::{PortError, ephemeral_range};
use ipnet::Ipv4Net;

use super::proxy::{self, Bound};
use super::store::{Active, Endpoint, Network, Published};
use super::{NetworkManager, State, forbidden, ipam_err};
use crate::error::{Error, Result};

/// What a container asks of one network (`NetworkingConfig.EndpointsConfig` or the
/// body of `network connect`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointRequest {
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
    pub mac: Option<String>,
    pub links: Vec<String>,
}

/// One published port as requested (`-p`, `-P`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRequest {
    pub proto: Proto,
    pub container_port: u16,
    pub host_ip: Option<Ipv4Addr>,
    pub host_range: Option<(u16, u16)>,
}

/// A started container's view of its networking (for /etc/hosts and resolv.conf).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerNet {
    /// The address on the primary network.
    pub ip: Option<Ipv4Addr>,
    pub gateway: Option<Ipv4Addr>,
    /// The primary network is user-defined (docker's embedded DNS applies).
    pub user_defined: bool,
}

/// docker's wording for a host port another process holds.
fn bind_failure(host_ip: Ipv4Addr, port: u16, cip: Ipv4Addr, p: &PortRequest, e: &str) -> String {
    let reason = e.split(" (os error").next().unwrap_or("").to_lowercase();
    format!(
        "failed to bind host port for {host_ip}:{port}:{cip}:{}/{}: {reason}",
        p.container_port,
        p.proto.as_str()
    )
}

fn is_default_name(mode: &str) -> bool {
    matches!(mode, "" | "default" | "bridge")
}

impl NetworkManager {
    fn resolve_mode(&self, st: &State, mode: &str) -> Result<String> {
        if is_default_name(mode) {
            return st
                .nets
                .values()
                .find(|n| n.is_default_bridge())
                .map(|n| n.id.clone())
                .ok_or_else(|| Error::not_found("network bridge not found"));
        }
        Self::resolve(st, mode)
    }

    fn check_request(n: &Network, req: &EndpointRequest) -> Result<()> {
        if let Some(ip) = req.ip {
            if n.is_default_bridge() {
                return Err(Error::invalid(
                    "user specified IP address is supported on user defined networks only",
                ));
            }
            let subnet = n.subnet.unwrap_or_default();
            if !subnet.contains(&ip) {
                return Err(Error::invalid(format!(
                    "no configured subnet or ip-range contain the IP address {ip}"
                )));
            }
        }
        if let Some(m) = &req.mac
            && parse_mac(m).is_none()
        {
            return Err(Error::invalid(format!("invalid MAC address: {m}")));
        }
        Ok(())
    }

    /// At container create: records the container on its network (`mode` is
    /// `HostConfig.NetworkMode`) and on any other network of `extra`.
    pub fn attach_on_create(
        &self,
        cid: &str,
        name: &str,
        mode: &str,
        primary: EndpointRequest,
        extra: Vec<(String, EndpointRequest)>,
    ) -> Result<()> {
        if mode == "host" || mode == "none" || mode.starts_with("container:") {
            return Ok(());
        }
        let mut st = self.lock();
        let mut todo = vec![(self.resolve_mode(&st, mode)?, primary)];
        for (net, req) in extra {
            let id = self.resolve_mode(&st, &net)?;
            if !todo.iter().any(|(t, _)| *t == id) {
                todo.push((id, req));
            }
        }
        for (id, req) in &todo {
            let n = &st.nets[id];
            if !n.is_bridge() {
                return Err(forbidden(format!(
                    "container cannot be connected to network {} of driver {}",
                    n.name, n.driver
                )));
            }
            Self::check_request(n, req)?;
        }
        for (id, req) in todo {
            let n = st.nets.get_mut(&id).expect("resolved");
            n.endpoints.insert(
                cid.to_string(),
                Endpoint {
                    name: name.trim_start_matches('/').to_string(),
                    aliases: req.aliases,
                    ip_request: req.ip,
                    mac_request: req.mac,
                    links: req.links,
                    active: None,
                },
            );
            self.save(n);
        }
        Ok(())
    }

    fn save(&self, n: &Network) {
        if let Err(e) = n.save(&self.dir) {
            tracing::error!(network = %n.name, "save network: {e}");
        }
    }

    /// The networks `cid` is attached to, the one named by `mode` first.
    fn container_net_ids(&self, st: &State, cid: &str, mode: &str) -> Vec<String> {
        let primary = self.resolve_mode(st, mode).ok();
        let mut ids: Vec<String> = st
            .nets
            .values()
            .filter(|n| n.endpoints.contains_key(cid))
            .map(|n| n.id.clone())
            .collect();
        ids.sort_by_key(|id| Some(id) != primary.as_ref());
        ids
    }

    /// Sets up a starting container's namespace, interfaces and published ports
    /// (blocking). On error everything done so far is undone.
    pub fn start_container(
        &self,
        cid: &str,
        name: &str,
        mode: &str,
        ports: &[PortRequest],
        upstreams: &[std::net::IpAddr],
        exposed: &[(Proto, u16)],
    ) -> Result<ContainerNet> {
        let mut st = self.lock();
        let mut ids = self.container_net_ids(&st, cid, mode);
        if ids.is_empty() {
            // A container created before it had an attachment record (or whose
            // record was lost): join the network its mode names.
            let id = self.resolve_mode(&st, mode)?;
            let n = st.nets.get_mut(&id).expect("resolved");
            n.endpoints.insert(
                cid.to_string(),
                Endpoint {
                    name: name.trim_start_matches('/').to_string(),
                    ..Default::default()
                },
            );
            ids.push(id);
        }
        let netns = self.netns_path(cid);
        let t0 = std::time::Instant::now();
        if let Err(e) = self.ops.create_netns(&netns) {
            return Err(Error::internal(format!(
                "failed to set up container networking: {e}"
            )));
        }
        let t1 = t0.elapsed();
        let res = self
            .start_locked(&mut st, cid, &ids, ports)
            .and_then(|view| {
                for id in &ids {
                    if let Some(a) = st
                        .nets
                        .get_mut(id)
                        .and_then(|n| n.endpoints.get_mut(cid))
                        .and_then(|e| e.active.as_mut())
                    {
                        a.upstreams = upstreams.to_vec();
                        a.exposed = exposed.to_vec();
                    }
                }
                let user = ids.iter().any(|id| !st.nets[id].is_default_bridge());
                if user && self.embedded_dns {
                    self.dns.start(cid, &netns, upstreams).map_err(|e| {
                        Error::internal(format!("failed to start the embedded DNS server: {e}"))
                    })?;
                }
                Ok(view)
            });
        tracing::debug!(container = %cid, netns = ?t1, total = ?t0.elapsed(), "network set up");
        match res {
            Ok(view) => {
                for id in &ids {
                    let n = st.nets[id].clone();
                    self.save(&n);
                    self.event(&n, "connect", Some(cid));
                }
                Ok(view)
            }
            Err(e) => {
                self.teardown_locked(&mut st, cid, false);
                Err(e)
            }
        }
    }

    fn start_locked(
        &self,
        st: &mut State,
        cid: &str,
        ids: &[String],
        ports: &[PortRequest],
    ) -> Result<ContainerNet> {
        let netns = self.netns_path(cid);
        let mut view = ContainerNet::default();
        for (i, id) in ids.iter().enumerate() {
            let active = self.activate(st, id, cid, &netns, &format!("eth{i}"), i == 0)?;
            if i == 0 {
                let n = &st.nets[id];
                view = ContainerNet {
                    ip: Some(active.ip),
                    gateway: n.gateway,
                    user_defined: !n.is_default_bridge(),
                };
            }
        }
        if let Some(primary) = ids.first() {
            self.publish(st, primary, cid, ports)?;
        }
        self.apply_firewall(st)?;
        Ok(view)
    }

    /// Allocates an address and creates one interface of a running container.
    fn activate(
        &self,
        st: &mut State,
        id: &str,
        cid: &str,
        netns: &std::path::Path,
        ifname: &str,
        default_route: bool,
    ) -> Result<Active> {
        if !self.ops.link_exists(&st.nets[id].bridge) {
            self.ensure_bridge(&st.nets[id])?;
        }
        let n = st.nets.get_mut(id).expect("resolved network");
        let (Some(subnet), Some(gw)) = (n.subnet, n.gateway) else {
            return Err(Error::internal(format!("network {} has no subnet", n.name)));
        };
        let mut alloc = Allocator::new(subnet, n.ip_range, gw);
        for (other, ep) in &n.endpoints {
            if other != cid
                && let Some(a) = &ep.active
            {
                let _ = alloc.reserve(a.ip);
            }
        }
        let ep = n.endpoints.get(cid).cloned().unwrap_or_default();
        let ip = match ep.ip_request {
            Some(ip) => {
                alloc.reserve(ip).map_err(|e| match e {
                    IpamError::InUse(_) => forbidden("Address already in use"),
                    e => ipam_err(e),
                })?;
                ip
            }
            None => alloc.allocate().map_err(ipam_err)?,
        };
        let mac = ep
            .mac_request
            .as_deref()
            .and_then(parse_mac)
            .unwrap_or_else(|| mac_for(ip));
        let spec = EndpointSpec {
            netns: netns.to_path_buf(),
            bridge: n.bridge.clone(),
            host_if: random_veth_name(),
            ifname: ifname.to_string(),
            mac,
            addr: Ipv4Net::new(ip, subnet.prefix_len())
                .map_err(|e| Error::internal(e.to_string()))?,
            gateway: (default_route && !n.internal).then_some(gw),
            mtu: self.cfg.mtu,
        };
        self.ops.add_endpoint(&spec).map_err(|e| {
            Error::internal(format!(
                "failed to set up container networking: network {}: {e}",
                n.name
            ))
        })?;
        let active = Active {
            endpoint_id: berth_stdx::random_id(),
            ip,
            mac: format_mac(&mac),
            host_if: spec.host_if,
            ifname: ifname.to_string(),
            ports: Vec::new(),
            upstreams: Vec::new(),
            exposed: Vec::new(),
        };
        if let Some(e) = n.endpoints.get_mut(cid) {
            e.active = Some(active.clone());
        }
        Ok(active)
    }

    /// Allocates host ports, binds them (reserving them, and serving them through the
    /// userland proxy) and records them on the container's primary endpoint.
    fn publish(&self, st: &mut State, id: &str, cid: &str, ports: &[PortRequest]) -> Result<()> {
        let eph = ephemeral_range();
        let (name, active) = {
            let ep = &st.nets[id].endpoints[cid];
            (ep.name.clone(), ep.active.clone().expect("activated above"))
        };
        let fail = |msg: String| {
            Error::internal(format!(
                "driver failed programming external connectivity on endpoint {name} ({}): {msg}",
                active.endpoint_id
            ))
        };
        let mut published = Vec::new();
        for p in ports {
            let host_ip = p.host_ip.unwrap_or(self.cfg.ip);
            let mut bound: Option<Bound> = None;
            let mut bind_err = None;
            let port =
                st.ports.allocate(
                    p.proto,
                    host_ip,
                    p.host_range,
                    eph,
                    |port| match proxy::bind(p.proto, host_ip, port) {
                        Ok(b) => {
                            bound = Some(b);
                            true
                        }
                        Err(e) => {
                            bind_err = Some(e);
                            false
                        }
                    },
                );
            let port = match port {
                Ok(port) => port,
                Err(PortError::Exhausted(a, _)) if bind_err.is_some() => {
                    self.release_published(st, &published);
                    self.proxies.stop(cid);
                    return Err(fail(bind_failure(
                        host_ip,
                        a,
                        active.ip,
                        p,
                        &bind_err.map(|e| e.to_string()).unwrap_or_default(),
                    )));
                }
                Err(e) => {
                    self.release_published(st, &published);
                    self.proxies.stop(cid);
                    return Err(fail(e.to_string()));
                }
            };
            // A single requested port is not probed by `allocate`: bind it now.
            let bound = match bound {
                Some(b) => b,
                None => match proxy::bind_released(p.proto, host_ip, port) {
                    Ok(b) => b,
                    Err(e) => {
                        st.ports.release(p.proto, host_ip, port);
                        self.release_published(st, &published);
                        self.proxies.stop(cid);
                        return Err(fail(bind_failure(
                            host_ip,
                            port,
                            active.ip,
                            p,
                            &e.to_string(),
                        )));
                    }
                },
            };
            self.proxies.start(
                cid,
                bound,
                SocketAddrV4::new(active.ip, p.container_port),
                self.cfg.userland_proxy,
            );
            published.push(Published {
                proto: p.proto,
                host_ip,
                host_port: port,
                container_port: p.container_port,
            });
        }
        if let Some(a) = st
            .nets
            .get_mut(id)
            .and_then(|n| n.endpoints.get_mut(cid))
            .and_then(|e| e.active.as_mut())
        {
            a.ports = published;
        }
        Ok(())
    }

    fn release_published(&self, st: &mut State, ps: &[Published]) {
        for p in ps {
            st.ports.release(p.proto, p.host_ip, p.host_port);
        }
    }

    /// Re-opens the proxies of a running container after a daemon restart.
    pub(crate) fn open_ports(&self, cid: &str, a: &Active, _restore: bool) {
        for p in &a.ports {
            match proxy::bind(p.proto, p.host_ip, p.host_port) {
                Ok(b) => self.proxies.start(
                    cid,
                    b,
                    SocketAddrV4::new(a.ip, p.container_port),
                    self.cfg.userland_proxy,
                ),
                Err(e) => tracing::warn!(
                    container = %cid,
                    "reopen published port {}:{}: {e}",
                    p.host_ip,
                    p.host_port
                ),
            }
        }
    }

    /// Removes a container's interfaces, ports and namespace (blocking). Keeps going
    /// after errors.
    pub fn stop_container(&self, cid: &str) {
        let mut st = self.lock();
        self.teardown_locked(&mut st, cid, true);
    }

    fn teardown_locked(&self, st: &mut State, cid: &str, events: bool) {
        let t0 = std::time::Instant::now();
        self.proxies.stop(cid);
        self.dns.stop(cid);
        let mut touched = Vec::new();
        let mut freed = Vec::new();
        let mut links = Vec::new();
        for n in st.nets.values_mut() {
            let Some(ep) = n.endpoints.get_mut(cid) else {
                continue;
            };
            let Some(a) = ep.active.take() else { continue };
            freed.extend(a.ports.iter().copied());
            links.push(a.host_if);
            touched.push(n.clone());
        }
        self.release_published(st, &freed);
        let netns = self.netns_path(cid);
        if let Err(e) = self.ops.delete_netns(&netns) {
            tracing::warn!(container = %cid, "{e}");
        }
        // Deleting a veth waits for the kernel (tens of ms); with the namespace gone
        // it is going anyway, so the daemon does not wait unless told to.
        let ops = self.ops.clone();
        let delete = move || {
            for l in links {
                if let Err(e) = ops.delete_link(&l) {
                    tracing::warn!("{e}");
                }
            }
        };
        if self.background_link_delete {
            std::thread::spawn(delete);
        } else {
            delete();
        }
        for n in &touched {
            self.save(n);
            if events {
                self.event(n, "disconnect", Some(cid));
            }
        }
        if let Err(e) = self.apply_firewall(st) {
            tracing::warn!(container = %cid, "{}", e.message);
        }
        tracing::debug!(container = %cid, took = ?t0.elapsed(), "network torn down");
    }

    /// On container removal: forget its attachments.
    pub fn forget_container(&self, cid: &str) {
        let mut st = self.lock();
        self.teardown_locked(&mut st, cid, false);
        let changed: Vec<Network> = st
            .nets
            .values_mut()
            .filter_map(|n| n.endpoints.remove(cid).map(|_| n.clone()))
            .collect();
        for n in &changed {
            self.save(n);
        }
    }

    /// Keeps endpoint names in step with `rename`.
    pub fn rename_container(&self, cid: &str, new_name: &str) {
        let mut st = self.lock();
        let changed: Vec<Network> = st
            .nets
            .values_mut()
            .filter_map(|n| {
                let ep = n.endpoints.get_mut(cid)?;
                ep.name = new_name.trim_start_matches('/').to_string();
                Some(n.clone())
            })
            .collect();
        for n in &changed {
            self.save(n);
        }
    }

    /// `POST /networks/{id}/connect`. `running` is the container's state; a running
    /// container gets its new interface at once.
    pub fn connect(
        &self,
        net: &str,
        cid: &str,
        name: &str,
        req: EndpointRequest,
        running: bool,
    ) -> Result<()> {
        let mut st = self.lock();
        let id = Self::resolve(&st, net)?;
        let n = &st.nets[&id];
        if !n.is_bridge() {
            return Err(forbidden(
                "container cannot be disconnected from host network or connected to host network",
            ));
        }
        let bare = name.trim_start_matches('/');
        if n.endpoints.contains_key(cid) {
            return Err(forbidden(format!(
                "endpoint with name {bare} already exists in network {}",
                n.name
            )));
        }
        Self::check_request(n, &req)?;
        let nname = n.name.clone();
        st.nets.get_mut(&id).expect("resolved").endpoints.insert(
            cid.to_string(),
            Endpoint {
                name: bare.to_string(),
                aliases: req.aliases,
                ip_request: req.ip,
                mac_request: req.mac,
                links: req.links,
                active: None,
            },
        );
        if running {
            let count = st
                .nets
                .values()
                .filter(|n| n.endpoints.get(cid).is_some_and(|e| e.active.is_some()))
                .count();
            let netns = self.netns_path(cid);
            let upstreams: Vec<std::net::IpAddr> = st
                .nets
                .values()
                .filter_map(|n| n.endpoints.get(cid)?.active.as_ref())
                .flat_map(|a| a.upstreams.clone())
                .collect();
            let user = self.embedded_dns && !st.nets[&id].is_default_bridge();
            let res = self
                .activate(
                    &mut st,
                    &id,
                    cid,
                    &netns,
                    &format!("eth{count}"),
                    count == 0,
                )
                .and_then(|_| self.apply_firewall(&mut st))
                .and_then(|_| {
                    if user {
                        self.dns.start(cid, &netns, &upstreams).map_err(|e| {
                            Error::internal(format!("failed to start the embedded DNS server: {e}"))
                        })?;
                    }
                    Ok(())
                });
            if let Err(e) = res {
                let n = st.nets.get_mut(&id).expect("resolved");
                if let Some(a) = n.endpoints.remove(cid).and_then(|e| e.active) {
                    let _ = self.ops.delete_link(&a.host_if);
                }
                return Err(e);
            }
        }
        let n = st.nets[&id].clone();
        self.save(&n);
        drop(st);
        tracing::debug!(network = %nname, container = %cid, "connected");
        self.event(&n, "connect", Some(cid));
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`.
    pub fn disconnect(&self, net: &str, cid: &str, name: &str) -> Result<()> {
        let mut st = self.lock();
        let id = Self::resolve(&st, net)?;
        let n = st.nets.get_mut(&id).expect("resolved");
        let Some(ep) = n.endpoints.remove(cid) else {
            return Err(forbidden(format!(
                "container {} is not connected to network {}",
                name.trim_start_matches('/'),
                n.name
            )));
        };
        if let Some(a) = ep.active {
            if let Err(e) = self.ops.delete_link(&a.host_if) {
                tracing::warn!(container = %cid, "{e}");
            }
            for p in &a.ports {
                st.ports.release(p.proto, p.host_ip, p.host_port);
            }
        }
        let n = st.nets[&id].clone();
        self.save(&n);
        if let Err(e) = self.apply_firewall(&mut st) {
            tracing::warn!("{}", e.message);
        }
        drop(st);
        self.event(&n, "disconnect", Some(cid));
        Ok(())
    }

    /// The networks of a container with its endpoint on each (for inspect and ps).
    pub fn container_networks(&self, cid: &str) -> Vec<(Network, Endpoint)> {
        let st = self.lock();
        st.nets
            .values()
            .filter_map(|n| {
                let ep = n.endpoints.get(cid)?.clone();
                let mut n = n.clone();
                n.endpoints.clear();
                Some((n, ep))
            })
            .collect()
    }
}

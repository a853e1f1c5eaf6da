//! Links, addresses, routes and network namespaces: the kernel side of a bridge
//! network, behind [`NetOps`] so the daemon's logic runs against [`FakeNet`] in tests.
//!
//! The real implementation speaks rtnetlink. A netlink socket is bound to the network
//! namespace it was created in, so every operation runs on a short-lived thread of its
//! own (which may `setns` without disturbing the daemon's workers) with a small
//! current-thread runtime for rtnetlink's futures.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures_util::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NetError(pub String);

fn err(what: impl std::fmt::Display) -> impl FnOnce(rtnetlink::Error) -> NetError {
    move |e| NetError(format!("{what}: {}", netlink_reason(&e)))
}

fn netlink_reason(e: &rtnetlink::Error) -> String {
    match e {
        rtnetlink::Error::NetlinkError(m) => match m.code {
            Some(c) => std::io::Error::from_raw_os_error(-c.get()).to_string(),
            None => e.to_string(),
        },
        other => other.to_string(),
    }
}

/// One container interface: a veth whose host end joins `bridge` and whose other end
/// is `ifname` inside the namespace at `netns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSpec {
    pub netns: PathBuf,
    pub bridge: String,
    pub host_if: String,
    pub ifname: String,
    pub mac: [u8; 6],
    pub addr: Ipv4Net,
    /// The default route's gateway (only the container's first network sets one).
    pub gateway: Option<Ipv4Addr>,
    pub mtu: u32,
}

/// The kernel operations bridge networking needs. Every call is blocking.
pub trait NetOps: Send + Sync {
    /// Creates the bridge if absent, gives it `addr` (gateway/prefix) and brings it up.
    fn ensure_bridge(&self, name: &str, addr: Ipv4Net, mtu: u32) -> Result<(), NetError>;
    /// Deletes a link; a link that is already gone is not an error.
    fn delete_link(&self, name: &str) -> Result<(), NetError>;
    /// A new network namespace with `lo` up, bind-mounted at `path` so it outlives
    /// its processes (and the daemon).
    fn create_netns(&self, path: &Path) -> Result<(), NetError>;
    /// Unmounts and removes a namespace file; an absent one is not an error.
    fn delete_netns(&self, path: &Path) -> Result<(), NetError>;
    /// Creates the veth pair of `ep`, addresses it and routes the namespace's side.
    /// Nothing is left behind on failure.
    fn add_endpoint(&self, ep: &EndpointSpec) -> Result<(), NetError>;
    /// Whether a link of that name exists in the host namespace.
    fn link_exists(&self, name: &str) -> bool;
    /// Every IPv4 subnet the host routes (subnets for new networks must avoid them).
    fn host_routes(&self) -> Vec<Ipv4Net>;
    /// The subnets routed through device `dev` (an existing bridge's own subnet).
    fn device_subnets(&self, dev: &str) -> Vec<Ipv4Net>;
    /// `net.ipv4.ip_forward=1`.
    fn enable_ip_forward(&self) -> Result<(), NetError>;
    /// `net.ipv4.conf.<dev>.route_localnet=1` (loopback DNAT without the proxy).
    fn enable_route_localnet(&self, dev: &str) -> Result<(), NetError>;
}

/// The real kernel, over rtnetlink.
#[derive(Debug, Default, Clone, Copy)]
pub struct Kernel;

/// Runs `f` on a fresh thread (free to change its network namespace).
fn on_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NetError> + Send + 'static,
) -> Result<T, NetError> {
    std::thread::Builder::new()
        .name("berth-netlink".into())
        .spawn(f)
        .map_err(|e| NetError(format!("start netlink thread: {e}")))?
        .join()
        .map_err(|_| NetError("netlink thread panicked".into()))?
}

/// A netlink connection in the calling thread's current namespace, driven by a
/// current-thread runtime until `f` finishes.
fn with_handle<T>(f: impl AsyncFnOnce(Handle) -> Result<T, NetError>) -> Result<T, NetError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(|e| NetError(format!("netlink runtime: {e}")))?;
    rt.block_on(async move {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetError(format!("open netlink: {e}")))?;
        let task = tokio::spawn(conn);
        let out = f(handle).await;
        task.abort();
        out
    })
}

fn join_netns(f: &File) -> Result<(), NetError> {
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| NetError(format!("enter network namespace: {e}")))
}

async fn index_of(h: &Handle, name: &str) -> Result<Option<u32>, NetError> {
    let mut s = h.link().get().match_name(name.to_string()).execute();
    match s.try_next().await {
        Ok(Some(m)) => Ok(Some(m.header.index)),
        Ok(None) => Ok(None),
        Err(rtnetlink::Error::NetlinkError(m))
            if m.code.map(|c| c.get()) == Some(-libc_enodev()) =>
        {
            Ok(None)
        }
        Err(e) => Err(err(format!("look up link {name}"))(e)),
    }
}

const fn libc_enodev() -> i32 {
    19
}

async fn up(h: &Handle, index: u32, what: &str) -> Result<(), NetError> {
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(err(format!("set {what} up")))
}

impl NetOps for Kernel {
    fn ensure_bridge(&self, name: &str, addr: Ipv4Net, mtu: u32) -> Result<(), NetError> {
        let name = name.to_string();
        on_thread(move || {
            with_handle(async |h| {
                let idx = match index_of(&h, &name).await? {
                    Some(i) => i,
                    None => {
                        h.link()
                            .add(LinkBridge::new(&name).mtu(mtu).build())
                            .execute()
                            .await
                            .map_err(err(format!("create bridge {name}")))?;
                        index_of(&h, &name)
                            .await?
                            .ok_or_else(|| NetError(format!("bridge {name} vanished")))?
                    }
                };
                h.address()
                    .add(idx, IpAddr::V4(addr.addr()), addr.prefix_len())
                    .replace()
                    .execute()
                    .await
                    .map_err(err(format!("add address {addr} to {name}")))?;
                up(&h, idx, &name).await
            })
        })
    }

    fn delete_link(&self, name: &str) -> Result<(), NetError> {
        let name = name.to_string();
        on_thread(move || {
            with_handle(async |h| match index_of(&h, &name).await? {
                None => Ok(()),
                Some(i) => match h.link().del(i).execute().await {
                    Err(rtnetlink::Error::NetlinkError(m))
                        if m.code.map(|c| c.get()) == Some(-libc_enodev()) =>
                    {
                        Ok(())
                    }
                    r => r.map_err(err(format!("delete link {name}"))),
                },
            })
        })
    }

    fn create_netns(&self, path: &Path) -> Result<(), NetError> {
        let path = path.to_path_buf();
        on_thread(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| NetError(format!("create {}: {e}", dir.display())))?;
            }
            // A file left by an earlier run (daemon killed mid-teardown) is replaced.
            let _ = nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH);
            File::create(&path).map_err(|e| NetError(format!("create {}: {e}", path.display())))?;
            let made = (|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| NetError(format!("new network namespace: {e}")))?;
                nix::mount::mount(
                    Some("/proc/thread-self/ns/net"),
                    &path,
                    None::<&str>,
                    nix::mount::MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| {
                    NetError(format!("bind network namespace to {}: {e}", path.display()))
                })?;
                with_handle(async |h| up(&h, 1, "lo").await)
            })();
            if made.is_err() {
                let _ = nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH);
                let _ = std::fs::remove_file(&path);
            }
            made
        })
    }

    fn delete_netns(&self, path: &Path) -> Result<(), NetError> {
        match nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(NetError(format!("unmount {}: {e}", path.display()))),
        }
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(NetError(format!("remove {}: {e}", path.display())))
            }
            _ => Ok(()),
        }
    }

    fn add_endpoint(&self, ep: &EndpointSpec) -> Result<(), NetError> {
        let host_if = ep.host_if.clone();
        let ep = ep.clone();
        on_thread(move || {
            let ns = File::open(&ep.netns)
                .map_err(|e| NetError(format!("open {}: {e}", ep.netns.display())))?;
            let host = with_handle(async |h| {
                let br = index_of(&h, &ep.bridge)
                    .await?
                    .ok_or_else(|| NetError(format!("bridge {} not found", ep.bridge)))?;
                // One message creates both ends, the peer already in the namespace
                // under its final name, so no temporary name can collide.
                let peer = LinkMessageBuilder::<LinkUnspec>::new()
                    .name(ep.ifname.clone())
                    .address(ep.mac.to_vec())
                    .mtu(ep.mtu)
                    .setns_by_fd(ns.as_raw_fd())
                    .build();
                let msg = LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
                    .name(ep.host_if.clone())
                    .mtu(ep.mtu)
                    .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
                    .build();
                h.link()
                    .add(msg)
                    .execute()
                    .await
                    .map_err(err(format!("create veth {}", ep.host_if)))?;
                let idx = index_of(&h, &ep.host_if)
                    .await?
                    .ok_or_else(|| NetError(format!("veth {} vanished", ep.host_if)))?;
                h.link()
                    .set(LinkUnspec::new_with_index(idx).controller(br).up().build())
                    .execute()
                    .await
                    .map_err(err(format!("attach {} to {}", ep.host_if, ep.bridge)))
            });
            host.and_then(|()| {
                join_netns(&ns)?;
                with_handle(async |h| {
                    let idx = index_of(&h, &ep.ifname)
                        .await?
                        .ok_or_else(|| NetError(format!("{} missing in namespace", ep.ifname)))?;
                    h.address()
                        .add(idx, IpAddr::V4(ep.addr.addr()), ep.addr.prefix_len())
                        .execute()
                        .await
                        .map_err(err(format!("add address {} to {}", ep.addr, ep.ifname)))?;
                    up(&h, idx, &ep.ifname).await?;
                    if let Some(gw) = ep.gateway {
                        let route = RouteMessageBuilder::<Ipv4Addr>::new()
                            .gateway(gw)
                            .output_interface(idx)
                            .build();
                        h.route()
                            .add(route)
                            .execute()
                            .await
                            .map_err(err(format!("add default route via {gw}")))?;
                    }
                    Ok(())
                })
            })
        })
        .inspect_err(|_| {
            // Deleting the host end removes its peer too.
            let _ = self.delete_link(&host_if);
        })
    }

    fn link_exists(&self, name: &str) -> bool {
        !name.contains('/') && Path::new("/sys/class/net").join(name).exists()
    }

    fn host_routes(&self) -> Vec<Ipv4Net> {
        crate::ipam::routes_from_proc(
            &std::fs::read_to_string("/proc/net/route").unwrap_or_default(),
        )
    }

    fn device_subnets(&self, dev: &str) -> Vec<Ipv4Net> {
        let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        let mine: String = text
            .lines()
            .enumerate()
            .filter(|(i, l)| *i == 0 || l.split_whitespace().next() == Some(dev))
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        crate::ipam::routes_from_proc(&mine)
    }

    fn enable_ip_forward(&self) -> Result<(), NetError> {
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
            .map_err(|e| NetError(format!("enable ip forwarding: {e}")))
    }

    fn enable_route_localnet(&self, dev: &str) -> Result<(), NetError> {
        // `dev` is a validated interface name (no `/`): the path stays under conf/.
        if dev.contains('/') || dev.starts_with('.') {
            return Err(NetError(format!("invalid device name {dev}")));
        }
        std::fs::write(format!("/proc/sys/net/ipv4/conf/{dev}/route_localnet"), "1")
            .map_err(|e| NetError(format!("enable route_localnet on {dev}: {e}")))
    }
}

/// A random locally administered MAC for an address (docker's `02:42` prefix and the
/// IPv4 address, so it is unique within a network).
pub fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

pub fn format_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| {
            (p.len() == 2)
                .then(|| u8::from_str_radix(p, 16).ok())
                .flatten()
        })
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// A host-side veth name: `veth` and 7 random hex digits, as docker names them.
pub fn random_veth_name() -> String {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    format!("veth{:07x}", u32::from_le_bytes(b) & 0x0fff_ffff)
}

/// A recording [`NetOps`] for tests: tracks bridges, namespaces and endpoints, and
/// fails any operation whose description contains `fail_on`.
#[derive(Debug, Default)]
pub struct FakeNet {
    pub state: Mutex<FakeState>,
}

#[derive(Debug, Default, Clone)]
pub struct FakeState {
    pub log: Vec<String>,
    pub bridges: Vec<String>,
    pub netns: Vec<PathBuf>,
    pub veths: Vec<String>,
    pub routes: Vec<Ipv4Net>,
    pub fail_on: Option<String>,
}

impl FakeNet {
    fn op(&self, what: String) -> Result<std::sync::MutexGuard<'_, FakeState>, NetError> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.fail_on
            .as_ref()
            .is_some_and(|f| what.contains(f.as_str()))
        {
            return Err(NetError(format!("injected failure: {what}")));
        }
        s.log.push(what);
        Ok(s)
    }
    pub fn snapshot(&self) -> FakeState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl NetOps for FakeNet {
    fn ensure_bridge(&self, name: &str, addr: Ipv4Net, _mtu: u32) -> Result<(), NetError> {
        let mut s = self.op(format!("bridge {name} {addr}"))?;
        if !s.bridges.iter().any(|b| b == name) {
            s.bridges.push(name.to_string());
        }
        Ok(())
    }
    fn delete_link(&self, name: &str) -> Result<(), NetError> {
        let mut s = self.op(format!("del {name}"))?;
        s.bridges.retain(|b| b != name);
        s.veths.retain(|b| b != name);
        Ok(())
    }
    fn create_netns(&self, path: &Path) -> Result<(), NetError> {
        let mut s = self.op(format!("netns {}", path.display()))?;
        s.netns.push(path.to_path_buf());
        Ok(())
    }
    fn delete_netns(&self, path: &Path) -> Result<(), NetError> {
        let mut s = self.op(format!("delns {}", path.display()))?;
        s.netns.retain(|p| p != path);
        Ok(())
    }
    fn add_endpoint(&self, ep: &EndpointSpec) -> Result<(), NetError> {
        let mut s = self.op(format!("veth {} {} {}", ep.host_if, ep.bridge, ep.addr))?;
        if !s.bridges.contains(&ep.bridge) {
            return Err(NetError(format!("bridge {} not found", ep.bridge)));
        }
        s.veths.push(ep.host_if.clone());
        Ok(())
    }
    fn link_exists(&self, name: &str) -> bool {
        let s = self.snapshot();
        s.bridges.iter().chain(&s.veths).any(|b| b == name)
    }
    fn host_routes(&self) -> Vec<Ipv4Net> {
        self.snapshot().routes
    }
    fn device_subnets(&self, _dev: &str) -> Vec<Ipv4Net> {
        Vec::new()
    }
    fn enable_route_localnet(&self, dev: &str) -> Result<(), NetError> {
        self.op(format!("route_localnet {dev}")).map(|_| ())
    }
    fn enable_ip_forward(&self) -> Result<(), NetError> {
        self.op("ip_forward".into()).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_round_trip_and_reject_garbage() {
        let m = mac_for("172.18.0.2".parse().unwrap());
        assert_eq!(format_mac(&m), "02:42:ac:12:00:02");
        assert_eq!(parse_mac("02:42:ac:12:00:02"), Some(m));
        for bad in [
            "",
            "02:42",
            "zz:42:ac:12:00:02",
            "02:42:ac:12:00:02:03",
            "2:42:ac:12:0:2",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }

    #[test]
    fn veth_names_fit_ifnamsiz() {
        let n = random_veth_name();
        assert!(n.len() <= 15 && n.starts_with("veth"), "{n}");
    }

    #[test]
    fn fake_injects_failures_and_tracks_links() {
        let f = FakeNet::default();
        f.ensure_bridge("b0", "10.1.0.1/24".parse().unwrap(), 1500)
            .unwrap();
        f.state.lock().unwrap().fail_on = Some("veth".into());
        let ep = EndpointSpec {
            netns: "/x".into(),
            bridge: "b0".into(),
            host_if: "veth1".into(),
            ifname: "eth0".into(),
            mac: [2, 0, 0, 0, 0, 1],
            addr: "10.1.0.2/24".parse().unwrap(),
            gateway: None,
            mtu: 1500,
        };
        assert!(f.add_endpoint(&ep).is_err());
        assert!(f.link_exists("b0") && !f.link_exists("veth1"));
    }
}

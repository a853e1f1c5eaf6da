//! The embedded DNS server of user-defined networks: for each running container on
//! one, a UDP and a TCP socket on 127.0.0.11:53 inside the container's namespace
//! (created by a thread that entered it, then served by tokio tasks of the daemon).
//! Names come from the shared [`DnsTable`]; everything else is relayed to the
//! upstream resolvers from the host's namespace (so a host resolver on 127.0.0.53
//! works).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use berth_net::dns::{self, DnsTable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Default)]
pub struct Dns {
    table: Arc<RwLock<DnsTable>>,
    servers: Mutex<HashMap<String, Vec<JoinHandle<()>>>>,
}

/// Binds 127.0.0.11:53 (udp and tcp) inside the namespace at `netns`.
fn bind_in(netns: &Path) -> std::io::Result<(std::net::UdpSocket, std::net::TcpListener)> {
    let netns = netns.to_path_buf();
    std::thread::spawn(move || {
        let f = std::fs::File::open(&netns)?;
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(std::io::Error::from)?;
        let addr = SocketAddr::from(([127, 0, 0, 11], 53));
        let u = std::net::UdpSocket::bind(addr)?;
        u.set_nonblocking(true)?;
        let t = std::net::TcpListener::bind(addr)?;
        t.set_nonblocking(true)?;
        Ok((u, t))
    })
    .join()
    .map_err(|_| std::io::Error::other("dns bind thread panicked"))?
}

impl Dns {
    pub fn set_table(&self, t: DnsTable) {
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = t;
    }

    pub fn is_serving(&self, cid: &str) -> bool {
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(cid)
    }

    /// Starts the server for `cid` (inside a tokio runtime; a blocking-pool thread is
    /// fine). A second call for the same container does nothing.
    pub fn start(&self, cid: &str, netns: &Path, upstreams: &[IpAddr]) -> std::io::Result<()> {
        if self.is_serving(cid) {
            return Ok(());
        }
        let rt = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
        let (u, t) = bind_in(netns)?;
        let _g = rt.enter();
        let u = Arc::new(tokio::net::UdpSocket::from_std(u)?);
        let t = tokio::net::TcpListener::from_std(t)?;
        let ctx = Arc::new(Ctx {
            cid: cid.to_string(),
            table: self.table.clone(),
            upstreams: upstreams
                .iter()
                .map(|ip| SocketAddr::new(*ip, 53))
                .collect(),
        });
        let tasks = vec![
            rt.spawn(serve_udp(u, ctx.clone())),
            rt.spawn(serve_tcp(t, ctx)),
        ];
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(cid.to_string(), tasks);
        Ok(())
    }

    pub fn stop(&self, cid: &str) {
        let tasks = self
            .servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(cid);
        for t in tasks.into_iter().flatten() {
            t.abort();
        }
    }
}

struct Ctx {
    cid: String,
    table: Arc<RwLock<DnsTable>>,
    upstreams: Vec<SocketAddr>,
}

impl Ctx {
    /// Our own answer to `query`, if the name (or reverse address) is ours.
    fn own(&self, query: &[u8], q: &dns::Question) -> Option<Vec<u8>> {
        let t = self.table.read().unwrap_or_else(|e| e.into_inner());
        if q.qtype == dns::TYPE_PTR {
            let ip = dns::reverse_ip(&q.name)?;
            return dns::answer_ptr(query, q, t.lookup_reverse(&self.cid, ip)?);
        }
        let ips = t.lookup(&self.cid, &q.name);
        (!ips.is_empty()).then(|| dns::answer(query, q, &ips))
    }

    /// The response to one query: ours, an upstream's, or SERVFAIL. A query that
    /// came over TCP is relayed over TCP (as docker does), so answers too large for
    /// UDP (which upstreams send truncated, TC set, to UDP clients) come back whole.
    async fn respond(&self, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let q = dns::parse_query(query)?;
        if let Some(r) = self.own(query, &q) {
            return Some(r);
        }
        for up in &self.upstreams {
            let r = if tcp {
                relay_tcp(query, *up).await
            } else {
                relay(query, *up).await
            };
            if let Some(r) = r {
                return Some(r);
            }
        }
        Some(dns::error(query, &q, dns::RCODE_SERVFAIL))
    }
}

/// One query to one upstream over UDP, from the host's namespace.
async fn relay(query: &[u8], up: SocketAddr) -> Option<Vec<u8>> {
    let bind: SocketAddr = if up.is_ipv4() {
        "0.0.0.0:0".parse().ok()?
    } else {
        "[::]:0".parse().ok()?
    };
    let s = tokio::net::UdpSocket::bind(bind).await.ok()?;
    s.connect(up).await.ok()?;
    s.send(query).await.ok()?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(UPSTREAM_TIMEOUT, s.recv(&mut buf))
        .await
        .ok()?
        .ok()?;
    buf.truncate(n);
    (buf.get(0..2) == query.get(0..2)).then_some(buf)
}

/// One query to one upstream over TCP (2-byte length prefix), from the host's namespace.
async fn relay_tcp(query: &[u8], up: SocketAddr) -> Option<Vec<u8>> {
    let io = async {
        let mut s = tokio::net::TcpStream::connect(up).await.ok()?;
        let mut out = u16::try_from(query.len()).ok()?.to_be_bytes().to_vec();
        out.extend_from_slice(query);
        s.write_all(&out).await.ok()?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.ok()?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).await.ok()?;
        Some(buf)
    };
    let buf = tokio::time::timeout(UPSTREAM_TIMEOUT, io).await.ok()??;
    (buf.get(0..2) == query.get(0..2)).then_some(buf)
}

async fn serve_udp(sock: Arc<tokio::net::UdpSocket>, ctx: Arc<Ctx>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..n].to_vec();
        let (sock, ctx) = (sock.clone(), ctx.clone());
        tokio::spawn(async move {
            if let (Some(r), Some(q)) = (ctx.respond(&query, false).await, dns::parse_query(&query))
            {
                let r = dns::fit_udp(r, &q, dns::udp_limit(&query, &q));
                let _ = sock.send_to(&r, from).await;
            }
        });
    }
}

async fn serve_tcp(l: tokio::net::TcpListener, ctx: Arc<Ctx>) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            loop {
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut q).await.is_err() {
                    return;
                }
                let Some(r) = ctx.respond(&q, true).await else {
                    return;
                };
                let mut out = (r.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(&r);
                if s.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn own_names_answer_and_others_are_relayed_to_a_fake_upstream() {
        // A fake upstream on loopback that answers everything with 192.0.2.7.
        let up = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let up_addr = up.local_addr().unwrap();
        tokio::spawn(async move {
            let mut b = vec![0u8; 512];
            loop {
                let (n, from) = up.recv_from(&mut b).await.unwrap();
                let q = dns::parse_query(&b[..n]).unwrap();
                let r = dns::answer(&b[..n], &q, &["192.0.2.7".parse().unwrap()]);
                up.send_to(&r, from).await.unwrap();
            }
        });
        let mut t = DnsTable::default();
        t.add("n1", "c1", &["web".into()], "10.1.0.2".parse().unwrap());
        let ctx = Ctx {
            cid: "c1".into(),
            table: Arc::new(RwLock::new(t)),
            upstreams: vec![up_addr],
        };
        let r = ctx
            .respond(&dns::build_query(1, "web", dns::TYPE_A), false)
            .await
            .unwrap();
        assert_eq!(
            dns::parse_answers(&r),
            Some((0, vec!["10.1.0.2".parse().unwrap()]))
        );
        let r = ctx
            .respond(&dns::build_query(2, "upstream.example", dns::TYPE_A), false)
            .await
            .unwrap();
        assert_eq!(
            dns::parse_answers(&r),
            Some((0, vec!["192.0.2.7".parse().unwrap()]))
        );
        // No upstream answering: SERVFAIL, not a hang.
        let dead = Ctx {
            upstreams: vec![],
            ..ctx
        };
        let r = dead
            .respond(&dns::build_query(3, "x.example", dns::TYPE_A), false)
            .await
            .unwrap();
        assert_eq!(dns::parse_answers(&r).unwrap().0, dns::RCODE_SERVFAIL);
    }

    #[tokio::test]
    async fn ptr_is_answered_and_tcp_queries_are_relayed_over_tcp() {
        // A fake TCP-only upstream on loopback answering 192.0.2.9.
        let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up_addr = up.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = up.accept().await {
                let mut len = [0u8; 2];
                s.read_exact(&mut len).await.unwrap();
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                s.read_exact(&mut q).await.unwrap();
                let p = dns::parse_query(&q).unwrap();
                let r = dns::answer(&q, &p, &["192.0.2.9".parse().unwrap()]);
                let mut out = (r.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(&r);
                s.write_all(&out).await.unwrap();
            }
        });
        let mut t = DnsTable::default();
        let ip = "10.1.0.2".parse().unwrap();
        t.add("n1", "c1", &["web".into()], ip);
        t.add_reverse("n1", ip, "web", "mynet");
        let ctx = Ctx {
            cid: "c1".into(),
            table: Arc::new(RwLock::new(t)),
            upstreams: vec![up_addr],
        };
        let r = ctx
            .respond(
                &dns::build_query(1, "2.0.1.10.in-addr.arpa", dns::TYPE_PTR),
                true,
            )
            .await
            .unwrap();
        assert_eq!(dns::parse_ptr_answers(&r), Some(vec!["web.mynet.".into()]));
        let r = ctx
            .respond(&dns::build_query(2, "big.example", dns::TYPE_A), true)
            .await
            .unwrap();
        assert_eq!(
            dns::parse_answers(&r),
            Some((0, vec!["192.0.2.9".parse().unwrap()]))
        );
    }
}

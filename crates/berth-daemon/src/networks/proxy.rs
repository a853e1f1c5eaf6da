//! The userland proxy (docker-proxy's job, inside the daemon): one small tokio task
//! per published port relaying TCP connections or UDP datagrams from the host port to
//! the container. It makes published ports reachable on 127.0.0.1, which the kernel's
//! DNAT path cannot serve. The listening socket is bound even without the proxy: it
//! reserves the host port so no other process can take it.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_net::firewall::Proto;
use tokio::task::JoinHandle;

/// Idle UDP flows are forgotten after this long (docker-proxy uses 90 s).
const UDP_IDLE: Duration = Duration::from_secs(90);

/// A bound host port, before it is served.
pub enum Bound {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

/// Binds the host side of a published port (non-blocking, ready for tokio).
pub fn bind(proto: Proto, ip: Ipv4Addr, port: u16) -> std::io::Result<Bound> {
    let addr = SocketAddr::V4(SocketAddrV4::new(ip, port));
    Ok(match proto {
        Proto::Tcp => {
            let l = std::net::TcpListener::bind(addr)?;
            l.set_nonblocking(true)?;
            Bound::Tcp(l)
        }
        Proto::Udp => {
            let s = std::net::UdpSocket::bind(addr)?;
            s.set_nonblocking(true)?;
            Bound::Udp(s)
        }
    })
}

/// [`bind`] for a port berth itself may have released a moment ago: the relay of a
/// removed container closes its socket asynchronously, so "in use" is retried for a
/// short while (`docker rm -f a && docker run -p 8080:80 b` must work).
pub fn bind_released(proto: Proto, ip: Ipv4Addr, port: u16) -> std::io::Result<Bound> {
    let mut tries = 0;
    loop {
        match bind(proto, ip, port) {
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tries < 40 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(25));
            }
            r => return r,
        }
    }
}

/// The running relays, by container id. Dropping an entry's handles ends them.
#[derive(Default)]
pub struct Proxies {
    tasks: Mutex<HashMap<String, Vec<JoinHandle<()>>>>,
}

impl Proxies {
    /// Serves `bound` for container `cid`, relaying to `target`. With `relay` false
    /// the socket is only held (the port stays reserved). Must run inside a tokio
    /// runtime (a blocking-pool thread is fine).
    pub fn start(&self, cid: &str, bound: Bound, target: SocketAddrV4, relay: bool) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no runtime for the userland proxy of {cid}");
            return;
        };
        let _guard = rt.enter();
        let task = match bound {
            Bound::Tcp(l) => match tokio::net::TcpListener::from_std(l) {
                Ok(l) => rt.spawn(serve_tcp(l, target, relay)),
                Err(e) => {
                    tracing::warn!("userland proxy for {target}: {e}");
                    return;
                }
            },
            Bound::Udp(s) => match tokio::net::UdpSocket::from_std(s) {
                Ok(s) => rt.spawn(serve_udp(Arc::new(s), target, relay)),
                Err(e) => {
                    tracing::warn!("userland proxy for {target}: {e}");
                    return;
                }
            },
        };
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(cid.to_string())
            .or_default()
            .push(task);
    }

    /// Stops every relay of `cid` (closing its host ports).
    pub fn stop(&self, cid: &str) {
        let tasks = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(cid);
        for t in tasks.into_iter().flatten() {
            t.abort();
        }
    }

    pub fn stop_all(&self) {
        let all: Vec<String> = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for cid in all {
            self.stop(&cid);
        }
    }
}

async fn serve_tcp(l: tokio::net::TcpListener, target: SocketAddrV4, relay: bool) {
    if !relay {
        // Hold the socket; connections wait in the backlog and are never served,
        // as with dockerd's `userland-proxy: false` port reservation.
        std::future::pending::<()>().await;
    }
    loop {
        let Ok((mut inbound, _)) = l.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(async move {
            let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}

async fn serve_udp(sock: Arc<tokio::net::UdpSocket>, target: SocketAddrV4, relay: bool) {
    if !relay {
        std::future::pending::<()>().await;
    }
    // One connected upstream socket per client address, so replies find their way back.
    let flows: Arc<Mutex<HashMap<SocketAddr, Arc<tokio::net::UdpSocket>>>> = Default::default();
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, client)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let existing = flows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&client)
            .cloned();
        let up = match existing {
            Some(u) => u,
            None => {
                let Ok(u) = tokio::net::UdpSocket::bind("0.0.0.0:0").await else {
                    continue;
                };
                if u.connect(target).await.is_err() {
                    continue;
                }
                let u = Arc::new(u);
                flows
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(client, u.clone());
                let (down, up2, flows2) = (sock.clone(), u.clone(), flows.clone());
                tokio::spawn(async move {
                    let mut b = vec![0u8; 65535];
                    while let Ok(Ok(n)) = tokio::time::timeout(UDP_IDLE, up2.recv(&mut b)).await {
                        let _ = down.send_to(&b[..n], client).await;
                    }
                    flows2
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&client);
                });
                u
            }
        };
        let _ = up.send(&buf[..n]).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tcp_and_udp_relay_to_the_target_and_stop_closes_the_port() {
        // A "container" echo server on loopback.
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let SocketAddr::V4(target) = echo.local_addr().unwrap() else {
            unreachable!()
        };
        tokio::spawn(async move {
            let (mut s, _) = echo.accept().await.unwrap();
            let mut b = [0u8; 5];
            s.read_exact(&mut b).await.unwrap();
            s.write_all(&b).await.unwrap();
        });
        let uecho = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let SocketAddr::V4(utarget) = uecho.local_addr().unwrap() else {
            unreachable!()
        };
        tokio::spawn(async move {
            let mut b = [0u8; 16];
            let (n, from) = uecho.recv_from(&mut b).await.unwrap();
            uecho.send_to(&b[..n], from).await.unwrap();
        });

        let p = Proxies::default();
        let lo = Ipv4Addr::LOCALHOST;
        let Bound::Tcp(l) = bind(Proto::Tcp, lo, 0).unwrap() else {
            unreachable!()
        };
        let port = l.local_addr().unwrap().port();
        p.start("c1", Bound::Tcp(l), target, true);
        let Bound::Udp(u) = bind(Proto::Udp, lo, 0).unwrap() else {
            unreachable!()
        };
        let uport = u.local_addr().unwrap().port();
        p.start("c1", Bound::Udp(u), utarget, true);

        let mut c = tokio::net::TcpStream::connect((lo, port)).await.unwrap();
        c.write_all(b"hello").await.unwrap();
        let mut b = [0u8; 5];
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"hello");

        let uc = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        uc.send_to(b"ping", (lo, uport)).await.unwrap();
        let mut ub = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), uc.recv(&mut ub))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&ub[..n], b"ping");

        p.stop("c1");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(tokio::net::TcpStream::connect((lo, port)).await.is_err());
    }
}

//! Helpers shared by the network test files: a daemon with busybox whose containers
//! are removed on drop, HTTP over loopback, leftover checks, a fake DNS upstream.
#![allow(dead_code)]

use super::common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub struct Env {
    pub d: TestDaemon,
}

impl Env {
    pub fn new() -> Env {
        let d = daemon();
        import_busybox(&d, "busybox");
        Env { d }
    }
    pub fn docker(&self, args: &[&str]) -> Cmd {
        self.d.docker(args).timeout(Duration::from_secs(60))
    }
    pub fn inspect(&self, what: &str, fmt: &str) -> String {
        self.docker(&["inspect", "-f", fmt, what])
            .ok()
            .out()
            .trim()
            .to_string()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let ids = self.d.docker(["ps", "-aq"]).run().lines();
        if !ids.is_empty() {
            self.d.docker(["rm", "-f"]).args(ids).run();
        }
    }
}

/// An HTTP GET to 127.0.0.1:port; the body, or an error.
pub fn http_get(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(5),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

/// Retries `http_get` while the server in the container starts.
pub fn http_get_eventually(port: u16) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        match http_get(port) {
            Ok(b) if !b.is_empty() => return b,
            Ok(_) => last = "empty body".into(),
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("GET 127.0.0.1:{port}: {last}");
}

pub const HTTPD: &str =
    "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www";

/// What a daemon's networking leaves behind once teardown settles (veths are deleted
/// in the background): veths on its bridge, namespaces, DNAT rules.
pub fn leftovers(d: &TestDaemon) -> Vec<String> {
    let mut last = Vec::new();
    for _ in 0..30 {
        last = leftovers_now(d);
        if last.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

pub fn leftovers_now(d: &TestDaemon) -> Vec<String> {
    let mut out = Vec::new();
    let links = std::process::Command::new("ip")
        .args(["-o", "link", "show", "master", &d.net().bridge])
        .output()
        .expect("run ip");
    for l in String::from_utf8_lossy(&links.stdout).lines() {
        out.push(format!("link: {l}"));
    }
    if let Ok(rd) = std::fs::read_dir(d.exec_root().join("netns")) {
        for e in rd.flatten() {
            out.push(format!("netns: {}", e.path().display()));
        }
    }
    let nft = std::process::Command::new("nft")
        .args(["list", "table", "inet", &d.net().table])
        .output()
        .expect("run nft");
    for l in String::from_utf8_lossy(&nft.stdout).lines() {
        if l.contains("dnat ip to") {
            out.push(format!("rule: {}", l.trim()));
        }
    }
    out
}

/// A fake upstream resolver on a loopback address of its own (port 53): A questions
/// get 192.0.2.7, anything else an empty answer. Returns its address.
pub fn fake_upstream() -> String {
    let mut sock = None;
    for _ in 0..50 {
        let b = std::fs::read("/proc/sys/kernel/random/uuid").unwrap_or_default();
        let (y, z) = (b[0] % 200 + 20, b[1] % 200 + 20);
        if let Ok(s) = std::net::UdpSocket::bind(format!("127.213.{y}.{z}:53")) {
            sock = Some(s);
            break;
        }
    }
    let sock = sock.expect("bind a fake upstream on 127.213.x.y:53");
    let addr = sock.local_addr().unwrap().ip().to_string();
    std::thread::spawn(move || {
        let mut b = [0u8; 512];
        while let Ok((n, from)) = sock.recv_from(&mut b) {
            let q = &b[..n];
            let mut i = 12;
            while i < n && q[i] != 0 {
                i += 1 + q[i] as usize;
            }
            let end = i + 5;
            if end > n {
                continue;
            }
            let is_a = q[i + 1] == 0 && q[i + 2] == 1;
            let mut r = q[..2].to_vec();
            r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, is_a as u8, 0, 0, 0, 0]);
            r.extend_from_slice(&q[12..end]);
            if is_a {
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
            }
            let _ = sock.send_to(&r, from);
        }
    });
    addr
}

/// Starts `srv` (alias `api`, `sleep 300`) on the existing network `dnsnet`; returns
/// its address there.
pub fn start_dns_server(e: &Env) -> String {
    e.docker(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "dnsnet",
        "--network-alias",
        "api",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    e.inspect("srv", "{{.NetworkSettings.Networks.dnsnet.IPAddress}}")
}

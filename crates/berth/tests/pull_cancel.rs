//! A pull whose client goes away is cancelled, as docker does: the real docker CLI
//! pulls a 32 MiB layer from `berth registry serve` through a throttling proxy on
//! 127.0.0.1 (so the pull is still running when the client is killed); the daemon
//! drops the download (the proxy sees the connection cut before the layer was
//! sent), no image is left, and a later pull succeeds from scratch.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const LAYER: usize = 32 << 20;

/// What the proxy saw: bytes sent to the daemon, and whether the daemon cut a
/// connection while the registry still had data for it.
#[derive(Default)]
struct Seen {
    sent: AtomicU64,
    cut: AtomicBool,
}

/// A proxy on 127.0.0.1 forwarding to `upstream`, registry→daemon at about 1 MB/s.
fn slow_proxy(upstream: String) -> (String, Arc<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen = Arc::new(Seen::default());
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut client) = c else { return };
            let Ok(mut server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let (mut c2, mut s3) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut s3);
                let _ = s3.shutdown(std::net::Shutdown::Write);
            });
            let seen = s2.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 16 << 10];
                loop {
                    let n = match server.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if client.write_all(&buf[..n]).is_err() {
                        seen.cut.store(true, Ordering::SeqCst);
                        break;
                    }
                    seen.sent.fetch_add(n as u64, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(15));
                }
                let _ = client.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    (addr, seen)
}

/// An image with one incompressible 32 MiB layer, pushed to `reg` as `big/img:v1`
/// and removed locally.
fn push_big_image(d: &TestDaemon, reg: &TestRegistry) {
    let dir = d.scratch().join("big");
    std::fs::create_dir_all(dir.join("root")).unwrap();
    let mut data = vec![0u8; LAYER];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut data)
        .unwrap();
    std::fs::write(dir.join("root/blob"), &data).unwrap();
    let tar = dir.join("big.tar");
    Cmd::new("tar")
        .arg("-C")
        .arg(dir.join("root"))
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .ok();
    let img = format!("{}/big/img:v1", reg.host);
    d.docker(["import"]).arg(&tar).arg(&img).ok();
    d.docker(["push", &img])
        .timeout(Duration::from_secs(300))
        .ok();
    d.docker(["rmi", &img]).ok();
}

/// Files in an `ingest` directory and `.tmp-` snapshots under `root`.
fn partial_files(root: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") || dir.file_name().is_some_and(|n| n == "ingest") {
                out.push(p.display().to_string());
            } else if e.file_type().is_ok_and(|t| t.is_dir()) && !name.starts_with("sha256") {
                todo.push(p);
            }
        }
    }
    out
}

#[test]
fn killing_the_pull_client_cancels_the_download() {
    let reg = TestRegistry::start(env!("CARGO_BIN_EXE_berth"), &[]);
    let d = daemon();
    push_big_image(&d, &reg);
    let (proxy, seen) = slow_proxy(reg.host.clone());
    let img = format!("{proxy}/big/img:v1");

    let mut client = std::process::Command::new("/usr/local/bin/docker")
        .args(["pull", &img])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start docker pull");
    // Mid-way through the layer (at ~1 MB/s it needs about half a minute).
    for _ in 0..600 {
        if seen.sent.load(Ordering::SeqCst) > 2 << 20 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        seen.sent.load(Ordering::SeqCst) > 2 << 20,
        "the pull started"
    );
    client.kill().unwrap();
    client.wait().unwrap();

    // The daemon drops the download: the proxy's writes to it fail.
    for _ in 0..400 {
        if seen.cut.load(Ordering::SeqCst) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        seen.cut.load(Ordering::SeqCst),
        "the daemon kept downloading after its client went away"
    );
    assert!(
        seen.sent.load(Ordering::SeqCst) < LAYER as u64,
        "cut before the whole layer was sent"
    );
    let log = d.log();
    assert!(
        log.contains("client disconnected: operation cancelled"),
        "{log}"
    );
    // No partial image and no partial download or unpack left in the data root.
    let mut partial = Vec::new();
    for _ in 0..100 {
        partial = partial_files(&d.data_root());
        if partial.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(partial, Vec::<String>::new());
    // A later pull (straight from the registry) completes.
    let images = d
        .docker(["images", "--format", "{{.Repository}}"])
        .ok()
        .out();
    assert!(!images.contains("big/img"), "{images}");
    let direct = format!("{}/big/img:v1", reg.host);
    let out = d
        .docker(["pull", &direct])
        .timeout(Duration::from_secs(300))
        .ok()
        .out();
    assert!(
        out.contains(&format!("Status: Downloaded newer image for {direct}\n")),
        "{out}"
    );
    // Its single layer is whole.
    let size = d
        .docker(["image", "inspect", "-f", "{{.Size}}", &direct])
        .ok()
        .out();
    assert!(
        size.trim().parse::<u64>().unwrap() >= LAYER as u64,
        "{size}"
    );
}

#[test]
fn a_pull_through_a_refusing_proxy_uses_docker_wording() {
    // Test daemons send registry traffic for non-loopback hosts to a proxy on
    // 127.0.0.1:9 that refuses: docker (Go) says `proxyconnect`.
    let d = daemon();
    d.docker(["pull", "registry.example/team/app:1"])
        .run()
        .assert_code(1)
        .assert_stderr_contains(
            "Error response from daemon: Get \"https://registry.example/v2/\": proxyconnect tcp: dial tcp 127.0.0.1:9: connect: connection refused\n",
        );
}

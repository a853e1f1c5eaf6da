//! The user's notes run their private registry as a container:
//! `docker run -d -p 5000:5000 --restart=always -v /opt/data/registry:/var/lib/registry
//! --name registry registry`, then tag, push and pull through 127.0.0.1:5000. Without
//! Docker Hub the `registry` image comes from `scripts/registry-image.sh` (berth's own
//! `registry serve` in an image); the rest is the notes' commands verbatim.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scripts/registry-image.sh"
);

/// Polls `GET /v2/` on `addr` until the registry answers 200.
fn wait_for_registry(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = TcpStream::connect(addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let req = format!("GET /v2/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            let mut resp = String::new();
            if s.write_all(req.as_bytes()).is_ok()
                && s.read_to_string(&mut resp).is_ok()
                && resp.starts_with("HTTP/1.1 200")
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "registry in the container never answered on {addr}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn private_registry_runs_in_a_container_with_a_published_port() {
    let d = daemon();
    import_busybox(&d, "busybox:latest");
    let out = Cmd::new("bash")
        .arg(SCRIPT)
        .arg("registry")
        .env("BERTH_BIN", env!("CARGO_BIN_EXE_berth"))
        .env("CLI", DOCKER_CLI)
        .env("DOCKER_HOST", d.host())
        .timeout(Duration::from_secs(300))
        .ok();
    assert!(out.out().trim().starts_with("sha256:"), "{}", out.out());

    let data = d.scratch().join("registry-data");
    let volume = format!("{}:/var/lib/registry", data.display());
    d.docker([
        "run",
        "-d",
        "-p",
        "127.0.0.1::5000",
        "--restart=always",
        "-v",
        &volume,
        "--name",
        "registry",
        "registry",
    ])
    .ok();
    let addr = d.docker(["port", "registry", "5000"]).ok().out();
    let addr = addr.trim().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "port printed {addr:?}");
    wait_for_registry(&addr);

    let img = format!("{addr}/ubuntu:latest");
    d.docker(["tag", "busybox:latest", &img]).ok();
    let pushed = d.docker(["push", &img]).ok().out();
    assert!(pushed.contains("latest: digest: sha256:"), "{pushed}");
    d.docker(["image", "rm", &img]).ok();
    let pulled = d.docker(["pull", &img]).ok().out();
    assert!(
        pulled.contains(&format!("Status: Downloaded newer image for {img}")),
        "{pulled}"
    );
    let hi = d.docker(["run", "--rm", &img, "echo", "hi"]).ok().out();
    assert_eq!(hi, "hi\n");

    // The registry's storage is the host directory the notes bind-mount.
    let blobs = data.join("content/blobs/sha256");
    let n = std::fs::read_dir(&blobs)
        .unwrap_or_else(|e| panic!("{}: {e}", blobs.display()))
        .count();
    assert!(
        n >= 3,
        "expected config, layer and manifest blobs, found {n}"
    );
    d.docker(["rm", "-f", "registry"]).ok();
}

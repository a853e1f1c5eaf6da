//! Helpers for notes.rs: a registry mirror standing in for Docker Hub, a pseudo-terminal
//! for `-it`, shell pipelines with the real docker CLI, and small output parsers.
#![allow(dead_code)]

use super::common::*;
use super::support::http_get_eventually;
use serde_json::Value;
use std::time::Duration;

pub fn registry(extra: &[&str]) -> TestRegistry {
    TestRegistry::start(env!("CARGO_BIN_EXE_berth"), extra)
}

/// A daemon whose docker.io pulls go to `mirror`.
pub fn daemon_with_mirror(mirror: &TestRegistry) -> TestDaemon {
    let config =
        serde_json::json!({"registry-mirrors": [format!("http://{}", mirror.host)]}).to_string();
    TestDaemon::start_with_config(env!("CARGO_BIN_EXE_berth"), Some(&config))
}

/// Push busybox to `mirror` as the Hub's `library/<name>`, leaving nothing local.
pub fn seed_mirror(d: &TestDaemon, mirror: &TestRegistry, name: &str) {
    let img = format!("{}/library/{name}", mirror.host);
    import_busybox(d, &img);
    d.docker(["push", &img]).ok();
    d.docker(["rmi", &img]).ok();
}

/// `cmd` (a shell line running the docker CLI) under a pseudo-terminal fed `input`.
pub fn tty(d: &TestDaemon, cmd: &str, input: &str) -> Output {
    Cmd::new("script")
        .args(["-qfec", cmd, "/dev/null"])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .env("TZ", "UTC")
        .stdin(input)
        .timeout(Duration::from_secs(60))
        .run()
}

/// A shell pipeline with `docker` meaning the real CLI against `d`.
pub fn sh(d: &TestDaemon, line: &str) -> Output {
    Cmd::new("sh")
        .args([
            "-c",
            &format!("docker() {{ {DOCKER_CLI} \"$@\"; }}; {line}"),
        ])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .env("TZ", "UTC")
        .current_dir(d.scratch())
        .timeout(Duration::from_secs(120))
        .run()
}

pub fn inspect(d: &TestDaemon, what: &str) -> Value {
    let v: Value = serde_json::from_str(&d.docker(["inspect", what]).ok().out()).unwrap();
    v[0].clone()
}

pub fn header(out: &str) -> Vec<String> {
    columns(out.lines().next().unwrap_or_default())
}

/// Repo:tag list of `docker image ls <args>`.
pub fn image_names(d: &TestDaemon, args: &[&str]) -> Vec<String> {
    let mut v = d
        .docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
        .args(args)
        .ok()
        .lines();
    v.sort();
    v
}

pub fn pause() {
    // Image filters since/before compare creation times.
    std::thread::sleep(Duration::from_millis(1100));
}

pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn state(d: &TestDaemon, c: &str) -> String {
    d.docker(["inspect", "-f", "{{.State.Status}}", c])
        .ok()
        .out()
        .trim()
        .to_string()
}

/// A plain HTTP GET on loopback (the notes' `curl`); the body.
pub fn curl(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// busybox as `training/webapp` (which EXPOSEs 5000).
pub fn import_webapp(d: &TestDaemon) {
    let tar = busybox_rootfs_tar(&d.scratch());
    d.docker([
        "import",
        "--change",
        r#"CMD ["sh"]"#,
        "--change",
        "EXPOSE 5000",
    ])
    .arg(&tar)
    .arg("training/webapp")
    .ok();
}

/// `python app.py` → busybox httpd on 5000 serving `dir`.
pub fn app_py(dir: &str) -> String {
    format!(
        "mkdir -p {dir} && echo hello-{dir} > {dir}/index.html && exec httpd -f -p 5000 -h {dir}"
    )
}

pub fn host_port(d: &TestDaemon, c: &str) -> String {
    let out = d.docker(["port", c, "5000"]).ok().out();
    out.lines().next().unwrap_or_default().to_string()
}

pub fn get_eventually(addr: &str) -> String {
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    http_get_eventually(port)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

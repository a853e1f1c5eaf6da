//! Helpers for the remote-context tests: local git repositories (made with the git
//! binary, no user or system config) and a static http server on 127.0.0.1 that
//! serves a directory, which is all git's "dumb" http protocol needs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Runs git in `dir` with no config but the repository's own; panics on failure.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run git (install the git package)");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A working repository (branch `master`).
pub struct Repo(pub PathBuf);

impl Repo {
    pub fn init(dir: &Path) -> Repo {
        std::fs::create_dir_all(dir).unwrap();
        git_in(dir, &["init", "-q", "-b", "master"]);
        Repo(dir.to_path_buf())
    }
    pub fn git(&self, args: &[&str]) -> String {
        git_in(&self.0, args)
    }
    pub fn write(&self, path: &str, body: &str) {
        let p = self.0.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    pub fn symlink(&self, target: &str, path: &str) {
        std::os::unix::fs::symlink(target, self.0.join(path)).unwrap();
    }
    pub fn commit(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", msg]);
    }
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }
    /// A bare copy at `root/name` with the files dumb http clients read.
    pub fn publish(&self, root: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(root).unwrap();
        let bare = root.join(name);
        git_in(
            root,
            &[
                "clone",
                "-q",
                "--bare",
                "--",
                self.0.to_str().unwrap(),
                name,
            ],
        );
        git_in(&bare, &["update-server-info"]);
        root.to_path_buf()
    }
}

/// Serves the files under a directory on 127.0.0.1 (GET and HEAD; the query string
/// is ignored, as a dumb git server must); stops on drop.
pub struct GitServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GitServer {
    pub fn start(root: &Path) -> GitServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let root = root.to_path_buf();
        let thread = std::thread::spawn(move || {
            for conn in l.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let root = root.clone();
                std::thread::spawn(move || {
                    let _ = serve_one(conn, &root);
                });
            }
        });
        GitServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

fn serve_one(conn: TcpStream, root: &Path) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut r = BufReader::new(conn.try_clone()?);
    let mut first = String::new();
    r.read_line(&mut first)?;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let path = path.split('?').next().unwrap_or("");
    let rel = Path::new(path.trim_start_matches('/'));
    let safe = rel.components().all(|c| matches!(c, Component::Normal(_)));
    let mut c = conn;
    match std::fs::read(root.join(rel)).ok().filter(|_| safe) {
        Some(body) => {
            write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            if method != "HEAD" {
                c.write_all(&body)?;
            }
        }
        None => {
            write!(
                c,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?;
        }
    }
    c.flush()
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP/1.1 request to a registry on 127.0.0.1; (status, headers, body).
pub fn http(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> berth_testkit::HttpResponse {
    use std::io::Read;
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    berth_testkit::http::parse_response(&raw, method == "HEAD").unwrap()
}

fn sha256(data: &[u8]) -> String {
    berth_stdx::Digest::sha256_of(data).to_string()
}

/// Uploads `data` as a blob of `repo`; returns its digest.
pub fn put_blob(host: &str, repo: &str, data: &[u8]) -> String {
    let digest = sha256(data);
    let r = http(
        host,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let loc = r.header("Location").expect("upload location").to_string();
    let loc = loc
        .strip_prefix(&format!("http://{host}"))
        .unwrap_or(&loc)
        .to_string();
    let sep = if loc.contains('?') { '&' } else { '?' };
    let r = http(
        host,
        "PUT",
        &format!("{loc}{sep}digest={digest}"),
        &[("Content-Type", "application/octet-stream")],
        data,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    digest
}

const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Pushes an index `repo:tag` of the image already at `repo:src_tag` (as linux/amd64)
/// and a copy of it whose config says linux/arm64 and carries the label
/// `plat=arm64` (same layers). Returns the arm64 manifest's digest.
pub fn push_two_platform_index(host: &str, repo: &str, src_tag: &str, tag: &str) -> String {
    let r = http(
        host,
        "GET",
        &format!("/v2/{repo}/manifests/{src_tag}"),
        &[("Accept", MANIFEST_V2)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let amd_manifest = r.body.clone();
    let mut m: serde_json::Value = serde_json::from_slice(&amd_manifest).unwrap();
    let cfg_digest = m["config"]["digest"].as_str().unwrap().to_string();
    let r = http(
        host,
        "GET",
        &format!("/v2/{repo}/blobs/{cfg_digest}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    let mut cfg: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    cfg["architecture"] = "arm64".into();
    cfg["config"]["Labels"] = serde_json::json!({"plat": "arm64"});
    let cfg = serde_json::to_vec(&cfg).unwrap();
    let arm_cfg = put_blob(host, repo, &cfg);
    m["config"]["digest"] = arm_cfg.into();
    m["config"]["size"] = cfg.len().into();
    let arm_manifest = serde_json::to_vec(&m).unwrap();
    let arm_digest = sha256(&arm_manifest);
    let r = http(
        host,
        "PUT",
        &format!("/v2/{repo}/manifests/{arm_digest}"),
        &[("Content-Type", MANIFEST_V2)],
        &arm_manifest,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": MANIFEST_V2, "digest": sha256(&amd_manifest), "size": amd_manifest.len(),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": MANIFEST_V2, "digest": arm_digest, "size": arm_manifest.len(),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        ],
    });
    let index = serde_json::to_vec(&index).unwrap();
    let r = http(
        host,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
        &index,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    arm_digest
}

/// `git daemon` (git's smart protocol, `git://`) serving the bare repositories under
/// a directory on 127.0.0.1; killed on drop, and every connection bounded by its
/// own timeouts.
pub struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl GitDaemon {
    pub fn start(base: &Path) -> GitDaemon {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // `git-daemon` itself, not the `git` wrapper, so that killing it on drop
        // leaves no daemon behind.
        let exec_path = git_in(base, &["--exec-path"]);
        let child = Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg("--timeout=60")
            .arg("--init-timeout=10")
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start git daemon");
        let d = GitDaemon { child, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "git daemon did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }

    pub fn url(&self, path: &str) -> String {
        format!("git://127.0.0.1:{}{}", self.port, path)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

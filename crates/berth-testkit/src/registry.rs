//! A real `berth registry serve` process on 127.0.0.1:<free port>, with optional
//! htpasswd users (bcrypt) and TLS from a freshly generated CA. Killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// TLS material written by [`make_tls`]: a CA, and a server certificate it signed for
/// `127.0.0.1` and `localhost`.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Generates a CA and a server certificate signed by it into `dir`.
pub fn make_tls(dir: &Path) -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    std::fs::create_dir_all(dir).expect("create tls dir");
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "berth test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("server params");
    let cert = params.signed_by(&key, &issuer).expect("server cert");
    let files = TlsFiles {
        ca: dir.join("ca.crt"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    };
    std::fs::write(&files.ca, ca_cert.pem()).expect("write ca");
    std::fs::write(&files.cert, cert.pem()).expect("write cert");
    std::fs::write(&files.key, key.serialize_pem()).expect("write key");
    files
}

/// An htpasswd file with bcrypt entries (as `htpasswd -Bbn` writes them).
pub fn write_htpasswd(path: &Path, users: &[(&str, &str)]) {
    let mut s = String::new();
    for (u, p) in users {
        // Cost 5 keeps tests fast; the server accepts any bcrypt cost.
        let h = bcrypt::hash(p, 5).expect("bcrypt");
        s.push_str(&format!("{u}:{h}\n"));
    }
    std::fs::write(path, s).expect("write htpasswd");
}

pub struct TestRegistry {
    child: Child,
    bin: PathBuf,
    extra: Vec<String>,
    /// `127.0.0.1:<port>`.
    pub host: String,
    /// `http://…` or `https://…`.
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestRegistry {
    /// Starts `<bin> registry serve` with `extra` flags (e.g. `--htpasswd F`); on
    /// 127.0.0.1:0 unless `extra` has an `--addr`.
    #[track_caller]
    pub fn start(bin: impl AsRef<Path>, extra: &[&str]) -> TestRegistry {
        let dir = tempfile::Builder::new()
            .prefix("berth-registry-")
            .tempdir()
            .expect("registry temp dir");
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let (child, url) = spawn(bin.as_ref(), &dir.path().join("data"), &extra);
        TestRegistry {
            child,
            bin: bin.as_ref().to_path_buf(),
            extra,
            host: host_of(&url),
            url,
            dir,
        }
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// SIGKILL, as a crash would: no shutdown code runs.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same data root (a new port unless `--addr` was given).
    #[track_caller]
    pub fn restart(&mut self) {
        self.kill9();
        let (child, url) = spawn(&self.bin, &self.data_root(), &self.extra);
        self.child = child;
        self.host = host_of(&url);
        self.url = url;
    }
}

fn host_of(url: &str) -> String {
    url.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// Spawns the server and waits for its "listening on URL" line; returns the child and URL.
#[track_caller]
fn spawn(bin: &Path, data_root: &Path, extra: &[String]) -> (Child, String) {
    let mut cmd = Command::new(bin);
    cmd.args(["registry", "serve"]);
    if !extra.iter().any(|a| a == "--addr") {
        cmd.args(["--addr", "127.0.0.1:0"]);
    }
    let mut child = cmd
        .arg("--data-root")
        .arg(data_root)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berth registry serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stderr);
        let mut line = String::new();
        let mut sent = false;
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            if !sent && let Some(url) = line.trim().strip_prefix("berth registry listening on ") {
                let _ = tx.send(url.to_string());
                sent = true;
            }
            line.clear();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = loop {
        if let Ok(u) = rx.recv_timeout(Duration::from_millis(100)) {
            break u;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("berth registry serve exited early: {st}");
        }
        assert!(Instant::now() < deadline, "registry did not start");
    };
    (child, url)
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! A real `berth daemon` on a temporary socket, data-root and exec-root, one per test,
//! so tests run in parallel without sharing state. Killed and removed on drop.

use crate::cmd::{Cmd, Output};
use crate::http::{HttpResponse, unix_request};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the real docker CLI is expected (Docker 28 client).
pub const DOCKER_CLI: &str = "/usr/local/bin/docker";

/// A proxy nothing listens on (port 9, discard): test daemons send every request for a
/// non-loopback host there, so nothing leaves the machine.
const UNREACHABLE_PROXY: &str = "http://127.0.0.1:9";

/// How long a daemon may take to answer `/_ping` after spawn.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Set to a dockerd socket path to run the suite against a real dockerd instead (to prove
/// the tests' expectations; run with `--test-threads=1`: the daemon is shared and wiped).
/// Then `berth(..)` runs the docker CLI too, and data-root checks do not apply.
pub const AGAINST_DOCKERD_ENV: &str = "BERTH_TEST_AGAINST_DOCKERD";

pub struct TestDaemon {
    /// Some(socket) when the tests run against an external dockerd.
    external: Option<PathBuf>,
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Incremented per (re)start so each run's log is kept separately.
    generation: u32,
    /// This daemon's own bridge, nftables table and subnets (see `net`).
    net: crate::net::TestNet,
}

impl TestDaemon {
    /// Start `berth daemon` (the binary at `bin`) and wait until `/_ping` answers.
    /// Panics with the daemon's log if it does not come up.
    #[track_caller]
    pub fn start(bin: impl AsRef<Path>) -> TestDaemon {
        Self::start_with_config(bin, None)
    }

    /// Like [`TestDaemon::start`], with `daemon.json` contents (passed as
    /// `--config-file`, kept across restarts).
    #[track_caller]
    pub fn start_with_config(bin: impl AsRef<Path>, config: Option<&str>) -> TestDaemon {
        let dir = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir()
            .expect("create temp dir for daemon");
        for d in ["scratch", "docker-config"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("create test dirs");
        }
        if let Some(c) = config {
            std::fs::write(dir.path().join("daemon.json"), c).expect("write daemon.json");
        }
        let external = std::env::var_os(AGAINST_DOCKERD_ENV).map(PathBuf::from);
        let mut d = TestDaemon {
            external,
            bin: bin.as_ref().to_path_buf(),
            dir,
            child: None,
            generation: 0,
            net: crate::net::TestNet::pick(),
        };
        if d.external.is_some() {
            d.wipe_external();
        } else {
            d.spawn_and_wait();
        }
        d
    }

    /// True when running against a real dockerd (see [`AGAINST_DOCKERD_ENV`]).
    pub fn is_external(&self) -> bool {
        self.external.is_some()
    }

    fn wipe_external(&self) {
        let ids = self.docker(["images", "-a", "-q"]).ok().lines();
        if !ids.is_empty() {
            self.docker(["rmi", "-f"]).args(ids).run();
        }
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// The temporary directory that holds everything of this daemon.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn socket(&self) -> PathBuf {
        if let Some(s) = &self.external {
            return s.clone();
        }
        self.dir().join("berth.sock")
    }

    /// `unix://<socket>`
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn data_root(&self) -> PathBuf {
        self.dir().join("root")
    }

    pub fn exec_root(&self) -> PathBuf {
        self.dir().join("exec")
    }

    pub fn pidfile(&self) -> PathBuf {
        self.dir().join("berth.pid")
    }

    /// A per-test scratch directory (outside data-root) for fixtures and outputs.
    pub fn scratch(&self) -> PathBuf {
        self.dir().join("scratch")
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// This daemon's bridge, nftables table and subnets.
    pub fn net(&self) -> &crate::net::TestNet {
        &self.net
    }

    /// The flags this harness passes to `berth daemon`.
    pub fn daemon_args(&self) -> Vec<String> {
        let mut args = vec![
            "daemon".into(),
            "-H".into(),
            self.host(),
            "--data-root".into(),
            self.data_root().display().to_string(),
            "--exec-root".into(),
            self.exec_root().display().to_string(),
            "--pidfile".into(),
            self.pidfile().display().to_string(),
        ];
        let config = self.dir().join("daemon.json");
        args.extend(self.net.daemon_args(&config));
        if config.exists() {
            args.push("--config-file".into());
            args.push(config.display().to_string());
        }
        args
    }

    fn log_path(&self, generation: u32) -> PathBuf {
        self.dir().join(format!("daemon.{generation}.log"))
    }

    /// The log (stdout+stderr) of the current or last daemon run.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path(self.generation)).unwrap_or_default()
    }

    #[track_caller]
    fn spawn_and_wait(&mut self) {
        assert!(!self.is_external(), "cannot (re)start an external dockerd");
        self.generation += 1;
        let log = std::fs::File::create(self.log_path(self.generation)).expect("create daemon log");
        let child = Command::new(&self.bin)
            .args(self.daemon_args())
            .env("RUST_BACKTRACE", "1")
            .env_remove("DOCKER_HOST")
            .env_remove("BERTH_HOST")
            // Tests only ever talk to 127.0.0.0/8: a pull of an image that is nowhere
            // (`run nope`) must not reach Docker Hub or ask the host's DNS for it. The
            // daemon honours the proxy variables as dockerd does; this proxy refuses.
            .env("HTTPS_PROXY", UNREACHABLE_PROXY)
            .env("HTTP_PROXY", UNREACHABLE_PROXY)
            .env("NO_PROXY", "localhost,127.0.0.0/8,::1")
            .env_remove("https_proxy")
            .env_remove("http_proxy")
            .env_remove("no_proxy")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log fd"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {} daemon: {e}", self.bin.display()));
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if unix_request(&self.socket(), "GET", "/_ping", &[], None)
                .is_ok_and(|r| r.status == 200)
            {
                return;
            }
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                panic!(
                    "berth daemon exited with {st} before answering /_ping; log:\n{}",
                    self.log()
                );
            }
            if Instant::now() > deadline {
                self.kill9();
                panic!(
                    "berth daemon did not answer /_ping within {START_TIMEOUT:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL the daemon (a crash: no cleanup) and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait up to `timeout`; returns the exit code (None: signal or timeout,
    /// in which case it was SIGKILLed).
    pub fn stop(&mut self, timeout: Duration) -> Option<i32> {
        let mut c = self.child.take()?;
        // SAFETY: kill(2) on the pid of our own unreaped child: it cannot be recycled.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start again on the same socket and data-root (after `kill9` or `stop`).
    #[track_caller]
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop(Duration::from_secs(10));
        }
        self.spawn_and_wait();
    }

    /// Whether the daemon process is still alive (not exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The real docker CLI against this daemon, with a private `DOCKER_CONFIG` so the
    /// user's `~/.docker` is never read or written.
    pub fn docker<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        assert!(
            Path::new(DOCKER_CLI).exists(),
            "{DOCKER_CLI} not found: the docker CLI (client only) is needed for compatibility tests"
        );
        Cmd::new(DOCKER_CLI)
            .args(args)
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir().join("docker-config"))
            .env("TZ", "UTC")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .current_dir(self.scratch())
    }

    /// The berth CLI (`berth -H unix://<sock> ...`).
    pub fn berth<I, S>(&self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        if self.is_external() {
            return self.docker(args);
        }
        Cmd::new(&self.bin)
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_CONFIG", self.dir().join("docker-config"))
            .env("TZ", "UTC")
            .env_remove("DOCKER_HOST")
            .env_remove("BERTH_HOST")
            .current_dir(self.scratch())
    }

    /// Run the same arguments through docker and berth; returns (docker, berth).
    pub fn both(&self, args: &[&str]) -> (Output, Output) {
        (self.docker(args).run(), self.berth(args).run())
    }

    /// A raw API request over the socket (`path` may carry `/v1.45` and a query).
    #[track_caller]
    pub fn api(&self, method: &str, path: &str, body: Option<&[u8]>) -> HttpResponse {
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("Content-Type", "application/json")]
        } else {
            &[]
        };
        unix_request(&self.socket(), method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}; daemon log:\n{}", self.log()))
    }

    /// Force-removes every container and its anonymous volumes. With live-restore,
    /// containers outlive their daemon: without this a test that ends with running
    /// containers would leave their shims, mounts and cgroups behind.
    fn remove_all_containers(&self) {
        let sock = self.socket();
        let Ok(r) = unix_request(&sock, "GET", "/containers/json?all=1", &[], None) else {
            return;
        };
        let Ok(list) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            return;
        };
        for c in list.as_array().into_iter().flatten() {
            if let Some(id) = c["Id"].as_str() {
                let path = format!("/containers/{id}?force=1&v=1");
                let _ = unix_request(&sock, "DELETE", &path, &[], None);
            }
        }
    }

    /// `GET /_ping` answered 200.
    pub fn ping(&self) -> bool {
        unix_request(&self.socket(), "GET", "/_ping", &[], None).is_ok_and(|r| r.status == 200)
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: String = {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(60)..].join("\n")
            };
            eprintln!(
                "--- berth daemon log (last 60 lines, {}) ---\n{tail}\n---",
                self.dir().display()
            );
        }
        if !self.is_external() && self.ping() {
            self.remove_all_containers();
        }
        self.stop(Duration::from_secs(5));
        if !self.is_external() {
            self.net.cleanup(&self.exec_root(), &self.data_root());
        }
        // The data-root may hold read-only dirs from hostile layers: make them writable
        // so the TempDir removal succeeds.
        let _ = Command::new("chmod")
            .args(["-R", "u+rwX"])
            .arg(self.dir())
            .status();
    }
}

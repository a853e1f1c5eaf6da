//! Helpers for the build tests (build.rs, build_stages.rs, build_checklist.rs,
//! notes_build.rs): a daemon with busybox whose containers (and their
//! volumes) are removed on drop, builds in a context directory, shell lines with the
//! real docker CLI on the classic builder, config and history readers.
#![allow(dead_code)]

use super::common::*;
use super::notes_support::inspect;
use serde_json::Value;
use std::path::{Path, PathBuf};
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
        self.d
            .docker(args)
            .env("DOCKER_BUILDKIT", "0")
            .timeout(Duration::from_secs(120))
    }
    pub fn berth(&self, args: &[&str]) -> Cmd {
        self.d.berth(args).timeout(Duration::from_secs(120))
    }
    /// A context directory with `files` (path, content).
    pub fn ctx(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.d.scratch().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (p, body) in files {
            let f = dir.join(p);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, body).unwrap();
        }
        dir
    }
    /// `docker build -t <tag> .` in a context made of `files`.
    pub fn build(&self, tag: &str, files: &[(&str, &str)]) -> String {
        let dir = self.ctx(tag, files);
        self.docker(&["build", "-t", tag, "."])
            .current_dir(&dir)
            .ok()
            .out()
    }
    /// A shell line (in the scratch dir) with `docker` the real CLI, classic builder.
    pub fn sh(&self, line: &str) -> Output {
        Cmd::new("sh")
            .args([
                "-c",
                &format!("docker() {{ {DOCKER_CLI} \"$@\"; }}; {line}"),
            ])
            .env("DOCKER_HOST", self.d.host())
            .env("DOCKER_CONFIG", self.d.dir().join("docker-config"))
            .env("DOCKER_BUILDKIT", "0")
            .current_dir(self.d.scratch())
            .timeout(Duration::from_secs(120))
            .run()
    }
    pub fn run(&self, args: &[&str]) -> String {
        let mut v = vec!["run", "--rm"];
        v.extend_from_slice(args);
        self.docker(&v).ok().out()
    }
    pub fn config(&self, image: &str) -> Value {
        inspect(&self.d, image)["Config"].clone()
    }
    /// `docker history --no-trunc --format {{json .CreatedBy}}`, newest first (JSON
    /// so a heredoc's lines stay one entry).
    pub fn history(&self, image: &str) -> Vec<String> {
        let args = [
            "history",
            "--no-trunc",
            "--format",
            "{{json .CreatedBy}}",
            image,
        ];
        let lines = self.docker(&args).ok().lines();
        lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect()
    }
    pub fn assert_clean(&self) {
        let ps = self.docker(&["ps", "-aq"]).ok().out();
        assert_eq!(ps, "", "leftover containers");
        let vols = self.docker(&["volume", "ls", "-q"]).ok().out();
        assert_eq!(vols, "", "leftover volumes");
        let root = self.d.data_root().display().to_string();
        let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&root))
            .map(str::to_string)
            .collect();
        assert!(mounts.is_empty(), "leftover mounts: {mounts:?}");
        let tmp = self.d.data_root().join("builder/tmp");
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "leftover build dirs: {left:?}");
    }
}

/// A build client (`cmd`, stdout piped) running until its output shows `marker`;
/// then `kill` stops it.
pub struct Client {
    child: std::process::Child,
    out: std::process::ChildStdout,
    pub seen: String,
}

impl Client {
    pub fn start(mut cmd: std::process::Command, marker: &str) -> Client {
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let mut c = Client {
            child,
            out,
            seen: String::new(),
        };
        c.read_until(marker);
        c
    }
    pub fn read_until(&mut self, marker: &str) {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        while !self.seen.contains(marker) {
            let n = self.out.read(&mut buf).unwrap();
            assert!(n > 0, "the build ended early:\n{}", self.seen);
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Env {
    /// `docker build <args>` (classic builder) as a [`Client`] once `marker` shows.
    pub fn docker_client(&self, args: &[&str], marker: &str) -> Client {
        let mut c = std::process::Command::new(DOCKER_CLI);
        c.args(["-H", &self.d.host(), "build"])
            .args(args)
            .env("DOCKER_BUILDKIT", "0");
        Client::start(c, marker)
    }
    /// Waits (20 s at most) until the daemon has no container and no build scratch
    /// dir (a cancelled build cleans up in the background).
    pub fn wait_clean(&self, what: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = self.docker(&["ps", "-aq"]).ok().out();
            let tmp = std::fs::read_dir(self.d.data_root().join("builder/tmp"))
                .map(|r| r.count())
                .unwrap_or(0);
            if left.is_empty() && tmp == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: not cleaned up: containers {left:?}, {tmp} scratch dirs"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let ids = self.d.docker(["ps", "-aq"]).run().lines();
        if !ids.is_empty() {
            self.d.docker(["rm", "-f", "-v"]).args(ids).run();
        }
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub fn tar_gz(dir: &Path, out: &Path) {
    let st = std::process::Command::new("tar")
        .arg("-czf")
        .arg(out)
        .arg("-C")
        .arg(dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
}

/// The host port `docker port <c> <port>` names for 0.0.0.0.
pub fn published(e: &Env, c: &str, port: &str) -> u16 {
    let out = e.docker(&["port", c, port]).ok().out();
    let line = out
        .lines()
        .find(|l| l.starts_with("0.0.0.0:"))
        .unwrap_or_else(|| panic!("no 0.0.0.0 mapping for {port} in {out:?}"));
    line.rsplit(':').next().unwrap().parse().unwrap()
}

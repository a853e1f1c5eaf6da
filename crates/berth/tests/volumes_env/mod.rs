//! The environment the volume tests share: a daemon with busybox whose containers
//! and volumes are removed on drop, and a check that no mount is left behind.
#![allow(dead_code)]

use crate::common::*;
use std::time::Duration;

/// A daemon with busybox; containers and volumes are removed on drop, and no mount
/// under the test's dirs may be left behind.
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
    pub fn berth(&self, args: &[&str]) -> Cmd {
        self.d.berth(args).timeout(Duration::from_secs(60))
    }
    pub fn volumes(&self) -> Vec<String> {
        self.docker(&["volume", "ls", "-q"]).ok().lines()
    }
    /// An image whose `/data` holds content (owned 1000:1000, mode 0750, a symlink
    /// out of the root) and that declares `VOLUME /vol`.
    pub fn content_image(&self) {
        self.docker(&[
            "run",
            "--name",
            "prep",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /data/sub /vol && echo hi > /data/sub/f && chmod 640 /data/sub/f && \
             chown -R 1000:1000 /data && chmod 750 /data && ln -s /etc /data/esc && \
             echo image-vol > /vol/seed",
        ])
        .ok();
        self.docker(&["commit", "--change", "VOLUME /vol", "prep", "content"])
            .ok();
        self.docker(&["rm", "prep"]).ok();
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let ids = self.d.docker(["ps", "-aq"]).run().lines();
        if !ids.is_empty() {
            self.d.docker(["rm", "-f", "-v"]).args(ids).run();
        }
        let vols = self.d.docker(["volume", "ls", "-q"]).run().lines();
        if !vols.is_empty() {
            self.d.docker(["volume", "rm", "-f"]).args(vols).run();
        }
        if !std::thread::panicking() {
            let root = self.d.dir().display().to_string();
            let left: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains(&root))
                .map(String::from)
                .collect();
            assert!(left.is_empty(), "mounts left behind: {left:#?}");
        }
    }
}

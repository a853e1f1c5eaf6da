//! HEALTHCHECK end to end: probes from the run flags and from the image's config run
//! as execs on their interval; `State.Health`, `ps` STATUS and `--filter health=`,
//! `health_status` events, timeouts, stop, and a live-restored container's prober.

mod common;

use common::*;
use std::time::{Duration, Instant};

struct Env {
    d: TestDaemon,
}

impl Env {
    fn new() -> Env {
        // No default bridge (see `docker`).
        Env {
            d: lifecycle_daemon(r#"{"bridge": "none"}"#),
        }
    }
    /// `run` and `create` get `--network none` (see `docker_no_net`).
    fn docker(&self, args: &[&str]) -> Cmd {
        docker_no_net(&self.d, args).timeout(Duration::from_secs(60))
    }
    fn health(&self, name: &str) -> serde_json::Value {
        let out = self
            .docker(&["inspect", "-f", "{{json .State.Health}}", name])
            .ok()
            .out();
        serde_json::from_str(out.trim()).unwrap_or(serde_json::Value::Null)
    }
    /// Polls until the health status is `want` (panics after `max`).
    fn wait_status(&self, name: &str, want: &str, max: Duration) -> serde_json::Value {
        let deadline = Instant::now() + max;
        loop {
            let h = self.health(name);
            if h["Status"] == want {
                return h;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: health never became {want}: {h}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    fn ps_status(&self, name: &str) -> String {
        self.docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Status}}",
        ])
        .ok()
        .out()
        .trim()
        .to_string()
    }
    fn ps_health(&self, value: &str) -> Vec<String> {
        self.docker(&[
            "ps",
            "--filter",
            &format!("health={value}"),
            "--format",
            "{{.Names}}",
        ])
        .ok()
        .lines()
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

#[test]
fn healthy_and_unhealthy_from_flags() {
    let e = Env::new();
    let t0 = chrono::Utc::now().timestamp().to_string();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "good",
        "--health-cmd",
        "echo ok",
        "--health-interval",
        "200ms",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "bad",
        "--health-cmd",
        "echo bad >&2; exit 3",
        "--health-interval",
        "200ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "true",
        "--health-interval",
        "1h",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    e.docker(&["run", "-d", "--name", "plain", "busybox", "sleep", "1000"])
        .ok();

    let h = e.wait_status("good", "healthy", Duration::from_secs(20));
    assert_eq!(h["FailingStreak"], 0, "{h}");
    let log = h["Log"].as_array().expect("a log");
    assert!(!log.is_empty(), "{h}");
    assert_eq!(log[0]["ExitCode"], 0, "{h}");
    assert_eq!(log[0]["Output"], "ok\n", "{h}");
    assert!(log[0]["Start"].as_str().unwrap().ends_with('Z'), "{h}");

    let h = e.wait_status("bad", "unhealthy", Duration::from_secs(20));
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2, "{h}");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], 3, "{h}");
    assert_eq!(last["Output"], "bad\n", "{h}");

    // Only the last five results are kept.
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(e.health("good")["Log"].as_array().unwrap().len(), 5);

    assert!(
        e.ps_status("good").ends_with("(healthy)"),
        "{}",
        e.ps_status("good")
    );
    assert!(e.ps_status("bad").ends_with("(unhealthy)"));
    assert!(e.ps_status("slow").ends_with("(health: starting)"));
    assert!(
        !e.ps_status("plain").contains('('),
        "{}",
        e.ps_status("plain")
    );
    assert_eq!(e.health("plain"), serde_json::Value::Null);
    assert_eq!(e.ps_health("healthy"), ["good"]);
    assert_eq!(e.ps_health("unhealthy"), ["bad"]);
    assert_eq!(e.ps_health("starting"), ["slow"]);
    assert_eq!(e.ps_health("none"), ["plain"]);
    e.docker(&["ps", "--filter", "health=bogus"])
        .fails()
        .assert_stderr_contains("Unrecognised filter value for health: bogus");

    let t1 = (chrono::Utc::now().timestamp() + 1).to_string();
    let ev = e
        .docker(&[
            "events",
            "--since",
            &t0,
            "--until",
            &t1,
            "--filter",
            "event=health_status",
            "--format",
            "{{.Actor.Attributes.name}} {{.Action}}",
        ])
        .ok()
        .lines();
    assert!(
        ev.contains(&"good health_status: healthy".to_string()),
        "{ev:?}"
    );
    assert!(
        ev.contains(&"bad health_status: unhealthy".to_string()),
        "{ev:?}"
    );
    // One event per change, not per probe.
    assert_eq!(
        ev.iter().filter(|l| l.starts_with("good")).count(),
        1,
        "{ev:?}"
    );

    // A stopped container's health is unhealthy; its probes stop.
    e.docker(&["stop", "-t", "1", "good"]).ok();
    assert_eq!(e.health("good")["Status"], "unhealthy");
    assert!(
        e.ps_status("good").starts_with("Exited"),
        "{}",
        e.ps_status("good")
    );
    let n = e.health("good")["Log"].clone();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(e.health("good")["Log"], n, "probes ran after stop");
    // Started again: starting, then healthy.
    e.docker(&["start", "good"]).ok();
    e.wait_status("good", "healthy", Duration::from_secs(20));
}

#[test]
fn timeouts_image_healthchecks_and_no_healthcheck() {
    let e = Env::new();
    // A probe longer than its timeout is killed and counts as a failure (-1).
    e.docker(&[
        "run",
        "-d",
        "--name",
        "hang",
        "--health-cmd",
        "sleep 30",
        "--health-interval",
        "200ms",
        "--health-timeout",
        "300ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    let h = e.wait_status("hang", "unhealthy", Duration::from_secs(20));
    let first = &h["Log"][0];
    assert_eq!(first["ExitCode"], -1, "{h}");
    assert_eq!(
        first["Output"], "Health check exceeded timeout (300ms)",
        "{h}"
    );
    // A command that does not exist: -1 with the exec's error.
    e.docker(&[
        "run",
        "-d",
        "--name",
        "missing",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "--health-cmd",
        "x",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    e.wait_status("missing", "unhealthy", Duration::from_secs(20));

    // HEALTHCHECK from the image's config.
    let tar = busybox_rootfs_tar(&e.d.scratch());
    e.docker(&[
        "import",
        "--change",
        r#"CMD ["sh"]"#,
        "--change",
        "HEALTHCHECK --interval=200ms --retries=1 CMD test -e /tmp/ready",
    ])
    .arg(&tar)
    .arg("hc")
    .ok();
    e.docker(&["run", "-d", "--name", "img", "hc", "sleep", "1000"])
        .ok();
    let h = e.wait_status("img", "unhealthy", Duration::from_secs(20));
    assert_eq!(h["Log"][0]["ExitCode"], 1, "{h}");
    e.docker(&["exec", "img", "touch", "/tmp/ready"]).ok();
    e.wait_status("img", "healthy", Duration::from_secs(20));
    let test = e
        .docker(&["inspect", "-f", "{{json .Config.Healthcheck.Test}}", "img"])
        .ok()
        .out();
    assert_eq!(test.trim(), r#"["CMD-SHELL","test -e /tmp/ready"]"#);

    // The run flags override the image's fields one by one.
    e.docker(&[
        "run",
        "-d",
        "--name",
        "override",
        "--health-cmd",
        "true",
        "hc",
        "sleep",
        "1000",
    ])
    .ok();
    e.wait_status("override", "healthy", Duration::from_secs(20));

    // --no-healthcheck disables the image's.
    e.docker(&[
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        "hc",
        "sleep",
        "1000",
    ])
    .ok();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(e.health("off"), serde_json::Value::Null);
    assert!(!e.ps_status("off").contains('('), "{}", e.ps_status("off"));
}

#[test]
fn probes_resume_after_a_daemon_restart() {
    let mut e = Env::new();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "--health-cmd",
        "test ! -e /tmp/down",
        "--health-interval",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ])
    .ok();
    e.wait_status("web", "healthy", Duration::from_secs(20));
    e.d.kill9();
    e.d.restart();
    // Still healthy after the restart, and still probing: a failure is noticed.
    assert_eq!(e.health("web")["Status"], "healthy");
    e.docker(&["exec", "web", "touch", "/tmp/down"]).ok();
    e.wait_status("web", "unhealthy", Duration::from_secs(20));
}

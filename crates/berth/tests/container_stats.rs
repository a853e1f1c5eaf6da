//! Container resources end to end with the real docker CLI: `stats`, `top`,
//! `update` and `container prune` / `system prune`. Needs root (real cgroups).

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

struct Env {
    d: TestDaemon,
}

impl Env {
    fn new() -> Env {
        let d = daemon();
        import_busybox(&d, "busybox");
        Env { d }
    }
    fn docker(&self, args: &[&str]) -> Cmd {
        self.d.docker(args).timeout(Duration::from_secs(60))
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
fn stats_no_stream_shows_usage_and_limit() {
    let e = Env::new();
    e.docker(&[
        "run", "-d", "--name", "s1", "--memory", "64m", "busybox", "sleep", "1000",
    ])
    .ok();
    let o = e
        .docker(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}",
            "s1",
        ])
        .ok();
    let out = o.out();
    let f: Vec<&str> = out.trim().split('|').collect();
    assert_eq!(f.len(), 4, "{out}");
    assert_eq!(f[0], "s1");
    assert!(f[1].ends_with('%'), "{out}");
    assert!(f[2].ends_with(" / 64MiB"), "{out}");
    assert_eq!(f[3], "1", "{out}");
    // Without a limit, docker shows the host's memory as the limit.
    e.docker(&["run", "-d", "--name", "s2", "busybox", "sleep", "1000"])
        .ok();
    let u = e
        .docker(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "s2"])
        .ok()
        .out();
    assert!(!u.trim().ends_with(" / 0B"), "{u}");
    assert!(u.contains("GiB") || u.contains("MiB"), "{u}");
    // The raw JSON has docker's shape.
    let r = e.d.api(
        "GET",
        "/v1.45/containers/s1/stats?stream=false&one-shot=true",
        None,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["name"], "/s1");
    assert_eq!(v["memory_stats"]["limit"], 64 << 20);
    assert_eq!(v["pids_stats"]["current"], 1);
    assert!(v["cpu_stats"]["system_cpu_usage"].as_u64().unwrap() > 0);
    assert!(v["cpu_stats"]["online_cpus"].as_u64().unwrap() > 0);
    assert!(v["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().unwrap() > 0);
    assert!(v["memory_stats"]["stats"].get("inactive_file").is_some());
    assert_eq!(
        v["blkio_stats"]["io_service_bytes_recursive"],
        serde_json::json!([])
    );
    assert!(v.get("networks").is_none());
    assert_eq!(v["preread"], "0001-01-01T00:00:00Z");
    // The default table has docker's columns.
    let t = e.docker(&["stats", "--no-stream", "s1"]).ok().out();
    // Streaming: one refresh a second until interrupted (here: the timeout).
    let st = e
        .docker(&["stats", "s1"])
        .timeout(Duration::from_secs(3))
        .run();
    assert!(st.out().matches(" / 64MiB").count() >= 2, "{}", st.out());
    assert!(
        t.starts_with("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"),
        "{t}"
    );
}

#[test]
fn top_lists_the_container_process() {
    let e = Env::new();
    e.docker(&["run", "-d", "--name", "t1", "busybox", "sleep", "4242"])
        .ok();
    let out = e.docker(&["top", "t1"]).ok().out();
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("UID"), "{out}");
    assert!(lines[0].contains("PID"), "{out}");
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].ends_with("sleep 4242"), "{out}");
    e.docker(&["stop", "-t", "0", "t1"]).ok();
    let o = e.docker(&["top", "t1"]).fails();
    assert!(o.err().contains("is not running"), "{}", o.err());
}

#[test]
fn prune_removes_only_stopped_containers() {
    let e = Env::new();
    e.docker(&["run", "-d", "--name", "live", "busybox", "sleep", "1000"])
        .ok();
    e.docker(&["run", "--name", "dead", "busybox", "true"]).ok();
    let dead = e
        .docker(&["inspect", "-f", "{{.Id}}", "dead"])
        .ok()
        .out()
        .trim()
        .to_string();
    let out = e.docker(&["container", "prune", "-f"]).ok().out();
    assert_eq!(
        out,
        format!("Deleted Containers:\n{dead}\n\nTotal reclaimed space: 0B\n")
    );
    assert_eq!(
        e.docker(&["ps", "-a", "--format", "{{.Names}}"]).ok().out(),
        "live\n"
    );
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let ev = e
        .docker(&[
            "events",
            "--since",
            "0",
            "--until",
            &until.to_string(),
            "--filter",
            "type=container",
            "--format",
            "{{.Action}} {{.Actor.ID}}",
        ])
        .ok()
        .out();
    assert!(ev.contains(&format!("destroy {dead}\n")), "{ev}");
    assert!(ev.ends_with("prune \n"), "{ev}");
    // Nothing left: docker prints only the total.
    assert_eq!(
        e.docker(&["container", "prune", "-f"]).ok().out(),
        "Total reclaimed space: 0B\n"
    );
    // Label filters: only the matching stopped container goes.
    e.docker(&["run", "--name", "keep", "busybox", "true"]).ok();
    e.docker(&["run", "--name", "gone", "--label", "x=1", "busybox", "true"])
        .ok();
    e.docker(&["container", "prune", "-f", "--filter", "label=x=1"])
        .ok()
        .assert_stdout_contains("Deleted Containers:");
    let mut names = e
        .docker(&["ps", "-a", "--format", "{{.Names}}"])
        .ok()
        .lines();
    names.sort();
    assert_eq!(names, ["keep", "live"]);
    e.docker(&["container", "prune", "-f", "--filter", "label!=x"])
        .ok();
    e.docker(&["system", "prune", "-f"]).ok();
    assert_eq!(
        e.docker(&["ps", "-a", "--format", "{{.Names}}"]).ok().out(),
        "live\n"
    );
}

#[test]
fn update_changes_the_cgroup_limit() {
    let e = Env::new();
    e.docker(&["run", "-d", "--name", "u1", "busybox", "sleep", "1000"])
        .ok();
    assert_eq!(
        e.docker(&["update", "--memory", "64m", "u1"]).ok().out(),
        "u1\n"
    );
    let file = if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "/sys/fs/cgroup/memory.max"
    } else {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    };
    assert_eq!(
        e.docker(&["exec", "u1", "cat", file]).ok().out(),
        "67108864\n"
    );
    assert_eq!(
        e.docker(&["inspect", "-f", "{{.HostConfig.Memory}}", "u1"])
            .ok()
            .out(),
        "67108864\n"
    );
    e.docker(&["update", "--cpus", "0.5", "--pids-limit", "50", "u1"])
        .ok();
    let pids = if file.starts_with("/sys/fs/cgroup/memory/") {
        "/sys/fs/cgroup/pids/pids.max"
    } else {
        "/sys/fs/cgroup/pids.max"
    };
    assert_eq!(e.docker(&["exec", "u1", "cat", pids]).ok().out(), "50\n");
    assert_eq!(
        e.docker(&["inspect", "-f", "{{.HostConfig.NanoCpus}}", "u1"])
            .ok()
            .out(),
        "500000000\n"
    );
    // A stopped container keeps the update in its record.
    e.docker(&["stop", "-t", "0", "u1"]).ok();
    e.docker(&["update", "--memory", "32m", "u1"]).ok();
    assert_eq!(
        e.docker(&["inspect", "-f", "{{.HostConfig.Memory}}", "u1"])
            .ok()
            .out(),
        "33554432\n"
    );
}

#[test]
fn berth_cli_matches_docker() {
    let e = Env::new();
    e.docker(&["run", "-d", "--name", "b1", "busybox", "sleep", "777"])
        .ok();
    for args in [
        &["top", "b1", "-o", "pid,comm"][..],
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}}",
            "b1",
        ],
        &["update", "--pids-limit", "20", "b1"],
        &["container", "prune", "-f"],
        &["top", "nope"],
    ] {
        let (d, b) = e.d.both(args);
        assert_eq!(d.out(), b.out(), "{args:?}");
        assert_eq!(d.err(), b.err(), "{args:?}");
        assert_eq!(d.success(), b.success(), "{args:?}");
    }
}

//! Faults around containers: OOM kills and fork bombs are contained, kill -9 of the
//! daemon in the middle of `run -d`, `exec` and `stop` leaves a consistent state, a
//! graceful daemon stop leaves containers running (live-restore), 50 containers at once
//! leave nothing behind, and `rmi -f` keeps what a stopped container needs.

mod common;

use common::*;
use std::path::{Path, PathBuf};
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
        docker_no_net(&self.d, args).timeout(Duration::from_secs(120))
    }
    fn id_of(&self, name: &str) -> String {
        self.docker(&["inspect", "-f", "{{.Id}}", name])
            .ok()
            .out()
            .trim()
            .to_string()
    }
    fn inspect(&self, name: &str, fmt: &str) -> String {
        self.docker(&["inspect", "-f", fmt, name])
            .ok()
            .out()
            .trim()
            .to_string()
    }
    fn all_ids(&self) -> Vec<String> {
        self.docker(&["ps", "-aq", "--no-trunc"]).ok().lines()
    }
    fn remove_all(&self) {
        let ids = self.all_ids();
        if !ids.is_empty() {
            self.d
                .docker(["rm", "-f"])
                .args(ids)
                .timeout(Duration::from_secs(120))
                .run();
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.d.ping() {
            self.remove_all();
        }
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    pid > 0 && unsafe { libc::kill(pid, 0) } == 0
}

/// The cgroup dirs of container `id` under any hierarchy.
fn cgroups_of(id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = Path::new("/sys/fs/cgroup");
    let mut bases = vec![root.join("berth")];
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            bases.push(e.path().join("berth"));
        }
    }
    for b in bases {
        let p = b.join(id);
        if p.exists() {
            out.push(p);
        }
    }
    out
}

/// Everything a container may leave behind: mounts under the data-root, shims of this
/// daemon, shim state dirs under the exec-root, and the cgroups of `ids`.
fn leftovers(d: &TestDaemon, ids: &[String]) -> Vec<String> {
    let root = d.data_root().display().to_string();
    let exec = d.exec_root();
    let mut out: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&root))
        .map(|l| format!("mount: {l}"))
        .collect();
    let ps = std::process::Command::new("pgrep")
        .args(["-af", "berth shim"])
        .output()
        .expect("run pgrep");
    let exec_s = exec.display().to_string();
    out.extend(
        String::from_utf8_lossy(&ps.stdout)
            .lines()
            .filter(|l| l.contains(&exec_s))
            .map(|l| format!("shim: {l}")),
    );
    for sub in ["c", "x"] {
        if let Ok(rd) = std::fs::read_dir(exec.join(sub)) {
            out.extend(
                rd.flatten()
                    .map(|e| format!("state dir: {}", e.path().display())),
            );
        }
    }
    for id in ids {
        out.extend(
            cgroups_of(id)
                .iter()
                .map(|p| format!("cgroup: {}", p.display())),
        );
    }
    out
}

/// Polls `leftovers` for a few seconds (a shim ends just after its container's exit is
/// recorded) and asserts it becomes empty.
fn assert_clean(d: &TestDaemon, ids: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = leftovers(d, ids);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "left behind:\n{}",
            left.join("\n")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn memory_hog_is_oom_killed_and_reported() {
    let e = Env::new();
    let since = chrono::Utc::now().timestamp().to_string();
    // The string doubles until the 32 MiB limit (and its swap allowance) is hit.
    let o = e
        .docker(&[
            "run",
            "--name",
            "hog",
            "--memory",
            "32m",
            "busybox",
            "sh",
            "-c",
            "x=0123456789; while true; do x=$x$x; done",
        ])
        .run();
    o.assert_code(137);
    assert_eq!(
        e.inspect("hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    let until = (chrono::Utc::now().timestamp() + 1).to_string();
    let ev = e
        .docker(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "container=hog",
            "--format",
            "{{.Action}}",
        ])
        .ok()
        .lines();
    assert!(ev.contains(&"oom".to_string()), "{ev:?}");
    let die = ev.iter().position(|a| a == "die").expect("a die event");
    assert!(ev.iter().position(|a| a == "oom").unwrap() < die, "{ev:?}");
    // A normal exit is not an OOM kill, and the next run starts clean.
    e.docker(&[
        "run", "--name", "fine", "--memory", "32m", "busybox", "true",
    ])
    .ok();
    assert_eq!(e.inspect("fine", "{{.State.OOMKilled}}"), "false");
    let ids = e.all_ids();
    e.remove_all();
    assert_clean(&e.d, &ids);
}

#[test]
fn fork_bomb_is_contained_by_pids_limit() {
    let e = Env::new();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "bomb",
        "--pids-limit",
        "64",
        "busybox",
        "sh",
        "-c",
        "b() { b | b & }; b; sleep 1000",
    ])
    .ok();
    let id = e.id_of("bomb");
    std::thread::sleep(Duration::from_secs(3));
    let pids = cgroups_of(&id)
        .iter()
        .find_map(|p| std::fs::read_to_string(p.join("pids.current")).ok())
        .expect("the container's pids cgroup");
    let n: u64 = pids.trim().parse().unwrap();
    assert!(n <= 64, "{n} processes under --pids-limit 64");
    // The daemon stays responsive, and the bomb is removable.
    let t = Instant::now();
    e.docker(&["ps", "-q"]).ok();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "ps took {:?}",
        t.elapsed()
    );
    e.docker(&["rm", "-f", "bomb"]).ok();
    assert_clean(&e.d, &[id]);
}

/// After a kill -9 of the daemon and a restart, every container the daemon lists is in
/// a state that matches reality.
fn assert_consistent(e: &Env) {
    for id in e.all_ids() {
        let st = e.inspect(&id, "{{.State.Status}} {{.State.Pid}}");
        let (status, pid) = st.split_once(' ').unwrap();
        let pid: i32 = pid.parse().unwrap();
        match status {
            "running" => assert!(alive(pid), "{id} is listed running but pid {pid} is gone"),
            "created" | "exited" => assert_eq!(pid, 0, "{id}: {st}"),
            other => panic!("{id}: unexpected state {other}"),
        }
    }
}

#[test]
fn kill9_of_the_daemon_during_run_exec_and_stop() {
    let mut e = Env::new();
    let mut seen: Vec<String> = Vec::new();
    // During `run -d`, at several moments.
    for (i, delay) in [30u64, 120, 300].into_iter().enumerate() {
        let name = format!("r{i}");
        let cmd = e.docker(&["run", "-d", "--name", &name, "busybox", "sleep", "1000"]);
        let h = std::thread::spawn(move || cmd.run());
        std::thread::sleep(Duration::from_millis(delay));
        e.d.kill9();
        let _ = h.join();
        e.d.restart();
        assert_consistent(&e);
        seen.extend(e.all_ids());
    }
    // During `exec`: the container keeps running and exec works again.
    e.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"])
        .ok();
    let pid: i32 = e.inspect("ex", "{{.State.Pid}}").parse().unwrap();
    let cmd = e.docker(&["exec", "ex", "sh", "-c", "sleep 2; echo late"]);
    let h = std::thread::spawn(move || cmd.run());
    std::thread::sleep(Duration::from_millis(500));
    e.d.kill9();
    let _ = h.join();
    e.d.restart();
    assert_consistent(&e);
    assert_eq!(
        e.inspect("ex", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    assert_eq!(e.docker(&["exec", "ex", "echo", "hi"]).ok().out(), "hi\n");
    // During `stop` (sleep as pid 1 ignores SIGTERM, so stop waits for its timeout).
    e.docker(&["run", "-d", "--name", "st", "busybox", "sleep", "1000"])
        .ok();
    let cmd = e.docker(&["stop", "-t", "3", "st"]);
    let h = std::thread::spawn(move || cmd.run());
    std::thread::sleep(Duration::from_millis(500));
    e.d.kill9();
    let _ = h.join();
    e.d.restart();
    assert_consistent(&e);
    e.docker(&["stop", "-t", "1", "st"]).ok();
    assert_eq!(
        e.inspect("st", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    seen.extend(e.all_ids());
    e.remove_all();
    seen.sort();
    seen.dedup();
    assert_clean(&e.d, &seen);
}

#[test]
fn sigterm_of_the_daemon_leaves_containers_running() {
    let mut e = Env::new();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "keep",
        "busybox",
        "sh",
        "-c",
        "echo up; exec sleep 1000",
    ])
    .ok();
    let pid: i32 = e.inspect("keep", "{{.State.Pid}}").parse().unwrap();
    assert_eq!(e.d.stop(Duration::from_secs(20)), Some(0), "graceful stop");
    assert!(alive(pid), "the container died with the daemon");
    e.d.restart();
    assert_eq!(
        e.inspect("keep", "{{.State.Status}} {{.State.Pid}}"),
        format!("running {pid}")
    );
    assert_eq!(e.docker(&["logs", "keep"]).ok().out(), "up\n");
    assert_eq!(e.docker(&["exec", "keep", "echo", "hi"]).ok().out(), "hi\n");
    let ids = e.all_ids();
    e.remove_all();
    assert_clean(&e.d, &ids);
}

#[test]
fn fifty_containers_at_once_leave_nothing_behind() {
    let e = Env::new();
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let cmd = e.docker(&[
                "run",
                "-d",
                "--name",
                &format!("m{i}"),
                "busybox",
                "sleep",
                "1000",
            ]);
            std::thread::spawn(move || cmd.run())
        })
        .collect();
    for h in handles {
        h.join().expect("docker run thread").assert_ok();
    }
    assert_eq!(e.docker(&["ps", "-q"]).ok().lines().len(), 50);
    let ids = e.all_ids();
    // The berth CLI removes them concurrently and reports in argument order; a missing
    // one is only a message under -f.
    let mut rm = vec!["rm", "-f"];
    rm.extend(ids.iter().map(String::as_str));
    rm.push("no-such-container");
    let o = e.d.berth(&rm).timeout(Duration::from_secs(120)).ok();
    assert_eq!(o.lines(), ids);
    o.assert_stderr_contains("No such container: no-such-container");
    assert_eq!(e.docker(&["ps", "-aq"]).ok().out(), "");
    assert_clean(&e.d, &ids);
}

#[test]
fn rmi_force_keeps_what_a_stopped_container_needs() {
    let e = Env::new();
    e.docker(&["create", "--name", "c1", "busybox", "echo", "still here"])
        .ok();
    let out = e.docker(&["rmi", "-f", "busybox"]).ok().out();
    assert_eq!(out, "Untagged: busybox:latest\n");
    assert_eq!(e.docker(&["start", "-a", "c1"]).ok().out(), "still here\n");
    // By id too: only untagged while a container uses it.
    let img = e.inspect("c1", "{{.Image}}");
    e.docker(&["tag", &img, "again:v1"]).ok();
    let out = e.docker(&["rmi", "-f", &img]).ok().out();
    assert_eq!(out, "Untagged: again:v1\n");
    assert_eq!(e.docker(&["start", "-a", "c1"]).ok().out(), "still here\n");
    // Once the container is gone, the image can go.
    e.docker(&["rm", "c1"]).ok();
    let out = e.docker(&["rmi", &img]).ok().out();
    assert!(out.starts_with(&format!("Deleted: {img}")), "{out}");
}

//! Log drivers and rotation end to end: json-file rotates by default (10m × 3),
//! `logs --tail` reads from the end across rotated files, `--log-driver none` and
//! `local`, daemon.json's `log-opts`, and `--init` (docker-init as pid 1).

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

struct Env {
    d: TestDaemon,
}

impl Env {
    fn new(config: &str) -> Env {
        // No default bridge (see `docker`).
        Env {
            d: lifecycle_daemon(config),
        }
    }
    /// `run` and `create` get `--network none` (see `docker_no_net`).
    fn docker(&self, args: &[&str]) -> Cmd {
        docker_no_net(&self.d, args).timeout(Duration::from_secs(120))
    }
    fn inspect(&self, name: &str, fmt: &str) -> String {
        self.docker(&["inspect", "-f", fmt, name])
            .ok()
            .out()
            .trim()
            .to_string()
    }
    /// The log files of a container (live and rotated) with their sizes.
    fn log_files(&self, name: &str) -> Vec<(String, u64)> {
        let path = self.inspect(name, "{{.LogPath}}");
        let dir = Path::new(&path).parent().unwrap().to_path_buf();
        let base = Path::new(&path)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let mut v: Vec<(String, u64)> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&base))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
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
fn default_rotation_and_tail_of_a_large_log() {
    let e = Env::new(r#"{"bridge": "none"}"#);
    // 200,000 lines: about 16 MB of json-file, more than the default 10 MB.
    e.docker(&[
        "run",
        "--name",
        "big",
        "busybox",
        "sh",
        "-c",
        "seq 0 199999 | sed 's/^/line /'",
    ])
    .run();
    assert_eq!(e.inspect("big", "{{.State.ExitCode}}"), "0");
    assert_eq!(
        e.inspect("big", "{{json .HostConfig.LogConfig}}"),
        r#"{"Type":"json-file","Config":{}}"#
    );
    let files = e.log_files("big");
    assert_eq!(files.len(), 2, "{files:?}");
    for (f, size) in &files {
        assert!(*size <= 10_000_000, "{f} is {size} bytes");
    }
    let t = Instant::now();
    let out = e.docker(&["logs", "--tail", "3", "big"]).ok().out();
    assert_eq!(out, "line 199997\nline 199998\nline 199999\n");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // More lines than the live file holds: the rest come from the rotated one.
    let live_lines = std::fs::read_to_string(Path::new(&e.inspect("big", "{{.LogPath}}")))
        .unwrap()
        .lines()
        .count();
    let want = live_lines + 1000;
    let out = e
        .docker(&["logs", "--tail", &want.to_string(), "big"])
        .ok()
        .lines();
    assert_eq!(out.len(), want);
    assert_eq!(out[0], format!("line {}", 200_000 - want));
    assert_eq!(out.last().unwrap(), "line 199999");
    assert_eq!(e.docker(&["logs", "--tail", "0", "big"]).ok().out(), "");
    // Without --tail, everything still there, in order.
    let all = e.docker(&["logs", "big"]).ok().lines();
    assert_eq!(all.last().unwrap(), "line 199999");
    assert_eq!(all[0], format!("line {}", 200_000 - all.len()));
}

#[test]
fn log_drivers_none_and_local() {
    let e = Env::new(r#"{"bridge": "none"}"#);
    let o = e
        .docker(&[
            "run",
            "--name",
            "quiet",
            "--log-driver",
            "none",
            "busybox",
            "echo",
            "hi",
        ])
        .ok();
    assert_eq!(o.out(), "hi\n", "attach still streams");
    e.docker(&["logs", "quiet"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("configured logging driver does not support reading");
    assert_eq!(e.log_files("quiet"), Vec::<(String, u64)>::new());

    e.docker(&[
        "run",
        "--name",
        "loc",
        "--log-driver",
        "local",
        "--log-opt",
        "max-size=2k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "seq 1 500",
    ])
    .ok();
    let files = e.log_files("loc");
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|(_, s)| *s <= 2000), "{files:?}");
    assert_eq!(
        e.docker(&["logs", "--tail", "2", "loc"]).ok().out(),
        "499\n500\n"
    );
    assert_eq!(
        e.inspect("loc", "{{json .HostConfig.LogConfig}}"),
        r#"{"Type":"local","Config":{"max-file":"2","max-size":"2k"}}"#
    );

    e.docker(&["run", "--log-driver", "bogus", "busybox", "true"])
        .run()
        .assert_code(125)
        .assert_stderr_contains("logger: no log driver named 'bogus' is registered");
    e.docker(&["run", "--log-opt", "foo=bar", "busybox", "true"])
        .run()
        .assert_code(125)
        .assert_stderr_contains("unknown log opt 'foo' for json-file log driver");
    e.docker(&["run", "--log-opt", "max-file=0", "busybox", "true"])
        .run()
        .assert_code(125)
        .assert_stderr_contains("max-file cannot be less than 1");
}

#[test]
fn daemon_log_opts_apply_to_new_containers() {
    let e = Env::new(r#"{"bridge": "none", "log-opts": {"max-size": "1k", "max-file": "2"}}"#);
    e.docker(&["run", "--name", "d1", "busybox", "seq", "1", "300"])
        .ok();
    assert_eq!(
        e.inspect("d1", "{{json .HostConfig.LogConfig}}"),
        r#"{"Type":"json-file","Config":{"max-file":"2","max-size":"1k"}}"#
    );
    let files = e.log_files("d1");
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|(_, s)| *s <= 1000), "{files:?}");
    // The container's own options win.
    e.docker(&[
        "run",
        "--name",
        "d2",
        "--log-opt",
        "max-size=100k",
        "busybox",
        "seq",
        "1",
        "300",
    ])
    .ok();
    assert_eq!(e.log_files("d2").len(), 1);
    assert_eq!(e.docker(&["logs", "d2"]).ok().lines().len(), 300);
}

#[test]
fn init_runs_as_pid_one_and_forwards_signals() {
    let e = Env::new(r#"{"bridge": "none"}"#);
    let o = e
        .docker(&[
            "run",
            "--rm",
            "--init",
            "busybox",
            "sh",
            "-c",
            "cat /proc/1/comm; echo $$",
        ])
        .ok();
    let lines = o.lines();
    assert_eq!(lines[0], "docker-init", "{lines:?}");
    assert_ne!(lines[1], "1", "the command is not pid 1 under --init");
    // The exit code passes through the init.
    e.docker(&["run", "--rm", "--init", "busybox", "sh", "-c", "exit 5"])
        .run()
        .assert_code(5);
    // `sleep` as pid 1 ignores SIGTERM; under the init it gets it and stop is quick.
    e.docker(&[
        "run", "-d", "--name", "srv", "--init", "busybox", "sleep", "1000",
    ])
    .ok();
    assert_eq!(e.inspect("srv", "{{.HostConfig.Init}}"), "true");
    let t = Instant::now();
    e.docker(&["stop", "-t", "10", "srv"]).ok();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "stop took {:?}",
        t.elapsed()
    );
    assert_eq!(e.inspect("srv", "{{.State.ExitCode}}"), "143");
    // The init binary is read-only inside.
    e.docker(&[
        "run",
        "--rm",
        "--init",
        "busybox",
        "sh",
        "-c",
        "echo x > /sbin/docker-init",
    ])
    .run()
    .assert_code(1)
    .assert_stderr_contains("Read-only file system");
}

#[test]
fn init_path_that_does_not_exist_is_a_clear_error() {
    let e = Env::new(r#"{"bridge": "none", "init-path": "/nonexistent/docker-init"}"#);
    e.docker(&["run", "--rm", "--init", "busybox", "true"])
        .run()
        .assert_code(125)
        .assert_stderr_contains("docker-init binary not found at /nonexistent/docker-init");
    // Without --init nothing changes.
    e.docker(&["run", "--rm", "busybox", "true"]).ok();
    assert_eq!(e.d.docker(["ps", "-aq"]).ok().out(), "");
}

//! Running containers, end to end: the real docker CLI against `berth daemon`, real
//! shims, real overlay mounts and cgroups. Needs root (every berth test machine is).
//! Each test removes its containers before the daemon goes away, and checks that
//! nothing (mount, shim, cgroup) is left behind.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// A daemon with the busybox image, whose containers are force-removed on drop.
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
    fn id_of(&self, name: &str) -> String {
        self.docker(&["inspect", "-f", "{{.Id}}", name])
            .ok()
            .out()
            .trim()
            .to_string()
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

/// Things a container may leave behind, found by the data-root they belong to.
fn leftovers(d: &TestDaemon) -> Vec<String> {
    let root = d.data_root().display().to_string();
    let exec = d.exec_root().display().to_string();
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
    out.extend(
        String::from_utf8_lossy(&ps.stdout)
            .lines()
            .filter(|l| l.contains(&exec))
            .map(|l| format!("shim: {l}")),
    );
    out
}

fn cgroup_dir(controller: &str, id: &str) -> Option<std::path::PathBuf> {
    let v1 = Path::new("/sys/fs/cgroup")
        .join(controller)
        .join("berth")
        .join(id);
    let v2 = Path::new("/sys/fs/cgroup/berth").join(id);
    [v1, v2].into_iter().find(|p| p.exists())
}

#[test]
fn run_prints_output_and_propagates_exit_codes() {
    let e = Env::new();
    let o = e.docker(&["run", "--rm", "busybox", "echo", "hi"]).run();
    o.assert_code(0);
    assert_eq!(o.out(), "hi\n");
    e.docker(&["run", "--name", "three", "busybox", "sh", "-c", "exit 3"])
        .run()
        .assert_code(3);
    assert_eq!(
        e.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "three"
        ])
        .ok()
        .out(),
        "exited 3\n"
    );
    e.docker(&["run", "--rm", "busybox", "nope"])
        .run()
        .assert_code(127)
        .assert_stderr_contains(r#"exec: "nope": executable file not found in $PATH"#);
    e.docker(&["run", "--rm", "busybox", "/etc/passwd"])
        .run()
        .assert_code(126)
        .assert_stderr_contains(r#"exec: "/etc/passwd": permission denied"#);
    let missing = e.docker(&["run", "--rm", "nope"]).run();
    missing
        .assert_code(125)
        .assert_stderr_contains("Unable to find image 'nope:latest' locally");
    // The pull went to the test daemon's refusing proxy (HTTPS_PROXY, as dockerd honours
    // it; checked with strace: no DNS query either), never to Docker Hub.
    missing.assert_stderr_contains(r#"Get "https://registry-1.docker.io/v2/": proxyconnect tcp: dial tcp 127.0.0.1:9: connect: connection refused"#);
    e.docker(&["run", "--rm", "-u", "bob", "busybox", "true"])
        .run()
        .assert_code(125)
        .assert_stderr_contains("unable to find user bob: no matching entries in passwd file");
    // Failed starts with --rm left nothing: no container, mount or shim.
    assert_eq!(
        e.docker(&["ps", "-aq", "--filter", "status=created"])
            .ok()
            .out(),
        ""
    );
    e.docker(&["rm", "three"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn stdin_is_piped_and_half_closed() {
    let e = Env::new();
    let o = e
        .docker(&["run", "-i", "--rm", "busybox", "cat"])
        .stdin("hello\n")
        .run();
    o.assert_code(0);
    assert_eq!(o.out(), "hello\n");
    let o = e
        .docker(&["run", "-i", "--rm", "busybox", "wc", "-l"])
        .stdin("a\nb\nc\n")
        .run();
    assert_eq!(o.out().trim(), "3");
}

#[test]
fn detached_container_logs_stop_and_remove() {
    let e = Env::new();
    let id = e
        .docker(&[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "echo err1 >&2; sleep 0.2; echo out1; echo out2; exec sleep 1000",
        ])
        .ok()
        .out()
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    std::thread::sleep(Duration::from_millis(500));
    let logs = e.docker(&["logs", "web"]).ok();
    assert_eq!(logs.out(), "out1\nout2\n");
    assert_eq!(logs.err(), "err1\n");
    assert_eq!(
        e.docker(&["logs", "--tail", "1", "web"]).ok().out(),
        "out2\n"
    );
    let ts = e.docker(&["logs", "-t", "--tail", "1", "web"]).ok().out();
    assert!(ts.ends_with("Z out2\n") && ts.starts_with("20"), "{ts}");

    assert_eq!(
        e.docker(&["ps", "--format", "{{.Names}} {{.Command}}"])
            .ok()
            .out(),
        "web \"sh -c 'echo err1 >&…\"\n"
    );
    e.docker(&["rm", "web"]).run().assert_code(1).assert_stderr_contains(
        "Error response from daemon: cannot remove container \"web\": container is running: stop the container before removing or force remove",
    );
    e.docker(&["run", "-d", "--name", "web", "busybox", "true"])
        .run()
        .assert_code(125)
        .assert_stderr_contains(&format!(
            "Conflict. The container name \"/web\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
        ));
    let started = std::time::Instant::now();
    assert_eq!(e.docker(&["stop", "-t", "1", "web"]).ok().out(), "web\n");
    assert!(started.elapsed() < Duration::from_secs(5));
    // sleep as pid 1 ignores SIGTERM: SIGKILL after the timeout.
    assert_eq!(
        e.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}",
            "web"
        ])
        .ok()
        .out(),
        "exited 137 false\n"
    );
    assert_eq!(e.docker(&["wait", "web"]).ok().out(), "137\n");
    assert_eq!(e.docker(&["rm", "web"]).ok().out(), "web\n");
    e.docker(&["inspect", "web"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("No such object: web");
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn inspect_has_dockers_shape() {
    let e = Env::new();
    e.docker(&[
        "run", "-d", "--name", "i1", "-l", "k=v", "busybox", "sleep", "100",
    ])
    .ok();
    let out = e.docker(&["inspect", "i1"]).ok().out();
    let v: serde_json::Value = serde_json::from_str(&out).expect("inspect is JSON");
    let c = &v[0];
    assert_eq!(c["Name"], "/i1");
    assert_eq!(c["Path"], "sleep");
    assert_eq!(c["Args"], serde_json::json!(["100"]));
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["State"]["Running"], true);
    assert!(c["State"]["Pid"].as_i64().unwrap() > 0);
    assert_eq!(c["State"]["FinishedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(c["Config"]["Image"], "busybox");
    assert_eq!(c["Config"]["Labels"]["k"], "v");
    assert_eq!(c["HostConfig"]["NetworkMode"], "bridge");
    assert!(c["Image"].as_str().unwrap().starts_with("sha256:"));
    assert!(c["LogPath"].as_str().unwrap().ends_with("-json.log"));
    for k in [
        "Created",
        "HostConfig",
        "GraphDriver",
        "NetworkSettings",
        "Mounts",
        "RestartCount",
    ] {
        assert!(!c[k].is_null(), "{k} missing");
    }
}

#[test]
fn ps_filters() {
    let e = Env::new();
    e.docker(&[
        "run", "-d", "--name", "up1", "-l", "tier=web", "busybox", "sleep", "100",
    ])
    .ok();
    e.docker(&["run", "--name", "done1", "busybox", "true"])
        .ok();
    e.docker(&["create", "--name", "new1", "busybox", "true"])
        .ok();
    let names = |args: &[&str]| {
        let mut a = vec!["ps", "--format", "{{.Names}}"];
        a.extend_from_slice(args);
        let mut v = e.docker(&a).ok().lines();
        v.sort();
        v
    };
    assert_eq!(names(&[]), vec!["up1"]);
    assert_eq!(names(&["-a"]), vec!["done1", "new1", "up1"]);
    assert_eq!(names(&["-a", "--filter", "status=exited"]), vec!["done1"]);
    assert_eq!(names(&["-a", "--filter", "status=created"]), vec!["new1"]);
    assert_eq!(names(&["-a", "--filter", "name=done"]), vec!["done1"]);
    // The name filter is a regular expression, as docker's.
    assert_eq!(
        names(&["-a", "--filter", "name=^(up|new)1$"]),
        vec!["new1", "up1"]
    );
    assert_eq!(names(&["-a", "--filter", "name=^/done"]), vec!["done1"]);
    assert_eq!(names(&["-a", "--filter", "label=tier=web"]), vec!["up1"]);
    assert_eq!(names(&["-a", "--filter", "ancestor=busybox"]).len(), 3);
    let id = e.id_of("new1");
    assert_eq!(
        names(&["-a", "--filter", &format!("id={}", &id[..10])]),
        vec!["new1"]
    );
    assert_eq!(
        e.docker(&["ps", "-aq", "--no-trunc", "--filter", "name=new1"])
            .ok()
            .out(),
        format!("{id}\n")
    );
    assert_eq!(
        e.docker(&[
            "ps",
            "-a",
            "--filter",
            "name=done1",
            "--format",
            "{{.Status}}"
        ])
        .ok()
        .out()
        .split(" (0) ")
        .next(),
        Some("Exited")
    );
}

#[test]
fn exec_runs_in_the_container() {
    let e = Env::new();
    e.docker(&["run", "-d", "--name", "ex", "busybox", "sleep", "1000"])
        .ok();
    assert_eq!(
        e.docker(&["exec", "ex", "echo", "from-exec"]).ok().out(),
        "from-exec\n"
    );
    e.docker(&["exec", "ex", "sh", "-c", "exit 5"])
        .run()
        .assert_code(5);
    assert_eq!(
        e.docker(&[
            "exec",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            "-u",
            "nobody",
            "ex",
            "sh",
            "-c",
            "echo $A $(pwd) $(id -u)"
        ])
        .ok()
        .out(),
        "1 /tmp 65534\n"
    );
    assert_eq!(
        e.docker(&["exec", "-i", "ex", "cat"])
            .stdin("piped\n")
            .ok()
            .out(),
        "piped\n"
    );
    e.docker(&["exec", "ex", "nope"])
        .run()
        .assert_code(127)
        .assert_stdout_contains(r#"exec: "nope": executable file not found in $PATH"#);
    e.docker(&["exec", "-d", "ex", "touch", "/tmp/marker"]).ok();
    std::thread::sleep(Duration::from_millis(500));
    e.docker(&["exec", "ex", "test", "-f", "/tmp/marker"]).ok();
}

#[test]
fn lifecycle_pause_rename_restart_kill() {
    let e = Env::new();
    e.docker(&["run", "-d", "--name", "lc", "busybox", "sleep", "1000"])
        .ok();
    e.docker(&["pause", "lc"]).ok();
    let status = e.docker(&["ps", "--format", "{{.Status}}"]).ok().out();
    assert!(status.trim_end().ends_with("(Paused)"), "{status}");
    e.docker(&["unpause", "lc"]).ok();
    e.docker(&["rename", "lc", "lc2"]).ok();
    assert_eq!(
        e.docker(&["ps", "--format", "{{.Names}}"]).ok().out(),
        "lc2\n"
    );
    let pid1 = e
        .docker(&["inspect", "-f", "{{.State.Pid}}", "lc2"])
        .ok()
        .out();
    e.docker(&["restart", "-t", "1", "lc2"]).ok();
    let pid2 = e
        .docker(&["inspect", "-f", "{{.State.Pid}}", "lc2"])
        .ok()
        .out();
    assert_ne!(pid1, pid2);
    e.docker(&["kill", "-s", "KILL", "lc2"]).ok();
    assert_eq!(e.docker(&["wait", "lc2"]).ok().out(), "137\n");
    e.docker(&["kill", "lc2"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("is not running");
    assert!(
        e.docker(&["start", "-a", "lc2"])
            .timeout(Duration::from_secs(3))
            .run()
            .timed_out,
        "start -a follows the running container"
    );
    e.docker(&["rm", "-f", "lc2"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn image_in_use_cannot_be_deleted() {
    let e = Env::new();
    e.docker(&["run", "-d", "--name", "u1", "busybox", "sleep", "100"])
        .ok();
    let img = e.docker(&["inspect", "-f", "{{.Image}}", "u1"]).ok().out();
    let short = &img.trim()["sha256:".len().."sha256:".len() + 12];
    let cid = e.id_of("u1");
    e.docker(&["rmi", "busybox"]).run().assert_code(1).assert_stderr_contains(&format!(
        "conflict: unable to remove repository reference \"busybox\" (must force) - container {} is using its referenced image {short}",
        &cid[..12]
    ));
    e.docker(&["image", "prune", "-a", "-f"]).ok();
    e.docker(&["image", "inspect", "busybox"]).ok();
    e.docker(&["rmi", "-f", img.trim()]).run().assert_code(1).assert_stderr_contains(&format!(
        "conflict: unable to delete {short} (cannot be forced) - image is being used by running container {}",
        &cid[..12]
    ));
}

#[test]
fn live_restore_after_daemon_kill9() {
    let mut e = Env::new();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "keep",
        "busybox",
        "sh",
        "-c",
        "echo before; exec sleep 1000",
    ])
    .ok();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "ends",
        "busybox",
        "sh",
        "-c",
        "sleep 2; exit 7",
    ])
    .ok();
    let pid = e
        .docker(&["inspect", "-f", "{{.State.Pid}}", "keep"])
        .ok()
        .out();
    e.d.kill9();
    std::thread::sleep(Duration::from_secs(3));
    e.d.restart();
    assert_eq!(
        e.docker(&["ps", "--format", "{{.Names}}"]).ok().out(),
        "keep\n"
    );
    assert_eq!(
        e.docker(&["inspect", "-f", "{{.State.Pid}}", "keep"])
            .ok()
            .out(),
        pid
    );
    assert_eq!(e.docker(&["logs", "keep"]).ok().out(), "before\n");
    assert_eq!(
        e.docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "ends"
        ])
        .ok()
        .out(),
        "exited 7\n"
    );
    e.docker(&["stop", "-t", "1", "keep"]).ok();
    assert_eq!(
        e.docker(&["inspect", "-f", "{{.State.ExitCode}}", "keep"])
            .ok()
            .out(),
        "137\n"
    );
    e.docker(&["rm", "keep", "ends"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn twenty_containers_leave_nothing_behind() {
    let e = Env::new();
    let names: Vec<String> = (0..20).map(|i| format!("many{i}")).collect();
    let handles: Vec<_> = names
        .iter()
        .map(|n| {
            let cmd = e.docker(&["run", "-d", "--name", n, "busybox", "sleep", "1000"]);
            std::thread::spawn(move || cmd.run())
        })
        .collect();
    for h in handles {
        h.join().expect("docker run thread").assert_ok();
    }
    assert_eq!(e.docker(&["ps", "-q"]).ok().lines().len(), 20);
    let ids: Vec<String> = names.iter().map(|n| e.id_of(n)).collect();
    let mut rm = vec!["rm", "-f"];
    rm.extend(names.iter().map(String::as_str));
    e.docker(&rm).ok();
    assert_eq!(e.docker(&["ps", "-aq"]).ok().out(), "");
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
    for id in ids {
        assert_eq!(
            cgroup_dir("memory", &id),
            None,
            "cgroup of {id} left behind"
        );
    }
}

#[test]
fn memory_limit_is_in_the_cgroup_and_fork_bombs_are_contained() {
    let e = Env::new();
    e.docker(&[
        "run", "-d", "--name", "mem", "-m", "64m", "busybox", "sleep", "100",
    ])
    .ok();
    let id = e.id_of("mem");
    let dir = cgroup_dir("memory", &id).expect("the container's memory cgroup exists");
    let limit = ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .expect("a memory limit file");
    assert_eq!(limit.trim(), "67108864");
    assert_eq!(
        e.docker(&["inspect", "-f", "{{.HostConfig.Memory}}", "mem"])
            .ok()
            .out(),
        "67108864\n"
    );
    // 50 background sleeps under a limit of 10 pids: the 10th fork fails inside (ash
    // gives up with status 2), and the container ends normally.
    e.docker(&[
        "run",
        "--rm",
        "--pids-limit",
        "10",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 50); do sleep 3 & done; echo all-forked",
    ])
    .run()
    .assert_code(2)
    .assert_stderr_contains("sh: can't fork: Resource temporarily unavailable");
}

/// `docker run -it` under a pseudo-terminal (`script`): the window size reaches the
/// container, the exit code comes back, and ctrl-p ctrl-q detaches.
#[test]
fn interactive_tty_resize_and_detach() {
    let e = Env::new();
    let script = |cmd: &str, input: &str| {
        Cmd::new("script")
            .args(["-qfec", cmd, "/dev/null"])
            .env("DOCKER_HOST", e.d.host())
            .env("DOCKER_CONFIG", e.d.dir().join("docker-config"))
            .stdin(input)
            .timeout(Duration::from_secs(30))
            .run()
    };
    let o = script(
        &format!("stty cols 100 rows 30; {DOCKER_CLI} run -it --rm busybox sh"),
        "stty size\nexit 4\n",
    );
    o.assert_code(4);
    assert!(
        o.out().replace('\r', "").lines().any(|l| l == "30 100"),
        "{}",
        o.out()
    );

    // The keys must arrive once the CLI has put the terminal in raw mode (before, the
    // line discipline would take ctrl-q as XON), hence the pauses.
    let o = Cmd::new("sh")
        .args([
            "-c",
            &format!(
                "(sleep 2; printf 'echo a\\n'; sleep 1; printf '\\020\\021'; sleep 2) | script -qfec '{DOCKER_CLI} run -it --name det busybox sh' /dev/null"
            ),
        ])
        .env("DOCKER_HOST", e.d.host())
        .env("DOCKER_CONFIG", e.d.dir().join("docker-config"))
        .timeout(Duration::from_secs(30))
        .run();
    o.assert_code(0);
    assert_eq!(
        e.docker(&["inspect", "-f", "{{.State.Running}}", "det"])
            .ok()
            .out(),
        "true\n",
        "the container keeps running after a detach"
    );
}

/// `logs -f` follows until the container ends; container events come in docker's order.
#[test]
fn logs_follow_and_container_events() {
    let e = Env::new();
    let since = chrono::Utc::now().timestamp().to_string();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "fol",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo line$i; sleep 0.3; done",
    ])
    .ok();
    assert_eq!(
        e.docker(&["logs", "-f", "fol"]).ok().out(),
        "line1\nline2\nline3\n"
    );
    e.docker(&["run", "--rm", "--name", "evt", "busybox", "true"])
        .ok();
    let until = (chrono::Utc::now().timestamp() + 1).to_string();
    let ev = e
        .docker(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "container=evt",
            "--format",
            "{{.Action}}",
        ])
        .ok()
        .lines();
    assert_eq!(ev, vec!["create", "attach", "start", "die", "destroy"]);
}

/// `ps -s` and `inspect -s`: the writable layer's size and the virtual size with the
/// image (regression: both were missing).
#[test]
fn ps_and_inspect_report_sizes() {
    let e = Env::new();
    e.docker(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "dd",
        "if=/dev/zero",
        "of=/blob",
        "bs=1000",
        "count=100",
    ])
    .ok();
    let size = e
        .docker(&["ps", "-a", "-s", "--format", "{{.Size}}"])
        .ok()
        .out();
    assert!(size.starts_with("100kB (virtual "), "{size:?}");
    let v: serde_json::Value =
        serde_json::from_str(&e.docker(&["inspect", "-s", "writer"]).ok().out()).unwrap();
    assert_eq!(v[0]["SizeRw"], 100_000, "{}", v[0]);
    assert!(v[0]["SizeRootFs"].as_u64().unwrap() > 100_000, "{}", v[0]);
    let table = e.d.berth(["ps", "-a", "-s"]).ok().out();
    assert!(
        table.lines().next().unwrap().ends_with("SIZE") && table.contains("100kB (virtual "),
        "{table}"
    );
}

/// `--runtime` picks the OCI runtime per container, by docker's names: `runc` is built
/// in, an unknown name is docker's error (regression: the flag was ignored).
#[test]
fn runtime_is_chosen_per_container() {
    let e = Env::new();
    for cli in [Cli::Docker, Cli::Berth] {
        let out = common::cli(
            &e.d,
            cli,
            &["run", "--rm", "--runtime", "runc", "busybox", "echo", "hi"],
        )
        .ok();
        assert_eq!(out.out(), "hi\n");
        common::cli(
            &e.d,
            cli,
            &["run", "--rm", "--runtime", "nope", "busybox", "true"],
        )
        .run()
        .assert_code(125)
        .assert_stderr_contains("unknown or invalid runtime name: nope");
    }
    e.docker(&[
        "create",
        "--name",
        "r1",
        "--runtime",
        "runc",
        "busybox",
        "sleep",
        "30",
    ])
    .ok();
    e.docker(&["start", "r1"]).ok();
    // runc keeps its own state for the container under the daemon's runtime root
    // (`cli/`; the embedded runtime's is `embedded/`).
    let state = e.d.exec_root().join("runtime/cli");
    let id = e.id_of("r1");
    let found = std::fs::read_dir(&state)
        .map(|rd| rd.flatten().any(|d| d.file_name().to_string_lossy() == id))
        .unwrap_or(false);
    e.docker(&["rm", "-f", "r1"]).ok();
    assert!(found, "no runc state for {id} under {}", state.display());
}

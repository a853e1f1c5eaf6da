//! `berth daemon` flags: -H (several, unix and tcp), --data-root, --exec-root, --pidfile,
//! --config-file, one instance per data-root, clean shutdown, restart persistence.

mod common;
use common::*;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_berth");

/// Run a daemon that is expected to exit by itself (it fails to start).
fn daemon_expect_exit(args: &[String]) -> Output {
    Cmd::new(BIN)
        .args(args)
        .timeout(Duration::from_secs(20))
        .run()
}

#[test]
fn second_daemon_on_the_same_data_root_fails_clearly() {
    let d = daemon();
    let other_sock = d.dir().join("other.sock");
    let args: Vec<String> = vec![
        "daemon".into(),
        "-H".into(),
        format!("unix://{}", other_sock.display()),
        "--data-root".into(),
        d.data_root().display().to_string(),
        "--exec-root".into(),
        d.dir().join("exec2").display().to_string(),
        "--pidfile".into(),
        d.dir().join("other.pid").display().to_string(),
    ];
    let out = daemon_expect_exit(&args);
    assert!(!out.timed_out, "the second daemon kept running:\n{out}");
    assert!(!out.success(), "{out}");
    let err = out.err();
    assert!(
        err.contains(&d.data_root().display().to_string()),
        "the error names the data-root:\n{out}"
    );
    assert!(!err.contains("panicked"), "{out}");
    assert!(
        !other_sock.exists(),
        "the loser must not leave a socket behind"
    );
    assert!(d.ping(), "the first daemon is unaffected");
}

#[test]
fn second_daemon_on_the_same_socket_fails_clearly() {
    let d = daemon();
    let args: Vec<String> = vec![
        "daemon".into(),
        "-H".into(),
        d.host(),
        "--data-root".into(),
        d.dir().join("root2").display().to_string(),
        "--exec-root".into(),
        d.dir().join("exec2").display().to_string(),
        "--pidfile".into(),
        d.dir().join("other.pid").display().to_string(),
    ];
    let out = daemon_expect_exit(&args);
    assert!(!out.timed_out && !out.success(), "{out}");
    assert!(
        out.err().contains(&d.socket().display().to_string()),
        "the error names the socket:\n{out}"
    );
    assert!(d.ping(), "the first daemon's socket was not stolen");
}

#[test]
fn pidfile_and_clean_shutdown() {
    let mut d = daemon();
    let pid = d.pid().unwrap();
    let written = std::fs::read_to_string(d.pidfile()).expect("pidfile written");
    assert_eq!(written.trim(), pid.to_string());
    assert!(d.exec_root().is_dir(), "exec-root created");
    let code = d.stop(Duration::from_secs(15));
    assert_eq!(
        code,
        Some(0),
        "SIGTERM is a clean shutdown; log:\n{}",
        d.log()
    );
    assert!(!d.pidfile().exists(), "pidfile removed on shutdown");
    assert!(!d.socket().exists(), "socket removed on shutdown");
    // A stale pidfile and socket (from a crash) do not prevent the next start.
    std::fs::write(d.pidfile(), "999999\n").unwrap();
    d.restart();
    assert!(d.ping());
}

#[test]
fn images_survive_restart_and_crash() {
    let mut d = daemon();
    let ids = load_fixtures(&d);
    d.restart();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(all_ids(&d), want);
    assert_eq!(repo_tags(&d), ["c:v1", "b:v1", "a:v1", "<none>:<none>"]);
    d.docker(["tag", "a:v1", "a:after"]).ok();
    d.kill9();
    d.restart();
    let id = d
        .docker(["image", "inspect", "--format", "{{.Id}}", "a:after"])
        .ok();
    assert_eq!(
        id.out().trim(),
        ids[2],
        "a tag made before kill -9 is durable"
    );
    let out = d.docker(["history", "-q", "a:after"]).ok();
    assert_eq!(out.lines()[0], short(&ids[2]));
}

#[test]
fn several_hosts_unix_and_tcp() {
    let d = daemon();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sock_a = d.dir().join("a.sock");
    let sock_b = d.dir().join("b.sock");
    let root = d.dir().join("root-multi");
    let mut child = std::process::Command::new(BIN)
        .args(["daemon", "-H"])
        .arg(format!("unix://{}", sock_a.display()))
        .arg("--host")
        .arg(format!("unix://{}", sock_b.display()))
        .arg("-H")
        .arg(format!("tcp://127.0.0.1:{port}"))
        .arg("--data-root")
        .arg(&root)
        .arg("--exec-root")
        .arg(d.dir().join("exec-multi"))
        .arg("--pidfile")
        .arg(d.dir().join("multi.pid"))
        .args(["--log-level", "debug", "--debug"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut ok = false;
    for _ in 0..300 {
        if [&sock_a, &sock_b].iter().all(|s| {
            berth_testkit::http::unix_request(s, "GET", "/_ping", &[], None)
                .is_ok_and(|r| r.status == 200)
        }) {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let tcp = Cmd::new(DOCKER_CLI)
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .run();
    let info =
        berth_testkit::http::unix_request(&sock_a, "GET", "/info", &[], None).map(|r| r.json());
    let berth_b = Cmd::new(BIN)
        .args(["images", "-q"])
        .env("BERTH_HOST", format!("unix://{}", sock_b.display()))
        .run();
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "both unix sockets answer /_ping");
    assert_eq!(tcp.out(), "1.45\n", "tcp:// host serves the API:\n{tcp}");
    assert!(
        berth_b.success(),
        "BERTH_HOST selects the daemon:\n{berth_b}"
    );
    assert_eq!(
        info.expect("GET /info")["Debug"],
        true,
        "--debug shows in info"
    );
}

#[test]
fn config_file_and_conflicts() {
    let d = daemon();
    let root = d.dir().join("root-from-config");
    let cfg = d.dir().join("daemon.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"data-root": root, "debug": true}).to_string(),
    )
    .unwrap();
    let sock = d.dir().join("cfg.sock");
    let mut child = std::process::Command::new(BIN)
        .args(["daemon", "--config-file"])
        .arg(&cfg)
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .arg("--exec-root")
        .arg(d.dir().join("exec-cfg"))
        .arg("--pidfile")
        .arg(d.dir().join("cfg.pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut answered = None;
    for _ in 0..300 {
        if let Ok(r) = berth_testkit::http::unix_request(&sock, "GET", "/info", &[], None) {
            answered = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let info = answered.expect("daemon with --config-file answers").json();
    assert_eq!(
        info["DockerRootDir"],
        root.display().to_string(),
        "data-root comes from daemon.json"
    );
    assert_eq!(info["Debug"], true, "debug comes from daemon.json");

    // Unknown keys and invalid JSON are start-up errors, as with dockerd.
    for (name, content, needle) in [
        ("unknown.json", r#"{"no-such-option": 1}"#, "no-such-option"),
        ("invalid.json", "{not json", "invalid.json"),
    ] {
        let p = d.dir().join(name);
        std::fs::write(&p, content).unwrap();
        let out = daemon_expect_exit(&[
            "daemon".into(),
            "--config-file".into(),
            p.display().to_string(),
            "-H".into(),
            format!("unix://{}", d.dir().join("bad.sock").display()),
            "--data-root".into(),
            d.dir().join("root-bad").display().to_string(),
        ]);
        assert!(!out.timed_out && !out.success(), "{name}:\n{out}");
        assert!(
            out.err().contains(needle),
            "{name}: error should name {needle:?}:\n{out}"
        );
    }
    let out = daemon_expect_exit(&["daemon".into(), "--no-such-flag".into()]);
    assert!(
        !out.success() && out.err().contains("--no-such-flag"),
        "{out}"
    );
}

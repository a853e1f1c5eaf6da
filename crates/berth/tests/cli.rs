//! Client-side behaviour of the berth CLI compared with the real docker CLI: usage
//! errors (exit codes 125/1 and messages), host selection (-H, BERTH_HOST, DOCKER_HOST),
//! and an unreachable daemon.

mod common;
use common::*;

/// docker's stderr with the program name swapped, for comparison with berth's.
fn as_berth(s: &str) -> String {
    s.replace("docker", "berth")
}

#[test]
fn usage_errors_match_docker() {
    let d = daemon();
    let cases: &[&[&str]] = &[
        &["images", "--bogus"],
        &["rmi"],
        &["tag", "a"],
        &["history"],
        &["image", "inspect"],
        &["save"],
        &["load", "extra-arg"],
        &["import"],
        &["events", "--since"],
        &["image", "prune", "--filter"],
    ];
    for args in cases {
        let (docker, berth) = d.both(args);
        assert_eq!(
            docker.code, berth.code,
            "exit code for {args:?}\n=== docker\n{docker}\n=== berth\n{berth}"
        );
        let first = |o: &Output| o.err().lines().next().unwrap_or_default().to_string();
        assert_eq!(
            as_berth(&first(&docker)),
            first(&berth),
            "first stderr line for {args:?}"
        );
        assert_eq!(
            berth.out(),
            "",
            "{args:?}: usage errors print nothing on stdout"
        );
    }
    let (docker, berth) = d.both(&["nosuchcommand"]);
    assert_eq!(
        docker.code, berth.code,
        "unknown command\n{docker}\n{berth}"
    );
    assert!(berth.err().contains("nosuchcommand"), "{berth}");
}

#[test]
fn host_selection_flag_then_berth_host_then_docker_host() {
    let d = daemon();
    let bogus = "unix:///nonexistent/berth-test.sock";
    let bin = env!("CARGO_BIN_EXE_berth");
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let mut c = Cmd::new(bin)
            .args(args)
            .env_remove("DOCKER_HOST")
            .env_remove("BERTH_HOST")
            .env("DOCKER_CONFIG", d.dir().join("docker-config"));
        for (k, v) in envs {
            c = c.env(k, v);
        }
        c.run()
    };
    run(
        &["-H", &d.host(), "images", "-q"],
        &[("BERTH_HOST", bogus), ("DOCKER_HOST", bogus)],
    )
    .assert_ok();
    run(
        &["images", "-q"],
        &[("BERTH_HOST", &d.host()), ("DOCKER_HOST", bogus)],
    )
    .assert_ok();
    run(&["images", "-q"], &[("DOCKER_HOST", &d.host())]).assert_ok();
    run(
        &["--host", &d.host(), "version", "--format", "{{.Server.Os}}"],
        &[],
    )
    .assert_ok();
    let out = run(&["images"], &[("BERTH_HOST", bogus)]);
    assert_eq!(out.code, Some(1), "{out}");
    assert!(
        out.err().contains("/nonexistent/berth-test.sock"),
        "the error names the socket: {out}"
    );
    let docker = Cmd::new(DOCKER_CLI)
        .args(["images"])
        .env("DOCKER_HOST", bogus)
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .run();
    assert_eq!(docker.code, out.code, "same exit code as docker\n{docker}");
}

/// As root with the default socket absent, the CLI starts the daemon itself and says so.
/// Runs in a private mount namespace with tmpfs over /run, /var/lib and /var/log, so the default
/// paths (/run/berth, /var/lib/berth, /var/log/berth) are fresh and the host's are never touched.
#[test]
fn cli_autostarts_the_daemon_on_the_default_socket() {
    assert_eq!(
        unsafe { libc_geteuid() },
        0,
        "this test needs root (CI runs as root)"
    );
    let bin = env!("CARGO_BIN_EXE_berth");
    let script = format!(
        r#"set -u
mount --make-rprivate / && mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /var/log || exit 90
first=$({bin} images -q 2>&1); rc1=$?
second=$({bin} images 2>&1); rc2=$?
ls -l /run/berth/berth.sock >/dev/null 2>&1; sock=$?
me=$(readlink /proc/self/ns/mnt)
for p in /proc/[0-9]*; do
  [ "$(readlink $p/ns/mnt 2>/dev/null)" = "$me" ] || continue
  [ "$(tr '\0' '\n' < $p/cmdline 2>/dev/null | sed -n 2p)" = daemon ] && kill -9 "${{p#/proc/}}"
done
printf 'rc1=%s\nrc2=%s\nsock=%s\n--first--\n%s\n--second--\n%s\n' "$rc1" "$rc2" "$sock" "$first" "$second"
"#
    );
    let out = Cmd::new("unshare")
        .args(["--mount", "--fork", "sh", "-c", &script])
        .timeout(std::time::Duration::from_secs(60))
        .run();
    let s = out.out();
    assert!(
        s.contains("rc1=0\n"),
        "first command succeeds by starting the daemon:\n{out}"
    );
    assert!(
        s.contains("rc2=0\n"),
        "second command reaches the started daemon:\n{out}"
    );
    assert!(
        s.contains("sock=0\n"),
        "the daemon listens on /run/berth/berth.sock:\n{out}"
    );
    let first = s
        .split("--first--\n")
        .nth(1)
        .unwrap_or("")
        .split("--second--")
        .next()
        .unwrap_or("");
    let second = s.split("--second--\n").nth(1).unwrap_or("");
    assert!(
        first.to_lowercase().contains("daemon"),
        "the CLI says it started the daemon:\n{out}"
    );
    assert!(
        !second.to_lowercase().contains("starting"),
        "the second command starts nothing:\n{out}"
    );
    assert!(second.contains("REPOSITORY"), "{out}");
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

//! Volumes, end to end: the real docker CLI and the berth CLI against `berth daemon` —
//! `volume create|ls|inspect|rm|prune`, anonymous volumes and `rm -v`, volumes with
//! mount options, events, `system df`, and reference counts that survive a daemon
//! kill -9. Needs root (every berth test machine is).

mod common;
mod volumes_env;

use common::*;
use volumes_env::Env;

#[test]
fn volume_commands_match_docker() {
    let e = Env::new();
    for (i, c) in CLIS.iter().enumerate() {
        let name = format!("web-data{i}");
        cli(
            &e.d,
            *c,
            &["volume", "create", "--label", "purpose=test", &name],
        )
        .ok()
        .assert_stdout_contains(&name);
    }
    // A second create of the same name is the same volume.
    e.berth(&["volume", "create", "web-data0"]).ok();
    e.docker(&["volume", "create", "v10"]).ok();
    e.docker(&["volume", "create", "v2"]).ok();
    let ls = e.docker(&["volume", "ls"]).ok();
    assert_eq!(
        ls.out(),
        "DRIVER    VOLUME NAME\nlocal     v2\nlocal     v10\nlocal     web-data0\nlocal     web-data1\n"
    );
    for args in [
        &["volume", "ls"][..],
        &["volume", "ls", "-q"],
        &[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}}",
        ],
        &["volume", "ls", "-f", "label=purpose=test"],
        &["volume", "ls", "-f", "name=web", "-q"],
        &["volume", "ls", "-f", "dangling=true", "-q"],
        &["volume", "ls", "-f", "driver=local", "-q"],
        &["volume", "ls", "-f", "bogus=1"],
        &["volume", "ls", "--format", "json"],
        &[
            "volume",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Scope}}\t{{.Links}}\t{{.Group}}",
        ],
        &["inspect", "v2"],
        &["volume", "inspect", "web-data0"],
        &[
            "volume",
            "inspect",
            "--format",
            "{{.Name}} {{.Labels.purpose}} {{.Mountpoint}}",
            "v2",
        ],
        &["volume", "inspect", "nope"],
        &["volume", "rm", "nope"],
        &["volume", "create", "x@y"],
        &["volume", "create", "-o", "foo=1", "vopt"],
        &["volume", "create", "-d", "flocker", "vdrv"],
    ] {
        assert_same_output(&e.d, args);
    }
    let insp = e.docker(&["volume", "inspect", "web-data0"]).ok();
    let v: serde_json::Value = serde_json::from_str(&insp.out()).unwrap();
    let mp = e.d.data_root().join("volumes/web-data0/_data");
    assert_eq!(v[0]["Mountpoint"], mp.display().to_string());
    assert_eq!(v[0]["Labels"]["purpose"], "test");
    assert_eq!(v[0]["Scope"], "local");
    assert!(mp.is_dir());
    let o = e.docker(&["volume", "inspect", "nope"]).run();
    o.assert_code(1);
    o.assert_stderr_contains("get nope: no such volume");
    e.docker(&["volume", "create", "x@y"])
        .fails()
        .assert_stderr_contains(
            "create x@y: \"x@y\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
        );
    assert_eq!(
        e.docker(&["volume", "rm", "-f", "nope"]).ok().out(),
        "nope\n"
    );
    for (i, c) in CLIS.iter().enumerate() {
        let name = format!("web-data{i}");
        assert_eq!(
            cli(&e.d, *c, &["volume", "rm", &name]).ok().out(),
            format!("{name}\n")
        );
    }
    assert!(!mp.exists());
}

#[test]
fn prune_takes_anonymous_volumes_unless_all() {
    let e = Env::new();
    for c in CLIS {
        e.docker(&["volume", "create", "named"]).ok();
        e.docker(&["volume", "create", "--label", "keep=1", "kept"])
            .ok();
        e.docker(&["create", "-v", "/anon", "busybox"]).ok();
        e.docker(&["rm", "-f"])
            .args(e.docker(&["ps", "-aq"]).ok().lines())
            .ok();
        let anon: Vec<String> = e.volumes().into_iter().filter(|v| v.len() == 64).collect();
        assert_eq!(anon.len(), 1, "{:?}", e.volumes());
        let o = cli(&e.d, c, &["volume", "prune", "-f"]).ok();
        assert_eq!(
            o.out(),
            format!(
                "Deleted Volumes:\n{}\n\nTotal reclaimed space: 0B\n",
                anon[0]
            )
        );
        let o = cli(
            &e.d,
            c,
            &["volume", "prune", "-a", "-f", "--filter", "label!=keep"],
        )
        .ok();
        assert_eq!(
            o.out(),
            "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n"
        );
        assert_eq!(e.volumes(), vec!["kept"]);
        e.docker(&["volume", "rm", "kept"]).ok();
    }
    // Nothing to prune.
    assert_same_output(&e.d, &["volume", "prune", "-f"]);
    // Declined at the prompt: nothing removed, exit 0, docker's wording.
    e.docker(&["volume", "create", "kept2"]).ok();
    for args in [&["volume", "prune"][..], &["volume", "prune", "-a"]] {
        let d = e.docker(args).stdin("n\n").run();
        let b = e.berth(args).stdin("n\n").run();
        assert_eq!((d.code, d.out()), (b.code, b.out()), "{args:?}");
        assert!(d.out().starts_with("WARNING! This will remove "), "{d}");
    }
    assert_eq!(e.volumes(), vec!["kept2"]);
    e.docker(&["volume", "rm", "kept2"]).ok();
    // Before API 1.42 a prune took named volumes too.
    e.docker(&["volume", "create", "old-api"]).ok();
    let r = e.d.api("POST", "/v1.41/volumes/prune", None);
    assert_eq!(r.status, 200);
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["VolumesDeleted"], serde_json::json!(["old-api"]));
}

#[test]
fn data_persists_and_in_use_volumes_are_not_removed() {
    let e = Env::new();
    e.docker(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/f",
    ])
    .ok();
    let o = e
        .docker(&[
            "run",
            "--name",
            "reader",
            "-v",
            "data:/data",
            "busybox",
            "cat",
            "/data/f",
        ])
        .ok();
    assert_eq!(o.out(), "kept\n");
    let id = e.docker(&["inspect", "-f", "{{.Id}}", "reader"]).ok().out();
    let id = id.trim();
    for c in CLIS {
        let o = cli(&e.d, c, &["volume", "rm", "data"]).run();
        o.assert_code(1);
        o.assert_stderr_contains(&format!(
            "Error response from daemon: remove data: volume is in use - [{id}]"
        ));
    }
    assert_eq!(
        e.docker(&["volume", "ls", "-f", "dangling=false", "-q"])
            .ok()
            .out(),
        "data\n"
    );
    // `rm -v` never takes a named volume.
    e.docker(&["rm", "-v", "reader"]).ok();
    assert_eq!(e.volumes(), vec!["data"]);
    e.docker(&["volume", "rm", "data"]).ok();
    assert!(e.volumes().is_empty());
}

#[test]
fn anonymous_volumes_image_volumes_and_rm_v() {
    let e = Env::new();
    e.content_image();
    e.docker(&[
        "create", "--name", "ca", "-v", "/anon", "-v", "named:/n", "content", "true",
    ])
    .ok();
    let mounts = e
        .docker(&["inspect", "-f", "{{json .Mounts}}", "ca"])
        .ok()
        .out();
    let m: serde_json::Value = serde_json::from_str(&mounts).unwrap();
    let arr = m.as_array().unwrap();
    assert_eq!(arr.len(), 3, "{m}");
    let by = |d: &str| arr.iter().find(|x| x["Destination"] == d).unwrap().clone();
    let anon = by("/anon");
    assert_eq!(anon["Type"], "volume");
    assert_eq!(anon["Name"].as_str().unwrap().len(), 64);
    assert_eq!(anon["Driver"], "local");
    assert_eq!(anon["RW"], true);
    assert_eq!(by("/n")["Mode"], "z");
    assert_eq!(by("/n")["Name"], "named");
    let image_vol = by("/vol")["Name"].as_str().unwrap().to_string();
    let insp = e
        .docker(&["volume", "inspect", "-f", "{{json .Labels}}", &image_vol])
        .ok();
    assert_eq!(insp.out(), "{\"com.docker.volume.anonymous\":\"\"}\n");
    // The image's VOLUME is filled from the image at the first start.
    e.docker(&["start", "-a", "ca"]).ok();
    let seed =
        e.d.data_root()
            .join(format!("volumes/{image_vol}/_data/seed"));
    assert_eq!(std::fs::read_to_string(seed).unwrap(), "image-vol\n");
    assert_eq!(e.volumes().len(), 3);
    e.docker(&["rm", "-v", "ca"]).ok();
    assert_eq!(e.volumes(), vec!["named"]);
    // `--rm` takes its anonymous volumes along too.
    e.docker(&[
        "run",
        "--rm",
        "-v",
        "/x",
        "--mount",
        "type=volume,target=/y",
        "busybox",
        "true",
    ])
    .ok();
    assert_eq!(e.volumes(), vec!["named"]);
}

#[test]
fn references_survive_a_daemon_kill9() {
    let mut e = Env::new();
    e.docker(&[
        "create", "--name", "c1", "-v", "keep:/k", "-v", "/anon", "busybox",
    ])
    .ok();
    let anon: Vec<String> = e.volumes().into_iter().filter(|v| v.len() == 64).collect();
    e.d.kill9();
    e.d.restart();
    e.docker(&["volume", "rm", "keep"])
        .fails()
        .assert_stderr_contains("remove keep: volume is in use");
    assert_eq!(
        e.docker(&["volume", "ls", "-q", "-f", "dangling=true"])
            .ok()
            .out(),
        ""
    );
    e.docker(&["rm", "-v", "c1"]).ok();
    assert_eq!(e.volumes(), vec!["keep"]);
    assert!(!e.d.data_root().join("volumes").join(&anon[0]).exists());
    e.docker(&["volume", "rm", "keep"]).ok();
}

#[test]
fn volume_events_and_system_df() {
    let e = Env::new();
    let since = e.docker(&["version", "-f", "{{.Server.Os}}"]).ok();
    assert_eq!(since.out(), "linux\n");
    let start = chrono_now();
    e.docker(&["volume", "create", "ev"]).ok();
    std::fs::write(e.d.data_root().join("volumes/ev/_data/f"), "12345").unwrap();
    e.docker(&["run", "--rm", "-v", "ev:/e", "busybox", "true"])
        .ok();
    let o = e.docker(&["system", "df", "-v"]).ok();
    assert!(
        o.lines().iter().any(|l| columns(l) == ["ev", "0", "5B"]),
        "{o}"
    );
    e.docker(&["volume", "rm", "ev"]).ok();
    let until = chrono_now() + 1;
    let o = e
        .docker(&[
            "events",
            "--since",
            &start.to_string(),
            "--until",
            &until.to_string(),
            "--filter",
            "type=volume",
            "--format",
            "{{.Action}} {{.Actor.ID}}",
        ])
        .ok();
    assert_eq!(
        o.lines(),
        vec!["create ev", "mount ev", "unmount ev", "destroy ev"]
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn mounted(d: &TestDaemon, name: &str) -> bool {
    let p = d.data_root().join(format!("volumes/{name}/_data"));
    let want = format!(" {} ", p.display());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(&want))
}

/// `--opt type=tmpfs|none,device=,o=`: mounted by the first container that uses the
/// volume, unmounted when the last one stops (docker's local driver).
#[test]
fn volumes_with_mount_options_are_mounted_while_used() {
    let e = Env::new();
    e.docker(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=1m",
        "tv",
    ])
    .ok();
    let o = e
        .docker(&["volume", "inspect", "-f", "{{json .Options}}", "tv"])
        .ok();
    assert_eq!(
        o.out(),
        "{\"device\":\"tmpfs\",\"o\":\"size=1m\",\"type\":\"tmpfs\"}\n"
    );
    let host = e.d.scratch().join("dev");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("h"), "host file\n").unwrap();
    let dev = format!("device={}", host.display());
    e.docker(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &dev,
        "bv",
    ])
    .ok();
    assert!(!mounted(&e.d, "tv"));
    e.docker(&[
        "run", "-d", "--name", "u1", "-v", "tv:/t", "-v", "bv:/b", "busybox", "sleep", "60",
    ])
    .ok();
    e.docker(&[
        "run", "-d", "--name", "u2", "-v", "tv:/t", "busybox", "sleep", "60",
    ])
    .ok();
    assert!(mounted(&e.d, "tv") && mounted(&e.d, "bv"));
    e.docker(&["exec", "u1", "sh", "-c", "echo shared > /t/x"])
        .ok();
    let o = e
        .docker(&["exec", "u2", "sh", "-c", "cat /t/x; df -k /t | tail -1"])
        .ok();
    let lines = o.lines();
    assert_eq!(lines[0], "shared");
    assert!(
        lines[1].starts_with("tmpfs") && lines[1].contains(" 1024 "),
        "{o}"
    );
    let o = e.docker(&["exec", "u1", "cat", "/b/h"]).ok();
    assert_eq!(o.out(), "host file\n");
    e.docker(&["rm", "-f", "u1"]).ok();
    assert!(mounted(&e.d, "tv") && !mounted(&e.d, "bv"));
    e.docker(&["rm", "-f", "u2"]).ok();
    assert!(!mounted(&e.d, "tv"));
    // Volumes with options are never pruned (docker's rule), even with --all.
    e.docker(&["volume", "prune", "-a", "-f"]).ok();
    assert_eq!(e.volumes(), vec!["bv", "tv"]);
    for (opts, want) in [
        (&["-o", "foo=1"][..], "create bad: invalid option: \"foo\""),
        (
            &["-o", "type=tmpfs"],
            "create bad: missing required option: \"device\"",
        ),
    ] {
        let mut args = vec!["volume", "create"];
        args.extend(opts);
        args.push("bad");
        e.docker(&args).fails().assert_stderr_contains(want);
    }
}

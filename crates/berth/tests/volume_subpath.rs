//! `--mount type=volume,volume-subpath=...` (API `VolumeOptions.Subpath`) through the
//! docker CLI and the berth CLI: part of a volume mounted, read-only, in use, shown by
//! inspect, and docker's errors for hostile subpaths (`..`, symlinks out of the volume,
//! a subpath swapped for a symlink between create and start). Needs root.

mod common;
mod volumes_env;

use common::*;
use volumes_env::Env;

/// Creates volume `name` holding `sub/dir/f` ("hi") plus the links `etc -> /etc` and
/// `up -> ..`; returns its data dir as the daemon names it.
fn seeded(e: &Env, name: &str) -> String {
    let v = format!("{name}:/v");
    e.docker(&[
        "run",
        "--rm",
        "-v",
        &v,
        "busybox",
        "sh",
        "-c",
        "mkdir -p /v/sub/dir && echo hi > /v/sub/dir/f && ln -s /etc /v/etc && ln -s .. /v/up",
    ])
    .ok();
    let mp = e
        .docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", name])
        .ok()
        .out()
        .trim()
        .to_string();
    std::fs::canonicalize(mp).unwrap().display().to_string()
}

#[test]
fn subpath_mounts_part_of_a_volume_read_only_and_holds_it() {
    let e = Env::new();
    let data = seeded(&e, "sv");
    for c in CLIS {
        let o = cli(
            &e.d,
            c,
            &[
                "run",
                "--rm",
                "--mount",
                "type=volume,src=sv,dst=/p,volume-subpath=sub/dir",
                "busybox",
                "sh",
                "-c",
                "cat /p/f && echo more > /p/g && ls /p",
            ],
        )
        .ok();
        assert_eq!(o.out(), "hi\nf\ng\n", "{c:?}");
        let o = cli(
            &e.d,
            c,
            &[
                "run",
                "--rm",
                "--mount",
                "type=volume,src=sv,dst=/p,volume-subpath=sub,readonly",
                "busybox",
                "sh",
                "-c",
                "cat /p/dir/f; touch /p/x 2>&1; echo rc=$?",
            ],
        )
        .ok();
        assert_eq!(o.out(), "hi\ntouch: /p/x: Read-only file system\nrc=1\n");
    }
    assert_eq!(
        std::fs::read_to_string(format!("{data}/sub/dir/g")).unwrap(),
        "more\n"
    );
    assert!(!std::path::Path::new(&format!("{data}/sub/x")).exists());
    // A container made with a subpath holds the volume and shows it as docker does.
    let id = e
        .docker(&[
            "create",
            "--mount",
            "type=volume,src=sv,dst=/p,volume-subpath=sub/dir",
            "busybox",
        ])
        .ok()
        .out()
        .trim()
        .to_string();
    let o = e.docker(&["volume", "rm", "sv"]).run();
    o.assert_code(1);
    o.assert_stderr_contains(&format!(
        "Error response from daemon: remove sv: volume is in use - [{id}]"
    ));
    let o = e
        .docker(&[
            "inspect",
            "-f",
            "{{json .HostConfig.Mounts}} {{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}}{{end}}",
            &id,
        ])
        .ok();
    assert_eq!(
        o.out().trim(),
        "[{\"Type\":\"volume\",\"Source\":\"sv\",\"Target\":\"/p\",\"VolumeOptions\":{\"Subpath\":\"sub/dir\",\"DriverConfig\":{}}}] volume sv /p true"
    );
    let o = e
        .docker(&["inspect", "-f", "{{range .Mounts}}{{.Source}}{{end}}", &id])
        .ok();
    assert_eq!(
        std::fs::canonicalize(o.out().trim())
            .unwrap()
            .display()
            .to_string(),
        data
    );
}

#[test]
fn hostile_subpaths_get_dockers_errors() {
    let e = Env::new();
    let data = seeded(&e, "hv");
    let cfg = "invalid mount config for type \"volume\": ";
    let create_time = [
        (
            "type=volume,src=hv,dst=/p,volume-subpath=../../etc",
            format!("{cfg}subpath must be a relative path within the volume"),
        ),
        (
            "type=volume,src=hv,dst=/p,volume-subpath=/etc",
            format!("{cfg}subpath must be a relative path within the volume"),
        ),
        (
            "type=volume,dst=/p,volume-subpath=sub",
            format!("{cfg}must not set Subpath when using anonymous volumes"),
        ),
    ];
    let escapes = |sub: &str| {
        format!("path concatenation escapes the base directory, base: {data}, subpath: {sub}")
    };
    let start_time = [
        (
            "type=volume,src=hv,dst=/p,volume-subpath=etc",
            escapes("etc"),
        ),
        ("type=volume,src=hv,dst=/p,volume-subpath=up", escapes("up")),
        (
            "type=volume,src=hv,dst=/p,volume-subpath=up/_data/etc",
            escapes("up/_data/etc"),
        ),
        (
            "type=volume,src=hv,dst=/p,volume-subpath=sub/nope/x",
            format!(
                "cannot access path {data}/sub/nope/x: lstat {data}/sub/nope: no such file or directory"
            ),
        ),
    ];
    for (m, want) in create_time.iter().chain(start_time.iter()) {
        for c in CLIS {
            let o = cli(
                &e.d,
                c,
                &["run", "--rm", "--mount", m, "busybox", "ls", "/p"],
            )
            .run();
            // The docker CLI maps "no such file or directory" to 127.
            o.assert_code(if want.contains("no such file") {
                127
            } else {
                125
            });
            o.assert_stderr_contains(want);
            assert!(!o.out().contains("passwd"), "{m}: {}", o.out());
        }
    }
    // Refused at create, or removed after the failed start (`--rm`), as docker does.
    assert!(e.docker(&["ps", "-aq"]).ok().lines().is_empty());
    // A subpath that is fine at create and a symlink out of the volume at start.
    e.docker(&[
        "create",
        "--name",
        "swapped",
        "--mount",
        "type=volume,src=hv,dst=/p,volume-subpath=sub/dir",
        "busybox",
        "ls",
        "/p",
    ])
    .ok();
    e.docker(&[
        "run",
        "--rm",
        "-v",
        "hv:/v",
        "busybox",
        "sh",
        "-c",
        "rm -rf /v/sub/dir && ln -s /etc /v/sub/dir",
    ])
    .ok();
    for c in CLIS {
        let o = cli(&e.d, c, &["start", "-a", "swapped"]).run();
        o.assert_code(1);
        o.assert_stderr_contains(&escapes("sub/dir"));
        assert!(!o.out().contains("passwd"));
    }
}

//! Volumes and mounts, end to end: the real docker CLI and the berth CLI against
//! `berth daemon` — named, anonymous, bind (dir and file), tmpfs, `--volumes-from`,
//! copy-up, read-only mounts, docker's errors, and reference counts that survive a
//! daemon kill -9. Needs root (every berth test machine is).

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// A daemon with busybox; containers and volumes are removed on drop, and no mount
/// under the test's dirs may be left behind.
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
    fn berth(&self, args: &[&str]) -> Cmd {
        self.d.berth(args).timeout(Duration::from_secs(60))
    }
    fn volumes(&self) -> Vec<String> {
        self.docker(&["volume", "ls", "-q"]).ok().lines()
    }
    /// An image whose `/data` holds content (owned 1000:1000, mode 0750, a symlink
    /// out of the root) and that declares `VOLUME /vol`.
    fn content_image(&self) {
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
fn read_only_mounts_fail_with_erofs() {
    let e = Env::new();
    let host = e.d.scratch().join("ro");
    std::fs::create_dir_all(&host).unwrap();
    let bind = format!("{}:/b:ro", host.display());
    for args in [
        vec!["-v", "rov:/d:ro"],
        vec!["--mount", "type=volume,source=rov,target=/d,readonly"],
        vec!["-v", &bind],
    ] {
        let dir = if args[1].contains("/b") { "/b" } else { "/d" };
        let mut cmd = vec!["run", "--rm"];
        cmd.extend(args.iter().copied());
        cmd.extend(["busybox", "sh", "-c"]);
        let script = format!("touch {dir}/x 2>&1; echo rc=$?");
        cmd.push(&script);
        let o = e.docker(&cmd).ok();
        assert_eq!(
            o.out(),
            format!("touch: {dir}/x: Read-only file system\nrc=1\n"),
            "{args:?}"
        );
    }
    assert!(std::fs::read_dir(&host).unwrap().next().is_none());
}

#[test]
fn binds_of_dirs_and_single_files() {
    let e = Env::new();
    let dir = e.d.scratch().join("shared");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("in"), "from host\n").unwrap();
    let file = e.d.scratch().join("one.conf");
    std::fs::write(&file, "single\n").unwrap();
    let v1 = format!("{}:/shared", dir.display());
    let v2 = format!("{}:/etc/one.conf:ro", file.display());
    let o = e
        .docker(&[
            "run",
            "--rm",
            "-v",
            &v1,
            "-v",
            &v2,
            "busybox",
            "sh",
            "-c",
            "cat /shared/in /etc/one.conf && echo out > /shared/out",
        ])
        .ok();
    assert_eq!(o.out(), "from host\nsingle\n");
    assert_eq!(std::fs::read_to_string(dir.join("out")).unwrap(), "out\n");
    // `-v` creates a missing host dir; `--mount type=bind` refuses it (nothing created).
    let missing = e.d.scratch().join("made/by/v");
    let v3 = format!("{}:/m", missing.display());
    e.docker(&["run", "--rm", "-v", &v3, "busybox", "true"])
        .ok();
    assert!(missing.is_dir());
    let gone = e.d.scratch().join("not-there");
    for c in CLIS {
        let m = format!("type=bind,source={},target=/m", gone.display());
        let o = cli(&e.d, c, &["run", "--rm", "--mount", &m, "busybox", "true"]).run();
        o.assert_code(125);
        o.assert_stderr_contains(&format!(
            "invalid mount config for type \"bind\": bind source path does not exist: {}",
            gone.display()
        ));
    }
    assert!(!gone.exists());
    assert!(e.docker(&["ps", "-aq"]).ok().lines().is_empty());
}

#[test]
fn bad_mount_specs_get_dockers_errors_and_create_nothing() {
    let e = Env::new();
    let vol = "includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["-v", "/tmp:rel"], "invalid volume specification: '/tmp:rel': invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute".into()),
        (vec!["-v", "/tmp:../x"], "invalid volume specification: '/tmp:../x': invalid mount config for type \"bind\": invalid mount path: '../x' mount path must be absolute".into()),
        (vec!["-v", "/tmp:/"], "invalid volume specification: '/tmp:/': invalid mount config for type \"bind\": invalid specification: destination can't be '/'".into()),
        (vec!["-v", "vv:/d/.."], "invalid volume specification: 'vv:/d/..': invalid mount config for type \"volume\": invalid specification: destination can't be '/'".into()),
        (vec!["-v", "x@y:/data"], format!("create x@y: \"x@y\" {vol}")),
        (vec!["-v", "/tmp:/d:bogus"], "invalid mode: bogus".into()),
        (vec!["--mount", "type=bind,source=/tmp,target=rel"], "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must be absolute".into()),
        (vec!["--mount", "type=volume,source=ok1,target=/"], "invalid mount config for type \"volume\": invalid specification: destination can't be '/'".into()),
        (vec!["--mount", "type=volume,target=/d,readonly"], "invalid mount config for type \"volume\": must not set ReadOnly mode when using anonymous volumes".into()),
        (vec!["-v", "ok2:/d", "-v", "/tmp:/d"], "Duplicate mount point: /d".into()),
    ];
    for (flags, want) in &cases {
        for c in CLIS {
            let mut args = vec!["run", "--rm"];
            args.extend(flags.iter().copied());
            args.extend(["busybox", "true"]);
            let o = cli(&e.d, c, &args).run();
            o.assert_code(125);
            o.assert_stderr_contains(want);
        }
    }
    assert!(e.docker(&["ps", "-aq"]).ok().lines().is_empty());
    assert!(e.volumes().is_empty(), "{:?}", e.volumes());
}

#[test]
fn copy_up_keeps_ownership_modes_and_links_unless_nocopy() {
    let e = Env::new();
    e.content_image();
    let o = e
        .docker(&[
            "run",
            "--rm",
            "-v",
            "filled:/data",
            "content",
            "sh",
            "-c",
            "stat -c '%n %u:%g %a' /data /data/sub/f && readlink /data/esc && cat /data/sub/f",
        ])
        .ok();
    assert_eq!(
        o.out(),
        "/data 1000:1000 750\n/data/sub/f 1000:1000 640\n/etc\nhi\n"
    );
    let data = e.d.data_root().join("volumes/filled/_data");
    assert_eq!(
        std::fs::read_link(data.join("esc")).unwrap(),
        Path::new("/etc")
    );
    // Only an empty volume is filled: what a container wrote stays.
    e.docker(&[
        "run",
        "--rm",
        "-v",
        "filled:/data",
        "content",
        "sh",
        "-c",
        "rm -r /data/sub && echo mine > /data/own",
    ])
    .ok();
    let o = e
        .docker(&[
            "run",
            "--rm",
            "-v",
            "filled:/data",
            "content",
            "ls",
            "/data",
        ])
        .ok();
    assert_eq!(o.lines(), vec!["esc", "own"]);
    let o = e
        .docker(&[
            "run",
            "--rm",
            "-v",
            "empty:/data:nocopy",
            "content",
            "ls",
            "-A",
            "/data",
        ])
        .ok();
    assert_eq!(o.out(), "");
    let o = e
        .docker(&[
            "run",
            "--rm",
            "--mount",
            "type=volume,src=empty2,dst=/data,volume-nocopy",
            "content",
            "ls",
            "-A",
            "/data",
        ])
        .ok();
    assert_eq!(o.out(), "");
}

/// Hostile image: `/data` is a symlink to an absolute path that exists on the host,
/// and its content links out of the root. Copy-up and the mount resolve inside the
/// container's root; nothing on the host is read or written.
#[test]
fn symlinks_in_images_and_volumes_never_escape() {
    let e = Env::new();
    let outside = e.d.scratch().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret"), "host\n").unwrap();
    let script = format!(
        "mkdir -p /inner && echo image > /inner/f && ln -s {0} /inner/esc && ln -s {0} /data",
        outside.display()
    );
    e.docker(&["run", "--name", "prep", "busybox", "sh", "-c", &script])
        .ok();
    e.docker(&["commit", "prep", "hostile"]).ok();
    e.docker(&["rm", "prep"]).ok();
    // The mount target /data -> <host dir>: created inside the root instead.
    e.docker(&[
        "run",
        "--rm",
        "-v",
        "h1:/data",
        "hostile",
        "sh",
        "-c",
        "echo in > /data/w",
    ])
    .ok();
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    // Copy-up of a tree with an escaping link copies the link, never its target.
    let o = e
        .docker(&[
            "run",
            "--rm",
            "-v",
            "h2:/inner",
            "hostile",
            "sh",
            "-c",
            "cat /inner/f; ls /inner/esc/ 2>&1 | head -1",
        ])
        .ok();
    assert!(o.out().starts_with("image\n"), "{o}");
    let vol = e.d.data_root().join("volumes/h2/_data");
    assert_eq!(std::fs::read_link(vol.join("esc")).unwrap(), outside);
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "host\n"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
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
fn volumes_from_tmpfs_and_ps() {
    let e = Env::new();
    e.docker(&[
        "run",
        "--name",
        "src",
        "-v",
        "shared:/s",
        "busybox",
        "sh",
        "-c",
        "echo one > /s/f",
    ])
    .ok();
    let o = e
        .docker(&[
            "run",
            "--rm",
            "--volumes-from",
            "src:ro",
            "busybox",
            "sh",
            "-c",
            "cat /s/f; touch /s/x 2>&1",
        ])
        .run();
    assert_eq!(o.out(), "one\ntouch: /s/x: Read-only file system\n");
    let o = e
        .docker(&[
            "run",
            "--rm",
            "--volumes-from",
            "src",
            "busybox",
            "sh",
            "-c",
            "echo two >> /s/f; cat /s/f",
        ])
        .ok();
    assert_eq!(o.out(), "one\ntwo\n");
    e.docker(&["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"])
        .fails()
        .assert_stderr_contains("No such container: nosuch");
    let o = e
        .docker(&[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770",
            "busybox",
            "sh",
            "-c",
            "stat -c %a /t; df -k /t | tail -1",
        ])
        .ok();
    let lines = o.lines();
    assert_eq!(lines[0], "1770");
    assert!(
        lines[1].starts_with("tmpfs") && lines[1].contains(" 1024 "),
        "{o}"
    );
    for c in CLIS {
        assert_eq!(
            cli(
                &e.d,
                c,
                &[
                    "ps",
                    "-a",
                    "--filter",
                    "volume=shared",
                    "--format",
                    "{{.Names}} {{.Mounts}}"
                ]
            )
            .ok()
            .out(),
            "src shared\n"
        );
        assert_eq!(
            cli(&e.d, c, &["ps", "-a", "-q", "--filter", "volume=/nothing"])
                .ok()
                .out(),
            ""
        );
    }
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

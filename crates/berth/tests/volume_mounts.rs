//! Mounts, end to end: binds (dirs and single files), read-only mounts, tmpfs,
//! `--volumes-from`, copy-up, `docker cp` into volumes, docker's errors for bad specs,
//! and hostile symlinks in images and volumes. Needs root.

mod common;
mod volumes_env;

use common::*;
use std::path::Path;
use volumes_env::Env;

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
        (
            vec!["--mount", "type=bind,src=/tmp,dst=/d,foo=bar"],
            "for \"--mount\" flag: unexpected key 'foo' in 'foo=bar'".into(),
        ),
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

/// `docker cp` sees volumes and binds (stopped or running container), and a symlink a
/// container left in a volume resolves inside the container, never on the host.
#[test]
fn cp_reaches_volumes_and_symlinks_in_them_never_escape() {
    let e = Env::new();
    let host = e.d.scratch().join("bind");
    let outside = e.d.scratch().join("outside");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(host.join("in"), "bound\n").unwrap();
    let file = e.d.scratch().join("f.txt");
    std::fs::write(&file, "copied\n").unwrap();
    let links = format!(
        "ln -s / /data/esc && ln -s {} /data/esc2",
        outside.display()
    );
    e.docker(&[
        "run",
        "--rm",
        "-v",
        "cpv:/data",
        "busybox",
        "sh",
        "-c",
        &links,
    ])
    .ok();
    let bind = format!("{}:/b:ro", host.display());
    e.docker(&[
        "create",
        "--name",
        "cpc",
        "-v",
        "cpv:/data",
        "-v",
        &bind,
        "busybox",
    ])
    .ok();
    let vol = e.d.data_root().join("volumes/cpv/_data");
    let f = file.display().to_string();
    e.docker(&["cp", &f, "cpc:/data/new.txt"]).ok();
    assert_eq!(
        std::fs::read_to_string(vol.join("new.txt")).unwrap(),
        "copied\n"
    );
    let o = e.docker(&["cp", "cpc:/b/in", "-"]).ok();
    assert!(o.out().contains("bound\n"), "{o}");
    e.docker(&["cp", &f, "cpc:/b/x"])
        .fails()
        .assert_stderr_contains("Error response from daemon: mounted volume is marked read-only");
    assert!(!host.join("x").exists());
    // Through the links: into the container's own root, not the host's.
    e.docker(&["cp", &f, "cpc:/data/esc/pwned"]).ok();
    // The absolute link names nothing inside the root: docker's "Could not find".
    e.docker(&["cp", &f, "cpc:/data/esc2/pwned"])
        .fails()
        .assert_stderr_contains("Could not find the file /data/esc2 in container cpc");
    assert!(!Path::new("/pwned").exists());
    let o = e.docker(&["cp", "cpc:/pwned", "-"]).ok();
    assert!(o.out().contains("copied\n"), "{o}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    let o = e.docker(&["start", "-a", "cpc"]).ok();
    assert_eq!(o.out(), "");
    let o = e
        .docker(&[
            "run",
            "--rm",
            "--volumes-from",
            "cpc",
            "busybox",
            "cat",
            "/data/new.txt",
        ])
        .ok();
    assert_eq!(o.out(), "copied\n");
    // A running container: the copy lands in the volume it has mounted.
    e.docker(&[
        "run",
        "-d",
        "--name",
        "cpr",
        "-v",
        "cpv:/data",
        "busybox",
        "sleep",
        "60",
    ])
    .ok();
    e.docker(&["cp", &f, "cpr:/data/live.txt"]).ok();
    let o = e.docker(&["exec", "cpr", "cat", "/data/live.txt"]).ok();
    assert_eq!(o.out(), "copied\n");
    assert!(vol.join("live.txt").exists());
    e.docker(&["rm", "-f", "cpr"]).ok();
}

#[test]
fn inspect_keeps_the_request_and_shows_dockers_mounts() {
    let e = Env::new();
    let src = e.d.scratch().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let bind = format!("{}:/b:ro,rslave", src.display());
    let m = format!("type=bind,src={},dst=/m,readonly", src.display());
    e.docker(&[
        "create",
        "--name",
        "ins",
        "-v",
        &bind,
        "--mount",
        &m,
        "--mount",
        "type=tmpfs,dst=/t,tmpfs-size=1m",
        "-v",
        "nv:/n:nocopy",
        "busybox",
    ])
    .ok();
    let hc = e
        .docker(&["inspect", "-f", "{{json .HostConfig}}", "ins"])
        .ok();
    let hc: serde_json::Value = serde_json::from_str(&hc.out()).unwrap();
    // The docker CLI sends binds in map order: compare as a set.
    let mut binds: Vec<String> = serde_json::from_value(hc["Binds"].clone()).unwrap();
    binds.sort();
    assert_eq!(
        binds,
        vec![
            format!("{}:/b:ro,rslave", src.display()),
            "nv:/n:nocopy".into()
        ]
    );
    assert_eq!(
        hc["Mounts"],
        serde_json::json!([
            {"Type": "bind", "Source": src.display().to_string(), "Target": "/m", "ReadOnly": true},
            {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576}}
        ])
    );
    let o = e
        .docker(&["inspect", "-f", "{{range .Mounts}}{{.Type}}|{{.Name}}|{{.Destination}}|{{.Mode}}|{{.RW}}|{{.Propagation}};{{end}}", "ins"])
        .ok();
    assert_eq!(
        o.out(),
        "bind||/b|ro,rslave|false|rslave;bind||/m||false|rprivate;volume|nv|/n|nocopy|true|;tmpfs||/t||true|;\n"
    );
}

/// Bind propagation takes effect with the default runtime (a container asking for
/// shared/slave propagation runs under runc: the embedded runtime cannot set it up):
/// `rslave` receives what the host mounts under the source later.
#[test]
fn bind_propagation_takes_effect() {
    let d = TestDaemon::start(env!("CARGO_BIN_EXE_berth"));
    import_busybox(&d, "busybox");
    let src = d.scratch().join("shared-src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let s = src.display().to_string();
    // The source must be a shared mount for a slave to have a master.
    let sh = |args: &[&str]| {
        let st = std::process::Command::new("mount")
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "mount {args:?}");
    };
    sh(&["--bind", &s, &s]);
    let mut guard = Unmount(vec![s.clone()]);
    sh(&["--make-shared", &s]);
    let line = |prop: &str| {
        let m = format!("type=bind,source={s},target=/p,bind-propagation={prop}");
        d.docker([
            "run",
            "--rm",
            "--mount",
            &m,
            "busybox",
            "grep",
            " /p ",
            "/proc/self/mountinfo",
        ])
        .ok()
        .out()
    };
    let private = line("rprivate");
    let slave = line("rslave");
    let m = format!("type=bind,source={s},target=/p,bind-propagation=rslave");
    d.docker([
        "run", "-d", "--name", "watch", "--mount", &m, "busybox", "sleep", "60",
    ])
    .ok();
    let sub = src.join("sub").display().to_string();
    sh(&["-t", "tmpfs", "tmpfs", &sub]);
    guard.0.push(sub.clone());
    let seen = d
        .docker(["exec", "watch", "grep", " /p/sub ", "/proc/self/mountinfo"])
        .run();
    d.docker(["rm", "-f", "watch"]).ok();
    drop(guard);
    assert!(
        !private.contains("master:") && !private.contains("shared:"),
        "{private}"
    );
    assert!(slave.contains("master:"), "{slave}");
    assert!(seen.success() && seen.out().contains("tmpfs"), "{seen}");
}

/// Unmounts what a test mounted on the host, last first, even when it fails.
struct Unmount(Vec<String>);

impl Drop for Unmount {
    fn drop(&mut self) {
        for p in self.0.iter().rev() {
            let _ = std::process::Command::new("umount").arg(p).status();
        }
    }
}

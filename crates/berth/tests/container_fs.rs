//! `docker cp` over `/containers/{id}/archive`, end to end with the real docker CLI,
//! for running and stopped containers, plus hostile symlinks inside the container
//! that must never let cp read or write host files. Needs root.

mod common;

use common::*;
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

/// `docker cp CTR:PATH -` as the bytes of the named entry.
fn cp_out(e: &Env, src: &str, name: &str) -> Option<Vec<u8>> {
    let out = e.d.docker(["cp", src, "-"]).run();
    if !out.success() {
        return None;
    }
    tar_entry(&out.stdout, name)
}

#[test]
fn cp_into_and_out_of_running_and_stopped_containers() {
    let e = Env::new();
    let host = e.d.scratch().join("cp-src");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("hello.txt"), "hello from host\n").unwrap();
    let src = host.join("hello.txt").display().to_string();

    // Running: the file shows up inside at once.
    e.docker(&["run", "-d", "--name", "run1", "busybox", "sleep", "600"])
        .ok();
    e.docker(&["cp", &src, "run1:/tmp/"]).ok();
    let cat = e.docker(&["exec", "run1", "cat", "/tmp/hello.txt"]).ok();
    assert_eq!(cat.out(), "hello from host\n");
    e.docker(&["exec", "run1", "sh", "-c", "echo inside > /tmp/in.txt"])
        .ok();
    let dst = e.d.scratch().join("cp-dst");
    std::fs::create_dir_all(&dst).unwrap();
    e.docker(&["cp", "run1:/tmp/in.txt", &dst.display().to_string()])
        .ok();
    assert_eq!(
        std::fs::read_to_string(dst.join("in.txt")).unwrap(),
        "inside\n"
    );
    // A renamed copy, and a directory.
    let renamed = dst.join("renamed.txt").display().to_string();
    e.docker(&["cp", "run1:/tmp/in.txt", &renamed]).ok();
    assert_eq!(std::fs::read_to_string(&renamed).unwrap(), "inside\n");
    e.docker(&["cp", "run1:/etc", &dst.display().to_string()])
        .ok();
    assert!(dst.join("etc/passwd").is_file());

    // Missing paths: docker's message and exit code 1.
    let miss = e
        .docker(&["cp", "run1:/nope", &dst.display().to_string()])
        .run();
    miss.assert_code(1)
        .assert_stderr_contains("Could not find the file /nope in container run1");

    // Stopped (never started): the overlay is mounted only for the copy.
    e.docker(&[
        "create",
        "--name",
        "stopped1",
        "busybox",
        "cat",
        "/hello.txt",
    ])
    .ok();
    e.docker(&["cp", &src, "stopped1:/"]).ok();
    assert_eq!(
        cp_out(&e, "stopped1:/hello.txt", "hello.txt").unwrap(),
        b"hello from host\n"
    );
    let run = e.docker(&["start", "-a", "stopped1"]).ok();
    assert_eq!(run.out(), "hello from host\n");
    // No temporary mount is left behind.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = e.d.data_root().display().to_string();
    assert!(
        !mounts
            .lines()
            .any(|l| l.contains(&root) && l.contains("/cp-")),
        "{mounts}"
    );
}

#[test]
fn hostile_symlink_cannot_read_host_files() {
    let e = Env::new();
    let secret_dir = e.d.scratch().join("host-secret");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("secret"), "HOST SECRET\n").unwrap();
    e.docker(&["run", "--name", "evil", "busybox", "ln", "-s", "/", "/evil"])
        .ok();
    e.docker(&[
        "run", "--name", "evil2", "busybox", "ln", "-s", "/etc", "/evil",
    ])
    .ok();

    // `/evil/<host path>` resolves inside the container, where it does not exist.
    let p = format!("evil:/evil{}/secret", secret_dir.display());
    let out = e.docker(&["cp", &p, "-"]).run();
    out.assert_code(1)
        .assert_stderr_contains("Could not find the file");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("HOST SECRET"));

    // `/evil -> /etc`: shadow, if anything, is the container's, never the host's.
    if let Ok(host_shadow) = std::fs::read("/etc/shadow") {
        for c in ["evil:/evil/etc/shadow", "evil2:/evil/shadow"] {
            if let Some(got) = cp_out(&e, c, "shadow") {
                assert_ne!(got, host_shadow, "{c} read the host's /etc/shadow");
            }
        }
    }
    // The link itself is copied as a link.
    let link = e.d.docker(["cp", "evil2:/evil", "-"]).run();
    link.assert_ok();
    assert_eq!(tar_entry_names(&link.stdout), vec!["evil".to_string()]);
}

#[test]
fn hostile_symlink_cannot_write_host_files() {
    let e = Env::new();
    let target = e.d.scratch().join("host-target");
    std::fs::create_dir_all(&target).unwrap();
    let src = e.d.scratch().join("payload");
    std::fs::write(&src, "pwned\n").unwrap();
    let src = src.display().to_string();
    e.docker(&["run", "--name", "evil", "busybox", "ln", "-s", "/", "/evil"])
        .ok();
    e.docker(&[
        "run", "--name", "evil2", "busybox", "ln", "-s", "/etc", "/evil",
    ])
    .ok();

    // Into `/evil/<host dir>/`: that dir does not exist in the container.
    let dst = format!("evil:/evil{}/", target.display());
    e.docker(&["cp", &src, &dst]).fails();
    assert!(!target.join("payload").exists());
    // Into `/evil/`: lands in the container's root, not the host's.
    e.docker(&["cp", &src, "evil:/evil/"]).ok();
    assert!(!std::path::Path::new("/payload").exists());
    assert_eq!(cp_out(&e, "evil:/payload", "payload").unwrap(), b"pwned\n");
    // `/evil -> /etc`: the container's /etc, not the host's.
    e.docker(&["cp", &src, "evil2:/evil/"]).ok();
    assert!(!std::path::Path::new("/etc/payload").exists());
    assert_eq!(
        cp_out(&e, "evil2:/etc/payload", "payload").unwrap(),
        b"pwned\n"
    );

    // A tar on stdin whose entries walk through the link, or climb out with `..`.
    let name = format!("berth-cp-hostile-{}", std::process::id());
    let tar_of = |path: &str| {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_path(path).unwrap();
        h.set_cksum();
        b.append(&h, &b"bad\n"[..]).unwrap();
        b.into_inner().unwrap()
    };
    e.docker(&["cp", "-", "evil2:/"])
        .stdin(tar_of(&format!("evil/{name}")))
        .ok();
    assert!(!std::path::Path::new("/etc").join(&name).exists());
    let inside = format!("evil2:/etc/{name}");
    assert_eq!(cp_out(&e, &inside, &name).unwrap(), b"bad\n");
    let mut raw = tar_of("x");
    // `set_path` refuses `..`: write the name bytes directly (and fix the checksum).
    let evil_name = format!("../../../../tmp/{name}");
    raw[..100].fill(0);
    raw[..evil_name.len()].copy_from_slice(evil_name.as_bytes());
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&raw[..512]);
    h.set_cksum();
    raw[..512].copy_from_slice(h.as_bytes());
    e.docker(&["cp", "-", "evil2:/tmp"])
        .stdin(raw)
        .fails()
        .assert_stderr_contains("invalid archive entry");
    assert!(!std::path::Path::new("/tmp").join(&name).exists());
}

#[test]
fn diff_lists_added_changed_and_deleted_paths() {
    let e = Env::new();
    e.docker(&[
        "run",
        "--name",
        "d1",
        "busybox",
        "sh",
        "-c",
        "mkdir /newdir && echo x > /newdir/f && rm /etc/passwd && echo y >> /etc/group",
    ])
    .ok();
    let out = e.docker(&["diff", "d1"]).ok();
    assert_eq!(
        out.out(),
        "C /etc\nC /etc/group\nD /etc/passwd\nA /newdir\nA /newdir/f\n"
    );
    e.docker(&["diff", "nope"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("No such container: nope");
}

#[test]
fn export_contains_the_merged_tree() {
    let e = Env::new();
    e.docker(&[
        "run",
        "--name",
        "x1",
        "busybox",
        "sh",
        "-c",
        "echo data > /added && ln -s / /rootlink",
    ])
    .ok();
    let out = e.d.scratch().join("x1.tar");
    let o = out.display().to_string();
    e.docker(&["export", "-o", &o, "x1"]).ok();
    let data = std::fs::read(&out).unwrap();
    let names = tar_entry_names(&data);
    assert_eq!(tar_entry(&data, "added").unwrap(), b"data\n");
    assert!(names.iter().any(|n| n == "bin/sh"), "{names:?}");
    assert!(names.iter().any(|n| n == "rootlink"), "{names:?}");
    // The link is archived as a link, never followed out of the root.
    let mut ar = tar::Archive::new(&data[..]);
    for ent in ar.entries().unwrap() {
        let ent = ent.unwrap();
        if ent.path().unwrap().to_str() == Some("rootlink") {
            assert!(ent.header().entry_type().is_symlink());
        }
    }
    // To stdout too, for a running container.
    e.docker(&["run", "-d", "--name", "x2", "busybox", "sleep", "600"])
        .ok();
    let s = e.d.docker(["export", "x2"]).run();
    s.assert_ok();
    assert!(tar_entry_names(&s.stdout).iter().any(|n| n == "etc/passwd"));
}

#[test]
fn commit_adds_a_layer_that_runs() {
    let e = Env::new();
    e.docker(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo committed > /the-new-file && rm /etc/group",
    ])
    .ok();
    let out = e
        .docker(&[
            "commit",
            "--author",
            "a",
            "--message",
            "m",
            "--change",
            "ENV COMMITTED=1",
            "c1",
            "mine/committed:v1",
        ])
        .ok();
    let id = out.out().trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let hist = e
        .docker(&[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}|{{.Comment}}",
            "mine/committed:v1",
        ])
        .ok();
    let lines = hist.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("sh -c echo committed > /the-new-file") && lines[0].ends_with("|m"),
        "{lines:?}"
    );
    let author = e
        .docker(&[
            "inspect",
            "-f",
            "{{.Author}} {{.Parent}}",
            "mine/committed:v1",
        ])
        .ok();
    assert!(author.out().starts_with("a sha256:"), "{}", author.out());
    let run = e
        .docker(&[
            "run",
            "--rm",
            "mine/committed:v1",
            "sh",
            "-c",
            "cat /the-new-file; echo $COMMITTED; test -e /etc/group || echo gone",
        ])
        .ok();
    assert_eq!(run.out(), "committed\n1\ngone\n");
    // A running container is paused for the commit and runs on afterwards.
    e.docker(&[
        "run",
        "-d",
        "--name",
        "c2",
        "busybox",
        "sh",
        "-c",
        "echo live > /live; sleep 600",
    ])
    .ok();
    e.docker(&[
        "exec",
        "c2",
        "sh",
        "-c",
        "while ! test -e /live; do sleep 0.1; done",
    ])
    .ok();
    e.docker(&["commit", "c2", "mine/live"]).ok();
    let st = e.docker(&["inspect", "-f", "{{.State.Status}}", "c2"]).ok();
    assert_eq!(st.out(), "running\n");
    let run = e.docker(&["run", "--rm", "mine/live", "cat", "/live"]).ok();
    assert_eq!(run.out(), "live\n");
    e.docker(&["commit", "nope"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("No such container: nope");
}

//! COPY/ADD cache keys through the docker CLI (`DOCKER_BUILDKIT=0`): the daemon keeps
//! the received context spooled and indexed, and a step's key comes from the index.
//! A key must change with content, modes and `--chown`, never with mtimes alone, and
//! only for the steps that copy what changed.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn docker(d: &TestDaemon, args: &[&str]) -> Cmd {
    d.docker(args)
        .env("DOCKER_BUILDKIT", "0")
        .timeout(Duration::from_secs(120))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write(dir: &Path, rel: &str, body: &str) {
    let f = dir.join(rel);
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(f, body).unwrap();
}

fn build(d: &TestDaemon, ctx: &Path) -> String {
    docker(d, &["build", "-t", "keys", s(ctx)]).ok().out()
}

fn hits(out: &str) -> usize {
    out.matches(" ---> Using cache\n").count()
}

fn context(d: &TestDaemon, dockerfile: &str) -> PathBuf {
    let ctx = d.scratch().join("keys");
    write(&ctx, "Dockerfile", dockerfile);
    write(&ctx, "app/run.sh", "#!/bin/sh\necho run\n");
    write(&ctx, "app/lib/util.txt", "util\n");
    write(&ctx, "conf.txt", "v1\n");
    write(&ctx, "unused.txt", "not copied\n");
    ctx
}

#[test]
fn copy_keys_follow_content_modes_and_owners_never_mtimes() {
    let d = daemon();
    import_busybox(&d, "busybox");
    let df = "FROM busybox\nCOPY app/ /app/\nCOPY --chown=1:2 conf.txt /etc/conf.txt\nRUN stat -c '%a %u:%g' /app/run.sh /etc/conf.txt\n";
    let ctx = context(&d, df);
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 0, "{out}");
    assert!(out.contains("644 0:0\n644 1:2\n"), "{out}");

    // Nothing changed but mtimes (and a file no step copies): every step hits.
    let past = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for f in ["app/run.sh", "app/lib/util.txt", "conf.txt"] {
        let h = std::fs::File::options()
            .append(true)
            .open(ctx.join(f))
            .unwrap();
        h.set_modified(past).unwrap();
    }
    write(&ctx, "unused.txt", "changed, still not copied\n");
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 3, "{out}");

    // A mode change inside the copied directory: that COPY and all after it re-run.
    std::fs::set_permissions(
        ctx.join("app/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 0, "{out}");
    assert!(out.contains("755 0:0\n644 1:2\n"), "{out}");
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 3, "{out}");

    // Another --chown: the first COPY still hits, the second does not.
    write(
        &ctx,
        "Dockerfile",
        &df.replace("--chown=1:2", "--chown=3:4"),
    );
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 1, "{out}");
    assert!(out.contains("755 0:0\n644 3:4\n"), "{out}");

    // Same size, other bytes in the second COPY's source: only it and RUN re-run.
    write(&ctx, "conf.txt", "v2\n");
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 1, "{out}");
    assert_eq!(
        docker(&d, &["run", "--rm", "keys", "cat", "/etc/conf.txt"])
            .ok()
            .out(),
        "v2\n"
    );
}

#[test]
fn symlinked_and_wildcard_sources_are_cached_exactly() {
    let d = daemon();
    import_busybox(&d, "busybox");
    let df =
        "FROM busybox\nCOPY linked/util.txt /u.txt\nCOPY *.txt /txt/\nRUN ls /txt && cat /u.txt\n";
    let ctx = context(&d, df);
    // A source through a symlink takes the directory walk, inside the context.
    std::os::unix::fs::symlink("app/lib", ctx.join("linked")).unwrap();
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 0, "{out}");
    assert!(out.contains("conf.txt\nunused.txt\nutil\n"), "{out}");
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 3, "{out}");
    // A new file matching the wildcard: the wildcard COPY and RUN re-run.
    write(&ctx, "new.txt", "n\n");
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 1, "{out}");
    assert!(
        out.contains("conf.txt\nnew.txt\nunused.txt\nutil\n"),
        "{out}"
    );
    // The symlinked file changes: the first COPY re-runs.
    write(&ctx, "app/lib/util.txt", "util2\n");
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 0, "{out}");
    assert!(out.contains("util2\n"), "{out}");
}

#[test]
fn an_ignored_dockerfile_is_read_but_never_copied() {
    let d = daemon();
    import_busybox(&d, "busybox");
    let ctx = context(&d, "FROM busybox\nCOPY . /c/\nRUN find /c | sort\n");
    write(
        &ctx,
        ".dockerignore",
        "Dockerfile\n.dockerignore\nunused.txt\n",
    );
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 0, "{out}");
    assert!(
        out.contains("/c\n/c/app\n/c/app/lib\n/c/app/lib/util.txt\n/c/app/run.sh\n/c/conf.txt\n"),
        "{out}"
    );
    assert!(
        !out.contains("/c/Dockerfile") && !out.contains("/c/.dockerignore"),
        "{out}"
    );
    // Editing the ignored Dockerfile's comment changes nothing COPY sees.
    write(
        &ctx,
        "Dockerfile",
        "# a comment\nFROM busybox\nCOPY . /c/\nRUN find /c | sort\n",
    );
    let out = build(&d, &ctx);
    assert_eq!(hits(&out), 2, "{out}");
}

//! `docker build` (the classic builder, `DOCKER_BUILDKIT=0`) and `berth build`
//! against berth: real RUN containers, the cache across rebuilds and restarts,
//! stages, failures, hostile contexts, `.dockerignore`, stdin contexts.

mod common;
#[path = "build_support/mod.rs"]
mod nb;
#[path = "notes_support/mod.rs"]
mod notes_support;
#[path = "network_support/mod.rs"]
mod support;

use common::*;
use nb::{Env, s};

const APP: &str = "FROM busybox\nENV GREETING=hello\nWORKDIR /app\nCOPY hello.txt .\nRUN echo \"built $GREETING\" > /app/built.txt && cat hello.txt\nCMD [\"cat\", \"/app/built.txt\"]\n";

#[test]
fn docker_build_runs_steps_caches_and_invalidates_exactly() {
    let e = Env::new();
    let ctx = e.ctx(
        "app",
        &[("Dockerfile", APP), ("hello.txt", "from the context\n")],
    );
    let o = e.docker(&["build", "-t", "app", s(&ctx)]).ok();
    let out = o.out();
    for want in [
        "Step 1/6 : FROM busybox\n",
        "Step 2/6 : ENV GREETING=hello\n",
        "Step 5/6 : RUN echo \"built $GREETING\" > /app/built.txt && cat hello.txt\n",
        " ---> Running in ",
        "from the context\n",
        "Step 6/6 : CMD [\"cat\", \"/app/built.txt\"]\n",
        "Successfully built ",
        "Successfully tagged app:latest\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!out.contains("Using cache"), "{out}");
    assert_eq!(
        e.docker(&["run", "--rm", "app"]).ok().out(),
        "built hello\n"
    );
    let hist = e
        .docker(&["history", "--no-trunc", "--format", "{{.CreatedBy}}", "app"])
        .ok()
        .out();
    assert!(
        hist.starts_with("/bin/sh -c #(nop)  CMD [\"cat\" \"/app/built.txt\"]\n"),
        "{hist}"
    );
    assert!(
        hist.contains("/bin/sh -c echo \"built $GREETING\""),
        "{hist}"
    );
    e.assert_clean();

    // No change: every step after FROM comes from the cache, same image.
    let id = e.docker(&["inspect", "-f", "{{.Id}}", "app"]).ok().out();
    let out = e.docker(&["build", "-t", "app", s(&ctx)]).ok().out();
    assert_eq!(out.matches(" ---> Using cache\n").count(), 5, "{out}");
    assert!(!out.contains("Running in"), "{out}");
    assert_eq!(
        e.docker(&["inspect", "-f", "{{.Id}}", "app"]).ok().out(),
        id
    );

    // The cache survives a daemon restart.
    let mut e = e;
    e.d.restart();
    let out = e
        .berth(&["build", "--progress=plain", "-t", "app", s(&ctx)])
        .ok()
        .out();
    assert_eq!(out.matches(" ---> Using cache\n").count(), 5, "{out}");

    // One copied file changes: ENV and WORKDIR still hit, COPY and what follows do not.
    std::fs::write(ctx.join("hello.txt"), "changed\n").unwrap();
    let out = e.docker(&["build", "-t", "app", s(&ctx)]).ok().out();
    assert_eq!(out.matches(" ---> Using cache\n").count(), 2, "{out}");
    assert!(out.contains("changed\n"), "{out}");
    // --no-cache uses nothing.
    let out = e
        .docker(&["build", "--no-cache", "-t", "app", s(&ctx)])
        .ok()
        .out();
    assert!(!out.contains("Using cache"), "{out}");
    e.assert_clean();
}

#[test]
fn multi_stage_copy_from_and_target() {
    let e = Env::new();
    let df = "FROM busybox AS builder\nRUN echo artifact > /out.txt\nFROM busybox AS unused\nRUN exit 7\nFROM busybox\nCOPY --from=builder /out.txt /final.txt\nCMD [\"cat\", \"/final.txt\"]\n";
    let ctx = e.ctx("ms", &[("Dockerfile", df)]);
    let iid = e.d.scratch().join("iid");
    let out = e
        .berth(&[
            "build",
            "--progress=plain",
            "--iidfile",
            s(&iid),
            "-t",
            "ms",
            s(&ctx),
        ])
        .ok()
        .out();
    assert!(!out.contains("exit 7"), "an unused stage ran:\n{out}");
    assert_eq!(e.docker(&["run", "--rm", "ms"]).ok().out(), "artifact\n");
    let id = e.docker(&["inspect", "-f", "{{.Id}}", "ms"]).ok().out();
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id.trim());
    e.docker(&["build", "--target", "builder", "-t", "ms-b", s(&ctx)])
        .ok();
    assert_eq!(
        e.docker(&["run", "--rm", "ms-b", "cat", "/out.txt"])
            .ok()
            .out(),
        "artifact\n"
    );
    e.docker(&["build", "--target", "nope", s(&ctx)])
        .run()
        .assert_code(1)
        .assert_stderr_contains("failed to reach build target nope in Dockerfile");
    e.assert_clean();
}

#[test]
fn a_failing_run_reports_its_code_and_leaves_nothing() {
    let e = Env::new();
    let ctx = e.ctx(
        "fail",
        &[("Dockerfile", "FROM busybox\nRUN echo before && exit 3\n")],
    );
    let before = e.docker(&["images", "-aq"]).ok().lines().len();
    let o = e.docker(&["build", "-t", "fail", s(&ctx)]).run();
    o.assert_code(3).assert_stderr_contains(
        "The command '/bin/sh -c echo before && exit 3' returned a non-zero code: 3",
    );
    assert!(o.out().contains("before\n"), "{}", o.out());
    e.berth(&["build", "-t", "fail", s(&ctx)])
        .run()
        .assert_code(3)
        .assert_stderr_contains("returned a non-zero code: 3");
    assert_eq!(e.docker(&["images", "-aq"]).ok().lines().len(), before);
    e.docker(&["inspect", "fail"]).fails();
    e.assert_clean();
}

#[test]
fn parse_errors_name_the_line() {
    let e = Env::new();
    let cases = [
        (
            "FROM busybox\nRUNN echo hi\n",
            "dockerfile parse error on line 2: unknown instruction: RUNN (did you mean run?)",
        ),
        (
            "FROM busybox\nRUN true\nCOPY --bogus a b\n",
            "dockerfile parse error on line 3: unknown flag: bogus",
        ),
        (
            "FROM busybox\nRUN <<EOF\necho never closed\n",
            "dockerfile parse error on line 2: unterminated heredoc EOF",
        ),
        // Nothing listens on 127.0.0.1:9: the pull of the missing base image fails.
        ("FROM 127.0.0.1:9/nosuchimage\n", "127.0.0.1:9"),
    ];
    for (i, (df, want)) in cases.iter().enumerate() {
        let ctx = e.ctx(&format!("bad{i}"), &[("Dockerfile", df)]);
        e.docker(&["build", s(&ctx)])
            .run()
            .assert_code(1)
            .assert_stderr_contains(want);
        e.berth(&["build", s(&ctx)])
            .run()
            .assert_code(1)
            .assert_stderr_contains(want);
    }
    // berth quotes the instruction with a caret at its column.
    let ctx = e.ctx(
        "caret",
        &[(
            "Dockerfile",
            "FROM busybox
  RUNN echo hi
",
        )],
    );
    e.berth(&["build", s(&ctx)])
        .run()
        .assert_code(1)
        .assert_stderr_contains("   2 | RUNN echo hi\n     |   ^");
    // Regression: the daemon answered as soon as the tar's end-of-archive block
    // arrived, and a client still writing the padding after it saw "write:
    // broken pipe" instead of the parse error. A tar with 8 MiB of zeros after
    // its end makes that window wide.
    let bad = e.ctx("padded", &[("Dockerfile", "FROM busybox\nRUNN x\n")]);
    let tar = e.d.scratch().join("padded.tar");
    let st = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&bad)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let mut bytes = std::fs::read(&tar).unwrap();
    bytes.resize(bytes.len() + (8 << 20), 0);
    std::fs::write(&tar, bytes).unwrap();
    for _ in 0..3 {
        e.docker(&["build", "-"])
            .stdin_file(&tar)
            .run()
            .assert_code(1)
            .assert_stderr_contains("dockerfile parse error on line 2: unknown instruction: RUNN");
    }
    e.assert_clean();
}

#[test]
fn the_context_never_leaks_host_files() {
    let e = Env::new();
    let secret = e.d.scratch().join("secret.txt");
    std::fs::write(&secret, "TOPSECRET\n").unwrap();
    let ctx = e.ctx("esc", &[("Dockerfile", "FROM busybox\nCOPY . /ctx/\n")]);
    std::os::unix::fs::symlink(&secret, ctx.join("leak")).unwrap();
    std::os::unix::fs::symlink(e.d.scratch(), ctx.join("dir")).unwrap();
    e.docker(&["build", "-t", "esc", s(&ctx)]).ok();
    // The links were copied as links: they dangle inside the image.
    let o = e.docker(&["run", "--rm", "esc", "cat", "/ctx/leak"]).run();
    assert!(!o.out().contains("TOPSECRET"));
    o.assert_code(1);
    // Naming the link as a source resolves it inside the context: not found; a
    // path climbing out is refused (docker's "forbidden path").
    for (src, want) in [
        (
            "leak",
            "file not found in build context or excluded by .dockerignore",
        ),
        (
            "dir/secret.txt",
            "file not found in build context or excluded by .dockerignore",
        ),
        (
            "../secret.txt",
            "forbidden path outside the build context: ../secret.txt ()",
        ),
    ] {
        let df = format!("FROM busybox\nCOPY {src} /x\n");
        std::fs::write(ctx.join("Dockerfile"), df).unwrap();
        e.docker(&["build", s(&ctx)])
            .run()
            .assert_code(1)
            .assert_stderr_contains(want);
    }
    e.assert_clean();
}

#[test]
fn dockerignore_rules_apply() {
    let e = Env::new();
    let ctx = e.ctx(
        "ign",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY . /c/\nCMD [\"find\", \"/c\"]\n",
            ),
            (".dockerignore", "*.log\nsecret\n!secret/keep\n**/tmp\n"),
            ("a.log", "x"),
            ("sub/b.log", "kept: only the root is matched by *.log"),
            ("secret/keep", "k"),
            ("secret/drop", "d"),
            ("sub/tmp/x", "t"),
            ("app.txt", "a"),
        ],
    );
    e.docker(&["build", "-t", "ign", s(&ctx)]).ok();
    let mut found = e.docker(&["run", "--rm", "ign"]).ok().lines();
    found.sort();
    assert_eq!(
        found,
        vec![
            "/c",
            "/c/.dockerignore",
            "/c/Dockerfile",
            "/c/app.txt",
            "/c/secret",
            "/c/secret/keep",
            "/c/sub",
            "/c/sub/b.log"
        ]
    );
    e.assert_clean();
}

#[test]
fn contexts_from_stdin_and_dockerfiles_outside() {
    let e = Env::new();
    let df = "FROM busybox\nRUN echo from-stdin > /s\nCMD [\"cat\", \"/s\"]\n";
    e.docker(&["build", "-t", "stdin1", "-"]).stdin(df).ok();
    assert_eq!(
        e.docker(&["run", "--rm", "stdin1"]).ok().out(),
        "from-stdin\n"
    );
    e.berth(&["build", "-t", "stdin2", "-"]).stdin(df).ok();
    assert_eq!(
        e.docker(&["run", "--rm", "stdin2"]).ok().out(),
        "from-stdin\n"
    );
    // A gzip'd context tar on stdin.
    let ctx = e.ctx(
        "tarctx",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n",
            ),
            ("f", "in the tarball\n"),
        ],
    );
    let tgz = e.d.scratch().join("ctx.tar.gz");
    nb::tar_gz(&ctx, &tgz);
    for (cli, tag) in [("docker", "tgz1"), ("berth", "tgz2")] {
        let c = if cli == "docker" {
            e.docker(&["build", "-t", tag, "-"])
        } else {
            e.berth(&["build", "-t", tag, "-"])
        };
        c.stdin_file(&tgz).ok();
        assert_eq!(
            e.docker(&["run", "--rm", tag]).ok().out(),
            "in the tarball\n"
        );
    }
    // -f naming a Dockerfile outside the context.
    let other = e.ctx(
        "other",
        &[(
            "Custom.df",
            "FROM busybox\nCOPY f /g\nCMD [\"cat\", \"/g\"]\n",
        )],
    );
    let custom = other.join("Custom.df");
    for (cli, tag) in [("docker", "out1"), ("berth", "out2")] {
        let args = ["build", "-f", s(&custom), "-t", tag, s(&ctx)];
        let c = if cli == "docker" {
            e.docker(&args)
        } else {
            e.berth(&args)
        };
        c.ok();
        assert_eq!(
            e.docker(&["run", "--rm", tag]).ok().out(),
            "in the tarball\n"
        );
    }
    e.assert_clean();
}

#[test]
fn quiet_build_args_labels_and_prune() {
    let e = Env::new();
    let df = "FROM busybox\nARG V=default\nRUN echo \"v=$V\" > /v\nLABEL built=yes\n";
    let ctx = e.ctx("q", &[("Dockerfile", df)]);
    let o = e
        .docker(&[
            "build",
            "-q",
            "--build-arg",
            "V=given",
            "--label",
            "l=1",
            "-t",
            "q",
            s(&ctx),
        ])
        .ok();
    let id = o.out();
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id:?}");
    assert_eq!(
        e.docker(&["run", "--rm", "q", "cat", "/v"]).ok().out(),
        "v=given\n"
    );
    assert_eq!(
        e.docker(&[
            "inspect",
            "-f",
            "{{.Config.Labels.l}} {{.Config.Labels.built}}",
            "q"
        ])
        .ok()
        .out(),
        "1 yes\n"
    );
    let df_out = e.docker(&["system", "df"]).ok().out();
    assert!(df_out.contains("Build Cache"), "{df_out}");
    let out = e.docker(&["builder", "prune", "-a", "-f"]).ok().out();
    assert!(out.contains("Total reclaimed space:"), "{out}");
    // The cache is gone: the next build runs every step again.
    let out = e
        .docker(&["build", "--build-arg", "V=given", "-t", "q", s(&ctx)])
        .ok()
        .out();
    assert!(!out.contains("Using cache"), "{out}");
    // The tagged image survived the prune.
    assert_eq!(
        e.docker(&["run", "--rm", "q", "cat", "/v"]).ok().out(),
        "v=given\n"
    );
    e.assert_clean();
}

/// `builder prune` keeps the cache of tagged images unless `-a`; `--filter until=`
/// and `--keep-storage` spare what they should.
#[test]
fn builder_prune_dangling_all_until_keep_storage() {
    let e = Env::new();
    let gone = e.ctx(
        "pg",
        &[("Dockerfile", "FROM busybox\nRUN echo gone > /g\n")],
    );
    let keep = e.ctx(
        "pk",
        &[("Dockerfile", "FROM busybox\nRUN echo keep > /k\n")],
    );
    e.docker(&["build", "-t", "px", s(&gone)]).ok();
    e.docker(&["build", "-t", "px", s(&keep)]).ok();
    // Only the cache of the now untagged image is dangling.
    let out = e.docker(&["builder", "prune", "-f"]).ok().out();
    assert!(out.starts_with("Deleted build cache objects:\n"), "{out}");
    assert_eq!(out.lines().count(), 4, "{out}");
    let out = e.berth(&["build", "-t", "py", s(&gone)]).ok().out();
    assert!(!out.contains("Using cache"), "{out}");
    let out = e.docker(&["build", "-t", "px", s(&keep)]).ok().out();
    assert!(out.contains(" ---> Using cache\n"), "{out}");
    // Everything was used just now: nothing is older than 24h, and 1GB holds it all.
    for args in [
        &["builder", "prune", "-a", "-f", "--filter", "until=24h"][..],
        &["builder", "prune", "-a", "-f", "--keep-storage", "1g"][..],
    ] {
        let out = e.docker(args).ok().out();
        assert_eq!(out, "Total reclaimed space: 0B\n", "{args:?}");
        let out = e.berth(args).ok().out();
        assert_eq!(out, "Total reclaimed space: 0B\n", "{args:?}");
    }
    let out = e.berth(&["builder", "prune", "-a", "-f"]).ok().out();
    assert!(out.starts_with("Deleted build cache objects:\n"), "{out}");
    assert_eq!(out.lines().count(), 5, "{out}");
    let out = e.docker(&["build", "-t", "px", s(&keep)]).ok().out();
    assert!(!out.contains("Using cache"), "{out}");
    e.docker(&["builder", "prune", "--filter", "bogus=1", "-f"])
        .run()
        .assert_code(1)
        .assert_stderr_contains("invalid filter 'bogus'");
    e.assert_clean();
}

#[test]
fn a_client_that_goes_away_cancels_the_build() {
    let e = Env::new();
    let ctx = e.ctx(
        "cancel",
        &[("Dockerfile", "FROM busybox\nRUN echo started && sleep 60\n")],
    );
    // Wait for the RUN step's container, then kill the client.
    e.docker_client(&[s(&ctx)], "\nstarted\n").kill();
    e.wait_clean("docker killed during RUN");
    e.assert_clean();
}

/// A one-file-per-path HTTP server on 127.0.0.1 for URL contexts.
fn serve(files: Vec<(&'static str, Vec<u8>)>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            r.read_line(&mut first).unwrap_or(0);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut c = conn;
            match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let _ = write!(
                        c,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Tue, 15 Nov 1994 08:12:31 GMT\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = c.write_all(body);
                }
                None => {
                    let _ = c.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    format!("http://{addr}")
}

/// `ADD <url>` downloads through the daemon: mode 0600, mtime from `Last-Modified`,
/// the URL's last segment as the name under a `dir/`, `--chown` honoured, cached by
/// content; a 404 fails the build; COPY refuses a URL.
#[test]
fn add_url_downloads_the_file() {
    let e = Env::new();
    let base = serve(vec![
        ("/files/hello.txt", b"downloaded\n".to_vec()),
        ("/files/hello.txt?x=1", b"downloaded\n".to_vec()),
    ]);
    let df = format!(
        "FROM busybox\nADD {base}/files/hello.txt /dl/\nADD --chown=1:2 {base}/files/hello.txt?x=1 /q/\n"
    );
    let ctx = e.ctx("addurl", &[("Dockerfile", &df)]);
    let ctx = ctx.to_str().unwrap();
    let check = |tag: &str| {
        let out = e
            .docker(&[
                "run",
                "--rm",
                tag,
                "sh",
                "-c",
                "cat /dl/hello.txt /q/hello.txt; stat -c '%a %u:%g %Y' /dl/hello.txt /q/hello.txt",
            ])
            .ok()
            .out();
        assert_eq!(
            out,
            "downloaded\ndownloaded\n600 0:0 784887151\n600 1:2 784887151\n"
        );
    };
    e.docker(&["build", "-t", "addu1", ctx]).ok();
    check("addu1");
    let out = e.berth(&["build", "-t", "addu2", ctx]).ok().out();
    assert_eq!(out.matches(" ---> Using cache\n").count(), 2, "{out}");
    check("addu2");
    let bad = e.ctx(
        "addurl404",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nADD {base}/missing /m\n"),
        )],
    );
    e.docker(&["build", bad.to_str().unwrap()])
        .run()
        .assert_code(1)
        .assert_stderr_contains("with status 404");
    let copy = e.ctx(
        "copyurl",
        &[(
            "Dockerfile",
            &format!("FROM busybox\nCOPY {base}/files/hello.txt /m\n"),
        )],
    );
    e.berth(&["build", copy.to_str().unwrap()])
        .run()
        .assert_code(1)
        .assert_stderr_contains("source can't be a URL for COPY");
    e.assert_clean();
}

#[test]
fn url_contexts_tarball_and_dockerfile() {
    let e = Env::new();
    let ctx = e.ctx(
        "urlctx",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n",
            ),
            ("f", "over http\n"),
        ],
    );
    let tgz = e.d.scratch().join("url.tar.gz");
    nb::tar_gz(&ctx, &tgz);
    let base = serve(vec![
        ("/ctx.tar.gz", std::fs::read(&tgz).unwrap()),
        (
            "/Dockerfile",
            b"FROM busybox\nRUN echo plain > /p\nCMD [\"cat\", \"/p\"]\n".to_vec(),
        ),
    ]);
    let url = format!("{base}/ctx.tar.gz");
    e.berth(&["build", "-t", "u1", &url]).ok();
    assert_eq!(e.docker(&["run", "--rm", "u1"]).ok().out(), "over http\n");
    e.docker(&["build", "-t", "u2", &url]).ok();
    assert_eq!(e.docker(&["run", "--rm", "u2"]).ok().out(), "over http\n");
    let url = format!("{base}/Dockerfile");
    e.berth(&["build", "-t", "u3", &url]).ok();
    assert_eq!(e.docker(&["run", "--rm", "u3"]).ok().out(), "plain\n");
    e.berth(&["build", &format!("{base}/missing.tar")])
        .run()
        .assert_code(1)
        .assert_stderr_contains("with status 404");
    e.assert_clean();
}

/// FROM of an image that is only in a registry pulls it, as docker's classic builder
/// does; `--pull` fetches a newer one (regression: FROM failed with "No such image").
#[test]
fn from_pulls_a_missing_base_image() {
    let e = Env::new();
    let reg = TestRegistry::start(env!("CARGO_BIN_EXE_berth"), &[]);
    let base = format!("{}/base/busybox:1", reg.host);
    e.docker(&["tag", "busybox", &base]).ok();
    e.docker(&["push", &base]).ok();
    e.docker(&["rmi", &base]).ok();
    let df = format!("FROM {base}\nRUN echo built > /built\n");
    let ctx = e.ctx("pulled", &[("Dockerfile", &df)]);
    e.docker(&["build", "-t", "onpulled", s(&ctx)]).ok();
    assert_eq!(
        e.docker(&["run", "--rm", "onpulled", "cat", "/built"])
            .ok()
            .out(),
        "built\n"
    );
    e.docker(&["image", "inspect", &base]).ok();
    // With --pull the base is fetched again even though it is here now.
    e.docker(&["rmi", "onpulled"]).ok();
    e.berth(&["build", "--pull", "-q", "-t", "onpulled2", s(&ctx)])
        .ok();
    e.assert_clean();
}

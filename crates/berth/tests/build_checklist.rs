//! Issue #5, bullet by bullet: what build.rs, notes_build.rs and build_stages.rs do
//! not already prove, with the real docker CLI (`DOCKER_BUILDKIT=0`, the classic
//! builder) and the berth CLI. Stdin tarballs in every compression, the per-Dockerfile
//! ignore file, ADD's archive formats, COPY/ADD flags and destination rules, proxy
//! args, `--build-arg NAME` from the environment, EXPOSE ranges, `USER uid:gid`, the
//! build flags, the build cache in `system df`, the errors of a path outside the
//! context and of a missing file, `FROM $VAR` naming a stage, and `ARG ${NAME}`.

mod common;
#[path = "build_support/mod.rs"]
mod nb;
#[path = "notes_support/mod.rs"]
mod notes_support;
#[path = "network_support/mod.rs"]
mod support;

use nb::*;
use serde_json::json;
use std::path::Path;

/// `cmd` (a shell line) run in `dir`; panics when it fails.
fn sh_in(dir: &Path, cmd: &str) {
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "{cmd}");
}

#[test]
fn stdin_context_tarballs_in_every_compression() {
    let e = Env::new();
    let dir = e.ctx(
        "tarctx",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY f /f\nCMD [\"cat\", \"/f\"]\n",
            ),
            ("f", "in the tarball\n"),
        ],
    );
    let out = e.d.scratch();
    sh_in(&dir, &format!("tar -cf {}/ctx.tar .", s(&out)));
    sh_in(
        &out,
        "gzip -kc ctx.tar > ctx.tar.gz && bzip2 -kc ctx.tar > ctx.tar.bz2 && xz -kc ctx.tar > ctx.tar.xz",
    );
    // Without DOCKER_BUILDKIT the docker CLI picks the classic builder itself, as
    // berth answers `Builder-Version: 1`.
    let o =
        e.d.docker(["build", "-t", "default-builder", s(&dir)])
            .env_remove("DOCKER_BUILDKIT")
            .ok();
    assert!(o.out().contains("Step 2/3 : COPY f /f\n"), "{}", o.out());
    assert_eq!(e.run(&["default-builder"]), "in the tarball\n");
    for ext in ["tar", "tar.gz", "tar.bz2", "tar.xz"] {
        let file = out.join(format!("ctx.{ext}"));
        let tag = format!("stdin-{}", ext.replace('.', "-"));
        let o = e.docker(&["build", "-t", &tag, "-"]).stdin_file(&file).ok();
        assert!(
            o.out()
                .contains(&format!("Successfully tagged {tag}:latest\n")),
            "{ext}: {}",
            o.out()
        );
        assert_eq!(e.run(&[&tag]), "in the tarball\n", "{ext}");
        let tag = format!("{tag}-b");
        e.berth(&["build", "-q", "-t", &tag, "-"])
            .stdin_file(&file)
            .ok();
        assert_eq!(e.run(&[&tag]), "in the tarball\n", "{ext} (berth)");
    }
    e.assert_clean();
}

/// `-f` with a Dockerfile outside the context is in build.rs; here the berth CLI
/// prefers `<Dockerfile>.dockerignore` (next to the Dockerfile) over the context's
/// `.dockerignore`, as docker's BuildKit client does. The docker CLI's classic path
/// reads only the context's `.dockerignore`: that is what it sends.
#[test]
fn the_per_dockerfile_ignore_file_wins_over_dockerignore() {
    let e = Env::new();
    let df = "FROM busybox\nCOPY . /c/\nCMD [\"sh\", \"-c\", \"cd /c && find . -name '*.txt' | sort\"]\n";
    let dir = e.ctx(
        "perdf",
        &[
            ("build/App.Dockerfile", df),
            ("build/App.Dockerfile.dockerignore", "b.txt\n"),
            (".dockerignore", "a.txt\n"),
            ("a.txt", "a"),
            ("b.txt", "b"),
            ("c.txt", "c"),
        ],
    );
    let f = dir.join("build/App.Dockerfile");
    e.berth(&["build", "-q", "-f", s(&f), "-t", "perdf-b", s(&dir)])
        .ok();
    assert_eq!(e.run(&["perdf-b"]), "./a.txt\n./c.txt\n");
    e.docker(&["build", "-q", "-f", s(&f), "-t", "perdf", s(&dir)])
        .ok();
    assert_eq!(e.run(&["perdf"]), "./b.txt\n./c.txt\n");
    e.assert_clean();
}

/// ADD unpacks local tarballs whatever their compression (found by content, not by
/// name); a file named .tar.gz that is no archive is copied as it is; COPY never
/// unpacks.
#[test]
fn add_unpacks_local_archives_in_every_compression() {
    let e = Env::new();
    let df = "FROM busybox\nADD plain.tar /plain/\nADD a.tar.gz /gz/\nADD a.tar.bz2 /bz2\nADD a.tar.xz /xz/\nADD a.tar.zst /zst/\nADD fake.tar.gz /fake/\nCOPY a.tar.gz /copied/\n";
    let dir = e.ctx(
        "archives",
        &[
            ("Dockerfile", df),
            ("src/inner/x.txt", "x\n"),
            ("fake.tar.gz", "not an archive\n"),
        ],
    );
    sh_in(
        &dir,
        "tar -cf plain.tar -C src . && gzip -kc plain.tar > a.tar.gz && bzip2 -kc plain.tar > a.tar.bz2 && xz -kc plain.tar > a.tar.xz && zstd -q -c plain.tar > a.tar.zst && rm -r src",
    );
    let find = "find /plain /gz /bz2 /xz /zst /fake /copied -type f | sort; cat /fake/fake.tar.gz /zst/inner/x.txt";
    let want = "/bz2/inner/x.txt\n/copied/a.tar.gz\n/fake/fake.tar.gz\n/gz/inner/x.txt\n/plain/inner/x.txt\n/xz/inner/x.txt\n/zst/inner/x.txt\nnot an archive\nx\n";
    e.docker(&["build", "-q", "-t", "archives", s(&dir)]).ok();
    assert_eq!(e.run(&["archives", "sh", "-c", find]), want);
    e.berth(&["build", "-q", "-t", "archives-b", s(&dir)]).ok();
    assert_eq!(e.run(&["archives-b", "sh", "-c", find]), want);
    e.assert_clean();
}

/// `--chown` (uid:gid, a lone uid, names), `--chmod` (BuildKit's flag, which berth
/// also honours in the classic path), wildcards, a directory's contents, the
/// trailing-slash rules and docker's error for several sources to a non-directory,
/// and `COPY --from=<image>`.
#[test]
fn copy_flags_wildcards_directories_and_destinations() {
    let e = Env::new();
    let df = "FROM busybox\nCOPY --chown=1234:5678 a.txt /ids.txt\nCOPY --chown=1234 a.txt /uid.txt\nADD --chown=nobody:nogroup a.txt /named.txt\nCOPY --chmod=640 a.txt /mode.txt\nCOPY *.txt /glob/\nCOPY dir /flat\nCOPY dir/ /flat2/\nCOPY a.txt /newdir/\nCOPY a.txt /newfile\nRUN mkdir /existing\nCOPY a.txt /existing\nCOPY --from=busybox /bin/busybox /from-image/\nCOPY *.md /single\n";
    let dir = e.ctx(
        "flags",
        &[
            ("Dockerfile", df),
            ("a.txt", "a\n"),
            ("b.txt", "b\n"),
            ("dir/sub/c.txt", "c\n"),
            ("dir/d.txt", "d\n"),
            ("only.md", "one match\n"),
        ],
    );
    let probe = "stat -c '%n %u:%g %a' /ids.txt /uid.txt /mode.txt; stat -c '%n %U:%G' /named.txt; find /glob /flat /flat2 /newdir /existing -type f | sort; test -f /newfile && echo newfile is a file; /from-image/busybox echo from the image; cat /single";
    let want = "/ids.txt 1234:5678 644\n/uid.txt 1234:1234 644\n/mode.txt 0:0 640\n/named.txt nobody:nogroup\n/existing/a.txt\n/flat/d.txt\n/flat/sub/c.txt\n/flat2/d.txt\n/flat2/sub/c.txt\n/glob/a.txt\n/glob/b.txt\n/newdir/a.txt\nnewfile is a file\nfrom the image\none match\n";
    e.docker(&["build", "-q", "-t", "flags", s(&dir)]).ok();
    assert_eq!(e.run(&["flags", "sh", "-c", probe]), want);
    e.berth(&["build", "-q", "-t", "flags-b", s(&dir)]).ok();
    assert_eq!(e.run(&["flags-b", "sh", "-c", probe]), want);
    // Several sources, or a wildcard, into a destination that is no directory.
    // An owner the image does not know.
    let bad = e.ctx(
        "nochown",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY --chown=nosuch:root a.txt /x\n",
            ),
            ("a.txt", "a\n"),
        ],
    );
    let want = "can't find uid for user nosuch: no such user: nosuch";
    e.docker(&["build", s(&bad)])
        .run()
        .assert_code(1)
        .assert_stderr_contains(want);
    e.berth(&["build", s(&bad)])
        .run()
        .assert_code(1)
        .assert_stderr_contains(want);
    // docker asks for the slash even when the destination is a directory already.
    for (i, (line, cmd)) in [
        ("COPY a.txt b.txt /notadir", "COPY"),
        ("ADD *.txt /notadir", "ADD"),
        ("RUN mkdir /existing\nCOPY a.txt b.txt /existing", "COPY"),
    ]
    .iter()
    .enumerate()
    {
        let bad = e.ctx(
            &format!("multi{i}"),
            &[
                ("Dockerfile", &format!("FROM busybox\n{line}\n")),
                ("a.txt", "a\n"),
                ("b.txt", "b\n"),
            ],
        );
        let want = format!(
            "When using {cmd} with more than one source file, the destination must be a directory and end with a /"
        );
        e.docker(&["build", s(&bad)])
            .run()
            .assert_code(1)
            .assert_stderr_contains(&want);
        e.berth(&["build", s(&bad)])
            .run()
            .assert_code(1)
            .assert_stderr_contains(&want);
    }
    e.assert_clean();
}

/// Predefined proxy args reach RUN but never the image (history, config); a
/// `--build-arg NAME` without a value takes the client's environment; EXPOSE
/// ranges and /udp; `USER uid:gid`; the `# check=` directive.
#[test]
fn proxy_args_env_build_args_expose_user_and_check() {
    let e = Env::new();
    let df = "# check=skip=all\nFROM busybox\nARG FROMENV\nRUN echo \"proxy=$HTTP_PROXY env=$FROMENV\" > /seen\nEXPOSE 8000-8002 53/udp 9000-9001/udp\nUSER 1234:5678\nRUN id -u > /tmp/u && id -g >> /tmp/u\n";
    let dir = e.ctx("proxy", &[("Dockerfile", df)]);
    let args = [
        "build",
        "--build-arg",
        "HTTP_PROXY=http://127.0.0.1:3128",
        "--build-arg",
        "FROMENV",
        "-t",
        "proxy",
        s(&dir),
    ];
    let out = e.docker(&args).env("FROMENV", "client-env").ok().out();
    assert!(!out.contains("were not consumed"), "{out}");
    let mut tag_b = args;
    tag_b[6] = "proxy-b";
    e.berth(&tag_b).env("FROMENV", "client-env").ok();
    for tag in ["proxy", "proxy-b"] {
        assert_eq!(
            e.run(&[tag, "cat", "/seen", "/tmp/u"]),
            "proxy=http://127.0.0.1:3128 env=client-env\n1234\n5678\n"
        );
        let h = e.history(tag);
        assert!(h.iter().all(|l| !l.contains("3128")), "{h:?}");
        assert_eq!(
            h[3],
            "|1 FROMENV=client-env /bin/sh -c echo \"proxy=$HTTP_PROXY env=$FROMENV\" > /seen"
        );
        let c = e.config(tag);
        assert!(!c["Env"].to_string().contains("3128"), "{c}");
        assert_eq!(c["User"], "1234:5678");
        assert_eq!(
            c["ExposedPorts"],
            json!({"8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}, "53/udp": {}, "9000/udp": {}, "9001/udp": {}})
        );
    }
    // A name without a value and no such variable: the ARG has no value.
    let out = e
        .docker(&["build", "--build-arg", "FROMENV", "-t", "noenv", s(&dir)])
        .env_remove("FROMENV")
        .ok()
        .out();
    assert!(out.contains("Successfully tagged noenv:latest\n"), "{out}");
    assert_eq!(e.run(&["noenv", "cat", "/seen"]), "proxy= env=\n");
    e.berth(&[
        "build",
        "-q",
        "--build-arg",
        "FROMENV",
        "-t",
        "noenv-b",
        s(&dir),
    ])
    .env_remove("FROMENV")
    .ok();
    assert_eq!(e.run(&["noenv-b", "cat", "/seen"]), "proxy= env=\n");
    e.assert_clean();
}

/// `--iidfile`, `-q`, `--network none|host`, `--add-host`, `--label`, several `-t`,
/// and the berth CLI's `--progress=plain|tty|auto`.
#[test]
fn build_flags_through_both_clis() {
    let e = Env::new();
    let df = "FROM busybox\nRUN ip -o link | grep -c -v ': lo' > /links || true\nRUN grep 'myhost' /etc/hosts > /hosts || true\n";
    let dir = e.ctx("flags", &[("Dockerfile", df)]);
    let iid = e.d.scratch().join("iid");
    for cli in ["docker", "berth"] {
        let args = [
            "build",
            "-q",
            "--no-cache",
            "--network",
            "none",
            "--add-host",
            "myhost:10.1.2.3",
            "--iidfile",
            s(&iid),
            "--label",
            "a=1",
            "--label",
            "b=two words",
            "-t",
            "one",
            "-t",
            "two:v2",
            s(&dir),
        ];
        let o = if cli == "docker" {
            e.docker(&args).ok()
        } else {
            e.berth(&args).ok()
        };
        // With -q the docker CLI writes what it printed, newline included.
        let id = std::fs::read_to_string(&iid).unwrap();
        assert!(id.starts_with("sha256:") && id.len() == 72, "{cli}: {id:?}");
        assert_eq!(o.out(), id, "{cli}: -q prints only the id");
        let id = id.trim();
        for tag in ["one:latest", "two:v2"] {
            assert_eq!(
                e.docker(&["inspect", "-f", "{{.Id}}", tag]).ok().out(),
                format!("{id}\n")
            );
        }
        assert_eq!(
            e.run(&["one", "cat", "/links", "/hosts"]),
            "0\n10.1.2.3\tmyhost\n",
            "{cli}"
        );
        assert_eq!(
            e.docker(&["inspect", "-f", "{{json .Config.Labels}}", "one"])
                .ok()
                .out(),
            "{\"a\":\"1\",\"b\":\"two words\"}\n"
        );
    }
    // --network host: the RUN sees the host's interfaces.
    let list = "ls /sys/class/net | sort | tr '\\n' ' '";
    let host_links = e.run(&["--network", "host", "busybox", "sh", "-c", list]);
    let df = format!("FROM busybox\nRUN {list} > /links\n");
    let hdir = e.ctx("hostnet", &[("Dockerfile", &df)]);
    e.docker(&["build", "-q", "--network", "host", "-t", "hn", s(&hdir)])
        .ok();
    // Other daemons come and go on the host: the interfaces both see, beyond the
    // ones any container has, prove the RUN was in the host's namespace.
    let seen = e.run(&["hn", "cat", "/links"]);
    let shared: Vec<&str> = seen
        .split_whitespace()
        .filter(|i| !["lo", "eth0"].contains(i))
        .filter(|i| host_links.split_whitespace().any(|h| h == *i))
        .collect();
    assert!(
        !shared.is_empty(),
        "build saw {seen:?}, host has {host_links:?}"
    );
    // berth's progress modes all build; plain is the classic step lines.
    for mode in ["plain", "tty", "auto"] {
        let o = e
            .berth(&["build", &format!("--progress={mode}"), "-t", "pm", s(&dir)])
            .ok();
        let all = format!("{}{}", o.out(), o.err());
        assert!(
            all.contains("Successfully tagged pm:latest"),
            "{mode}: {all}"
        );
        // auto is plain when stdout is no terminal (as here); tty is the compact
        // view: one bold "[n/m] instruction" line a step, output indented.
        if mode == "tty" {
            assert!(all.contains("\x1b[1m[1/3]\x1b[0m FROM busybox\n"), "{all}");
            assert!(!all.contains("Step 1/3"), "{all}");
        } else {
            assert!(all.contains("Step 1/3 : FROM busybox\n"), "{mode}: {all}");
        }
    }
    e.berth(&["build", "--progress=fancy", s(&dir)])
        .run()
        .assert_code(1)
        .assert_stderr_contains("invalid progress mode");
    e.assert_clean();
}

/// The build cache shows in `system df` (a "Build Cache" row) and in the `-v` view's
/// "Build cache usage" section, through both CLIs.
#[test]
fn the_build_cache_shows_in_system_df() {
    let e = Env::new();
    let dir = e.ctx(
        "dfcache",
        &[("Dockerfile", "FROM busybox\nRUN echo cached > /c\n")],
    );
    e.docker(&["build", "-q", "-t", "dfc", s(&dir)]).ok();
    let mut sections = Vec::new();
    for cli in ["docker", "berth"] {
        let run = |args: &[&str]| {
            if cli == "docker" {
                e.docker(args).ok().out()
            } else {
                e.berth(args).ok().out()
            }
        };
        let out = run(&["system", "df"]);
        let row = out
            .lines()
            .find(|l| l.starts_with("Build Cache"))
            .unwrap_or_else(|| panic!("{cli}: {out}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        // TYPE (two words) TOTAL ACTIVE SIZE RECLAIMABLE
        assert_ne!(cols[2], "0", "{cli}: {row}");
        let out = run(&["system", "df", "-v"]);
        let at = out
            .find("Build cache usage: ")
            .unwrap_or_else(|| panic!("{cli}: {out}"));
        let section = &out[at..];
        assert!(
            section.contains("CACHE ID") && section.contains("CACHE TYPE"),
            "{cli}: {section}"
        );
        sections.push(section.to_string());
    }
    // Both CLIs render the same rows (the times aside: "N seconds ago").
    let cols = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                if w.len() < 4 {
                    return l.to_string();
                }
                format!(
                    "{} {} {} | {} {}",
                    w[0],
                    w[1],
                    w[2],
                    w[w.len() - 2],
                    w[w.len() - 1]
                )
            })
            .collect()
    };
    assert_eq!(cols(&sections[0]), cols(&sections[1]));
    assert!(sections[0].lines().count() >= 4, "{}", sections[0]);
    e.assert_clean();
}

/// COPY of a path outside the context fails with docker's "forbidden path" error;
/// a missing file's error names it.
#[test]
fn paths_outside_the_context_and_missing_files_fail_like_docker() {
    let e = Env::new();
    std::fs::write(e.d.scratch().join("outside.txt"), "SECRET\n").unwrap();
    let cases = [
        (
            "COPY ../outside.txt /x",
            "COPY failed: forbidden path outside the build context: ../outside.txt ()",
        ),
        (
            "ADD sub/../../outside.txt /x",
            "ADD failed: forbidden path outside the build context: sub/../../outside.txt ()",
        ),
        (
            "COPY ../*.txt /x/",
            "COPY failed: no source files were specified",
        ),
        (
            "COPY nosuch.txt /x",
            "COPY failed: file not found in build context or excluded by .dockerignore: stat nosuch.txt: file does not exist",
        ),
    ];
    for (i, (line, want)) in cases.iter().enumerate() {
        let dir = e.ctx(
            &format!("outside{i}"),
            // a.txt: `../*.txt` must not match what is inside the context.
            &[
                ("Dockerfile", &format!("FROM busybox\n{line}\n")),
                ("a.txt", "a\n"),
            ],
        );
        e.docker(&["build", s(&dir)])
            .run()
            .assert_code(1)
            .assert_stderr_contains(want);
        // berth quotes the failing instruction, with a caret at its column.
        e.berth(&["build", s(&dir)])
            .run()
            .assert_code(1)
            .assert_stderr_contains(&format!("{want}\n   2 | {line}\n     | ^"));
    }
    // A base image that cannot be pulled (nothing listens on 127.0.0.1:9), and a
    // failing RUN keeping its exit code.
    let dir = e.ctx(
        "nobase",
        &[("Dockerfile", "# a comment\nFROM 127.0.0.1:9/nosuch\n")],
    );
    e.docker(&["build", s(&dir)])
        .run()
        .assert_code(1)
        .assert_stderr_contains("127.0.0.1:9");
    e.berth(&["build", s(&dir)])
        .run()
        .assert_code(1)
        .assert_stderr_contains("\n   2 | FROM 127.0.0.1:9/nosuch\n     | ^");
    let dir = e.ctx(
        "runfails",
        &[("Dockerfile", "FROM busybox\nRUN true\n    RUN exit 4\n")],
    );
    e.berth(&["build", s(&dir)])
        .run()
        .assert_code(4)
        .assert_stderr_contains("returned a non-zero code: 4\n   3 |     RUN exit 4\n     |     ^");
    e.assert_clean();
}

/// Regressions: `FROM $VAR` whose meta ARG names an earlier stage failed with
/// "stage N was not built" (the needed stages ignored variables); ARG names were not
/// expanded (docker expands `ARG ${NAME}=x`, in stages and before FROM).
#[test]
fn from_a_variable_naming_a_stage_and_expanded_arg_names() {
    let e = Env::new();
    let df = "ARG BASE=builder\nARG META_NAME=METAVAR\nARG ${META_NAME}=meta-value\nFROM busybox AS builder\nRUN echo from-builder > /b\nFROM busybox AS other\nRUN echo from-other > /b\nFROM $BASE\nARG METAVAR\nARG KEY=NAMED\nARG ${KEY}=expanded\nRUN echo \"$NAMED $METAVAR\" > /n\nCOPY --from=1 /b /b1\nCMD [\"cat\", \"/b\", \"/n\", \"/b1\"]\n";
    let dir = e.ctx("fromvar", &[("Dockerfile", df)]);
    let want = "from-builder\nexpanded meta-value\nfrom-other\n";
    e.docker(&["build", "-q", "-t", "fv", s(&dir)]).ok();
    assert_eq!(e.run(&["fv"]), want);
    e.berth(&["build", "-q", "-t", "fv-b", s(&dir)]).ok();
    assert_eq!(e.run(&["fv-b"]), want);
    assert!(
        e.history("fv")
            .iter()
            .any(|l| l == "/bin/sh -c #(nop)  ARG NAMED=expanded"),
        "{:?}",
        e.history("fv")
    );
    // --build-arg picks the other stage; a --build-arg for the expanded name wins.
    let args = [
        "build",
        "-q",
        "--build-arg",
        "BASE=other",
        "--build-arg",
        "NAMED=given",
        "-t",
        "fv2",
        s(&dir),
    ];
    e.docker(&args).ok();
    assert_eq!(
        e.run(&["fv2"]),
        "from-other\ngiven meta-value\nfrom-other\n"
    );
    e.assert_clean();
}

/// RUN's `--network=none|host|default` (per step, as BuildKit has it) and
/// HEALTHCHECK with every option.
#[test]
fn run_network_flag_and_every_healthcheck_option() {
    let e = Env::new();
    let list = "ls /sys/class/net | sort | tr '\\n' ' '";
    let df = format!(
        "FROM busybox\nRUN --network=none {list} > /none\nRUN --network=default {list} > /default\nRUN --network=host {list} > /host\nHEALTHCHECK --interval=2s --timeout=3s --start-period=4s --start-interval=1s --retries=5 CMD true\n"
    );
    let dir = e.ctx("runnet", &[("Dockerfile", &df)]);
    let host = e.run(&["--network", "host", "busybox", "sh", "-c", list]);
    for (cli, tag) in [("docker", "rn"), ("berth", "rn-b")] {
        let args = ["build", "-q", "-t", tag, s(&dir)];
        if cli == "docker" {
            e.docker(&args).ok();
        } else {
            e.berth(&args).ok();
        }
        assert_eq!(e.run(&[tag, "cat", "/none"]), "lo ", "{cli}");
        assert_eq!(e.run(&[tag, "cat", "/default"]), "eth0 lo ", "{cli}");
        let seen = e.run(&[tag, "cat", "/host"]);
        let shared = seen
            .split_whitespace()
            .filter(|i| !["lo", "eth0"].contains(i))
            .any(|i| host.split_whitespace().any(|h| h == i));
        assert!(shared, "{cli}: build saw {seen:?}, host has {host:?}");
        assert_eq!(
            e.config(tag)["Healthcheck"],
            json!({"Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000i64, "Timeout": 3_000_000_000i64, "StartPeriod": 4_000_000_000i64, "StartInterval": 1_000_000_000i64, "Retries": 5})
        );
    }
    e.assert_clean();
}

/// An unterminated quote is docker's expansion error, at its line; `-f -` reads the
/// Dockerfile from stdin with a context directory.
#[test]
fn unterminated_quotes_and_a_dockerfile_from_stdin_with_a_context() {
    let e = Env::new();
    for (i, (line, want)) in [
        (
            "ENV A=\"open",
            "failed to process \"\\\"open\": unexpected end of statement while looking for matching double-quote",
        ),
        (
            "LABEL x='open",
            "failed to process \"'open\": unexpected end of statement while looking for matching single-quote",
        ),
    ]
    .iter()
    .enumerate()
    {
        let dir = e.ctx(
            &format!("quote{i}"),
            &[("Dockerfile", &format!("FROM busybox\n{line}\n"))],
        );
        for c in [e.docker(&["build", s(&dir)]), e.berth(&["build", s(&dir)])] {
            c.run().assert_code(1).assert_stderr_contains(want);
        }
    }
    let dir = e.ctx("fstdin", &[("f.txt", "from the context\n")]);
    let df = "FROM busybox\nCOPY f.txt /f\nCMD [\"cat\", \"/f\"]\n";
    e.docker(&["build", "-q", "-t", "fs", "-f", "-", s(&dir)])
        .stdin(df)
        .ok();
    assert_eq!(e.run(&["fs"]), "from the context\n");
    e.berth(&["build", "-q", "-t", "fs-b", "-f", "-", s(&dir)])
        .stdin(df)
        .ok();
    assert_eq!(e.run(&["fs-b"]), "from the context\n");
    e.assert_clean();
}

/// A client killed while its context is still uploading, and the berth CLI killed
/// during a RUN: nothing is left (container, mount, scratch dir).
#[test]
fn interrupted_uploads_and_berth_clients_leave_nothing() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let e = Env::new();
    // Half a tar: a (pre-POSIX, no magic) header announcing 8 MiB, then 1 MiB of
    // it; stdin stays open.
    let mut header = [0u8; 512];
    header[..4].copy_from_slice(b"big\0");
    header[100..108].copy_from_slice(b"0000644\0");
    header[124..136].copy_from_slice(b"00040000000\0");
    header[156] = b'0';
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    for cli in ["docker", "berth"] {
        let mut cmd = if cli == "docker" {
            let mut c = Command::new("docker");
            c.args(["-H", &e.d.host(), "build", "-"])
                .env("DOCKER_BUILDKIT", "0");
            c
        } else {
            let mut c = Command::new(e.d.bin());
            c.args(["-H", &e.d.host(), "build", "-"]);
            c
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&header).unwrap();
        stdin.write_all(&vec![b'x'; 1 << 20]).unwrap();
        stdin.flush().unwrap();
        // The daemon is reading the context when a scratch dir exists.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::read_dir(e.d.data_root().join("builder/tmp"))
            .map(|r| r.count())
            .unwrap_or(0)
            == 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{cli}: the daemon never started reading the context"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        drop(stdin);
        e.wait_clean(&format!("{cli} killed mid-upload"));
    }
    // The berth CLI killed while a RUN sleeps.
    let dir = e.ctx(
        "sleeps",
        &[("Dockerfile", "FROM busybox\nRUN echo started && sleep 60\n")],
    );
    let mut c = Command::new(e.d.bin());
    c.args(["-H", &e.d.host(), "build", "--progress=plain", s(&dir)]);
    Client::start(c, "\nstarted\n").kill();
    e.wait_clean("berth killed during RUN");
    e.assert_clean();
}

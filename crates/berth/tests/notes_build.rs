//! The build chapter of the user's Docker notes (`seed/000_…txt` lines 20-120), walked
//! note by note in order with the real docker CLI (`DOCKER_BUILDKIT=0`, the classic
//! builder) and the berth CLI. busybox stands in for nginx (its `httpd` serves
//! index.html) and for the Ubuntu rootfs tarball; `curl` of the NODE_VERSION example is
//! an `echo` of the same URL (tests send no traffic off the machine).
//!
//! Covered elsewhere, not repeated here: `docker build https://github.com/…git` (git
//! contexts) in build_remote.rs; `docker import <URL>` in notes.rs's containers
//! chapter; `docker save alpine | gzip > …` and `docker load -i …` in notes.rs's
//! images chapter.

mod common;
#[path = "build_support/mod.rs"]
mod nb;
#[path = "notes_support/mod.rs"]
mod notes_support;
#[path = "network_support/mod.rs"]
mod support;

use common::*;
use nb::*;
use notes_support::inspect;
use serde_json::{Value, json};
use std::time::Duration;

/// The stand-in for the Hub's nginx: busybox httpd serving /usr/share/nginx/html on 80.
const NGINX: &str = "FROM busybox\nRUN mkdir -p /usr/share/nginx/html\nEXPOSE 80\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/usr/share/nginx/html\"]\n";

/// The note's first Dockerfile, word for word.
const NOTES_DF: &str = "FROM nginx\n# FROM scratch 一个空白镜像，使用 Go 语言 开发的应用很多会使用这种方式来制作镜像\nRUN echo \"<h1>Hello, Docker!</h1>\" > /usr/share/nginx/html/index.html\n";

/// 简单使用: the Dockerfile, `docker build -t nginx:v3 .`, the page served; RUN's two
/// forms; `.dockerignore`.
#[test]
fn simple_use_build_and_serve() {
    let e = Env::new();
    e.build("nginx", &[("Dockerfile", NGINX)]);

    // docker build -t nginx:v3 .
    let out = e.build("nginx-v3", &[("Dockerfile", NOTES_DF)]);
    let dir = e.d.scratch().join("nginx-v3");
    let out2 = e
        .docker(&["build", "-t", "nginx:v3", "."])
        .current_dir(&dir)
        .ok()
        .out();
    for o in [&out, &out2] {
        assert!(o.contains("Step 1/2 : FROM nginx\n"), "{o}");
        assert!(
            o.contains(
                "Step 2/2 : RUN echo \"<h1>Hello, Docker!</h1>\" > /usr/share/nginx/html/index.html\n"
            ),
            "{o}"
        );
        assert!(o.contains("Successfully built "), "{o}");
    }
    assert!(out2.contains(" ---> Using cache\n"), "{out2}");
    assert!(out2.ends_with("Successfully tagged nginx:v3\n"), "{out2}");
    // The page is in the image and served.
    assert_eq!(
        e.run(&["nginx:v3", "cat", "/usr/share/nginx/html/index.html"]),
        "<h1>Hello, Docker!</h1>\n"
    );
    e.docker(&["run", "-d", "--name", "webserver", "-p", "80", "nginx:v3"])
        .ok();
    let port = published(&e, "webserver", "80");
    assert_eq!(
        support::http_get_eventually(port),
        "<h1>Hello, Docker!</h1>\n"
    );
    e.docker(&["rm", "-f", "webserver"]).ok();
    // The same build with the berth CLI.
    e.berth(&["build", "--progress=plain", "-t", "nginx:v3b", s(&dir)])
        .ok();
    assert_eq!(
        e.run(&["nginx:v3b", "cat", "/usr/share/nginx/html/index.html"]),
        "<h1>Hello, Docker!</h1>\n"
    );

    // RUN <命令> (shell form) and RUN ["可执行文件", "参数1", "参数2"] (exec form).
    let out = e.build(
        "runforms",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo '<h1>Hello, Docker!</h1>' > /shell.html && echo \"shell $HOME\"\nRUN [\"sh\", \"-c\", \"echo exec > /exec.txt\"]\nRUN [\"echo\", \"no $HOME expansion in exec form\"]\n",
        )],
    );
    assert!(out.contains("\nshell /root\n"), "{out}");
    assert!(out.contains("\nno $HOME expansion in exec form\n"), "{out}");
    assert_eq!(
        e.run(&["runforms", "cat", "/shell.html", "/exec.txt"]),
        "<h1>Hello, Docker!</h1>\nexec\n"
    );
    let h = e.history("runforms");
    assert_eq!(h[0], "echo no $HOME expansion in exec form");
    assert_eq!(h[1], "sh -c echo exec > /exec.txt");
    assert_eq!(
        h[2],
        "/bin/sh -c echo '<h1>Hello, Docker!</h1>' > /shell.html && echo \"shell $HOME\""
    );

    // .dockerignore: what it names never reaches the daemon.
    let files = [
        (
            "Dockerfile",
            "FROM busybox\nCOPY . /app/\nCMD [\"ls\", \"-A\", \"/app\"]\n",
        ),
        (".dockerignore", "node_modules\n.git\n*.log\n"),
        ("node_modules/big.bin", "x"),
        (".git/HEAD", "ref: refs/heads/master\n"),
        ("debug.log", "log"),
        ("index.html", "<h1>Hello</h1>\n"),
    ];
    e.build("ignored", &files);
    let listing = ".dockerignore\nDockerfile\nindex.html\n";
    assert_eq!(e.run(&["ignored"]), listing);
    let dir = e.d.scratch().join("ignored");
    e.berth(&["build", "-q", "-t", "ignored-b", s(&dir)]).ok();
    assert_eq!(e.run(&["ignored-b"]), listing);
    e.assert_clean();
}

/// `docker build http://server/context.tar.gz`, `docker build - < Dockerfile`,
/// `cat Dockerfile | docker build -`, `docker build - < context.tar.gz`.
#[test]
fn contexts_from_a_url_and_from_stdin() {
    let e = Env::new();
    let dir = e.ctx(
        "urlctx",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY index.html /www/\nCMD [\"cat\", \"/www/index.html\"]\n",
            ),
            ("index.html", "<h1>from a tarball</h1>\n"),
        ],
    );
    let tgz = e.d.scratch().join("context.tar.gz");
    tar_gz(&dir, &tgz);
    let srv = FileServer::start(&[("/context.tar.gz", &tgz)]);
    let url = srv.url("/context.tar.gz");
    // docker build http://server/context.tar.gz
    let out = e.docker(&["build", "-t", "fromurl", &url]).ok().out();
    assert!(
        out.contains("Successfully tagged fromurl:latest\n"),
        "{out}"
    );
    assert_eq!(e.run(&["fromurl"]), "<h1>from a tarball</h1>\n");
    e.berth(&["build", "-t", "fromurl-b", &url]).ok();
    assert_eq!(e.run(&["fromurl-b"]), "<h1>from a tarball</h1>\n");

    // docker build - < Dockerfile; cat Dockerfile | docker build -
    std::fs::write(
        e.d.scratch().join("Dockerfile"),
        "FROM busybox\nRUN echo from-stdin > /s\nCMD [\"cat\", \"/s\"]\n",
    )
    .unwrap();
    let o = e.sh("docker build -t stdin1 - < Dockerfile");
    o.assert_ok();
    assert!(o.out().contains("Step 2/3 : RUN echo from-stdin > /s\n"));
    assert_eq!(e.run(&["stdin1"]), "from-stdin\n");
    e.sh("cat Dockerfile | docker build -t stdin2 -")
        .assert_ok();
    assert_eq!(e.run(&["stdin2"]), "from-stdin\n");
    let df = e.d.scratch().join("Dockerfile");
    e.berth(&["build", "-t", "stdin3", "-"])
        .stdin_file(&df)
        .ok();
    assert_eq!(e.run(&["stdin3"]), "from-stdin\n");
    // A Dockerfile on stdin has no context: COPY finds nothing.
    std::fs::write(e.d.scratch().join("Copying"), "FROM busybox\nCOPY x /x\n").unwrap();
    e.sh("docker build - < Copying")
        .assert_code(1)
        .assert_stderr_contains("COPY failed:");

    // docker build - < context.tar.gz
    e.sh("docker build -t stdin4 - < context.tar.gz")
        .assert_ok();
    assert_eq!(e.run(&["stdin4"]), "<h1>from a tarball</h1>\n");
    e.berth(&["build", "-t", "stdin5", "-"])
        .stdin_file(&tgz)
        .ok();
    assert_eq!(e.run(&["stdin5"]), "<h1>from a tarball</h1>\n");
    e.assert_clean();
}

/// COPY (every form in the notes) and ADD of a rootfs tarball, auto-extracted.
#[test]
fn copy_and_add() {
    let e = Env::new();
    let df = "FROM busybox\nCOPY a.txt b.txt /multi/\nCOPY [\"with space.txt\", \"/json dest/\"]\nCOPY package.json /usr/src/app/\nCOPY dir /dir\nCOPY *.txt /glob/\nWORKDIR /usr/src/app\nCOPY package.json ./copy.json\nCOPY --chown=nobody:nogroup a.txt /owned.txt\n";
    for (cli, tag) in [("docker", "copies"), ("berth", "copies-b")] {
        let dir = e.ctx(
            "copies",
            &[
                ("Dockerfile", df),
                ("a.txt", "a\n"),
                ("b.txt", "b\n"),
                ("with space.txt", "s\n"),
                ("package.json", "{\"name\": \"app\"}\n"),
                ("dir/sub/c.txt", "c\n"),
            ],
        );
        let args = ["build", "-t", tag, s(&dir)];
        if cli == "docker" {
            e.docker(&args).ok();
        } else {
            e.berth(&args).ok();
        }
        let found = e.run(&[
            tag,
            "sh",
            "-c",
            "find /multi '/json dest' /usr/src/app /dir /glob -type f | sort; cat /usr/src/app/package.json",
        ]);
        assert_eq!(
            found,
            "/dir/sub/c.txt\n/glob/a.txt\n/glob/b.txt\n/glob/with space.txt\n/json dest/with space.txt\n/multi/a.txt\n/multi/b.txt\n/usr/src/app/copy.json\n/usr/src/app/package.json\n{\"name\": \"app\"}\n",
            "{cli}"
        );
    }
    assert_eq!(
        e.run(&["copies", "stat", "-c", "%U:%G", "/owned.txt"]),
        "nobody:nogroup\n"
    );
    let h = e.history("copies");
    // docker glues --chown= to the checksum in this line.
    assert!(
        h[0].starts_with("/bin/sh -c #(nop) COPY --chown=nobody:nogroupfile:")
            && h[0].ends_with(" in /owned.txt "),
        "{h:?}"
    );
    assert!(
        h[1].starts_with("/bin/sh -c #(nop) COPY file:") && h[1].ends_with(" in ./copy.json "),
        "{h:?}"
    );
    assert_eq!(h[2], "/bin/sh -c #(nop) WORKDIR /usr/src/app");
    assert!(
        h[4].starts_with("/bin/sh -c #(nop) COPY dir:") && h[4].ends_with(" in /dir "),
        "{h:?}"
    );
    assert!(h[7].starts_with("/bin/sh -c #(nop) COPY multi:"), "{h:?}");

    // ADD ubuntu-xenial-core-cloudimg-amd64-root.tar.gz / : a rootfs, unpacked.
    let rootfs = busybox_rootfs_tar(&e.d.scratch());
    let dir = e.ctx(
        "rootfs",
        &[(
            "Dockerfile",
            "FROM scratch\nADD ubuntu-xenial-core-cloudimg-amd64-root.tar.gz /\nCMD [\"sh\"]\n",
        )],
    );
    let st = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -c '{}' > '{}/ubuntu-xenial-core-cloudimg-amd64-root.tar.gz'",
            rootfs.display(),
            dir.display()
        ))
        .status()
        .unwrap();
    assert!(st.success());
    let out = e
        .docker(&["build", "-t", "xenial", "."])
        .current_dir(&dir)
        .ok()
        .out();
    assert!(
        out.contains("Step 2/3 : ADD ubuntu-xenial-core-cloudimg-amd64-root.tar.gz /\n"),
        "{out}"
    );
    assert_eq!(
        e.run(&[
            "xenial",
            "sh",
            "-c",
            "echo $((6*7)); ls /ubuntu* 2>/dev/null || echo unpacked"
        ]),
        "42\nunpacked\n"
    );
    let h = e.history("xenial");
    assert_eq!(h.len(), 2, "{h:?}");
    assert!(
        h[1].starts_with("/bin/sh -c #(nop) ADD file:") && h[1].ends_with(" in / "),
        "{h:?}"
    );
    e.assert_clean();
}

/// CMD's three forms, `docker run img args` replacing CMD, ENTRYPOINT (arguments
/// appended, `--entrypoint`, the prepare-then-exec script), and ENTRYPOINT dropping
/// the CMD it inherited.
#[test]
fn cmd_and_entrypoint() {
    let e = Env::new();
    // shell form
    e.build(
        "cmd-shell",
        &[(
            "Dockerfile",
            "FROM busybox\nCMD echo \"shell form: $HOME\"\n",
        )],
    );
    assert_eq!(
        e.config("cmd-shell")["Cmd"],
        json!(["/bin/sh", "-c", "echo \"shell form: $HOME\""])
    );
    assert_eq!(e.run(&["cmd-shell"]), "shell form: /root\n");
    // exec form, and run's arguments replace it
    e.build(
        "cmd-exec",
        &[(
            "Dockerfile",
            "FROM busybox\nCMD [\"echo\", \"exec form\"]\n",
        )],
    );
    assert_eq!(e.run(&["cmd-exec"]), "exec form\n");
    assert_eq!(e.run(&["cmd-exec", "echo", "replaced"]), "replaced\n");
    assert_eq!(
        e.history("cmd-exec")[0],
        "/bin/sh -c #(nop)  CMD [\"echo\" \"exec form\"]"
    );
    // parameters for an ENTRYPOINT
    e.build(
        "ep",
        &[(
            "Dockerfile",
            "FROM busybox\nENTRYPOINT [\"echo\", \"entrypoint\"]\nCMD [\"param1\", \"param2\"]\n",
        )],
    );
    assert_eq!(e.run(&["ep"]), "entrypoint param1 param2\n");
    assert_eq!(e.run(&["ep", "-n", "other"]), "entrypoint -n other\n");
    assert_eq!(
        e.run(&["--entrypoint", "ls", "ep", "/bin/busybox"]),
        "/bin/busybox\n"
    );
    let c = e.config("ep");
    assert_eq!(c["Entrypoint"], json!(["echo", "entrypoint"]));
    assert_eq!(c["Cmd"], json!(["param1", "param2"]));
    // A new ENTRYPOINT drops the base's CMD (busybox's ["sh"]); one in the same
    // stage before it is kept.
    e.build(
        "ep-only",
        &[(
            "Dockerfile",
            "FROM busybox\nENTRYPOINT [\"echo\", \"only\"]\n",
        )],
    );
    assert_eq!(e.config("ep-only")["Cmd"], Value::Null);
    assert_eq!(e.run(&["ep-only"]), "only\n");
    // Regression: `CMD []` counted as a CMD of the stage and survived ENTRYPOINT.
    e.build(
        "ep-empty",
        &[(
            "Dockerfile",
            "FROM busybox\nCMD []\nENTRYPOINT [\"echo\", \"e\"]\nMAINTAINER me <me@example.com>\n",
        )],
    );
    assert_eq!(e.config("ep-empty")["Cmd"], Value::Null);
    assert_eq!(inspect(&e.d, "ep-empty")["Author"], "me <me@example.com>");
    assert_eq!(
        e.history("ep-empty")[0],
        "/bin/sh -c #(nop)  MAINTAINER me <me@example.com>"
    );
    e.build(
        "ep-shell",
        &[("Dockerfile", "FROM busybox\nENTRYPOINT echo shell-ep\n")],
    );
    assert_eq!(
        e.config("ep-shell")["Entrypoint"],
        json!(["/bin/sh", "-c", "echo shell-ep"])
    );
    assert_eq!(e.run(&["ep-shell", "ignored"]), "shell-ep\n");
    assert_eq!(
        e.history("ep-shell")[0],
        "/bin/sh -c #(nop)  ENTRYPOINT [\"/bin/sh\" \"-c\" \"echo shell-ep\"]"
    );
    // `CMD service nginx start` exits at once: the server goes to the background
    // and the container's main process ends; CMD ["nginx", "-g", "daemon off;"]
    // (here httpd -f) keeps it in the foreground.
    e.build(
        "bg",
        &[("Dockerfile", "FROM busybox\nCMD httpd -p 80 -h /\n")],
    );
    e.docker(&["run", "-d", "--name", "bg1", "bg"]).ok();
    let mut status = String::new();
    for _ in 0..100 {
        status = e
            .docker(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}}",
                "bg1",
            ])
            .ok()
            .out();
        if status.starts_with("exited") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, "exited 0\n");
    e.docker(&["rm", "bg1"]).ok();
    // The prepare-then-exec pattern: a script gets CMD as its arguments.
    let script = "#!/bin/sh\nset -e\nif [ \"$1\" = 'serve' ]; then\n  mkdir -p /data && echo prepared > /data/state\n  exec cat /data/state\nfi\nexec \"$@\"\n";
    e.build(
        "prep",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY docker-entrypoint.sh /usr/local/bin/\nRUN chmod +x /usr/local/bin/docker-entrypoint.sh\nENTRYPOINT [\"docker-entrypoint.sh\"]\nCMD [\"serve\"]\n",
            ),
            ("docker-entrypoint.sh", script),
        ],
    );
    assert_eq!(e.run(&["prep"]), "prepared\n");
    assert_eq!(e.run(&["prep", "id", "-u"]), "0\n");
    e.assert_clean();
}

/// ENV (both forms, used by a later RUN), ARG (a build-time value, gone at run
/// time, `--build-arg`), VOLUME (an anonymous volume at run), EXPOSE (`run -P`).
#[test]
fn env_arg_volume_expose() {
    let e = Env::new();
    e.build(
        "envs",
        &[(
            "Dockerfile",
            "FROM busybox\nENV NODE_VERSION 7.2.0\nENV A=1 B=\"two words\" C=${NODE_VERSION}\nRUN echo \"https://nodejs.org/dist/v$NODE_VERSION/node-v$NODE_VERSION-linux-x64.tar.xz\" > /url\n",
        )],
    );
    assert_eq!(
        e.run(&["envs", "sh", "-c", "cat /url; echo \"$A|$B|$C\""]),
        "https://nodejs.org/dist/v7.2.0/node-v7.2.0-linux-x64.tar.xz\n1|two words|7.2.0\n"
    );
    let env = e.config("envs")["Env"].clone();
    assert_eq!(
        env,
        json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "NODE_VERSION=7.2.0",
            "A=1",
            "B=two words",
            "C=7.2.0"
        ])
    );
    let h = e.history("envs");
    assert_eq!(h[1], "/bin/sh -c #(nop)  ENV A=1 B=two words C=7.2.0");
    assert_eq!(h[2], "/bin/sh -c #(nop)  ENV NODE_VERSION=7.2.0");

    // ARG
    let df = "FROM busybox\nARG VERSION=1.0\nRUN echo \"version $VERSION\" > /version\n";
    e.build("args", &[("Dockerfile", df)]);
    assert_eq!(
        e.run(&[
            "args",
            "sh",
            "-c",
            "cat /version; env | grep -c VERSION || true"
        ]),
        "version 1.0\n0\n"
    );
    let dir = e.d.scratch().join("args");
    e.docker(&[
        "build",
        "--build-arg",
        "VERSION=2.0",
        "-t",
        "args2",
        s(&dir),
    ])
    .ok();
    assert_eq!(e.run(&["args2", "cat", "/version"]), "version 2.0\n");
    let h = e.history("args2");
    assert_eq!(
        h[0],
        "|1 VERSION=2.0 /bin/sh -c echo \"version $VERSION\" > /version"
    );
    assert_eq!(h[1], "/bin/sh -c #(nop)  ARG VERSION=1.0");
    e.berth(&[
        "build",
        "--build-arg",
        "VERSION=3.0",
        "-t",
        "args3",
        s(&dir),
    ])
    .ok();
    assert_eq!(e.run(&["args3", "cat", "/version"]), "version 3.0\n");

    // VOLUME: both forms; a RUN's writes under a volume are not kept (docker's
    // classic builder runs each step with the image's volumes mounted).
    e.build(
        "vols",
        &[(
            "Dockerfile",
            "FROM busybox\nVOLUME /data\nVOLUME [\"/a\", \"/b\"]\nRUN echo discarded > /data/f\n",
        )],
    );
    assert_eq!(
        e.config("vols")["Volumes"],
        json!({"/a": {}, "/b": {}, "/data": {}})
    );
    assert_eq!(e.history("vols")[1], "/bin/sh -c #(nop)  VOLUME [/a /b]");
    assert_eq!(
        e.docker(&["volume", "ls", "-q"]).ok().out(),
        "",
        "the build left volumes"
    );
    e.docker(&["run", "--name", "vol1", "vols", "ls", "/data"])
        .ok();
    assert_eq!(e.docker(&["logs", "vol1"]).ok().out(), "");
    let mounts = e
        .docker(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{.Destination}};{{end}}",
            "vol1",
        ])
        .ok()
        .out();
    let mut m: Vec<&str> = mounts.trim().split(';').filter(|x| !x.is_empty()).collect();
    m.sort();
    assert_eq!(m, ["volume /a", "volume /b", "volume /data"]);
    assert_eq!(e.docker(&["volume", "ls", "-q"]).ok().lines().len(), 3);
    e.docker(&["rm", "-v", "vol1"]).ok();

    // EXPOSE, then `docker run -P` maps it to a random host port.
    e.build(
        "exposed",
        &[(
            "Dockerfile",
            "FROM busybox\nEXPOSE 80 443/tcp\nRUN mkdir /www && echo exposed > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
        )],
    );
    assert_eq!(
        e.config("exposed")["ExposedPorts"],
        json!({"443/tcp": {}, "80/tcp": {}})
    );
    e.docker(&["run", "-d", "-P", "--name", "web", "exposed"])
        .ok();
    let port = published(&e, "web", "80");
    published(&e, "web", "443");
    assert_eq!(support::http_get_eventually(port), "exposed\n");
    e.docker(&["rm", "-f", "web"]).ok();
    e.assert_clean();
}

/// WORKDIR (created if missing, relative forms), USER (must exist).
#[test]
fn workdir_and_user() {
    let e = Env::new();
    e.build(
        "wd",
        &[(
            "Dockerfile",
            "FROM busybox\nWORKDIR /a/b/c\nRUN pwd > /pwd\nWORKDIR d\nWORKDIR /tmp\n",
        )],
    );
    assert_eq!(
        e.run(&["wd", "sh", "-c", "cat /pwd; pwd; ls -d /a/b/c/d"]),
        "/a/b/c\n/tmp\n/a/b/c/d\n"
    );
    assert_eq!(e.config("wd")["WorkingDir"], "/tmp");
    let h = e.history("wd");
    assert_eq!(h[0], "/bin/sh -c #(nop) WORKDIR /tmp");
    assert_eq!(h[1], "/bin/sh -c #(nop) WORKDIR /a/b/c/d");
    assert_eq!(h[3], "/bin/sh -c #(nop) WORKDIR /a/b/c");

    let out = e.build(
        "usr",
        &[("Dockerfile", "FROM busybox\nUSER nobody\nRUN whoami\n")],
    );
    assert!(out.contains("\nnobody\n"), "{out}");
    assert_eq!(e.run(&["usr", "whoami"]), "nobody\n");
    assert_eq!(e.config("usr")["User"], "nobody");
    assert_eq!(e.history("usr")[1], "/bin/sh -c #(nop)  USER nobody");
    // The user must exist when a RUN uses it.
    let dir = e.ctx(
        "nouser",
        &[("Dockerfile", "FROM busybox\nUSER nosuchuser\nRUN true\n")],
    );
    e.docker(&["build", s(&dir)])
        .run()
        .assert_code(1)
        .assert_stderr_contains("unable to find user nosuchuser");
    e.assert_clean();
}

/// HEALTHCHECK (a container becomes healthy; NONE drops the base's check) and ONBUILD
/// (triggers run in the child's build, not in the parent's).
#[test]
fn healthcheck_and_onbuild() {
    let e = Env::new();
    e.build(
        "hc",
        &[(
            "Dockerfile",
            "FROM busybox\nHEALTHCHECK --interval=1s --timeout=3s --retries=3 CMD test -f /tmp/healthy || exit 1\nCMD [\"sh\", \"-c\", \"touch /tmp/healthy; exec sleep 60\"]\n",
        )],
    );
    assert_eq!(
        e.config("hc")["Healthcheck"],
        json!({"Test": ["CMD-SHELL", "test -f /tmp/healthy || exit 1"], "Interval": 1_000_000_000i64, "Timeout": 3_000_000_000i64, "Retries": 3})
    );
    assert_eq!(
        e.history("hc")[1],
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"test -f /tmp/healthy || exit 1\"] \"1s\" \"3s\" \"0s\" \"0s\" '\\x03'}"
    );
    e.docker(&["run", "-d", "--name", "hc1", "hc"]).ok();
    let mut status = String::new();
    for _ in 0..150 {
        status = e
            .docker(&["inspect", "-f", "{{.State.Health.Status}}", "hc1"])
            .ok()
            .out();
        if status == "healthy\n" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(status, "healthy\n");
    e.docker(&["rm", "-f", "hc1"]).ok();
    // HEALTHCHECK NONE in a child image.
    let out = e.build("nohc", &[("Dockerfile", "FROM hc\nHEALTHCHECK NONE\n")]);
    assert!(
        out.contains(
            "Note: overriding previous HEALTHCHECK: [CMD-SHELL test -f /tmp/healthy || exit 1]\n"
        ),
        "{out}"
    );
    assert_eq!(e.config("nohc")["Healthcheck"], json!({"Test": ["NONE"]}));
    e.docker(&["run", "-d", "--name", "nohc1", "nohc"]).ok();
    assert_eq!(
        e.docker(&[
            "inspect",
            "-f",
            "{{if .State.Health}}checked{{else}}no check{{end}}",
            "nohc1"
        ])
        .ok()
        .out(),
        "no check\n"
    );
    e.docker(&["rm", "-f", "nohc1"]).ok();

    // ONBUILD: stored, not run, in the parent.
    let out = e.build(
        "parent",
        &[(
            "Dockerfile",
            "FROM busybox\nONBUILD COPY hello.txt /app/hello.txt\nONBUILD run echo \"triggered in child\" > /app/triggered\n",
        )],
    );
    assert!(!out.contains("# Executing"), "{out}");
    e.docker(&["run", "--rm", "parent", "ls", "/app"])
        .run()
        .assert_code(1);
    assert_eq!(
        e.config("parent")["OnBuild"],
        json!([
            "COPY hello.txt /app/hello.txt",
            "run echo \"triggered in child\" > /app/triggered"
        ])
    );
    assert_eq!(
        e.history("parent")[0],
        "/bin/sh -c #(nop)  ONBUILD run echo \"triggered in child\" > /app/triggered"
    );
    // The child's build runs them, right after its FROM.
    let out = e.build(
        "child",
        &[
            (
                "Dockerfile",
                "FROM parent\nCMD [\"cat\", \"/app/hello.txt\", \"/app/triggered\"]\n",
            ),
            ("hello.txt", "hello from the child's context\n"),
        ],
    );
    // docker prints the FROM step's " ---> id" once the triggers are done.
    let trig = out.find("# Executing 2 build triggers\n").expect(&out);
    let step2 = out.find("Step 2/2 :").expect(&out);
    assert!(trig < step2, "{out}");
    assert!(out[..trig].ends_with("Step 1/2 : FROM parent\n"), "{out}");
    assert_eq!(
        e.run(&["child"]),
        "hello from the child's context\ntriggered in child\n"
    );
    assert_eq!(e.config("child")["OnBuild"], Value::Null);
    e.assert_clean();
}

/// The rest of the classic builder's behaviour the notes lean on: SHELL changes the
/// shell of RUN/CMD/ENTRYPOINT shell forms (and of the history's `#(nop)` lines),
/// STOPSIGNAL, LABEL, `${VAR:-default}`/`${VAR:+alt}`, EXPOSE of a variable holding
/// several ports, escapes, heredocs, ARG scoping across stages and before FROM,
/// `# escape=` and `# syntax=`.
#[test]
fn instructions_behave_as_the_classic_builder() {
    let e = Env::new();
    let df = "# syntax=docker/dockerfile:1\nARG BASE=busybox\nARG SHARED=meta\nFROM ${BASE} AS first\nARG SHARED\nARG LOCAL=first-only\nRUN echo \"$SHARED $LOCAL\" > /first\nFROM $BASE\nARG LOCAL\nCOPY --from=first /first /first\nRUN echo \"[${LOCAL:-unset}] [${SHARED:-unset}]\" > /second\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo \"shell: $0\" > /shell && case $- in *e*) echo errexit >> /shell;; esac\nENV W=world PORTS=\"8080 9090/udp\" PKG=/src/app.tar.gz\nEXPOSE $PORTS\nLABEL greeting=\"hello ${W}\" alt=${W:+set} dflt=${NOPE:-fallback} literal='$W' escaped=\\$W base=${PKG##*/} stem=${PKG%.tar.gz} dashed=${PKG//\\//-}\nSTOPSIGNAL SIGQUIT\nRUN <<EOF\necho \"heredoc $W\" > /heredoc\nEOF\nCMD echo cmd\n";
    let out = e.build("classic", &[("Dockerfile", df)]);
    assert!(out.contains("Step 1/"), "{out}");
    assert_eq!(
        e.run(&["classic", "cat", "/first", "/second", "/shell", "/heredoc"]),
        "meta first-only\n[unset] [unset]\nshell: /bin/sh\nerrexit\nheredoc world\n"
    );
    let c = e.config("classic");
    assert_eq!(c["Shell"], json!(["/bin/sh", "-ec"]));
    assert_eq!(c["Cmd"], json!(["/bin/sh", "-ec", "echo cmd"]));
    assert_eq!(c["StopSignal"], "SIGQUIT");
    assert_eq!(c["ExposedPorts"], json!({"8080/tcp": {}, "9090/udp": {}}));
    assert_eq!(
        c["Labels"],
        json!({"greeting": "hello world", "alt": "set", "dflt": "fallback", "literal": "$W", "escaped": "$W", "base": "app.tar.gz", "stem": "/src/app", "dashed": "-src-app.tar.gz"})
    );
    let h = e.history("classic");
    assert_eq!(
        h[0],
        "/bin/sh -ec #(nop)  CMD [\"/bin/sh\" \"-ec\" \"echo cmd\"]"
    );
    assert_eq!(h[2], "/bin/sh -ec #(nop)  STOPSIGNAL SIGQUIT");
    assert_eq!(h[4], "/bin/sh -ec #(nop)  EXPOSE 8080 9090/udp");
    assert_eq!(
        h[5],
        "/bin/sh -ec #(nop)  ENV W=world PORTS=8080 9090/udp PKG=/src/app.tar.gz"
    );
    assert!(
        h[6].starts_with("/bin/sh -ec echo \"shell: $0\" > /shell && case"),
        "{h:?}"
    );
    assert_eq!(h[7], "/bin/sh -ec #(nop)  SHELL [/bin/sh -ec]");
    assert!(
        h[9].starts_with("/bin/sh -c #(nop) COPY file:") && h[9].ends_with(" in /first "),
        "{h:?}"
    );
    assert_eq!(h[10], "/bin/sh -c #(nop)  ARG LOCAL");
    // An invalid STOPSIGNAL fails the build, as docker's does.
    let dir = e.ctx(
        "badsig",
        &[("Dockerfile", "FROM busybox\nSTOPSIGNAL SIGNOPE\n")],
    );
    e.docker(&["build", s(&dir)])
        .run()
        .assert_code(1)
        .assert_stderr_contains("Invalid signal: SIGNOPE");
    // An expansion error carries docker's text (berth adds the line).
    let dir = e.ctx(
        "badsubst",
        &[("Dockerfile", "FROM busybox\nENV X=${Y:-x\n")],
    );
    for c in [e.docker(&["build", s(&dir)]), e.berth(&["build", s(&dir)])] {
        c.run()
            .assert_code(1)
            .assert_stderr_contains("failed to process \"${Y:-x\": syntax error: missing '}'");
    }

    // # escape=` : the backtick continues lines and escapes; a backslash is literal.
    let df = "# escape=`\nFROM busybox\nRUN echo C:\\path > /p && `\n    echo done >> /p\nENV DIR=C:\\dir LIT=`$HOME\n";
    e.build("backtick", &[("Dockerfile", df)]);
    assert_eq!(e.run(&["backtick", "cat", "/p"]), "C:path\ndone\n");
    assert_eq!(e.config("backtick")["Env"][1], "DIR=C:\\dir");
    assert_eq!(e.config("backtick")["Env"][2], "LIT=$HOME");
    e.assert_clean();
}

//! Remote build contexts: git URLs (`#ref:subdir`) through the docker CLI (which
//! clones itself and sends a tar), the berth CLI, and the API's `remote=`; the
//! errors docker gives for a bad ref, a missing subdir or an unreachable repo; and
//! hostile repositories (symlinks out of the checkout, `../..` subdirs).
//!
//! Repositories are served by a static file server on 127.0.0.1 speaking git's
//! "dumb" http protocol (`git update-server-info`), so no git daemon runs.

mod common;
mod remote_support;

use common::*;
use remote_support::*;
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
    /// The docker CLI, its clones under the test's scratch dir too (it leaves one
    /// behind when a subdir is bad).
    fn docker(&self, args: &[&str]) -> Cmd {
        let tmp = self.d.scratch().join("docker-tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        self.d
            .docker(args)
            .env("TMPDIR", &tmp)
            .env("DOCKER_BUILDKIT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .timeout(Duration::from_secs(120))
    }
    /// The berth CLI with its temp dir (the clone) under the test's scratch dir.
    fn berth(&self, args: &[&str]) -> Cmd {
        let tmp = self.d.scratch().join("berth-tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        self.d
            .berth(args)
            .env("TMPDIR", &tmp)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .timeout(Duration::from_secs(120))
    }
    fn run(&self, image: &str, script: &str) -> String {
        self.docker(&["run", "--rm", "--network=none", image, "sh", "-c", script])
            .ok()
            .out()
    }
    /// `POST /build?remote=<url>&t=<tag>` (what an API client sends); the response
    /// status and its JSON lines.
    fn api_build(&self, url: &str, tag: &str) -> (u16, String) {
        let path = format!("/build?remote={}&t={tag}", encode(url));
        let r = self.d.api("POST", &path, None);
        (r.status, r.text())
    }
    /// No build dirs, no clone left in the berth CLI's temp dir.
    fn assert_clean(&self) {
        let tmp = self.d.data_root().join("builder/tmp");
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "leftover build dirs: {left:?}");
        let left: Vec<_> = std::fs::read_dir(self.d.scratch().join("berth-tmp"))
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "leftover clones: {left:?}");
        assert_eq!(self.docker(&["ps", "-aq"]).ok().out(), "");
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const DF: &str = "FROM busybox\nCOPY . /ctx\nCMD [\"cat\", \"/ctx/version\"]\n";

/// A repo with `master` at version 2 (tag `v1` at version 1), a `dev` branch
/// whose `sub/` has its own Dockerfile; returns (server, url, commit of v1, repo).
fn sample_repo(d: &TestDaemon) -> (GitServer, String, String, Repo) {
    let repo = Repo::init(&d.scratch().join("src"));
    repo.write("Dockerfile", DF);
    repo.write("version", "1\n");
    repo.commit("one");
    repo.git(&["tag", "v1"]);
    let v1 = repo.head();
    repo.write("version", "2\n");
    repo.commit("two");
    repo.git(&["checkout", "-q", "-b", "dev"]);
    repo.write(
        "sub/Dockerfile",
        "FROM busybox\nCOPY . /sub\nCMD [\"cat\", \"/sub/inner\"]\n",
    );
    repo.write("sub/inner", "from the subdir\n");
    repo.commit("dev");
    repo.git(&["checkout", "-q", "master"]);
    let server = GitServer::start(&repo.publish(&d.scratch().join("srv"), "app.git"));
    let url = server.url("/app.git");
    (server, url, v1, repo)
}

#[test]
fn git_contexts_with_refs_and_subdirs_through_both_clis_and_the_api() {
    let e = Env::new();
    let (_srv, url, v1, _) = sample_repo(&e.d);

    // The docker CLI clones the repo itself (default ref: master) and sends a tar,
    // `.git` included.
    let out = e.docker(&["build", "-t", "g:master", &url]).ok().out();
    assert!(out.contains("Step 2/3 : COPY . /ctx\n"), "{out}");
    assert!(out.contains("Successfully tagged g:master\n"), "{out}");
    assert_eq!(e.docker(&["run", "--rm", "g:master"]).ok().out(), "2\n");
    assert_eq!(e.run("g:master", "test -d /ctx/.git && echo git"), "git\n");

    // A tag, a commit, a branch with a subdir.
    e.docker(&["build", "-t", "g:tag", &format!("{url}#v1")])
        .ok();
    assert_eq!(e.docker(&["run", "--rm", "g:tag"]).ok().out(), "1\n");
    e.docker(&["build", "-t", "g:commit", &format!("{url}#{v1}")])
        .ok();
    assert_eq!(e.docker(&["run", "--rm", "g:commit"]).ok().out(), "1\n");
    e.docker(&["build", "-t", "g:sub", &format!("{url}#dev:sub")])
        .ok();
    assert_eq!(
        e.docker(&["run", "--rm", "g:sub"]).ok().out(),
        "from the subdir\n"
    );

    // berth clones the same way.
    let out = e
        .berth(&[
            "build",
            "--progress=plain",
            "-t",
            "b:tag",
            &format!("{url}#v1"),
        ])
        .ok()
        .out();
    assert!(out.contains("Successfully tagged b:tag\n"), "{out}");
    assert_eq!(e.docker(&["run", "--rm", "b:tag"]).ok().out(), "1\n");
    e.berth(&["build", "-q", "-t", "b:sub", &format!("{url}#dev:sub")])
        .ok();
    assert_eq!(
        e.docker(&["run", "--rm", "b:sub"]).ok().out(),
        "from the subdir\n"
    );

    // In a git context `-f` is relative to the context.
    for o in [
        e.docker(&[
            "build",
            "-t",
            "f:dev",
            "-f",
            "sub/Dockerfile",
            &format!("{url}#dev"),
        ]),
        e.berth(&[
            "build",
            "-t",
            "f:dev",
            "-f",
            "sub/Dockerfile",
            &format!("{url}#dev"),
        ]),
    ] {
        o.ok();
        assert_eq!(e.run("f:dev", "cat /sub/version"), "2\n");
    }

    // An API client passes `remote=`: the daemon clones.
    let (status, body) = e.api_build(&format!("{url}#dev:sub"), "api:sub");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Successfully tagged api:sub"), "{body}");
    assert_eq!(
        e.docker(&["run", "--rm", "api:sub"]).ok().out(),
        "from the subdir\n"
    );
    let (status, body) = e.api_build(&url, "api:master");
    assert_eq!(status, 200, "{body}");
    assert_eq!(e.docker(&["run", "--rm", "api:master"]).ok().out(), "2\n");
    e.assert_clean();
}

#[test]
fn bad_refs_subdirs_and_unreachable_repos_fail_like_docker() {
    let e = Env::new();
    let (_srv, url, _, _) = sample_repo(&e.d);
    let prefix =
        "unable to prepare context: unable to 'git clone' to temporary context directory: ";
    let cases = [
        (
            format!("{url}#nope"),
            "error fetching: fatal: couldn't find remote ref nope",
        ),
        (format!("{url}#-x"), "invalid refspec: -x"),
        (
            format!("{url}#master:../.."),
            "error setting git context, \"../..\" not within git root",
        ),
        (
            format!("{url}#dev:sub/inner"),
            "error setting git context, not a directory: ",
        ),
        (
            format!("{url}#master:missing"),
            "/missing: no such file or directory",
        ),
        (
            url.replace("/app.git", "/gone.git"),
            "error fetching: fatal: repository '",
        ),
    ];
    for (u, want) in &cases {
        for (cli, o) in [
            (Cli::Docker, e.docker(&["build", u]).fails()),
            (Cli::Berth, e.berth(&["build", u]).fails()),
        ] {
            assert_eq!(o.code, Some(1), "{u}");
            let err = o.err();
            let line = err.lines().find(|l| l.starts_with(prefix));
            assert!(line.is_some(), "{u}: {err}");
            assert!(err.contains(want), "{u}: {err}");
            // berth's is one line (docker keeps git's newline before ": exit status").
            if cli == Cli::Berth {
                assert_eq!(err.trim().lines().count(), 1, "{u}: {err}");
            }
        }
    }
    let o = e.berth(&["build", &format!("{url}#nope")]).fails();
    assert!(
        o.err()
            .contains("couldn't find remote ref nope: exit status 128"),
        "{}",
        o.err()
    );
    // No git binary: docker's message.
    let o = e
        .berth(&["build", &url])
        .env("PATH", "/nonexistent")
        .fails();
    assert_eq!(
        o.err().trim(),
        "unable to prepare context: unable to find 'git': exec: \"git\": executable file not found in $PATH"
    );
    // An unreachable server.
    let dead = "http://127.0.0.1:9/x.git";
    let o = e.berth(&["build", dead]).fails();
    assert!(
        o.err().contains("error fetching: fatal: unable to access"),
        "{}",
        o.err()
    );
    // Through the API: an error status with the same message, nothing left behind.
    let (status, body) = e.api_build(&format!("{url}#nope"), "x");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("couldn't find remote ref nope"), "{body}");
    let (status, body) = e.api_build("ftp://127.0.0.1/x", "x");
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("remoteURL (ftp://127.0.0.1/x) could not be recognized as URL"),
        "{body}"
    );
    let (status, body) = e.api_build(&format!("{url}#master:../.."), "x");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not within git root"), "{body}");
    assert_eq!(
        e.docker(&["images", "-q", "--filter", "dangling=true"])
            .ok()
            .out(),
        ""
    );
    e.assert_clean();
}

#[test]
fn hostile_repositories_never_leak_host_files() {
    let e = Env::new();
    let repo = Repo::init(&e.d.scratch().join("evil"));
    repo.write(
        "Dockerfile",
        "FROM busybox\nCOPY . /ctx\nCOPY etc-link/hostname /leak\n",
    );
    repo.symlink("/etc", "etc-link");
    repo.symlink("/etc/hostname", "host-file");
    repo.write("only/Dockerfile", "FROM busybox\nCOPY . /x\n");
    repo.commit("evil");
    let srv = GitServer::start(&repo.publish(&e.d.scratch().join("srv"), "evil.git"));
    let url = srv.url("/evil.git");

    // COPY through a link to /etc reads <checkout>/etc, which does not exist.
    for o in [
        e.docker(&["build", &url]).fails(),
        e.berth(&["build", &url]).fails(),
    ] {
        assert!(o.err().contains("etc-link/hostname"), "{}", o.err());
    }
    let (status, body) = e.api_build(&url, "x");
    assert!(
        status == 200 && body.contains("etc-link/hostname"),
        "{body}"
    );
    // A subdir that is a link out of the checkout names nothing on the host: `/etc`
    // is `<checkout>/etc` (absent), and `etc-link/..` is the checkout itself (whose
    // Dockerfile then fails as above), never the host's `/`.
    let sub = format!("{url}#master:etc-link");
    for o in [
        e.docker(&["build", &sub]).fails(),
        e.berth(&["build", &sub]).fails(),
    ] {
        assert!(
            o.err().contains("etc: no such file or directory"),
            "{}",
            o.err()
        );
    }
    let (status, body) = e.api_build(&sub, "x");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("etc: no such file or directory"), "{body}");
    let up = format!("{url}#master:etc-link/..");
    let o = e.berth(&["build", &up]).fails();
    assert!(o.err().contains("etc-link/hostname"), "{}", o.err());
    let (_, body) = e.api_build(&up, "x");
    assert!(body.contains("etc-link/hostname"), "{body}");
    // A submodule on the host's filesystem is never fetched (`file://` is refused).
    let secret = Repo::init(&e.d.scratch().join("secret"));
    secret.write("token", "host secret\n");
    secret.commit("secret");
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        secret.0.to_str().unwrap(),
        "mod",
    ]);
    repo.commit("submodule");
    std::fs::remove_dir_all(e.d.scratch().join("srv/evil.git")).unwrap();
    repo.publish(&e.d.scratch().join("srv"), "evil.git");
    let o = e.berth(&["build", &url]).fails();
    assert!(
        o.err().contains("error initializing submodules") && o.err().contains("'file' not allowed"),
        "{}",
        o.err()
    );
    let (status, body) = e.api_build(&url, "x");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("'file' not allowed"), "{body}");
    repo.git(&["rm", "-q", "-f", "mod"]);
    repo.commit("no submodule");

    // Links are copied as links, never followed.
    repo.write("Dockerfile", "FROM busybox\nCOPY . /ctx\n");
    repo.commit("plain");
    std::fs::remove_dir_all(e.d.scratch().join("srv/evil.git")).unwrap();
    repo.publish(&e.d.scratch().join("srv"), "evil.git");
    let (status, body) = e.api_build(&url, "evil:api");
    assert_eq!(status, 200, "{body}");
    e.berth(&["build", "-q", "-t", "evil:cli", &url]).ok();
    for img in ["evil:api", "evil:cli"] {
        assert_eq!(
            e.run(img, "readlink /ctx/host-file; readlink /ctx/etc-link"),
            "/etc/hostname\n/etc\n"
        );
    }
    e.assert_clean();
}

/// `os/arch` of this machine, as docker names it.
fn host_platform() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "linux/arm64",
        _ => "linux/amd64",
    }
}

fn inspect(e: &Env, format: &str, image: &str) -> String {
    e.docker(&["inspect", "-f", format, image])
        .ok()
        .out()
        .trim()
        .to_string()
}

#[test]
fn platform_picks_what_from_pulls_and_sets_the_automatic_args() {
    let reg = TestRegistry::start(env!("CARGO_BIN_EXE_berth"), &[]);
    let e = Env::new();
    let src = format!("{}/multi/base:amd64", reg.host);
    e.docker(&["tag", "busybox", &src]).ok();
    e.docker(&["push", &src]).ok();
    push_two_platform_index(&reg.host, "multi/base", "amd64", "multi");
    let multi = format!("{}/multi/base:multi", reg.host);
    let dir = e.d.scratch();

    // FROM --platform picks the index's arm64 entry; TARGETPLATFORM stays the
    // build's (the host's), BUILDPLATFORM is the host's.
    let ctx = dir.join("from-platform");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM --platform=linux/arm64 {multi}\nARG TARGETPLATFORM\nARG TARGETARCH\nARG BUILDPLATFORM\nRUN echo \"$TARGETPLATFORM $TARGETARCH $BUILDPLATFORM\" > /p\n"
        ),
    )
    .unwrap();
    e.docker(&["build", "-t", "plat:arm", ctx.to_str().unwrap()])
        .ok();
    assert_eq!(inspect(&e, "{{.Architecture}}", "plat:arm"), "arm64");
    assert_eq!(inspect(&e, "{{.Config.Labels.plat}}", "plat:arm"), "arm64");
    let host = host_platform();
    let host_arch = host.rsplit('/').next().unwrap();
    assert_eq!(
        e.run("plat:arm", "cat /p"),
        format!("{host} {host_arch} {host}\n")
    );

    // --platform: what FROM pulls (the local tag is arm64 now, so amd64 is pulled)
    // and the TARGET* args, global ones included; undeclared in a stage they are
    // empty.
    let ctx = dir.join("build-platform");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "ARG TARGETARCH\nFROM --platform=linux/$TARGETARCH {multi}\nARG TARGETPLATFORM\nARG TARGETOS\nARG TARGETARCH\nARG TARGETVARIANT\nRUN echo \"$TARGETPLATFORM $TARGETOS $TARGETARCH $TARGETVARIANT. $BUILDARCH.\" > /p\n"
        ),
    )
    .unwrap();
    let c = ctx.to_str().unwrap();
    e.docker(&["build", "--platform", "linux/amd64", "-t", "plat:amd", c])
        .ok();
    assert_eq!(inspect(&e, "{{.Architecture}}", "plat:amd"), "amd64");
    assert_eq!(e.run("plat:amd", "cat /p"), "linux/amd64 linux amd64 . .\n");
    e.berth(&[
        "build",
        "-q",
        "--platform",
        "linux/arm64/v8",
        "-t",
        "plat:arm2",
        c,
    ])
    .ok();
    assert_eq!(inspect(&e, "{{.Architecture}}", "plat:arm2"), "arm64");
    assert_eq!(
        e.run("plat:arm2", "cat /p"),
        "linux/arm64 linux arm64 . .\n"
    );

    // A local image of another platform that cannot be pulled: docker's error.
    let ctx = dir.join("local-other");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\n").unwrap();
    let c = ctx.to_str().unwrap();
    let other = if host == "linux/amd64" {
        "linux/s390x"
    } else {
        "linux/amd64"
    };
    let want = format!(
        "image with reference busybox was found but its platform ({host}) does not match the specified platform ({other})"
    );
    for o in [
        e.docker(&["build", "--platform", other, c]).fails(),
        e.berth(&["build", "--platform", other, c]).fails(),
    ] {
        assert_eq!(o.code, Some(1));
        assert!(o.err().contains(&want), "{}", o.err());
    }
    let o = e.berth(&["build", "--platform", "linux//x", c]).fails();
    assert!(
        o.err()
            .contains("\"linux//x\": unknown operating system or architecture: invalid argument"),
        "{}",
        o.err()
    );
    e.assert_clean();
}

#[test]
fn from_pulls_with_the_clients_registry_login() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    write_htpasswd(&htpasswd, &[("builder", "s3cret")]);
    let reg = TestRegistry::start(
        env!("CARGO_BIN_EXE_berth"),
        &["--htpasswd", htpasswd.to_str().unwrap()],
    );
    let e = Env::new();
    let img = format!("{}/private/base:v1", reg.host);
    e.docker(&["tag", "busybox", &img]).ok();
    e.docker(&["login", "-u", "builder", "--password-stdin", &reg.host])
        .stdin("s3cret\n")
        .ok();
    e.docker(&["push", &img]).ok();
    e.docker(&["rmi", &img]).ok();
    let ctx = e.d.scratch().join("private");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {img}\nRUN echo pulled > /p\n"),
    )
    .unwrap();
    let c = ctx.to_str().unwrap();

    // Logged in: the CLIs send the credentials (X-Registry-Config) and FROM pulls.
    let out = e.docker(&["build", "-t", "fromauth", c]).ok().out();
    assert!(
        out.contains("Successfully tagged fromauth:latest\n"),
        "{out}"
    );
    assert_eq!(e.run("fromauth", "cat /p"), "pulled\n");
    e.docker(&["rmi", "fromauth", &img]).ok();
    e.berth(&["build", "-q", "-t", "fromauth2", c]).ok();
    assert_eq!(e.run("fromauth2", "cat /p"), "pulled\n");
    e.docker(&["rmi", "fromauth2", &img]).ok();
    // `COPY --from=<image>` pulls with them too.
    let copy_ctx = e.d.scratch().join("private-copy");
    std::fs::create_dir_all(&copy_ctx).unwrap();
    std::fs::write(
        copy_ctx.join("Dockerfile"),
        format!("FROM busybox\nCOPY --from={img} /bin/busybox /bb\n"),
    )
    .unwrap();
    for cli in CLIS {
        e.docker(&["rmi", "-f", &img]).run();
        let args = ["build", "-q", "-t", "copyauth", copy_ctx.to_str().unwrap()];
        match cli {
            Cli::Docker => e.docker(&args).ok(),
            Cli::Berth => e.berth(&args).ok(),
        };
        assert_eq!(e.run("copyauth", "test -x /bb && echo ok"), "ok\n");
    }
    e.docker(&["rmi", "-f", &img, "copyauth"]).ok();

    // Logged out: docker's error, exit 1, nothing built.
    e.docker(&["logout", &reg.host]).ok();
    let want = format!(
        "Head \"http://{}/v2/private/base/manifests/v1\": no basic auth credentials",
        reg.host
    );
    for o in [
        e.docker(&["build", c]).fails(),
        e.berth(&["build", c]).fails(),
    ] {
        assert_eq!(o.code, Some(1));
        assert!(o.err().contains(&want), "{}", o.err());
    }
    assert_eq!(e.docker(&["images", "-q", &img]).ok().out(), "");
    e.assert_clean();
}

#[test]
fn add_of_a_git_repository_is_cached_by_its_commit() {
    let e = Env::new();
    let (_srv, url, _, repo) = sample_repo(&e.d);
    let ctx = e.d.scratch().join("addgit");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM busybox\nADD {url}#v1 /src\nADD {url}#dev:sub /sub\nADD --keep-git-dir=true {url}#dev /withgit\nRUN cat /src/version /sub/inner\n"
        ),
    )
    .unwrap();
    let c = ctx.to_str().unwrap();
    let out = e.docker(&["build", "-t", "addgit", c]).ok().out();
    assert!(out.contains("1\nfrom the subdir\n"), "{out}");
    assert_eq!(
        e.run(
            "addgit",
            "test -e /src/.git || echo no-git; test -d /withgit/.git && echo git; cat /withgit/version"
        ),
        "no-git\ngit\n2\n"
    );

    // Unchanged refs: every ADD is a cache hit, with no clone.
    let out = e
        .berth(&["build", "--progress=plain", "-t", "addgit", c])
        .ok()
        .out();
    assert_eq!(out.matches(" ---> Using cache\n").count(), 4, "{out}");

    // A new commit on `dev`: the steps naming `dev` miss, `v1` still hits.
    repo.git(&["checkout", "-q", "dev"]);
    repo.write("sub/inner", "changed\n");
    repo.commit("dev2");
    let srv = e.d.scratch().join("srv");
    std::fs::remove_dir_all(srv.join("app.git")).unwrap();
    repo.publish(&srv, "app.git");
    let out = e.docker(&["build", "-t", "addgit", c]).ok().out();
    assert_eq!(out.matches(" ---> Using cache\n").count(), 1, "{out}");
    assert!(out.contains("1\nchanged\n"), "{out}");

    // --chown applies to the checkout; a repository is the only source of its ADD.
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM busybox\nADD --chown=7:8 {url}#v1 /owned\n"),
    )
    .unwrap();
    e.berth(&["build", "-q", "-t", "owned", c]).ok();
    assert_eq!(
        e.run("owned", "stat -c %u:%g /owned /owned/version"),
        "7:8\n7:8\n"
    );
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM busybox\nADD {url}#v1 Dockerfile /two/\n"),
    )
    .unwrap();
    let o = e.berth(&["build", c]).fails();
    assert!(
        o.err()
            .contains("ADD failed: a git repository must be the only source"),
        "{}",
        o.err()
    );

    // A bad ref: one line naming the ref, exit 1.
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM busybox\nADD {url}#nope /x\n"),
    )
    .unwrap();
    for o in [
        e.docker(&["build", c]).fails(),
        e.berth(&["build", c]).fails(),
    ] {
        assert_eq!(o.code, Some(1));
        assert!(
            o.err().contains("couldn't find remote ref nope"),
            "{}",
            o.err()
        );
    }
    e.assert_clean();
}

/// Pids of processes whose command line mentions `needle`.
fn procs_with(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_client_that_goes_away_stops_the_clone() {
    use std::io::Write;
    let e = Env::new();
    // A listener that never accepts: connections wait in its backlog, and git on them.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/stuck.git", hang.local_addr().unwrap());
    let mut s = std::os::unix::net::UnixStream::connect(e.d.socket()).unwrap();
    let req = format!(
        "POST /build?remote={} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        encode(&url)
    );
    s.write_all(req.as_bytes()).unwrap();
    // git runs (and waits on the server) ...
    let port = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let needle = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while procs_with(&needle).is_empty() {
        assert!(std::time::Instant::now() < deadline, "git never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // ... until the client goes away: git is killed, the scratch dir removed.
    drop(s);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !procs_with(&needle).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "git still runs: {:?}",
            procs_with(&needle)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let tmp = e.d.data_root().join("builder/tmp");
    while std::fs::read_dir(&tmp).map(|r| r.count()).unwrap_or(0) > 0 {
        assert!(std::time::Instant::now() < deadline, "build dir left");
        std::thread::sleep(Duration::from_millis(50));
    }
    e.assert_clean();
    drop(hang);
}

#[test]
fn smart_servers_get_shallow_fetches_on_every_path() {
    let e = Env::new();
    let (_srv, _, _, _) = sample_repo(&e.d);
    let daemon = GitDaemon::start(&e.d.scratch().join("srv"));
    // `.git` is part of a git context: `shallow` shows the fetch had depth 1.
    let url = daemon.url("/app.git");
    e.docker(&["build", "-q", "-t", "sh:docker", &url]).ok();
    e.berth(&["build", "-q", "-t", "sh:berth", &url]).ok();
    let (status, body) = e.api_build(&url, "sh:api");
    assert_eq!(status, 200, "{body}");
    for img in ["sh:docker", "sh:berth", "sh:api"] {
        assert_eq!(
            e.run(
                img,
                "cat /ctx/version; test -f /ctx/.git/shallow && echo shallow"
            ),
            "2\nshallow\n",
            "{img}"
        );
    }
    e.assert_clean();
}

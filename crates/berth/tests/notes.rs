//! The user's Docker notes (`seed/000_…txt`), walked command by command in their order
//! with the real docker CLI against a fresh daemon. Without Docker Hub: busybox stands in
//! for ubuntu/nginx/mongo/redis, docker.io names come from a registry mirror on loopback,
//! `bash` is `sh`, `python app.py` is busybox `httpd`, and `-it` runs under `script`.
//! (The Dockerfile/build chapter is covered by build.rs; the private registry run as a
//! container by registry_in_container.rs.)

mod common;
#[path = "network_support/mod.rs"]
mod support;

use common::*;
use serde_json::Value;
use std::time::Duration;
use support::{HTTPD, http_get_eventually};

fn registry(extra: &[&str]) -> TestRegistry {
    TestRegistry::start(env!("CARGO_BIN_EXE_berth"), extra)
}

/// A daemon whose docker.io pulls go to `mirror`.
fn daemon_with_mirror(mirror: &TestRegistry) -> TestDaemon {
    let config =
        serde_json::json!({"registry-mirrors": [format!("http://{}", mirror.host)]}).to_string();
    TestDaemon::start_with_config(env!("CARGO_BIN_EXE_berth"), Some(&config))
}

/// Push busybox to `mirror` as the Hub's `library/<name>`, leaving nothing local.
fn seed_mirror(d: &TestDaemon, mirror: &TestRegistry, name: &str) {
    let img = format!("{}/library/{name}", mirror.host);
    import_busybox(d, &img);
    d.docker(["push", &img]).ok();
    d.docker(["rmi", &img]).ok();
}

/// `cmd` (a shell line running the docker CLI) under a pseudo-terminal fed `input`.
fn tty(d: &TestDaemon, cmd: &str, input: &str) -> Output {
    Cmd::new("script")
        .args(["-qfec", cmd, "/dev/null"])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .env("TZ", "UTC")
        .stdin(input)
        .timeout(Duration::from_secs(60))
        .run()
}

/// A shell pipeline with `docker` meaning the real CLI against `d`.
fn sh(d: &TestDaemon, line: &str) -> Output {
    Cmd::new("sh")
        .args(["-c", &format!("docker() {{ {DOCKER_CLI} \"$@\"; }}; {line}")])
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .env("TZ", "UTC")
        .current_dir(d.scratch())
        .timeout(Duration::from_secs(120))
        .run()
}

fn inspect(d: &TestDaemon, what: &str) -> Value {
    let v: Value = serde_json::from_str(&d.docker(["inspect", what]).ok().out()).unwrap();
    v[0].clone()
}

fn header(out: &str) -> Vec<String> {
    columns(out.lines().next().unwrap_or_default())
}

/// Repo:tag list of `docker image ls <args>`.
fn image_names(d: &TestDaemon, args: &[&str]) -> Vec<String> {
    let mut v = d
        .docker(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
        .args(args)
        .ok()
        .lines();
    v.sort();
    v
}

fn pause() {
    // Image filters since/before compare creation times.
    std::thread::sleep(Duration::from_millis(1100));
}

#[test]
fn images_chapter() {
    let mirror = registry(&[]);
    let d = daemon_with_mirror(&mirror);
    seed_mirror(&d, &mirror, "ubuntu:16.04");

    // docker pull ubuntu:16.04
    let out = d.docker(["pull", "ubuntu:16.04"]).ok().out();
    assert!(out.starts_with("16.04: Pulling from library/ubuntu\n"), "{out}");
    assert!(
        out.ends_with("Status: Downloaded newer image for ubuntu:16.04\ndocker.io/library/ubuntu:16.04\n"),
        "{out}"
    );

    // docker run -it --rm ubuntu:16.04 bash
    let o = tty(
        &d,
        &format!("{DOCKER_CLI} run -it --rm ubuntu:16.04 sh"),
        "echo in-$((6*7))\nexit 3\n",
    );
    o.assert_code(3);
    assert!(o.out().contains("in-42"), "{}", o.out());
    assert_eq!(d.docker(["ps", "-aq"]).ok().out(), "", "--rm removed it");

    // docker images
    let out = d.docker(["images"]).ok().out();
    assert_eq!(header(&out), ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    assert_eq!(columns(&out.lines().nth(1).unwrap())[..2], ["ubuntu", "16.04"]);

    // docker system df
    let out = d.docker(["system", "df"]).ok().out();
    assert_eq!(header(&out), ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    let types: Vec<String> = out.lines().skip(1).map(|l| columns(l)[0].clone()).collect();
    assert_eq!(types, ["Images", "Containers", "Local Volumes", "Build Cache"]);
    assert!(out.lines().nth(1).unwrap().starts_with("Images          1         0"), "{out}");

    // The images the rest of the chapter filters and deletes, oldest first.
    pause();
    let mongo = import_busybox(&d, "mongo:3.2");
    pause();
    import_busybox(&d, "redis:alpine");
    pause();
    let old_redis = import_busybox(&d, "redis:latest");
    pause();
    import_busybox(&d, "redis:latest");
    let scratchpad = import_busybox(&d, "scratchpad:latest");

    // docker image ls -f dangling=true
    let out = d.docker(["image", "ls", "-f", "dangling=true"]).ok().out();
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(columns(rows[0])[..3], ["<none>", "<none>", &short(&old_redis)]);

    // docker image prune (answers the prompt)
    let out = d.docker(["image", "prune"]).stdin("y\n").ok().out();
    assert!(out.contains(&format!("deleted: {old_redis}\n")), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(d.docker(["image", "ls", "-q", "-f", "dangling=true"]).ok().out(), "");

    // docker image ls ubuntu
    assert_eq!(image_names(&d, &["ubuntu"]), ["ubuntu:16.04"]);
    // docker image ls -f since=mongo:3.2 / before=mongo:3.2
    assert_eq!(
        image_names(&d, &["-f", "since=mongo:3.2"]),
        ["redis:alpine", "redis:latest", "scratchpad:latest"]
    );
    assert_eq!(image_names(&d, &["-f", "before=mongo:3.2"]), ["ubuntu:16.04"]);

    // docker image rm 50122 (a short id prefix)
    let prefix = &scratchpad["sha256:".len().."sha256:".len() + 5];
    let out = d.docker(["image", "rm", prefix]).ok().out();
    assert_eq!(out, format!("Untagged: scratchpad:latest\nDeleted: {scratchpad}\n"));

    // docker image rm $(docker image ls -q redis)
    let out = sh(&d, "docker image rm $(docker image ls -q redis)");
    out.assert_ok();
    assert_eq!(out.out().matches("Untagged: redis:").count(), 2, "{}", out.out());
    assert_eq!(image_names(&d, &["redis"]), Vec::<String>::new());
    // docker image rm $(docker image ls -q -f before=mongo:3.2)
    let out = sh(&d, "docker image rm $(docker image ls -q -f before=mongo:3.2)");
    out.assert_ok();
    assert!(out.out().starts_with("Untagged: ubuntu:16.04\n"), "{}", out.out());
    assert_eq!(image_names(&d, &[]), ["mongo:3.2"]);

    // docker exec -it webserver /bin/bash, then edit the page
    d.docker(["tag", "mongo:3.2", "nginx"]).ok();
    d.docker(["run", "-d", "--name", "webserver", "nginx", "sleep", "300"]).ok();
    let o = tty(
        &d,
        &format!("{DOCKER_CLI} exec -it webserver sh"),
        "mkdir -p /usr/share/nginx/html && echo '<h1>Hello, Docker!</h1>' > /usr/share/nginx/html/index.html; exit\n",
    );
    o.assert_code(0);
    // docker diff
    let out = d.docker(["diff", "webserver"]).ok().out();
    for want in [
        "A /usr/share/nginx",
        "A /usr/share/nginx/html",
        "A /usr/share/nginx/html/index.html",
    ] {
        assert!(out.lines().any(|l| l == want), "{want} in\n{out}");
    }
    // docker commit --author … --message … webserver nginx:v2
    let id = d
        .docker([
            "commit",
            "--author",
            "xinbingliang",
            "--message",
            "修改默认网页",
            "webserver",
            "nginx:v2",
        ])
        .ok()
        .out();
    assert!(id.starts_with("sha256:") && id.len() == 72, "{id:?}");
    let v = inspect(&d, "nginx:v2");
    assert_eq!(v["Author"], "xinbingliang");
    assert_eq!(v["Comment"], "修改默认网页");
    let page = d
        .docker(["run", "--rm", "nginx:v2", "cat", "/usr/share/nginx/html/index.html"])
        .ok()
        .out();
    assert_eq!(page, "<h1>Hello, Docker!</h1>\n");
    // docker history nginx:v2
    let out = d.docker(["history", "nginx:v2"]).ok().out();
    assert_eq!(header(&out), ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]);
    let top = out.lines().nth(1).unwrap();
    assert!(top.starts_with(&short(id.trim())) && top.ends_with("修改默认网页"), "{out}");
    assert_eq!(out.lines().count(), 3, "two layers: {out}");
    assert_eq!(v["Id"].as_str(), Some(id.trim()));
    assert_ne!(id.trim(), mongo);

    // docker save alpine | gzip > alpine-latest.tar.gz; docker load -i alpine-latest.tar.gz
    d.docker(["tag", "nginx:v2", "alpine"]).ok();
    sh(&d, "docker save alpine | gzip > alpine-latest.tar.gz").assert_ok();
    d.docker(["rmi", "alpine"]).ok();
    let out = d.docker(["load", "-i", "alpine-latest.tar.gz"]).ok().out();
    assert_eq!(out, "Loaded image: alpine:latest\n");
    assert_eq!(inspect(&d, "alpine")["Id"].as_str(), Some(id.trim()));
    d.docker(["rm", "-f", "webserver"]).ok();
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn state(d: &TestDaemon, c: &str) -> String {
    d.docker(["inspect", "-f", "{{.State.Status}}", c]).ok().out().trim().to_string()
}

#[test]
fn containers_chapter() {
    let d = daemon();
    import_busybox(&d, "ubuntu:14.04");
    import_busybox(&d, "ubuntu:17.10");

    // docker run -t -i ubuntu:14.04 /bin/bash
    let o = tty(
        &d,
        &format!("{DOCKER_CLI} run -t -i --name term ubuntu:14.04 /bin/sh"),
        "tty\nexit\n",
    );
    o.assert_code(0);
    assert!(o.out().contains("/dev/pts/0"), "a terminal: {}", o.out());
    assert_eq!(state(&d, "term"), "exited");
    // docker container start: the stopped container runs again (sh keeps its tty).
    assert_eq!(d.docker(["container", "start", "term"]).ok().out(), "term\n");
    assert_eq!(state(&d, "term"), "running");

    // docker run -d ubuntu:17.10 /bin/sh -c "while true; do echo hello world; sleep 1; done"
    let id = d
        .docker([
            "run",
            "-d",
            "ubuntu:17.10",
            "/bin/sh",
            "-c",
            "while true; do echo hello world; sleep 1; done",
        ])
        .ok()
        .out();
    let id = id.trim().to_string();
    assert!(is_id(&id), "{id:?}");
    let c = &id[..4];
    let mut logs = String::new();
    for _ in 0..50 {
        logs = d.docker(["logs", c]).ok().out();
        if logs.starts_with("hello world\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(logs.starts_with("hello world\n"), "{logs:?}");

    // docker start / stop / restart xxxx (a 4-character id prefix)
    assert_eq!(d.docker(["start", c]).ok().out(), format!("{c}\n"));
    assert_eq!(
        d.docker(["stop", "-t", "1", c]).ok().out(),
        format!("{c}\n")
    );
    assert_eq!(state(&d, c), "exited");
    assert_eq!(
        d.docker(["restart", "-t", "1", c]).ok().out(),
        format!("{c}\n")
    );
    assert_eq!(state(&d, c), "running");

    // docker attach 243c (the terminal container started above)
    let o = tty(
        &d,
        &format!("{DOCKER_CLI} attach term"),
        "echo attached-$((1+1))\nexit 5\n",
    );
    o.assert_code(5);
    assert!(o.out().contains("attached-2"), "{}", o.out());
    assert_eq!(state(&d, "term"), "exited");

    // docker exec -i 243c bash: no prompt, the output still comes back
    let out = d
        .docker(["exec", "-i", c, "sh"])
        .stdin("echo via-exec\n")
        .ok()
        .out();
    assert_eq!(out, "via-exec\n");
    // docker exec -it 243c bash
    let o = tty(&d, &format!("{DOCKER_CLI} exec -it {c} sh"), "tty\nexit 2\n");
    o.assert_code(2);
    assert!(o.out().contains("/dev/pts/"), "{}", o.out());

    // docker export 243c > ubuntu.tar
    sh(&d, &format!("docker export {c} > ubuntu.tar")).assert_ok();
    let names = tar_entry_names(&std::fs::read(d.scratch().join("ubuntu.tar")).unwrap());
    assert!(names.iter().any(|n| n.trim_start_matches("./") == "bin/busybox"), "{names:?}");
    // cat ubuntu.tar | docker import - test/ubuntu:v1.0
    let out = sh(&d, "cat ubuntu.tar | docker import - test/ubuntu:v1.0");
    out.assert_ok();
    assert!(out.out().starts_with("sha256:") && out.out().len() == 72, "{}", out.out());
    let hi = d
        .docker(["run", "--rm", "test/ubuntu:v1.0", "echo", "imported"])
        .ok()
        .out();
    assert_eq!(hi, "imported\n");
    // docker import http://example.com/exampleimage.tgz example/imagerepo
    sh(&d, "gzip -c ubuntu.tar > exampleimage.tgz").assert_ok();
    let tgz = d.scratch().join("exampleimage.tgz");
    let srv = FileServer::start(&[("/exampleimage.tgz", &tgz)]);
    let out = d
        .docker(["import", &srv.url("/exampleimage.tgz"), "example/imagerepo"])
        .ok()
        .out();
    assert!(out.lines().last().is_some_and(|l| l.starts_with("sha256:")), "{out}");
    assert_eq!(
        image_names(&d, &["example/imagerepo"]),
        ["example/imagerepo:latest"]
    );

    // docker rm xxx
    assert_eq!(d.docker(["rm", "term"]).ok().out(), "term\n");
    let r = d.docker(["rm", c]).fails();
    r.assert_code(1);
    assert!(
        r.err().contains("cannot remove container") && r.err().contains("stop the container before attempting removal or force remove"),
        "{}",
        r.err()
    );
    // docker container prune
    d.docker(["stop", "-t", "1", c]).ok();
    let out = d.docker(["container", "prune"]).stdin("y\n").ok().out();
    assert!(out.starts_with(&format!("Deleted Containers:\n{id}\n\nTotal reclaimed space: ")), "{out}");
    assert_eq!(d.docker(["ps", "-aq"]).ok().out(), "");
}

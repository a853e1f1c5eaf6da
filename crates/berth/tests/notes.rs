//! The user's Docker notes (`seed/000_…txt`), walked command by command in their order
//! with the real docker CLI against a fresh daemon. Without Docker Hub: busybox stands in
//! for ubuntu/nginx/mongo/redis, docker.io names come from a registry mirror on loopback,
//! `bash` is `sh`, `python app.py` is busybox `httpd`, and `-it` runs under `script`.
//! (The networking chapters are in notes_network.rs, the Dockerfile/build chapter in
//! build.rs, the private registry run as a container in registry_in_container.rs.)

mod common;
#[path = "notes_support/mod.rs"]
mod notes_support;
#[path = "network_support/mod.rs"]
mod support;

use common::*;
use notes_support::*;
use serde_json::Value;
use std::time::Duration;

#[test]
fn images_chapter() {
    let mirror = registry(&[]);
    let d = daemon_with_mirror(&mirror);
    seed_mirror(&d, &mirror, "ubuntu:16.04");

    // docker pull ubuntu:16.04
    let out = d.docker(["pull", "ubuntu:16.04"]).ok().out();
    assert!(
        out.starts_with("16.04: Pulling from library/ubuntu\n"),
        "{out}"
    );
    assert!(
        out.ends_with(
            "Status: Downloaded newer image for ubuntu:16.04\ndocker.io/library/ubuntu:16.04\n"
        ),
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
    assert_eq!(
        header(&out),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    );
    assert_eq!(
        columns(out.lines().nth(1).unwrap())[..2],
        ["ubuntu", "16.04"]
    );

    // docker system df
    let out = d.docker(["system", "df"]).ok().out();
    assert_eq!(
        header(&out),
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    );
    let types: Vec<String> = out.lines().skip(1).map(|l| columns(l)[0].clone()).collect();
    assert_eq!(
        types,
        ["Images", "Containers", "Local Volumes", "Build Cache"]
    );
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("Images          1         0"),
        "{out}"
    );

    // Regression: containers count in `system df` (TOTAL/ACTIVE, and images in use).
    d.docker([
        "run",
        "--name",
        "df1",
        "ubuntu:16.04",
        "sh",
        "-c",
        "head -c 3000 /dev/zero > /f",
    ])
    .ok();
    let out = d.docker(["system", "df"]).ok().out();
    let row = |t: &str| -> Vec<String> {
        let l = out.lines().find(|l| l.starts_with(t)).unwrap_or_default();
        columns(l)
    };
    assert_eq!(row("Images")[1..3], ["1", "1"], "{out}");
    assert_eq!(
        row("Containers")[1..],
        ["1", "0", "3kB", "3kB (100%)"],
        "{out}"
    );
    assert_same_output(&d, &["system", "df"]);
    assert_same_output(&d, &["system", "df", "-v"]);
    d.docker(["rm", "df1"]).ok();

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
    assert_eq!(
        columns(rows[0])[..3],
        ["<none>", "<none>", &short(&old_redis)]
    );

    // docker image prune (answers the prompt)
    let out = d.docker(["image", "prune"]).stdin("y\n").ok().out();
    assert!(out.contains(&format!("deleted: {old_redis}\n")), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(
        d.docker(["image", "ls", "-q", "-f", "dangling=true"])
            .ok()
            .out(),
        ""
    );

    // docker image ls ubuntu
    assert_eq!(image_names(&d, &["ubuntu"]), ["ubuntu:16.04"]);
    // docker image ls -f since=mongo:3.2 / before=mongo:3.2
    assert_eq!(
        image_names(&d, &["-f", "since=mongo:3.2"]),
        ["redis:alpine", "redis:latest", "scratchpad:latest"]
    );
    assert_eq!(
        image_names(&d, &["-f", "before=mongo:3.2"]),
        ["ubuntu:16.04"]
    );

    // docker image rm 50122 (a short id prefix)
    let prefix = &scratchpad["sha256:".len().."sha256:".len() + 5];
    let out = d.docker(["image", "rm", prefix]).ok().out();
    assert_eq!(
        out,
        format!("Untagged: scratchpad:latest\nDeleted: {scratchpad}\n")
    );

    // docker image rm $(docker image ls -q redis)
    let out = sh(&d, "docker image rm $(docker image ls -q redis)");
    out.assert_ok();
    assert_eq!(
        out.out().matches("Untagged: redis:").count(),
        2,
        "{}",
        out.out()
    );
    assert_eq!(image_names(&d, &["redis"]), Vec::<String>::new());
    // docker image rm $(docker image ls -q -f before=mongo:3.2)
    let out = sh(
        &d,
        "docker image rm $(docker image ls -q -f before=mongo:3.2)",
    );
    out.assert_ok();
    assert!(
        out.out().starts_with("Untagged: ubuntu:16.04\n"),
        "{}",
        out.out()
    );
    assert_eq!(image_names(&d, &[]), ["mongo:3.2"]);

    // docker exec -it webserver /bin/bash, then edit the page
    d.docker(["tag", "mongo:3.2", "nginx"]).ok();
    d.docker(["run", "-d", "--name", "webserver", "nginx", "sleep", "300"])
        .ok();
    let o = tty(
        &d,
        &format!("{DOCKER_CLI} exec -it webserver sh"),
        "mkdir -p /usr/share/nginx/html && echo '<h1>Hello, Docker!</h1>' > /usr/share/nginx/html/index.html; exit\n",
    );
    o.assert_code(0);
    // Regression: a container that changed nothing has an empty diff (no "C /etc"
    // for the /etc/hosts mount points), and /etc shows once something in it changes.
    d.docker(["run", "--name", "quiet", "nginx", "true"]).ok();
    assert_eq!(d.docker(["diff", "quiet"]).ok().out(), "");
    d.docker(["run", "--name", "etc", "nginx", "touch", "/etc/motd"])
        .ok();
    assert_eq!(
        d.docker(["diff", "etc"]).ok().out(),
        "C /etc\nA /etc/motd\n"
    );
    d.docker(["rm", "quiet", "etc"]).ok();
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
        .docker([
            "run",
            "--rm",
            "nginx:v2",
            "cat",
            "/usr/share/nginx/html/index.html",
        ])
        .ok()
        .out();
    assert_eq!(page, "<h1>Hello, Docker!</h1>\n");
    // docker history nginx:v2
    let out = d.docker(["history", "nginx:v2"]).ok().out();
    assert_eq!(
        header(&out),
        ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    );
    let top = out.lines().nth(1).unwrap();
    assert!(
        top.starts_with(&short(id.trim())) && top.ends_with("修改默认网页"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 3, "two layers: {out}");
    let created_by = d
        .docker([
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "nginx:v2",
        ])
        .ok()
        .lines();
    assert_eq!(created_by[0], "sleep 300", "the container's command");
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
    assert_eq!(
        d.docker(["container", "start", "term"]).ok().out(),
        "term\n"
    );
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
    let o = tty(
        &d,
        &format!("{DOCKER_CLI} exec -it {c} sh"),
        "tty\nexit 2\n",
    );
    o.assert_code(2);
    assert!(o.out().contains("/dev/pts/"), "{}", o.out());

    // docker export 243c > ubuntu.tar
    sh(&d, &format!("docker export {c} > ubuntu.tar")).assert_ok();
    let names = tar_entry_names(&std::fs::read(d.scratch().join("ubuntu.tar")).unwrap());
    assert!(
        names
            .iter()
            .any(|n| n.trim_start_matches("./") == "bin/busybox"),
        "{names:?}"
    );
    // cat ubuntu.tar | docker import - test/ubuntu:v1.0
    let out = sh(&d, "cat ubuntu.tar | docker import - test/ubuntu:v1.0");
    out.assert_ok();
    assert!(
        out.out().starts_with("sha256:") && out.out().len() == 72,
        "{}",
        out.out()
    );
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
    assert!(
        out.lines().last().is_some_and(|l| l.starts_with("sha256:")),
        "{out}"
    );
    assert_eq!(
        image_names(&d, &["example/imagerepo"]),
        ["example/imagerepo:latest"]
    );

    // docker rm xxx
    assert_eq!(d.docker(["rm", "term"]).ok().out(), "term\n");
    let r = d.docker(["rm", c]).fails();
    r.assert_code(1);
    // Regression: docker 25+'s wording, naming the container as given.
    assert_eq!(
        r.err(),
        format!(
            "Error response from daemon: cannot remove container \"{c}\": container is running: stop the container before removing or force remove\n"
        )
    );
    // docker container prune
    d.docker(["stop", "-t", "1", c]).ok();
    let out = d.docker(["container", "prune"]).stdin("y\n").ok().out();
    assert!(
        out.starts_with("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
            && out.contains(&format!("Deleted Containers:\n{id}\n\nTotal reclaimed space: ")),
        "{out}"
    );
    assert_eq!(d.docker(["ps", "-aq"]).ok().out(), "");
}

#[test]
fn registry_chapter() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    write_htpasswd(&htpasswd, &[("username", "secret")]);
    // The Hub stand-in needs a login; docker.io pulls come from an open mirror.
    let hub = registry(&["--htpasswd", htpasswd.to_str().unwrap()]);
    let mirror = registry(&[]);
    let d = daemon_with_mirror(&mirror);
    seed_mirror(&d, &mirror, "centos:latest");
    seed_mirror(&d, &mirror, "ubuntu:17.10");
    let config = d.dir().join("docker-config/config.json");

    // docker login / docker logout
    let out = d
        .docker(["login", "-u", "username", "--password-stdin", &hub.host])
        .stdin("secret\n")
        .ok()
        .out();
    assert_eq!(out, "Login Succeeded\n");
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains(&hub.host)
    );
    let out = d.docker(["logout", &hub.host]).ok().out();
    assert_eq!(
        out,
        format!("Removing login credentials for {}\n", hub.host)
    );
    assert!(
        !std::fs::read_to_string(&config)
            .unwrap()
            .contains(&hub.host)
    );

    // docker search centos (the mirror's catalog)
    let out = d
        .docker(["search", &format!("{}/centos", mirror.host)])
        .ok()
        .out();
    assert_eq!(
        header(&out),
        ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"],
        "{out}"
    );
    assert_eq!(
        columns(out.lines().nth(1).unwrap_or_default()),
        ["library/centos", "0"],
        "{out}"
    );
    // docker pull centos
    let out = d.docker(["pull", "centos"]).ok().out();
    assert!(
        out.starts_with("Using default tag: latest\nlatest: Pulling from library/centos\n"),
        "{out}"
    );
    assert!(out.ends_with("docker.io/library/centos:latest\n"), "{out}");

    // docker tag ubuntu:17.10 username/ubuntu:17.10; docker push (to the Hub stand-in)
    d.docker(["pull", "ubuntu:17.10"]).ok();
    d.docker(["tag", "ubuntu:17.10", "username/ubuntu:17.10"])
        .ok();
    assert_eq!(
        image_names(&d, &["username/ubuntu"]),
        ["username/ubuntu:17.10"]
    );
    let mine = format!("{}/username/ubuntu:17.10", hub.host);
    d.docker(["tag", "ubuntu:17.10", &mine]).ok();
    let r = d.docker(["push", &mine]).fails();
    assert!(
        r.err().contains("no basic auth credentials")
            || r.out().contains("unauthorized")
            || r.err().contains("unauthorized"),
        "{r}"
    );
    d.docker(["login", "-u", "username", "--password-stdin", &hub.host])
        .stdin("secret\n")
        .ok();
    let out = d.docker(["push", &mine]).ok().out();
    assert!(
        out.starts_with(&format!(
            "The push refers to repository [{}/username/ubuntu]\n",
            hub.host
        )),
        "{out}"
    );
    assert!(out.contains("17.10: digest: sha256:"), "{out}");
    // docker search xinneirong (a user's repositories)
    let out = d
        .docker([
            "search",
            "--format",
            "{{.Name}}",
            &format!("{}/username", hub.host),
        ])
        .ok()
        .out();
    assert_eq!(out, "username/ubuntu\n");

    // The private registry: tag, push, curl /v2/_catalog, pull.
    let private = registry(&[]);
    let h = &private.host;
    d.docker(["tag", "ubuntu:17.10", "ubuntu:latest"]).ok();
    d.docker(["tag", "ubuntu:latest", &format!("{h}/ubuntu:latest")])
        .ok();
    let out = d.docker(["push", &format!("{h}/ubuntu")]).ok().out();
    assert!(
        out.starts_with(&format!(
            "Using default tag: latest\nThe push refers to repository [{h}/ubuntu]\n"
        )),
        "{out}"
    );
    assert_eq!(
        curl(h, "/v2/_catalog").trim_end(),
        "{\"repositories\":[\"ubuntu\"]}"
    );
    d.docker(["rmi", &format!("{h}/ubuntu:latest")]).ok();
    let out = d.docker(["pull", &format!("{h}/ubuntu:latest")]).ok().out();
    assert!(
        out.ends_with(&format!(
            "Status: Downloaded newer image for {h}/ubuntu:latest\n{h}/ubuntu:latest\n"
        )),
        "{out}"
    );
}

#[test]
fn volumes_chapter() {
    let d = daemon();
    import_webapp(&d);
    import_busybox(&d, "ubuntu:17.10");

    // docker volume create / ls / inspect
    assert_eq!(
        d.docker(["volume", "create", "my-vol"]).ok().out(),
        "my-vol\n"
    );
    assert_eq!(
        d.docker(["volume", "ls"]).ok().out(),
        "DRIVER    VOLUME NAME\nlocal     my-vol\n"
    );
    let v: Value =
        serde_json::from_str(&d.docker(["volume", "inspect", "my-vol"]).ok().out()).unwrap();
    let data = d.data_root().join("volumes/my-vol/_data");
    assert_eq!(v[0]["Name"], "my-vol");
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Scope"], "local");
    assert_eq!(v[0]["Mountpoint"].as_str(), data.to_str());

    // docker run -d -P --name web -v my-vol:/webapp training/webapp python app.py
    let id = d
        .docker([
            "run",
            "-d",
            "-P",
            "--name",
            "web",
            "-v",
            "my-vol:/webapp",
            "training/webapp",
            "sh",
            "-c",
            &app_py("/webapp"),
        ])
        .ok()
        .out();
    let id = id.trim().to_string();
    assert_eq!(get_eventually(&host_port(&d, "web")), "hello-/webapp\n");
    assert_eq!(
        std::fs::read_to_string(data.join("index.html")).unwrap(),
        "hello-/webapp\n"
    );
    // docker inspect web: the Mounts entry
    let mounts = &inspect(&d, "web")["Mounts"];
    assert_eq!(
        mounts,
        &serde_json::json!([{
            "Type": "volume", "Name": "my-vol", "Source": data.to_str().unwrap(),
            "Destination": "/webapp", "Driver": "local", "Mode": "z", "RW": true,
            "Propagation": ""
        }])
    );

    // docker volume rm my-vol: in use first
    let r = d.docker(["volume", "rm", "my-vol"]).fails();
    assert_eq!(
        r.err(),
        format!("Error response from daemon: remove my-vol: volume is in use - [{id}]\n")
    );
    // docker rm -v: the anonymous volume goes, the named one stays
    d.docker([
        "run",
        "-d",
        "--name",
        "anon",
        "-v",
        "/data",
        "training/webapp",
        "sleep",
        "300",
    ])
    .ok();
    let anon = d
        .docker(["inspect", "-f", "{{(index .Mounts 0).Name}}", "anon"])
        .ok()
        .out();
    d.docker(["rm", "-f", "-v", "anon", "web"]).ok();
    let vols = d.docker(["volume", "ls", "-q"]).ok().out();
    assert_eq!(vols, "my-vol\n", "{anon} removed with its container");
    assert_eq!(d.docker(["volume", "rm", "my-vol"]).ok().out(), "my-vol\n");
    // docker volume prune: anonymous volumes nobody uses
    d.docker([
        "run",
        "--name",
        "left",
        "-v",
        "/data",
        "training/webapp",
        "true",
    ])
    .ok();
    let left = d
        .docker(["inspect", "-f", "{{(index .Mounts 0).Name}}", "left"])
        .ok()
        .out();
    d.docker(["rm", "left"]).ok();
    d.docker(["volume", "create", "kept"]).ok();
    let out = d.docker(["volume", "prune"]).stdin("y\n").ok().out();
    assert!(
        out.contains(&format!(
            "Deleted Volumes:\n{}\n\nTotal reclaimed space: ",
            left.trim()
        )),
        "{out}"
    );
    assert_eq!(d.docker(["volume", "ls", "-q"]).ok().out(), "kept\n");

    // docker run -d -P --name web -v /src/webapp:/opt/webapp …: a missing host dir is created
    let src = d.scratch().join("src/webapp");
    let bind = format!("{}:/opt/webapp", src.display());
    d.docker([
        "run",
        "-d",
        "-P",
        "--name",
        "web",
        "-v",
        &bind,
        "training/webapp",
        "sh",
        "-c",
        &app_py("/opt/webapp"),
    ])
    .ok();
    assert_eq!(get_eventually(&host_port(&d, "web")), "hello-/opt/webapp\n");
    assert!(src.join("index.html").is_file());
    d.docker(["rm", "-f", "web"]).ok();
    // … :ro: writes are refused
    let ro = format!("{bind}:ro");
    d.docker([
        "run",
        "-d",
        "-P",
        "--name",
        "web",
        "-v",
        &ro,
        "training/webapp",
        "sleep",
        "300",
    ])
    .ok();
    let r = d.docker(["exec", "web", "touch", "/opt/webapp/x"]).fails();
    r.assert_code(1);
    assert!(r.err().contains("Read-only file system"), "{r}");
    d.docker(["rm", "-f", "web"]).ok();

    // docker run --rm -it -v $HOME/.bash_history:/root/.bash_history ubuntu:17.10 bash
    let hist = d.scratch().join(".bash_history");
    std::fs::write(&hist, "old\n").unwrap();
    let o = tty(
        &d,
        &format!(
            "HOME={}; {DOCKER_CLI} run --rm -it -v $HOME/.bash_history:/root/.bash_history ubuntu:17.10 sh",
            d.scratch().display()
        ),
        "echo new >> /root/.bash_history; exit\n",
    );
    o.assert_code(0);
    assert_eq!(std::fs::read_to_string(&hist).unwrap(), "old\nnew\n");
    assert_eq!(d.docker(["ps", "-aq"]).ok().out(), "");
}

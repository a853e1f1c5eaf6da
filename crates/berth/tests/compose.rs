//! docker-compose (Debian's 1.29, which speaks the Engine API through docker-py)
//! against berth: a project with a built service, a published port, a named volume,
//! a user network with name resolution, `depends_on`, environment; then `ps`,
//! `exec`, `run`, `logs`, `--scale`, `restart`, `stop`/`start` and `down -v`, which
//! must leave no container, volume or network behind. `run` and `exec` go through
//! the docker CLI, as compose does by default (its docker-py fallback attaches only
//! after starting the container, so a short command's output is lost on any engine).

mod common;
#[path = "network_support/mod.rs"]
mod support;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{http_get_eventually, leftovers};

const COMPOSE: &str = "/usr/bin/docker-compose";

fn compose(d: &TestDaemon, dir: &Path, args: &[&str]) -> Cmd {
    assert!(
        Path::new(COMPOSE).exists(),
        "{COMPOSE} not found: install Debian's docker-compose (see .ci/run)"
    );
    Cmd::new(COMPOSE)
        .args(["--no-ansi", "-p", "app"])
        .args(args)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .current_dir(dir)
        .timeout(Duration::from_secs(180))
}

fn project(d: &TestDaemon, port: u16) -> PathBuf {
    let dir = d.scratch().join("app");
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(
        dir.join("b/Dockerfile"),
        "FROM busybox\nRUN echo built-by-compose > /b\nCMD [\"cat\", \"/b\"]\n",
    )
    .unwrap();
    let yml = format!(
        r#"version: "3.8"
services:
  built:
    build: ./b
    image: app-built
  web:
    image: busybox
    command: sh -c 'mkdir -p /www && echo hello-compose > /www/index.html && exec httpd -f -p 80 -h /www'
    ports:
      - "127.0.0.1:{port}:80"
    volumes:
      - data:/data
    networks: [front]
  client:
    image: busybox
    command: sleep 300
    depends_on: [web]
    networks: [front]
    environment:
      - FOO=bar
volumes:
  data:
networks:
  front:
"#
    );
    std::fs::write(dir.join("docker-compose.yml"), yml).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_compose_project_runs_and_goes_away() {
    let d = daemon();
    import_busybox(&d, "busybox");
    let port = free_port();
    let dir = project(&d, port);

    compose(&d, &dir, &["build"])
        .ok()
        .assert_stdout_contains("Successfully tagged app-built:latest");
    let up = compose(&d, &dir, &["up", "-d"]).ok();
    for line in [
        "Creating network \"app_front\" with the default driver",
        "Creating volume \"app_data\" with default driver",
        "Creating app_web_1",
        "Creating app_client_1",
    ] {
        assert!(up.err().contains(line), "missing {line:?}: {}", up.err());
    }
    let ps = compose(&d, &dir, &["ps"]).ok().out();
    for name in ["app_web_1", "app_client_1"] {
        let row = ps
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} not in:\n{ps}"));
        assert!(row.contains(" Up "), "{row}");
    }
    assert!(
        ps.contains(&format!("127.0.0.1:{port}->80/tcp")),
        "published port not shown:\n{ps}"
    );
    // The one-shot built service ran its image's CMD and exited 0.
    let built = d
        .docker([
            "inspect",
            "-f",
            "{{.State.ExitCode}} {{.Config.Image}}",
            "app_built_1",
        ])
        .ok()
        .out();
    assert_eq!(built, "0 app-built\n");
    assert_eq!(
        compose(&d, &dir, &["logs", "--no-color", "built"])
            .ok()
            .out()
            .lines()
            .filter(|l| l.contains("built-by-compose"))
            .count(),
        1
    );

    // The published port, and the service found by name on the project's network.
    assert_eq!(http_get_eventually(port), "hello-compose\n");
    let exec = compose(
        &d,
        &dir,
        &[
            "exec",
            "-T",
            "client",
            "sh",
            "-c",
            "echo $FOO; wget -qO- http://web/",
        ],
    )
    .ok()
    .out();
    assert_eq!(exec, "bar\nhello-compose\n");
    assert_eq!(
        compose(&d, &dir, &["run", "--rm", "-T", "client", "echo", "ran"])
            .ok()
            .out(),
        "ran\n"
    );
    assert_eq!(
        d.docker(["volume", "inspect", "-f", "{{.Labels}}", "app_data"])
            .ok()
            .out(),
        "map[com.docker.compose.project:app com.docker.compose.version:1.29.2 com.docker.compose.volume:data]\n"
    );

    compose(&d, &dir, &["up", "-d", "--scale", "client=2"]).ok();
    let running = d
        .docker([
            "ps",
            "--filter",
            "label=com.docker.compose.service=client",
            "-q",
        ])
        .ok()
        .lines()
        .len();
    assert_eq!(running, 2);
    compose(&d, &dir, &["restart", "-t", "1", "web"]).ok();
    assert_eq!(http_get_eventually(port), "hello-compose\n");
    compose(&d, &dir, &["stop", "-t", "1"]).ok();
    assert_eq!(d.docker(["ps", "-q"]).ok().out(), "");
    compose(&d, &dir, &["start"]).ok();
    assert_eq!(http_get_eventually(port), "hello-compose\n");

    let down = compose(&d, &dir, &["down", "-v", "-t", "1"]).ok();
    for line in [
        "Removing app_web_1",
        "Removing network app_front",
        "Removing volume app_data",
    ] {
        assert!(
            down.err().contains(line),
            "missing {line:?}: {}",
            down.err()
        );
    }
    assert_eq!(d.docker(["ps", "-aq"]).ok().out(), "");
    assert_eq!(d.docker(["volume", "ls", "-q"]).ok().out(), "");
    let nets = d
        .docker(["network", "ls", "--format", "{{.Name}}"])
        .ok()
        .lines();
    assert_eq!(nets, ["bridge", "host", "none"]);
    assert_eq!(leftovers(&d), Vec::<String>::new());
}

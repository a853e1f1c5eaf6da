//! The networking chapters of the user's Docker notes (使用网络, 高级网络), walked in
//! their order with the real docker CLI; see notes.rs for the other chapters and the
//! stand-ins (busybox `httpd` for `python app.py`, free ports for fixed ones, `script`
//! for `-it`).

mod common;
#[path = "notes_support/mod.rs"]
mod notes_support;
#[path = "network_support/mod.rs"]
mod support;

use common::*;
use notes_support::*;
use support::http_get_eventually;

#[test]
fn networking_chapter() {
    let e = support::Env::new();
    let d = &e.d;
    import_webapp(d);
    let app = app_py("/www");
    let run_app = |publish: &[&str]| -> String {
        let out = d
            .docker(["run", "-d"])
            .args(publish)
            .args(["training/webapp", "sh", "-c", &app])
            .ok()
            .out();
        out.trim()[..12].to_string()
    };

    // docker run -d -P training/webapp python app.py; docker container ls
    let c = run_app(&["-P"]);
    // Regression: the image's EXPOSE reaches the container's config (and so `-P`).
    assert_eq!(
        d.docker(["inspect", "-f", "{{json .Config.ExposedPorts}}", &c])
            .ok()
            .out(),
        "{\"5000/tcp\":{}}\n"
    );
    let ls = d.docker(["container", "ls"]).ok().out();
    assert_eq!(
        header(&ls)[..3],
        ["CONTAINER ID", "IMAGE", "COMMAND"],
        "{ls}"
    );
    let row = ls
        .lines()
        .find(|l| l.starts_with(&c))
        .unwrap_or_else(|| panic!("{ls}"));
    let hp = host_port(d, &c);
    let port = hp.rsplit(':').next().unwrap();
    assert!(row.contains(&format!("0.0.0.0:{port}->5000/tcp")), "{row}");
    assert_eq!(get_eventually(&hp), "hello-/www\n");

    // docker run -d -p 5000:5000 (a free port stands in for 5000: tests run in parallel)
    let p = free_port();
    let c = run_app(&["-p", &format!("{p}:5000")]);
    assert_eq!(host_port(d, &c), format!("0.0.0.0:{p}"));
    assert_eq!(http_get_eventually(p), "hello-/www\n");
    // -p 127.0.0.1:5000:5000
    let p = free_port();
    let c = run_app(&["-p", &format!("127.0.0.1:{p}:5000")]);
    assert_eq!(host_port(d, &c), format!("127.0.0.1:{p}"));
    assert_eq!(http_get_eventually(p), "hello-/www\n");
    // -p 127.0.0.1::5000, then docker port <generated name> 5000; -p more than once
    let c = run_app(&["-p", "127.0.0.1::5000", "-p", "127.0.0.1::6000"]);
    let name = d.docker(["inspect", "-f", "{{.Name}}", &c]).ok().out();
    let name = name.trim().trim_start_matches('/');
    assert!(name.contains('_'), "a generated adjective_name: {name}");
    let hp = host_port(d, name);
    assert!(hp.starts_with("127.0.0.1:"), "{hp}");
    assert_eq!(get_eventually(&hp), "hello-/www\n");
    assert_eq!(d.docker(["port", name]).ok().lines().len(), 2);

    // docker network create -d bridge my-net
    let id = d
        .docker(["network", "create", "-d", "bridge", "my-net"])
        .ok()
        .out();
    assert!(is_id(id.trim()), "{id:?}");
    d.docker([
        "run",
        "-d",
        "--name",
        "busybox2",
        "--network",
        "my-net",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    // docker run -it --rm --name busybox1 --network my-net busybox sh; ping busybox2; mount
    let o = tty(
        d,
        &format!("{DOCKER_CLI} run -it --rm --name busybox1 --network my-net busybox sh"),
        "ping -c1 -W2 busybox2\nmount\nexit\n",
    );
    o.assert_code(0);
    let out = o.out().replace('\r', "");
    assert!(out.contains("1 packets received"), "{out}");
    for f in ["/etc/resolv.conf", "/etc/hostname", "/etc/hosts"] {
        assert!(
            out.lines().any(|l| l.contains(&format!(" on {f} type "))),
            "{f} in\n{out}"
        );
    }

    // --dns / --dns-search / -h / --link / --net=none|container:|host
    let out = d
        .docker([
            "run",
            "--rm",
            "--dns=127.0.0.53",
            "--dns-search=example.com",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .out();
    assert!(out.lines().any(|l| l == "nameserver 127.0.0.53"), "{out}");
    assert!(out.lines().any(|l| l == "search example.com"), "{out}");
    assert_eq!(
        d.docker(["run", "--rm", "-h", "myhost", "busybox", "hostname"])
            .ok()
            .out(),
        "myhost\n"
    );
    d.docker(["run", "-d", "--name", "db0", "busybox", "sleep", "300"])
        .ok();
    let out = d
        .docker([
            "run",
            "--rm",
            "--link=db0:db",
            "busybox",
            "ping",
            "-c1",
            "-W2",
            "db",
        ])
        .ok()
        .out();
    assert!(out.contains("1 packets received"), "{out}");
    let out = d
        .docker([
            "run",
            "--rm",
            "--net=none",
            "busybox",
            "ls",
            "/sys/class/net",
        ])
        .ok()
        .out();
    assert_eq!(out, "lo\n");
    // Regression: --net=container:X takes X's hostname, as docker does.
    let h2 = d
        .docker(["inspect", "-f", "{{.Config.Hostname}}", "busybox2"])
        .ok()
        .out();
    let out = d
        .docker([
            "run",
            "--rm",
            "--net=container:busybox2",
            "busybox",
            "hostname",
        ])
        .ok()
        .out();
    assert_eq!(out, h2);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let out = d
        .docker(["run", "--rm", "--net=host", "busybox", "hostname"])
        .ok()
        .out();
    assert_eq!(out, host);
}

/// 高级网络: options set when the daemon starts (daemon.json here) become every
/// container's defaults; `docker run` flags override them.
#[test]
fn daemon_network_options_chapter() {
    let config = r#"{"mtu": 1400, "dns": ["127.0.0.53"], "dns-search": ["example.org"]}"#;
    let d = TestDaemon::start_with_config(env!("CARGO_BIN_EXE_berth"), Some(config));
    import_busybox(&d, "busybox");
    let out = d
        .docker(["run", "--rm", "busybox", "cat", "/sys/class/net/eth0/mtu"])
        .ok()
        .out();
    assert_eq!(out, "1400\n");
    let out = d
        .docker(["run", "--rm", "busybox", "cat", "/etc/resolv.conf"])
        .ok()
        .out();
    assert!(out.lines().any(|l| l == "nameserver 127.0.0.53"), "{out}");
    assert!(out.lines().any(|l| l == "search example.org"), "{out}");
    let out = d
        .docker([
            "run",
            "--rm",
            "--dns=127.0.0.54",
            "--dns-search=example.com",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ])
        .ok()
        .out();
    assert!(out.lines().any(|l| l == "nameserver 127.0.0.54"), "{out}");
    assert!(
        !out.contains("127.0.0.53") && !out.contains("example.org"),
        "{out}"
    );
    assert!(out.lines().any(|l| l == "search example.com"), "{out}");
}

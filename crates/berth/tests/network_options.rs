//! Network daemon options and name resolution end to end with the real docker CLI:
//! the embedded DNS server (names, aliases, forwarding to a fake upstream on
//! 127.213.x.y), `icc`, `ip`, `iptables`, `userland-proxy`, `bridge: none`, legacy
//! links and network events. Traffic goes only to 127/8 and to namespaces the tests
//! create.

mod common;
#[path = "network_support/mod.rs"]
mod support;

use std::time::Duration;
use support::*;

#[test]
fn iptables_false_touches_no_firewall() {
    let mut e = Env::new();
    std::fs::write(e.d.dir().join("daemon.json"), r#"{"iptables": false}"#).unwrap();
    std::process::Command::new("nft")
        .args(["delete", "table", "inet", &e.d.net().table])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    e.d.restart();
    e.docker(&["run", "--rm", "-p", "80", "busybox", "true"])
        .ok();
    let tables = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    let tables = String::from_utf8_lossy(&tables.stdout);
    assert!(!tables.contains(&e.d.net().table), "{tables}");
}

#[test]
fn links_add_hosts_and_legacy_variables() {
    let e = Env::new();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "db",
        "--expose",
        "5432",
        "-e",
        "PASSWORD=x",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    let ip = e.inspect("db", "{{.NetworkSettings.IPAddress}}");
    let out = e
        .docker(&[
            "run",
            "--rm",
            "--link",
            "db:database",
            "--add-host",
            "gw:host-gateway",
            "--add-host",
            "x.test:10.1.2.3",
            "busybox",
            "sh",
            "-c",
            "cat /etc/hosts; env",
        ])
        .ok()
        .out();
    let gw = format!("10.213.{}.1", e.d.net().octet);
    assert!(out.contains(&format!("{gw}\tgw\n")), "{out}");
    assert!(out.contains("10.1.2.3\tx.test\n"), "{out}");
    assert!(out.contains(&format!("{ip}\tdatabase ")), "{out}");
    assert!(
        out.contains(&format!("DATABASE_PORT_5432_TCP_ADDR={ip}\n")),
        "{out}"
    );
    assert!(
        out.contains(&format!("DATABASE_PORT=tcp://{ip}:5432\n")),
        "{out}"
    );
    assert!(out.contains("DATABASE_ENV_PASSWORD=x\n"), "{out}");
}

#[test]
fn embedded_dns_resolves_names_and_aliases_and_forwards_the_rest() {
    let mut e = Env::new();
    let octet = e.d.net().octet;
    e.docker(&[
        "network",
        "create",
        "--subnet",
        &format!("10.214.{octet}.64/28"),
        "dnsnet",
    ])
    .ok();
    let ip = start_dns_server(&e);
    let short = e.inspect("srv", "{{.Config.Hostname}}");
    let upstream = fake_upstream();
    let script = format!(
        "cat /etc/resolv.conf; ping -c1 -W2 srv && ping -c1 -W2 api && ping -c1 -W2 {short} && nslookup upstream.example"
    );
    let out = e
        .docker(&[
            "run",
            "--rm",
            "--network",
            "dnsnet",
            "--dns",
            &upstream,
            "busybox",
            "sh",
            "-c",
            &script,
        ])
        .ok()
        .out();
    assert!(out.contains("nameserver 127.0.0.11\n"), "{out}");
    assert_eq!(out.matches(&format!("PING srv ({ip})")).count(), 1, "{out}");
    assert!(out.contains(&format!("PING api ({ip})")), "{out}");
    assert!(out.contains(&format!("PING {short} ({ip})")), "{out}");
    assert!(
        out.contains("192.0.2.7"),
        "forwarded to the fake upstream: {out}"
    );
    // A container on the default bridge does not see user-network names.
    e.docker(&["run", "--rm", "busybox", "nslookup", "srv", "127.0.0.11"])
        .fails();
    // Names survive a daemon restart (live-restore) for the running container.
    e.docker(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "dnsnet",
        "busybox",
        "sleep",
        "300",
    ])
    .ok();
    e.d.kill9();
    e.d.restart();
    e.docker(&["exec", "cli", "ping", "-c1", "-W2", "api"]).ok();
    e.docker(&["rm", "-f", "srv", "cli"]).ok();
    e.docker(&["network", "rm", "dnsnet"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn bridge_none_gives_default_containers_loopback_only() {
    let mut e = Env::new();
    std::fs::write(e.d.dir().join("daemon.json"), r#"{"bridge": "none"}"#).unwrap();
    e.d.restart();
    let out = e
        .docker(&["run", "--rm", "busybox", "ip", "-o", "link"])
        .ok()
        .out();
    assert_eq!(out.lines().count(), 1, "{out}");
    e.docker(&["network", "inspect", "bridge"])
        .fails()
        .assert_stderr_contains("network bridge not found");
}

#[test]
fn icc_and_default_bind_address_options() {
    let mut e = Env::new();
    // icc on (the default): containers on the default bridge reach each other.
    e.docker(&["run", "-d", "--name", "ca", "busybox", "sleep", "300"])
        .ok();
    let ip = e.inspect("ca", "{{.NetworkSettings.IPAddress}}");
    e.docker(&["run", "--rm", "busybox", "ping", "-c1", "-W2", &ip])
        .ok();
    e.docker(&["rm", "-f", "ca"]).ok();
    std::fs::write(
        e.d.dir().join("daemon.json"),
        r#"{"icc": false, "ip": "127.0.0.1", "dns": ["192.0.2.53"], "dns-search": ["example.org"]}"#,
    )
    .unwrap();
    e.d.restart();
    e.docker(&[
        "run", "-d", "--name", "ca", "-p", "80", "busybox", "sleep", "300",
    ])
    .ok();
    let ip = e.inspect("ca", "{{.NetworkSettings.IPAddress}}");
    e.docker(&["run", "--rm", "busybox", "ping", "-c1", "-W1", &ip])
        .fails();
    // The daemon's dns options reach containers that set none of their own.
    let resolv = e
        .docker(&["run", "--rm", "busybox", "cat", "/etc/resolv.conf"])
        .ok()
        .out();
    assert!(resolv.contains("nameserver 192.0.2.53\n"), "{resolv}");
    assert!(resolv.contains("search example.org\n"), "{resolv}");
    // With icc off, --link still opens the linked container's exposed ports.
    e.docker(&[
        "run", "-d", "--name", "srv", "--expose", "80", "busybox", "sh", "-c", HTTPD,
    ])
    .ok();
    let body = e
        .docker(&["run", "--rm", "--link", "srv:web", "busybox", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do printf \"GET / HTTP/1.0\\r\\n\\r\\n\" | nc -w 2 $WEB_PORT_80_TCP_ADDR 80 | grep hello && exit 0; sleep 0.3; done; exit 1"])
        .ok()
        .out();
    assert!(body.contains("hello-from-"), "{body}");
    let srv_ip = e.inspect("srv", "{{.NetworkSettings.IPAddress}}");
    e.docker(&[
        "run",
        "--rm",
        "busybox",
        "wget",
        "-T",
        "2",
        "-qO-",
        &format!("http://{srv_ip}/"),
    ])
    .fails();
    e.docker(&["rm", "-f", "srv"]).ok();
    let port = e.docker(&["port", "ca", "80"]).ok().out();
    assert!(port.starts_with("127.0.0.1:"), "{port}");
    assert_eq!(
        e.docker(&["ps", "-q", "--filter", "network=bridge"])
            .ok()
            .lines()
            .len(),
        1
    );
    assert!(
        e.docker(&["ps", "-q", "--filter", "network=none"])
            .ok()
            .lines()
            .is_empty()
    );
    e.docker(&["rm", "-f", "ca"]).ok();
}

#[test]
fn network_events() {
    let e = Env::new();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    e.docker(&["network", "create", "evnet"]).ok();
    e.docker(&["run", "--rm", "--network", "evnet", "busybox", "true"])
        .ok();
    e.docker(&["network", "rm", "evnet"]).ok();
    let until = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let out = e
        .docker(&[
            "events",
            "--since",
            &start,
            "--until",
            &until,
            "--filter",
            "type=network",
            "--format",
            "{{.Action}} {{.Actor.Attributes.name}}",
        ])
        .timeout(Duration::from_secs(60))
        .ok()
        .out();
    let want = [
        "create evnet",
        "connect evnet",
        "disconnect evnet",
        "destroy evnet",
    ];
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got, want, "{out}");
}

#[test]
fn without_the_userland_proxy_loopback_is_served_by_the_kernel() {
    let mut e = Env::new();
    std::fs::write(
        e.d.dir().join("daemon.json"),
        r#"{"userland-proxy": false}"#,
    )
    .unwrap();
    e.d.restart();
    e.docker(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        HTTPD,
    ])
    .ok();
    let port: u16 = e
        .docker(&["port", "web", "80"])
        .ok()
        .out()
        .trim()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(http_get_eventually(port).starts_with("hello-from-"));
    e.docker(&["rm", "-f", "web"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

//! The embedded DNS server (127.0.0.11 in containers on user-defined networks) end to
//! end with the real docker CLI and busybox: PTR answers for container addresses
//! (`name.network.`, as docker), NODATA (not NXDOMAIN) for a container name asked for
//! AAAA, case-insensitive names, and the TCP listener next to the UDP one. Relayed
//! names go only to a fake upstream on 127.213.x.y; all other traffic stays inside
//! the networks the tests create.

mod common;
#[path = "network_support/mod.rs"]
mod support;

use support::*;

/// Starts `srv` (alias `api`) on a new network `dnsnet`; returns its address.
fn server(e: &Env) -> String {
    e.docker(&["network", "create", "dnsnet"]).ok();
    start_dns_server(e)
}

/// Runs `script` in a throwaway busybox on `dnsnet` whose upstream is the fake one.
fn run_on_net(e: &Env, script: &str) -> common::Cmd {
    let upstream = fake_upstream();
    e.docker(&[
        "run",
        "--rm",
        "--network",
        "dnsnet",
        "--dns",
        &upstream,
        "busybox",
        "sh",
        "-c",
        script,
    ])
}

#[test]
fn reverse_lookups_answer_container_name_dot_network() {
    let e = Env::new();
    let ip = server(&e);
    let out = run_on_net(&e, &format!("nslookup {ip} 127.0.0.11"))
        .ok()
        .out();
    let rev: Vec<&str> = ip.split('.').rev().collect();
    assert!(
        out.contains(&format!(
            "{}.in-addr.arpa\tname = srv.dnsnet",
            rev.join(".")
        )),
        "{out}"
    );
    // Ours is authoritative; an address that is no container's is relayed to the
    // fake upstream, which answers (non-authoritatively) with no PTR.
    assert!(!out.contains("Non-authoritative"), "{out}");
    let out = run_on_net(&e, "nslookup 10.254.254.254 127.0.0.11")
        .ok()
        .out();
    assert!(out.contains("Non-authoritative answer:"), "{out}");
    assert!(!out.contains("name ="), "{out}");
    e.docker(&["rm", "-f", "srv"]).ok();
    e.docker(&["network", "rm", "dnsnet"]).ok();
    assert_eq!(leftovers(&e.d), Vec::<String>::new());
}

#[test]
fn names_are_case_insensitive_and_aaaa_of_a_container_is_nodata() {
    let e = Env::new();
    let ip = server(&e);
    let out = run_on_net(
        &e,
        "nslookup -type=a SRV 127.0.0.11; nslookup -type=a Api. 127.0.0.11",
    )
    .ok()
    .out();
    assert_eq!(out.matches(&format!("Address: {ip}")).count(), 2, "{out}");
    // The name exists without an IPv6 address: an authoritative NOERROR with no
    // answer (busybox prints no address and exits 0), never NXDOMAIN.
    let out = run_on_net(&e, "nslookup -type=aaaa srv 127.0.0.11")
        .ok()
        .out();
    assert!(!out.contains("NXDOMAIN"), "{out}");
    assert!(!out.contains("Non-authoritative"), "{out}");
    assert!(!out.contains("Address: "), "{out}");
}

/// A DNS query framed for TCP (2-byte length prefix), as printf octal escapes.
fn tcp_query_printf(name: &str, qtype: u16) -> String {
    let mut q = vec![0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    framed.iter().map(|b| format!("\\{b:03o}")).collect()
}

/// The bytes `od -An -tu1` printed.
fn od_bytes(out: &str) -> Vec<u8> {
    out.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

#[test]
fn the_tcp_listener_answers_length_prefixed_queries() {
    let e = Env::new();
    let ip = server(&e);
    let octets: Vec<u8> = ip.split('.').map(|o| o.parse().unwrap()).collect();
    let q = tcp_query_printf("srv", 1);
    let out = run_on_net(
        &e,
        &format!("printf '{q}' | nc -w 3 127.0.0.11 53 | od -An -v -tu1"),
    )
    .ok()
    .out();
    let r = od_bytes(&out);
    assert!(r.len() > 14, "{out}");
    let len = u16::from_be_bytes([r[0], r[1]]) as usize;
    assert_eq!(len, r.len() - 2, "one framed response: {out}");
    assert_eq!(&r[2..4], &[0x42, 0x42], "same id: {out}");
    assert_eq!(r[5] & 0x0f, 0, "NOERROR: {out}");
    assert_eq!(u16::from_be_bytes([r[8], r[9]]), 1, "one answer: {out}");
    assert_eq!(&r[r.len() - 4..], &octets[..], "{out}");
    // PTR over TCP too.
    let rev: Vec<&str> = ip.split('.').rev().collect();
    let q = tcp_query_printf(&format!("{}.in-addr.arpa", rev.join(".")), 12);
    let out = run_on_net(
        &e,
        &format!("printf '{q}' | nc -w 3 127.0.0.11 53 | od -An -v -tu1"),
    )
    .ok()
    .out();
    let r = od_bytes(&out);
    assert!(
        r.windows(12).any(|w| w == b"\x03srv\x06dnsnet\x00"),
        "srv.dnsnet. in the answer: {out}"
    );
}

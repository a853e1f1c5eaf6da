//! `berth registry serve` killed with SIGKILL in the middle of uploads: after a restart
//! no partial blob is ever served, and the same pushes can be retried and complete.

use berth_stdx::Digest;
use berth_testkit::TestRegistry;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn registry() -> TestRegistry {
    TestRegistry::start(env!("CARGO_BIN_EXE_berth"), &[])
}

/// One HTTP/1.1 request on a fresh connection; returns (status, headers, body).
fn request(host: &str, method: &str, path: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(host).expect("connect to registry");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    (status, head, raw[split + 4..].to_vec())
}

fn header(head: &str, name: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} header in:\n{head}"))
}

/// Starts an upload session; returns its path (the Location, made relative).
fn start_upload(reg: &TestRegistry, repo: &str) -> String {
    let (st, head, _) = request(
        &reg.host,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        b"",
    );
    assert_eq!(st, 202, "{head}");
    let loc = header(&head, "location");
    match loc.find("/v2/") {
        Some(i) => loc[i..].to_string(),
        None => panic!("odd location {loc}"),
    }
}

fn blob(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn kill_9_mid_upload_serves_no_partial_blob_and_pushes_retry() {
    let mut reg = registry();
    let data = blob(24 << 20, 7);
    let digest = Digest::sha256_of(&data);

    // A PATCH that has sent only part of its promised body when the server dies.
    let loc = start_upload(&reg, "crash/app");
    let mut s = TcpStream::connect(&reg.host).unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\n\r\n",
        reg.host,
        data.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&data[..10 << 20]).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // A second session whose final PUT names a digest the server never got all bytes of.
    let loc2 = start_upload(&reg, "crash/other");
    let mut s2 = TcpStream::connect(&reg.host).unwrap();
    let sep = if loc2.contains('?') { '&' } else { '?' };
    let head2 = format!(
        "PUT {loc2}{sep}digest={digest} HTTP/1.1\r\nHost: {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        reg.host,
        data.len()
    );
    s2.write_all(head2.as_bytes()).unwrap();
    s2.write_all(&data[..12 << 20]).unwrap();
    s2.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    reg.restart();
    drop((s, s2));

    // Nothing half-written is visible, in either repository.
    for repo in ["crash/app", "crash/other"] {
        let (st, head, _) = request(
            &reg.host,
            "HEAD",
            &format!("/v2/{repo}/blobs/{digest}"),
            b"",
        );
        assert_eq!(
            st, 404,
            "partial blob visible after the crash in {repo}:\n{head}"
        );
        let (st, _, body) = request(&reg.host, "GET", &format!("/v2/{repo}/blobs/{digest}"), b"");
        assert_eq!(st, 404, "{}", String::from_utf8_lossy(&body));
    }
    // No blob file for the digest exists on disk either.
    let hex = digest.to_string();
    let hex = hex.trim_start_matches("sha256:");
    let blob_file = reg.data_root().join("content/blobs/sha256").join(hex);
    assert!(
        !blob_file.exists(),
        "a blob file was committed: {}",
        blob_file.display()
    );

    // The pushes are retried and complete: a monolithic push and a chunked one.
    let (st, head, _) = request(
        &reg.host,
        "POST",
        &format!("/v2/crash/app/blobs/uploads/?digest={digest}"),
        &data,
    );
    assert_eq!(st, 201, "{head}");
    let loc = start_upload(&reg, "crash/other");
    let (st, head, _) = request(&reg.host, "PATCH", &loc, &data[..5 << 20]);
    assert_eq!(st, 202, "{head}");
    let loc = header(&head, "location");
    let loc = &loc[loc.find("/v2/").expect("location path")..];
    let sep = if loc.contains('?') { '&' } else { '?' };
    let (st, head, _) = request(
        &reg.host,
        "PUT",
        &format!("{loc}{sep}digest={digest}"),
        &data[5 << 20..],
    );
    assert_eq!(st, 201, "{head}");

    for repo in ["crash/app", "crash/other"] {
        let (st, _, body) = request(&reg.host, "GET", &format!("/v2/{repo}/blobs/{digest}"), b"");
        assert_eq!(st, 200);
        assert_eq!(body.len(), data.len());
        assert_eq!(
            Digest::sha256_of(&body),
            digest,
            "served bytes differ in {repo}"
        );
    }
}

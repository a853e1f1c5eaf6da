//! The Engine API over raw HTTP: /_ping headers, versioned paths, docker's error bodies
//! and status codes, both filter shapes, chunked bodies, and malformed requests that must
//! get a 4xx (never a panic, never a dead daemon).

mod common;
use berth_testkit::http::{parse_response, unix_raw, unix_raw_eof, unix_request};
use common::*;

#[test]
fn ping_headers_and_methods() {
    let d = daemon();
    for (method, path) in [
        ("GET", "/_ping"),
        ("HEAD", "/_ping"),
        ("GET", "/v1.41/_ping"),
        ("GET", "/v1.45/_ping"),
    ] {
        let r = d.api(method, path, None);
        assert_eq!(r.status, 200, "{method} {path}");
        assert_eq!(
            r.header("Api-Version"),
            Some("1.45"),
            "{method} {path}: {:?}",
            r.headers
        );
        assert_eq!(r.header("Ostype"), Some("linux"), "{method} {path}");
        assert_eq!(r.header("Builder-Version"), Some("1"), "{method} {path}");
        assert_eq!(
            r.header("Docker-Experimental"),
            Some("false"),
            "{method} {path}"
        );
        assert!(
            r.header("Server").is_some_and(|s| !s.is_empty()),
            "{method} {path}"
        );
        assert_eq!(
            r.header("Cache-Control"),
            Some("no-cache, no-store, must-revalidate"),
            "{method} {path}"
        );
        assert_eq!(r.header("Pragma"), Some("no-cache"), "{method} {path}");
        if method == "GET" {
            assert_eq!(r.text(), "OK", "{method} {path}");
        }
    }
    // Every response repeats the version headers, errors included.
    let r = d.api("GET", "/v1.41/images/nope/json", None);
    assert_eq!(r.header("Api-Version"), Some("1.45"));
}

#[test]
fn api_versions_outside_the_range_are_400() {
    let d = daemon();
    let r = d.api("GET", "/v1.12/version", None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );
    let r = d.api("GET", "/v9.99/version", None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["message"].as_str().unwrap().contains("9.99"),
        "{}",
        r.text()
    );
    for v in ["1.24", "1.41", "1.45"] {
        assert_eq!(
            d.api("GET", &format!("/v{v}/version"), None).status,
            200,
            "v{v}"
        );
    }
    let r = d.api("GET", "/vbanana/version", None);
    assert!((400..500).contains(&r.status), "{}", r.status);
}

#[test]
fn errors_have_docker_status_codes_and_json_bodies() {
    let d = daemon();
    load_fixtures(&d);
    d.docker(["tag", "a:v1", "a:two"]).ok();
    let a_id = d
        .docker(["image", "inspect", "--format", "{{.Id}}", "a:v1"])
        .ok()
        .out()
        .trim()
        .to_string();
    let cases: &[(&str, &str, u16, &str)] = &[
        (
            "GET",
            "/v1.41/images/nope/json",
            404,
            "No such image: nope:latest",
        ),
        (
            "GET",
            "/v1.41/images/nope/history",
            404,
            "No such image: nope:latest",
        ),
        (
            "DELETE",
            "/v1.41/images/nope",
            404,
            "No such image: nope:latest",
        ),
        (
            "POST",
            "/v1.41/images/nope/tag?repo=x&tag=y",
            404,
            "No such image: nope:latest",
        ),
        (
            "DELETE",
            &format!("/v1.41/images/{}", &a_id[7..19]),
            409,
            "must be forced",
        ),
        ("POST", "/v1.41/images/a:v1/tag?repo=UPPER&tag=x", 400, ""),
        ("GET", "/v1.41/images/json?filters=%7Bbad", 400, ""),
        (
            "GET",
            "/v1.41/images/json?filters=%7B%22nosuch%22%3A%7B%22x%22%3Atrue%7D%7D",
            400,
            "nosuch",
        ),
        (
            "GET",
            "/v1.41/images/json?filters=%7B%22dangling%22%3A%5B%22maybe%22%5D%7D",
            400,
            "",
        ),
        ("GET", "/v1.41/nosuchthing", 404, ""),
        ("POST", "/v1.41/images/create", 400, ""),
        ("POST", "/v1.41/images/prune?filters=%5B1%2C2%5D", 400, ""),
        ("GET", "/v1.41/events?filters=notjson", 400, ""),
    ];
    for (method, path, status, needle) in cases {
        let r = d.api(method, path, None);
        assert_eq!(r.status, *status, "{method} {path}: {}", r.text());
        let v = r.json();
        let msg = v["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no message: {v}"));
        assert!(
            !msg.is_empty() && msg.contains(needle),
            "{method} {path}: {msg:?} lacks {needle:?}"
        );
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{method} {path}"
        );
    }
    assert!(d.ping());
}

#[test]
fn filters_in_map_and_list_shapes() {
    let d = daemon();
    load_fixtures(&d);
    let count = |q: &str| {
        let r = d.api("GET", &format!("/v1.41/images/json?filters={}", q), None);
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        r.json().as_array().unwrap().len()
    };
    // {"dangling":{"true":true}} and {"dangling":["true"]}
    assert_eq!(count("%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D"), 1);
    assert_eq!(count("%7B%22dangling%22%3A%5B%22true%22%5D%7D"), 1);
    // {"label":["env=prod"]} and {"label":{"env":true}}
    assert_eq!(count("%7B%22label%22%3A%5B%22env%3Dprod%22%5D%7D"), 1);
    assert_eq!(count("%7B%22label%22%3A%7B%22env%22%3Atrue%7D%7D"), 2);
    let all = d.api("GET", "/images/json?all=1", None).json();
    let first = &all[0];
    for key in [
        "Containers",
        "Created",
        "Id",
        "Labels",
        "ParentId",
        "RepoDigests",
        "RepoTags",
        "SharedSize",
        "Size",
    ] {
        assert!(
            first.get(key).is_some(),
            "GET /images/json item lacks {key}: {first}"
        );
    }
    assert!(
        first["Created"].is_i64(),
        "Created is unix seconds in lists: {first}"
    );
}

#[test]
fn chunked_load_body_and_progress_stream() {
    let d = daemon();
    let p = scratch_file(&d, "chunked.tar");
    write_archive(
        &p,
        &fixture_images()[..1],
        Format::Docker25,
        Breakage::default(),
    );
    let body = std::fs::read(&p).unwrap();
    let mut req = b"POST /v1.41/images/load?quiet=0 HTTP/1.1\r\nHost: api.moby.localhost\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for chunk in body.chunks(7777) {
        req.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        req.extend(chunk);
        req.extend(b"\r\n");
    }
    req.extend(b"0\r\n\r\n");
    let raw = unix_raw(&d.socket(), &req).unwrap();
    let r = parse_response(&raw, false).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = r.json_lines();
    assert!(
        lines.iter().any(|l| l["stream"] == "Loaded image: c:v1\n"),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.get("error").is_some()), "{lines:?}");
    // quiet=0 streams per-layer progress as docker does:
    // {"status":"Loading layer","progressDetail":{"current":..,"total":..},"progress":"[=> ] ..","id":"<12 hex>"}
    let progress: Vec<_> = lines
        .iter()
        .filter(|l| l["status"] == "Loading layer")
        .collect();
    assert!(!progress.is_empty(), "no load progress: {lines:?}");
    assert!(
        progress
            .iter()
            .all(|l| l["progressDetail"]["total"].as_u64().is_some()
                && l["id"].as_str().is_some_and(|i| i.len() == 12)),
        "{progress:?}"
    );
    // quiet=1: no progress, still the Loaded line.
    let r = unix_request(
        &d.socket(),
        "POST",
        "/v1.41/images/load?quiet=1",
        &[("Content-Type", "application/x-tar")],
        Some(&body),
    )
    .unwrap();
    let lines = r.json_lines();
    assert!(
        lines.iter().all(|l| l.get("progressDetail").is_none()),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l["stream"] == "Loaded image: c:v1\n"),
        "{lines:?}"
    );
    // A failing load after the stream started reports in-band (HTTP 200 + errorDetail).
    let r = unix_request(
        &d.socket(),
        "POST",
        "/v1.41/images/load",
        &[],
        Some(&body[..body.len() / 3]),
    )
    .unwrap();
    let text = r.text();
    assert!(
        r.status >= 400 || text.contains("errorDetail"),
        "{} {text}",
        r.status
    );
    // import via fromSrc=- reports the id as {"status":"sha256:..."}.
    let tar = Layer::new().file("hello", "world").build();
    let r = unix_request(
        &d.socket(),
        "POST",
        "/v1.41/images/create?fromSrc=-&repo=raw&tag=1",
        &[("Content-Type", "text/plain")],
        Some(&tar),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let last = r.json_lines().pop().unwrap();
    assert!(
        last["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("sha256:")),
        "{last}"
    );
}

#[test]
fn malformed_requests_never_kill_the_daemon() {
    let d = daemon();
    let garbage: &[&[u8]] = &[
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /_ping HTTP/9.9\r\n\r\n",
        b"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\nshort",
        b"POST /images/load HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n",
        b"GET /images/json?filters=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /images/%00/json HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /images/create?fromSrc=-&repo=%2F%2F%2F HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        b"POST /images/a/tag?repo=&tag=:: HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        b"GET /images/get?names= HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x00\x01\x02\x03\xff\xfe",
    ];
    for g in garbage {
        let raw = unix_raw_eof(&d.socket(), g).unwrap_or_default();
        if let Ok(r) = parse_response(&raw, false) {
            // 505 is the right answer to an unknown HTTP version; any other 5xx is a bug.
            assert!(
                r.status < 500 || r.status == 505,
                "{:?} got {}: {}",
                String::from_utf8_lossy(g),
                r.status,
                r.text()
            );
        }
        assert!(
            d.ping(),
            "daemon died after {:?}",
            String::from_utf8_lossy(g)
        );
    }
    let long = format!("/v1.41/images/{}/json", "a".repeat(100_000));
    let r = d.api("GET", &long, None);
    assert!((400..500).contains(&r.status), "{}", r.status);
    assert!(d.ping());
}

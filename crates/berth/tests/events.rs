//! `events` with image events (import, tag, untag, delete, load, save) and
//! --since/--until/--filter, through both CLIs and the raw API.

mod common;
use common::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now as docker's `secs.nanos` timestamp.
fn now() -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

/// A moment safely after everything so far (events are compared at nanosecond precision).
fn mark() -> String {
    std::thread::sleep(Duration::from_millis(50));
    let t = now();
    std::thread::sleep(Duration::from_millis(50));
    t
}

const FMT: &str = "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}";

fn events(d: &TestDaemon, c: Cli, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["events", "--format", FMT];
    args.extend_from_slice(extra);
    cli(d, c, &args)
        .timeout(Duration::from_secs(30))
        .ok()
        .lines()
}

#[test]
fn image_events_with_since_until_and_filters() {
    let d = daemon();
    let t0 = mark();
    let imported = import_busybox(&d, "evt:v1");
    let t1 = mark();
    d.docker(["tag", "evt:v1", "evt:v2"]).ok();
    d.docker(["rmi", "evt:v2"]).ok();
    let saved = scratch_file(&d, "evt.tar");
    d.docker(["save", "-o", &saved.display().to_string(), "evt:v1"])
        .ok();
    d.docker(["rmi", "evt:v1"]).ok();
    d.docker(["load", "-i", &saved.display().to_string()]).ok();
    let t2 = mark();

    for c in CLIS {
        let all = events(&d, c, &["--since", &t0, "--until", &t2]);
        let actions: Vec<&str> = all
            .iter()
            .map(|l| l.split(' ').nth(1).unwrap_or(""))
            .collect();
        for l in &all {
            assert!(
                l.starts_with("image "),
                "{c:?}: only image events happened: {all:?}"
            );
        }
        // In order of occurrence (docker logs an import's own tag just before "import").
        let want = ["import", "tag", "untag", "save", "untag", "delete", "load"];
        assert!(
            actions.iter().filter(|a| **a == "tag").count() >= 2,
            "{c:?}: tags of evt:v1 and evt:v2: {all:?}"
        );
        let mut it = actions.iter();
        for w in want {
            assert!(
                it.any(|a| a == &w),
                "{c:?}: expected {want:?} in order, got {all:?}"
            );
        }
        let import = all.iter().find(|l| l.starts_with("image import ")).unwrap();
        assert!(
            import.contains(&imported),
            "{c:?}: the import event's actor is the image id: {import}"
        );
        let tag = all
            .iter()
            .find(|l| l.contains(" evt:v2"))
            .unwrap_or_else(|| panic!("{c:?}: no event names evt:v2: {all:?}"));
        assert!(tag.starts_with("image tag "), "{c:?}: {tag}");

        // --since after the import excludes it; --until before the tag excludes the rest.
        let later = events(&d, c, &["--since", &t1, "--until", &t2]);
        assert!(
            !later.iter().any(|l| l.starts_with("image import")),
            "{c:?}: {later:?}"
        );
        assert!(
            later.iter().any(|l| l.starts_with("image load")),
            "{c:?}: {later:?}"
        );
        let earlier = events(&d, c, &["--since", &t0, "--until", &t1]);
        assert!(
            earlier.iter().any(|l| l.starts_with("image import")),
            "{c:?}: {earlier:?}"
        );
        assert!(
            !earlier
                .iter()
                .any(|l| l.starts_with("image load") || l.starts_with("image delete")),
            "{c:?}: {earlier:?}"
        );

        let only_tags = events(
            &d,
            c,
            &["--since", &t0, "--until", &t2, "--filter", "event=tag"],
        );
        assert!(
            !only_tags.is_empty() && only_tags.iter().all(|l| l.starts_with("image tag ")),
            "{c:?}: {only_tags:?}"
        );
        let two = events(
            &d,
            c,
            &[
                "--since",
                &t0,
                "--until",
                &t2,
                "-f",
                "event=delete",
                "-f",
                "event=load",
            ],
        );
        assert_eq!(
            two.iter()
                .map(|l| l.split(' ').nth(1).unwrap())
                .collect::<Vec<_>>(),
            ["delete", "load"],
            "{c:?}: {two:?}"
        );
        let typed = events(
            &d,
            c,
            &["--since", &t0, "--until", &t2, "--filter", "type=image"],
        );
        assert_eq!(typed, all, "{c:?}: type=image keeps every image event");
        let none = events(
            &d,
            c,
            &["--since", &t0, "--until", &t2, "--filter", "type=container"],
        );
        assert!(none.is_empty(), "{c:?}: {none:?}");
    }
    // Default (no --format) line shape: `<RFC3339Nano time> image <action> <id> (name=...)`.
    let plain = d.docker(["events", "--since", &t0, "--until", &t1]).ok();
    let line = plain
        .lines()
        .into_iter()
        .find(|l| l.contains(" image import "))
        .unwrap_or_default();
    assert!(
        line.contains(&format!(" image import {imported} (")),
        "{plain}"
    );
    assert_same_output(
        &d,
        &[
            "events",
            "--since",
            &t0,
            "--until",
            &t2,
            "--format",
            "{{json .}}",
        ],
    );
}

#[test]
fn events_api_stream_shape_and_relative_since() {
    let d = daemon();
    let t0 = mark();
    import_busybox(&d, "shape:v1");
    let t1 = mark();
    let r = d.api("GET", &format!("/v1.41/events?since={t0}&until={t1}"), None);
    assert_eq!(r.status, 200);
    let evs = r.json_lines();
    let ev = evs
        .iter()
        .find(|e| e["Action"] == "import")
        .unwrap_or_else(|| panic!("no import event: {evs:?}"));
    assert_eq!(ev["Type"], "image");
    assert_eq!(ev["scope"], "local");
    assert!(
        ev["Actor"]["ID"].as_str().unwrap().starts_with("sha256:"),
        "{ev}"
    );
    assert!(ev["Actor"]["Attributes"].is_object(), "{ev}");
    assert!(ev["time"].as_i64().unwrap() > 1_700_000_000, "{ev}");
    assert!(
        ev["timeNano"].as_i64().unwrap() > 1_700_000_000_000_000_000,
        "{ev}"
    );
    // Relative --since and an RFC 3339 --until, as docker accepts them.
    for c in CLIS {
        let until = chrono_like_rfc3339_now_plus_1s();
        let out = events(&d, c, &["--since", "10m", "--until", &until]);
        assert!(
            out.iter().any(|l| l.starts_with("image import ")),
            "{c:?}: {out:?}"
        );
    }
    let bad = d.api("GET", "/events?since=yesterday-ish", None);
    assert_eq!(bad.status, 400, "{}", bad.text());
}

/// RFC 3339 (UTC) for now + 1 s, without a date crate.
fn chrono_like_rfc3339_now_plus_1s() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .expect("run date");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

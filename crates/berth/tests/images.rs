//! `images` / `image ls`: table, -a -q --digests --no-trunc --format, filters, REPO[:TAG],
//! checked against docker's documented output with both the docker and the berth CLI.

mod common;
use common::*;

#[test]
fn empty_store_prints_only_the_header() {
    let d = daemon();
    for c in CLIS {
        let out = cli(&d, c, &["images"]).ok();
        let lines = out.lines();
        assert_eq!(lines.len(), 1, "{c:?}: {out}");
        assert_eq!(
            columns(&lines[0]),
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            "{c:?}"
        );
        assert_eq!(cli(&d, c, &["images", "-q"]).ok().out(), "", "{c:?}");
    }
}

#[test]
fn table_lists_newest_first_with_none_for_untagged() {
    let d = daemon();
    let ids = load_fixtures(&d);
    for c in CLIS {
        let out = cli(&d, c, &["images"]).ok();
        let lines = out.lines();
        assert_eq!(lines.len(), 5, "{c:?}: {out}");
        assert_eq!(
            columns(&lines[0]),
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
        );
        let rows: Vec<Vec<String>> = lines[1..].iter().map(|l| columns(l)).collect();
        let want = [
            ("c", "v1", &ids[0]),
            ("b", "v1", &ids[1]),
            ("a", "v1", &ids[2]),
            ("<none>", "<none>", &ids[3]),
        ];
        for (row, (repo, tag, id)) in rows.iter().zip(want) {
            assert_eq!(&row[0], repo, "{c:?}: {out}");
            assert_eq!(&row[1], tag, "{c:?}: {out}");
            assert_eq!(row[2], short(id), "{c:?}: {out}");
            assert!(row[3].ends_with("years ago"), "{c:?}: CREATED {:?}", row[3]);
        }
    }
    // The table itself (widths, padding, sizes) must be what docker renders.
    assert_same_output(&d, &["images"]);
    assert_same_output(&d, &["image", "ls"]);
}

#[test]
fn quiet_no_trunc_digests_and_all() {
    let d = daemon();
    let ids = load_fixtures(&d);
    for c in CLIS {
        let q = cli(&d, c, &["images", "-q"]).ok().lines();
        assert_eq!(q, ids.iter().map(|i| short(i)).collect::<Vec<_>>(), "{c:?}");
        let full = cli(&d, c, &["images", "-q", "--no-trunc"]).ok().lines();
        assert_eq!(full, ids, "{c:?}");
        let nt = cli(&d, c, &["images", "--no-trunc"]).ok().lines();
        assert!(
            nt[1].contains(&ids[0]),
            "{c:?}: --no-trunc shows the full id: {nt:?}"
        );
        let dg = cli(&d, c, &["images", "--digests"]).ok().lines();
        assert_eq!(
            columns(&dg[0]),
            ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
            "{c:?}"
        );
        // Loaded images were never pushed or pulled: no repo digest.
        assert_eq!(columns(&dg[1])[2], "<none>", "{c:?}: {dg:?}");
        let all = cli(&d, c, &["images", "-a", "-q"]).ok().lines();
        assert_eq!(
            all.len(),
            4,
            "{c:?}: -a adds no intermediate images for loaded ones"
        );
    }
    for args in [
        &["images", "-q"][..],
        &["images", "--no-trunc"],
        &["images", "--digests"],
        &["images", "-a"],
        &["images", "--digests", "--no-trunc", "-a"],
    ] {
        assert_same_output(&d, args);
    }
}

#[test]
fn format_templates() {
    let d = daemon();
    let ids = load_fixtures(&d);
    for c in CLIS {
        let out = cli(
            &d,
            c,
            &["images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"],
        )
        .ok();
        assert_eq!(
            out.lines(),
            [
                format!("{} c:v1", short(&ids[0])),
                format!("{} b:v1", short(&ids[1])),
                format!("{} a:v1", short(&ids[2])),
                format!("{} <none>:<none>", short(&ids[3])),
            ],
            "{c:?}"
        );
        let table = cli(
            &d,
            c,
            &["images", "--format", "table {{.Repository}}\t{{.Tag}}"],
        )
        .ok()
        .lines();
        assert_eq!(columns(&table[0]), ["REPOSITORY", "TAG"], "{c:?}");
        assert_eq!(columns(&table[1]), ["c", "v1"], "{c:?}");
        let json = cli(&d, c, &["images", "--format", "{{json .}}"]).ok();
        let first: serde_json::Value = serde_json::from_str(&json.lines()[0]).expect("json line");
        for key in [
            "Containers",
            "CreatedAt",
            "CreatedSince",
            "Digest",
            "ID",
            "Repository",
            "SharedSize",
            "Size",
            "Tag",
            "UniqueSize",
            "VirtualSize",
        ] {
            assert!(
                first.get(key).is_some(),
                "{c:?}: {{{{json .}}}} lacks {key}: {first}"
            );
        }
        assert_eq!(first["Repository"], "c", "{c:?}");
        assert_eq!(first["ID"], short(&ids[0]), "{c:?}");
        let bad = cli(&d, c, &["images", "--format", "{{.Nope}}"]).run();
        assert!(!bad.success(), "{c:?}: an unknown field must fail: {bad}");
        assert!(
            bad.err().contains("Nope"),
            "{c:?}: the error names the field: {bad}"
        );
    }
    for f in [
        "{{json .}}",
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}",
        "{{.Size}} {{.CreatedAt}}",
        "{{.Digest}}",
    ] {
        assert_same_output(&d, &["images", "--format", f]);
    }
}

/// Run `images --format repo:tag` plus extra args through one CLI.
fn listed(d: &TestDaemon, c: Cli, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
    args.extend_from_slice(extra);
    cli(d, c, &args).ok().lines()
}

#[test]
fn filters() {
    let d = daemon();
    load_fixtures(&d);
    let cases: &[(&[&str], &[&str])] = &[
        (&["-f", "dangling=true"], &["<none>:<none>"]),
        (&["-f", "dangling=false"], &["c:v1", "b:v1", "a:v1"]),
        (&["--filter", "reference=b"], &["b:v1"]),
        (&["--filter", "reference=*:v1"], &["c:v1", "b:v1", "a:v1"]),
        (&["--filter", "reference=a:v1"], &["a:v1"]),
        (&["-f", "since=b:v1"], &["c:v1"]),
        (&["-f", "before=b:v1"], &["a:v1", "<none>:<none>"]),
        (&["-f", "label=env"], &["b:v1", "a:v1"]),
        (&["-f", "label=env=prod"], &["a:v1"]),
        (&["-f", "label=env", "-f", "before=b:v1"], &["a:v1"]),
        (&["-f", "reference=nothing-matches"], &[]),
        (
            &["-f", "reference=a", "-f", "reference=c"],
            &["c:v1", "a:v1"],
        ),
        (&["-f", "label=env=prod", "-f", "label=env"], &["a:v1"]),
        (
            &["-f", "dangling=true", "-f", "before=a:v1"],
            &["<none>:<none>"],
        ),
        (&["a"], &["a:v1"]),
        (&["b:v1"], &["b:v1"]),
        (&["b:v2"], &[]),
    ];
    for c in CLIS {
        for (extra, want) in cases {
            assert_eq!(listed(&d, c, extra), *want, "{c:?} images {extra:?}");
        }
        let mut ls = vec!["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "a"];
        assert_eq!(cli(&d, c, &ls).ok().lines(), ["a:v1"], "{c:?}");
        ls.pop();
        ls.push("nope");
        assert_eq!(cli(&d, c, &ls).ok().out(), "", "{c:?}");
    }
}

#[test]
fn bad_filters_are_rejected() {
    let d = daemon();
    load_fixtures(&d);
    for c in CLIS {
        let out = cli(&d, c, &["images", "-f", "dangling=maybe"]).fails();
        assert!(
            out.err().contains("Error response from daemon"),
            "{c:?}: {out}"
        );
        let out = cli(&d, c, &["images", "-f", "nosuchfilter=1"]).fails();
        assert!(
            out.err().contains("nosuchfilter"),
            "{c:?}: the error names the filter: {out}"
        );
        let out = cli(&d, c, &["images", "-f", "since=nope:latest"]).fails();
        assert!(
            out.err().contains("No such image: nope:latest"),
            "{c:?}: {out}"
        );
    }
}

#[test]
fn references_are_normalised_like_docker() {
    let d = daemon();
    load_fixtures(&d);
    for c in CLIS {
        // Lookups normalise (`a` is `docker.io/library/a:latest`)...
        for name in [
            "docker.io/library/a:v1",
            "library/a:v1",
            "index.docker.io/library/a:v1",
        ] {
            let out = cli(
                &d,
                c,
                &["image", "inspect", "--format", "{{json .RepoTags}}", name],
            )
            .ok();
            assert_eq!(out.out(), "[\"a:v1\"]\n", "{c:?} {name}");
        }
        // ...but the `images REPO` filter matches the familiar name only, as in docker.
        let out = cli(&d, c, &["images", "-q", "docker.io/library/a:v1"]).ok();
        assert_eq!(out.out(), "", "{c:?}");
        cli(&d, c, &["tag", "a:v1", "localhost:5000/team/app:1.0"]).ok();
        let out = cli(
            &d,
            c,
            &[
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}}",
                "localhost:5000/team/app",
            ],
        )
        .ok();
        assert_eq!(out.lines(), ["localhost:5000/team/app:1.0"], "{c:?}");
        cli(&d, c, &["rmi", "localhost:5000/team/app:1.0"]).ok();
        let out = cli(&d, c, &["tag", "a:v1", "Bad/Upper"]).fails();
        assert!(
            out.err().contains("must be lowercase")
                || out.err().contains("invalid reference format"),
            "{c:?}: {out}"
        );
    }
}

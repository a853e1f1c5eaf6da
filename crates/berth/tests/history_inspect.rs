//! `history` (--no-trunc, -q, --format, -H) and `image inspect` (--format).

mod common;
use common::*;

#[test]
fn history_of_a_loaded_image() {
    let d = daemon();
    let ids = load_fixtures(&d);
    for c in CLIS {
        let out = cli(&d, c, &["history", "a:v1"]).ok();
        let lines = out.lines();
        assert_eq!(
            columns(&lines[0]),
            ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            "{c:?}: {out}"
        );
        assert_eq!(lines.len(), 3, "{c:?}: one row per history entry: {out}");
        // Newest first; the top row is the image itself, older rows have no image.
        assert!(lines[1].starts_with(&short(&ids[2])), "{c:?}: {out}");
        assert!(lines[2].starts_with("<missing>"), "{c:?}: {out}");
        assert!(
            lines[1].contains("/bin/sh -c #(nop) ADD file:"),
            "{c:?}: {out}"
        );
        let q = cli(&d, c, &["history", "-q", "a:v1"]).ok();
        assert_eq!(
            q.lines(),
            [short(&ids[2]), "<missing>".to_string()],
            "{c:?}"
        );
        let nt = cli(&d, c, &["history", "-q", "--no-trunc", "a:v1"]).ok();
        assert_eq!(nt.lines()[0], ids[2], "{c:?}");
        let f = cli(
            &d,
            c,
            &[
                "history",
                "--format",
                "{{.ID}}|{{.CreatedAt}}|{{.Comment}}",
                "a:v1",
            ],
        )
        .ok();
        assert_eq!(
            f.lines()[0],
            format!("{}|2020-01-01T00:00:00Z|", short(&ids[2])),
            "{c:?}: {f}"
        );
        let h = cli(
            &d,
            c,
            &[
                "history",
                "-H=false",
                "--format",
                "{{.CreatedSince}}",
                "a:v1",
            ],
        )
        .ok();
        assert_eq!(
            h.lines()[0],
            "2020-01-01T00:00:00Z",
            "{c:?}: -H=false prints timestamps"
        );
        let out = cli(&d, c, &["history", "nope"]).fails();
        assert!(
            out.err().contains("No such image: nope:latest"),
            "{c:?}: {out}"
        );
    }
    for args in [
        &["history", "a:v1"][..],
        &["history", "--no-trunc", "a:v1"],
        &["history", "--format", "{{json .}}", "a:v1"],
        &["history", "--format", "table {{.ID}}\t{{.Size}}", "b:v1"],
        &["image", "history", "-q", &ids[3]],
    ] {
        assert_same_output(&d, args);
    }
}

#[test]
fn inspect_reports_the_config() {
    let d = daemon();
    let info = load_images(
        &d,
        "one.tar",
        &[
            TestImage::new(&["app:1"], vec![Layer::new().file("x", "y").build()]).with_config(
                serde_json::json!({
                    "Env": ["A=1", "PATH=/bin"],
                    "Cmd": ["echo", "hi"],
                    "WorkingDir": "/srv",
                    "Labels": {"l": "v"},
                    "ExposedPorts": {"80/tcp": {}},
                }),
            ),
        ],
    );
    let id = &info.image_ids[0];
    for c in CLIS {
        let out = cli(&d, c, &["image", "inspect", "app:1"]).ok();
        let v: serde_json::Value =
            serde_json::from_str(&out.out()).expect("inspect prints a JSON array");
        let img = &v[0];
        assert_eq!(img["Id"], id.as_str(), "{c:?}");
        assert_eq!(img["RepoTags"], serde_json::json!(["app:1"]), "{c:?}");
        assert_eq!(img["RepoDigests"], serde_json::json!([]), "{c:?}");
        assert_eq!(img["Created"], "2020-01-01T00:00:00Z", "{c:?}");
        assert_eq!(img["Os"], "linux", "{c:?}");
        assert_eq!(img["Architecture"], "amd64", "{c:?}");
        assert_eq!(
            img["Config"]["Cmd"],
            serde_json::json!(["echo", "hi"]),
            "{c:?}"
        );
        assert_eq!(img["Config"]["WorkingDir"], "/srv", "{c:?}");
        assert_eq!(img["RootFS"]["Type"], "layers", "{c:?}");
        assert_eq!(
            img["RootFS"]["Layers"],
            serde_json::json!(info.diff_ids[0]),
            "{c:?}"
        );
        assert!(img["Size"].as_u64().unwrap() > 0, "{c:?}");
        let f = |fmt: &str| {
            cli(&d, c, &["image", "inspect", "--format", fmt, "app:1"])
                .ok()
                .out()
        };
        assert_eq!(f("{{.Id}}"), format!("{id}\n"), "{c:?}");
        assert_eq!(f("{{.Config.Cmd}}"), "[echo hi]\n", "{c:?}");
        assert_eq!(
            f("{{json .Config.Env}}"),
            "[\"A=1\",\"PATH=/bin\"]\n",
            "{c:?}"
        );
        assert_eq!(f("{{index .Config.Labels \"l\"}}"), "v\n", "{c:?}");
        assert_eq!(
            f("{{range $p, $_ := .Config.ExposedPorts}}{{$p}}{{end}}"),
            "80/tcp\n",
            "{c:?}"
        );
        // By short id and by full id.
        let by_id = cli(
            &d,
            c,
            &["image", "inspect", "--format", "{{.Id}}", &short(id)],
        )
        .ok()
        .out();
        assert_eq!(by_id.trim(), id, "{c:?}");
        let out = cli(&d, c, &["image", "inspect", "nope"]).fails();
        assert!(out.err().contains("No such image: nope"), "{c:?}: {out}");
        // Several at once: one JSON array with both; a missing one fails the command.
        let two = cli(
            &d,
            c,
            &["image", "inspect", "--format", "{{.Id}}", "app:1", id],
        )
        .ok();
        assert_eq!(two.lines().len(), 2, "{c:?}");
    }
    assert_same_output(&d, &["image", "inspect", "app:1"]);
    assert_same_output(&d, &["image", "inspect", "--format", "{{json .}}", "app:1"]);
}

#[test]
fn imported_image_history_and_inspect() {
    let d = daemon();
    let id = import_busybox(&d, "busybox:latest");
    for c in CLIS {
        let out = cli(&d, c, &["history", "busybox"]).ok();
        let lines = out.lines();
        assert_eq!(
            lines.len(),
            2,
            "{c:?}: an import has one history entry: {out}"
        );
        assert!(lines[1].starts_with(&short(&id)), "{c:?}: {out}");
        assert!(
            lines[1].trim_end().ends_with("Imported from -"),
            "{c:?}: {out}"
        );
        let f = cli(
            &d,
            c,
            &[
                "image",
                "inspect",
                "--format",
                "{{.Comment}}|{{json .Config.Cmd}}",
                "busybox",
            ],
        )
        .ok();
        assert_eq!(f.out(), "Imported from -|[\"sh\"]\n", "{c:?}");
    }
}

/// Every inspect command exits 64 on a template that does not parse, as docker's CLI
/// does, and prints nothing on stdout (regression: image/network/volume inspect exited 1).
#[test]
fn bad_inspect_templates_exit_64() {
    let d = daemon();
    import_busybox(&d, "busybox:latest");
    d.docker(["volume", "create", "v1"]).ok();
    for args in [
        ["image", "inspect", "busybox"],
        ["inspect", "busybox", ""],
        ["network", "inspect", "bridge"],
        ["volume", "inspect", "v1"],
    ] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        for cli in CLIS {
            let mut a = args.clone();
            a.extend(["--format", "{{"]);
            let out = common::cli(&d, cli, &a).run();
            out.assert_code(64)
                .assert_stderr_contains("template parsing error: ");
            assert_eq!(out.out(), "", "{cli:?} {a:?}");
        }
    }
}

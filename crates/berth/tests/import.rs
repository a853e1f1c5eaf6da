//! `import` from a file, from stdin and from an http URL, with --change and -m.

mod common;
use common::*;

/// The image id printed by import: the last stdout line, `sha256:<64 hex>`.
fn printed_id(out: &Output) -> String {
    let id = out.lines().last().cloned().unwrap_or_default();
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "import should print the image id last:\n{out}"
    );
    id
}

#[test]
fn import_file_with_every_change_and_message() {
    let d = daemon();
    let tar = busybox_rootfs_tar(&d.scratch());
    let changes = [
        r#"CMD ["echo","hi"]"#,
        r#"ENTRYPOINT ["/bin/sh","-c"]"#,
        "ENV FOO=bar",
        "EXPOSE 8080",
        "WORKDIR /srv",
        "USER nobody",
        "LABEL team=core",
        "VOLUME /data",
        "STOPSIGNAL SIGINT",
    ];
    for (i, c) in CLIS.into_iter().enumerate() {
        let tag = format!("imp/all:v{i}");
        let mut args: Vec<String> = vec!["import".into()];
        // dockerd 20.10 (the validation target) predates STOPSIGNAL in import changes.
        for ch in changes
            .iter()
            .filter(|c| !(d.is_external() && c.starts_with("STOPSIGNAL")))
        {
            args.push("--change".into());
            args.push(ch.to_string());
        }
        args.extend([
            "-m".into(),
            "my message".into(),
            tar.display().to_string(),
            tag.clone(),
        ]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli(&d, c, &args).ok();
        let id = printed_id(&out);
        assert_eq!(
            out.lines().len(),
            1,
            "{c:?}: a file import prints only the id, as docker does:\n{out}"
        );
        let inspect = d.docker(["image", "inspect", &tag]).ok();
        let v: serde_json::Value = serde_json::from_str(&inspect.out()).unwrap();
        let img = &v[0];
        assert_eq!(img["Id"], id.as_str(), "{c:?}");
        assert_eq!(img["RepoTags"], serde_json::json!([tag]), "{c:?}");
        assert_eq!(img["Comment"], "my message", "{c:?}");
        let cfg = &img["Config"];
        assert_eq!(cfg["Cmd"], serde_json::json!(["echo", "hi"]), "{c:?}");
        assert_eq!(
            cfg["Entrypoint"],
            serde_json::json!(["/bin/sh", "-c"]),
            "{c:?}"
        );
        assert!(
            cfg["Env"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("FOO=bar")),
            "{c:?}: {cfg}"
        );
        assert_eq!(
            cfg["ExposedPorts"],
            serde_json::json!({"8080/tcp": {}}),
            "{c:?}"
        );
        assert_eq!(cfg["WorkingDir"], "/srv", "{c:?}");
        assert_eq!(cfg["User"], "nobody", "{c:?}");
        assert_eq!(cfg["Labels"], serde_json::json!({"team": "core"}), "{c:?}");
        assert_eq!(cfg["Volumes"], serde_json::json!({"/data": {}}), "{c:?}");
        if !d.is_external() {
            assert_eq!(cfg["StopSignal"], "SIGINT", "{c:?}");
        }
        assert_eq!(
            img["RootFS"]["Layers"].as_array().unwrap().len(),
            1,
            "{c:?}"
        );
        let hist = d.docker(["history", "--format", "{{.Comment}}", &tag]).ok();
        assert_eq!(hist.out(), "my message\n", "{c:?}");
    }
}

#[test]
fn import_shell_form_changes_and_defaults() {
    let d = daemon();
    let tar = busybox_rootfs_tar(&d.scratch());
    for c in CLIS {
        let out = cli(
            &d,
            c,
            &[
                "import",
                "-c",
                "CMD echo hello",
                "-c",
                "ENV A=1 B=2",
                &tar.display().to_string(),
                "shell",
            ],
        )
        .ok();
        printed_id(&out);
        let f = d
            .docker([
                "image",
                "inspect",
                "--format",
                "{{json .Config.Cmd}} {{json .Config.Env}} {{json .RepoTags}}",
                "shell",
            ])
            .ok();
        let s = f.out();
        assert!(
            s.starts_with(r#"["/bin/sh","-c","echo hello"]"#),
            "{c:?}: shell form CMD: {s}"
        );
        assert!(
            s.contains(r#""A=1""#) && s.contains(r#""B=2""#),
            "{c:?}: {s}"
        );
        assert!(
            s.trim_end().ends_with(r#"["shell:latest"]"#),
            "{c:?}: a repo without tag gets :latest: {s}"
        );
        d.docker(["rmi", "shell"]).ok();
    }
}

#[test]
fn import_without_name_is_dangling() {
    let d = daemon();
    let tar = busybox_rootfs_tar(&d.scratch());
    for c in CLIS {
        let out = cli(&d, c, &["import", &tar.display().to_string()]).ok();
        let id = printed_id(&out);
        let row = d
            .docker([
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}} {{.ID}}",
                "-f",
                "dangling=true",
            ])
            .ok();
        assert!(
            row.out().contains(&format!("<none>:<none> {}", short(&id))),
            "{c:?}: {row}"
        );
        d.docker(["rmi", &id]).ok();
    }
}

#[test]
fn import_from_stdin_plain_and_compressed() {
    let d = daemon();
    let tar = busybox_rootfs_tar(&d.scratch());
    let gz = compress_with("gzip", &tar);
    let xz = compress_with("xz", &tar);
    for c in CLIS {
        for (src, tag) in [(&tar, "stdin:plain"), (&gz, "stdin:gz"), (&xz, "stdin:xz")] {
            let out = cli(&d, c, &["import", "-", tag]).stdin_file(src).ok();
            let id = printed_id(&out);
            let comment = d
                .docker(["image", "inspect", "--format", "{{.Comment}}", tag])
                .ok();
            assert_eq!(comment.out(), "Imported from -\n", "{c:?} {tag}");
            let layers = d
                .docker([
                    "image",
                    "inspect",
                    "--format",
                    "{{json .RootFS.Layers}}",
                    &id,
                ])
                .ok();
            assert!(layers.out().contains("sha256:"), "{c:?} {tag}");
        }
        // The three imports unpack to the same layer content: same diff_id.
        let diff = |t: &str| {
            d.docker([
                "image",
                "inspect",
                "--format",
                "{{index .RootFS.Layers 0}}",
                t,
            ])
            .ok()
            .out()
        };
        assert_eq!(
            diff("stdin:plain"),
            diff("stdin:gz"),
            "{c:?}: compression must not change the diff_id"
        );
        assert_eq!(diff("stdin:plain"), diff("stdin:xz"), "{c:?}");
        d.docker(["rmi", "stdin:plain", "stdin:gz", "stdin:xz"])
            .ok();
    }
}

#[test]
fn import_from_http_url() {
    let d = daemon();
    let tar = busybox_rootfs_tar(&d.scratch());
    let gz = compress_with("gzip", &tar);
    let srv = FileServer::start(&[("/rootfs.tar", &tar), ("/rootfs.tar.gz", &gz)]);
    for (i, c) in CLIS.into_iter().enumerate() {
        let before = srv.hits();
        let url = srv.url("/rootfs.tar");
        let tag = format!("fromurl:v{i}");
        let out = cli(&d, c, &["import", "--change", r#"CMD ["sh"]"#, &url, &tag]).ok();
        let id = printed_id(&out);
        assert!(srv.hits() > before, "{c:?}: the daemon fetched the URL");
        let f = d
            .docker([
                "image",
                "inspect",
                "--format",
                "{{.Comment}}|{{json .Config.Cmd}}",
                &id,
            ])
            .ok();
        assert_eq!(f.out(), format!("Imported from {url}|[\"sh\"]\n"), "{c:?}");
        let out = cli(
            &d,
            c,
            &[
                "import",
                "-m",
                "from gz",
                &srv.url("/rootfs.tar.gz"),
                &format!("fromurl:gz{i}"),
            ],
        )
        .ok();
        printed_id(&out);
        let out = cli(
            &d,
            c,
            &["import", &srv.url("/missing.tar"), "fromurl:missing"],
        )
        .fails();
        assert!(
            out.err().contains("404"),
            "{c:?}: a 404 names the status: {out}"
        );
        let gone = d.docker(["images", "-q", "fromurl:missing"]).ok();
        assert_eq!(gone.out(), "", "{c:?}");
    }
}

#[test]
fn import_rejects_bad_input_cleanly() {
    let d = daemon();
    let tar = busybox_rootfs_tar(&d.scratch());
    let garbage = scratch_file(&d, "garbage.tar");
    std::fs::write(
        &garbage,
        b"this is not a tar archive at all, not even close".repeat(100),
    )
    .unwrap();
    let truncated = scratch_file(&d, "truncated.tar.gz");
    let gz = std::fs::read(compress_with("gzip", &tar)).unwrap();
    std::fs::write(&truncated, &gz[..gz.len() / 2]).unwrap();
    for c in CLIS {
        let out = cli(
            &d,
            c,
            &[
                "import",
                "--change",
                "RUN echo no",
                &tar.display().to_string(),
                "bad:change",
            ],
        )
        .fails();
        assert!(
            out.err().contains("is not a valid change command"),
            "{c:?}: {out}"
        );
        let out = cli(
            &d,
            c,
            &[
                "import",
                "--change",
                "FROB x",
                &tar.display().to_string(),
                "bad:change",
            ],
        )
        .fails();
        assert!(!out.err().is_empty(), "{c:?}: {out}");
        let out = cli(
            &d,
            c,
            &["import", &garbage.display().to_string(), "bad:garbage"],
        )
        .fails();
        assert!(!out.err().is_empty(), "{c:?}: {out}");
        let out = cli(&d, c, &["import", "-", "bad:truncated"])
            .stdin_file(&truncated)
            .fails();
        assert!(!out.err().is_empty(), "{c:?}: {out}");
        let out = cli(
            &d,
            c,
            &["import", "/definitely/not/here.tar", "bad:missing"],
        )
        .fails();
        assert!(
            out.err().contains("/definitely/not/here.tar"),
            "{c:?}: {out}"
        );
    }
    assert_eq!(
        all_ids(&d),
        Vec::<String>::new(),
        "no image may appear from a failed import"
    );
    assert!(d.ping());
}

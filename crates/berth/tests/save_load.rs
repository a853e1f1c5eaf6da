//! `save` (-o, stdout, several images) and `load` (-i, stdin, plain/gzip/bzip2/xz/zstd,
//! Docker 1.10–24 and 25+ archives, OCI layouts, -q), and broken archives.

mod common;
use common::*;

fn assert_save_layout(data: &[u8], what: &str) {
    let names = tar_entry_names(data);
    for n in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(
            names.iter().any(|x| x == n),
            "{what}: saved archive lacks {n}: {names:?}"
        );
    }
    let layout: serde_json::Value =
        serde_json::from_slice(&tar_entry(data, "oci-layout").unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0", "{what}");
}

#[test]
fn save_to_file_and_stdout_then_load_round_trips() {
    let d = daemon();
    let ids = load_fixtures(&d);
    for c in CLIS {
        let out_path = scratch_file(&d, &format!("saved-{c:?}.tar"));
        let out = cli(
            &d,
            c,
            &[
                "save",
                "-o",
                &out_path.display().to_string(),
                "a:v1",
                "b:v1",
            ],
        )
        .ok();
        assert_eq!(out.out(), "", "{c:?}: save -o prints nothing");
        let file = std::fs::read(&out_path).unwrap();
        assert_save_layout(&file, &format!("{c:?} -o"));
        let manifest: serde_json::Value =
            serde_json::from_slice(&tar_entry(&file, "manifest.json").unwrap()).unwrap();
        let mut tags: Vec<String> = manifest
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|m| {
                m["RepoTags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
            })
            .collect();
        tags.sort();
        assert_eq!(tags, ["a:v1", "b:v1"], "{c:?}");
        for m in manifest.as_array().unwrap() {
            let cfg = m["Config"].as_str().unwrap();
            assert!(
                tar_entry(&file, cfg).is_some(),
                "{c:?}: config {cfg} missing"
            );
            for l in m["Layers"].as_array().unwrap() {
                assert!(
                    tar_entry(&file, l.as_str().unwrap()).is_some(),
                    "{c:?}: layer {l} missing"
                );
            }
        }
        let index: serde_json::Value =
            serde_json::from_slice(&tar_entry(&file, "index.json").unwrap()).unwrap();
        assert_eq!(
            index["manifests"].as_array().unwrap().len(),
            2,
            "{c:?}: index.json: {index}"
        );

        let stdout = cli(&d, c, &["save", "c:v1"]).ok();
        assert_save_layout(&stdout.stdout, &format!("{c:?} stdout"));
        // `save | load` through a pipe, as in `docker save c:v1 | docker load`.
        d.docker(["rmi", "c:v1"]).ok();
        let out = cli(&d, c, &["load"]).stdin(stdout.stdout.clone()).ok();
        assert_eq!(out.lines(), ["Loaded image: c:v1"], "{c:?}: {out}");
        let back = d
            .docker(["image", "inspect", "--format", "{{.Id}}", "c:v1"])
            .ok();
        assert_eq!(back.out().trim(), ids[0], "{c:?}");

        // Remove and load back: same ids, same tags, one `Loaded image:` line each.
        d.docker(["rmi", "a:v1", "b:v1"]).ok();
        let out = cli(&d, c, &["load", "-i", &out_path.display().to_string()]).ok();
        let mut lines = out.lines();
        lines.sort();
        assert_eq!(
            lines,
            ["Loaded image: a:v1", "Loaded image: b:v1"],
            "{c:?}: {out}"
        );
        let back = d
            .docker(["image", "inspect", "--format", "{{.Id}}", "a:v1", "b:v1"])
            .ok()
            .lines();
        assert_eq!(back, [ids[2].clone(), ids[1].clone()], "{c:?}");
    }
    let out = d.docker(["save", "nope"]).fails();
    assert!(out.err().contains("nope"), "{out}");
    let out = d.berth(["save", "nope"]).fails();
    assert!(out.err().contains("nope"), "{out}");
}

#[test]
fn save_by_id_of_untagged_image_loads_as_id() {
    let d = daemon();
    let ids = load_fixtures(&d);
    for c in CLIS {
        let p = scratch_file(&d, &format!("untagged-{c:?}.tar"));
        cli(&d, c, &["save", "-o", &p.display().to_string(), &ids[3]]).ok();
        d.docker(["rmi", &ids[3]]).ok();
        let out = cli(&d, c, &["load", "-i", &p.display().to_string()]).ok();
        assert_eq!(
            out.lines(),
            [format!("Loaded image ID: {}", ids[3])],
            "{c:?}: {out}"
        );
    }
}

#[test]
fn load_every_compression_from_file_and_stdin() {
    let d = daemon();
    let images = fixture_images();
    let plain = scratch_file(&d, "fx.tar");
    let info = write_archive(&plain, &images[..1], Format::Docker25, Breakage::default());
    let mut inputs = vec![plain.clone()];
    for tool in ["gzip", "bzip2", "xz", "zstd"] {
        inputs.push(compress_with(tool, &plain));
    }
    for c in CLIS {
        for (n, f) in inputs.iter().enumerate() {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let out = if n % 2 == 0 {
                cli(&d, c, &["load", "-i", &f.display().to_string()]).ok()
            } else {
                cli(&d, c, &["load"]).stdin_file(f).ok()
            };
            assert_eq!(out.lines(), ["Loaded image: c:v1"], "{c:?} {name}: {out}");
            assert_eq!(all_ids(&d), [info.image_ids[0].clone()], "{c:?} {name}");
            d.docker(["rmi", "c:v1"]).ok();
        }
    }
}

#[test]
fn load_docker_legacy_docker25_and_oci_layouts() {
    let d = daemon();
    let images = fixture_images();
    for (i, format) in [Format::DockerLegacy, Format::Docker25, Format::Oci]
        .into_iter()
        .enumerate()
    {
        for c in CLIS {
            let p = scratch_file(&d, &format!("fmt-{i}-{c:?}.tar"));
            let info = write_archive(&p, &images[1..3], format, Breakage::default());
            let out = cli(&d, c, &["load", "-q", "-i", &p.display().to_string()]).ok();
            let mut lines = out.lines();
            lines.sort();
            assert_eq!(
                lines,
                ["Loaded image: a:v1", "Loaded image: b:v1"],
                "{c:?} {format:?}: {out}"
            );
            let mut want = info.image_ids.clone();
            want.sort();
            assert_eq!(all_ids(&d), want, "{c:?} {format:?}");
            let layers = d
                .docker([
                    "image",
                    "inspect",
                    "--format",
                    "{{json .RootFS.Layers}}",
                    "a:v1",
                ])
                .ok();
            assert_eq!(
                layers.out().trim(),
                serde_json::to_string(&info.diff_ids[1]).unwrap(),
                "{c:?} {format:?}"
            );
            d.docker(["rmi", "a:v1", "b:v1"]).ok();
        }
    }
}

#[test]
fn load_replaces_a_tag_held_by_another_image() {
    let d = daemon();
    load_fixtures(&d);
    let other = TestImage::new(&["a:v1"], vec![Layer::new().file("new", "content").build()]);
    let p = scratch_file(&d, "retag.tar");
    let info = write_archive(&p, &[other], Format::Docker25, Breakage::default());
    let out = d.berth(["load", "-i", &p.display().to_string()]).ok();
    assert!(
        out.lines().contains(&"Loaded image: a:v1".to_string()),
        "{out}"
    );
    let id = d
        .docker(["image", "inspect", "--format", "{{.Id}}", "a:v1"])
        .ok();
    assert_eq!(id.out().trim(), info.image_ids[0]);
    // The previous a:v1 image is still there, now dangling.
    let dangling = d
        .docker(["images", "-q", "-f", "dangling=true"])
        .ok()
        .lines();
    assert_eq!(
        dangling.len(),
        2,
        "the old a:v1 joins the untagged fixture: {dangling:?}"
    );
}

/// Each broken archive must fail with a clear message and leave the store unchanged.
#[test]
fn broken_archives_fail_cleanly_and_change_nothing() {
    let d = daemon();
    let ids = load_fixtures(&d);
    let before_list = repo_tags(&d);
    let images = vec![TestImage::new(
        &["broken:v1"],
        vec![
            Layer::new().file("one", "1".repeat(5000)).build(),
            Layer::new().file("two", "2".repeat(5000)).build(),
        ],
    )];
    let good = scratch_file(&d, "good.tar");
    write_archive(&good, &images, Format::Docker25, Breakage::default());
    let good_bytes = std::fs::read(&good).unwrap();
    let mut cases: Vec<(String, std::path::PathBuf)> = Vec::new();
    let mut add = |name: &str, data: &[u8]| {
        let p = scratch_file(&d, &format!("broken-{name}.tar"));
        std::fs::write(&p, data).unwrap();
        cases.push((name.to_string(), p));
    };
    add("truncated-tar", &good_bytes[..good_bytes.len() / 2]);
    add("garbage", &b"not an archive\n".repeat(200));
    add("empty-tar", &[0u8; 1024]);
    let gz = std::fs::read(compress_with("gzip", &good)).unwrap();
    add("truncated-gzip", &gz[..gz.len() / 2]);
    let mut corrupt = gz.clone();
    let mid = corrupt.len() / 2;
    for b in &mut corrupt[mid..mid + 64] {
        *b ^= 0x5a;
    }
    add("corrupt-gzip", &corrupt);
    for (name, format, breakage) in [
        (
            "missing-layer-file",
            Format::Docker25,
            Breakage {
                omit_first_layer: true,
                ..Default::default()
            },
        ),
        (
            "missing-layer-legacy",
            Format::DockerLegacy,
            Breakage {
                omit_first_layer: true,
                ..Default::default()
            },
        ),
        (
            "wrong-diff-id",
            Format::Docker25,
            Breakage {
                wrong_diff_id: true,
                ..Default::default()
            },
        ),
        (
            "wrong-diff-id-legacy",
            Format::DockerLegacy,
            Breakage {
                wrong_diff_id: true,
                ..Default::default()
            },
        ),
        (
            "wrong-diff-id-oci",
            Format::Oci,
            Breakage {
                wrong_diff_id: true,
                ..Default::default()
            },
        ),
    ] {
        let p = scratch_file(&d, &format!("broken-{name}.tar"));
        write_archive(&p, &images, format, breakage);
        cases.push((name.to_string(), p));
    }
    // A manifest.json naming a config that is not in the archive.
    let mut t = berth_testkit::tarw::TarWriter::new(Vec::new());
    t.file("manifest.json", 0o644, br#"[{"Config":"blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000","RepoTags":["broken:v1"],"Layers":[]}]"#).unwrap();
    let p = scratch_file(&d, "broken-missing-config.tar");
    std::fs::write(&p, t.finish().unwrap()).unwrap();
    cases.push(("missing-config".into(), p));

    for c in CLIS {
        for (name, p) in &cases {
            let out = cli(&d, c, &["load", "-i", &p.display().to_string()]).run();
            assert!(!out.timed_out, "{c:?} {name}: load hung:\n{out}");
            assert_eq!(
                out.code,
                Some(1),
                "{c:?} {name}: a broken archive must fail with exit 1:\n{out}"
            );
            let err = out.err();
            assert!(
                !err.trim().is_empty(),
                "{c:?} {name}: no error message:\n{out}"
            );
            assert!(!err.contains("panicked"), "{c:?} {name}: {out}");
            assert!(!out.out().contains("Loaded image"), "{c:?} {name}: {out}");
            assert_eq!(
                repo_tags(&d),
                before_list,
                "{c:?} {name}: images changed after a failed load"
            );
            let mut want = ids.clone();
            want.sort();
            assert_eq!(
                all_ids(&d),
                want,
                "{c:?} {name}: an image appeared or vanished"
            );
        }
    }
    assert!(d.ping(), "daemon still answers");
    // The good archive still loads afterwards: nothing half-written blocks it.
    let out = d.docker(["load", "-i", &good.display().to_string()]).ok();
    assert_eq!(out.lines(), ["Loaded image: broken:v1"], "{out}");
}

/// An archive written by a real `docker save` (dockerd 20.10.24, checked in as
/// tests/fixtures/docker-20.10-save.tar: one layer, two tags, CMD and a label).
#[test]
fn load_an_archive_saved_by_real_docker() {
    let d = daemon();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/docker-20.10-save.tar"
    );
    let id = "sha256:3cda51f355050cec827db8c09aadd3f7e9d932887d488b5a761f9bc25436722b";
    for c in CLIS {
        let out = cli(&d, c, &["load", "-i", fixture]).ok();
        let mut lines = out.lines();
        lines.sort();
        assert_eq!(
            lines,
            [
                "Loaded image: fixture/docker20:alias",
                "Loaded image: fixture/docker20:v1"
            ],
            "{c:?}: {out}"
        );
        let f = d
            .docker(["image", "inspect", "--format", "{{.Id}} {{json .RootFS.Layers}} {{json .Config.Cmd}} {{.Config.Labels.origin}} {{.Comment}}", "fixture/docker20:v1"])
            .ok();
        assert_eq!(
            f.out().trim(),
            format!(
                "{id} [\"sha256:846df2dbeb1c3dfd2c6460360bff1383a3cab50d95051892c956a21ee73a6304\"] [\"cat\",\"/etc/motd\"] dockerd-20.10 fixture"
            ),
            "{c:?}"
        );
        d.docker(["rmi", "-f", id]).ok();
    }
}

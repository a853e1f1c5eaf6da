//! `tag`, `rmi` / `image rm` (name, full id, short id prefix, several, -f) and
//! `image prune` (-a, -f, --filter until=/label=).

mod common;
use common::*;

#[test]
fn tag_adds_a_name_to_the_same_image() {
    let d = daemon();
    let ids = load_fixtures(&d);
    for (i, c) in CLIS.into_iter().enumerate() {
        let tag = format!("a:t{i}");
        let out = cli(&d, c, &["tag", "a:v1", &tag]).ok();
        assert_eq!(out.out(), "", "{c:?}: tag prints nothing");
        let id = d
            .docker(["image", "inspect", "--format", "{{.Id}}", &tag])
            .ok()
            .out();
        assert_eq!(id.trim(), ids[2], "{c:?}");
        // Tag by short id, to a name with a registry and path.
        cli(
            &d,
            c,
            &[
                "image",
                "tag",
                &short(&ids[1]),
                &format!("registry.example:5000/x/b:t{i}"),
            ],
        )
        .ok();
        let out = cli(&d, c, &["tag", "nope", "x:y"]).fails();
        assert!(
            out.err().contains("No such image: nope:latest"),
            "{c:?}: {out}"
        );
        assert_eq!(out.code, Some(1), "{c:?}");
    }
}

#[test]
fn rmi_by_name_untags_then_deletes() {
    let d = daemon();
    let ids = load_fixtures(&d);
    for (c, (name, id)) in CLIS.into_iter().zip([("a:v1", &ids[2]), ("b:v1", &ids[1])]) {
        let out = cli(&d, c, &["rmi", name]).ok();
        let lines = out.lines();
        assert_eq!(lines[0], format!("Untagged: {name}"), "{c:?}: {out}");
        assert!(lines.contains(&format!("Deleted: {id}")), "{c:?}: {out}");
        assert!(
            lines[1..].iter().all(|l| l.starts_with("Deleted: sha256:")),
            "{c:?}: {out}"
        );
        assert!(!all_ids(&d).contains(id), "{c:?}");
    }
}

#[test]
fn rmi_of_one_of_several_tags_only_untags() {
    let d = daemon();
    let ids = load_fixtures(&d);
    d.docker(["tag", "a:v1", "a:extra"]).ok();
    for c in CLIS {
        let out = cli(&d, c, &["image", "rm", "a:extra"]).ok();
        assert_eq!(out.lines(), ["Untagged: a:extra"], "{c:?}: {out}");
        assert!(all_ids(&d).contains(&ids[2]));
        d.docker(["tag", "a:v1", "a:extra"]).ok();
    }
}

#[test]
fn rmi_by_full_id_and_short_prefix() {
    let d = daemon();
    let ids = load_fixtures(&d);
    let out = d.docker(["rmi", &ids[0]]).ok();
    assert_eq!(out.lines()[0], "Untagged: c:v1", "{out}");
    let prefix = &ids[1].trim_start_matches("sha256:")[..6];
    let out = d.berth(["rmi", prefix]).ok();
    assert_eq!(out.lines()[0], "Untagged: b:v1", "{out}");
    assert!(
        out.lines().contains(&format!("Deleted: {}", ids[1])),
        "{out}"
    );
    let out = d.berth(["rmi", ids[2].trim_start_matches("sha256:")]).ok();
    assert!(
        out.lines().contains(&format!("Deleted: {}", ids[2])),
        "{out}"
    );
    // The untagged image: by short id, only Deleted lines.
    let out = d.docker(["rmi", &short(&ids[3])]).ok();
    assert!(
        out.lines()
            .iter()
            .all(|l| l.starts_with("Deleted: sha256:")),
        "{out}"
    );
    assert_eq!(all_ids(&d), Vec::<String>::new());
}

#[test]
fn rmi_several_at_once_reports_each_and_fails_on_missing() {
    let d = daemon();
    let ids = load_fixtures(&d);
    for c in CLIS {
        d.docker(["tag", "a:v1", "x:1"]).ok();
        d.docker(["tag", "a:v1", "x:2"]).ok();
        let out = cli(&d, c, &["rmi", "x:1", "nope", "x:2"]).run();
        assert_eq!(
            out.code,
            Some(1),
            "{c:?}: one missing image makes the command fail: {out}"
        );
        assert_eq!(
            out.lines(),
            ["Untagged: x:1", "Untagged: x:2"],
            "{c:?}: {out}"
        );
        assert!(
            out.err()
                .contains("Error response from daemon: No such image: nope:latest"),
            "{c:?}: {out}"
        );
    }
    assert!(all_ids(&d).contains(&ids[2]));
}

#[test]
fn rmi_errors_match_docker() {
    let d = daemon();
    let ids = load_fixtures(&d);
    d.docker(["tag", "a:v1", "a:second"]).ok();
    for c in CLIS {
        let out = cli(&d, c, &["rmi", "nope"]).fails();
        assert_eq!(out.code, Some(1));
        assert_eq!(
            out.err().trim(),
            "Error response from daemon: No such image: nope:latest",
            "{c:?}"
        );
        // An id referenced by two names needs -f.
        let out = cli(&d, c, &["rmi", &short(&ids[2])]).fails();
        assert!(
            out.err().contains(&format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                short(&ids[2])
            )),
            "{c:?}: {out}"
        );
        // An ambiguous/too-short prefix is not an image.
        let out = cli(&d, c, &["rmi", "sha256:"]).fails();
        assert!(!out.err().is_empty(), "{c:?}");
    }
    // -f by id removes every tag.
    let out = d.berth(["rmi", "-f", &short(&ids[2])]).ok();
    let mut lines = out.lines();
    lines.sort();
    assert!(
        lines.contains(&"Untagged: a:second".to_string())
            && lines.contains(&"Untagged: a:v1".to_string()),
        "{out}"
    );
    assert!(lines.contains(&format!("Deleted: {}", ids[2])), "{out}");
    // -f on a missing image: docker prints the error but exits 0.
    for c in CLIS {
        let out = cli(&d, c, &["rmi", "-f", "nope"]).run();
        assert_eq!(out.code, Some(0), "{c:?}: {out}");
        assert_eq!(
            out.err().trim(),
            "Error response from daemon: No such image: nope:latest",
            "{c:?}"
        );
    }
}

#[test]
fn prune_removes_dangling_only_by_default() {
    let d = daemon();
    let ids = load_fixtures(&d);
    let out = d.docker(["image", "prune", "-f"]).ok();
    let lines = out.lines();
    assert_eq!(lines[0], "Deleted Images:", "{out}");
    assert!(lines.contains(&format!("deleted: {}", ids[3])), "{out}");
    assert!(
        lines.last().unwrap().starts_with("Total reclaimed space: "),
        "{out}"
    );
    assert_eq!(repo_tags(&d), ["c:v1", "b:v1", "a:v1"]);
    // Nothing left to prune: just the total.
    for c in CLIS {
        let out = cli(&d, c, &["image", "prune", "-f"]).ok();
        assert_eq!(out.out(), "Total reclaimed space: 0B\n", "{c:?}");
    }
}

#[test]
fn prune_all_and_filters_with_berth() {
    let d = daemon();
    let ids = load_fixtures(&d);
    // label filter: only unused images carrying env=dev.
    let out = d
        .berth(["image", "prune", "-a", "-f", "--filter", "label=env=dev"])
        .ok();
    assert!(out.lines().contains(&"untagged: b:v1".to_string()), "{out}");
    assert!(
        out.lines().contains(&format!("deleted: {}", ids[1])),
        "{out}"
    );
    assert_eq!(repo_tags(&d), ["c:v1", "a:v1", "<none>:<none>"]);
    // until: images created before 2020-06-01 (a:v1 from 2020-01 and the 2019 one).
    let out = d
        .berth([
            "image",
            "prune",
            "-a",
            "-f",
            "--filter",
            "until=2020-06-01T00:00:00Z",
        ])
        .ok();
    assert!(out.lines().contains(&"untagged: a:v1".to_string()), "{out}");
    assert_eq!(repo_tags(&d), ["c:v1"]);
    // label!=: keep labelled, remove the rest.
    let out = d
        .docker(["image", "prune", "-a", "-f", "--filter", "label!=env"])
        .ok();
    assert!(out.lines().contains(&"untagged: c:v1".to_string()), "{out}");
    assert_eq!(all_ids(&d), Vec::<String>::new());
    let out = d
        .berth(["image", "prune", "-a", "-f", "--filter", "bogus=1"])
        .fails();
    assert!(out.err().contains("bogus"), "{out}");
}

#[test]
fn prune_all_with_docker_removes_everything_unused() {
    let d = daemon();
    load_fixtures(&d);
    let out = d.docker(["image", "prune", "-a", "-f"]).ok();
    let lines = out.lines();
    assert_eq!(lines[0], "Deleted Images:", "{out}");
    for t in ["a:v1", "b:v1", "c:v1"] {
        assert!(lines.contains(&format!("untagged: {t}")), "{out}");
    }
    let total = lines.last().unwrap();
    assert!(
        total.starts_with("Total reclaimed space: ") && total != "Total reclaimed space: 0B",
        "{out}"
    );
    assert_eq!(all_ids(&d), Vec::<String>::new());
}

fn dir_bytes(p: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.len();
            }
        }
    }
    total
}

#[test]
fn deleting_images_collects_their_blobs_but_keeps_shared_layers() {
    let d = daemon();
    // Big enough that leftovers are unmistakable: one shared 2 MB base layer.
    let base = Layer::new().file("base.bin", vec![7u8; 2 << 20]).build();
    let imgs: Vec<TestImage> = (0..3)
        .map(|i| {
            TestImage::new(
                &[&format!("gc:{i}")],
                vec![
                    base.clone(),
                    Layer::new().file("own", vec![i as u8; 1 << 20]).build(),
                ],
            )
        })
        .collect();
    load_images(&d, "gc.tar", &imgs);
    let full = dir_bytes(&d.data_root());
    d.docker(["rmi", "gc:0"]).ok();
    // The shared base must survive: gc:1 still saves completely and round-trips.
    let p = scratch_file(&d, "gc1.tar");
    d.docker(["save", "-o", &p.display().to_string(), "gc:1"])
        .ok();
    d.docker(["rmi", "gc:1"]).ok();
    d.docker(["load", "-i", &p.display().to_string()]).ok();
    let after_one = dir_bytes(&d.data_root());
    assert!(
        after_one < full,
        "removing gc:0 freed nothing ({full} -> {after_one} bytes)"
    );
    d.docker(["rmi", "gc:1", "gc:2"]).ok();
    let empty = dir_bytes(&d.data_root());
    assert!(
        empty < 256 << 10,
        "{empty} bytes left in the data-root after removing every image: blobs or snapshots leak"
    );
    assert_eq!(all_ids(&d), Vec::<String>::new());
    assert!(d.ping());
}

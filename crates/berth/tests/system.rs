//! `version`, `info`, `system df` (-v, --format).

mod common;
use common::*;

#[test]
fn version_reports_api_1_45_min_1_24() {
    let d = daemon();
    for c in CLIS {
        let f = cli(
            &d,
            c,
            &[
                "version",
                "--format",
                "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}/{{.Server.Arch}}",
            ],
        )
        .ok();
        assert_eq!(f.out(), "1.45 1.24 linux/amd64\n", "{c:?}");
        let plain = cli(&d, c, &["version"]).ok();
        let s = plain.out();
        assert!(s.contains("Client:") && s.contains("Server:"), "{c:?}: {s}");
        assert!(s.contains("1.45 (minimum version 1.24)"), "{c:?}: {s}");
    }
    let v = d.api("GET", "/version", None).json();
    assert_eq!(v["ApiVersion"], "1.45");
    assert_eq!(v["MinAPIVersion"], "1.24");
    assert_eq!(v["Os"], "linux");
    assert!(v["Version"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
}

#[test]
fn info_counts_images_and_names_the_root() {
    let d = daemon();
    load_fixtures(&d);
    let root = d.data_root().display().to_string();
    for c in CLIS {
        let f = cli(
            &d,
            c,
            &[
                "info",
                "--format",
                "{{.Images}}|{{.DockerRootDir}}|{{.OSType}}|{{.Containers}}",
            ],
        )
        .ok();
        assert_eq!(f.out(), format!("4|{root}|linux|0\n"), "{c:?}");
        let plain = cli(&d, c, &["info"]).ok();
        assert!(plain.out().contains(" Images: 4"), "{c:?}: {plain}");
        assert!(
            plain.out().contains(&format!(" Docker Root Dir: {root}")),
            "{c:?}: {plain}"
        );
        let j = cli(&d, c, &["info", "--format", "{{json .}}"]).ok();
        let v: serde_json::Value = serde_json::from_str(&j.out()).expect("info json");
        assert_eq!(v["Images"], 4, "{c:?}");
    }
}

#[test]
fn system_df_and_verbose() {
    let d = daemon();
    load_fixtures(&d);
    for c in CLIS {
        let out = cli(&d, c, &["system", "df"]).ok();
        let lines = out.lines();
        assert_eq!(
            columns(&lines[0]),
            ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
            "{c:?}: {out}"
        );
        let images = columns(&lines[1]);
        assert_eq!(&images[..3], ["Images", "4", "0"], "{c:?}: {out}");
        assert!(
            images[4].ends_with("(100%)"),
            "{c:?}: nothing is used by containers: {out}"
        );
        assert_eq!(
            columns(&lines[2]),
            ["Containers", "0", "0", "0B", "0B"],
            "{c:?}"
        );
        assert_eq!(
            columns(&lines[3]),
            ["Local Volumes", "0", "0", "0B", "0B"],
            "{c:?}"
        );
        assert_eq!(
            columns(&lines[4]),
            ["Build Cache", "0", "0", "0B", "0B"],
            "{c:?}"
        );

        let v = cli(&d, c, &["system", "df", "-v"]).ok();
        let s = v.out();
        assert!(s.starts_with("Images space usage:\n\n"), "{c:?}: {s}");
        for section in [
            "Containers space usage:",
            "Local Volumes space usage:",
            "Build cache usage: 0B",
        ] {
            assert!(s.contains(section), "{c:?}: lacks {section}: {s}");
        }
        let header = s.lines().nth(2).unwrap();
        assert_eq!(
            columns(header),
            [
                "REPOSITORY",
                "TAG",
                "IMAGE ID",
                "CREATED",
                "SIZE",
                "SHARED SIZE",
                "UNIQUE SIZE",
                "CONTAINERS"
            ],
            "{c:?}"
        );
        for t in ["a", "b", "c", "<none>"] {
            assert!(
                s.lines().any(|l| l.starts_with(&format!("{t} "))),
                "{c:?}: no row for {t}: {s}"
            );
        }
    }
    for args in [
        &["system", "df"][..],
        &["system", "df", "-v"],
        &["system", "df", "--format", "{{json .}}"],
        &[
            "system",
            "df",
            "--format",
            "table {{.Type}}\t{{.TotalCount}}\t{{.Size}}",
        ],
    ] {
        assert_same_output(&d, args);
    }
    // Layers shared between images count once: the fixtures share their first layer.
    let api = d.api("GET", "/system/df", None).json();
    let total: u64 = api["LayersSize"].as_u64().expect("LayersSize");
    let sum: u64 = api["Images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Size"].as_u64().unwrap())
        .sum();
    assert!(
        total < sum,
        "LayersSize {total} must count the shared layer once (sum of sizes {sum})"
    );
    let shared = api["Images"][0]["SharedSize"].as_i64().unwrap();
    assert!(shared > 0, "{api}");
}

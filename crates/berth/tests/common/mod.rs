//! Shared set-up for the end-to-end tests: every test starts its own daemon (private
//! socket and data-root) so tests run in parallel, and drives it with the real docker
//! CLI and the berth CLI.
#![allow(dead_code, unused_imports)]

pub use berth_testkit::archive::{tar_entry, tar_entry_names};
pub use berth_testkit::*;
use serde_json::json;
use std::path::PathBuf;

pub fn daemon() -> TestDaemon {
    TestDaemon::start(env!("CARGO_BIN_EXE_berth"))
}

/// A daemon started with `config` (daemon.json; give it `"bridge": "none"`) and the
/// busybox image, for tests about the container lifecycle rather than networking.
pub fn lifecycle_daemon(config: &str) -> TestDaemon {
    let d = TestDaemon::start_with_config(env!("CARGO_BIN_EXE_berth"), Some(config));
    import_busybox(&d, "busybox");
    d
}

/// The docker CLI with `--network=none` added to `run` and `create`: lifecycle tests
/// must not depend on the bridge address pools that parallel test daemons share.
pub fn docker_no_net(d: &TestDaemon, args: &[&str]) -> Cmd {
    let mut v: Vec<&str> = args.to_vec();
    if matches!(v.first(), Some(&"run") | Some(&"create")) {
        v.insert(1, "--network=none");
    }
    d.docker(v)
}

/// The CLIs every compatibility check runs through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    Docker,
    Berth,
}

pub const CLIS: [Cli; 2] = [Cli::Docker, Cli::Berth];

pub fn cli(d: &TestDaemon, which: Cli, args: &[&str]) -> Cmd {
    match which {
        Cli::Docker => d.docker(args),
        Cli::Berth => d.berth(args),
    }
}

/// `import` the busybox rootfs as `tag` with `CMD ["sh"]`; returns the image id
/// (`sha256:...`) that import printed.
pub fn import_busybox(d: &TestDaemon, tag: &str) -> String {
    let tar = busybox_rootfs_tar(&d.scratch());
    let out = d
        .docker(["import", "--change", r#"CMD ["sh"]"#])
        .arg(&tar)
        .arg(tag)
        .ok();
    // The last line: a stricter check of the whole output is in import.rs.
    let id = out.lines().last().cloned().unwrap_or_default();
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "import printed {id:?}, want sha256:<64 hex>\n{out}"
    );
    id
}

/// Four images with distinct created times, labels and layers, newest first:
/// `c:v1` (2022), `b:v1` (2021, env=dev), `a:v1` (2020, env=prod), untagged (2019).
pub fn fixture_images() -> Vec<TestImage> {
    let img = |tags: &[&str], created: &str, label: Option<&str>, content: &str| {
        let mut config = json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["sh"]});
        if let Some(l) = label {
            config["Labels"] = json!({"env": l});
        }
        TestImage::new(
            tags,
            vec![
                Layer::new()
                    .dir("etc/")
                    .file("etc/os-release", "NAME=fixture\n")
                    .build(),
                Layer::new()
                    .file(&format!("{content}.txt"), content.repeat(1000))
                    .build(),
            ],
        )
        .with_config(config)
        .with_created(created)
    };
    vec![
        img(&["c:v1"], "2022-01-01T00:00:00Z", None, "c"),
        img(&["b:v1"], "2021-01-01T00:00:00Z", Some("dev"), "b"),
        img(&["a:v1"], "2020-01-01T00:00:00Z", Some("prod"), "a"),
        img(&[], "2019-01-01T00:00:00Z", None, "dangling"),
    ]
}

/// Write `images` as a Docker 25 archive in the scratch dir and `docker load` it.
pub fn load_images(d: &TestDaemon, name: &str, images: &[TestImage]) -> ArchiveInfo {
    let path = d.scratch().join(name);
    let info = write_archive(&path, images, Format::Docker25, Breakage::default());
    d.docker(["load", "-i"]).arg(&path).ok();
    info
}

/// Load [`fixture_images`]; returns their ids in the same order.
pub fn load_fixtures(d: &TestDaemon) -> Vec<String> {
    load_images(d, "fixtures.tar", &fixture_images()).image_ids
}

/// `repo:tag` of every listed image, in list order.
pub fn repo_tags(d: &TestDaemon) -> Vec<String> {
    d.docker(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok()
        .lines()
}

/// Full ids of all images (`images -a -q --no-trunc`), sorted and deduplicated.
pub fn all_ids(d: &TestDaemon) -> Vec<String> {
    let mut v = d.docker(["images", "-a", "-q", "--no-trunc"]).ok().lines();
    v.sort();
    v.dedup();
    v
}

pub fn short(id: &str) -> String {
    id.trim_start_matches("sha256:")[..12].to_string()
}

pub fn scratch_file(d: &TestDaemon, name: &str) -> PathBuf {
    d.scratch().join(name)
}

/// Columns of a docker table line (cells are separated by 2+ spaces).
pub fn columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Assert docker and berth print the same stdout and exit the same way for `args`.
#[track_caller]
pub fn assert_same_output(d: &TestDaemon, args: &[&str]) {
    let (docker, berth) = d.both(args);
    // The two CLIs run a moment apart: "1 second ago" may become "2 seconds ago" (and
    // the column widths with it), so relative times and padding are compared loosely.
    assert_eq!(
        (docker.code, relative_times_blurred(&docker.out())),
        (berth.code, relative_times_blurred(&berth.out())),
        "docker and berth differ for {args:?}\n=== docker\n{docker}\n=== berth\n{berth}"
    );
}

/// `text` with go-units' short relative times ("Less than a second", "3 seconds",
/// "About a minute", "2 minutes") replaced by `T` and runs of spaces collapsed.
pub fn relative_times_blurred(text: &str) -> String {
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = line
            .replace("Less than a second", "T")
            .replace("About a minute", "T");
        let toks: Vec<&str> = line.split_whitespace().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let unit = toks.get(i + 1).copied().unwrap_or("");
            if toks[i].bytes().all(|b| b.is_ascii_digit())
                && ["second", "seconds", "minute", "minutes"].contains(&unit)
            {
                out.push("T");
                i += 2;
            } else {
                out.push(toks[i]);
                i += 1;
            }
        }
        lines.push(out.join(" "));
    }
    lines.join("\n")
}

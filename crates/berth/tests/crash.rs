//! kill -9 of the daemon in the middle of a large load/import: after a restart no half
//! image is visible, partial data is cleaned up, and the same load succeeds.

mod common;
use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIG: u64 = 100 << 20;

fn dir_bytes(p: &Path) -> u64 {
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

/// Start `docker <args>` reading stdin from a pipe, feed it the first `fraction` of
/// `file`, and keep the pipe open so the daemon is certainly mid-operation.
fn start_partial(
    d: &TestDaemon,
    args: &[&str],
    file: &Path,
    fraction: f64,
) -> (Child, std::thread::JoinHandle<()>) {
    let mut child = Command::new(DOCKER_CLI)
        .args(args)
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_CONFIG", d.dir().join("docker-config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker");
    let mut stdin = child.stdin.take().unwrap();
    let data = std::fs::read(file).unwrap();
    let n = (data.len() as f64 * fraction) as usize;
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data[..n]);
        // Hold the pipe open (no EOF) until the process dies.
        std::thread::sleep(Duration::from_secs(120));
    });
    (child, feeder)
}

/// Wait until the data-root grew by `want` bytes (the daemon is writing), or `max`.
fn wait_for_growth(d: &TestDaemon, base: u64, want: u64, max: Duration) {
    let deadline = Instant::now() + max;
    while Instant::now() < deadline && dir_bytes(&d.data_root()) < base + want {
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_store_clean_after_restart(d: &TestDaemon, what: &str) {
    assert_eq!(
        all_ids(d),
        Vec::<String>::new(),
        "{what}: a half image is visible after restart"
    );
    let left = dir_bytes(&d.data_root());
    assert!(
        left < 10 << 20,
        "{what}: {} MB of partial data survive a restart (ingest/snapshot leftovers must be cleaned at start)",
        left >> 20
    );
}

#[test]
fn kill9_mid_load_then_restart_and_reload() {
    let mut d = daemon();
    let layer = write_random_layer(&scratch_file(&d, "big.layer.tar"), BIG, 1);
    let archive = scratch_file(&d, "big.tar");
    let info = write_archive(
        &archive,
        &[TestImage {
            layers: vec![LayerSrc::File(layer)],
            ..TestImage::new(&["big:v1"], vec![])
        }],
        Format::Docker25,
        Breakage::default(),
    );
    std::fs::remove_file(scratch_file(&d, "big.layer.tar")).unwrap();
    let base = dir_bytes(&d.data_root());
    let (mut cli, _feeder) = start_partial(&d, &["load"], &archive, 0.7);
    wait_for_growth(&d, base, 30 << 20, Duration::from_secs(60));
    d.kill9();
    let _ = cli.kill();
    let _ = cli.wait();
    d.restart();
    assert_store_clean_after_restart(&d, "load");
    let out = d
        .docker(["load", "-i", &archive.display().to_string()])
        .ok();
    assert_eq!(out.lines(), ["Loaded image: big:v1"], "{out}");
    let layers = d
        .docker([
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            "big:v1",
        ])
        .ok();
    assert_eq!(
        layers.out().trim(),
        serde_json::to_string(&info.diff_ids[0]).unwrap()
    );
}

#[test]
fn kill9_mid_import_then_restart_and_reimport() {
    let mut d = daemon();
    let layer = write_random_layer(&scratch_file(&d, "big.layer.tar"), BIG, 2);
    let base = dir_bytes(&d.data_root());
    let (mut cli, _feeder) = start_partial(&d, &["import", "-", "bigimp:v1"], &layer, 0.7);
    wait_for_growth(&d, base, 30 << 20, Duration::from_secs(60));
    d.kill9();
    let _ = cli.kill();
    let _ = cli.wait();
    d.restart();
    assert_store_clean_after_restart(&d, "import");
    let out = d
        .docker(["import", "-", "bigimp:v1"])
        .stdin_file(&layer)
        .ok();
    assert!(out.out().trim().starts_with("sha256:"), "{out}");
    let listed = d
        .docker(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    assert_eq!(listed.lines(), ["bigimp:v1"]);
}

/// Kill at several moments of a complete load (sent in full): after each restart the
/// image is either absent or complete and exportable, never half there.
#[test]
fn kill9_at_random_moments_is_all_or_nothing() {
    let mut d = daemon();
    let layer = write_random_layer(&scratch_file(&d, "mid.layer.tar"), 40 << 20, 3);
    let archive = scratch_file(&d, "mid.tar");
    write_archive(
        &archive,
        &[TestImage {
            layers: vec![LayerSrc::File(layer)],
            ..TestImage::new(&["mid:v1"], vec![])
        }],
        Format::Docker25,
        Breakage::default(),
    );
    for delay_ms in [50u64, 250, 600, 1200] {
        let mut cli = Command::new(DOCKER_CLI)
            .args(["load", "-i"])
            .arg(&archive)
            .env("DOCKER_HOST", d.host())
            .env("DOCKER_CONFIG", d.dir().join("docker-config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        d.kill9();
        let _ = cli.kill();
        let _ = cli.wait();
        d.restart();
        let ids = all_ids(&d);
        if !ids.is_empty() {
            let out_tar = scratch_file(&d, "check.tar");
            let out = d
                .docker(["save", "-o", &out_tar.display().to_string(), "mid:v1"])
                .run();
            assert!(
                out.success(),
                "after kill at {delay_ms} ms the listed image cannot be saved (blobs missing):\n{out}"
            );
            d.docker(["rmi", "mid:v1"]).ok();
        }
        assert_eq!(all_ids(&d), Vec::<String>::new(), "kill at {delay_ms} ms");
    }
    let out = d
        .docker(["load", "-i", &archive.display().to_string()])
        .ok();
    assert_eq!(out.lines(), ["Loaded image: mid:v1"], "{out}");
}

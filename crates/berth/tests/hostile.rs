//! Hostile layer tars through `load` and `import`: whatever the daemon decides (reject
//! the layer, skip the entry, or keep it inside the snapshot), nothing outside the
//! snapshot dir may be created, overwritten, linked to or deleted.
//!
//! Every escape aims at a sentinel dir in the test's temp dir (outside data-root), which
//! holds one file `secret`; see berth_testkit::hostile for the cases.

mod common;
use berth_testkit::hostile::{
    assert_markers_only_in_snapshots, assert_outside_untouched, hostile_layers, prepare_outside,
};
use common::*;

/// The outcome of one operation must be clean: success, or exit 1 with a message.
fn assert_clean_outcome(out: &Output, what: &str) {
    assert!(!out.timed_out, "{what}: hung:\n{out}");
    assert!(
        out.code == Some(0) || out.code == Some(1),
        "{what}: unexpected exit:\n{out}"
    );
    if !out.success() {
        assert!(
            !out.err().trim().is_empty(),
            "{what}: failed without a message:\n{out}"
        );
    }
    assert!(!out.err().contains("panicked"), "{what}:\n{out}");
}

#[test]
fn hostile_layers_via_load_stay_inside() {
    let d = daemon();
    let outside = d.dir().join("outside");
    prepare_outside(&outside);
    for (i, (name, tar)) in hostile_layers(&outside).into_iter().enumerate() {
        let tag = format!("hostile/load:{i}");
        let p = scratch_file(&d, &format!("hostile-{name}.tar"));
        write_archive(
            &p,
            &[TestImage::new(&[&tag], vec![tar])],
            Format::Docker25,
            Breakage::default(),
        );
        let out = d.docker(["load", "-i", &p.display().to_string()]).run();
        assert_clean_outcome(&out, name);
        assert_outside_untouched(&outside, name);
        assert_markers_only_in_snapshots(&d.data_root(), name);
        assert!(d.ping(), "{name}: daemon died");
        // Either the image exists completely or not at all.
        let listed = d.docker(["images", "-q", &tag]).ok().out();
        assert_eq!(
            listed.trim().is_empty(),
            !out.success(),
            "{name}: listed={listed:?} but load said:\n{out}"
        );
    }
}

#[test]
fn hostile_layers_via_import_stay_inside() {
    let d = daemon();
    let outside = d.dir().join("outside");
    prepare_outside(&outside);
    for (i, (name, tar)) in hostile_layers(&outside).into_iter().enumerate() {
        let tag = format!("hostile/import:{i}");
        let p = scratch_file(&d, &format!("hostile-{name}.layer.tar"));
        std::fs::write(&p, &tar).unwrap();
        // Alternate CLIs: both paths end in the same daemon code, but both must be clean.
        let out = if i % 2 == 0 {
            d.docker(["import", &p.display().to_string(), &tag]).run()
        } else {
            d.berth(["import", "-", &tag]).stdin_file(&p).run()
        };
        assert_clean_outcome(&out, name);
        assert_outside_untouched(&outside, name);
        assert_markers_only_in_snapshots(&d.data_root(), name);
        assert!(d.ping(), "{name}: daemon died");
    }
}

#[test]
fn a_layer_cannot_reach_through_a_symlink_from_a_lower_layer() {
    // The symlink and the write through it are in *different* layers of one image.
    let d = daemon();
    let outside = d.dir().join("outside");
    prepare_outside(&outside);
    let out_str = outside.display().to_string();
    let lower = Layer::new()
        .symlink("link", &out_str)
        .symlink("secretlink", &format!("{out_str}/secret"))
        .build();
    let upper = Layer::new()
        .file("link/ESCAPE-cross-layer", "x")
        .file("secretlink", "pwned\n")
        .hardlink("hl", "link/secret")
        .whiteout("link/secret")
        .build();
    let p = scratch_file(&d, "cross.tar");
    write_archive(
        &p,
        &[TestImage::new(&["cross:1"], vec![lower, upper])],
        Format::Docker25,
        Breakage::default(),
    );
    let out = d.berth(["load", "-i", &p.display().to_string()]).run();
    assert_clean_outcome(&out, "cross-layer");
    assert_outside_untouched(&outside, "cross-layer");
    assert_markers_only_in_snapshots(&d.data_root(), "cross-layer");
}

#[test]
fn whiteouts_apply_inside_the_image() {
    // Not hostile: proves whiteouts are honoured, so the tests above are not vacuous.
    let d = daemon();
    let lower = Layer::new()
        .dir("etc/")
        .file("etc/keep", "k")
        .file("etc/gone", "g")
        .dir("var/")
        .file("var/old", "o")
        .build();
    let upper = Layer::new()
        .whiteout("etc/gone")
        .opaque("var")
        .file("var/new", "n")
        .build();
    let p = scratch_file(&d, "wh.tar");
    let info = write_archive(
        &p,
        &[TestImage::new(&["wh:1"], vec![lower, upper])],
        Format::Docker25,
        Breakage::default(),
    );
    d.docker(["load", "-i", &p.display().to_string()]).ok();
    // Whatever layout the snapshotter uses, the top snapshot's fs/ must not hold the
    // whiteout markers themselves (they are converted to overlay whiteouts or applied).
    let mut found_markers = Vec::new();
    let mut stack = vec![d.data_root().join("snapshots")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".wh.") {
                found_markers.push(e.path());
            }
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    assert!(
        found_markers.is_empty(),
        "AUFS whiteout files left in snapshots: {found_markers:?}"
    );
    assert_eq!(info.diff_ids[0].len(), 2);
}

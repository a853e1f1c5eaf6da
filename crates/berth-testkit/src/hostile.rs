//! Hostile layer tars. Every escape attempt aims at one sentinel directory outside the
//! daemon's data-root, so a test can prove nothing was written, overwritten, linked or
//! deleted there, whatever the unpacker decided to do with the entry (reject the layer,
//! skip the entry, or contain it inside the snapshot).

use crate::tarw::{Kind, TarWriter};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

/// Content of the file `secret` that [`prepare_outside`] places in the sentinel dir.
pub const SECRET: &[u8] = b"original secret\n";

/// Every file a hostile tar tries to create outside has a name containing this.
pub const MARKER: &str = "ESCAPE";

/// Create the sentinel dir content: one regular file `secret`.
pub fn prepare_outside(outside: &Path) {
    std::fs::create_dir_all(outside).expect("create sentinel dir");
    std::fs::write(outside.join("secret"), SECRET).expect("write sentinel secret");
}

fn up_to_root(outside: &Path) -> String {
    // Far more `..` than any data-root is deep: after cleaning, this is `/` + outside.
    format!(
        "{}{}",
        "../".repeat(40),
        outside
            .to_str()
            .expect("utf-8 path")
            .trim_start_matches('/')
    )
}

/// Named hostile layer tars, each aimed at `outside` (an absolute directory).
pub fn hostile_layers(outside: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let out = outside.to_str().expect("utf-8 path").to_string();
    let rel = up_to_root(outside);
    let mut cases: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut case = |name: &'static str,
                    f: &dyn Fn(&mut TarWriter<Vec<u8>>) -> std::io::Result<()>| {
        let mut t = TarWriter::new(Vec::new());
        // A harmless first entry, so "reject whole layer" and "skip entry" both leave
        // something observable.
        t.file("harmless.txt", 0o644, b"ok\n").unwrap();
        f(&mut t).unwrap();
        cases.push((name, t.finish().unwrap()));
    };
    case("dotdot-path", &|t| {
        t.file(&format!("{rel}/ESCAPE-dotdot"), 0o644, b"x")
    });
    case("dotdot-inside-path", &|t| {
        t.dir("a/", 0o755)?;
        t.file(&format!("a/../{rel}/ESCAPE-dotdot-mid"), 0o644, b"x")
    });
    case("absolute-path", &|t| {
        t.file(&format!("{out}/ESCAPE-absolute"), 0o644, b"x")
    });
    case("absolute-symlink-then-file", &|t| {
        t.symlink("escape", &out)?;
        t.file("escape/ESCAPE-abs-symlink", 0o644, b"x")
    });
    case("relative-symlink-then-file", &|t| {
        t.symlink("relesc", &rel)?;
        t.file("relesc/ESCAPE-rel-symlink", 0o644, b"x")
    });
    case("symlink-chain-then-file", &|t| {
        t.symlink("b", &out)?;
        t.symlink("a", "b")?;
        t.file("a/ESCAPE-chain", 0o644, b"x")
    });
    case("dir-replaced-by-symlink", &|t| {
        t.dir("d/", 0o755)?;
        t.symlink("d", &out)?;
        t.file("d/ESCAPE-dir-swap", 0o644, b"x")
    });
    case("symlink-then-dir-then-file", &|t| {
        t.symlink("sd", &out)?;
        t.dir("sd/ESCAPE-dir/", 0o755)?;
        t.file("sd/ESCAPE-dir/ESCAPE-file", 0o644, b"x")
    });
    case("write-through-symlink", &|t| {
        t.symlink("target-file", &format!("{out}/secret"))?;
        t.file("target-file", 0o644, b"pwned\n")
    });
    case("hardlink-absolute-out", &|t| {
        t.hardlink("hl", &format!("{out}/secret"))?;
        t.file("hl", 0o644, b"pwned\n")
    });
    case("hardlink-relative-out", &|t| {
        t.hardlink("hl2", &format!("{rel}/secret"))?;
        t.file("hl2", 0o644, b"pwned\n")
    });
    case("hardlink-via-symlink", &|t| {
        t.symlink("s", &out)?;
        t.hardlink("hl3", "s/secret")?;
        t.file("hl3", 0o644, b"pwned\n")
    });
    case("hardlink-to-symlink-out", &|t| {
        t.symlink("sl", &format!("{out}/secret"))?;
        t.hardlink("hl4", "sl")?;
        t.file("hl4", 0o644, b"pwned\n")
    });
    case("whiteout-escape", &|t| {
        t.file(&format!("{rel}/.wh.secret"), 0o644, b"")?;
        t.symlink("wsl", &out)?;
        t.file("wsl/.wh.secret", 0o644, b"")
    });
    case("opaque-escape", &|t| {
        t.symlink("osl", &out)?;
        t.file("osl/.wh..wh..opq", 0o644, b"")
    });
    // Device nodes inside the root: the unpacker may create them (docker does, as root)
    // or skip them; either is fine as long as nothing lands outside (escape variants below).
    case("device-nodes-inside", &|t| {
        t.dir("dev/", 0o755)?;
        t.node("dev/evil-null", Kind::CharDevice { major: 1, minor: 3 })?;
        t.node("dev/evil-disk", Kind::BlockDevice { major: 8, minor: 0 })?;
        t.node("dev/evil-fifo", Kind::Fifo)
    });
    case("device-node-dotdot", &|t| {
        t.node(
            &format!("{rel}/ESCAPE-chardev"),
            Kind::CharDevice { major: 1, minor: 3 },
        )
    });
    case("device-node-via-symlink", &|t| {
        t.symlink("devsl", &out)?;
        t.node(
            "devsl/ESCAPE-blockdev",
            Kind::BlockDevice { major: 8, minor: 0 },
        )?;
        t.node("devsl/ESCAPE-fifo", Kind::Fifo)
    });
    cases
}

/// Assert the sentinel dir holds exactly the untouched `secret` (same content, one link).
#[track_caller]
pub fn assert_outside_untouched(outside: &Path, case: &str) {
    let mut names: Vec<String> = std::fs::read_dir(outside)
        .unwrap_or_else(|e| panic!("[{case}] sentinel dir {} is gone: {e}", outside.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["secret"],
        "[{case}] something was created in or deleted from {}",
        outside.display()
    );
    let p = outside.join("secret");
    let meta = std::fs::symlink_metadata(&p).unwrap();
    assert!(
        meta.file_type().is_file(),
        "[{case}] {} is no longer a regular file",
        p.display()
    );
    assert_eq!(
        meta.nlink(),
        1,
        "[{case}] {} gained a hard link (a layer linked to it)",
        p.display()
    );
    assert_eq!(
        std::fs::read(&p).unwrap(),
        SECRET,
        "[{case}] {} was overwritten",
        p.display()
    );
}

/// Assert that any file whose name contains [`MARKER`] under `data_root` lies inside a
/// snapshot's `fs` dir (`[...]/snapshots/<id>/fs/...`, the layout in ARCHITECTURE.md),
/// and that none landed at `/`.
#[track_caller]
pub fn assert_markers_only_in_snapshots(data_root: &Path, case: &str) {
    let mut stack = vec![data_root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if e.file_name().to_string_lossy().contains(MARKER) {
                let rel: Vec<String> = p
                    .strip_prefix(data_root)
                    .unwrap()
                    .components()
                    .filter_map(|c| match c {
                        Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect();
                let in_snapshot = (0..rel.len())
                    .any(|k| rel[k] == "snapshots" && rel.len() > k + 3 && rel[k + 2] == "fs");
                assert!(
                    in_snapshot,
                    "[{case}] escape marker outside a snapshot fs dir: {}",
                    p.display()
                );
            }
            if ft.is_dir() {
                stack.push(p);
            }
        }
    }
    for e in std::fs::read_dir("/").unwrap().flatten() {
        assert!(
            !e.file_name().to_string_lossy().contains(MARKER),
            "[{case}] escape marker created at /{}",
            e.file_name().to_string_lossy()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_a_readable_tar_aimed_at_the_sentinel() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        prepare_outside(&outside);
        let cases = hostile_layers(&outside);
        assert!(cases.len() >= 15);
        for (name, tar) in &cases {
            let mut ar = tar::Archive::new(&tar[..]);
            let n = ar.entries().unwrap().count();
            assert!(n >= 2, "{name}: {n} entries");
        }
        assert_outside_untouched(&outside, "fresh");
    }

    #[test]
    fn the_checks_catch_an_escape() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        prepare_outside(&outside);
        std::fs::write(outside.join("ESCAPE-x"), b"").unwrap();
        let r = std::panic::catch_unwind(|| assert_outside_untouched(&outside, "t"));
        assert!(r.is_err());
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("snapshots/abc/fs/x")).unwrap();
        std::fs::write(root.join("snapshots/abc/fs/x/ESCAPE-ok"), b"").unwrap();
        assert_markers_only_in_snapshots(&root, "ok");
        std::fs::write(root.join("snapshots/abc/ESCAPE-bad"), b"").unwrap();
        let r = std::panic::catch_unwind(|| assert_markers_only_in_snapshots(&root, "bad"));
        assert!(r.is_err());
    }
}

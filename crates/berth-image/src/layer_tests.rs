//! Layer application tests, most of them hostile layers: after each, nothing outside
//! the snapshot root may have changed (a sentinel directory sits next to it).

use super::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use tar::{EntryType, Header};

struct Fixture {
    base: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let base = tempfile::tempdir().unwrap();
        fs::create_dir(base.path().join("root")).unwrap();
        fs::create_dir(base.path().join("sentinel")).unwrap();
        fs::write(base.path().join("sentinel/file"), b"original").unwrap();
        Fixture { base }
    }
    fn root(&self) -> PathBuf {
        self.base.path().join("root")
    }
    fn sentinel(&self) -> PathBuf {
        self.base.path().join("sentinel")
    }
    fn apply(&self, tar: &[u8]) -> Result<Applied> {
        apply_layer(&self.root(), tar)
    }
    /// Nothing next to the root appeared, and the sentinel is untouched.
    fn assert_outside_untouched(&self) {
        let mut names: Vec<_> = fs::read_dir(self.base.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["root", "sentinel"]);
        let s: Vec<_> = fs::read_dir(self.sentinel()).unwrap().collect();
        assert_eq!(s.len(), 1, "sentinel dir gained entries");
        assert_eq!(fs::read(self.sentinel().join("file")).unwrap(), b"original");
        let md = fs::metadata(self.sentinel().join("file")).unwrap();
        assert_eq!(md.nlink(), 1, "sentinel file was hardlinked");
        assert_eq!(
            fs::metadata(self.sentinel()).unwrap().permissions().mode() & 0o7777,
            0o755
        );
    }
}

#[derive(Default)]
struct TarBuilder {
    b: Option<tar::Builder<Vec<u8>>>,
}

impl TarBuilder {
    fn new() -> TarBuilder {
        TarBuilder {
            b: Some(tar::Builder::new(Vec::new())),
        }
    }
    /// Appends an entry with a raw (unchecked) name and link name, as a hostile
    /// producer would write them.
    fn raw(
        &mut self,
        name: &str,
        kind: EntryType,
        link: &str,
        data: &[u8],
        mode: u32,
    ) -> &mut Self {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_000_000);
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_cksum();
        self.b.as_mut().unwrap().append(&h, data).unwrap();
        self
    }
    fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.raw(name, EntryType::Regular, "", data, 0o644)
    }
    fn dir(&mut self, name: &str) -> &mut Self {
        self.raw(name, EntryType::Directory, "", b"", 0o755)
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(name, EntryType::Symlink, target, b"", 0o777)
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(name, EntryType::Link, target, b"", 0o644)
    }
    fn long(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        self.b
            .as_mut()
            .unwrap()
            .append_data(&mut h, name, data)
            .unwrap();
        self
    }
    fn build(&mut self) -> Vec<u8> {
        self.b.take().unwrap().into_inner().unwrap()
    }
}

#[test]
fn plain_layer_unpacks_with_metadata() {
    let fx = Fixture::new();
    let tar = TarBuilder::new()
        .dir("./etc/")
        .file("etc/hostname", b"box\n")
        .raw("bin/sh", EntryType::Regular, "", b"#!", 0o4755)
        .symlink("bin/ash", "sh")
        .hardlink("bin/sh2", "bin/sh")
        .raw("tmp/", EntryType::Directory, "", b"", 0o1777)
        .build();
    let applied = fx.apply(&tar).unwrap();
    assert_eq!(applied.size, 6);
    let r = fx.root();
    assert_eq!(fs::read(r.join("etc/hostname")).unwrap(), b"box\n");
    assert_eq!(fs::read_link(r.join("bin/ash")).unwrap(), Path::new("sh"));
    let sh = fs::metadata(r.join("bin/sh")).unwrap();
    assert_eq!(sh.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(sh.nlink(), 2);
    assert_eq!(sh.mtime(), 1_000_000);
    let tmp = fs::metadata(r.join("tmp")).unwrap();
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);
    assert_eq!(tmp.mtime(), 1_000_000);
    fx.assert_outside_untouched();
}

#[test]
fn dotdot_paths_are_rejected() {
    for name in [
        "../escape",
        "a/../../escape",
        "./../sentinel/file",
        "a/b/../../../x",
    ] {
        let fx = Fixture::new();
        let tar = TarBuilder::new().file(name, b"pwned").build();
        let err = fx.apply(&tar).unwrap_err();
        assert!(
            err.to_string().contains("outside of the layer root"),
            "{name}: {err}"
        );
        fx.assert_outside_untouched();
    }
}

#[test]
fn inner_dotdot_is_cleaned() {
    let fx = Fixture::new();
    let tar = TarBuilder::new().file("a/../b", b"x").build();
    fx.apply(&tar).unwrap();
    assert!(fx.root().join("b").is_file());
    fx.assert_outside_untouched();
}

#[test]
fn absolute_paths_stay_inside() {
    let fx = Fixture::new();
    let abs = format!("{}/pwned", fx.sentinel().display());
    let tar = TarBuilder::new()
        .file("/etc/abs", b"x")
        .file(&abs, b"x")
        .build();
    fx.apply(&tar).unwrap();
    assert!(fx.root().join("etc/abs").is_file());
    let inside = fx.root().join(abs.trim_start_matches('/'));
    assert!(inside.is_file());
    fx.assert_outside_untouched();
}

#[test]
fn symlink_out_of_root_then_entry_under_it() {
    let fx = Fixture::new();
    let sentinel = fx.sentinel().display().to_string();
    let tar = TarBuilder::new()
        .symlink("evil", &sentinel)
        .file("evil/pwned", b"x")
        .symlink("rel", "../../../../../../../..")
        .file(&format!("rel{sentinel}/pwned2"), b"x")
        .symlink("hostetc", "/etc")
        .file("hostetc/berth-layer-test-should-not-exist", b"x")
        .build();
    fx.apply(&tar).unwrap();
    // The writes landed inside the root, where the links point when chrooted there.
    let inside = fx.root().join(sentinel.trim_start_matches('/'));
    assert!(inside.join("pwned").is_file());
    assert!(inside.join("pwned2").is_file());
    assert!(!Path::new("/etc/berth-layer-test-should-not-exist").exists());
    assert!(
        fx.root()
            .join("etc/berth-layer-test-should-not-exist")
            .is_file()
    );
    fx.assert_outside_untouched();
}

#[test]
fn symlink_chains_are_followed_in_scope() {
    let fx = Fixture::new();
    let sentinel = fx.sentinel().display().to_string();
    let tar = TarBuilder::new()
        .symlink("a", "b")
        .symlink("b", "c/d")
        .dir("c/")
        .symlink("c/d", &format!("../../..{sentinel}"))
        .file("a/pwned", b"x")
        .build();
    fx.apply(&tar).unwrap();
    assert!(
        fx.root()
            .join(sentinel.trim_start_matches('/'))
            .join("pwned")
            .is_file()
    );
    fx.assert_outside_untouched();
}

#[test]
fn symlink_loop_is_an_error_not_a_hang() {
    let fx = Fixture::new();
    let tar = TarBuilder::new()
        .symlink("a", "b")
        .symlink("b", "a")
        .file("a/x", b"x")
        .build();
    assert!(fx.apply(&tar).is_err());
    fx.assert_outside_untouched();
}

#[test]
fn hardlinks_out_of_root_are_refused() {
    let sentinel_file = |fx: &Fixture| fx.sentinel().join("file").display().to_string();
    // Absolute target: resolved inside the root, where it does not exist.
    let fx = Fixture::new();
    let tar = TarBuilder::new().hardlink("h", &sentinel_file(&fx)).build();
    assert!(fx.apply(&tar).is_err());
    fx.assert_outside_untouched();
    let fx = Fixture::new();
    let tar = TarBuilder::new().hardlink("h", "/etc/passwd").build();
    assert!(fx.apply(&tar).is_err());
    assert!(!fx.root().join("h").exists());
    // Relative climb.
    let fx = Fixture::new();
    let tar = TarBuilder::new().hardlink("h", "../sentinel/file").build();
    assert!(fx.apply(&tar).unwrap_err().to_string().contains("outside"));
    fx.assert_outside_untouched();
    // Through a symlink pointing out.
    let fx = Fixture::new();
    let tar = TarBuilder::new()
        .symlink("l", &fx.sentinel().display().to_string())
        .hardlink("h", "l/file")
        .build();
    assert!(fx.apply(&tar).is_err());
    fx.assert_outside_untouched();
    // To a symlink: links the symlink itself, not what it points to.
    let fx = Fixture::new();
    let tar = TarBuilder::new()
        .symlink("l", &sentinel_file(&fx))
        .hardlink("h", "l")
        .build();
    fx.apply(&tar).unwrap();
    assert!(
        fs::symlink_metadata(fx.root().join("h"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    fx.assert_outside_untouched();
}

#[test]
fn device_nodes() {
    let fx = Fixture::new();
    let mut b = TarBuilder::new();
    let mut h = Header::new_gnu();
    h.set_entry_type(EntryType::Char);
    h.set_mode(0o666);
    h.set_size(0);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    b.b.as_mut()
        .unwrap()
        .append_data(&mut h, "dev/null", &b""[..])
        .unwrap();
    let mut f = Header::new_gnu();
    f.set_entry_type(EntryType::Fifo);
    f.set_mode(0o600);
    f.set_size(0);
    b.b.as_mut()
        .unwrap()
        .append_data(&mut f, "run/fifo", &b""[..])
        .unwrap();
    // A device node replacing a symlink pointing out must not write through it.
    b.symlink(
        "dev/zero",
        &fx.sentinel().join("file").display().to_string(),
    );
    let mut z = Header::new_gnu();
    z.set_entry_type(EntryType::Char);
    z.set_mode(0o666);
    z.set_size(0);
    z.set_device_major(1).unwrap();
    z.set_device_minor(5).unwrap();
    b.b.as_mut()
        .unwrap()
        .append_data(&mut z, "dev/zero", &b""[..])
        .unwrap();
    fx.apply(&b.build()).unwrap();
    let fifo = fs::symlink_metadata(fx.root().join("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    if unsafe { libc::geteuid() } == 0 {
        let md = fs::symlink_metadata(fx.root().join("dev/null")).unwrap();
        assert!(md.file_type().is_char_device());
        assert_eq!(md.rdev(), libc::makedev(1, 3));
        assert!(
            fs::symlink_metadata(fx.root().join("dev/zero"))
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }
    fx.assert_outside_untouched();
}

#[test]
fn file_replaces_dir_and_dir_replaces_file() {
    let fx = Fixture::new();
    let tar = TarBuilder::new()
        .dir("d/")
        .file("d/f", b"1")
        .file("d", b"now a file")
        .file("x", b"file")
        .dir("x/")
        .file("x/inner", b"2")
        .build();
    fx.apply(&tar).unwrap();
    assert_eq!(fs::read(fx.root().join("d")).unwrap(), b"now a file");
    assert!(fx.root().join("x/inner").is_file());
    fx.assert_outside_untouched();
}

#[test]
fn dir_later_replaced_by_symlink_keeps_deferred_chmod_inside() {
    let fx = Fixture::new();
    let tar = TarBuilder::new()
        .raw("d/", EntryType::Directory, "", b"", 0o700)
        .symlink("d", &fx.sentinel().display().to_string())
        .build();
    fx.apply(&tar).unwrap();
    fx.assert_outside_untouched();
}

#[test]
fn very_long_names() {
    let fx = Fixture::new();
    // A path of many components, longer than the 100-byte header field.
    let deep = format!("{}/f", ["abcdefghij"; 60].join("/"));
    let tar = TarBuilder::new().long(&deep, b"deep").build();
    fx.apply(&tar).unwrap();
    assert_eq!(fs::read(fx.root().join(&deep)).unwrap(), b"deep");
    // One component longer than NAME_MAX: a clean error, not a panic.
    let fx = Fixture::new();
    let tar = TarBuilder::new().long(&"n".repeat(300), b"x").build();
    let err = fx.apply(&tar).unwrap_err();
    assert!(err.to_string().contains("apply layer"), "{err}");
    fx.assert_outside_untouched();
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    let fx = Fixture::new();
    let tar = TarBuilder::new()
        .dir("etc/")
        .file("etc/.wh.motd", b"")
        .dir("var/cache/")
        .file("var/cache/.wh..wh..opq", b"")
        .build();
    fx.apply(&tar).unwrap();
    let root = fx.root();
    if unsafe { libc::geteuid() } == 0 {
        let md = fs::symlink_metadata(root.join("etc/motd")).unwrap();
        assert!(md.file_type().is_char_device());
        assert_eq!(md.rdev(), 0);
        assert!(!root.join("etc/.wh.motd").exists());
        let mut buf = [0u8; 8];
        let p = cstr(&root.join("var/cache")).unwrap();
        let n = unsafe {
            libc::lgetxattr(
                p.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                buf.as_mut_ptr().cast(),
                8,
            )
        };
        if n == 1 {
            assert_eq!(buf[0], b'y');
        } else {
            assert!(root.join("var/cache/.wh..wh..opq").exists());
        }
    } else {
        // Unprivileged: kernels >= 5.8 allow a 0:0 char device, older ones get the
        // AUFS marker kept.
        let dev = fs::symlink_metadata(root.join("etc/motd"))
            .is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0);
        assert!(dev || root.join("etc/.wh.motd").exists());
    }
    fx.assert_outside_untouched();
}

#[test]
fn overlay_xattrs_from_the_layer_are_dropped() {
    let fx = Fixture::new();
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([
        ("SCHILY.xattr.trusted.overlay.redirect", &b"/etc"[..]),
        ("SCHILY.xattr.user.berth", &b"ok"[..]),
    ])
    .unwrap();
    let mut h = Header::new_ustar();
    h.set_entry_type(EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "d", &b""[..]).unwrap();
    fx.apply(&b.into_inner().unwrap()).unwrap();
    let p = cstr(&fx.root().join("d")).unwrap();
    let mut buf = [0u8; 16];
    let n = unsafe {
        libc::lgetxattr(
            p.as_ptr(),
            c"trusted.overlay.redirect".as_ptr(),
            buf.as_mut_ptr().cast(),
            16,
        )
    };
    assert_eq!(n, -1);
}

#[test]
fn truncated_layer_is_an_error() {
    let fx = Fixture::new();
    let tar = TarBuilder::new().file("big", &[7u8; 10_000]).build();
    let err = fx.apply(&tar[..4096]).unwrap_err();
    assert_eq!(err.kind(), berth_stdx::ErrorKind::InvalidArgument, "{err}");
    fx.assert_outside_untouched();
}

#[test]
fn garbage_is_an_error() {
    let fx = Fixture::new();
    let junk = vec![0x55u8; 2048];
    assert!(fx.apply(&junk).is_err());
    fx.assert_outside_untouched();
}

/// Randomised hostile entries: names and link targets drawn from pieces that climb,
/// loop and point outside (including at the sentinel itself). Each entry is applied
/// as its own layer onto the same root, so later entries meet the links earlier ones
/// made. Whatever applies or fails, nothing outside the root may change.
#[test]
fn random_hostile_layers_never_escape() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut applied = 0;
    for _round in 0..40 {
        let fx = Fixture::new();
        let sentinel = fx.sentinel().display().to_string();
        let pieces = [
            "a", "b", "..", ".", "c", "/", &sentinel, "/etc", "sentinel", "file",
        ];
        let pick = |n: usize, next: &mut dyn FnMut() -> u64| -> String {
            let k = 1 + (next() as usize) % n;
            (0..k)
                .map(|_| pieces[(next() as usize) % pieces.len()])
                .collect::<Vec<_>>()
                .join("/")
        };
        for _ in 0..25 {
            let name = pick(3, &mut next);
            let link = pick(4, &mut next);
            if name.len() >= 100 || link.len() >= 100 {
                continue;
            }
            let kind = match next() % 6 {
                0 | 1 => EntryType::Symlink,
                2 => EntryType::Link,
                3 => EntryType::Directory,
                _ => EntryType::Regular,
            };
            let data: &[u8] = if kind == EntryType::Regular {
                b"pwned"
            } else {
                b""
            };
            // Raw header fields: `..` and absolute names reach the applier as written.
            let mut h = Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_cksum();
            let mut b = tar::Builder::new(Vec::new());
            b.append(&h, data).unwrap();
            if fx.apply(&b.into_inner().unwrap()).is_ok() {
                applied += 1;
            }
            fx.assert_outside_untouched();
        }
        assert!(!Path::new("/etc/pwned").exists());
    }
    // Not vacuous: most entries apply (the rest fail on `..`, loops or bad links).
    assert!(applied > 300, "only {applied} entries applied");
}

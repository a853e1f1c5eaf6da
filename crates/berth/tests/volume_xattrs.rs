//! Extended attributes survive the copy-up of image content into new named and
//! anonymous volumes (docker keeps `user.*` and `security.capability`). The image is
//! imported from a layer tar whose entries carry PAX `SCHILY.xattr.*` records. Needs root.

mod common;
mod volumes_env;

use common::*;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use tar::{EntryType, Header};
use volumes_env::Env;

/// `security.capability` v2: effective, permitted `cap_net_raw` (13).
const NET_RAW: [u8; 20] = [
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// busybox plus `/data/f` (`user.test=hello`, file caps) and `/data/sub`
/// (`user.dir=d`), imported as `xat`.
fn xattr_image(e: &Env) {
    let bb = busybox_rootfs_tar(&e.d.scratch());
    let mut b = tar::Builder::new(Vec::new());
    let mut src = tar::Archive::new(std::fs::File::open(bb).unwrap());
    for ent in src.entries().unwrap() {
        let mut ent = ent.unwrap();
        let h = ent.header().clone();
        b.append(&h, &mut ent).unwrap();
    }
    let mut add = |path: &str, kind: EntryType, body: &[u8], x: &[(&str, &[u8])]| {
        b.append_pax_extensions(x.iter().copied()).unwrap();
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_size(body.len() as u64);
        b.append_data(&mut h, path, body).unwrap();
    };
    add("data/", EntryType::Directory, b"", &[]);
    add(
        "data/f",
        EntryType::Regular,
        b"content\n",
        &[
            ("SCHILY.xattr.user.test", b"hello"),
            ("SCHILY.xattr.security.capability", &NET_RAW),
        ],
    );
    add(
        "data/sub/",
        EntryType::Directory,
        b"",
        &[("SCHILY.xattr.user.dir", b"d")],
    );
    let tar = e.d.scratch().join("xattr-layer.tar");
    std::fs::write(&tar, b.into_inner().unwrap()).unwrap();
    e.docker(&["import", tar.to_str().unwrap(), "xat"]).ok();
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let p = CString::new(p.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    let mut buf = [0u8; 64];
    // SAFETY: valid NUL-terminated strings and a 64-byte buffer.
    let got = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), 64) };
    (got >= 0).then(|| buf[..got as usize].to_vec())
}

fn mountpoint(e: &Env, vol: &str) -> std::path::PathBuf {
    let o = e
        .docker(&["volume", "inspect", "-f", "{{.Mountpoint}}", vol])
        .ok();
    o.out().trim().into()
}

#[test]
fn copy_up_keeps_xattrs_in_named_and_anonymous_volumes() {
    let e = Env::new();
    xattr_image(&e);
    e.docker(&["run", "--rm", "-v", "xv:/data", "xat", "cat", "/data/f"])
        .ok();
    let id = e
        .docker(&[
            "run",
            "-d",
            "--mount",
            "type=volume,dst=/data",
            "xat",
            "true",
        ])
        .ok()
        .out()
        .trim()
        .to_string();
    e.docker(&["wait", &id]).ok();
    let anon = e
        .docker(&["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", &id])
        .ok()
        .out()
        .trim()
        .to_string();
    for vol in ["xv", anon.as_str()] {
        let mp = mountpoint(&e, vol);
        assert_eq!(std::fs::read_to_string(mp.join("f")).unwrap(), "content\n");
        assert_eq!(
            xattr(&mp.join("f"), "user.test").as_deref(),
            Some(&b"hello"[..]),
            "{vol}"
        );
        assert_eq!(
            xattr(&mp.join("f"), "security.capability").as_deref(),
            Some(&NET_RAW[..]),
            "{vol}"
        );
        assert_eq!(
            xattr(&mp.join("sub"), "user.dir").as_deref(),
            Some(&b"d"[..]),
            "{vol}"
        );
    }
}

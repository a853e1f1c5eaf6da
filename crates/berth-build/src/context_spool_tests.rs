//! The spooled context: its index mirrors the extraction, odd tars take the
//! extraction path, and COPY keys from the index invalidate exactly what they must.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use super::*;
use crate::backend::Cancel;
use crate::cache::Cache;
use crate::copy::{FastRequest, fast_key};
use crate::dockerignore::Ignore;
use crate::executor::{BuildOptions, build};
use crate::fake::{Fake, Out};

/// The context tar of `src`, as the CLI sends it.
fn tar_of(src: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    crate::context::write_context_tar(src, &Ignore::parse(""), &mut out).unwrap();
    out
}

fn receive(tar: &[u8]) -> (tempfile::TempDir, SpooledContext) {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("ctx")).unwrap();
    let s = SpooledContext::receive(tar, &t.path().join("ctx.tar"), &t.path().join("ctx")).unwrap();
    (t, s)
}

/// What the directory walk sees under `dir`, in the index's terms.
fn walk_fs(dir: &Path, rel: &str, out: &mut BTreeMap<Vec<u8>, (String, u32)>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let md = e.path().symlink_metadata().unwrap();
        let mode = md.permissions().mode() & 0o7777;
        if md.file_type().is_symlink() {
            let t = std::fs::read_link(e.path()).unwrap();
            out.insert(r.into_bytes(), (format!("l {}", t.display()), 0o777));
        } else if md.is_dir() {
            out.insert(r.clone().into_bytes(), ("d".into(), mode));
            walk_fs(&e.path(), &r, out);
        } else {
            let body = std::fs::read(e.path()).unwrap();
            let d = hex::encode(Sha256::digest(&body));
            out.insert(r.into_bytes(), (format!("f {} {d}", md.len()), mode));
        }
    }
}

fn index_view(s: &SpooledContext) -> BTreeMap<Vec<u8>, (String, u32)> {
    s.index()
        .unwrap()
        .iter()
        .map(|(k, e)| {
            let kind = match &e.kind {
                Kind::Dir => "d".to_string(),
                Kind::File { size, digest, .. } => format!("f {size} {}", hex::encode(digest)),
                Kind::Symlink(t) => format!("l {}", String::from_utf8_lossy(t)),
            };
            (k.clone(), (kind, e.mode))
        })
        .collect()
}

fn sample_context() -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    let p = src.path();
    std::fs::create_dir_all(p.join("d/sub")).unwrap();
    std::fs::write(p.join("d/a.txt"), "a").unwrap();
    std::fs::write(p.join("d/sub/run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        p.join("d/sub/run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(p.join("d/sub"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::write(p.join("top.txt"), "top").unwrap();
    std::fs::write(p.join("Dockerfile"), "FROM busybox\n").unwrap();
    std::os::unix::fs::symlink("a.txt", p.join("d/link")).unwrap();
    src
}

#[test]
fn index_mirrors_the_extraction() {
    let src = sample_context();
    // A hard link entry too (the CLI sends them for linked files).
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    tar.append_dir_all(".", src.path()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    tar.append_link(&mut h, "hard", "top.txt").unwrap();
    let tar = tar.into_inner().unwrap();
    let (_t, s) = receive(&tar);
    assert!(s.index().is_some());
    // Nothing extracted yet.
    assert_eq!(std::fs::read_dir(s.dir()).unwrap().count(), 0);
    let from_index = index_view(&s);
    s.extract().unwrap();
    let mut from_fs = BTreeMap::new();
    walk_fs(s.dir(), "", &mut from_fs);
    assert_eq!(from_index, from_fs);
    assert_eq!(s.read_plain("d/sub/run.sh").unwrap(), b"#!/bin/sh\n");
    assert_eq!(s.read_plain("./d/../top.txt").unwrap(), b"top");
    // A symlink is the directory walk's to follow.
    assert_eq!(s.read_plain("d/link"), None);
    assert_eq!(s.read_plain("missing"), None);
}

#[test]
fn a_hostile_tar_is_extracted_right_away_and_stays_inside() {
    let outside = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "esc", outside.path()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(1);
    b.append_data(&mut h, "esc/pwned", &b"x"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let (_t, s) = receive(&tar);
    // Through a symlinked parent: no index, extracted at once, confined.
    assert!(s.index().is_none());
    // Asking for one source then is the confined extraction's result too.
    s.extract_sources(&[b"esc".to_vec()]).unwrap();
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    let inside = s
        .dir()
        .join(outside.path().strip_prefix("/").unwrap())
        .join("pwned");
    assert_eq!(std::fs::read(inside).unwrap(), b"x");
}

#[test]
fn a_repeated_path_drops_the_index() {
    let mut b = tar::Builder::new(Vec::new());
    for body in [&b"one"[..], &b"two"[..]] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        b.append_data(&mut h, "f", body).unwrap();
    }
    let (_t, s) = receive(&b.into_inner().unwrap());
    assert!(s.index().is_none());
    assert_eq!(std::fs::read(s.dir().join("f")).unwrap(), b"two");
}

#[test]
fn ignored_dockerfile_leaves_index_and_directory() {
    let src = sample_context();
    std::fs::write(
        src.path().join(".dockerignore"),
        "Dockerfile\n.dockerignore\n",
    )
    .unwrap();
    let (_t, mut s) = receive(&tar_of(src.path()));
    s.remove_ignored("Dockerfile");
    assert!(s.lookup("Dockerfile").is_none());
    assert!(s.lookup(".dockerignore").is_none());
    assert!(s.lookup("top.txt").is_some());
    s.extract().unwrap();
    assert!(!s.dir().join("Dockerfile").exists());
    assert!(!s.dir().join(".dockerignore").exists());
    assert!(s.dir().join("top.txt").exists());
}

fn key(s: &SpooledContext, sources: &[&str], chown: Option<&str>) -> Option<String> {
    let sources: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
    fast_key(
        s,
        None,
        &FastRequest {
            cmd: "COPY",
            sources: &sources,
            heredocs: &[],
            dest: "/x/",
            dest_abs: "/x/",
            chown,
            chmod: None,
        },
    )
    .map(|k| k.key)
}

fn key_of_ctx(src: &Path, sources: &[&str], chown: Option<&str>) -> Option<String> {
    let (_t, s) = receive(&tar_of(src));
    key(&s, sources, chown)
}

#[test]
fn copy_keys_change_with_content_mode_and_owner_never_mtime() {
    let src = sample_context();
    let p = src.path();
    let k0 = key_of_ctx(p, &["d/"], None).unwrap();
    // mtime only: the same key.
    let f = std::fs::File::options()
        .append(true)
        .open(p.join("d/a.txt"))
        .unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(12345))
        .unwrap();
    drop(f);
    assert_eq!(std::fs::metadata(p.join("d/a.txt")).unwrap().mtime(), 12345);
    assert_eq!(key_of_ctx(p, &["d/"], None).unwrap(), k0);
    // A file outside the source: the same key.
    std::fs::write(p.join("top.txt"), "changed").unwrap();
    assert_eq!(key_of_ctx(p, &["d/"], None).unwrap(), k0);
    // --chown: another key.
    assert_ne!(key_of_ctx(p, &["d/"], Some("1:1")).unwrap(), k0);
    // Mode of a file, of a directory: another key each.
    std::fs::set_permissions(p.join("d/a.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let k1 = key_of_ctx(p, &["d/"], None).unwrap();
    assert_ne!(k1, k0);
    std::fs::set_permissions(p.join("d/sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let k2 = key_of_ctx(p, &["d/"], None).unwrap();
    assert_ne!(k2, k1);
    // Content, same size: another key.
    std::fs::write(p.join("d/a.txt"), "b").unwrap();
    let k3 = key_of_ctx(p, &["d/"], None).unwrap();
    assert_ne!(k3, k2);
    // A symlink's target: another key.
    std::fs::remove_file(p.join("d/link")).unwrap();
    std::os::unix::fs::symlink("sub", p.join("d/link")).unwrap();
    assert_ne!(key_of_ctx(p, &["d/"], None).unwrap(), k3);
    // The same bytes under another source word: another key.
    assert_ne!(
        key_of_ctx(p, &["d/a.txt"], None),
        key_of_ctx(p, &["d/*.txt"], None)
    );
}

#[test]
fn copy_keys_follow_wildcards_and_give_up_on_symlinks() {
    let src = sample_context();
    let p = src.path();
    let k0 = key_of_ctx(p, &["*.txt"], None).unwrap();
    std::fs::write(p.join("new.txt"), "n").unwrap();
    assert_ne!(key_of_ctx(p, &["*.txt"], None).unwrap(), k0);
    // `.` covers everything.
    let all = key_of_ctx(p, &["."], None).unwrap();
    std::fs::write(p.join("d/sub/more"), "m").unwrap();
    assert_ne!(key_of_ctx(p, &["."], None).unwrap(), all);
    // A symlinked source, a path through a symlink, a missing source: no fast key.
    assert_eq!(key_of_ctx(p, &["d/link"], None), None);
    std::os::unix::fs::symlink("d", p.join("dl")).unwrap();
    assert_eq!(key_of_ctx(p, &["dl/a.txt"], None), None);
    assert_eq!(key_of_ctx(p, &["nope"], None), None);
    assert_eq!(key_of_ctx(p, &["../../etc/passwd"], None), None);
    assert_eq!(key_of_ctx(p, &["d/../top.txt"], None), None);
}

/// The executor over the fake, with the context spooled as the daemon does it.
fn build_spooled(
    fake: &Fake,
    cache: &Path,
    src: &Path,
    dockerfile: &str,
) -> (berth_stdx::Digest, String, bool) {
    let t = tempfile::tempdir().unwrap();
    let ctx = t.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    let tar = tar_of(src);
    let s = SpooledContext::receive(&tar[..], &t.path().join("ctx.tar"), &ctx).unwrap();
    let opts = BuildOptions {
        dockerfile: dockerfile.into(),
        dockerfile_name: "Dockerfile".into(),
        context: ctx.clone(),
        spool: Some(Arc::new(s)),
        work_dir: t.path().to_path_buf(),
        ..Default::default()
    };
    let cache = Cache::open(cache).unwrap();
    let mut out = Out::default();
    let id = build(&opts, fake, Some(&cache), &mut out, &Cancel::default()).unwrap();
    let extracted = std::fs::read_dir(&ctx).unwrap().count() > 0;
    (id, out.0, extracted)
}

#[test]
fn a_no_change_rebuild_reads_only_the_index() {
    let fake = Fake::new();
    let cache = tempfile::tempdir().unwrap();
    let src = sample_context();
    let p = src.path();
    let df = "FROM busybox\nCOPY d/ /app/d/\nCOPY --chown=www top.txt /app/\nRUN true\n";
    let (id1, out, extracted) = build_spooled(&fake, cache.path(), p, df);
    assert!(extracted, "a cold build copies from the directory");
    assert!(!out.contains("Using cache"), "{out}");
    let dir = fake.dir(&id1);
    assert_eq!(
        std::fs::read(dir.join("app/d/sub/run.sh")).unwrap(),
        b"#!/bin/sh\n"
    );
    // Nothing changed (but an mtime): every step hits, nothing is extracted.
    let f = std::fs::File::options()
        .append(true)
        .open(p.join("top.txt"))
        .unwrap();
    f.set_modified(std::time::UNIX_EPOCH).unwrap();
    drop(f);
    let (id2, out, extracted) = build_spooled(&fake, cache.path(), p, df);
    assert_eq!(id2, id1);
    assert_eq!(out.matches(" ---> Using cache").count(), 3, "{out}");
    assert!(!extracted);
    // A mode change under d/: the first COPY and everything after it re-run.
    std::fs::set_permissions(p.join("d/a.txt"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let (id3, out, extracted) = build_spooled(&fake, cache.path(), p, df);
    assert_ne!(id3, id1);
    assert_eq!(out.matches(" ---> Using cache").count(), 0, "{out}");
    assert!(extracted);
    let md = std::fs::metadata(fake.dir(&id3).join("app/d/a.txt")).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o640);
    // Another --chown: only that COPY and what follows re-run.
    let df2 = df.replace("--chown=www", "--chown=root");
    let (_, out, _) = build_spooled(&fake, cache.path(), p, &df2);
    assert_eq!(out.matches(" ---> Using cache").count(), 1, "{out}");
}

#[test]
fn a_miss_extracts_only_what_the_step_copies() {
    let src = sample_context();
    std::fs::create_dir(src.path().join("other")).unwrap();
    std::fs::write(src.path().join("other/big"), "not needed").unwrap();
    let (_t, s) = receive(&tar_of(src.path()));
    let (key, _) = s.resolve_source("d/sub").unwrap().unwrap();
    s.extract_sources(&[key]).unwrap();
    let mut got = BTreeMap::new();
    walk_fs(s.dir(), "", &mut got);
    let want: BTreeMap<_, _> = index_view(&s)
        .into_iter()
        .filter(|(k, _)| k.as_slice() == b"d" || k.starts_with(b"d/sub"))
        .collect();
    assert_eq!(got, want);
    let f = s.dir().join("d/sub/run.sh");
    assert_eq!(
        std::fs::metadata(&f).unwrap().mtime(),
        std::fs::metadata(src.path().join("d/sub/run.sh"))
            .unwrap()
            .mtime()
    );
    // The whole tar over a partial extraction gives the full tree.
    s.extract().unwrap();
    let mut got = BTreeMap::new();
    walk_fs(s.dir(), "", &mut got);
    assert_eq!(got, index_view(&s));
}

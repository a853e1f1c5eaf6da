//! Store-level tests: import, save, load, tags, delete/GC, crash recovery, and
//! corrupt archives leaving nothing behind.

use super::*;
use crate::archive::SaveItem;
use crate::config::DockerManifestEntry;
use std::io::{Read, Write};

fn rootfs_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        if name.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, name, &b""[..]).unwrap();
        } else {
            h.set_mode(0o755);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, *data).unwrap();
        }
    }
    b.into_inner().unwrap()
}

fn archive(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn store() -> (tempfile::TempDir, ImageStore) {
    let d = tempfile::tempdir().unwrap();
    let s = ImageStore::open(d.path()).unwrap();
    (d, s)
}

fn import(s: &ImageStore, tar: &[u8], tag: Option<&str>) -> Image {
    let opts = ImportOptions {
        tag: tag.map(|t| Reference::parse(t).unwrap()),
        ..Default::default()
    };
    s.import(&mut &tar[..], &opts).unwrap()
}

/// Everything on disk that is not an image record: blobs, snapshot dirs, ingest files.
fn disk_state(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["content/blobs/sha256", "content/ingest", "snapshots"] {
        for e in fs::read_dir(root.join(dir)).unwrap() {
            out.push(format!(
                "{dir}/{}",
                e.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    out.sort();
    out
}

fn ids(s: &ImageStore) -> Vec<String> {
    let mut v: Vec<String> = s
        .list()
        .iter()
        .map(|i| {
            format!(
                "{} {:?}",
                i.id,
                i.repo_tags.iter().map(|t| t.familiar()).collect::<Vec<_>>()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn import_creates_a_one_layer_image() {
    let (dir, s) = store();
    let tar = rootfs_tar(&[
        ("bin/", b""),
        ("bin/sh", b"#!binary"),
        ("etc/hostname", b"x\n"),
    ]);
    let opts = ImportOptions {
        changes: vec!["CMD [\"/bin/sh\"]".into(), "ENV A=b".into()],
        message: String::new(),
        source: String::new(),
        tag: Some(Reference::parse("mine:v1").unwrap()),
        platform: None,
    };
    let img = s.import(&mut &gzip(&tar)[..], &opts).unwrap();
    assert_eq!(img.repo_tags[0].familiar(), "mine:v1");
    assert_eq!(img.size, 10);
    assert_eq!(img.config.comment.as_deref(), Some("Imported from -"));
    assert_eq!(
        img.config.history[0].comment.as_deref(),
        Some("Imported from -")
    );
    assert_eq!(img.config.os, "linux");
    let cc = img.config.config.as_ref().unwrap();
    assert_eq!(cc.cmd.as_deref().unwrap(), ["/bin/sh"]);
    assert_eq!(cc.env.as_deref().unwrap(), ["A=b"]);
    assert_eq!(img.config.rootfs.diff_ids, vec![Digest::sha256_of(&tar)]);
    // The id is the digest of the config blob.
    assert_eq!(Digest::sha256_of(&s.config_bytes(&img.id).unwrap()), img.id);
    let dirs = s.layer_dirs(&img.id).unwrap();
    assert_eq!(fs::read(dirs[0].join("bin/sh")).unwrap(), b"#!binary");
    // Survives a restart.
    drop(s);
    let s = ImageStore::open(dir.path()).unwrap();
    assert_eq!(s.resolve("mine:v1").unwrap().id, img.id);
    let h = s.history(&img.id).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].id, img.id.to_string());
    assert_eq!(h[0].size, 10);
    assert_eq!(h[0].tags[0].familiar(), "mine:v1");
}

#[test]
fn bad_change_is_rejected_before_reading() {
    let (dir, s) = store();
    let opts = ImportOptions {
        changes: vec!["RUN make".into()],
        ..Default::default()
    };
    let err = s.import(&mut &b"not read"[..], &opts).unwrap_err();
    assert_eq!(err.to_string(), "run is not a valid change command");
    assert_eq!(err.kind(), berth_stdx::ErrorKind::InvalidArgument);
    assert!(disk_state(dir.path()).is_empty());
}

#[test]
fn resolve_follows_dockers_order() {
    let (_d, s) = store();
    let a = import(&s, &rootfs_tar(&[("a", b"1")]), Some("busybox"));
    let b = import(&s, &rootfs_tar(&[("b", b"2")]), None);
    assert_eq!(s.resolve("busybox").unwrap().id, a.id);
    assert_eq!(
        s.resolve("docker.io/library/busybox:latest").unwrap().id,
        a.id
    );
    assert_eq!(s.resolve(&a.id.to_string()).unwrap().id, a.id);
    assert_eq!(s.resolve(a.id.hex()).unwrap().id, a.id);
    assert_eq!(s.resolve(&b.id.hex()[..12]).unwrap().id, b.id);
    assert_eq!(
        s.resolve(&format!("sha256:{}", &b.id.hex()[..5]))
            .unwrap()
            .id,
        b.id
    );
    // Find the longest common prefix: an ambiguous prefix is not found.
    let common: String =
        a.id.hex()
            .chars()
            .zip(b.id.hex().chars())
            .take_while(|(x, y)| x == y)
            .map(|(x, _)| x)
            .collect();
    if !common.is_empty() {
        assert!(s.resolve(&common).is_err());
    }
    let err = s.resolve("nope").unwrap_err();
    assert_eq!(err.to_string(), "No such image: nope");
    assert_eq!(err.kind(), berth_stdx::ErrorKind::NotFound);
}

#[test]
fn tag_untag_delete_and_gc() {
    let (dir, s) = store();
    let tar = rootfs_tar(&[("f", b"data")]);
    let a = import(&s, &tar, Some("a:1"));
    let moved_from = s.tag(&a.id, &Reference::parse("b").unwrap()).unwrap();
    assert_eq!(moved_from, None);
    let b = import(&s, &rootfs_tar(&[("g", b"other")]), None);
    // The tag moves to b and reports where it came from.
    assert_eq!(
        s.tag(&b.id, &Reference::parse("b").unwrap()).unwrap(),
        Some(a.id.clone())
    );
    assert_eq!(s.untag(&Reference::parse("b").unwrap()).unwrap(), b.id);
    assert!(s.untag(&Reference::parse("b").unwrap()).is_err());
    let before = disk_state(dir.path());
    let out = s.delete(&a.id).unwrap();
    assert_eq!(out.untagged, vec![Reference::parse("a:1").unwrap()]);
    assert_eq!(
        out.deleted,
        vec![a.id.clone(), a.config.rootfs.diff_ids[0].clone()]
    );
    let after = disk_state(dir.path());
    // a's config, layer blob and snapshot are gone; b's are kept.
    assert_eq!(before.len() - after.len(), 3, "{before:?} {after:?}");
    assert!(s.layer_dirs(&b.id).unwrap()[0].join("g").is_file());
    assert!(s.get(&a.id).is_err());
    let u = s.usage().unwrap();
    assert_eq!(u.images.len(), 1);
    assert_eq!(u.layers_size, 5);
}

#[test]
fn shared_layers_are_counted_and_kept() {
    let (_d, s) = store();
    let tar = rootfs_tar(&[("f", b"shared")]);
    let a = import(&s, &tar, Some("a"));
    let opts = ImportOptions {
        message: "second".into(),
        ..Default::default()
    };
    let b = s.import(&mut &tar[..], &opts).unwrap();
    assert_ne!(a.id, b.id);
    let u = s.usage().unwrap();
    assert_eq!(u.layers_size, 6);
    assert!(
        u.images
            .iter()
            .all(|i| i.shared_size == 6 && i.unique_size == 0)
    );
    // The shared layer stays, so only the image id is reported.
    assert_eq!(s.delete(&a.id).unwrap().deleted, vec![a.id.clone()]);
    assert!(s.layer_dirs(&b.id).unwrap()[0].join("f").is_file());
}

fn entries_of(tar: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut ar = tar::Archive::new(tar);
    let mut out = HashMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(name, data);
    }
    out
}

#[test]
fn save_then_load_into_a_fresh_store() {
    let (_d, s) = store();
    let a = import(
        &s,
        &rootfs_tar(&[("bin/", b""), ("bin/a", b"aaa")]),
        Some("app:1"),
    );
    s.tag(&a.id, &Reference::parse("app:2").unwrap()).unwrap();
    let b = import(&s, &rootfs_tar(&[("b", b"bbb")]), None);
    let mut out = Vec::new();
    s.save(
        &[
            SaveItem::Tag(Reference::parse("app:1").unwrap()),
            SaveItem::Tag(Reference::parse("app:2").unwrap()),
            SaveItem::Id(b.id.clone()),
        ],
        &mut out,
    )
    .unwrap();
    let files = entries_of(&out);
    for f in ["manifest.json", "index.json", "oci-layout", "repositories"] {
        assert!(files.contains_key(f), "{f} missing");
    }
    let m: Vec<DockerManifestEntry> = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].repo_tags.as_ref().unwrap(), &["app:1", "app:2"]);
    assert_eq!(m[0].config, format!("blobs/sha256/{}", a.id.hex()));
    assert_eq!(m[1].repo_tags, None);
    let idx: crate::config::Index = serde_json::from_slice(&files["index.json"]).unwrap();
    assert_eq!(idx.manifests.len(), 3);
    assert_eq!(
        idx.manifests[0].annotations.as_ref().unwrap()["io.containerd.image.name"],
        "docker.io/library/app:1"
    );
    // Layers are the uncompressed tars named by their diff ids.
    let layer = &files[&m[0].layers[0]];
    assert_eq!(Digest::sha256_of(layer), a.config.rootfs.diff_ids[0]);

    let (_d2, fresh) = store();
    let mut events = Vec::new();
    let loaded = fresh.load(&mut &out[..], &mut |p| events.push(p)).unwrap();
    assert_eq!(loaded.len(), 2);
    assert_eq!(loaded[0].id, a.id);
    assert_eq!(loaded[1].id, b.id);
    assert_eq!(ids(&fresh), ids(&s));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, LoadProgress::Layer { .. }))
    );
    assert!(fresh.layer_dirs(&a.id).unwrap()[0].join("bin/a").is_file());

    // Loading the same archive again (also compressed) changes nothing.
    fresh
        .load(
            &mut &zstd::encode_all(&out[..], 1).unwrap()[..],
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(ids(&fresh), ids(&s));

    // An OCI-only view of the same archive (no manifest.json) loads the same images.
    let mut b2 = tar::Builder::new(Vec::new());
    for (name, data) in &files {
        if name == "manifest.json" || name == "repositories" || name.ends_with('/') {
            continue;
        }
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b2.append_data(&mut h, name, &data[..]).unwrap();
    }
    let oci = b2.into_inner().unwrap();
    let (_d3, third) = store();
    third.load(&mut &oci[..], &mut |_| {}).unwrap();
    assert_eq!(ids(&third), ids(&s));
}

/// A Docker 1.10-24 style archive: `<id>.json`, `<v1id>/layer.tar`, a second image
/// whose layer is a symlink to the first one's, the whole thing gzipped.
fn legacy_archive(layer: &[u8], corrupt_second: bool) -> (Vec<u8>, Digest) {
    let diff = Digest::sha256_of(layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},"created":"2020-01-01T00:00:00Z","rootfs":{{"type":"layers","diff_ids":["{diff}","{diff}"]}},"history":[{{"created_by":"ADD a"}},{{"created_by":"ADD b"}}]}}"#
    );
    let id = Digest::sha256_of(config.as_bytes());
    let manifest = format!(
        r#"[{{"Config":"{hex}.json","RepoTags":["legacy:1"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}}]"#,
        hex = id.hex()
    );
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("aaa/layer.tar", layer);
    add(&format!("{}.json", id.hex()), config.as_bytes());
    if corrupt_second {
        let mut other = layer.to_vec();
        other[0] ^= 1;
        add("bbb/layer.tar", &other);
    } else {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, "bbb/layer.tar", "../aaa/layer.tar")
            .unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "manifest.json", manifest.as_bytes())
        .unwrap();
    (gzip(&b.into_inner().unwrap()), id)
}

#[test]
fn loads_legacy_docker_archives_with_symlinked_layers() {
    let (_d, s) = store();
    let layer = rootfs_tar(&[("etc/os-release", b"legacy")]);
    let (ar, id) = legacy_archive(&layer, false);
    let loaded = s.load(&mut &ar[..], &mut |_| {}).unwrap();
    assert_eq!(loaded[0].id, id);
    assert_eq!(loaded[0].tags[0].familiar(), "legacy:1");
    let img = s.get(&id).unwrap();
    assert_eq!(img.size, 12);
    let h = s.history(&id).unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].created_by, "ADD b");
}

#[test]
fn oci_layout_with_gzip_layers_and_nested_index() {
    let (_d, s) = store();
    let layer = rootfs_tar(&[("hello", b"world")]);
    let gz = gzip(&layer);
    let diff = Digest::sha256_of(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#
    );
    let cd = Digest::sha256_of(config.as_bytes());
    let ld = Digest::sha256_of(&gz);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        gz.len()
    );
    let md = Digest::sha256_of(manifest.as_bytes());
    let (os, arch) = crate::import::host_platform();
    let nested = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":1,"platform":{{"architecture":"s390x","os":"linux"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"platform":{{"architecture":"{arch}","os":"{os}"}}}}]}}"#,
        "0".repeat(64),
        manifest.len()
    );
    let nd = Digest::sha256_of(nested.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{nd}","size":{},"annotations":{{"io.containerd.image.name":"quay.io/x/y:z","org.opencontainers.image.ref.name":"z"}}}}]}}"#,
        nested.len()
    );
    let ar = archive(&[
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        (&format!("blobs/sha256/{}", ld.hex()), gz.clone()),
        (&format!("blobs/sha256/{}", cd.hex()), config.into_bytes()),
        (&format!("blobs/sha256/{}", md.hex()), manifest.into_bytes()),
        (&format!("blobs/sha256/{}", nd.hex()), nested.into_bytes()),
        ("index.json", index.into_bytes()),
    ]);
    let loaded = s.load(&mut &ar[..], &mut |_| {}).unwrap();
    assert_eq!(loaded[0].id, cd);
    assert_eq!(loaded[0].tags[0].to_string(), "quay.io/x/y:z");
    let img = s.get(&cd).unwrap();
    assert_eq!(img.manifest_digest, Some(md));
    assert_eq!(
        fs::read(s.layer_dirs(&cd).unwrap()[0].join("hello")).unwrap(),
        b"world"
    );
}

#[test]
fn corrupt_archives_leave_nothing_behind() {
    let (dir, s) = store();
    import(&s, &rootfs_tar(&[("pre", b"existing")]), Some("pre"));
    let before_ids = ids(&s);
    let before_disk = disk_state(dir.path());
    let layer = rootfs_tar(&[("etc/os-release", b"legacy")]);

    let check = |ar: &[u8], want: &str| {
        let err = s.load(&mut &ar[..], &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains(want), "{err} (want {want})");
        assert_eq!(err.kind(), berth_stdx::ErrorKind::InvalidArgument, "{err}");
        assert_eq!(ids(&s), before_ids);
        assert_eq!(disk_state(dir.path()), before_disk);
    };
    // Layer 2 does not match its diff id.
    let (bad, _) = legacy_archive(&layer, true);
    check(&bad, "load: layer 2 of legacy:1 does not match its diff_id");
    // Truncated gzip.
    let (good, _) = legacy_archive(&layer, false);
    check(&good[..good.len() / 2], "invalid or truncated archive");
    // Truncated plain tar, mid-file.
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&good[..])
        .read_to_end(&mut plain)
        .unwrap();
    check(&plain[..1536], "invalid or truncated archive");
    // Manifest names a missing file.
    let ar = archive(&[(
        "manifest.json",
        br#"[{"Config":"abc.json","RepoTags":["x:1"],"Layers":["abc/layer.tar"]}]"#.to_vec(),
    )]);
    check(&ar, r#"load: manifest names missing file "abc.json""#);
    let config = br#"{"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;
    let ar = archive(&[
        ("c.json", config.to_vec()),
        (
            "manifest.json",
            br#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["abc/layer.tar"]}]"#.to_vec(),
        ),
    ]);
    check(&ar, r#"load: manifest names missing file "abc/layer.tar""#);
    // Not an archive at all / no manifest.
    check(b"hello world, this is not a tar", "");
    check(
        &archive(&[("x", b"y".to_vec())]),
        "no manifest.json or index.json",
    );
    // A hostile layer inside an otherwise valid archive.
    let mut evil = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_old_mut().name[..9].copy_from_slice(b"../escape");
    h.set_cksum();
    evil.append(&h, &b"x"[..]).unwrap();
    let evil = evil.into_inner().unwrap();
    let diff = Digest::sha256_of(&evil);
    let config = format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#);
    let ar = archive(&[
        ("l.tar", evil),
        ("c.json", config.into_bytes()),
        (
            "manifest.json",
            br#"[{"Config":"c.json","RepoTags":["evil:1"],"Layers":["l.tar"]}]"#.to_vec(),
        ),
    ]);
    let err = s.load(&mut &ar[..], &mut |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("outside of the layer root"),
        "{err}"
    );
    assert_eq!(ids(&s), before_ids);
    assert!(!dir.path().join("escape").exists());
    // The layer blob committed before unpacking failed was collected.
    assert_eq!(disk_state(dir.path()), before_disk);
}

#[test]
fn open_repairs_a_crashed_store() {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    let good = import(&s, &rootfs_tar(&[("ok", b"1")]), Some("good"));
    let bad = import(&s, &rootfs_tar(&[("bad", b"2")]), Some("bad"));
    let orphan = import(&s, &rootfs_tar(&[("orphan", b"3")]), None);
    drop(s);
    let root = dir.path();
    // An ingest file mid-write, a temp snapshot, a snapshot without ready marker.
    fs::write(root.join("content/ingest/0123abcd"), b"partial").unwrap();
    fs::create_dir_all(root.join("snapshots/.tmp-dead/fs/usr")).unwrap();
    let unready = Digest::sha256_of(b"unready");
    fs::create_dir_all(root.join("snapshots").join(unready.hex()).join("fs")).unwrap();
    // A record whose config blob is gone, and an atomic-write temp file.
    fs::remove_file(root.join("content/blobs/sha256").join(bad.id.hex())).unwrap();
    fs::write(root.join("images/.tags.json.tmp-1"), b"{").unwrap();
    // A record whose snapshot is gone.
    let l = &orphan.config.rootfs.diff_ids[0];
    fs::remove_dir_all(root.join("snapshots").join(l.hex())).unwrap();

    let s = ImageStore::open(root).unwrap();
    assert_eq!(ids(&s), vec![format!("{} [\"good:latest\"]", good.id)]);
    assert!(s.resolve("bad").is_err());
    assert_eq!(
        fs::read_dir(root.join("content/ingest")).unwrap().count(),
        0
    );
    // Only the good image's config + layer blobs and its snapshot remain.
    let disk = disk_state(root);
    assert_eq!(disk.len(), 3, "{disk:?}");
    assert!(!root.join("images/.tags.json.tmp-1").exists());
    assert!(
        !root
            .join("images")
            .join(format!("{}.json", bad.id.hex()))
            .exists()
    );
    // The same import succeeds again after the repair.
    let again = import(&s, &rootfs_tar(&[("bad", b"2")]), Some("bad"));
    assert_eq!(s.resolve("bad").unwrap().id, again.id);
}

/// Child side of `kill_9_mid_load`: loads stdin into the store at `BERTH_CHILD_ROOT`.
/// Not a test of its own: the crash test runs this test binary with `--ignored --exact`
/// as the process it kills, so the load runs in a process that can die mid-write.
#[test]
#[ignore = "child process of kill_9_mid_load_leaves_a_consistent_store"]
fn child_load_from_stdin() {
    let Ok(root) = std::env::var("BERTH_CHILD_ROOT") else {
        return;
    };
    let s = ImageStore::open(Path::new(&root)).unwrap();
    let loaded = s.load(&mut std::io::stdin().lock(), &mut |_| {}).unwrap();
    assert!(!loaded.is_empty());
}

#[test]
fn kill_9_mid_load_leaves_a_consistent_store() {
    use std::process::{Command, Stdio};
    // Source archive: two images, a few MiB of layers.
    let (_src_dir, src) = store();
    let big: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    import(
        &src,
        &rootfs_tar(&[("big", &big), ("a", b"1")]),
        Some("one"),
    );
    import(
        &src,
        &rootfs_tar(&[("big2", &big[..3 << 20]), ("b", b"2")]),
        Some("two"),
    );
    let mut ar = Vec::new();
    src.save(
        &[
            SaveItem::Tag(Reference::parse("one").unwrap()),
            SaveItem::Tag(Reference::parse("two").unwrap()),
        ],
        &mut ar,
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    // Cut at several points: mid-spool (the child is blocked reading), and after the
    // whole archive is written (killed somewhere in verification or commit).
    for cut in [ar.len() / 3, ar.len() * 2 / 3, ar.len()] {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "store::tests::child_load_from_stdin",
                "--ignored",
                "--quiet",
            ])
            .env("BERTH_CHILD_ROOT", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(&ar[..cut]);
        std::thread::sleep(std::time::Duration::from_millis(if cut == ar.len() {
            5
        } else {
            200
        }));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        drop(stdin);

        let s = ImageStore::open(dir.path()).unwrap();
        assert_eq!(
            fs::read_dir(dir.path().join("content/ingest"))
                .unwrap()
                .count(),
            0
        );
        for img in s.list() {
            for d in s.layer_dirs(&img.id).unwrap() {
                assert!(d.parent().unwrap().join("ready").is_file());
            }
            assert_eq!(Digest::sha256_of(&s.config_bytes(&img.id).unwrap()), img.id);
        }
        for name in fs::read_dir(dir.path().join("snapshots")).unwrap() {
            assert!(
                !name
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".tmp-")
            );
        }
    }
    // And the same load now succeeds.
    let s = ImageStore::open(dir.path()).unwrap();
    s.load(&mut &ar[..], &mut |_| {}).unwrap();
    assert_eq!(ids(&s), ids(&src));
    // GC after a full load keeps exactly what the images use.
    assert_eq!(s.gc().unwrap(), GcReport::default());
}

#[test]
fn failed_imports_leave_nothing_behind() {
    let (dir, s) = store();
    let tar = rootfs_tar(&[("f", &[3u8; 50_000]), ("g", b"x")]);
    let gz = gzip(&tar);
    for bad in [
        &gz[..gz.len() / 2],
        &tar[..2048],
        b"\x1f\x8bnot gzip at all",
    ] {
        let err = s
            .import(&mut &bad[..], &ImportOptions::default())
            .unwrap_err();
        assert_eq!(err.kind(), berth_stdx::ErrorKind::InvalidArgument, "{err}");
        assert!(s.list().is_empty());
        assert!(
            disk_state(dir.path()).is_empty(),
            "{:?}",
            disk_state(dir.path())
        );
    }
    // A hostile layer is refused the same way.
    let mut evil = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_old_mut().name[..12].copy_from_slice(b"../../escape");
    h.set_cksum();
    evil.append(&h, &b"x"[..]).unwrap();
    let evil = evil.into_inner().unwrap();
    assert!(s.import(&mut &evil[..], &ImportOptions::default()).is_err());
    assert!(disk_state(dir.path()).is_empty());
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn loads_pre_1_10_archives_from_repositories() {
    let (_d, s) = store();
    let base = "a".repeat(64);
    let top = "b".repeat(64);
    let layer = rootfs_tar(&[("bin/sh", b"sh")]);
    let empty = rootfs_tar(&[]);
    let base_json = format!(
        r##"{{"id":"{base}","created":"2015-01-01T00:00:00Z","container_config":{{"Cmd":["/bin/sh","-c","#(nop) ADD file:x in /"]}},"architecture":"amd64","os":"linux","Size":2}}"##
    );
    let top_json = format!(
        r##"{{"id":"{top}","parent":"{base}","created":"2015-01-02T00:00:00Z","container_config":{{"Cmd":["/bin/sh","-c","#(nop) CMD [\"sh\"]"]}},"config":{{"Cmd":["sh"]}},"docker_version":"1.9.1","architecture":"amd64","os":"linux","Size":0}}"##
    );
    let repos = format!(r#"{{"old":{{"1.9":"{top}"}}}}"#);
    let ar = archive(&[
        (&format!("{base}/VERSION"), b"1.0".to_vec()),
        (&format!("{base}/json"), base_json.into_bytes()),
        (&format!("{base}/layer.tar"), layer.clone()),
        (&format!("{top}/json"), top_json.into_bytes()),
        (&format!("{top}/layer.tar"), empty.clone()),
        ("repositories", repos.into_bytes()),
    ]);
    let loaded = s.load(&mut &gzip(&ar)[..], &mut |_| {}).unwrap();
    assert_eq!(loaded[0].tags[0].familiar(), "old:1.9");
    let img = s.get(&loaded[0].id).unwrap();
    assert_eq!(
        img.config.rootfs.diff_ids,
        vec![Digest::sha256_of(&layer), Digest::sha256_of(&empty)]
    );
    assert_eq!(
        img.config.config.as_ref().unwrap().cmd.as_deref().unwrap(),
        ["sh"]
    );
    assert!(img.config.extra.contains_key("docker_version"));
    assert!(!img.config.extra.contains_key("id") && !img.config.extra.contains_key("parent"));
    let h = s.history(&img.id).unwrap();
    assert_eq!(h[0].created_by, "/bin/sh -c #(nop) CMD [\"sh\"]");
    assert_eq!(h[1].size, 2);
    assert!(s.layer_dirs(&img.id).unwrap()[0].join("bin/sh").is_file());
    // A parent missing from the archive is a clear error.
    let broken = archive(&[
        (
            &format!("{top}/json"),
            format!(r#"{{"id":"{top}","parent":"{base}"}}"#).into_bytes(),
        ),
        (&format!("{top}/layer.tar"), empty),
        (
            "repositories",
            format!(r#"{{"x":{{"1":"{top}"}}}}"#).into_bytes(),
        ),
    ]);
    let err = s.load(&mut &broken[..], &mut |_| {}).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("load: manifest names missing file \"{base}/json\"")
    );
}

//! Pulled layers: both digests verified, leases survive a restart, sources recorded.

use super::*;
use std::io::Write;

fn layer_tar(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn config_for(diffs: &[Digest]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diffs},
    }))
    .unwrap()
}

#[test]
fn pull_layer_verifies_both_digests_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    let tar = layer_tar("hello", b"world");
    let gz = gzip(&tar);
    let diff = Digest::sha256_of(&tar);
    let blob = Digest::sha256_of(&gz);
    let chain = ImageStore::chain_ids(std::slice::from_ref(&diff))[0].clone();

    // A wrong compressed digest stores nothing.
    let wrong = Digest::sha256_of(b"other");
    let err = s
        .pull_layer(&mut &gz[..], &wrong, &diff, &chain, None)
        .unwrap_err();
    assert!(err.to_string().contains("verification failed"), "{err}");
    assert!(!s.has_layer(&diff, &chain));
    // A wrong diff id stores nothing either.
    let err = s
        .pull_layer(&mut &gz[..], &blob, &wrong, &chain, None)
        .unwrap_err();
    assert!(err.to_string().contains("diff id"), "{err}");
    assert!(!s.has_layer(&diff, &chain));

    let config = config_for(std::slice::from_ref(&diff));
    let config_digest = Digest::sha256_of(&config);
    let manifest = b"{\"schemaVersion\":2}".to_vec();
    let manifest_digest = Digest::sha256_of(&manifest);
    let lease = s
        .pull_lease(
            &config_digest,
            &manifest_digest,
            std::slice::from_ref(&diff),
        )
        .unwrap();
    s.pull_layer(&mut &gz[..], &blob, &diff, &chain, None)
        .unwrap();
    assert!(s.has_layer(&diff, &chain));

    // A restart (open runs GC) keeps the leased layer: the pull can resume.
    drop(s);
    let s = ImageStore::open(dir.path()).unwrap();
    assert!(s.has_layer(&diff, &chain), "lease protects the layer");

    let id = s
        .commit_pulled(&PulledImage {
            config,
            config_digest: config_digest.clone(),
            manifest,
            manifest_digest,
            diff_ids: vec![diff.clone()],
            tag: Some(Reference::parse("127.0.0.1:5000/x:1").unwrap()),
            repo_digest: format!("127.0.0.1:5000/x@{blob}"),
        })
        .unwrap();
    drop(lease);
    assert_eq!(id, config_digest);
    let img = s.resolve("127.0.0.1:5000/x:1").unwrap();
    assert_eq!(img.repo_digests, vec![format!("127.0.0.1:5000/x@{blob}")]);
    assert_eq!(s.push_layers(&id).unwrap()[0].diff_id, diff);
    assert!(s.gc().unwrap().blobs_removed.is_empty());
}

#[test]
fn unleased_partial_pull_is_collected_and_sources_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = ImageStore::open(dir.path()).unwrap();
    let tar = layer_tar("a", b"b");
    let diff = Digest::sha256_of(&tar);
    let chain = diff.clone();
    s.pull_layer(&mut &tar[..], &diff, &diff, &chain, None)
        .unwrap();
    assert!(s.has_layer(&diff, &chain));
    s.gc().unwrap();
    assert!(!s.has_layer(&diff, &chain), "nothing holds it");

    let src = BlobSource {
        digest: Digest::sha256_of(b"gz"),
        size: 2,
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
        registry: "127.0.0.1:5000".into(),
        repository: "a/b".into(),
    };
    s.add_blob_source(&diff, src.clone()).unwrap();
    s.add_blob_source(&diff, src.clone()).unwrap();
    assert_eq!(s.blob_sources(&diff), vec![src]);
}

//! Garbage collection, online and offline, and the one-server-per-data-root lock.

mod common;
use common::*;
use std::sync::Arc;

#[tokio::test]
async fn gc_removes_only_unlinked_blobs() {
    let reg = start().await;
    let (_, md) = reg.push_image("keep", "v1", b"kept layer").await;
    let gone = reg.push_blob("drop", b"dropped layer").await;
    let r = reg
        .client
        .delete(reg.u(&format!("/v2/drop/blobs/{gone}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let report = reg.server.gc().await.unwrap();
    assert_eq!(report.blobs_removed, 1);
    assert_eq!(report.bytes_freed, b"dropped layer".len() as u64);
    let r = reg
        .client
        .get(reg.u(&format!("/v2/keep/manifests/{md}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ld = digest(b"kept layer");
    let r = reg
        .client
        .get(reg.u(&format!("/v2/keep/blobs/{ld}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), &b"kept layer"[..]);
    // A blob still linked elsewhere survives the deletion of one link.
    let shared = reg.push_blob("one", b"shared").await;
    reg.push_blob("two", b"shared").await;
    reg.client
        .delete(reg.u(&format!("/v2/one/blobs/{shared}")))
        .send()
        .await
        .unwrap();
    assert_eq!(reg.server.gc().await.unwrap().blobs_removed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_while_pushing_loses_nothing() {
    let reg = Arc::new(start().await);
    let mut tasks = Vec::new();
    for i in 0..20u32 {
        let reg = reg.clone();
        tasks.push(tokio::spawn(async move {
            let layer = format!("layer {i}").repeat(10_000);
            reg.push_image(&format!("r{i}"), "v1", layer.as_bytes())
                .await;
        }));
    }
    for _ in 0..10 {
        reg.server.gc().await.unwrap();
        tokio::task::yield_now().await;
    }
    for t in tasks {
        t.await.unwrap();
    }
    reg.server.gc().await.unwrap();
    for i in 0..20u32 {
        let layer = format!("layer {i}").repeat(10_000);
        let r = reg
            .client
            .get(reg.u(&format!("/v2/r{i}/blobs/{}", digest(layer.as_bytes()))))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "r{i}");
        let r = reg
            .client
            .get(reg.u(&format!("/v2/r{i}/manifests/v1")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "r{i}");
    }
}

#[tokio::test]
async fn one_server_per_data_root_and_offline_gc() {
    let reg = start().await;
    let root = reg.dir.path().join("data");
    let second = berth_registry::start(berth_registry::Config {
        addr: "127.0.0.1:0".into(),
        data_root: root.clone(),
        ..Default::default()
    })
    .await;
    let err = second.err().unwrap().to_string();
    assert!(err.contains("another registry"), "{err}");
    assert!(berth_registry::garbage_collect(&root).is_err());
    reg.push_blob("x", b"linked").await;
    let d = reg.push_blob("y", b"unlinked").await;
    reg.client
        .delete(reg.u(&format!("/v2/y/blobs/{d}")))
        .send()
        .await
        .unwrap();
    let Reg { server, dir, .. } = reg;
    server.shutdown().await;
    let report = berth_registry::garbage_collect(&dir.path().join("data")).unwrap();
    assert_eq!(report.blobs_removed, 1);
}

//! Hostile and erroneous requests: each gets the spec's error code and leaves
//! nothing behind.

mod common;
use common::*;
use std::sync::Arc;

fn blob_files(reg: &Reg) -> usize {
    let dir = reg.dir.path().join("data/content/blobs/sha256");
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn digest_mismatch_stores_nothing() {
    let reg = start().await;
    let wrong = digest(b"something else");
    let r = reg
        .client
        .post(reg.u(&format!("/v2/x/blobs/uploads/?digest={wrong}")))
        .body(&b"actual data"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    // Same through a session.
    let r = reg
        .client
        .post(reg.u("/v2/x/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = reg
        .client
        .put(reg.u(&format!("{loc}?digest={wrong}")))
        .body(&b"actual data"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    assert_eq!(blob_files(&reg), 0);
    let ingest = reg.dir.path().join("data/content/ingest");
    assert_eq!(std::fs::read_dir(ingest).unwrap().count(), 0);
    let r = reg
        .client
        .get(reg.u(&format!("/v2/x/blobs/{}", digest(b"actual data"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn malformed_digests() {
    let reg = start().await;
    for d in ["sha256:xyz", "md5:abc", "sha256:../../etc", "nocolon"] {
        let r = reg
            .client
            .get(reg.u(&format!("/v2/x/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{d}");
        assert_eq!(error_code(r).await, "DIGEST_INVALID");
    }
    let r = reg
        .client
        .post(reg.u("/v2/x/blobs/uploads/?digest=sha256:nothex"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
}

#[tokio::test]
async fn manifest_naming_unpushed_blobs() {
    let reg = start().await;
    let cd = reg.push_blob("m", b"{}").await;
    let missing = digest(b"never pushed");
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": missing.to_string(), "size": 1}],
    });
    let r = reg
        .put_manifest("m", "v1", OCI_MANIFEST, &serde_json::to_vec(&m).unwrap())
        .await;
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(v["errors"][0]["detail"]["digest"], missing.to_string());
    // A blob of another repository does not count either.
    let other = reg.push_blob("elsewhere", b"never pushed").await;
    assert_eq!(other, missing);
    let r = reg
        .put_manifest("m", "v1", OCI_MANIFEST, &serde_json::to_vec(&m).unwrap())
        .await;
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    // An index naming an unknown manifest.
    let idx = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": missing.to_string(), "size": 1}]});
    let r = reg
        .put_manifest("m", "i", OCI_INDEX, &serde_json::to_vec(&idx).unwrap())
        .await;
    assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
    let r = reg
        .client
        .get(reg.u("/v2/m/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A foreign layer (fetched from its urls) need not be pushed.
    let foreign = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                    "digest": missing.to_string(), "size": 1, "urls": ["https://example.com/l"]}],
    });
    let r = reg
        .put_manifest(
            "m",
            "foreign",
            OCI_MANIFEST,
            &serde_json::to_vec(&foreign).unwrap(),
        )
        .await;
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn bad_manifests() {
    let reg = start().await;
    // Malformed JSON, a non-object, a bad descriptor digest.
    for body in [
        &b"{not json"[..],
        b"[1,2]",
        br#"{"schemaVersion":2,"layers":[{"digest":"sha256:zz"}]}"#,
    ] {
        let r = reg.put_manifest("m", "v1", OCI_MANIFEST, body).await;
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    }
    // Over 4 MiB: refused by Content-Length before the body is read.
    let mut big = br#"{"schemaVersion":2,"annotations":{"a":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 4 << 20));
    big.extend(br#""}}"#);
    let r = reg.put_manifest("m", "big", OCI_MANIFEST, &big).await;
    assert_eq!(r.status(), 413);
    // ... and by counting when streamed without a length.
    let stream = futures_util::stream::iter(
        big.chunks(1 << 20)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let r = reg
        .client
        .put(reg.u("/v2/m/manifests/big"))
        .header("content-type", OCI_MANIFEST)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // A digest reference that does not match the body.
    let r = reg
        .put_manifest("m", &digest(b"other").to_string(), OCI_MANIFEST, b"{}")
        .await;
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    // Invalid tags.
    let r = reg.put_manifest("m", ".hidden", OCI_MANIFEST, b"{}").await;
    assert_eq!(r.status(), 400);
    assert_eq!(blob_files(&reg), 0);
}

#[tokio::test]
async fn traversal_names_are_rejected() {
    let reg = start().await;
    // Sent raw (reqwest would normalise dot segments in a URL it parses, so use a
    // plain TCP request).
    for path in [
        "/v2/a/../b/tags/list",
        "/v2/..%2f..%2fetc/tags/list",
        "/v2/a/%2e%2e/b/manifests/latest",
        "/v2/UPPER/tags/list",
        "/v2/a/_layers/tags/list",
        "/v2/a//b/blobs/uploads/",
    ] {
        let resp = raw_request(&reg, "GET", path).await;
        assert!(resp.starts_with("HTTP/1.1 400"), "{path}: {resp}");
        assert!(resp.contains("NAME_INVALID"), "{path}: {resp}");
    }
    assert!(!reg.dir.path().join("b").exists());
    assert!(!reg.dir.path().join("data/b").exists());
}

async fn raw_request(reg: &Reg, method: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(reg.server.local_addr())
        .await
        .unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn unknown_upload_ids() {
    let reg = start().await;
    for id in ["0123456789abcdef0123456789abcdef", "..%2f..%2fetc", "zz"] {
        for m in ["GET", "PATCH", "PUT", "DELETE"] {
            let resp = raw_request(&reg, m, &format!("/v2/x/blobs/uploads/{id}")).await;
            assert!(resp.contains("BLOB_UPLOAD_UNKNOWN"), "{m} {id}: {resp}");
        }
    }
    // A real session of another repository is unknown here.
    let r = reg
        .client
        .post(reg.u("/v2/x/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let uuid = r.headers()["docker-upload-uuid"]
        .to_str()
        .unwrap()
        .to_string();
    let r = reg
        .client
        .get(reg.u(&format!("/v2/y/blobs/uploads/{uuid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn unknown_things_are_404() {
    let reg = start().await;
    reg.push_image("known", "v1", b"x").await;
    let r = reg
        .client
        .get(reg.u("/v2/unknown/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
    let r = reg
        .client
        .get(reg.u("/v2/known/manifests/v2"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    let r = reg
        .client
        .get(reg.u(&format!("/v2/known/blobs/{}", digest(b"nope"))))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_pushes_of_one_large_blob() {
    let reg = Arc::new(start().await);
    let data: Arc<Vec<u8>> = Arc::new((0..24u32 << 20).map(|i| (i * 7 % 253) as u8).collect());
    let d = digest(&data);
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (reg, data, d) = (reg.clone(), data.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            // half monolithic, half chunked sessions
            if i % 2 == 0 {
                let r = reg
                    .client
                    .post(reg.u(&format!("/v2/same/blobs/uploads/?digest={d}")))
                    .body(data.to_vec())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            } else {
                let r = reg
                    .client
                    .post(reg.u("/v2/same/blobs/uploads/"))
                    .send()
                    .await
                    .unwrap();
                let mut loc = r.headers()["location"].to_str().unwrap().to_string();
                for c in data.chunks(5 << 20) {
                    let r = reg
                        .client
                        .patch(reg.u(&loc))
                        .body(c.to_vec())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 202);
                    loc = r.headers()["location"].to_str().unwrap().to_string();
                }
                let r = reg
                    .client
                    .put(reg.u(&format!("{loc}?digest={d}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(blob_files(&reg), 1);
    let got = reg
        .client
        .get(reg.u(&format!("/v2/same/blobs/{d}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(got == data.as_slice());
    let ingest = reg.dir.path().join("data/content/ingest");
    assert_eq!(std::fs::read_dir(ingest).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_blob_gets() {
    let reg = Arc::new(start().await);
    let data: Arc<Vec<u8>> = Arc::new((0..4u32 << 20).map(|i| (i % 241) as u8).collect());
    let d = reg.push_blob("g", &data).await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (reg, data, d) = (reg.clone(), data.clone(), d.clone());
        tasks.push(tokio::spawn(async move {
            let got = reg
                .client
                .get(reg.u(&format!("/v2/g/blobs/{d}")))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert!(got == data.as_slice());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn upload_sessions_are_bounded() {
    let reg = start().await;
    let mut last = 0;
    for _ in 0..300 {
        let r = reg
            .client
            .post(reg.u("/v2/x/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        last = r.status().as_u16();
        if last != 202 {
            assert_eq!(error_code(r).await, "TOOMANYREQUESTS");
            break;
        }
    }
    assert_eq!(last, 429);
    // Monolithic pushes and mounts open no session and still work.
    reg.push_blob("x", b"still fine").await;
}

#[tokio::test]
async fn client_vanishing_mid_upload_leaves_nothing() {
    use tokio::io::AsyncWriteExt;
    let reg = start().await;
    let r = reg
        .client
        .post(reg.u("/v2/x/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let mut s = tokio::net::TcpStream::connect(reg.server.local_addr())
        .await
        .unwrap();
    let head = format!("PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&[7u8; 300_000]).await.unwrap();
    drop(s);
    // The broken chunk ends the session and its ingest data goes with it.
    let ingest = reg.dir.path().join("data/content/ingest");
    let mut gone = false;
    for _ in 0..100 {
        let r = reg.client.get(reg.u(&loc)).send().await.unwrap();
        if r.status() == 404 && std::fs::read_dir(&ingest).unwrap().count() == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(gone, "session or ingest data left behind");
    assert_eq!(blob_files(&reg), 0);
}

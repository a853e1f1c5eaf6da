//! The distribution API's happy paths, over real HTTP against an in-process server.

mod common;
use common::*;

#[tokio::test]
async fn base_endpoint() {
    let reg = start().await;
    let r = reg.client.get(reg.u("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    assert_eq!(r.text().await.unwrap(), "{}");
}

#[tokio::test]
async fn push_and_pull_an_image() {
    let reg = start().await;
    let layer = b"layer bytes".repeat(1000);
    let (body, md) = reg.push_image("lib/app", "v1", &layer).await;

    for reference in ["v1".to_string(), md.to_string()] {
        let r = reg
            .client
            .get(reg.u(&format!("/v2/lib/app/manifests/{reference}")))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], OCI_MANIFEST);
        assert_eq!(
            r.headers()["docker-content-digest"],
            md.to_string().as_str()
        );
        assert_eq!(r.bytes().await.unwrap(), body);
    }
    let r = reg
        .client
        .head(reg.u("/v2/lib/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        body.len().to_string().as_str()
    );

    let ld = digest(&layer);
    let r = reg
        .client
        .get(reg.u(&format!("/v2/lib/app/blobs/{ld}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-content-digest"],
        ld.to_string().as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), layer);

    let r = reg
        .client
        .head(reg.u(&format!("/v2/lib/app/blobs/{ld}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        layer.len().to_string().as_str()
    );

    // Ranges: 206 with Content-Range, and 416 when unsatisfiable.
    let r = reg
        .client
        .get(reg.u(&format!("/v2/lib/app/blobs/{ld}")))
        .header("range", "bytes=6-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 6-10/{}", layer.len()).as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), &layer[6..11]);
    let r = reg
        .client
        .get(reg.u(&format!("/v2/lib/app/blobs/{ld}")))
        .header("range", format!("bytes={}-", layer.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
}

#[tokio::test]
async fn chunked_upload_with_status_and_order_check() {
    let reg = start().await;
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let d = digest(&data);
    let r = reg
        .client
        .post(reg.u("/v2/chunky/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-0");
    let uuid = r.headers()["docker-upload-uuid"]
        .to_str()
        .unwrap()
        .to_string();
    let mut loc = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(loc, format!("/v2/chunky/blobs/uploads/{uuid}"));

    let mut off = 0;
    for chunk in data.chunks(100_000) {
        let r = reg
            .client
            .patch(reg.u(&loc))
            .header("content-type", "application/octet-stream")
            .header(
                "content-range",
                format!("{}-{}", off, off + chunk.len() - 1),
            )
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        off += chunk.len();
        assert_eq!(r.headers()["range"], format!("0-{}", off - 1).as_str());
        loc = r.headers()["location"].to_str().unwrap().to_string();
        // An out-of-order chunk: 416, offset unchanged.
        let bad = reg
            .client
            .patch(reg.u(&loc))
            .header("content-range", "5-9")
            .body(vec![0u8; 5])
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 416);
        assert_eq!(bad.headers()["range"], format!("0-{}", off - 1).as_str());
    }
    let r = reg.client.get(reg.u(&loc)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["range"],
        format!("0-{}", data.len() - 1).as_str()
    );

    let r = reg
        .client
        .put(reg.u(&format!("{loc}?digest={d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/chunky/blobs/{d}").as_str()
    );
    let got = reg
        .client
        .get(reg.u(&format!("/v2/chunky/blobs/{d}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got, data);
    // The session is gone once finished.
    let r = reg.client.get(reg.u(&loc)).send().await.unwrap();
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn final_chunk_in_put_and_cancel() {
    let reg = start().await;
    let r = reg
        .client
        .post(reg.u("/v2/a/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let d = digest(b"all in the put");
    let r = reg
        .client
        .put(reg.u(&format!("{loc}?digest={d}")))
        .body(&b"all in the put"[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let r = reg
        .client
        .post(reg.u("/v2/a/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = reg.client.delete(reg.u(&loc)).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = reg.client.delete(reg.u(&loc)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn cross_repository_mount() {
    let reg = start().await;
    let d = reg.push_blob("src/repo", b"shared layer").await;
    let r = reg
        .client
        .post(reg.u(&format!(
            "/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"],
        format!("/v2/dst/repo/blobs/{d}").as_str()
    );
    let r = reg
        .client
        .get(reg.u(&format!("/v2/dst/repo/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Mounting from a repository without the blob starts a normal upload instead.
    let other = digest(b"nowhere");
    let r = reg
        .client
        .post(reg.u(&format!(
            "/v2/dst/repo/blobs/uploads/?mount={other}&from=src/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // A blob pushed to one repository is not served from another.
    let r = reg
        .client
        .get(reg.u(&format!("/v2/third/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn tags_catalog_paging_and_search() {
    let reg = start().await;
    for t in ["b", "a", "c"] {
        reg.push_image("team/app", t, b"l").await;
    }
    reg.push_image("other", "latest", b"l").await;
    let r = reg
        .client
        .get(reg.u("/v2/team/app/tags/list"))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v,
        serde_json::json!({"name": "team/app", "tags": ["a", "b", "c"]})
    );

    let r = reg
        .client
        .get(reg.u("/v2/team/app/tags/list?n=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/team/app/tags/list?n=2&last=b>; rel=\"next\""
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["tags"], serde_json::json!(["a", "b"]));
    let r = reg
        .client
        .get(reg.u("/v2/team/app/tags/list?n=2&last=b"))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("link").is_none());
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["tags"], serde_json::json!(["c"]));

    let r = reg
        .client
        .get(reg.u("/v2/team/app/tags/list?n=-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "PAGINATION_NUMBER_INVALID");

    let r = reg
        .client
        .get(reg.u("/v2/nope/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");

    let text = reg
        .client
        .get(reg.u("/v2/_catalog"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // One line, newline-terminated, as distribution writes it.
    assert_eq!(text, "{\"repositories\":[\"other\",\"team/app\"]}\n");
    let r = reg
        .client
        .get(reg.u("/v2/_catalog?n=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/_catalog?n=1&last=other>; rel=\"next\""
    );

    let v: serde_json::Value = reg
        .client
        .get(reg.u("/v1/search?q=app&n=10"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v,
        serde_json::json!({"num_results": 1, "query": "app", "results": [
            {"name": "team/app", "description": "", "star_count": 0, "is_official": false, "is_automated": false}
        ]})
    );
}

#[tokio::test]
async fn index_and_referrers() {
    let reg = start().await;
    let (m, md) = reg.push_image("r", "v1", b"layer").await;
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": md.to_string(), "size": m.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}],
    });
    let ib = serde_json::to_vec(&index).unwrap();
    let r = reg.put_manifest("r", "multi", OCI_INDEX, &ib).await;
    assert_eq!(r.status(), 201);

    // An artifact whose subject is the image manifest.
    let empty = reg.push_blob("r", b"{}").await;
    let sig = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty.to_string(), "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": md.to_string(), "size": m.len()},
        "annotations": {"k": "v"},
    });
    let sb = serde_json::to_vec(&sig).unwrap();
    let sd = digest(&sb);
    let r = reg
        .put_manifest("r", &sd.to_string(), OCI_MANIFEST, &sb)
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["oci-subject"], md.to_string().as_str());

    let r = reg
        .client
        .get(reg.u(&format!("/v2/r/referrers/{md}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], OCI_INDEX);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(v["manifests"][0]["digest"], sd.to_string());
    assert_eq!(
        v["manifests"][0]["artifactType"],
        "application/vnd.example.sig"
    );
    assert_eq!(v["manifests"][0]["annotations"]["k"], "v");

    let r = reg
        .client
        .get(reg.u(&format!("/v2/r/referrers/{md}?artifactType=other")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["manifests"], serde_json::json!([]));
}

#[tokio::test]
async fn sha512_manifest() {
    let reg = start().await;
    let (m, _) = reg.push_image("s", "v1", b"x").await;
    let mut h = berth_stdx::digest::Hasher::new(berth_stdx::digest::Algorithm::Sha512);
    h.update(&m);
    let d = h.finish();
    let r = reg
        .put_manifest("s", &d.to_string(), OCI_MANIFEST, &m)
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = reg
        .client
        .get(reg.u(&format!("/v2/s/manifests/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], d.to_string().as_str());
}

#[tokio::test]
async fn deletes() {
    let reg = start().await;
    let (_, md) = reg.push_image("d", "v1", b"x").await;
    let r = reg
        .client
        .delete(reg.u("/v2/d/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = reg
        .client
        .get(reg.u("/v2/d/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    // still there by digest; then deleted by digest
    let r = reg
        .client
        .get(reg.u(&format!("/v2/d/manifests/{md}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = reg
        .client
        .delete(reg.u(&format!("/v2/d/manifests/{md}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = reg
        .client
        .get(reg.u(&format!("/v2/d/manifests/{md}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let ld = digest(b"x");
    let r = reg
        .client
        .delete(reg.u(&format!("/v2/d/blobs/{ld}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = reg
        .client
        .get(reg.u(&format!("/v2/d/blobs/{ld}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Without --delete: 405 UNSUPPORTED.
    let reg = start_with(|_, _| {}).await;
    let (_, md) = reg.push_image("d", "v1", b"x").await;
    let r = reg
        .client
        .delete(reg.u(&format!("/v2/d/manifests/{md}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
}

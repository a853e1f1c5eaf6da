//! Shared helpers: start a registry in-process on 127.0.0.1:0 and push to it.
#![allow(dead_code)]

use berth_registry::{Config, Server};
use berth_stdx::Digest;
use std::path::Path;

pub struct Reg {
    pub server: Server,
    pub url: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
}

pub async fn start_with(f: impl FnOnce(&mut Config, &Path)) -> Reg {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        addr: "127.0.0.1:0".into(),
        data_root: dir.path().join("data"),
        ..Config::default()
    };
    f(&mut cfg, dir.path());
    let server = berth_registry::start(cfg).await.unwrap();
    let url = server.url();
    Reg {
        server,
        url,
        client: reqwest::Client::new(),
        dir,
    }
}

pub async fn start() -> Reg {
    start_with(|c, _| c.delete = true).await
}

pub fn digest(data: &[u8]) -> Digest {
    Digest::sha256_of(data)
}

impl Reg {
    pub fn u(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Monolithic blob push; returns the digest.
    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> Digest {
        let d = digest(data);
        let r = self
            .client
            .post(self.u(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        d
    }

    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        mt: &str,
        body: &[u8],
    ) -> reqwest::Response {
        self.client
            .put(self.u(&format!("/v2/{repo}/manifests/{reference}")))
            .header("content-type", mt)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes config + one layer and an OCI manifest tagged `tag`; returns the
    /// manifest bytes and digest.
    pub async fn push_image(&self, repo: &str, tag: &str, layer: &[u8]) -> (Vec<u8>, Digest) {
        let config =
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let cd = self.push_blob(repo, config).await;
        let ld = self.push_blob(repo, layer).await;
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld.to_string(), "size": layer.len()}],
        });
        let body = serde_json::to_vec(&m).unwrap();
        let r = self.put_manifest(repo, tag, OCI_MANIFEST, &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let d = digest(&body);
        (body, d)
    }
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// The first error code of an OCI error body.
pub async fn error_code(r: reqwest::Response) -> String {
    let v: serde_json::Value = r.json().await.unwrap();
    v["errors"][0]["code"].as_str().unwrap().to_string()
}

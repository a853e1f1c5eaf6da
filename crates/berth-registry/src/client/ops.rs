//! The distribution operations: manifests, blobs, uploads, mounts and v1 search.

use berth_image::media_types;
use berth_stdx::Digest;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};

use super::auth::ResponseExt;
use super::{ClientConfig, ClientError, Credentials, ErrorKind, Repo, Result};

/// The most of a manifest we read (the distribution spec's limit).
const MAX_MANIFEST: usize = 4 << 20;

/// What a manifest document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    /// An OCI image index or a Docker manifest list.
    Index,
    /// An OCI image manifest or a Docker v2 schema 2 manifest.
    Image,
    /// Anything else (schema 1, artifacts).
    Unsupported,
}

/// Classifies by media type, falling back to the document's own fields.
pub fn classify_manifest(media_type: &str, body: &[u8]) -> ManifestKind {
    let mt = media_type.split(';').next().unwrap_or("").trim();
    match mt {
        media_types::OCI_INDEX | media_types::DOCKER_MANIFEST_LIST => ManifestKind::Index,
        media_types::OCI_MANIFEST | media_types::DOCKER_MANIFEST => ManifestKind::Image,
        _ => {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            if v.get("manifests").is_some() {
                ManifestKind::Index
            } else if v.get("config").is_some() && v.get("layers").is_some() {
                ManifestKind::Image
            } else {
                ManifestKind::Unsupported
            }
        }
    }
}

/// A fetched manifest.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// One search hit (docker's v1 search JSON).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct SearchResult {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub star_count: i64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub is_automated: bool,
}

/// The error a non-success registry answer means, in docker's wording
/// (`manifest unknown: manifest unknown`).
pub(crate) async fn error_from(resp: reqwest::Response) -> ClientError {
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let kind = match status.as_u16() {
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    };
    let msg = v
        .get("errors")
        .and_then(|e| e.as_array())
        .and_then(|a| a.first())
        .map(|e| {
            let code = e
                .get("code")
                .and_then(|c| c.as_str())
                .unwrap_or("unknown")
                .to_ascii_lowercase()
                .replace('_', " ");
            let m = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
            format!("{code}: {m}")
        })
        .unwrap_or_else(|| {
            format!(
                "unexpected status from registry: {}",
                super::status_text(status)
            )
        });
    ClientError::new(kind, msg)
}

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

impl Repo {
    /// GET a manifest by tag or digest; a digest reference is verified.
    pub async fn get_manifest(&self, reference: &str) -> Result<Fetched> {
        let url = self.url(&format!("manifests/{reference}"));
        if reference.parse::<Digest>().is_err() {
            // A tag is resolved with HEAD first, as docker does (so auth and
            // not-found errors read the same as docker's).
            let resp = self
                .send(Method::HEAD, &url, None, |r| {
                    r.header(ACCEPT, MANIFEST_ACCEPT)
                })
                .await?;
            if !resp.status().is_success() {
                let status = resp.status();
                let err = error_from(resp).await;
                // HEAD has no body: name the error from the status.
                return Err(match status.as_u16() {
                    404 => ClientError::new(
                        ErrorKind::NotFound,
                        "manifest unknown: manifest unknown".into(),
                    ),
                    401 => ClientError::new(
                        ErrorKind::Unauthorized,
                        "unauthorized: authentication required".into(),
                    ),
                    _ => err,
                });
            }
        }
        let resp = self
            .send(Method::GET, &url, None, |r| {
                r.header(ACCEPT, MANIFEST_ACCEPT)
            })
            .await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if resp.content_length().unwrap_or(0) > MAX_MANIFEST as u64 {
            return Err(ClientError::new(
                ErrorKind::Other,
                format!("manifest {reference} is larger than 4 MiB"),
            ));
        }
        let mut bytes = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| ClientError::transport("Get", &url, &e))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_MANIFEST {
                return Err(ClientError::new(
                    ErrorKind::Other,
                    format!("manifest {reference} is larger than 4 MiB"),
                ));
            }
        }
        let digest = match reference.parse::<Digest>() {
            Ok(want) => {
                let got = hash_as(&want, &bytes);
                if got != want {
                    return Err(ClientError::new(
                        ErrorKind::Other,
                        format!("manifest verification failed for digest {want}"),
                    ));
                }
                want
            }
            Err(_) => Digest::sha256_of(&bytes),
        };
        Ok(Fetched {
            bytes,
            media_type,
            digest,
        })
    }

    /// `tags/list` (every page).
    pub async fn list_tags(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut url = self.url("tags/list?n=1000");
        loop {
            let resp = self.send(Method::GET, &url, None, |r| r).await?;
            if !resp.status().is_success() {
                return Err(error_from(resp).await);
            }
            let next = resp
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split(';').next())
                .map(|l| {
                    l.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                });
            let v = resp.json_value().await?;
            if let Some(tags) = v.get("tags").and_then(|t| t.as_array()) {
                out.extend(tags.iter().filter_map(|t| t.as_str()).map(String::from));
            }
            match next {
                Some(n) if n.starts_with('/') && out.len() < 100_000 => {
                    url = format!("{}{n}", self.base)
                }
                _ => return Ok(out),
            }
        }
    }

    /// GET a blob; the caller streams and verifies the body.
    pub async fn get_blob(&self, digest: &Digest) -> Result<reqwest::Response> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(Method::GET, &url, None, |r| r).await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        Ok(resp)
    }

    /// Reads a whole small blob (a config), verified.
    pub async fn get_small_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let url = self.url(&format!("blobs/{digest}"));
        let bytes = self
            .get_blob(digest)
            .await?
            .bytes()
            .await
            .map_err(|e| ClientError::transport("Get", &url, &e))?;
        if hash_as(digest, &bytes) != *digest {
            return Err(ClientError::new(
                ErrorKind::Other,
                format!("blob verification failed for digest {digest}"),
            ));
        }
        Ok(bytes.to_vec())
    }

    /// HEAD a blob: true when the repository has it.
    pub async fn blob_exists(&self, digest: &Digest) -> Result<bool> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(Method::HEAD, &url, None, |r| r).await?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(error_from(resp).await),
        }
    }

    /// Tries a cross-repository mount from `from` (same registry). `Ok(None)` when
    /// mounted; otherwise the upload location the registry opened instead.
    pub async fn mount_blob(&self, digest: &Digest, from: &str) -> Result<Option<String>> {
        let url = format!(
            "{}?mount={digest}&from={}",
            self.url("blobs/uploads/"),
            urlencoding_min(from)
        );
        let scope = format!("repository:{from}:pull");
        let resp = self
            .send(Method::POST, &url, Some(&scope), |r| {
                r.header(CONTENT_LENGTH, "0")
            })
            .await?;
        match resp.status().as_u16() {
            201 => Ok(None),
            202 => Ok(Some(self.location(&resp)?)),
            _ => Err(error_from(resp).await),
        }
    }

    fn location(&self, resp: &reqwest::Response) -> Result<String> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ClientError::new(ErrorKind::Other, "registry sent no upload location".into())
            })?;
        Ok(
            if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_string()
            } else {
                format!("{}{loc}", self.base)
            },
        )
    }

    /// Opens an upload session; returns its location.
    pub async fn start_upload(&self) -> Result<String> {
        let url = self.url("blobs/uploads/");
        let resp = self
            .send(Method::POST, &url, None, |r| r.header(CONTENT_LENGTH, "0"))
            .await?;
        if resp.status().as_u16() != 202 {
            return Err(error_from(resp).await);
        }
        self.location(&resp)
    }

    /// Finishes an upload monolithically: PUT `location?digest=` with the whole blob.
    pub async fn finish_upload(
        &self,
        location: &str,
        digest: &Digest,
        size: u64,
        body: reqwest::Body,
    ) -> Result<()> {
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        // A streamed body cannot be replayed: authorize once, from the token the
        // POST just used.
        let mut req = self
            .http
            .put(&url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size.to_string())
            .body(body);
        if let Some(h) = self.auth_header(&url).await? {
            req = req.header(reqwest::header::AUTHORIZATION, h);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::transport("Put", &url, &e))?;
        if resp.status().as_u16() != 201 {
            return Err(error_from(resp).await);
        }
        Ok(())
    }

    /// Streams a chunk (here: the whole blob, length unknown) into an upload with
    /// PATCH; returns the location to continue at.
    pub async fn patch_upload(&self, location: &str, body: reqwest::Body) -> Result<String> {
        let mut req = self
            .http
            .patch(location)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body);
        if let Some(h) = self.auth_header(location).await? {
            req = req.header(reqwest::header::AUTHORIZATION, h);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::transport("Patch", location, &e))?;
        if resp.status().as_u16() != 202 {
            return Err(error_from(resp).await);
        }
        self.location(&resp)
    }

    async fn auth_header(&self, url: &str) -> Result<Option<String>> {
        self.authorization("Put", url, None, false).await
    }

    /// PUT a manifest under `reference` (tag or digest).
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let url = self.url(&format!("manifests/{reference}"));
        let resp = self
            .send(Method::PUT, &url, None, |r| {
                r.header(CONTENT_TYPE, media_type).body(bytes.to_vec())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        Ok(())
    }
}

fn hash_as(want: &Digest, data: &[u8]) -> Digest {
    let mut h = berth_stdx::digest::Hasher::new(want.algorithm());
    h.update(data);
    h.finish()
}

fn urlencoding_min(s: &str) -> String {
    s.replace('%', "%25")
        .replace('&', "%26")
        .replace('?', "%3F")
}

/// `GET /v1/search?q=&n=` on the registry's index (Docker Hub: index.docker.io).
pub async fn search(
    cfg: &ClientConfig,
    registry: &str,
    term: &str,
    limit: usize,
    creds: &Credentials,
) -> Result<Vec<SearchResult>> {
    let host = if registry == super::DOCKER_HUB {
        super::DOCKER_HUB_INDEX
    } else {
        registry
    };
    let ep = super::ping(cfg, host).await?;
    let mut url = reqwest::Url::parse(&format!("{}/v1/search", ep.base))
        .map_err(|e| ClientError::new(ErrorKind::Other, format!("invalid search URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("q", term)
        .append_pair("n", &limit.to_string());
    let mut req = ep.http.get(url.clone());
    if let Some(h) = super::auth::basic_header(creds) {
        req = req.header(reqwest::header::AUTHORIZATION, h);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| ClientError::transport("Get", url.as_str(), &e))?;
    if !resp.status().is_success() {
        return Err(ClientError::new(
            ErrorKind::Other,
            format!("Unexpected status code {}", resp.status().as_u16()),
        ));
    }
    let v = resp.json_value().await?;
    let results = v.get("results").cloned().unwrap_or_default();
    serde_json::from_value(results)
        .map_err(|e| ClientError::new(ErrorKind::Other, format!("invalid search results: {e}")))
}

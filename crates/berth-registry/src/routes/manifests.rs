//! Manifests: `GET/HEAD/PUT/DELETE /v2/<name>/manifests/<ref>` and the referrers API.

use super::{Json, St, blocking, empty, finish, query};
use crate::error::{ApiError, ApiResult, Code};
use crate::names;
use crate::storage::Revision;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use berth_stdx::Digest;
use berth_stdx::digest::Hasher;
use http_body_util::BodyExt;
use std::io::Read;

/// The largest manifest accepted (what the reference registry and the spec allow).
pub(crate) const MAX_MANIFEST: usize = 4 << 20;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn manifest_unknown(r: &str) -> ApiError {
    ApiError::new(Code::ManifestUnknown, "manifest unknown")
        .detail(serde_json::json!({ "reference": r }))
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(Code::ManifestInvalid, msg)
}

/// A reference is a digest (contains `:`) or a tag.
enum Ref {
    Digest(Digest),
    Tag(String),
}

fn parse_ref(r: &str) -> ApiResult<Ref> {
    if r.contains(':') {
        return Ok(Ref::Digest(super::parse_digest(r)?));
    }
    if !names::valid_tag(r) {
        return Err(ApiError::new(Code::ManifestInvalid, "invalid tag")
            .detail(serde_json::json!({ "tag": r })));
    }
    Ok(Ref::Tag(r.to_string()))
}

/// Resolves `reference` in `name` to a stored revision.
fn resolve(st: &St, name: &str, reference: &Ref) -> ApiResult<Option<Revision>> {
    let d = match reference {
        Ref::Digest(d) => d.clone(),
        Ref::Tag(t) => match st.storage.tag(name, t)? {
            Some(d) => d,
            None => return Ok(None),
        },
    };
    Ok(st.storage.revision(name, &d)?)
}

pub(super) async fn get(st: St, name: &str, r: &str, head: bool) -> ApiResult {
    let reference = parse_ref(r)?;
    let (st2, n) = (st.clone(), name.to_string());
    let found = blocking(move || {
        if !st2.storage.repo_exists(&n) {
            return Err(
                ApiError::new(Code::NameUnknown, "repository name not known to registry")
                    .detail(serde_json::json!({ "name": n })),
            );
        }
        let Some(rev) = resolve(&st2, &n, &reference)? else {
            return Ok(None);
        };
        let mut data = Vec::new();
        st2.storage
            .content
            .read_at(&rev.digest, 0)?
            .take(MAX_MANIFEST as u64 + 1)
            .read_to_end(&mut data)?;
        Ok(Some((rev, data)))
    })
    .await?;
    let (rev, data) = found.ok_or_else(|| manifest_unknown(r))?;
    let b = axum::http::Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, rev.media_type)
        .header(header::CONTENT_LENGTH, data.len())
        .header("docker-content-digest", rev.digest.to_string())
        .header(header::ETAG, format!("\"{}\"", rev.digest));
    finish(
        b,
        if head {
            Body::empty()
        } else {
            Body::from(data)
        },
    )
}

fn descriptor_digest(v: &serde_json::Value, what: &str) -> ApiResult<Digest> {
    v.get("digest")
        .and_then(|d| d.as_str())
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| invalid(format!("{what}: missing or invalid digest")))
}

pub(super) async fn put(st: St, name: &str, r: &str, req: Request) -> ApiResult {
    let reference = parse_ref(r)?;
    let too_large = || {
        ApiError::new(Code::TooLarge, "manifest exceeds the 4 MiB limit")
            .detail(serde_json::json!({ "limit": MAX_MANIFEST }))
    };
    if let Some(n) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && n > MAX_MANIFEST as u64
    {
        return Err(too_large());
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or("").trim().to_string())
        .filter(|s| !s.is_empty());
    let body = http_body_util::Limited::new(req.into_body(), MAX_MANIFEST)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                too_large()
            } else {
                invalid(format!("read manifest: {e}"))
            }
        })?
        .to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("manifest is not valid json: {e}")))?;
    if !v.is_object() {
        return Err(invalid("manifest is not a json object"));
    }
    let body_type = v
        .get("mediaType")
        .and_then(|m| m.as_str())
        .map(str::to_string);
    if let (Some(b), Some(c)) = (&body_type, &content_type)
        && b != c
    {
        return Err(invalid(format!(
            "manifest mediaType {b} does not match Content-Type {c}"
        )));
    }
    let is_index = v.get("manifests").is_some();
    let media_type = body_type
        .or(content_type)
        .unwrap_or_else(|| if is_index { OCI_INDEX } else { OCI_MANIFEST }.to_string());
    let digest = match &reference {
        Ref::Digest(want) => {
            let mut h = Hasher::new(want.algorithm());
            h.update(&body);
            let got = h.finish();
            if got != *want {
                return Err(ApiError::new(
                    Code::DigestInvalid,
                    "provided digest did not match manifest content",
                )
                .detail(
                    serde_json::json!({ "digest": want.to_string(), "computed": got.to_string() }),
                ));
            }
            got
        }
        Ref::Tag(_) => Digest::sha256_of(&body),
    };
    // Everything a manifest names must already be in this repository.
    let mut blobs = Vec::new();
    if let Some(c) = v.get("config").filter(|c| !c.is_null()) {
        blobs.push(descriptor_digest(c, "config")?);
    }
    if let Some(arr) = v.get("layers") {
        let arr = arr
            .as_array()
            .ok_or_else(|| invalid("layers is not an array"))?;
        for l in arr {
            let d = descriptor_digest(l, "layer")?;
            // Foreign (non-distributable) layers are fetched from their `urls`, not
            // pushed here, so they need not exist.
            let foreign = l
                .get("urls")
                .and_then(|u| u.as_array())
                .is_some_and(|u| !u.is_empty())
                || l.get("mediaType")
                    .and_then(|m| m.as_str())
                    .is_some_and(|m| m.contains("foreign") || m.contains("nondistributable"));
            if !foreign {
                blobs.push(d);
            }
        }
    }
    let mut children = Vec::new();
    if let Some(arr) = v.get("manifests") {
        let arr = arr
            .as_array()
            .ok_or_else(|| invalid("manifests is not an array"))?;
        for m in arr {
            children.push(descriptor_digest(m, "manifest")?);
        }
    }
    let subject = match v.get("subject").filter(|s| !s.is_null()) {
        Some(s) => Some(descriptor_digest(s, "subject")?),
        None => None,
    };
    let artifact_type = v
        .get("artifactType")
        .and_then(|a| a.as_str())
        .or_else(|| v.get("config")?.get("mediaType")?.as_str())
        .map(str::to_string);
    let annotations = v.get("annotations").cloned();
    let (st2, n, d) = (st.clone(), name.to_string(), digest.clone());
    let subject2 = subject.clone();
    let mt = media_type.clone();
    let _gc = st.gc_lock.read().await;
    blocking(move || {
        for b in &blobs {
            if st2.storage.blob_size(&n, b)?.is_none() {
                return Err(
                    ApiError::new(Code::ManifestBlobUnknown, "blob unknown to registry")
                        .detail(serde_json::json!({ "digest": b.to_string() })),
                );
            }
        }
        for c in &children {
            if st2.storage.revision(&n, c)?.is_none() {
                return Err(ApiError::new(
                    Code::ManifestBlobUnknown,
                    "manifest unknown to registry",
                )
                .detail(serde_json::json!({ "digest": c.to_string() })));
            }
        }
        // Order: content, revision, referrer entry, tag; each only names what
        // is already durable.
        st2.storage.content.put(&body, Some(&d))?;
        let size = body.len() as u64;
        st2.storage.put_revision(
            &n,
            &Revision {
                digest: d.clone(),
                media_type: mt.clone(),
                size,
            },
        )?;
        if let Some(s) = &subject2 {
            let mut desc = serde_json::json!({
                "mediaType": mt, "digest": d.to_string(), "size": size,
            });
            if let Some(a) = artifact_type {
                desc["artifactType"] = a.into();
            }
            if let Some(a) = annotations.filter(|a| a.is_object()) {
                desc["annotations"] = a;
            }
            st2.storage.add_referrer(&n, s, &desc, &d)?;
        }
        if let Ref::Tag(t) = &reference {
            st2.storage.set_tag(&n, t, &d)?;
        }
        Ok(())
    })
    .await?;
    let mut b = empty(StatusCode::CREATED)
        .header(header::LOCATION, format!("/v2/{name}/manifests/{digest}"))
        .header("docker-content-digest", digest.to_string());
    if let Some(s) = subject {
        b = b.header("oci-subject", s.to_string());
    }
    finish(b, Body::empty())
}

pub(super) async fn delete(st: St, name: &str, r: &str) -> ApiResult {
    if !st.delete {
        return Err(ApiError::new(
            Code::Unsupported,
            "deletes are disabled (run with --delete)",
        ));
    }
    let reference = parse_ref(r)?;
    let n = name.to_string();
    let removed = blocking(move || {
        Ok(match &reference {
            Ref::Digest(d) => st.storage.delete_revision(&n, d)?,
            Ref::Tag(t) => st.storage.delete_tag(&n, t)?,
        })
    })
    .await?;
    if !removed {
        return Err(manifest_unknown(r));
    }
    finish(empty(StatusCode::ACCEPTED), Body::empty())
}

/// `GET /v2/<name>/referrers/<digest>?artifactType=`: an image index of the
/// manifests whose subject is `digest` (empty when there are none).
pub(super) async fn referrers(st: St, name: &str, digest: &str, req: Request) -> ApiResult {
    let d = super::parse_digest(digest)?;
    let filter = query(&req, "artifactType").filter(|s| !s.is_empty());
    let n = name.to_string();
    let mut list = blocking(move || Ok(st.storage.referrers(&n, &d)?)).await?;
    if let Some(f) = &filter {
        list.retain(|m| m.get("artifactType").and_then(|a| a.as_str()) == Some(f.as_str()));
    }
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": list,
    });
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(OCI_INDEX),
    );
    if filter.is_some() {
        resp.headers_mut().insert(
            "oci-filters-applied",
            header::HeaderValue::from_static("artifactType"),
        );
    }
    Ok(resp)
}

//! Blob uploads: `POST` (session, monolithic `?digest=`, or `?mount=&from=`),
//! `PATCH` chunks, `PUT ?digest=` to finish, `GET` status, `DELETE` to cancel.

use super::{St, blocking, empty, finish, parse_digest, query, write_body};
use crate::error::{ApiError, ApiResult, Code};
use crate::names;
use crate::uploads::TakeError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use berth_image::ContentWriter;
use berth_stdx::Digest;

fn upload_unknown(id: &str) -> ApiError {
    ApiError::new(Code::BlobUploadUnknown, "blob upload unknown to registry")
        .detail(serde_json::json!({ "uuid": id }))
}

fn range_end(offset: u64) -> String {
    format!("0-{}", offset.saturating_sub(1))
}

fn session_response(status: StatusCode, name: &str, id: &str, offset: u64) -> ApiResult {
    finish(
        empty(status)
            .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
            .header(header::RANGE, range_end(offset))
            .header("docker-upload-uuid", id),
        Body::empty(),
    )
}

fn created(name: &str, d: &Digest) -> ApiResult {
    finish(
        empty(StatusCode::CREATED)
            .header(header::LOCATION, format!("/v2/{name}/blobs/{d}"))
            .header("docker-content-digest", d.to_string()),
        Body::empty(),
    )
}

/// Commits a writer against `want` and links the blob into `name`.
async fn commit(st: &St, name: &str, w: Box<dyn ContentWriter>, want: Digest) -> ApiResult {
    let (st2, n, d) = (st.clone(), name.to_string(), want.clone());
    let _gc = st.gc_lock.read().await;
    blocking(move || {
        match w.commit(Some(&d)) {
            Ok(_) => {}
            Err(e) if e.kind() == berth_stdx::ErrorKind::InvalidArgument => {
                return Err(ApiError::new(
                    Code::DigestInvalid,
                    "provided digest did not match uploaded content",
                )
                .detail(serde_json::json!({ "digest": d.to_string() })));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(st2.storage.link_blob(&n, &d)?)
    })
    .await?;
    created(name, &want)
}

pub(super) async fn start(st: St, name: &str, req: Request) -> ApiResult {
    if let (Some(mount), Some(from)) = (query(&req, "mount"), query(&req, "from")) {
        // A mount from a repository the blob is not in (or a bad name) falls back
        // to a normal session, as the spec asks.
        if let Ok(d) = mount.parse::<Digest>()
            && names::valid_name(&from)
        {
            let (st2, n, d2) = (st.clone(), name.to_string(), d.clone());
            let _gc = st.gc_lock.read().await;
            let mounted = blocking(move || {
                if st2.storage.blob_size(&from, &d2)?.is_none() {
                    return Ok(false);
                }
                st2.storage.link_blob(&n, &d2)?;
                Ok(true)
            })
            .await?;
            if mounted {
                return created(name, &d);
            }
        }
    }
    let st2 = st.clone();
    let w = blocking(move || Ok(st2.storage.content.writer()?)).await?;
    if let Some(digest) = query(&req, "digest") {
        let want = parse_digest(&digest)?;
        let (w, r) = write_body(w, req.into_body()).await?;
        r.map_err(|e| ApiError::new(Code::BlobUploadInvalid, format!("read body: {e}")))?;
        return commit(&st, name, w, want).await;
    }
    let id = st.uploads.start(name, w).ok_or_else(|| {
        ApiError::new(
            Code::TooManyRequests,
            format!(
                "too many uploads in progress (at most {})",
                crate::uploads::MAX_SESSIONS
            ),
        )
    })?;
    session_response(StatusCode::ACCEPTED, name, &id, 0)
}

fn take(st: &St, name: &str, id: &str) -> ApiResult<Box<dyn ContentWriter>> {
    if !names::valid_upload_id(id) {
        return Err(upload_unknown(id));
    }
    st.uploads.take(name, id).map_err(|e| match e {
        TakeError::Unknown => upload_unknown(id),
        TakeError::Busy => ApiError::new(
            Code::BlobUploadInvalid,
            "another request is writing to this upload",
        ),
    })
}

/// Checks a `Content-Range: <start>-<end>` (optionally `bytes ` prefixed) against
/// the session's offset: chunks must arrive in order.
fn check_range(req: &Request, offset: u64) -> Result<(), ()> {
    let Some(v) = req
        .headers()
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(());
    };
    let v = v.trim().trim_start_matches("bytes ").trim();
    let (a, _b) = v.split_once('-').ok_or(())?;
    let start: u64 = a.parse().map_err(|_| ())?;
    if start != offset { Err(()) } else { Ok(()) }
}

pub(super) async fn patch(st: St, name: &str, id: &str, req: Request) -> ApiResult {
    let w = take(&st, name, id)?;
    if check_range(&req, w.written()).is_err() {
        let off = st.uploads.put_back(id, w);
        return Err(
            ApiError::new(Code::RangeInvalid, "content range out of order")
                .header(
                    header::RANGE,
                    range_end(off).parse().map_err(ApiError::internal)?,
                )
                .header(
                    header::LOCATION,
                    format!("/v2/{name}/blobs/uploads/{id}")
                        .parse()
                        .map_err(ApiError::internal)?,
                ),
        );
    }
    let (w, r) = write_body(w, req.into_body()).await?;
    if let Err(e) = r {
        // The chunk is partly written and its offset unknown to the client: the
        // upload cannot continue consistently, so it is dropped.
        st.uploads.remove(name, id);
        return Err(ApiError::new(
            Code::BlobUploadInvalid,
            format!("read body: {e}"),
        ));
    }
    let off = st.uploads.put_back(id, w);
    session_response(StatusCode::ACCEPTED, name, id, off)
}

pub(super) async fn finish_upload(st: St, name: &str, id: &str, req: Request) -> ApiResult {
    if !names::valid_upload_id(id) || st.uploads.offset(name, id).is_none() {
        return Err(upload_unknown(id));
    }
    let digest = query(&req, "digest")
        .ok_or_else(|| ApiError::new(Code::DigestInvalid, "digest parameter missing"))?;
    let want = parse_digest(&digest)?;
    let w = take(&st, name, id)?;
    // The session ends here whatever happens: a failed finish is retried as a new push.
    st.uploads.remove(name, id);
    let (w, r) = write_body(w, req.into_body()).await?;
    r.map_err(|e| ApiError::new(Code::BlobUploadInvalid, format!("read body: {e}")))?;
    commit(&st, name, w, want).await
}

pub(super) async fn status(st: St, name: &str, id: &str) -> ApiResult {
    if !names::valid_upload_id(id) {
        return Err(upload_unknown(id));
    }
    let off = st
        .uploads
        .offset(name, id)
        .ok_or_else(|| upload_unknown(id))?;
    session_response(StatusCode::NO_CONTENT, name, id, off)
}

pub(super) async fn cancel(st: St, name: &str, id: &str) -> ApiResult {
    if !names::valid_upload_id(id) || !st.uploads.remove(name, id) {
        return Err(upload_unknown(id));
    }
    finish(empty(StatusCode::NO_CONTENT), Body::empty())
}

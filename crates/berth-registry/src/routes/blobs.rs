//! `GET/HEAD/DELETE /v2/<name>/blobs/<digest>`, with `Range` support.

use super::{St, blocking, empty, finish, parse_digest, reader_body};
use crate::error::{ApiError, ApiResult, Code};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};

fn blob_unknown(d: &str) -> ApiError {
    ApiError::new(Code::BlobUnknown, "blob unknown to registry")
        .detail(serde_json::json!({ "digest": d }))
}

/// Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` against `size`; `Err` when
/// unsatisfiable, `Ok(None)` when absent or not a single byte range (served whole).
fn parse_range(v: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = v.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (size.saturating_sub(n), size.saturating_sub(1))
        }
        (a, "") => (a.parse().map_err(|_| ())?, size.saturating_sub(1)),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().map_err(|_| ())?, b.parse().map_err(|_| ())?);
            (a, b.min(size.saturating_sub(1)))
        }
    };
    if size == 0 || start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

pub(super) async fn get(st: St, name: &str, digest: &str, req: Request) -> ApiResult {
    let d = parse_digest(digest)?;
    let head = req.method() == axum::http::Method::HEAD;
    let (n, d2) = (name.to_string(), d.clone());
    let st2 = st.clone();
    let size = blocking(move || Ok(st2.storage.blob_size(&n, &d2)?))
        .await?
        .ok_or_else(|| blob_unknown(digest))?;
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    let range = match parse_range(range, size) {
        Ok(r) => r,
        Err(()) => {
            return finish(
                empty(StatusCode::RANGE_NOT_SATISFIABLE)
                    .header(header::CONTENT_RANGE, format!("bytes */{size}")),
                Body::empty(),
            );
        }
    };
    let (status, start, len) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, size),
    };
    let mut b = axum::http::Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, len)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::ACCEPT_RANGES, "bytes")
        .header("docker-content-digest", d.to_string())
        .header(header::ETAG, format!("\"{d}\""));
    if let Some((a, e)) = range {
        b = b.header(header::CONTENT_RANGE, format!("bytes {a}-{e}/{size}"));
    }
    if head {
        return finish(b, Body::empty());
    }
    let st2 = st.clone();
    let reader = blocking(move || {
        st2.storage
            .content
            .read_at(&d, start)
            .map_err(ApiError::from)
    })
    .await?;
    finish(b, reader_body(reader, len))
}

pub(super) async fn delete(st: St, name: &str, digest: &str) -> ApiResult {
    if !st.delete {
        return Err(ApiError::new(
            Code::Unsupported,
            "deletes are disabled (run with --delete)",
        ));
    }
    let d = parse_digest(digest)?;
    let n = name.to_string();
    let removed = blocking(move || Ok(st.storage.unlink_blob(&n, &d)?)).await?;
    if !removed {
        return Err(blob_unknown(digest));
    }
    finish(empty(StatusCode::ACCEPTED), Body::empty())
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Ok(Some((0, 4))));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Ok(Some((5, 9))));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), Ok(Some((8, 9))));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=x-2"), 10), Err(()));
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Ok(None));
        assert_eq!(parse_range(Some("items=0-1"), 10), Ok(None));
    }
}

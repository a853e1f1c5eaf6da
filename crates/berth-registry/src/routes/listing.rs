//! Listings: tags, the catalog and docker's v1 search, with `n`/`last` paging.

use super::{Json, St, blocking, query};
use crate::error::{ApiError, ApiResult, Code};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Entries after `last`, at most `n`; and whether more follow.
fn page(all: Vec<String>, n: Option<usize>, last: Option<&str>) -> (Vec<String>, bool) {
    let mut it: Vec<String> = match last {
        Some(l) => all.into_iter().filter(|x| x.as_str() > l).collect(),
        None => all,
    };
    match n {
        Some(n) if it.len() > n => {
            it.truncate(n);
            (it, true)
        }
        _ => (it, false),
    }
}

fn paging(req: &Request) -> ApiResult<(Option<usize>, Option<String>)> {
    let n = match query(req, "n") {
        Some(s) if !s.is_empty() => Some(s.parse::<usize>().map_err(|_| {
            ApiError::new(Code::PaginationInvalid, "n must be a non-negative integer")
        })?),
        _ => None,
    };
    Ok((n, query(req, "last").filter(|s| !s.is_empty())))
}

fn with_link(
    mut resp: Response,
    more: bool,
    base: &str,
    n: Option<usize>,
    items: &[String],
) -> Response {
    if more && let (Some(n), Some(last)) = (n, items.last()) {
        let link = format!("<{base}?n={n}&last={}>; rel=\"next\"", urlencode(last));
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, v);
        }
    }
    resp
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(super) async fn tags(st: St, name: &str, req: Request) -> ApiResult {
    let (n, last) = paging(&req)?;
    let nm = name.to_string();
    let all = blocking(move || Ok(st.storage.tags(&nm)?))
        .await?
        .ok_or_else(|| {
            ApiError::new(Code::NameUnknown, "repository name not known to registry")
                .detail(serde_json::json!({ "name": name }))
        })?;
    let (items, more) = page(all, n, last.as_deref());
    let resp = Json(serde_json::json!({ "name": name, "tags": items })).into_response();
    Ok(with_link(
        resp,
        more,
        &format!("/v2/{name}/tags/list"),
        n,
        &items,
    ))
}

pub(super) async fn catalog(st: St, req: Request) -> ApiResult {
    let (n, last) = paging(&req)?;
    let all = blocking(move || Ok(st.storage.catalog()?)).await?;
    let (items, more) = page(all, n, last.as_deref());
    let resp = Json(serde_json::json!({ "repositories": items })).into_response();
    Ok(with_link(resp, more, "/v2/_catalog", n, &items))
}

/// `GET /v1/search?q=&n=`: docker's search JSON over the catalog.
pub(super) async fn search(State(st): State<St>, req: Request) -> Response {
    if let Err(e) = super::authenticate(&st, req.headers(), None).await {
        return e.into_response();
    }
    let q = query(&req, "q").unwrap_or_default();
    let n = query(&req, "n")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(25)
        .min(100);
    let all = match blocking(move || Ok(st.storage.catalog()?)).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    // `docker search host/foo` sends q=foo: a substring match over the catalog.
    let term = q.to_ascii_lowercase();
    let results: Vec<serde_json::Value> = all
        .into_iter()
        .filter(|r| term.is_empty() || r.contains(&term))
        .take(n)
        .map(|r| {
            serde_json::json!({
                "name": r, "description": "", "star_count": 0,
                "is_official": false, "is_automated": false,
            })
        })
        .collect();
    Json(serde_json::json!({
        "num_results": results.len(),
        "query": q,
        "results": results,
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::page;

    #[test]
    fn paging() {
        let all = || vec!["a".to_string(), "b".into(), "c".into()];
        assert_eq!(
            page(all(), Some(2), None),
            (vec!["a".into(), "b".into()], true)
        );
        assert_eq!(page(all(), Some(2), Some("b")), (vec!["c".into()], false));
        assert_eq!(page(all(), Some(0), None), (vec![], true));
        assert_eq!(page(all(), None, None).0.len(), 3);
    }
}

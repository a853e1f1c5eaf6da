//! HTTP routing. Repository names contain `/`, so `/v2/...` paths are parsed here by
//! hand (from the raw, undecoded path) rather than by the router's patterns.

mod blobs;
mod listing;
mod manifests;
mod uploads;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, Code};
use crate::names;
use crate::storage::Storage;
use crate::uploads::Uploads;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_image::ContentWriter;
use bytes::Bytes;
use futures_util::StreamExt as _;
use std::io::{self, Read, Write};
use std::sync::Arc;

pub(crate) struct AppState {
    pub(crate) storage: Storage,
    pub(crate) uploads: Uploads,
    pub(crate) auth: Option<Auth>,
    pub(crate) delete: bool,
    /// Read-held around "commit content, then link it"; write-held by GC (see `gc`).
    pub(crate) gc_lock: tokio::sync::RwLock<()>,
    /// One server per data-root; held as long as the state lives.
    pub(crate) _lock: berth_stdx::LockFile,
}

pub(crate) type St = Arc<AppState>;

const API_VERSION: &str = "registry/2.0";

pub(crate) fn router(state: St) -> axum::Router {
    axum::Router::new()
        .route("/token", axum::routing::get(token))
        .route("/v1/search", axum::routing::get(listing::search))
        .fallback(dispatch)
        .layer(axum::middleware::from_fn(access_log))
        .with_state(state)
}

/// Adds the API version header to every response and logs the request once.
async fn access_log(req: Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = std::time::Instant::now();
    let mut r = next.run(req).await;
    r.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static(API_VERSION),
    );
    tracing::info!(
        %method,
        path,
        status = r.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    r
}

/// What a `/v2/` path names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Base,
    Catalog,
    Tags(&'a str),
    Manifest(&'a str, &'a str),
    Blob(&'a str, &'a str),
    Upload(&'a str, &'a str),
    Referrers(&'a str, &'a str),
}

fn parse_path(path: &str) -> Option<Target<'_>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Target::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Target::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Target::Tags(name));
    }
    if let Some(name) = rest.strip_suffix("/blobs/uploads") {
        return Some(Target::Upload(name, ""));
    }
    let split = |sep: &str| {
        rest.rfind(sep)
            .map(|i| (&rest[..i], &rest[i + sep.len()..]))
            .filter(|(_, tail)| !tail.contains('/'))
    };
    if let Some((n, id)) = split("/blobs/uploads/") {
        return Some(Target::Upload(n, id));
    }
    if let Some((n, r)) = split("/manifests/") {
        return Some(Target::Manifest(n, r));
    }
    if let Some((n, d)) = split("/blobs/") {
        return Some(Target::Blob(n, d));
    }
    if let Some((n, d)) = split("/referrers/") {
        return Some(Target::Referrers(n, d));
    }
    None
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Authenticates a request (when auth is configured). `scope` names what it needs,
/// for the challenge only: every authenticated user may do everything.
pub(crate) async fn authenticate(
    st: &St,
    headers: &HeaderMap,
    scope: Option<String>,
) -> ApiResult<()> {
    let Some(auth) = &st.auth else {
        return Ok(());
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ok = if let Some(t) = value.strip_prefix("Bearer ") {
        auth.verify_token(t.trim(), now()).is_some()
    } else if let Some((u, p)) = Auth::basic_credentials(value) {
        let st = st.clone();
        tokio::task::spawn_blocking(move || {
            st.auth.as_ref().is_some_and(|a| a.check_password(&u, &p))
        })
        .await
        .unwrap_or(false)
    } else {
        false
    };
    if ok {
        return Ok(());
    }
    let challenge = auth.challenge(scope.as_deref());
    Err(
        ApiError::new(Code::Unauthorized, "authentication required").header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&challenge).map_err(ApiError::internal)?,
        ),
    )
}

async fn dispatch(State(st): State<St>, req: Request) -> Response {
    match route(st, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn route(st: St, req: Request) -> ApiResult {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let target = parse_path(&path);
    let name = match &target {
        Some(
            Target::Tags(n)
            | Target::Manifest(n, _)
            | Target::Blob(n, _)
            | Target::Upload(n, _)
            | Target::Referrers(n, _),
        ) => Some(*n),
        _ => None,
    };
    let scope = name.map(|n| {
        let actions = if matches!(method, Method::GET | Method::HEAD) {
            "pull"
        } else {
            "pull,push"
        };
        format!("repository:{n}:{actions}")
    });
    authenticate(&st, req.headers(), scope).await?;
    let Some(target) = target else {
        return Err(ApiError::new(
            Code::NameUnknown,
            format!("no route for {path}"),
        ));
    };
    if let Some(n) = name
        && !names::valid_name(n)
    {
        return Err(ApiError::new(Code::NameInvalid, "invalid repository name")
            .detail(serde_json::json!({ "name": n })));
    }
    let unsupported = || ApiError::new(Code::Unsupported, format!("{method} not supported here"));
    match (target, &method) {
        (Target::Base, &Method::GET | &Method::HEAD) => Ok(Json::empty_object()),
        (Target::Catalog, &Method::GET) => listing::catalog(st, req).await,
        (Target::Tags(n), &Method::GET) => listing::tags(st, n, req).await,
        (Target::Referrers(n, d), &Method::GET) => manifests::referrers(st, n, d, req).await,
        (Target::Manifest(n, r), &Method::GET | &Method::HEAD) => {
            manifests::get(st, n, r, method == Method::HEAD).await
        }
        (Target::Manifest(n, r), &Method::PUT) => manifests::put(st, n, r, req).await,
        (Target::Manifest(n, r), &Method::DELETE) => manifests::delete(st, n, r).await,
        (Target::Blob(n, d), &Method::GET | &Method::HEAD) => blobs::get(st, n, d, req).await,
        (Target::Blob(n, d), &Method::DELETE) => blobs::delete(st, n, d).await,
        (Target::Upload(n, ""), &Method::POST) => uploads::start(st, n, req).await,
        (Target::Upload(n, id), &Method::PATCH) => uploads::patch(st, n, id, req).await,
        (Target::Upload(n, id), &Method::PUT) => uploads::finish_upload(st, n, id, req).await,
        (Target::Upload(n, id), &Method::GET) => uploads::status(st, n, id).await,
        (Target::Upload(n, id), &Method::DELETE) => uploads::cancel(st, n, id).await,
        _ => Err(unsupported()),
    }
}

/// `GET /token?service=&scope=`: a bearer token for a user with valid basic
/// credentials (anyone, when no htpasswd is configured).
async fn token(State(st): State<St>, req: Request) -> Response {
    let scopes: Vec<String> = req
        .uri()
        .query()
        .map(|q| {
            query_pairs(q)
                .into_iter()
                .filter(|(k, _)| k == "scope")
                .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
                .collect()
        })
        .unwrap_or_default();
    let user = match &st.auth {
        None => "anonymous".to_string(),
        Some(auth) => {
            let creds = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(Auth::basic_credentials);
            let st2 = st.clone();
            let ok = match creds {
                Some((u, p)) => tokio::task::spawn_blocking(move || {
                    st2.auth
                        .as_ref()
                        .is_some_and(|a| a.check_password(&u, &p))
                        .then_some(u)
                })
                .await
                .ok()
                .flatten(),
                None => None,
            };
            match ok {
                Some(u) => u,
                None => {
                    let c = format!("Basic realm=\"{}\"", auth.realm);
                    return ApiError::new(Code::Unauthorized, "authentication required")
                        .header(
                            header::WWW_AUTHENTICATE,
                            HeaderValue::from_str(&c).unwrap_or(HeaderValue::from_static("Basic")),
                        )
                        .into_response();
                }
            }
        }
    };
    let (t, issued) = match &st.auth {
        Some(a) => (a.issue_token(&user, &scopes, now()), now()),
        None => (String::new(), now()),
    };
    let issued_at = chrono::DateTime::from_timestamp(issued, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Json(serde_json::json!({
        "token": t,
        "access_token": t,
        "expires_in": crate::auth::TOKEN_TTL_SECS,
        "issued_at": issued_at,
    }))
    .into_response()
}

/// A JSON body with `application/json`, ending with a newline as distribution's
/// (`json.NewEncoder`) bodies do: `curl /v2/_catalog` prints a whole line.
pub(crate) struct Json(pub(crate) serde_json::Value);

impl Json {
    /// `GET /v2/`'s body: exactly `{}` (distribution writes it without a newline).
    fn empty_object() -> Response {
        ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
    }
}

impl IntoResponse for Json {
    fn into_response(self) -> Response {
        (
            [(header::CONTENT_TYPE, "application/json")],
            format!("{}\n", self.0),
        )
            .into_response()
    }
}

/// Decoded `k=v` pairs of a query string.
pub(crate) fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                let s = s.replace('+', " ");
                percent_decode(&s)
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("x"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn query(req: &Request, key: &str) -> Option<String> {
    query_pairs(req.uri().query()?)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

pub(crate) fn parse_digest(s: &str) -> ApiResult<berth_stdx::Digest> {
    s.parse().map_err(|_| {
        ApiError::new(
            Code::DigestInvalid,
            "provided digest did not match uploaded content",
        )
        .detail(serde_json::json!({ "digest": s }))
    })
}

/// Runs blocking storage work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// Bytes moved per blocking read or write: large enough to amortise the hop to a
/// blocking thread, small enough that many transfers keep memory flat.
const CHUNK: usize = 128 * 1024;

/// How long a request body may stall before the upload is abandoned.
const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Streams `limit` bytes of a blocking reader as a response body. Each chunk is one
/// short blocking read, so a slow client holds no thread, and one chunk at a time is
/// in flight (flat memory however many downloads run).
pub(crate) fn reader_body(r: Box<dyn Read + Send>, limit: u64) -> Body {
    let state = (Some(r), limit);
    Body::from_stream(futures_util::stream::unfold(
        state,
        |(r, left)| async move {
            let mut r = r?;
            if left == 0 {
                return None;
            }
            let want = left.min(CHUNK as u64) as usize;
            let res = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; want];
                let out = loop {
                    match r.read(&mut buf) {
                        Ok(0) => {
                            break Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "blob shorter than its size",
                            ));
                        }
                        Ok(n) => {
                            buf.truncate(n);
                            break Ok(Bytes::from(buf));
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                (r, out)
            })
            .await;
            match res {
                Ok((r, Ok(b))) => {
                    let left = left - b.len() as u64;
                    Some((Ok(b), (Some(r), left)))
                }
                // An error ends the body (the client sees a short read, never bad data).
                Ok((_, Err(e))) => Some((Err(e), (None, 0))),
                Err(e) => Some((Err(io::Error::other(e)), (None, 0))),
            }
        },
    ))
}

/// Streams a request body into a content writer, a chunk per blocking write, so a
/// slow client holds no thread; a body stalled for `BODY_IDLE_TIMEOUT` fails.
/// Returns the writer either way, with the bytes written or the error.
pub(crate) async fn write_body(
    mut w: Box<dyn ContentWriter>,
    body: Body,
) -> ApiResult<(Box<dyn ContentWriter>, io::Result<u64>)> {
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    let mut total = 0u64;
    loop {
        let next = match tokio::time::timeout(BODY_IDLE_TIMEOUT, stream.next()).await {
            Ok(n) => n,
            Err(_) => {
                let e = io::Error::new(io::ErrorKind::TimedOut, "request body stalled");
                return Ok((w, Err(e)));
            }
        };
        let done = match next {
            Some(Ok(chunk)) => {
                total += chunk.len() as u64;
                buf.extend_from_slice(&chunk);
                false
            }
            Some(Err(e)) => return Ok((w, Err(io::Error::other(e)))),
            None => true,
        };
        if buf.len() >= CHUNK || (done && !buf.is_empty()) {
            let data = buf.split().freeze();
            let (back, r) = tokio::task::spawn_blocking(move || {
                let r = w.write_all(&data);
                (w, r)
            })
            .await
            .map_err(ApiError::internal)?;
            w = back;
            if let Err(e) = r {
                return Ok((w, Err(e)));
            }
        }
        if done {
            return Ok((w, Ok(total)));
        }
    }
}

pub(crate) fn empty(status: StatusCode) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, "0")
}

pub(crate) fn finish(b: axum::http::response::Builder, body: Body) -> ApiResult {
    b.body(body).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(parse_path("/v2/"), Some(Target::Base));
        assert_eq!(parse_path("/v2"), Some(Target::Base));
        assert_eq!(parse_path("/v2/_catalog"), Some(Target::Catalog));
        assert_eq!(parse_path("/v2/a/b/tags/list"), Some(Target::Tags("a/b")));
        assert_eq!(
            parse_path("/v2/a/manifests/b/manifests/latest"),
            Some(Target::Manifest("a/manifests/b", "latest"))
        );
        assert_eq!(
            parse_path("/v2/x/blobs/uploads/"),
            Some(Target::Upload("x", ""))
        );
        assert_eq!(
            parse_path("/v2/x/blobs/uploads/abc"),
            Some(Target::Upload("x", "abc"))
        );
        assert_eq!(
            parse_path("/v2/x/blobs/sha256:00"),
            Some(Target::Blob("x", "sha256:00"))
        );
        assert_eq!(
            parse_path("/v2/x/referrers/sha256:00"),
            Some(Target::Referrers("x", "sha256:00"))
        );
        assert_eq!(parse_path("/v3/x"), None);
        assert_eq!(parse_path("/v2/x/other"), None);
    }

    #[test]
    fn queries() {
        assert_eq!(
            query_pairs("a=1&scope=repository%3Afoo%3Apull&b"),
            vec![
                ("a".into(), "1".into()),
                ("scope".into(), "repository:foo:pull".into()),
                ("b".into(), "".into())
            ]
        );
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}

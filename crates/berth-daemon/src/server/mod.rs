//! The HTTP edge: router, version prefix, common headers, panic containment.
//!
//! Request flow: `common_headers` (every response, errors included) ->
//! `version_prefix` (strips `/v1.xx`, validates it, stores the [`ApiVersion`] in the
//! request extensions) -> router -> `catch_panic` -> one route module per resource.

pub mod compat;
pub mod error;
pub mod query;
pub mod stream;

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::{any, delete, get, post};
use futures_util::FutureExt;
use http::HeaderValue;
use tower::Layer;

use berth_api::ApiVersion;

use crate::error::Error;
use crate::events::EventBus;
use crate::images::ImageBackend;
use crate::routes;
use error::error_response;

/// Static facts about this daemon instance, for `/info`.
#[derive(Debug, Clone)]
pub struct DaemonInfo {
    pub id: String,
    pub data_root: PathBuf,
    pub debug: bool,
    pub live_restore: bool,
}

/// What every route can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub images: Arc<dyn ImageBackend>,
    pub containers: Arc<dyn crate::containers::ContainerBackend>,
    pub events: EventBus,
    /// The manager itself, for the daemon's start-up (live-restore).
    pub restore: Arc<crate::containers::ContainerManager>,
    pub info: Arc<DaemonInfo>,
    /// Cancelled when the daemon shuts down; ends long-lived streams (events).
    pub shutdown: tokio_util::sync::CancellationToken,
    /// The Dockerfile builder (absent in route tests over fakes).
    pub builder: Option<Arc<crate::builder::Builder>>,
}

pub const SERVER_HEADER: &str = concat!("Berth/", env!("CARGO_PKG_VERSION"), " (linux)");

/// The edge-wrapped service type the listeners serve.
pub type ApiService = tower::util::BoxCloneSyncService<Request, Response, std::convert::Infallible>;

/// The complete service: routes plus the edge middleware.
pub fn app(state: AppState) -> ApiService {
    let router = Router::new()
        .route(
            "/_ping",
            get(routes::system::ping).head(routes::system::ping_head),
        )
        .route("/version", get(routes::system::version))
        .route("/info", get(routes::system::info))
        .route("/system/df", get(routes::system::df))
        .route("/events", get(routes::events::events))
        .route("/images/{*rest}", any(routes::images::dispatch))
        .route("/auth", post(routes::registry::auth))
        .route("/containers/json", get(routes::containers::list))
        .route("/containers/create", post(routes::containers::create))
        .route("/containers/{id}/json", get(routes::containers::inspect))
        .route("/containers/{id}/start", post(routes::containers::start))
        .route("/containers/{id}/stop", post(routes::containers::stop))
        .route(
            "/containers/{id}/restart",
            post(routes::containers::restart),
        )
        .route("/containers/{id}/kill", post(routes::containers::kill))
        .route("/containers/{id}", delete(routes::containers::remove))
        .route("/containers/{id}/rename", post(routes::containers::rename))
        .route("/containers/{id}/pause", post(routes::containers::pause))
        .route(
            "/containers/{id}/unpause",
            post(routes::containers::unpause),
        )
        .route("/containers/{id}/resize", post(routes::containers::resize))
        .route("/containers/{id}/wait", post(routes::containers::wait))
        .route("/containers/{id}/logs", get(routes::containers::logs))
        .route("/containers/{id}/changes", get(routes::archive::changes))
        .route("/commit", post(routes::archive::commit))
        .route("/containers/{id}/export", get(routes::archive::export))
        .route(
            "/containers/{id}/archive",
            get(routes::archive::get)
                .head(routes::archive::head)
                .put(routes::archive::put),
        )
        .route(
            "/containers/{id}/stats",
            get(routes::container_resources::stats),
        )
        .route(
            "/containers/{id}/top",
            get(routes::container_resources::top),
        )
        .route(
            "/containers/{id}/update",
            post(routes::container_resources::update),
        )
        .route(
            "/containers/prune",
            post(routes::container_resources::prune),
        )
        .route("/networks", get(routes::networks::list))
        .route("/networks/create", post(routes::networks::create))
        .route("/networks/prune", post(routes::networks::prune))
        .route(
            "/networks/{id}",
            get(routes::networks::inspect).delete(routes::networks::remove),
        )
        .route("/networks/{id}/connect", post(routes::networks::connect))
        .route(
            "/networks/{id}/disconnect",
            post(routes::networks::disconnect),
        )
        .route("/volumes", get(routes::volumes::list))
        .route("/volumes/create", post(routes::volumes::create))
        .route("/volumes/prune", post(routes::volumes::prune))
        .route(
            "/volumes/{name}",
            get(routes::volumes::inspect).delete(routes::volumes::remove),
        )
        .route("/build/prune", post(routes::build::prune))
        .route("/build", post(routes::build::build))
        .route("/containers/{id}/attach", post(routes::containers::attach))
        .route("/containers/{id}/exec", post(routes::exec::create))
        .route("/exec/{id}/start", post(routes::exec::start))
        .route("/exec/{id}/json", get(routes::exec::inspect))
        .route("/exec/{id}/resize", post(routes::exec::resize))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(from_fn(catch_panic))
        .with_state(state);
    let versioned = from_fn(version_prefix).layer(router);
    let edged = from_fn(common_headers).layer(versioned);
    tower::util::BoxCloneSyncService::new(edged)
}

pub async fn not_found() -> Response {
    error_response(&Error::not_found("page not found"))
}

/// Adds the headers dockerd puts on every response.
async fn common_headers(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = next.run(req).await;
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "api request");
    let h = resp.headers_mut();
    h.insert("Api-Version", HeaderValue::from_static("1.45"));
    h.insert("Docker-Experimental", HeaderValue::from_static("false"));
    h.insert("Ostype", HeaderValue::from_static("linux"));
    h.insert(
        http::header::SERVER,
        HeaderValue::from_static(SERVER_HEADER),
    );
    resp
}

/// Splits `/v1.41/images/json` into the version and `/images/json`.
fn split_version(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/v")?;
    let end = rest.find('/').unwrap_or(rest.len());
    let v = &rest[..end];
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    Some((v, &rest[end..]))
}

/// Checks a client's version against what this daemon serves (dockerd's wording).
pub fn check_version(v: &str) -> Result<ApiVersion, Error> {
    let parsed = ApiVersion::parse(v).map_err(|e| Error::invalid(e.to_string()))?;
    if parsed < ApiVersion::MIN {
        return Err(Error::invalid(format!(
            "client version {v} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
            ApiVersion::MIN
        )));
    }
    if parsed > ApiVersion::CURRENT {
        return Err(Error::invalid(format!(
            "client version {v} is too new. Maximum supported API version is {}",
            ApiVersion::CURRENT
        )));
    }
    Ok(parsed)
}

async fn version_prefix(mut req: Request, next: Next) -> Response {
    let mut version = ApiVersion::CURRENT;
    if let Some((v, rest)) = split_version(req.uri().path()) {
        version = match check_version(v) {
            Ok(v) => v,
            Err(e) => return error_response(&e),
        };
        let rest = rest.to_string();
        let pq = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest,
        };
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = match pq.parse() {
            Ok(p) => Some(p),
            Err(_) => return not_found().await,
        };
        match http::Uri::from_parts(parts) {
            Ok(u) => *req.uri_mut() = u,
            Err(_) => return not_found().await,
        }
    }
    req.extensions_mut().insert(version);
    next.run(req).await
}

/// A panic in a handler becomes a 500 for that request; the daemon keeps serving.
async fn catch_panic(req: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(r) => r,
        Err(p) => {
            let msg = stream::panic_text(&*p);
            error_response(&Error::internal(format!("internal error: {msg}")))
        }
    }
}

/// Runs blocking store work off the async threads; a panic there is a 500.
pub async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Error::internal(format!("internal error: {e}"))),
    }
}

/// The API version of the current request (set by `version_prefix`).
pub fn api_version(req_ext: &http::Extensions) -> ApiVersion {
    req_ext
        .get::<ApiVersion>()
        .copied()
        .unwrap_or(ApiVersion::CURRENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_prefix_split() {
        assert_eq!(
            split_version("/v1.41/images/json"),
            Some(("1.41", "/images/json"))
        );
        assert_eq!(split_version("/v1.45"), Some(("1.45", "")));
        assert_eq!(split_version("/version"), None);
        assert_eq!(split_version("/volumes"), None);
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_and_the_router_survives() {
        use tower::ServiceExt;
        async fn boom() -> &'static str {
            panic!("boom")
        }
        let router: Router = Router::new()
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "fine" }))
            .layer(from_fn(catch_panic));
        let req = |p: &str| {
            Request::builder()
                .uri(p)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let resp = router.clone().oneshot(req("/boom")).await.unwrap();
        assert_eq!(resp.status(), 500);
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], br#"{"message":"internal error: boom"}"#);
        assert_eq!(router.oneshot(req("/ok")).await.unwrap().status(), 200);
    }

    #[test]
    fn version_bounds() {
        assert!(check_version("1.41").is_ok());
        assert_eq!(
            check_version("1.23").unwrap_err().message,
            "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
        );
        assert_eq!(
            check_version("1.46").unwrap_err().message,
            "client version 1.46 is too new. Maximum supported API version is 1.45"
        );
        assert!(check_version("1.2.3").is_err());
    }
}

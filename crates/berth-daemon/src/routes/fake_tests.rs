//! Route tests over a fake [`ImageBackend`] that reports which call a request became:
//! routing of names with `/` and `:`, verbs, status codes, without any store.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use berth_api::Filters;
use berth_image::{HistoryEntry, Image, SaveItem, UsageReport};
use berth_stdx::Digest;
use http::Request;
use tower::ServiceExt;

use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::images::{
    DeleteRecord, ImageBackend, ImportRequest, ListedImage, LoadMessage, PruneReport,
};
use crate::server::{AppState, DaemonInfo, app};

/// Every call fails with a 404 naming the operation and its arguments.
struct Fake;

fn called(what: String) -> Error {
    Error::not_found(what)
}

impl ImageBackend for Fake {
    fn count(&self) -> usize {
        0
    }
    fn list(&self, all: bool, f: &Filters, shared: bool) -> Result<Vec<ListedImage>> {
        Err(called(format!(
            "list all={all} shared={shared} filters={}",
            f.to_json()
        )))
    }
    fn usage(&self) -> Result<UsageReport> {
        Err(called("usage".into()))
    }
    fn get(&self, name: &str) -> Result<Image> {
        Err(called(format!("get {name}")))
    }
    fn history(&self, name: &str) -> Result<Vec<HistoryEntry>> {
        Err(called(format!("history {name}")))
    }
    fn layer_dirs(&self, _id: &Digest) -> Result<Vec<PathBuf>> {
        Ok(vec![])
    }
    fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        Err(called(format!("tag {name} {repo} {tag}")))
    }
    fn delete(&self, name: &str, force: bool, prune: bool) -> Result<Vec<DeleteRecord>> {
        Err(called(format!("delete {name} force={force} prune={prune}")))
    }
    fn prune(&self, f: &Filters) -> Result<PruneReport> {
        Err(called(format!("prune {}", f.to_json())))
    }
    fn check_import(&self, _req: &ImportRequest) -> Result<()> {
        Ok(())
    }
    fn import(&self, src: &mut dyn Read, req: &ImportRequest) -> Result<Digest> {
        let mut body = String::new();
        let _ = src.read_to_string(&mut body);
        Err(called(format!(
            "import {} {} {:?} body={body}",
            req.repo, req.message, req.changes
        )))
    }
    fn load(
        &self,
        _src: &mut dyn Read,
        quiet: bool,
        _out: &mut dyn FnMut(LoadMessage),
    ) -> Result<()> {
        // A non-quiet load stands in for a bug in store code.
        assert!(quiet, "fake store bug");
        Err(called(format!("load quiet={quiet}")))
    }
    fn resolve_save(&self, names: &[String]) -> Result<Vec<SaveItem>> {
        Err(called(format!("save {}", names.join(","))))
    }
    fn save(&self, _items: &[SaveItem], _out: &mut dyn Write) -> Result<()> {
        Ok(())
    }
}

fn state() -> AppState {
    let images: Arc<dyn crate::images::ImageBackend> = Arc::new(Fake);
    let manager = Arc::new(crate::containers::ContainerManager::new(
        crate::containers::ManagerOptions {
            data_root: "/nonexistent".into(),
            exec_root: "/nonexistent".into(),
            shim_binary: "/nonexistent".into(),
            runtime: "embedded".into(),
            daemon_config: Default::default(),
        },
        images.clone(),
        EventBus::new(),
    ));
    AppState {
        containers: Arc::new(crate::containers::ContainerService(manager.clone())),
        restore: manager,
        images,
        events: EventBus::new(),
        info: Arc::new(DaemonInfo {
            id: "test".into(),
            data_root: "/nonexistent".into(),
            debug: false,
            live_restore: false,
        }),
        shutdown: Default::default(),
        builder: None,
    }
}

async fn call(method: &str, uri: &str, body: &str) -> (u16, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = app(state()).oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let msg = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(String::from))
        .unwrap_or(text);
    (status, msg)
}

#[tokio::test]
async fn image_names_with_slashes_ports_and_verbs_route_to_the_right_call() {
    let cases = [
        (
            "GET",
            "/v1.41/images/localhost:5000/a/b:1/json",
            404,
            "get localhost:5000/a/b:1",
        ),
        (
            "GET",
            "/images/mytest/committed:v1/history",
            404,
            "history mytest/committed:v1",
        ),
        (
            "POST",
            "/images/127.0.0.1:15701/test/busybox:v1/tag?repo=x%2Fy&tag=2",
            404,
            "tag 127.0.0.1:15701/test/busybox:v1 x/y 2",
        ),
        (
            "DELETE",
            "/images/127.0.0.1:15701/test/busybox:v1?force=1&noprune=1",
            404,
            "delete 127.0.0.1:15701/test/busybox:v1 force=true prune=false",
        ),
        (
            "DELETE",
            "/images/weird/json",
            404,
            "delete weird/json force=false prune=true",
        ),
        ("GET", "/images/a/b/get", 404, "save a/b"),
        ("GET", "/images/get?names=a&names=b%2Fc", 404, "save a,b/c"),
        (
            "GET",
            "/images/json?all=1&shared-size=1",
            404,
            "list all=true shared=true filters={}",
        ),
        (
            "GET",
            "/v1.41/images/json?shared-size=1",
            404,
            "list all=false shared=false filters={}",
        ),
        (
            "POST",
            "/images/prune?filters=%7B%22until%22%3A%5B%2210m%22%5D%7D",
            404,
            r#"prune {"until":{"10m":true}}"#,
        ),
        (
            "POST",
            "/images/127.0.0.1:5000/a/push?tag=v1",
            501,
            "registries are not configured in this daemon",
        ),
        ("GET", "/images/busybox", 404, "page not found"),
        ("PUT", "/images/busybox/json", 404, "page not found"),
    ];
    for (m, uri, status, want) in cases {
        let (s, msg) = call(m, uri, "").await;
        assert_eq!((s, msg.as_str()), (status, want), "{m} {uri}");
    }
}

#[tokio::test]
async fn import_passes_repeated_changes_and_the_body() {
    let (s, msg) = call(
        "POST",
        "/images/create?fromSrc=-&repo=a%2Fb%3A1&message=hi&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3D1",
        "TAR",
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        msg,
        r#"import a/b:1 hi ["CMD [\"sh\"]", "ENV A=1"] body=TAR"#
    );
}

#[tokio::test]
async fn load_errors_are_in_band_after_200() {
    let req = Request::post("/images/load?quiet=1")
        .body(Body::from("x"))
        .unwrap();
    let resp = app(state()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        "{\"errorDetail\":{\"message\":\"load quiet=true\"},\"error\":\"load quiet=true\"}\n"
    );
}

#[tokio::test]
async fn a_panic_in_blocking_store_code_ends_the_stream_with_an_error() {
    let req = Request::post("/images/load").body(Body::from("x")).unwrap();
    let resp = app(state()).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        "{\"errorDetail\":{\"message\":\"internal error: fake store bug\"},\"error\":\"internal error: fake store bug\"}\n"
    );
}

//! Engine API tests against an in-process daemon on a temporary socket and data-root,
//! spoken to with raw HTTP/1.1 over the unix socket (hyper client), as the docker CLI does.

use std::path::{Path, PathBuf};

use berth_daemon::{CancellationToken, Daemon, DaemonOptions};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use serde_json::Value;

struct TestDaemon {
    _dir: tempfile::TempDir,
    sock: PathBuf,
    token: CancellationToken,
    task: Option<tokio::task::JoinHandle<Result<(), String>>>,
}

impl TestDaemon {
    async fn start() -> TestDaemon {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("api.sock");
        let opts =
            DaemonOptions::with_roots(&sock, &dir.path().join("root"), &dir.path().join("exec"));
        let daemon = tokio::task::spawn_blocking(move || Daemon::new(opts))
            .await
            .unwrap()
            .expect("daemon starts");
        let token = CancellationToken::new();
        let task = tokio::spawn(daemon.serve(token.clone()));
        for _ in 0..200 {
            if tokio::net::UnixStream::connect(&sock).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        TestDaemon {
            _dir: dir,
            sock,
            token,
            task: Some(task),
        }
    }

    async fn stop(mut self) {
        self.token.cancel();
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
        assert!(!self.sock.exists(), "socket removed at shutdown");
    }

    async fn req(&self, method: Method, path: &str, body: Vec<u8>) -> Resp {
        send(&self.sock, method, path, Body::Full(body)).await
    }

    async fn get(&self, path: &str) -> Resp {
        self.req(Method::GET, path, vec![]).await
    }

    /// A chunked request body, as the docker CLI sends for load/import.
    async fn chunked(&self, method: Method, path: &str, body: Vec<u8>) -> Resp {
        send(&self.sock, method, path, Body::Chunked(body)).await
    }
}

enum Body {
    Full(Vec<u8>),
    Chunked(Vec<u8>),
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

async fn send(sock: &Path, method: Method, path: &str, body: Body) -> Resp {
    let stream = tokio::net::UnixStream::connect(sock)
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<
        _,
        BoxBody<Bytes, std::io::Error>,
    >(TokioIo::new(stream))
    .await
    .expect("handshake");
    tokio::spawn(conn);
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header("Host", "api.moby.localhost");
    let req = match body {
        Body::Full(b) => builder
            .body(
                Full::new(Bytes::from(b))
                    .map_err(|never| match never {})
                    .boxed(),
            )
            .unwrap(),
        Body::Chunked(b) => {
            let chunks: Vec<Result<Frame<Bytes>, std::io::Error>> = b
                .chunks(7000)
                .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
                .collect();
            builder
                .header("Content-Type", "application/x-tar")
                .body(StreamBody::new(futures_util::stream::iter(chunks)).boxed())
                .unwrap()
        }
    };
    let resp = sender.send_request(req).await.expect("send");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

/// A small rootfs tar with one file whose content varies per image.
fn rootfs_tar(content: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("etc/hello.txt").unwrap();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, content.as_bytes()).unwrap();
    b.into_inner().unwrap()
}

async fn import(d: &TestDaemon, content: &str, repo: &str) -> String {
    let path = format!(
        "/v1.45/images/create?fromSrc=-&repo={}&message=m",
        urlencoding::encode(repo)
    );
    let r = d.chunked(Method::POST, &path, rootfs_tar(content)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let last: Value = serde_json::from_str(r.text().lines().last().unwrap()).unwrap();
    let id = last["status"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256:"), "{}", r.text());
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_common_headers() {
    let d = TestDaemon::start().await;
    for m in [Method::GET, Method::HEAD] {
        let r = d.req(m.clone(), "/_ping", vec![]).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["api-version"], "1.45");
        assert_eq!(r.headers["ostype"], "linux");
        assert_eq!(r.headers["docker-experimental"], "false");
        assert_eq!(r.headers["builder-version"], "1");
        assert_eq!(
            r.headers["cache-control"],
            "no-cache, no-store, must-revalidate"
        );
        assert_eq!(r.headers["pragma"], "no-cache");
        assert!(r.headers["server"].to_str().unwrap().starts_with("Berth/"));
        assert_eq!(r.text(), if m == Method::GET { "OK" } else { "" });
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_negotiated_and_checked() {
    let d = TestDaemon::start().await;
    let v = d.get("/version").await;
    assert_eq!(v.json()["ApiVersion"], "1.45");
    assert_eq!(v.json()["MinAPIVersion"], "1.24");
    assert_eq!(d.get("/v1.41/version").await.status, 200);
    assert_eq!(d.get("/v1.24/_ping").await.status, 200);
    let old = d.get("/v1.23/version").await;
    assert_eq!(old.status, 400);
    assert_eq!(
        old.message(),
        "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"
    );
    assert!(
        old.headers.contains_key("api-version"),
        "errors carry the headers too"
    );
    let new = d.get("/v1.99/version").await;
    assert_eq!(new.status, 400);
    assert!(new.message().contains("too new"), "{}", new.message());
    // Older clients still get the fields they expect.
    let id = import(&d, "a", "old/client:1").await;
    let inspect = d.get("/v1.41/images/old/client:1/json").await.json();
    assert_eq!(inspect["Id"], id.as_str());
    assert!(inspect.get("VirtualSize").is_some() && inspect.get("ContainerConfig").is_some());
    let current = d.get("/images/old/client:1/json").await.json();
    assert!(current.get("VirtualSize").is_none() && current.get("ContainerConfig").is_none());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_bad_parameters() {
    let d = TestDaemon::start().await;
    for (m, p) in [
        (Method::GET, "/nope"),
        (Method::DELETE, "/version"),
        (Method::GET, "/v1.41/"),
    ] {
        let r = d.req(m, p, vec![]).await;
        assert_eq!(r.status, 404, "{p}");
        assert_eq!(r.text(), r#"{"message":"page not found"}"#);
    }
    let bad_json = d.get("/images/json?filters=%7Bnot-json").await;
    assert_eq!(bad_json.status, 400);
    assert!(
        bad_json.message().starts_with("invalid filter"),
        "{}",
        bad_json.message()
    );
    let bad_key = d
        .get("/images/json?filters=%7B%22foo%22%3A%7B%22x%22%3Atrue%7D%7D")
        .await;
    assert_eq!(
        (bad_key.status, bad_key.message().as_str()),
        (StatusCode::BAD_REQUEST, "invalid filter 'foo'")
    );
    let bad_events = d.get("/events?filters=%5B%5D").await;
    assert_eq!(bad_events.status, 400);
    let missing = d.get("/images/foo/json").await;
    assert_eq!(
        (missing.status, missing.message().as_str()),
        (StatusCode::NOT_FOUND, "No such image: foo:latest")
    );
    let bad_ref = d
        .req(
            Method::POST,
            "/images/create?fromSrc=-&repo=UPPER%20case",
            vec![],
        )
        .await;
    assert_eq!(bad_ref.status, 400, "{}", bad_ref.text());
    assert!(
        bad_ref.message().starts_with("invalid reference format"),
        "{}",
        bad_ref.message()
    );
    // A registry that is not there (nothing listens on 127.0.0.1:9): docker's 500 with
    // the connection error, never a hang; nothing leaves the machine.
    let pull = d
        .req(
            Method::POST,
            "/images/create?fromImage=127.0.0.1:9/busybox&tag=latest",
            vec![],
        )
        .await;
    assert_eq!(pull.status, 500, "{}", pull.text());
    assert!(pull.message().contains("127.0.0.1:9"), "{}", pull.message());
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_list_inspect_tag_delete() {
    let d = TestDaemon::start().await;
    let id = import(&d, "one", "mytest/imported:v1").await;
    let list = d.get("/images/json").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["Id"], id.as_str());
    assert_eq!(list[0]["RepoTags"][0], "mytest/imported:v1");

    // Names with a registry port and slashes route to the right image.
    let t = d
        .req(
            Method::POST,
            "/v1.45/images/mytest/imported:v1/tag?repo=localhost:5000/a/b&tag=1",
            vec![],
        )
        .await;
    assert_eq!(t.status, 201, "{}", t.text());
    let ins = d.get("/images/localhost:5000/a/b:1/json").await;
    assert_eq!(ins.status, 200, "{}", ins.text());
    assert_eq!(ins.json()["Id"], id.as_str());
    assert_eq!(ins.json()["Comment"], "m");
    let hist = d.get("/images/localhost:5000/a/b:1/history").await;
    assert_eq!(hist.status, 200);
    assert!(!hist.json().as_array().unwrap().is_empty());

    // Filters in both shapes.
    let by_ref = d
        .get("/images/json?filters=%7B%22reference%22%3A%5B%22mytest%2F*%22%5D%7D")
        .await
        .json();
    assert_eq!(
        by_ref[0]["RepoTags"],
        serde_json::json!(["mytest/imported:v1"])
    );
    let dangling = d
        .get("/images/json?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D")
        .await
        .json();
    assert_eq!(dangling.as_array().unwrap().len(), 0);

    // By id with two tags: conflict unless forced.
    let short = &id["sha256:".len().."sha256:".len() + 12];
    let conflict = d
        .req(Method::DELETE, &format!("/images/{short}"), vec![])
        .await;
    assert_eq!(conflict.status, 409);
    assert_eq!(
        conflict.message(),
        format!(
            "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
        )
    );
    // By name: only untags while another tag remains.
    let untag = d
        .req(Method::DELETE, "/images/localhost:5000/a/b:1", vec![])
        .await
        .json();
    assert_eq!(
        untag,
        serde_json::json!([{"Untagged": "localhost:5000/a/b:1"}])
    );
    // The last tag: untag and delete.
    let del = d
        .req(Method::DELETE, "/images/mytest/imported:v1", vec![])
        .await
        .json();
    assert_eq!(
        del[0],
        serde_json::json!({"Untagged": "mytest/imported:v1"})
    );
    assert!(
        del.as_array()
            .unwrap()
            .iter()
            .any(|r| r["Deleted"] == id.as_str()),
        "{del}"
    );
    assert_eq!(d.get("/images/json").await.json(), serde_json::json!([]));
    assert_eq!(
        d.req(Method::DELETE, "/images/mytest/imported:v1", vec![])
            .await
            .status,
        404
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_then_load_and_prune() {
    let d = TestDaemon::start().await;
    let id = import(&d, "saved", "mytest/saved:v1").await;
    let saved = d.get("/images/get?names=mytest%2Fsaved%3Av1").await;
    assert_eq!(saved.status, 200);
    assert_eq!(saved.headers["content-type"], "application/x-tar");
    let mut names = Vec::new();
    for e in tar::Archive::new(&saved.body[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(
        names.contains(&"manifest.json".to_string()) && names.contains(&"index.json".to_string()),
        "{names:?}"
    );
    d.req(Method::DELETE, "/images/mytest/saved:v1", vec![])
        .await;

    let load = d
        .chunked(Method::POST, "/images/load?quiet=1", saved.body.to_vec())
        .await;
    assert_eq!(load.status, 200);
    assert!(
        load.text()
            .contains(r#"{"stream":"Loaded image: mytest/saved:v1\n"}"#),
        "{}",
        load.text()
    );
    assert_eq!(
        d.get("/images/mytest/saved:v1/json").await.json()["Id"],
        id.as_str()
    );

    // Prune: dangling only by default; an untagged import goes, the tagged one stays.
    let dangling = import(&d, "dangling", "").await;
    let pruned = d
        .req(
            Method::POST,
            "/images/prune?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D",
            vec![],
        )
        .await;
    assert_eq!(pruned.status, 200, "{}", pruned.text());
    let deleted = pruned.json()["ImagesDeleted"].clone();
    assert!(
        deleted
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["Deleted"] == dangling.as_str()),
        "{deleted}"
    );
    assert_eq!(
        d.get("/images/json").await.json().as_array().unwrap().len(),
        1
    );
    let df = d.get("/system/df").await.json();
    assert_eq!(df["Images"].as_array().unwrap().len(), 1);
    assert_eq!(df["Containers"], serde_json::json!([]));
    assert_eq!(d.get("/info").await.json()["Images"], 1);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_replay_and_filter() {
    let d = TestDaemon::start().await;
    let id = import(&d, "ev", "mytest/ev:1").await;
    d.req(
        Method::POST,
        "/images/mytest/ev:1/tag?repo=mytest/ev&tag=2",
        vec![],
    )
    .await;
    let now = chrono::Utc::now().timestamp() + 1;
    let all = d.get(&format!("/events?since=0&until={now}")).await;
    assert_eq!(all.status, 200);
    let evs: Vec<Value> = all
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = evs.iter().map(|e| e["Action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["import", "tag", "tag"]);
    assert_eq!(evs[0]["Actor"]["ID"], id.as_str());
    assert_eq!(evs[0]["status"], "import");
    assert_eq!(evs[0]["scope"], "local");
    assert_eq!(evs[2]["Actor"]["Attributes"]["name"], "mytest/ev:2");
    let tags = d
        .get(&format!("/events?since=0&until={now}&filters=%7B%22event%22%3A%5B%22tag%22%5D%2C%22image%22%3A%5B%22mytest%2Fev%22%5D%7D"))
        .await;
    assert_eq!(tags.text().lines().count(), 2, "{}", tags.text());
    let rfc = d
        .get("/events?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z")
        .await;
    assert_eq!((rfc.status, rfc.body.len()), (StatusCode::OK, 0));
    let backwards = d.get("/events?since=100&until=50").await;
    assert_eq!(backwards.status, 400);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_never_kill_the_daemon() {
    let d = TestDaemon::start().await;
    let junk = b"this is not a tar archive at all".repeat(100);
    let load = d.chunked(Method::POST, "/images/load", junk.clone()).await;
    assert_eq!(load.status, 200, "load errors are in-band after the 200");
    assert!(load.text().contains("errorDetail"), "{}", load.text());
    let imp = d
        .chunked(Method::POST, "/images/create?fromSrc=-", junk)
        .await;
    assert!(
        imp.status.is_client_error() || imp.text().contains("errorDetail"),
        "{} {}",
        imp.status,
        imp.text()
    );
    let bad_change = d
        .chunked(
            Method::POST,
            "/images/create?fromSrc=-&changes=FOO%20bar",
            rootfs_tar("x"),
        )
        .await;
    assert_eq!(bad_change.status, 400, "{}", bad_change.text());

    // A client that goes away in the middle of a chunked upload.
    {
        use tokio::io::AsyncWriteExt;
        let mut s = tokio::net::UnixStream::connect(&d.sock).await.unwrap();
        let tar = rootfs_tar("partial");
        let head = "POST /images/load HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(format!("{:x}\r\n", 100).as_bytes())
            .await
            .unwrap();
        s.write_all(&tar[..100]).await.unwrap();
        s.write_all(b"\r\n").await.unwrap();
        drop(s);
    }
    // Garbage on the wire.
    {
        use tokio::io::AsyncWriteExt;
        let mut s = tokio::net::UnixStream::connect(&d.sock).await.unwrap();
        s.write_all(b"\x00\x01GARBAGE / HTTP/9.9\r\n\r\n")
            .await
            .unwrap();
        drop(s);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(d.get("/_ping").await.status, 200);
    assert_eq!(d.get("/images/json").await.json(), serde_json::json!([]));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_daemon_on_same_root_or_socket_is_refused() {
    let d = TestDaemon::start().await;
    let root = d._dir.path().join("root");
    let other = tempfile::tempdir().unwrap();
    let opts =
        DaemonOptions::with_roots(&other.path().join("s.sock"), &root, &other.path().join("e"));
    let err = tokio::task::spawn_blocking(move || Daemon::new(opts).err())
        .await
        .unwrap()
        .unwrap();
    assert!(err.contains("is in use by another daemon (pid"), "{err}");

    let opts = DaemonOptions::with_roots(&d.sock, &other.path().join("r"), &other.path().join("e"));
    let second = tokio::task::spawn_blocking(move || Daemon::new(opts))
        .await
        .unwrap()
        .unwrap();
    let err = second.serve(CancellationToken::new()).await.unwrap_err();
    assert_eq!(
        err,
        format!("socket {} is in use by another daemon", d.sock.display())
    );
    assert_eq!(
        d.get("/_ping").await.status,
        200,
        "the first daemon keeps its socket"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_live_and_end_at_shutdown() {
    let d = TestDaemon::start().await;
    let stream = tokio::net::UnixStream::connect(&d.sock).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/v1.41/events?filters=%7B%22type%22%3A%7B%22image%22%3Atrue%7D%7D")
        .header("Host", "x")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let id = import(&d, "live", "").await;
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !got.ends_with(b"\n") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("event in time");
        if let Some(Ok(f)) = frame
            && let Ok(data) = f.into_data()
        {
            got.extend_from_slice(&data);
        }
    }
    let ev: Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(
        (
            ev["Type"].as_str(),
            ev["Action"].as_str(),
            ev["id"].as_str()
        ),
        (Some("image"), Some("import"), Some(id.as_str()))
    );
    // Shutdown ends the stream instead of hanging.
    let ending = tokio::spawn(async move { while let Some(Ok(_)) = body.frame().await {} });
    d.stop().await;
    tokio::time::timeout(std::time::Duration::from_secs(5), ending)
        .await
        .expect("stream ended")
        .unwrap();
}

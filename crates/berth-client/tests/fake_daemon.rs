//! Client behaviour against a tiny in-process daemon on a temporary unix socket:
//! version negotiation, error mapping, chunked uploads and JSON-lines streams.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use berth_client::{Client, Error, Host};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

type Log = Arc<Mutex<Vec<String>>>;

async fn handle(
    mut req: Request<Incoming>,
    log: Log,
    api: &'static str,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path().ends_with("/attach") {
        // Hijack: 101, then echo whatever the client writes, upper-cased.
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let Ok(up) = on.await else { return };
            let mut io = TokioIo::new(up);
            let mut buf = [0u8; 64];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let _ = io.write_all(&buf[..n].to_ascii_uppercase()).await;
            }
        });
        return Ok(Response::builder()
            .status(101)
            .header("Connection", "Upgrade")
            .header("Upgrade", "tcp")
            .body(Full::new(Bytes::new()))
            .unwrap());
    }
    let line = format!(
        "{} {} te={}",
        req.method(),
        req.uri(),
        req.headers()
            .get("transfer-encoding")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
    );
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    log.lock()
        .unwrap()
        .push(format!("{line} body={}", body.len()));
    let resp = |status: u16, body: &str| {
        Response::builder()
            .status(status)
            .header("Api-Version", api)
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap()
    };
    Ok(match path.as_str() {
        "/_ping" => resp(200, ""),
        p if p.ends_with("/images/json") => resp(200, r#"[{"Id":"sha256:ab"}]"#),
        p if p.ends_with("/images/nope/json") => {
            resp(404, r#"{"message":"No such image: nope:latest"}"#)
        }
        p if p.ends_with("/images/load") => resp(
            200,
            "{\"stream\":\"Loaded image: a:b\\n\"}\r\n\n{\"status\":\"x\"}",
        ),
        _ => resp(500, "not json"),
    })
}

async fn start(api: &'static str) -> (tempfile::TempDir, Host, Log) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("d.sock");
    let listener = tokio::net::UnixListener::bind(&sock).unwrap();
    let log: Log = Arc::default();
    let l2 = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                return;
            };
            let log = l2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |r| handle(r, log.clone(), api));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (dir, Host::Unix(sock), log)
}

#[tokio::test]
async fn negotiates_and_prefixes_paths() {
    let (_d, host, log) = start("1.41").await;
    let c = Client::new(host);
    assert_eq!(c.negotiate().await.unwrap(), "1.41");
    let v: serde_json::Value = c
        .get("/images/json")
        .query_flag("all", true)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v[0]["Id"], "sha256:ab");
    let log = log.lock().unwrap().clone();
    assert_eq!(log[0], "HEAD /_ping te=- body=0");
    assert_eq!(log[1], "GET /v1.41/images/json?all=1 te=- body=0");
}

#[tokio::test]
async fn newer_daemons_are_capped_at_our_version() {
    let (_d, host, _log) = start("1.51").await;
    let c = Client::new(host);
    assert_eq!(c.negotiate().await.unwrap(), "1.45");
}

#[tokio::test]
async fn errors_carry_status_and_message() {
    let (_d, host, _log) = start("1.45").await;
    let c = Client::new(host);
    c.negotiate().await.unwrap();
    let e = c.get("/images/nope/json").send().await.err().unwrap();
    assert_eq!(e.status(), Some(404));
    assert_eq!(
        e.to_string(),
        "Error response from daemon: No such image: nope:latest"
    );
    let e = c.get("/other").send().await.err().unwrap();
    assert_eq!(e.to_string(), "Error response from daemon: not json");
}

#[tokio::test]
async fn streams_bodies_chunked_and_reads_json_lines() {
    let (_d, host, log) = start("1.45").await;
    let c = Client::new(host);
    c.negotiate().await.unwrap();
    let data = vec![7u8; 300_000];
    let resp = c
        .post("/images/load")
        .body_reader(std::io::Cursor::new(data), "application/x-tar")
        .send()
        .await
        .unwrap();
    let mut lines = resp.json_lines();
    let mut got = Vec::new();
    while let Some(v) = lines.next::<serde_json::Value>().await {
        got.push(v.unwrap());
    }
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["stream"], "Loaded image: a:b\n");
    assert_eq!(got[1]["status"], "x");
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|l| l == "POST /v1.45/images/load te=chunked body=300000"),
        "{:?}",
        log
    );
}

#[tokio::test]
async fn unreachable_daemon_is_a_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::new(Host::Unix(dir.path().join("none.sock")));
    let e = c.ping().await.err().unwrap();
    assert!(e.is_connect());
    assert!(matches!(e, Error::Connect { .. }));
    assert!(
        e.to_string()
            .starts_with("Cannot connect to the berth daemon at unix://")
    );
    assert!(e.to_string().ends_with("Is the berth daemon running?"));
}

#[tokio::test]
async fn upgrades_to_a_raw_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (_d, host, _log) = start("1.45").await;
    let c = Client::new(host);
    c.negotiate().await.unwrap();
    let resp = c
        .post("/containers/x/attach")
        .upgrade()
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    let mut io = resp.upgrade().await.unwrap();
    io.write_all(b"hi").await.unwrap();
    let mut buf = [0u8; 2];
    io.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"HI");
}

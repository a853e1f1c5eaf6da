//! Registry routes: pull (`POST /images/create?fromImage=`), push
//! (`POST /images/{name}/push`), `POST /auth` and `GET /images/search`, with docker's
//! JSON progress stream (errors before the first line are a plain status, after it
//! in-band).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use http::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use berth_api::JsonMessage;

use crate::error::Error;
use crate::images::{Progress, PullRequest, Registries, Sink, decode_auth};
use crate::server::error::error_response;
use crate::server::query::Query;
use crate::server::{AppState, blocking};

fn registries(st: &AppState) -> Result<Registries, Error> {
    st.images
        .registries()
        .ok_or_else(|| Error::not_implemented("registries are not configured in this daemon"))
}

fn auth_header(h: &HeaderMap) -> Option<&str> {
    h.get("x-registry-auth").and_then(|v| v.to_str().ok())
}

/// docker's JSON for one progress line.
fn to_json(p: Progress) -> JsonMessage {
    match p {
        Progress::Status(s) => JsonMessage::status(s),
        Progress::Id { id, status } => JsonMessage {
            progress_detail: (!status.starts_with("Pulling from ")).then(|| json!({})),
            status: Some(status),
            id: Some(id),
            ..Default::default()
        },
        Progress::Bar {
            id,
            status,
            current,
            total,
        } => JsonMessage {
            status: Some(status),
            progress_detail: Some(json!({"current": current, "total": total})),
            progress: Some(super::images::progress_bar(current, total)),
            id: Some(id),
            ..Default::default()
        },
        Progress::Aux { tag, digest, size } => JsonMessage {
            progress_detail: Some(json!({})),
            aux: Some(json!({"Tag": tag, "Digest": digest, "Size": size})),
            ..Default::default()
        },
    }
}

enum Item {
    Line(Box<JsonMessage>),
    Fail(Error),
}

/// Runs `work` as a task; an error before its first line is the response status.
async fn progress_stream<F, Fut>(work: F) -> Response
where
    F: FnOnce(Sink) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>> + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Item>();
    let line_tx = tx.clone();
    let sink: Sink = Arc::new(move |p| {
        let _ = line_tx.send(Item::Line(Box::new(to_json(p))));
    });
    let fut = work(sink);
    // As docker, the work is cancelled when its client goes away: the response body
    // (the receiver) is dropped, `closed` fires and the work future is dropped.
    tokio::spawn(async move {
        tokio::select! {
            r = fut => if let Err(e) = r {
                let _ = tx.send(Item::Fail(e));
            },
            _ = tx.closed() => tracing::info!("client disconnected: operation cancelled"),
        }
    });
    let first = match rx.recv().await {
        Some(Item::Fail(e)) => return error_response(&e),
        Some(Item::Line(m)) => m,
        None => return ([(http::header::CONTENT_TYPE, "application/json")], "").into_response(),
    };
    let head = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from(first.to_line()))]);
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let line = match rx.recv().await? {
            Item::Line(m) => m.to_line(),
            Item::Fail(e) => JsonMessage::error(e.message).to_line(),
        };
        Some((Ok(Bytes::from(line)), rx))
    });
    let body = Body::from_stream(head.chain(rest));
    ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `POST /images/create?fromImage=&tag=&platform=`
pub async fn pull(st: AppState, q: Query, headers: &HeaderMap) -> Response {
    let reg = match registries(&st) {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    let req = PullRequest {
        image: q.get("fromImage").to_string(),
        tag: q.get("tag").to_string(),
        platform: Some(q.get("platform").to_string()).filter(|p| !p.is_empty()),
        creds: decode_auth(auth_header(headers)),
    };
    progress_stream(move |sink| async move { reg.pull(req, sink).await }).await
}

/// `POST /images/{name}/push?tag=`
pub async fn push(st: AppState, name: String, q: Query, headers: &HeaderMap) -> Response {
    let reg = match registries(&st) {
        Ok(r) => r,
        Err(e) => return error_response(&e),
    };
    let tag = q.get("tag").to_string();
    let creds = decode_auth(auth_header(headers));
    let r2 = reg.clone();
    let targets = match blocking(move || r2.push_targets(&name, &tag)).await {
        Ok(t) => t,
        Err(e) => return error_response(&e),
    };
    progress_stream(move |sink| async move { reg.push(targets, creds, sink).await }).await
}

/// `POST /auth`: `{"username","password","serveraddress",…}`.
pub async fn auth(State(st): State<AppState>, body: Bytes) -> Response {
    let r = async {
        let reg = registries(&st)?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::invalid(format!("invalid auth configuration: {e}")))?;
        let creds: berth_registry::client::Credentials =
            serde_json::from_value(v.clone()).unwrap_or_default();
        let server = v["serveraddress"].as_str().unwrap_or("");
        reg.login(server, &creds).await?;
        Ok::<_, Error>(axum::Json(
            json!({"IdentityToken": "", "Status": "Login Succeeded"}),
        ))
    }
    .await;
    r.map(IntoResponse::into_response)
        .unwrap_or_else(|e| error_response(&e))
}

/// `GET /images/search?term=&limit=&filters=`
pub async fn search(st: AppState, q: Query, headers: &HeaderMap) -> Response {
    let r = async {
        let reg = registries(&st)?;
        let term = q.get("term").to_string();
        let limit = match q.get("limit") {
            "" => 25,
            l => l
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| Error::invalid("limit 0 is outside the range of [1, 100]"))?,
        };
        let filters = q.filters()?;
        filters.validate(&["stars", "is-automated", "is-official"])?;
        let min_stars: i64 = match filters.get("stars").first() {
            Some(s) => s
                .parse()
                .map_err(|_| Error::invalid(format!("invalid filter 'stars={s}'")))?,
            None => 0,
        };
        let flag = |k: &str| -> Result<Option<bool>, Error> {
            match filters.get(k).first() {
                Some(v) => v
                    .parse::<bool>()
                    .map(Some)
                    .map_err(|_| Error::invalid(format!("invalid filter '{k}={v}'"))),
                None => Ok(None),
            }
        };
        let (official, automated) = (flag("is-official")?, flag("is-automated")?);
        let creds = decode_auth(auth_header(headers));
        let results = reg.search(&term, limit, &creds).await?;
        let out: Vec<Value> = results
            .into_iter()
            .filter(|r| r.star_count >= min_stars)
            .filter(|r| official.is_none_or(|o| o == r.is_official))
            .filter(|r| automated.is_none_or(|a| a == r.is_automated))
            .map(|r| {
                json!({
                    "star_count": r.star_count, "is_official": r.is_official,
                    "name": r.name, "is_automated": r.is_automated,
                    "description": r.description,
                })
            })
            .collect();
        Ok::<_, Error>(axum::Json(Value::Array(out)))
    }
    .await;
    r.map(IntoResponse::into_response)
        .unwrap_or_else(|e| error_response(&e))
}

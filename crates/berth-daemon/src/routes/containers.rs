//! `/containers/...`: thin handlers over the container manager. Attach is a hijacked
//! connection (HTTP 101) spliced to the shim's attach stream.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Extensions, StatusCode};
use serde_json::{Map, Value, json};

use berth_api::ApiVersion;

use crate::containers::{AttachTarget, DetachKeys, LogOptions, WaitCondition, splice};
use crate::error::Error;
use crate::server::query::Query;
use crate::server::{AppState, api_version};

type R = Result<Response, Error>;

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}
fn not_modified() -> Response {
    StatusCode::NOT_MODIFIED.into_response()
}

/// Parses a JSON object body (empty = `{}`), 400 on anything else.
pub(crate) async fn json_body(body: Body) -> Result<Map<String, Value>, Error> {
    let bytes = axum::body::to_bytes(body, 16 << 20)
        .await
        .map_err(|e| Error::invalid(format!("read request body: {e}")))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::invalid("invalid JSON: the body must be an object")),
        Err(e) => Err(Error::invalid(format!("invalid JSON: {e}"))),
    }
}

pub async fn list(State(st): State<AppState>, q: Query) -> R {
    let filters = q.filters()?;
    let limit = q.get("limit").parse::<i64>().unwrap_or(-1);
    let mut rows = st.containers.list(q.bool("all"), &filters, limit)?;
    if q.bool("size") {
        let backend = st.containers.clone();
        rows = crate::server::blocking(move || {
            for r in &mut rows {
                let id = r["Id"].as_str().unwrap_or_default().to_string();
                // A container removed meanwhile keeps its row without sizes.
                if let Ok((rw, rootfs)) = backend.sizes(&id) {
                    r["SizeRw"] = json!(rw);
                    r["SizeRootFs"] = json!(rootfs);
                }
            }
            Ok(rows)
        })
        .await?;
    }
    Ok(Json(rows).into_response())
}

pub async fn create(State(st): State<AppState>, q: Query, body: Body) -> R {
    let body = json_body(body).await?;
    let (id, warnings) = st.containers.create(q.get("name"), body).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"Id": id, "Warnings": warnings})),
    )
        .into_response())
}

pub async fn inspect(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    let mut v = st.containers.inspect(&id)?;
    if q.bool("size") {
        let backend = st.containers.clone();
        let (rw, rootfs) = crate::server::blocking(move || backend.sizes(&id)).await?;
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(rootfs);
    }
    Ok(Json(v).into_response())
}

pub async fn start(State(st): State<AppState>, Path(id): Path<String>) -> R {
    let r = st.containers.start(&id).await;
    if let Err(e) = &r {
        // docker removes an auto-remove container whose start failed.
        if let Ok(rec) = st.containers.get(&id)
            && rec.hc_bool("AutoRemove")
            && !rec.state.status.is_active()
        {
            let _ = st.containers.remove(&rec.id, true).await;
        }
        return Err(e.clone());
    }
    Ok(if r? { no_content() } else { not_modified() })
}

fn timeout(q: &Query) -> Result<Option<i64>, Error> {
    match q.get("t") {
        "" => Ok(None),
        t => t
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Error::invalid(format!("invalid value for t: {t:?}"))),
    }
}

pub async fn stop(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    let sig = Some(q.get("signal").to_string());
    Ok(if st.containers.stop(&id, timeout(&q)?, sig).await? {
        no_content()
    } else {
        not_modified()
    })
}

pub async fn restart(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    let sig = Some(q.get("signal").to_string());
    st.containers.restart(&id, timeout(&q)?, sig).await?;
    Ok(no_content())
}

pub async fn kill(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    st.containers.kill(&id, q.get("signal")).await?;
    Ok(no_content())
}

pub async fn remove(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    if q.bool("link") {
        return Err(Error::invalid("links are not supported"));
    }
    let rec = st.containers.get(&id)?;
    st.containers.remove(&id, q.bool("force")).await?;
    if q.bool("v") {
        st.restore.release_mounts(&rec, true);
    }
    Ok(no_content())
}

pub async fn rename(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    st.containers.rename(&id, q.get("name"))?;
    Ok(no_content())
}

pub async fn pause(State(st): State<AppState>, Path(id): Path<String>) -> R {
    st.containers.pause(&id, true).await?;
    Ok(no_content())
}

pub async fn unpause(State(st): State<AppState>, Path(id): Path<String>) -> R {
    st.containers.pause(&id, false).await?;
    Ok(no_content())
}

fn dims(q: &Query) -> Result<(u16, u16), Error> {
    let h = q.get("h").parse::<u16>();
    let w = q.get("w").parse::<u16>();
    match (h, w) {
        (Ok(h), Ok(w)) => Ok((h, w)),
        _ => Err(Error::invalid(
            "invalid resize dimensions: h and w must be numbers",
        )),
    }
}

pub async fn resize(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    let (h, w) = dims(&q)?;
    st.containers.resize(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn wait(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    let cond = match q.get("condition") {
        "" | "not-running" => WaitCondition::NotRunning,
        "next-exit" => WaitCondition::NextExit,
        "removed" => WaitCondition::Removed,
        other => {
            return Err(Error::invalid(format!("invalid condition: {other:?}")));
        }
    };
    // Fail fast for a missing container; then send the headers at once (the CLI
    // waits for them before starting the container) and the body on exit.
    st.containers.get(&id)?;
    let mgr = st.containers.clone();
    let fut = async move {
        let body = match mgr.wait(&id, cond).await {
            Ok((code, err)) if err.is_empty() => json!({"StatusCode": code}),
            Ok((code, err)) => json!({"StatusCode": code, "Error": {"Message": err}}),
            Err(e) => json!({"StatusCode": -1, "Error": {"Message": e.message}}),
        };
        let mut line = serde_json::to_vec(&body).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::io::Error>(Bytes::from(line))
    };
    let body = Body::from_stream(futures_util::stream::once(fut));
    Ok(([(http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub async fn logs(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
    ext: Extensions,
) -> R {
    let rec = st.containers.get(&id)?;
    crate::containers::check_log_readable(&rec)?;
    let o = LogOptions {
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        follow: q.bool("follow"),
        timestamps: q.bool("timestamps"),
        tail: match q.get("tail") {
            "" | "all" => None,
            t => Some(
                t.parse::<usize>()
                    .map_err(|_| Error::invalid(format!("invalid value for tail: {t:?}")))?,
            ),
        },
        since: crate::containers::parse_unix_opt(q.get("since"))?,
        until: crate::containers::parse_unix_opt(q.get("until"))?,
        raw: rec.tty(),
    };
    if !o.stdout && !o.stderr {
        return Err(Error::invalid(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let mgr = st.containers.clone();
    let cid = rec.id.clone();
    let path = std::path::PathBuf::from(&rec.log_path);
    tokio::task::spawn_blocking(move || {
        let running = || {
            mgr.get(&cid)
                .map(|r| r.state.status.is_active())
                .unwrap_or(false)
        };
        crate::containers::stream_logs(&path, &o, &tx, &running);
    });
    let s = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut resp = Body::from_stream(s).into_response();
    if !rec.tty() && api_version(&ext).at_least(1, 42) {
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/vnd.docker.multiplexed-stream"),
        );
    }
    Ok(resp)
}

fn stream_type(tty: bool, v: ApiVersion) -> &'static str {
    if tty || v.before(1, 42) {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

/// The 101 answer of a hijacked endpoint.
pub(crate) fn upgraded(tty: bool, v: ApiVersion) -> Response {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::CONTENT_TYPE, stream_type(tty, v))
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "tcp")
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

pub async fn attach(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
    mut req: Request,
) -> R {
    let v = api_version(req.extensions());
    let keys = DetachKeys::parse(q.get("detachKeys")).map_err(Error::invalid)?;
    let (stdin, stdout, stderr) = (q.bool("stdin"), q.bool("stdout"), q.bool("stderr"));
    let (rec, target) = st.containers.attach_target(&id)?;
    let tty = rec.tty();
    let stdin_once = rec.cfg_bool("StdinOnce");
    let on_upgrade = hyper::upgrade::on(&mut req);
    let mgr = st.containers.clone();
    mgr.event_attach(&rec);
    tokio::spawn(async move {
        let Ok(up) = on_upgrade.await else {
            return;
        };
        let client = hyper_util::rt::TokioIo::new(up);
        let (sd, ack) = match target {
            AttachTarget::Now(sd) => (sd, None),
            AttachTarget::OnStart(rx) => match rx.await {
                Ok((sd, ack)) => (sd, Some(ack)),
                Err(_) => return,
            },
        };
        let conn = crate::containers::shim_attach(&sd, stdin, stdout, stderr, stdin_once).await;
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
        let Ok(conn) = conn else {
            return;
        };
        let _ = splice(client, conn, stdin.then_some(keys), std::future::ready(())).await;
        drop(mgr);
    });
    Ok(upgraded(tty, v))
}

//! `/containers/{id}/exec` and `/exec/{id}/...`: exec create, hijacked start, inspect
//! and resize.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use crate::containers::{DetachKeys, splice};
use crate::error::Error;
use crate::routes::containers::{json_body, upgraded};
use crate::server::query::Query;
use crate::server::{AppState, api_version};

type R = Result<Response, Error>;

pub async fn create(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Body,
) -> R {
    let body = json_body(body).await?;
    let eid = st.containers.exec_create(&id, body)?;
    Ok((StatusCode::CREATED, Json(json!({"Id": eid}))).into_response())
}

pub async fn start(State(st): State<AppState>, Path(id): Path<String>, req: Request) -> R {
    let v = api_version(req.extensions());
    let (parts, body) = req.into_parts();
    let body = json_body(body).await?;
    let detach = body.get("Detach").and_then(Value::as_bool).unwrap_or(false);
    let tty = body.get("Tty").and_then(Value::as_bool);
    let entry = st.containers.exec_get(&id)?;
    let keys = match entry.config.get("DetachKeys").and_then(Value::as_str) {
        Some(k) => DetachKeys::parse(k).map_err(Error::invalid)?,
        None => DetachKeys::default(),
    };
    let started = match st.containers.exec_start(&id, tty).await {
        Ok(s) => s,
        // Like dockerd: once the client asked for a stream, a process that cannot start
        // is reported in the stream, and the exit code (126/127) via `/exec/{id}/json`.
        Err(e) if !detach && e.kind == berth_stdx::ErrorKind::InvalidArgument => {
            let tty = tty.unwrap_or(entry.tty());
            let mut req = http::Request::from_parts(parts, ());
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let Ok(up) = on_upgrade.await else {
                    return;
                };
                let mut client = hyper_util::rt::TokioIo::new(up);
                let msg = format!("{}\r\n", e.message);
                if !tty {
                    let hdr = berth_runtime::shim::proto::frame_header(1, msg.len());
                    let _ = client.write_all(&hdr).await;
                }
                let _ = client.write_all(msg.as_bytes()).await;
                let _ = client.shutdown().await;
            });
            return Ok(upgraded(tty, v));
        }
        Err(e) => return Err(e),
    };
    if detach {
        return Ok(StatusCode::OK.into_response());
    }
    let e = started.entry;
    let (stdin, stdout, stderr) = (
        e.flag("AttachStdin"),
        e.flag("AttachStdout"),
        e.flag("AttachStderr"),
    );
    let mut req = http::Request::from_parts(parts, ());
    let on_upgrade = hyper::upgrade::on(&mut req);
    let mgr = st.containers.clone();
    let sd = started.state_dir;
    let eid = id.clone();
    tokio::spawn(async move {
        let Ok(up) = on_upgrade.await else {
            return;
        };
        let client = hyper_util::rt::TokioIo::new(up);
        // Hold the client open until the exit code is recorded, so the CLI's
        // `/exec/{id}/json` right after the stream ends sees it. Bounded, but generous:
        // on a loaded machine the shim's exit report can lag the end of the stream.
        let Ok(conn) = crate::containers::shim_attach(&sd, stdin, stdout, stderr, true).await
        else {
            // Regression: a process with no output can end (and its shim with it)
            // before the attach connects; closing at once let the CLI read a stale
            // exit code 0 for `exec sh -c 'exit 5'`.
            mgr.exec_wait(&eid, Duration::from_secs(10)).await;
            drop(client);
            return;
        };
        let before_close = async move { mgr.exec_wait(&eid, Duration::from_secs(10)).await };
        let _ = splice(client, conn, stdin.then_some(keys), before_close).await;
    });
    Ok(upgraded(e.tty(), v))
}

pub async fn inspect(State(st): State<AppState>, Path(id): Path<String>) -> R {
    let e = st.containers.exec_get(&id)?;
    let cmd = e.cmd();
    let user = e.config.get("User").and_then(Value::as_str).unwrap_or("");
    Ok(Json(json!({
        "CanRemove": false,
        "ContainerID": e.container_id,
        "DetachKeys": e.config.get("DetachKeys").and_then(Value::as_str).unwrap_or(""),
        "ExitCode": e.exit_code,
        "ID": e.id,
        "OpenStderr": e.flag("AttachStderr"),
        "OpenStdin": e.flag("AttachStdin"),
        "OpenStdout": e.flag("AttachStdout"),
        "ProcessConfig": {
            "arguments": cmd.get(1..).unwrap_or_default(),
            "entrypoint": cmd.first().cloned().unwrap_or_default(),
            "privileged": e.flag("Privileged"),
            "tty": e.tty(),
            "user": user,
        },
        "Running": e.running,
        "Pid": e.pid,
    }))
    .into_response())
}

pub async fn resize(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    let h = q.get("h").parse::<u16>();
    let w = q.get("w").parse::<u16>();
    let (Ok(h), Ok(w)) = (h, w) else {
        return Err(Error::invalid(
            "invalid resize dimensions: h and w must be numbers",
        ));
    };
    st.containers.exec_resize(&id, h, w).await?;
    Ok(StatusCode::OK.into_response())
}

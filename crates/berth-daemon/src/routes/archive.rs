//! `/containers/{id}/archive` (`docker cp`): HEAD stats a path, GET streams a tar of
//! it, PUT extracts a tar into a directory. Paths are resolved inside the container
//! root (see `containers::fs`); a temporary overlay mount lives as long as the work.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use crate::error::Error;
use crate::server::query::Query;
use crate::server::stream::{body_reader, drain, drain_body, writer_body};
use crate::server::{AppState, blocking};

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

fn path_param(q: &Query) -> Result<String, Error> {
    let p = q.get("path");
    if p.is_empty() {
        return Err(Error::invalid("path is required"));
    }
    Ok(p.to_string())
}

pub async fn head(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> Response {
    let res = async {
        let path = path_param(&q)?;
        let ctrs = st.containers.clone();
        blocking(move || {
            let root = ctrs.fs_root_cp(&id)?;
            crate::containers::fs_stat(&root.path, &path, &id).map(|(_, s)| s)
        })
        .await
    }
    .await;
    match res {
        Ok(stat) => (StatusCode::OK, [(STAT_HEADER, stat)]).into_response(),
        // HEAD answers carry no body: only the status tells.
        Err(e) => crate::server::error::status_for(e.kind).into_response(),
    }
}

pub async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
) -> Result<Response, Error> {
    let path = path_param(&q)?;
    let ctrs = st.containers.clone();
    let (root, real, stat, name) = blocking(move || {
        let root = ctrs.fs_root_cp(&id)?;
        let (real, stat) = crate::containers::fs_stat(&root.path, &path, &id)?;
        let name = crate::containers::fs_base_name(&path);
        Ok((root, real, stat, name))
    })
    .await?;
    let (mut writer, body) = writer_body();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = crate::containers::fs_write_tar(&real, &name, &mut writer) {
            tracing::warn!("archive failed mid-stream: {e}");
            writer.abort(e.to_string());
        }
        drop(root);
    });
    Ok((
        [
            (
                http::header::CONTENT_TYPE.as_str(),
                "application/x-tar".to_string(),
            ),
            (STAT_HEADER, stat),
        ],
        body,
    )
        .into_response())
}

pub async fn put(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Query,
    body: Body,
) -> Result<Response, Error> {
    let path = match path_param(&q) {
        Ok(p) => p,
        Err(e) => {
            drain_body(body).await;
            return Err(e);
        }
    };
    let no_overwrite = q.bool("noOverwriteDirNonDir");
    let ctrs = st.containers.clone();
    let mut reader = body_reader(body);
    blocking(move || {
        let res = ctrs
            .cp_writable(&id, &path)
            .and_then(|_| ctrs.fs_root_cp(&id))
            .and_then(|root| {
                crate::containers::fs_extract(&root.path, &path, &id, no_overwrite, &mut reader)
            });
        // Read the body to its end whatever happened: an answer sent while the
        // client still writes (tar padding after the end-of-archive blocks)
        // breaks its pipe and hides our result.
        drain(&mut reader);
        res
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /containers/{id}/changes` (`docker diff`).
pub async fn changes(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let ctrs = st.containers.clone();
    let list = blocking(move || ctrs.changes(&id)).await?;
    let rows: Vec<serde_json::Value> = list
        .into_iter()
        .map(|(p, k)| serde_json::json!({"Path": p, "Kind": k}))
        .collect();
    Ok(axum::Json(rows).into_response())
}

/// `GET /containers/{id}/export`: the merged tree as a tar, streamed.
pub async fn export(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, Error> {
    let ctrs = st.containers.clone();
    let root = blocking(move || ctrs.fs_root(&id)).await?;
    let (mut writer, body) = writer_body();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = crate::containers::fs_export_tar(&root.path, &mut writer) {
            tracing::warn!("export failed mid-stream: {e}");
            writer.abort(e.to_string());
        }
        drop(root);
    });
    Ok(([(http::header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=` (`docker commit`).
pub async fn commit(State(st): State<AppState>, q: Query) -> Result<Response, Error> {
    let name = q.get("container").to_string();
    if name.is_empty() {
        return Err(Error::invalid("No container name or ID supplied"));
    }
    let cq = crate::containers::CommitQuery {
        repo: q.get("repo").to_string(),
        tag: q.get("tag").to_string(),
        comment: q.get("comment").to_string(),
        author: q.get("author").to_string(),
        changes: q.all("changes"),
    };
    // docker pauses a running container while its changes are read (unless pause=0).
    let pause = !matches!(q.get("pause"), "0" | "false")
        && st
            .containers
            .get(&name)
            .is_ok_and(|r| r.state.status == crate::containers::Status::Running);
    if pause {
        st.containers.pause(&name, true).await?;
    }
    let ctrs = st.containers.clone();
    let n = name.clone();
    let res = blocking(move || ctrs.commit(&n, &cq)).await;
    if pause && let Err(e) = st.containers.pause(&name, false).await {
        tracing::warn!("unpause after commit: {}", e.message);
    }
    let id = res?;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({ "Id": id })),
    )
        .into_response())
}

//! `/containers/{id}/stats`, `/top`, `/update` and `/containers/prune`, plus the
//! empty prunes `docker system prune` calls.
//!
//! These use the manager directly (`AppState::restore`) rather than the
//! `ContainerBackend` trait: they read host state (cgroups, `ps`) a fake can't model.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::containers::resources::{Sample, stats_json};
use crate::error::Error;
use crate::server::AppState;
use crate::server::query::Query;

type R = Result<Response, Error>;

pub async fn stats(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    let mgr = st.restore.clone();
    let rec = mgr.get(&id)?;
    let stream = q.get("stream").is_empty() || q.bool("stream");
    if !stream {
        let mut pre = Sample::default();
        let mut cur = mgr.stats_sample(&rec);
        // Like docker: without one-shot, wait for a second sample so CPU % has a base.
        if !q.bool("one-shot") && cur.read.is_some() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            pre = std::mem::replace(&mut cur, mgr.stats_sample(&rec));
        }
        return Ok(Json(stats_json(&rec, &cur, &pre)).into_response());
    }
    let shutdown = st.shutdown.clone();
    let body = futures_util::stream::unfold((Sample::default(), true), move |(pre, first)| {
        let mgr = mgr.clone();
        let shutdown = shutdown.clone();
        let id = id.clone();
        async move {
            if !first {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.cancelled() => return None,
                }
            }
            let rec = mgr.get(&id).ok()?;
            let cur = mgr.stats_sample(&rec);
            let mut line = serde_json::to_vec(&stats_json(&rec, &cur, &pre)).ok()?;
            line.push(b'\n');
            Some((
                Ok::<_, std::io::Error>(bytes::Bytes::from(line)),
                (cur, false),
            ))
        }
    });
    Ok((
        [(http::header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response())
}

pub async fn top(State(st): State<AppState>, Path(id): Path<String>, q: Query) -> R {
    Ok(Json(st.restore.top(&id, q.get("ps_args")).await?).into_response())
}

pub async fn update(State(st): State<AppState>, Path(id): Path<String>, body: Body) -> R {
    let body = super::containers::json_body(body).await?;
    Ok(Json(st.restore.update_resources(&id, &body)?).into_response())
}

pub async fn prune(State(st): State<AppState>, q: Query) -> R {
    let filters = q.filters()?;
    Ok(Json(st.restore.prune(&filters).await?).into_response())
}

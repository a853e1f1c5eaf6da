//! `GET /events`: replay from the ring buffer, then follow live until `until`.

use std::io;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::Utc;
use tokio::sync::{broadcast, mpsc};

use berth_api::{EventMessage, parse_timestamp};

use crate::error::Error;
use crate::events::{EVENT_FILTERS, EventFilter};
use crate::server::AppState;
use crate::server::query::Query;

/// docker's `eventTime`: "" is unbounded.
fn event_time(v: &str) -> Result<Option<i64>, Error> {
    if v.is_empty() {
        return Ok(None);
    }
    let t = parse_timestamp(v, Utc::now())?;
    Ok(Some(t.timestamp_nanos_opt().unwrap_or(i64::MAX)))
}

fn line(ev: &EventMessage) -> Bytes {
    let mut v = serde_json::to_vec(ev).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

pub async fn events(State(st): State<AppState>, q: Query) -> Result<Response, Error> {
    let since = event_time(q.get("since"))?;
    let until = event_time(q.get("until"))?;
    if let (Some(s), Some(u)) = (since, until)
        && u < s
    {
        return Err(Error::invalid(format!(
            "`since` time ({}) cannot be after `until` time ({})",
            q.get("since"),
            q.get("until")
        )));
    }
    let filters = q.filters()?;
    filters.validate(EVENT_FILTERS)?;
    let filter = EventFilter::new(filters);

    // Subscribe before reading the ring so nothing falls between the two.
    let mut live = st.events.subscribe();
    let past = st.events.past(since, until, &filter);
    let last_replayed = past.last().map(|e| e.time_nano).unwrap_or(i64::MIN);
    let now = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
    let only_past = until.is_some_and(|u| u < now);

    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(64);
    let shutdown = st.shutdown.clone();
    tokio::spawn(async move {
        for ev in &past {
            if tx.send(Ok(line(ev))).await.is_err() {
                return;
            }
        }
        if only_past {
            return;
        }
        let deadline = until.map(|u| {
            let wait = u
                .saturating_sub(Utc::now().timestamp_nanos_opt().unwrap_or(0))
                .max(0);
            tokio::time::Instant::now() + std::time::Duration::from_nanos(wait as u64)
        });
        loop {
            let next = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, live.recv()).await.ok(),
                    None => Some(live.recv().await),
                }
            };
            tokio::select! {
                got = next => match got {
                    None => return, // until reached
                    Some(Ok(ev)) => {
                        if ev.time_nano <= last_replayed && since.is_some() {
                            continue;
                        }
                        if !filter.matches(&ev) {
                            continue;
                        }
                        if tx.send(Ok(line(&ev))).await.is_err() {
                            return;
                        }
                    }
                    Some(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    Some(Err(broadcast::error::RecvError::Closed)) => return,
                },
                _ = tx.closed() => return,
                _ = shutdown.cancelled() => return,
            }
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    // An empty first chunk makes hyper send the headers now, as dockerd flushes them.
    let head = futures_util::stream::iter([Ok::<_, io::Error>(Bytes::new())]);
    use futures_util::StreamExt;
    Ok((
        [(http::header::CONTENT_TYPE, "application/json")],
        Body::from_stream(head.chain(stream)),
    )
        .into_response())
}

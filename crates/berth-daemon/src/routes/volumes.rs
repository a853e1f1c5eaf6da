//! `/volumes`: list, create, inspect, remove and prune, over the container manager's
//! volume store (which owns the local driver and the references).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{Extensions, StatusCode};
use serde_json::{Value, json};

use crate::error::Error;
use crate::server::query::Query;
use crate::server::{AppState, api_version, blocking};
use crate::volumes::CreateRequest;

type R = Result<Response, Error>;

pub async fn list(State(st): State<AppState>, q: Query) -> R {
    let filters = q.filters()?;
    let vols = st.restore.volumes.clone();
    let out = blocking(move || {
        let list = vols.list(&filters)?;
        Ok(list
            .iter()
            .map(|v| vols.to_json(v, false))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({"Volumes": out, "Warnings": null})).into_response())
}

/// A string map field: absent or `null` is `None`; anything but strings is a 400.
fn string_map(v: Option<&Value>, field: &str) -> Result<Option<BTreeMap<String, String>>, Error> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(Error::invalid(format!(
                    "invalid {field}: {k} must be a string"
                ))),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(Error::invalid(format!(
            "invalid {field}: must be an object"
        ))),
    }
}

pub async fn create(State(st): State<AppState>, body: Body) -> R {
    let b = super::containers::json_body(body).await?;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let req = CreateRequest {
        name: s("Name"),
        driver: s("Driver"),
        options: string_map(b.get("DriverOpts"), "DriverOpts")?,
        labels: string_map(b.get("Labels"), "Labels")?,
    };
    let vols = st.restore.volumes.clone();
    let v = blocking(move || {
        let v = vols.create(req, None)?;
        Ok(vols.to_json(&v, false))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

pub async fn inspect(State(st): State<AppState>, Path(name): Path<String>) -> R {
    let vols = &st.restore.volumes;
    let v = vols.get(&name)?;
    Ok(Json(vols.to_json(&v, false)).into_response())
}

pub async fn remove(State(st): State<AppState>, Path(name): Path<String>, q: Query) -> R {
    let vols = st.restore.volumes.clone();
    let force = q.bool("force");
    blocking(move || vols.remove(&name, force)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn prune(State(st): State<AppState>, q: Query, ext: Extensions) -> R {
    let mut filters = q.filters()?;
    crate::server::compat::volume_prune_filters(api_version(&ext), &mut filters);
    let vols = st.restore.volumes.clone();
    let (deleted, reclaimed) = blocking(move || vols.prune(&filters)).await?;
    Ok(Json(json!({"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed})).into_response())
}

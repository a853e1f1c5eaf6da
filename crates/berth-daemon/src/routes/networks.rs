//! `/networks/...`: thin handlers over the network manager, converting records to
//! docker's JSON (`NetworkResource`).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Map, Value, json};

use berth_api::Filters;

use crate::containers::{ContainerManager, Status};
use crate::error::Error;
use crate::networks::{CreateRequest, Network, NetworkManager};
use crate::routes::containers::json_body;
use crate::routes::images::rfc3339_nano;
use crate::server::query::Query;
use crate::server::{AppState, blocking};

type R = Result<Response, Error>;

fn manager(st: &AppState) -> Result<Arc<NetworkManager>, Error> {
    st.restore
        .network_manager()
        .ok_or_else(|| Error::not_implemented("networking is not available in this daemon"))
}

/// docker's `NetworkResource`. `verbose` adds the Containers map.
pub(crate) fn network_json(n: &Network, with_containers: bool) -> Value {
    let mut config = Vec::new();
    if let Some(s) = n.subnet {
        let mut c = Map::new();
        c.insert("Subnet".into(), json!(s.to_string()));
        if let Some(r) = n.ip_range {
            c.insert("IPRange".into(), json!(r.to_string()));
        }
        if let Some(g) = n.gateway {
            c.insert("Gateway".into(), json!(g.to_string()));
        }
        config.push(Value::Object(c));
    }
    let mut containers = Map::new();
    if with_containers {
        let prefix = n.subnet.map(|s| s.prefix_len()).unwrap_or(0);
        for (cid, ep) in &n.endpoints {
            if let Some(a) = &ep.active {
                containers.insert(
                    cid.clone(),
                    json!({
                        "Name": ep.name,
                        "EndpointID": a.endpoint_id,
                        "MacAddress": a.mac,
                        "IPv4Address": format!("{}/{prefix}", a.ip),
                        "IPv6Address": ""
                    }),
                );
            }
        }
    }
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": rfc3339_nano(&n.created),
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv4": true,
        "EnableIPv6": n.ipv6,
        "IPAM": {
            "Driver": "default",
            "Options": if n.predefined { Value::Null } else { json!({}) },
            "Config": if config.is_empty() && n.predefined && !n.is_bridge() { Value::Null } else { Value::Array(config) },
        },
        "Internal": n.internal,
        "Attachable": n.attachable,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": n.options,
        "Labels": n.labels,
    })
}

const LIST_FILTERS: &[&str] = &["dangling", "driver", "id", "label", "name", "scope", "type"];

fn matches(f: &Filters, n: &Network) -> Result<bool, Error> {
    let any = |key: &str, ok: &dyn Fn(&str) -> bool| {
        let v = f.get(key);
        v.is_empty() || v.iter().any(|x| ok(x))
    };
    if !any("driver", &|d| d == n.driver)
        || !any("id", &|i| n.id.starts_with(i))
        || !any("name", &|x| n.name.contains(x))
        || !any("scope", &|s| s == "local")
        || !f.match_labels("label", &n.labels)
    {
        return Ok(false);
    }
    for t in f.get("type") {
        match t {
            "custom" if n.predefined => return Ok(false),
            "builtin" if !n.predefined => return Ok(false),
            "custom" | "builtin" => {}
            other => {
                return Err(Error::invalid(format!("invalid filter: 'type'='{other}'")));
            }
        }
    }
    if f.contains("dangling") {
        let want = f.get_bool_or_default("dangling", false)?;
        let dangling = !n.predefined && !n.endpoints.values().any(|e| e.active.is_some());
        if want != dangling {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn list(State(st): State<AppState>, q: Query) -> R {
    let f = q.filters()?;
    f.validate(LIST_FILTERS)?;
    let m = manager(&st)?;
    let mut out = Vec::new();
    for n in m.list() {
        if matches(&f, &n)? {
            out.push(network_json(&n, false));
        }
    }
    Ok(Json(out).into_response())
}

pub async fn inspect(State(st): State<AppState>, Path(id): Path<String>) -> R {
    let n = manager(&st)?.get(&id)?;
    Ok(Json(network_json(&n, true)).into_response())
}

fn str_map(v: Option<&Value>) -> std::collections::BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

pub async fn create(State(st): State<AppState>, body: Body) -> R {
    let b = json_body(body).await?;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let flag = |k: &str| b.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut req = CreateRequest {
        name: s("Name"),
        driver: s("Driver"),
        internal: flag("Internal"),
        attachable: flag("Attachable"),
        ipv6: flag("EnableIPv6"),
        labels: str_map(b.get("Labels")),
        options: str_map(b.get("Options")),
        ..Default::default()
    };
    let configs = b
        .get("IPAM")
        .and_then(|i| i.get("Config"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in configs {
        let sub = c.get("Subnet").and_then(Value::as_str).unwrap_or("");
        if sub.contains(':') && req.ipv6 {
            continue; // IPv6 pools are accepted and stored as the flag only.
        }
        if req.subnet.is_some() {
            return Err(Error::invalid(
                "only one IPv4 subnet per network is supported by this daemon",
            ));
        }
        let get = |k: &str| c.get(k).and_then(Value::as_str).map(String::from);
        req.subnet = get("Subnet");
        req.gateway = get("Gateway");
        req.ip_range = get("IPRange");
    }
    let m = manager(&st)?;
    let id = blocking(move || m.create(req)).await?;
    Ok((StatusCode::CREATED, Json(json!({"Id": id, "Warning": ""}))).into_response())
}

pub async fn remove(State(st): State<AppState>, Path(id): Path<String>) -> R {
    let m = manager(&st)?;
    blocking(move || m.remove(&id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The container a connect/disconnect body names, with its state.
fn container_of(
    c: &ContainerManager,
    b: &Map<String, Value>,
) -> Result<crate::containers::Record, Error> {
    let name = b.get("Container").and_then(Value::as_str).unwrap_or("");
    c.get(name)
}

pub async fn connect(State(st): State<AppState>, Path(id): Path<String>, body: Body) -> R {
    let b = json_body(body).await?;
    let m = manager(&st)?;
    let rec = container_of(&st.restore, &b)?;
    let mode = rec.hc_str("NetworkMode").to_string();
    if mode == "host" || mode.starts_with("container:") {
        return Err(Error::new(
            berth_stdx::ErrorKind::Forbidden,
            "container sharing network namespace with another container or host cannot be connected to any other network",
        ));
    }
    if mode == "none" {
        return Err(Error::new(
            berth_stdx::ErrorKind::Forbidden,
            "container cannot be connected to multiple networks with one of the networks in private (none) mode",
        ));
    }
    let req = crate::containers::endpoint_request(b.get("EndpointConfig"))?;
    let running = matches!(rec.state.status, Status::Running | Status::Paused);
    blocking(move || m.connect(&id, &rec.id, &rec.name, req, running)).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn disconnect(State(st): State<AppState>, Path(id): Path<String>, body: Body) -> R {
    let b = json_body(body).await?;
    let m = manager(&st)?;
    let rec = container_of(&st.restore, &b)?;
    blocking(move || m.disconnect(&id, &rec.id, &rec.name)).await?;
    Ok(StatusCode::OK.into_response())
}

/// `until` of prune: unix seconds, RFC 3339, or a duration ago (`24h`, `10m`, `30s`).
fn parse_until(s: &str) -> Result<i64, Error> {
    let bad = || Error::invalid(format!("invalid filter 'until={s}'"));
    if let Ok(f) = s.parse::<f64>() {
        return Ok(f as i64);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).ok_or_else(bad)?);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "h" => n * 3600.0,
        "m" => n * 60.0,
        "s" => n,
        _ => return Err(bad()),
    };
    Ok(chrono::Utc::now().timestamp() - secs as i64)
}

pub async fn prune(State(st): State<AppState>, q: Query) -> R {
    let f = q.filters()?;
    f.validate(&["until", "label", "label!"])?;
    let until = f.get("until").first().map(|u| parse_until(u)).transpose()?;
    let m = manager(&st)?;
    let deleted = blocking(move || {
        Ok(m.prune(|n| {
            let old_enough = until.is_none_or(|u| n.created.timestamp() < u);
            let labels_ok = f.match_labels("label", &n.labels)
                && (f.get("label!").is_empty() || !f.match_labels("label!", &n.labels));
            !(old_enough && labels_ok)
        }))
    })
    .await?;
    Ok(Json(json!({"NetworksDeleted": deleted})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_forms() {
        assert_eq!(parse_until("100").unwrap(), 100);
        assert_eq!(parse_until("2024-01-01T00:00:00Z").unwrap(), 1704067200);
        let ago = parse_until("1h").unwrap();
        assert!((chrono::Utc::now().timestamp() - ago - 3600).abs() < 5);
        assert!(parse_until("soon").is_err());
        assert!(parse_until("5x").is_err());
    }

    #[test]
    fn list_filters() {
        let n = Network {
            id: "abc".repeat(21) + "d",
            name: "frontend".into(),
            driver: "bridge".into(),
            created: chrono::Utc::now(),
            internal: false,
            attachable: false,
            ipv6: false,
            labels: [("env".to_string(), "prod".to_string())].into(),
            options: Default::default(),
            subnet: None,
            gateway: None,
            ip_range: None,
            bridge: "br-x".into(),
            predefined: false,
            endpoints: Default::default(),
        };
        let f = |j: &str| Filters::parse(j).unwrap();
        assert!(matches(&f(r#"{"name":["front"]}"#), &n).unwrap());
        assert!(matches(&f(r#"{"label":["env=prod"],"type":["custom"]}"#), &n).unwrap());
        assert!(!matches(&f(r#"{"type":["builtin"]}"#), &n).unwrap());
        assert!(matches(&f(r#"{"dangling":["true"]}"#), &n).unwrap());
        assert!(!matches(&f(r#"{"driver":["host"]}"#), &n).unwrap());
        assert!(matches(&f(r#"{"type":["nope"]}"#), &n).is_err());
    }
}

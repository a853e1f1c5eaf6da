//! The daemon's registry side: its settings (daemon.json's `insecure-registries`,
//! `registry-mirrors`, the certs.d directories), X-Registry-Auth decoding,
//! `POST /auth` (login) and `GET /images/search`.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use berth_image::ImageStore;
use berth_registry::client::{self, ClientConfig, Credentials, SearchResult};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::events::EventBus;

/// What pull, push, login and search need; cheap to clone.
#[derive(Clone)]
pub struct Registries {
    pub(super) store: ImageStore,
    pub(super) events: EventBus,
    pub(super) cfg: ClientConfig,
}

/// A progress line of pull or push, converted to docker's JSON by the routes.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// A line without id (`Digest: sha256:…`).
    Status(String),
    /// `{"status":…,"id":…}`.
    Id { id: String, status: String },
    /// A progress bar line.
    Bar {
        id: String,
        status: String,
        current: u64,
        total: u64,
    },
    /// Push's final `aux` line.
    Aux {
        tag: String,
        digest: String,
        size: u64,
    },
}

/// The default certs.d roots, berth's first.
pub fn default_certs_dirs() -> Vec<PathBuf> {
    vec![
        PathBuf::from("/etc/berth/certs.d"),
        PathBuf::from("/etc/docker/certs.d"),
    ]
}

impl Registries {
    /// From daemon.json's keys (`insecure-registries`, `registry-mirrors`, and
    /// berth's `certs-dirs`, which replaces the default certs.d roots).
    pub fn new(store: ImageStore, events: EventBus, file: &serde_json::Map<String, Value>) -> Self {
        let strings = |k: &str| -> Vec<String> {
            file.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let certs = strings("certs-dirs");
        let cfg = ClientConfig {
            certs_dirs: if certs.is_empty() {
                default_certs_dirs()
            } else {
                certs.into_iter().map(PathBuf::from).collect()
            },
            insecure: strings("insecure-registries"),
            mirrors: strings("registry-mirrors"),
        };
        Registries { store, events, cfg }
    }
}

impl super::ImageService {
    /// Installs the registry settings from daemon.json (once, at wiring).
    pub fn configure_registries(&self, file: &serde_json::Map<String, Value>) {
        let r = Registries::new(self.store.clone(), self.events.clone(), file);
        let _ = self.registries.set(r);
    }
}

/// Decodes X-Registry-Auth: base64url or standard base64 JSON, padded or not. An
/// empty, `{}` or undecodable header is anonymous (as dockerd treats it).
pub fn decode_auth(header: Option<&str>) -> Credentials {
    let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return Credentials::default();
    };
    let raw = [URL_SAFE, STANDARD, URL_SAFE_NO_PAD, STANDARD_NO_PAD]
        .iter()
        .find_map(|e| e.decode(h).ok());
    let Some(raw) = raw else {
        return Credentials::default();
    };
    let v: Value = serde_json::from_slice(&raw).unwrap_or_default();
    let mut c: Credentials = serde_json::from_value(v.clone()).unwrap_or_default();
    // `auth` is base64("user:pass"), as config.json stores it.
    if c.username.is_empty()
        && let Some(a) = v.get("auth").and_then(Value::as_str)
        && let Ok(d) = STANDARD.decode(a)
        && let Some((u, p)) = String::from_utf8_lossy(&d).split_once(':')
    {
        c.username = u.to_string();
        c.password = p.to_string();
    }
    c
}

/// `https://index.docker.io/v1/`, `http://host:5000`, `host:5000/` → the registry name
/// references use (`docker.io`, `host:5000`).
pub fn normalize_server(addr: &str) -> String {
    let s = addr.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or("");
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        h => h.to_string(),
    }
}

pub(crate) fn registry_error(e: client::ClientError) -> Error {
    match e.kind {
        client::ErrorKind::NotFound => Error::not_found(e.message),
        _ => Error::internal(e.message),
    }
}

impl Registries {
    /// `POST /auth`: checks the credentials against the registry.
    pub async fn login(&self, server: &str, creds: &Credentials) -> Result<()> {
        let registry = normalize_server(server);
        client::login(&self.cfg, &registry, creds)
            .await
            .map_err(|e| Error::internal(e.message))
    }

    /// `GET /images/search`: `term` may name a registry (`127.0.0.1:5000/foo`).
    pub async fn search(
        &self,
        term: &str,
        limit: usize,
        creds: &Credentials,
    ) -> Result<Vec<SearchResult>> {
        let (registry, q) = split_search_term(term);
        client::search(&self.cfg, &registry, &q, limit, creds)
            .await
            .map_err(|e| Error::internal(e.message))
    }
}

/// docker's rule: the part before the first `/` is a registry when it has a `.` or
/// `:` or is `localhost`.
pub fn split_search_term(term: &str) -> (String, String) {
    match term.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (normalize_server(first), rest.to_string())
        }
        _ => ("docker.io".into(), term.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_header_forms() {
        let json = r#"{"username":"u","password":"p:q","serveraddress":"h"}"#;
        for enc in [URL_SAFE, STANDARD, URL_SAFE_NO_PAD] {
            let c = decode_auth(Some(&enc.encode(json)));
            assert_eq!((c.username.as_str(), c.password.as_str()), ("u", "p:q"));
        }
        assert_eq!(decode_auth(Some("e30=")), Credentials::default());
        assert_eq!(decode_auth(None), Credentials::default());
        assert_eq!(decode_auth(Some("!!!not base64")), Credentials::default());
        let c = decode_auth(Some(
            &STANDARD.encode(format!(r#"{{"auth":"{}"}}"#, STANDARD.encode("a:b"))),
        ));
        assert_eq!((c.username.as_str(), c.password.as_str()), ("a", "b"));
    }

    #[test]
    fn servers_and_terms() {
        assert_eq!(normalize_server("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_server("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(normalize_server("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            split_search_term("127.0.0.1:5000/foo"),
            ("127.0.0.1:5000".into(), "foo".into())
        );
        assert_eq!(
            split_search_term("library/busybox"),
            ("docker.io".into(), "library/busybox".into())
        );
        assert_eq!(
            split_search_term("busybox"),
            ("docker.io".into(), "busybox".into())
        );
    }
}

//! The distribution client: what the daemon uses to pull, push, log in and search.
//!
//! A [`Repo`] is one repository on one registry with one set of credentials. Connecting
//! pings `/v2/` (https first; plain http only for insecure registries: loopback,
//! `insecure-registries` host:port or CIDR), which also tells which auth the registry
//! wants. Every request then carries a basic header or a bearer token for its scope
//! (fetched from the challenge's realm, anonymous or with credentials, and cached);
//! a 401 refreshes the token once. TLS trust comes from `certs.d/<host:port>/`
//! (`*.crt` CAs, `client.cert` + `client.key`) in each configured directory.

mod auth;
mod ops;
mod proxy;
mod tls;

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;

pub use ops::{Fetched, ManifestKind, SearchResult, classify_manifest, search};

use auth::{Challenge, TokenCache};

/// The registry Docker Hub's references name, and where it is served.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_ENDPOINT: &str = "registry-1.docker.io";
const DOCKER_HUB_INDEX: &str = "index.docker.io";

/// Registry settings of the daemon (daemon.json's keys plus the certs.d roots).
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// `certs.d` roots, searched in order (`/etc/berth/certs.d`, `/etc/docker/certs.d`).
    pub certs_dirs: Vec<PathBuf>,
    /// `insecure-registries`: `host[:port]` or CIDR entries.
    pub insecure: Vec<String>,
    /// `registry-mirrors` for docker.io: `https://mirror.example.com`.
    pub mirrors: Vec<String>,
}

/// Credentials as docker's X-Registry-Auth carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Credentials {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default, rename = "identitytoken")]
    pub identity_token: String,
    #[serde(default, rename = "registrytoken")]
    pub registry_token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No credentials where the registry needs them, or they were refused.
    Unauthorized,
    /// Manifest, blob or repository unknown.
    NotFound,
    /// The registry refused the request (denied, invalid), or a transport failure.
    Other,
}

/// One clear line, already in docker's wording where docker has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ClientError {
    pub(crate) fn new(kind: ErrorKind, message: String) -> ClientError {
        ClientError { kind, message }
    }

    /// Go's `*url.Error` form: `Get "https://…": <cause>`.
    pub(crate) fn transport(method: &str, url: &str, e: &reqwest::Error) -> ClientError {
        let mut cause = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            cause = s.to_string();
            src = s.source();
        }
        // A proxy that refused the connection: Go's `proxyconnect` wording.
        let refused = std::iter::successors(std::error::Error::source(e), |s| s.source())
            .filter_map(|s| s.downcast_ref::<std::io::Error>())
            .any(|io| io.kind() == std::io::ErrorKind::ConnectionRefused);
        if e.is_connect()
            && refused
            && let Some(p) = proxy::proxy_addr(url, |k| std::env::var(k).ok())
        {
            cause = format!("proxyconnect tcp: dial tcp {p}: connect: connection refused");
        }
        ClientError::new(ErrorKind::Other, format!("{method} \"{url}\": {cause}"))
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ClientError {}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

impl ClientConfig {
    /// The host to contact for a reference's registry (`docker.io` is Docker Hub's
    /// registry endpoint).
    pub fn endpoint_host(registry: &str) -> &str {
        if registry == DOCKER_HUB || registry == DOCKER_HUB_INDEX {
            DOCKER_HUB_ENDPOINT
        } else {
            registry
        }
    }

    /// docker's rule: loopback, and any `insecure-registries` entry (host:port, or a
    /// CIDR containing one of the host's addresses).
    pub async fn is_insecure(&self, host: &str) -> bool {
        let name = host_name(host);
        if self.insecure.iter().any(|e| e == host || e == name) {
            return true;
        }
        // Docker Hub is always spoken to over TLS, as docker's official index config
        // says, without resolving its name (no DNS lookup just to decide this).
        if [DOCKER_HUB, DOCKER_HUB_INDEX, DOCKER_HUB_ENDPOINT].contains(&name) {
            return false;
        }
        let addrs: Vec<IpAddr> = match name.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => tokio::net::lookup_host((name, 0))
                .await
                .map(|it| it.map(|a| a.ip()).collect())
                .unwrap_or_default(),
        };
        let nets: Vec<ipnet::IpNet> = self
            .insecure
            .iter()
            .filter_map(|e| e.parse().ok())
            .collect();
        addrs
            .iter()
            .any(|ip| ip.is_loopback() || nets.iter().any(|n| n.contains(ip)))
    }
}

/// `host:port` → `host` (IPv6 brackets removed).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// One repository on one registry, authenticated.
#[derive(Debug)]
pub struct Repo {
    http: reqwest::Client,
    /// `https://host:port` or `http://host:port`.
    base: String,
    /// The registry as the reference names it (`127.0.0.1:5000`, `docker.io`).
    pub registry: String,
    /// The repository path (`library/busybox`).
    pub name: String,
    creds: Credentials,
    challenge: Challenge,
    tokens: Mutex<TokenCache>,
    /// Actions the tokens are asked for: `pull` or `pull,push`.
    actions: &'static str,
}

/// Where and how to talk to a registry, found by pinging `/v2/`.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) challenge: Challenge,
}

/// Pings `https://host/v2/` (and `http://` for an insecure registry when https fails).
pub(crate) async fn ping(cfg: &ClientConfig, host: &str) -> Result<Endpoint> {
    let insecure = cfg.is_insecure(host).await;
    let (http, has_ca) = tls::client_for(cfg, host, insecure)?;
    let mut last = None;
    let schemes: &[&str] = if insecure && !has_ca {
        &["https", "http"]
    } else {
        &["https"]
    };
    for scheme in schemes {
        let base = format!("{scheme}://{host}");
        let url = format!("{base}/v2/");
        match http.get(&url).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let challenge = resp
                    .headers()
                    .get_all(reqwest::header::WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(auth::parse_challenge)
                    .find(|c| *c != Challenge::None)
                    .unwrap_or(Challenge::None);
                if status != 200 && status != 401 {
                    last = Some(ClientError::new(
                        ErrorKind::Other,
                        format!("Get \"{url}\": unexpected status {status}"),
                    ));
                    continue;
                }
                return Ok(Endpoint {
                    http,
                    base,
                    challenge,
                });
            }
            Err(e) => last = Some(ClientError::transport("Get", &url, &e)),
        }
    }
    Err(last.unwrap_or_else(|| ClientError::new(ErrorKind::Other, format!("cannot reach {host}"))))
}

impl Repo {
    /// Connects to `repository` on `registry` (a mirror first for docker.io pulls).
    pub async fn connect(
        cfg: &ClientConfig,
        registry: &str,
        repository: &str,
        creds: Credentials,
        push: bool,
    ) -> Result<Repo> {
        let mut ep = None;
        if registry == DOCKER_HUB && !push {
            for m in &cfg.mirrors {
                let host = m
                    .trim_end_matches('/')
                    .trim_start_matches("https://")
                    .trim_start_matches("http://");
                match ping(cfg, host).await {
                    Ok(e) => {
                        ep = Some(e);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(mirror = %m, error = %e, "registry mirror unreachable")
                    }
                }
            }
        }
        let ep = match ep {
            Some(e) => e,
            None => ping(cfg, ClientConfig::endpoint_host(registry)).await?,
        };
        Ok(Repo {
            http: ep.http,
            base: ep.base,
            registry: registry.to_string(),
            name: repository.to_string(),
            creds,
            challenge: ep.challenge,
            tokens: Mutex::new(TokenCache::default()),
            actions: if push { "pull,push" } else { "pull" },
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{}", self.base, self.name, path)
    }

    /// The Authorization header for a request on this repository (or on `from`'s
    /// repository too, for a cross-repository mount).
    async fn authorization(
        &self,
        method: &str,
        url: &str,
        extra_scope: Option<&str>,
        refresh: bool,
    ) -> Result<Option<String>> {
        match &self.challenge {
            Challenge::None => Ok(None),
            Challenge::Basic => match auth::basic_header(&self.creds) {
                Some(h) => Ok(Some(h)),
                None => Err(ClientError::new(
                    ErrorKind::Unauthorized,
                    format!("{method} \"{url}\": no basic auth credentials"),
                )),
            },
            Challenge::Bearer { realm, service } => {
                let mut scope = format!("repository:{}:{}", self.name, self.actions);
                if let Some(x) = extra_scope {
                    scope.push(' ');
                    scope.push_str(x);
                }
                if !refresh && let Some(t) = lock(&self.tokens).get(&scope) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let (tok, ttl) = auth::fetch_token(
                    &self.http,
                    realm,
                    service.as_deref(),
                    Some(&scope),
                    &self.creds,
                )
                .await?;
                lock(&self.tokens).put(&scope, tok.clone(), ttl);
                Ok(Some(format!("Bearer {tok}")))
            }
        }
    }

    /// Sends a request built by `build` with auth; retries once with a fresh token on
    /// a 401 for bearer auth.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        extra_scope: Option<&str>,
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mname = go_method(&method);
        let attempt = |refresh: bool| {
            let build = &build;
            let method = method.clone();
            async move {
                let mut req = build(self.http.request(method, url));
                if let Some(h) = self.authorization(mname, url, extra_scope, refresh).await? {
                    req = req.header(reqwest::header::AUTHORIZATION, h);
                }
                req.send()
                    .await
                    .map_err(|e| ClientError::transport(mname, url, &e))
            }
        };
        let resp = attempt(false).await?;
        // A cached token may have expired or lack a scope: one retry with a new one.
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED
            && matches!(self.challenge, Challenge::Bearer { .. })
        {
            return attempt(true).await;
        }
        Ok(resp)
    }
}

/// Go's method spelling in `*url.Error` (`Get`, `Head`, `Put`, `Post`).
fn go_method(m: &reqwest::Method) -> &'static str {
    match *m {
        reqwest::Method::GET => "Get",
        reqwest::Method::HEAD => "Head",
        reqwest::Method::PUT => "Put",
        reqwest::Method::POST => "Post",
        reqwest::Method::PATCH => "Patch",
        reqwest::Method::DELETE => "Delete",
        _ => "Do",
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `docker login`: checks `creds` against the registry. Docker's messages on failure.
pub async fn login(cfg: &ClientConfig, registry: &str, creds: &Credentials) -> Result<()> {
    let host = ClientConfig::endpoint_host(registry);
    let ep = ping(cfg, host).await?;
    let url = format!("{}/v2/", ep.base);
    let failed = |status: &str| {
        ClientError::new(
            ErrorKind::Unauthorized,
            format!("login attempt to {url} failed with status: {status}"),
        )
    };
    match &ep.challenge {
        Challenge::None => Ok(()),
        Challenge::Basic => {
            let mut req = ep.http.get(&url);
            if let Some(h) = auth::basic_header(creds) {
                req = req.header(reqwest::header::AUTHORIZATION, h);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| ClientError::transport("Get", &url, &e))?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(failed(&status_text(resp.status())))
            }
        }
        Challenge::Bearer { realm, service } => {
            let (tok, _) = auth::fetch_token(&ep.http, realm, service.as_deref(), None, creds)
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::Unauthorized => failed("401 Unauthorized"),
                    _ => e,
                })?;
            let resp = ep
                .http
                .get(&url)
                .header(reqwest::header::AUTHORIZATION, format!("Bearer {tok}"))
                .send()
                .await
                .map_err(|e| ClientError::transport("Get", &url, &e))?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(failed(&status_text(resp.status())))
            }
        }
    }
}

/// `401 Unauthorized`, as Go prints a status.
pub(crate) fn status_text(s: reqwest::StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
        .trim_end()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn insecure_rules() {
        let cfg = ClientConfig {
            insecure: vec!["myreg:5000".into(), "10.1.0.0/16".into()],
            ..Default::default()
        };
        assert!(cfg.is_insecure("127.0.0.1:5000").await);
        assert!(cfg.is_insecure("127.3.2.1").await);
        assert!(cfg.is_insecure("[::1]:5000").await);
        assert!(cfg.is_insecure("myreg:5000").await);
        assert!(cfg.is_insecure("10.1.2.3:443").await);
        assert!(!cfg.is_insecure("10.2.2.3:443").await);
        assert!(!cfg.is_insecure("192.0.2.1:5000").await);
        assert!(!cfg.is_insecure("registry-1.docker.io").await);
        assert!(!cfg.is_insecure("docker.io").await);
        assert_eq!(host_name("[::1]:5000"), "::1");
        assert_eq!(host_name("a.b:5000"), "a.b");
        assert_eq!(
            ClientConfig::endpoint_host("docker.io"),
            "registry-1.docker.io"
        );
    }
}

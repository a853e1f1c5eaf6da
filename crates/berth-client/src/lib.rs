//! Docker Engine API client over a unix socket or TCP, used by the CLI, the testkit
//! and tests.
//!
//! Key decision: one HTTP/1.1 connection per request (hyper's low-level `conn` API,
//! upgrades enabled), so streaming bodies in both directions and, later, hijacked
//! attach/exec streams need no connection pool. The API version is negotiated once per
//! `Client` from `HEAD /_ping`, as the docker CLI does.

mod error;
mod host;
mod request;
mod response;

pub use error::Error;
pub use host::{DEFAULT_HOST, Host};
pub use request::{Body, RequestBuilder};
pub use response::{JsonLines, Response};

use std::sync::OnceLock;

use http::Method;

/// The newest API version this client speaks.
pub const MAX_API_VERSION: &str = "1.45";
/// The oldest API version the daemon may report for us to keep going.
pub const MIN_API_VERSION: &str = "1.24";

/// What `/_ping` told us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ping {
    pub api_version: Option<String>,
    pub os_type: Option<String>,
    pub experimental: bool,
    pub builder_version: Option<String>,
}

/// An Engine API client for one daemon address.
#[derive(Debug)]
pub struct Client {
    host: Host,
    version: OnceLock<String>,
}

impl Client {
    pub fn new(host: Host) -> Client {
        Client {
            host,
            version: OnceLock::new(),
        }
    }

    /// A client that always uses `version` (no negotiation), e.g. for tests of old paths.
    pub fn with_version(host: Host, version: &str) -> Client {
        let c = Client::new(host);
        let _ = c.version.set(version.to_string());
        c
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The negotiated API version, if negotiation happened.
    pub fn api_version(&self) -> Option<&str> {
        self.version.get().map(String::as_str)
    }

    /// `HEAD /_ping` (falling back to `GET /_ping`), unversioned.
    pub async fn ping(&self) -> Result<Ping, Error> {
        let resp = match self.raw(Method::HEAD, "/_ping").send().await {
            Ok(r) => r,
            Err(Error::Daemon { .. }) => self.raw(Method::GET, "/_ping").send().await?,
            Err(e) => return Err(e),
        };
        let h = |n: &str| resp.header(n).map(str::to_string);
        Ok(Ping {
            api_version: h("api-version"),
            os_type: h("ostype"),
            experimental: h("docker-experimental").as_deref() == Some("true"),
            builder_version: h("builder-version"),
        })
    }

    /// Pings the daemon once and fixes the API version: the lower of ours and the
    /// daemon's. Later requests use `/v<version>/...`.
    pub async fn negotiate(&self) -> Result<&str, Error> {
        if let Some(v) = self.version.get() {
            return Ok(v);
        }
        let ping = self.ping().await?;
        let v = negotiated_version(ping.api_version.as_deref());
        Ok(self.version.get_or_init(|| v))
    }

    /// A request to an API path (e.g. `/images/json`), prefixed with the negotiated
    /// version if there is one.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        let full = match self.version.get() {
            Some(v) => format!("/v{v}{path}"),
            None => path.to_string(),
        };
        self.raw(method, &full)
    }

    /// A request to a path used exactly as given.
    pub fn raw(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder::new(self, method, path)
    }

    pub fn get(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, path)
    }
    pub fn post(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::POST, path)
    }
    pub fn delete(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::DELETE, path)
    }
    pub fn head(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::HEAD, path)
    }
}

/// min(ours, the daemon's); no header means the daemon predates negotiation (1.24).
fn negotiated_version(server: Option<&str>) -> String {
    let Some(server) = server.filter(|s| parse_version(s).is_some()) else {
        return MIN_API_VERSION.to_string();
    };
    if parse_version(server) < parse_version(MAX_API_VERSION) {
        server.to_string()
    } else {
        MAX_API_VERSION.to_string()
    }
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Percent-encodes one path segment of an API URL; `/` and `:` stay as they are,
/// because image references travel unescaped in paths (`/images/reg:5000/a/b:v1/json`).
pub fn path_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'/'
            | b':'
            | b'@'
            | b'+' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_lower_version() {
        assert_eq!(negotiated_version(Some("1.41")), "1.41");
        assert_eq!(negotiated_version(Some("1.45")), "1.45");
        assert_eq!(negotiated_version(Some("1.50")), "1.45");
        assert_eq!(negotiated_version(Some("1.9")), "1.9");
        assert_eq!(negotiated_version(Some("junk")), "1.24");
        assert_eq!(negotiated_version(None), "1.24");
    }

    #[test]
    fn path_escape_keeps_references() {
        assert_eq!(path_escape("reg:5000/a/b:v1"), "reg:5000/a/b:v1");
        assert_eq!(path_escape("a b?c#d"), "a%20b%3Fc%23d");
        assert_eq!(path_escape("busybox@sha256:ab"), "busybox@sha256:ab");
    }
}

//! Registry authentication: `WWW-Authenticate` challenges, bearer tokens (anonymous
//! or with credentials, cached per scope) and basic auth.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{ClientError, Credentials, ErrorKind};

/// What `/v2/` answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses one `WWW-Authenticate` value (`Bearer realm="…",service="…",scope="…"`).
pub(crate) fn parse_challenge(h: &str) -> Challenge {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let params = parse_params(rest);
    if scheme.eq_ignore_ascii_case("basic") {
        return Challenge::Basic;
    }
    if scheme.eq_ignore_ascii_case("bearer")
        && let Some(realm) = params.get("realm")
    {
        return Challenge::Bearer {
            realm: realm.clone(),
            service: params.get("service").cloned(),
        };
    }
    Challenge::None
}

/// `k="v",k2=v2` with quoted values that may contain commas.
fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, after)) = rest.split_once('=') else {
            break;
        };
        let k = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            (v, &q[end.min(q.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.insert(k, v);
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

pub(crate) fn basic_header(c: &Credentials) -> Option<String> {
    if c.username.is_empty() && c.password.is_empty() {
        return None;
    }
    Some(format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", c.username, c.password))
    ))
}

#[derive(Debug, Clone)]
struct Token {
    value: String,
    expires: Instant,
}

/// Tokens by scope (one per repository action set).
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    tokens: HashMap<String, Token>,
}

impl TokenCache {
    pub(crate) fn get(&self, scope: &str) -> Option<String> {
        self.tokens
            .get(scope)
            .filter(|t| t.expires > Instant::now())
            .map(|t| t.value.clone())
    }

    pub(crate) fn put(&mut self, scope: &str, value: String, ttl: Duration) {
        self.tokens.insert(
            scope.to_string(),
            Token {
                value,
                expires: Instant::now() + ttl,
            },
        );
    }
}

/// Fetches a token from `realm` for `scope` (docker's token flow: GET with basic
/// credentials if any, anonymous otherwise; a registry token is used as is).
pub(crate) async fn fetch_token(
    http: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scope: Option<&str>,
    creds: &Credentials,
) -> Result<(String, Duration), ClientError> {
    if !creds.registry_token.is_empty() {
        return Ok((creds.registry_token.clone(), Duration::from_secs(60)));
    }
    let mut url = reqwest::Url::parse(realm).map_err(|e| {
        ClientError::new(
            ErrorKind::Other,
            format!("invalid token realm {realm:?}: {e}"),
        )
    })?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(s) = service {
            q.append_pair("service", s);
        }
        if let Some(s) = scope {
            q.append_pair("scope", s);
        }
        if !creds.identity_token.is_empty() {
            q.append_pair("offline_token", "true");
        }
    }
    let mut req = http.get(url.clone());
    if !creds.identity_token.is_empty() {
        req = http.post(realm).form_like(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", creds.identity_token.as_str()),
            ("service", service.unwrap_or("")),
            ("scope", scope.unwrap_or("")),
            ("client_id", "docker"),
        ]);
    } else if let Some(b) = basic_header(creds) {
        req = req.header(reqwest::header::AUTHORIZATION, b);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| ClientError::transport("Get", url.as_str(), &e))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(ClientError::new(
            ErrorKind::Unauthorized,
            "unauthorized: incorrect username or password".to_string(),
        ));
    }
    if !status.is_success() {
        return Err(ClientError::new(
            ErrorKind::Other,
            format!("token endpoint {realm} answered {status}"),
        ));
    }
    let v: serde_json::Value = resp.json_value().await?;
    let token = v
        .get("token")
        .or_else(|| v.get("access_token"))
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_string();
    if token.is_empty() {
        return Err(ClientError::new(
            ErrorKind::Other,
            format!("token endpoint {realm} returned no token"),
        ));
    }
    let ttl = v
        .get("expires_in")
        .and_then(|e| e.as_u64())
        .filter(|&s| s >= 60)
        .unwrap_or(60);
    // Renew a little early.
    Ok((token, Duration::from_secs(ttl.saturating_sub(10))))
}

/// Small helpers over reqwest without its optional `form`/`json` features.
pub(crate) trait RequestExt {
    fn form_like(self, pairs: &[(&str, &str)]) -> Self;
}

impl RequestExt for reqwest::RequestBuilder {
    fn form_like(self, pairs: &[(&str, &str)]) -> Self {
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) trait ResponseExt {
    async fn json_value(self) -> Result<serde_json::Value, ClientError>;
}

impl ResponseExt for reqwest::Response {
    async fn json_value(self) -> Result<serde_json::Value, ClientError> {
        let url = self.url().to_string();
        let bytes = self
            .bytes()
            .await
            .map_err(|e| ClientError::transport("Get", &url, &e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::new(ErrorKind::Other, format!("invalid JSON from {url}: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(parse_challenge("Basic realm=\"r\""), Challenge::Basic);
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            }
        );
        assert_eq!(parse_challenge("Bearer service=x"), Challenge::None);
        assert_eq!(parse_challenge(""), Challenge::None);
        let p = parse_params(r#"a="x,y", b=z,c="q\"uote""#);
        assert_eq!(p["a"], "x,y");
        assert_eq!(p["b"], "z");
        assert_eq!(p["c"], "q\"uote");
    }

    #[test]
    fn token_cache_expires() {
        let mut c = TokenCache::default();
        c.put("s", "t".into(), Duration::from_secs(60));
        assert_eq!(c.get("s").as_deref(), Some("t"));
        c.put("s", "t".into(), Duration::ZERO);
        assert_eq!(c.get("s"), None);
        assert_eq!(c.get("other"), None);
    }
}

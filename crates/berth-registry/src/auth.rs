//! Authentication: htpasswd (bcrypt) basic auth and a built-in bearer token service.
//!
//! The check runs before any routing, and every failure gets the same 401 whatever
//! the path, so a wrong password learns nothing about which repositories exist.
//! Tokens are HS256 JWTs signed with a random per-process key: they prove a user
//! logged in through `/token` recently; every authenticated user may pull and push.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

/// How long an issued token is valid.
pub(crate) const TOKEN_TTL_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    #[error("read htpasswd file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("htpasswd file {0} line {1}: want user:$2y$... (bcrypt, as htpasswd -B makes)")]
    Line(String, usize),
}

pub(crate) struct Auth {
    users: HashMap<String, String>,
    /// sha256(user NUL password) of credentials already verified: bcrypt is slow
    /// on purpose, and a push sends credentials with every request.
    verified: Mutex<HashSet<[u8; 32]>>,
    key: [u8; 32],
    dummy: String,
    pub(crate) realm: String,
    /// When set, challenges ask for a bearer token from this URL.
    pub(crate) token_realm: Option<String>,
    pub(crate) service: String,
}

pub(crate) fn parse_htpasswd(path: &Path) -> Result<HashMap<String, String>, HtpasswdError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| HtpasswdError::Read(p.clone(), e))?;
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (user, hash) = line
            .split_once(':')
            .ok_or_else(|| HtpasswdError::Line(p.clone(), i + 1))?;
        if user.is_empty() || !hash.starts_with("$2") {
            return Err(HtpasswdError::Line(p.clone(), i + 1));
        }
        users.insert(user.to_string(), hash.to_string());
    }
    Ok(users)
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    // RFC 2104 with a 64-byte block; our key is 32 bytes so it is never pre-hashed.
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    pub(crate) fn new(
        users: HashMap<String, String>,
        realm: String,
        token_realm: Option<String>,
        service: String,
    ) -> Auth {
        let mut key = [0u8; 32];
        key.copy_from_slice(&hex::decode(berth_stdx::id::random_hex(32)).expect("hex"));
        Auth {
            users,
            verified: Mutex::default(),
            key,
            dummy: bcrypt::hash(berth_stdx::id::random_hex(8), 5).unwrap_or_default(),
            realm,
            token_realm,
            service,
        }
    }

    /// Checks `user:password` against the htpasswd entries.
    pub(crate) fn check_password(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user) else {
            // Spend the same time as for a real user, so timing does not reveal names.
            let _ = bcrypt::verify(password, &self.dummy);
            return false;
        };
        let mut h = Sha256::new();
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.update(hash.as_bytes());
        let fp: [u8; 32] = h.finalize().into();
        if self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&fp)
        {
            return true;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        if ok {
            self.verified
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(fp);
        }
        ok
    }

    /// Decodes `Basic base64(user:pass)`.
    pub(crate) fn basic_credentials(header: &str) -> Option<(String, String)> {
        let b64 = header
            .strip_prefix("Basic ")
            .or_else(|| header.strip_prefix("basic "))?;
        let raw = STANDARD.decode(b64.trim()).ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (u, p) = s.split_once(':')?;
        Some((u.to_string(), p.to_string()))
    }

    /// Issues a token for `user` with the requested scopes.
    pub(crate) fn issue_token(&self, user: &str, scopes: &[String], now: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|s| {
                let mut it = s.splitn(3, ':');
                let (t, n, a) = (it.next()?, it.next()?, it.next()?);
                Some(serde_json::json!({"type": t, "name": n, "actions": a.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let claims = serde_json::json!({
            "iss": "berth-registry",
            "sub": user,
            "aud": self.service,
            "iat": now,
            "nbf": now - 10,
            "exp": now + TOKEN_TTL_SECS,
            "access": access,
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing = format!("{header}.{payload}");
        let sig = URL_SAFE_NO_PAD.encode(hmac_sha256(&self.key, signing.as_bytes()));
        format!("{signing}.{sig}")
    }

    /// Verifies a token's signature and lifetime; returns the user.
    pub(crate) fn verify_token(&self, token: &str, now: i64) -> Option<String> {
        let (signing, sig) = token.rsplit_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        if !ct_eq(&sig, &hmac_sha256(&self.key, signing.as_bytes())) {
            return None;
        }
        let (header, payload) = signing.split_once('.')?;
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header["alg"] != "HS256" {
            return None;
        }
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        let exp = claims["exp"].as_i64()?;
        let nbf = claims["nbf"].as_i64().unwrap_or(0);
        if now >= exp || now < nbf {
            return None;
        }
        Some(claims["sub"].as_str()?.to_string())
    }

    /// The `WWW-Authenticate` challenge for a request needing `scope`.
    pub(crate) fn challenge(&self, scope: Option<&str>) -> String {
        match &self.token_realm {
            Some(realm) => {
                let mut c = format!("Bearer realm=\"{realm}\",service=\"{}\"", self.service);
                if let Some(s) = scope {
                    c.push_str(&format!(",scope=\"{s}\""));
                }
                c
            }
            None => format!("Basic realm=\"{}\"", self.realm),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let users = HashMap::from([("alice".to_string(), hash)]);
        Auth::new(users, "r".into(), None, "svc".into())
    }

    #[test]
    fn hmac_matches_rfc4231_case2() {
        // RFC 4231 test case 2 ("Jefe"), padded key path.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn passwords() {
        let a = auth();
        assert!(a.check_password("alice", "secret"));
        assert!(a.check_password("alice", "secret")); // cached path
        assert!(!a.check_password("alice", "wrong"));
        assert!(!a.check_password("bob", "secret"));
        assert_eq!(
            Auth::basic_credentials("Basic YWxpY2U6c2VjcmV0"),
            Some(("alice".into(), "secret".into()))
        );
        assert_eq!(Auth::basic_credentials("Basic !!!"), None);
    }

    #[test]
    fn tokens() {
        let a = auth();
        let t = a.issue_token("alice", &["repository:foo:pull,push".into()], 1000);
        assert_eq!(a.verify_token(&t, 1001).as_deref(), Some("alice"));
        assert_eq!(a.verify_token(&t, 1000 + TOKEN_TTL_SECS), None, "expired");
        // Tampered payload or signature, or another server's key: rejected.
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"root","exp":9999999999}"#);
        parts[1] = &forged;
        assert_eq!(a.verify_token(&parts.join("."), 1001), None);
        assert_eq!(auth().verify_token(&t, 1001), None);
        assert_eq!(a.verify_token("garbage", 1001), None);
    }

    #[test]
    fn htpasswd_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h");
        std::fs::write(&p, "# c\nalice:$2y$05$abc\n\n").unwrap();
        assert_eq!(parse_htpasswd(&p).unwrap().len(), 1);
        std::fs::write(&p, "alice:{SHA}xyz\n").unwrap();
        assert!(
            parse_htpasswd(&p)
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
    }
}

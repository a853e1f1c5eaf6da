//! Server settings: flags, or a config file with the same keys (flags win).
//!
//! The file is JSON (`{"addr": "0.0.0.0:5000", "delete": true, ...}`) or simple
//! `key = value` / `key: value` lines; keys use `-` or `_` interchangeably.

use std::path::{Path, PathBuf};

/// Everything `berth registry serve` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub addr: String,
    pub data_root: PathBuf,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub htpasswd: Option<PathBuf>,
    pub realm: String,
    /// When set, clients are sent to this URL for bearer tokens (the built-in
    /// `/token` endpoint, e.g. `https://host:5000/token`) instead of basic auth.
    pub token_realm: Option<String>,
    pub service: String,
    pub delete: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            addr: "0.0.0.0:5000".into(),
            data_root: PathBuf::from("/var/lib/berth-registry"),
            tls_cert: None,
            tls_key: None,
            htpasswd: None,
            realm: "berth-registry".into(),
            token_realm: None,
            service: "berth-registry".into(),
            delete: false,
        }
    }
}

/// Settings from a file; `None` where the file says nothing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub addr: Option<String>,
    pub data_root: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub htpasswd: Option<PathBuf>,
    pub realm: Option<String>,
    pub token_realm: Option<String>,
    pub service: Option<String>,
    pub delete: Option<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("read config file {0}: {1}")]
    Read(String, std::io::Error),
    #[error("config file {file}: {msg}")]
    Invalid { file: String, msg: String },
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(file.clone(), e))?;
        ConfigFile::parse(&text).map_err(|msg| ConfigError::Invalid { file, msg })
    }

    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        let mut pairs: Vec<(String, serde_json::Value)> = Vec::new();
        if text.trim_start().starts_with('{') {
            let v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).map_err(|e| format!("invalid json: {e}"))?;
            pairs.extend(v);
        } else {
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let (k, v) = line
                    .split_once('=')
                    .or_else(|| line.split_once(':'))
                    .ok_or_else(|| format!("line {}: want key = value", i + 1))?;
                let v = v.trim().trim_matches('"');
                pairs.push((
                    k.trim().to_string(),
                    serde_json::Value::String(v.to_string()),
                ));
            }
        }
        let mut c = ConfigFile::default();
        for (k, v) in pairs {
            let key = k.replace('_', "-");
            let s = || -> Result<String, String> {
                match &v {
                    serde_json::Value::String(s) => Ok(s.clone()),
                    _ => Err(format!("{k}: want a string")),
                }
            };
            match key.as_str() {
                "addr" => c.addr = Some(s()?),
                "data-root" => c.data_root = Some(s()?.into()),
                "tls-cert" => c.tls_cert = Some(s()?.into()),
                "tls-key" => c.tls_key = Some(s()?.into()),
                "htpasswd" => c.htpasswd = Some(s()?.into()),
                "realm" => c.realm = Some(s()?),
                "token-realm" => c.token_realm = Some(s()?),
                "service" => c.service = Some(s()?),
                "delete" => {
                    c.delete = Some(match &v {
                        serde_json::Value::Bool(b) => *b,
                        serde_json::Value::String(s) if s == "true" => true,
                        serde_json::Value::String(s) if s == "false" => false,
                        _ => return Err(format!("{k}: want true or false")),
                    })
                }
                _ => return Err(format!("unknown key {k:?}")),
            }
        }
        Ok(c)
    }

    /// Fills `base` (defaults) with the file's settings.
    pub fn apply(self, mut base: Config) -> Config {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f { base.$f = v; } )* };
        }
        set!(addr, data_root, realm, service, delete);
        macro_rules! set_opt {
            ($($f:ident),*) => { $( if self.$f.is_some() { base.$f = self.$f; } )* };
        }
        set_opt!(tls_cert, tls_key, htpasswd, token_realm);
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_lines() {
        let j =
            ConfigFile::parse(r#"{"addr":"127.0.0.1:1","data_root":"/d","delete":true}"#).unwrap();
        let k = ConfigFile::parse("# x\naddr = 127.0.0.1:1\ndata-root: /d\ndelete=true\n").unwrap();
        assert_eq!(j, k);
        let c = j.apply(Config::default());
        assert_eq!(c.addr, "127.0.0.1:1");
        assert!(c.delete);
        assert_eq!(c.realm, "berth-registry");
        assert!(
            ConfigFile::parse("bogus = 1")
                .unwrap_err()
                .contains("unknown key")
        );
        assert!(ConfigFile::parse(r#"{"delete":"maybe"}"#).is_err());
    }
}

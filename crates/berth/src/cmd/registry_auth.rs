//! Client-side credentials, as the docker CLI keeps them: `$DOCKER_CONFIG/config.json`
//! (default `~/.docker`), `auths.<server>.auth = base64(user:pass)`, or a
//! `docker-credential-<name>` helper named by `credsStore` / `credHelpers` (protocol:
//! `get`/`store`/`erase` with the server on stdin, JSON in and out).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Map, Value, json};

/// Docker Hub's key in config.json.
pub(crate) const HUB_KEY: &str = "https://index.docker.io/v1/";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Creds {
    pub username: String,
    pub password: String,
    pub server: String,
}

pub(crate) fn config_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker")
}

pub(crate) fn config_path() -> PathBuf {
    config_dir().join("config.json")
}

fn load() -> Result<Map<String, Value>> {
    let p = config_path();
    match std::fs::read(&p) {
        Ok(d) if d.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(d) => serde_json::from_slice(&d)
            .with_context(|| format!("loading config file {}", p.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(anyhow!("loading config file {}: {e}", p.display())),
    }
}

fn save(cfg: &Map<String, Value>) -> Result<()> {
    let p = config_path();
    let dir = config_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    // docker writes the file tab-indented, without a final newline.
    let mut data = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut data, fmt);
    serde::Serialize::serialize(cfg, &mut ser)?;
    // Written atomically and private: it holds passwords.
    let tmp = dir.join(format!(".config.json.{}", std::process::id()));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("write {}", tmp.display()))?;
        f.write_all(&data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &p).with_context(|| format!("write {}", p.display()))?;
    Ok(())
}

/// The config.json key of a registry (`docker.io` → Hub's URL).
pub(crate) fn server_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "" => HUB_KEY.into(),
        r => r.to_string(),
    }
}

/// `http://host:5000/` → `host:5000` (Hub's forms stay Hub's key).
pub(crate) fn normalize_server(s: &str) -> String {
    let t = s.trim();
    let bare = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .unwrap_or(t);
    let host = bare.split('/').next().unwrap_or("");
    server_key(host)
}

fn helper_for(cfg: &Map<String, Value>, key: &str) -> Option<String> {
    cfg.get("credHelpers")
        .and_then(|h| h.get(key))
        .and_then(Value::as_str)
        .or_else(|| cfg.get("credsStore").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn run_helper(name: &str, verb: &str, input: &[u8]) -> Result<Vec<u8>> {
    let bin = format!("docker-credential-{name}");
    let mut child = Command::new(&bin)
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("error getting credentials - err: exec: \"{bin}\": executable file not found in $PATH"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        return Err(anyhow!("{bin} {verb}: {msg}"));
    }
    Ok(out.stdout)
}

/// The stored credentials for `registry` (empty when none).
pub(crate) fn get(registry: &str) -> Creds {
    let key = server_key(registry);
    let Ok(cfg) = load() else {
        return Creds::default();
    };
    if let Some(h) = helper_for(&cfg, &key) {
        if let Ok(out) = run_helper(&h, "get", key.as_bytes())
            && let Ok(v) = serde_json::from_slice::<Value>(&out)
        {
            return Creds {
                username: v["Username"].as_str().unwrap_or("").into(),
                password: v["Secret"].as_str().unwrap_or("").into(),
                server: key,
            };
        }
        return Creds::default();
    }
    let auths = cfg.get("auths").and_then(Value::as_object);
    let entry = auths.and_then(|a| {
        a.get(&key).or_else(|| {
            // Entries written as URLs (`http://host:5000`) match too.
            a.iter()
                .find(|(k, _)| normalize_server(k) == key)
                .map(|(_, v)| v)
        })
    });
    let Some(auth) = entry.and_then(|e| e.get("auth")).and_then(Value::as_str) else {
        return Creds::default();
    };
    let Ok(raw) = STANDARD.decode(auth) else {
        return Creds::default();
    };
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (u, p) = raw.split_once(':').unwrap_or((&raw, ""));
    Creds {
        username: u.to_string(),
        password: p.to_string(),
        server: key,
    }
}

/// True when the credentials go to a helper (no plain-text warning then).
pub(crate) fn store(c: &Creds) -> Result<bool> {
    let mut cfg = load()?;
    if let Some(h) = helper_for(&cfg, &c.server) {
        let input = json!({"ServerURL": c.server, "Username": c.username, "Secret": c.password});
        run_helper(&h, "store", input.to_string().as_bytes())?;
        // docker keeps an empty entry so `logout` and listings know the server.
        let auths = cfg.entry("auths").or_insert_with(|| json!({}));
        if let Some(a) = auths.as_object_mut() {
            a.insert(c.server.clone(), json!({}));
        }
        save(&cfg)?;
        return Ok(true);
    }
    let auths = cfg.entry("auths").or_insert_with(|| json!({}));
    if !auths.is_object() {
        *auths = json!({});
    }
    if let Some(a) = auths.as_object_mut() {
        a.insert(
            c.server.clone(),
            json!({"auth": STANDARD.encode(format!("{}:{}", c.username, c.password))}),
        );
    }
    save(&cfg)?;
    Ok(false)
}

/// Removes the credentials for `key`; false when there were none.
pub(crate) fn erase(key: &str) -> Result<bool> {
    let mut cfg = load()?;
    let mut found = false;
    if let Some(h) = helper_for(&cfg, key) {
        found = run_helper(&h, "erase", key.as_bytes()).is_ok();
    }
    if let Some(a) = cfg.get_mut("auths").and_then(Value::as_object_mut) {
        let keys: Vec<String> = a
            .keys()
            .filter(|k| *k == key || normalize_server(k) == key)
            .cloned()
            .collect();
        for k in keys {
            a.remove(&k);
            found = true;
        }
    }
    if found {
        save(&cfg)?;
    }
    Ok(found)
}

/// The X-Registry-Auth header for `registry`: base64url JSON, `e30=` when anonymous.
pub(crate) fn header_for(registry: &str) -> String {
    let c = get(registry);
    if c.username.is_empty() && c.password.is_empty() {
        return "e30=".into();
    }
    encode_header(&c)
}

pub(crate) fn encode_header(c: &Creds) -> String {
    let v = json!({"username": c.username, "password": c.password, "serveraddress": c.server});
    URL_SAFE.encode(v.to_string())
}

/// The registry of an image name, as docker splits it (`host:5000/a` → `host:5000`,
/// `busybox` → `docker.io`).
pub(crate) fn registry_of(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "docker.io".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/a/b:c"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/a"), "localhost");
        assert_eq!(registry_of("user/repo"), "docker.io");
        assert_eq!(server_key("docker.io"), HUB_KEY);
        assert_eq!(normalize_server("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(normalize_server("https://index.docker.io/v1/"), HUB_KEY);
        let h = encode_header(&Creds {
            username: "u".into(),
            password: "p".into(),
            server: "s".into(),
        });
        let raw = URL_SAFE.decode(h).unwrap();
        assert_eq!(
            String::from_utf8(raw).unwrap(),
            r#"{"username":"u","password":"p","serveraddress":"s"}"#
        );
    }
}

//! A container's persistent record: what the client asked for (its `Config` and
//! `HostConfig` exactly as sent, merged with the image's defaults) and its state.
//! Stored as `<data-root>/containers/<id>/config.v2.json`, written atomically.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub(crate) const RECORD_FILE: &str = "config.v2.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
    /// Whether a shim (and so a process) exists.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Set by `docker stop`/`kill`, so a restart policy does not restart it.
    pub has_been_manually_stopped: bool,
    pub restart_count: i64,
    /// Present while the container has a healthcheck (see `health`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::Health>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub id: String,
    /// With the leading slash, as docker stores it.
    pub name: String,
    pub created: DateTime<Utc>,
    /// The image reference as the user gave it.
    pub image_ref: String,
    /// `sha256:...`
    pub image_id: String,
    pub path: String,
    pub args: Vec<String>,
    /// The merged `Config` (wire shape, PascalCase keys).
    pub config: Map<String, Value>,
    pub host_config: Map<String, Value>,
    pub state: State,
    pub log_path: String,
    /// Which runtime the shim was started with (`embedded` or a binary path).
    #[serde(default)]
    pub runtime: String,
    /// Binds, volumes and tmpfs mounts, resolved at create (see `mounts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mount_points: Vec<super::mounts::MountPoint>,
}

impl Record {
    pub fn load(dir: &Path) -> std::io::Result<Record> {
        let data = std::fs::read(dir.join(RECORD_FILE))?;
        serde_json::from_slice(&data).map_err(std::io::Error::other)
    }

    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        berth_stdx::atomic_write_json(&dir.join(RECORD_FILE), self)
    }

    pub fn cfg_str(&self, key: &str) -> &str {
        self.config.get(key).and_then(Value::as_str).unwrap_or("")
    }
    pub fn cfg_bool(&self, key: &str) -> bool {
        self.config
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    pub fn hc_str(&self, key: &str) -> &str {
        self.host_config
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub fn hc_i64(&self, key: &str) -> i64 {
        self.host_config
            .get(key)
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }
    pub fn hc_bool(&self, key: &str) -> bool {
        self.host_config
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    pub fn tty(&self) -> bool {
        self.cfg_bool("Tty")
    }
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.config
            .get("Labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }
    /// `name` without the slash.
    pub fn bare_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }
    /// The restart policy's name and maximum retry count.
    pub fn restart_policy(&self) -> (String, i64) {
        let p = self.host_config.get("RestartPolicy");
        let name = p
            .and_then(|p| p.get("Name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let max = p
            .and_then(|p| p.get("MaximumRetryCount"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        (name, max)
    }
}

/// docker's container name rule.
pub fn valid_name(name: &str) -> bool {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    n.len() >= 2 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

const LEFT: &[&str] = &[
    "admiring",
    "brave",
    "clever",
    "dazzling",
    "eager",
    "focused",
    "gallant",
    "happy",
    "jolly",
    "keen",
    "loving",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "youthful",
    "zealous",
];
const RIGHT: &[&str] = &[
    "archimedes",
    "babbage",
    "curie",
    "darwin",
    "euclid",
    "fermat",
    "galileo",
    "hopper",
    "hypatia",
    "johnson",
    "kepler",
    "lovelace",
    "meitner",
    "newton",
    "noether",
    "pascal",
    "ramanujan",
    "shannon",
    "tesla",
    "turing",
    "volta",
    "wozniak",
    "yalow",
    "zhukovsky",
];

/// A docker-style random name (`brave_turing`); `salt` > 0 appends a digit as docker
/// does on collisions.
pub fn random_name(salt: u32) -> String {
    let r = berth_stdx::id::random_hex(8);
    let n = u64::from_str_radix(&r, 16).unwrap_or(0);
    let l = LEFT[(n % LEFT.len() as u64) as usize];
    let rt = RIGHT[((n >> 16) % RIGHT.len() as u64) as usize];
    if salt == 0 {
        format!("{l}_{rt}")
    } else {
        format!("{l}_{rt}{}", n % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("web"));
        assert!(valid_name("/web-1.a_b"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("we b"));
        assert!(!valid_name("../x"));
        let r = random_name(0);
        assert!(valid_name(&r), "{r}");
    }

    #[test]
    fn status_wire_names() {
        assert_eq!(
            serde_json::to_string(&Status::Running).unwrap(),
            "\"running\""
        );
        assert!(Status::Paused.is_active() && !Status::Exited.is_active());
    }
}

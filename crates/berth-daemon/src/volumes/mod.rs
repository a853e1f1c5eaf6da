//! The local volume driver and the volume store: named and anonymous volumes under
//! `<data-root>/volumes/<name>/_data`, each with its metadata in
//! `<data-root>/volumes/<name>/volume.json` (written atomically, after `_data` exists,
//! so a volume is either listed whole or not at all).
//!
//! Key decision: references are never persisted. Which containers use a volume is
//! derived from the container records at start ([`VolumeStore::add_refs`] for each
//! record) and kept in memory while containers are created and removed, so the counts
//! are right after a daemon kill -9. Volumes with mount options (`type=tmpfs`,
//! `o=bind`, ...) are mounted when the first running container needs them and
//! unmounted when the last one stops, as docker's local driver does.

mod copyup;
mod local;
pub(crate) mod subpath;
mod xattrs;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use berth_api::Filters;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::events::EventBus;

pub(crate) use copyup::copy_up;
pub(crate) use local::dir_size;

/// The label docker puts on volumes created without a name.
pub(crate) const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";
/// The only driver there is.
pub(crate) const LOCAL: &str = "local";
const META_FILE: &str = "volume.json";

/// One volume's metadata, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Volume {
    pub name: String,
    pub driver: String,
    /// `None` and empty differ on the wire (`null` vs `{}`), as in docker.
    pub labels: Option<BTreeMap<String, String>>,
    pub options: Option<BTreeMap<String, String>>,
    pub created_at: DateTime<Utc>,
}

impl Volume {
    pub fn is_anonymous(&self) -> bool {
        self.labels
            .as_ref()
            .is_some_and(|l| l.contains_key(ANONYMOUS_LABEL))
    }
    fn has_options(&self) -> bool {
        self.options.as_ref().is_some_and(|o| !o.is_empty())
    }
}

#[derive(Default)]
struct State {
    vols: BTreeMap<String, Volume>,
    /// Volume name -> ids of the containers that reference it.
    refs: HashMap<String, BTreeSet<String>>,
    /// Volume name -> ids of running containers that have it mounted.
    active: HashMap<String, BTreeSet<String>>,
}

pub(crate) struct VolumeStore {
    root: PathBuf,
    events: EventBus,
    state: Mutex<State>,
    /// Serialises prunes (docker: "a prune operation is already running").
    pruning: Mutex<()>,
}

/// What a create asks for.
#[derive(Debug, Default, Clone)]
pub(crate) struct CreateRequest {
    pub name: String,
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

/// docker's rule for local volume names.
pub(crate) fn validate_name(name: &str) -> Result<()> {
    if name.len() == 1 {
        return Err(Error::invalid(
            "volume name is too short, names should be at least two alphanumeric characters",
        ));
    }
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(Error::invalid(format!(
            "{name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )));
    }
    Ok(())
}

fn op_err(op: &str, name: &str, e: Error) -> Error {
    Error::new(e.kind, format!("{op} {name}: {}", e.message))
}

fn no_such(name: &str) -> Error {
    Error::not_found(format!("get {name}: no such volume"))
}

impl VolumeStore {
    /// A store rooted at `<data-root>/volumes`; nothing is read until [`VolumeStore::load`].
    pub fn new(root: PathBuf, events: EventBus) -> VolumeStore {
        VolumeStore {
            root,
            events,
            state: Mutex::new(State::default()),
            pruning: Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// The host path of a volume's data (its mountpoint).
    pub fn data_path(&self, name: &str) -> PathBuf {
        self.dir(name).join("_data")
    }

    /// Reads every volume (blocking). A directory without metadata is a create that
    /// died half-way: removed when its data dir is empty, else adopted as a plain volume.
    pub fn load(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.root)?;
        let mut st = self.lock();
        for ent in std::fs::read_dir(&self.root)? {
            let ent = ent?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if validate_name(&name).is_err() || !ent.file_type()?.is_dir() {
                continue;
            }
            let dir = ent.path();
            let meta = std::fs::read(dir.join(META_FILE))
                .ok()
                .and_then(|d| serde_json::from_slice::<Volume>(&d).ok());
            let vol = match meta {
                Some(v) if v.name == name => v,
                _ => {
                    let data = dir.join("_data");
                    if std::fs::remove_dir(&data).is_ok() || !data.exists() {
                        let _ = std::fs::remove_dir_all(&dir);
                        continue;
                    }
                    tracing::warn!(volume = %name, "volume without metadata: adopted");
                    let created = std::fs::metadata(&data)
                        .and_then(|m| m.modified())
                        .map(DateTime::<Utc>::from)
                        .unwrap_or_else(|_| Utc::now());
                    Volume {
                        name: name.clone(),
                        driver: LOCAL.into(),
                        labels: None,
                        options: None,
                        created_at: created,
                    }
                }
            };
            st.vols.insert(name, vol);
        }
        Ok(())
    }

    /// Records that container `id` references `names` (at start, from its record).
    pub fn add_refs<'a>(&self, id: &str, names: impl IntoIterator<Item = &'a str>) {
        let mut st = self.lock();
        for n in names {
            st.refs
                .entry(n.to_string())
                .or_default()
                .insert(id.to_string());
        }
    }

    /// Drops every reference of container `id`.
    pub fn release(&self, id: &str) {
        let mut st = self.lock();
        for set in st.refs.values_mut() {
            set.remove(id);
        }
        st.refs.retain(|_, s| !s.is_empty());
    }

    /// Creates `req.name` (a random 64-hex name when empty), or returns the existing
    /// volume of that name. `reference`, when given, is recorded as a user in the same
    /// step, so a concurrent remove can't take the volume away in between.
    pub fn create(&self, req: CreateRequest, reference: Option<&str>) -> Result<Volume> {
        let name = if req.name.is_empty() {
            berth_stdx::random_id()
        } else {
            req.name.clone()
        };
        let driver = if req.driver.is_empty() {
            LOCAL
        } else {
            req.driver.as_str()
        };
        let mut st = self.lock();
        if let Some(v) = st.vols.get(&name) {
            if !req.driver.is_empty() && v.driver != req.driver {
                return Err(Error::conflict(format!(
                    "create {name}: volume name must be unique"
                )));
            }
            let v = v.clone();
            if let Some(r) = reference {
                st.refs.entry(name).or_default().insert(r.to_string());
            }
            return Ok(v);
        }
        if driver != LOCAL {
            return Err(Error::not_found(format!(
                "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
            )));
        }
        validate_name(&name).map_err(|e| op_err("create", &name, e))?;
        if let Some(o) = &req.options {
            local::validate_opts(o).map_err(|e| op_err("create", &name, e))?;
        }
        let vol = Volume {
            name: name.clone(),
            driver: LOCAL.into(),
            labels: req.labels,
            options: req.options,
            created_at: Utc::now(),
        };
        let dir = self.dir(&name);
        let write = std::fs::create_dir_all(dir.join("_data"))
            .and_then(|_| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o701))
            })
            .and_then(|_| berth_stdx::atomic_write_json(&dir.join(META_FILE), &vol));
        if let Err(e) = write {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(Error::internal(format!("create {name}: {e}")));
        }
        st.vols.insert(name.clone(), vol.clone());
        if let Some(r) = reference {
            st.refs
                .entry(name.clone())
                .or_default()
                .insert(r.to_string());
        }
        drop(st);
        self.publish("create", &name, &[]);
        Ok(vol)
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        self.lock()
            .vols
            .get(name)
            .cloned()
            .ok_or_else(|| no_such(name))
    }

    /// Adds `id` as a user of the existing volume `name` (`--volumes-from`).
    pub fn reference(&self, name: &str, id: &str) -> Result<()> {
        let mut st = self.lock();
        if !st.vols.contains_key(name) {
            return Err(no_such(name));
        }
        st.refs.entry(name.into()).or_default().insert(id.into());
        Ok(())
    }

    /// Ids of the containers that use `name`.
    pub fn refs(&self, name: &str) -> Vec<String> {
        self.lock()
            .refs
            .get(name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// `GET /volumes` with docker's filters (`dangling`, `name`, `label`, `driver`).
    pub fn list(&self, f: &Filters) -> Result<Vec<Volume>> {
        f.validate(&["dangling", "name", "label", "driver"])?;
        let dangling = if f.contains("dangling") {
            Some(f.get_bool_or_default("dangling", false)?)
        } else {
            None
        };
        let st = self.lock();
        Ok(st
            .vols
            .values()
            .filter(|v| {
                let labels = v.labels.clone().unwrap_or_default();
                let used = st.refs.get(&v.name).is_some_and(|s| !s.is_empty());
                dangling.is_none_or(|d| d != used)
                    && (f.get("name").is_empty()
                        || f.get("name").iter().any(|n| name_matches(n, &v.name)))
                    && f.exact_match("driver", &v.driver)
                    && f.match_labels("label", &labels)
            })
            .cloned()
            .collect())
    }

    /// `DELETE /volumes/{name}`: refused while a container references it.
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        let mut st = self.lock();
        let Some(vol) = st.vols.get(name).cloned() else {
            return if force { Ok(()) } else { Err(no_such(name)) };
        };
        if let Some(users) = st.refs.get(name).filter(|s| !s.is_empty()) {
            let ids: Vec<&str> = users.iter().map(String::as_str).collect();
            return Err(Error::conflict(format!(
                "remove {name}: volume is in use - [{}]",
                ids.join(", ")
            )));
        }
        let dir = self.dir(name);
        // A volume with mount options may still be mounted from a run that was cut short.
        if vol.has_options() {
            local::unmount(&self.data_path(name));
        }
        // Metadata first: a crash after this leaves a dir that `load` cleans up.
        let _ = std::fs::remove_file(dir.join(META_FILE));
        if let Err(e) = berth_stdx::ensure_remove_all(&dir)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            return Err(Error::internal(format!("remove {name}: {e}")));
        }
        st.vols.remove(name);
        st.active.remove(name);
        drop(st);
        self.publish("destroy", name, &[]);
        Ok(())
    }

    /// `POST /volumes/prune`: unused local volumes without mount options; only
    /// anonymous ones unless `all=true` (API >= 1.42; older callers pass `all`).
    pub fn prune(&self, f: &Filters) -> Result<(Vec<String>, u64)> {
        let Ok(_g) = self.pruning.try_lock() else {
            return Err(Error::conflict("a prune operation is already running"));
        };
        f.validate(&["label", "label!", "all"])?;
        let all = match f.get("all").as_slice() {
            [] => false,
            [one] => parse_bool(one)
                .ok_or_else(|| Error::invalid(format!("invalid filter 'all': {one:?}")))?,
            many => {
                return Err(Error::invalid(format!(
                    "invalid filter 'all=[{}]': only one value is expected",
                    many.join(" ")
                )));
            }
        };
        let victims: Vec<Volume> = {
            let st = self.lock();
            st.vols
                .values()
                .filter(|v| {
                    let labels = v.labels.clone().unwrap_or_default();
                    v.driver == LOCAL
                        && !v.has_options()
                        && st.refs.get(&v.name).is_none_or(|s| s.is_empty())
                        && (all || v.is_anonymous())
                        && f.match_labels("label", &labels)
                        && not_labels(f, &labels)
                })
                .cloned()
                .collect()
        };
        let mut deleted = Vec::new();
        let mut reclaimed = 0;
        for v in victims {
            let size = local::dir_size(&self.data_path(&v.name));
            match self.remove(&v.name, false) {
                Ok(()) => {
                    reclaimed += size;
                    deleted.push(v.name);
                }
                Err(e) => tracing::warn!(volume = %v.name, "prune: {}", e.message),
            }
        }
        let mut attrs = BTreeMap::new();
        attrs.insert("reclaimed".to_string(), reclaimed.to_string());
        self.events.publish("volume", "prune", "", attrs);
        Ok((deleted, reclaimed))
    }

    /// Makes `name` ready for container `id` to mount: mounts it first when it has
    /// mount options and nobody has it mounted yet. Returns the host path to bind.
    pub fn mount(&self, name: &str, id: &str) -> Result<PathBuf> {
        let mut st = self.lock();
        let vol = st.vols.get(name).cloned().ok_or_else(|| no_such(name))?;
        let path = self.data_path(name);
        let users = st.active.entry(name.into()).or_default();
        if users.is_empty()
            && let Some(o) = vol.options.as_ref().filter(|o| !o.is_empty())
        {
            local::mount(o, &path).map_err(|e| {
                Error::internal(format!(
                    "error while mounting volume '{}': {e}",
                    path.display()
                ))
            })?;
        }
        users.insert(id.into());
        Ok(path)
    }

    /// Container `id` stopped using `name`; the last user unmounts it. False when
    /// `id` did not have it mounted.
    pub fn unmount(&self, name: &str, id: &str) -> bool {
        let mut st = self.lock();
        let Some(users) = st.active.get_mut(name) else {
            return false;
        };
        if !users.remove(id) {
            return false;
        }
        if users.is_empty() {
            st.active.remove(name);
            if st.vols.get(name).is_some_and(Volume::has_options) {
                local::unmount(&self.data_path(name));
            }
        }
        true
    }

    /// At start: the running containers that still have `name` mounted; volumes with
    /// options that are mounted but have no user left are unmounted.
    pub fn restore_active(&self, running: &[(String, Vec<String>)]) {
        let mut st = self.lock();
        for (id, names) in running {
            for n in names {
                st.active.entry(n.clone()).or_default().insert(id.clone());
            }
        }
        let idle: Vec<String> = st
            .vols
            .values()
            .filter(|v| v.has_options() && !st.active.contains_key(&v.name))
            .map(|v| v.name.clone())
            .collect();
        drop(st);
        for n in idle {
            local::unmount(&self.data_path(&n));
        }
    }

    /// The volume in the Engine API's shape (`UsageData` when `usage`, for `system df`).
    pub fn to_json(&self, v: &Volume, usage: bool) -> Value {
        let mut j = json!({
            "CreatedAt": v.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "Driver": v.driver,
            "Labels": v.labels,
            "Mountpoint": self.data_path(&v.name).display().to_string(),
            "Name": v.name,
            "Options": v.options,
            "Scope": "local",
        });
        if usage {
            let refs = self.refs(&v.name).len();
            j["UsageData"] = json!({
                "RefCount": refs,
                "Size": local::dir_size(&self.data_path(&v.name)),
            });
        }
        j
    }

    /// Publishes a volume event (`driver` plus `extra` attributes).
    pub fn publish(&self, action: &str, name: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::new();
        attrs.insert("driver".to_string(), LOCAL.to_string());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.publish("volume", action, name, attrs);
    }

    /// The root every volume lives under.
    #[cfg(test)]
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }
}

/// `label!=k` / `label!=k=v`: none of them may match.
fn not_labels(f: &Filters, labels: &BTreeMap<String, String>) -> bool {
    f.get("label!")
        .iter()
        .all(|want| match want.split_once('=') {
            Some((k, v)) => labels.get(k).map(String::as_str) != Some(v),
            None => !labels.contains_key(*want),
        })
}

/// docker matches `name=` as a regular expression; berth supports what scripts use: a
/// substring, anchored with `^` and/or `$`.
fn name_matches(pattern: &str, name: &str) -> bool {
    let (start, p) = match pattern.strip_prefix('^') {
        Some(p) => (true, p),
        None => (false, pattern),
    };
    let (end, p) = match p.strip_suffix('$') {
        Some(p) => (true, p),
        None => (false, p),
    };
    match (start, end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests;

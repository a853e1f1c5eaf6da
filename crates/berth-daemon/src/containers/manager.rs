//! The manager's state (index, names, pending attaches, execs) and lookup, create and
//! start. Stop, kill, remove and friends are in `lifecycle`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::{oneshot, watch};

use super::exec::ExecEntry;
use super::prepare::{self, HostFacts};
use super::record::{self, Record, Status};
use super::shim;
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::images::ImageBackend;

/// Where things live and which binaries run them.
#[derive(Debug, Clone)]
pub struct ManagerOptions {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    /// The binary spawned as `<shim_binary> shim ...` (normally `/proc/self/exe`).
    pub shim_binary: PathBuf,
    /// `embedded` or the path of an OCI runtime binary (`runc`).
    pub runtime: String,
    /// daemon.json, for the keys containers read (`init`, `init-path`, `log-opts`).
    pub daemon_config: Map<String, Value>,
}

/// A client waiting in `attach` for the container to start: it is sent the shim's
/// state dir and answers once its attach request was accepted.
pub(crate) type PendingAttach = oneshot::Sender<(PathBuf, oneshot::Sender<()>)>;

pub(crate) struct Entry {
    pub rec: Record,
    /// Incremented at each exit (for `wait?condition=next-exit`).
    pub exits: u64,
    pub pending: Vec<PendingAttach>,
    /// A start is in progress (no second one may begin).
    pub starting: bool,
}

#[derive(Default)]
pub(crate) struct Index {
    pub by_id: HashMap<String, Entry>,
    /// Name with slash -> id.
    pub names: HashMap<String, String>,
    pub execs: HashMap<String, ExecEntry>,
}

pub struct ContainerManager {
    pub(crate) opts: ManagerOptions,
    pub(crate) images: Arc<dyn ImageBackend>,
    pub(crate) events: EventBus,
    pub(crate) host: HostFacts,
    pub(crate) index: Mutex<Index>,
    /// Bumped after every state change; waiters re-check their condition.
    pub(crate) changed: watch::Sender<u64>,
    /// Named and anonymous volumes (references derived from the records at load).
    pub(crate) volumes: Arc<crate::volumes::VolumeStore>,
    /// Bridge networks (set once by the daemon; unset in route tests).
    pub(crate) net: std::sync::OnceLock<Arc<crate::networks::NetworkManager>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

/// Where an attach connects: the shim now, or once the container starts.
pub enum AttachTarget {
    Now(PathBuf),
    OnStart(oneshot::Receiver<(PathBuf, oneshot::Sender<()>)>),
}

impl ContainerManager {
    /// Builds the manager; nothing is read from disk until [`ContainerManager::load`].
    pub fn new(opts: ManagerOptions, images: Arc<dyn ImageBackend>, events: EventBus) -> Self {
        let (volumes_root, volumes_events) = (opts.data_root.join("volumes"), events.clone());
        ContainerManager {
            opts,
            images,
            events,
            host: HostFacts::detect(),
            index: Mutex::new(Index::default()),
            changed: watch::channel(0).0,
            volumes: Arc::new(crate::volumes::VolumeStore::new(
                volumes_root,
                volumes_events,
            )),
            net: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    pub(crate) fn dir(&self, id: &str) -> PathBuf {
        self.opts.data_root.join("containers").join(id)
    }
    /// The shim's state dir, `<exec-root>/c/<short id>`: short because the socket
    /// inside must fit a unix socket address (108 bytes).
    pub(crate) fn state_dir(&self, id: &str) -> PathBuf {
        self.opts.exec_root.join("c").join(&id[..12.min(id.len())])
    }
    /// The runtime `rec` runs under (records written before the runtime was chosen per
    /// container have none: the daemon's default).
    pub(crate) fn runtime_of(&self, rec: &Record) -> String {
        if rec.runtime.is_empty() {
            self.opts.runtime.clone()
        } else {
            rec.runtime.clone()
        }
    }

    pub(crate) fn runtime_root(&self) -> PathBuf {
        self.opts.exec_root.join("runtime")
    }

    /// Reads every record (blocking). Records that fail to parse are skipped with a
    /// warning: one bad file must not keep the daemon from starting.
    pub fn load(&self) -> std::io::Result<()> {
        let root = self.opts.data_root.join("containers");
        std::fs::create_dir_all(&root)?;
        let mut idx = self.lock();
        for ent in std::fs::read_dir(&root)? {
            let path = ent?.path();
            match Record::load(&path) {
                Ok(rec) => {
                    idx.names.insert(rec.name.clone(), rec.id.clone());
                    idx.by_id.insert(
                        rec.id.clone(),
                        Entry {
                            rec,
                            exits: 0,
                            pending: Vec::new(),
                            starting: false,
                        },
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A create that died before its record was written.
                    let _ = std::fs::remove_dir_all(&path);
                }
                Err(e) => tracing::warn!(dir = %path.display(), "skip container: {e}"),
            }
        }
        self.load_volumes(&idx)
    }

    /// Reconnects to the shims of containers that were running (live-restore) and
    /// records the outcome of those that ended while the daemon was away.
    pub async fn restore(self: &Arc<Self>) {
        self.net_restore().await;
        let active: Vec<String> = {
            let idx = self.lock();
            idx.by_id
                .values()
                .filter(|e| e.rec.state.status.is_active())
                .map(|e| e.rec.id.clone())
                .collect()
        };
        for id in active {
            let sd = self.state_dir(&id);
            match shim::call(&sd, &berth_runtime::shim::proto::Request::State).await {
                Ok(_) => {
                    tracing::info!(container = %id, "reconnected to shim");
                    self.spawn_health(&id);
                    self.spawn_monitor(id);
                }
                Err(_) => {
                    let status = read_exit(&sd);
                    self.on_exit(&id, status).await;
                }
            }
        }
        self.reap_orphan_shims().await;
    }

    /// Finds a container by full id, name, or unique id prefix.
    pub(crate) fn resolve(&self, idx: &Index, name: &str) -> Result<String> {
        if name.is_empty() {
            return Err(Error::not_found("No such container: "));
        }
        if idx.by_id.contains_key(name) {
            return Ok(name.to_string());
        }
        let slashed = if name.starts_with('/') {
            name.to_string()
        } else {
            format!("/{name}")
        };
        if let Some(id) = idx.names.get(&slashed) {
            return Ok(id.clone());
        }
        let matches: Vec<&String> = idx.by_id.keys().filter(|k| k.starts_with(name)).collect();
        match matches.len() {
            1 => Ok(matches[0].clone()),
            0 => Err(Error::not_found(format!("No such container: {name}"))),
            _ => Err(Error::invalid(format!(
                "multiple IDs found with provided prefix: {name}"
            ))),
        }
    }

    /// A copy of the record.
    pub fn get(&self, name: &str) -> Result<Record> {
        let idx = self.lock();
        let id = self.resolve(&idx, name)?;
        Ok(idx.by_id[&id].rec.clone())
    }

    /// Applies `f` to the record, saves it, and wakes waiters.
    pub(crate) fn update(&self, id: &str, f: impl FnOnce(&mut Entry)) -> Result<Record> {
        let rec = {
            let mut idx = self.lock();
            let e = idx
                .by_id
                .get_mut(id)
                .ok_or_else(|| Error::not_found(format!("No such container: {id}")))?;
            f(e);
            e.rec.clone()
        };
        if let Err(e) = rec.save(&self.dir(id)) {
            tracing::error!(container = %id, "save record: {e}");
        }
        self.bump();
        Ok(rec)
    }

    /// Publishes a container event with docker's actor attributes.
    pub(crate) fn event(&self, rec: &Record, action: &str, extra: &[(&str, String)]) {
        let mut attrs: BTreeMap<String, String> = rec.labels();
        attrs.insert("image".into(), rec.image_ref.clone());
        attrs.insert("name".into(), rec.bare_name().to_string());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.publish("container", action, &rec.id, attrs);
    }

    /// `POST /containers/create`. Returns the id and warnings.
    pub async fn create(
        &self,
        name: &str,
        body: Map<String, Value>,
    ) -> Result<(String, Vec<String>)> {
        let mut config = body;
        let host_config = match config.remove("HostConfig") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let networking = config.remove("NetworkingConfig");
        let image_ref = config
            .get("Image")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if image_ref.is_empty() {
            return Err(Error::invalid("no image specified"));
        }
        if !name.is_empty() && !record::valid_name(name) {
            return Err(Error::invalid(format!(
                "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let images = self.images.clone();
        let r = image_ref.clone();
        let image = crate::server::blocking(move || images.get(&r)).await?;
        let img_cfg = image.config.config.clone().unwrap_or_default();
        merge_image_config(&mut config, &img_cfg);
        super::mounts::merge_image_volumes(&mut config, img_cfg.volumes.as_ref());
        let mut cmdline: Vec<String> = strs(config.get("Entrypoint"));
        cmdline.extend(strs(config.get("Cmd")));
        if cmdline.is_empty() {
            return Err(Error::invalid("no command specified"));
        }
        let mut hc = host_config;
        hc.entry("NetworkMode")
            .or_insert_with(|| Value::String("bridge".into()));
        if hc.get("NetworkMode").and_then(Value::as_str) == Some("default") {
            hc.insert("NetworkMode".into(), Value::String("bridge".into()));
        }
        super::logs::resolve_config(&mut hc, &self.opts.daemon_config)?;
        let mount_plan = super::mounts::plan(&config, &hc)?;
        let runtime = super::runtime::choose(
            hc.get("Runtime").and_then(Value::as_str).unwrap_or(""),
            &self.opts.runtime,
            &self.opts.daemon_config,
            &mount_plan,
            std::env::var("PATH").ok().as_deref(),
        )?;
        let id = berth_stdx::random_id();
        let log_path = self.dir(&id).join(format!("{id}-json.log"));
        let mut rec = Record {
            id: id.clone(),
            name: String::new(),
            created: chrono::Utc::now(),
            image_ref,
            image_id: image.id.to_string(),
            path: cmdline[0].clone(),
            args: cmdline[1..].to_vec(),
            config,
            host_config: hc,
            state: Default::default(),
            log_path: log_path.display().to_string(),
            runtime,
            mount_points: Vec::new(),
        };
        // Reserve the name, then write the record outside the lock.
        {
            let mut idx = self.lock();
            let chosen = if name.is_empty() {
                let mut n = record::random_name(0);
                let mut salt = 0;
                while idx.names.contains_key(&format!("/{n}")) {
                    salt += 1;
                    n = record::random_name(salt);
                }
                format!("/{n}")
            } else {
                format!("/{}", name.trim_start_matches('/'))
            };
            if let Some(other) = idx.names.get(&chosen) {
                return Err(Error::conflict(format!(
                    "Conflict. The container name \"{chosen}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            if rec.hostname().is_empty() {
                // docker: the short id, or the host's name on the host's network.
                let h = if rec.hc_str("NetworkMode") == "host" {
                    nix::unistd::gethostname()
                        .map(|h| h.to_string_lossy().into_owned())
                        .unwrap_or_else(|_| id[..12].to_string())
                } else if let Some(o) = (rec.hc_str("NetworkMode").strip_prefix("container:"))
                    .and_then(|o| self.resolve(&idx, o).ok())
                {
                    // docker: joining another container's network takes its hostname.
                    idx.by_id[&o].rec.hostname().to_string()
                } else {
                    id[..12].to_string()
                };
                rec.config.insert("Hostname".into(), Value::String(h));
            }
            rec.name = chosen.clone();
            idx.names.insert(chosen, id.clone());
            idx.by_id.insert(
                id.clone(),
                Entry {
                    rec: rec.clone(),
                    exits: 0,
                    pending: Vec::new(),
                    starting: false,
                },
            );
        }
        match self.realize_mounts(&id, mount_plan) {
            Ok(m) => {
                if let Some(e) = self.lock().by_id.get_mut(&id) {
                    e.rec.mount_points = m.clone();
                }
                rec.mount_points = m;
            }
            Err(e) => {
                let mut idx = self.lock();
                idx.names.remove(&rec.name);
                idx.by_id.remove(&id);
                return Err(e);
            }
        }
        let dir = self.dir(&id);
        let write = std::fs::create_dir_all(&dir).and_then(|_| rec.save(&dir));
        if let Err(e) = write {
            self.volumes.release(&id);
            let mut idx = self.lock();
            idx.names.remove(&rec.name);
            idx.by_id.remove(&id);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(Error::internal(format!("create container {id}: {e}")));
        }
        if let Err(e) = self.net_on_create(&rec, networking.as_ref()) {
            self.volumes.release(&id);
            let mut idx = self.lock();
            idx.names.remove(&rec.name);
            idx.by_id.remove(&id);
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
        self.event(&rec, "create", &[]);
        self.bump();
        Ok((id, Vec::new()))
    }

    /// `POST /containers/{id}/start`. `Ok(false)` when it was already running (304).
    pub async fn start(self: &Arc<Self>, name: &str) -> Result<bool> {
        let rec = {
            let mut idx = self.lock();
            let id = self.resolve(&idx, name)?;
            let e = idx.by_id.get_mut(&id).expect("resolved id is present");
            match e.rec.state.status {
                Status::Running | Status::Restarting => return Ok(false),
                Status::Paused => {
                    return Err(Error::conflict(
                        "cannot start a paused container, try unpause instead",
                    ));
                }
                Status::Removing | Status::Dead => {
                    return Err(Error::conflict(
                        "container is marked for removal and cannot be started",
                    ));
                }
                _ => {}
            }
            if e.starting {
                return Ok(false);
            }
            e.starting = true;
            e.rec.clone()
        };
        let res = self.start_inner(&rec).await;
        let id = rec.id.clone();
        match res {
            Ok(pid) => {
                let rec = self.update(&id, |e| {
                    e.starting = false;
                    let s = &mut e.rec.state;
                    s.status = Status::Running;
                    s.pid = pid;
                    s.exit_code = 0;
                    s.error.clear();
                    s.oom_killed = false;
                    s.has_been_manually_stopped = false;
                    s.started_at = Some(chrono::Utc::now());
                    super::health::on_start(&mut e.rec);
                })?;
                self.event(&rec, "start", &[]);
                self.spawn_health(&id);
                self.spawn_monitor(id);
                Ok(true)
            }
            Err(err) => {
                let code =
                    if err.message.contains("not found") || err.message.contains("no such file") {
                        127
                    } else if err.message.contains("permission denied") {
                        126
                    } else {
                        128
                    };
                let msg = err.message.clone();
                let _ = self.update(&id, |e| {
                    e.starting = false;
                    e.pending.clear();
                    e.rec.state.error = msg;
                    e.rec.state.exit_code = code;
                });
                Err(err)
            }
        }
    }

    /// Mounts, writes the bundle, spawns the shim, connects waiting attaches, starts.
    /// Everything it set up is undone on failure.
    async fn start_inner(self: &Arc<Self>, rec: &Record) -> Result<i32> {
        let dir = self.dir(&rec.id);
        let sd = self.state_dir(&rec.id);
        let _ = std::fs::remove_dir_all(&sd);
        std::fs::create_dir_all(&sd)
            .map_err(|e| Error::internal(format!("create {}: {e}", sd.display())))?;
        let me = self.clone();
        let r = rec.clone();
        let d = dir.clone();
        let prepared = crate::server::blocking(move || {
            let image_id: berth_stdx::Digest = r
                .image_id
                .parse()
                .map_err(|_| Error::internal(format!("bad image id {}", r.image_id)))?;
            let layers = me.images.layer_dirs(&image_id)?;
            let ov = prepare::mount_rootfs(&d, &layers)?;
            let res = prepare::container_spec(&d, &ov.target, &r).and_then(|mut cs| {
                cs.mounts.extend(me.setup_mounts(&r, &ov.target)?);
                prepare::check_executable(&ov.target, &cs.args[0], &cs.env, &cs.cwd)?;
                super::init::apply(&r, &me.opts.daemon_config, &mut cs)?;
                me.net_prepare(&r, &mut cs)?;
                let embedded = me.runtime_of(&r) == super::runtime::EMBEDDED;
                prepare::write_bundle(&d, &cs, &me.host, embedded)?;
                me.net_setup(&d, &r)
            });
            if res.is_err() {
                me.teardown_mounts(&r);
                prepare::unmount_rootfs(&d);
            }
            res
        })
        .await;
        if let Err(e) = prepared {
            let _ = std::fs::remove_dir_all(&sd);
            return Err(e);
        }
        let launch = shim::Launch {
            binary: self.opts.shim_binary.clone(),
            id: rec.id.clone(),
            bundle: dir.clone(),
            state_dir: sd.clone(),
            runtime: self.runtime_of(rec),
            runtime_root: self.runtime_root(),
            tty: rec.tty(),
            stdin: rec.cfg_bool("OpenStdin"),
            log: super::logs::shim_log(rec),
            exec_process: None,
        };
        let pid = match shim::launch(&launch).await {
            Ok(pid) => pid,
            Err(e) => {
                self.cleanup_after_exit(&rec.id);
                return Err(e);
            }
        };
        // The client's terminal size (`HostConfig.ConsoleSize`), before anything runs.
        if rec.tty()
            && let Some((h, w)) = console_size(rec.host_config.get("ConsoleSize"))
        {
            let _ = shim::call(
                &sd,
                &berth_runtime::shim::proto::Request::Resize {
                    height: h,
                    width: w,
                },
            )
            .await;
        }
        // Attaches opened before start get the stream from the first byte.
        let pending = {
            let mut idx = self.lock();
            idx.by_id
                .get_mut(&rec.id)
                .map(|e| std::mem::take(&mut e.pending))
                .unwrap_or_default()
        };
        for p in pending {
            let (ack_tx, ack_rx) = oneshot::channel();
            if p.send((sd.clone(), ack_tx)).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(5), ack_rx).await;
            }
        }
        if let Err(e) = shim::call(&sd, &berth_runtime::shim::proto::Request::Start).await {
            let _ = shim::call(
                &sd,
                &berth_runtime::shim::proto::Request::Kill {
                    signal: libc::SIGKILL,
                    all: true,
                },
            )
            .await;
            // The shim ends once its process is gone; give it a moment, then clean up.
            for _ in 0..50 {
                if !shim::socket(&sd).exists() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            self.cleanup_after_exit(&rec.id);
            return Err(shim::start_error(e.message));
        }
        Ok(pid)
    }

    /// Unmounts the rootfs and removes the shim's state dir (best-effort).
    pub(crate) fn cleanup_after_exit(&self, id: &str) {
        self.net_teardown(id);
        self.teardown_mounts_of(id);
        prepare::unmount_rootfs(&self.dir(id));
        let _ = std::fs::remove_dir_all(self.state_dir(id));
    }

    /// Holds a `wait` connection to the shim; records the exit when it answers.
    pub(crate) fn spawn_monitor(self: &Arc<Self>, id: String) {
        let me = self.clone();
        tokio::spawn(async move {
            let sd = me.state_dir(&id);
            let req = berth_runtime::shim::proto::Request::Wait;
            let status = match shim::call_conn(&sd, &req).await {
                Ok((resp, _)) if resp.exit.is_some() => resp.exit,
                _ => None,
            };
            let status = status.or_else(|| read_exit(&sd));
            me.on_exit(&id, status).await;
        });
    }

    /// Records an exit: state, cleanup, `die`, then auto-remove or restart policy.
    pub(crate) async fn on_exit(
        self: &Arc<Self>,
        id: &str,
        status: Option<berth_runtime::shim::proto::ExitStatus>,
    ) {
        self.cleanup_after_exit(id);
        let (code, oom, finished, err) = match &status {
            Some(s) => (
                s.exit_code,
                s.oom_killed,
                chrono::DateTime::parse_from_rfc3339(&s.finished_at)
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .unwrap_or_else(|_| chrono::Utc::now()),
                String::new(),
            ),
            None => (
                255,
                false,
                chrono::Utc::now(),
                "the container's shim ended without recording an exit status".to_string(),
            ),
        };
        let Ok(rec) = self.update(id, |e| {
            e.exits += 1;
            let s = &mut e.rec.state;
            s.status = Status::Exited;
            s.pid = 0;
            s.exit_code = code;
            s.oom_killed = oom;
            s.finished_at = Some(finished);
            s.error = err;
            super::health::on_stop(s);
        }) else {
            return;
        };
        if oom {
            self.event(&rec, "oom", &[]);
        }
        self.event(&rec, "die", &[("exitCode", code.to_string())]);
        if rec.hc_bool("AutoRemove") {
            let me = self.clone();
            let id = id.to_string();
            tokio::spawn(async move {
                if let Err(e) = me.remove(&id, true).await {
                    tracing::warn!(container = %id, "auto-remove: {}", e.message);
                }
            });
            return;
        }
        self.maybe_restart(rec);
    }

    /// docker's restart policies: `always`, `unless-stopped`, `on-failure[:N]`, with a
    /// back-off doubling from 100ms.
    fn maybe_restart(self: &Arc<Self>, rec: Record) {
        let (policy, max) = rec.restart_policy();
        let s = &rec.state;
        let want = !s.has_been_manually_stopped
            && match policy.as_str() {
                "always" | "unless-stopped" => true,
                "on-failure" => s.exit_code != 0 && (max == 0 || s.restart_count < max),
                _ => false,
            };
        if !want {
            return;
        }
        let delay = Duration::from_millis(100u64 << s.restart_count.clamp(0, 10));
        let me = self.clone();
        let id = rec.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let still = me
                .get(&id)
                .map(|r| r.state.status == Status::Exited && !r.state.has_been_manually_stopped)
                .unwrap_or(false);
            if !still {
                return;
            }
            let _ = me.update(&id, |e| e.rec.state.restart_count += 1);
            if let Err(e) = me.start(&id).await {
                tracing::warn!(container = %id, "restart: {}", e.message);
            }
        });
    }

    /// Where an attach for `name` connects.
    pub fn attach_target(&self, name: &str) -> Result<(Record, AttachTarget)> {
        let mut idx = self.lock();
        let id = self.resolve(&idx, name)?;
        let e = idx.by_id.get_mut(&id).expect("resolved id is present");
        if e.rec.state.status.is_active() && !e.starting {
            return Ok((e.rec.clone(), AttachTarget::Now(self.state_dir(&id))));
        }
        let (tx, rx) = oneshot::channel();
        e.pending.push(tx);
        Ok((e.rec.clone(), AttachTarget::OnStart(rx)))
    }

    /// Waits for `cond`; returns the exit code and error text.
    pub async fn wait(&self, name: &str, cond: WaitCondition) -> Result<(i32, String)> {
        let mut rx = self.changed.subscribe();
        let (id, start_exits) = {
            let idx = self.lock();
            let id = self.resolve(&idx, name)?;
            (id.clone(), idx.by_id[&id].exits)
        };
        let mut last: Option<(i32, String)> = None;
        loop {
            {
                let idx = self.lock();
                match idx.by_id.get(&id) {
                    None => {
                        // Removed: the exit code is what counts (a failed start was
                        // already reported to whoever started it).
                        return Ok((last.map(|l| l.0).unwrap_or(0), String::new()));
                    }
                    Some(e) => {
                        let s = &e.rec.state;
                        last = Some((s.exit_code, s.error.clone()));
                        let done = match cond {
                            WaitCondition::NotRunning => !s.status.is_active() && !e.starting,
                            WaitCondition::NextExit => e.exits > start_exits,
                            WaitCondition::Removed => false,
                        };
                        if done {
                            return Ok((s.exit_code, s.error.clone()));
                        }
                    }
                }
            }
            if rx.changed().await.is_err() {
                return Err(Error::internal("daemon is shutting down"));
            }
        }
    }
}

impl Record {
    pub(crate) fn hostname(&self) -> &str {
        self.cfg_str("Hostname")
    }
}

pub(crate) fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `[height, width]`, when both are set.
pub(crate) fn console_size(v: Option<&Value>) -> Option<(u16, u16)> {
    let a = v?.as_array()?;
    let h = u16::try_from(a.first()?.as_u64()?).ok()?;
    let w = u16::try_from(a.get(1)?.as_u64()?).ok()?;
    (h > 0 && w > 0).then_some((h, w))
}

/// The outcome a shim recorded, if any.
pub(crate) fn read_exit(state_dir: &Path) -> Option<berth_runtime::shim::proto::ExitStatus> {
    let data = std::fs::read(state_dir.join(berth_runtime::shim::EXIT_FILE)).ok()?;
    serde_json::from_slice(&data).ok()
}

/// docker's merge of the image's config into the request's.
fn merge_image_config(c: &mut Map<String, Value>, img: &berth_image::ContainerConfig) {
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    };
    if empty(c.get("Entrypoint")) {
        if empty(c.get("Cmd"))
            && let Some(cmd) = &img.cmd
        {
            c.insert("Cmd".into(), serde_json::json!(cmd));
        }
        if c.get("Entrypoint").is_none_or(Value::is_null)
            && let Some(ep) = &img.entrypoint
        {
            c.insert("Entrypoint".into(), serde_json::json!(ep));
        }
    }
    if empty(c.get("User")) && !img.user.is_empty() {
        c.insert("User".into(), Value::String(img.user.clone()));
    }
    if empty(c.get("WorkingDir")) && !img.working_dir.is_empty() {
        c.insert("WorkingDir".into(), Value::String(img.working_dir.clone()));
    }
    // Env: the image's, overridden key by key by the request's.
    let user_env = strs(c.get("Env"));
    let mut env: Vec<String> = img.env.clone().unwrap_or_default();
    for e in user_env {
        let key = e.split('=').next().unwrap_or("").to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(e);
    }
    c.insert("Env".into(), serde_json::json!(env));
    let mut labels: Map<String, Value> = img
        .labels
        .as_ref()
        .map(|l| {
            l.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Object(user)) = c.get("Labels") {
        for (k, v) in user {
            labels.insert(k.clone(), v.clone());
        }
    }
    c.insert("Labels".into(), Value::Object(labels));
    if empty(c.get("StopSignal"))
        && let Some(s) = &img.stop_signal
    {
        c.insert("StopSignal".into(), Value::String(s.clone()));
    }
    // ExposedPorts: the union of the image's and the request's (what `-P` publishes).
    if let Some(ports) = &img.exposed_ports {
        let mut all = c
            .get("ExposedPorts")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for p in ports.keys() {
            all.entry(p.clone())
                .or_insert_with(|| serde_json::json!({}));
        }
        c.insert("ExposedPorts".into(), Value::Object(all));
    }
    super::health::merge_image(c, img.healthcheck.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_config_merge_follows_docker() {
        let img = berth_image::ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            entrypoint: None,
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            ..Default::default()
        };
        let mut c: Map<String, Value> =
            serde_json::from_str(r#"{"Cmd":null,"Env":["A=2"]}"#).unwrap();
        merge_image_config(&mut c, &img);
        assert_eq!(strs(c.get("Cmd")), vec!["sh"]);
        assert_eq!(strs(c.get("Env")), vec!["PATH=/bin", "A=2"]);
        let mut c: Map<String, Value> = serde_json::from_str(r#"{"Entrypoint":["echo"]}"#).unwrap();
        merge_image_config(&mut c, &img);
        assert!(c.get("Cmd").is_none());
    }
}

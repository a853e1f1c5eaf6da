//! `docker exec`: exec records (in memory; execs don't survive the daemon, as in
//! docker) and exec shims started with the container's process spec, adjusted.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth_runtime::shim::proto::Request;
use serde_json::{Map, Value};

use super::manager::{ContainerManager, read_exit, strs};
use super::prepare;
use super::shim;
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct ExecEntry {
    pub id: String,
    pub container_id: String,
    /// The request body of `POST /containers/{id}/exec`.
    pub config: Map<String, Value>,
    pub running: bool,
    pub started: bool,
    pub exit_code: Option<i32>,
    pub pid: i32,
}

impl ExecEntry {
    pub fn tty(&self) -> bool {
        self.config
            .get("Tty")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
    pub fn flag(&self, k: &str) -> bool {
        self.config.get(k).and_then(Value::as_bool).unwrap_or(false)
    }
    pub fn cmd(&self) -> Vec<String> {
        strs(self.config.get("Cmd"))
    }
}

/// What `/exec/{id}/start` connects to.
pub struct ExecStart {
    pub entry: ExecEntry,
    pub state_dir: PathBuf,
}

impl ContainerManager {
    pub(crate) fn exec_state_dir(&self, cid: &str, eid: &str) -> PathBuf {
        // Short for the socket's sake, like the container's (see `state_dir`).
        let _ = cid;
        self.opts
            .exec_root
            .join("x")
            .join(&eid[..12.min(eid.len())])
    }

    /// `POST /containers/{id}/exec`.
    pub fn exec_create(&self, name: &str, config: Map<String, Value>) -> Result<String> {
        let rec = self.get(name)?;
        if !rec.state.status.is_active() {
            return Err(Error::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        if rec.state.status == super::Status::Paused {
            return Err(Error::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                rec.id
            )));
        }
        if strs(config.get("Cmd")).is_empty() {
            return Err(Error::invalid("No exec command specified"));
        }
        let id = berth_stdx::random_id();
        let entry = ExecEntry {
            id: id.clone(),
            container_id: rec.id.clone(),
            config,
            running: false,
            started: false,
            exit_code: None,
            pid: 0,
        };
        let cmd = entry.cmd().join(" ");
        self.lock().execs.insert(id.clone(), entry);
        self.event(
            &rec,
            &format!("exec_create: {cmd}"),
            &[("execID", id.clone())],
        );
        Ok(id)
    }

    pub fn exec_get(&self, id: &str) -> Result<ExecEntry> {
        self.lock()
            .execs
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))
    }

    /// `POST /exec/{id}/start`: writes the process spec and starts the exec shim (which
    /// buffers output until the attach arrives).
    pub async fn exec_start(
        self: &Arc<Self>,
        id: &str,
        tty_override: Option<bool>,
    ) -> Result<ExecStart> {
        let entry = {
            let mut idx = self.lock();
            let e = idx
                .execs
                .get_mut(id)
                .ok_or_else(|| Error::not_found(format!("No such exec instance: {id}")))?;
            if e.started {
                return Err(Error::conflict(format!(
                    "Error: Exec command {id} has already run"
                )));
            }
            if let Some(t) = tty_override {
                e.config.insert("Tty".into(), Value::Bool(t));
            }
            e.started = true;
            e.running = true;
            e.clone()
        };
        let rec = self.get(&entry.container_id)?;
        if !rec.state.status.is_active() {
            self.exec_done(id, None);
            return Err(Error::conflict(format!(
                "container {} is not running",
                rec.id
            )));
        }
        let sd = self.exec_state_dir(&rec.id, id);
        let _ = std::fs::remove_dir_all(&sd);
        std::fs::create_dir_all(&sd)
            .map_err(|e| Error::internal(format!("create {}: {e}", sd.display())))?;
        let process_path = sd.join("process.json");
        let dir = self.dir(&rec.id);
        let e2 = entry.clone();
        let pp = process_path.clone();
        let hostname = rec.hostname().to_string();
        let r = crate::server::blocking(move || write_process(&dir, &pp, &e2, &hostname)).await;
        if let Err(e) = r {
            let code = if e.message.contains("permission denied")
                || e.message.contains("is a directory")
            {
                126
            } else if e.message.contains("not found") || e.message.contains("no such file") {
                127
            } else {
                126
            };
            self.exec_done(id, Some(code));
            let _ = std::fs::remove_dir_all(&sd);
            return Err(e);
        }
        let launch = shim::Launch {
            binary: self.opts.shim_binary.clone(),
            id: rec.id.clone(),
            bundle: self.dir(&rec.id),
            state_dir: sd.clone(),
            runtime: self.runtime_of(&rec),
            runtime_root: self.runtime_root(),
            tty: entry.tty(),
            stdin: entry.flag("AttachStdin"),
            log: None,
            exec_process: Some(process_path),
        };
        let pid = match shim::launch(&launch).await {
            Ok(p) => p,
            Err(e) => {
                self.exec_done(id, None);
                let _ = std::fs::remove_dir_all(&sd);
                return Err(e);
            }
        };
        if entry.tty()
            && let Some((h, w)) = super::manager::console_size(entry.config.get("ConsoleSize"))
        {
            let _ = shim::call(
                &sd,
                &Request::Resize {
                    height: h,
                    width: w,
                },
            )
            .await;
        }
        let entry = {
            let mut idx = self.lock();
            let e = idx.execs.get_mut(id).expect("exec present");
            e.pid = pid;
            e.clone()
        };
        self.event(
            &rec,
            &format!("exec_start: {}", entry.cmd().join(" ")),
            &[("execID", id.to_string())],
        );
        let me = self.clone();
        let eid = id.to_string();
        let sd2 = sd.clone();
        let cid = entry.container_id.clone();
        tokio::spawn(async move {
            let status = wait_for_exit(&sd2).await;
            me.exec_done(&eid, status.as_ref().map(|s| s.exit_code));
            if let Ok(rec) = me.get(&cid) {
                me.event(
                    &rec,
                    "exec_die",
                    &[
                        ("execID", eid.clone()),
                        ("exitCode", status_code(status.as_ref()).to_string()),
                    ],
                );
            }
            // The shim is gone: its state dir only held the socket and exit file.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = std::fs::remove_dir_all(&sd2);
        });
        Ok(ExecStart {
            entry,
            state_dir: sd,
        })
    }

    fn exec_done(&self, id: &str, code: Option<i32>) {
        if let Some(e) = self.lock().execs.get_mut(id) {
            e.running = false;
            e.exit_code = Some(code.unwrap_or(126));
        }
        self.bump();
    }

    /// Waits (bounded) until the exec's exit is recorded, so `/exec/{id}/json` right
    /// after the stream ends reports the exit code.
    pub async fn exec_wait(&self, id: &str, max: Duration) {
        let mut rx = self.changed.subscribe();
        let _ = tokio::time::timeout(max, async {
            loop {
                if self.exec_get(id).map(|e| !e.running).unwrap_or(true) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
    }

    /// `POST /exec/{id}/resize`.
    pub async fn exec_resize(&self, id: &str, height: u16, width: u16) -> Result<()> {
        let e = self.exec_get(id)?;
        if !e.running {
            return Err(Error::conflict(format!("Exec {id} is not running")));
        }
        let sd = self.exec_state_dir(&e.container_id, id);
        shim::call(&sd, &Request::Resize { height, width }).await?;
        Ok(())
    }
}

/// The exec's exit status: from a `wait` on its shim, or, when the shim is already gone
/// (a quick process under load can finish before the wait connects) or the connection
/// broke, from the `exit.json` it wrote. Retried for a few seconds before giving up, so a
/// transient failure never turns a real exit code into 126.
async fn wait_for_exit(
    state_dir: &std::path::Path,
) -> Option<berth_runtime::shim::proto::ExitStatus> {
    for _ in 0..50 {
        if let Ok((resp, _)) = shim::call_conn(state_dir, &Request::Wait).await
            && resp.exit.is_some()
        {
            return resp.exit;
        }
        if let Some(s) = read_exit(state_dir) {
            return Some(s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

fn status_code(s: Option<&berth_runtime::shim::proto::ExitStatus>) -> i32 {
    s.map(|s| s.exit_code).unwrap_or(126)
}

/// The exec's process: the container's, with the exec's args, env, cwd, user and tty.
fn write_process(
    dir: &std::path::Path,
    out: &std::path::Path,
    e: &ExecEntry,
    hostname: &str,
) -> Result<()> {
    let data = std::fs::read(dir.join("config.json"))
        .map_err(|err| Error::internal(format!("read container spec: {err}")))?;
    let spec: Value = serde_json::from_slice(&data)
        .map_err(|err| Error::internal(format!("parse container spec: {err}")))?;
    let mut process = spec.get("process").cloned().unwrap_or(Value::Null);
    let Some(p) = process.as_object_mut() else {
        return Err(Error::internal("container spec has no process"));
    };
    let tty = e.tty();
    p.insert("terminal".into(), Value::Bool(tty));
    p.insert("args".into(), serde_json::json!(e.cmd()));
    let user = e.config.get("User").and_then(Value::as_str).unwrap_or("");
    let rootfs = dir.join("rootfs");
    let mut env: Vec<String> = strs(p.get("env"));
    if !user.is_empty() {
        let u = prepare::resolve_user(&rootfs, user, &[])?;
        p.insert(
            "user".into(),
            serde_json::json!({"uid": u.uid, "gid": u.gid, "additionalGids": u.additional_gids}),
        );
        env.retain(|x| !x.starts_with("HOME="));
        env.push(format!("HOME={}", u.home));
    }
    for kv in strs(e.config.get("Env")) {
        let key = kv.split('=').next().unwrap_or("").to_string();
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(kv);
    }
    if tty && !env.iter().any(|x| x.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let _ = hostname;
    if let Some(w) = e.config.get("WorkingDir").and_then(Value::as_str)
        && !w.is_empty()
    {
        p.insert("cwd".into(), Value::String(w.to_string()));
    }
    let cwd = p
        .get("cwd")
        .and_then(Value::as_str)
        .unwrap_or("/")
        .to_string();
    let cmd = e.cmd();
    if let Err(what) = prepare::lookup_executable(&rootfs, &cmd[0], &env, &cwd) {
        return Err(Error::invalid(format!(
            "OCI runtime exec failed: exec failed: unable to start container process: {what}: unknown"
        )));
    }
    p.insert("env".into(), serde_json::json!(env));
    if e.flag("Privileged") {
        let all = berth_runtime::caps::effective(true, &[], &[]).unwrap_or_default();
        p.insert(
            "capabilities".into(),
            serde_json::json!({"bounding": all, "effective": all, "permitted": all}),
        );
    }
    berth_stdx::atomic_write_json(out, &process)
        .map_err(|err| Error::internal(format!("write exec process: {err}")))
}

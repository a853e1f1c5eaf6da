//! Stop, kill, restart, remove, rename, pause/unpause and resize.

use std::sync::Arc;
use std::time::Duration;

use berth_runtime::shim::proto::Request;

use super::manager::{ContainerManager, WaitCondition};
use super::record::{self, Status};
use super::shim;
use crate::error::{Error, Result};

/// A signal as docker accepts it: a number, `KILL`, or `SIGKILL`.
pub fn parse_signal(s: &str) -> Result<i32> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i32>() {
        if n > 0 && n < 65 {
            return Ok(n);
        }
        return Err(Error::invalid(format!("Invalid signal: {s}")));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up.clone()
    } else {
        format!("SIG{up}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| Error::invalid(format!("Invalid signal: {s}")))
}

impl ContainerManager {
    /// `POST /containers/{id}/stop`: StopSignal, then SIGKILL after `timeout` seconds.
    /// `Ok(false)` when it was not running (304).
    pub async fn stop(
        self: &Arc<Self>,
        name: &str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> Result<bool> {
        let rec = self.get(name)?;
        if !rec.state.status.is_active() {
            return Ok(false);
        }
        let id = rec.id.clone();
        let _ = self.update(&id, |e| e.rec.state.has_been_manually_stopped = true);
        let sig = match signal.filter(|s| !s.is_empty()) {
            Some(s) => parse_signal(&s)?,
            None => match rec.cfg_str("StopSignal") {
                "" => libc::SIGTERM,
                s => parse_signal(s).unwrap_or(libc::SIGTERM),
            },
        };
        let timeout = timeout.unwrap_or_else(|| {
            rec.config
                .get("StopTimeout")
                .and_then(|v| v.as_i64())
                .unwrap_or(10)
        });
        if rec.state.status == Status::Paused {
            let _ = shim::call(&self.state_dir(&id), &Request::Resume).await;
        }
        let _ = self.signal(&id, sig).await;
        let waited = if timeout < 0 {
            self.wait(&id, WaitCondition::NotRunning).await.ok()
        } else {
            tokio::time::timeout(
                Duration::from_secs(timeout as u64),
                self.wait(&id, WaitCondition::NotRunning),
            )
            .await
            .ok()
            .and_then(Result::ok)
        };
        if waited.is_none() {
            let _ = self.signal(&id, libc::SIGKILL).await;
            let _ = tokio::time::timeout(
                Duration::from_secs(30),
                self.wait(&id, WaitCondition::NotRunning),
            )
            .await;
        }
        if let Ok(rec) = self.get(&id) {
            self.event(&rec, "stop", &[]);
        }
        Ok(true)
    }

    /// Sends `sig` to the container's processes and publishes `kill`.
    async fn signal(&self, id: &str, sig: i32) -> Result<()> {
        let rec = self.get(id)?;
        self.event(&rec, "kill", &[("signal", sig.to_string())]);
        shim::call(
            &self.state_dir(id),
            &Request::Kill {
                signal: sig,
                all: sig == libc::SIGKILL,
            },
        )
        .await
        .map(|_| ())
    }

    /// `POST /containers/{id}/kill`.
    pub async fn kill(&self, name: &str, signal: &str) -> Result<()> {
        let rec = self.get(name)?;
        let sig = if signal.is_empty() {
            libc::SIGKILL
        } else {
            parse_signal(signal)?
        };
        if !rec.state.status.is_active() {
            return Err(Error::conflict(format!(
                "Cannot kill container: {name}: Container {} is not running",
                rec.id
            )));
        }
        let _ = self.update(&rec.id, |e| e.rec.state.has_been_manually_stopped = true);
        self.signal(&rec.id, sig)
            .await
            .map_err(|e| Error::internal(format!("Cannot kill container: {name}: {}", e.message)))
    }

    /// `POST /containers/{id}/restart`.
    pub async fn restart(
        self: &Arc<Self>,
        name: &str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> Result<()> {
        let rec = self.get(name)?;
        self.stop(&rec.id, timeout, signal).await?;
        self.start(&rec.id).await?;
        let rec = self.get(&rec.id)?;
        self.event(&rec, "restart", &[]);
        Ok(())
    }

    /// `DELETE /containers/{id}`.
    pub async fn remove(self: &Arc<Self>, name: &str, force: bool) -> Result<()> {
        let rec = self.get(name)?;
        let id = rec.id.clone();
        if rec.state.status.is_active() {
            if !force {
                // Docker's wording names the container as the caller gave it.
                let why = if rec.state.status == Status::Paused {
                    "container is paused and must be unpaused first"
                } else {
                    "container is running: stop the container before removing or force remove"
                };
                return Err(Error::conflict(format!(
                    "cannot remove container {name:?}: {why}"
                )));
            }
            let _ = self.update(&id, |e| e.rec.state.has_been_manually_stopped = true);
            if rec.state.status == Status::Paused {
                let _ = shim::call(&self.state_dir(&id), &Request::Resume).await;
            }
            let _ = self.signal(&id, libc::SIGKILL).await;
            let waited = tokio::time::timeout(
                Duration::from_secs(30),
                self.wait(&id, WaitCondition::NotRunning),
            )
            .await;
            if waited.is_err() {
                return Err(Error::internal(format!(
                    "Could not kill running container {id}, cannot remove"
                )));
            }
        }
        {
            let mut idx = self.lock();
            match idx.by_id.get_mut(&id) {
                Some(e) if e.rec.state.status == Status::Removing => {
                    return Err(Error::conflict(format!(
                        "removal of container {id} is already in progress"
                    )));
                }
                Some(e) => e.rec.state.status = Status::Removing,
                None => return Err(Error::not_found(format!("No such container: {name}"))),
            }
        }
        self.cleanup_after_exit(&id);
        self.net_forget(&id);
        let dir = self.dir(&id);
        // The last processes of a killed container may still be leaving the overlay
        // for a moment: retry as moby does rather than fail the removal.
        let removed =
            tokio::task::spawn_blocking(move || berth_stdx::ensure_remove_all(&dir)).await;
        if let Ok(Err(e)) = removed
            && e.kind() != std::io::ErrorKind::NotFound
        {
            let _ = self.update(&id, |e| e.rec.state.status = Status::Dead);
            return Err(Error::internal(format!(
                "unable to remove filesystem for {id}: {e}"
            )));
        }
        let execs_gone: Vec<String>;
        {
            let mut idx = self.lock();
            idx.by_id.remove(&id);
            idx.names.retain(|_, v| *v != id);
            execs_gone = idx
                .execs
                .iter()
                .filter(|(_, x)| x.container_id == id)
                .map(|(k, _)| k.clone())
                .collect();
            for x in &execs_gone {
                idx.execs.remove(x);
            }
        }
        // `--rm` takes its anonymous volumes along (docker does); `rm -v` in the route.
        self.release_mounts(&rec, rec.hc_bool("AutoRemove"));
        self.event(&rec, "destroy", &[]);
        self.bump();
        Ok(())
    }

    /// `POST /containers/{id}/rename?name=`.
    pub fn rename(&self, name: &str, new: &str) -> Result<()> {
        if new.is_empty() {
            return Err(Error::invalid("Neither old nor new names may be empty"));
        }
        if !record::valid_name(new) {
            return Err(Error::invalid(format!(
                "Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
        let new_slashed = format!("/{}", new.trim_start_matches('/'));
        let (id, old) = {
            let mut idx = self.lock();
            let id = self.resolve(&idx, name)?;
            let old = idx.by_id[&id].rec.name.clone();
            if old == new_slashed {
                return Err(Error::invalid(
                    "Renaming a container with the same name as its current name",
                ));
            }
            if let Some(other) = idx.names.get(&new_slashed) {
                return Err(Error::conflict(format!(
                    "Error when allocating new name: Conflict. The container name \"{new_slashed}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                )));
            }
            idx.names.remove(&old);
            idx.names.insert(new_slashed.clone(), id.clone());
            (id, old)
        };
        let rec = self.update(&id, |e| e.rec.name = new_slashed.clone())?;
        self.net_rename(&rec.id, &rec.name);
        self.event(&rec, "rename", &[("oldName", old)]);
        Ok(())
    }

    /// `POST /containers/{id}/pause` and `/unpause`.
    pub async fn pause(&self, name: &str, pause: bool) -> Result<()> {
        let rec = self.get(name)?;
        let id = rec.id.clone();
        match (rec.state.status, pause) {
            (Status::Running, true) | (Status::Paused, false) => {}
            (Status::Paused, true) => {
                return Err(Error::conflict(format!("Container {id} is already paused")));
            }
            (Status::Running, false) => {
                return Err(Error::conflict(format!("Container {id} is not paused")));
            }
            _ => return Err(Error::conflict(format!("Container {id} is not running"))),
        }
        let req = if pause {
            Request::Pause
        } else {
            Request::Resume
        };
        shim::call(&self.state_dir(&id), &req).await?;
        let rec = self.update(&id, |e| {
            e.rec.state.status = if pause {
                Status::Paused
            } else {
                Status::Running
            }
        })?;
        self.event(&rec, if pause { "pause" } else { "unpause" }, &[]);
        Ok(())
    }

    /// After a restart: shims the last daemon left without a container to serve. A
    /// daemon killed between the shim's launch and `start` leaves a created container
    /// (record: `created`) whose shim waits forever; it is killed and its rootfs
    /// unmounted. Exec shims outlive their daemon's records: finished ones have their
    /// state dir removed, running ones are left to finish and cleaned up after.
    pub(crate) async fn reap_orphan_shims(self: &Arc<Self>) {
        let stale: Vec<String> = {
            let idx = self.lock();
            idx.by_id
                .values()
                .filter(|e| !e.rec.state.status.is_active())
                .map(|e| e.rec.id.clone())
                .filter(|id| self.state_dir(id).exists())
                .collect()
        };
        for id in stale {
            let sd = self.state_dir(&id);
            let kill = Request::Kill {
                signal: libc::SIGKILL,
                all: true,
            };
            if shim::call(&sd, &kill).await.is_ok() {
                tracing::info!(container = %id, "killing the shim of an interrupted start");
                // The shim ends once its process is reaped; bounded wait.
                let _ = tokio::time::timeout(
                    Duration::from_secs(10),
                    shim::call_conn(&sd, &Request::Wait),
                )
                .await;
                for _ in 0..50 {
                    if !shim::socket(&sd).exists() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            self.cleanup_after_exit(&id);
        }
        let Ok(rd) = std::fs::read_dir(self.opts.exec_root.join("x")) else {
            return;
        };
        for dir in rd.flatten().map(|e| e.path()) {
            tokio::spawn(async move {
                // Answers when the exec ends (at once if it already has); then the
                // dir only holds the exit file.
                let _ = shim::call_conn(&dir, &Request::Wait).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
                let _ = std::fs::remove_dir_all(&dir);
            });
        }
    }

    /// `POST /containers/{id}/resize`.
    pub async fn resize(&self, name: &str, height: u16, width: u16) -> Result<()> {
        let rec = self.get(name)?;
        if !rec.state.status.is_active() {
            return Err(Error::conflict(format!(
                "Container {} is not running",
                rec.id
            )));
        }
        shim::call(&self.state_dir(&rec.id), &Request::Resize { height, width }).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), 9);
        assert_eq!(parse_signal("sigterm").unwrap(), 15);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), libc::SIGUSR1);
        assert_eq!(
            parse_signal("nope").unwrap_err().message,
            "Invalid signal: nope"
        );
        assert!(parse_signal("0").is_err());
    }
}

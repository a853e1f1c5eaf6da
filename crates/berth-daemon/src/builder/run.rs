//! A RUN step: a real container from the current image, created, attached, started,
//! waited for, its upper dir committed as the new layer, then removed — also when
//! the command fails or the build is cancelled, so no container or mount is left.

use std::sync::Arc;
use std::time::Duration;

use berth_build::{BuildError, Cancel, CommitRequest, Progress, RunRequest};
use berth_stdx::Digest;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use super::backend::DaemonBackend;
use crate::containers::{AttachTarget, ContainerManager, WaitCondition};

fn internal(what: &str, e: impl std::fmt::Display) -> BuildError {
    BuildError::Internal(format!("{what}: {e}"))
}

pub(crate) fn run_step(
    be: &DaemonBackend<'_>,
    req: &RunRequest,
    commit: &CommitRequest,
    out: &mut dyn Progress,
    cancel: &Cancel,
) -> berth_build::Result<Digest> {
    let mgr = be.b.containers.clone();
    let mut body = serde_json::Map::new();
    body.insert("Image".into(), json!(req.parent.to_string()));
    body.insert("Cmd".into(), json!(req.cmd));
    // The image's ENTRYPOINT never wraps a RUN.
    body.insert("Entrypoint".into(), json!([]));
    body.insert("Env".into(), json!(req.env));
    body.insert("WorkingDir".into(), json!(req.workdir));
    body.insert("User".into(), json!(req.user));
    body.insert("AttachStdout".into(), json!(true));
    body.insert("AttachStderr".into(), json!(true));
    let mut hc = serde_json::Map::new();
    if !req.network.is_empty() {
        hc.insert("NetworkMode".into(), json!(req.network));
    }
    if !req.extra_hosts.is_empty() {
        hc.insert("ExtraHosts".into(), json!(req.extra_hosts));
    }
    body.insert("HostConfig".into(), Value::Object(hc));
    let (id, _warnings) = be
        .rt
        .block_on(mgr.create("", body))
        .map_err(|e| internal("create container", e))?;
    berth_build::running_in(out, &id);
    // The container is driven on the runtime; its output comes back over a channel
    // and is forwarded from this (blocking) thread, where sending to the client may
    // block.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let task = be.rt.spawn(attach_start_wait(
        mgr.clone(),
        id.clone(),
        tx,
        cancel.clone(),
    ));
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(text) => {
                if !out.stream(&text) {
                    cancel.cancel();
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if !out.alive() {
                    cancel.cancel();
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let result = be
        .rt
        .block_on(task)
        .unwrap_or_else(|e| Err(internal("run step", e)));
    let result = match result {
        Ok(0) => commit_upper(be, &id, commit),
        Ok(code) => Err(BuildError::RunFailed {
            cmd: req.cmd.join(" "),
            code,
        }),
        Err(e) => Err(e),
    };
    // Removed whatever happened (force: a cancelled step may still be running), with
    // the anonymous volumes an image's VOLUME gave it (docker's RemoveVolume: true).
    let rec = mgr.get(&id).ok();
    match be.rt.block_on(mgr.remove(&id, true)) {
        Ok(()) => {
            if let Some(rec) = &rec {
                mgr.release_mounts(rec, true);
            }
            berth_build::removed_container(out, &id)
        }
        Err(e) => {
            out.stream(&format!(
                "Removing intermediate container {}: {}\n",
                berth_build::short(&id),
                e.message
            ));
        }
    }
    result
}

/// Attaches before starting (so no output is lost), starts, streams the output
/// until the container's streams close, then waits for the exit code. A cancel
/// kills the container.
async fn attach_start_wait(
    mgr: Arc<ContainerManager>,
    id: String,
    out: std::sync::mpsc::Sender<String>,
    cancel: Cancel,
) -> berth_build::Result<i32> {
    let id = id.as_str();
    let (_rec, target) = mgr.attach_target(id).map_err(|e| internal("attach", e))?;
    let starter = {
        let mgr = mgr.clone();
        let id = id.to_string();
        tokio::spawn(async move { mgr.start(&id).await })
    };
    let conn = match target {
        AttachTarget::Now(sd) => crate::containers::shim_attach(&sd, false, true, true, false)
            .await
            .ok(),
        AttachTarget::OnStart(rx) => match rx.await {
            Ok((sd, ack)) => {
                let c = crate::containers::shim_attach(&sd, false, true, true, false).await;
                let _ = ack.send(());
                c.ok()
            }
            Err(_) => None,
        },
    };
    match starter.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(internal("start container", e)),
        Err(e) => return Err(internal("start container", e)),
    }
    if let Some(mut conn) = conn {
        // The multiplexed stream: 8-byte headers (stream, 0, 0, 0, big-endian size).
        let mut pending: Vec<u8> = Vec::new();
        let mut buf = vec![0u8; 32 * 1024];
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                n = conn.read(&mut buf) => {
                    let n = n.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    pending.extend_from_slice(&buf[..n]);
                    while pending.len() >= 8 {
                        let size = u32::from_be_bytes([pending[4], pending[5], pending[6], pending[7]]) as usize;
                        if pending.len() < 8 + size {
                            break;
                        }
                        let text = String::from_utf8_lossy(&pending[8..8 + size]).to_string();
                        pending.drain(..8 + size);
                        if out.send(text).is_err() {
                            cancel.cancel();
                        }
                    }
                }
                _ = tick.tick() => {
                    if cancel.is_cancelled() {
                        let _ = mgr.kill(id, "KILL").await;
                        return Err(BuildError::Cancelled);
                    }
                }
            }
        }
    }
    let (code, _) = mgr
        .wait(id, WaitCondition::NotRunning)
        .await
        .map_err(|e| internal("wait", e))?;
    if cancel.is_cancelled() {
        return Err(BuildError::Cancelled);
    }
    Ok(code)
}

/// The container's upper dir as a layer on `commit.parent`.
fn commit_upper(
    be: &DaemonBackend<'_>,
    id: &str,
    commit: &CommitRequest,
) -> berth_build::Result<Digest> {
    let upper = be.b.containers.dir(id).join("upper");
    let tmp = be
        .scratch
        .join(format!("run-{}.tar", berth_stdx::id::random_hex(6)));
    let res = (|| {
        let f = std::fs::File::create(&tmp).map_err(|e| internal("create layer", e))?;
        crate::containers::fs_diff_tar(&upper, std::io::BufWriter::new(f))
            .map_err(|e| internal("write layer", e))?;
        let mut f = std::fs::File::open(&tmp).map_err(|e| internal("open layer", e))?;
        be.store_commit(commit, Some(&mut f))
    })();
    let _ = std::fs::remove_file(&tmp);
    res
}

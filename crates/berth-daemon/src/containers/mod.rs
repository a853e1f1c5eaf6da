//! The container manager: docker's container semantics (create, start, stop, kill,
//! remove, rename, pause, wait, attach, exec, logs, list and inspect) over the shim.
//!
//! Records live in `<data-root>/containers/<id>/config.v2.json` (atomic writes) with an
//! in-memory index rebuilt at start; names are unique. Every running container has a
//! shim (`<exec-root>/containers/<id>/shim.sock`) and a monitor task holding a `wait`
//! connection to it; a restarted daemon reconnects to live shims, and trusts
//! `exit.json` for containers that ended meanwhile (live-restore).

mod attach;
mod backend;
mod exec;
mod fs;
mod health;
mod init;
mod inspect;
mod lifecycle;
mod list;
mod logs;
mod manager;
mod mounts;
mod mounts_cp;
mod mounts_run;
mod network;
pub(crate) use network::endpoint_request;
mod prepare;
mod record;
pub(crate) mod resources;
mod runtime;
mod shim;

pub use attach::{DetachKeys, splice};
pub use backend::{BoxFuture, ContainerBackend, ContainerService};
pub use exec::{ExecEntry, ExecStart};
pub(crate) use fs::diff_tar as fs_diff_tar;
pub use fs::{CommitQuery, FsRoot};
pub(crate) use fs::{
    base_name as fs_base_name, export_tar as fs_export_tar, extract as fs_extract, stat as fs_stat,
    write_tar as fs_write_tar,
};
pub use logs::LogOptions;
pub use manager::{AttachTarget, ContainerManager, ManagerOptions, WaitCondition};
pub use record::{Record, Status};

pub(crate) use logs::{check_readable as check_log_readable, stream as stream_logs};

/// `since`/`until` query values (unix seconds with optional fraction, or empty).
pub(crate) fn parse_unix_opt(s: &str) -> crate::error::Result<Option<i64>> {
    if s.is_empty() {
        return Ok(None);
    }
    logs::parse_unix(s)
        .map(Some)
        .ok_or_else(|| crate::error::Error::invalid(format!("invalid timestamp: {s:?}")))
}

/// Opens an attach stream on a shim.
pub(crate) async fn shim_attach(
    state_dir: &std::path::Path,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    stdin_once: bool,
) -> std::io::Result<tokio::net::UnixStream> {
    let (resp, conn) = shim::call_conn(
        state_dir,
        &berth_runtime::shim::proto::Request::Attach {
            stdin,
            stdout,
            stderr,
            stdin_once,
        },
    )
    .await?;
    if !resp.ok {
        return Err(std::io::Error::other(resp.error.unwrap_or_default()));
    }
    Ok(conn)
}

impl ContainerManager {
    pub fn event_attach(&self, rec: &record::Record) {
        self.event(rec, "attach", &[]);
    }
}

impl ContainerManager {
    /// Containers created from image `id`: `(container id, running)`.
    pub fn image_users(&self, id: &berth_stdx::Digest) -> Vec<(String, bool)> {
        let want = id.to_string();
        self.lock()
            .by_id
            .values()
            .filter(|e| e.rec.image_id == want)
            .map(|e| (e.rec.id.clone(), e.rec.state.status.is_active()))
            .collect()
    }
}

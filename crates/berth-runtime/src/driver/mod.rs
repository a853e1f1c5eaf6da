//! Runtime drivers: what creates, starts, signals and deletes a container from an OCI
//! bundle. Two implementations sit behind one trait: the embedded runtime library
//! (the default) and an external OCI runtime CLI (`runc`, `crun`), chosen per
//! container like docker's `--runtime`.
//!
//! Lifecycle: `create` (the init process exists, stopped before the user's program) →
//! `start` → the caller reaps the init pid (it is the caller's child) → `delete`.
//! `kill` and `exec` are valid between `start` and `delete`. The caller owns cleanup:
//! a failed `create` leaves nothing behind, anything later is undone by `delete(force)`.
//!
//! Architecture Invariant: drivers are only ever called from the single-threaded shim.
//! The embedded library forks with a raw `clone3`, which skips glibc's atfork handlers;
//! in a multi-threaded process the child can inherit a lock held by another thread and
//! deadlock (reproduced with libcontainer and `std::env` in CRATES.md).

mod embedded;
mod ocicli;

pub use embedded::Embedded;
pub use ocicli::OciCli;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0}")]
    Runtime(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl DriverError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> DriverError {
        DriverError::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, DriverError>;

/// The container's standard streams as the driver hands them to the init process.
pub enum Stdio {
    /// Pipes or files; `None` means /dev/null.
    Fds {
        stdin: Option<OwnedFd>,
        stdout: Option<OwnedFd>,
        stderr: Option<OwnedFd>,
    },
    /// A terminal: the runtime creates the pty and sends its master over this unix
    /// socket (the runc console-socket protocol); the caller must be listening on it.
    Console(PathBuf),
}

/// A process to run in an existing container (`docker exec`).
pub struct ExecProcess<'a> {
    /// The OCI `process` object, as JSON (written to a file for the CLI runtimes).
    pub process_json: &'a [u8],
    pub stdio: Stdio,
}

pub trait RuntimeDriver {
    /// Creates the container from `bundle/config.json`; returns the init pid, which is
    /// a child of the calling process.
    fn create(&self, id: &str, bundle: &Path, stdio: Stdio) -> Result<i32>;
    /// Lets the init process exec the user's program.
    fn start(&self, id: &str) -> Result<()>;
    /// Sends `signal` to init, or to every process of the container when `all`.
    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()>;
    /// Starts an extra process in the container; returns its pid (a child of the caller).
    fn exec(&self, id: &str, process: ExecProcess<'_>) -> Result<i32>;
    fn pause(&self, id: &str) -> Result<()>;
    fn resume(&self, id: &str) -> Result<()>;
    /// Removes the runtime's state and cgroup; with `force`, kills what still runs.
    fn delete(&self, id: &str, force: bool) -> Result<()>;
}

/// Which driver a container uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverKind {
    Embedded,
    /// An OCI runtime binary (`runc`, `crun`, or a path), with its state root.
    Cli {
        path: PathBuf,
    },
}

/// Builds the driver for `kind`, keeping runtime state under `state_root`.
pub fn driver_for(kind: &DriverKind, state_root: &Path) -> Box<dyn RuntimeDriver> {
    match kind {
        DriverKind::Embedded => Box::new(Embedded::new(state_root.join("embedded"))),
        DriverKind::Cli { path } => Box::new(OciCli::new(path.clone(), state_root.join("cli"))),
    }
}

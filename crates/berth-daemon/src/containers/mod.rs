//! The container manager: docker's container semantics (create, start, stop, kill,
//! remove, rename, pause, wait, attach, exec, logs, list and inspect) over the shim.
//!
//! Records live in `<data-root>/containers/<id>/config.v2.json` (atomic writes) with an
//! in-memory index rebuilt at start; names are unique. Every running container has a
//! shim (`<exec-root>/containers/<id>/shim.sock`) and a monitor task holding a `wait`
//! connection to it; a restarted daemon reconnects to live shims, and trusts
//! `exit.json` for containers that ended meanwhile (live-restore).

mod attach;
mod exec;
mod inspect;
mod lifecycle;
mod list;
mod logs;
mod manager;
mod prepare;
mod record;
mod shim;

pub use attach::{DetachKeys, splice};
pub use exec::ExecStart;
pub use logs::LogOptions;
pub use manager::{AttachTarget, ContainerManager, ManagerOptions, WaitCondition};
pub use record::Status;

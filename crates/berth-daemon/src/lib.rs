//! berth-daemon: the composition root. Wires the stores, the event bus and the
//! Engine API server together (`Daemon::new` builds everything explicitly; there are
//! no globals), and owns the daemon's lifecycle (lock, pidfile, sockets, signals).
//!
//! Key decision: routes are thin — one module per resource over a backend trait
//! ([`images::ImageBackend`]); all docker semantics (delete conflicts, filters, events)
//! live in the managers, all wire shapes in `berth-api`, and version differences in
//! `server::compat`.

pub mod builder;
pub mod containers;
mod daemon;
mod error;
mod events;
mod host;
pub mod images;
mod listen;
pub mod networks;
mod options;
mod routes;
mod server;
mod volumes;

pub use daemon::{Daemon, cancel_on_signals, run};
pub use error::Error;
pub use events::EventBus;
pub use options::{
    DEFAULT_CONFIG_FILE, DEFAULT_DATA_ROOT, DEFAULT_EXEC_ROOT, DEFAULT_PIDFILE, DEFAULT_SOCKET,
    DaemonOptions, Flags, Host, resolve,
};
pub use tokio_util::sync::CancellationToken;

//! Plumbing shared by every berth crate: error kinds, atomic writes, lock files,
//! digests, ids and path resolution inside a root.
//!
//! Key decision: nothing here knows about containers or Docker's wire format; each
//! helper is small enough to be audited on its own, because every store in berth
//! relies on these few functions for crash safety and confinement.

pub mod digest;
pub mod error;
pub mod fs;
pub mod id;
pub mod lock;
pub mod rootpath;

pub use digest::{Digest, DigestReader, DigestWriter};
pub use error::ErrorKind;
pub use fs::{atomic_write, atomic_write_json, ensure_remove_all, fsync_dir};
pub use id::random_id;
pub use lock::LockFile;

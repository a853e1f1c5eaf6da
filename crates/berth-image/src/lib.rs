//! berth-image: the local image store.
//!
//! Owns docker references, the content-addressed blob store, layer application
//! (tar -> directory, safe against `..`/symlink/hardlink escapes, whiteouts converted
//! to overlayfs form), snapshots usable directly as overlay lower dirs, image
//! metadata, import/load/save archive formats and garbage collection.
//!
//! Key decision: everything is a stream. Layers are decompressed, hashed and
//! unpacked in one pass; nothing becomes visible (record, tag) until every byte it
//! points to is verified and durable. Write order is blobs -> snapshots (ready marker
//! last) -> image record -> tag map, so `ImageStore::open` can always repair a store
//! left behind by a kill -9 by dropping whatever is incomplete.
//!
//! This crate never mounts anything: `ImageStore::layer_dirs` describes a rootfs.

mod archive;
mod change;
mod compress;
mod config;
mod content;
mod error;
mod layer;
mod reference;
mod snapshot;
mod store;

pub use archive::SaveItem;
pub use change::parse_changes;
pub use config::{
    ContainerConfig, Descriptor, DockerManifestEntry, HealthConfig, History, ImageConfig,
    Index, Manifest, RootFs, media_types,
};
pub use error::{Error, Result};
pub use reference::{ParseReferenceError, Reference};
pub use store::{
    DeleteOutcome, GcReport, HistoryEntry, Image, ImageStore, ImageUsage, ImportOptions,
    LoadProgress, LoadedImage, UsageReport,
};

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
//!
//! Code map: `reference` (docker's name grammar), `content_store` (the public
//! [`ContentStore`] trait and an in-memory fake), `content` (the on-disk store: blobs
//! via verified ingest), `compress` (magic-byte detection), `layer` (confined tar application,
//! the security-critical part), `snapshot` (one dir per chain id, ready marker),
//! `config`/`change` (image JSON and `--change` lines), `store` (records, tags,
//! lookup, delete), `maintenance` (GC, usage, history), `import`, `load`, `save`.

mod archive;
mod build_commit;
mod change;
mod commit;
mod compress;
mod config;
mod content;
mod content_store;
mod dist;
mod error;
mod import;
mod layer;
mod load;
mod maintenance;
mod reference;
mod save;
mod snapshot;
mod store;

pub use archive::SaveItem;
pub use build_commit::BuildCommit;
pub use change::parse_changes;
pub use commit::CommitOptions;
pub use compress::decompress;
pub use config::{
    ContainerConfig, Descriptor, DockerManifestEntry, HealthConfig, History, ImageConfig, Index,
    Manifest, Platform, RootFs, media_types,
};
pub use content::LocalContentStore;
pub use content_store::{ContentStore, ContentWriter, MemoryContentStore};
pub use dist::{BlobSource, PullLease, PulledImage, PushLayer};
pub use error::{Error, Result};
pub use reference::{ParseReferenceError, Reference};
pub use store::{
    DeleteOutcome, GcReport, HistoryEntry, Image, ImageStore, ImageUsage, ImportOptions,
    LoadProgress, LoadedImage, UsageReport,
};

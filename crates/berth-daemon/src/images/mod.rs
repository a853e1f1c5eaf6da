//! The image manager: docker's image semantics (lookup, list filters, tag, delete
//! conflicts, prune, import/load/save bookkeeping and events) over `berth-image`.
//!
//! Routes talk to it through [`ImageBackend`]; every method is blocking and is
//! called from `spawn_blocking`.

mod auth;
mod delete;
mod glob;
mod list;
mod pull;
mod push;
mod service;

use std::io::{Read, Write};
use std::path::PathBuf;

use berth_api::Filters;
use berth_image::{HistoryEntry, Image, UsageReport};
use berth_stdx::Digest;

use crate::error::Result;

pub use auth::{Progress, Registries, decode_auth, normalize_server};
pub use pull::{PullRequest, Sink};
pub use push::PushTarget;
pub use service::ImageService;

/// One image of a listing, with the names that passed the `reference` filter.
#[derive(Debug, Clone)]
pub struct ListedImage {
    pub image: Image,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub shared_size: Option<u64>,
}

/// One line of a delete/prune answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteRecord {
    Untagged(String),
    Deleted(String),
}

#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub records: Vec<DeleteRecord>,
    pub space_reclaimed: u64,
}

/// What `POST /images/create?fromSrc=` asks for.
#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    pub repo: String,
    pub tag: String,
    pub message: String,
    pub changes: Vec<String>,
    /// `-` or the URL the body came from.
    pub source: String,
    pub platform: Option<String>,
}

/// The operations the image routes need. Blocking.
pub trait ImageBackend: Send + Sync + 'static {
    fn count(&self) -> usize;
    fn list(&self, all: bool, filters: &Filters, shared_size: bool) -> Result<Vec<ListedImage>>;
    fn usage(&self) -> Result<UsageReport>;
    fn get(&self, name: &str) -> Result<Image>;
    fn history(&self, name: &str) -> Result<Vec<HistoryEntry>>;
    fn layer_dirs(&self, id: &Digest) -> Result<Vec<PathBuf>>;
    fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<()>;
    fn delete(&self, name: &str, force: bool, prune: bool) -> Result<Vec<DeleteRecord>>;
    fn prune(&self, filters: &Filters) -> Result<PruneReport>;
    /// Validates the request before any byte of the tarball is read.
    fn check_import(&self, req: &ImportRequest) -> Result<()>;
    fn import(&self, src: &mut dyn Read, req: &ImportRequest) -> Result<Digest>;
    /// Loads an archive; `out` receives the progress lines docker prints.
    fn load(&self, src: &mut dyn Read, quiet: bool, out: &mut dyn FnMut(LoadMessage))
    -> Result<()>;
    /// Resolves the names first (so a missing one fails before any byte is sent).
    fn resolve_save(&self, names: &[String]) -> Result<Vec<berth_image::SaveItem>>;
    fn save(&self, items: &[berth_image::SaveItem], out: &mut dyn Write) -> Result<()>;
    /// Pull, push, login and search (absent in fakes).
    fn registries(&self) -> Option<Registries> {
        None
    }
    /// `docker commit`: `layer` (an uncompressed tar) on top of `opts.parent`, tagged
    /// `repo:tag` when `repo` is set.
    fn commit(
        &self,
        _layer: &mut dyn Read,
        _opts: berth_image::CommitOptions,
        _repo: &str,
        _tag: &str,
    ) -> Result<Digest> {
        Err(crate::error::Error::not_implemented(
            "commit is not supported",
        ))
    }
}

/// What `load` reports to the client.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadMessage {
    /// `Loaded image: busybox:latest` / `Loaded image ID: sha256:...`.
    Loaded(String),
    Layer {
        id: String,
        current: u64,
        total: u64,
    },
}

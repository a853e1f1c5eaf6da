//! The image store: image records, the tag map, and the operations the daemon calls.

use crate::archive::SaveItem;
use crate::config::ImageConfig;
use crate::error::{Error, Result};
use crate::reference::Reference;
use berth_stdx::Digest;
use chrono::{DateTime, Utc};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An image as the daemon sees it: a summary, cheap to clone.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// The config digest.
    pub id: Digest,
    /// Tags pointing at this image, sorted.
    pub repo_tags: Vec<Reference>,
    /// `busybox@sha256:...` (familiar form); may be empty.
    pub repo_digests: Vec<String>,
    pub manifest_digest: Option<Digest>,
    /// Local parent image id (commit/build).
    pub parent: Option<Digest>,
    /// From `config.created` (the epoch if absent or unparsable).
    pub created: DateTime<Utc>,
    /// Sum of the unpacked layer sizes (docker's Size).
    pub size: u64,
    pub config: ImageConfig,
    pub last_tag_time: Option<DateTime<Utc>>,
    /// When the image entered this store.
    pub loaded_at: DateTime<Utc>,
}

/// One line of `docker history`, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// `sha256:...` for a local image, `<missing>` otherwise (docker's wording).
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
    pub tags: Vec<Reference>,
    pub empty_layer: bool,
}

/// Options of `import`.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Dockerfile lines: CMD/ENTRYPOINT/ENV/EXPOSE/WORKDIR/USER/LABEL/VOLUME/STOPSIGNAL/ONBUILD/HEALTHCHECK/SHELL.
    pub changes: Vec<String>,
    /// The commit message (`-m`); when empty docker writes "Imported from <source>".
    pub message: String,
    /// Where the tarball came from: `-` for stdin, or the URL (empty means `-`).
    pub source: String,
    pub tag: Option<Reference>,
    /// `os[/arch[/variant]]`; the host's platform when absent.
    pub platform: Option<String>,
}

/// What `load` reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadProgress {
    /// A layer is being unpacked (`current` of `total` bytes of its tar).
    Layer {
        diff_id: Digest,
        current: u64,
        total: u64,
    },
    /// An image is loaded and its tags applied.
    Image(LoadedImage),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoadedImage {
    pub id: Digest,
    /// Tags applied by the load (empty: docker prints "Loaded image ID: sha256:...").
    pub tags: Vec<Reference>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeleteOutcome {
    pub untagged: Vec<Reference>,
    pub deleted: Vec<Digest>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct GcReport {
    pub blobs_removed: Vec<Digest>,
    /// Chain ids of the removed snapshots.
    pub snapshots_removed: Vec<Digest>,
    pub bytes_freed: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageReport {
    pub images: Vec<ImageUsage>,
    /// Total size of all distinct layers (docker's LayersSize).
    pub layers_size: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageUsage {
    pub id: Digest,
    pub size: u64,
    /// Size of the layers this image shares with at least one other image.
    pub shared_size: u64,
    pub unique_size: u64,
}

/// The image store. Cheap to clone; all methods are blocking and take `&self`.
#[derive(Clone)]
pub struct ImageStore {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
}

fn todo_err() -> Error {
    Error::Internal("image store: not implemented yet".into())
}

impl ImageStore {
    pub fn open(data_root: &Path) -> Result<ImageStore> {
        Ok(ImageStore {
            inner: Arc::new(Inner {
                root: data_root.to_path_buf(),
            }),
        })
    }
    pub fn root(&self) -> &Path {
        &self.inner.root
    }
    pub fn list(&self) -> Vec<Image> {
        Vec::new()
    }
    pub fn get(&self, id: &Digest) -> Result<Image> {
        Err(Error::NoSuchImage(id.to_string()))
    }
    pub fn resolve(&self, name_or_id: &str) -> Result<Image> {
        Err(Error::NoSuchImage(name_or_id.to_string()))
    }
    pub fn config_bytes(&self, _id: &Digest) -> Result<Vec<u8>> {
        Err(todo_err())
    }
    pub fn history(&self, _id: &Digest) -> Result<Vec<HistoryEntry>> {
        Err(todo_err())
    }
    pub fn tag(&self, _id: &Digest, _r: &Reference) -> Result<Option<Digest>> {
        Err(todo_err())
    }
    pub fn untag(&self, _r: &Reference) -> Result<Digest> {
        Err(todo_err())
    }
    pub fn delete(&self, _id: &Digest) -> Result<DeleteOutcome> {
        Err(todo_err())
    }
    pub fn import(&self, _src: &mut dyn Read, _opts: &ImportOptions) -> Result<Image> {
        Err(todo_err())
    }
    pub fn load(
        &self,
        _src: &mut dyn Read,
        _progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<Vec<LoadedImage>> {
        Err(todo_err())
    }
    pub fn save(&self, _items: &[SaveItem], _out: &mut dyn Write) -> Result<()> {
        Err(todo_err())
    }
    pub fn gc(&self) -> Result<GcReport> {
        Err(todo_err())
    }
    pub fn usage(&self) -> Result<UsageReport> {
        Err(todo_err())
    }
    pub fn layer_dirs(&self, _id: &Digest) -> Result<Vec<PathBuf>> {
        Err(todo_err())
    }
}

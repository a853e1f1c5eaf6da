//! The daemon's side of `docker build`: the real [`berth_build::BuildBackend`] (images
//! from the store, RUN steps as real containers of the container manager, commits
//! into the image store), the build cache under `<data-root>/builder/`, and the
//! scratch directories of running builds.
//!
//! Every build gets `<data-root>/builder/tmp/<random>/` (the extracted context and
//! layer tars), removed when the build ends however it ends; a daemon start removes
//! whatever a crash left there.

mod backend;
pub(crate) mod remote;
mod run;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_build::{Cache, CacheEntry};
use berth_image::ImageStore;
use berth_stdx::Digest;

use crate::containers::ContainerManager;
use crate::images::ImageBackend;

pub(crate) use backend::DaemonBackend;

/// Build state shared by all builds of a daemon.
pub struct Builder {
    pub(crate) store: ImageStore,
    pub(crate) containers: Arc<ContainerManager>,
    pub(crate) images: Arc<dyn ImageBackend>,
    root: PathBuf,
    cache: Cache,
}

/// A build's scratch directory, removed on drop.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = berth_stdx::ensure_remove_all(&self.0) {
            tracing::warn!(dir = %self.0.display(), error = %e, "remove build scratch dir");
        }
    }
}

/// One entry of the build cache as `system df` and `builder prune` report it.
#[derive(Debug, Clone)]
pub struct CacheRecord {
    pub entry: CacheEntry,
    /// Size of the layer the step added (0 for a metadata step).
    pub size: u64,
    pub description: String,
}

impl Builder {
    pub fn new(
        store: ImageStore,
        containers: Arc<ContainerManager>,
        images: Arc<dyn ImageBackend>,
        data_root: &Path,
    ) -> std::io::Result<Builder> {
        let root = data_root.join("builder");
        let tmp = root.join("tmp");
        let _ = berth_stdx::ensure_remove_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        let cache = Cache::open(&root.join("cache"))?;
        Ok(Builder {
            store,
            containers,
            images,
            root,
            cache,
        })
    }

    pub(crate) fn cache(&self) -> &Cache {
        &self.cache
    }

    /// A fresh scratch directory for one build.
    pub(crate) fn scratch(&self) -> std::io::Result<Scratch> {
        let dir = self.root.join("tmp").join(berth_stdx::id::random_hex(8));
        std::fs::create_dir_all(dir.join("context"))?;
        Ok(Scratch(dir))
    }

    /// The cache entries, with the size each step's layer adds.
    pub fn records(&self) -> Vec<CacheRecord> {
        self.cache
            .entries()
            .into_iter()
            .filter_map(|entry| {
                let img = self.store.get(&entry.image).ok()?;
                let hist = img.config.history.last();
                let empty = hist.map(|h| h.empty_layer).unwrap_or(true);
                let size = if empty {
                    0
                } else {
                    let parent_size = img
                        .parent
                        .as_ref()
                        .and_then(|p| self.store.get(p).ok())
                        .map(|p| p.size)
                        .unwrap_or(0);
                    img.size.saturating_sub(parent_size)
                };
                let description = hist.and_then(|h| h.created_by.clone()).unwrap_or_default();
                Some(CacheRecord {
                    entry,
                    size,
                    description,
                })
            })
            .collect()
    }

    /// `builder prune`: drops cache entries (least recently used first) until at most
    /// `keep_storage` bytes remain (0: all), deleting the images only the cache
    /// kept alive. Returns the removed keys and the bytes freed.
    pub fn prune(&self, keep_storage: u64) -> (Vec<String>, u64) {
        let mut recs = self.records();
        // Stale entries (their image is gone) always go.
        for e in self.cache.entries() {
            if !recs.iter().any(|r| r.entry.key == e.key) {
                let _ = self.cache.remove(&e.key);
            }
        }
        recs.sort_by_key(|r| r.entry.last_used);
        let mut total: u64 = recs.iter().map(|r| r.size).sum();
        let mut deleted = Vec::new();
        let mut freed = 0;
        let mut dropped: Vec<Digest> = Vec::new();
        for r in recs {
            if keep_storage > 0 && total <= keep_storage {
                break;
            }
            total = total.saturating_sub(r.size);
            if self.cache.remove(&r.entry.key).is_ok() {
                deleted.push(r.entry.key.clone());
                freed += r.size;
                dropped.push(r.entry.image.clone());
            }
        }
        // Newest first, so children go before their parents; tagged images and
        // images with containers or children stay (the delete refuses them).
        dropped.sort_by_key(|d| {
            std::cmp::Reverse(self.store.get(d).map(|i| i.created).unwrap_or_default())
        });
        for id in dropped {
            let Ok(img) = self.store.get(&id) else {
                continue;
            };
            if !img.repo_tags.is_empty() {
                continue;
            }
            let _ = self.images.delete(&id.to_string(), false, false);
        }
        (deleted, freed)
    }
}

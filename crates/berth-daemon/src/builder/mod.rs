//! The daemon's side of `docker build`: the real [`berth_build::BuildBackend`] (images
//! from the store, RUN steps as real containers of the container manager, commits
//! into the image store), the build cache under `<data-root>/builder/`, and the
//! scratch directories of running builds.
//!
//! Every build gets `<data-root>/builder/tmp/<random>/` (the extracted context and
//! layer tars), removed when the build ends however it ends; a daemon start removes
//! whatever a crash left there.

mod backend;
pub(crate) mod from;
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

    /// `builder prune`: drops cache entries (least recently used first) — all of them
    /// with `all`, else only dangling ones (whose image no tagged image builds on),
    /// only those last used before `until` — until at most `keep_storage` bytes of
    /// cache remain (0: no limit), deleting the images only the cache kept alive.
    /// Returns the removed keys and the bytes freed.
    pub fn prune(&self, opts: &PruneOptions) -> (Vec<String>, u64) {
        let recs = self.records();
        // Stale entries (their image is gone) always go.
        for e in self.cache.entries() {
            if !recs.iter().any(|r| r.entry.key == e.key) {
                let _ = self.cache.remove(&e.key);
            }
        }
        let mut total: u64 = recs.iter().map(|r| r.size).sum();
        let referenced = self.referenced();
        let mut recs: Vec<CacheRecord> = recs
            .into_iter()
            .filter(|r| opts.all || !referenced.contains(&r.entry.image))
            .filter(|r| opts.until.is_none_or(|u| r.entry.last_used < u))
            .collect();
        let keep_storage = opts.keep_storage;
        recs.sort_by_key(|r| r.entry.last_used);
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

    /// Images a tagged image is built on (itself included): their cache is in use.
    fn referenced(&self) -> std::collections::HashSet<Digest> {
        let all = self.store.list();
        let mut out = std::collections::HashSet::new();
        for img in all.iter().filter(|i| !i.repo_tags.is_empty()) {
            let mut cur = Some(img.id.clone());
            while let Some(id) = cur {
                if !out.insert(id.clone()) {
                    break;
                }
                cur = all
                    .iter()
                    .find(|i| i.id == id)
                    .and_then(|i| i.parent.clone());
            }
        }
        out
    }
}

/// What `builder prune` removes.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// `-a`: every entry, not only dangling ones.
    pub all: bool,
    /// `--keep-storage`: stop once the cache is this small (0: no limit).
    pub keep_storage: u64,
    /// `--filter until=`: only entries last used before this.
    pub until: Option<std::time::SystemTime>,
}

//! [`ImageService`]: the real [`ImageBackend`] over `berth_image::ImageStore`.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use berth_api::Filters;
use berth_image::{
    ContainerConfig, HistoryEntry, Image, ImageStore, ImportOptions, LoadProgress, Reference,
    SaveItem, UsageReport,
};
use berth_stdx::Digest;

use super::list::{filter_images, labels_of};
use super::{DeleteRecord, ImageBackend, ImportRequest, ListedImage, LoadMessage, PruneReport};
use crate::error::{Error, Result};
use crate::events::EventBus;

/// Which containers use an image: `(container id, running)`.
pub type ImageUsers = Box<dyn Fn(&Digest) -> Vec<(String, bool)> + Send + Sync>;

pub struct ImageService {
    pub(super) store: ImageStore,
    /// Set once the container manager exists; delete refuses images in use.
    pub(super) users: std::sync::OnceLock<ImageUsers>,
    pub(super) events: EventBus,
    /// Serialises delete/prune so their conflict checks see a stable store.
    pub(super) mutate: Mutex<()>,
    /// Registry settings, installed at wiring (see `auth.rs`).
    pub(super) registries: std::sync::OnceLock<super::Registries>,
}

impl ImageService {
    pub fn new(store: ImageStore, events: EventBus) -> Self {
        ImageService {
            store,
            users: std::sync::OnceLock::new(),
            events,
            mutate: Mutex::new(()),
            registries: std::sync::OnceLock::new(),
        }
    }

    /// Installs the lookup of containers using an image (done once, at wiring).
    pub fn set_users(&self, f: ImageUsers) {
        let _ = self.users.set(f);
    }

    pub(super) fn image_users(&self, id: &Digest) -> Vec<(String, bool)> {
        self.users.get().map(|f| f(id)).unwrap_or_default()
    }

    /// The store's lookup with dockerd's errors: an invalid reference is a 400, and a
    /// missing name is reported with its default tag (`No such image: foo:latest`).
    pub(super) fn resolve(&self, name: &str) -> Result<Image> {
        match self.store.resolve(name) {
            Ok(i) => Ok(i),
            Err(e) if e.kind() == berth_stdx::ErrorKind::NotFound => {
                if looks_like_id(name) {
                    return Err(Error::not_found(format!("No such image: {name}")));
                }
                match Reference::parse(name) {
                    Ok(r) => Err(Error::not_found(format!("No such image: {}", r.familiar()))),
                    Err(pe) => Err(pe.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    pub(super) fn event(&self, action: &str, img: Option<&Image>, id: &Digest, name: &str) {
        self.events
            .image(action, &id.to_string(), name, img.and_then(labels_of));
    }
}

/// The reference `repo`+`tag` name for tag and import (docker's `RepoTagReference`).
pub(super) fn repo_tag_reference(repo: &str, tag: &str) -> Result<Reference> {
    let r = Reference::parse_no_default_tag(repo)?;
    if r.digest().is_some() {
        return Err(Error::invalid("cannot import digest reference"));
    }
    if r.familiar_name() == "sha256" {
        return Err(Error::invalid(
            "refusing to create an ambiguous tag using digest algorithm as name",
        ));
    }
    let t = if !tag.is_empty() {
        tag
    } else {
        r.tag().unwrap_or("latest")
    };
    Ok(r.name_only().with_tag(t)?)
}

impl ImageBackend for ImageService {
    fn registries(&self) -> Option<super::Registries> {
        self.registries.get().cloned()
    }

    fn count(&self) -> usize {
        self.store.list().len()
    }

    fn list(&self, all: bool, filters: &Filters, shared_size: bool) -> Result<Vec<ListedImage>> {
        let mut out = filter_images(self.store.list(), all, filters, |n| self.resolve(n))?;
        if shared_size {
            let usage = self.store.usage()?;
            for li in &mut out {
                li.shared_size = usage
                    .images
                    .iter()
                    .find(|u| u.id == li.image.id)
                    .map(|u| u.shared_size);
            }
        }
        Ok(out)
    }

    fn usage(&self) -> Result<UsageReport> {
        Ok(self.store.usage()?)
    }

    fn get(&self, name: &str) -> Result<Image> {
        self.resolve(name)
    }

    fn history(&self, name: &str) -> Result<Vec<HistoryEntry>> {
        let img = self.resolve(name)?;
        Ok(self.store.history(&img.id)?)
    }

    fn layer_dirs(&self, id: &Digest) -> Result<Vec<PathBuf>> {
        Ok(self.store.layer_dirs(id)?)
    }

    fn tag(&self, name: &str, repo: &str, tag: &str) -> Result<()> {
        if repo.is_empty() {
            return Err(Error::invalid(
                "repository name must have at least one component",
            ));
        }
        let r = repo_tag_reference(repo, tag)?;
        let img = self.resolve(name)?;
        self.store.tag(&img.id, &r)?;
        self.event("tag", Some(&img), &img.id, &r.familiar());
        Ok(())
    }

    fn delete(&self, name: &str, force: bool, prune: bool) -> Result<Vec<DeleteRecord>> {
        let _g = self.mutate.lock().unwrap_or_else(|e| e.into_inner());
        self.delete_locked(name, force, prune)
    }

    fn prune(&self, filters: &Filters) -> Result<PruneReport> {
        let _g = self.mutate.lock().unwrap_or_else(|e| e.into_inner());
        self.prune_locked(filters)
    }

    fn check_import(&self, req: &ImportRequest) -> Result<()> {
        if !req.repo.is_empty() {
            repo_tag_reference(&req.repo, &req.tag)?;
        }
        let mut scratch = ContainerConfig::default();
        berth_image::parse_changes(&req.changes, &mut scratch)?;
        Ok(())
    }

    fn commit(
        &self,
        layer: &mut dyn Read,
        mut opts: berth_image::CommitOptions,
        repo: &str,
        tag: &str,
    ) -> Result<Digest> {
        let tag = if repo.is_empty() {
            None
        } else {
            Some(repo_tag_reference(repo, tag)?)
        };
        opts.tag = tag.clone();
        let img = self.store.commit(layer, &opts)?;
        if let Some(t) = tag {
            self.event("tag", Some(&img), &img.id, &t.familiar());
        }
        Ok(img.id)
    }

    fn import(&self, src: &mut dyn Read, req: &ImportRequest) -> Result<Digest> {
        let tag = if req.repo.is_empty() {
            None
        } else {
            Some(repo_tag_reference(&req.repo, &req.tag)?)
        };
        let opts = ImportOptions {
            changes: req.changes.clone(),
            message: req.message.clone(),
            source: req.source.clone(),
            tag: tag.clone(),
            platform: req.platform.clone(),
        };
        let img = self.store.import(src, &opts)?;
        let id = img.id.to_string();
        self.event("import", Some(&img), &img.id, &id);
        if let Some(t) = tag {
            self.event("tag", Some(&img), &img.id, &t.familiar());
        }
        Ok(img.id)
    }

    fn load(
        &self,
        src: &mut dyn Read,
        quiet: bool,
        out: &mut dyn FnMut(LoadMessage),
    ) -> Result<()> {
        let mut announced: BTreeSet<String> = BTreeSet::new();
        let mut last_layer: Option<(Digest, u64)> = None;
        let announce = |id: &Digest,
                        tags: &[Reference],
                        out: &mut dyn FnMut(LoadMessage),
                        announced: &mut BTreeSet<String>| {
            if !announced.insert(id.to_string()) {
                return;
            }
            if tags.is_empty() {
                out(LoadMessage::Loaded(format!("Loaded image ID: {id}")));
            }
            for t in tags {
                out(LoadMessage::Loaded(format!(
                    "Loaded image: {}",
                    t.familiar()
                )));
            }
        };
        let loaded = {
            let mut progress = |p: LoadProgress| match p {
                LoadProgress::Layer {
                    diff_id,
                    current,
                    total,
                } => {
                    if quiet {
                        return;
                    }
                    // Throttle: report each 1 MiB step and the end of every layer.
                    let step = match &last_layer {
                        Some((d, c)) if *d == diff_id => {
                            current >= total || current >= c + (1 << 20)
                        }
                        _ => true,
                    };
                    if step {
                        last_layer = Some((diff_id.clone(), current));
                        out(LoadMessage::Layer {
                            id: diff_id.hex().chars().take(12).collect(),
                            current,
                            total,
                        });
                    }
                }
                LoadProgress::Image(li) => announce(&li.id, &li.tags, out, &mut announced),
            };
            self.store.load(src, &mut progress)?
        };
        for li in &loaded {
            announce(&li.id, &li.tags, out, &mut announced);
            let img = self.store.get(&li.id).ok();
            self.event("load", img.as_ref(), &li.id, &li.id.to_string());
        }
        Ok(())
    }

    fn resolve_save(&self, names: &[String]) -> Result<Vec<SaveItem>> {
        let mut items = Vec::new();
        let all = self.store.list();
        for name in names {
            // A bare repository name means every tag of it, as `docker save busybox` does.
            if let Ok(r) = Reference::parse_no_default_tag(name)
                && r.tag().is_none()
                && r.digest().is_none()
                && !looks_like_id(name)
            {
                let tags: Vec<Reference> = all
                    .iter()
                    .flat_map(|i| i.repo_tags.iter())
                    .filter(|t| t.repository() == r.repository())
                    .cloned()
                    .collect();
                if !tags.is_empty() {
                    items.extend(tags.into_iter().map(SaveItem::Tag));
                    continue;
                }
            }
            let img = self.resolve(name)?;
            match Reference::parse(name) {
                Ok(r) if !looks_like_id(name) && img.repo_tags.contains(&r) => {
                    items.push(SaveItem::Tag(r))
                }
                _ => items.push(SaveItem::Id(img.id)),
            }
        }
        Ok(items)
    }

    fn save(&self, items: &[SaveItem], out: &mut dyn Write) -> Result<()> {
        self.store.save(items, out)?;
        let mut seen = BTreeSet::new();
        for it in items {
            let id = match it {
                SaveItem::Id(d) => Some(d.clone()),
                SaveItem::Tag(r) => self.store.resolve(&r.to_string()).ok().map(|i| i.id),
            };
            if let Some(id) = id
                && seen.insert(id.to_string())
            {
                let img = self.store.get(&id).ok();
                self.event("save", img.as_ref(), &id, &id.to_string());
            }
        }
        Ok(())
    }
}

/// `sha256:<hex>` or a bare hex string: docker treats these as ids first.
pub(super) fn looks_like_id(s: &str) -> bool {
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    s.starts_with("sha256:") || (hex.len() == 64 && hex.bytes().all(|c| c.is_ascii_hexdigit()))
}

//! The image store: image records, the tag map, and the operations the daemon calls.

use crate::config::ImageConfig;
use crate::content::LocalContentStore as ContentStore;
use crate::error::{Error, IoContext, Result};
use crate::reference::{Reference, is_full_hex_id};
use crate::snapshot::Snapshots;
use berth_stdx::{Digest, atomic_write_json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

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
    /// The image id, then the chain ids of the layers removed with it (top first), as
    /// docker lists them.
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
///
/// Write order (what makes a kill -9 harmless): blobs -> snapshots (ready marker
/// last) -> image record -> tag map. `open` drops records whose config blob or
/// snapshots are missing, tags pointing at missing records, and then collects
/// unreferenced blobs and snapshots.
#[derive(Clone)]
pub struct ImageStore {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ImageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageStore")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) root: PathBuf,
    pub(crate) content: ContentStore,
    pub(crate) snaps: Snapshots,
    pub(crate) images_dir: PathBuf,
    pub(crate) state: RwLock<State>,
    /// Held shared by imports and loads for their whole run, exclusively by GC: blobs
    /// and snapshots written before their image record exists are never collected.
    pub(crate) gc_guard: RwLock<()>,
}

/// The persisted record of one image (`images/<id hex>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) id: Digest,
    pub(crate) layers: Vec<LayerRecord>,
    #[serde(default)]
    pub(crate) manifest_digest: Option<Digest>,
    #[serde(default)]
    pub(crate) repo_digests: Vec<String>,
    #[serde(default)]
    pub(crate) parent: Option<Digest>,
    pub(crate) loaded_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) last_tag_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerRecord {
    pub(crate) diff_id: Digest,
    pub(crate) chain_id: Digest,
    /// The uncompressed layer tar in the content store (its digest is the diff id).
    pub(crate) blob: Digest,
    /// Length of the tar.
    pub(crate) tar_size: u64,
    /// Unpacked size (sum of regular file sizes).
    pub(crate) size: u64,
}

pub(crate) struct Entry {
    pub(crate) record: Record,
    pub(crate) config: ImageConfig,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) images: BTreeMap<Digest, Entry>,
    pub(crate) tags: BTreeMap<Reference, Digest>,
}

const TAGS_FILE: &str = "tags.json";

fn poisoned<T>(e: std::sync::PoisonError<T>) -> T {
    e.into_inner()
}

impl ImageStore {
    /// Opens the store under `data_root` (`content/`, `snapshots/`, `images/`) and
    /// repairs what a crash may have left: ingest files, unready snapshots, records
    /// pointing at missing blobs or snapshots, tags pointing at missing records, and
    /// unreferenced blobs and snapshots.
    pub fn open(data_root: &Path) -> Result<ImageStore> {
        let content = ContentStore::open(&data_root.join("content"))?;
        let snaps = Snapshots::open(&data_root.join("snapshots"))?;
        let images_dir = data_root.join("images");
        fs::create_dir_all(&images_dir).ctx(|| format!("create {}", images_dir.display()))?;
        let mut state = State::default();
        for e in fs::read_dir(&images_dir).ctx(|| format!("read {}", images_dir.display()))? {
            let e = e.ctx(|| format!("read {}", images_dir.display()))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if name.starts_with('.') {
                // An atomic_write temp file a crash left behind.
                let _ = fs::remove_file(&path);
                continue;
            }
            if name == TAGS_FILE || !name.ends_with(".json") {
                continue;
            }
            match load_entry(&path, &content, &snaps) {
                Ok(entry) => {
                    state.images.insert(entry.record.id.clone(), entry);
                }
                Err(why) => {
                    tracing::warn!(path = %path.display(), %why, "dropping incomplete image record");
                    let _ = fs::remove_file(&path);
                }
            }
        }
        let tags_path = images_dir.join(TAGS_FILE);
        let mut dirty = false;
        if let Ok(data) = fs::read(&tags_path) {
            let raw: BTreeMap<String, Digest> = serde_json::from_slice(&data).unwrap_or_default();
            for (r, id) in raw {
                match Reference::parse_no_default_tag(&r) {
                    Ok(r) if state.images.contains_key(&id) => {
                        state.tags.insert(r, id);
                    }
                    _ => dirty = true,
                }
            }
        }
        let store = ImageStore {
            inner: Arc::new(Inner {
                root: data_root.to_path_buf(),
                content,
                snaps,
                images_dir,
                state: RwLock::new(state),
                gc_guard: RwLock::new(()),
            }),
        };
        if dirty {
            let st = store.inner.state.read().unwrap_or_else(poisoned);
            store.write_tags(&st)?;
        }
        store.gc()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    pub(crate) fn read_state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner.state.read().unwrap_or_else(poisoned)
    }

    pub(crate) fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner.state.write().unwrap_or_else(poisoned)
    }

    pub fn list(&self) -> Vec<Image> {
        let st = self.read_state();
        let tags = tags_by_id(&st);
        st.images
            .values()
            .map(|e| summary(e, tags.get(&e.record.id)))
            .collect()
    }

    pub fn get(&self, id: &Digest) -> Result<Image> {
        let st = self.read_state();
        let e = st
            .images
            .get(id)
            .ok_or_else(|| Error::NoSuchImage(id.to_string()))?;
        Ok(summary(e, tags_by_id(&st).get(id)))
    }

    /// Docker's lookup order: a reference, then a full id, then a unique id prefix.
    pub fn resolve(&self, name_or_id: &str) -> Result<Image> {
        let not_found = || Error::NoSuchImage(name_or_id.to_string());
        let id = {
            let st = self.read_state();
            resolve_id(&st, name_or_id).ok_or_else(not_found)?
        };
        self.get(&id)
    }

    pub fn config_bytes(&self, id: &Digest) -> Result<Vec<u8>> {
        if !self.read_state().images.contains_key(id) {
            return Err(Error::NoSuchImage(id.to_string()));
        }
        self.inner.content.read_blob(id)
    }

    /// Points `r` at image `id`. Returns the image the tag pointed to before, if it
    /// moved from another image.
    pub fn tag(&self, id: &Digest, r: &Reference) -> Result<Option<Digest>> {
        if r.digest().is_some() {
            return Err(Error::invalid(
                "refusing to create a tag with a digest reference",
            ));
        }
        let r = if r.tag().is_none() {
            r.with_tag("latest").map_err(Error::from)?
        } else {
            r.clone()
        };
        let mut st = self.write_state();
        if !st.images.contains_key(id) {
            return Err(Error::NoSuchImage(id.to_string()));
        }
        let old = st.tags.insert(r, id.clone());
        let now = Utc::now();
        if let Some(e) = st.images.get_mut(id) {
            e.record.last_tag_time = Some(now);
            let rec = e.record.clone();
            self.write_record(&rec)?;
        }
        self.write_tags(&st)?;
        Ok(old.filter(|o| o != id))
    }

    /// Removes the tag `r`; returns the image it pointed to.
    pub fn untag(&self, r: &Reference) -> Result<Digest> {
        if r.digest().is_some() {
            return self.remove_repo_digest(r);
        }
        let mut st = self.write_state();
        let id = st
            .tags
            .remove(r)
            .ok_or_else(|| Error::NoSuchImage(r.familiar()))?;
        self.write_tags(&st)?;
        Ok(id)
    }

    /// Removes the image record and every tag pointing at it, then collects garbage.
    /// Refused (Conflict) when another image has it as its parent.
    pub fn delete(&self, id: &Digest) -> Result<DeleteOutcome> {
        let mut out = DeleteOutcome::default();
        let chains: Vec<Digest>;
        {
            let mut st = self.write_state();
            if !st.images.contains_key(id) {
                return Err(Error::NoSuchImage(id.to_string()));
            }
            if st
                .images
                .values()
                .any(|e| e.record.parent.as_ref() == Some(id))
            {
                return Err(Error::Conflict(format!(
                    "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                    id.short()
                )));
            }
            let tags: Vec<Reference> = st
                .tags
                .iter()
                .filter(|(_, v)| *v == id)
                .map(|(k, _)| k.clone())
                .collect();
            for t in &tags {
                st.tags.remove(t);
            }
            // Tags first: a crash in between leaves an untagged image, never a tag
            // pointing at nothing.
            if !tags.is_empty() {
                self.write_tags(&st)?;
            }
            let path = self.record_path(id);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("remove {}", path.display()), e)),
            }
            let removed = st.images.remove(id);
            chains = removed
                .map(|e| {
                    e.record
                        .layers
                        .iter()
                        .rev()
                        .map(|l| l.chain_id.clone())
                        .collect()
                })
                .unwrap_or_default();
            out.untagged = tags;
            out.deleted.push(id.clone());
        }
        match self.gc() {
            // Like docker, report the layers that went away with the image, top first.
            Ok(report) => out.deleted.extend(
                chains
                    .into_iter()
                    .filter(|c| report.snapshots_removed.contains(c)),
            ),
            Err(e) => tracing::warn!(error = %e, "garbage collection after delete failed"),
        }
        Ok(out)
    }

    /// The snapshot `fs` dirs of the image's rootfs, bottom layer first.
    pub fn layer_dirs(&self, id: &Digest) -> Result<Vec<PathBuf>> {
        let st = self.read_state();
        let e = st
            .images
            .get(id)
            .ok_or_else(|| Error::NoSuchImage(id.to_string()))?;
        Ok(e.record
            .layers
            .iter()
            .map(|l| self.inner.snaps.fs_dir(&l.chain_id))
            .collect())
    }

    pub(crate) fn record_path(&self, id: &Digest) -> PathBuf {
        self.inner.images_dir.join(format!("{}.json", id.hex()))
    }

    pub(crate) fn write_record(&self, r: &Record) -> Result<()> {
        atomic_write_json(&self.record_path(&r.id), r)
            .ctx(|| format!("write image record {}", r.id))
    }

    pub(crate) fn write_tags(&self, st: &State) -> Result<()> {
        let raw: BTreeMap<String, &Digest> =
            st.tags.iter().map(|(k, v)| (k.to_string(), v)).collect();
        atomic_write_json(&self.inner.images_dir.join(TAGS_FILE), &raw)
            .ctx(|| "write tags".to_string())
    }

    /// Makes an image visible: its record first, then its tags. Blobs and snapshots it
    /// points to must already be durable. An image already present keeps its record.
    /// Returns the tags applied, each with the image it moved from (if any).
    pub(crate) fn add_image(
        &self,
        record: Record,
        config: ImageConfig,
        tags: &[Reference],
    ) -> Result<Vec<(Reference, Option<Digest>)>> {
        let mut st = self.write_state();
        let id = record.id.clone();
        if !st.images.contains_key(&id) {
            self.write_record(&record)?;
            st.images.insert(id.clone(), Entry { record, config });
        }
        let mut applied = Vec::new();
        if !tags.is_empty() {
            for t in tags {
                let old = st.tags.insert(t.clone(), id.clone());
                applied.push((t.clone(), old.filter(|o| *o != id)));
            }
            if let Some(e) = st.images.get_mut(&id) {
                e.record.last_tag_time = Some(Utc::now());
                let rec = e.record.clone();
                self.write_record(&rec)?;
            }
            self.write_tags(&st)?;
        }
        Ok(applied)
    }
}

/// Reads a record and checks that everything it points to is present.
fn load_entry(path: &Path, content: &ContentStore, snaps: &Snapshots) -> Result<Entry, String> {
    let data = fs::read(path).map_err(|e| e.to_string())?;
    let record: Record = serde_json::from_slice(&data).map_err(|e| e.to_string())?;
    let cfg = content
        .read_blob(&record.id)
        .map_err(|_| format!("config blob {} is missing", record.id))?;
    if Digest::sha256_of(&cfg) != record.id {
        return Err(format!("config blob {} is corrupt", record.id));
    }
    let config: ImageConfig = serde_json::from_slice(&cfg).map_err(|e| e.to_string())?;
    for l in &record.layers {
        if snaps.get(&l.chain_id).is_none() {
            return Err(format!("snapshot {} is missing", l.chain_id));
        }
        if !content.has(&l.blob) {
            return Err(format!("layer blob {} is missing", l.blob));
        }
    }
    Ok(Entry { record, config })
}

pub(crate) fn tags_by_id(st: &State) -> HashMap<Digest, Vec<Reference>> {
    let mut m: HashMap<Digest, Vec<Reference>> = HashMap::new();
    for (r, id) in &st.tags {
        m.entry(id.clone()).or_default().push(r.clone());
    }
    m
}

pub(crate) fn summary(e: &Entry, tags: Option<&Vec<Reference>>) -> Image {
    let created = e
        .config
        .created
        .as_deref()
        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let mut repo_tags = tags.cloned().unwrap_or_default();
    repo_tags.sort();
    Image {
        id: e.record.id.clone(),
        repo_tags,
        repo_digests: e.record.repo_digests.clone(),
        manifest_digest: e.record.manifest_digest.clone(),
        parent: e.record.parent.clone(),
        created,
        size: e.record.layers.iter().map(|l| l.size).sum(),
        config: e.config.clone(),
        last_tag_time: e.record.last_tag_time,
        loaded_at: e.record.loaded_at,
    }
}

/// docker's lookup: reference, full id, unique short id prefix.
pub(crate) fn resolve_id(st: &State, s: &str) -> Option<Digest> {
    if let Some(hex) = s.strip_prefix("sha256:") {
        if let Ok(d) = s.parse::<Digest>() {
            return st.images.contains_key(&d).then_some(d);
        }
        return prefix_match(st, hex);
    }
    if is_full_hex_id(s) {
        let d: Digest = format!("sha256:{s}").parse().ok()?;
        return st.images.contains_key(&d).then_some(d);
    }
    if let Ok(r) = Reference::parse(s) {
        if let Some(d) = r.digest() {
            // name@digest: an image whose repo digests or manifest digest match.
            let fam = r.familiar();
            let found = st.images.values().find(|e| {
                e.record.repo_digests.contains(&fam)
                    || (e.record.manifest_digest.as_ref() == Some(d)
                        && st
                            .tags
                            .iter()
                            .any(|(t, id)| *id == e.record.id && t.repository() == r.repository()))
            });
            if let Some(e) = found {
                return Some(e.record.id.clone());
            }
        } else if let Some(id) = st.tags.get(&r) {
            return Some(id.clone());
        }
    }
    prefix_match(st, s)
}

fn prefix_match(st: &State, prefix: &str) -> Option<Digest> {
    if prefix.is_empty()
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut it = st.images.keys().filter(|d| d.hex().starts_with(prefix));
    let first = it.next()?;
    // Ambiguous prefixes are "No such image", as in docker.
    if it.next().is_some() {
        return None;
    }
    Some(first.clone())
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

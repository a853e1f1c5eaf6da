//! `docker load`: Docker 1.10+ archives (`manifest.json`) and OCI image layouts
//! (`index.json` + `blobs/`), plain or compressed.
//!
//! A tar is sequential and `manifest.json` may come after the layers, so every file
//! is first spooled into the content store's `ingest/` as it streams by (hashed on
//! the way). Then everything is verified: files named by the manifests exist, blobs
//! match their digests, every layer's uncompressed digest equals the config's diff id
//! in order. Only then are blobs committed, layers unpacked (reusing existing
//! snapshots), records written and tags applied. Any error before that point leaves
//! nothing behind: spooled files are removed when dropped.

use crate::compress::{Compression, decompress, detect_bytes};
use crate::config::{DockerManifestEntry, ImageConfig, Index, Manifest, media_types};
use crate::content::{BUF_SIZE, Ingested};
use crate::error::{Error, IoContext, Result};
use crate::import::host_platform;
use crate::layer::clean_rel;
use crate::reference::Reference;
use crate::save::blob_name;
use crate::snapshot::{SnapshotInfo, chain_ids};
use crate::store::{ImageStore, LayerRecord, LoadProgress, LoadedImage, Record};
use berth_stdx::Digest;
use chrono::Utc;
use std::collections::HashMap;
use std::io::{self, BufReader, Read};

#[path = "load_legacy.rs"]
mod legacy;

/// Metadata files kept in memory rather than spooled.
const SMALL_FILES: [&str; 4] = ["manifest.json", "index.json", "repositories", "oci-layout"];
/// Largest JSON document (manifest, config, index) we read into memory.
const MAX_JSON: u64 = 64 << 20;

#[derive(Default)]
struct Spool {
    files: HashMap<String, Ingested>,
    small: HashMap<String, Vec<u8>>,
    /// Symlinks and hardlinks: name -> target name (archive-relative).
    links: HashMap<String, String>,
}

impl Spool {
    fn resolve(&self, name: &str) -> Option<String> {
        let mut cur = clean_name(name).ok()?;
        for _ in 0..16 {
            if self.files.contains_key(&cur) || self.small.contains_key(&cur) {
                return Some(cur);
            }
            cur = self.links.get(&cur)?.clone();
        }
        None
    }

    fn read(&self, key: &str) -> Result<Vec<u8>> {
        if let Some(d) = self.small.get(key) {
            return Ok(d.clone());
        }
        let ing = self.files.get(key).ok_or_else(|| missing(key))?;
        if ing.size > MAX_JSON {
            return Err(Error::invalid(format!("load: {key} is too large")));
        }
        let mut data = Vec::with_capacity(ing.size as usize);
        ing.reader()?
            .read_to_end(&mut data)
            .ctx(|| format!("load: read {key}"))?;
        Ok(data)
    }
}

fn missing(name: &str) -> Error {
    Error::invalid(format!("load: manifest names missing file {name:?}"))
}

fn corrupt(e: io::Error) -> Error {
    Error::invalid(format!("load: invalid or truncated archive: {e}"))
}

fn clean_name(name: &str) -> Result<String> {
    let parts = clean_rel(name.as_bytes())
        .map_err(|_| Error::invalid(format!("load: invalid archive path {name:?}")))?;
    Ok(parts
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/"))
}

enum LayerSource {
    Spooled(String),
    Decompressed,
}

struct PlannedImage {
    id: Digest,
    config_key: String,
    /// A config built here (legacy archives) rather than read from the archive.
    config_bytes: Option<Vec<u8>>,
    config: ImageConfig,
    layers: Vec<(Digest, LayerSource)>,
    tags: Vec<Reference>,
    manifest: Option<(Digest, String)>,
}

struct Planner<'a> {
    store: &'a ImageStore,
    spool: Spool,
    /// Uncompressed copies of compressed layers, by diff id.
    decompressed: HashMap<Digest, Ingested>,
    /// Compressed spooled file -> the diff id it was verified to decompress to.
    verified: HashMap<String, Digest>,
}

impl ImageStore {
    /// Loads a `docker save` archive or an OCI layout tar, compressed or not.
    pub fn load(
        &self,
        src: &mut dyn Read,
        progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<Vec<LoadedImage>> {
        let result = {
            let _running = self
                .inner
                .gc_guard
                .read()
                .unwrap_or_else(|e| e.into_inner());
            self.load_locked(src, progress)
        };
        if result.is_err() {
            // Blobs or snapshots committed for an image that then failed to load are
            // referenced by nothing: collect them now rather than at the next delete.
            if let Err(e) = self.gc() {
                tracing::warn!(error = %e, "garbage collection after a failed load failed");
            }
        }
        result
    }

    fn load_locked(
        &self,
        src: &mut dyn Read,
        progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<Vec<LoadedImage>> {
        let spool = self.spool(src)?;
        let mut p = Planner {
            store: self,
            spool,
            decompressed: HashMap::new(),
            verified: HashMap::new(),
        };
        let plans = if p.spool.small.contains_key("manifest.json") {
            p.plan_docker()?
        } else if p.spool.small.contains_key("index.json") {
            p.plan_oci()?
        } else if p.spool.small.contains_key("repositories") {
            p.plan_legacy()?
        } else {
            return Err(Error::invalid(
                "load: invalid archive: no manifest.json or index.json found",
            ));
        };
        let mut out = Vec::new();
        for plan in plans {
            let loaded = p.commit(plan, progress)?;
            progress(LoadProgress::Image(loaded.clone()));
            out.push(loaded);
        }
        Ok(out)
    }

    /// Streams the archive's files into `ingest/`.
    fn spool(&self, src: &mut dyn Read) -> Result<Spool> {
        let input = decompress(BufReader::with_capacity(BUF_SIZE, src)).map_err(corrupt)?;
        let mut ar = tar::Archive::new(input);
        let mut spool = Spool::default();
        for entry in ar.entries().map_err(corrupt)? {
            let mut entry = entry.map_err(corrupt)?;
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let name = clean_name(&raw)?;
            if name.is_empty() {
                continue;
            }
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let want = entry.size();
                    if SMALL_FILES.contains(&name.as_str()) {
                        if want > MAX_JSON {
                            return Err(Error::invalid(format!("load: {name} is too large")));
                        }
                        let mut data = Vec::with_capacity(want as usize);
                        entry.read_to_end(&mut data).map_err(corrupt)?;
                        if data.len() as u64 != want {
                            return Err(corrupt(io::ErrorKind::UnexpectedEof.into()));
                        }
                        spool.small.insert(name, data);
                    } else {
                        let mut w = self.inner.content.writer()?;
                        let n = io::copy(&mut entry, &mut w).map_err(corrupt)?;
                        if n != want {
                            return Err(corrupt(io::ErrorKind::UnexpectedEof.into()));
                        }
                        spool.files.insert(name, w.finish()?);
                    }
                }
                tar::EntryType::Symlink => {
                    let target = entry
                        .link_name_bytes()
                        .map(|l| String::from_utf8_lossy(&l).into_owned())
                        .unwrap_or_default();
                    // Relative to the link's directory; cleaned, so it stays a name
                    // inside the archive (it is only ever looked up in the spool map).
                    let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    let joined = if target.starts_with('/') {
                        target
                    } else {
                        format!("{dir}/{target}")
                    };
                    spool
                        .links
                        .insert(name, clean_name(&joined).unwrap_or_default());
                }
                tar::EntryType::Link => {
                    let target = entry
                        .link_name_bytes()
                        .map(|l| String::from_utf8_lossy(&l).into_owned())
                        .unwrap_or_default();
                    spool
                        .links
                        .insert(name, clean_name(&target).unwrap_or_default());
                }
                _ => {}
            }
        }
        // Read to the end so a compressed stream's trailer (CRC) is checked.
        io::copy(&mut ar.into_inner(), &mut io::sink()).map_err(corrupt)?;
        Ok(spool)
    }
}

impl Planner<'_> {
    fn plan_docker(&mut self) -> Result<Vec<PlannedImage>> {
        let raw = &self.spool.small["manifest.json"];
        let entries: Vec<DockerManifestEntry> = serde_json::from_slice(raw)
            .map_err(|e| Error::invalid(format!("load: invalid manifest.json: {e}")))?;
        let mut plans: Vec<PlannedImage> = Vec::new();
        for entry in entries {
            let config_key = self
                .spool
                .resolve(&entry.config)
                .ok_or_else(|| missing(&entry.config))?;
            let bytes = self.spool.read(&config_key)?;
            let id = Digest::sha256_of(&bytes);
            let config: ImageConfig = serde_json::from_slice(&bytes).map_err(|e| {
                Error::invalid(format!("load: invalid image config {}: {e}", entry.config))
            })?;
            let tags = parse_tags(entry.repo_tags.as_deref().unwrap_or_default())?;
            let name = entry
                .repo_tags
                .as_ref()
                .and_then(|t| t.first().cloned())
                .unwrap_or_else(|| id.to_string());
            let diff_ids = &config.rootfs.diff_ids;
            if diff_ids.len() != entry.layers.len() {
                return Err(Error::invalid(format!(
                    "load: {name}: the manifest names {} layers but the config has {} diff_ids",
                    entry.layers.len(),
                    diff_ids.len()
                )));
            }
            let mut layers = Vec::new();
            for (i, (path, diff)) in entry.layers.iter().zip(diff_ids).enumerate() {
                let key = self.spool.resolve(path).ok_or_else(|| missing(path))?;
                let src = self.verify_layer(&key, diff, &name, i)?;
                layers.push((diff.clone(), src));
            }
            merge(
                &mut plans,
                PlannedImage {
                    id,
                    config_key,
                    config_bytes: None,
                    config,
                    layers,
                    tags,
                    manifest: None,
                },
            );
        }
        Ok(plans)
    }

    fn plan_oci(&mut self) -> Result<Vec<PlannedImage>> {
        let index: Index = serde_json::from_slice(&self.spool.small["index.json"])
            .map_err(|e| Error::invalid(format!("load: invalid index.json: {e}")))?;
        let mut plans: Vec<PlannedImage> = Vec::new();
        for desc in &index.manifests {
            let mut tags = Vec::new();
            if let Some(ann) = &desc.annotations {
                let name = ann
                    .get("io.containerd.image.name")
                    .or_else(|| ann.get("org.opencontainers.image.ref.name"));
                if let Some(n) = name
                    && (n.contains('/') || n.contains(':'))
                    && let Ok(r) = Reference::parse(n)
                {
                    tags.push(r);
                }
            }
            let (mdigest, mkey, manifest) =
                self.resolve_manifest(&desc.digest, &desc.media_type, 0)?;
            let config_key = self.blob(&manifest.config.digest)?;
            let bytes = self.spool.read(&config_key)?;
            let config: ImageConfig = serde_json::from_slice(&bytes).map_err(|e| {
                Error::invalid(format!(
                    "load: invalid image config {}: {e}",
                    manifest.config.digest
                ))
            })?;
            let id = manifest.config.digest.clone();
            let name = tags
                .first()
                .map(Reference::familiar)
                .unwrap_or_else(|| id.to_string());
            let diff_ids = &config.rootfs.diff_ids;
            if diff_ids.len() != manifest.layers.len() {
                return Err(Error::invalid(format!(
                    "load: {name}: the manifest names {} layers but the config has {} diff_ids",
                    manifest.layers.len(),
                    diff_ids.len()
                )));
            }
            let mut layers = Vec::new();
            for (i, (l, diff)) in manifest.layers.iter().zip(diff_ids).enumerate() {
                let key = self.blob(&l.digest)?;
                let src = self.verify_layer(&key, diff, &name, i)?;
                layers.push((diff.clone(), src));
            }
            merge(
                &mut plans,
                PlannedImage {
                    id,
                    config_key,
                    config_bytes: None,
                    config,
                    layers,
                    tags,
                    manifest: Some((mdigest, mkey)),
                },
            );
        }
        Ok(plans)
    }

    /// The spooled file `blobs/<algo>/<hex>`, checked against its digest.
    fn blob(&self, d: &Digest) -> Result<String> {
        let name = blob_name(d);
        let key = self.spool.resolve(&name).ok_or_else(|| missing(&name))?;
        match self.spool.files.get(&key) {
            Some(ing) if ing.digest == *d => Ok(key),
            Some(_) => Err(Error::invalid(format!(
                "load: blob {d} does not match its digest"
            ))),
            None => Err(missing(&name)),
        }
    }

    /// Follows an index (platform selection) down to an image manifest.
    fn resolve_manifest(
        &self,
        d: &Digest,
        media_type: &str,
        depth: u32,
    ) -> Result<(Digest, String, Manifest)> {
        if depth > 4 {
            return Err(Error::invalid("load: index nesting too deep"));
        }
        let key = self.blob(d)?;
        let bytes = self.spool.read(&key)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(format!("load: invalid manifest {d}: {e}")))?;
        let is_index = media_type == media_types::OCI_INDEX
            || media_type == media_types::DOCKER_MANIFEST_LIST
            || v.get("manifests").is_some();
        if is_index {
            let idx: Index = serde_json::from_value(v)
                .map_err(|e| Error::invalid(format!("load: invalid index {d}: {e}")))?;
            let (os, arch) = host_platform();
            let pick = idx
                .manifests
                .iter()
                .find(|m| {
                    m.platform
                        .as_ref()
                        .is_some_and(|p| p.os == os && p.architecture == arch)
                        && self.spool.resolve(&blob_name(&m.digest)).is_some()
                })
                .or_else(|| {
                    idx.manifests
                        .iter()
                        .find(|m| self.spool.resolve(&blob_name(&m.digest)).is_some())
                })
                .ok_or_else(|| {
                    Error::invalid(format!("load: index {d} has no manifest in the archive"))
                })?;
            return self.resolve_manifest(&pick.digest, &pick.media_type, depth + 1);
        }
        let m: Manifest = serde_json::from_value(v)
            .map_err(|e| Error::invalid(format!("load: invalid manifest {d}: {e}")))?;
        Ok((d.clone(), key, m))
    }

    /// Checks that the layer file `key` is (or decompresses to) `diff`.
    fn verify_layer(
        &mut self,
        key: &str,
        diff: &Digest,
        name: &str,
        i: usize,
    ) -> Result<LayerSource> {
        let label = format!("layer {} of {name}", i + 1);
        let (got, src) = self.layer_digest(key, &label)?;
        if got != *diff {
            return Err(Error::invalid(format!(
                "load: {label} does not match its diff_id"
            )));
        }
        Ok(src)
    }

    /// The uncompressed digest of the spooled layer file `key`. A compressed file is
    /// decompressed once into a second ingest file (kept for the commit phase).
    fn layer_digest(&mut self, key: &str, label: &str) -> Result<(Digest, LayerSource)> {
        if let Some(d) = self.verified.get(key) {
            return Ok((d.clone(), LayerSource::Decompressed));
        }
        let ing = self.spool.files.get(key).ok_or_else(|| missing(key))?;
        let mut head = [0u8; 8];
        let mut f = ing.reader()?;
        let n = read_up_to(&mut f, &mut head).ctx(|| format!("load: read {key}"))?;
        if detect_bytes(&head[..n]) == Compression::None {
            return Ok((ing.digest.clone(), LayerSource::Spooled(key.to_string())));
        }
        let f = ing.reader()?;
        let bad = |e: io::Error| Error::invalid(format!("load: {label}: {e}"));
        let mut r = decompress(BufReader::with_capacity(BUF_SIZE, f)).map_err(bad)?;
        let mut w = self.store.inner.content.writer()?;
        io::copy(&mut r, &mut w).map_err(bad)?;
        let out = w.finish()?;
        let d = out.digest.clone();
        self.decompressed.insert(d.clone(), out);
        self.verified.insert(key.to_string(), d.clone());
        Ok((d, LayerSource::Decompressed))
    }

    /// Everything verified: commit blobs, unpack, record, tag.
    fn commit(
        &mut self,
        plan: PlannedImage,
        progress: &mut dyn FnMut(LoadProgress),
    ) -> Result<LoadedImage> {
        let inner = &self.store.inner;
        let diffs: Vec<Digest> = plan.layers.iter().map(|(d, _)| d.clone()).collect();
        let chains = chain_ids(&diffs);
        let mut layers = Vec::new();
        for (i, (diff, src)) in plan.layers.into_iter().enumerate() {
            if !inner.content.has(&diff) {
                let ing = match src {
                    LayerSource::Spooled(key) => self.spool.files.remove(&key),
                    LayerSource::Decompressed => self.decompressed.remove(&diff),
                };
                let ing =
                    ing.ok_or_else(|| Error::Internal(format!("load: layer {diff} vanished")))?;
                ing.commit()?;
            }
            let tar_size = inner.content.blob_size(&diff)?;
            let chain = chains[i].clone();
            let info = match inner.snaps.get(&chain) {
                Some(info) => info,
                None => {
                    let f = inner.content.open_blob(&diff)?;
                    progress(LoadProgress::Layer {
                        diff_id: diff.clone(),
                        current: 0,
                        total: tar_size,
                    });
                    let counted = Counting {
                        r: BufReader::with_capacity(BUF_SIZE, f),
                        done: 0,
                        last: 0,
                        total: tar_size,
                        diff: &diff,
                        cb: &mut *progress,
                    };
                    let (temp, applied) = inner.snaps.unpack(counted)?;
                    let info = inner.snaps.commit(
                        temp,
                        SnapshotInfo {
                            chain_id: chain.clone(),
                            diff_id: diff.clone(),
                            parent: i.checked_sub(1).map(|p| chains[p].clone()),
                            size: applied.size,
                        },
                    )?;
                    progress(LoadProgress::Layer {
                        diff_id: diff.clone(),
                        current: tar_size,
                        total: tar_size,
                    });
                    info
                }
            };
            layers.push(LayerRecord {
                diff_id: diff.clone(),
                chain_id: chain,
                blob: diff,
                tar_size,
                size: info.size,
            });
        }
        if let Some(bytes) = &plan.config_bytes {
            inner.content.put(bytes)?;
        } else if !inner.content.has(&plan.id) {
            let ing = self
                .spool
                .files
                .remove(&plan.config_key)
                .ok_or_else(|| Error::Internal("load: config vanished".into()))?;
            ing.commit()?;
        }
        let mut manifest_digest = None;
        if let Some((md, mkey)) = plan.manifest {
            if !inner.content.has(&md)
                && let Some(ing) = self.spool.files.remove(&mkey)
            {
                ing.commit()?;
            }
            manifest_digest = Some(md);
        }
        let record = Record {
            id: plan.id.clone(),
            layers,
            manifest_digest,
            repo_digests: Vec::new(),
            parent: None,
            loaded_at: Utc::now(),
            last_tag_time: None,
        };
        self.store.add_image(record, plan.config, &plan.tags)?;
        Ok(LoadedImage {
            id: plan.id,
            tags: plan.tags,
        })
    }
}

fn merge(plans: &mut Vec<PlannedImage>, p: PlannedImage) {
    if let Some(existing) = plans.iter_mut().find(|x| x.id == p.id) {
        for t in p.tags {
            if !existing.tags.contains(&t) {
                existing.tags.push(t);
            }
        }
        return;
    }
    plans.push(p);
}

fn parse_tags(tags: &[String]) -> Result<Vec<Reference>> {
    tags.iter()
        .map(|t| {
            Reference::parse(t).map_err(|e| Error::invalid(format!("load: invalid tag {t:?}: {e}")))
        })
        .collect()
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Reports unpack progress every 1 MiB.
struct Counting<'a, R> {
    r: R,
    done: u64,
    last: u64,
    total: u64,
    diff: &'a Digest,
    cb: &'a mut dyn FnMut(LoadProgress),
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.done += n as u64;
        if self.done - self.last >= 1 << 20 && self.done < self.total {
            self.last = self.done;
            (self.cb)(LoadProgress::Layer {
                diff_id: self.diff.clone(),
                current: self.done,
                total: self.total,
            });
        }
        Ok(n)
    }
}

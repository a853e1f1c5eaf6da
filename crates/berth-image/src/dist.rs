//! What a registry client needs from the store: layers streamed in from a registry
//! (compressed digest and diff id both verified in one pass), pull leases that keep a
//! half-finished pull's layers from garbage collection (so a pull interrupted by a
//! kill -9 resumes without downloading finished layers again), the compressed digest
//! each layer had in which repository (docker's "v2 metadata": a push skips or mounts
//! what the registry already has, and a pull then push keeps the digests), repo
//! digests, and read access to layers and manifests for push.
//!
//! Layout under `images/`: `leases/<config hex>-<random>.json` (blobs and chain ids a pull is
//! writing), `distribution/<diff hex>.json` (known compressed forms of a layer).

use crate::compress::decompress;
use crate::config::ImageConfig;
use crate::content::BUF_SIZE;
use crate::error::{Error, IoContext, Result};
use crate::import::Tee;
use crate::reference::Reference;
use crate::snapshot::{SnapshotInfo, chain_ids};
use crate::store::{ImageStore, LayerRecord, Record};
use berth_stdx::digest::Hasher;
use berth_stdx::{Digest, atomic_write_json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fs;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;

/// Leases older than this are stale (their pull was never retried) and stop
/// protecting anything.
const LEASE_TTL: chrono::Duration = chrono::Duration::hours(24);

/// One compressed form of a layer, and where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobSource {
    /// The compressed blob's digest (what manifests name).
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    /// `registry host[:port]` as the reference names it (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// The repository path inside the registry (`library/busybox`).
    pub repository: String,
}

/// Everything a finished pull hands to the store.
#[derive(Debug, Clone)]
pub struct PulledImage {
    pub config: Vec<u8>,
    pub config_digest: Digest,
    /// The platform manifest's bytes and digest.
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub diff_ids: Vec<Digest>,
    /// The tag to apply (none for a pull by digest).
    pub tag: Option<Reference>,
    /// `name@digest` (familiar form) recorded in RepoDigests; the digest is the one
    /// the user pulled (an index's digest when the tag named an index).
    pub repo_digest: String,
}

/// A layer as push sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushLayer {
    pub diff_id: Digest,
    /// Length of the uncompressed tar.
    pub tar_size: u64,
}

#[derive(Serialize, Deserialize)]
struct Lease {
    created: chrono::DateTime<Utc>,
    blobs: Vec<Digest>,
    chains: Vec<Digest>,
}

/// Removes the lease file on drop (the pull finished, or failed in-process: what it
/// wrote is then collected by the next GC unless an image references it).
#[derive(Debug)]
pub struct PullLease {
    path: PathBuf,
}

impl Drop for PullLease {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Hashes every byte read from `r`.
struct Hashing<'a> {
    r: &'a mut dyn Read,
    h: Hasher,
    n: u64,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.r.read(buf)?;
        self.h.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }
}

impl ImageStore {
    fn leases_dir(&self) -> PathBuf {
        self.inner.images_dir.join("leases")
    }

    fn dist_path(&self, diff: &Digest) -> PathBuf {
        self.inner
            .images_dir
            .join("distribution")
            .join(format!("{}.json", diff.hex()))
    }

    /// Protects the blobs and snapshots of the image `config` (with layers `diff_ids`)
    /// from GC until the lease is dropped, across daemon restarts too (for 24 hours).
    pub fn pull_lease(
        &self,
        config: &Digest,
        manifest: &Digest,
        diff_ids: &[Digest],
    ) -> Result<PullLease> {
        let dir = self.leases_dir();
        fs::create_dir_all(&dir).ctx(|| format!("create {}", dir.display()))?;
        let mut blobs = vec![config.clone(), manifest.clone()];
        blobs.extend(diff_ids.iter().cloned());
        let lease = Lease {
            created: Utc::now(),
            blobs,
            chains: chain_ids(diff_ids),
        };
        // One file per pull: two pulls of the same image never drop each other's.
        let path = dir.join(format!(
            "{}-{}.json",
            config.hex(),
            berth_stdx::id::random_hex(4)
        ));
        atomic_write_json(&path, &lease).ctx(|| format!("write {}", path.display()))?;
        Ok(PullLease { path })
    }

    /// Adds what live leases protect to GC's roots; stale leases are removed.
    pub(crate) fn lease_roots(&self, blobs: &mut HashSet<Digest>, chains: &mut HashSet<Digest>) {
        let Ok(rd) = fs::read_dir(self.leases_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let lease: Option<Lease> = fs::read(&p)
                .ok()
                .and_then(|d| serde_json::from_slice(&d).ok());
            match lease {
                Some(l) if Utc::now() - l.created < LEASE_TTL => {
                    blobs.extend(l.blobs);
                    chains.extend(l.chains);
                }
                _ => {
                    let _ = fs::remove_file(&p);
                }
            }
        }
    }

    /// The chain ids of `diff_ids`, docker's layer identities.
    pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
        chain_ids(diff_ids)
    }

    /// True when the layer is complete in the store (its blob and snapshot): a pull
    /// skips it ("Already exists").
    pub fn has_layer(&self, diff_id: &Digest, chain_id: &Digest) -> bool {
        self.inner.content.has(diff_id) && self.inner.snaps.get(chain_id).is_some()
    }

    /// Streams one layer from a registry into the store: `src` is the blob as
    /// served (gzip, zstd or plain tar), verified against `blob_digest`; its
    /// uncompressed form must be `diff_id`. The tar blob and the snapshot `chain_id`
    /// become visible only after both digests match.
    pub fn pull_layer(
        &self,
        src: &mut dyn Read,
        blob_digest: &Digest,
        diff_id: &Digest,
        chain_id: &Digest,
        parent: Option<&Digest>,
    ) -> Result<()> {
        let inner = &self.inner;
        let mut hashed = Hashing {
            r: src,
            h: Hasher::new(blob_digest.algorithm()),
            n: 0,
        };
        let bad = |e: io::Error| Error::invalid(format!("layer {blob_digest}: {e}"));
        let mut blob = inner.content.writer()?;
        let (temp, applied) = {
            let input = decompress(BufReader::with_capacity(BUF_SIZE, &mut hashed)).map_err(bad)?;
            let mut tee = Tee {
                r: input,
                w: &mut blob,
            };
            let out = inner.snaps.unpack(&mut tee)?;
            // The tar may end before the stream does (padding): the digests cover
            // every byte.
            io::copy(&mut tee, &mut io::sink()).map_err(bad)?;
            out
        };
        io::copy(&mut hashed, &mut io::sink()).map_err(bad)?;
        let got = hashed.h.finish();
        if got != *blob_digest {
            return Err(Error::invalid(format!(
                "filesystem layer verification failed for digest {blob_digest}"
            )));
        }
        let ing = blob.finish()?;
        if ing.digest != *diff_id {
            return Err(Error::invalid(format!(
                "layer {blob_digest}: uncompressed digest {} does not match the config's diff id {diff_id}",
                ing.digest
            )));
        }
        ing.commit()?;
        inner.snaps.commit(
            temp,
            SnapshotInfo {
                chain_id: chain_id.clone(),
                diff_id: diff_id.clone(),
                parent: parent.cloned(),
                size: applied.size,
            },
        )?;
        Ok(())
    }

    /// Records the image of a finished pull (every layer already pulled): config and
    /// manifest blobs, the record, the tag and the repo digest. Returns the image id.
    pub fn commit_pulled(&self, p: &PulledImage) -> Result<Digest> {
        let inner = &self.inner;
        let config: ImageConfig = serde_json::from_slice(&p.config)
            .map_err(|e| Error::invalid(format!("invalid image config: {e}")))?;
        let diffs = config.rootfs.diff_ids.clone();
        if diffs != p.diff_ids {
            return Err(Error::invalid("image config does not match its layers"));
        }
        for (data, d) in [
            (&p.config, &p.config_digest),
            (&p.manifest, &p.manifest_digest),
        ] {
            let mut w = inner.content.writer()?;
            io::Write::write_all(&mut w, data).map_err(|e| Error::io("write blob", e))?;
            w.commit(Some(d))?;
        }
        let chains = chain_ids(&diffs);
        let mut layers = Vec::new();
        for (diff, chain) in diffs.iter().zip(&chains) {
            let info = inner
                .snaps
                .get(chain)
                .ok_or_else(|| Error::Internal(format!("layer {diff} is not in the store")))?;
            layers.push(LayerRecord {
                diff_id: diff.clone(),
                chain_id: chain.clone(),
                blob: diff.clone(),
                tar_size: inner.content.blob_size(diff)?,
                size: info.size,
            });
        }
        let record = Record {
            id: p.config_digest.clone(),
            layers,
            manifest_digest: Some(p.manifest_digest.clone()),
            repo_digests: vec![p.repo_digest.clone()],
            parent: None,
            loaded_at: Utc::now(),
            last_tag_time: None,
        };
        let tags: Vec<Reference> = p.tag.iter().cloned().collect();
        self.add_image(record, config, &tags)?;
        self.add_repo_digest(&p.config_digest, &p.repo_digest)?;
        Ok(p.config_digest.clone())
    }

    /// Adds `name@digest` to the image's RepoDigests (one per repository: a newer
    /// digest for the same repository replaces the older, as docker does).
    pub fn add_repo_digest(&self, id: &Digest, repo_digest: &str) -> Result<()> {
        let mut st = self.write_state();
        let Some(e) = st.images.get_mut(id) else {
            return Err(Error::NoSuchImage(id.to_string()));
        };
        let repo = repo_digest.split('@').next().unwrap_or_default();
        if e.record.repo_digests.iter().any(|r| r == repo_digest) {
            return Ok(());
        }
        e.record
            .repo_digests
            .retain(|r| r.split('@').next() != Some(repo));
        e.record.repo_digests.push(repo_digest.to_string());
        e.record.repo_digests.sort();
        let rec = e.record.clone();
        self.write_record(&rec)
    }

    /// Removes the repo digest `r` (`name@digest`) from the image that has it;
    /// returns that image.
    pub(crate) fn remove_repo_digest(&self, r: &Reference) -> Result<Digest> {
        let mut st = self.write_state();
        let hit = st.images.values_mut().find(|e| {
            e.record
                .repo_digests
                .iter()
                .any(|d| Reference::parse(d).is_ok_and(|x| x == *r))
        });
        let Some(e) = hit else {
            return Err(Error::NoSuchImage(r.familiar()));
        };
        e.record
            .repo_digests
            .retain(|d| Reference::parse(d).map_or(true, |x| x != *r));
        let rec = e.record.clone();
        self.write_record(&rec)?;
        Ok(rec.id)
    }

    /// Remembers that layer `diff_id` exists compressed as `src`.
    pub fn add_blob_source(&self, diff_id: &Digest, src: BlobSource) -> Result<()> {
        // The state lock serialises writers of the same file.
        let _st = self.write_state();
        let path = self.dist_path(diff_id);
        let mut all = self.read_sources(&path);
        if all.contains(&src) {
            return Ok(());
        }
        all.retain(|s| {
            !(s.digest == src.digest
                && s.registry == src.registry
                && s.repository == src.repository)
        });
        all.push(src);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
        }
        atomic_write_json(&path, &all).ctx(|| format!("write {}", path.display()))
    }

    /// The known compressed forms of layer `diff_id`, most recent last.
    pub fn blob_sources(&self, diff_id: &Digest) -> Vec<BlobSource> {
        self.read_sources(&self.dist_path(diff_id))
    }

    fn read_sources(&self, path: &std::path::Path) -> Vec<BlobSource> {
        fs::read(path)
            .ok()
            .and_then(|d| serde_json::from_slice(&d).ok())
            .unwrap_or_default()
    }

    /// The layers of image `id`, bottom first.
    pub fn push_layers(&self, id: &Digest) -> Result<Vec<PushLayer>> {
        let st = self.read_state();
        let e = st
            .images
            .get(id)
            .ok_or_else(|| Error::NoSuchImage(id.to_string()))?;
        Ok(e.record
            .layers
            .iter()
            .map(|l| PushLayer {
                diff_id: l.diff_id.clone(),
                tar_size: l.tar_size,
            })
            .collect())
    }

    /// Opens the uncompressed tar of layer `diff_id`.
    pub fn open_layer(&self, diff_id: &Digest) -> Result<fs::File> {
        self.inner.content.open_blob(diff_id)
    }

    /// The manifest the image was pulled with, if the store has it.
    pub fn manifest_bytes(&self, id: &Digest) -> Option<(Digest, Vec<u8>)> {
        let md = self
            .read_state()
            .images
            .get(id)?
            .record
            .manifest_digest
            .clone()?;
        let data = self.inner.content.read_blob(&md).ok()?;
        Some((md, data))
    }
}

#[cfg(test)]
#[path = "dist_tests.rs"]
mod tests;

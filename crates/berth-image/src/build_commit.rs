//! The builder's commit: an image from an optional parent (none for `FROM scratch`)
//! plus an optional layer (none for a metadata-only step, recorded as an
//! `empty_layer` history entry, as docker's classic builder does).
//!
//! Same write order as `commit`: layer blob and snapshot, then the config blob, then
//! the record; a crash in between leaves only unreferenced blobs for gc.

use crate::config::{ContainerConfig, History, ImageConfig, RootFs};
use crate::content::BUF_SIZE;
use crate::error::{Error, Result};
use crate::import::{Tee, host_platform};
use crate::snapshot::{SnapshotInfo, chain_ids};
use crate::store::{ImageStore, LayerRecord, Record};
use berth_stdx::Digest;
use chrono::{SecondsFormat, Utc};
use std::io::{BufReader, Read};

/// One build step's new image.
#[derive(Debug, Clone)]
pub struct BuildCommit {
    pub parent: Option<Digest>,
    pub config: ContainerConfig,
    pub created_by: String,
    pub author: Option<String>,
}

impl ImageStore {
    /// Writes a build step's image: `layer` (an uncompressed tar) on top of
    /// `c.parent`, or no layer at all. Returns the new image id.
    pub fn commit_build(&self, layer: Option<&mut dyn Read>, c: &BuildCommit) -> Result<Digest> {
        let result = {
            let _running = self
                .inner
                .gc_guard
                .read()
                .unwrap_or_else(|e| e.into_inner());
            self.commit_build_locked(layer, c)
        };
        if result.is_err()
            && let Err(e) = self.gc()
        {
            tracing::warn!(error = %e, "garbage collection after a failed build commit failed");
        }
        result
    }

    fn commit_build_locked(&self, layer: Option<&mut dyn Read>, c: &BuildCommit) -> Result<Digest> {
        let (mut layers, mut config) = match &c.parent {
            Some(p) => {
                let st = self.read_state();
                let e = st
                    .images
                    .get(p)
                    .ok_or_else(|| Error::NoSuchImage(p.to_string()))?;
                (e.record.layers.clone(), e.config.clone())
            }
            None => {
                let (os, arch) = host_platform();
                let config = ImageConfig {
                    architecture: arch,
                    os,
                    rootfs: RootFs::default(),
                    ..Default::default()
                };
                (Vec::new(), config)
            }
        };
        let inner = &self.inner;
        let empty_layer = layer.is_none();
        if let Some(layer) = layer {
            let mut blob = inner.content.writer()?;
            let (temp, applied) = inner.snaps.unpack(Tee {
                r: BufReader::with_capacity(BUF_SIZE, layer),
                w: &mut blob,
            })?;
            let blob = blob.finish()?;
            let diff_id = blob.digest.clone();
            let tar_size = blob.size;
            blob.commit()?;
            let mut diffs: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
            diffs.push(diff_id.clone());
            let chain = chain_ids(&diffs).pop().expect("at least one layer");
            let info = inner.snaps.commit(
                temp,
                SnapshotInfo {
                    chain_id: chain,
                    diff_id: diff_id.clone(),
                    parent: layers.last().map(|l| l.chain_id.clone()),
                    size: applied.size,
                },
            )?;
            config.rootfs.diff_ids.push(diff_id.clone());
            layers.push(LayerRecord {
                diff_id: diff_id.clone(),
                chain_id: info.chain_id,
                blob: diff_id,
                tar_size,
                size: info.size,
            });
        }
        let now = Utc::now();
        let created = now.to_rfc3339_opts(SecondsFormat::Nanos, true);
        config.created = Some(created.clone());
        config.author = c.author.clone().filter(|a| !a.is_empty());
        config.comment = None;
        config.config = Some(c.config.clone());
        config.history.push(History {
            created: Some(created),
            created_by: Some(c.created_by.clone()),
            author: config.author.clone(),
            empty_layer,
            ..Default::default()
        });
        let bytes = serde_json::to_vec(&config)
            .map_err(|e| Error::Internal(format!("encode image config: {e}")))?;
        let id = inner.content.put(&bytes)?;
        let record = Record {
            id: id.clone(),
            layers,
            manifest_digest: None,
            repo_digests: Vec::new(),
            parent: c.parent.clone(),
            loaded_at: now,
            last_tag_time: None,
        };
        self.add_image(record, config, &[])?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(name: &str, body: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        b.append_data(&mut h, name, body).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn scratch_layer_then_metadata_then_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let s = ImageStore::open(dir.path()).unwrap();
        let tar = layer("f", b"hi");
        let base = s
            .commit_build(
                Some(&mut &tar[..]),
                &BuildCommit {
                    parent: None,
                    config: ContainerConfig::default(),
                    created_by: "/bin/sh -c #(nop) COPY file:x in / ".into(),
                    author: None,
                },
            )
            .unwrap();
        let cfg = ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let top = s
            .commit_build(
                None,
                &BuildCommit {
                    parent: Some(base.clone()),
                    config: cfg.clone(),
                    created_by: "/bin/sh -c #(nop)  CMD [\"sh\"]".into(),
                    author: Some("me".into()),
                },
            )
            .unwrap();
        drop(s);
        let s = ImageStore::open(dir.path()).unwrap();
        let img = s.get(&top).unwrap();
        assert_eq!(img.parent, Some(base.clone()));
        assert_eq!(img.config.config, Some(cfg));
        assert_eq!(img.config.author.as_deref(), Some("me"));
        assert_eq!(img.config.rootfs.diff_ids.len(), 1);
        assert_eq!(img.config.history.len(), 2);
        assert!(!img.config.history[0].empty_layer);
        assert!(img.config.history[1].empty_layer);
        assert_eq!(s.layer_dirs(&top).unwrap(), s.layer_dirs(&base).unwrap());
        let f = s.layer_dirs(&top).unwrap()[0].join("f");
        assert_eq!(std::fs::read(f).unwrap(), b"hi");
        // A missing parent is an error, not a panic.
        let missing = Digest::sha256_of(b"nope");
        assert!(
            s.commit_build(
                None,
                &BuildCommit {
                    parent: Some(missing),
                    config: ContainerConfig::default(),
                    created_by: String::new(),
                    author: None,
                },
            )
            .is_err()
        );
    }
}

//! `docker commit`: a layer tar (a container's changes) on top of a local image.
//!
//! Same write order as `import`: the layer blob (hashed as written: its digest is
//! the diff id) and its snapshot, then the config blob, the record, the tag; a crash
//! in between leaves only unreferenced blobs/snapshots for gc.

use crate::config::{ContainerConfig, History};
use crate::content::BUF_SIZE;
use crate::error::{Error, Result};
use crate::import::Tee;
use crate::reference::Reference;
use crate::snapshot::{SnapshotInfo, chain_ids};
use crate::store::{Image, ImageStore, LayerRecord, Record};
use berth_stdx::Digest;
use chrono::{SecondsFormat, Utc};
use std::io::{BufReader, Read};

/// What `commit` puts in the new image.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// The image the container runs.
    pub parent: Digest,
    /// The container's config (already merged with any `--change`).
    pub config: ContainerConfig,
    pub comment: String,
    pub author: String,
    /// The history line: the container's command.
    pub created_by: String,
    pub tag: Option<Reference>,
}

impl ImageStore {
    /// Adds the uncompressed layer tar `layer` on top of `opts.parent`.
    pub fn commit(&self, layer: &mut dyn Read, opts: &CommitOptions) -> Result<Image> {
        let result = {
            let _running = self
                .inner
                .gc_guard
                .read()
                .unwrap_or_else(|e| e.into_inner());
            self.commit_locked(layer, opts)
        };
        if result.is_err()
            && let Err(e) = self.gc()
        {
            tracing::warn!(error = %e, "garbage collection after a failed commit failed");
        }
        let id = result?;
        self.get(&id)
    }

    fn commit_locked(&self, layer: &mut dyn Read, opts: &CommitOptions) -> Result<Digest> {
        let (parent_rec, parent_cfg) = {
            let st = self.read_state();
            let e = st
                .images
                .get(&opts.parent)
                .ok_or_else(|| Error::NoSuchImage(opts.parent.to_string()))?;
            (e.record.clone(), e.config.clone())
        };
        let inner = &self.inner;
        let mut blob = inner.content.writer()?;
        let (temp, applied) = inner.snaps.unpack(Tee {
            r: BufReader::with_capacity(BUF_SIZE, layer),
            w: &mut blob,
        })?;
        let blob = blob.finish()?;
        let diff_id = blob.digest.clone();
        let tar_size = blob.size;
        blob.commit()?;
        let mut diffs: Vec<Digest> = parent_rec
            .layers
            .iter()
            .map(|l| l.diff_id.clone())
            .collect();
        diffs.push(diff_id.clone());
        let chain = chain_ids(&diffs).pop().expect("at least one layer");
        let info = inner.snaps.commit(
            temp,
            SnapshotInfo {
                chain_id: chain,
                diff_id: diff_id.clone(),
                parent: parent_rec.layers.last().map(|l| l.chain_id.clone()),
                size: applied.size,
            },
        )?;

        let now = Utc::now();
        let created = now.to_rfc3339_opts(SecondsFormat::Nanos, true);
        let some = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
        let mut config = parent_cfg;
        config.created = Some(created.clone());
        config.author = some(&opts.author);
        config.comment = some(&opts.comment);
        config.config = Some(opts.config.clone());
        config.rootfs.diff_ids.push(diff_id.clone());
        config.history.push(History {
            created: Some(created),
            created_by: some(&opts.created_by),
            author: some(&opts.author),
            comment: some(&opts.comment),
            ..Default::default()
        });
        let bytes = serde_json::to_vec(&config)
            .map_err(|e| Error::Internal(format!("encode image config: {e}")))?;
        let id = inner.content.put(&bytes)?;
        let mut layers = parent_rec.layers.clone();
        layers.push(LayerRecord {
            diff_id: diff_id.clone(),
            chain_id: info.chain_id,
            blob: diff_id,
            tar_size,
            size: info.size,
        });
        let record = Record {
            id: id.clone(),
            layers,
            manifest_digest: None,
            repo_digests: Vec::new(),
            parent: Some(opts.parent.clone()),
            loaded_at: now,
            last_tag_time: None,
        };
        let tags: Vec<_> = opts.tag.iter().cloned().collect();
        self.add_image(record, config, &tags)?;
        Ok(id)
    }
}

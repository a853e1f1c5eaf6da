//! Garbage collection, disk usage and history: read-mostly views over the records.

use crate::error::Result;
use crate::store::{GcReport, HistoryEntry, ImageStore, ImageUsage, UsageReport, tags_by_id};
use berth_stdx::Digest;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

impl ImageStore {
    /// Removes blobs and snapshots no image record references. Never removes anything
    /// a record points to; skipped (empty report) while an import or load is running,
    /// since those write blobs and snapshots before their record exists.
    pub fn gc(&self) -> Result<GcReport> {
        let Ok(_exclusive) = self.inner.gc_guard.try_write() else {
            return Ok(GcReport::default());
        };
        let st = self.read_state();
        let mut blobs: HashSet<Digest> = HashSet::new();
        let mut chains: HashSet<Digest> = HashSet::new();
        for e in st.images.values() {
            blobs.insert(e.record.id.clone());
            if let Some(m) = &e.record.manifest_digest {
                blobs.insert(m.clone());
            }
            for l in &e.record.layers {
                blobs.insert(l.blob.clone());
                chains.insert(l.chain_id.clone());
            }
        }
        // A pull in progress (or interrupted by a crash) keeps what it wrote.
        self.lease_roots(&mut blobs, &mut chains);
        let mut report = GcReport::default();
        for (d, size) in self.inner.content.list()? {
            if !blobs.contains(&d) {
                self.inner.content.delete(&d)?;
                report.bytes_freed += size;
                report.blobs_removed.push(d);
            }
        }
        for s in self.inner.snaps.list()? {
            if !chains.contains(&s.chain_id) {
                self.inner.snaps.remove(&s.chain_id)?;
                report.bytes_freed += s.size;
                report.snapshots_removed.push(s.chain_id);
            }
        }
        Ok(report)
    }

    /// Per-image size, shared and unique size, and the total of distinct layers
    /// (`docker system df`).
    pub fn usage(&self) -> Result<UsageReport> {
        let st = self.read_state();
        let mut users: HashMap<&Digest, usize> = HashMap::new();
        let mut sizes: HashMap<&Digest, u64> = HashMap::new();
        for e in st.images.values() {
            let mut seen = HashSet::new();
            for l in &e.record.layers {
                if seen.insert(&l.chain_id) {
                    *users.entry(&l.chain_id).or_default() += 1;
                    sizes.insert(&l.chain_id, l.size);
                }
            }
        }
        let mut report = UsageReport {
            layers_size: sizes.values().sum(),
            ..Default::default()
        };
        for e in st.images.values() {
            let size: u64 = e.record.layers.iter().map(|l| l.size).sum();
            let shared: u64 = e
                .record
                .layers
                .iter()
                .filter(|l| users.get(&l.chain_id).copied().unwrap_or(0) > 1)
                .map(|l| l.size)
                .sum();
            report.images.push(ImageUsage {
                id: e.record.id.clone(),
                size,
                shared_size: shared,
                unique_size: size - shared,
            });
        }
        Ok(report)
    }

    /// `docker history`: newest first. The entry that created an image known locally
    /// carries that image's id and tags; the others show `<missing>`.
    pub fn history(&self, id: &Digest) -> Result<Vec<HistoryEntry>> {
        let st = self.read_state();
        let tags = tags_by_id(&st);
        let e = st
            .images
            .get(id)
            .ok_or_else(|| crate::error::Error::NoSuchImage(id.to_string()))?;
        let mut layer_sizes = e.record.layers.iter().map(|l| l.size);
        let mut out: Vec<HistoryEntry> = Vec::new();
        if e.config.history.is_empty() {
            for l in &e.record.layers {
                out.push(HistoryEntry {
                    id: "<missing>".into(),
                    created: None,
                    created_by: String::new(),
                    size: l.size,
                    comment: String::new(),
                    tags: Vec::new(),
                    empty_layer: false,
                });
            }
        } else {
            for h in &e.config.history {
                let size = if h.empty_layer {
                    0
                } else {
                    layer_sizes.next().unwrap_or(0)
                };
                out.push(HistoryEntry {
                    id: "<missing>".into(),
                    created: h
                        .created
                        .as_deref()
                        .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                        .map(|d| d.with_timezone(&Utc)),
                    created_by: h.created_by.clone().unwrap_or_default(),
                    size,
                    comment: h.comment.clone().unwrap_or_default(),
                    tags: Vec::new(),
                    empty_layer: h.empty_layer,
                });
            }
        }
        // Walk the local parent chain: each image owns the entry at the end of its
        // own history.
        let mut cur = Some(id.clone());
        let mut guard = 0;
        while let Some(img) = cur {
            guard += 1;
            let Some(ent) = st.images.get(&img) else {
                break;
            };
            let n = ent.config.history.len().max(ent.record.layers.len());
            if n == 0 || n > out.len() || guard > 1000 {
                break;
            }
            let slot = &mut out[n - 1];
            slot.id = img.to_string();
            let mut t = tags.get(&img).cloned().unwrap_or_default();
            t.sort();
            slot.tags = t;
            cur = ent.record.parent.clone();
        }
        out.reverse();
        Ok(out)
    }
}

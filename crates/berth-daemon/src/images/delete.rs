//! `DELETE /images/{name}` and `POST /images/prune` with dockerd's rules: deleting by
//! name untags first and only deletes with the last reference; deleting by id with
//! several references needs force; dependent children block deletion outright.

use berth_api::Filters;
use berth_api::parse_timestamp;
use berth_image::{Image, Reference};
use berth_stdx::Digest;

use super::list::labels_of;
use super::service::ImageService;
use super::{DeleteRecord, PruneReport};
use crate::error::{Error, Result};

pub const PRUNE_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];

/// Conflict classes, as dockerd's `conflictType`.
const DEPENDENT_CHILD: u8 = 1;
const ACTIVE_REFERENCE: u8 = 2;
const RUNNING_CONTAINER: u8 = 4;
const STOPPED_CONTAINER: u8 = 8;
const HARD: u8 = DEPENDENT_CHILD | RUNNING_CONTAINER;
const SOFT: u8 = ACTIVE_REFERENCE | STOPPED_CONTAINER;

fn short(id: &Digest) -> String {
    id.hex().chars().take(12).collect()
}

/// All references to an image: tags, then digest references.
fn refs_of(img: &Image) -> Vec<Reference> {
    let mut v = img.repo_tags.clone();
    v.extend(
        img.repo_digests
            .iter()
            .filter_map(|d| Reference::parse(d).ok()),
    );
    v
}

/// docker's `isSingleReference`: one tag, possibly with digest refs of the same repository.
fn is_single_reference(refs: &[Reference]) -> bool {
    if refs.len() <= 1 {
        return refs.len() == 1;
    }
    let mut single: Option<&Reference> = None;
    let mut canonical = std::collections::BTreeSet::new();
    for r in refs {
        if r.digest().is_some() {
            canonical.insert(r.repository().to_string());
        } else if single.is_none() {
            single = Some(r);
        } else {
            return false;
        }
    }
    let single = single.unwrap_or(&refs[0]);
    canonical.len() == 1 && canonical.contains(single.repository())
}

fn is_id_prefix(id: &Digest, input: &str) -> bool {
    !input.is_empty() && (id.to_string().starts_with(input) || id.hex().starts_with(input))
}

impl ImageService {
    fn children(&self, id: &Digest) -> usize {
        self.store
            .list()
            .iter()
            .filter(|i| i.parent.as_ref() == Some(id))
            .count()
    }

    fn check_conflict(&self, img: &Image, mask: u8) -> Option<(bool, String)> {
        if mask & DEPENDENT_CHILD != 0 && self.children(&img.id) > 0 {
            return Some((true, "image has dependent child images".into()));
        }
        let users = self.image_users(&img.id);
        if mask & RUNNING_CONTAINER != 0
            && let Some((c, _)) = users.iter().find(|(_, running)| *running)
        {
            return Some((
                true,
                format!(
                    "image is being used by running container {}",
                    &c[..12.min(c.len())]
                ),
            ));
        }
        if mask & ACTIVE_REFERENCE != 0 && !refs_of(img).is_empty() {
            return Some((false, "image is referenced in multiple repositories".into()));
        }
        if mask & STOPPED_CONTAINER != 0
            && let Some((c, _)) = users.iter().find(|(_, running)| !*running)
        {
            return Some((
                false,
                format!(
                    "image is being used by stopped container {}",
                    &c[..12.min(c.len())]
                ),
            ));
        }
        None
    }

    fn conflict_error(id: &Digest, hard: bool, msg: &str) -> Error {
        let how = if hard {
            "cannot be forced"
        } else {
            "must be forced"
        };
        Error::conflict(format!(
            "conflict: unable to delete {} ({how}) - {msg}",
            short(id)
        ))
    }

    fn untag_recorded(
        &self,
        img: &Image,
        r: &Reference,
        records: &mut Vec<DeleteRecord>,
    ) -> Result<()> {
        self.store.untag(r)?;
        records.push(DeleteRecord::Untagged(r.familiar()));
        self.event("untag", Some(img), &img.id, &img.id.to_string());
        Ok(())
    }

    pub(super) fn delete_locked(
        &self,
        name: &str,
        force: bool,
        prune: bool,
    ) -> Result<Vec<DeleteRecord>> {
        let img = self.resolve(name)?;
        let id = img.id.clone();
        let mut records = Vec::new();
        let mut refs = refs_of(&img);
        let mut quiet = false;
        if !is_id_prefix(&id, name) {
            let r = Reference::parse(name)?;
            // Removing the last reference of an image a container uses would leave it
            // dangling: docker asks for force.
            if !force
                && is_single_reference(&refs)
                && let Some((c, _)) = self.image_users(&id).first()
            {
                return Err(Error::conflict(format!(
                    "conflict: unable to remove repository reference {name:?} (must force) - container {} is using its referenced image {}",
                    &c[..12.min(c.len())],
                    short(&id)
                )));
            }
            self.untag_recorded(&img, &r, &mut records)?;
            refs = refs_of(&self.store.get(&id)?);
            if r.digest().is_none() {
                let same_repo_tag = refs
                    .iter()
                    .any(|x| x.digest().is_none() && x.repository() == r.repository());
                if !same_repo_tag {
                    let (drop, keep): (Vec<_>, Vec<_>) = refs
                        .into_iter()
                        .partition(|x| x.digest().is_some() && x.repository() == r.repository());
                    for x in &drop {
                        self.untag_recorded(&img, x, &mut records)?;
                    }
                    refs = keep;
                }
            }
            if !refs.is_empty() {
                return Ok(records);
            }
            quiet = true;
        } else if is_single_reference(&refs) {
            let mask = if force {
                HARD
            } else {
                HARD | (SOFT & !ACTIVE_REFERENCE)
            };
            if let Some((hard, msg)) = self.check_conflict(&img, mask) {
                return Err(Self::conflict_error(&id, hard, &msg));
            }
            for r in &refs {
                self.untag_recorded(&img, r, &mut records)?;
            }
        }
        self.delete_helper(&id, &mut records, force, prune, quiet)?;
        Ok(records)
    }

    fn delete_helper(
        &self,
        id: &Digest,
        records: &mut Vec<DeleteRecord>,
        force: bool,
        prune: bool,
        quiet: bool,
    ) -> Result<()> {
        let img = self.store.get(id)?;
        let mask = if force { HARD } else { HARD | SOFT };
        if let Some((hard, msg)) = self.check_conflict(&img, mask) {
            let dangling = refs_of(&img).is_empty() && self.children(id) == 0;
            if quiet && !dangling {
                return Ok(());
            }
            return Err(Self::conflict_error(id, hard, &msg));
        }
        // A stopped container still needs the image's layers: forcing only untags it
        // (docker keeps what a container's filesystem is built on).
        if force && self.image_users(id).iter().any(|(_, running)| !*running) {
            for r in refs_of(&img) {
                self.untag_recorded(&img, &r, records)?;
            }
            return Ok(());
        }
        let parent = img.parent.clone();
        for r in refs_of(&img) {
            self.untag_recorded(&img, &r, records)?;
        }
        let outcome = self.store.delete(id)?;
        self.event("delete", Some(&img), id, &id.to_string());
        records.push(DeleteRecord::Deleted(id.to_string()));
        for d in outcome.deleted.iter().filter(|d| *d != id) {
            records.push(DeleteRecord::Deleted(d.to_string()));
        }
        match parent {
            Some(p) if prune && self.store.get(&p).is_ok() => {
                self.delete_helper(&p, records, false, true, true)
            }
            _ => Ok(()),
        }
    }

    pub(super) fn prune_locked(&self, f: &Filters) -> Result<PruneReport> {
        f.validate(PRUNE_FILTERS)?;
        let dangling_only = f.get_bool_or_default("dangling", true)?;
        let until = match f.get("until").as_slice() {
            [] => None,
            [one] => Some(parse_timestamp(one, chrono::Utc::now())?),
            _ => return Err(Error::invalid("more than one until filter specified")),
        };
        let before = self.store.usage().map(|u| u.layers_size).unwrap_or(0);
        let all = self.store.list();
        let has_children = |img: &Image| all.iter().any(|o| o.parent.as_ref() == Some(&img.id));
        let mut report = PruneReport::default();
        for img in &all {
            // Images containers were created from are never pruned (dockerd's rule).
            if !self.image_users(&img.id).is_empty() {
                continue;
            }
            if dangling_only && has_children(img) {
                continue;
            }
            let refs = refs_of(img);
            if refs.is_empty() && has_children(img) {
                continue;
            }
            if until.is_some_and(|u| img.created > u) {
                continue;
            }
            let empty = Default::default();
            let labels = labels_of(img).unwrap_or(&empty);
            if !f.match_labels("label", labels)
                || (f.contains("label!") && f.match_labels("label!", labels))
            {
                continue;
            }
            // Errors on one image (a conflict, or it is already gone) skip it, as dockerd.
            if !refs.is_empty() {
                let has_tag = refs.iter().any(|r| r.digest().is_none());
                if !dangling_only || !has_tag {
                    for r in &refs {
                        if let Ok(mut recs) = self.delete_locked(&r.to_string(), false, true) {
                            report.records.append(&mut recs);
                        }
                    }
                }
            } else if let Ok(mut recs) = self.delete_locked(img.id.hex(), false, true) {
                report.records.append(&mut recs);
            }
        }
        let after = self.store.usage().map(|u| u.layers_size).unwrap_or(0);
        report.space_reclaimed = before.saturating_sub(after);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn single_reference_rules() {
        assert!(!is_single_reference(&[]));
        assert!(is_single_reference(&[r("busybox:1")]));
        assert!(!is_single_reference(&[r("busybox:1"), r("busybox:2")]));
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert!(is_single_reference(&[r("busybox:1"), r(&d)]));
        let other = format!("alpine@sha256:{}", "a".repeat(64));
        assert!(!is_single_reference(&[r("busybox:1"), r(&other)]));
    }

    #[test]
    fn id_prefix() {
        let id: Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
        assert!(is_id_prefix(&id, "abab"));
        assert!(is_id_prefix(&id, "sha256:abab"));
        assert!(!is_id_prefix(&id, "busybox"));
        assert!(!is_id_prefix(&id, ""));
    }
}

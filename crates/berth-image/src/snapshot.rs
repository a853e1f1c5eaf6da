//! Snapshots: one directory per layer chain, `snapshots/<chain-id hex>/fs`, holding
//! that layer's own files with whiteouts in overlayfs form, so the `fs` dirs of an
//! image, top first, are directly an overlay `lowerdir` list.
//!
//! Lifecycle: a layer is unpacked into `snapshots/.tmp-<random>/fs`; the filesystem
//! is flushed once with `syncfs`; the `ready` marker (the snapshot's metadata, JSON)
//! is written; the temp dir is renamed to its chain id. A snapshot directory without
//! `ready` is never used, and `open` removes it along with temp dirs. A ready
//! snapshot is reused: the same layer is never unpacked twice.

use crate::error::{Error, IoContext, Result};
use crate::layer::{Applied, apply_layer, syncfs};
use berth_stdx::{Digest, atomic_write_json, fsync_dir};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const READY: &str = "ready";
const TMP_PREFIX: &str = ".tmp-";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SnapshotInfo {
    pub(crate) chain_id: Digest,
    pub(crate) diff_id: Digest,
    #[serde(default)]
    pub(crate) parent: Option<Digest>,
    /// Unpacked size (sum of regular file sizes).
    pub(crate) size: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Snapshots {
    dir: PathBuf,
}

/// docker's ChainID: `chain[0] = diff[0]`, `chain[i] = sha256(chain[i-1] + " " + diff[i])`.
pub(crate) fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(parent) => Digest::sha256_of(format!("{parent} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

impl Snapshots {
    /// Opens (creating) the snapshot dir; removes temp dirs and unready snapshots.
    pub(crate) fn open(dir: &Path) -> Result<Snapshots> {
        fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
        let s = Snapshots {
            dir: dir.to_path_buf(),
        };
        for entry in fs::read_dir(dir).ctx(|| format!("read {}", dir.display()))? {
            let entry = entry.ctx(|| format!("read {}", dir.display()))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let p = entry.path();
            if name.starts_with(TMP_PREFIX) || !p.join(READY).is_file() {
                tracing::info!(path = %p.display(), "removing incomplete snapshot");
                remove_tree(&p).ctx(|| format!("remove {}", p.display()))?;
            }
        }
        Ok(s)
    }

    fn path(&self, chain: &Digest) -> PathBuf {
        self.dir.join(chain.hex())
    }

    /// The directory to use as an overlay lower dir.
    pub(crate) fn fs_dir(&self, chain: &Digest) -> PathBuf {
        self.path(chain).join("fs")
    }

    pub(crate) fn get(&self, chain: &Digest) -> Option<SnapshotInfo> {
        let data = fs::read(self.path(chain).join(READY)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    /// Unpacks a layer into a fresh temp snapshot.
    pub(crate) fn unpack(&self, r: impl Read) -> Result<(TempSnapshot, Applied)> {
        let tmp = self
            .dir
            .join(format!("{TMP_PREFIX}{}", berth_stdx::id::random_hex(8)));
        let temp = TempSnapshot { dir: Some(tmp) };
        let fs_dir = temp.fs_dir();
        fs::create_dir_all(&fs_dir).ctx(|| format!("create {}", fs_dir.display()))?;
        fs::set_permissions(&fs_dir, fs::Permissions::from_mode(0o755))
            .ctx(|| format!("chmod {}", fs_dir.display()))?;
        let applied = apply_layer(&fs_dir, r)?;
        Ok((temp, applied))
    }

    /// Makes `temp` the snapshot `info.chain_id` (or drops it if that snapshot is
    /// already there) and returns the snapshot's info.
    pub(crate) fn commit(&self, temp: TempSnapshot, info: SnapshotInfo) -> Result<SnapshotInfo> {
        if let Some(existing) = self.get(&info.chain_id) {
            return Ok(existing);
        }
        let tmp = temp.dir.clone().expect("temp snapshot has a dir");
        // One flush of the whole filesystem instead of an fsync per file.
        syncfs(&tmp).ctx(|| format!("syncfs {}", tmp.display()))?;
        atomic_write_json(&tmp.join(READY), &info).ctx(|| "write snapshot marker".into())?;
        let target = self.path(&info.chain_id);
        if let Err(e) = fs::rename(&tmp, &target) {
            if self.get(&info.chain_id).is_some() {
                // Someone else committed the same layer concurrently.
                return Ok(self.get(&info.chain_id).unwrap_or(info));
            }
            if target.exists() {
                // An unready leftover: replace it.
                remove_tree(&target).ctx(|| format!("remove {}", target.display()))?;
                fs::rename(&tmp, &target).ctx(|| format!("commit snapshot {}", info.chain_id))?;
            } else {
                return Err(Error::io(format!("commit snapshot {}", info.chain_id), e));
            }
        }
        let mut temp = temp;
        temp.dir = None;
        fsync_dir(&self.dir).ctx(|| format!("fsync {}", self.dir.display()))?;
        Ok(info)
    }

    pub(crate) fn remove(&self, chain: &Digest) -> Result<()> {
        let p = self.path(chain);
        // Drop the marker first: a crash mid-removal leaves an unready dir, which
        // `open` removes, never a half-empty "ready" snapshot.
        match fs::remove_file(p.join(READY)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("remove snapshot {chain}"), e)),
        }
        remove_tree(&p).ctx(|| format!("remove snapshot {chain}"))
    }

    /// Every ready snapshot.
    pub(crate) fn list(&self) -> Result<Vec<SnapshotInfo>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).ctx(|| format!("read {}", self.dir.display()))? {
            let entry = entry.ctx(|| format!("read {}", self.dir.display()))?;
            let name = entry.file_name();
            let Ok(chain) = format!("sha256:{}", name.to_string_lossy()).parse::<Digest>() else {
                continue;
            };
            if let Some(info) = self.get(&chain) {
                out.push(info);
            }
        }
        Ok(out)
    }
}

/// An unpacked layer not yet committed; dropping it removes it.
pub(crate) struct TempSnapshot {
    dir: Option<PathBuf>,
}

impl TempSnapshot {
    fn fs_dir(&self) -> PathBuf {
        self.dir
            .as_ref()
            .expect("temp snapshot has a dir")
            .join("fs")
    }
}

impl Drop for TempSnapshot {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            let _ = remove_tree(&d);
        }
    }
}

/// `remove_dir_all` that also copes with directories a layer made read-only (when not
/// running as root). Never follows symlinks.
pub(crate) fn remove_tree(p: &Path) -> io::Result<()> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            make_writable(p);
            fs::remove_dir_all(p)
        }
        Err(e) => Err(e),
    }
}

fn make_writable(p: &Path) {
    let Ok(md) = fs::symlink_metadata(p) else {
        return;
    };
    if !md.is_dir() {
        return;
    }
    let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            make_writable(&e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(name: &str) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &b"abc"[..]).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn chain_ids_match_docker() {
        let a: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
        let b = Digest::sha256_of(b"b");
        let c = chain_ids(&[a.clone(), b.clone()]);
        assert_eq!(c[0], a);
        assert_eq!(c[1], Digest::sha256_of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn unpack_commit_reuse_remove() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshots::open(dir.path()).unwrap();
        let data = layer("f");
        let diff = Digest::sha256_of(&data);
        let (tmp, applied) = s.unpack(&data[..]).unwrap();
        assert_eq!(applied.size, 3);
        let info = SnapshotInfo {
            chain_id: diff.clone(),
            diff_id: diff.clone(),
            parent: None,
            size: applied.size,
        };
        s.commit(tmp, info.clone()).unwrap();
        assert_eq!(fs::read(s.fs_dir(&diff).join("f")).unwrap(), b"abc");
        // A second commit of the same chain keeps the first and drops the temp dir.
        let (tmp2, _) = s.unpack(&data[..]).unwrap();
        assert_eq!(s.commit(tmp2, info.clone()).unwrap(), info);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(s.list().unwrap(), vec![info]);
        s.remove(&diff).unwrap();
        assert!(s.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn open_removes_incomplete_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(".tmp-1234/fs/x")).unwrap();
        let unready = Digest::sha256_of(b"x");
        fs::create_dir_all(dir.path().join(unready.hex()).join("fs")).unwrap();
        let s = Snapshots::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(s.get(&unready).is_none());
    }

    #[test]
    fn failed_unpack_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Snapshots::open(dir.path()).unwrap();
        let data = layer("f");
        assert!(s.unpack(&data[..600]).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

//! The build cache: step key -> image id, one small file per entry under
//! `<data-root>/builder/cache/`, written atomically, so it survives restarts and a
//! crash never leaves a half-written entry.
//!
//! A key is the sha256 of the parent image id, the step's text after substitution
//! (with the build args in effect for RUN) and, for COPY/ADD, the checksum of what is
//! copied (bytes, modes, owners, names, never mtimes). A COPY/ADD from a spooled
//! context is keyed from the context's index instead (`copy_fast`: the same inputs,
//! with the destination and `--chown` as written, which the parent id pins), so a
//! hit needs neither the image mounted nor the context extracted. A hit is trusted
//! only while the image it names still exists.

use std::path::{Path, PathBuf};

use berth_stdx::Digest;
use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// One entry, for `system df` and `builder prune`.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheEntry {
    pub key: String,
    pub image: Digest,
    pub created: std::time::SystemTime,
    pub last_used: std::time::SystemTime,
}

impl Cache {
    pub fn open(dir: &Path) -> std::io::Result<Cache> {
        std::fs::create_dir_all(dir)?;
        Ok(Cache {
            dir: dir.to_path_buf(),
        })
    }

    /// The key of a step.
    pub fn key(parent: Option<&Digest>, text: &str) -> String {
        let mut h = Sha256::new();
        h.update(parent.map(|p| p.to_string()).unwrap_or_default());
        h.update([0u8]);
        h.update(text.as_bytes());
        hex::encode(h.finalize())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    pub fn get(&self, key: &str) -> Option<Digest> {
        let p = self.path(key);
        let s = std::fs::read_to_string(&p).ok()?;
        let d = s.trim().parse().ok()?;
        // Touch: the last use orders `builder prune --keep-storage`.
        let _ = std::fs::File::options()
            .append(true)
            .open(&p)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()));
        Some(d)
    }

    pub fn put(&self, key: &str, id: &Digest) -> std::io::Result<()> {
        berth_stdx::atomic_write(&self.path(key), id.to_string().as_bytes())
    }

    pub fn remove(&self, key: &str) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn entries(&self) -> Vec<CacheEntry> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let Ok(s) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            let Ok(image) = s.trim().parse() else {
                continue;
            };
            let md = e.metadata().ok();
            let created = md
                .as_ref()
                .and_then(|m| m.created().ok().or_else(|| m.modified().ok()))
                .unwrap_or(std::time::UNIX_EPOCH);
            let last_used = md
                .and_then(|m| m.modified().ok())
                .unwrap_or(std::time::UNIX_EPOCH);
            out.push(CacheEntry {
                key: name,
                image,
                created,
                last_used,
            });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_survives_reopen() {
        let t = tempfile::tempdir().unwrap();
        let id = Digest::sha256_of(b"x");
        let k = Cache::key(None, "RUN x");
        assert_ne!(k, Cache::key(Some(&id), "RUN x"));
        {
            let c = Cache::open(t.path()).unwrap();
            assert_eq!(c.get(&k), None);
            c.put(&k, &id).unwrap();
        }
        let c = Cache::open(t.path()).unwrap();
        assert_eq!(c.get(&k), Some(id.clone()));
        assert_eq!(c.entries().len(), 1);
        c.remove(&k).unwrap();
        assert!(c.entries().is_empty());
    }
}

//! The content store: immutable blobs addressed by digest.
//!
//! Lifecycle: a writer streams into `ingest/<random>` while hashing; `finish` flushes
//! it and yields an [`Ingested`] file with its digest and size; `commit` fsyncs it,
//! checks it against what the caller expected and renames it to
//! `blobs/<algo>/<hex>`, then fsyncs that directory. A blob path therefore only
//! ever holds complete, verified content. Dropping a writer or an `Ingested` file
//! removes it; `open` removes whatever a crash left in `ingest/`.
//!
//! Blob paths are only ever built from a parsed [`Digest`] (fixed algorithm names and
//! lowercase hex), never from a raw string, so no input can name a path outside the
//! store.

use crate::content_store::{ContentStore, ContentWriter};
use crate::error::{Error, IoContext, Result};
use berth_stdx::digest::{Algorithm, Hasher};
use berth_stdx::{Digest, fsync_dir};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub(crate) const BUF_SIZE: usize = 1 << 20;

/// The on-disk content store (`blobs/<algo>/<hex>`, `ingest/`).
#[derive(Debug, Clone)]
pub struct LocalContentStore {
    root: PathBuf,
    /// Write buffer of each writer, allocated when the writer starts.
    write_buf: usize,
}

impl LocalContentStore {
    /// Opens (creating) the store under `root` and removes ingest leftovers: only one
    /// process may use a store, and at open nothing can be mid-write.
    pub fn open(root: &Path) -> Result<LocalContentStore> {
        let store = LocalContentStore {
            root: root.to_path_buf(),
            write_buf: BUF_SIZE,
        };
        for d in [
            store.ingest_dir(),
            root.join("blobs/sha256"),
            root.join("blobs/sha512"),
        ] {
            fs::create_dir_all(&d).ctx(|| format!("create {}", d.display()))?;
        }
        let ingest = store.ingest_dir();
        for entry in fs::read_dir(&ingest).ctx(|| format!("read {}", ingest.display()))? {
            let entry = entry.ctx(|| format!("read {}", ingest.display()))?;
            let p = entry.path();
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
        Ok(store)
    }

    /// Sets each writer's buffer (default 1 MiB): smaller for a server that keeps
    /// many writers open at once (upload sessions), larger is faster for bulk loads.
    pub fn with_write_buffer(mut self, bytes: usize) -> LocalContentStore {
        self.write_buf = bytes.max(4096);
        self
    }

    fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }

    pub(crate) fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(d.algorithm().name())
            .join(d.hex())
    }

    pub(crate) fn has(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    pub(crate) fn open_blob(&self, d: &Digest) -> Result<File> {
        File::open(self.blob_path(d)).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::NotFound(format!("content {d}: blob not found"))
            } else {
                Error::io(format!("open blob {d}"), e)
            }
        })
    }

    pub(crate) fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let data = fs::read(self.blob_path(d)).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::NotFound(format!("content {d}: blob not found"))
            } else {
                Error::io(format!("read blob {d}"), e)
            }
        })?;
        Ok(data)
    }

    pub(crate) fn blob_size(&self, d: &Digest) -> Result<u64> {
        Ok(fs::metadata(self.blob_path(d))
            .ctx(|| format!("stat blob {d}"))?
            .len())
    }

    /// Starts a new write into `ingest/`.
    pub(crate) fn writer(&self) -> Result<IngestWriter> {
        let path = self.ingest_dir().join(berth_stdx::id::random_hex(16));
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&path)
            .ctx(|| format!("create {}", path.display()))?;
        Ok(IngestWriter {
            out: Some(BufWriter::with_capacity(self.write_buf, file)),
            path: Some(path),
            hasher: Hasher::new(berth_stdx::digest::Algorithm::Sha256),
            len: 0,
            store: self.clone(),
        })
    }

    /// Writes `data` as a blob (small things: configs, manifests).
    pub(crate) fn put(&self, data: &[u8]) -> Result<Digest> {
        let mut w = self.writer()?;
        w.write_all(data).ctx(|| "write blob".into())?;
        let (d, _) = w.commit(None)?;
        Ok(d)
    }

    pub(crate) fn delete(&self, d: &Digest) -> Result<()> {
        match fs::remove_file(self.blob_path(d)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("remove blob {d}"), e)),
        }
    }

    /// Every blob with its size.
    pub(crate) fn list(&self) -> Result<Vec<(Digest, u64)>> {
        let mut out = Vec::new();
        for algo in ["sha256", "sha512"] {
            let dir = self.root.join("blobs").join(algo);
            let rd = match fs::read_dir(&dir) {
                Ok(rd) => rd,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(format!("read {}", dir.display()), e)),
            };
            for entry in rd {
                let entry = entry.ctx(|| format!("read {}", dir.display()))?;
                let name = entry.file_name();
                let Ok(d) = format!("{algo}:{}", name.to_string_lossy()).parse::<Digest>() else {
                    continue;
                };
                let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((d, len));
            }
        }
        out.sort();
        Ok(out)
    }
}

/// A write in progress. Dropped without `finish`/`commit`, its file is removed.
pub(crate) struct IngestWriter {
    out: Option<BufWriter<File>>,
    path: Option<PathBuf>,
    hasher: Hasher,
    len: u64,
    store: LocalContentStore,
}

impl Write for IngestWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("ingest writer already finished"))?;
        let n = out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(o) => o.flush(),
            None => Ok(()),
        }
    }
}

impl IngestWriter {
    /// Flushes the data; the file stays in `ingest/` until committed or dropped.
    pub(crate) fn finish(mut self) -> Result<Ingested> {
        let out = self.out.take().expect("finish called once");
        // The handle is closed here: a load may hold thousands of spooled files, and
        // must not hold a descriptor for each. `commit` reopens to fsync.
        drop(
            out.into_inner()
                .map_err(|e| Error::io("write ingest file", e.into_error()))?,
        );
        let hasher = std::mem::replace(
            &mut self.hasher,
            Hasher::new(berth_stdx::digest::Algorithm::Sha256),
        );
        Ok(Ingested {
            path: self.path.take(),
            digest: hasher.finish(),
            size: self.len,
            store: self.store.clone(),
        })
    }

    /// `finish` + `commit`: verifies against `expected` when given.
    pub(crate) fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let ing = self.finish()?;
        if let Some(want) = expected
            && *want != ing.digest
        {
            return Err(Error::invalid(format!(
                "content digest mismatch: expected {want}, got {}",
                ing.digest
            )));
        }
        let (d, n) = (ing.digest.clone(), ing.size);
        ing.commit()?;
        Ok((d, n))
    }
}

impl Drop for IngestWriter {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// A complete file in `ingest/` with its digest, not yet a blob.
pub(crate) struct Ingested {
    path: Option<PathBuf>,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    store: LocalContentStore,
}

impl Ingested {
    /// Reopens the data for reading from the start.
    pub(crate) fn reader(&self) -> Result<File> {
        let p = self.path.as_ref().expect("uncommitted");
        File::open(p).ctx(|| format!("open {}", p.display()))
    }

    /// Makes it the blob `self.digest`: fsync, rename, fsync the directory. An existing
    /// blob with the same digest is kept (same content by definition).
    pub(crate) fn commit(mut self) -> Result<()> {
        let path = self.path.take().expect("commit called once");
        let target = self.store.blob_path(&self.digest);
        let r = (|| {
            if target.exists() {
                fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
                return Ok(());
            }
            File::open(&path)
                .and_then(|f| f.sync_all())
                .ctx(|| format!("fsync {}", path.display()))?;
            fs::rename(&path, &target).ctx(|| format!("commit blob {}", self.digest))?;
            let dir = target.parent().expect("blob path has a parent");
            fsync_dir(dir).ctx(|| format!("fsync {}", dir.display()))
        })();
        if r.is_err() {
            let _ = fs::remove_file(&path);
        }
        r
    }
}

impl Drop for Ingested {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = fs::remove_file(p);
        }
    }
}

impl ContentStore for LocalContentStore {
    fn writer(&self) -> Result<Box<dyn ContentWriter>> {
        Ok(Box::new(LocalContentStore::writer(self)?))
    }

    fn read_at(&self, d: &Digest, offset: u64) -> Result<Box<dyn Read + Send>> {
        let mut f = self.open_blob(d)?;
        if offset > 0 {
            f.seek(SeekFrom::Start(offset))
                .ctx(|| format!("seek blob {d}"))?;
        }
        Ok(Box::new(f))
    }

    fn stat(&self, d: &Digest) -> Result<Option<u64>> {
        match fs::metadata(self.blob_path(d)) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("stat blob {d}"), e)),
        }
    }

    fn delete(&self, d: &Digest) -> Result<bool> {
        match fs::remove_file(self.blob_path(d)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(format!("remove blob {d}"), e)),
        }
    }

    fn list(&self) -> Result<Vec<(Digest, u64)>> {
        LocalContentStore::list(self)
    }
}

impl ContentWriter for IngestWriter {
    fn written(&self) -> u64 {
        self.len
    }

    fn commit(self: Box<Self>, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        match expected {
            // The running hash is sha256; another algorithm is checked by re-reading
            // the ingest file, and the blob is then stored under that digest.
            Some(want) if want.algorithm() != Algorithm::Sha256 => {
                let mut ing = self.finish()?;
                let mut r = berth_stdx::DigestReader::with_algorithm(
                    io::BufReader::with_capacity(BUF_SIZE, ing.reader()?),
                    want.algorithm(),
                );
                io::copy(&mut r, &mut io::sink()).ctx(|| "read ingest file".into())?;
                let (got, _, _) = r.finish();
                if got != *want {
                    return Err(Error::invalid(format!(
                        "content digest mismatch: expected {want}, got {got}"
                    )));
                }
                ing.digest = got.clone();
                let n = ing.size;
                ing.commit()?;
                Ok((got, n))
            }
            _ => IngestWriter::commit(*self, expected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let cs = LocalContentStore::open(dir.path()).unwrap();
        crate::content_store::conformance::run(&cs);
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
    }

    #[test]
    fn write_verify_commit_read_delete() {
        let dir = tempfile::tempdir().unwrap();
        let cs = LocalContentStore::open(dir.path()).unwrap();
        let d = cs.put(b"hello").unwrap();
        assert_eq!(d, Digest::sha256_of(b"hello"));
        assert_eq!(cs.read_blob(&d).unwrap(), b"hello");
        assert_eq!(cs.list().unwrap(), vec![(d.clone(), 5)]);
        // the same content again is fine
        cs.put(b"hello").unwrap();
        cs.delete(&d).unwrap();
        assert!(!cs.has(&d));
        assert!(matches!(cs.read_blob(&d), Err(Error::NotFound(_))));
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
    }

    #[test]
    fn digest_mismatch_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cs = LocalContentStore::open(dir.path()).unwrap();
        let mut w = cs.writer().unwrap();
        w.write_all(b"abc").unwrap();
        let wrong = Digest::sha256_of(b"abd");
        assert!(w.commit(Some(&wrong)).is_err());
        assert!(cs.list().unwrap().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
    }

    #[test]
    fn dropped_writer_and_leftovers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let cs = LocalContentStore::open(dir.path()).unwrap();
        let mut w = cs.writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
        // a crash leftover
        fs::write(dir.path().join("ingest/deadbeef"), b"x").unwrap();
        LocalContentStore::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("ingest")).unwrap().count(), 0);
    }
}

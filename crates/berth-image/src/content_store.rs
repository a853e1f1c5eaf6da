//! The content store boundary: immutable blobs addressed by digest.
//!
//! Lifecycle of a write: [`ContentStore::writer`] starts an ingest; bytes are written
//! through it (hashed as they pass); [`ContentWriter::commit`] verifies the content
//! against the digest the caller expected (any supported algorithm) and only then
//! makes it visible as a blob. Dropping a writer discards what it holds. So a reader
//! never sees a partial or unverified blob, whatever happens mid-write; two writers
//! committing the same content both succeed and the blob is stored once.
//!
//! Two implementations run one conformance suite ([`conformance`], test-only): the
//! on-disk [`crate::LocalContentStore`] and the in-memory [`MemoryContentStore`].

use crate::error::{Error, Result};
use berth_stdx::Digest;
use berth_stdx::digest::Hasher;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

/// Blobs by digest. Implementations are cheap to share across threads; every call is
/// blocking I/O (call it from `spawn_blocking` in async code).
pub trait ContentStore: Send + Sync + std::fmt::Debug {
    /// Starts a write. Nothing is visible until [`ContentWriter::commit`].
    fn writer(&self) -> Result<Box<dyn ContentWriter>>;
    /// Reads blob `d` from byte `offset` on (`NotFound` when absent).
    fn read_at(&self, d: &Digest, offset: u64) -> Result<Box<dyn Read + Send>>;
    /// The size of blob `d`, or `None` when absent.
    fn stat(&self, d: &Digest) -> Result<Option<u64>>;
    /// Removes blob `d`; `false` when it was absent.
    fn delete(&self, d: &Digest) -> Result<bool>;
    /// Every blob with its size, sorted by digest.
    fn list(&self) -> Result<Vec<(Digest, u64)>>;

    /// Writes `data` as one blob, verified against `expected` when given.
    fn put(&self, data: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let mut w = self.writer()?;
        w.write_all(data).map_err(|e| Error::io("write blob", e))?;
        Ok(w.commit(expected)?.0)
    }
}

/// A write in progress; dropping it discards the data.
pub trait ContentWriter: Write + Send {
    /// Bytes written so far.
    fn written(&self) -> u64;
    /// Verifies the content against `expected` (when given, in its own algorithm;
    /// otherwise the sha256 is used) and makes it the blob; returns digest and size.
    /// A mismatch is `InvalidArgument` and stores nothing.
    fn commit(self: Box<Self>, expected: Option<&Digest>) -> Result<(Digest, u64)>;
}

/// An in-memory store for tests of code built on [`ContentStore`].
#[derive(Debug, Clone, Default)]
pub struct MemoryContentStore {
    blobs: Arc<Mutex<BTreeMap<Digest, Arc<Vec<u8>>>>>,
}

impl MemoryContentStore {
    pub fn new() -> MemoryContentStore {
        MemoryContentStore::default()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ContentStore for MemoryContentStore {
    fn writer(&self) -> Result<Box<dyn ContentWriter>> {
        Ok(Box::new(MemoryWriter {
            buf: Vec::new(),
            store: self.clone(),
        }))
    }

    fn read_at(&self, d: &Digest, offset: u64) -> Result<Box<dyn Read + Send>> {
        let data = lock(&self.blobs)
            .get(d)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("content {d}: blob not found")))?;
        let mut c = io::Cursor::new(ArcBytes(data));
        c.set_position(offset);
        Ok(Box::new(c))
    }

    fn stat(&self, d: &Digest) -> Result<Option<u64>> {
        Ok(lock(&self.blobs).get(d).map(|b| b.len() as u64))
    }

    fn delete(&self, d: &Digest) -> Result<bool> {
        Ok(lock(&self.blobs).remove(d).is_some())
    }

    fn list(&self) -> Result<Vec<(Digest, u64)>> {
        Ok(lock(&self.blobs)
            .iter()
            .map(|(d, b)| (d.clone(), b.len() as u64))
            .collect())
    }
}

struct ArcBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

struct MemoryWriter {
    buf: Vec<u8>,
    store: MemoryContentStore,
}

impl Write for MemoryWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ContentWriter for MemoryWriter {
    fn written(&self) -> u64 {
        self.buf.len() as u64
    }

    fn commit(self: Box<Self>, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let algo = expected
            .map(|d| d.algorithm())
            .unwrap_or(berth_stdx::digest::Algorithm::Sha256);
        let mut h = Hasher::new(algo);
        h.update(&self.buf);
        let got = h.finish();
        if let Some(want) = expected
            && *want != got
        {
            return Err(Error::invalid(format!(
                "content digest mismatch: expected {want}, got {got}"
            )));
        }
        let MemoryWriter { buf, store } = *self;
        let n = buf.len() as u64;
        lock(&store.blobs)
            .entry(got.clone())
            .or_insert_with(|| Arc::new(buf));
        Ok((got, n))
    }
}

/// The behaviour every [`ContentStore`] must have.
#[cfg(test)]
pub(crate) mod conformance {
    use super::*;
    use berth_stdx::digest::Algorithm;

    fn sha512_of(data: &[u8]) -> Digest {
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(data);
        h.finish()
    }

    fn read_all(cs: &dyn ContentStore, d: &Digest, off: u64) -> Vec<u8> {
        let mut v = Vec::new();
        cs.read_at(d, off).unwrap().read_to_end(&mut v).unwrap();
        v
    }

    pub(crate) fn run(cs: &dyn ContentStore) {
        write_read_stat_delete(cs);
        mismatch_stores_nothing(cs);
        dropped_writer_stores_nothing(cs);
        sha512_verified(cs);
        same_blob_twice_and_concurrently(cs);
        assert!(
            cs.list().unwrap().is_empty(),
            "suite leaves the store empty"
        );
    }

    fn write_read_stat_delete(cs: &dyn ContentStore) {
        let d = cs.put(b"hello world", None).unwrap();
        assert_eq!(d, Digest::sha256_of(b"hello world"));
        assert_eq!(cs.stat(&d).unwrap(), Some(11));
        assert_eq!(read_all(cs, &d, 0), b"hello world");
        assert_eq!(read_all(cs, &d, 6), b"world");
        assert_eq!(read_all(cs, &d, 11), b"");
        assert_eq!(cs.list().unwrap(), vec![(d.clone(), 11)]);
        assert!(cs.delete(&d).unwrap());
        assert!(!cs.delete(&d).unwrap());
        assert_eq!(cs.stat(&d).unwrap(), None);
        assert!(matches!(cs.read_at(&d, 0), Err(Error::NotFound(_))));
    }

    fn mismatch_stores_nothing(cs: &dyn ContentStore) {
        let wrong = Digest::sha256_of(b"other");
        let err = cs.put(b"data", Some(&wrong)).unwrap_err();
        assert_eq!(err.kind(), berth_stdx::ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("digest mismatch"), "{err}");
        assert!(cs.list().unwrap().is_empty());
        assert_eq!(cs.stat(&Digest::sha256_of(b"data")).unwrap(), None);
    }

    fn dropped_writer_stores_nothing(cs: &dyn ContentStore) {
        let mut w = cs.writer().unwrap();
        w.write_all(b"partial").unwrap();
        assert_eq!(w.written(), 7);
        drop(w);
        assert!(cs.list().unwrap().is_empty());
    }

    fn sha512_verified(cs: &dyn ContentStore) {
        let want = sha512_of(b"five twelve");
        let bad = sha512_of(b"other");
        assert!(cs.put(b"five twelve", Some(&bad)).is_err());
        assert!(cs.list().unwrap().is_empty());
        let mut w = cs.writer().unwrap();
        w.write_all(b"five ").unwrap();
        w.write_all(b"twelve").unwrap();
        assert_eq!(w.commit(Some(&want)).unwrap(), (want.clone(), 11));
        assert_eq!(read_all(cs, &want, 0), b"five twelve");
        assert!(cs.delete(&want).unwrap());
    }

    fn same_blob_twice_and_concurrently(cs: &dyn ContentStore) {
        let data = vec![7u8; 300_000];
        let d = Digest::sha256_of(&data);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let mut w = cs.writer().unwrap();
                    for c in data.chunks(10_000) {
                        w.write_all(c).unwrap();
                    }
                    assert_eq!(w.commit(Some(&d)).unwrap(), (d.clone(), 300_000));
                });
            }
        });
        assert_eq!(cs.list().unwrap(), vec![(d.clone(), 300_000)]);
        assert_eq!(read_all(cs, &d, 0), data);
        assert!(cs.delete(&d).unwrap());
    }

    #[test]
    fn memory_store() {
        run(&MemoryContentStore::new());
    }
}

//! A received build context kept as one spooled tar plus an index of what
//! extracting it would create (path -> kind, mode, size, content digest), built in a
//! single pass while the body arrives.
//!
//! Why: a rebuild where every step is a cache hit needs only the checksums of what
//! each COPY/ADD copies, and the index has them. Creating thousands of small files on
//! every build (and removing them after) cost more than everything else a no-change
//! rebuild does, so the context is extracted only when a step actually has to read
//! it (a cache miss, or a source the index cannot answer for).
//!
//! The index mirrors [`extract_context`] exactly only for "plain" tars: every parent
//! is an earlier directory entry, no path repeats, no parent goes through a symlink,
//! hard links point at earlier regular files. Those are what the docker CLI (and
//! berth's) send. Anything else drops the index and extracts right away, so a hostile
//! or unusual tar takes the confined extraction path it always took.
//!
//! Memory: the body is copied to the spool file through a fixed buffer and hashed on
//! the way; only the index (one small record per entry) stays in memory.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use super::{PadEnd, clean, extract_context, remove_ignored};

/// What extracting one entry creates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Dir,
    /// Size, sha256 of the content, and where the content starts in the spool.
    File {
        size: u64,
        digest: [u8; 32],
        offset: u64,
    },
    Symlink(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub(crate) kind: Kind,
    /// The permission bits the extracted file or directory gets.
    pub(crate) mode: u32,
    /// The mtime a regular file gets (never part of a key).
    pub(crate) mtime: Option<u64>,
}

/// A build context received from a client; see the module docs.
pub struct SpooledContext {
    /// Where the context is (or will be) extracted.
    dir: PathBuf,
    /// The decompressed tar as received.
    tar: PathBuf,
    /// `None`: the tar was not plain and is already extracted.
    index: Option<BTreeMap<Vec<u8>, Entry>>,
    /// The Dockerfile's name, for `.dockerignore` after a lazy extraction.
    dockerfile: Mutex<Option<String>>,
    extracted: Mutex<Extracted>,
}

/// What of the context is on disk.
#[derive(Debug, Default)]
struct Extracted {
    /// The whole tar was extracted, and how that went.
    full: Option<Result<(), String>>,
    /// Subtrees written from the index (see [`SpooledContext::extract_sources`]).
    parts: Vec<Vec<u8>>,
}

impl std::fmt::Debug for SpooledContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the index: it has an entry per file of the context.
        f.debug_struct("SpooledContext")
            .field("dir", &self.dir)
            .field("tar", &self.tar)
            .field("entries", &self.index.as_ref().map(BTreeMap::len))
            .field(
                "extracted",
                &self.extracted.lock().ok().map(|g| g.full.clone()),
            )
            .finish()
    }
}

/// Copies everything read into the spool file.
struct Tee<R, W> {
    inner: R,
    out: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.out.write_all(&buf[..k])?;
        Ok(k)
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why a tar is not plain: the index would have to re-implement the extraction's
/// link-following to stay exact, so it is dropped instead.
struct NotPlain;

fn poisoned() -> io::Error {
    io::Error::other("build context state poisoned by a panic")
}

fn key_of(parts: &[&OsStr]) -> Vec<u8> {
    let mut k = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(b'/');
        }
        k.extend_from_slice(p.as_bytes());
    }
    k
}

impl SpooledContext {
    /// Reads a (decompressed) context tar from `r`: spools it to `tar`, indexes it,
    /// and extracts it into `dir` right away only when it is not plain.
    pub fn receive(r: impl Read, tar: &Path, dir: &Path) -> io::Result<SpooledContext> {
        let file = std::fs::File::create(tar)?;
        let mut tee = Tee {
            inner: r,
            out: BufWriter::with_capacity(256 << 10, file),
        };
        let index = index(&mut tee)?;
        // Whatever follows the end blocks is the caller's to drain; the spool holds
        // the archive itself.
        tee.out.flush()?;
        let ctx = SpooledContext {
            dir: dir.to_path_buf(),
            tar: tar.to_path_buf(),
            index: None,
            dockerfile: Mutex::new(None),
            extracted: Mutex::new(Extracted::default()),
        };
        match index {
            Ok(ix) => Ok(SpooledContext {
                index: Some(ix),
                ..ctx
            }),
            Err(NotPlain) => {
                ctx.extract()?;
                Ok(ctx)
            }
        }
    }

    /// The extracted context directory (valid once [`Self::extract`] succeeded).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Extracts the spooled tar into the context dir (once; later calls return the
    /// first result), then applies the daemon's `.dockerignore` share.
    pub fn extract(&self) -> io::Result<()> {
        let mut st = self.extracted.lock().map_err(|_| poisoned())?;
        let res = st.full.get_or_insert_with(|| {
            let f = std::fs::File::open(&self.tar).map_err(|e| e.to_string())?;
            extract_context(io::BufReader::with_capacity(256 << 10, f), &self.dir)
                .map_err(|e| e.to_string())?;
            if let Some(name) = self.dockerfile.lock().map(|g| g.clone()).ok().flatten() {
                remove_ignored(&self.dir, &name);
            }
            Ok(())
        });
        res.clone()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Writes only the subtrees `keys` (index keys, as [`Self::resolve_source`]
    /// gives them; `""` is everything) and their parent directories, from the index
    /// and the spool: a COPY of one file out of a large context creates one file.
    /// The result is what [`Self::extract`] would have put at those paths: the index
    /// is plain, so every path is a chain of real directories the extraction made.
    pub(crate) fn extract_sources(&self, keys: &[Vec<u8>]) -> io::Result<()> {
        let Some(ix) = self.index.as_ref() else {
            return self.extract();
        };
        if keys.iter().any(Vec::is_empty) {
            return self.extract();
        }
        let mut st = self.extracted.lock().map_err(|_| poisoned())?;
        if let Some(res) = &st.full {
            return res
                .clone()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
        }
        let mut spool = std::fs::File::open(&self.tar)?;
        for key in keys {
            let covered = st
                .parts
                .iter()
                .any(|p| key == p || (key.starts_with(p) && key.get(p.len()) == Some(&b'/')));
            if covered {
                continue;
            }
            // The parents first (all plain directories), then the subtree in key
            // order, which puts every directory before what it holds.
            let mut todo: Vec<&[u8]> = Vec::new();
            for (i, b) in key.iter().enumerate() {
                if *b == b'/' {
                    todo.push(&key[..i]);
                }
            }
            let mut prefix = key.clone();
            prefix.push(b'/');
            let under = ix
                .range(prefix.clone()..)
                .map(|(k, _)| k.as_slice())
                .take_while(|k| k.starts_with(&prefix));
            todo.push(key);
            todo.extend(under);
            for k in todo {
                if let Some(e) = ix.get(k) {
                    self.materialize(k, e, &mut spool)?;
                }
            }
            st.parts.push(key.clone());
        }
        Ok(())
    }

    /// Creates one index entry under the context dir, as the extraction does.
    fn materialize(&self, key: &[u8], e: &Entry, spool: &mut std::fs::File) -> io::Result<()> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let rel = Path::new(OsStr::from_bytes(key));
        let (parent, name) = match (rel.parent(), rel.file_name()) {
            (Some(p), Some(n)) => (p, n),
            _ => return Ok(()),
        };
        // The parent resolved inside the context dir (links followed as if it were
        // `/`): the index holds no symlinked parents, and this keeps it so even if
        // it did.
        let target = berth_stdx::rootpath::resolve_in_root(&self.dir, parent)?.join(name);
        match &e.kind {
            Kind::Dir => {
                match std::fs::create_dir(&target) {
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                    other => other?,
                }
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(e.mode))?;
            }
            Kind::File { size, offset, .. } => {
                let mut f = match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(e.mode)
                    .open(&target)
                {
                    // Written by an earlier subtree (a parent of this key's chain).
                    Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                    other => other?,
                };
                spool.seek(SeekFrom::Start(*offset))?;
                let n = io::copy(&mut Read::by_ref(spool).take(*size), &mut f)?;
                if n != *size {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "build context spool is truncated",
                    ));
                }
                f.set_permissions(std::fs::Permissions::from_mode(e.mode))?;
                if let Some(m) = e.mtime {
                    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(m))?;
                }
            }
            Kind::Symlink(t) => match std::os::unix::fs::symlink(OsStr::from_bytes(t), &target) {
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                other => other?,
            },
        }
        Ok(())
    }

    /// The content of a regular file named by `rel` with no symlink on the way, read
    /// from the spool; `None` when the index cannot answer (no index, a symlink, a
    /// missing file): the caller extracts and reads the directory instead.
    pub fn read_plain(&self, rel: &str) -> Option<Vec<u8>> {
        let (_, e) = self.lookup(rel)?;
        let Kind::File { size, offset, .. } = e.kind else {
            return None;
        };
        let mut f = std::fs::File::open(&self.tar).ok()?;
        f.seek(SeekFrom::Start(offset)).ok()?;
        let mut out = Vec::with_capacity(size.min(1 << 20) as usize);
        f.take(size).read_to_end(&mut out).ok()?;
        (out.len() as u64 == size).then_some(out)
    }

    /// The daemon's share of `.dockerignore` (see [`remove_ignored`]) on the index,
    /// and on the directory whenever it gets extracted.
    pub fn remove_ignored(&mut self, dockerfile_rel: &str) {
        if let Ok(mut g) = self.dockerfile.lock() {
            *g = Some(dockerfile_rel.to_string());
        }
        if self
            .extracted
            .lock()
            .map(|g| g.full.is_some())
            .unwrap_or(false)
        {
            remove_ignored(&self.dir, dockerfile_rel);
        }
        if self.index.is_none() {
            return;
        }
        let text = match self.lookup(".dockerignore") {
            None => return,
            Some((
                _,
                Entry {
                    kind: Kind::File { .. },
                    ..
                },
            )) => match self.read_plain(".dockerignore") {
                Some(b) => String::from_utf8_lossy(&b).into_owned(),
                None => return self.drop_index(),
            },
            // A symlinked .dockerignore: the directory walk decides.
            Some(_) => return self.drop_index(),
        };
        let ig = crate::dockerignore::Ignore::parse(&text);
        for f in [dockerfile_rel, ".dockerignore"] {
            if !ig.excluded(f) {
                continue;
            }
            let Some(parts) = clean(f.as_bytes()) else {
                continue;
            };
            let Some(ix) = self.index.as_mut() else {
                return;
            };
            // The files' parents must be plain directories for the index to know
            // what `resolve_in_root_nofollow` would name.
            let mut plain = true;
            for i in 1..parts.len() {
                if !matches!(
                    ix.get(&key_of(&parts[..i])),
                    Some(Entry {
                        kind: Kind::Dir,
                        ..
                    })
                ) {
                    plain = false;
                }
            }
            if !plain {
                return self.drop_index();
            }
            let k = key_of(&parts);
            if matches!(ix.get(&k), Some(e) if e.kind != Kind::Dir) {
                ix.remove(&k);
            }
        }
    }

    fn drop_index(&mut self) {
        self.index = None;
    }

    /// The entry `rel` names, with no symlink on the way (the last component may
    /// not be one either: a symlinked source is resolved by the directory walk).
    pub(crate) fn lookup(&self, rel: &str) -> Option<(Vec<u8>, &Entry)> {
        let ix = self.index.as_ref()?;
        let parts = clean(rel.as_bytes())?;
        for i in 1..parts.len() {
            match ix.get(&key_of(&parts[..i])) {
                Some(Entry {
                    kind: Kind::Dir, ..
                }) => {}
                _ => return None,
            }
        }
        let k = key_of(&parts);
        match ix.get(&k) {
            Some(e) if !matches!(e.kind, Kind::Symlink(_)) => Some((k, e)),
            _ => None,
        }
    }

    /// Like [`Self::lookup`] for COPY sources, telling "not there" (`Ok(None)`)
    /// apart from "the index cannot say" (`Err`: no index, a symlink or a file on the
    /// way, a name that is not UTF-8). `""` is the context's root.
    pub(crate) fn resolve_source(&self, rel: &str) -> Result<Option<(Vec<u8>, Entry)>, ()> {
        let ix = self.index.as_ref().ok_or(())?;
        let Some(parts) = clean(rel.as_bytes()) else {
            let root = Entry {
                kind: Kind::Dir,
                mode: 0,
                mtime: None,
            };
            return Ok(Some((Vec::new(), root)));
        };
        for i in 1..=parts.len() {
            match ix.get(&key_of(&parts[..i])) {
                None => return Ok(None),
                Some(Entry {
                    kind: Kind::Symlink(_),
                    ..
                }) => return Err(()),
                Some(Entry {
                    kind: Kind::Dir, ..
                }) => {}
                Some(e) if i == parts.len() => return Ok(Some((key_of(&parts), e.clone()))),
                Some(_) => return Err(()),
            }
        }
        let k = key_of(&parts);
        let e = ix.get(&k).cloned().ok_or(())?;
        Ok(Some((k, e)))
    }

    /// The names directly under the directory `key` (`""`: the root), sorted;
    /// `Err` for a name that is not UTF-8.
    pub(crate) fn children(&self, key: &[u8]) -> Result<Vec<String>, ()> {
        let ix = self.index.as_ref().ok_or(())?;
        let mut prefix = key.to_vec();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        let mut out = Vec::new();
        for (k, _) in ix.range(prefix.clone()..) {
            let Some(rel) = k.strip_prefix(prefix.as_slice()) else {
                break;
            };
            if !rel.contains(&b'/') {
                out.push(String::from_utf8(rel.to_vec()).map_err(|_| ())?);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The index, when there is one.
    pub(crate) fn index(&self) -> Option<&BTreeMap<Vec<u8>, Entry>> {
        self.index.as_ref()
    }
}

/// One pass over the tar: every file's content is hashed as the tee spools it.
fn index<R: Read, W: Write>(
    tee: &mut Tee<R, W>,
) -> io::Result<Result<BTreeMap<Vec<u8>, Entry>, NotPlain>> {
    let mut ar = tar::Archive::new(PadEnd {
        inner: tee,
        n: 0,
        pad: None,
    });
    let mut ix: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
    let mut plain = true;
    for e in ar.entries()? {
        let mut e = e?;
        if !plain {
            // Still read to the end: the spool must hold the whole archive.
            io::copy(&mut e, &mut io::sink())?;
            continue;
        }
        let raw = e.path_bytes().into_owned();
        let Some(parts) = clean(&raw) else {
            continue;
        };
        let parents_plain = (1..parts.len()).all(|i| {
            matches!(
                ix.get(&key_of(&parts[..i])),
                Some(Entry {
                    kind: Kind::Dir,
                    ..
                })
            )
        });
        let k = key_of(&parts);
        if !parents_plain || ix.contains_key(&k) {
            plain = false;
            io::copy(&mut e, &mut io::sink())?;
            continue;
        }
        let mode = e.header().mode().unwrap_or(0o644) & 0o7777;
        let entry = match e.header().entry_type() {
            // The extraction adds owner rwx to directories.
            tar::EntryType::Directory => Entry {
                kind: Kind::Dir,
                mode: mode | 0o700,
                mtime: None,
            },
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let offset = e.raw_file_position();
                let mut h = Sha256::new();
                let size = io::copy(&mut e, &mut HashWriter(&mut h))?;
                Entry {
                    kind: Kind::File {
                        size,
                        digest: h.finalize().into(),
                        offset,
                    },
                    mode,
                    mtime: e.header().mtime().ok(),
                }
            }
            tar::EntryType::Symlink => {
                let link = e
                    .link_name_bytes()
                    .map(|b| b.into_owned())
                    .unwrap_or_default();
                Entry {
                    kind: Kind::Symlink(link),
                    mode: 0o777,
                    mtime: None,
                }
            }
            tar::EntryType::Link => {
                let link = e
                    .link_name_bytes()
                    .map(|b| b.into_owned())
                    .unwrap_or_default();
                let target = clean(&link).and_then(|lp| {
                    let through_dirs = (1..lp.len()).all(|i| {
                        matches!(
                            ix.get(&key_of(&lp[..i])),
                            Some(Entry {
                                kind: Kind::Dir,
                                ..
                            })
                        )
                    });
                    through_dirs.then(|| ix.get(&key_of(&lp))).flatten()
                });
                match target {
                    // A hard link shares the earlier file's content and mode.
                    Some(
                        t @ Entry {
                            kind: Kind::File { .. },
                            ..
                        },
                    ) => t.clone(),
                    _ => {
                        plain = false;
                        continue;
                    }
                }
            }
            // Devices, fifos and the like are skipped by the extraction too.
            _ => continue,
        };
        ix.insert(k, entry);
    }
    Ok(if plain { Ok(ix) } else { Err(NotPlain) })
}

/// The digest of what the sources `names` (index keys, in the order COPY takes
/// them) hold: names, kinds, modes, sizes, contents and link targets of every entry
/// under each, never mtimes or owners (the context's owners are not kept).
pub(crate) fn sources_digest(ix: &BTreeMap<Vec<u8>, Entry>, names: &[Vec<u8>]) -> [u8; 32] {
    let mut h = Sha256::new();
    let one = |h: &mut Sha256, rel: &[u8], e: &Entry| {
        h.update((rel.len() as u64).to_le_bytes());
        h.update(rel);
        h.update(e.mode.to_le_bytes());
        match &e.kind {
            Kind::Dir => h.update(b"d"),
            Kind::File { size, digest, .. } => {
                h.update(b"f");
                h.update(size.to_le_bytes());
                h.update(digest);
            }
            Kind::Symlink(t) => {
                h.update(b"l");
                h.update((t.len() as u64).to_le_bytes());
                h.update(t);
            }
        }
    };
    // The context's root (a source of `.`): its own mode is never copied.
    let root = Entry {
        kind: Kind::Dir,
        mode: 0,
        mtime: None,
    };
    for name in names {
        h.update(b"src");
        h.update((name.len() as u64).to_le_bytes());
        h.update(name);
        let top = if name.is_empty() {
            Some(&root)
        } else {
            ix.get(name)
        };
        let Some(top) = top else {
            h.update(b"-");
            continue;
        };
        one(&mut h, b"", top);
        if top.kind == Kind::Dir {
            let mut prefix = name.clone();
            if !prefix.is_empty() {
                prefix.push(b'/');
            }
            for (k, e) in ix.range(prefix.clone()..) {
                let Some(rel) = k.strip_prefix(prefix.as_slice()) else {
                    break;
                };
                one(&mut h, rel, e);
            }
        }
    }
    h.finalize().into()
}

#[cfg(test)]
#[path = "context_spool_tests.rs"]
mod tests;

//! Repository metadata over the shared content store.
//!
//! Layout under `<data-root>/repositories/<name>/`:
//! - `_layers/<algo>/<hex>`: a blob pushed or mounted into this repository (a blob
//!   is only served from repositories that link it);
//! - `_manifests/revisions/<algo>/<hex>`: a manifest of this repository, as JSON
//!   `{"digest","mediaType","size"}`;
//! - `_manifests/tags/<tag>`: the digest a tag points to;
//! - `_manifests/referrers/<algo>/<subject hex>/<algo>-<hex>`: the descriptor of a
//!   manifest whose `subject` is that digest.
//!
//! Every file is written with `atomic_write` after the content it names is committed,
//! so a crash leaves at worst an unreferenced blob, never a link to a missing one.
//! Names and tags reaching this module are already validated (see `names`), and
//! digests are parsed `Digest`s, so no path built here can leave the root.

use berth_image::ContentStore;
use berth_stdx::{Digest, atomic_write};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A manifest revision record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Revision {
    pub(crate) digest: Digest,
    #[serde(rename = "mediaType")]
    pub(crate) media_type: String,
    pub(crate) size: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Storage {
    root: PathBuf,
    pub(crate) content: Arc<dyn ContentStore>,
}

fn not_found_ok<T: Default>(r: io::Result<T>) -> io::Result<T> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        r => r,
    }
}

fn remove(p: &Path) -> io::Result<bool> {
    match fs::remove_file(p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn digest_path(dir: PathBuf, d: &Digest) -> PathBuf {
    dir.join(d.algorithm().name()).join(d.hex())
}

impl Storage {
    pub(crate) fn new(root: PathBuf, content: Arc<dyn ContentStore>) -> io::Result<Storage> {
        fs::create_dir_all(&root)?;
        Ok(Storage { root, content })
    }

    fn repo(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub(crate) fn repo_exists(&self, name: &str) -> bool {
        let r = self.repo(name);
        r.join("_manifests").is_dir() || r.join("_layers").is_dir()
    }

    fn write_link(path: &Path, data: &[u8]) -> io::Result<()> {
        fs::create_dir_all(path.parent().expect("link has a parent"))?;
        atomic_write(path, data)
    }

    // ---- blobs

    pub(crate) fn link_blob(&self, name: &str, d: &Digest) -> io::Result<()> {
        let p = digest_path(self.repo(name).join("_layers"), d);
        if p.is_file() {
            return Ok(());
        }
        Self::write_link(&p, d.to_string().as_bytes())
    }

    /// The size of blob `d` if repository `name` links it and the content exists.
    pub(crate) fn blob_size(&self, name: &str, d: &Digest) -> io::Result<Option<u64>> {
        if !digest_path(self.repo(name).join("_layers"), d).is_file() {
            return Ok(None);
        }
        self.content.stat(d).map_err(io::Error::other)
    }

    pub(crate) fn unlink_blob(&self, name: &str, d: &Digest) -> io::Result<bool> {
        remove(&digest_path(self.repo(name).join("_layers"), d))
    }

    // ---- manifests

    pub(crate) fn put_revision(&self, name: &str, rev: &Revision) -> io::Result<()> {
        let p = digest_path(self.repo(name).join("_manifests/revisions"), &rev.digest);
        Self::write_link(&p, &serde_json::to_vec(rev)?)
    }

    pub(crate) fn revision(&self, name: &str, d: &Digest) -> io::Result<Option<Revision>> {
        let p = digest_path(self.repo(name).join("_manifests/revisions"), d);
        match fs::read(&p) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b)?)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn set_tag(&self, name: &str, tag: &str, d: &Digest) -> io::Result<()> {
        let p = self.repo(name).join("_manifests/tags").join(tag);
        Self::write_link(&p, d.to_string().as_bytes())
    }

    pub(crate) fn tag(&self, name: &str, tag: &str) -> io::Result<Option<Digest>> {
        let p = self.repo(name).join("_manifests/tags").join(tag);
        match fs::read_to_string(&p) {
            Ok(s) => Ok(s.trim().parse().ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn delete_tag(&self, name: &str, tag: &str) -> io::Result<bool> {
        remove(&self.repo(name).join("_manifests/tags").join(tag))
    }

    /// Sorted tags, or `None` when the repository does not exist.
    pub(crate) fn tags(&self, name: &str) -> io::Result<Option<Vec<String>>> {
        if !self.repo_exists(name) {
            return Ok(None);
        }
        let dir = self.repo(name).join("_manifests/tags");
        let mut out = Vec::new();
        for e in not_found_ok(fs::read_dir(&dir).map(Some))?
            .into_iter()
            .flatten()
        {
            let e = e?;
            if let Some(n) = e.file_name().to_str()
                && crate::names::valid_tag(n)
            {
                out.push(n.to_string());
            }
        }
        out.sort();
        Ok(Some(out))
    }

    /// Removes a manifest revision, the tags pointing to it and its referrer entry.
    pub(crate) fn delete_revision(&self, name: &str, d: &Digest) -> io::Result<bool> {
        let p = digest_path(self.repo(name).join("_manifests/revisions"), d);
        if !p.is_file() {
            return Ok(false);
        }
        for t in self.tags(name)?.unwrap_or_default() {
            if self.tag(name, &t)?.as_ref() == Some(d) {
                self.delete_tag(name, &t)?;
            }
        }
        let refdir = self.repo(name).join("_manifests/referrers");
        for algo in ["sha256", "sha512"] {
            for e in not_found_ok(fs::read_dir(refdir.join(algo)).map(Some))?
                .into_iter()
                .flatten()
            {
                let f = e?
                    .path()
                    .join(format!("{}-{}", d.algorithm().name(), d.hex()));
                remove(&f)?;
            }
        }
        remove(&p)
    }

    pub(crate) fn add_referrer(
        &self,
        name: &str,
        subject: &Digest,
        desc: &serde_json::Value,
        d: &Digest,
    ) -> io::Result<()> {
        let p = digest_path(self.repo(name).join("_manifests/referrers"), subject).join(format!(
            "{}-{}",
            d.algorithm().name(),
            d.hex()
        ));
        Self::write_link(&p, &serde_json::to_vec(desc)?)
    }

    /// Descriptors of the manifests whose subject is `subject`, sorted by digest.
    pub(crate) fn referrers(
        &self,
        name: &str,
        subject: &Digest,
    ) -> io::Result<Vec<serde_json::Value>> {
        let dir = digest_path(self.repo(name).join("_manifests/referrers"), subject);
        let mut files = Vec::new();
        for e in not_found_ok(fs::read_dir(&dir).map(Some))?
            .into_iter()
            .flatten()
        {
            files.push(e?.path());
        }
        files.sort();
        let mut out = Vec::new();
        for f in files {
            if let Ok(v) = serde_json::from_slice(&fs::read(&f)?) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// Every repository with at least one manifest, sorted.
    pub(crate) fn catalog(&self) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        walk(&self.root, "", &mut out)?;
        out.sort();
        Ok(out)
    }
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let Some(rd) = not_found_ok(fs::read_dir(dir).map(Some))? else {
        return Ok(());
    };
    for e in rd {
        let e = e?;
        let Some(n) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if n.starts_with('_') || !e.file_type()?.is_dir() {
            continue;
        }
        let name = if prefix.is_empty() {
            n.clone()
        } else {
            format!("{prefix}/{n}")
        };
        if e.path().join("_manifests").is_dir() {
            out.push(name.clone());
        }
        walk(&e.path(), &name, out)?;
    }
    Ok(())
}

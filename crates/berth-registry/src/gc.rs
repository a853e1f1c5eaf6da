//! Garbage collection: removes blobs that no repository links.
//!
//! Roots are the link files of every repository (`_layers` and manifest
//! `revisions`): a blob stays while any repository can serve it. A running server
//! makes this safe by holding its `gc_lock` for reading around every "commit content
//! then link it" step and for writing around a collection, so a blob is never swept
//! between its commit and its link. Offline, the data-root lock keeps servers out.

use berth_image::ContentStore;
use berth_stdx::Digest;
use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;

/// What a collection removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub blobs_removed: usize,
    pub bytes_freed: u64,
}

fn read_links(dir: &Path, out: &mut HashSet<Digest>) -> io::Result<()> {
    for algo in ["sha256", "sha512"] {
        let rd = match fs::read_dir(dir.join(algo)) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in rd {
            let name = e?.file_name();
            if let Ok(d) = format!("{algo}:{}", name.to_string_lossy()).parse() {
                out.insert(d);
            }
        }
    }
    Ok(())
}

fn mark(dir: &Path, out: &mut HashSet<Digest>) -> io::Result<()> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        if !e.file_type()?.is_dir() {
            continue;
        }
        let p = e.path();
        match e.file_name().to_str() {
            Some("_layers") => read_links(&p, out)?,
            Some("_manifests") => read_links(&p.join("revisions"), out)?,
            Some(n) if n.starts_with('_') => {}
            _ => mark(&p, out)?,
        }
    }
    Ok(())
}

/// Sweeps blobs of `content` not linked under `repositories`.
pub(crate) fn collect(repositories: &Path, content: &dyn ContentStore) -> io::Result<GcReport> {
    let mut live = HashSet::new();
    mark(repositories, &mut live)?;
    let mut report = GcReport::default();
    for (d, size) in content.list().map_err(io::Error::other)? {
        if !live.contains(&d) && content.delete(&d).map_err(io::Error::other)? {
            report.blobs_removed += 1;
            report.bytes_freed += size;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Revision, Storage};
    use berth_image::MemoryContentStore;
    use std::sync::Arc;

    #[test]
    fn sweeps_only_unlinked_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let content = Arc::new(MemoryContentStore::new());
        let st = Storage::new(dir.path().to_path_buf(), content.clone()).unwrap();
        let layer = content.put(b"layer", None).unwrap();
        let manifest = content.put(b"{}", None).unwrap();
        let orphan = content.put(b"orphan", None).unwrap();
        st.link_blob("a/b", &layer).unwrap();
        st.put_revision(
            "c",
            &Revision {
                digest: manifest.clone(),
                media_type: "x".into(),
                size: 2,
            },
        )
        .unwrap();
        let r = collect(dir.path(), content.as_ref()).unwrap();
        assert_eq!(
            r,
            GcReport {
                blobs_removed: 1,
                bytes_freed: 6
            }
        );
        assert_eq!(content.stat(&orphan).unwrap(), None);
        assert!(content.stat(&layer).unwrap().is_some());
        assert!(content.stat(&manifest).unwrap().is_some());
        // Unlinking makes the layer collectable.
        st.unlink_blob("a/b", &layer).unwrap();
        assert_eq!(
            collect(dir.path(), content.as_ref()).unwrap().blobs_removed,
            1
        );
    }
}

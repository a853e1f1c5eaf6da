//! `--mount type=volume,volume-subpath=sub/dir` (API `VolumeOptions.Subpath`): the
//! lexical check at create and the resolution inside the volume at start.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Go's `filepath.IsLocal`: non-empty, relative, and `..` never climbs above the start.
/// docker refuses any other subpath at create.
pub(crate) fn is_local(sub: &str) -> bool {
    if sub.is_empty() || sub.starts_with('/') {
        return false;
    }
    let mut depth = 0i32;
    for c in Path::new(sub).components() {
        match c {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    true
}

/// Resolves `sub` inside the volume data dir `base` at start (so a subpath swapped for
/// a symlink after create is judged as it is now).
///
/// Why this is safe: the path handed to the runtime is the one
/// `resolve_in_root(base, sub)` produced: symlinks re-rooted at `base` and `..` clamped
/// there, so it is `base` or below it whatever the volume holds. docker refuses (not
/// clamps) a subpath whose symlinks lead out of the volume, so a host-semantics
/// resolution (`canonicalize`, read-only) is compared as well: outside `base` is
/// docker's "escapes the base directory" error, a missing component its "cannot access
/// path" error, and a disagreement between the two (the tree changed in between) is
/// refused too. What remains is the window between this check and the runtime's bind
/// mount, in which a concurrent writer to the volume could swap a component.
pub(crate) fn resolve(base: &Path, sub: &str) -> Result<PathBuf> {
    let base = std::fs::canonicalize(base)
        .map_err(|e| Error::internal(format!("resolve {}: {e}", base.display())))?;
    let full = base.join(sub);
    let escapes = || {
        Error::invalid(format!(
            "path concatenation escapes the base directory, base: {}, subpath: {sub}",
            base.display()
        ))
    };
    if !is_local(sub) {
        return Err(escapes());
    }
    let host = match std::fs::canonicalize(&full) {
        Ok(h) => h,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(not_accessible(&base, sub, &full));
        }
        Err(e) => {
            return Err(Error::internal(format!(
                "error while resolving symlinks in {}: {e}",
                full.display()
            )));
        }
    };
    if !host.starts_with(&base) {
        return Err(escapes());
    }
    // The host-semantics result, relative to `base`, has no symlink left; walking it
    // again in scope catches a component swapped for a link since `canonicalize`.
    let rel = host.strip_prefix(&base).unwrap_or(Path::new(""));
    let inside = berth_stdx::rootpath::resolve_in_root(&base, rel)
        .map_err(|e| Error::internal(format!("resolve {}: {e}", full.display())))?;
    if inside != host || std::fs::symlink_metadata(&inside).is_err() {
        return Err(Error::not_found(format!(
            "cannot access path {}: changed while it was resolved",
            full.display()
        )));
    }
    Ok(inside)
}

/// docker's `ErrNotAccessible` text: the first component that is missing.
fn not_accessible(base: &Path, sub: &str, full: &Path) -> Error {
    let mut p = base.to_path_buf();
    for c in Path::new(sub).components() {
        p.push(c);
        if std::fs::symlink_metadata(&p).is_err() {
            break;
        }
    }
    Error::not_found(format!(
        "cannot access path {}: lstat {}: no such file or directory",
        full.display(),
        p.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_local_is_gos() {
        for ok in ["a", "a/b", "a/../b", "./a", "a/.."] {
            assert!(is_local(ok), "{ok}");
        }
        for bad in ["", "/a", "..", "../a", "a/../..", "../../etc"] {
            assert!(!is_local(bad), "{bad}");
        }
    }

    #[test]
    fn hostile_subpaths_never_leave_the_volume() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().join("_data");
        std::fs::create_dir_all(base.join("sub/dir")).unwrap();
        std::os::unix::fs::symlink("/etc", base.join("etc")).unwrap();
        std::os::unix::fs::symlink("..", base.join("up")).unwrap();
        std::os::unix::fs::symlink("sub/dir", base.join("in")).unwrap();
        let cb = std::fs::canonicalize(&base).unwrap();
        assert_eq!(resolve(&base, "sub/dir").unwrap(), cb.join("sub/dir"));
        assert_eq!(resolve(&base, "in").unwrap(), cb.join("sub/dir"));
        assert_eq!(resolve(&base, "up/_data/in").unwrap(), cb.join("sub/dir"));
        assert_eq!(resolve(&base, "sub/..").unwrap(), cb);
        for bad in ["../../etc", "etc", "up", "up/_data/../..", "sub/../up"] {
            let e = resolve(&base, bad).unwrap_err();
            assert!(
                e.message
                    .starts_with("path concatenation escapes the base directory"),
                "{bad}: {}",
                e.message
            );
        }
        let e = resolve(&base, "sub/nope/x").unwrap_err();
        assert_eq!(
            e.message,
            format!(
                "cannot access path {0}/sub/nope/x: lstat {0}/sub/nope: no such file or directory",
                cb.display()
            )
        );
    }
}

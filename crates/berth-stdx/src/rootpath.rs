//! Resolving a path inside a root directory as if the root were `/`.
//!
//! Why: container roots, layer snapshots, volumes and build contexts are directories
//! whose contents an untrusted party controls. A naive `root.join(path)` follows a
//! symlink such as `etc -> /etc` out of the root, and `../` walks out of it. This
//! resolver walks the path one component at a time, reads every symlink it meets and
//! re-roots its target at `root`, and clamps `..` at the root, exactly like the kernel
//! would if the process were chrooted there (`FollowSymlinkInScope` in moby,
//! `securejoin` in runc).
//!
//! It is a lexical guard against escapes; it is not a guard against a concurrent
//! attacker swapping components after the check (callers that write into a live
//! container root do the final open with `O_NOFOLLOW` on the last component).

use std::ffi::OsStr;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The most symlinks followed while resolving one path (Linux's MAXSYMLINKS is 40).
const MAX_SYMLINKS: u32 = 40;

/// Resolves `unsafe_path` inside `root`, following symlinks in scope. The result is
/// always `root` or below it. Components that do not exist are appended as they are
/// (so the result may name a file to be created). The final component is followed if
/// it is a symlink.
pub fn resolve_in_root(root: &Path, unsafe_path: &Path) -> io::Result<PathBuf> {
    resolve(root, unsafe_path, true)
}

/// Like [`resolve_in_root`], but a symlink in the final component is not followed: the
/// result names the link itself (for `lstat`, removal, or replacing it).
pub fn resolve_in_root_nofollow(root: &Path, unsafe_path: &Path) -> io::Result<PathBuf> {
    resolve(root, unsafe_path, false)
}

fn resolve(root: &Path, unsafe_path: &Path, follow_last: bool) -> io::Result<PathBuf> {
    // `rel` is the resolved path relative to root, kept as a list of names so that
    // `..` can pop and can never pop past the root.
    let mut rel: Vec<std::ffi::OsString> = Vec::new();
    // Pending components, processed front to back; a symlink's target is pushed in
    // front of the remainder.
    let mut pending: Vec<std::ffi::OsString> = components(unsafe_path);
    pending.reverse();
    let mut links = 0u32;

    while let Some(name) = pending.pop() {
        if name == OsStr::new("..") {
            rel.pop();
            continue;
        }
        let candidate = join(root, &rel).join(&name);
        let is_last = pending.is_empty();
        if is_last && !follow_last {
            rel.push(name);
            break;
        }
        match std::fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(io::Error::other(format!(
                        "too many levels of symbolic links resolving {}",
                        unsafe_path.display()
                    )));
                }
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    rel.clear();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            Ok(_) => rel.push(name),
            Err(e) if e.kind() == io::ErrorKind::NotFound => rel.push(name),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => rel.push(name),
            Err(e) => return Err(e),
        }
    }
    Ok(join(root, &rel))
}

fn components(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

fn join(root: &Path, rel: &[std::ffi::OsString]) -> PathBuf {
    let mut p = root.to_path_buf();
    for n in rel {
        p.push(n);
    }
    p
}

/// Cleans a path lexically the way Go's `filepath.Clean` does for an absolute path:
/// the result starts with `/`, has no `.`, no `..` above the root and no double slashes.
pub fn clean_absolute(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::create_dir_all(d.path().join("usr/lib")).unwrap();
        d
    }

    #[test]
    fn dotdot_is_clamped_at_root() {
        let r = root();
        let got = resolve_in_root(r.path(), Path::new("../../../etc/passwd")).unwrap();
        assert_eq!(got, r.path().join("etc/passwd"));
    }

    #[test]
    fn absolute_symlink_is_rerooted() {
        let r = root();
        symlink("/etc", r.path().join("hostetc")).unwrap();
        let got = resolve_in_root(r.path(), Path::new("/hostetc/shadow")).unwrap();
        assert_eq!(got, r.path().join("etc/shadow"));
    }

    #[test]
    fn relative_symlink_escaping_is_clamped() {
        let r = root();
        symlink("../../../../../", r.path().join("usr/lib/up")).unwrap();
        let got = resolve_in_root(r.path(), Path::new("usr/lib/up/etc/x")).unwrap();
        assert_eq!(got, r.path().join("etc/x"));
    }

    #[test]
    fn symlink_loop_is_an_error() {
        let r = root();
        symlink("b", r.path().join("a")).unwrap();
        symlink("a", r.path().join("b")).unwrap();
        assert!(resolve_in_root(r.path(), Path::new("a")).is_err());
    }

    #[test]
    fn nofollow_keeps_last_link() {
        let r = root();
        symlink("/etc", r.path().join("l")).unwrap();
        let got = resolve_in_root_nofollow(r.path(), Path::new("l")).unwrap();
        assert_eq!(got, r.path().join("l"));
    }

    #[test]
    fn clean() {
        assert_eq!(clean_absolute("a/./b/../c//"), "/a/c");
        assert_eq!(clean_absolute("/../.."), "/");
        assert_eq!(clean_absolute(""), "/");
    }
}

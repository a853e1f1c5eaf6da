//! Build contexts: a directory as a tar (what the CLI streams to the daemon, with
//! `.dockerignore` applied), and the daemon's extraction of that tar. The daemon
//! receives it as a [`SpooledContext`] (`context_spool.rs`): spooled and indexed in
//! one pass, extracted only as far as a step needs.
//!
//! Security: the context tar comes from the client and is hostile by assumption.
//! Every entry name is cleaned lexically, its parent directory is resolved with
//! `resolve_in_root` inside the extraction root (so an earlier entry `a -> /etc`
//! makes `a/passwd` land in `<root>/etc/passwd`, never on the host), the entry itself
//! is created fresh (an existing non-directory is removed first, never written
//! through), and hard links may only point at regular files inside the root.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_stdx::rootpath::{resolve_in_root, resolve_in_root_nofollow};

use crate::dockerignore::Ignore;

#[path = "context_spool.rs"]
mod spool;
pub use spool::SpooledContext;
pub(crate) use spool::{Kind, sources_digest};

/// Writes `dir` as a tar to `out`, skipping what `ignore` excludes. Owners are
/// written as 0:0 (as the docker CLI does); names are sorted, so the same tree gives
/// the same tar.
pub fn write_context_tar(dir: &Path, ignore: &Ignore, out: impl Write) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut pending_dirs: Vec<(String, std::fs::Metadata)> = Vec::new();
    walk(dir, "", ignore, &mut b, &mut pending_dirs)?;
    b.into_inner()?.flush()
}

fn header(md: &std::fs::Metadata, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(md.permissions().mode() & 0o7777);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(md.mtime().max(0) as u64);
    h.set_size(size);
    h
}

fn walk<W: Write>(
    dir: &Path,
    rel: &str,
    ignore: &Ignore,
    b: &mut tar::Builder<W>,
    pending: &mut Vec<(String, std::fs::Metadata)>,
) -> io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for n in names {
        let name = n.to_string_lossy();
        let child_rel = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        let path = dir.join(&n);
        let md = path.symlink_metadata()?;
        let excluded = ignore.excluded(&child_rel);
        if md.is_dir() {
            if excluded && !ignore.has_exceptions() {
                continue;
            }
            pending.push((child_rel.clone(), md));
            if !excluded {
                flush_dirs(b, pending)?;
            }
            walk(&path, &child_rel, ignore, b, pending)?;
            // A directory excluded with nothing re-included below it stays out.
            if pending.last().map(|p| &p.0) == Some(&child_rel) {
                pending.pop();
            }
            continue;
        }
        if excluded {
            continue;
        }
        flush_dirs(b, pending)?;
        if md.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            let mut h = header(&md, tar::EntryType::Symlink, 0);
            b.append_link(&mut h, &child_rel, target)?;
        } else if md.is_file() {
            let f = std::fs::File::open(&path)?;
            let mut h = header(&md, tar::EntryType::Regular, md.len());
            b.append_data(&mut h, &child_rel, f.take(md.len()))?;
        }
    }
    Ok(())
}

fn flush_dirs<W: Write>(
    b: &mut tar::Builder<W>,
    pending: &mut Vec<(String, std::fs::Metadata)>,
) -> io::Result<()> {
    for (rel, md) in pending.drain(..) {
        let mut h = header(&md, tar::EntryType::Directory, 0);
        b.append_data(&mut h, format!("{rel}/"), io::empty())?;
    }
    Ok(())
}

/// Extracts a (decompressed) context tar into `dest`, confined to it.
pub fn extract_context(r: impl Read, dest: &Path) -> io::Result<()> {
    let mut ar = tar::Archive::new(PadEnd {
        inner: r,
        n: 0,
        pad: None,
    });
    for e in ar.entries()? {
        let mut e = e?;
        let raw = e.path_bytes().into_owned();
        let Some(parts) = clean(&raw) else { continue };
        let (name, parents) = parts.split_last().expect("clean returns a non-empty list");
        let parent_rel: PathBuf = parents.iter().collect();
        // The parent resolved inside `dest`: links in it are followed as if `dest`
        // were `/`, so nothing can land outside.
        let parent = resolve_in_root(dest, &parent_rel)?;
        std::fs::create_dir_all(&parent)?;
        let target = parent.join(name);
        let kind = e.header().entry_type();
        if let Ok(md) = target.symlink_metadata()
            && !(md.is_dir() && kind == tar::EntryType::Directory)
        {
            if md.is_dir() {
                std::fs::remove_dir_all(&target)?;
            } else {
                std::fs::remove_file(&target)?;
            }
        }
        let mode = e.header().mode().unwrap_or(0o644) & 0o7777;
        match kind {
            tar::EntryType::Directory => {
                if !target.exists() {
                    std::fs::create_dir(&target)?;
                }
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode | 0o700))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                use std::os::unix::fs::OpenOptionsExt;
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(mode)
                    .open(&target)?;
                io::copy(&mut e, &mut f)?;
                f.set_permissions(std::fs::Permissions::from_mode(mode))?;
                if let Ok(mtime) = e.header().mtime() {
                    let _ = f.set_modified(
                        std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime),
                    );
                }
            }
            tar::EntryType::Symlink => {
                let link = e.link_name()?.unwrap_or_default().into_owned();
                std::os::unix::fs::symlink(link, &target)?;
            }
            tar::EntryType::Link => {
                let link = e.link_name()?.unwrap_or_default().into_owned();
                let Some(lparts) = clean(link.as_os_str().as_bytes()) else {
                    continue;
                };
                let lrel: PathBuf = lparts.iter().collect();
                let src = resolve_in_root_nofollow(dest, &lrel)?;
                match src.symlink_metadata() {
                    Ok(md) if md.is_file() => std::fs::hard_link(&src, &target)?,
                    _ => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("invalid hard link {} in the build context", lrel.display()),
                        ));
                    }
                }
            }
            // Devices, fifos and the like have no place in a build context.
            _ => {}
        }
    }
    Ok(())
}

/// The docker CLI's rewritten context tars (a Dockerfile from outside the context)
/// end without the last entry's padding and without end blocks, which Go's reader
/// accepts: at EOF this pads to the block size and adds the two zero end blocks.
struct PadEnd<R> {
    inner: R,
    n: u64,
    pad: Option<usize>,
}

impl<R: Read> Read for PadEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pad.is_none() {
            let k = self.inner.read(buf)?;
            if k > 0 {
                self.n += k as u64;
                return Ok(k);
            }
            let rem = (512 - (self.n % 512) as usize) % 512;
            self.pad = Some(rem + 1024);
        }
        let left = self.pad.unwrap_or(0);
        let k = left.min(buf.len());
        buf[..k].fill(0);
        self.pad = Some(left - k);
        Ok(k)
    }
}

/// Lexically cleaned components; `None` for the root itself. `..` never climbs
/// above the root.
fn clean(raw: &[u8]) -> Option<Vec<&OsStr>> {
    let mut out: Vec<&OsStr> = Vec::new();
    for p in raw.split(|b| *b == b'/') {
        match p {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            p => out.push(OsStr::from_bytes(p)),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The daemon's share of `.dockerignore`: the Dockerfile and `.dockerignore` reach it
/// even when ignored (the CLI must read them), and are then removed so no COPY sees
/// them.
pub fn remove_ignored(ctx: &Path, dockerfile_rel: &str) {
    let Ok(text) = std::fs::read_to_string(ctx.join(".dockerignore")) else {
        return;
    };
    let ig = Ignore::parse(&text);
    for f in [dockerfile_rel, ".dockerignore"] {
        if ig.excluded(f)
            && let Ok(p) = resolve_in_root_nofollow(ctx, Path::new(f))
        {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        b: &mut tar::Builder<Vec<u8>>,
        kind: tar::EntryType,
        path: &str,
        link: &str,
        data: &[u8],
    ) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        match kind {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                h.set_size(0);
                b.append_link(&mut h, path, link).unwrap();
            }
            _ => {
                // Raw names (with `..`) go through set_path's checks: write bytes directly.
                let name = h.as_old_mut();
                name.name[..path.len()].copy_from_slice(path.as_bytes());
                h.set_cksum();
                b.append(&h, data).unwrap();
            }
        }
    }

    #[test]
    fn hostile_context_stays_inside() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        entry(
            &mut b,
            tar::EntryType::Symlink,
            "esc",
            outside.path().to_str().unwrap(),
            b"",
        );
        entry(&mut b, tar::EntryType::Regular, "esc/pwned", "", b"x");
        entry(&mut b, tar::EntryType::Regular, "../../up", "", b"y");
        entry(&mut b, tar::EntryType::Symlink, "l2", "/etc/passwd", b"");
        entry(&mut b, tar::EntryType::Regular, "l2", "", b"over");
        let tar = b.into_inner().unwrap();
        extract_context(&tar[..], root.path()).unwrap();
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        // `esc/pwned` landed under the root's own copy of the outside path.
        let inside = root
            .path()
            .join(outside.path().strip_prefix("/").unwrap())
            .join("pwned");
        assert_eq!(std::fs::read(inside).unwrap(), b"x");
        assert_eq!(std::fs::read(root.path().join("up")).unwrap(), b"y");
        // The symlink was replaced, not written through.
        assert_eq!(std::fs::read(root.path().join("l2")).unwrap(), b"over");
    }

    #[test]
    fn a_tar_without_padding_or_end_blocks_is_accepted() {
        let mut b = tar::Builder::new(Vec::new());
        entry(&mut b, tar::EntryType::Regular, "f", "", b"abc");
        let mut tar = b.into_inner().unwrap();
        tar.truncate(512 + 3);
        let root = tempfile::tempdir().unwrap();
        extract_context(&tar[..], root.path()).unwrap();
        assert_eq!(std::fs::read(root.path().join("f")).unwrap(), b"abc");
    }

    #[test]
    fn hardlink_outside_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let mut b = tar::Builder::new(Vec::new());
        entry(&mut b, tar::EntryType::Link, "h", "/etc/passwd", b"");
        let tar = b.into_inner().unwrap();
        assert!(extract_context(&tar[..], root.path()).is_err());
    }

    #[test]
    fn tar_roundtrip_with_ignore() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("a/b")).unwrap();
        std::fs::create_dir_all(src.path().join("skip")).unwrap();
        std::fs::write(src.path().join("a/b/f"), "1").unwrap();
        std::fs::write(src.path().join("a/x.log"), "2").unwrap();
        std::fs::write(src.path().join("skip/f"), "3").unwrap();
        std::fs::write(src.path().join("Dockerfile"), "FROM x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.path().join("ln")).unwrap();
        let ig = Ignore::parse("**/*.log\nskip\n");
        let mut out = Vec::new();
        write_context_tar(src.path(), &ig, &mut out).unwrap();
        let dst = tempfile::tempdir().unwrap();
        extract_context(&out[..], dst.path()).unwrap();
        assert_eq!(std::fs::read(dst.path().join("a/b/f")).unwrap(), b"1");
        assert!(!dst.path().join("a/x.log").exists());
        assert!(!dst.path().join("skip").exists());
        assert_eq!(
            std::fs::read_link(dst.path().join("ln")).unwrap(),
            Path::new("/etc/passwd")
        );
    }

    #[test]
    fn reincluded_file_under_excluded_dir() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("d")).unwrap();
        std::fs::write(src.path().join("d/keep"), "k").unwrap();
        std::fs::write(src.path().join("d/drop"), "d").unwrap();
        let ig = Ignore::parse("d\n!d/keep\n");
        let mut out = Vec::new();
        write_context_tar(src.path(), &ig, &mut out).unwrap();
        let dst = tempfile::tempdir().unwrap();
        extract_context(&out[..], dst.path()).unwrap();
        assert!(dst.path().join("d/keep").exists());
        assert!(!dst.path().join("d/drop").exists());
    }
}

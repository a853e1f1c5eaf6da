//! Applying a layer tar stream to a snapshot directory.
//!
//! SECURITY: a layer is untrusted input and the snapshot directory will be a
//! container's root filesystem, so every entry is confined to `root`:
//!
//! * paths are cleaned lexically (leading `/` and `./` dropped); a `..` that would
//!   climb above the root rejects the layer (docker's breakout error);
//! * the parent directory of each entry is resolved with `resolve_in_root`, which
//!   follows symlinks *in scope* (as if chrooted at `root`), so `evil -> /etc` then
//!   `evil/passwd` writes `root/etc/passwd`, never the host's;
//! * the final component is never followed: an existing entry is `lstat`ed and removed,
//!   files are created with `O_CREAT|O_EXCL|O_NOFOLLOW`, and metadata of non-regular
//!   entries is set with the `*at(..., AT_SYMLINK_NOFOLLOW)`/`l*` calls;
//! * hardlink targets are cleaned and resolved the same way and must exist inside the
//!   root; `link(2)` does not follow a symlink target;
//! * xattrs that steer overlayfs (`trusted.overlay.*`, `user.overlay.*`) are dropped:
//!   only this code decides what is a whiteout or an opaque dir;
//! * device nodes are created only when running as root (images legitimately ship
//!   `/dev/null` and friends); the runtime's device cgroup governs their use.
//!
//! The layer is streamed: nothing is buffered beyond one 1 MiB copy buffer.
//! Whiteouts are converted to overlayfs form (`.wh.x` -> char device 0:0 named `x`,
//! `.wh..wh..opq` -> xattr `trusted.overlay.opaque=y` on the directory) so a snapshot
//! is usable directly as an overlay lower dir.

use crate::content::BUF_SIZE;
use crate::error::{Error, Result};
use berth_stdx::rootpath::{resolve_in_root, resolve_in_root_nofollow};
use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

const WHITEOUT_PREFIX: &str = ".wh.";
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";
const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";

/// What applying a layer produced.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Applied {
    /// Sum of the regular files' sizes (docker's layer size).
    pub(crate) size: u64,
}

/// Applies the tar stream `r` to the directory `root` (which must exist and must not
/// itself be reached through a symlink). Reads `r` to its end, so a digest computed
/// around `r` covers the whole stream.
pub(crate) fn apply_layer<R: Read>(root: &Path, r: R) -> Result<Applied> {
    let mut ar = tar::Archive::new(r);
    let mut ap = Applier {
        root: root.to_path_buf(),
        privileged: unsafe { libc::geteuid() } == 0,
        parents: HashMap::new(),
        dirs: Vec::new(),
        buf: vec![0u8; BUF_SIZE],
        size: 0,
    };
    let entries = ar.entries().map_err(bad_tar)?;
    for entry in entries {
        let entry = entry.map_err(bad_tar)?;
        ap.apply_entry(entry)?;
    }
    ap.finish_dirs()?;
    // Trailing padding after the end-of-archive blocks belongs to the stream's digest.
    io::copy(&mut ar.into_inner(), &mut io::sink()).map_err(bad_tar)?;
    Ok(Applied { size: ap.size })
}

fn bad_tar(e: io::Error) -> Error {
    Error::invalid(format!("apply layer: invalid tar stream: {e}"))
}

fn entry_err(name: &[u8], e: io::Error) -> Error {
    Error::io(format!("apply layer: {}", String::from_utf8_lossy(name)), e)
}

/// Cleans an entry path relative to the root: drops empty, `.` and leading `/`
/// components and resolves `..` lexically. Climbing above the root is an error.
pub(crate) fn clean_rel(raw: &[u8]) -> Result<Vec<OsString>> {
    let mut out: Vec<OsString> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() {
                    return Err(Error::invalid(format!(
                        "apply layer: {:?} is outside of the layer root",
                        String::from_utf8_lossy(raw)
                    )));
                }
            }
            p => out.push(OsStr::from_bytes(p).to_os_string()),
        }
    }
    Ok(out)
}

fn join_rel(parts: &[OsString]) -> PathBuf {
    parts.iter().collect()
}

struct DeferredDir {
    /// Resolved path relative to the root (re-resolved before use).
    rel: PathBuf,
    mode: u32,
    mtime: i64,
}

struct Applier {
    root: PathBuf,
    privileged: bool,
    /// Parent dir (lexical, relative) -> resolved absolute path. Every cached path
    /// consists of existing directories (created on resolution), so only a removal can
    /// change what a key resolves to: the cache is cleared on every removal.
    parents: HashMap<PathBuf, PathBuf>,
    dirs: Vec<DeferredDir>,
    buf: Vec<u8>,
    size: u64,
}

impl Applier {
    fn apply_entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path_bytes().into_owned();
        let parts = clean_rel(&raw)?;
        let Some((name, parent_parts)) = parts.split_last() else {
            // The root itself ("./"): its metadata belongs to the snapshot, not the layer.
            return Ok(());
        };
        let kind = entry.header().entry_type();
        let name_bytes = name.as_bytes();

        // Whiteouts (AUFS form in the tar) become overlayfs whiteouts on disk.
        if name_bytes.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            let parent = self.parent_dir(parent_parts, &raw)?;
            if name_bytes == WHITEOUT_OPAQUE.as_bytes() {
                return self.make_opaque(&parent, &raw);
            }
            if name_bytes.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
                return Ok(()); // other AUFS metadata (.wh..wh.plnk...): no meaning here
            }
            let hidden = OsStr::from_bytes(&name_bytes[WHITEOUT_PREFIX.len()..]);
            return self.make_whiteout(&parent, hidden, name, &raw);
        }

        let parent = self.parent_dir(parent_parts, &raw)?;
        let target = parent.join(name);
        debug_assert!(target.starts_with(&self.root));

        let hdr = entry.header();
        let mode = hdr.mode().unwrap_or(0o644) & 0o7777;
        let uid = hdr.uid().unwrap_or(0) as u32;
        let gid = hdr.gid().unwrap_or(0) as u32;
        let mtime = hdr.mtime().unwrap_or(0) as i64;
        let is_dir = kind.is_dir();

        // Replace whatever is there unless it is a directory and so is the entry. The
        // lstat does not follow a symlink in the final component.
        if let Ok(md) = fs::symlink_metadata(&target)
            && !(md.is_dir() && is_dir)
        {
            let r = if md.is_dir() {
                fs::remove_dir_all(&target)
            } else {
                fs::remove_file(&target)
            };
            r.map_err(|e| entry_err(&raw, e))?;
            self.parents.clear();
        }

        match kind {
            tar::EntryType::Directory => {
                match fs::create_dir(&target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(entry_err(&raw, e)),
                }
                if self.privileged {
                    lchown(&target, uid, gid).map_err(|e| entry_err(&raw, e))?;
                }
                self.set_xattrs(&mut entry, &target);
                // Mode and times last: a read-only dir must still receive its entries,
                // and creating entries would bump its mtime.
                let rel = target
                    .strip_prefix(&self.root)
                    .expect("resolved inside root")
                    .to_path_buf();
                self.dirs.push(DeferredDir { rel, mode, mtime });
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&target)
                    .map_err(|e| entry_err(&raw, e))?;
                let want = entry.size();
                let mut written = 0u64;
                loop {
                    let n = match entry.read(&mut self.buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(bad_tar(e)),
                    };
                    f.write_all(&self.buf[..n])
                        .map_err(|e| entry_err(&raw, e))?;
                    written += n as u64;
                }
                if written != want {
                    return Err(Error::invalid(format!(
                        "apply layer: {}: unexpected end of layer data",
                        String::from_utf8_lossy(&raw)
                    )));
                }
                self.size += written;
                let fd = f.as_raw_fd();
                if self.privileged {
                    cvt(unsafe { libc::fchown(fd, uid, gid) }).map_err(|e| entry_err(&raw, e))?;
                }
                // After chown, which clears setuid/setgid bits.
                f.set_permissions(fs::Permissions::from_mode(mode))
                    .map_err(|e| entry_err(&raw, e))?;
                self.set_xattrs_fd(&mut entry, &f);
                set_times_fd(&f, mtime).map_err(|e| entry_err(&raw, e))?;
            }
            tar::EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                // The target text is stored, never followed here.
                std::os::unix::fs::symlink(OsStr::from_bytes(&link), &target)
                    .map_err(|e| entry_err(&raw, e))?;
                if self.privileged {
                    lchown(&target, uid, gid).map_err(|e| entry_err(&raw, e))?;
                }
                self.set_xattrs(&mut entry, &target);
                set_times_nofollow(&target, mtime).map_err(|e| entry_err(&raw, e))?;
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .map(|c| c.into_owned())
                    .unwrap_or_default();
                let link_parts = clean_rel(&link)?;
                if link_parts.is_empty() {
                    return Err(Error::invalid(format!(
                        "apply layer: {}: invalid hardlink target {:?}",
                        String::from_utf8_lossy(&raw),
                        String::from_utf8_lossy(&link)
                    )));
                }
                // Resolved in scope; the final component is not followed (link(2)
                // links a symlink itself), and it must exist inside the root.
                let source = resolve_in_root_nofollow(&self.root, &join_rel(&link_parts))
                    .map_err(|e| entry_err(&raw, e))?;
                if !source.starts_with(&self.root) {
                    return Err(Error::invalid("apply layer: hardlink escapes the root"));
                }
                let md = fs::symlink_metadata(&source).map_err(|e| {
                    entry_err(
                        &raw,
                        io::Error::new(
                            e.kind(),
                            format!("hardlink target {:?}: {e}", String::from_utf8_lossy(&link)),
                        ),
                    )
                })?;
                if md.is_dir() {
                    return Err(Error::invalid(format!(
                        "apply layer: {}: hardlink to a directory",
                        String::from_utf8_lossy(&raw)
                    )));
                }
                fs::hard_link(&source, &target).map_err(|e| entry_err(&raw, e))?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let fmt = match kind {
                    tar::EntryType::Char => libc::S_IFCHR,
                    tar::EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                if fmt != libc::S_IFIFO && !self.privileged {
                    // Unprivileged: device nodes cannot be created; docker (rootless)
                    // skips them as well.
                    return Ok(());
                }
                let major = hdr.device_major().ok().flatten().unwrap_or(0);
                let minor = hdr.device_minor().ok().flatten().unwrap_or(0);
                mknod(&target, fmt | mode, libc::makedev(major, minor))
                    .map_err(|e| entry_err(&raw, e))?;
                if self.privileged {
                    lchown(&target, uid, gid).map_err(|e| entry_err(&raw, e))?;
                }
                chmod_nofollow(&target, mode).map_err(|e| entry_err(&raw, e))?;
                set_times_nofollow(&target, mtime).map_err(|e| entry_err(&raw, e))?;
            }
            // pax/GNU metadata entries are consumed by the tar reader; anything else
            // (sockets, unknown types) has no place in a layer.
            _ => {}
        }
        Ok(())
    }

    /// Resolves (and creates) the parent directory of an entry inside the root.
    fn parent_dir(&mut self, parts: &[OsString], raw: &[u8]) -> Result<PathBuf> {
        let key = join_rel(parts);
        if let Some(p) = self.parents.get(&key) {
            return Ok(p.clone());
        }
        // In-scope resolution: symlinks are followed as if `root` were `/`, and `..`
        // is clamped at the root, so the result is always `root` or below.
        let resolved = resolve_in_root(&self.root, &key).map_err(|e| entry_err(raw, e))?;
        if !resolved.starts_with(&self.root) {
            return Err(Error::invalid("apply layer: path escapes the root"));
        }
        // Every existing component of `resolved` is a real directory (symlinks were
        // resolved away), so creating the missing ones cannot leave the root.
        fs::create_dir_all(&resolved).map_err(|e| entry_err(raw, e))?;
        self.parents.insert(key, resolved.clone());
        Ok(resolved)
    }

    fn make_whiteout(
        &mut self,
        parent: &Path,
        hidden: &OsStr,
        marker: &OsStr,
        raw: &[u8],
    ) -> Result<()> {
        if hidden.is_empty() || hidden == ".." || hidden == "." {
            return Ok(());
        }
        let target = parent.join(hidden);
        if let Ok(md) = fs::symlink_metadata(&target) {
            let r = if md.is_dir() {
                fs::remove_dir_all(&target)
            } else {
                fs::remove_file(&target)
            };
            r.map_err(|e| entry_err(raw, e))?;
            self.parents.clear();
        }
        match mknod(&target, libc::S_IFCHR, libc::makedev(0, 0)) {
            Ok(()) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                // Unprivileged: keep the AUFS marker so the information is not lost.
                File::create(parent.join(marker))
                    .map(drop)
                    .map_err(|e| entry_err(raw, e))
            }
            Err(e) => Err(entry_err(raw, e)),
        }
    }

    fn make_opaque(&mut self, dir: &Path, raw: &[u8]) -> Result<()> {
        match lsetxattr(dir, "trusted.overlay.opaque", b"y") {
            Ok(()) => Ok(()),
            Err(_) => File::create(dir.join(WHITEOUT_OPAQUE))
                .map(drop)
                .map_err(|e| entry_err(raw, e)),
        }
    }

    fn set_xattrs<R: Read>(&self, entry: &mut tar::Entry<'_, R>, path: &Path) {
        for (k, v) in xattrs_of(entry) {
            let _ = lsetxattr(path, &k, &v); // best effort, as docker
        }
    }

    fn set_xattrs_fd<R: Read>(&self, entry: &mut tar::Entry<'_, R>, f: &File) {
        for (k, v) in xattrs_of(entry) {
            let Ok(name) = CString::new(k) else { continue };
            unsafe {
                libc::fsetxattr(f.as_raw_fd(), name.as_ptr(), v.as_ptr().cast(), v.len(), 0);
            }
        }
    }

    /// Applies deferred directory modes and times, deepest first.
    fn finish_dirs(&mut self) -> Result<()> {
        let dirs = std::mem::take(&mut self.dirs);
        for d in dirs.iter().rev() {
            // Later entries may have replaced a component with a symlink: re-resolve in
            // scope and open the final component with O_NOFOLLOW, so nothing outside
            // the root can be touched.
            let Ok(p) = resolve_in_root(&self.root, &d.rel) else {
                continue;
            };
            let Ok(f) = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&p)
            else {
                continue;
            };
            f.set_permissions(fs::Permissions::from_mode(d.mode))
                .map_err(|e| Error::io(format!("apply layer: chmod {}", d.rel.display()), e))?;
            set_times_fd(&f, d.mtime)
                .map_err(|e| Error::io(format!("apply layer: utimes {}", d.rel.display()), e))?;
        }
        Ok(())
    }
}

/// The entry's `SCHILY.xattr.*` pax records, minus the ones that steer overlayfs.
fn xattrs_of<R: Read>(entry: &mut tar::Entry<'_, R>) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return out;
    };
    for ext in exts.flatten() {
        let Ok(key) = ext.key() else { continue };
        let Some(name) = key.strip_prefix("SCHILY.xattr.") else {
            continue;
        };
        if name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") {
            continue;
        }
        out.push((name.to_string(), ext.value_bytes().to_vec()));
    }
    out
}

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

fn cvt(r: libc::c_int) -> io::Result<()> {
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn lchown(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let c = cstr(p)?;
    cvt(unsafe { libc::lchown(c.as_ptr(), uid, gid) })
}

fn mknod(p: &Path, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    let c = cstr(p)?;
    cvt(unsafe { libc::mknod(c.as_ptr(), mode as libc::mode_t, dev) })
}

/// chmod without following a symlink in the final component (device nodes, fifos).
fn chmod_nofollow(p: &Path, mode: u32) -> io::Result<()> {
    if fs::symlink_metadata(p)?.file_type().is_symlink() {
        return Ok(());
    }
    // O_PATH + /proc/self/fd would be the race-free form; the snapshot dir is private
    // to this process while it is being unpacked, so lstat + chmod is sufficient.
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
}

fn lsetxattr(p: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    let c = cstr(p)?;
    let n = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let r = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    cvt(r)
}

fn timespecs(mtime: i64) -> [libc::timespec; 2] {
    let t = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    [t, t]
}

fn set_times_fd(f: &File, mtime: i64) -> io::Result<()> {
    let ts = timespecs(mtime);
    cvt(unsafe { libc::futimens(f.as_raw_fd(), ts.as_ptr()) })
}

fn set_times_nofollow(p: &Path, mtime: i64) -> io::Result<()> {
    let c = cstr(p)?;
    let ts = timespecs(mtime);
    cvt(unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// Flushes the filesystem holding `dir` (one `syncfs` instead of an fsync per file).
pub(crate) fn syncfs(dir: &Path) -> io::Result<()> {
    let f = File::open(dir)?;
    cvt(unsafe { libc::syncfs(f.as_raw_fd()) })
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;

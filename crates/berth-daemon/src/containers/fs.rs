//! The container filesystem for `docker cp` (`/containers/{id}/archive`): stat, tar
//! out, extract in. Every path comes from the client and is resolved inside the
//! container root with `berth_stdx::rootpath`, so a symlink in the container (even
//! `/evil -> /`) is read as if the root were `/`: it can never name a host file.

use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use berth_stdx::rootpath::{resolve_in_root, resolve_in_root_nofollow};
use serde_json::{Value, json};

use super::manager::ContainerManager;
use crate::error::{Error, Result};

/// A container's merged tree: the running container's rootfs, or a temporary overlay
/// mount (at its own target, so a concurrent start is not unmounted under it) that is
/// unmounted on drop.
pub struct FsRoot {
    pub path: PathBuf,
    pub(crate) temp: bool,
}

impl Drop for FsRoot {
    fn drop(&mut self) {
        if self.temp {
            if let Err(e) = berth_runtime::rootfs::unmount(&self.path) {
                tracing::warn!("{e}");
            }
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

impl ContainerManager {
    /// The merged tree of `name` (blocking: may mount).
    pub fn fs_root(&self, name: &str) -> Result<FsRoot> {
        let rec = self.get(name)?;
        let dir = self.dir(&rec.id);
        if rec.state.status.is_active() && is_mountpoint(&dir.join("rootfs")) {
            return Ok(FsRoot {
                path: dir.join("rootfs"),
                temp: false,
            });
        }
        let image_id: berth_stdx::Digest = rec
            .image_id
            .parse()
            .map_err(|_| Error::internal(format!("bad image id {}", rec.image_id)))?;
        let layers = self.images.layer_dirs(&image_id)?;
        let mut ov = berth_runtime::rootfs::Overlay::in_dir(&dir, &layers);
        ov.target = dir.join(format!("cp-{}", berth_stdx::random_id()));
        ov.mount()
            .map_err(|e| Error::internal(format!("mount rootfs: {e}")))?;
        Ok(FsRoot {
            path: ov.target,
            temp: true,
        })
    }

    /// `docker diff`: the container's upper dir against its image's layers.
    pub fn changes(&self, name: &str) -> Result<Vec<(String, u8)>> {
        let rec = self.get(name)?;
        let image_id: berth_stdx::Digest = rec
            .image_id
            .parse()
            .map_err(|_| Error::internal(format!("bad image id {}", rec.image_id)))?;
        let mut layers = self.images.layer_dirs(&image_id)?;
        layers.reverse();
        Ok(changes(&self.dir(&rec.id).join("upper"), &layers))
    }
}

impl ContainerManager {
    /// `docker commit`: the upper dir as a layer on the container's image (blocking).
    pub fn commit(&self, name: &str, q: &CommitQuery) -> Result<String> {
        let rec = self.get(name)?;
        let parent: berth_stdx::Digest = rec
            .image_id
            .parse()
            .map_err(|_| Error::internal(format!("bad image id {}", rec.image_id)))?;
        let mut config: berth_image::ContainerConfig =
            serde_json::from_value(Value::Object(rec.config.clone()))
                .map_err(|e| Error::internal(format!("container config: {e}")))?;
        berth_image::parse_changes(&q.changes, &mut config)
            .map_err(|e| Error::invalid(e.to_string()))?;
        let created_by = std::iter::once(rec.path.as_str())
            .chain(rec.args.iter().map(String::as_str))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let dir = self.dir(&rec.id);
        let tmp = dir.join(format!("commit-{}.tar", berth_stdx::random_id()));
        let res = (|| {
            let f = std::fs::File::create(&tmp)
                .map_err(|e| Error::internal(format!("create {}: {e}", tmp.display())))?;
            diff_tar(&dir.join("upper"), io::BufWriter::new(f))
                .map_err(|e| Error::internal(format!("write layer: {e}")))?;
            let mut f = std::fs::File::open(&tmp)
                .map_err(|e| Error::internal(format!("open {}: {e}", tmp.display())))?;
            let opts = berth_image::CommitOptions {
                parent,
                config,
                comment: q.comment.clone(),
                author: q.author.clone(),
                created_by,
                tag: None,
            };
            self.images.commit(&mut f, opts, &q.repo, &q.tag)
        })();
        let _ = std::fs::remove_file(&tmp);
        let id = res?.to_string();
        self.event(
            &rec,
            "commit",
            &[("comment", q.comment.clone()), ("imageID", id.clone())],
        );
        Ok(id)
    }
}

/// The query of `POST /commit`.
#[derive(Debug, Clone, Default)]
pub struct CommitQuery {
    pub repo: String,
    pub tag: String,
    pub comment: String,
    pub author: String,
    pub changes: Vec<String>,
}

fn is_opaque(p: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    let mut buf = [0u8; 4];
    // SAFETY: `c` is a valid C string and `buf` a writable buffer of the given size.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y'
}

/// The upper dir as a layer tar: overlay whiteouts become AUFS `.wh.<name>` files and
/// opaque dirs get a `.wh..wh..opq` entry.
pub fn diff_tar(upper: &Path, out: impl Write) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut links = HardLinks::default();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(upper.join(&rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        let mut dirs = Vec::new();
        for n in names {
            let child = rel.join(&n);
            let shown = format!("/{}", child.display());
            if DIFF_IGNORED.contains(&shown.as_str()) {
                continue;
            }
            let full = upper.join(&child);
            let md = std::fs::symlink_metadata(&full)?;
            if is_whiteout(&md) {
                let mut wh = std::ffi::OsString::from(".wh.");
                wh.push(&n);
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                h.set_mode(0o600);
                b.append_data(&mut h, rel.join(wh), io::empty())?;
                continue;
            }
            links.append(&mut b, &full, &child, &md)?;
            if md.is_dir() {
                if is_opaque(&full) {
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(0);
                    h.set_mode(0o600);
                    b.append_data(&mut h, child.join(".wh..wh..opq"), io::empty())?;
                }
                dirs.push(child);
            }
        }
        stack.extend(dirs.into_iter().rev());
    }
    b.into_inner()?.flush()
}

/// Paths docker leaves out of a diff (bind-mounted per container).
const DIFF_IGNORED: [&str; 4] = [
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
    "/.dockerenv",
];

fn is_whiteout(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    md.file_type().is_char_device() && md.rdev() == 0
}

/// The changes of an overlay upper dir over `lowers` (topmost first), sorted by path:
/// kind 0 changed, 1 added, 2 deleted (overlay whiteouts).
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Vec<(String, u8)> {
    let in_lower = |rel: &Path| {
        lowers
            .iter()
            .any(|l| std::fs::symlink_metadata(l.join(rel)).is_ok_and(|md| !is_whiteout(&md)))
    };
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(upper.join(&rel)) else {
            continue;
        };
        for ent in rd.flatten() {
            let child = rel.join(ent.file_name());
            let Ok(md) = std::fs::symlink_metadata(ent.path()) else {
                continue;
            };
            let shown = format!("/{}", child.display());
            if DIFF_IGNORED.contains(&shown.as_str()) {
                continue;
            }
            let kind = if is_whiteout(&md) {
                2
            } else if in_lower(&child) {
                0
            } else {
                1
            };
            if md.is_dir() {
                stack.push(child);
            }
            out.push((shown, kind));
        }
    }
    out.sort();
    // docker keeps the mount points of DIFF_IGNORED in an init layer below the
    // container's, so their parent (/etc) is not "changed" just for holding them.
    let copied_up_for_mounts = |dir: &str| {
        let rel = dir.trim_start_matches('/');
        let same = |a: &std::fs::Metadata, b: &std::fs::Metadata| {
            (a.mode(), a.uid(), a.gid()) == (b.mode(), b.uid(), b.gid())
        };
        let up = std::fs::symlink_metadata(upper.join(rel));
        let low = lowers
            .iter()
            .find_map(|l| std::fs::symlink_metadata(l.join(rel)).ok());
        DIFF_IGNORED
            .iter()
            .any(|i| i.rsplit_once('/').map(|x| x.0) == Some(dir))
            && matches!((up, low), (Ok(a), Some(b)) if a.is_dir() && same(&a, &b))
    };
    let listed: Vec<String> = out.iter().map(|(p, _)| p.clone()).collect();
    out.retain(|(p, kind)| {
        let prefix = format!("{p}/");
        *kind != 0 || !copied_up_for_mounts(p) || listed.iter().any(|q| q.starts_with(&prefix))
    });
    out
}

fn is_mountpoint(p: &Path) -> bool {
    match (std::fs::metadata(p), p.parent().map(std::fs::metadata)) {
        (Ok(a), Some(Ok(b))) => a.dev() != b.dev(),
        _ => false,
    }
}

/// docker's 404 for a missing path.
pub fn not_found(path: &str, ctr: &str) -> Error {
    Error::not_found(format!("Could not find the file {path} in container {ctr}"))
}

/// Resolves `path` in `root`. The last component is followed only when the path ends
/// in `/` or `/.` (docker's rule: `cp c:/link` copies the link itself).
pub fn resolve(root: &Path, path: &str) -> io::Result<PathBuf> {
    let p = if path.is_empty() { "/" } else { path };
    if p.ends_with('/') || p.ends_with("/.") || p == "." {
        resolve_in_root(root, Path::new(p))
    } else {
        resolve_in_root_nofollow(root, Path::new(p))
    }
}

/// Go's `os.FileMode` bits of a file.
fn go_mode(md: &std::fs::Metadata) -> u32 {
    let m = md.mode();
    let mut out = m & 0o777;
    let ft = md.file_type();
    use std::os::unix::fs::FileTypeExt;
    if ft.is_dir() {
        out |= 1 << 31;
    } else if ft.is_symlink() {
        out |= 1 << 27;
    } else if ft.is_fifo() {
        out |= 1 << 25;
    } else if ft.is_socket() {
        out |= 1 << 24;
    } else if ft.is_block_device() {
        out |= 1 << 26;
    } else if ft.is_char_device() {
        out |= (1 << 26) | (1 << 21);
    }
    if m & 0o4000 != 0 {
        out |= 1 << 23;
    }
    if m & 0o2000 != 0 {
        out |= 1 << 22;
    }
    if m & 0o1000 != 0 {
        out |= 1 << 20;
    }
    out
}

/// The base name docker gives a path (`/` for the root).
pub fn base_name(path: &str) -> String {
    let t = path.trim_end_matches("/.").trim_end_matches('/');
    match t.rsplit('/').next() {
        Some(n) if !n.is_empty() && n != "." => n.to_string(),
        _ => "/".to_string(),
    }
}

/// The `X-Docker-Container-Path-Stat` value (base64 JSON) of `path` in `root`.
pub fn stat(root: &Path, path: &str, ctr: &str) -> Result<(PathBuf, String)> {
    let real = resolve(root, path).map_err(|_| not_found(path, ctr))?;
    let md = std::fs::symlink_metadata(&real).map_err(|_| not_found(path, ctr))?;
    let link = if md.file_type().is_symlink() {
        std::fs::read_link(&real)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mtime = chrono::DateTime::from_timestamp(md.mtime(), md.mtime_nsec() as u32)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let v: Value = json!({
        "name": base_name(path),
        "size": md.len(),
        "mode": go_mode(&md),
        "mtime": mtime,
        "linkTarget": link,
    });
    use base64::Engine;
    let enc = base64::engine::general_purpose::STANDARD.encode(v.to_string());
    Ok((real, enc))
}

/// Writes a tar of `real` (already resolved in the root) named `name`; symlinks are
/// archived as links, never followed.
pub fn write_tar(real: &Path, name: &str, out: impl Write) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let md = std::fs::symlink_metadata(real)?;
    b.append_path_with_name(real, name)?;
    if md.is_dir() {
        append_tree(&mut b, real, Path::new(name), false)?;
    }
    b.into_inner()?.flush()
}

/// Files seen so far by (device, inode), so a file with several names is archived once
/// and its other names become hard-link entries (as docker's archiver does), instead of
/// copies.
#[derive(Default)]
struct HardLinks(std::collections::HashMap<(u64, u64), PathBuf>);

impl HardLinks {
    fn append<W: Write>(
        &mut self,
        b: &mut tar::Builder<W>,
        full: &Path,
        name: &Path,
        md: &std::fs::Metadata,
    ) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if md.is_file() && md.nlink() > 1 {
            if let Some(first) = self.0.get(&(md.dev(), md.ino())) {
                let mut h = tar::Header::new_gnu();
                h.set_metadata(md);
                h.set_entry_type(tar::EntryType::Link);
                h.set_size(0);
                return b.append_link(&mut h, name, first);
            }
            self.0.insert((md.dev(), md.ino()), name.to_path_buf());
        }
        b.append_path_with_name(full, name)
    }
}

/// Appends everything under `root` (not `root` itself) named under `prefix`, sorted,
/// links as links, hard links once. `skip_pseudo`: keep the top-level `/proc`, `/sys`
/// and `/dev` directories but not their contents (`export`).
fn append_tree<W: Write>(
    b: &mut tar::Builder<W>,
    root: &Path,
    prefix: &Path,
    skip_pseudo: bool,
) -> io::Result<()> {
    let mut links = HardLinks::default();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(root.join(&rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()?;
        names.sort();
        let mut dirs = Vec::new();
        for n in names {
            let child = rel.join(&n);
            let full = root.join(&child);
            let md = std::fs::symlink_metadata(&full)?;
            links.append(b, &full, &prefix.join(&child), &md)?;
            let skip_contents = skip_pseudo
                && rel.as_os_str().is_empty()
                && matches!(n.to_str(), Some("proc" | "sys" | "dev"));
            if md.is_dir() && !skip_contents {
                dirs.push(child);
            }
        }
        stack.extend(dirs.into_iter().rev());
    }
    Ok(())
}

/// `docker export`: a tar of the whole tree at `root`, links as links, with the
/// `/proc`, `/sys` and `/dev` directories but not their contents.
pub fn export_tar(root: &Path, out: impl Write) -> io::Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    append_tree(&mut b, root, Path::new(""), true)?;
    b.into_inner()?.flush()
}

/// Extracts a tar into the directory `dest` (a container path) of `root`. Each entry's
/// path is joined to `dest` and resolved inside the root without following its last
/// component, and files are created with `O_NOFOLLOW`, so neither a hostile archive
/// (`../x`, `/etc/x`) nor a symlink in the container can place a file outside it.
pub fn extract(
    root: &Path,
    dest: &str,
    ctr: &str,
    no_overwrite_dir_non_dir: bool,
    input: impl Read,
) -> Result<()> {
    let dest_real = resolve_in_root(root, Path::new(dest)).map_err(|_| not_found(dest, ctr))?;
    let md = std::fs::metadata(&dest_real).map_err(|_| not_found(dest, ctr))?;
    if !md.is_dir() {
        return Err(Error::invalid("extraction point is not a directory"));
    }
    let bad = |e: io::Error| Error::internal(format!("extract: {e}"));
    let mut ar = tar::Archive::new(input);
    for entry in ar.entries().map_err(bad)? {
        let mut e = entry.map_err(bad)?;
        let raw = e.path().map_err(bad)?.into_owned();
        let mut rel = PathBuf::from(dest);
        for c in raw.components() {
            match c {
                Component::Normal(n) => rel.push(n),
                Component::ParentDir => {
                    return Err(Error::invalid(format!(
                        "invalid archive entry {}",
                        raw.display()
                    )));
                }
                _ => {}
            }
        }
        if rel == Path::new(dest) {
            continue;
        }
        let target = resolve_in_root_nofollow(root, &rel).map_err(bad)?;
        let hdr = e.header().clone();
        let mode = hdr.mode().unwrap_or(0o644) & 0o7777;
        let existing = std::fs::symlink_metadata(&target).ok();
        let kind = hdr.entry_type();
        if let Some(m) = &existing {
            if no_overwrite_dir_non_dir && (m.is_dir() != kind.is_dir()) {
                return Err(Error::invalid(format!(
                    "cannot overwrite {} {:?} with {}",
                    if m.is_dir() {
                        "directory"
                    } else {
                        "non-directory"
                    },
                    rel.display().to_string(),
                    if kind.is_dir() {
                        "directory"
                    } else {
                        "non-directory"
                    },
                )));
            }
            if !(m.is_dir() && kind.is_dir()) {
                if m.is_dir() {
                    std::fs::remove_dir_all(&target).map_err(bad)?;
                } else {
                    std::fs::remove_file(&target).map_err(bad)?;
                }
            }
        }
        if kind.is_dir() {
            if existing.as_ref().is_none_or(|m| !m.is_dir()) {
                std::fs::create_dir(&target).map_err(bad)?;
            }
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))
                .map_err(bad)?;
        } else if kind.is_symlink() {
            let to = e
                .link_name()
                .map_err(bad)?
                .ok_or_else(|| Error::invalid("symlink without a target"))?;
            std::os::unix::fs::symlink(&to, &target).map_err(bad)?;
        } else if kind.is_hard_link() {
            let to = e
                .link_name()
                .map_err(bad)?
                .ok_or_else(|| Error::invalid("hard link without a target"))?;
            let mut to_rel = PathBuf::from(dest);
            to_rel.extend(
                to.components()
                    .filter(|c| matches!(c, Component::Normal(_))),
            );
            let src = resolve_in_root_nofollow(root, &to_rel).map_err(bad)?;
            std::fs::hard_link(&src, &target).map_err(bad)?;
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(mode)
                .open(&target)
                .map_err(bad)?;
            io::copy(&mut e, &mut f).map_err(bad)?;
            f.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(bad)?;
        } else {
            // Devices and fifos are not copied into containers.
            continue;
        }
        if let (Ok(uid), Ok(gid)) = (hdr.uid(), hdr.gid()) {
            let _ = std::os::unix::fs::lchown(&target, Some(uid as u32), Some(gid as u32));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, entry type, link target) of every entry of a tar.
    fn entries(data: &[u8]) -> Vec<(String, tar::EntryType, String)> {
        let mut a = tar::Archive::new(data);
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| l.display().to_string())
                    .unwrap_or_default();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().entry_type(),
                    link,
                )
            })
            .collect()
    }

    /// Regression: hard links came out of export, cp and commit as separate copies.
    #[test]
    fn hard_links_are_archived_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/a"), "data").unwrap();
        std::fs::hard_link(root.join("bin/a"), root.join("bin/b")).unwrap();
        std::fs::write(root.join("single"), "x").unwrap();

        let mut out = Vec::new();
        export_tar(root, &mut out).unwrap();
        let es = entries(&out);
        assert!(
            es.contains(&("bin/a".into(), tar::EntryType::Regular, String::new())),
            "{es:?}"
        );
        assert!(
            es.contains(&("bin/b".into(), tar::EntryType::Link, "bin/a".into())),
            "{es:?}"
        );

        let mut out = Vec::new();
        write_tar(root, "top", &mut out).unwrap();
        let es = entries(&out);
        assert!(
            es.contains(&("top/bin/b".into(), tar::EntryType::Link, "top/bin/a".into())),
            "{es:?}"
        );

        let mut out = Vec::new();
        diff_tar(root, &mut out).unwrap();
        let es = entries(&out);
        assert!(
            es.contains(&("bin/b".into(), tar::EntryType::Link, "bin/a".into())),
            "{es:?}"
        );
        assert!(
            es.contains(&("single".into(), tar::EntryType::Regular, String::new())),
            "{es:?}"
        );
    }

    #[test]
    fn hostile_paths_stay_in_the_root() {
        let tmp = std::env::temp_dir().join(format!("berth-fs-{}", berth_stdx::random_id()));
        let root = tmp.join("root");
        let outside = tmp.join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "host").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("evil")).unwrap();
        // Reading through the link resolves inside the root: no such file.
        assert!(stat(&root, "/evil/secret", "c").is_err());
        // Writing through the link lands inside the root.
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "evil/pwned", &b"bad"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let _ = extract(&root, "/", "c", true, &data[..]);
        assert!(!outside.join("pwned").exists());
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn etc_holding_only_mount_points_is_not_a_change() {
        let tmp = std::env::temp_dir().join(format!("berth-diff-{}", berth_stdx::random_id()));
        let (upper, lower) = (tmp.join("upper"), tmp.join("lower"));
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(upper.join("etc/hosts"), "").unwrap();
        assert_eq!(changes(&upper, std::slice::from_ref(&lower)), vec![]);
        std::fs::write(upper.join("etc/motd"), "hi").unwrap();
        assert_eq!(
            changes(&upper, std::slice::from_ref(&lower)),
            vec![("/etc".to_string(), 0), ("/etc/motd".to_string(), 1)]
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn base_names_like_docker() {
        assert_eq!(base_name("/etc/passwd"), "passwd");
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(base_name("/etc/."), "etc");
        assert_eq!(base_name("/"), "/");
    }
}

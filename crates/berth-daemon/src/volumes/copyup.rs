//! docker's copy-up: a new, empty volume mounted over a path that has content in the
//! image gets a copy of that content (ownership, modes, times, xattrs and symlinks
//! kept) before the container first sees it.
//!
//! Safety: the image side is found with `resolve_in_root`, so `/data -> /etc` in the
//! image reads the image's `/etc`, never the host's; below that, entries are read with
//! `symlink_metadata` and symlinks are recreated, never followed. The volume side is
//! written only through directory fds opened with `O_NOFOLLOW` and `*at` calls with
//! `O_EXCL`: even if another container that shares the volume swaps a directory for a
//! symlink while the copy runs, nothing is created outside the volume.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, fchmod, mkdirat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, symlinkat};

/// Copies the image's content at `destination` (inside `rootfs`) into the volume dir
/// `volume`, when the volume is empty and the image has a directory there.
pub(crate) fn copy_up(rootfs: &Path, destination: &str, volume: &Path) -> io::Result<()> {
    let src = match berth_stdx::rootpath::resolve_in_root(rootfs, Path::new(destination)) {
        Ok(p) => p,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let md = match std::fs::symlink_metadata(&src) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !md.is_dir() {
        return Ok(());
    }
    if std::fs::read_dir(volume)?.next().is_some() {
        return Ok(());
    }
    let dst = open_dir_at(None, volume.as_os_str())?;
    copy_dir(&src, &dst)?;
    set_owner_mode(&dst, &md)?;
    super::xattrs::copy(&src, &dst)?;
    set_times(&dst, &md)
}

fn to_io(e: nix::Error) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Opens a directory without following a symlink in its last component.
fn open_dir_at(dir: Option<&OwnedFd>, name: &OsStr) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match dir {
        Some(d) => openat(d.as_fd(), name, flags, Mode::empty()).map_err(to_io),
        None => nix::fcntl::open(name, flags, Mode::empty()).map_err(to_io),
    }
}

fn copy_dir(src: &Path, dst: &OwnedFd) -> io::Result<()> {
    for ent in std::fs::read_dir(src)? {
        let ent = ent?;
        let name = ent.file_name();
        let path = ent.path();
        let md = std::fs::symlink_metadata(&path)?;
        let ft = md.file_type();
        if ft.is_dir() {
            mkdirat(
                dst.as_fd(),
                name.as_os_str(),
                Mode::from_bits_truncate(0o700),
            )
            .map_err(to_io)?;
            let sub = open_dir_at(Some(dst), &name)?;
            copy_dir(&path, &sub)?;
            set_owner_mode(&sub, &md)?;
            super::xattrs::copy(&path, &sub)?;
            set_times(&sub, &md)?;
        } else if ft.is_file() {
            let mut from = File::open(&path)?;
            let fd = openat(
                dst.as_fd(),
                name.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
            .map_err(to_io)?;
            let mut to = File::from(fd);
            io::copy(&mut from, &mut to)?;
            set_owner_mode(&to, &md)?;
            super::xattrs::copy(&path, &to)?;
            set_times(&to, &md)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&path)?;
            symlinkat(target.as_os_str(), dst.as_fd(), name.as_os_str()).map_err(to_io)?;
            fchownat(
                dst.as_fd(),
                name.as_os_str(),
                Some(Uid::from_raw(md.uid())),
                Some(Gid::from_raw(md.gid())),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(to_io)?;
        } else if ft.is_fifo() {
            nix::unistd::mkfifoat(
                dst.as_fd(),
                name.as_os_str(),
                Mode::from_bits_truncate(md.mode() & 0o7777),
            )
            .map_err(to_io)?;
        }
        // Sockets and device nodes are not copied (docker's copy skips them too).
    }
    Ok(())
}

/// Owner first, then mode: `chown` clears set-id bits.
fn set_owner_mode<F: AsFd>(f: &F, md: &std::fs::Metadata) -> io::Result<()> {
    fchown(
        f.as_fd(),
        Some(Uid::from_raw(md.uid())),
        Some(Gid::from_raw(md.gid())),
    )
    .map_err(to_io)?;
    fchmod(f.as_fd(), Mode::from_bits_truncate(md.mode() & 0o7777)).map_err(to_io)
}

fn set_times<F: AsFd>(f: &F, md: &std::fs::Metadata) -> io::Result<()> {
    let at = TimeSpec::new(md.atime(), md.atime_nsec());
    let mt = TimeSpec::new(md.mtime(), md.mtime_nsec());
    nix::sys::stat::futimens(f.as_fd(), &at, &mt).map_err(to_io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copies_tree_with_modes_and_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let vol = t.path().join("vol");
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::create_dir_all(&vol).unwrap();
        std::fs::write(root.join("data/sub/f"), "hello").unwrap();
        std::fs::set_permissions(
            root.join("data/sub/f"),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::fs::set_permissions(root.join("data"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        std::os::unix::fs::symlink("sub/f", root.join("data/link")).unwrap();
        copy_up(&root, "/data", &vol).unwrap();
        assert_eq!(std::fs::read_to_string(vol.join("sub/f")).unwrap(), "hello");
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().mode() & 0o7777;
        assert_eq!(mode(&vol.join("sub/f")), 0o640);
        assert_eq!(mode(&vol), 0o750);
        assert_eq!(
            std::fs::read_link(vol.join("link")).unwrap(),
            Path::new("sub/f")
        );
    }

    #[test]
    fn a_non_empty_volume_or_a_missing_path_is_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let vol = t.path().join("vol");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/new"), "x").unwrap();
        std::fs::create_dir_all(&vol).unwrap();
        std::fs::write(vol.join("old"), "y").unwrap();
        copy_up(&root, "/data", &vol).unwrap();
        assert!(!vol.join("new").exists());
        copy_up(&root, "/nothing/here", &vol).unwrap();
    }

    /// Hostile image: the mount path is a symlink to an absolute host path, and the
    /// content holds symlinks out of the root. Nothing outside root or volume is read
    /// or written.
    #[test]
    fn hostile_symlinks_never_escape() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let vol = t.path().join("vol");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&vol).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "host").unwrap();
        std::fs::write(root.join("etc/inside"), "image").unwrap();
        // /data -> <absolute host path of outside>: resolved inside the root, where it
        // does not exist, so nothing is copied.
        std::os::unix::fs::symlink(&outside, root.join("data")).unwrap();
        copy_up(&root, "/data", &vol).unwrap();
        assert_eq!(std::fs::read_dir(&vol).unwrap().count(), 0);
        // /etc2 -> /etc: the image's /etc, not the host's.
        std::os::unix::fs::symlink("/etc", root.join("etc2")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("etc/esc")).unwrap();
        copy_up(&root, "/etc2", &vol).unwrap();
        assert_eq!(
            std::fs::read_to_string(vol.join("inside")).unwrap(),
            "image"
        );
        assert!(!vol.join("passwd").exists() || root.join("etc/passwd").exists());
        // The escaping symlink is copied as a link, never followed or written through.
        assert_eq!(std::fs::read_link(vol.join("esc")).unwrap(), outside);
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    }

    #[test]
    fn a_volume_that_is_a_symlink_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/f"), "x").unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let vol = t.path().join("vol");
        std::os::unix::fs::symlink(&outside, &vol).unwrap();
        assert!(copy_up(&root, "/data", &vol).is_err());
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }
}

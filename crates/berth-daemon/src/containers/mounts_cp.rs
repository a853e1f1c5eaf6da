//! `docker cp` sees what the container sees: the tree with its binds and volumes
//! mounted at their targets (docker mounts them into the container's base fs for the
//! copy). Done in a private temporary mount, so nothing propagates into the running
//! container or the host, and all of it goes away with the [`FsRoot`].

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{OFlag, open};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::Mode;

use super::fs::FsRoot;
use super::manager::ContainerManager;
use crate::error::{Error, Result};

impl ContainerManager {
    /// [`ContainerManager::fs_root`] plus the container's binds and volumes (blocking).
    pub fn fs_root_for_cp(&self, name: &str) -> Result<FsRoot> {
        let rec = self.get(name)?;
        let base = self.fs_root(name)?;
        let mps: Vec<_> = rec
            .mount_points
            .iter()
            .filter(|m| m.kind != "tmpfs" && Path::new(&m.source).exists())
            .collect();
        if mps.is_empty() {
            return Ok(base);
        }
        let err = |what: &str, e: &dyn std::fmt::Display| {
            Error::internal(format!("mount volumes for copy: {what}: {e}"))
        };
        // A running container made its targets at start, and may be changing its tree
        // now: only a stopped one (its own temporary mount) gets missing targets made.
        let stopped = base.temp;
        let root = if base.temp {
            base
        } else {
            // The running container's rootfs is shared with it: copy it to a temp target.
            let tmp = self
                .dir(&rec.id)
                .join(format!("cp-{}", berth_stdx::random_id()));
            std::fs::create_dir(&tmp).map_err(|e| err("create target", &e))?;
            let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
            if let Err(e) = mount(Some(&base.path), &tmp, None::<&str>, flags, None::<&str>) {
                let _ = std::fs::remove_dir(&tmp);
                return Err(err("bind rootfs", &e));
            }
            FsRoot {
                path: tmp,
                temp: true,
            }
        };
        // Private before anything is mounted inside: no propagation anywhere.
        mount(
            None::<&str>,
            &root.path,
            None::<&str>,
            MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| err("make private", &e))?;
        for m in mps {
            // Like docker, a target the container never got yet is made (start makes it too).
            let is_dir = Path::new(&m.source).is_dir();
            if stopped {
                let inside = super::mounts_run::prepare_target(&root.path, &m.destination, is_dir)?;
                if !is_dir {
                    let real = root.path.join(inside.trim_start_matches('/'));
                    // O_EXCL|O_NOFOLLOW: never through a symlink, never over a file.
                    let _ = nix::fcntl::open(
                        &real,
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC
                            | OFlag::O_WRONLY,
                        Mode::from_bits_truncate(0o644),
                    );
                }
            }
            let Some(target) = open_target(&root.path, &m.destination)? else {
                continue;
            };
            let fd_path = PathBuf::from(format!("/proc/self/fd/{}", target.as_raw_fd()));
            mount(
                Some(Path::new(&m.source)),
                &fd_path,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )
            .map_err(|e| err(&m.destination, &e))?;
            if !m.rw {
                // The new mount sits on the target now: reopen it to remount read-only.
                if let Some(t) = open_target(&root.path, &m.destination)? {
                    let p = PathBuf::from(format!("/proc/self/fd/{}", t.as_raw_fd()));
                    mount(
                        None::<&str>,
                        &p,
                        None::<&str>,
                        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                        None::<&str>,
                    )
                    .map_err(|e| err(&m.destination, &e))?;
                }
            }
        }
        Ok(root)
    }
}

impl ContainerManager {
    /// docker's check before a copy into `path`: refused in a read-only mount.
    pub fn cp_writable(&self, name: &str, path: &str) -> Result<()> {
        let rec = self.get(name)?;
        let p = berth_stdx::rootpath::clean_absolute(&format!("/{path}"));
        let inside = |dest: &str| p == dest || p.starts_with(&format!("{dest}/"));
        // The deepest mount holding the path decides.
        let m = rec
            .mount_points
            .iter()
            .filter(|m| inside(&m.destination))
            .max_by_key(|m| m.destination.len());
        if m.is_some_and(|m| !m.rw) {
            return Err(Error::invalid("mounted volume is marked read-only"));
        }
        Ok(())
    }
}

/// Opens a mount target inside `root` without following anything out of it: the path
/// is resolved in scope, opened `O_PATH|O_NOFOLLOW`, and the fd's real path checked to
/// be under `root` (a component swapped for a symlink in between is caught). The mount
/// then goes through `/proc/self/fd/N`, onto exactly that inode. `None`: no target.
fn open_target(root: &Path, dest: &str) -> Result<Option<OwnedFd>> {
    let real = berth_stdx::rootpath::resolve_in_root(root, Path::new(dest))
        .map_err(|e| Error::internal(format!("resolve {dest}: {e}")))?;
    let fd = match open(
        &real,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(Error::internal(format!("open {dest}: {e}"))),
    };
    let seen = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| Error::internal(format!("open {dest}: {e}")))?;
    if !seen.starts_with(root) {
        return Err(Error::invalid(format!(
            "mount target {dest} resolves outside the container"
        )));
    }
    Ok(Some(fd))
}

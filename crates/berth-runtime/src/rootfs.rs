//! A container's root filesystem: an overlay mount of the image's snapshots (read-only
//! lower dirs, topmost first) under the container's own upper and work dirs.
//!
//! The image store only describes the lower dirs; mounting happens here, in the daemon
//! (the mount lives in the host's mount namespace, so it survives a daemon restart
//! together with the container using it).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The kernel takes mount options in one page.
const MAX_OPTIONS: usize = 4095;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// Lower dirs, topmost first (overlayfs order). Empty means an empty image.
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the merged tree appears.
    pub target: PathBuf,
}

impl Overlay {
    /// The container layout under `dir`: `dir/{upper,work,rootfs}` (and `dir/empty`
    /// as the lower dir of an image without layers).
    pub fn in_dir(dir: &Path, lower_bottom_first: &[PathBuf]) -> Overlay {
        let mut lower: Vec<PathBuf> = lower_bottom_first.iter().rev().cloned().collect();
        if lower.is_empty() {
            lower.push(dir.join("empty"));
        }
        Overlay {
            lower,
            upper: dir.join("upper"),
            work: dir.join("work"),
            target: dir.join("rootfs"),
        }
    }

    /// The `mount -o` string.
    pub fn options(&self) -> io::Result<String> {
        let mut lower = String::new();
        for (i, p) in self.lower.iter().enumerate() {
            let s = p.to_str().ok_or_else(|| bad_path(p))?;
            // ':' separates lower dirs and ',' separates options: such paths can't be
            // expressed (berth's own paths never contain them).
            if s.contains([':', ',']) {
                return Err(bad_path(p));
            }
            if i > 0 {
                lower.push(':');
            }
            lower.push_str(s);
        }
        let upper = self.upper.to_str().ok_or_else(|| bad_path(&self.upper))?;
        let work = self.work.to_str().ok_or_else(|| bad_path(&self.work))?;
        let opts = format!("lowerdir={lower},upperdir={upper},workdir={work},index=off");
        if opts.len() > MAX_OPTIONS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "overlay mount options are {} bytes, over the kernel's limit of {MAX_OPTIONS} ({} layers)",
                    opts.len(),
                    self.lower.len()
                ),
            ));
        }
        Ok(opts)
    }

    /// Creates the dirs and mounts the overlay on `target`.
    pub fn mount(&self) -> io::Result<()> {
        for d in [&self.upper, &self.work, &self.target] {
            std::fs::create_dir_all(d)?;
        }
        for l in &self.lower {
            if !l.exists() {
                std::fs::create_dir_all(l)?;
            }
        }
        let opts = self.options()?;
        let src = CString::new("overlay")?;
        let target = CString::new(self.target.as_os_str().as_bytes())?;
        let opts_c = CString::new(opts)?;
        // SAFETY: all pointers are valid NUL-terminated strings for the call.
        let rc = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                src.as_ptr(),
                0,
                opts_c.as_ptr().cast(),
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("mount overlay on {}: {e}", self.target.display()),
            ));
        }
        Ok(())
    }
}

/// Lazily unmounts `target`; not mounted is not an error.
pub fn unmount(target: &Path) -> io::Result<()> {
    let t = CString::new(target.as_os_str().as_bytes())?;
    // SAFETY: valid NUL-terminated path.
    let rc = unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
            return Ok(());
        }
        return Err(io::Error::new(
            e.kind(),
            format!("unmount {}: {e}", target.display()),
        ));
    }
    Ok(())
}

fn bad_path(p: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("path {:?} can't be used in an overlay mount", p),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_dirs_are_topmost_first() {
        let o = Overlay::in_dir(
            Path::new("/c/1"),
            &["/s/base/fs".into(), "/s/top/fs".into()],
        );
        assert_eq!(
            o.options().unwrap(),
            "lowerdir=/s/top/fs:/s/base/fs,upperdir=/c/1/upper,workdir=/c/1/work,index=off"
        );
        assert_eq!(o.target, PathBuf::from("/c/1/rootfs"));
    }

    #[test]
    fn empty_image_gets_an_empty_lower_dir() {
        let o = Overlay::in_dir(Path::new("/c/1"), &[]);
        assert_eq!(o.lower, vec![PathBuf::from("/c/1/empty")]);
    }

    #[test]
    fn unusable_paths_and_too_many_layers_are_errors() {
        let o = Overlay::in_dir(Path::new("/c/1"), &["/a:b".into()]);
        assert!(o.options().is_err());
        let many: Vec<PathBuf> = (0..200)
            .map(|i| PathBuf::from(format!("/var/lib/berth/snapshots/{i:064}/fs")))
            .collect();
        let err = Overlay::in_dir(Path::new("/c/1"), &many)
            .options()
            .unwrap_err();
        assert!(err.to_string().contains("over the kernel's limit"));
    }

    #[test]
    fn mount_and_unmount_when_root() {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(
            unsafe { libc::geteuid() },
            0,
            "this test mounts: run the suite as root"
        );
        let dir = std::env::temp_dir().join(format!("berth-ovl-{}", berth_stdx::id::random_hex(6)));
        let lower = dir.join("lower");
        std::fs::create_dir_all(&lower).unwrap();
        std::fs::write(lower.join("from-image"), b"x").unwrap();
        let o = Overlay::in_dir(&dir.join("c"), std::slice::from_ref(&lower));
        o.mount().unwrap();
        assert!(o.target.join("from-image").exists());
        std::fs::write(o.target.join("new"), b"y").unwrap();
        assert!(o.upper.join("new").exists());
        assert!(!lower.join("new").exists());
        unmount(&o.target).unwrap();
        unmount(&o.target).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

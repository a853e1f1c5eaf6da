//! Exclusive lock files: one daemon per data-root, one writer per store.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// An exclusive `flock` held for as long as the value lives. The kernel drops it when
/// the process dies, so a kill -9 never leaves a stale lock behind.
#[derive(Debug)]
pub struct LockFile {
    _file: File,
    path: PathBuf,
}

impl LockFile {
    /// Takes the lock without waiting; `Err(WouldBlock)` when another process holds it.
    /// The holder's pid is written into the file for diagnostics.
    pub fn try_lock(path: &Path) -> io::Result<LockFile> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        // SAFETY: flock on an fd we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("{} is locked by another process", path.display()),
                ));
            }
            return Err(err);
        }
        file.set_len(0)?;
        let _ = writeln!(file, "{}", std::process::id());
        Ok(LockFile {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_first_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let first = LockFile::try_lock(&p).unwrap();
        let err = LockFile::try_lock(&p).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(first);
        LockFile::try_lock(&p).unwrap();
    }
}

//! Crash-safe file writes: write to a temp file in the same directory, fsync it, rename
//! it over the target, fsync the directory. A reader sees the old or the new file, never
//! a torn one, whatever moment the process is killed at.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Atomically replaces `path` with `data`.
pub fn atomic_write(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        crate::id::random_hex(6)
    ));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Atomically replaces `path` with the JSON encoding of `value`.
pub fn atomic_write_json<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let data =
        serde_json::to_vec(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    atomic_write(path, &data)
}

/// Removes a directory tree that processes may still be writing into for a moment
/// (a container's overlay work dir while its last processes die, a log being closed):
/// retries while the kernel answers "directory not empty" or "busy", for up to about a
/// second, as moby's `EnsureRemoveAll` does. A tree that is already gone is not an error.
pub fn ensure_remove_all(dir: &Path) -> io::Result<()> {
    let mut attempt = 0;
    loop {
        match fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e)
                if attempt < 50
                    && matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EBUSY)) =>
            {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

/// fsyncs a directory so that a rename or create inside it is durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn ensure_remove_all_removes_trees_and_ignores_missing() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("c");
        fs::create_dir_all(t.join("upper/a/b")).unwrap();
        fs::write(t.join("upper/a/b/f"), b"x").unwrap();
        ensure_remove_all(&t).unwrap();
        assert!(!t.exists());
        ensure_remove_all(&t).unwrap();
    }

    #[test]
    fn atomic_write_json_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        atomic_write_json(&p, &vec![1, 2, 3]).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "[1,2,3]");
    }
}

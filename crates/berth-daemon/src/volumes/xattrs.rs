//! Extended attributes in the copy-up (`security.capability` file caps, `user.*`, ...),
//! as docker's copy keeps them. Read from the image side by path with the `l*` calls
//! (never following a symlink), written to the volume side only through the fd the
//! copy-up already opened with `O_NOFOLLOW`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Copies every xattr of `src` onto the open file or directory `dst`. Call it after
/// `chown`: the kernel drops `security.capability` on an owner change. A filesystem
/// without xattr support on either side is not an error (there is nothing to keep).
pub(crate) fn copy<F: AsFd>(src: &Path, dst: &F) -> io::Result<()> {
    let path = CString::new(src.as_os_str().as_bytes())?;
    let names = match list(&path) {
        Ok(n) => n,
        Err(e) if unsupported(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    // overlayfs's own markers (a snapshot dir's `opaque`) are not content.
    let content = |n: &&[u8]| {
        !n.is_empty() && !n.starts_with(b"trusted.overlay.") && !n.starts_with(b"user.overlay.")
    };
    for name in names.split(|b| *b == 0).filter(content) {
        let name = CString::new(name)?;
        let value = match get(&path, &name) {
            Ok(v) => v,
            // Removed since it was listed.
            Err(e) if e.raw_os_error() == Some(libc::ENODATA) => continue,
            Err(e) => return Err(e),
        };
        // SAFETY: valid NUL-terminated name, buffer of `value.len()` bytes, open fd.
        let rc = unsafe {
            libc::fsetxattr(
                dst.as_fd().as_raw_fd(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if !unsupported(&e) {
                return Err(io::Error::new(
                    e.kind(),
                    format!("set xattr {}: {e}", name.to_string_lossy()),
                ));
            }
        }
    }
    Ok(())
}

fn unsupported(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EOPNOTSUPP)
}

/// Calls `f` with a growing buffer until the value fits (it may grow between calls).
fn sized(mut f: impl FnMut(*mut libc::c_void, usize) -> isize) -> io::Result<Vec<u8>> {
    loop {
        let n = f(std::ptr::null_mut(), 0);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut buf = vec![0u8; n as usize];
        let got = f(buf.as_mut_ptr().cast(), buf.len());
        if got >= 0 {
            buf.truncate(got as usize);
            return Ok(buf);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ERANGE) {
            return Err(e);
        }
    }
}

fn list(path: &CString) -> io::Result<Vec<u8>> {
    // SAFETY: valid NUL-terminated path; `sized` passes a buffer of the stated size.
    sized(|buf, len| unsafe { libc::llistxattr(path.as_ptr(), buf.cast(), len) })
}

fn get(path: &CString, name: &CString) -> io::Result<Vec<u8>> {
    // SAFETY: as in `list`.
    sized(|buf, len| unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), buf, len) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_xattrs_are_copied_onto_the_fd() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::write(&a, "x").unwrap();
        let ca = CString::new(a.as_os_str().as_bytes()).unwrap();
        for (k, v) in [("user.test", &b"hello"[..]), ("user.empty", &b""[..])] {
            let k = CString::new(k).unwrap();
            // SAFETY: valid strings and buffer.
            let rc =
                unsafe { libc::lsetxattr(ca.as_ptr(), k.as_ptr(), v.as_ptr().cast(), v.len(), 0) };
            assert_eq!(rc, 0, "{}", io::Error::last_os_error());
        }
        let f = std::fs::File::create(&b).unwrap();
        copy(&a, &f).unwrap();
        let cb = CString::new(b.as_os_str().as_bytes()).unwrap();
        let got = |k: &str| get(&cb, &CString::new(k).unwrap()).unwrap();
        assert_eq!(got("user.test"), b"hello");
        assert_eq!(got("user.empty"), b"");
    }
}

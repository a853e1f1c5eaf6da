//! Layer tarballs for tests: a small builder, a large random-content layer (streamed to
//! disk, never held in memory) and the busybox rootfs the README demo also builds.

use crate::tarw::{Header, Kind, TarWriter};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Builds a small layer tar in memory. Paths are written as given (relative, no `./`).
#[derive(Default)]
pub struct Layer {
    entries: Vec<(Header, Vec<u8>)>,
}

impl Layer {
    pub fn new() -> Layer {
        Layer::default()
    }

    pub fn file(self, path: &str, data: impl AsRef<[u8]>) -> Layer {
        self.file_mode(path, 0o644, data)
    }

    pub fn file_mode(mut self, path: &str, mode: u32, data: impl AsRef<[u8]>) -> Layer {
        let data = data.as_ref().to_vec();
        let mut h = Header::new(path, Kind::File);
        h.mode = mode;
        h.size = data.len() as u64;
        self.entries.push((h, data));
        self
    }

    pub fn dir(mut self, path: &str) -> Layer {
        self.entries
            .push((Header::new(path, Kind::Dir), Vec::new()));
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Layer {
        let mut h = Header::new(path, Kind::Symlink);
        h.link = target.to_string();
        self.entries.push((h, Vec::new()));
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Layer {
        let mut h = Header::new(path, Kind::Hardlink);
        h.link = target.to_string();
        self.entries.push((h, Vec::new()));
        self
    }

    pub fn node(mut self, path: &str, kind: Kind) -> Layer {
        self.entries.push((Header::new(path, kind), Vec::new()));
        self
    }

    /// An AUFS/OCI whiteout: deletes `path` from lower layers.
    pub fn whiteout(self, path: &str) -> Layer {
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n),
            None => (String::new(), path),
        };
        self.file(&format!("{dir}.wh.{name}"), b"")
    }

    /// An opaque-directory marker: hides everything below `dir` in lower layers.
    pub fn opaque(self, dir: &str) -> Layer {
        let dir = dir.trim_end_matches('/');
        self.file(&format!("{dir}/.wh..wh..opq"), b"")
    }

    /// Any header at all (for fixtures needing odd modes, owners or PAX records).
    pub fn raw(mut self, h: Header, data: Vec<u8>) -> Layer {
        self.entries.push((h, data));
        self
    }

    pub fn build(self) -> Vec<u8> {
        let mut t = TarWriter::new(Vec::new());
        for (h, data) in &self.entries {
            t.append(h, &mut &data[..])
                .expect("write to Vec cannot fail");
        }
        t.finish().expect("write to Vec cannot fail")
    }

    /// Build and write to `path`.
    pub fn write_to(self, path: &Path) -> PathBuf {
        std::fs::write(path, self.build())
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path.to_path_buf()
    }
}

/// A fast deterministic byte stream (xorshift64*) that gzip/zstd cannot shrink.
pub struct RandomReader {
    state: u64,
}

impl RandomReader {
    pub fn new(seed: u64) -> RandomReader {
        RandomReader {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }
}

impl Read for RandomReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        for chunk in buf.chunks_mut(8) {
            self.state ^= self.state >> 12;
            self.state ^= self.state << 25;
            self.state ^= self.state >> 27;
            let v = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(buf.len())
    }
}

/// Write a layer tar of about `total` bytes of random content (files of at most
/// 32 MiB under `big/`) to `path`, streaming. Different seeds give different layers.
pub fn write_random_layer(path: &Path, total: u64, seed: u64) -> PathBuf {
    const PART: u64 = 32 << 20;
    let f =
        std::fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let mut t = TarWriter::new(BufWriter::with_capacity(1 << 20, f));
    t.dir("big/", 0o755).expect("write layer");
    let mut rng = RandomReader::new(seed);
    let mut left = total;
    let mut i = 0;
    while left > 0 {
        let n = left.min(PART);
        let mut h = Header::new(&format!("big/part-{i:04}.bin"), Kind::File);
        h.size = n;
        t.append(&h, &mut rng).expect("write layer");
        left -= n;
        i += 1;
    }
    t.finish()
        .expect("write layer")
        .flush()
        .expect("flush layer");
    path.to_path_buf()
}

/// Where Debian's busybox-static puts the binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// Make the busybox rootfs tarball (`busybox --install -s` style) in `dir` and return
/// its path. Panics with install instructions if busybox-static is missing: a test
/// that needs it must fail loudly, never skip.
pub fn busybox_rootfs_tar(dir: &Path) -> PathBuf {
    let bb = Path::new(BUSYBOX);
    let meta = std::fs::metadata(bb).unwrap_or_else(|e| {
        panic!(
            "{BUSYBOX}: {e}: install the busybox-static package (apt-get install -y busybox-static)"
        )
    });
    let list = std::process::Command::new(bb)
        .arg("--list-full")
        .output()
        .unwrap_or_else(|e| panic!("run {BUSYBOX} --list-full: {e}"));
    assert!(
        list.status.success(),
        "{BUSYBOX} --list-full failed: is it busybox-static?"
    );
    let applets = String::from_utf8_lossy(&list.stdout).into_owned();

    let path = dir.join("busybox-rootfs.tar");
    let f =
        std::fs::File::create(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let mut t = TarWriter::new(BufWriter::new(f));
    let w = |r: io::Result<()>| r.expect("write busybox rootfs");
    for d in [
        "bin/",
        "dev/",
        "etc/",
        "proc/",
        "sys/",
        "sbin/",
        "usr/",
        "usr/bin/",
        "usr/sbin/",
        "var/",
    ] {
        w(t.dir(d, 0o755));
    }
    w(t.dir("root/", 0o700));
    w(t.dir("tmp/", 0o1777));
    let mut h = Header::new("bin/busybox", Kind::File);
    h.mode = 0o755;
    h.size = meta.len();
    let mut src = std::fs::File::open(bb).expect("open busybox");
    w(t.append(&h, &mut src));
    w(t.file(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    ));
    w(t.file("etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n"));
    w(t.file("etc/nsswitch.conf", 0o644, b"hosts: files dns\n"));
    let mut seen = std::collections::BTreeSet::new();
    for a in applets.lines().map(str::trim).filter(|a| !a.is_empty()) {
        if a == "bin/busybox" || !seen.insert(a.to_string()) {
            continue;
        }
        w(t.symlink(a, "/bin/busybox"));
    }
    t.finish()
        .expect("finish busybox rootfs")
        .flush()
        .expect("flush busybox rootfs");
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_builder_whiteouts_and_names() {
        let tar = Layer::new()
            .dir("etc/")
            .file("etc/a", "1")
            .whiteout("etc/b")
            .opaque("var/lib")
            .build();
        let mut ar = tar::Archive::new(&tar[..]);
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| String::from_utf8(e.unwrap().path_bytes().into_owned()).unwrap())
            .collect();
        assert_eq!(
            names,
            ["etc/", "etc/a", "etc/.wh.b", "var/lib/.wh..wh..opq"]
        );
    }

    #[test]
    fn random_layer_has_requested_size_and_is_deterministic() {
        let d = tempfile::tempdir().unwrap();
        let a = write_random_layer(&d.path().join("a.tar"), 100_000, 7);
        let b = write_random_layer(&d.path().join("b.tar"), 100_000, 7);
        let c = write_random_layer(&d.path().join("c.tar"), 100_000, 8);
        let (a, b, c) = (
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            std::fs::read(c).unwrap(),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut ar = tar::Archive::new(&a[..]);
        let total: u64 = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().header().size().unwrap())
            .sum();
        assert_eq!(total, 100_000);
    }
}

//! A minimal tar writer that writes names and link targets *verbatim*.
//!
//! The `tar` crate refuses `..` components and absolute paths when building archives,
//! which is right for producers but useless for hostile fixtures; this writer emits
//! ustar headers (with a PAX `path`/`linkpath` record when a name is too long) for
//! exactly the bytes it is given.

use std::io::{self, Read, Write};

/// Fixed mtime for reproducible fixtures (2020-09-13T12:26:40Z).
pub const FIXED_MTIME: u64 = 1_600_000_000;

/// Entry kinds, with their ustar type flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    CharDevice { major: u32, minor: u32 },
    BlockDevice { major: u32, minor: u32 },
    Fifo,
}

impl Kind {
    fn flag(self) -> u8 {
        match self {
            Kind::File => b'0',
            Kind::Hardlink => b'1',
            Kind::Symlink => b'2',
            Kind::CharDevice { .. } => b'3',
            Kind::BlockDevice { .. } => b'4',
            Kind::Dir => b'5',
            Kind::Fifo => b'6',
        }
    }
}

/// Header fields of one entry.
#[derive(Debug, Clone)]
pub struct Header {
    pub path: String,
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
    pub link: String,
    pub size: u64,
    /// Extra PAX records (e.g. `SCHILY.xattr.user.x`).
    pub pax: Vec<(String, Vec<u8>)>,
}

impl Header {
    pub fn new(path: &str, kind: Kind) -> Header {
        let mode = match kind {
            Kind::Dir => 0o755,
            Kind::Symlink => 0o777,
            _ => 0o644,
        };
        Header {
            path: path.to_string(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: FIXED_MTIME,
            link: String::new(),
            size: 0,
            pax: Vec::new(),
        }
    }
}

/// Streams tar entries to `W`; call [`TarWriter::finish`] to write the end blocks.
pub struct TarWriter<W: Write> {
    w: W,
}

fn octal(field: &mut [u8], v: u64) {
    // width-1 digits, NUL terminated.
    let w = field.len() - 1;
    let s = format!("{v:0w$o}");
    assert!(
        s.len() <= w,
        "tar header field overflow: {v} does not fit {w} octal digits"
    );
    field[..w].copy_from_slice(s.as_bytes());
    field[w] = 0;
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    // "<len> key=value\n" where len counts itself.
    let body_len = 1 + key.len() + 1 + value.len() + 1;
    let mut len = body_len + 1;
    loop {
        let total = body_len + len.to_string().len();
        if total == len {
            break;
        }
        len = total;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

impl<W: Write> TarWriter<W> {
    pub fn new(w: W) -> TarWriter<W> {
        TarWriter { w }
    }

    fn raw_header(
        &mut self,
        name: &[u8],
        h: &Header,
        flag: u8,
        size: u64,
        link: &[u8],
    ) -> io::Result<()> {
        let mut b = [0u8; 512];
        let n = name.len().min(100);
        b[..n].copy_from_slice(&name[..n]);
        octal(&mut b[100..108], u64::from(h.mode));
        octal(&mut b[108..116], u64::from(h.uid));
        octal(&mut b[116..124], u64::from(h.gid));
        octal(&mut b[124..136], size);
        octal(&mut b[136..148], h.mtime);
        b[156] = flag;
        let l = link.len().min(100);
        b[157..157 + l].copy_from_slice(&link[..l]);
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        b[265..269].copy_from_slice(b"root");
        b[297..301].copy_from_slice(b"root");
        if let Kind::CharDevice { major, minor } | Kind::BlockDevice { major, minor } = h.kind {
            octal(&mut b[329..337], u64::from(major));
            octal(&mut b[337..345], u64::from(minor));
        }
        b[148..156].copy_from_slice(b"        ");
        let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
        let s = format!("{sum:06o}\0 ");
        b[148..156].copy_from_slice(s.as_bytes());
        self.w.write_all(&b)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (512 - size % 512) % 512;
        self.w.write_all(&vec![0u8; rem as usize])
    }

    /// Write one entry; `data` must yield exactly `h.size` bytes for regular files.
    pub fn append(&mut self, h: &Header, data: &mut dyn Read) -> io::Result<()> {
        let mut pax = Vec::new();
        if h.path.len() > 100 {
            pax.extend(pax_record("path", h.path.as_bytes()));
        }
        if h.link.len() > 100 {
            pax.extend(pax_record("linkpath", h.link.as_bytes()));
        }
        for (k, v) in &h.pax {
            pax.extend(pax_record(k, v));
        }
        if !pax.is_empty() {
            let ph = Header::new("PaxHeader", Kind::File);
            self.raw_header(b"././@PaxHeader", &ph, b'x', pax.len() as u64, b"")?;
            self.w.write_all(&pax)?;
            self.pad(pax.len() as u64)?;
        }
        let size = if h.kind == Kind::File { h.size } else { 0 };
        self.raw_header(h.path.as_bytes(), h, h.kind.flag(), size, h.link.as_bytes())?;
        if size > 0 {
            let copied = io::copy(&mut data.take(size), &mut self.w)?;
            if copied != size {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "tar entry {}: data ended after {copied} of {size} bytes",
                        h.path
                    ),
                ));
            }
            self.pad(size)?;
        }
        Ok(())
    }

    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        let mut h = Header::new(path, Kind::File);
        h.mode = mode;
        h.size = data.len() as u64;
        self.append(&h, &mut &data[..])
    }

    pub fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        let mut h = Header::new(path, Kind::Dir);
        h.mode = mode;
        self.append(&h, &mut io::empty())
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        let mut h = Header::new(path, Kind::Symlink);
        h.link = target.to_string();
        self.append(&h, &mut io::empty())
    }

    pub fn hardlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        let mut h = Header::new(path, Kind::Hardlink);
        h.link = target.to_string();
        self.append(&h, &mut io::empty())
    }

    pub fn node(&mut self, path: &str, kind: Kind) -> io::Result<()> {
        self.append(&Header::new(path, kind), &mut io::empty())
    }

    /// Write the two zero blocks that end an archive and return the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_all(&[0u8; 1024])?;
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tar_crate_reads_what_we_write_including_long_and_hostile_names() {
        let long = format!("{}/file", "d".repeat(150));
        let mut t = TarWriter::new(Vec::new());
        t.dir("etc/", 0o755).unwrap();
        t.file("etc/hostname", 0o644, b"box\n").unwrap();
        t.file(&long, 0o600, b"x").unwrap();
        t.symlink("abs", "/etc").unwrap();
        t.file("../../escape", 0o644, b"evil").unwrap();
        let bytes = t.finish().unwrap();
        let mut ar = tar::Archive::new(&bytes[..]);
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let p = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            seen.push((p, s));
        }
        assert_eq!(seen[1], ("etc/hostname".to_string(), "box\n".to_string()));
        assert_eq!(seen[2].0, long);
        assert_eq!(seen[4], ("../../escape".to_string(), "evil".to_string()));
    }

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_record("path", b"abc");
        assert_eq!(r, b"12 path=abc\n");
        let r = pax_record("path", &[b'a'; 95]);
        let s = String::from_utf8(r.clone()).unwrap();
        let n: usize = s.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(n, r.len());
    }
}

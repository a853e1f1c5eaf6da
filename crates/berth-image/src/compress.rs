//! Compression detection by magic bytes, and transparent decompression.

use std::io::{self, BufRead, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// Looks at the first bytes of `r` without consuming them.
pub(crate) fn detect<R: BufRead>(r: &mut R) -> io::Result<Compression> {
    // fill_buf may return fewer bytes than a magic needs at a read boundary; the
    // callers' buffers are 1 MiB and sources deliver far more than 6 bytes at once
    // except at EOF, where a short input is simply not compressed.
    let buf = r.fill_buf()?;
    Ok(detect_bytes(buf))
}

pub(crate) fn detect_bytes(buf: &[u8]) -> Compression {
    if buf.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if buf.starts_with(b"BZh") {
        Compression::Bzip2
    } else if buf.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if buf.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps `r` in the decompressor its first bytes call for (gzip, bzip2, xz, zstd, or
/// none); the builder uses it for contexts and ADD archives.
pub fn decompress<'a, R: BufRead + 'a>(mut r: R) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match detect(&mut r)? {
        Compression::None => Box::new(r),
        // Multi-member variants: concatenated streams are valid, as in Go's readers.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn roundtrip(c: Compression, data: &[u8]) -> Vec<u8> {
        let compressed = match c {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
        };
        assert_eq!(detect_bytes(&compressed), c);
        let mut out = Vec::new();
        decompress(io::BufReader::new(&compressed[..]))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn all_formats_roundtrip() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Bzip2,
            Compression::Xz,
            Compression::Zstd,
        ] {
            assert_eq!(roundtrip(c, &data), data, "{c:?}");
        }
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&[1u8; 100_000]).unwrap();
        let gz = e.finish().unwrap();
        let mut out = Vec::new();
        let r = decompress(io::BufReader::new(&gz[..gz.len() / 2]))
            .unwrap()
            .read_to_end(&mut out);
        assert!(r.is_err());
    }
}

//! Splicing a hijacked client connection with a shim's attach stream. The client's
//! bytes go to the container's stdin, except the detach sequence (ctrl-p ctrl-q by
//! default), which ends the attach and leaves the container running. A client that
//! half-closes its side closes the container's stdin (the shim does that for
//! `stdin_once`), and output keeps flowing until the process ends.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A parsed `detachKeys` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachKeys(pub Vec<u8>);

impl Default for DetachKeys {
    fn default() -> Self {
        DetachKeys(vec![0x10, 0x11])
    }
}

impl DetachKeys {
    /// docker's format: comma-separated `ctrl-<c>` or single characters. Empty means
    /// the default.
    pub fn parse(s: &str) -> Result<DetachKeys, String> {
        if s.is_empty() {
            return Ok(DetachKeys::default());
        }
        let mut out = Vec::new();
        for part in s.split(',') {
            if let Some(c) = part.strip_prefix("ctrl-") {
                let b = match c.as_bytes() {
                    [b] if b.is_ascii_lowercase() => b - b'a' + 1,
                    [b'@'] => 0,
                    [b'['] => 27,
                    [b'\\'] => 28,
                    [b']'] => 29,
                    [b'^'] => 30,
                    [b'_'] => 31,
                    _ => return Err(format!("Unknown character: '{c}'")),
                };
                out.push(b);
            } else if part.len() == 1 {
                out.push(part.as_bytes()[0]);
            } else {
                return Err(format!("Unknown character: '{part}'"));
            }
        }
        Ok(DetachKeys(out))
    }
}

/// Finds the detach sequence across reads; holds back a partial match.
struct Escape {
    keys: Vec<u8>,
    matched: usize,
}

impl Escape {
    /// Returns the bytes to forward and whether the full sequence was seen.
    fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

/// How a splice ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The container's stream ended (process exited).
    Output,
    /// The client typed the detach sequence.
    Detached,
    /// The client went away.
    ClientGone,
}

/// Copies client -> shim (with detach-key detection) and shim -> client until the
/// output ends or the client detaches. `before_close` runs between the end of the
/// output and the client's close (exec uses it to record the exit code first).
pub async fn splice<C, S, F>(client: C, shim: S, keys: Option<DetachKeys>, before_close: F) -> Ended
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
    F: std::future::Future<Output = ()>,
{
    let (mut cr, mut cw) = tokio::io::split(client);
    let (mut sr, mut sw) = tokio::io::split(shim);
    let mut esc = Escape {
        keys: keys.map(|k| k.0).unwrap_or_default(),
        matched: 0,
    };
    let to_shim = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match cr.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = sw.shutdown().await;
                    return false;
                }
                Ok(n) => {
                    let (fwd, detach) = esc.feed(&buf[..n]);
                    if !fwd.is_empty() && sw.write_all(&fwd).await.is_err() {
                        return false;
                    }
                    if detach {
                        return true;
                    }
                }
            }
        }
    };
    let to_client = async {
        let r = tokio::io::copy(&mut sr, &mut cw).await;
        let _ = cw.flush().await;
        before_close.await;
        let _ = cw.shutdown().await;
        r.is_ok()
    };
    tokio::pin!(to_shim, to_client);
    tokio::select! {
        detached = &mut to_shim => {
            if detached {
                return Ended::Detached;
            }
            // stdin ended: output goes on until the process ends.
            if to_client.await { Ended::Output } else { Ended::ClientGone }
        }
        ok = &mut to_client => if ok { Ended::Output } else { Ended::ClientGone },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse() {
        assert_eq!(DetachKeys::parse("").unwrap().0, vec![0x10, 0x11]);
        assert_eq!(DetachKeys::parse("ctrl-a,x").unwrap().0, vec![1, b'x']);
        assert!(DetachKeys::parse("ctrl-1").is_err());
        assert!(DetachKeys::parse("abc").is_err());
    }

    #[test]
    fn escape_holds_back_partial_matches() {
        let mut e = Escape {
            keys: vec![0x10, 0x11],
            matched: 0,
        };
        assert_eq!(e.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(e.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(e.feed(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(e.feed(b"\x11zz"), (Vec::new(), true));
    }

    #[tokio::test]
    async fn half_close_keeps_output_flowing() {
        let (client, mut client_peer) = tokio::io::duplex(1024);
        let (shim, mut shim_peer) = tokio::io::duplex(1024);
        let task = tokio::spawn(splice(
            client,
            shim,
            Some(DetachKeys::default()),
            std::future::ready(()),
        ));
        client_peer.write_all(b"in").await.unwrap();
        client_peer.shutdown().await.unwrap();
        let mut got = [0u8; 2];
        shim_peer.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"in");
        shim_peer.write_all(b"out").await.unwrap();
        drop(shim_peer);
        let mut out = Vec::new();
        client_peer.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"out");
        assert_eq!(task.await.unwrap(), Ended::Output);
    }
}

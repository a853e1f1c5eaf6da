//! Hijacked attach/exec streams, as docker's `hijackedIOStreamer` drives them: raw
//! bytes both ways for a tty, 8-byte-header frames demultiplexed to stdout/stderr
//! otherwise; stdin copied until EOF, then the write side half-closed so the daemon
//! closes the process's stdin; the detach sequence watched for on a tty.

use std::io::Write;

use anyhow::Result;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::tty::{Escape, EscapeProxy, RawGuard};

/// How a stream is wired to this process.
pub(crate) struct StreamOpts {
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// The detach sequence, checked on a tty input only (docker's escape proxy).
    pub detach_keys: Vec<u8>,
}

/// How the stream ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The daemon closed the output (the process ended or was detached there).
    Done,
    /// The user typed the detach sequence.
    Detached,
}

/// Reads fd 0 on a plain thread: a blocking read left behind at exit must not keep
/// the async runtime from shutting down.
pub(crate) fn stdin_chunks() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(4);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: reads into a buffer we own from fd 0.
            let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                break;
            }
            if n == 0 || tx.blocking_send(buf[..n as usize].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

fn write_fd(fd: i32, data: &[u8]) -> std::io::Result<()> {
    if fd == 2 {
        let mut e = std::io::stderr().lock();
        e.write_all(data)?;
        e.flush()
    } else {
        let mut o = std::io::stdout().lock();
        o.write_all(data)?;
        o.flush()
    }
}

/// Copies the daemon's output to our stdout/stderr until EOF.
async fn copy_output<R: AsyncRead + Unpin>(mut r: R, o: &StreamOpts) -> Result<()> {
    if o.tty {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            if o.stdout || o.stderr {
                let _ = write_fd(1, &buf[..n]);
            }
        }
    }
    demux(r, |stream, data| {
        let fd = if stream == 2 { 2 } else { 1 };
        let wanted = if fd == 2 { o.stderr } else { o.stdout };
        if wanted {
            let _ = write_fd(fd, data);
        }
    })
    .await
}

/// docker's `stdcopy.StdCopy`: frames of `[stream, 0, 0, 0, len(be u32)]` + payload.
/// Stream 3 carries a daemon-side error, returned as the error.
pub(crate) async fn demux<R: AsyncRead + Unpin>(
    mut r: R,
    mut sink: impl FnMut(u8, &[u8]),
) -> Result<()> {
    let mut header = [0u8; 8];
    let mut payload = Vec::new();
    loop {
        match r.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        payload.resize(len, 0);
        r.read_exact(&mut payload).await?;
        match header[0] {
            0..=2 => sink(header[0], &payload),
            3 => anyhow::bail!("{}", String::from_utf8_lossy(&payload)),
            s => anyhow::bail!("Unrecognized input header: {s}"),
        }
    }
}

/// Runs one hijacked stream to its end. `io` is the upgraded connection.
pub(crate) async fn stream<S>(io: S, o: StreamOpts) -> Result<StreamEnd>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, mut wr) = tokio::io::split(io);
    // Raw mode only for a terminal we read from, as docker's setupInput does.
    let raw = if o.stdin && o.tty && crate::tty::is_terminal(0) {
        Some(RawGuard::enable()?)
    } else {
        None
    };
    let want_output = o.stdout || o.stderr;
    let output = copy_output(rd, &o);
    let input = async {
        if o.stdin {
            let mut rx = stdin_chunks();
            let mut proxy = EscapeProxy::new(if o.tty { o.detach_keys.clone() } else { vec![] });
            while let Some(chunk) = rx.recv().await {
                match proxy.feed(&chunk) {
                    Escape::Forward(b) => {
                        if wr.write_all(&b).await.is_err() {
                            break;
                        }
                    }
                    Escape::Detach(b) => {
                        let _ = wr.write_all(&b).await;
                        return StreamEnd::Detached;
                    }
                }
            }
        }
        let _ = wr.shutdown().await;
        StreamEnd::Done
    };
    tokio::pin!(output);
    tokio::pin!(input);
    let end = tokio::select! {
        r = &mut output => { r?; StreamEnd::Done }
        end = &mut input => {
            if end == StreamEnd::Detached {
                StreamEnd::Detached
            } else {
                if want_output {
                    output.await?;
                }
                StreamEnd::Done
            }
        }
    };
    drop(raw);
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn demux_splits_frames() {
        let mut data = vec![1, 0, 0, 0, 0, 0, 0, 3];
        data.extend_from_slice(b"out");
        data.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 4]);
        data.extend_from_slice(b"err\n");
        let mut got = Vec::new();
        demux(&data[..], |s, d| got.push((s, d.to_vec())))
            .await
            .unwrap();
        assert_eq!(got, vec![(1, b"out".to_vec()), (2, b"err\n".to_vec())]);
        let bad = [3u8, 0, 0, 0, 0, 0, 0, 4, b'b', b'o', b'o', b'm'];
        let e = demux(&bad[..], |_, _| {}).await.unwrap_err();
        assert_eq!(e.to_string(), "boom");
    }
}

//! Reading responses: whole JSON, raw byte streams, and JSON-lines progress streams.

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::Error;

/// A daemon response whose body has not been read yet.
pub struct Response {
    inner: hyper::Response<Incoming>,
}

impl Response {
    pub(crate) fn new(inner: hyper::Response<Incoming>) -> Self {
        Response { inner }
    }

    pub fn status(&self) -> u16 {
        self.inner.status().as_u16()
    }

    /// A header value, if present and valid UTF-8 (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The next chunk of the body, or `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            match self.inner.body_mut().frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(Error::Http(e.to_string())),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The whole body.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let collected = self
            .inner
            .into_body()
            .collect()
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        Ok(collected.to_bytes())
    }

    /// The whole body decoded as JSON.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let body = self.bytes().await?;
        serde_json::from_slice(&body).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Copies the body to `out` as it arrives; returns the number of bytes.
    pub async fn copy_to<W: AsyncWrite + Unpin>(mut self, out: &mut W) -> Result<u64, Error> {
        let mut n = 0u64;
        while let Some(chunk) = self.chunk().await? {
            out.write_all(&chunk).await?;
            n += chunk.len() as u64;
        }
        out.flush().await?;
        Ok(n)
    }

    /// The body as a stream of newline-delimited JSON values.
    pub fn json_lines(self) -> JsonLines {
        JsonLines {
            resp: self,
            buf: BytesMut::new(),
            done: false,
        }
    }

    /// Takes over the connection after a `101` answer to a request built with
    /// [`RequestBuilder::upgrade`](crate::RequestBuilder::upgrade) (attach, exec):
    /// the raw bidirectional stream.
    pub async fn upgrade(self) -> Result<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>, Error> {
        let up = hyper::upgrade::on(self.inner)
            .await
            .map_err(|e| Error::Http(e.to_string()))?;
        Ok(hyper_util::rt::TokioIo::new(up))
    }

    /// The underlying hyper response, e.g. for `hyper::upgrade::on`.
    pub fn into_inner(self) -> hyper::Response<Incoming> {
        self.inner
    }
}

/// Newline-delimited JSON messages (progress streams, events).
pub struct JsonLines {
    resp: Response,
    buf: BytesMut,
    done: bool,
}

impl JsonLines {
    /// The next JSON value; `None` at the end of the stream. Blank lines are skipped.
    pub async fn next<T: DeserializeOwned>(&mut self) -> Option<Result<T, Error>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(pos + 1);
                match parse_line(&line) {
                    Some(r) => return Some(r),
                    None => continue,
                }
            }
            if self.done {
                let rest = self.buf.split();
                return parse_line(&rest);
            }
            match self.resp.chunk().await {
                Ok(Some(c)) => self.buf.extend_from_slice(&c),
                Ok(None) => self.done = true,
                Err(e) => {
                    self.done = true;
                    self.buf.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}

fn parse_line<T: DeserializeOwned>(line: &[u8]) -> Option<Result<T, Error>> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return None;
    }
    Some(serde_json::from_slice(trimmed).map_err(|e| Error::Decode(e.to_string())))
}

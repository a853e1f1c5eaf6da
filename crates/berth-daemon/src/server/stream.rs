//! Streaming bodies both ways without buffering archives: request body -> blocking
//! `Read`; blocking writer / progress lines -> response body.

use std::io;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use berth_api::JsonMessage;

use super::error::error_response;
use crate::error::Error;

/// The request body as a blocking reader, for use inside `spawn_blocking`. When the
/// client goes away the reads fail, so the blocking task always ends.
pub fn body_reader(body: Body) -> impl io::Read + Send + 'static {
    let stream = body
        .into_data_stream()
        .map(|r| r.map_err(|e| io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string())));
    SyncIoBridge::new(StreamReader::new(stream))
}

/// The most of an unwanted request body read after a failure. Clients that write the
/// whole body before reading the answer (hyper-based ones) would otherwise see a
/// broken pipe instead of the error; dockerd's Go server is lenient the same way.
pub const DRAIN_LIMIT: u64 = 512 << 20;

/// Reads and discards up to [`DRAIN_LIMIT`] bytes of a body reader (blocking).
pub fn drain(reader: &mut dyn io::Read) {
    let _ = io::copy(&mut io::Read::take(reader, DRAIN_LIMIT), &mut io::sink());
}

/// Async twin of [`drain`] for errors found before any work started.
pub async fn drain_body(body: Body) {
    let mut stream = body.into_data_stream();
    let mut n: u64 = 0;
    while let Some(Ok(chunk)) = stream.next().await {
        n += chunk.len() as u64;
        if n >= DRAIN_LIMIT {
            break;
        }
    }
}

/// Something a blocking producer sends to the response.
pub enum Item {
    Line(Box<JsonMessage>),
    Fail(Error),
}

/// The sending half given to blocking code.
#[derive(Clone)]
pub struct Lines(mpsc::Sender<Item>);

impl Lines {
    /// Sends a line; `false` when the client is gone.
    pub fn send(&self, m: JsonMessage) -> bool {
        self.0.blocking_send(Item::Line(Box::new(m))).is_ok()
    }
    pub fn fail(&self, e: Error) {
        let _ = self.0.blocking_send(Item::Fail(e));
    }
}

fn channel_stream(
    rx: mpsc::Receiver<Item>,
) -> impl futures_util::Stream<Item = Result<Bytes, io::Error>> {
    futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        let bytes = match item {
            Item::Line(m) => Bytes::from(m.to_line()),
            Item::Fail(e) => {
                tracing::debug!("in-band error: {}", e.message);
                Bytes::from(JsonMessage::error(e.message).to_line())
            }
        };
        Some((Ok(bytes), rx))
    })
}

/// Runs `work` on the blocking pool and answers with docker's JSON message stream.
/// With `status_until_output`, an error before the first line becomes a normal error
/// status (dockerd's "not flushed yet" rule, used by import); otherwise the 200 is
/// sent at once and errors go in-band (load).
pub async fn progress_response<F>(status_until_output: bool, work: F) -> Response
where
    F: FnOnce(&Lines) -> Result<(), Error> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Item>(32);
    let lines = Lines(tx);
    tokio::task::spawn_blocking(move || {
        // A panic in store code must still end the stream with an error line.
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&lines)))
            .unwrap_or_else(|p| {
                Err(Error::internal(format!(
                    "internal error: {}",
                    panic_text(&*p)
                )))
            });
        if let Err(e) = res {
            lines.fail(e);
        }
    });
    let first = if status_until_output {
        match rx.recv().await {
            Some(Item::Fail(e)) => return error_response(&e),
            other => other,
        }
    } else {
        None
    };
    let head = futures_util::stream::iter(first.map(|i| {
        Ok::<_, io::Error>(match i {
            Item::Line(m) => Bytes::from(m.to_line()),
            Item::Fail(e) => Bytes::from(JsonMessage::error(e.message).to_line()),
        })
    }));
    let body = Body::from_stream(head.chain(channel_stream(rx)));
    ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The message of a caught panic.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// A blocking `Write` that forwards chunks to the response body.
pub struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

const CHUNK: usize = 64 * 1024;

impl ChannelWriter {
    pub fn new(tx: mpsc::Sender<Result<Bytes, io::Error>>) -> Self {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn push(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }

    /// Ends the body with an error so the client sees a truncated transfer, not a
    /// clean end of a partial archive.
    pub fn abort(self, msg: String) {
        let _ = self.tx.blocking_send(Err(io::Error::other(msg)));
    }
}

impl io::Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.push()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.push()
    }
}

/// A response body fed by a [`ChannelWriter`].
pub fn writer_body() -> (ChannelWriter, Body) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(8);
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) });
    (ChannelWriter::new(tx), Body::from_stream(stream))
}

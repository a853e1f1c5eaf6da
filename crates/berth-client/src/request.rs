//! Building and sending one request on its own connection.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Empty, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncRead;
use tokio::net::{TcpStream, UnixStream};

use crate::{Client, Error, Host, Response};

/// A request body: nothing, bytes, or a stream sent chunked.
pub enum Body {
    Empty,
    Bytes(Bytes),
    /// Read to EOF and sent with `Transfer-Encoding: chunked`.
    Reader(Pin<Box<dyn AsyncRead + Send>>),
}

impl Body {
    fn into_http(self) -> UnsyncBoxBody<Bytes, std::io::Error> {
        match self {
            Body::Empty => Empty::new().map_err(|never| match never {}).boxed_unsync(),
            Body::Bytes(b) => Full::new(b).map_err(|never| match never {}).boxed_unsync(),
            Body::Reader(r) => {
                let stream = tokio_util::io::ReaderStream::with_capacity(r, 64 * 1024)
                    .map(|chunk| chunk.map(Frame::data));
                BodyExt::boxed_unsync(StreamBody::new(stream))
            }
        }
    }
}

/// One API request being built; `send` connects, sends and maps errors.
pub struct RequestBuilder<'a> {
    client: &'a Client,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Body,
}

impl<'a> RequestBuilder<'a> {
    pub(crate) fn new(client: &'a Client, method: Method, path: &str) -> Self {
        RequestBuilder {
            client,
            method,
            path: path.to_string(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
        }
    }

    /// Adds `key=value` to the query string.
    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds `key=value` when `value` is `Some`.
    pub fn query_opt(self, key: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    /// Adds `key=1` when `flag` is set, as docker's client does for booleans.
    pub fn query_flag(self, key: &str, flag: bool) -> Self {
        if flag { self.query(key, "1") } else { self }
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }

    /// Asks the daemon to hijack the connection (`Connection: Upgrade`, `Upgrade: tcp`),
    /// as docker's attach and exec start do; see [`Response::upgrade`].
    pub fn upgrade(self) -> Self {
        self.header("connection", "Upgrade")
            .header("upgrade", "tcp")
    }

    /// A JSON body (`Content-Type: application/json`).
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.body = Body::Bytes(bytes.into());
        self.header("content-type", "application/json")
    }

    /// A streamed body, sent chunked (load, import, build contexts).
    pub fn body_reader(
        mut self,
        reader: impl AsyncRead + Send + 'static,
        content_type: &str,
    ) -> Self {
        self.body = Body::Reader(Box::pin(reader));
        self.header("content-type", content_type)
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// The path plus the encoded query string.
    pub fn uri(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let q: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
            .collect();
        format!("{}?{}", self.path, q.join("&"))
    }

    /// Sends the request; a non-2xx answer becomes [`Error::Daemon`].
    pub async fn send(self) -> Result<Response, Error> {
        let resp = self.send_raw().await?;
        if resp.status() >= 400 {
            let status = resp.status();
            let body = resp.bytes().await.unwrap_or_default();
            return Err(Error::from_body(status, &body));
        }
        Ok(resp)
    }

    /// Sends the request and returns the response whatever its status.
    pub async fn send_raw(self) -> Result<Response, Error> {
        let uri = self.uri();
        let host = self.client.host().clone();
        let authority = match &host {
            Host::Unix(_) => "api.moby.localhost".to_string(),
            Host::Tcp(a) => a.clone(),
        };
        let mut req = Request::builder()
            .method(self.method)
            .uri(&uri)
            .header("host", authority)
            .header(
                "user-agent",
                concat!("berth/", env!("CARGO_PKG_VERSION"), " (linux)"),
            );
        for (k, v) in self.headers {
            req = req.header(k, v);
        }
        let req = req
            .body(self.body.into_http())
            .map_err(|e| Error::Http(e.to_string()))?;
        let mut sender = connect(&host).await?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| Error::Http(chain(&e)))?;
        Ok(Response::new(resp))
    }
}

type Sender = hyper::client::conn::http1::SendRequest<UnsyncBoxBody<Bytes, std::io::Error>>;

async fn connect(host: &Host) -> Result<Sender, Error> {
    let connect_err = |source| Error::Connect {
        host: host.to_string(),
        source,
    };
    match host {
        Host::Unix(path) => {
            let s = UnixStream::connect(path).await.map_err(connect_err)?;
            handshake(TokioIo::new(s)).await
        }
        Host::Tcp(addr) => {
            let s = TcpStream::connect(addr.as_str())
                .await
                .map_err(connect_err)?;
            let _ = s.set_nodelay(true);
            handshake(TokioIo::new(s)).await
        }
    }
}

async fn handshake<T>(io: T) -> Result<Sender, Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| Error::Http(e.to_string()))?;
    // Upgrades stay enabled so attach/exec can take the raw stream over later.
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

/// An error with its causes, `outer: inner: innermost`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

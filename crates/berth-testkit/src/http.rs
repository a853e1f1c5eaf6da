//! Plain HTTP/1.1 on raw sockets: a client for the daemon's unix socket (so tests can
//! send malformed requests no well-behaved client would) and a tiny file server on
//! 127.0.0.1 for `import URL`.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lowercased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as one JSON value; panics with the body if it is not JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {}", self.text()))
    }

    /// A newline-delimited JSON stream (load/import progress, events).
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("stream line is not JSON ({e}): {l}"))
            })
            .collect()
    }
}

/// Send `method path` with optional body to the unix socket and read the whole response.
/// The request carries `Connection: close`; the body (if any) is sent with Content-Length.
pub fn unix_request(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<HttpResponse> {
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    let raw = unix_raw(socket, &bytes)?;
    parse_response(&raw, method == "HEAD")
}

/// Write `request` bytes verbatim and return every byte the server sends until it
/// closes. The write side stays open: servers (Go's and hyper's) treat a half-close as
/// the client going away and may cancel the request, so complete requests must not
/// half-close. Use [`unix_raw_eof`] for incomplete garbage.
pub fn unix_raw(socket: &Path, request: &[u8]) -> io::Result<Vec<u8>> {
    raw(socket, request, false)
}

/// Like [`unix_raw`] but half-closes after writing, so a server waiting for more of an
/// incomplete request sees EOF instead of the test waiting for a timeout.
pub fn unix_raw_eof(socket: &Path, request: &[u8]) -> io::Result<Vec<u8>> {
    raw(socket, request, true)
}

fn raw(socket: &Path, request: &[u8], eof: bool) -> io::Result<Vec<u8>> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.set_write_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(request)?;
    if eof {
        // The server may already have answered and closed; ignore a failed shutdown.
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    Ok(out)
}

/// Parse one HTTP/1.x response (status line, headers, Content-Length or chunked body).
pub fn parse_response(raw: &[u8], head_only: bool) -> io::Result<HttpResponse> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            bad(&format!(
                "no end of headers in response: {:?}",
                String::from_utf8_lossy(raw)
            ))
        })?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("headers are not utf-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(&format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if head_only {
        Vec::new()
    } else if chunked {
        dechunk(rest).map_err(|e| bad(&e))?
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = data.windows(2).position(|w| w == b"\r\n") else {
            // Connection closed mid-stream: return what arrived.
            return Ok(out);
        };
        let size_str = std::str::from_utf8(&data[..nl]).map_err(|_| "bad chunk size")?;
        let size_str = size_str.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| format!("bad chunk size {size_str:?}"))?;
        data = &data[nl + 2..];
        if size == 0 {
            return Ok(out);
        }
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        data = &data[take..];
        if data.len() >= 2 {
            data = &data[2..];
        }
    }
}

/// A static file server on 127.0.0.1 (random port) for `import http://...`.
/// Serves registered paths with 200 and everything else with 404; counts requests.
pub struct FileServer {
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Serve `files`: URL path (e.g. `/rootfs.tar`) → file on disk.
    pub fn start(files: &[(&str, &Path)]) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let map: HashMap<String, PathBuf> = files
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_path_buf()))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let (stop2, hits2) = (stop.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                hits2.fetch_add(1, Ordering::SeqCst);
                let map = map.clone();
                std::thread::spawn(move || {
                    let _ = serve_one(conn, &map);
                });
            }
        });
        FileServer {
            addr,
            stop,
            hits,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT{path}`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Number of connections accepted so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn serve_one(conn: TcpStream, map: &HashMap<String, PathBuf>) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut conn = conn;
    match map.get(&path) {
        Some(file) => {
            let mut f = std::fs::File::open(file)?;
            let len = f.metadata()?.len();
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
            )?;
            if method != "HEAD" {
                io::copy(&mut f, &mut conn)?;
            }
        }
        None => {
            let body = "not found\n";
            write!(
                conn,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
        }
    }
    conn.flush()
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so the thread sees the flag and exits.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks_and_parses() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nApi-Version: 1.45\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let r = parse_response(raw, false).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("API-Version"), Some("1.45"));
        assert_eq!(r.text(), "hello world");
    }

    #[test]
    fn file_server_serves_and_404s() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.tar");
        std::fs::write(&f, b"payload").unwrap();
        let srv = FileServer::start(&[("/a.tar", &f)]);
        let get = |p: &str| {
            let mut s = TcpStream::connect(srv.addr).unwrap();
            write!(s, "GET {p} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut v = Vec::new();
            s.read_to_end(&mut v).unwrap();
            parse_response(&v, false).unwrap()
        };
        let ok = get("/a.tar");
        assert_eq!((ok.status, ok.text().as_str()), (200, "payload"));
        assert_eq!(get("/missing").status, 404);
        assert_eq!(srv.hits(), 2);
    }
}

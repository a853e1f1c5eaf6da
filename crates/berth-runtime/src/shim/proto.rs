//! The shim's control socket: a client sends one JSON request line and reads one JSON
//! response line; an `attach` then turns the connection into the container's stream,
//! already in the Engine API's wire form (raw for a tty, 8-byte-header frames
//! otherwise), so the daemon only splices bytes between it and the HTTP client.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Starts the created container (no-op for exec shims, which start at once).
    Start,
    /// Streams output (and takes input) from now on.
    Attach {
        #[serde(default)]
        stdin: bool,
        #[serde(default)]
        stdout: bool,
        #[serde(default)]
        stderr: bool,
        /// Close the container's stdin when this client half-closes (docker's StdinOnce).
        #[serde(default)]
        stdin_once: bool,
    },
    Resize {
        height: u16,
        width: u16,
    },
    Kill {
        signal: i32,
        #[serde(default)]
        all: bool,
    },
    /// Answers when the process has exited.
    Wait,
    State,
    Pause,
    Resume,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitStatus>,
}

impl Response {
    pub fn ok() -> Response {
        Response {
            ok: true,
            ..Default::default()
        }
    }
    pub fn err(msg: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(msg.into()),
            ..Default::default()
        }
    }
    pub fn line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_else(|_| b"{\"ok\":false}".to_vec());
        v.push(b'\n');
        v
    }
}

/// How the process ended; written to `exit.json` and sent to waiters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExitStatus {
    /// docker's convention: the exit status, or 128 + signal when killed.
    pub exit_code: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// RFC 3339 with nanoseconds.
    pub finished_at: String,
    #[serde(default)]
    pub oom_killed: bool,
}

/// The 8-byte header of a multiplexed stream frame: stream id (0 stdin, 1 stdout,
/// 2 stderr), three zero bytes, payload length big-endian.
pub fn frame_header(stream: u8, len: usize) -> [u8; 8] {
    let n = (len as u32).to_be_bytes();
    [stream, 0, 0, 0, n[0], n[1], n[2], n[3]]
}

/// A blocking client for one request (tests and tools; the daemon has its own async one).
pub fn call(socket: &Path, req: &Request) -> io::Result<(Response, UnixStream)> {
    let mut s = UnixStream::connect(socket)?;
    let mut line = serde_json::to_vec(req).map_err(io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)?;
    // Read byte-wise up to the newline so nothing of a following stream is consumed.
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = s.read(&mut byte)?;
        if n == 0 || byte[0] == b'\n' {
            break;
        }
        raw.push(byte[0]);
    }
    let resp = String::from_utf8_lossy(&raw).into_owned();
    let resp: Response = serde_json::from_str(&resp).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("shim answered {resp:?}: {e}"),
        )
    })?;
    Ok((resp, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wire_form() {
        let r: Request = serde_json::from_str(r#"{"op":"attach","stdout":true}"#).unwrap();
        assert_eq!(
            r,
            Request::Attach {
                stdin: false,
                stdout: true,
                stderr: false,
                stdin_once: false
            }
        );
        assert_eq!(
            serde_json::to_string(&Request::Kill {
                signal: 9,
                all: false
            })
            .unwrap(),
            r#"{"op":"kill","signal":9,"all":false}"#
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"explode"}"#).is_err());
    }

    #[test]
    fn frame_header_is_dockers() {
        assert_eq!(frame_header(1, 5), [1, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(frame_header(2, 0x010203), [2, 0, 0, 0, 0, 1, 2, 3]);
    }
}

//! The daemon's side of a shim: spawning `berth shim ...` and talking to its control
//! socket (one JSON request line, one JSON response line; `attach` then carries the
//! stream). The daemon never forks the runtime itself.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_runtime::shim::proto::{Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::error::{Error, Result};

/// How to start one shim.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub state_dir: PathBuf,
    /// `embedded` or a runtime binary path.
    pub runtime: String,
    pub runtime_root: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    pub log: Option<(PathBuf, u64, u32)>,
    pub exec_process: Option<PathBuf>,
}

/// Spawns the shim and waits until the container (or exec) exists; returns its pid.
/// The error is the runtime's message, unchanged.
pub async fn launch(l: &Launch) -> Result<i32> {
    let mut cmd = tokio::process::Command::new(&l.binary);
    // `berth shim ...` in ps, whatever path the binary was started from.
    cmd.arg0("berth")
        .arg("shim")
        .arg("--id")
        .arg(&l.id)
        .arg("--bundle")
        .arg(&l.bundle)
        .arg("--state-dir")
        .arg(&l.state_dir)
        .arg("--runtime")
        .arg(&l.runtime)
        .arg("--runtime-root")
        .arg(&l.runtime_root);
    if l.tty {
        cmd.arg("--tty");
    }
    if l.stdin {
        cmd.arg("--stdin");
    }
    if let Some((path, size, files)) = &l.log {
        cmd.arg("--log-path")
            .arg(path)
            .arg("--log-max-size")
            .arg(size.to_string())
            .arg("--log-max-file")
            .arg(files.to_string());
    }
    if let Some(p) = &l.exec_process {
        cmd.arg("--exec-process").arg(p);
    }
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(false);
    let out = cmd
        .output()
        .await
        .map_err(|e| Error::internal(format!("spawn shim {}: {e}", l.binary.display())))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(start_error(msg));
    }
    let pid = String::from_utf8_lossy(&out.stdout).trim().parse::<i32>();
    pid.map_err(|_| {
        Error::internal(format!(
            "shim for {} printed {:?}, want a pid",
            l.id,
            String::from_utf8_lossy(&out.stdout)
        ))
    })
}

/// docker's start errors: the CLI turns "executable file not found" / "no such file"
/// into 127 and "permission denied" into 126 from the message alone.
pub fn start_error(msg: String) -> Error {
    let msg = if msg.is_empty() {
        "shim exited without a message".to_string()
    } else {
        msg
    };
    let full = format!("failed to create task for container: {msg}: unknown");
    if msg.contains("not found")
        || msg.contains("no such file")
        || msg.contains("permission denied")
    {
        Error::invalid(full)
    } else {
        Error::internal(full)
    }
}

pub fn socket(state_dir: &Path) -> PathBuf {
    state_dir.join(berth_runtime::shim::SOCKET)
}

/// Sends one request and reads the response line; the connection is returned for
/// `attach` (it then carries the stream) and `wait`.
pub async fn call_conn(state_dir: &Path, req: &Request) -> std::io::Result<(Response, UnixStream)> {
    let mut s = UnixStream::connect(socket(state_dir)).await?;
    let mut line = serde_json::to_vec(req).map_err(std::io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line).await?;
    // Byte-wise up to the newline, so nothing of a following stream is consumed.
    let mut raw = Vec::new();
    let mut b = [0u8; 1];
    loop {
        let n = s.read(&mut b).await?;
        if n == 0 {
            if raw.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "shim closed the connection",
                ));
            }
            break;
        }
        if b[0] == b'\n' {
            break;
        }
        raw.push(b[0]);
        if raw.len() > 64 * 1024 {
            return Err(std::io::Error::other("shim response too long"));
        }
    }
    let resp: Response = serde_json::from_slice(&raw).map_err(|e| {
        std::io::Error::other(format!(
            "shim answered {:?}: {e}",
            String::from_utf8_lossy(&raw)
        ))
    })?;
    Ok((resp, s))
}

/// A short request (not wait/attach), with a deadline.
pub async fn call(state_dir: &Path, req: &Request) -> Result<Response> {
    let r = tokio::time::timeout(Duration::from_secs(30), call_conn(state_dir, req))
        .await
        .map_err(|_| Error::internal("shim did not answer within 30s"))?;
    match r {
        Ok((resp, _)) => {
            if resp.ok {
                Ok(resp)
            } else {
                Err(Error::internal(
                    resp.error.unwrap_or_else(|| "shim error".into()),
                ))
            }
        }
        Err(e) => Err(Error::internal(format!("shim: {e}"))),
    }
}

//! Reading docker's json-file logs for `GET /containers/{id}/logs`: rotated files
//! oldest first, `tail`, `since`/`until`, timestamps, and `follow` by polling the live
//! file until the container stops. Blocking; runs on the blocking pool.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::mpsc;

use berth_runtime::shim::proto::frame_header;

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub stdout: bool,
    pub stderr: bool,
    pub follow: bool,
    pub timestamps: bool,
    /// Lines from the end; `None` = all.
    pub tail: Option<usize>,
    /// Unix nanoseconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// Raw output (tty) instead of 8-byte-header frames.
    pub raw: bool,
}

#[derive(Deserialize)]
struct Line {
    log: String,
    stream: String,
    time: String,
}

/// `since`/`until` as docker's API sends them: `<seconds>[.<nanos>]`.
pub fn parse_unix(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos = 0i64;
    if !frac.is_empty() {
        let f: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = f.parse().ok()?;
    }
    Some(secs * 1_000_000_000 + nanos)
}

/// The files of a log, oldest first.
fn files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for i in (1..100).rev() {
        let p = PathBuf::from(format!("{}.{i}", path.display()));
        if p.exists() {
            out.push(p);
        }
    }
    out.push(path.to_path_buf());
    out
}

fn render(line: &str, o: &LogOptions) -> Option<Vec<u8>> {
    let l: Line = serde_json::from_str(line).ok()?;
    let stream = match l.stream.as_str() {
        "stdout" if o.stdout => 1u8,
        "stderr" if o.stderr => 2u8,
        _ => return None,
    };
    let t: DateTime<Utc> = DateTime::parse_from_rfc3339(&l.time)
        .ok()?
        .with_timezone(&Utc);
    let n = t.timestamp_nanos_opt().unwrap_or(0);
    if o.since.is_some_and(|s| n < s) || o.until.is_some_and(|u| n > u) {
        return None;
    }
    let mut payload = Vec::new();
    if o.timestamps {
        payload.extend_from_slice(t.format("%Y-%m-%dT%H:%M:%S%.9fZ ").to_string().as_bytes());
    }
    payload.extend_from_slice(l.log.as_bytes());
    if o.raw {
        return Some(payload);
    }
    let mut out = frame_header(stream, payload.len()).to_vec();
    out.extend_from_slice(&payload);
    Some(out)
}

/// Streams the log to `tx` until done; `running` says whether to keep following.
pub fn stream(
    path: &Path,
    o: &LogOptions,
    tx: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    running: &dyn Fn() -> bool,
) {
    let send = |v: Vec<u8>| tx.blocking_send(Ok(Bytes::from(v))).is_ok();
    // The past: every line (tail applies across rotated files).
    let mut lines: Vec<String> = Vec::new();
    let mut live_pos = 0u64;
    for f in files(path) {
        let Ok(file) = std::fs::File::open(&f) else {
            continue;
        };
        let live = f == path;
        let mut r = BufReader::new(file);
        let mut s = String::new();
        loop {
            s.clear();
            match r.read_line(&mut s) {
                Ok(0) | Err(_) => break,
                Ok(n) if s.ends_with('\n') => {
                    lines.push(s.trim_end().to_string());
                    if live {
                        live_pos += n as u64;
                    }
                }
                // A partial last line is read again when following.
                Ok(_) => break,
            }
        }
    }
    let skip = match o.tail {
        Some(n) => lines.len().saturating_sub(n),
        None => 0,
    };
    let mut batch = Vec::new();
    for l in &lines[skip..] {
        if let Some(b) = render(l, o) {
            batch.extend(b);
            if batch.len() > 64 * 1024 && !send(std::mem::take(&mut batch)) {
                return;
            }
        }
    }
    if !batch.is_empty() && !send(batch) {
        return;
    }
    drop(lines);
    if !o.follow {
        return;
    }
    // Follow the live file from where the past ended.
    let mut pos = live_pos;
    let mut pending = String::new();
    loop {
        let alive = running();
        let mut got_any = false;
        if let Ok(mut file) = std::fs::File::open(path) {
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            if len < pos {
                pos = 0; // rotated
            }
            if len > pos && file.seek(SeekFrom::Start(pos)).is_ok() {
                let mut r = BufReader::new(file);
                let mut s = String::new();
                let mut out = Vec::new();
                loop {
                    s.clear();
                    match r.read_line(&mut s) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            pos += n as u64;
                            pending.push_str(&s);
                            if pending.ends_with('\n') {
                                if let Some(b) = render(pending.trim_end(), o) {
                                    out.extend(b);
                                }
                                pending.clear();
                            }
                        }
                    }
                }
                if !out.is_empty() {
                    got_any = true;
                    if !send(out) {
                        return;
                    }
                }
            }
        }
        if !alive && !got_any {
            return;
        }
        if tx.is_closed() {
            return;
        }
        if o.until
            .is_some_and(|u| chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) > u)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times() {
        assert_eq!(parse_unix("1"), Some(1_000_000_000));
        assert_eq!(parse_unix("1.5"), Some(1_500_000_000));
        assert_eq!(parse_unix("x"), None);
        assert_eq!(parse_unix(""), None);
    }

    #[test]
    fn renders_frames_and_filters() {
        let line = r#"{"log":"hi\n","stream":"stdout","time":"2024-01-01T00:00:00.5Z"}"#;
        let o = LogOptions {
            stdout: true,
            ..Default::default()
        };
        assert_eq!(render(line, &o).unwrap(), b"\x01\0\0\0\0\0\0\x03hi\n");
        let o2 = LogOptions {
            stderr: true,
            ..Default::default()
        };
        assert!(render(line, &o2).is_none());
        let o3 = LogOptions {
            stdout: true,
            raw: true,
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            render(line, &o3).unwrap(),
            b"2024-01-01T00:00:00.500000000Z hi\n"
        );
    }
}

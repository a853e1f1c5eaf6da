//! Reading docker's json-file logs for `GET /containers/{id}/logs`: rotated files
//! oldest first, `tail`, `since`/`until`, timestamps, and `follow` by polling the live
//! file until the container stops. Blocking; runs on the blocking pool.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::mpsc;

use berth_runtime::shim::proto::frame_header;
use serde_json::{Map, Value, json};

use super::record::Record;
use crate::error::{Error, Result};

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

/// Log drivers berth writes; json-file is docker's format, `local` rotates the same
/// format (docker's local driver has its own binary format, which nothing reads
/// directly), `none` keeps nothing.
const DRIVERS: [&str; 3] = ["json-file", "local", "none"];
/// docker's other drivers: named in a clear "not supported" error instead of
/// docker's "not registered".
const OTHER_DOCKER_DRIVERS: [&str; 10] = [
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
    "loki",
];
/// Rotation when the user set none: berth rotates by default (docker's json-file
/// grows forever).
const DEFAULT_MAX_SIZE: &str = "10m";
const DEFAULT_MAX_FILE: &str = "3";
/// docker's local driver defaults.
const LOCAL_MAX_SIZE: &str = "20m";
const LOCAL_MAX_FILE: &str = "5";

/// Fills `HostConfig.LogConfig` at create as docker does (the daemon's `log-driver`
/// and `log-opts` when the container gives none) and validates it.
pub(crate) fn resolve_config(
    hc: &mut Map<String, Value>,
    daemon: &Map<String, Value>,
) -> Result<()> {
    let daemon_type = daemon
        .get("log-driver")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or("json-file");
    let lc = hc.get("LogConfig").and_then(Value::as_object);
    let typ = lc
        .and_then(|l| l.get("Type"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .unwrap_or(daemon_type)
        .to_string();
    let mut cfg = lc
        .and_then(|l| l.get("Config"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if cfg.is_empty()
        && typ == daemon_type
        && let Some(opts) = daemon.get("log-opts").and_then(Value::as_object)
    {
        cfg = opts.clone();
    }
    if !DRIVERS.contains(&typ.as_str()) {
        return Err(if OTHER_DOCKER_DRIVERS.contains(&typ.as_str()) {
            Error::invalid(format!(
                "log driver {typ} is not supported: use json-file, local or none"
            ))
        } else {
            Error::invalid(format!("logger: no log driver named '{typ}' is registered"))
        });
    }
    let allowed: &[&str] = match typ.as_str() {
        "json-file" => &[
            "max-file",
            "max-size",
            "compress",
            "labels",
            "labels-regex",
            "env",
            "env-regex",
            "tag",
        ],
        "local" => &["max-file", "max-size", "compress"],
        _ => &[],
    };
    for (k, v) in &cfg {
        if !allowed.contains(&k.as_str()) {
            return Err(Error::invalid(format!(
                "unknown log opt '{k}' for {typ} log driver"
            )));
        }
        let v = v.as_str().unwrap_or("");
        match k.as_str() {
            "max-size" if parse_size(v).is_none_or(|n| n == 0) => {
                return Err(Error::invalid(format!(
                    "invalid max-size {v:?}: want a positive size such as 10m"
                )));
            }
            "max-file" if v.parse::<u32>().is_ok_and(|n| n < 1) || v.parse::<u32>().is_err() => {
                return Err(Error::invalid("max-file cannot be less than 1"));
            }
            _ => {}
        }
    }
    hc.insert(
        "LogConfig".into(),
        json!({"Type": typ, "Config": Value::Object(cfg)}),
    );
    Ok(())
}

/// What the shim writes: the log path, its rotation size and file count (`None` for
/// the `none` driver).
pub(crate) fn shim_log(rec: &Record) -> Option<(PathBuf, u64, u32)> {
    let lc = rec.host_config.get("LogConfig");
    let typ = lc
        .and_then(|l| l.get("Type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let cfg = lc.and_then(|l| l.get("Config")).and_then(Value::as_object);
    let get = |k: &str| cfg.and_then(|c| c.get(k)).and_then(Value::as_str);
    let (def_size, def_files) = match typ {
        "none" => return None,
        "local" => (LOCAL_MAX_SIZE, LOCAL_MAX_FILE),
        // No rotation asked for at all: berth's default.
        _ if get("max-size").is_none() && get("max-file").is_none() => {
            (DEFAULT_MAX_SIZE, DEFAULT_MAX_FILE)
        }
        // docker: max-file alone does nothing; max-size alone keeps one file.
        _ => ("0", "1"),
    };
    let size = parse_size(get("max-size").unwrap_or(def_size)).unwrap_or(0);
    let files = get("max-file")
        .unwrap_or(def_files)
        .parse::<u32>()
        .unwrap_or(1)
        .max(1);
    Some((PathBuf::from(&rec.log_path), size, files))
}

/// `logs` on a container whose driver keeps nothing: docker's 501.
pub(crate) fn check_readable(rec: &Record) -> Result<()> {
    let typ = rec
        .host_config
        .get("LogConfig")
        .and_then(|l| l.get("Type"))
        .and_then(Value::as_str);
    if typ == Some("none") {
        return Err(Error::not_implemented(
            "configured logging driver does not support reading",
        ));
    }
    Ok(())
}

/// docker's `units.FromHumanSize`: decimal multiples (`10m` = 10,000,000 bytes).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let i = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let num: f64 = s[..i].parse().ok()?;
    let mult: f64 = match s[i..].trim() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        _ => return None,
    };
    (num >= 0.0).then_some((num * mult) as u64)
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
    // The past: every line, or with `tail` only the last lines, read backwards from
    // the end across rotated files (a large log is not read in full).
    let mut lines: Vec<String> = Vec::new();
    let mut live_pos = 0u64;
    if let Some(n) = o.tail {
        for f in files(path).iter().rev() {
            if lines.len() >= n {
                break;
            }
            last_lines(f, n, &mut lines);
        }
        lines.reverse();
        live_pos = complete_len(path);
    }
    for f in files(path).into_iter().filter(|_| o.tail.is_none()) {
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
    let mut batch = Vec::new();
    for l in &lines {
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

const CHUNK: u64 = 64 * 1024;

/// Appends the last complete lines of `path` to `out`, newest first, until `out` holds
/// `want`: the file is read backwards in chunks, and a partial last line (still being
/// written) is left out.
fn last_lines(path: &Path, want: usize, out: &mut Vec<String>) {
    let Ok(mut f) = std::fs::File::open(path) else {
        return;
    };
    let mut end = f.metadata().map(|m| m.len()).unwrap_or(0);
    // The bytes read but not yet split into lines, in file order; once a newline was
    // seen it always ends with one.
    let mut rest: Vec<u8> = Vec::new();
    let mut seen_newline = false;
    while out.len() < want {
        if end == 0 {
            if seen_newline && rest.len() > 1 {
                out.push(String::from_utf8_lossy(&rest[..rest.len() - 1]).into_owned());
            }
            return;
        }
        let start = end.saturating_sub(CHUNK);
        let mut buf = vec![0u8; (end - start) as usize];
        if f.seek(SeekFrom::Start(start)).is_err() || f.read_exact(&mut buf).is_err() {
            return;
        }
        end = start;
        buf.extend_from_slice(&rest);
        rest = buf;
        if !seen_newline {
            match rest.iter().rposition(|&b| b == b'\n') {
                Some(p) => {
                    rest.truncate(p + 1);
                    seen_newline = true;
                }
                None => continue,
            }
        }
        while out.len() < want {
            let body_end = rest.len() - 1;
            match rest[..body_end].iter().rposition(|&b| b == b'\n') {
                Some(p) => {
                    out.push(String::from_utf8_lossy(&rest[p + 1..body_end]).into_owned());
                    rest.truncate(p + 1);
                }
                None => break,
            }
        }
    }
}

/// The length of `path` up to its last newline (where following starts).
fn complete_len(path: &Path) -> u64 {
    let Ok(mut f) = std::fs::File::open(path) else {
        return 0;
    };
    let mut end = f.metadata().map(|m| m.len()).unwrap_or(0);
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let mut buf = vec![0u8; (end - start) as usize];
        if f.seek(SeekFrom::Start(start)).is_err() || f.read_exact(&mut buf).is_err() {
            return 0;
        }
        if let Some(p) = buf.iter().rposition(|&b| b == b'\n') {
            return start + p as u64 + 1;
        }
        end = start;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_config_defaults_and_validation() {
        let hc = |s: &str| -> Map<String, Value> { serde_json::from_str(s).unwrap() };
        let daemon = Map::new();
        let mut h = hc("{}");
        resolve_config(&mut h, &daemon).unwrap();
        assert_eq!(h["LogConfig"], json!({"Type": "json-file", "Config": {}}));
        let rec = |h: Map<String, Value>| Record {
            id: "x".repeat(64),
            name: "/x".into(),
            created: chrono::Utc::now(),
            image_ref: String::new(),
            image_id: String::new(),
            path: String::new(),
            args: Vec::new(),
            config: Map::new(),
            host_config: h,
            state: Default::default(),
            log_path: "/l".into(),
            runtime: String::new(),
            mount_points: Vec::new(),
        };
        assert_eq!(shim_log(&rec(h)), Some(("/l".into(), 10_000_000, 3)));
        let mut h = hc(r#"{"LogConfig":{"Type":"json-file","Config":{"max-size":"1k"}}}"#);
        resolve_config(&mut h, &daemon).unwrap();
        assert_eq!(shim_log(&rec(h)), Some(("/l".into(), 1000, 1)));
        let mut h = hc(r#"{"LogConfig":{"Type":"local"}}"#);
        resolve_config(&mut h, &daemon).unwrap();
        assert_eq!(shim_log(&rec(h)), Some(("/l".into(), 20_000_000, 5)));
        let mut h = hc(r#"{"LogConfig":{"Type":"none"}}"#);
        resolve_config(&mut h, &daemon).unwrap();
        let r = rec(h);
        assert_eq!(shim_log(&r), None);
        assert_eq!(
            check_readable(&r).unwrap_err().message,
            "configured logging driver does not support reading"
        );
        // daemon.json's log-opts apply when the container sets none.
        let daemon: Map<String, Value> =
            serde_json::from_str(r#"{"log-opts":{"max-size":"5m","max-file":"2"}}"#).unwrap();
        let mut h = hc("{}");
        resolve_config(&mut h, &daemon).unwrap();
        assert_eq!(shim_log(&rec(h)), Some(("/l".into(), 5_000_000, 2)));
        for (bad, msg) in [
            (
                r#"{"Type":"bogus"}"#,
                "logger: no log driver named 'bogus' is registered",
            ),
            (
                r#"{"Type":"syslog"}"#,
                "log driver syslog is not supported: use json-file, local or none",
            ),
            (
                r#"{"Config":{"foo":"1"}}"#,
                "unknown log opt 'foo' for json-file log driver",
            ),
            (
                r#"{"Type":"none","Config":{"max-size":"1m"}}"#,
                "unknown log opt 'max-size' for none log driver",
            ),
            (
                r#"{"Config":{"max-file":"0"}}"#,
                "max-file cannot be less than 1",
            ),
            (
                r#"{"Config":{"max-size":"lots"}}"#,
                "invalid max-size \"lots\": want a positive size such as 10m",
            ),
        ] {
            let mut h = hc(&format!(r#"{{"LogConfig":{bad}}}"#));
            assert_eq!(
                resolve_config(&mut h, &Map::new()).unwrap_err().message,
                msg
            );
        }
        assert_eq!(parse_size("1.5k"), Some(1500));
        assert_eq!(parse_size("10MB"), Some(10_000_000));
    }

    #[test]
    fn tail_reads_backwards_across_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c-json.log");
        let mut old = String::new();
        for i in 0..5000 {
            old.push_str(&format!("old {i}\n"));
        }
        std::fs::write(dir.path().join("c-json.log.1"), &old).unwrap();
        let mut live = String::new();
        for i in 0..20000 {
            live.push_str(&format!("line {i}\n"));
        }
        live.push_str("partial");
        std::fs::write(&p, &live).unwrap();
        let mut out = Vec::new();
        last_lines(&p, 3, &mut out);
        assert_eq!(out, ["line 19999", "line 19998", "line 19997"]);
        // More than the live file holds: the rest comes from the rotated file.
        let mut out = Vec::new();
        for f in files(&p).iter().rev() {
            if out.len() < 20002 {
                last_lines(f, 20002, &mut out);
            }
        }
        assert_eq!(out.len(), 20002);
        assert_eq!(out[19999], "line 0");
        assert_eq!(out[20000], "old 4999");
        assert_eq!(out[20001], "old 4998");
        // All of a file, its first line included.
        let mut out = Vec::new();
        last_lines(&dir.path().join("c-json.log.1"), 100_000, &mut out);
        assert_eq!(out.len(), 5000);
        assert_eq!(out.last().unwrap(), "old 0");
        assert_eq!(complete_len(&p), live.len() as u64 - "partial".len() as u64);
    }

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

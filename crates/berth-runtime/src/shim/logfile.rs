//! The json-file log driver, in docker's on-disk format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"<RFC 3339 with nanoseconds>"}`.
//! Output is split at newlines; a line longer than 16 KiB is written in 16 KiB pieces
//! (the last without a trailing newline), as docker does. Files rotate at `max_size`
//! bytes, keeping `max_files` files in all (`<path>`, `<path>.1`, ...).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub path: PathBuf,
    /// Rotate when the file reaches this size; 0 = never.
    pub max_size: u64,
    /// Files kept in all, the live one included (at least 1).
    pub max_files: u32,
}

pub struct JsonFileLog {
    cfg: LogConfig,
    file: File,
    size: u64,
    /// Partial lines per stream (stdout, stderr) waiting for their newline.
    pending: [Vec<u8>; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl JsonFileLog {
    pub fn open(cfg: LogConfig) -> io::Result<JsonFileLog> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cfg.path)?;
        let size = file.metadata()?.len();
        Ok(JsonFileLog {
            cfg,
            file,
            size,
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Appends output of one stream; complete lines are written at once.
    pub fn write(&mut self, stream: Stream, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let pending_len = self.pending[stream as usize].len();
            let room = MAX_LINE - pending_len;
            let take = match data.iter().position(|&b| b == b'\n') {
                Some(i) if i < room => i + 1,
                _ => room.min(data.len()),
            };
            self.pending[stream as usize].extend_from_slice(&data[..take]);
            data = &data[take..];
            let full = self.pending[stream as usize].len() >= MAX_LINE;
            let ends_line = self.pending[stream as usize].last() == Some(&b'\n');
            if ends_line || full {
                let line = std::mem::take(&mut self.pending[stream as usize]);
                self.emit(stream, &line)?;
            }
        }
        Ok(())
    }

    /// Writes out partial lines (at exit).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(&mut self.pending[stream as usize]);
            if !line.is_empty() {
                self.emit(stream, &line)?;
            }
        }
        Ok(())
    }

    fn emit(&mut self, stream: Stream, line: &[u8]) -> io::Result<()> {
        let mut rec = Vec::with_capacity(line.len() + 80);
        rec.extend_from_slice(b"{\"log\":");
        write_json_string(&mut rec, &String::from_utf8_lossy(line));
        rec.extend_from_slice(b",\"stream\":\"");
        rec.extend_from_slice(stream.name().as_bytes());
        rec.extend_from_slice(b"\",\"time\":\"");
        rec.extend_from_slice(
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                .as_bytes(),
        );
        rec.extend_from_slice(b"\"}\n");
        if self.cfg.max_size > 0
            && self.size > 0
            && self.size + rec.len() as u64 > self.cfg.max_size
        {
            self.rotate()?;
        }
        self.file.write_all(&rec)?;
        self.size += rec.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.cfg.max_files.max(1);
        if keep == 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for n in (1..keep - 1).rev() {
            let from = rotated(&self.cfg.path, n);
            if from.exists() {
                std::fs::rename(&from, rotated(&self.cfg.path, n + 1))?;
            }
        }
        std::fs::rename(&self.cfg.path, rotated(&self.cfg.path, 1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.cfg.path)?;
        self.size = 0;
        Ok(())
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// JSON string escaping as Go's encoding/json does it (including `<`, `>`, `&` as
/// `\u003c` etc., so the files are byte-identical in shape to docker's).
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes())
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!("berth-log-{}", berth_stdx::id::random_hex(6)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn lines(p: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn splits_lines_and_keeps_partials() {
        let d = tmp();
        let p = d.join("c-json.log");
        let mut log = JsonFileLog::open(LogConfig {
            path: p.clone(),
            max_size: 0,
            max_files: 1,
        })
        .unwrap();
        log.write(Stream::Stdout, b"hello\nwor").unwrap();
        log.write(Stream::Stderr, b"oops\n").unwrap();
        log.write(Stream::Stdout, b"ld\n<tail>").unwrap();
        log.flush_partial().unwrap();
        let l = lines(&p);
        assert_eq!(l.len(), 4);
        assert_eq!(l[0]["log"], "hello\n");
        assert_eq!(l[1]["stream"], "stderr");
        assert_eq!(l[2]["log"], "world\n");
        assert_eq!(l[3]["log"], "<tail>");
        assert!(
            std::fs::read_to_string(&p)
                .unwrap()
                .contains("\\u003ctail\\u003e")
        );
        assert!(l[0]["time"].as_str().unwrap().ends_with('Z'));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn long_lines_are_cut_at_16k() {
        let d = tmp();
        let p = d.join("c-json.log");
        let mut log = JsonFileLog::open(LogConfig {
            path: p.clone(),
            max_size: 0,
            max_files: 1,
        })
        .unwrap();
        let big = vec![b'x'; 40 * 1024];
        log.write(Stream::Stdout, &big).unwrap();
        log.write(Stream::Stdout, b"\n").unwrap();
        let l = lines(&p);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0]["log"].as_str().unwrap().len(), 16 * 1024);
        assert!(l[2]["log"].as_str().unwrap().ends_with('\n'));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn rotates_and_keeps_max_files() {
        let d = tmp();
        let p = d.join("c-json.log");
        let mut log = JsonFileLog::open(LogConfig {
            path: p.clone(),
            max_size: 300,
            max_files: 3,
        })
        .unwrap();
        for i in 0..50 {
            log.write(Stream::Stdout, format!("line {i}\n").as_bytes())
                .unwrap();
        }
        assert!(p.exists());
        assert!(rotated(&p, 1).exists());
        assert!(rotated(&p, 2).exists());
        assert!(!rotated(&p, 3).exists());
        assert!(std::fs::metadata(&p).unwrap().len() <= 300);
        let last = lines(&p);
        assert_eq!(last.last().unwrap()["log"], "line 49\n");
        std::fs::remove_dir_all(d).unwrap();
    }
}

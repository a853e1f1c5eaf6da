//! Running a program with optional stdin, captured output and a deadline, so a hung
//! daemon or CLI fails the test with its output instead of hanging CI.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Default deadline for one command. Generous: CI has 2 cores shared by parallel tests.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

enum Stdin {
    Null,
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// A command to run once; build it with [`Cmd::new`] or `TestDaemon::{docker, berth}`.
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    stdin: Stdin,
    timeout: Duration,
    cwd: Option<PathBuf>,
}

/// The outcome of a [`Cmd`]: exit code (None if killed by a signal) and captured output.
#[derive(Clone)]
pub struct Output {
    /// What was run, for failure messages.
    pub command: String,
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// True when the deadline passed and the process was killed.
    pub timed_out: bool,
}

impl Cmd {
    pub fn new(program: impl AsRef<Path>) -> Cmd {
        Cmd {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: Stdin::Null,
            timeout: DEFAULT_TIMEOUT,
            cwd: None,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.envs
            .push((k.as_ref().to_owned(), Some(v.as_ref().to_owned())));
        self
    }

    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Cmd {
        self.envs.push((k.as_ref().to_owned(), None));
        self
    }

    /// Feed these bytes on stdin, then close it.
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Stdin::Bytes(data.into());
        self
    }

    /// Connect stdin to this file (streams large archives without buffering them).
    pub fn stdin_file(mut self, path: impl AsRef<Path>) -> Cmd {
        self.stdin = Stdin::File(path.as_ref().to_path_buf());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    fn describe(&self) -> String {
        let mut s = self.program.display().to_string();
        for a in &self.args {
            s.push(' ');
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
                s.push_str(&format!("{a:?}"));
            } else {
                s.push_str(&a);
            }
        }
        s
    }

    /// Run to completion (or the deadline) and capture everything.
    /// Panics only if the program cannot be started at all.
    pub fn run(self) -> Output {
        let command = self.describe();
        let mut c = Command::new(&self.program);
        c.args(&self.args);
        for (k, v) in &self.envs {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = &self.cwd {
            c.current_dir(d);
        }
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        match &self.stdin {
            Stdin::Null => c.stdin(Stdio::null()),
            Stdin::Bytes(_) => c.stdin(Stdio::piped()),
            Stdin::File(p) => c.stdin(
                std::fs::File::open(p)
                    .unwrap_or_else(|e| panic!("open stdin file {}: {e}", p.display())),
            ),
        };
        let mut child = c.spawn().unwrap_or_else(|e| panic!("start {command}: {e}"));
        let writer = match (self.stdin, child.stdin.take()) {
            (Stdin::Bytes(data), Some(mut w)) => Some(std::thread::spawn(move || {
                // A broken pipe is fine: the program may stop reading early (e.g. on error).
                let _ = w.write_all(&data);
            })),
            _ => None,
        };
        let mut out_pipe = child.stdout.take().expect("stdout piped");
        let mut err_pipe = child.stderr.take().expect("stderr piped");
        let out_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out_pipe.read_to_end(&mut v);
            v
        });
        let err_t = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err_pipe.read_to_end(&mut v);
            v
        });
        let deadline = Instant::now() + self.timeout;
        let mut timed_out = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if Instant::now() >= deadline => {
                    timed_out = true;
                    let _ = child.kill();
                    break child.wait().expect("wait after kill");
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("wait for {command}: {e}"),
            }
        };
        if let Some(w) = writer {
            let _ = w.join();
        }
        Output {
            command,
            code: status.code(),
            stdout: out_t.join().unwrap_or_default(),
            stderr: err_t.join().unwrap_or_default(),
            timed_out,
        }
    }

    /// Run and assert exit code 0; returns the output for further checks.
    #[track_caller]
    pub fn ok(self) -> Output {
        let out = self.run();
        out.assert_ok();
        out
    }

    /// Run and assert a non-zero exit; returns the output to check the message.
    #[track_caller]
    pub fn fails(self) -> Output {
        let out = self.run();
        out.assert_fails();
        out
    }
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout as text (lossy).
    pub fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (lossy).
    pub fn err(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// stdout lines, without trailing empty line.
    pub fn lines(&self) -> Vec<String> {
        self.out().lines().map(str::to_owned).collect()
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Output {
        assert!(self.success(), "command failed, expected success:\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_fails(&self) -> &Output {
        assert!(
            !self.success() && !self.timed_out && self.code.is_some(),
            "expected a clean non-zero exit:\n{self}"
        );
        self
    }

    /// Assert the exit code exactly.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Output {
        assert_eq!(self.code, Some(code), "unexpected exit code:\n{self}");
        self
    }

    /// Assert stderr contains `needle`.
    #[track_caller]
    pub fn assert_stderr_contains(&self, needle: &str) -> &Output {
        assert!(
            self.err().contains(needle),
            "stderr lacks {needle:?}:\n{self}"
        );
        self
    }

    /// Assert stdout contains `needle`.
    #[track_caller]
    pub fn assert_stdout_contains(&self, needle: &str) -> &Output {
        assert!(
            self.out().contains(needle),
            "stdout lacks {needle:?}:\n{self}"
        );
        self
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 4000;
        let clip = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            if s.len() > MAX {
                let mut cut = MAX;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("{}... [{} bytes total]", &s[..cut], b.len())
            } else {
                s.into_owned()
            }
        };
        writeln!(f, "$ {}", self.command)?;
        writeln!(
            f,
            "exit: {}{}",
            self.code
                .map_or("killed by signal".to_string(), |c| c.to_string()),
            if self.timed_out { " (timed out)" } else { "" }
        )?;
        writeln!(f, "--- stdout ---\n{}", clip(&self.stdout))?;
        write!(f, "--- stderr ---\n{}", clip(&self.stderr))
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

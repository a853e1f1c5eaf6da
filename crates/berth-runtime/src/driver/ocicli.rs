//! An external OCI runtime binary (`runc`, `crun`), driven through its CLI the way
//! containerd's shim does: `create` with `--pid-file`, then `start`, `kill`, `delete`.

use super::{DriverError, ExecProcess, Result, RuntimeDriver, Stdio};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as PStdio};

pub struct OciCli {
    binary: PathBuf,
    root: PathBuf,
}

impl OciCli {
    pub fn new(binary: PathBuf, root: PathBuf) -> OciCli {
        OciCli { binary, root }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root").arg(&self.root);
        c
    }

    fn run(&self, id: &str, what: &str, mut cmd: Command) -> Result<()> {
        let out = cmd
            .stdin(PStdio::null())
            .stdout(PStdio::null())
            .stderr(PStdio::piped())
            .output()
            .map_err(|e| DriverError::io(format!("run {}", self.binary.display()), e))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(DriverError::Runtime(format!(
                "{what} container {id}: {}",
                runtime_message(&out.stderr)
            )))
        }
    }

    fn spawn_with_pid(
        &self,
        id: &str,
        what: &str,
        mut cmd: Command,
        stdio: Stdio,
        pid_file: &Path,
    ) -> Result<i32> {
        match stdio {
            Stdio::Fds {
                stdin,
                stdout,
                stderr,
            } => {
                cmd.stdin(stdin.map(PStdio::from).unwrap_or_else(PStdio::null));
                cmd.stdout(stdout.map(PStdio::from).unwrap_or_else(PStdio::null));
                cmd.stderr(stderr.map(PStdio::from).unwrap_or_else(PStdio::null));
            }
            Stdio::Console(sock) => {
                cmd.arg("--console-socket").arg(sock);
                cmd.stdin(PStdio::null())
                    .stdout(PStdio::null())
                    .stderr(PStdio::null());
            }
        }
        // The runtime's own errors go to a log file we can quote.
        let status = cmd
            .status()
            .map_err(|e| DriverError::io(format!("run {}", self.binary.display()), e))?;
        let log = self.root.join(format!("{id}.log"));
        if !status.success() {
            let msg = std::fs::read(&log).unwrap_or_default();
            return Err(DriverError::Runtime(format!(
                "{what} container {id}: {}",
                runtime_message(&msg)
            )));
        }
        let pid = std::fs::read_to_string(pid_file)
            .map_err(|e| DriverError::io(format!("read {}", pid_file.display()), e))?;
        let _ = std::fs::remove_file(pid_file);
        pid.trim()
            .parse()
            .map_err(|_| DriverError::Runtime(format!("{what} container {id}: bad pid file")))
    }
}

/// The last `msg="..."` of runc's logfmt output, or the raw text.
fn runtime_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    if let Some(start) = last.find("msg=\"") {
        let rest = &last[start + 5..];
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n)
                    }
                }
                '"' => break,
                c => out.push(c),
            }
        }
        return out;
    }
    last.trim().to_string()
}

impl RuntimeDriver for OciCli {
    fn create(&self, id: &str, bundle: &Path, stdio: Stdio) -> Result<i32> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| DriverError::io(format!("create {}", self.root.display()), e))?;
        let pid_file = self.root.join(format!("{id}.pid"));
        let mut cmd = self.command();
        cmd.arg("--log").arg(self.root.join(format!("{id}.log")));
        cmd.arg("--log-format").arg("text");
        cmd.args(["create", "--bundle"]).arg(bundle);
        cmd.arg("--pid-file").arg(&pid_file);
        cmd.arg(id);
        self.spawn_with_pid(id, "create", cmd, stdio, &pid_file)
    }

    fn start(&self, id: &str) -> Result<()> {
        let mut cmd = self.command();
        cmd.args(["start", id]);
        self.run(id, "start", cmd)
    }

    fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let mut cmd = self.command();
        cmd.arg("kill");
        if all {
            cmd.arg("--all");
        }
        cmd.arg(id).arg(signal.to_string());
        self.run(id, "kill", cmd)
    }

    fn exec(&self, id: &str, process: ExecProcess<'_>) -> Result<i32> {
        let tag = berth_stdx::id::random_hex(8);
        let spec = self.root.join(format!("{id}-exec-{tag}.json"));
        let pid_file = self.root.join(format!("{id}-exec-{tag}.pid"));
        std::fs::write(&spec, process.process_json)
            .map_err(|e| DriverError::io(format!("write {}", spec.display()), e))?;
        let mut cmd = self.command();
        cmd.arg("--log").arg(self.root.join(format!("{id}.log")));
        cmd.args(["exec", "--detach", "--process"]).arg(&spec);
        cmd.arg("--pid-file").arg(&pid_file).arg(id);
        let r = self.spawn_with_pid(id, "exec in", cmd, process.stdio, &pid_file);
        let _ = std::fs::remove_file(&spec);
        r
    }

    fn pause(&self, id: &str) -> Result<()> {
        let mut cmd = self.command();
        cmd.args(["pause", id]);
        self.run(id, "pause", cmd)
    }

    fn resume(&self, id: &str) -> Result<()> {
        let mut cmd = self.command();
        cmd.args(["resume", id]);
        self.run(id, "resume", cmd)
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        let mut cmd = self.command();
        cmd.arg("delete");
        if force {
            cmd.arg("--force");
        }
        cmd.arg(id);
        let r = self.run(id, "delete", cmd);
        let _ = std::fs::remove_file(self.root.join(format!("{id}.log")));
        match r {
            Err(DriverError::Runtime(m)) if m.contains("does not exist") => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::runtime_message;

    #[test]
    fn runc_logfmt_message_is_extracted() {
        let s = br#"time="2026-11-27T20:20:22Z" level=error msg="runc run failed: unable to start container process: exec: \"nope\": executable file not found in $PATH""#;
        assert_eq!(
            runtime_message(s),
            "runc run failed: unable to start container process: exec: \"nope\": executable file not found in $PATH"
        );
        assert_eq!(runtime_message(b"plain error\n\n"), "plain error");
    }
}

//! Starting the daemon on demand: when the default socket does not answer and the
//! user is root, the CLI launches `berth daemon` in its own session, logging to
//! /var/log/berth/daemon.log, and waits for it to answer `/_ping`.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use berth_client::Client;

const LOG_DIR: &str = "/var/log/berth";
const LOG: &str = "/var/log/berth/daemon.log";

/// Only root may start the system daemon.
pub(crate) fn allowed() -> bool {
    nix::unistd::geteuid().is_root()
}

pub(crate) async fn start(client: &Client) -> Result<()> {
    eprintln!("Starting berth daemon (log: {LOG})...");
    std::fs::create_dir_all(LOG_DIR).with_context(|| format!("create {LOG_DIR}"))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(LOG)
        .with_context(|| format!("open {LOG}"))?;
    let log2 = log.try_clone()?;
    // The resolved path (not /proc/self/exe) so `ps` shows what is running.
    let exe = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let mut cmd = Command::new(exe);
    cmd.arg("daemon")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from our
    // terminal and process group so it outlives this command and ^C.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("start berth daemon")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if client.ping().await.is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("berth daemon exited during start ({status}); see {LOG}");
        }
        if Instant::now() >= deadline {
            anyhow::bail!("berth daemon did not answer within 10s; see {LOG}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

//! `berth shim`: one small single-threaded process per container (and per exec) that
//! outlives the daemon. It creates the container through a runtime driver, holds its
//! stdio (a pty master or pipes), writes the json-file log, serves attach, resize,
//! kill and wait on a unix socket, reaps the init process and records its exit status
//! atomically in `exit.json`. The daemon can die and come back at any moment: it finds
//! the shim by its socket, or the outcome in `exit.json`.
//!
//! Start-up handshake: the process the daemon spawns forks; the child detaches
//! (`setsid`, stdio to /dev/null and the shim's own log) and creates the container,
//! then reports `ok <pid>` or `err <message>` through a pipe; the parent prints that
//! and exits, so the daemon's spawn returns exactly when the container exists (or
//! failed to), without waiting for it to end.
//!
//! Architecture Invariant: no threads and no async runtime here, ever: the embedded
//! runtime library forks with a raw clone.

mod event_loop;
pub mod logfile;
mod memory;
pub mod proto;

use crate::driver::{self, DriverKind, ExecProcess, RuntimeDriver, Stdio};
use logfile::{JsonFileLog, LogConfig};
use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

/// Files in a shim's state directory.
pub const SOCKET: &str = "shim.sock";
pub const EXIT_FILE: &str = "exit.json";
pub const PID_FILE: &str = "shim.pid";
const CONSOLE_SOCKET: &str = "console.sock";
const SHIM_LOG: &str = "shim.log";

#[derive(Debug, Clone)]
pub struct ShimOptions {
    pub id: String,
    pub bundle: PathBuf,
    /// Where the socket, pid file and exit file live.
    pub state_dir: PathBuf,
    pub runtime: DriverKind,
    /// The runtime's own state root.
    pub runtime_root: PathBuf,
    pub tty: bool,
    pub stdin: bool,
    pub log: Option<LogConfig>,
    /// For an exec shim: the OCI process JSON to run in the existing container `id`.
    pub exec_process: Option<PathBuf>,
}

/// Runs the shim: returns in the spawned parent once the child reported (exit code
/// for the process), and never returns in the detached child.
pub fn launch(opts: ShimOptions) -> i32 {
    let (rd, wr) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("berth shim: create pipe: {e}");
            return 1;
        }
    };
    // SAFETY: the shim is single-threaded at this point (no runtime, no threads were
    // started), so the child may run arbitrary code after fork.
    match unsafe { nix::unistd::fork() } {
        Err(e) => {
            eprintln!("berth shim: fork: {e}");
            1
        }
        Ok(nix::unistd::ForkResult::Parent { .. }) => {
            drop(wr);
            // One line, not EOF: the container's init (forked from the child while the
            // pipe was open) keeps a copy of the write end until it execs.
            let mut msg = String::new();
            let _ = std::io::BufReader::new(std::fs::File::from(rd)).read_line(&mut msg);
            match msg.strip_prefix("ok ") {
                Some(rest) => {
                    print!("{rest}");
                    0
                }
                None => {
                    let m = msg.strip_prefix("err ").unwrap_or(&msg).trim_end();
                    eprintln!(
                        "{}",
                        if m.is_empty() {
                            "shim exited before the container was created"
                        } else {
                            m
                        }
                    );
                    1
                }
            }
        }
        Ok(nix::unistd::ForkResult::Child) => {
            drop(rd);
            let code = child_main(opts, wr);
            std::process::exit(code)
        }
    }
}

fn child_main(opts: ShimOptions, report: OwnedFd) -> i32 {
    let mut report = std::fs::File::from(report);
    let _ = nix::unistd::setsid();
    // Become the reaper of anything the runtime leaves behind (its intermediate
    // processes re-parent to us, not to the host's init).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if let Err(e) = detach_stdio(&opts.state_dir) {
        let _ = writeln!(report, "err shim {}: {e}", opts.id);
        return 1;
    }
    match setup(&opts) {
        Ok(mut shim) => {
            let _ = writeln!(report, "ok {}", shim.pid);
            drop(report);
            shim.run()
        }
        Err(e) => {
            let _ = writeln!(report, "err {e}");
            1
        }
    }
}

/// stdin/stdout to /dev/null and stderr to the shim's log, so the daemon's pipes close
/// when the spawned parent exits.
fn detach_stdio(state_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_dir.join(SHIM_LOG))?;
    for (src, dst) in [
        (null.as_raw_fd(), 0),
        (null.as_raw_fd(), 1),
        (log.as_raw_fd(), 2),
    ] {
        // SAFETY: dup2 on descriptors we own onto the standard ones.
        if unsafe { libc::dup2(src, dst) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The container's end of its stdio, seen from the shim.
pub(crate) enum Io {
    Pty(OwnedFd),
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
}

pub(crate) struct Shim {
    pub(crate) opts: ShimOptions,
    pub(crate) driver: Box<dyn RuntimeDriver>,
    pub(crate) pid: i32,
    pub(crate) started: bool,
    pub(crate) io: Option<Io>,
    /// The pty master while the process has a terminal (for resize).
    pub(crate) pty_fd: Option<std::os::fd::RawFd>,
    pub(crate) listener: UnixListener,
    pub(crate) log: Option<JsonFileLog>,
    /// The runtime's create/start code ran since the last shed (see `memory`).
    pub(crate) shed_pending: bool,
}

fn setup(opts: &ShimOptions) -> Result<Shim, String> {
    let sock_path = opts.state_dir.join(SOCKET);
    let _ = std::fs::remove_file(&sock_path);
    let listener = UnixListener::bind(&sock_path)
        .map_err(|e| format!("listen on {}: {e}", sock_path.display()))?;
    let driver = driver::driver_for(&opts.runtime, &opts.runtime_root);
    let log = match &opts.log {
        Some(cfg) => Some(
            JsonFileLog::open(cfg.clone())
                .map_err(|e| format!("open log {}: {e}", cfg.path.display()))?,
        ),
        None => None,
    };

    let console_path = opts.state_dir.join(CONSOLE_SOCKET);
    let (stdio, mut io_parts) = if opts.tty {
        let _ = std::fs::remove_file(&console_path);
        let console = UnixListener::bind(&console_path)
            .map_err(|e| format!("listen on {}: {e}", console_path.display()))?;
        (
            Stdio::Console(console_path.clone()),
            IoParts::Console(console),
        )
    } else {
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (in_ours, in_theirs) = if opts.stdin {
            let (r, w) = pipe()?;
            (Some(w), Some(r))
        } else {
            (None, None)
        };
        (
            Stdio::Fds {
                stdin: in_theirs,
                stdout: Some(out_w),
                stderr: Some(err_w),
            },
            IoParts::Pipes {
                stdin: in_ours,
                stdout: out_r,
                stderr: err_r,
            },
        )
    };

    let created = match &opts.exec_process {
        Some(path) => {
            let json = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
            driver.exec(
                &opts.id,
                ExecProcess {
                    process_json: &json,
                    stdio,
                },
            )
        }
        None => {
            // Leftover runtime state of a container that was never cleaned up (its shim
            // was killed) would make create fail with "already exists".
            let _ = driver.delete(&opts.id, true);
            driver.create(&opts.id, &opts.bundle, stdio)
        }
    };
    let pid = match created {
        Ok(pid) => pid,
        Err(e) => {
            let _ = std::fs::remove_file(&sock_path);
            let _ = std::fs::remove_file(&console_path);
            return Err(e.to_string());
        }
    };

    let io = match std::mem::replace(&mut io_parts, IoParts::Taken) {
        IoParts::Console(console) => {
            let master = receive_pty_master(&console);
            let _ = std::fs::remove_file(&console_path);
            match master {
                Ok(fd) => Io::Pty(fd),
                Err(e) => {
                    if opts.exec_process.is_none() {
                        let _ = driver.delete(&opts.id, true);
                    }
                    let _ = std::fs::remove_file(&sock_path);
                    return Err(format!("receive the container's terminal: {e}"));
                }
            }
        }
        IoParts::Pipes {
            stdin,
            stdout,
            stderr,
        } => Io::Pipes {
            stdin,
            stdout,
            stderr,
        },
        IoParts::Taken => unreachable!("io parts are taken once"),
    };
    let _ = berth_stdx::atomic_write(
        &opts.state_dir.join(PID_FILE),
        std::process::id().to_string().as_bytes(),
    );
    Ok(Shim {
        opts: opts.clone(),
        driver,
        pid,
        // An exec'd process runs at once; a container waits for `start`.
        started: opts.exec_process.is_some(),
        io: Some(io),
        pty_fd: None,
        listener,
        log,
        shed_pending: true,
    })
}

/// Whether the container of `bundle` was OOM-killed: its cgroup (the bundle's
/// `linux.cgroupsPath`) counted a kill.
fn oom_killed(bundle: &Path, died_of_sigkill: bool) -> bool {
    let Ok(data) = std::fs::read(bundle.join("config.json")) else {
        return false;
    };
    let Ok(spec) = serde_json::from_slice::<serde_json::Value>(&data) else {
        return false;
    };
    let Some(cgroup) = spec
        .get("linux")
        .and_then(|l| l.get("cgroupsPath"))
        .and_then(serde_json::Value::as_str)
    else {
        return false;
    };
    match crate::cgroups::CgroupLayout::detect() {
        Ok(layout) => crate::stats::oom_killed(&layout, cgroup, died_of_sigkill),
        Err(_) => false,
    }
}

enum IoParts {
    Console(UnixListener),
    Pipes {
        stdin: Option<OwnedFd>,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    Taken,
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("create pipe: {e}"))
}

/// Accepts the runtime's connection on the console socket and takes the pty master it
/// sends (SCM_RIGHTS). The runtime sent it while creating the container, so the
/// message is already queued; a short timeout guards against a runtime that never does.
fn receive_pty_master(console: &UnixListener) -> std::io::Result<OwnedFd> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    console.set_nonblocking(false)?;
    let (conn, _) = console.accept()?;
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(std::io::Error::from)?;
    for c in msg.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(&fd) = fds.first()
        {
            // SAFETY: the kernel just installed this descriptor for us; we own it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
    }
    Err(std::io::Error::other(
        "no terminal descriptor in the console message",
    ))
}

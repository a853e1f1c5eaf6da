//! The shim's single-threaded event loop: one `poll` over the signalfd (SIGCHLD), the
//! control socket, the container's output and input descriptors and every client.
//! Nothing here blocks except `poll` itself: clients and the container's stdin are
//! non-blocking with bounded buffers, so a stuck client can never stall the
//! container's output or the log (a client more than `MAX_CLIENT_BUFFER` behind is
//! dropped).

use super::logfile::Stream;
use super::proto::{ExitStatus, Request, Response, frame_header};
use super::{EXIT_FILE, Io, SOCKET, Shim};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const MAX_CLIENT_BUFFER: usize = 4 << 20;
const MAX_BACKLOG: usize = 1 << 20;
const MAX_REQUEST: usize = 64 * 1024;
/// How long output is still collected after the process exited (grandchildren that
/// escaped the pid namespace could hold the pipes open forever).
const DRAIN: Duration = Duration::from_secs(2);
/// How long an exec shim whose output nobody has read yet waits after the exit for
/// its first attach (a quick `docker exec echo` ends before the daemon attaches).
const ATTACH_GRACE: Duration = Duration::from_secs(10);
/// How long the shim must be idle before it sheds the runtime's pages (`memory`).
const SHED_AFTER_IDLE_MS: i32 = 50;

enum Mode {
    Request,
    Attached {
        stdin: bool,
        stdout: bool,
        stderr: bool,
        stdin_once: bool,
    },
    Waiting,
    /// Answered; closed once the output buffer is flushed.
    Done,
}

struct Client {
    stream: UnixStream,
    /// The peer half-closed its side: it sends nothing more but still reads.
    read_closed: bool,
    request: Vec<u8>,
    mode: Mode,
    out: Vec<u8>,
}

struct Outputs {
    /// (fd, stream) pairs still open.
    fds: Vec<(OwnedFd, Stream)>,
    /// Where stdin goes: the pty master (shared with output) or the stdin pipe.
    stdin: Option<StdinSink>,
}

enum StdinSink {
    Pty(RawFd),
    Pipe(OwnedFd),
}

impl StdinSink {
    fn raw(&self) -> RawFd {
        match self {
            StdinSink::Pty(fd) => *fd,
            StdinSink::Pipe(fd) => fd.as_raw_fd(),
        }
    }
}

impl Shim {
    /// Serves until the process has exited and its outcome is recorded; returns the
    /// shim's own exit code.
    pub(crate) fn run(&mut self) -> i32 {
        let sigfd = match signal_fd() {
            Ok(fd) => fd,
            Err(e) => {
                eprintln!("berth shim {}: signalfd: {e}", self.opts.id);
                return 1;
            }
        };
        let _ = self.listener.set_nonblocking(true);
        let Some(io) = self.io.take() else {
            return 1;
        };
        let mut outputs = match io {
            Io::Pty(master) => {
                let raw = master.as_raw_fd();
                self.pty_fd = Some(raw);
                Outputs {
                    fds: vec![(master, Stream::Stdout)],
                    stdin: Some(StdinSink::Pty(raw)),
                }
            }
            Io::Pipes {
                stdin,
                stdout,
                stderr,
            } => Outputs {
                fds: vec![(stdout, Stream::Stdout), (stderr, Stream::Stderr)],
                stdin: stdin.map(StdinSink::Pipe),
            },
        };
        for (fd, _) in &outputs.fds {
            set_nonblocking(fd.as_raw_fd());
        }
        if let Some(s) = &outputs.stdin {
            set_nonblocking(s.raw());
        }

        let mut clients: Vec<Client> = Vec::new();
        let mut stdin_buf: Vec<u8> = Vec::new();
        let mut close_stdin = false;
        let mut backlog: Vec<(Stream, Vec<u8>)> = Vec::new();
        let mut backlog_size = 0usize;
        let keep_backlog = self.opts.exec_process.is_some();
        let mut attached_once = false;
        let mut exit: Option<ExitStatus> = None;
        let mut drain_until: Option<Instant> = None;
        let mut buf = vec![0u8; 64 * 1024];
        // A process that ended before the signalfd existed (a quick exec: it runs at
        // once) sent its SIGCHLD while the signal was not yet blocked, so no event will
        // come for it: reap once now.
        if let Some(status) = reap(self.pid) {
            exit = Some(status);
            drain_until = Some(Instant::now() + DRAIN);
        }

        loop {
            if exit.is_some()
                && (outputs.fds.is_empty() || drain_until.is_some_and(|d| Instant::now() >= d))
            {
                let unread = keep_backlog && !attached_once && !backlog.is_empty();
                let grace_over = drain_until.is_some_and(|d| Instant::now() >= d + ATTACH_GRACE);
                if !unread || grace_over {
                    break;
                }
            }
            // Build the poll set: [signalfd, listener, outputs..., stdin?, clients...]
            let mut pfds: Vec<libc::pollfd> = Vec::with_capacity(4 + clients.len());
            pfds.push(pollfd(sigfd.as_raw_fd(), libc::POLLIN));
            pfds.push(pollfd(self.listener.as_raw_fd(), libc::POLLIN));
            let out_base = pfds.len();
            for (fd, _) in &outputs.fds {
                pfds.push(pollfd(fd.as_raw_fd(), libc::POLLIN));
            }
            let stdin_idx = match (&outputs.stdin, stdin_buf.is_empty()) {
                (Some(s), false) => {
                    pfds.push(pollfd(s.raw(), libc::POLLOUT));
                    Some(pfds.len() - 1)
                }
                _ => None,
            };
            let client_base = pfds.len();
            for c in &clients {
                let mut ev = if c.read_closed { 0 } else { libc::POLLIN };
                if !c.out.is_empty() {
                    ev |= libc::POLLOUT;
                }
                pfds.push(pollfd(c.stream.as_raw_fd(), ev));
            }
            let timeout = match drain_until {
                // Past the drain, only an exec waiting for its first attach loops on.
                Some(d) if Instant::now() >= d => {
                    (d + ATTACH_GRACE)
                        .saturating_duration_since(Instant::now())
                        .as_millis() as i32
                        + 1
                }
                Some(d) => d.saturating_duration_since(Instant::now()).as_millis() as i32 + 1,
                None => -1,
            };
            // Memory is shed once the shim has been idle a moment (never on the path
            // of a reply: the daemon is waiting for `start`).
            let timeout = if self.shed_pending && timeout < 0 {
                SHED_AFTER_IDLE_MS
            } else {
                timeout
            };
            // SAFETY: pfds is a valid array of pollfd for its length.
            let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout) };
            if n == 0 && self.shed_pending {
                self.shed_pending = false;
                super::memory::shed();
            }
            if n < 0 {
                if std::io::Error::last_os_error().kind() == ErrorKind::Interrupted {
                    continue;
                }
                eprintln!(
                    "berth shim {}: poll: {}",
                    self.opts.id,
                    std::io::Error::last_os_error()
                );
                break;
            }

            // Child exits.
            if pfds[0].revents != 0 {
                drain_signalfd(&sigfd);
                if let Some(status) = reap(self.pid) {
                    exit = Some(status);
                    drain_until = Some(Instant::now() + DRAIN);
                }
            }

            // New clients.
            if pfds[1].revents != 0 {
                while let Ok((stream, _)) = self.listener.accept() {
                    let _ = stream.set_nonblocking(true);
                    clients.push(Client {
                        stream,
                        read_closed: false,
                        request: Vec::new(),
                        mode: Mode::Request,
                        out: Vec::new(),
                    });
                }
            }

            // Container output.
            let mut closed_outputs = Vec::new();
            for (i, (fd, stream)) in outputs.fds.iter().enumerate() {
                let re = pfds[out_base + i].revents;
                if re == 0 {
                    continue;
                }
                loop {
                    // SAFETY: reading into our own buffer from a descriptor we own.
                    let n =
                        unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                    if n > 0 {
                        let data = &buf[..n as usize];
                        if let Some(log) = &mut self.log
                            && let Err(e) = log.write(*stream, data)
                        {
                            eprintln!("berth shim {}: write log: {e}", self.opts.id);
                        }
                        let mut delivered = false;
                        for c in clients.iter_mut() {
                            delivered |= deliver(c, *stream, data, self.opts.tty);
                        }
                        if !delivered
                            && keep_backlog
                            && !attached_once
                            && backlog_size < MAX_BACKLOG
                        {
                            backlog_size += data.len();
                            backlog.push((*stream, data.to_vec()));
                        }
                        continue;
                    }
                    let err = std::io::Error::last_os_error();
                    if n < 0 && err.kind() == ErrorKind::WouldBlock {
                        break;
                    }
                    if n < 0 && err.kind() == ErrorKind::Interrupted {
                        continue;
                    }
                    // EOF, or EIO on a pty whose last slave closed.
                    closed_outputs.push(i);
                    break;
                }
            }
            for i in closed_outputs.into_iter().rev() {
                let (fd, _) = outputs.fds.remove(i);
                if matches!(outputs.stdin, Some(StdinSink::Pty(raw)) if raw == fd.as_raw_fd()) {
                    outputs.stdin = None;
                }
            }

            // Container input.
            if let (Some(idx), Some(sink)) = (stdin_idx, &outputs.stdin)
                && pfds[idx].revents != 0
            {
                // SAFETY: writing our buffer to a descriptor we own.
                let n =
                    unsafe { libc::write(sink.raw(), stdin_buf.as_ptr().cast(), stdin_buf.len()) };
                if n > 0 {
                    stdin_buf.drain(..n as usize);
                } else if n < 0 && std::io::Error::last_os_error().kind() != ErrorKind::WouldBlock {
                    stdin_buf.clear();
                    outputs.stdin = None;
                }
            }
            // Clients.
            let mut drop_clients = Vec::new();
            for (i, c) in clients.iter_mut().enumerate() {
                let re = pfds.get(client_base + i).map(|p| p.revents).unwrap_or(0);
                if re & libc::POLLOUT != 0 && !c.out.is_empty() {
                    match c.stream.write(&c.out) {
                        Ok(n) => {
                            c.out.drain(..n);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => {
                            drop_clients.push(i);
                            continue;
                        }
                    }
                }
                if matches!(c.mode, Mode::Done) && c.out.is_empty() {
                    drop_clients.push(i);
                    continue;
                }
                if c.read_closed {
                    if re & (libc::POLLHUP | libc::POLLERR) != 0 {
                        drop_clients.push(i);
                    }
                    continue;
                }
                if re & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
                    continue;
                }
                match c.stream.read(&mut buf) {
                    // A half-close ends the client's input, not its interest in output
                    // (`docker attach` closes stdin and keeps reading).
                    Ok(0) => {
                        if let Mode::Attached {
                            stdin: true,
                            stdin_once: true,
                            ..
                        } = c.mode
                        {
                            close_stdin = true;
                        }
                        if matches!(c.mode, Mode::Request) {
                            drop_clients.push(i);
                        } else {
                            c.read_closed = true;
                        }
                    }
                    Ok(n) => {
                        let data = &buf[..n];
                        match c.mode {
                            Mode::Request => {
                                c.request.extend_from_slice(data);
                                if let Some(pos) = c.request.iter().position(|&b| b == b'\n') {
                                    let line: Vec<u8> = c.request.drain(..=pos).collect();
                                    let rest = std::mem::take(&mut c.request);
                                    self.handle(c, &line, exit.as_ref());
                                    if let Mode::Attached { stdin, .. } = c.mode {
                                        if !attached_once {
                                            attached_once = true;
                                            for (stream, data) in backlog.drain(..) {
                                                deliver(c, stream, &data, self.opts.tty);
                                            }
                                        }
                                        if stdin && !rest.is_empty() {
                                            stdin_buf.extend_from_slice(&rest);
                                        }
                                    }
                                } else if c.request.len() > MAX_REQUEST {
                                    drop_clients.push(i);
                                }
                            }
                            Mode::Attached { stdin: true, .. } if outputs.stdin.is_some() => {
                                stdin_buf.extend_from_slice(data);
                            }
                            _ => {}
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => drop_clients.push(i),
                }
                if c.out.len() > MAX_CLIENT_BUFFER {
                    drop_clients.push(i);
                }
            }
            drop_clients.sort_unstable();
            drop_clients.dedup();
            for i in drop_clients.into_iter().rev() {
                clients.remove(i);
            }
            // Close the process's stdin once a stdin_once client half-closed and what it
            // sent is written. This must happen in the same iteration: nothing may ever
            // wake `poll` again (the process waits on stdin; `exec -i ... cat` hung).
            if close_stdin
                && stdin_buf.is_empty()
                && matches!(outputs.stdin, Some(StdinSink::Pipe(_)))
            {
                outputs.stdin = None;
            }
        }

        let status = exit.unwrap_or_else(|| exit_status(1, None));
        self.finish(status, clients)
    }

    fn handle(&mut self, c: &mut Client, line: &[u8], exit: Option<&ExitStatus>) {
        let req: Request = match serde_json::from_slice(line) {
            Ok(r) => r,
            Err(e) => {
                c.out
                    .extend(Response::err(format!("bad request: {e}")).line());
                c.mode = Mode::Done;
                return;
            }
        };
        let id = self.opts.id.clone();
        let resp = match req {
            Request::Start => {
                if self.started {
                    Response {
                        pid: Some(self.pid),
                        ..Response::ok()
                    }
                } else {
                    match self.driver.start(&id) {
                        Ok(()) => {
                            self.started = true;
                            // The runtime's start path is not needed again either.
                            self.shed_pending = true;
                            Response {
                                pid: Some(self.pid),
                                ..Response::ok()
                            }
                        }
                        Err(e) => Response::err(e.to_string()),
                    }
                }
            }
            Request::Attach {
                stdin,
                stdout,
                stderr,
                stdin_once,
            } => {
                c.out.extend(Response::ok().line());
                c.mode = Mode::Attached {
                    stdin,
                    stdout,
                    stderr,
                    stdin_once,
                };
                return;
            }
            Request::Resize { height, width } => match self.pty_fd {
                Some(fd) => match resize(fd, height, width) {
                    Ok(()) => Response::ok(),
                    Err(e) => Response::err(format!("resize: {e}")),
                },
                None => Response::err("the process has no terminal"),
            },
            Request::Kill { signal, all } => {
                let r = if self.opts.exec_process.is_some() {
                    // An exec'd process is signalled directly: it is our child.
                    // SAFETY: kill(2) with integer arguments.
                    if unsafe { libc::kill(self.pid, signal) } == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error().to_string())
                    }
                } else {
                    self.driver
                        .kill(&id, signal, all)
                        .map_err(|e| e.to_string())
                };
                match r {
                    Ok(()) => Response::ok(),
                    Err(e) => Response::err(e),
                }
            }
            Request::Wait => match exit {
                Some(s) => Response {
                    exit: Some(s.clone()),
                    ..Response::ok()
                },
                None => {
                    c.mode = Mode::Waiting;
                    return;
                }
            },
            Request::State => Response {
                pid: Some(self.pid),
                status: Some(
                    match (exit.is_some(), self.started) {
                        (true, _) => "exited",
                        (false, true) => "running",
                        (false, false) => "created",
                    }
                    .to_string(),
                ),
                exit: exit.cloned(),
                ..Response::ok()
            },
            Request::Pause => match self.driver.pause(&id) {
                Ok(()) => Response::ok(),
                Err(e) => Response::err(e.to_string()),
            },
            Request::Resume => match self.driver.resume(&id) {
                Ok(()) => Response::ok(),
                Err(e) => Response::err(e.to_string()),
            },
        };
        c.out.extend(resp.line());
        c.mode = Mode::Done;
    }

    /// Records the outcome and tears down: exit file first (it is what a restarted
    /// daemon trusts), then waiters and attached clients, then the runtime's state.
    fn finish(&mut self, mut status: ExitStatus, mut clients: Vec<Client>) -> i32 {
        if let Some(log) = &mut self.log {
            let _ = log.flush_partial();
        }
        // Read before the runtime deletes the container's cgroup.
        if self.opts.exec_process.is_none() {
            status.oom_killed =
                super::oom_killed(&self.opts.bundle, status.signal == Some(libc::SIGKILL));
        }
        let exit_path = self.opts.state_dir.join(EXIT_FILE);
        if let Err(e) = berth_stdx::atomic_write_json(&exit_path, &status) {
            eprintln!(
                "berth shim {}: write {}: {e}",
                self.opts.id,
                exit_path.display()
            );
        }
        let _ = std::fs::remove_file(self.opts.state_dir.join(SOCKET));
        // The runtime's state and cgroup go before waiters hear of the exit (as docker
        // deletes the task before it reports a container stopped), so nothing of the
        // container is left once `stop` or `wait` returns.
        if self.opts.exec_process.is_none()
            && let Err(e) = self.driver.delete(&self.opts.id, true)
        {
            eprintln!("berth shim {}: {e}", self.opts.id);
        }
        for c in clients.iter_mut() {
            if matches!(c.mode, Mode::Waiting) {
                c.out.extend(
                    Response {
                        exit: Some(status.clone()),
                        ..Response::ok()
                    }
                    .line(),
                );
            }
            let _ = c.stream.set_nonblocking(false);
            let _ = c.stream.set_write_timeout(Some(Duration::from_secs(2)));
            let _ = c.stream.write_all(&c.out);
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        0
    }
}

/// Queues output for a client that wants this stream; true if it was delivered.
fn deliver(c: &mut Client, stream: Stream, data: &[u8], tty: bool) -> bool {
    let Mode::Attached { stdout, stderr, .. } = c.mode else {
        return false;
    };
    let wanted = match stream {
        Stream::Stdout => stdout,
        Stream::Stderr => stderr,
    };
    if !wanted {
        return false;
    }
    if tty {
        c.out.extend_from_slice(data);
    } else {
        let id = match stream {
            Stream::Stdout => 1,
            Stream::Stderr => 2,
        };
        c.out.extend_from_slice(&frame_header(id, data.len()));
        c.out.extend_from_slice(data);
    }
    true
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl flag manipulation on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// A signalfd for SIGCHLD (blocked for normal delivery so nothing is lost).
fn signal_fd() -> std::io::Result<OwnedFd> {
    // SAFETY: plain signal-mask and signalfd calls on a zeroed sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::os::fd::FromRawFd::from_raw_fd(fd))
    }
}

fn drain_signalfd(fd: &OwnedFd) {
    let mut info = [0u8; 128];
    // SAFETY: reading signalfd records into a local buffer.
    while unsafe { libc::read(fd.as_raw_fd(), info.as_mut_ptr().cast(), info.len()) } > 0 {}
}

/// Reaps every exited child; returns the status of `pid` if it was among them.
fn reap(pid: i32) -> Option<ExitStatus> {
    let mut found = None;
    loop {
        let mut st: libc::c_int = 0;
        // SAFETY: waitpid with a valid status pointer.
        let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if r <= 0 {
            break;
        }
        if r == pid {
            found = Some(if libc::WIFSIGNALED(st) {
                let sig = libc::WTERMSIG(st);
                exit_status(128 + sig, Some(sig))
            } else {
                exit_status(libc::WEXITSTATUS(st), None)
            });
        }
    }
    found
}

fn exit_status(code: i32, signal: Option<i32>) -> ExitStatus {
    ExitStatus {
        exit_code: code,
        signal,
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        oom_killed: false,
    }
}

fn resize(fd: RawFd, height: u16, width: u16) -> std::io::Result<()> {
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct we own.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

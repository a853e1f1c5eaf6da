//! The terminal side of `run -it`, `exec -it` and `attach`: raw mode with a restore
//! that runs however the command ends (drop, error or panic), the window size, and
//! docker's detach key sequences.
//!
//! Key decision: the saved termios lives in a process-wide slot that the panic hook
//! and the guard's `Drop` both restore from, so a panic anywhere in the streaming code
//! still leaves the user's shell usable.

use std::os::fd::BorrowedFd;
use std::sync::Mutex;

use nix::sys::termios::{self, SetArg, Termios};

/// Saved terminal state of stdin, restored exactly once.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Whether `fd` is a terminal.
pub(crate) fn is_terminal(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// Puts stdin in raw mode until the guard is dropped (or the process panics).
pub(crate) struct RawGuard(());

impl RawGuard {
    pub(crate) fn enable() -> std::io::Result<RawGuard> {
        let fd = stdin_fd();
        let orig = termios::tcgetattr(fd).map_err(std::io::Error::from)?;
        let mut raw = orig.clone();
        termios::cfmakeraw(&mut raw);
        if let Ok(mut s) = SAVED.lock() {
            *s = Some(orig);
        }
        install_panic_hook();
        termios::tcsetattr(fd, SetArg::TCSANOW, &raw).map_err(std::io::Error::from)?;
        Ok(RawGuard(()))
    }
}

impl Drop for RawGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Restores the saved terminal state, if any (idempotent).
pub(crate) fn restore() {
    let saved = SAVED.lock().ok().and_then(|mut s| s.take());
    if let Some(t) = saved {
        let _ = termios::tcsetattr(stdin_fd(), SetArg::TCSANOW, &t);
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            prev(info);
        }));
    });
}

/// The terminal's size as (height, width), from stdout (docker's `Out().GetTtySize`).
pub(crate) fn size() -> Option<(u16, u16)> {
    for fd in [1, 0] {
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes a winsize into the struct we own.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
        if rc == 0 {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

/// docker's `term.ToBytes`: `ctrl-p,ctrl-q` → `[0x10, 0x11]`; single characters as is.
pub(crate) fn parse_detach_keys(keys: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for key in keys.split(',') {
        let k = key.trim();
        let lower = k.to_ascii_lowercase();
        if let Some(c) = lower.strip_prefix("ctrl-") {
            let b = c.as_bytes();
            if b.len() != 1 {
                return Err(format!("Unknown character: '{k}'"));
            }
            let code = match b[0] {
                c @ b'a'..=b'z' => c - b'a' + 1,
                b'@' => 0,
                b'[' => 27,
                b'\\' => 28,
                b']' => 29,
                b'^' => 30,
                b'_' => 31,
                _ => return Err(format!("Unknown character: '{k}'")),
            };
            out.push(code);
        } else if k.len() == 1 {
            out.push(k.as_bytes()[0]);
        } else {
            return Err(format!("Unknown character: '{k}'"));
        }
    }
    Ok(out)
}

/// docker's default detach sequence, ctrl-p ctrl-q.
pub(crate) const DEFAULT_DETACH: [u8; 2] = [0x10, 0x11];

/// Watches input bytes for a detach sequence, holding back a partial match the way
/// docker's escape proxy does (released if the sequence breaks off).
pub(crate) struct EscapeProxy {
    keys: Vec<u8>,
    matched: usize,
}

/// What to forward after feeding a chunk of input.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Escape {
    Forward(Vec<u8>),
    /// The sequence was typed: forward these bytes (typed before it) and detach.
    Detach(Vec<u8>),
}

impl EscapeProxy {
    pub(crate) fn new(keys: Vec<u8>) -> EscapeProxy {
        EscapeProxy { keys, matched: 0 }
    }

    pub(crate) fn feed(&mut self, input: &[u8]) -> Escape {
        let mut out = Vec::with_capacity(input.len());
        if self.keys.is_empty() {
            out.extend_from_slice(input);
            return Escape::Forward(out);
        }
        for &b in input {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Escape::Detach(out);
                }
                continue;
            }
            // A broken-off prefix is sent after all.
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if b == self.keys[0] {
                self.matched = 1;
                if self.keys.len() == 1 {
                    self.matched = 0;
                    return Escape::Detach(out);
                }
            } else {
                out.push(b);
            }
        }
        Escape::Forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), DEFAULT_DETACH);
        assert_eq!(
            parse_detach_keys("a,ctrl-@,ctrl-[").unwrap(),
            vec![b'a', 0, 27]
        );
        assert_eq!(
            parse_detach_keys("ctrl-xx").unwrap_err(),
            "Unknown character: 'ctrl-xx'"
        );
        assert!(parse_detach_keys("abc").is_err());
    }

    #[test]
    fn escape_proxy_holds_partial_sequences() {
        let mut p = EscapeProxy::new(DEFAULT_DETACH.to_vec());
        assert_eq!(p.feed(b"ab\x10"), Escape::Forward(b"ab".to_vec()));
        assert_eq!(p.feed(b"x"), Escape::Forward(b"\x10x".to_vec()));
        assert_eq!(p.feed(b"\x10"), Escape::Forward(vec![]));
        assert_eq!(p.feed(b"\x11rest"), Escape::Detach(vec![]));
        let mut p = EscapeProxy::new(DEFAULT_DETACH.to_vec());
        assert_eq!(
            p.feed(b"hi\x10\x10\x11"),
            Escape::Detach(b"hi\x10".to_vec())
        );
    }
}

//! Blob upload sessions.
//!
//! A session is an in-memory slot holding a content-store writer; its id is random
//! hex made here and only ever used as a map key, never as a path. The data lives in
//! the content store's ingest area, so a crash drops it (the store clears ingest at
//! open) and a client retries the push; nothing partial is ever a blob.
//! While a request writes into a session the writer is taken out of its slot, so a
//! second concurrent request on the same session is refused rather than interleaved.

use berth_image::ContentWriter;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sessions idle longer than this are dropped (with their data) at the next start.
const IDLE_LIMIT: Duration = Duration::from_secs(3600);

/// Open sessions at most: each holds a file descriptor and a write buffer, so
/// clients must not be able to open them without bound.
pub(crate) const MAX_SESSIONS: usize = 256;

struct Slot {
    repo: String,
    offset: u64,
    writer: Option<Box<dyn ContentWriter>>,
    touched: Instant,
}

#[derive(Default)]
pub(crate) struct Uploads {
    slots: Mutex<HashMap<String, Slot>>,
}

pub(crate) enum TakeError {
    Unknown,
    Busy,
}

impl Uploads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a session; `None` when too many are open.
    pub(crate) fn start(&self, repo: &str, writer: Box<dyn ContentWriter>) -> Option<String> {
        let id = berth_stdx::id::random_hex(16);
        let mut m = self.lock();
        m.retain(|_, s| s.touched.elapsed() < IDLE_LIMIT);
        if m.len() >= MAX_SESSIONS {
            return None;
        }
        m.insert(
            id.clone(),
            Slot {
                repo: repo.to_string(),
                offset: 0,
                writer: Some(writer),
                touched: Instant::now(),
            },
        );
        Some(id)
    }

    /// Takes the writer of session `id` of `repo` for one request.
    pub(crate) fn take(&self, repo: &str, id: &str) -> Result<Box<dyn ContentWriter>, TakeError> {
        let mut m = self.lock();
        let slot = m
            .get_mut(id)
            .filter(|s| s.repo == repo)
            .ok_or(TakeError::Unknown)?;
        slot.touched = Instant::now();
        slot.writer.take().ok_or(TakeError::Busy)
    }

    /// Returns a writer taken with `take`; the new offset is what it has written.
    pub(crate) fn put_back(&self, id: &str, writer: Box<dyn ContentWriter>) -> u64 {
        let mut m = self.lock();
        let off = writer.written();
        if let Some(slot) = m.get_mut(id) {
            slot.offset = off;
            slot.writer = Some(writer);
            slot.touched = Instant::now();
        }
        off
    }

    /// The bytes received so far, when the session exists.
    pub(crate) fn offset(&self, repo: &str, id: &str) -> Option<u64> {
        self.lock()
            .get(id)
            .filter(|s| s.repo == repo)
            .map(|s| s.offset)
    }

    pub(crate) fn remove(&self, repo: &str, id: &str) -> bool {
        let mut m = self.lock();
        if m.get(id).is_some_and(|s| s.repo == repo) {
            m.remove(id);
            true
        } else {
            false
        }
    }
}

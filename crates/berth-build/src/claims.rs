//! One step at a time per cache key across the stages of a build.
//!
//! Two stages may run the very same step (same parent image, same instruction):
//! `FROM alpine` + `RUN apk add …` in both. The sequential builder ran it once and
//! the later stage got " ---> Using cache". Running stages concurrently, the first
//! stage to miss the cache on a key claims it; another stage missing on that key
//! waits until the claim is released (the step committed and remembered, or the
//! stage moved on or failed), then looks the cache up again. A stage waits only while
//! it holds no claim itself, so two stages can never wait for each other.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::backend::{BaseImage, Cancel};

#[derive(Default)]
pub(crate) struct Claims {
    /// Cache key -> the stage running that step.
    held: Mutex<BTreeMap<String, usize>>,
    changed: Condvar,
}

impl Claims {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, usize>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Looks `key` up with `lookup` once no other stage runs that step; on a miss,
    /// `stage` claims the key (it is about to run the step).
    pub(crate) fn lookup(
        &self,
        key: &str,
        stage: usize,
        cancel: &Cancel,
        lookup: impl Fn() -> Option<BaseImage>,
    ) -> Option<BaseImage> {
        let mut held = self.lock();
        loop {
            let other = held.get(key).is_some_and(|s| *s != stage);
            let holds_one = held.values().any(|s| *s == stage);
            if !other || holds_one || cancel.is_cancelled() {
                break;
            }
            held = self
                .changed
                .wait_timeout(held, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        let hit = lookup();
        if hit.is_none() {
            held.entry(key.to_string()).or_insert(stage);
        }
        hit
    }

    /// The step of `key` is done (its result is in the cache).
    pub(crate) fn release(&self, key: &str, stage: usize) {
        let mut held = self.lock();
        if held.get(key) == Some(&stage) {
            held.remove(key);
            self.changed.notify_all();
        }
    }

    /// Everything `stage` claimed: it moved on to another step, or ended.
    pub(crate) fn release_stage(&self, stage: usize) {
        let mut held = self.lock();
        let before = held.len();
        held.retain(|_, s| *s != stage);
        if held.len() != before {
            self.changed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_second_stage_waits_for_the_first_then_hits() {
        let claims = Claims::default();
        let cancel = Cancel::default();
        let cached = AtomicBool::new(false);
        let img = || BaseImage {
            id: berth_stdx::Digest::sha256_of(b"x"),
            config: Default::default(),
        };
        let look = || cached.load(Ordering::SeqCst).then(img);
        assert!(claims.lookup("k", 0, &cancel, look).is_none());
        // The owner looking again (COPY's two lookups of one key) does not wait.
        assert!(claims.lookup("k", 0, &cancel, look).is_none());
        std::thread::scope(|s| {
            let waiter = s.spawn(|| claims.lookup("k", 1, &cancel, look));
            std::thread::sleep(Duration::from_millis(50));
            cached.store(true, Ordering::SeqCst);
            claims.release("k", 0);
            assert!(waiter.join().unwrap().is_some());
        });
        // A stage holding a claim never waits (no two stages wait on each other).
        assert!(claims.lookup("a", 2, &cancel, || None).is_none());
        assert!(claims.lookup("b", 3, &cancel, || None).is_none());
        assert!(claims.lookup("b", 2, &cancel, || None).is_none());
        claims.release_stage(2);
        claims.release_stage(3);
        assert!(claims.lock().is_empty());
    }
}

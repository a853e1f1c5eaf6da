//! One pull at a time per image name: stages built at the same time often start
//! FROM the same image; the first one pulls it and the others wait, then find it
//! here instead of pulling it again. Process-wide, so concurrent builds share it.

use std::collections::BTreeSet;
use std::sync::{Condvar, Mutex};

pub(crate) struct SingleFlight {
    busy: Mutex<BTreeSet<String>>,
    done: Condvar,
}

/// Removes the key when the work ends, also by a panic.
struct Turn<'a> {
    sf: &'a SingleFlight,
    key: String,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut busy = self.sf.busy.lock().unwrap_or_else(|e| e.into_inner());
        busy.remove(&self.key);
        self.sf.done.notify_all();
    }
}

impl SingleFlight {
    pub(crate) const fn new() -> SingleFlight {
        SingleFlight {
            busy: Mutex::new(BTreeSet::new()),
            done: Condvar::new(),
        }
    }

    /// Runs `work` once no other `work` for `key` runs.
    pub(crate) fn run<T>(&self, key: &str, work: impl FnOnce() -> T) -> T {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        while busy.contains(key) {
            busy = self.done.wait(busy).unwrap_or_else(|e| e.into_inner());
        }
        busy.insert(key.to_string());
        drop(busy);
        let _turn = Turn {
            sf: self,
            key: key.to_string(),
        };
        work()
    }
}

#[cfg(test)]
mod tests {
    use super::SingleFlight;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn work_for_one_key_never_overlaps() {
        let sf = SingleFlight::new();
        let (inside, max) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    sf.run("k", || {
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(10));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    })
                });
            }
        });
        assert_eq!(max.load(Ordering::SeqCst), 1);
        // Another key does not wait, and a panicking work releases its key.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            sf.run("p", || panic!("boom"))
        }));
        assert!(r.is_err());
        assert_eq!(sf.run("p", || 7), 7);
    }
}

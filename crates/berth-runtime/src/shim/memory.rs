//! Keeping a long-lived shim small. Creating a container runs a lot of code (the
//! runtime library's clone, namespace, mount, seccomp and cgroup paths) that the shim
//! never runs again, but whose pages stay mapped and count in its RSS: about 4 MB of
//! the binary's text and read-only data. Once the container is created and started
//! and the shim has been idle a moment (the event loop decides when), those clean
//! file-backed pages are dropped from this process (`MADV_DONTNEED`: they stay in the
//! page cache, shared with the daemon and other shims, and fault back in on use), and
//! the heap's free memory is returned to the kernel.
//!
//! Only read-only mappings of files whose pages were never copied-on-write (no
//! `Anonymous` pages) are dropped: re-reading such a page from its file gives back the
//! same bytes. Writable mappings and relocated data (which has private copies) are
//! never touched, nor the heap, stack, vdso or anonymous memory.

/// One mapping of `/proc/self/smaps` that can be dropped safely.
#[derive(Debug, PartialEq, Eq)]
struct Droppable {
    start: usize,
    end: usize,
}

/// The mappings of an smaps text that are read-only, file-backed and have no private
/// (copied) pages.
fn droppable(smaps: &str) -> Vec<Droppable> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, usize, bool)> = None;
    let mut push = |cur: &Option<(usize, usize, bool)>, anon_zero: bool| {
        if let Some((s, e, ok)) = cur
            && *ok
            && anon_zero
        {
            out.push(Droppable { start: *s, end: *e });
        }
    };
    let mut anon_zero = false;
    for line in smaps.lines() {
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(s), Ok(e)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        {
            push(&cur, anon_zero);
            let perms = parts.next().unwrap_or("");
            let path = parts.nth(3).unwrap_or("");
            let ok = perms.starts_with('r')
                && !perms.contains('w')
                && perms.ends_with('p')
                && path.starts_with('/');
            cur = Some((s, e, ok));
            anon_zero = false;
        } else if first == "Anonymous:" {
            anon_zero = parts.next() == Some("0");
        }
    }
    push(&cur, anon_zero);
    out
}

/// Drops what the container's creation left resident (best-effort, never fails).
pub(crate) fn shed() {
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe {
        libc::malloc_trim(0);
    }
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for m in droppable(&smaps) {
        // SAFETY: the range is a whole read-only private file mapping with no private
        // pages (see the module comment): discarding its pages only makes the next
        // access re-read the same bytes from the file.
        unsafe {
            libc::madvise(
                m.start as *mut libc::c_void,
                m.end - m.start,
                libc::MADV_DONTNEED,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_read_only_file_mappings() {
        let smaps = "\
55a0-55b0 r--p 00000000 fd:01 123 /usr/bin/berth
Rss: 704 kB
Anonymous: 0 kB
55b0-55c0 r-xp 00010000 fd:01 123 /usr/bin/berth
Rss: 3008 kB
Anonymous: 0 kB
55c0-55d0 r--p 00020000 fd:01 123 /usr/bin/berth
Rss: 624 kB
Anonymous: 624 kB
55d0-55e0 rw-p 00030000 fd:01 123 /usr/bin/berth
Anonymous: 16 kB
55e0-55f0 rw-p 00000000 00:00 0 [heap]
Anonymous: 120 kB
7f00-7f10 r-xp 00000000 fd:01 456 /usr/lib/libc.so.6
Anonymous: 0 kB
7f10-7f20 r--s 00000000 fd:01 789 /dev/shm/x
Anonymous: 0 kB
7ff0-7ff1 r-xp 00000000 00:00 0 [vdso]
Anonymous: 0 kB
";
        assert_eq!(
            droppable(smaps),
            [
                Droppable {
                    start: 0x55a0,
                    end: 0x55b0
                },
                Droppable {
                    start: 0x55b0,
                    end: 0x55c0
                },
                Droppable {
                    start: 0x7f00,
                    end: 0x7f10
                },
            ]
        );
    }

    #[test]
    fn shedding_keeps_the_process_working() {
        // Drops this test binary's clean text pages; code keeps running (re-faulted).
        shed();
        let v: Vec<u64> = (0..1000).collect();
        assert_eq!(v.iter().sum::<u64>(), 499_500);
        assert!(format!("{:?}", droppable("")).contains("[]"));
    }
}

//! Reading a container's cgroup: resource usage for `docker stats` and whether the
//! kernel's OOM killer struck (docker's `OOMKilled`). Works on v1 (and hybrid) and v2
//! hierarchies; every reader takes the mount points from [`CgroupLayout`] so tests can
//! point it at a fake tree.

use crate::cgroups::CgroupLayout;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes in use, page cache included (docker subtracts inactive file pages itself).
    pub memory_usage: u64,
    /// The limit in bytes; `None` = unlimited.
    pub memory_limit: Option<u64>,
    /// `inactive_file` (v2) or `total_inactive_file` (v1), which docker's CLI subtracts.
    pub memory_inactive_file: u64,
    /// Total CPU time in nanoseconds.
    pub cpu_usage_ns: u64,
    pub pids_current: u64,
    pub pids_limit: Option<u64>,
    /// How many times the OOM killer killed a process of this cgroup.
    pub oom_kills: u64,
}

fn read_u64(p: &Path) -> Option<u64> {
    std::fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// `max` (v2) or a huge number (v1's "unlimited") mean no limit.
fn read_limit(p: &Path) -> Option<u64> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim();
    if s == "max" {
        return None;
    }
    let v: u64 = s.parse().ok()?;
    (v < (1u64 << 62)).then_some(v)
}

fn keyed(p: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(p).ok()?;
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == key).then(|| it.next()?.parse().ok())?
    })
}

fn under(base: &Path, cgroup: &str) -> PathBuf {
    base.join(cgroup.trim_start_matches('/'))
}

/// Reads the stats of the cgroup at `cgroup` (the spec's `cgroupsPath`).
pub fn read(layout: &CgroupLayout, cgroup: &str) -> Stats {
    match layout {
        CgroupLayout::Unified { root } => {
            let d = under(root, cgroup);
            Stats {
                memory_usage: read_u64(&d.join("memory.current")).unwrap_or(0),
                memory_limit: read_limit(&d.join("memory.max")),
                memory_inactive_file: keyed(&d.join("memory.stat"), "inactive_file").unwrap_or(0),
                cpu_usage_ns: keyed(&d.join("cpu.stat"), "usage_usec").unwrap_or(0) * 1000,
                pids_current: read_u64(&d.join("pids.current")).unwrap_or(0),
                pids_limit: read_limit(&d.join("pids.max")),
                oom_kills: keyed(&d.join("memory.events"), "oom_kill").unwrap_or(0),
            }
        }
        CgroupLayout::Legacy { .. } => {
            let ctl = |name: &str| layout.v1_controller(name).map(|b| under(b, cgroup));
            let mem = ctl("memory");
            let cpu = ctl("cpuacct");
            let pids = ctl("pids");
            Stats {
                memory_usage: mem
                    .as_ref()
                    .and_then(|d| read_u64(&d.join("memory.usage_in_bytes")))
                    .unwrap_or(0),
                memory_limit: mem
                    .as_ref()
                    .and_then(|d| read_limit(&d.join("memory.limit_in_bytes"))),
                memory_inactive_file: mem
                    .as_ref()
                    .and_then(|d| keyed(&d.join("memory.stat"), "total_inactive_file"))
                    .unwrap_or(0),
                cpu_usage_ns: cpu
                    .as_ref()
                    .and_then(|d| read_u64(&d.join("cpuacct.usage")))
                    .unwrap_or(0),
                pids_current: pids
                    .as_ref()
                    .and_then(|d| read_u64(&d.join("pids.current")))
                    .unwrap_or(0),
                pids_limit: pids.as_ref().and_then(|d| read_limit(&d.join("pids.max"))),
                // v1 reports kills in memory.oom_control since Linux 4.13.
                oom_kills: mem
                    .as_ref()
                    .and_then(|d| keyed(&d.join("memory.oom_control"), "oom_kill"))
                    .unwrap_or(0),
            }
        }
    }
}

/// Whether the kernel's OOM killer struck in the cgroup during this run (docker's
/// `OOMKilled`). The cgroup is created per run, so any kill counted in it is this run's:
/// v2 counts them in `memory.events` (`oom_kill`), v1 in `memory.oom_control` (Linux
/// 4.13+). Older v1 kernels have no counter: there, a process that died of SIGKILL after
/// the cgroup hit its limit (`memory.failcnt`) counts as OOM-killed.
pub fn oom_killed(layout: &CgroupLayout, cgroup: &str, died_of_sigkill: bool) -> bool {
    match layout {
        CgroupLayout::Unified { root } => {
            keyed(&under(root, cgroup).join("memory.events"), "oom_kill").unwrap_or(0) > 0
        }
        CgroupLayout::Legacy { .. } => {
            let Some(d) = layout.v1_controller("memory").map(|b| under(b, cgroup)) else {
                return false;
            };
            match keyed(&d.join("memory.oom_control"), "oom_kill") {
                Some(n) => n > 0,
                None => died_of_sigkill && read_u64(&d.join("memory.failcnt")).unwrap_or(0) > 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> PathBuf {
        let d = std::env::temp_dir().join(format!("berth-cg-{}", berth_stdx::id::random_hex(6)));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn write(p: PathBuf, s: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, s).unwrap();
    }

    #[test]
    fn v2_files() {
        let root = tree();
        let c = root.join("berth/abc");
        write(c.join("memory.current"), "1048576\n");
        write(c.join("memory.max"), "max\n");
        write(c.join("memory.stat"), "anon 1\ninactive_file 4096\n");
        write(
            c.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        );
        write(c.join("cpu.stat"), "usage_usec 2500\nuser_usec 2000\n");
        write(c.join("pids.current"), "3\n");
        write(c.join("pids.max"), "64\n");
        let s = read(&CgroupLayout::Unified { root: root.clone() }, "/berth/abc");
        assert_eq!(
            s,
            Stats {
                memory_usage: 1048576,
                memory_limit: None,
                memory_inactive_file: 4096,
                cpu_usage_ns: 2_500_000,
                pids_current: 3,
                pids_limit: Some(64),
                oom_kills: 1,
            }
        );
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn v1_files() {
        let root = tree();
        let mem = root.join("memory");
        let cpu = root.join("cpu,cpuacct");
        write(mem.join("berth/x/memory.usage_in_bytes"), "2048\n");
        write(
            mem.join("berth/x/memory.limit_in_bytes"),
            "9223372036854771712\n",
        );
        write(
            mem.join("berth/x/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        );
        write(cpu.join("berth/x/cpuacct.usage"), "777\n");
        let layout = CgroupLayout::Legacy {
            controllers: vec![("memory".into(), mem), ("cpu,cpuacct".into(), cpu)],
            unified: None,
        };
        let s = read(&layout, "/berth/x");
        assert_eq!(s.memory_usage, 2048);
        assert_eq!(s.memory_limit, None);
        assert_eq!(s.cpu_usage_ns, 777);
        assert_eq!(s.oom_kills, 2);
        assert_eq!(s.pids_limit, None);
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn oom_kills_on_v2_and_v1() {
        let root = tree();
        let v2 = CgroupLayout::Unified { root: root.clone() };
        write(
            root.join("berth/a/memory.events"),
            "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n",
        );
        write(
            root.join("berth/b/memory.events"),
            "low 0\nhigh 0\nmax 9\noom 0\noom_kill 0\n",
        );
        assert!(oom_killed(&v2, "/berth/a", false));
        assert!(!oom_killed(&v2, "/berth/b", true));
        assert!(!oom_killed(&v2, "/berth/gone", true));
        let mem = root.join("v1mem");
        let v1 = CgroupLayout::Legacy {
            controllers: vec![("memory".into(), mem.clone())],
            unified: None,
        };
        write(
            mem.join("berth/a/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        );
        write(
            mem.join("berth/b/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        );
        write(mem.join("berth/b/memory.failcnt"), "12\n");
        // An old kernel: no counter, so the limit being hit plus SIGKILL decides.
        write(
            mem.join("berth/c/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\n",
        );
        write(mem.join("berth/c/memory.failcnt"), "3\n");
        assert!(oom_killed(&v1, "/berth/a", false));
        assert!(!oom_killed(&v1, "/berth/b", true));
        assert!(oom_killed(&v1, "/berth/c", true));
        assert!(!oom_killed(&v1, "/berth/c", false));
        std::fs::remove_dir_all(root).unwrap();
    }
}

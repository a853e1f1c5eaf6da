//! Which cgroup hierarchy the host runs, read from `/proc/self/mountinfo`.
//!
//! Three layouts exist in the field and all must work: pure v2 (`cgroup2` on
//! `/sys/fs/cgroup`, most current hosts), pure v1 (one `cgroup` mount per controller),
//! and hybrid (v1 controllers plus a `cgroup2` mount, usually `/sys/fs/cgroup/unified`,
//! as on the development machines). Controllers are driven through the v1 hierarchy
//! whenever v1 controllers are mounted.

use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupLayout {
    /// cgroup v2 only, mounted at `root`.
    Unified { root: PathBuf },
    /// v1 controllers (with their mount points); `unified` is the extra cgroup2 mount of
    /// a hybrid host, if any.
    Legacy {
        controllers: Vec<(String, PathBuf)>,
        unified: Option<PathBuf>,
    },
}

impl CgroupLayout {
    /// Reads the running host's layout.
    pub fn detect() -> std::io::Result<CgroupLayout> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")?;
        parse_mountinfo(&text).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no cgroup filesystem is mounted: mount cgroup2 on /sys/fs/cgroup",
            )
        })
    }

    /// `"1"` or `"2"`, as docker's `info` reports `CgroupVersion`.
    pub fn version(&self) -> &'static str {
        match self {
            CgroupLayout::Unified { .. } => "2",
            CgroupLayout::Legacy { .. } => "1",
        }
    }

    /// Whether containers get a private cgroup namespace by default (docker: yes on
    /// v2, no on v1).
    pub fn private_cgroupns_by_default(&self) -> bool {
        matches!(self, CgroupLayout::Unified { .. })
    }

    /// The v1 mount point of one controller (e.g. `memory`).
    pub fn v1_controller(&self, name: &str) -> Option<&PathBuf> {
        match self {
            CgroupLayout::Legacy { controllers, .. } => controllers
                .iter()
                .find(|(c, _)| c.split(',').any(|part| part == name))
                .map(|(_, p)| p),
            CgroupLayout::Unified { .. } => None,
        }
    }
}

/// Parses mountinfo text; `None` when no cgroup filesystem is mounted.
pub fn parse_mountinfo(text: &str) -> Option<CgroupLayout> {
    let mut controllers: Vec<(String, PathBuf)> = Vec::new();
    let mut unified: Option<PathBuf> = None;
    for line in text.lines() {
        // Format: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut right_fields = right.split_whitespace();
        let fstype = right_fields.next().unwrap_or("");
        let _source = right_fields.next();
        let super_opts = right_fields.next().unwrap_or("");
        let mount_point = left.split_whitespace().nth(4).unwrap_or("");
        match fstype {
            "cgroup2" if unified.is_none() => {
                unified = Some(PathBuf::from(unescape(mount_point)));
            }
            "cgroup" => {
                let known: BTreeSet<&str> = [
                    "cpu",
                    "cpuacct",
                    "cpuset",
                    "memory",
                    "devices",
                    "freezer",
                    "net_cls",
                    "blkio",
                    "perf_event",
                    "net_prio",
                    "hugetlb",
                    "pids",
                    "rdma",
                    "misc",
                ]
                .into_iter()
                .collect();
                let names: Vec<&str> = super_opts
                    .split(',')
                    .filter(|o| known.contains(o))
                    .collect();
                if !names.is_empty() {
                    controllers.push((names.join(","), PathBuf::from(unescape(mount_point))));
                }
            }
            _ => {}
        }
    }
    if !controllers.is_empty() {
        Some(CgroupLayout::Legacy {
            controllers,
            unified,
        })
    } else {
        unified.map(|root| CgroupLayout::Unified { root })
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal `\040` etc.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
25 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
27 26 0:24 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw
28 26 0:25 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,memory
29 26 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct
30 26 0:27 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,pids
";

    const V2: &str = "\
25 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[test]
    fn hybrid_host_is_v1_with_unified_mount() {
        let l = parse_mountinfo(HYBRID).unwrap();
        assert_eq!(l.version(), "1");
        assert_eq!(
            l.v1_controller("memory").unwrap(),
            &PathBuf::from("/sys/fs/cgroup/memory")
        );
        assert_eq!(
            l.v1_controller("cpuacct").unwrap(),
            &PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert!(!l.private_cgroupns_by_default());
        match l {
            CgroupLayout::Legacy { unified, .. } => {
                assert_eq!(unified, Some(PathBuf::from("/sys/fs/cgroup/unified")))
            }
            _ => panic!("want legacy"),
        }
    }

    #[test]
    fn pure_v2() {
        let l = parse_mountinfo(V2).unwrap();
        assert_eq!(
            l,
            CgroupLayout::Unified {
                root: "/sys/fs/cgroup".into()
            }
        );
        assert!(l.private_cgroupns_by_default());
    }

    #[test]
    fn no_cgroups() {
        assert_eq!(parse_mountinfo("garbage\n1 2 3"), None);
    }

    #[test]
    fn escaped_mount_points() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain\\"), "/plain\\");
    }

    #[test]
    fn this_host_has_a_layout() {
        // Every Linux host that can run containers mounts some cgroup filesystem.
        let layout = CgroupLayout::detect().unwrap();
        assert!(matches!(layout.version(), "1" | "2"));
    }
}

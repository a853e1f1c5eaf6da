//! Facts about the host for `/info` and `/version`, read from /proc and /etc.

use std::path::Path;

/// What `/info` and `/version` report about the machine.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel_version: String,
    pub operating_system: String,
    pub os_version: String,
    /// `uname -m` style (`x86_64`), as dockerd's `/info` Architecture.
    pub machine: String,
    pub ncpu: i64,
    pub mem_total: i64,
    pub cgroup_version: String,
    pub backing_fs: String,
    pub ipv4_forwarding: bool,
    pub bridge_nf_iptables: bool,
    pub bridge_nf_ip6tables: bool,
    pub open_fds: i64,
}

fn read_trim(p: &str) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn read_flag(p: &str) -> bool {
    read_trim(p) == "1"
}

/// `PRETTY_NAME` and `VERSION_ID` from os-release.
fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let pretty = get("PRETTY_NAME");
    (
        if pretty.is_empty() {
            "Linux".into()
        } else {
            pretty
        },
        get("VERSION_ID"),
    )
}

fn mem_total() -> i64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// "2" on a pure cgroup v2 host; "1" on v1 and hybrid hosts (as dockerd reports).
fn cgroup_version() -> String {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2".into()
    } else {
        "1".into()
    }
}

/// docker's name for the filesystem under the data root.
fn backing_fs(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return "<unknown>".into();
    };
    // SAFETY: statfs writes into the zeroed struct we own; the path is a valid C string.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return "<unknown>".into();
    }
    match st.f_type as i64 {
        0xEF53 => "extfs",
        0x58465342 => "xfs",
        0x9123683E => "btrfs",
        0x01021994 => "tmpfs",
        0x794c7630 => "overlayfs",
        0x2fc12fc1 => "zfs",
        0x6969 => "nfs",
        _ => "<unknown>",
    }
    .into()
}

pub fn goarch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

impl HostFacts {
    pub fn gather(data_root: &Path) -> HostFacts {
        let (operating_system, os_version) = os_release();
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as i64)
            .unwrap_or(0);
        HostFacts {
            hostname: read_trim("/proc/sys/kernel/hostname"),
            kernel_version: read_trim("/proc/sys/kernel/osrelease"),
            operating_system,
            os_version,
            machine: std::env::consts::ARCH.to_string(),
            ncpu: std::thread::available_parallelism()
                .map(|n| n.get() as i64)
                .unwrap_or(1),
            mem_total: mem_total(),
            cgroup_version: cgroup_version(),
            backing_fs: backing_fs(data_root),
            ipv4_forwarding: read_flag("/proc/sys/net/ipv4/ip_forward"),
            bridge_nf_iptables: read_flag("/proc/sys/net/bridge/bridge-nf-call-iptables"),
            bridge_nf_ip6tables: read_flag("/proc/sys/net/bridge/bridge-nf-call-ip6tables"),
            open_fds,
        }
    }
}

/// A stable engine id kept in `<data-root>/engine-id` (dockerd keeps a UUID the same way).
pub fn engine_id(data_root: &Path) -> std::io::Result<String> {
    let p = data_root.join("engine-id");
    match std::fs::read_to_string(&p) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => {
            let h = berth_stdx::id::random_hex(16);
            let id = format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            );
            berth_stdx::atomic_write(&p, id.as_bytes())?;
            Ok(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_something_plausible() {
        let f = HostFacts::gather(Path::new("/"));
        assert!(f.ncpu >= 1);
        assert!(f.mem_total > 0);
        assert!(!f.kernel_version.is_empty());
        assert!(f.cgroup_version == "1" || f.cgroup_version == "2");
    }

    #[test]
    fn engine_id_is_stable() {
        let d = tempfile::tempdir().unwrap();
        let a = engine_id(d.path()).unwrap();
        assert_eq!(a.len(), 36);
        assert_eq!(a, engine_id(d.path()).unwrap());
    }
}

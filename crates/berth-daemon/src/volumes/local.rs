//! The local driver's mount options (`--opt type=... device=... o=...`), the mount
//! and unmount of volumes that have them, and sizes for `system df` and prune.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use crate::error::{Error, Result};

/// docker's local driver: these options, and each needs its companions.
pub(super) fn validate_opts(opts: &BTreeMap<String, String>) -> Result<()> {
    for k in opts.keys() {
        if !matches!(k.as_str(), "type" | "o" | "device" | "size") {
            return Err(Error::invalid(format!("invalid option: {k:?}")));
        }
    }
    if opts.contains_key("size") {
        return Err(Error::invalid("quota size requested but no quota support"));
    }
    let needs: [(&str, &[&str]); 3] = [
        ("device", &["type"]),
        ("type", &["device"]),
        ("o", &["device", "type"]),
    ];
    for (k, reqs) in needs {
        if opts.contains_key(k) {
            for r in reqs {
                if !opts.contains_key(*r) {
                    return Err(Error::invalid(format!("missing required option: {r:?}")));
                }
            }
        }
    }
    Ok(())
}

/// Splits `o=` into mount flags and filesystem data, as `mount(8)` does.
pub(super) fn parse_o(o: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for opt in o.split(',').filter(|s| !s.is_empty()) {
        let (set, clear) = match opt {
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        flags |= set;
        flags &= !clear;
    }
    (flags, data.join(","))
}

/// Mounts the volume's device over its data dir.
pub(super) fn mount(opts: &BTreeMap<String, String>, target: &Path) -> std::io::Result<()> {
    let device = opts.get("device").map(String::as_str).unwrap_or("");
    if device.is_empty() {
        return Err(std::io::Error::other("missing device in volume options"));
    }
    let fstype = opts.get("type").map(String::as_str).unwrap_or("none");
    let (flags, data) = parse_o(opts.get("o").map(String::as_str).unwrap_or(""));
    let data = (!data.is_empty()).then_some(data.as_str());
    nix::mount::mount(Some(device), target, Some(fstype), flags, data)
        .map_err(|e| std::io::Error::other(format!("failed to mount local volume: {e}")))?;
    // A read-only bind needs a remount to take the flag (the kernel ignores it on MS_BIND).
    if flags.contains(MsFlags::MS_BIND) && flags.contains(MsFlags::MS_RDONLY) {
        let _ = nix::mount::mount(
            None::<&str>,
            target,
            None::<&str>,
            flags | MsFlags::MS_REMOUNT,
            None::<&str>,
        );
    }
    Ok(())
}

/// Unmounts whatever is mounted on the data dir (best-effort, lazily if busy).
pub(super) fn unmount(target: &Path) {
    if !is_mountpoint(target) {
        return;
    }
    if let Err(e) = nix::mount::umount2(target, MntFlags::empty()) {
        tracing::warn!(path = %target.display(), "unmount volume: {e}; detaching");
        let _ = nix::mount::umount2(target, MntFlags::MNT_DETACH);
    }
}

/// Whether `p` is a mount point (its device differs from its parent's, or mountinfo says so).
pub(super) fn is_mountpoint(p: &Path) -> bool {
    let want = p.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|s| {
            s.lines()
                .any(|l| l.split(' ').nth(4).is_some_and(|m| m == want))
        })
        .unwrap_or(false)
}

/// The bytes of the files under `dir` (each inode once; symlinks not followed).
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for ent in rd.flatten() {
            let Ok(md) = ent.metadata() else { continue };
            if md.is_dir() {
                stack.push(ent.path());
            } else if seen.insert((md.dev(), md.ino())) {
                total += md.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn options_follow_the_local_driver() {
        assert!(validate_opts(&opts(&[("type", "tmpfs"), ("device", "tmpfs")])).is_ok());
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("foo", "1")], "invalid option: \"foo\""),
            (&[("type", "tmpfs")], "missing required option: \"device\""),
            (&[("device", "x")], "missing required option: \"type\""),
            (
                &[("size", "1m")],
                "quota size requested but no quota support",
            ),
        ];
        for (o, want) in cases {
            assert_eq!(validate_opts(&opts(o)).unwrap_err().message, *want, "{o:?}");
        }
    }

    #[test]
    fn o_splits_flags_from_data() {
        let (f, d) = parse_o("bind,ro,size=10m,uid=1000");
        assert!(f.contains(MsFlags::MS_BIND | MsFlags::MS_RDONLY));
        assert_eq!(d, "size=10m,uid=1000");
    }
}

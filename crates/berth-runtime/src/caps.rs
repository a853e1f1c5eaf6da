//! Linux capabilities as docker grants them: a fixed default set, adjusted by
//! `--cap-add` / `--cap-drop` (names with or without `CAP_`, any case, and `ALL`).

use std::collections::BTreeSet;

/// The capabilities every docker container gets unless told otherwise.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability the kernel knows (up to CAP_CHECKPOINT_RESTORE, Linux 5.9).
pub const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CapError {
    #[error("unknown capability: {0:?}")]
    Unknown(String),
}

/// Normalises a user-given name: `net_admin`, `NET_ADMIN` and `CAP_NET_ADMIN` are the
/// same capability; `ALL` stays `ALL`.
pub fn normalize(name: &str) -> Result<String, CapError> {
    let upper = name.trim().to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if ALL_CAPS.contains(&full.as_str()) {
        Ok(full)
    } else {
        Err(CapError::Unknown(full))
    }
}

/// The effective set for a container, docker's way: start from the defaults (or from
/// everything when privileged), drop what `cap_drop` names (`ALL` drops every default),
/// then add what `cap_add` names (`ALL` adds every capability). Adds win over drops,
/// as in docker.
pub fn effective(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<Vec<String>, CapError> {
    if privileged {
        return Ok(ALL_CAPS.iter().map(|s| s.to_string()).collect());
    }
    let adds = cap_add
        .iter()
        .map(|c| normalize(c))
        .collect::<Result<Vec<_>, _>>()?;
    let drops = cap_drop
        .iter()
        .map(|c| normalize(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut set: BTreeSet<&str> = BTreeSet::new();
    if !drops.iter().any(|d| d == "ALL") {
        set.extend(
            DEFAULT_CAPS
                .iter()
                .copied()
                .filter(|c| !drops.iter().any(|d| d == c)),
        );
    }
    if adds.iter().any(|a| a == "ALL") {
        set.extend(ALL_CAPS.iter().copied());
    }
    let mut out: Vec<String> = ALL_CAPS
        .iter()
        .filter(|c| set.contains(*c) || adds.iter().any(|a| a == *c))
        .map(|s| s.to_string())
        .collect();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_set_is_dockers_fourteen() {
        let caps = effective(false, &[], &[]).unwrap();
        assert_eq!(caps.len(), 14);
        assert!(caps.contains(&"CAP_NET_RAW".to_string()));
        assert!(!caps.contains(&"CAP_SYS_ADMIN".to_string()));
    }

    #[test]
    fn add_and_drop_forms() {
        let caps = effective(false, &s(&["net_admin", "CAP_SYS_TIME"]), &s(&["chown"])).unwrap();
        assert!(caps.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(caps.contains(&"CAP_SYS_TIME".to_string()));
        assert!(!caps.contains(&"CAP_CHOWN".to_string()));
    }

    #[test]
    fn drop_all_then_add_one() {
        let caps = effective(false, &s(&["NET_BIND_SERVICE"]), &s(&["ALL"])).unwrap();
        assert_eq!(caps, s(&["CAP_NET_BIND_SERVICE"]));
    }

    #[test]
    fn add_all_and_privileged() {
        assert_eq!(
            effective(false, &s(&["all"]), &[]).unwrap().len(),
            ALL_CAPS.len()
        );
        assert_eq!(
            effective(true, &[], &s(&["ALL"])).unwrap().len(),
            ALL_CAPS.len()
        );
    }

    #[test]
    fn unknown_capability_is_dockers_error() {
        let err = effective(false, &s(&["FOO"]), &[]).unwrap_err();
        assert_eq!(err.to_string(), "unknown capability: \"CAP_FOO\"");
    }
}

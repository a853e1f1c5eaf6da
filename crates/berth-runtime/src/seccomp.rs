//! Seccomp profiles in docker's JSON format, turned into the OCI spec's `linux.seccomp`.
//!
//! Docker's format carries conditions the OCI format lacks: a rule may apply only on
//! some architectures, only when the container holds (or lacks) a capability, or only
//! from a kernel version on. They are resolved here, for one container, against the
//! host's architecture and kernel and the container's capability set. The default
//! profile is docker's own, kept as data in `profiles/docker-default.json`.

use serde::{Deserialize, Serialize};

/// Docker's default profile, as data.
pub const DOCKER_DEFAULT_PROFILE: &str = include_str!("../profiles/docker-default.json");

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("decoding seccomp profile failed: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("seccomp profile has no rules for architecture {0}")]
    NoArch(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default, deserialize_with = "null_default")]
    default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_default")]
    arch_map: Vec<ArchMap>,
    #[serde(default, deserialize_with = "null_default")]
    architectures: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    syscalls: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default, deserialize_with = "null_default")]
    sub_architectures: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default, deserialize_with = "null_default")]
    names: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    name: Option<String>,
    action: String,
    #[serde(default, deserialize_with = "null_default")]
    errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "null_default")]
    args: Vec<Arg>,
    #[serde(default, deserialize_with = "null_default")]
    includes: Filter,
    #[serde(default, deserialize_with = "null_default")]
    excludes: Filter,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default, deserialize_with = "null_default")]
    arches: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    caps: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    min_kernel: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    pub op: String,
}

/// Docker's profiles write `null` for empty lists; treat it as the default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `linux.seccomp` of the OCI runtime spec.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OciSeccomp {
    pub default_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    pub architectures: Vec<String>,
    pub syscalls: Vec<OciSyscall>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OciSyscall {
    pub names: Vec<String>,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
}

/// What the conditions of a profile are checked against.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// Go's architecture name, as docker's profiles spell it: `amd64`, `arm64`, ...
    pub arch: &'a str,
    /// The container's capabilities, `CAP_*` names.
    pub caps: &'a [String],
    /// The host kernel as (major, minor).
    pub kernel: (u32, u32),
}

/// The running host's architecture in Go's spelling.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" => "mips64le",
        other => other,
    }
}

/// The host kernel's (major, minor), from `uname -r`; (0, 0) if unreadable, which makes
/// every `minKernel` rule inapplicable (the safe direction: fewer syscalls allowed).
pub fn host_kernel() -> (u32, u32) {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .and_then(|s| parse_kernel(&s))
        .unwrap_or((0, 0))
}

fn parse_kernel(s: &str) -> Option<(u32, u32)> {
    let mut it = s.trim().split(['.', '-']);
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    Some((major, minor))
}

fn seccomp_arch_of(go_arch: &str) -> &'static str {
    match go_arch {
        "amd64" => "SCMP_ARCH_X86_64",
        "386" | "x86" => "SCMP_ARCH_X86",
        "arm64" => "SCMP_ARCH_AARCH64",
        "arm" => "SCMP_ARCH_ARM",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        "mips64le" => "SCMP_ARCH_MIPSEL64",
        _ => "",
    }
}

/// Resolves a docker-format profile for one container.
pub fn resolve(profile_json: &str, target: &Target<'_>) -> Result<OciSeccomp, SeccompError> {
    let profile: Profile = serde_json::from_str(profile_json)?;
    let native = seccomp_arch_of(target.arch);
    let architectures = if !profile.arch_map.is_empty() {
        let entry = profile
            .arch_map
            .iter()
            .find(|m| m.architecture == native)
            .ok_or_else(|| SeccompError::NoArch(target.arch.to_string()))?;
        let mut v = vec![entry.architecture.clone()];
        v.extend(entry.sub_architectures.iter().cloned());
        v
    } else {
        profile.architectures.clone()
    };

    let mut syscalls = Vec::new();
    for rule in &profile.syscalls {
        if !applies(rule, target) {
            continue;
        }
        let mut names = rule.names.clone();
        if let Some(n) = &rule.name {
            names.push(n.clone());
        }
        if names.is_empty() {
            continue;
        }
        syscalls.push(OciSyscall {
            names,
            action: rule.action.clone(),
            errno_ret: rule.errno_ret,
            args: rule.args.clone(),
        });
    }
    Ok(OciSeccomp {
        default_action: profile.default_action,
        default_errno_ret: profile.default_errno_ret,
        architectures,
        syscalls,
    })
}

fn kernel_at_least(kernel: (u32, u32), min: &str) -> bool {
    match parse_kernel(min) {
        Some(want) => kernel >= want,
        None => false,
    }
}

fn applies(rule: &Rule, t: &Target<'_>) -> bool {
    let has_cap = |c: &String| t.caps.iter().any(|have| have == c);
    let ex = &rule.excludes;
    if ex.arches.iter().any(|a| a == t.arch) || ex.caps.iter().any(has_cap) {
        return false;
    }
    if let Some(k) = &ex.min_kernel
        && kernel_at_least(t.kernel, k)
    {
        return false;
    }
    let inc = &rule.includes;
    if !inc.arches.is_empty() && !inc.arches.iter().any(|a| a == t.arch) {
        return false;
    }
    if !inc.caps.iter().all(has_cap) {
        return false;
    }
    if let Some(k) = &inc.min_kernel
        && !kernel_at_least(t.kernel, k)
    {
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps;

    fn default_for(caps: &[String]) -> OciSeccomp {
        resolve(
            DOCKER_DEFAULT_PROFILE,
            &Target {
                arch: "amd64",
                caps,
                kernel: (6, 1),
            },
        )
        .unwrap()
    }

    fn allowed(p: &OciSeccomp, name: &str) -> bool {
        p.syscalls
            .iter()
            .any(|s| s.action == "SCMP_ACT_ALLOW" && s.names.iter().any(|n| n == name))
    }

    #[test]
    fn default_profile_blocks_admin_syscalls_for_default_caps() {
        let caps = caps::effective(false, &[], &[]).unwrap();
        let p = default_for(&caps);
        assert_eq!(p.default_action, "SCMP_ACT_ERRNO");
        assert_eq!(
            p.architectures,
            vec!["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        );
        assert!(allowed(&p, "read"));
        assert!(allowed(&p, "clone"));
        for blocked in [
            "mount",
            "umount2",
            "reboot",
            "kexec_load",
            "init_module",
            "open_by_handle_at",
            "swapon",
        ] {
            assert!(!allowed(&p, blocked), "{blocked} must not be allowed");
        }
        // arm-only syscalls are not part of an amd64 filter.
        assert!(!allowed(&p, "arm_fadvise64_64"));
    }

    #[test]
    fn capabilities_unlock_their_syscalls() {
        let caps = caps::effective(false, &["SYS_ADMIN".into(), "SYS_MODULE".into()], &[]).unwrap();
        let p = default_for(&caps);
        assert!(allowed(&p, "mount"));
        assert!(allowed(&p, "init_module"));
    }

    #[test]
    fn min_kernel_rules_follow_the_host_kernel() {
        let caps = caps::effective(false, &[], &[]).unwrap();
        let old = resolve(
            DOCKER_DEFAULT_PROFILE,
            &Target {
                arch: "amd64",
                caps: &caps,
                kernel: (3, 10),
            },
        )
        .unwrap();
        let new = default_for(&caps);
        // docker allows ptrace without CAP_SYS_PTRACE only from Linux 4.8 on.
        assert!(allowed(&new, "ptrace"));
        assert!(!allowed(&old, "ptrace"));
    }

    #[test]
    fn unknown_arch_and_bad_json_are_errors() {
        assert!(matches!(
            resolve(
                DOCKER_DEFAULT_PROFILE,
                &Target {
                    arch: "vax",
                    caps: &[],
                    kernel: (6, 1)
                }
            ),
            Err(SeccompError::NoArch(_))
        ));
        assert!(
            resolve(
                "{",
                &Target {
                    arch: "amd64",
                    caps: &[],
                    kernel: (6, 1)
                }
            )
            .is_err()
        );
    }

    #[test]
    fn kernel_release_parsing() {
        assert_eq!(parse_kernel("6.18.0-1-amd64\n"), Some((6, 18)));
        assert_eq!(parse_kernel("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel("x"), None);
    }
}

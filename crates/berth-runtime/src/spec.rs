//! Generating a container's OCI runtime spec with docker's defaults.
//!
//! Confinement is the default and each relaxation is explicit in the input: the
//! container gets docker's 14 capabilities, docker's seccomp profile, its masked and
//! read-only `/proc` and `/sys` paths, a tmpfs `/dev` with only the standard devices,
//! and its own pid, ipc, uts and mount namespaces. `privileged` lifts all of that at
//! once, as `docker run --privileged` does.

use crate::caps::{self, CapError};
use crate::cgroups::CgroupLayout;
use crate::oci::*;
use crate::seccomp::{self, SeccompError, Target};
use std::path::PathBuf;

/// Paths docker hides from containers (bind-mounted over with /dev/null or an empty
/// read-only tmpfs by the runtime).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths docker makes read-only inside containers.
pub const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The default shm size, 64 MiB, as docker.
pub const DEFAULT_SHM_SIZE: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SeccompMode {
    /// Docker's default profile.
    #[default]
    Default,
    /// `--security-opt seccomp=unconfined`.
    Unconfined,
    /// `--security-opt seccomp=PROFILE`: the profile's JSON text, in docker's format.
    Profile(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkNamespace {
    /// A fresh namespace with loopback only.
    #[default]
    New,
    /// `--network host`.
    Host,
    /// A namespace prepared elsewhere (by berth-net), joined by path.
    Path(PathBuf),
}

/// Resource limits, in the units docker's API uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceLimits {
    /// Bytes; 0 = unlimited.
    pub memory: i64,
    /// Memory plus swap in bytes; 0 = docker's default (twice `memory`), -1 = unlimited.
    pub memory_swap: i64,
    pub memory_reservation: i64,
    /// CPUs in units of 1e-9 (`--cpus 1.5` = 1_500_000_000).
    pub nano_cpus: i64,
    pub cpu_shares: u64,
    pub cpu_quota: i64,
    pub cpu_period: u64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    /// 0 or negative = unlimited.
    pub pids_limit: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    /// Name as docker spells it: `nofile`, `nproc`, `core`, ...
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// A host device made available with `--device`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMapping {
    pub path_in_container: String,
    /// 'c' or 'b'
    pub kind: char,
    pub major: i64,
    pub minor: i64,
    pub file_mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Any of `rwm`.
    pub permissions: String,
}

/// Everything the spec depends on for one container.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub id: String,
    /// The merged root filesystem (already mounted by the caller).
    pub rootfs: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub terminal: bool,
    pub hostname: String,
    pub domainname: String,
    pub readonly_rootfs: bool,
    pub privileged: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub no_new_privileges: bool,
    pub seccomp: SeccompMode,
    pub resources: ResourceLimits,
    pub ulimits: Vec<Ulimit>,
    pub devices: Vec<DeviceMapping>,
    /// Bytes for /dev/shm; 0 = default.
    pub shm_size: u64,
    pub network: NetworkNamespace,
    /// Extra mounts (binds, volumes, tmpfs), already in OCI form.
    pub mounts: Vec<Mount>,
    pub sysctls: Vec<(String, String)>,
    pub oom_score_adj: Option<i32>,
    /// Parent of the container's cgroup, default `/berth`.
    pub cgroup_parent: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(transparent)]
    Capability(#[from] CapError),
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    #[error("invalid ulimit name {0:?}")]
    Ulimit(String),
    #[error("invalid argument: {0}")]
    Invalid(String),
}

/// Host facts the spec depends on, passed in so generation stays pure.
#[derive(Debug, Clone)]
pub struct Host<'a> {
    pub cgroups: &'a CgroupLayout,
    pub arch: &'a str,
    pub kernel: (u32, u32),
}

/// Builds the OCI spec for `c` on `host`.
pub fn generate(c: &ContainerSpec, host: &Host<'_>) -> Result<Spec, SpecError> {
    let caps = caps::effective(c.privileged, &c.cap_add, &c.cap_drop)?;
    let seccomp = if c.privileged {
        None
    } else {
        match &c.seccomp {
            SeccompMode::Unconfined => None,
            SeccompMode::Default => Some(seccomp::resolve(
                seccomp::DOCKER_DEFAULT_PROFILE,
                &Target {
                    arch: host.arch,
                    caps: &caps,
                    kernel: host.kernel,
                },
            )?),
            SeccompMode::Profile(json) => Some(seccomp::resolve(
                json,
                &Target {
                    arch: host.arch,
                    caps: &caps,
                    kernel: host.kernel,
                },
            )?),
        }
    };

    // No rlimit is set unless asked for: like docker, containers inherit the limits of
    // the process that starts them (raising a hard limit past the caller's may be refused).
    let mut rlimits: Vec<Rlimit> = Vec::new();
    for u in &c.ulimits {
        let kind = rlimit_name(&u.name).ok_or_else(|| SpecError::Ulimit(u.name.clone()))?;
        if u.soft > u.hard {
            return Err(SpecError::Invalid(format!(
                "ulimit soft limit must be less than or equal to hard limit: {} > {}",
                u.soft, u.hard
            )));
        }
        rlimits.retain(|r| r.kind != kind);
        rlimits.push(Rlimit {
            kind: kind.to_string(),
            hard: u.hard,
            soft: u.soft,
        });
    }

    let process = Process {
        terminal: c.terminal,
        user: User {
            uid: c.uid,
            gid: c.gid,
            umask: None,
            additional_gids: c.additional_gids.clone(),
        },
        args: c.args.clone(),
        env: c.env.clone(),
        cwd: if c.cwd.is_empty() {
            "/".into()
        } else {
            c.cwd.clone()
        },
        capabilities: Capabilities {
            bounding: caps.clone(),
            effective: caps.clone(),
            permitted: caps,
            inheritable: Vec::new(),
            ambient: Vec::new(),
        },
        rlimits,
        no_new_privileges: c.no_new_privileges,
        oom_score_adj: c.oom_score_adj,
    };

    let mut namespaces = vec![
        ns("pid", None),
        ns("ipc", None),
        ns("uts", None),
        ns("mount", None),
    ];
    match &c.network {
        NetworkNamespace::New => namespaces.push(ns("network", None)),
        NetworkNamespace::Host => {}
        NetworkNamespace::Path(p) => namespaces.push(ns("network", Some(p.display().to_string()))),
    }
    if host.cgroups.private_cgroupns_by_default() {
        namespaces.push(ns("cgroup", None));
    }

    let shm = if c.shm_size == 0 {
        DEFAULT_SHM_SIZE
    } else {
        c.shm_size
    };
    let sys_opts: &[&str] = if c.privileged {
        &["nosuid", "noexec", "nodev"]
    } else {
        &["nosuid", "noexec", "nodev", "ro"]
    };
    let mut mounts = vec![
        Mount::new("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        Mount::new(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        Mount::new(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        Mount::new("/sys", "sysfs", "sysfs", sys_opts),
        Mount::new(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            if c.privileged {
                &["nosuid", "noexec", "nodev", "relatime"]
            } else {
                &["ro", "nosuid", "noexec", "nodev", "relatime"]
            },
        ),
        Mount::new(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        Mount {
            destination: "/dev/shm".into(),
            kind: "tmpfs".into(),
            source: "shm".into(),
            options: vec![
                "nosuid".into(),
                "noexec".into(),
                "nodev".into(),
                "mode=1777".into(),
                format!("size={}k", shm / 1024),
            ],
        },
    ];
    // A user mount over one of the defaults replaces it, as in docker.
    mounts.retain(|m| !c.mounts.iter().any(|u| u.destination == m.destination));
    mounts.extend(c.mounts.iter().cloned());

    let mut device_rules = if c.privileged {
        vec![DeviceRule {
            allow: true,
            kind: None,
            major: None,
            minor: None,
            access: Some("rwm".into()),
        }]
    } else {
        default_device_rules()
    };
    let mut devices = Vec::new();
    for d in &c.devices {
        devices.push(Device {
            path: d.path_in_container.clone(),
            kind: d.kind.to_string(),
            major: d.major,
            minor: d.minor,
            file_mode: Some(d.file_mode),
            uid: Some(d.uid),
            gid: Some(d.gid),
        });
        device_rules.push(DeviceRule {
            allow: true,
            kind: Some(d.kind.to_string()),
            major: Some(d.major),
            minor: Some(d.minor),
            access: Some(d.permissions.clone()),
        });
    }

    let resources = Resources {
        devices: device_rules,
        memory: memory(&c.resources)?,
        cpu: cpu(&c.resources),
        pids: (c.resources.pids_limit > 0).then_some(Pids {
            limit: c.resources.pids_limit,
        }),
    };

    let parent = if c.cgroup_parent.is_empty() {
        "/berth"
    } else {
        c.cgroup_parent.as_str()
    };
    let linux = Linux {
        sysctl: c.sysctls.iter().cloned().collect(),
        resources,
        cgroups_path: format!("{}/{}", parent.trim_end_matches('/'), c.id),
        namespaces,
        devices,
        seccomp,
        masked_paths: if c.privileged {
            Vec::new()
        } else {
            MASKED_PATHS.iter().map(|s| s.to_string()).collect()
        },
        readonly_paths: if c.privileged {
            Vec::new()
        } else {
            READONLY_PATHS.iter().map(|s| s.to_string()).collect()
        },
        rootfs_propagation: String::new(),
    };

    Ok(Spec {
        oci_version: OCI_VERSION.into(),
        process,
        root: Root {
            path: c.rootfs.display().to_string(),
            readonly: c.readonly_rootfs,
        },
        hostname: c.hostname.clone(),
        domainname: c.domainname.clone(),
        mounts,
        linux,
        annotations: Default::default(),
    })
}

fn ns(kind: &str, path: Option<String>) -> Namespace {
    Namespace {
        kind: kind.into(),
        path,
    }
}

fn memory(r: &ResourceLimits) -> Result<Option<Memory>, SpecError> {
    if r.memory == 0 && r.memory_reservation == 0 && r.memory_swap == 0 {
        return Ok(None);
    }
    if r.memory > 0 && r.memory < 6 * 1024 * 1024 {
        return Err(SpecError::Invalid(
            "Minimum memory limit allowed is 6MB".into(),
        ));
    }
    if r.memory > 0 && r.memory_swap > 0 && r.memory_swap < r.memory {
        return Err(SpecError::Invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
        ));
    }
    if r.memory == 0 && r.memory_swap > 0 {
        return Err(SpecError::Invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        ));
    }
    let swap = match (r.memory, r.memory_swap) {
        (0, _) => None,
        (m, 0) => Some(m * 2),
        (_, s) => Some(s),
    };
    Ok(Some(Memory {
        limit: (r.memory > 0).then_some(r.memory),
        reservation: (r.memory_reservation > 0).then_some(r.memory_reservation),
        swap,
        swappiness: None,
    }))
}

fn cpu(r: &ResourceLimits) -> Option<Cpu> {
    let (mut quota, mut period) = (r.cpu_quota, r.cpu_period);
    if r.nano_cpus > 0 {
        // docker: --cpus N = quota N*100ms per 100ms period.
        period = 100_000;
        quota = r.nano_cpus * 100_000 / 1_000_000_000;
    }
    let cpu = Cpu {
        shares: (r.cpu_shares > 0).then_some(r.cpu_shares),
        quota: (quota > 0).then_some(quota),
        period: (period > 0).then_some(period),
        cpus: r.cpuset_cpus.clone(),
        mems: r.cpuset_mems.clone(),
    };
    (cpu != Cpu::default()).then_some(cpu)
}

fn default_device_rules() -> Vec<DeviceRule> {
    let rule = |kind: &str, major: Option<i64>, minor: Option<i64>, access: &str| DeviceRule {
        allow: true,
        kind: Some(kind.into()),
        major,
        minor,
        access: Some(access.into()),
    };
    vec![
        DeviceRule {
            allow: false,
            kind: None,
            major: None,
            minor: None,
            access: Some("rwm".into()),
        },
        rule("c", None, None, "m"),
        rule("b", None, None, "m"),
        rule("c", Some(1), Some(3), "rwm"),    // null
        rule("c", Some(1), Some(5), "rwm"),    // zero
        rule("c", Some(1), Some(7), "rwm"),    // full
        rule("c", Some(1), Some(8), "rwm"),    // random
        rule("c", Some(1), Some(9), "rwm"),    // urandom
        rule("c", Some(5), Some(0), "rwm"),    // tty
        rule("c", Some(5), Some(2), "rwm"),    // ptmx
        rule("c", Some(136), None, "rwm"),     // pts
        rule("c", Some(10), Some(200), "rwm"), // net/tun
    ]
}

fn rlimit_name(docker: &str) -> Option<&'static str> {
    Some(match docker {
        "core" => "RLIMIT_CORE",
        "cpu" => "RLIMIT_CPU",
        "data" => "RLIMIT_DATA",
        "fsize" => "RLIMIT_FSIZE",
        "locks" => "RLIMIT_LOCKS",
        "memlock" => "RLIMIT_MEMLOCK",
        "msgqueue" => "RLIMIT_MSGQUEUE",
        "nice" => "RLIMIT_NICE",
        "nofile" => "RLIMIT_NOFILE",
        "nproc" => "RLIMIT_NPROC",
        "rss" => "RLIMIT_RSS",
        "rtprio" => "RLIMIT_RTPRIO",
        "rttime" => "RLIMIT_RTTIME",
        "sigpending" => "RLIMIT_SIGPENDING",
        "stack" => "RLIMIT_STACK",
        "as" => "RLIMIT_AS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1() -> CgroupLayout {
        CgroupLayout::Legacy {
            controllers: vec![("memory".into(), "/sys/fs/cgroup/memory".into())],
            unified: None,
        }
    }

    fn v2() -> CgroupLayout {
        CgroupLayout::Unified {
            root: "/sys/fs/cgroup".into(),
        }
    }

    fn base() -> ContainerSpec {
        ContainerSpec {
            id: "abc".into(),
            rootfs: "/var/lib/berth/containers/abc/rootfs".into(),
            args: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
            ..Default::default()
        }
    }

    fn spec_for(c: &ContainerSpec, l: &CgroupLayout) -> Spec {
        generate(
            c,
            &Host {
                cgroups: l,
                arch: "amd64",
                kernel: (6, 1),
            },
        )
        .unwrap()
    }

    #[test]
    fn defaults_confine() {
        let s = spec_for(&base(), &v1());
        assert_eq!(s.process.capabilities.bounding.len(), 14);
        assert!(s.linux.seccomp.is_some());
        assert!(s.linux.masked_paths.contains(&"/proc/kcore".to_string()));
        assert!(s.linux.readonly_paths.contains(&"/proc/sys".to_string()));
        assert_eq!(s.linux.cgroups_path, "/berth/abc");
        let kinds: Vec<_> = s.linux.namespaces.iter().map(|n| n.kind.as_str()).collect();
        assert_eq!(kinds, ["pid", "ipc", "uts", "mount", "network"]);
        assert_eq!(s.process.cwd, "/");
        let sys = s.mounts.iter().find(|m| m.destination == "/sys").unwrap();
        assert!(sys.options.contains(&"ro".to_string()));
        assert!(!s.linux.resources.devices[0].allow);
    }

    #[test]
    fn v2_gets_a_private_cgroup_namespace() {
        let s = spec_for(&base(), &v2());
        assert!(s.linux.namespaces.iter().any(|n| n.kind == "cgroup"));
    }

    #[test]
    fn privileged_lifts_confinement() {
        let c = ContainerSpec {
            privileged: true,
            ..base()
        };
        let s = spec_for(&c, &v1());
        assert!(s.linux.seccomp.is_none());
        assert!(s.linux.masked_paths.is_empty());
        assert_eq!(s.process.capabilities.bounding.len(), caps::ALL_CAPS.len());
        assert!(s.linux.resources.devices[0].allow);
    }

    #[test]
    fn host_network_and_netns_path() {
        let mut c = base();
        c.network = NetworkNamespace::Host;
        assert!(
            !spec_for(&c, &v1())
                .linux
                .namespaces
                .iter()
                .any(|n| n.kind == "network")
        );
        c.network = NetworkNamespace::Path("/run/berth/netns/abc".into());
        let s = spec_for(&c, &v1());
        let net = s
            .linux
            .namespaces
            .iter()
            .find(|n| n.kind == "network")
            .unwrap();
        assert_eq!(net.path.as_deref(), Some("/run/berth/netns/abc"));
    }

    #[test]
    fn resources_follow_docker_units() {
        let mut c = base();
        c.resources.memory = 32 * 1024 * 1024;
        c.resources.nano_cpus = 1_500_000_000;
        c.resources.pids_limit = 64;
        let s = spec_for(&c, &v1());
        let m = s.linux.resources.memory.unwrap();
        assert_eq!(m.limit, Some(32 * 1024 * 1024));
        assert_eq!(m.swap, Some(64 * 1024 * 1024));
        let cpu = s.linux.resources.cpu.unwrap();
        assert_eq!((cpu.quota, cpu.period), (Some(150_000), Some(100_000)));
        assert_eq!(s.linux.resources.pids.unwrap().limit, 64);
    }

    #[test]
    fn resource_errors_are_dockers() {
        let mut c = base();
        c.resources.memory = 1024;
        let err = generate(
            &c,
            &Host {
                cgroups: &v1(),
                arch: "amd64",
                kernel: (6, 1),
            },
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument: Minimum memory limit allowed is 6MB"
        );
    }

    #[test]
    fn ulimits_replace_defaults_and_are_checked() {
        let mut c = base();
        c.ulimits = vec![Ulimit {
            name: "nofile".into(),
            soft: 100,
            hard: 200,
        }];
        let s = spec_for(&c, &v1());
        assert_eq!(s.process.rlimits.len(), 1);
        assert_eq!(s.process.rlimits[0].soft, 100);
        c.ulimits[0].name = "bogus".into();
        assert!(
            generate(
                &c,
                &Host {
                    cgroups: &v1(),
                    arch: "amd64",
                    kernel: (6, 1)
                }
            )
            .is_err()
        );
    }

    #[test]
    fn user_mount_replaces_default_shm() {
        let mut c = base();
        c.mounts = vec![Mount::new("/dev/shm", "tmpfs", "tmpfs", &["size=1m"])];
        let s = spec_for(&c, &v1());
        let shm: Vec<_> = s
            .mounts
            .iter()
            .filter(|m| m.destination == "/dev/shm")
            .collect();
        assert_eq!(shm.len(), 1);
        assert_eq!(shm[0].options, vec!["size=1m"]);
    }

    #[test]
    fn spec_json_has_oci_field_names() {
        let s = spec_for(&base(), &v1());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["ociVersion"], "1.2.0");
        assert!(v["linux"]["cgroupsPath"].is_string());
        assert!(v["linux"]["maskedPaths"].is_array());
        assert_eq!(v["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert!(v["process"].get("rlimits").is_none());
        // Regression: a present `noNewPrivileges: false` made the embedded runtime load
        // seccomp after dropping CAP_SYS_ADMIN, which fails.
        assert!(v["process"].get("noNewPrivileges").is_none());
        let mut c = base();
        c.no_new_privileges = true;
        let v = serde_json::to_value(spec_for(&c, &v1())).unwrap();
        assert_eq!(v["process"]["noNewPrivileges"], true);
    }
}

//! Turning a container record into what the shim needs: the mounted overlay rootfs,
//! the generated `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` (bind-mounted
//! from the container dir, as docker does), and the OCI bundle's `config.json`.
//! Blocking; called from `spawn_blocking`.

use std::path::{Path, PathBuf};

use berth_runtime::cgroups::CgroupLayout;
use berth_runtime::oci::Mount;
use berth_runtime::rootfs::Overlay;
use berth_runtime::spec::{
    self, ContainerSpec, NetworkNamespace, ResourceLimits, SeccompMode, Ulimit,
};
use serde_json::Value;

use super::record::Record;
use crate::error::{Error, Result};

/// Mounts the rootfs of `rec` in `dir` over the image's layer dirs.
pub fn mount_rootfs(dir: &Path, layers: &[PathBuf]) -> Result<Overlay> {
    let ov = Overlay::in_dir(dir, layers);
    // A mount left by a previous run (daemon killed before it cleaned up) is replaced.
    let _ = berth_runtime::rootfs::unmount(&ov.target);
    ov.mount()
        .map_err(|e| Error::internal(format!("mount rootfs: {e}")))?;
    Ok(ov)
}

pub fn unmount_rootfs(dir: &Path) {
    if let Err(e) = berth_runtime::rootfs::unmount(&dir.join("rootfs")) {
        tracing::warn!("{e}");
    }
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The host facts spec generation needs.
pub struct HostFacts {
    pub cgroups: CgroupLayout,
    pub arch: String,
    pub kernel: (u32, u32),
    /// The daemon's capability bounding set: a container can't get more (a
    /// privileged container on a host that withholds some gets what there is).
    pub cap_bounding: u64,
}

impl HostFacts {
    pub fn detect() -> HostFacts {
        let cgroups = CgroupLayout::detect().unwrap_or(CgroupLayout::Unified {
            root: PathBuf::from("/sys/fs/cgroup"),
        });
        let uts = nix::sys::utsname::uname().ok();
        let release = uts
            .as_ref()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut nums = release
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse::<u32>().ok());
        let kernel = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }
        .to_string();
        let cap_bounding = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("CapBnd:"))
                    .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            })
            .unwrap_or(u64::MAX);
        HostFacts {
            cgroups,
            arch,
            kernel,
            cap_bounding,
        }
    }
}

/// Writes hosts/hostname/resolv.conf into `dir` and returns their bind mounts.
fn etc_files(dir: &Path, rec: &Record, hostname: &str) -> Result<Vec<Mount>> {
    let net = rec.hc_str("NetworkMode");
    let io = |e: std::io::Error| Error::internal(format!("write container files: {e}"));
    let hosts = if net == "host" {
        std::fs::read_to_string("/etc/hosts").unwrap_or_default()
    } else {
        let mut extra = Vec::new();
        for h in strs(rec.host_config.get("ExtraHosts")) {
            if let Some((name, ip)) = h.rsplit_once(':').or_else(|| h.split_once('='))
                && let Ok(ip) = ip.parse()
            {
                extra.push((name.to_string(), ip));
            }
        }
        berth_net::hosts::render(&berth_net::hosts::HostsInput {
            address: None,
            hostname: hostname.to_string(),
            domainname: rec.cfg_str("Domainname").to_string(),
            extra,
            ipv6: true,
        })
    };
    std::fs::write(dir.join("hosts"), hosts).map_err(io)?;
    std::fs::write(dir.join("hostname"), format!("{hostname}\n")).map_err(io)?;
    let host_resolv = berth_net::resolv::ResolvConf::parse(
        &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
    );
    let user = berth_net::resolv::DnsOptions {
        servers: strs(rec.host_config.get("Dns"))
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
        search: strs(rec.host_config.get("DnsSearch")),
        options: strs(rec.host_config.get("DnsOptions")),
    };
    let resolv = if net == "host" && user.servers.is_empty() {
        host_resolv
    } else {
        berth_net::resolv::for_container(&host_resolv, &user, false)
    };
    std::fs::write(dir.join("resolv.conf"), resolv.render()).map_err(io)?;
    Ok(["resolv.conf", "hostname", "hosts"]
        .iter()
        .map(|f| Mount {
            destination: format!("/etc/{f}"),
            kind: "bind".into(),
            source: dir.join(f).display().to_string(),
            options: vec!["rbind".into(), "rprivate".into()],
        })
        .collect())
}

/// The mounts of `--tmpfs` (`HostConfig.Tmpfs`: path -> options).
fn tmpfs_mounts(rec: &Record) -> Vec<Mount> {
    let Some(m) = rec.host_config.get("Tmpfs").and_then(Value::as_object) else {
        return Vec::new();
    };
    m.iter()
        .map(|(path, opts)| {
            let mut options = vec!["nosuid".to_string(), "nodev".into(), "noexec".into()];
            for o in opts
                .as_str()
                .unwrap_or("")
                .split(',')
                .filter(|o| !o.is_empty())
            {
                // `exec`, `suid`, `dev` lift docker's defaults; anything else is passed on.
                match o {
                    "exec" | "suid" | "dev" => options.retain(|x| *x != format!("no{o}")),
                    _ => options.push(o.to_string()),
                }
            }
            Mount {
                destination: path.clone(),
                kind: "tmpfs".into(),
                source: "tmpfs".into(),
                options,
            }
        })
        .collect()
}

/// What the process runs as (resolved in the rootfs).
pub fn resolve_user(
    rootfs: &Path,
    user: &str,
    group_add: &[String],
) -> Result<berth_runtime::user::ExecUser> {
    berth_runtime::user::resolve(rootfs, user, group_add).map_err(|e| Error::invalid(e.to_string()))
}

/// The process environment: the config's, plus PATH, HOSTNAME, TERM and HOME as docker adds them.
pub fn process_env(env: &[String], hostname: &str, tty: bool, home: &str) -> Vec<String> {
    let has = |k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    let mut out = Vec::new();
    if !has("PATH") {
        out.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string());
    }
    if !hostname.is_empty() {
        out.push(format!("HOSTNAME={hostname}"));
    }
    out.extend(env.iter().cloned());
    if tty && !has("TERM") {
        out.push("TERM=xterm".into());
    }
    if !has("HOME") {
        out.push(format!("HOME={home}"));
    }
    out
}

/// Builds the container's spec input from its record.
pub fn container_spec(dir: &Path, rootfs: &Path, rec: &Record) -> Result<ContainerSpec> {
    let hc = &rec.host_config;
    let hostname = {
        let h = rec.cfg_str("Hostname");
        if h.is_empty() {
            rec.id[..12].to_string()
        } else {
            h.to_string()
        }
    };
    let user = resolve_user(rootfs, rec.cfg_str("User"), &strs(hc.get("GroupAdd")))?;
    let tty = rec.tty();
    let env = process_env(&strs(rec.config.get("Env")), &hostname, tty, &user.home);
    let mut args = vec![rec.path.clone()];
    args.extend(rec.args.iter().cloned());

    let mut no_new_privileges = false;
    let mut seccomp = SeccompMode::Default;
    for opt in strs(hc.get("SecurityOpt")) {
        let (k, v) = opt.split_once(['=', ':']).unwrap_or((opt.as_str(), ""));
        match k {
            "no-new-privileges" => no_new_privileges = v.is_empty() || v == "true",
            "seccomp" if v == "unconfined" => seccomp = SeccompMode::Unconfined,
            "seccomp" => seccomp = SeccompMode::Profile(v.to_string()),
            "apparmor" | "label" => {}
            _ => return Err(Error::invalid(format!("invalid --security-opt: {opt:?}"))),
        }
    }
    let ulimits = hc
        .get("Ulimits")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|u| Ulimit {
                    name: u.get("Name").and_then(Value::as_str).unwrap_or("").into(),
                    soft: u.get("Soft").and_then(Value::as_i64).unwrap_or(0) as u64,
                    hard: u.get("Hard").and_then(Value::as_i64).unwrap_or(0) as u64,
                })
                .collect()
        })
        .unwrap_or_default();
    let network = match rec.hc_str("NetworkMode") {
        "host" => NetworkNamespace::Host,
        // Bridge networks and `container:` get their path from `network::net_prepare`.
        _ => NetworkNamespace::New,
    };
    let mut mounts = etc_files(dir, rec, &hostname)?;
    mounts.extend(tmpfs_mounts(rec));
    Ok(ContainerSpec {
        id: rec.id.clone(),
        rootfs: rootfs.to_path_buf(),
        args,
        env,
        cwd: rec.cfg_str("WorkingDir").to_string(),
        uid: user.uid,
        gid: user.gid,
        additional_gids: user.additional_gids,
        terminal: tty,
        hostname,
        domainname: rec.cfg_str("Domainname").to_string(),
        readonly_rootfs: rec.hc_bool("ReadonlyRootfs"),
        privileged: rec.hc_bool("Privileged"),
        cap_add: strs(hc.get("CapAdd")),
        cap_drop: strs(hc.get("CapDrop")),
        no_new_privileges,
        seccomp,
        resources: ResourceLimits {
            memory: rec.hc_i64("Memory"),
            memory_swap: rec.hc_i64("MemorySwap"),
            memory_reservation: rec.hc_i64("MemoryReservation"),
            nano_cpus: rec.hc_i64("NanoCpus"),
            cpu_shares: rec.hc_i64("CpuShares").max(0) as u64,
            cpu_quota: rec.hc_i64("CpuQuota"),
            cpu_period: rec.hc_i64("CpuPeriod").max(0) as u64,
            cpuset_cpus: rec.hc_str("CpusetCpus").to_string(),
            cpuset_mems: rec.hc_str("CpusetMems").to_string(),
            pids_limit: rec.hc_i64("PidsLimit"),
        },
        ulimits,
        devices: Vec::new(),
        shm_size: rec.hc_i64("ShmSize").max(0) as u64,
        network,
        mounts,
        sysctls: hc
            .get("Sysctls")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        oom_score_adj: match rec.hc_i64("OomScoreAdj") {
            0 => None,
            n => Some(n as i32),
        },
        cgroup_parent: rec.hc_str("CgroupParent").to_string(),
    })
}

/// Looks the command up in the container's root as the runtime will, so a missing or
/// non-executable program fails with docker's message (the CLI derives 127 / 126 from
/// it). Paths resolve inside `rootfs`: an image's symlinks never reach the host.
pub fn check_executable(rootfs: &Path, cmd: &str, env: &[String], cwd: &str) -> Result<()> {
    lookup_executable(rootfs, cmd, env, cwd).map_err(|what| {
        Error::invalid(format!(
            "failed to create task for container: failed to create shim task: OCI runtime create failed: unable to start container process: {what}: unknown"
        ))
    })
}

/// The runtime's lookup of `cmd`; the error is `exec: "cmd": <reason>`.
pub fn lookup_executable(
    rootfs: &Path,
    cmd: &str,
    env: &[String],
    cwd: &str,
) -> std::result::Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |what: String| format!("exec: {what}");
    let probe = |p: &Path| -> std::io::Result<std::fs::Metadata> {
        let real = berth_stdx::rootpath::resolve_in_root(rootfs, p)?;
        std::fs::metadata(real)
    };
    if cmd.contains('/') {
        let p = if cmd.starts_with('/') {
            PathBuf::from(cmd)
        } else {
            Path::new(if cwd.is_empty() { "/" } else { cwd }).join(cmd)
        };
        return match probe(&p) {
            Err(_) => Err(fail(format!(
                "{cmd:?}: stat {cmd}: no such file or directory"
            ))),
            Ok(m) if m.is_dir() => Err(fail(format!("{cmd:?}: is a directory"))),
            Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                Err(fail(format!("{cmd:?}: permission denied")))
            }
            Ok(_) => Ok(()),
        };
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        if let Ok(m) = probe(&Path::new(dir).join(cmd))
            && m.is_file()
            && m.permissions().mode() & 0o111 != 0
        {
            return Ok(());
        }
    }
    Err(fail(format!("{cmd:?}: executable file not found in $PATH")))
}

/// Generates and writes `<dir>/config.json` (the OCI bundle is the container dir).
/// `embedded`: the embedded runtime runs it, which ignores per-mount propagation; its
/// rootfs is made rprivate first so binds come out private, docker's default (with the
/// runtime's rslave root they would be slaves of the host). Containers that ask for
/// slave or shared propagation run under runc (see `runtime.rs`).
pub fn write_bundle(
    dir: &Path,
    cs: &ContainerSpec,
    host: &HostFacts,
    embedded: bool,
) -> Result<()> {
    let spec = spec::generate(
        cs,
        &spec::Host {
            cgroups: &host.cgroups,
            arch: &host.arch,
            kernel: host.kernel,
        },
    )
    .map_err(|e| Error::invalid(e.to_string()))?;
    let mut spec = spec;
    let allowed = |c: &String| {
        berth_runtime::caps::ALL_CAPS
            .iter()
            .position(|k| k == c)
            .is_none_or(|bit| bit >= 64 || host.cap_bounding & (1u64 << bit) != 0)
    };
    let caps = &mut spec.process.capabilities;
    for set in [
        &mut caps.bounding,
        &mut caps.effective,
        &mut caps.permitted,
        &mut caps.inheritable,
        &mut caps.ambient,
    ] {
        set.retain(allowed);
    }
    if embedded {
        spec.linux.rootfs_propagation = "private".into();
    }
    berth_stdx::atomic_write_json(&dir.join("config.json"), &spec)
        .map_err(|e| Error::internal(format!("write bundle: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_gets_dockers_additions() {
        let e = process_env(&["A=1".into()], "abc", true, "/root");
        assert_eq!(
            e,
            vec![
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOSTNAME=abc",
                "A=1",
                "TERM=xterm",
                "HOME=/root"
            ]
        );
        let e = process_env(&["PATH=/x".into(), "HOME=/h".into()], "", false, "/root");
        assert_eq!(e, vec!["PATH=/x", "HOME=/h"]);
    }
}

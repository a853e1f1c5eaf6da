//! `run`/`create` flags and the `POST /containers/create` body built from them, the
//! way docker's CLI builds it: the full Config, HostConfig and NetworkingConfig in
//! Go's field order, defaults included (`MemorySwappiness: -1`, `NetworkMode:
//! "default"`, ...), `null` where docker leaves a slice nil.

use clap::{ArgAction, Args};
use serde_json::{Map, Value, json};

use super::container_parse::{
    go_duration, mem_bytes, nano_cpus, parse_device, parse_env, parse_kv_file, parse_mount,
    parse_ports, parse_ulimit,
};

/// Flags shared by `run` and `create` (docker's `addFlags`).
#[derive(Debug, Args, Default, Clone)]
pub(crate) struct ContainerOpts {
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_name = "list")]
    pub attach: Vec<String>,
    /// Add a host device to the container
    #[arg(long = "device", value_name = "list")]
    pub device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long = "device-cgroup-rule", value_name = "list")]
    pub device_cgroup_rule: Vec<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long = "entrypoint", value_name = "string")]
    pub entrypoint: Option<String>,
    /// Add additional groups to join
    #[arg(long = "group-add", value_name = "list")]
    pub group_add: Vec<String>,
    /// Container host name
    #[arg(short = 'h', long = "hostname", value_name = "string")]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long = "domainname", value_name = "string")]
    pub domainname: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Read in a line delimited file of labels
    #[arg(long = "label-file", value_name = "list")]
    pub label_file: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", value_name = "string", default_value = "no")]
    pub restart: String,
    /// Signal to stop the container
    #[arg(long = "stop-signal", value_name = "string")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", value_name = "int", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Sysctl options (default map[])
    #[arg(long = "sysctl", value_name = "map")]
    pub sysctl: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Ulimit options (default [])
    #[arg(long = "ulimit", value_name = "ulimit")]
    pub ulimit: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long = "user", value_name = "string")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long = "rm")]
    pub rm: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add", value_name = "list")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop", value_name = "list")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long = "privileged")]
    pub privileged: bool,
    /// Security Options
    #[arg(long = "security-opt", value_name = "list")]
    pub security_opt: Vec<String>,
    /// User namespace to use
    #[arg(long = "userns", value_name = "string")]
    pub userns: Option<String>,
    /// Cgroup namespace to use (host|private)
    /// 'host':    Run the container in the Berth host's cgroup namespace
    /// 'private': Run the container in its own private cgroup namespace
    /// '':        Use the cgroup namespace as configured by the
    ///            default-cgroupns-mode option on the daemon (default)
    #[arg(long = "cgroupns", value_name = "string", verbatim_doc_comment)]
    pub cgroupns: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host", value_name = "list")]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long = "dns", value_name = "list")]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", visible_alias = "dns-opt", value_name = "list")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search", value_name = "list")]
    pub dns_search: Vec<String>,
    /// Expose a port or a range of ports
    #[arg(long = "expose", value_name = "list")]
    pub expose: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip", value_name = "string")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., 2001:db8::33)
    #[arg(long = "ip6", value_name = "string")]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long = "link", value_name = "list")]
    pub link: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address", value_name = "string")]
    pub mac_address: Option<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish", value_name = "list")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Connect a container to a network
    #[arg(long = "network", visible_alias = "net", value_name = "network")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", visible_alias = "net-alias", value_name = "list")]
    pub network_alias: Vec<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver", value_name = "string")]
    pub log_driver: Option<String>,
    /// Optional volume driver for the container
    #[arg(long = "volume-driver", value_name = "string")]
    pub volume_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt", value_name = "list")]
    pub log_opt: Vec<String>,
    /// Storage driver options for the container
    #[arg(long = "storage-opt", value_name = "list")]
    pub storage_opt: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs", value_name = "list")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from", value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume", value_name = "list")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount", value_name = "mount")]
    pub mount: Vec<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd", value_name = "string")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s)
    #[arg(long = "health-interval", value_name = "duration")]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries", value_name = "int", allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s)
    #[arg(long = "health-timeout", value_name = "duration")]
    pub health_timeout: Option<String>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-period", value_name = "duration")]
    pub health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s)
    #[arg(long = "health-start-interval", value_name = "duration")]
    pub health_start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16")]
    pub blkio_weight: Option<u16>,
    /// Write the container ID to the file
    #[arg(long = "cidfile", value_name = "string")]
    pub cidfile: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,
    /// Block IO weight (relative device weight) (default [])
    #[arg(long = "blkio-weight-device", value_name = "list")]
    pub blkio_weight_device: Vec<String>,
    /// Limit CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "int")]
    pub cpu_rt_period: Option<i64>,
    /// Limit CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "int")]
    pub cpu_rt_runtime: Option<i64>,
    /// Limit read rate (bytes per second) from a device (default [])
    #[arg(long = "device-read-bps", value_name = "list")]
    pub device_read_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device (default [])
    #[arg(long = "device-read-iops", value_name = "list")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (bytes per second) to a device (default [])
    #[arg(long = "device-write-bps", value_name = "list")]
    pub device_write_bps: Vec<String>,
    /// Limit write rate (IO per second) to a device (default [])
    #[arg(long = "device-write-iops", value_name = "list")]
    pub device_write_iops: Vec<String>,
    /// GPU devices to add to the container ('all' to pass all GPUs)
    #[arg(long = "gpus", value_name = "gpu-request")]
    pub gpus: Option<String>,
    /// Kernel memory limit
    #[arg(long = "kernel-memory", value_name = "bytes")]
    pub kernel_memory: Option<String>,
    /// Container IPv4/IPv6 link-local addresses
    #[arg(long = "link-local-ip", value_name = "list")]
    pub link_local_ip: Vec<String>,
    /// Bind mount Berth API socket and required auth
    #[arg(long = "use-api-socket")]
    pub use_api_socket: bool,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long = "cpus", value_name = "decimal")]
    pub cpus: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long = "memory", value_name = "bytes")]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", value_name = "int", allow_hyphen_values = true, default_value_t = -1)]
    pub memory_swappiness: i64,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", value_name = "int", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent", value_name = "string")]
    pub cgroup_parent: Option<String>,
    /// IPC mode to use
    #[arg(long = "ipc", value_name = "string")]
    pub ipc: Option<String>,
    /// Container isolation technology
    #[arg(long = "isolation", value_name = "string")]
    pub isolation: Option<String>,
    /// PID namespace to use
    #[arg(long = "pid", value_name = "string")]
    pub pid: Option<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size", value_name = "bytes")]
    pub shm_size: Option<String>,
    /// UTS namespace to use
    #[arg(long = "uts", value_name = "string")]
    pub uts: Option<String>,
    /// Runtime to use for this container
    #[arg(long = "runtime", value_name = "string")]
    pub runtime: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long = "init", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub init: Option<bool>,
    /// Add an annotation to the container (passed through to the OCI runtime) (default map[])
    #[arg(long = "annotation", value_name = "map")]
    pub annotation: Vec<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", value_name = "string")]
    pub platform: Option<String>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long = "pull", value_name = "string", default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Skip image verification (default true)
    #[arg(long = "disable-content-trust", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = ArgAction::Set)]
    pub disable_content_trust: Option<bool>,
    /// Assign a name to the container
    #[arg(long = "name", value_name = "string")]
    pub name: Option<String>,
    /// Print usage
    #[arg(long = "help", action = ArgAction::Help)]
    pub print_help: Option<bool>,
    /// IMAGE [COMMAND] [ARG...]
    #[arg(value_name = "IMAGE", trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

/// The three parts of the create body, plus what only the CLI uses.
#[derive(Debug)]
pub(crate) struct CreateSpec {
    pub body: Value,
    pub tty: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
}

/// A Go map as `encoding/json` writes it: keys sorted.
fn go_map(m: Map<String, Value>) -> Value {
    let mut entries: Vec<(String, Value)> = m.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(entries.into_iter().collect())
}

fn nz_str(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn list_or_null(v: &[String]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

/// docker's `ConvertKVStringsToMap`: `k=v` → k: v, `k` → k: "".
pub(crate) fn kv_map(items: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    for i in items {
        let (k, v) = i.split_once('=').unwrap_or((i, ""));
        m.insert(k.to_string(), json!(v));
    }
    m
}

/// `CAP_` prefixed and upper-cased, as docker's client normalises capabilities.
fn normalize_caps(caps: &[String]) -> Value {
    if caps.is_empty() {
        return Value::Null;
    }
    let v: Vec<String> = caps
        .iter()
        .map(|c| {
            let u = c.trim().to_uppercase();
            if u == "ALL" || u.starts_with("CAP_") {
                u
            } else {
                format!("CAP_{u}")
            }
        })
        .collect();
    json!(v)
}

/// Reads `--security-opt seccomp=FILE` into the compacted profile, as docker does.
fn security_opts(opts: &[String]) -> Result<(Value, Value, Value), String> {
    let mut out = Vec::new();
    let mut masked = Value::Null;
    let mut readonly = Value::Null;
    for opt in opts {
        if opt == "no-new-privileges" {
            out.push(opt.clone());
            continue;
        }
        let (k, v) = match opt.split_once('=').or_else(|| opt.split_once(':')) {
            Some(kv) => kv,
            None => return Err(format!("Invalid --security-opt: {opt:?}")),
        };
        if k == "seccomp" && v != "unconfined" {
            let text = std::fs::read(v).map_err(|e| {
                format!(
                    "opening seccomp profile ({v}) failed: {}",
                    super::container_parse::go_io_error(&e, v)
                )
            })?;
            let parsed: Value = serde_json::from_slice(&text)
                .map_err(|e| format!("compacting json for seccomp profile ({v}) failed: {e}"))?;
            out.push(format!("seccomp={parsed}"));
            continue;
        }
        if k == "systempaths" && v == "unconfined" {
            masked = json!([]);
            readonly = json!([]);
            continue;
        }
        out.push(opt.clone());
    }
    Ok((list_or_null(&out), masked, readonly))
}

fn restart_policy(s: &str) -> Result<Value, String> {
    let (name, count) = match s.split_once(':') {
        Some(("", _)) => {
            return Err("invalid restart policy format: no policy provided before colon".into());
        }
        Some((n, c)) => {
            let c: i64 = c.parse().map_err(|_| {
                "invalid restart policy format: maximum retry count must be an integer".to_string()
            })?;
            (n, c)
        }
        None => (s, 0),
    };
    Ok(json!({"Name": name, "MaximumRetryCount": count}))
}

fn flag_err(flag: &str, val: &str, e: &str) -> String {
    format!("invalid argument \"{val}\" for \"{flag}\" flag: {e}")
}

fn bytes_opt(v: &Option<String>, flag: &str) -> Result<i64, String> {
    match v {
        None => Ok(0),
        Some(s) => mem_bytes(s).map_err(|e| flag_err(flag, s, &e)),
    }
}

fn duration_opt(v: &Option<String>, flag: &str) -> Result<i64, String> {
    match v {
        None => Ok(0),
        Some(s) => go_duration(s).map_err(|e| flag_err(flag, s, &e)),
    }
}

/// Builds the create body from the flags; `console` is the terminal size (h, w).
pub(crate) fn build(o: &ContainerOpts, console: (u16, u16)) -> Result<CreateSpec, String> {
    let image = o.args.first().cloned().unwrap_or_default();
    let cmd: Vec<String> = o.args.iter().skip(1).cloned().collect();
    let mut attach_stdin = false;
    let mut attach_stdout = false;
    let mut attach_stderr = false;
    for a in &o.attach {
        match a.to_lowercase().as_str() {
            "stdin" => attach_stdin = true,
            "stdout" => attach_stdout = true,
            "stderr" => attach_stderr = true,
            _ => {
                return Err(flag_err(
                    "-a, --attach",
                    a,
                    "valid streams are STDIN, STDOUT and STDERR",
                ));
            }
        }
    }
    if o.interactive {
        attach_stdin = true;
    }
    if o.attach.is_empty() {
        attach_stdout = true;
        attach_stderr = true;
    }
    if o.memory_swappiness != -1 && !(0..=100).contains(&o.memory_swappiness) {
        return Err(format!(
            "invalid value: {}. Valid memory swappiness range is 0-100",
            o.memory_swappiness
        ));
    }
    // -v: anything with a source is a bind (or named volume); the rest are anonymous.
    let mut binds = Vec::new();
    let mut volumes = Map::new();
    for v in &o.volume {
        let parts: Vec<&str> = v.split(':').collect();
        match parts.len() {
            1 => {
                volumes.insert(v.clone(), json!({}));
            }
            2 | 3 => {
                if parts[0].is_empty() || parts[1].is_empty() {
                    return Err(format!("invalid spec: {v}: empty section between colons"));
                }
                let host = parts[0];
                let host = if host.starts_with('.') {
                    std::path::absolute(host)
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| host.to_string())
                } else {
                    host.to_string()
                };
                binds.push(format!("{host}:{}", parts[1..].join(":")));
            }
            _ => return Err(format!("invalid spec: {v}: too many colons")),
        }
    }
    let mut tmpfs = Map::new();
    for t in &o.tmpfs {
        let (k, v) = t.split_once(':').unwrap_or((t, ""));
        tmpfs.insert(k.to_string(), json!(v));
    }
    let entrypoint = match &o.entrypoint {
        Some(e) if !e.is_empty() => json!([e]),
        Some(_) => json!([""]),
        None => Value::Null,
    };
    let (mut exposed, bindings) = parse_ports(&o.publish)?;
    for e in &o.expose {
        if e.contains(':') {
            return Err(format!("invalid port format for --expose: {e}"));
        }
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let (start, end) = super::container_parse::port_range(port)
            .map_err(|err| format!("invalid range format for --expose: {e}, error: {err}"))?;
        for p in start..=end {
            exposed
                .entry(format!("{p}/{}", proto.to_lowercase()))
                .or_insert(json!({}));
        }
    }
    let mut devices = Vec::new();
    for d in &o.device {
        devices.push(parse_device(d)?);
    }
    let mut env = Vec::new();
    for f in &o.env_file {
        env.extend(parse_kv_file(f, true)?);
    }
    for e in &o.env {
        env.push(parse_env(e)?);
    }
    let mut labels = Vec::new();
    for f in &o.label_file {
        labels.extend(parse_kv_file(f, false)?);
    }
    labels.extend(o.label.iter().cloned());
    let restart = restart_policy(&o.restart)?;
    let (security, masked, readonly_paths) = security_opts(&o.security_opt)?;
    let mut log_opts = Map::new();
    for l in &o.log_opt {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        log_opts.insert(k.to_string(), json!(v));
    }
    let mut storage = Map::new();
    for s in &o.storage_opt {
        let Some((k, v)) = s.split_once('=') else {
            return Err(format!("invalid storage option {s:?}"));
        };
        storage.insert(k.to_string(), json!(v));
    }
    // Healthcheck
    let have_health = o.health_cmd.is_some()
        || o.health_interval.is_some()
        || o.health_timeout.is_some()
        || o.health_start_period.is_some()
        || o.health_retries.is_some()
        || o.health_start_interval.is_some();
    let health = if o.no_healthcheck {
        if have_health {
            return Err("--no-healthcheck conflicts with --health-* options".into());
        }
        Some(json!({"Test": ["NONE"]}))
    } else if have_health {
        let interval = duration_opt(&o.health_interval, "--health-interval")?;
        let timeout = duration_opt(&o.health_timeout, "--health-timeout")?;
        let start = duration_opt(&o.health_start_period, "--health-start-period")?;
        let start_int = duration_opt(&o.health_start_interval, "--health-start-interval")?;
        let retries = o.health_retries.unwrap_or(0);
        if interval < 0 {
            return Err("--health-interval cannot be negative".into());
        }
        if timeout < 0 {
            return Err("--health-timeout cannot be negative".into());
        }
        if retries < 0 {
            return Err("--health-retries cannot be negative".into());
        }
        let mut h = Map::new();
        if let Some(c) = o.health_cmd.as_ref().filter(|c| !c.is_empty()) {
            h.insert("Test".into(), json!(["CMD-SHELL", c]));
        }
        for (k, v) in [
            ("Interval", interval),
            ("Timeout", timeout),
            ("StartPeriod", start),
            ("StartInterval", start_int),
            ("Retries", retries),
        ] {
            if v != 0 {
                h.insert(k.into(), json!(v));
            }
        }
        Some(Value::Object(h))
    } else {
        None
    };
    let memory = bytes_opt(&o.memory, "-m, --memory")?;
    let memory_reservation = bytes_opt(&o.memory_reservation, "--memory-reservation")?;
    let memory_swap = match o.memory_swap.as_deref() {
        Some("-1") => -1,
        _ => bytes_opt(&o.memory_swap, "--memory-swap")?,
    };
    let shm = bytes_opt(&o.shm_size, "--shm-size")?;
    let cpus = match &o.cpus {
        None => 0,
        Some(s) => nano_cpus(s).map_err(|e| flag_err("--cpus", s, &e))?,
    };
    let mut ulimits = Vec::new();
    for u in &o.ulimit {
        ulimits.push(parse_ulimit(u).map_err(|e| flag_err("--ulimit", u, &e))?);
    }
    let mut mounts = Vec::new();
    for m in &o.mount {
        mounts.push(parse_mount(m).map_err(|e| flag_err("--mount", m, &e))?);
    }
    let mut sysctls = Map::new();
    for s in &o.sysctl {
        let Some((k, v)) = s.split_once('=') else {
            return Err(flag_err("--sysctl", s, &format!("sysctl '{s}' is not allowed")));
        };
        sysctls.insert(k.to_string(), json!(v));
    }
    let mut annotations = Map::new();
    for a in &o.annotation {
        let (k, v) = a.split_once('=').unwrap_or((a, ""));
        annotations.insert(k.to_string(), json!(v));
    }

    // Networking: the first --network names the mode; aliases/IPs go on its endpoint.
    let net_mode = o.network.first().cloned().unwrap_or_else(|| "default".into());
    let net_name = net_mode
        .split(',')
        .find_map(|kv| kv.strip_prefix("name="))
        .map(str::to_string)
        .unwrap_or_else(|| net_mode.clone());
    let is_user_defined = !matches!(net_name.as_str(), "default" | "bridge" | "host" | "none")
        && !net_name.starts_with("container:");
    if !o.network_alias.is_empty() && !is_user_defined {
        return Err("network-scoped aliases are only supported for user-defined networks".into());
    }
    let ipam = if o.ip.is_some() || o.ip6.is_some() {
        let mut m = Map::new();
        if let Some(ip) = &o.ip {
            m.insert("IPv4Address".into(), json!(ip));
        }
        if let Some(ip) = &o.ip6 {
            m.insert("IPv6Address".into(), json!(ip));
        }
        Value::Object(m)
    } else {
        Value::Null
    };
    let endpoint = json!({
        "IPAMConfig": ipam,
        "Links": Value::Null,
        "Aliases": list_or_null(&o.network_alias),
        "MacAddress": nz_str(&o.mac_address),
        "DriverOpts": Value::Null,
        "GwPriority": 0,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": Value::Null,
    });
    if o.rm && !matches!(o.restart.as_str(), "no" | "") {
        return Err("conflicting options: cannot specify both --restart and --rm".into());
    }
    let open_stdin = o.interactive;
    let stdin_once = open_stdin && attach_stdin;

    let mut c = Map::new();
    c.insert("Hostname".into(), json!(nz_str(&o.hostname)));
    c.insert("Domainname".into(), json!(nz_str(&o.domainname)));
    c.insert("User".into(), json!(nz_str(&o.user)));
    c.insert("AttachStdin".into(), json!(attach_stdin));
    c.insert("AttachStdout".into(), json!(attach_stdout));
    c.insert("AttachStderr".into(), json!(attach_stderr));
    if !exposed.is_empty() {
        c.insert("ExposedPorts".into(), go_map(exposed));
    }
    c.insert("Tty".into(), json!(o.tty));
    c.insert("OpenStdin".into(), json!(open_stdin));
    c.insert("StdinOnce".into(), json!(stdin_once));
    c.insert("Env".into(), list_or_null(&env));
    c.insert("Cmd".into(), list_or_null(&cmd));
    if let Some(h) = health {
        c.insert("Healthcheck".into(), h);
    }
    c.insert("Image".into(), json!(image));
    c.insert("Volumes".into(), go_map(volumes));
    c.insert("WorkingDir".into(), json!(nz_str(&o.workdir)));
    c.insert("Entrypoint".into(), entrypoint);
    c.insert("OnBuild".into(), Value::Null);
    c.insert("Labels".into(), go_map(kv_map(&labels)));
    if let Some(s) = o.stop_signal.as_ref().filter(|s| !s.is_empty()) {
        c.insert("StopSignal".into(), json!(s));
    }
    if let Some(t) = o.stop_timeout {
        c.insert("StopTimeout".into(), json!(t));
    }

    let mut h = Map::new();
    h.insert("Binds".into(), list_or_null(&binds));
    h.insert("ContainerIDFile".into(), json!(nz_str(&o.cidfile)));
    h.insert(
        "LogConfig".into(),
        json!({"Type": nz_str(&o.log_driver), "Config": go_map(log_opts)}),
    );
    h.insert("NetworkMode".into(), json!(net_name));
    h.insert("PortBindings".into(), go_map(bindings));
    h.insert("RestartPolicy".into(), restart);
    h.insert("AutoRemove".into(), json!(o.rm));
    h.insert("VolumeDriver".into(), json!(nz_str(&o.volume_driver)));
    h.insert("VolumesFrom".into(), list_or_null(&o.volumes_from));
    h.insert("ConsoleSize".into(), json!([console.0, console.1]));
    if !annotations.is_empty() {
        h.insert("Annotations".into(), go_map(annotations));
    }
    h.insert("CapAdd".into(), normalize_caps(&o.cap_add));
    h.insert("CapDrop".into(), normalize_caps(&o.cap_drop));
    h.insert("CgroupnsMode".into(), json!(nz_str(&o.cgroupns)));
    h.insert("Dns".into(), json!(o.dns));
    h.insert("DnsOptions".into(), json!(o.dns_option));
    h.insert("DnsSearch".into(), json!(o.dns_search));
    h.insert("ExtraHosts".into(), list_or_null(&o.add_host));
    h.insert("GroupAdd".into(), list_or_null(&o.group_add));
    h.insert("IpcMode".into(), json!(nz_str(&o.ipc)));
    h.insert("Cgroup".into(), json!(""));
    h.insert("Links".into(), list_or_null(&o.link));
    h.insert("OomScoreAdj".into(), json!(o.oom_score_adj.unwrap_or(0)));
    h.insert("PidMode".into(), json!(nz_str(&o.pid)));
    h.insert("Privileged".into(), json!(o.privileged));
    h.insert("PublishAllPorts".into(), json!(o.publish_all));
    h.insert("ReadonlyRootfs".into(), json!(o.read_only));
    h.insert("SecurityOpt".into(), security);
    if !storage.is_empty() {
        h.insert("StorageOpt".into(), go_map(storage));
    }
    if !tmpfs.is_empty() {
        h.insert("Tmpfs".into(), go_map(tmpfs));
    }
    h.insert("UTSMode".into(), json!(nz_str(&o.uts)));
    h.insert("UsernsMode".into(), json!(nz_str(&o.userns)));
    h.insert("ShmSize".into(), json!(shm));
    if !sysctls.is_empty() {
        h.insert("Sysctls".into(), go_map(sysctls));
    }
    if let Some(r) = o.runtime.as_ref().filter(|r| !r.is_empty()) {
        h.insert("Runtime".into(), json!(r));
    }
    h.insert("Isolation".into(), json!(nz_str(&o.isolation)));
    h.insert("CpuShares".into(), json!(o.cpu_shares.unwrap_or(0)));
    h.insert("Memory".into(), json!(memory));
    h.insert("NanoCpus".into(), json!(cpus));
    h.insert("CgroupParent".into(), json!(nz_str(&o.cgroup_parent)));
    h.insert("BlkioWeight".into(), json!(o.blkio_weight.unwrap_or(0)));
    for k in [
        "BlkioWeightDevice",
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
    ] {
        h.insert(k.into(), json!([]));
    }
    h.insert("CpuPeriod".into(), json!(o.cpu_period.unwrap_or(0)));
    h.insert("CpuQuota".into(), json!(o.cpu_quota.unwrap_or(0)));
    h.insert("CpuRealtimePeriod".into(), json!(o.cpu_rt_period.unwrap_or(0)));
    h.insert("CpuRealtimeRuntime".into(), json!(o.cpu_rt_runtime.unwrap_or(0)));
    h.insert("CpusetCpus".into(), json!(nz_str(&o.cpuset_cpus)));
    h.insert("CpusetMems".into(), json!(nz_str(&o.cpuset_mems)));
    h.insert("Devices".into(), Value::Array(devices));
    h.insert(
        "DeviceCgroupRules".into(),
        list_or_null(&o.device_cgroup_rule),
    );
    h.insert("DeviceRequests".into(), Value::Null);
    h.insert("MemoryReservation".into(), json!(memory_reservation));
    h.insert("MemorySwap".into(), json!(memory_swap));
    h.insert("MemorySwappiness".into(), json!(o.memory_swappiness));
    h.insert("OomKillDisable".into(), json!(o.oom_kill_disable));
    h.insert("PidsLimit".into(), json!(o.pids_limit.unwrap_or(0)));
    h.insert("Ulimits".into(), Value::Array(ulimits));
    h.insert("CpuCount".into(), json!(0));
    h.insert("CpuPercent".into(), json!(0));
    h.insert("IOMaximumIOps".into(), json!(0));
    h.insert("IOMaximumBandwidth".into(), json!(0));
    if !mounts.is_empty() {
        h.insert("Mounts".into(), Value::Array(mounts));
    }
    h.insert("MaskedPaths".into(), masked);
    h.insert("ReadonlyPaths".into(), readonly_paths);
    if let Some(i) = o.init {
        h.insert("Init".into(), json!(i));
    }

    let mut body = c;
    body.insert("HostConfig".into(), Value::Object(h));
    // A single explicit network without endpoint options is left out, as docker
    // does; the implicit "default" one is always sent.
    let mut eps = Map::new();
    let bare = o.network_alias.is_empty()
        && o.ip.is_none()
        && o.ip6.is_none()
        && o.mac_address.as_deref().is_none_or(str::is_empty);
    if o.network.is_empty() || o.network.len() > 1 || !bare {
        eps.insert(net_name.clone(), endpoint);
    }
    body.insert("NetworkingConfig".into(), json!({"EndpointsConfig": eps}));
    Ok(CreateSpec {
        body: Value::Object(body),
        tty: o.tty,
        attach_stdin,
        attach_stdout,
        attach_stderr,
    })
}

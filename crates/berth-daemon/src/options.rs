//! Daemon configuration: dockerd's flags merged with `daemon.json`, with dockerd's
//! rules (unknown keys and flag/file conflicts are errors).

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub const DEFAULT_SOCKET: &str = "/run/berth/berth.sock";
pub const DEFAULT_DATA_ROOT: &str = "/var/lib/berth";
pub const DEFAULT_EXEC_ROOT: &str = "/run/berth";
pub const DEFAULT_PIDFILE: &str = "/run/berth/berth.pid";
pub const DEFAULT_CONFIG_FILE: &str = "/etc/berth/daemon.json";

/// Where the API is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    /// `host:port`; plain HTTP (TLS comes later).
    Tcp(String),
}

impl Host {
    /// Parses `-H` values as dockerd does: `unix:///path`, `tcp://addr:port`
    /// (`tcp://` alone is `127.0.0.1:2375`), and `unix://` alone is the default socket.
    pub fn parse(s: &str) -> Result<Host, String> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix://") {
            let path = if path.is_empty() {
                DEFAULT_SOCKET
            } else {
                path
            };
            if !path.starts_with('/') {
                return Err(format!("invalid bind address format: {s}"));
            }
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("tcp://") {
            let addr = addr.trim_end_matches('/');
            let (host, port) = match addr.rsplit_once(':') {
                Some((h, p)) if !addr.ends_with(']') => (h, p),
                _ => (addr, ""),
            };
            let host = if host.is_empty() { "127.0.0.1" } else { host };
            let port = if port.is_empty() { "2375" } else { port };
            if port.parse::<u16>().is_err() {
                return Err(format!("invalid bind address format: {s}"));
            }
            return Ok(Host::Tcp(format!("{host}:{port}")));
        }
        if s.starts_with('/') {
            return Ok(Host::Unix(PathBuf::from(s)));
        }
        Err(format!("invalid bind address format: {s}"))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// The flags as given on the command line: `None` / empty means "not given".
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub hosts: Vec<String>,
    pub data_root: Option<PathBuf>,
    pub exec_root: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    pub config_file: Option<PathBuf>,
    pub log_level: Option<String>,
    pub debug: bool,
    pub live_restore: bool,
}

/// The effective configuration the daemon runs with.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub hosts: Vec<Host>,
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub pidfile: PathBuf,
    pub config_file: PathBuf,
    pub log_level: String,
    pub debug: bool,
    pub live_restore: bool,
    /// Keys of daemon.json that later subsystems read (`bip`, `dns`, `runtimes`, ...).
    pub file: Map<String, Value>,
    /// The binary run as `<shim_binary> shim ...` for each container and exec.
    pub shim_binary: PathBuf,
}

impl DaemonOptions {
    /// The container runtime: daemon.json's `default-runtime` (`runc`, a path, or a
    /// name from `runtimes`), else the embedded one.
    pub fn runtime(&self) -> String {
        let name = self
            .file
            .get("default-runtime")
            .and_then(Value::as_str)
            .unwrap_or("");
        if name.is_empty() || name == "embedded" || name == "berth" {
            return "embedded".into();
        }
        if let Some(path) = self
            .file
            .get("runtimes")
            .and_then(|r| r.get(name))
            .and_then(|r| r.get("path"))
            .and_then(Value::as_str)
        {
            return path.to_string();
        }
        name.to_string()
    }
}

impl DaemonOptions {
    /// Defaults only (for tests and embedding): one unix socket, no config file.
    pub fn with_roots(socket: &Path, data_root: &Path, exec_root: &Path) -> Self {
        DaemonOptions {
            hosts: vec![Host::Unix(socket.to_path_buf())],
            data_root: data_root.to_path_buf(),
            exec_root: exec_root.to_path_buf(),
            pidfile: exec_root.join("berth.pid"),
            config_file: PathBuf::from(DEFAULT_CONFIG_FILE),
            log_level: "info".into(),
            debug: false,
            live_restore: false,
            file: Map::new(),
            shim_binary: PathBuf::from("/proc/self/exe"),
        }
    }
}

/// daemon.json keys dockerd knows. Only some have an effect today; the others are
/// accepted so an existing docker config does not break berth.
const KNOWN_KEYS: &[&str] = &[
    "allow-nondistributable-artifacts",
    "api-cors-header",
    "authorization-plugins",
    "bip",
    "bip6",
    "bridge",
    "builder",
    "cdi-spec-dirs",
    "cgroup-parent",
    // berth: certs.d roots for registry TLS (default /etc/berth/certs.d, /etc/docker/certs.d).
    "certs-dirs",
    "containerd",
    "containerd-namespace",
    "containerd-plugins-namespace",
    "data-root",
    "debug",
    "default-address-pools",
    "default-cgroupns-mode",
    "default-gateway",
    "default-gateway-v6",
    "default-ipc-mode",
    "default-network-opts",
    "default-runtime",
    "default-shm-size",
    "default-ulimits",
    "dns",
    "dns-opts",
    "dns-search",
    "exec-opts",
    "exec-root",
    "experimental",
    "features",
    "fixed-cidr",
    "fixed-cidr-v6",
    "group",
    "host-gateway-ip",
    "hosts",
    "icc",
    "init",
    "init-path",
    "insecure-registries",
    "ip",
    "ip-forward",
    "ip-masq",
    "ip6tables",
    "iptables",
    "ipv6",
    "labels",
    "live-restore",
    "log-driver",
    "log-format",
    "log-level",
    "log-opts",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
    "max-download-attempts",
    "mtu",
    "no-new-privileges",
    "node-generic-resources",
    "oom-score-adjust",
    "pidfile",
    "proxies",
    "raw-logs",
    "registry-mirrors",
    "runtimes",
    "seccomp-profile",
    "selinux-enabled",
    "shutdown-timeout",
    "storage-driver",
    "storage-opts",
    "tls",
    "tlscacert",
    "tlscert",
    "tlskey",
    "tlsverify",
    "userland-proxy",
    "userland-proxy-path",
    "userns-remap",
];

/// Merges `flags` with the config file. Errors carry dockerd's wording.
pub fn resolve(flags: &Flags) -> Result<DaemonOptions, String> {
    let config_file = flags
        .config_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_FILE));
    let file = read_config_file(&config_file, flags.config_file.is_some())?;
    let prefix = format!(
        "unable to configure the Docker daemon with file {}",
        config_file.display()
    );

    let unknown: Vec<&str> = file
        .keys()
        .map(String::as_str)
        .filter(|k| !KNOWN_KEYS.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "{prefix}: the following directives don't match any configuration option: {}",
            unknown.join(", ")
        ));
    }

    let flag_values: Vec<(&str, Option<String>)> = vec![
        (
            "hosts",
            (!flags.hosts.is_empty()).then(|| flags.hosts.join(", ")),
        ),
        (
            "data-root",
            flags.data_root.as_ref().map(|p| p.display().to_string()),
        ),
        (
            "exec-root",
            flags.exec_root.as_ref().map(|p| p.display().to_string()),
        ),
        (
            "pidfile",
            flags.pidfile.as_ref().map(|p| p.display().to_string()),
        ),
        ("log-level", flags.log_level.clone()),
        ("debug", flags.debug.then(|| "true".to_string())),
        (
            "live-restore",
            flags.live_restore.then(|| "true".to_string()),
        ),
    ];
    let conflicts: Vec<String> = flag_values
        .iter()
        .filter_map(|(k, v)| {
            let v = v.as_ref()?;
            let fv = file.get(*k)?;
            Some(format!("{k}: (from flag: {v}, from file: {})", render(fv)))
        })
        .collect();
    if !conflicts.is_empty() {
        return Err(format!(
            "{prefix}: the following directives are specified both as a flag and in the configuration file: {}",
            conflicts.join(", ")
        ));
    }

    let str_key = |k: &str| -> Result<Option<String>, String> {
        match file.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("{prefix}: {k} must be a string, got {other}")),
        }
    };
    let bool_key = |k: &str| -> Result<bool, String> {
        match file.get(k) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(format!("{prefix}: {k} must be a boolean, got {other}")),
        }
    };

    let mut host_strings = flags.hosts.clone();
    if host_strings.is_empty()
        && let Some(v) = file.get("hosts")
    {
        let arr = v
            .as_array()
            .ok_or_else(|| format!("{prefix}: hosts must be a list of strings"))?;
        for h in arr {
            host_strings.push(
                h.as_str()
                    .ok_or_else(|| format!("{prefix}: hosts must be a list of strings"))?
                    .to_string(),
            );
        }
    }
    let mut hosts = Vec::new();
    for h in &host_strings {
        hosts.push(Host::parse(h)?);
    }
    if hosts.is_empty() {
        hosts.push(Host::Unix(PathBuf::from(DEFAULT_SOCKET)));
    }

    let path_of = |flag: &Option<PathBuf>, key: &str, default: &str| -> Result<PathBuf, String> {
        Ok(match flag {
            Some(p) => p.clone(),
            None => str_key(key)?
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(default)),
        })
    };
    let data_root = absolute(path_of(&flags.data_root, "data-root", DEFAULT_DATA_ROOT)?)?;
    let exec_root = absolute(path_of(&flags.exec_root, "exec-root", DEFAULT_EXEC_ROOT)?)?;
    let pidfile = absolute(path_of(&flags.pidfile, "pidfile", DEFAULT_PIDFILE)?)?;

    let debug = flags.debug || bool_key("debug")?;
    let log_level = match flags.log_level.clone().or(str_key("log-level")?) {
        Some(l) => l,
        None => "info".to_string(),
    };
    if !["debug", "info", "warn", "error", "fatal", "trace"].contains(&log_level.as_str()) {
        return Err(format!("unable to parse logging level: {log_level}"));
    }
    let live_restore = flags.live_restore || bool_key("live-restore")?;

    Ok(DaemonOptions {
        hosts,
        data_root,
        exec_root,
        pidfile,
        config_file,
        log_level,
        debug,
        live_restore,
        file,
        shim_binary: PathBuf::from("/proc/self/exe"),
    })
}

fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(render).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn absolute(p: PathBuf) -> Result<PathBuf, String> {
    if p.is_absolute() {
        return Ok(p);
    }
    std::env::current_dir()
        .map(|d| d.join(&p))
        .map_err(|e| format!("resolve {}: {e}", p.display()))
}

/// Reads daemon.json. A missing default file is fine; a missing explicit one is not.
fn read_config_file(path: &Path, explicit: bool) -> Result<Map<String, Value>, String> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Map::new()),
        Err(e) => {
            return Err(format!(
                "unable to configure the Docker daemon with file {}: {e}",
                path.display()
            ));
        }
    };
    if data.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&data) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!(
            "unable to configure the Docker daemon with file {}: the configuration must be a JSON object",
            path.display()
        )),
        Err(e) => Err(format!(
            "unable to configure the Docker daemon with file {}: {e}",
            path.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_file(json: &str) -> (tempfile::TempDir, Flags) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("daemon.json");
        std::fs::write(&p, json).unwrap();
        let flags = Flags {
            config_file: Some(p),
            ..Default::default()
        };
        (dir, flags)
    }

    #[test]
    fn hosts_parse_like_dockerd() {
        assert_eq!(
            Host::parse("unix:///tmp/x.sock"),
            Ok(Host::Unix("/tmp/x.sock".into()))
        );
        assert_eq!(
            Host::parse("unix://"),
            Ok(Host::Unix(DEFAULT_SOCKET.into()))
        );
        assert_eq!(
            Host::parse("tcp://"),
            Ok(Host::Tcp("127.0.0.1:2375".into()))
        );
        assert_eq!(
            Host::parse("tcp://0.0.0.0:1234"),
            Ok(Host::Tcp("0.0.0.0:1234".into()))
        );
        assert!(Host::parse("tcp://x:notaport").is_err());
        assert!(Host::parse("ftp://x").is_err());
    }

    #[test]
    fn file_values_apply_when_no_flag() {
        let (_d, flags) = with_file(
            r#"{"data-root":"/srv/b","debug":true,"hosts":["unix:///tmp/a.sock"],"bip":"10.0.0.1/24"}"#,
        );
        let o = resolve(&flags).unwrap();
        assert_eq!(o.data_root, PathBuf::from("/srv/b"));
        assert!(o.debug);
        assert_eq!(o.hosts, vec![Host::Unix("/tmp/a.sock".into())]);
        assert_eq!(o.file["bip"], "10.0.0.1/24");
    }

    #[test]
    fn unknown_key_is_an_error() {
        let (_d, flags) = with_file(r#"{"foo":1}"#);
        let err = resolve(&flags).unwrap_err();
        assert!(
            err.ends_with("the following directives don't match any configuration option: foo"),
            "{err}"
        );
    }

    #[test]
    fn flag_and_file_conflict() {
        let (_d, mut flags) = with_file(r#"{"data-root":"/b"}"#);
        flags.data_root = Some("/a".into());
        let err = resolve(&flags).unwrap_err();
        assert!(err.ends_with("the following directives are specified both as a flag and in the configuration file: data-root: (from flag: /a, from file: /b)"), "{err}");
    }

    #[test]
    fn bad_json_and_missing_explicit_file() {
        let (_d, flags) = with_file("{");
        assert!(
            resolve(&flags)
                .unwrap_err()
                .starts_with("unable to configure the Docker daemon with file")
        );
        let flags = Flags {
            config_file: Some("/nonexistent/daemon.json".into()),
            ..Default::default()
        };
        assert!(resolve(&flags).is_err());
    }

    #[test]
    fn defaults() {
        let flags = Flags {
            config_file: Some("/dev/null".into()),
            ..Default::default()
        };
        let o = resolve(&flags).unwrap();
        assert_eq!(o.hosts, vec![Host::Unix(DEFAULT_SOCKET.into())]);
        assert_eq!(o.data_root, PathBuf::from(DEFAULT_DATA_ROOT));
        assert_eq!(o.pidfile, PathBuf::from(DEFAULT_PIDFILE));
        assert_eq!(o.log_level, "info");
    }
}

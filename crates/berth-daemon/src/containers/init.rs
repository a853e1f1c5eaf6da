//! `run --init`: docker's `docker-init` (tini) as the container's pid 1, forwarding
//! signals and reaping zombies. The binary is found as dockerd finds it (daemon.json's
//! `init-path`, else `docker-init`, then `tini-static`, then `tini` in `PATH`),
//! bind-mounted read-only at `/sbin/docker-init`, and the process becomes
//! `/sbin/docker-init -- <cmd>`.

use std::path::{Path, PathBuf};

use berth_runtime::oci::Mount;
use berth_runtime::spec::ContainerSpec;
use serde_json::{Map, Value};

use super::record::Record;
use crate::error::{Error, Result};

/// Where the init binary appears inside the container (docker's path).
const INIT_IN_CONTAINER: &str = "/sbin/docker-init";
const CANDIDATES: [&str; 3] = ["docker-init", "tini-static", "tini"];

/// Whether the container runs with an init: its `HostConfig.Init`, else daemon.json's
/// `init` default.
pub(crate) fn wanted(rec: &Record, daemon: &Map<String, Value>) -> bool {
    match rec.host_config.get("Init").and_then(Value::as_bool) {
        Some(b) => b,
        None => daemon.get("init").and_then(Value::as_bool).unwrap_or(false),
    }
}

/// The init binary on the host (symlinks resolved, so the bind mount gets the file).
pub(crate) fn find(daemon: &Map<String, Value>, path_env: Option<&str>) -> Result<PathBuf> {
    if let Some(p) = daemon
        .get("init-path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
    {
        return executable(Path::new(p))
            .ok_or_else(|| Error::internal(format!("docker-init binary not found at {p}")));
    }
    let dirs = path_env.unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for name in CANDIDATES {
        for dir in dirs.split(':').filter(|d| !d.is_empty()) {
            if let Some(p) = executable(&Path::new(dir).join(name)) {
                return Ok(p);
            }
        }
    }
    Err(Error::internal(
        "--init: no init binary found: install tini (docker-init, tini-static or tini in PATH) or set init-path in daemon.json",
    ))
}

fn executable(p: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let real = std::fs::canonicalize(p).ok()?;
    let md = std::fs::metadata(&real).ok()?;
    (md.is_file() && md.permissions().mode() & 0o111 != 0).then_some(real)
}

/// Makes `cs` run under the init when the container asks for one.
pub(crate) fn apply(
    rec: &Record,
    daemon: &Map<String, Value>,
    cs: &mut ContainerSpec,
) -> Result<()> {
    if !wanted(rec, daemon) {
        return Ok(());
    }
    let bin = find(daemon, std::env::var("PATH").ok().as_deref())?;
    cs.mounts.push(Mount::new(
        INIT_IN_CONTAINER,
        "bind",
        &bin.display().to_string(),
        &["bind", "ro", "nosuid", "nodev"],
    ));
    let mut args = vec![INIT_IN_CONTAINER.to_string(), "--".to_string()];
    args.append(&mut cs.args);
    cs.args = args;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn finds_like_dockerd() {
        let dir = tempfile::tempdir().unwrap();
        let mk = |name: &str, mode: u32| {
            let p = dir.path().join(name);
            std::fs::write(&p, "#!\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let path = dir.path().display().to_string();
        let none = Map::new();
        let e = find(&none, Some(&path)).unwrap_err();
        assert!(e.message.contains("no init binary found"), "{}", e.message);
        mk("tini", 0o755);
        assert_eq!(
            find(&none, Some(&path)).unwrap(),
            dir.path().join("tini").canonicalize().unwrap()
        );
        let ts = mk("tini-static", 0o755);
        std::os::unix::fs::symlink(&ts, dir.path().join("docker-init")).unwrap();
        // docker-init first, through its symlink to the real file.
        assert_eq!(
            find(&none, Some(&path)).unwrap(),
            ts.canonicalize().unwrap()
        );
        // Not executable: skipped; init-path wins over PATH.
        let own = mk("own", 0o644);
        let mut cfg = Map::new();
        cfg.insert("init-path".into(), Value::String(own.display().to_string()));
        assert!(find(&cfg, Some(&path)).is_err());
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            find(&cfg, Some(&path)).unwrap(),
            own.canonicalize().unwrap()
        );
    }
}

//! Which OCI runtime runs a container. docker resolves `HostConfig.Runtime` by name:
//! `runc` is built in, others come from daemon.json's `runtimes`, and an empty name means
//! the daemon's `default-runtime`. berth's default is its embedded runtime (also named
//! `berth` or `embedded`).
//!
//! The embedded runtime (libcontainer 0.7) drops per-mount propagation flags, so a
//! container whose mounts ask for shared or slave propagation runs under runc when runc
//! is installed; without runc that is a clear error at create rather than a mount that
//! silently does not propagate.

use serde_json::{Map, Value};
use std::path::Path;

use super::mounts::Plan;
use crate::error::{Error, Result};

/// The `runtime` value of the embedded runtime (what the shim takes).
pub(crate) const EMBEDDED: &str = "embedded";

/// The runtime for a new container: `requested` is its `HostConfig.Runtime`, `default`
/// the daemon's resolved default, `daemon` its daemon.json. Returns `embedded` or the
/// OCI runtime binary (a name looked up in `PATH`, or a path).
pub(crate) fn choose(
    requested: &str,
    default: &str,
    daemon: &Map<String, Value>,
    plan: &Plan,
    path_env: Option<&str>,
) -> Result<String> {
    let configured = |name: &str| {
        daemon
            .get("runtimes")
            .and_then(|r| r.get(name))
            .and_then(|r| r.get("path"))
            .and_then(Value::as_str)
            .map(String::from)
    };
    let chosen = match requested {
        "" => default.to_string(),
        "embedded" | "berth" => EMBEDDED.to_string(),
        "runc" => configured("runc").unwrap_or_else(|| "runc".into()),
        name => configured(name)
            .ok_or_else(|| Error::invalid(format!("unknown or invalid runtime name: {name}")))?,
    };
    if chosen != EMBEDDED || !needs_propagation(plan) {
        return Ok(chosen);
    }
    match find_in_path("runc", path_env) {
        Some(_) => Ok("runc".into()),
        None => Err(Error::invalid(
            "bind propagation other than private needs the runc runtime: install runc or choose a runtime with --runtime",
        )),
    }
}

/// Whether a mount asks for propagation the embedded runtime cannot set up.
fn needs_propagation(plan: &Plan) -> bool {
    plan.mounts.iter().any(|m| {
        matches!(
            m.mp.propagation.as_str(),
            "shared" | "rshared" | "slave" | "rslave"
        )
    })
}

fn find_in_path(name: &str, path_env: Option<&str>) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let dirs = path_env.unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    dirs.split(':').filter(|d| !d.is_empty()).find_map(|d| {
        let p = Path::new(d).join(name);
        let md = std::fs::metadata(&p).ok()?;
        (md.is_file() && md.permissions().mode() & 0o111 != 0).then_some(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::mounts::{MountPoint, Planned};

    fn plan(props: &[&str]) -> Plan {
        Plan {
            volumes_from: Vec::new(),
            mounts: props
                .iter()
                .map(|p| Planned {
                    mp: MountPoint {
                        kind: "bind".into(),
                        propagation: p.to_string(),
                        ..Default::default()
                    },
                    volume: None,
                })
                .collect(),
        }
    }

    fn fake_path(with_runc: bool) -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        if with_runc {
            let p = d.path().join("runc");
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        d
    }

    #[test]
    fn names_resolve_as_docker_resolves_them() {
        let daemon: Map<String, Value> =
            serde_json::from_str(r#"{"runtimes": {"crun": {"path": "/usr/bin/crun"}}}"#).unwrap();
        let p = plan(&[]);
        let dir = fake_path(false);
        let path = dir.path().to_str();
        assert_eq!(choose("", EMBEDDED, &daemon, &p, path).unwrap(), EMBEDDED);
        assert_eq!(choose("", "runc", &daemon, &p, path).unwrap(), "runc");
        assert_eq!(choose("runc", EMBEDDED, &daemon, &p, path).unwrap(), "runc");
        assert_eq!(
            choose("berth", "runc", &daemon, &p, path).unwrap(),
            EMBEDDED
        );
        assert_eq!(
            choose("crun", EMBEDDED, &daemon, &p, path).unwrap(),
            "/usr/bin/crun"
        );
        let e = choose("nope", EMBEDDED, &daemon, &p, path).unwrap_err();
        assert_eq!(e.to_string(), "unknown or invalid runtime name: nope");
    }

    #[test]
    fn propagation_moves_embedded_containers_to_runc() {
        let daemon = Map::new();
        let with = fake_path(true);
        let without = fake_path(false);
        for prop in ["rshared", "slave", "rslave", "shared"] {
            let p = plan(&["", prop]);
            assert_eq!(
                choose("", EMBEDDED, &daemon, &p, with.path().to_str()).unwrap(),
                "runc",
                "{prop}"
            );
            let e = choose("", EMBEDDED, &daemon, &p, without.path().to_str()).unwrap_err();
            assert!(e.to_string().contains("needs the runc runtime"), "{e}");
        }
        let private = plan(&["rprivate", "private", ""]);
        assert_eq!(
            choose("", EMBEDDED, &daemon, &private, without.path().to_str()).unwrap(),
            EMBEDDED
        );
    }
}

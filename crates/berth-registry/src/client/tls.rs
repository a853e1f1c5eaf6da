//! One HTTP client per registry host, with that host's TLS trust: CAs (`*.crt`) and a
//! client certificate (`*.cert` + `*.key`) from `<certs dir>/<host:port>/`, as docker
//! reads `/etc/docker/certs.d`.

use std::path::Path;
use std::time::Duration;

use super::{ClientConfig, ClientError, ErrorKind, Result};

/// The system CA bundle, kept when a certs.d CA is added.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn tls_err(what: &str, p: &Path, e: impl std::fmt::Display) -> ClientError {
    ClientError::new(ErrorKind::Other, format!("{what} {}: {e}", p.display()))
}

/// Builds the client for `host`. A host with its own CA is verified against it (even
/// when insecure, so a configured CA is never ignored); an insecure host without
/// one skips certificate verification, as docker does.
/// Also says whether the host has its own CA (then it is only ever spoken to over
/// https).
pub(crate) fn client_for(
    cfg: &ClientConfig,
    host: &str,
    insecure: bool,
) -> Result<(reqwest::Client, bool)> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")));
    let mut cas = Vec::new();
    // A host name never contains `/` or `..` here: it comes from a parsed reference
    // (`[a-z0-9.-]+(:port)?`), so the join stays inside each certs dir.
    if host.contains('/') || host.contains("..") {
        return Err(ClientError::new(
            ErrorKind::Other,
            format!("invalid registry host {host:?}"),
        ));
    }
    for root in &cfg.certs_dirs {
        let dir = root.join(host);
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in &names {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            match ext {
                "crt" => {
                    let pem = std::fs::read(p).map_err(|e| tls_err("read", p, e))?;
                    let certs = reqwest::Certificate::from_pem_bundle(&pem)
                        .map_err(|e| tls_err("invalid CA certificate", p, e))?;
                    cas.extend(certs);
                }
                "cert" => {
                    let key = p.with_extension("key");
                    let mut pem = std::fs::read(p).map_err(|e| tls_err("read", p, e))?;
                    let k = std::fs::read(&key).map_err(|_| {
                        tls_err("missing key for client certificate", p, key.display())
                    })?;
                    pem.push(b'\n');
                    pem.extend_from_slice(&k);
                    let id = reqwest::Identity::from_pem(&pem)
                        .map_err(|e| tls_err("invalid client certificate", p, e))?;
                    b = b.identity(id);
                }
                _ => {}
            }
        }
    }
    let has_ca = !cas.is_empty();
    if has_ca {
        if let Ok(pem) = std::fs::read(SYSTEM_BUNDLE)
            && let Ok(sys) = reqwest::Certificate::from_pem_bundle(&pem)
        {
            cas.extend(sys);
        }
        b = b.tls_certs_only(cas);
    } else if insecure {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    let c = b.build().map_err(|e| {
        ClientError::new(ErrorKind::Other, format!("registry client for {host}: {e}"))
    })?;
    Ok((c, has_ca))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_hosts_never_leave_the_certs_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs.d");
        std::fs::create_dir_all(&certs).unwrap();
        // A CA outside certs.d that a traversal would pick up.
        std::fs::write(dir.path().join("evil.crt"), "not a certificate").unwrap();
        let cfg = ClientConfig {
            certs_dirs: vec![certs],
            ..Default::default()
        };
        for host in ["..", "../", "a/../..", "x/y"] {
            assert!(client_for(&cfg, host, false).is_err(), "{host}");
        }
        let (_, has_ca) = client_for(&cfg, "127.0.0.1:5000", true).unwrap();
        assert!(!has_ca);
    }
}

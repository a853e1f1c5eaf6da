//! Binding the API sockets: unix sockets with dockerd's care (stale socket removal
//! only when nobody answers, mode 0660), and plain TCP.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::options::Host;

pub enum Listener {
    Unix(tokio::net::UnixListener, PathBuf),
    Tcp(tokio::net::TcpListener, String),
}

/// Binds `host`. Must run inside the tokio runtime.
pub async fn bind(host: &Host) -> Result<Listener, String> {
    match host {
        Host::Unix(path) => bind_unix(path)
            .await
            .map(|l| Listener::Unix(l, path.clone())),
        Host::Tcp(addr) => {
            tracing::warn!(
                "binding to {addr} over plain HTTP: anyone who can reach it has root on this host"
            );
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("listen tcp {addr}: {e}"))?;
            Ok(Listener::Tcp(l, addr.clone()))
        }
    }
}

async fn bind_unix(path: &Path) -> Result<tokio::net::UnixListener, String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    if std::fs::symlink_metadata(path).is_ok() {
        // Someone answering means another daemon owns it; otherwise it is stale.
        let probe = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            tokio::net::UnixStream::connect(path),
        )
        .await;
        if matches!(probe, Ok(Ok(_))) {
            return Err(format!(
                "socket {} is in use by another daemon",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("remove stale socket {}: {e}", path.display()))?;
    }
    let l = tokio::net::UnixListener::bind(path)
        .map_err(|e| format!("listen unix {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    Ok(l)
}

//! Building the shared state and serving it over TCP, optionally with TLS.

use crate::auth::{self, Auth};
use crate::config::Config;
use crate::routes::{self, AppState};
use crate::storage::Storage;
use crate::uploads::Uploads;
use berth_image::LocalContentStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("open registry storage {0}: {1}")]
    Storage(String, String),
    #[error(transparent)]
    Htpasswd(#[from] auth::HtpasswdError),
    #[error("tls: {0}")]
    Tls(String),
    #[error("listen on {0}: {1}")]
    Listen(String, std::io::Error),
    #[error("--tls-cert and --tls-key go together")]
    TlsPair,
    #[error("lock data-root {0}: {1} (is another registry using it?)")]
    Locked(String, std::io::Error),
    #[error("garbage collection: {0}")]
    Gc(String),
}

fn lock_root(root: &std::path::Path) -> Result<berth_stdx::LockFile, ServeError> {
    let err = |e| ServeError::Locked(root.display().to_string(), e);
    std::fs::create_dir_all(root).map_err(err)?;
    berth_stdx::LockFile::try_lock(&root.join("registry.lock")).map_err(err)
}

fn open_storage(root: &std::path::Path) -> Result<Storage, ServeError> {
    let err = |e: String| ServeError::Storage(root.display().to_string(), e);
    // Upload sessions each hold a writer: a small buffer keeps many of them cheap.
    let content = LocalContentStore::open(&root.join("content"))
        .map_err(|e| err(e.to_string()))?
        .with_write_buffer(128 << 10);
    Storage::new(root.join("repositories"), Arc::new(content)).map_err(|e| err(e.to_string()))
}

/// Collects unlinked blobs of a registry that is not running (takes the data-root
/// lock, so it refuses while a server uses `data_root`).
pub fn garbage_collect(data_root: &std::path::Path) -> Result<crate::GcReport, ServeError> {
    let _lock = lock_root(data_root)?;
    let storage = open_storage(data_root)?;
    crate::gc::collect(&data_root.join("repositories"), storage.content.as_ref())
        .map_err(|e| ServeError::Gc(e.to_string()))
}

/// A running registry.
pub struct Server {
    addr: SocketAddr,
    state: Arc<AppState>,
    data_root: std::path::PathBuf,
    tls: bool,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Collects blobs no repository links, while serving: uploads that would link
    /// a blob wait for the sweep, and the sweep waits for them.
    pub async fn gc(&self) -> Result<crate::GcReport, ServeError> {
        let _guard = self.state.gc_lock.write().await;
        let (st, repos) = (self.state.clone(), self.data_root.join("repositories"));
        tokio::task::spawn_blocking(move || crate::gc::collect(&repos, st.storage.content.as_ref()))
            .await
            .map_err(|e| ServeError::Gc(e.to_string()))?
            .map_err(|e| ServeError::Gc(e.to_string()))
    }

    /// Runs until the task ends (it does not end on its own).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }

    /// Stops accepting and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

fn load_tls(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor, ServeError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| ServeError::Tls(format!("read certificate {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| ServeError::Tls(format!("parse certificate {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Tls(format!(
            "no certificate in {}",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServeError::Tls(format!("read private key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    let mut cfg = cfg;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

/// Opens storage, binds `config.addr` and serves in a background task.
pub async fn start(config: Config) -> Result<Server, ServeError> {
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => Some(load_tls(c, k)?),
        (None, None) => None,
        _ => return Err(ServeError::TlsPair),
    };
    let auth = match &config.htpasswd {
        Some(p) => Some(Auth::new(
            auth::parse_htpasswd(p)?,
            config.realm.clone(),
            config.token_realm.clone(),
            config.service.clone(),
        )),
        None => None,
    };
    let root = config.data_root.clone();
    let (lock, storage) = tokio::task::spawn_blocking(move || {
        // The lock first: opening the content store clears its ingest area, which
        // must never happen under a running server.
        let lock = lock_root(&root)?;
        Ok::<_, ServeError>((lock, open_storage(&root)?))
    })
    .await
    .map_err(|e| ServeError::Storage(config.data_root.display().to_string(), e.to_string()))??;
    let state = Arc::new(AppState {
        storage,
        uploads: Uploads::default(),
        auth,
        delete: config.delete,
        gc_lock: tokio::sync::RwLock::new(()),
        _lock: lock,
    });
    let app = routes::router(state.clone());
    let listener = TcpListener::bind(&config.addr)
        .await
        .map_err(|e| ServeError::Listen(config.addr.clone(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Listen(config.addr.clone(), e))?;
    let (tx, rx) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    };
    let is_tls = tls.is_some();
    let task = match tls {
        None => tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        }),
        Some(acceptor) => tokio::spawn(async move {
            let l = TlsListener::new(listener, acceptor, addr);
            let _ = axum::serve(l, app).with_graceful_shutdown(shutdown).await;
        }),
    };
    Ok(Server {
        addr,
        state,
        data_root: config.data_root.clone(),
        tls: is_tls,
        shutdown: Some(tx),
        task,
    })
}

/// A listener yielding completed TLS connections. Handshakes run in their own tasks,
/// so a slow or silent client never holds up the others.
struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    _accept: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    fn new(listener: TcpListener, acceptor: TlsAcceptor, addr: SocketAddr) -> TlsListener {
        let (tx, rx) = mpsc::channel(64);
        let accept = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let hs = tokio::time::timeout(
                        std::time::Duration::from_secs(30),
                        acceptor.accept(tcp),
                    )
                    .await;
                    match hs {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "tls handshake"),
                        Err(_) => tracing::debug!(%peer, "tls handshake timed out"),
                    }
                });
            }
        });
        TlsListener {
            rx,
            addr,
            _accept: accept,
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self._accept.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task only ends when aborted with the listener.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

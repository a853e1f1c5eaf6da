//! Startup and shutdown: lock the data-root, open the stores, write the pidfile,
//! bind every host, serve until SIGINT/SIGTERM, then remove socket and pidfile.

use std::path::PathBuf;
use std::sync::Arc;

use berth_image::ImageStore;
use berth_stdx::LockFile;
use tokio_util::sync::CancellationToken;

use crate::containers::{ContainerManager, ContainerService, ManagerOptions};
use crate::events::EventBus;
use crate::images::ImageService;
use crate::listen::{Listener, bind};
use crate::options::DaemonOptions;
use crate::server::{AppState, DaemonInfo, app};

/// A running daemon's resources that outlive serving: released on drop.
pub struct Daemon {
    opts: DaemonOptions,
    state: AppState,
    _lock: LockFile,
    sockets: Vec<PathBuf>,
    pidfile_written: bool,
}

impl Daemon {
    /// Takes the data-root lock, prepares directories and opens the image store.
    /// Blocking (store recovery may scan the disk); call before serving.
    pub fn new(opts: DaemonOptions) -> Result<Daemon, String> {
        for dir in [&opts.data_root, &opts.exec_root] {
            std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        }
        let lock_path = opts.data_root.join("berth.lock");
        let lock = LockFile::try_lock(&lock_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                let pid = std::fs::read_to_string(&lock_path)
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default();
                format!(
                    "data-root {} is in use by another daemon (pid {})",
                    opts.data_root.display(),
                    if pid.is_empty() {
                        "unknown".into()
                    } else {
                        pid
                    }
                )
            } else {
                format!("lock {}: {e}", lock_path.display())
            }
        })?;
        let store = ImageStore::open(&opts.data_root)
            .map_err(|e| format!("open image store in {}: {e}", opts.data_root.display()))?;
        let id =
            crate::host::engine_id(&opts.data_root).map_err(|e| format!("write engine id: {e}"))?;
        let events = EventBus::new();
        let image_service = Arc::new(ImageService::new(store.clone(), events.clone()));
        image_service.configure_registries(&opts.file);
        let images: Arc<dyn crate::images::ImageBackend> = image_service.clone();
        let containers = Arc::new(ContainerManager::new(
            ManagerOptions {
                data_root: opts.data_root.clone(),
                exec_root: opts.exec_root.clone(),
                shim_binary: opts.shim_binary.clone(),
                runtime: opts.runtime(),
                daemon_config: opts.file.clone(),
            },
            images.clone(),
            events.clone(),
        ));
        let weak = Arc::downgrade(&containers);
        image_service.set_users(Box::new(move |id| {
            weak.upgrade()
                .map(|c| c.image_users(id))
                .unwrap_or_default()
        }));
        containers
            .load()
            .map_err(|e| format!("load containers from {}: {e}", opts.data_root.display()))?;
        containers.set_networks(crate::networks::open(&opts, events.clone())?);
        let builder = crate::builder::Builder::new(
            store,
            containers.clone(),
            images.clone(),
            &opts.data_root,
        )
        .map_err(|e| format!("open build cache in {}: {e}", opts.data_root.display()))?;
        let restore = containers.clone();
        let state = AppState {
            images,
            containers: Arc::new(ContainerService(containers)),
            restore,
            events,
            info: Arc::new(DaemonInfo {
                id,
                data_root: opts.data_root.clone(),
                debug: opts.debug,
                live_restore: opts.live_restore,
            }),
            shutdown: CancellationToken::new(),
            builder: Some(Arc::new(builder)),
        };
        Ok(Daemon {
            opts,
            state,
            _lock: lock,
            sockets: Vec::new(),
            pidfile_written: false,
        })
    }

    fn write_pidfile(&mut self) -> Result<(), String> {
        let p = &self.opts.pidfile;
        // Like dockerd: a pidfile naming another live berth process means a second
        // daemon is configured onto the same files. A dead or foreign pid is stale.
        if let Ok(old) = std::fs::read_to_string(p)
            && let Ok(pid) = old.trim().parse::<u32>()
        {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if pid != std::process::id() && comm.trim() == "berth" {
                return Err(format!(
                    "pid file found, ensure berth is not running or delete {}",
                    p.display()
                ));
            }
        }
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        }
        berth_stdx::atomic_write(p, format!("{}", std::process::id()).as_bytes())
            .map_err(|e| format!("write pidfile {}: {e}", p.display()))?;
        self.pidfile_written = true;
        Ok(())
    }

    /// Binds every host and serves until `shutdown` is cancelled.
    pub async fn serve(mut self, shutdown: CancellationToken) -> Result<(), String> {
        let mut listeners = Vec::new();
        for h in &self.opts.hosts {
            let l = bind(h).await?;
            if let Listener::Unix(_, p) = &l {
                self.sockets.push(p.clone());
            }
            listeners.push(l);
        }
        self.write_pidfile()?;
        // Live-restore: reconnect to the shims of running containers.
        self.state.restore.restore().await;
        let mut state = self.state.clone();
        state.shutdown = shutdown.clone();
        let svc = app(state);
        let mut tasks = Vec::new();
        for l in listeners {
            let svc = svc.clone();
            let stop = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                let done = async move { stop.cancelled().await };
                match l {
                    Listener::Unix(l, p) => {
                        tracing::info!(socket = %p.display(), "API listen");
                        axum::serve(l, axum::ServiceExt::into_make_service(svc))
                            .with_graceful_shutdown(done)
                            .await
                    }
                    Listener::Tcp(l, a) => {
                        tracing::info!(addr = %a, "API listen");
                        axum::serve(l, axum::ServiceExt::into_make_service(svc))
                            .with_graceful_shutdown(done)
                            .await
                    }
                }
            }));
        }
        tracing::info!(
            data_root = %self.opts.data_root.display(),
            version = env!("CARGO_PKG_VERSION"),
            "daemon has completed initialization"
        );
        shutdown.cancelled().await;
        self.state.restore.net_shutdown();
        // Long streams (events) would hold graceful shutdown forever: give them a moment.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), async {
            for t in tasks {
                let _ = t.await;
            }
        })
        .await;
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        for s in &self.sockets {
            let _ = std::fs::remove_file(s);
        }
        if self.pidfile_written {
            let _ = std::fs::remove_file(&self.opts.pidfile);
        }
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
pub async fn cancel_on_signals(token: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = int.recv() => tracing::info!("received SIGINT, shutting down"),
        _ = term.recv() => tracing::info!("received SIGTERM, shutting down"),
    }
    token.cancel();
}

/// Runs the daemon in the foreground until SIGINT/SIGTERM (the `berth daemon` entry).
/// A small runtime: two workers keep idle memory low; store work runs on the
/// blocking pool.
pub fn run(opts: DaemonOptions) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(16)
        .thread_keep_alive(std::time::Duration::from_secs(10))
        .enable_all()
        .build()
        .map_err(|e| format!("start runtime: {e}"))?;
    let daemon = Daemon::new(opts)?;
    let res = rt.block_on(async move {
        let token = CancellationToken::new();
        tokio::spawn(cancel_on_signals(token.clone()));
        daemon.serve(token).await
    });
    // Store work still running (a client that keeps uploading) must not hold the exit;
    // the store's write protocol makes an interrupted load harmless.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    res
}

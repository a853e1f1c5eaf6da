//! The embedded runtime: libcontainer, in-process. Only valid in a single-threaded
//! caller (see the module docs of `driver`).

use super::{DriverError, ExecProcess, Result, RuntimeDriver, Stdio};
use libcontainer::container::Container;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::signal::Signal;
use libcontainer::syscall::syscall::SyscallType;
use std::path::{Path, PathBuf};

pub struct Embedded {
    root: PathBuf,
}

impl Embedded {
    pub fn new(root: PathBuf) -> Embedded {
        Embedded { root }
    }

    fn load(&self, id: &str) -> Result<Container> {
        Container::load(self.root.join(id)).map_err(|e| rt(id, "load", e))
    }

    fn builder(&self, id: &str, stdio: Stdio) -> Result<ContainerBuilder> {
        std::fs::create_dir_all(&self.root)
            .map_err(|e| DriverError::io(format!("create {}", self.root.display()), e))?;
        let mut b = ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_root_path(&self.root)
            .map_err(|e| rt(id, "configure", e))?;
        match stdio {
            Stdio::Fds {
                stdin,
                stdout,
                stderr,
            } => {
                if let Some(fd) = stdin {
                    b = b.with_stdin(fd);
                }
                if let Some(fd) = stdout {
                    b = b.with_stdout(fd);
                }
                if let Some(fd) = stderr {
                    b = b.with_stderr(fd);
                }
            }
            Stdio::Console(path) => b = b.with_console_socket(Some(path)),
        }
        Ok(b)
    }
}

fn rt(id: &str, what: &str, e: impl std::fmt::Display) -> DriverError {
    DriverError::Runtime(format!("{what} container {id}: {e}"))
}

fn signal(id: &str, n: i32) -> Result<Signal> {
    Signal::try_from(n).map_err(|e| rt(id, "signal", format!("{e:?}")))
}

impl RuntimeDriver for Embedded {
    fn create(&self, id: &str, bundle: &Path, stdio: Stdio) -> Result<i32> {
        let container = self
            .builder(id, stdio)?
            .as_init(bundle)
            .with_systemd(false)
            .with_detach(true)
            .build()
            .map_err(|e| rt(id, "create", e))?;
        container
            .pid()
            .map(|p| p.as_raw())
            .ok_or_else(|| rt(id, "create", "the runtime reported no init pid"))
    }

    fn start(&self, id: &str) -> Result<()> {
        self.load(id)?.start().map_err(|e| rt(id, "start", e))
    }

    fn kill(&self, id: &str, sig: i32, all: bool) -> Result<()> {
        let sig = signal(id, sig)?;
        self.load(id)?.kill(sig, all).map_err(|e| rt(id, "kill", e))
    }

    fn exec(&self, id: &str, process: ExecProcess<'_>) -> Result<i32> {
        let dir = self.root.join(id);
        let path = dir.join(format!("exec-{}.json", berth_stdx::id::random_hex(8)));
        std::fs::write(&path, process.process_json)
            .map_err(|e| DriverError::io(format!("write {}", path.display()), e))?;
        let result = self
            .builder(id, process.stdio)?
            .as_tenant()
            .with_process(Some(&path))
            .with_detach(true)
            .build();
        let _ = std::fs::remove_file(&path);
        result.map(|p| p.as_raw()).map_err(|e| rt(id, "exec in", e))
    }

    fn pause(&self, id: &str) -> Result<()> {
        self.load(id)?.pause().map_err(|e| rt(id, "pause", e))
    }

    fn resume(&self, id: &str) -> Result<()> {
        self.load(id)?.resume().map_err(|e| rt(id, "resume", e))
    }

    fn delete(&self, id: &str, force: bool) -> Result<()> {
        match Container::load(self.root.join(id)) {
            Ok(mut c) => {
                let _ = c.refresh_status();
                c.delete(force).map_err(|e| rt(id, "delete", e))
            }
            // Already gone: delete is idempotent.
            Err(_) if !self.root.join(id).exists() => Ok(()),
            Err(e) => Err(rt(id, "delete", e)),
        }
    }
}

//! [`ContainerBackend`]: what the container and exec routes need, so routes stay
//! thin and can run over a fake. [`ContainerService`] is the real one, over the
//! [`ContainerManager`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use berth_api::Filters;
use serde_json::{Map, Value};

use super::exec::{ExecEntry, ExecStart};
use super::manager::{AttachTarget, ContainerManager, WaitCondition};
use super::record::Record;
use crate::error::Result;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The container operations of the Engine API. `start`/`stop` answer `false` when
/// there was nothing to do (HTTP 304).
pub trait ContainerBackend: Send + Sync + 'static {
    fn list(&self, all: bool, filters: &Filters, limit: i64) -> Result<Vec<Value>>;
    fn get(&self, name: &str) -> Result<Record>;
    fn inspect(&self, name: &str) -> Result<Value>;
    /// `SizeRw` (the writable layer's bytes) and `SizeRootFs` (that plus the image's).
    fn sizes(&self, name: &str) -> Result<(u64, u64)>;
    fn create<'a>(
        &'a self,
        name: &'a str,
        body: Map<String, Value>,
    ) -> BoxFuture<'a, Result<(String, Vec<String>)>>;
    fn start<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool>>;
    fn stop<'a>(
        &'a self,
        name: &'a str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> BoxFuture<'a, Result<bool>>;
    fn restart<'a>(
        &'a self,
        name: &'a str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> BoxFuture<'a, Result<()>>;
    fn kill<'a>(&'a self, name: &'a str, signal: &'a str) -> BoxFuture<'a, Result<()>>;
    fn remove<'a>(&'a self, name: &'a str, force: bool) -> BoxFuture<'a, Result<()>>;
    fn rename(&self, name: &str, new: &str) -> Result<()>;
    fn pause<'a>(&'a self, name: &'a str, pause: bool) -> BoxFuture<'a, Result<()>>;
    fn resize<'a>(&'a self, name: &'a str, height: u16, width: u16) -> BoxFuture<'a, Result<()>>;
    fn wait<'a>(
        &'a self,
        name: &'a str,
        cond: WaitCondition,
    ) -> BoxFuture<'a, Result<(i32, String)>>;
    /// Where an attach connects; publishes nothing (see `event_attach`).
    fn attach_target(&self, name: &str) -> Result<(Record, AttachTarget)>;
    fn event_attach(&self, rec: &Record);
    fn exec_create(&self, name: &str, config: Map<String, Value>) -> Result<String>;
    fn exec_get(&self, id: &str) -> Result<ExecEntry>;
    fn exec_start<'a>(&'a self, id: &'a str, tty: Option<bool>)
    -> BoxFuture<'a, Result<ExecStart>>;
    /// Waits (at most `max`) until the exec's exit is recorded.
    fn exec_wait<'a>(&'a self, id: &'a str, max: Duration) -> BoxFuture<'a, ()>;
    fn exec_resize<'a>(&'a self, id: &'a str, height: u16, width: u16)
    -> BoxFuture<'a, Result<()>>;
    /// The container's merged tree for `export` (blocking: may mount it temporarily).
    fn fs_root(&self, _name: &str) -> Result<super::fs::FsRoot> {
        Err(crate::error::Error::not_implemented(
            "no container filesystems",
        ))
    }
    /// The tree `cp` works on: [`ContainerBackend::fs_root`] with volumes and binds.
    fn fs_root_cp(&self, name: &str) -> Result<super::fs::FsRoot> {
        self.fs_root(name)
    }
    /// A copy into `path` is refused when it lies in a read-only mount.
    fn cp_writable(&self, _name: &str, _path: &str) -> Result<()> {
        Ok(())
    }
    /// `docker commit` (blocking): the new image's id.
    fn commit(&self, _name: &str, _q: &super::fs::CommitQuery) -> Result<String> {
        Err(crate::error::Error::not_implemented(
            "commit is not supported",
        ))
    }
    /// `docker diff`: (path, kind) sorted by path (blocking).
    fn changes(&self, _name: &str) -> Result<Vec<(String, u8)>> {
        Err(crate::error::Error::not_implemented(
            "no container filesystems",
        ))
    }
}

/// The real backend.
pub struct ContainerService(pub Arc<ContainerManager>);

impl ContainerBackend for ContainerService {
    fn fs_root(&self, name: &str) -> Result<super::fs::FsRoot> {
        self.0.fs_root(name)
    }
    fn fs_root_cp(&self, name: &str) -> Result<super::fs::FsRoot> {
        self.0.fs_root_for_cp(name)
    }
    fn cp_writable(&self, name: &str, path: &str) -> Result<()> {
        self.0.cp_writable(name, path)
    }
    fn changes(&self, name: &str) -> Result<Vec<(String, u8)>> {
        self.0.changes(name)
    }
    fn commit(&self, name: &str, q: &super::fs::CommitQuery) -> Result<String> {
        self.0.commit(name, q)
    }
    fn list(&self, all: bool, filters: &Filters, limit: i64) -> Result<Vec<Value>> {
        self.0.list(all, filters, limit)
    }
    fn get(&self, name: &str) -> Result<Record> {
        self.0.get(name)
    }
    fn inspect(&self, name: &str) -> Result<Value> {
        self.0.inspect(name)
    }
    fn sizes(&self, name: &str) -> Result<(u64, u64)> {
        self.0.sizes(name)
    }
    fn create<'a>(
        &'a self,
        name: &'a str,
        body: Map<String, Value>,
    ) -> BoxFuture<'a, Result<(String, Vec<String>)>> {
        Box::pin(self.0.create(name, body))
    }
    fn start<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.0.start(name))
    }
    fn stop<'a>(
        &'a self,
        name: &'a str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.0.stop(name, timeout, signal))
    }
    fn restart<'a>(
        &'a self,
        name: &'a str,
        timeout: Option<i64>,
        signal: Option<String>,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.0.restart(name, timeout, signal))
    }
    fn kill<'a>(&'a self, name: &'a str, signal: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.0.kill(name, signal))
    }
    fn remove<'a>(&'a self, name: &'a str, force: bool) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.0.remove(name, force))
    }
    fn rename(&self, name: &str, new: &str) -> Result<()> {
        self.0.rename(name, new)
    }
    fn pause<'a>(&'a self, name: &'a str, pause: bool) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.0.pause(name, pause))
    }
    fn resize<'a>(&'a self, name: &'a str, height: u16, width: u16) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.0.resize(name, height, width))
    }
    fn wait<'a>(
        &'a self,
        name: &'a str,
        cond: WaitCondition,
    ) -> BoxFuture<'a, Result<(i32, String)>> {
        Box::pin(self.0.wait(name, cond))
    }
    fn attach_target(&self, name: &str) -> Result<(Record, AttachTarget)> {
        self.0.attach_target(name)
    }
    fn event_attach(&self, rec: &Record) {
        self.0.event_attach(rec)
    }
    fn exec_create(&self, name: &str, config: Map<String, Value>) -> Result<String> {
        self.0.exec_create(name, config)
    }
    fn exec_get(&self, id: &str) -> Result<ExecEntry> {
        self.0.exec_get(id)
    }
    fn exec_start<'a>(
        &'a self,
        id: &'a str,
        tty: Option<bool>,
    ) -> BoxFuture<'a, Result<ExecStart>> {
        Box::pin(self.0.exec_start(id, tty))
    }
    fn exec_wait<'a>(&'a self, id: &'a str, max: Duration) -> BoxFuture<'a, ()> {
        Box::pin(self.0.exec_wait(id, max))
    }
    fn exec_resize<'a>(
        &'a self,
        id: &'a str,
        height: u16,
        width: u16,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.0.exec_resize(id, height, width))
    }
}

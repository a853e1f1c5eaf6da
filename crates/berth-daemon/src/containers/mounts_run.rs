//! The container manager's side of mounts: creating volumes for a planned create,
//! `--volumes-from`, the OCI mounts at start (with copy-up), their release at exit,
//! reference bookkeeping at load and removal, and the volume half of `ps --filter`.

use std::collections::BTreeMap;
use std::path::Path;

use berth_api::Filters;
use berth_runtime::oci::Mount;

use super::manager::{ContainerManager, Index};
use super::mounts::{self, MountPoint, Plan};
use super::record::Record;
use crate::error::{Error, Result};

/// Volume names a record references.
fn volume_names(rec: &Record) -> impl Iterator<Item = &str> {
    rec.mount_points
        .iter()
        .filter(|m| m.kind == "volume" && !m.name.is_empty())
        .map(|m| m.name.as_str())
}

impl ContainerManager {
    /// Creates the planned volumes (referenced by `id` as they are made) and copies the
    /// mounts of `--volumes-from` containers. On error every reference of `id` is dropped.
    pub(crate) fn realize_mounts(&self, id: &str, plan: Plan) -> Result<Vec<MountPoint>> {
        let res = self.realize_inner(id, plan);
        if res.is_err() {
            self.volumes.release(id);
        }
        res
    }

    fn realize_inner(&self, id: &str, plan: Plan) -> Result<Vec<MountPoint>> {
        let mut by_dest: BTreeMap<String, MountPoint> = BTreeMap::new();
        for (from, rw) in plan.volumes_from {
            let other = self.get(&from).map_err(|e| Error::invalid(e.message))?;
            for m in other.mount_points {
                if m.kind == "volume" {
                    self.volumes.reference(&m.name, id)?;
                }
                let cp = MountPoint {
                    rw: m.rw && rw,
                    mode: String::new(),
                    copy_data: false,
                    ..m
                };
                by_dest.insert(cp.destination.clone(), cp);
            }
        }
        for p in plan.mounts {
            let mut mp = p.mp.clone();
            if let Some(req) = p.create_request() {
                let v = self.volumes.create(req, Some(id))?;
                mp.source = self.volumes.data_path(&v.name).display().to_string();
                mp.driver = v.driver;
                mp.name = v.name;
            }
            by_dest.insert(mp.destination.clone(), mp);
        }
        let mut out: Vec<MountPoint> = by_dest.into_values().collect();
        mounts::sort(&mut out);
        Ok(out)
    }

    /// At load: references from every record, and which volumes running ones hold.
    pub(crate) fn load_volumes(&self, idx: &Index) -> std::io::Result<()> {
        self.volumes.load()?;
        let mut running = Vec::new();
        for e in idx.by_id.values() {
            self.volumes.add_refs(&e.rec.id, volume_names(&e.rec));
            if e.rec.state.status.is_active() {
                running.push((
                    e.rec.id.clone(),
                    volume_names(&e.rec).map(String::from).collect(),
                ));
            }
        }
        self.volumes.restore_active(&running);
        Ok(())
    }

    /// The OCI mounts of `rec`'s mount points: binds (sources created for `-v`),
    /// volumes (mounted by the store when they have options, filled by copy-up while
    /// empty) and tmpfs. Blocking. Undoes its own work on error.
    pub(crate) fn setup_mounts(&self, rec: &Record, rootfs: &Path) -> Result<Vec<Mount>> {
        let res = self.setup_inner(rec, rootfs);
        if res.is_err() {
            self.teardown_mounts(rec);
        }
        res
    }

    fn setup_inner(&self, rec: &Record, rootfs: &Path) -> Result<Vec<Mount>> {
        let out = self.oci_mounts(rec, rootfs)?;
        // Copy-up happens once per container, as docker does it once at create.
        if rec.mount_points.iter().any(|m| m.copy_data) {
            let _ = self.update(&rec.id, |e| {
                for m in &mut e.rec.mount_points {
                    m.copy_data = false;
                }
            });
        }
        Ok(out)
    }

    fn oci_mounts(&self, rec: &Record, rootfs: &Path) -> Result<Vec<Mount>> {
        // Recursive read-only needs mount_setattr (Linux 5.12).
        let rro = self.host.kernel >= (5, 12);
        let mut out = Vec::new();
        for m in &rec.mount_points {
            let source = match m.kind.as_str() {
                "tmpfs" => {
                    let mut options: Vec<String> =
                        ["noexec", "nosuid", "nodev"].map(String::from).to_vec();
                    for o in m.tmpfs.split(',').filter(|o| !o.is_empty()) {
                        options.push(o.to_string());
                    }
                    out.push(Mount {
                        destination: prepare_target(rootfs, &m.destination, true)?,
                        kind: "tmpfs".into(),
                        source: "tmpfs".into(),
                        options,
                    });
                    continue;
                }
                "volume" => {
                    let p = self.volumes.mount(&m.name, &rec.id)?;
                    // A subpath mounts part of the volume: no copy-up into it.
                    if m.copy_data && m.subpath.is_empty() {
                        crate::volumes::copy_up(rootfs, &m.destination, &p).map_err(|e| {
                            Error::internal(format!(
                                "copy image content of {} into volume {}: {e}",
                                m.destination, m.name
                            ))
                        })?;
                    }
                    let p = if m.subpath.is_empty() {
                        p
                    } else {
                        crate::volumes::subpath::resolve(&p, &m.subpath)?
                    };
                    self.volumes.publish(
                        "mount",
                        &m.name,
                        &[
                            ("container", rec.id.clone()),
                            ("destination", m.destination.clone()),
                            ("propagation", m.propagation.clone()),
                            ("read/write", m.rw.to_string()),
                        ],
                    );
                    p
                }
                _ => {
                    let p = Path::new(&m.source).to_path_buf();
                    if !p.exists() {
                        if m.skip_create {
                            return Err(Error::invalid(format!(
                                "invalid mount config for type \"bind\": bind source path does not exist: {}",
                                m.source
                            )));
                        }
                        std::fs::create_dir_all(&p).map_err(|e| {
                            Error::internal(format!(
                                "error while creating mount source path '{}': {e}",
                                m.source
                            ))
                        })?;
                    }
                    p
                }
            };
            let prop = if m.propagation.is_empty() {
                "rprivate"
            } else {
                m.propagation.as_str()
            };
            let bind = if m.non_recursive { "bind" } else { "rbind" };
            let mut options = vec![bind.to_string(), prop.to_string()];
            if !m.rw {
                options.push("ro".into());
                if rro && !m.ro_non_recursive && !m.non_recursive {
                    options.push("rro".into());
                }
            }
            out.push(Mount {
                destination: prepare_target(rootfs, &m.destination, source.is_dir())?,
                kind: "bind".into(),
                source: source.display().to_string(),
                options,
            });
        }
        Ok(out)
    }

    /// Releases the volumes `rec` had mounted (the last user unmounts). Idempotent.
    pub(crate) fn teardown_mounts(&self, rec: &Record) {
        for m in &rec.mount_points {
            if m.kind == "volume" && self.volumes.unmount(&m.name, &rec.id) {
                self.volumes
                    .publish("unmount", &m.name, &[("container", rec.id.clone())]);
            }
        }
    }

    /// [`ContainerManager::teardown_mounts`] by id (the record may be gone).
    pub(crate) fn teardown_mounts_of(&self, id: &str) {
        let rec = self.lock().by_id.get(id).map(|e| e.rec.clone());
        if let Some(rec) = rec {
            self.teardown_mounts(&rec);
        }
    }

    /// A removed container: drops its references, and with `anonymous` removes the
    /// anonymous volumes it made (never named ones; one still used elsewhere stays).
    pub fn release_mounts(&self, rec: &Record, anonymous: bool) {
        self.volumes.release(&rec.id);
        if !anonymous {
            return;
        }
        for m in &rec.mount_points {
            if m.kind == "volume"
                && m.anonymous
                && let Err(e) = self.volumes.remove(&m.name, false)
                && e.kind != berth_stdx::ErrorKind::Conflict
                && e.kind != berth_stdx::ErrorKind::NotFound
            {
                tracing::warn!(volume = %m.name, "remove anonymous volume: {}", e.message);
            }
        }
    }

    /// `system df`: every volume with its size and reference count.
    pub fn volumes_usage(&self) -> Result<Vec<serde_json::Value>> {
        let vols = self.volumes.list(&Filters::new())?;
        Ok(vols.iter().map(|v| self.volumes.to_json(v, true)).collect())
    }
}

/// The mount target resolved inside the rootfs as runc's securejoin resolves it (an
/// image's `/data -> /etc` lands on the image's `/etc`; an absolute link to a host
/// path lands on that path inside the root), with missing directories created there;
/// returned as a path in the container, so the runtime meets no symlink on the way.
/// Safe to create: every existing component was resolved inside the root, and the
/// container has not started, so nothing can swap one meanwhile.
pub(super) fn prepare_target(rootfs: &Path, dest: &str, is_dir: bool) -> Result<String> {
    let io = |e: std::io::Error| Error::internal(format!("prepare mount target {dest}: {e}"));
    let real = berth_stdx::rootpath::resolve_in_root(rootfs, Path::new(dest)).map_err(io)?;
    let dir = if is_dir {
        Some(real.as_path())
    } else {
        real.parent()
    };
    if let Some(d) = dir.filter(|d| !d.exists()) {
        std::fs::create_dir_all(d).map_err(io)?;
    }
    let rel = real.strip_prefix(rootfs).map_err(|_| {
        Error::internal(format!(
            "mount target {dest} resolves outside the container"
        ))
    })?;
    Ok(format!("/{}", rel.display()))
}

/// `ps --filter volume=X`: a mount whose name (or bind source) or destination is X.
pub(crate) fn matches_volume_filter(f: &Filters, rec: &Record) -> bool {
    let want = f.get("volume");
    want.is_empty()
        || rec.mount_points.iter().any(|m| {
            let name = if m.name.is_empty() {
                &m.source
            } else {
                &m.name
            };
            want.iter().any(|w| *w == m.destination || *w == name)
        })
}

/// `Mounts` of `inspect` and `ps`.
pub(crate) fn api_mounts(rec: &Record) -> serde_json::Value {
    mounts::api_mounts(&rec.mount_points)
}

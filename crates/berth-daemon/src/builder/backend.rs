//! [`DaemonBackend`]: `berth_build::BuildBackend` over the image store and the
//! container manager. Called from a blocking thread; container work is driven on the
//! daemon's runtime through `Handle::block_on`.

use std::io::Read;
use std::path::{Path, PathBuf};

use berth_build::{
    BaseImage, BuildBackend, BuildError, Cancel, CommitRequest, MountedImage, Progress, RunRequest,
};
use berth_image::{BuildCommit, Reference};
use berth_stdx::Digest;

use super::Builder;

#[path = "single_flight.rs"]
mod single_flight;

/// Stages (and builds) starting FROM the same missing image pull it once.
static PULLS: single_flight::SingleFlight = single_flight::SingleFlight::new();

/// The key `PULLS` serialises a FROM on: the normalised name.
fn pull_key(name: &str) -> String {
    Reference::parse(name).map_or_else(|_| name.to_string(), |r| r.to_string())
}

pub(crate) struct DaemonBackend<'a> {
    pub(crate) b: &'a Builder,
    pub(crate) rt: tokio::runtime::Handle,
    /// Where temporary mounts and layer tars go (the build's scratch dir).
    pub(crate) scratch: PathBuf,
    /// Registry credentials from `X-Registry-Config`, for FROM pulls.
    pub(crate) auth: super::from::RegistryAuth,
}

fn internal(e: impl std::fmt::Display) -> BuildError {
    BuildError::Internal(e.to_string())
}

impl DaemonBackend<'_> {
    pub(crate) fn store_commit(
        &self,
        req: &CommitRequest,
        layer: Option<&mut dyn Read>,
    ) -> berth_build::Result<Digest> {
        self.b
            .store
            .commit_build(
                layer,
                &BuildCommit {
                    parent: req.parent.clone(),
                    config: req.config.clone(),
                    created_by: req.created_by.clone(),
                    author: req.author.clone(),
                },
            )
            .map_err(|e| BuildError::Internal(format!("commit: {e}")))
    }
}

/// A read-only look at an image: an overlay of its layers on a scratch dir,
/// unmounted and removed on drop.
struct Mounted {
    root: PathBuf,
    dir: PathBuf,
    mounted: bool,
}

impl MountedImage for Mounted {
    fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if self.mounted
            && let Err(e) = berth_runtime::rootfs::unmount(&self.root)
        {
            tracing::warn!("{e}");
        }
        let _ = berth_stdx::ensure_remove_all(&self.dir);
    }
}

impl BuildBackend for DaemonBackend<'_> {
    /// FROM's base image: pulled when it is not here (docker's classic builder does the
    /// same) or when the build asked for `--pull`, with the build's registry auth.
    fn image(&self, name: &str, pull: bool) -> berth_build::Result<BaseImage> {
        PULLS.run(&pull_key(name), || {
            super::from::base_image(self, name, pull, None)
        })
    }

    fn image_for(
        &self,
        name: &str,
        pull: bool,
        platform: &berth_build::Platform,
    ) -> berth_build::Result<BaseImage> {
        PULLS.run(&pull_key(name), || {
            super::from::base_image(self, name, pull, Some(platform))
        })
    }

    fn image_by_id(&self, id: &Digest) -> Option<BaseImage> {
        self.b.store.get(id).ok().map(|i| BaseImage {
            id: i.id,
            config: i.config,
        })
    }

    fn run(
        &self,
        req: &RunRequest,
        commit: &CommitRequest,
        out: &mut dyn Progress,
        cancel: &Cancel,
    ) -> berth_build::Result<Digest> {
        super::run::run_step(self, req, commit, out, cancel)
    }

    fn commit(
        &self,
        req: &CommitRequest,
        layer: Option<&mut dyn Read>,
    ) -> berth_build::Result<Digest> {
        self.store_commit(req, layer)
    }

    fn mount(&self, id: Option<&Digest>) -> berth_build::Result<Box<dyn MountedImage>> {
        let dir = self
            .scratch
            .join(format!("mnt-{}", berth_stdx::id::random_hex(6)));
        let layers = match id {
            Some(id) => self.b.store.layer_dirs(id).map_err(internal)?,
            None => Vec::new(),
        };
        if layers.is_empty() {
            let root = dir.join("empty");
            std::fs::create_dir_all(&root).map_err(internal)?;
            return Ok(Box::new(Mounted {
                root,
                dir,
                mounted: false,
            }));
        }
        let ov = berth_runtime::rootfs::Overlay::in_dir(&dir, &layers);
        ov.mount()
            .map_err(|e| BuildError::Internal(format!("mount image: {e}")))?;
        Ok(Box::new(Mounted {
            root: ov.target.clone(),
            dir,
            mounted: true,
        }))
    }

    fn tag(&self, id: &Digest, tag: &str) -> berth_build::Result<String> {
        let r = Reference::parse(tag).map_err(|e| BuildError::Invalid(e.to_string()))?;
        self.b
            .store
            .tag(id, &r)
            .map_err(|e| BuildError::Internal(format!("tag {tag}: {e}")))?;
        Ok(r.familiar())
    }

    fn download(&self, url: &str, dest: &Path) -> berth_build::Result<Option<u64>> {
        self.rt
            .block_on(super::remote::download(url, dest))
            .map_err(BuildError::Invalid)
    }
}

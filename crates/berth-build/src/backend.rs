//! [`BuildBackend`]: every side effect of a build (images, containers, layers), so
//! the executor runs over a fake in unit tests and over the daemon for real.
//!
//! Lifecycle: the executor calls `image` for each FROM, `mount` to look into an
//! image (COPY destinations, `--chown` names, `COPY --from`), `run` for each RUN (the
//! backend creates, starts, waits for and always removes its container, committing
//! the result only on success), `commit` for COPY/ADD layers and metadata steps, and
//! `tag` at the end. Nothing a failed build created stays referenced except by the
//! build cache.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use berth_image::{ContainerConfig, ImageConfig};
use berth_stdx::Digest;

use crate::error::Result;

/// An image the build starts from or produced.
#[derive(Debug, Clone)]
pub struct BaseImage {
    pub id: Digest,
    pub config: ImageConfig,
}

/// A RUN step.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub parent: Digest,
    /// The full argv (shell + script, or the exec form).
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    pub user: String,
    /// `none`, `host`, or empty for the default.
    pub network: String,
    /// `host:ip` entries for `/etc/hosts`.
    pub extra_hosts: Vec<String>,
}

/// What a commit writes: the new image's config and its history line.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub parent: Option<Digest>,
    pub config: ContainerConfig,
    pub created_by: String,
    /// No layer: a metadata-only step.
    pub empty_layer: bool,
    /// MAINTAINER.
    pub author: Option<String>,
}

/// Where build output goes.
pub trait Progress {
    /// A line (or part of one) of build output; `false` once nobody listens.
    fn stream(&mut self, text: &str) -> bool;
    /// The final image id, before "Successfully built" (docker's `aux` message).
    fn aux_id(&mut self, _id: &str) {}
    /// Whether anybody still listens (checked while a step runs silently).
    fn alive(&mut self) -> bool {
        true
    }
}

/// A read-only view of an image's filesystem, released on drop.
pub trait MountedImage {
    fn root(&self) -> &Path;
}

/// A cancellation flag shared by the build and whoever may stop it.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub trait BuildBackend: Send + Sync {
    /// Looks an image up by name or id, pulling it when `pull` (or when missing and
    /// the backend can pull).
    fn image(&self, name: &str, pull: bool) -> Result<BaseImage>;
    /// FROM with a platform (`--platform`, `FROM --platform=`): like `image`, but the
    /// image must be `platform`'s (a backend that can pull pulls that platform's).
    fn image_for(
        &self,
        name: &str,
        pull: bool,
        platform: &crate::platform::Platform,
    ) -> Result<BaseImage> {
        let img = self.image(name, pull)?;
        crate::platform::check(name, &img, platform)?;
        Ok(img)
    }
    /// Whether an image (a cache hit) still exists, and its config.
    fn image_by_id(&self, id: &Digest) -> Option<BaseImage>;
    /// Runs `req` in a fresh container, streaming its output to `out`; on exit 0
    /// commits the container's changes with `commit` and returns the new image. The
    /// container is removed in every case. Prints the " ---> Running in" line.
    fn run(
        &self,
        req: &RunRequest,
        commit: &CommitRequest,
        out: &mut dyn Progress,
        cancel: &Cancel,
    ) -> Result<Digest>;
    /// Writes a new image: `layer` (an uncompressed tar) on top of `req.parent`, or
    /// no layer at all.
    fn commit(&self, req: &CommitRequest, layer: Option<&mut dyn Read>) -> Result<Digest>;
    /// A view of an image's files (`None`: scratch, an empty tree).
    fn mount(&self, id: Option<&Digest>) -> Result<Box<dyn MountedImage>>;
    /// Tags an image; returns the name as docker prints it (`x:latest`).
    fn tag(&self, id: &Digest, tag: &str) -> Result<String>;
    /// `ADD <http(s) url>`: downloads `url` into `dest` (a file in the build's work
    /// dir); returns the `Last-Modified` time in seconds when the server sent one.
    fn download(&self, url: &str, _dest: &Path) -> Result<Option<u64>> {
        Err(crate::error::BuildError::Invalid(format!(
            "ADD failed: downloading {url} is not supported by this builder"
        )))
    }
}

/// docker's " ---> Running in <id>" line.
pub fn running_in(out: &mut dyn Progress, container_id: &str) {
    out.stream(&format!(" ---> Running in {}\n", short(container_id)));
}

/// docker's " ---> Removed intermediate container <id>" line.
pub fn removed_container(out: &mut dyn Progress, container_id: &str) {
    out.stream(&format!(
        " ---> Removed intermediate container {}\n",
        short(container_id)
    ));
}

/// The 12-character form of an id (`sha256:` dropped).
pub fn short(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    &id[..id.len().min(12)]
}

//! `POST /images/create?fromImage=`: pull by tag, by digest, or every tag (`-a`).
//!
//! resolve → manifest (an index picks the platform) → config → layers, three at a
//! time, each streamed from the registry through decompression into the content
//! store and a snapshot in one pass, both digests verified → record, tag, repo
//! digest. A lease written before the first layer keeps finished layers across a
//! crash, so pulling again skips them ("Already exists").

use std::sync::Arc;

use berth_image::{BlobSource, Descriptor, ImageStore, Index, Manifest, PulledImage, Reference};
use berth_registry::client::{ClientError, Credentials, ManifestKind, Repo, classify_manifest};
use berth_stdx::Digest;
use futures_util::{StreamExt, TryStreamExt};

use super::auth::{Progress, Registries, registry_error};
use crate::error::{Error, Result};

/// Layers downloaded at once, as docker.
const PARALLEL: usize = 3;

pub type Sink = Arc<dyn Fn(Progress) + Send + Sync>;

/// What the caller asked for.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// `fromImage` (may carry a tag or digest).
    pub image: String,
    /// `tag` (a tag or a digest); empty means every tag.
    pub tag: String,
    pub platform: Option<String>,
    pub creds: Credentials,
}

/// `os/arch[/variant]`, defaulting to the host's.
fn wanted_platform(p: Option<&str>) -> Result<(String, String, Option<String>)> {
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    let Some(p) = p.filter(|p| !p.is_empty()) else {
        return Ok(("linux".into(), host_arch.into(), None));
    };
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [os] => Ok((os.to_lowercase(), host_arch.into(), None)),
        [os, arch] => Ok((os.to_lowercase(), arch.to_lowercase(), None)),
        [os, arch, v] => Ok((
            os.to_lowercase(),
            arch.to_lowercase(),
            Some(v.to_lowercase()),
        )),
        _ => Err(Error::invalid(format!(
            "\"{p}\": unknown operating system or architecture: invalid argument"
        ))),
    }
}

fn platform_matches(
    d: &Descriptor,
    (os, arch, variant): &(String, String, Option<String>),
) -> bool {
    let Some(p) = &d.platform else {
        return false;
    };
    p.os == *os
        && p.architecture == *arch
        && (variant.is_none() || p.variant.as_deref() == variant.as_deref())
}

/// The parsed reference for a pull of `image` + `tag`.
pub fn pull_reference(image: &str, tag: &str) -> Result<Reference> {
    let r = Reference::parse_no_default_tag(image)?;
    if tag.is_empty() {
        return Ok(r);
    }
    if let Ok(d) = tag.parse::<Digest>() {
        return Ok(r.name_only().with_digest(d));
    }
    Ok(r.name_only().with_tag(tag)?)
}

impl Registries {
    /// Resolves and connects, then pulls; errors before the first progress line are
    /// returned as such (the route turns them into an HTTP status).
    pub async fn pull(&self, req: PullRequest, out: Sink) -> Result<()> {
        let r = pull_reference(&req.image, &req.tag)?;
        let platform = wanted_platform(req.platform.as_deref())?;
        let explicit = req.platform.as_deref().is_some_and(|p| !p.is_empty());
        let repo = Repo::connect(&self.cfg, r.domain(), r.path(), req.creds.clone(), false)
            .await
            .map_err(|e| self.denied(&r, e))?;
        if r.tag().is_none() && r.digest().is_none() {
            // `pull -a`: every tag, one after the other.
            let tags = repo.list_tags().await.map_err(|e| self.denied(&r, e))?;
            let mut fresh = false;
            for t in tags {
                let tr = r.with_tag(&t)?;
                fresh |= self.pull_one(&repo, &tr, &platform, explicit, &out).await?;
            }
            out(Progress::Status(status_line(fresh, &r.familiar_name())));
            return Ok(());
        }
        let fresh = self.pull_one(&repo, &r, &platform, explicit, &out).await?;
        out(Progress::Status(status_line(fresh, &r.familiar())));
        Ok(())
    }

    /// docker's wording for a repository the registry will not show.
    fn denied(&self, r: &Reference, e: ClientError) -> Error {
        match e.kind {
            berth_registry::client::ErrorKind::Unauthorized
                if !e.message.contains("no basic auth credentials") =>
            {
                Error::internal(format!(
                    "pull access denied for {}, repository does not exist or may require 'docker login': {}",
                    r.familiar_name(),
                    e.message
                ))
            }
            _ => registry_error(e),
        }
    }

    /// Pulls one tag or digest; true when the tag moved (or the image is new).
    async fn pull_one(
        &self,
        repo: &Repo,
        r: &Reference,
        platform: &(String, String, Option<String>),
        explicit_platform: bool,
        out: &Sink,
    ) -> Result<bool> {
        let reference = r
            .digest()
            .map(|d| d.to_string())
            .or_else(|| r.tag().map(String::from))
            .unwrap_or_else(|| "latest".into());
        let top = repo
            .get_manifest(&reference)
            .await
            .map_err(|e| match e.kind {
                berth_registry::client::ErrorKind::NotFound => Error::not_found(format!(
                    "manifest for {} not found: {}",
                    r.familiar(),
                    e.message
                )),
                _ => self.denied(r, e),
            })?;
        let mut m = top.clone();
        if classify_manifest(&m.media_type, &m.bytes) == ManifestKind::Index {
            let idx: Index = serde_json::from_slice(&m.bytes)
                .map_err(|e| Error::internal(format!("invalid image index: {e}")))?;
            let pick = idx
                .manifests
                .iter()
                .find(|d| platform_matches(d, platform))
                .ok_or_else(|| {
                    let mut p = format!("{}/{}", platform.0, platform.1);
                    if let Some(v) = &platform.2 {
                        p.push('/');
                        p.push_str(v);
                    }
                    Error::not_found(format!(
                        "no matching manifest for {p} in the manifest list entries"
                    ))
                })?;
            m = repo
                .get_manifest(&pick.digest.to_string())
                .await
                .map_err(registry_error)?;
        }
        if classify_manifest(&m.media_type, &m.bytes) != ManifestKind::Image {
            return Err(Error::invalid(format!(
                "unsupported manifest media type {:?} for {}",
                m.media_type,
                r.familiar()
            )));
        }
        let manifest: Manifest = serde_json::from_slice(&m.bytes)
            .map_err(|e| Error::internal(format!("invalid manifest: {e}")))?;
        let config = repo
            .get_small_blob(&manifest.config.digest)
            .await
            .map_err(registry_error)?;
        let cfg: serde_json::Value = serde_json::from_slice(&config)
            .map_err(|e| Error::internal(format!("invalid image config: {e}")))?;
        let diffs: Vec<Digest> = cfg["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| a.iter().filter_map(|d| d.as_str()?.parse().ok()).collect())
            .unwrap_or_default();
        if diffs.len() != manifest.layers.len() {
            return Err(Error::internal(format!(
                "manifest for {} has {} layers but its config names {}",
                r.familiar(),
                manifest.layers.len(),
                diffs.len()
            )));
        }
        let os = cfg["os"].as_str().unwrap_or("");
        let arch = cfg["architecture"].as_str().unwrap_or("");
        // Only a platform the user asked for is enforced on a single manifest; by
        // default docker pulls it (and warns when it is run).
        if explicit_platform
            && (os, arch) != (platform.0.as_str(), platform.1.as_str())
            && !os.is_empty()
            && classify_manifest(&top.media_type, &top.bytes) == ManifestKind::Image
        {
            return Err(Error::not_found(format!(
                "image with reference {} was found but its platform ({os}/{arch}) does not match the specified platform ({}/{})",
                r.familiar(),
                platform.0,
                platform.1
            )));
        }

        let id_label = r
            .tag()
            .map(String::from)
            .unwrap_or_else(|| reference.clone());
        out(Progress::Id {
            id: id_label,
            status: format!("Pulling from {}", r.path()),
        });
        let store = self.store.clone();
        let before = blocking_resolve(&store, r).await;
        let lease = {
            let (s, c, md, d) = (
                store.clone(),
                manifest.config.digest.clone(),
                m.digest.clone(),
                diffs.clone(),
            );
            tokio::task::spawn_blocking(move || s.pull_lease(&c, &md, &d))
                .await
                .map_err(|e| Error::internal(e.to_string()))??
        };
        let chains = ImageStore::chain_ids(&diffs);
        let mut todo = Vec::new();
        for (i, l) in manifest.layers.iter().enumerate() {
            let short = l.digest.hex()[..12].to_string();
            if store.has_layer(&diffs[i], &chains[i]) {
                out(Progress::Id {
                    id: short,
                    status: "Already exists".into(),
                });
            } else {
                out(Progress::Id {
                    id: short.clone(),
                    status: "Pulling fs layer".into(),
                });
                todo.push(i);
            }
        }
        for &i in todo.iter().skip(PARALLEL) {
            out(Progress::Id {
                id: manifest.layers[i].digest.hex()[..12].to_string(),
                status: "Waiting".into(),
            });
        }
        futures_util::stream::iter(todo.into_iter().map(|i| {
            let layer = &manifest.layers[i];
            let parent = i.checked_sub(1).map(|p| chains[p].clone());
            self.pull_layer(repo, layer, &diffs[i], &chains[i], parent, out)
        }))
        .buffer_unordered(PARALLEL)
        .try_collect::<Vec<()>>()
        .await?;

        for (i, l) in manifest.layers.iter().enumerate() {
            let src = BlobSource {
                digest: l.digest.clone(),
                size: l.size.max(0) as u64,
                media_type: l.media_type.clone(),
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
            };
            let _ = store.add_blob_source(&diffs[i], src);
        }
        let pulled = PulledImage {
            config,
            config_digest: manifest.config.digest.clone(),
            manifest: m.bytes.clone(),
            manifest_digest: m.digest.clone(),
            diff_ids: diffs,
            tag: r.tag().map(|_| r.clone()),
            repo_digest: format!("{}@{}", r.familiar_name(), top.digest),
        };
        let s = store.clone();
        let id = tokio::task::spawn_blocking(move || s.commit_pulled(&pulled))
            .await
            .map_err(|e| Error::internal(e.to_string()))??;
        drop(lease);
        out(Progress::Status(format!("Digest: {}", top.digest)));
        let fresh = before.as_ref() != Some(&id);
        if fresh {
            self.events
                .image("pull", &r.familiar(), &r.familiar_name(), None);
        }
        Ok(fresh)
    }

    async fn pull_layer(
        &self,
        repo: &Repo,
        layer: &Descriptor,
        diff: &Digest,
        chain: &Digest,
        parent: Option<Digest>,
        out: &Sink,
    ) -> Result<()> {
        let short = layer.digest.hex()[..12].to_string();
        let resp = repo.get_blob(&layer.digest).await.map_err(registry_error)?;
        let total = resp.content_length().unwrap_or(layer.size.max(0) as u64);
        // The copy runs on a blocking thread that outlives this future: when the pull
        // is cancelled (its client went away, this future is dropped), the guard
        // cancels the token and the stream ends in an error, so the download stops.
        let cancel = tokio_util::sync::CancellationToken::new();
        let _stop_on_drop = cancel.clone().drop_guard();
        let stream = resp
            .bytes_stream()
            .map(|r| {
                r.map_err(|e| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e.to_string()))
            })
            .take_until(Box::pin(cancel.clone().cancelled_owned()))
            .chain(futures_util::stream::iter(
                std::iter::from_fn(move || {
                    cancel
                        .is_cancelled()
                        .then(|| Err(std::io::Error::other("pull cancelled")))
                })
                .take(1),
            ));
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
        let (store, blob, diff2, chain2) = (
            self.store.clone(),
            layer.digest.clone(),
            diff.clone(),
            chain.clone(),
        );
        let sink = out.clone();
        let id = short.clone();
        tokio::task::spawn_blocking(move || {
            let mut counting = Counting {
                inner: reader,
                n: 0,
                last: 0,
                total,
                id,
                out: sink,
            };
            store.pull_layer(&mut counting, &blob, &diff2, &chain2, parent.as_ref())
        })
        .await
        .map_err(|e| Error::internal(e.to_string()))??;
        for status in ["Verifying Checksum", "Download complete"] {
            out(Progress::Id {
                id: short.clone(),
                status: status.into(),
            });
        }
        out(Progress::Bar {
            id: short.clone(),
            status: "Extracting".into(),
            current: total,
            total,
        });
        out(Progress::Id {
            id: short,
            status: "Pull complete".into(),
        });
        Ok(())
    }
}

/// docker's last line of a pull.
fn status_line(fresh: bool, name: &str) -> String {
    if fresh {
        format!("Status: Downloaded newer image for {name}")
    } else {
        format!("Status: Image is up to date for {name}")
    }
}

async fn blocking_resolve(store: &ImageStore, r: &Reference) -> Option<Digest> {
    let (s, name) = (store.clone(), r.to_string());
    tokio::task::spawn_blocking(move || s.resolve(&name).ok().map(|i| i.id))
        .await
        .ok()
        .flatten()
}

/// Reports "Downloading" progress every 512 KiB.
struct Counting<R> {
    inner: R,
    n: u64,
    last: u64,
    total: u64,
    id: String,
    out: Sink,
}

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        if self.n - self.last >= (512 << 10) || (k == 0 && self.n != self.last) {
            self.last = self.n;
            (self.out)(Progress::Bar {
                id: self.id.clone(),
                status: "Downloading".into(),
                current: self.n,
                total: self.total,
            });
        }
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_platforms() {
        let r = pull_reference("127.0.0.1:5000/a/b", "v1").unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/a/b:v1");
        let d = Digest::sha256_of(b"x");
        let r = pull_reference("busybox", &d.to_string()).unwrap();
        assert_eq!(r.digest(), Some(&d));
        assert!(pull_reference("busybox", "").unwrap().tag().is_none());
        assert!(pull_reference("Bad Name", "x").is_err());
        assert_eq!(
            wanted_platform(Some("linux/arm64/v8")).unwrap(),
            ("linux".into(), "arm64".into(), Some("v8".into()))
        );
        assert!(wanted_platform(Some("a/b/c/d")).is_err());
    }
}

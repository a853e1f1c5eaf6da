//! `POST /images/{name}/push?tag=`: layers the registry already has are skipped
//! (HEAD) or mounted from another repository of the same registry; the others are
//! gzip-compressed on the fly (layers are stored uncompressed) and streamed in one
//! PATCH, three at a time. Each compressed digest is remembered for its layer, so a
//! re-push is a HEAD per layer and a pulled image pushes back with its digests (and,
//! when every layer is the one it was pulled with, its original manifest).

use std::io::{Read, Write};

use berth_image::{BlobSource, Reference, media_types};
use berth_registry::client::{Credentials, Repo};
use berth_stdx::Digest;
use berth_stdx::digest::Hasher;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::json;
use tokio::sync::mpsc;

use super::auth::{Progress, Registries};
use super::pull::Sink;
use crate::error::{Error, Result};

const PARALLEL: usize = 3;
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// One tag to push, resolved before the stream starts.
#[derive(Debug, Clone)]
pub struct PushTarget {
    pub reference: Reference,
    pub id: Digest,
}

#[derive(Debug, Clone)]
struct Pushed {
    digest: Digest,
    size: u64,
    media_type: String,
}

fn client_err(e: berth_registry::client::ClientError) -> Error {
    // Inside the push stream docker reports the bare cause.
    let m = e.message;
    let bare = m
        .rsplit_once("\": ")
        .filter(|_| m.ends_with("no basic auth credentials"))
        .map(|(_, b)| b.to_string())
        .unwrap_or(m);
    Error::internal(bare)
}

impl Registries {
    /// The tags a push of `name` + `tag` covers (every local tag of the repository
    /// when `tag` is empty). Docker's error when there is none.
    pub fn push_targets(&self, name: &str, tag: &str) -> Result<Vec<PushTarget>> {
        let r = Reference::parse_no_default_tag(name)?;
        let missing = || {
            Error::not_found(format!(
                "An image does not exist locally with the tag: {}",
                r.familiar_name()
            ))
        };
        if !tag.is_empty() {
            let tr = r.name_only().with_tag(tag)?;
            let img = self.store.resolve(&tr.to_string()).map_err(|_| missing())?;
            return Ok(vec![PushTarget {
                reference: tr,
                id: img.id,
            }]);
        }
        if r.tag().is_some() {
            let img = self.store.resolve(&r.to_string()).map_err(|_| missing())?;
            return Ok(vec![PushTarget {
                reference: r,
                id: img.id,
            }]);
        }
        let mut out: Vec<PushTarget> = self
            .store
            .list()
            .into_iter()
            .flat_map(|img| {
                img.repo_tags
                    .into_iter()
                    .filter(|t| t.repository() == r.repository())
                    .map(move |t| PushTarget {
                        reference: t,
                        id: img.id.clone(),
                    })
            })
            .collect();
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        if out.is_empty() {
            return Err(missing());
        }
        Ok(out)
    }

    pub async fn push(
        &self,
        targets: Vec<PushTarget>,
        creds: Credentials,
        out: Sink,
    ) -> Result<()> {
        let Some(first) = targets.first() else {
            return Ok(());
        };
        let name = first.reference.name_only();
        out(Progress::Status(format!(
            "The push refers to repository [{name}]"
        )));
        let repo = Repo::connect(&self.cfg, name.domain(), name.path(), creds, true)
            .await
            .map_err(client_err)?;
        for t in targets {
            self.push_one(&repo, &t, &out).await?;
        }
        Ok(())
    }

    async fn push_one(&self, repo: &Repo, t: &PushTarget, out: &Sink) -> Result<()> {
        let layers = self.store.push_layers(&t.id)?;
        for l in &layers {
            out(Progress::Id {
                id: l.diff_id.hex()[..12].to_string(),
                status: "Preparing".into(),
            });
        }
        let pushed: Vec<Pushed> = futures_util::stream::iter(
            layers
                .clone()
                .into_iter()
                .map(|l| self.push_layer(repo, l.diff_id, l.tar_size, out)),
        )
        .buffered(PARALLEL)
        .try_collect()
        .await?;

        let config = self.store.config_bytes(&t.id)?;
        if !repo.blob_exists(&t.id).await.map_err(client_err)? {
            let loc = repo.start_upload().await.map_err(client_err)?;
            repo.finish_upload(&loc, &t.id, config.len() as u64, config.clone().into())
                .await
                .map_err(client_err)?;
        }
        let (mt, bytes) = self.manifest_for(&t.id, config.len() as u64, &pushed);
        let tag = t.reference.tag().unwrap_or("latest").to_string();
        repo.put_manifest(&tag, &mt, &bytes)
            .await
            .map_err(client_err)?;
        let digest = Digest::sha256_of(&bytes);
        out(Progress::Status(format!(
            "{tag}: digest: {digest} size: {}",
            bytes.len()
        )));
        out(Progress::Aux {
            tag: tag.clone(),
            digest: digest.to_string(),
            size: bytes.len() as u64,
        });
        let _ = self
            .store
            .add_repo_digest(&t.id, &format!("{}@{digest}", t.reference.familiar_name()));
        self.events.image(
            "push",
            &t.reference.familiar(),
            &t.reference.familiar_name(),
            None,
        );
        Ok(())
    }

    /// The image's original manifest when every layer went up as it came down;
    /// otherwise a new Docker v2 schema 2 manifest (OCI when a layer is not gzip).
    fn manifest_for(&self, id: &Digest, config_size: u64, pushed: &[Pushed]) -> (String, Vec<u8>) {
        if let Some((_, bytes)) = self.store.manifest_bytes(id) {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let same_config = v["config"]["digest"].as_str() == Some(&id.to_string());
            let digests: Vec<&str> = v["layers"]
                .as_array()
                .map(|a| a.iter().filter_map(|l| l["digest"].as_str()).collect())
                .unwrap_or_default();
            let ours: Vec<String> = pushed.iter().map(|p| p.digest.to_string()).collect();
            if same_config && digests == ours {
                let mt = v["mediaType"]
                    .as_str()
                    .unwrap_or(media_types::OCI_MANIFEST)
                    .to_string();
                return (mt, bytes);
            }
        }
        let docker = pushed.iter().all(|p| p.media_type == DOCKER_LAYER_GZIP);
        let (mt, cmt) = if docker {
            (media_types::DOCKER_MANIFEST, media_types::DOCKER_CONFIG)
        } else {
            (media_types::OCI_MANIFEST, media_types::OCI_CONFIG)
        };
        let layers: Vec<serde_json::Value> = pushed
            .iter()
            .map(|p| {
                let lmt = if docker || p.media_type != DOCKER_LAYER_GZIP {
                    p.media_type.as_str()
                } else {
                    media_types::OCI_LAYER_GZIP
                };
                json!({"mediaType": lmt, "size": p.size, "digest": p.digest.to_string()})
            })
            .collect();
        let m = json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "config": {"mediaType": cmt, "size": config_size, "digest": id.to_string()},
            "layers": layers,
        });
        // docker marshals manifests with a three-space indent.
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"   ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        serde::Serialize::serialize(&m, &mut ser).expect("a JSON value serializes");
        (mt.to_string(), buf)
    }

    async fn push_layer(
        &self,
        repo: &Repo,
        diff: Digest,
        tar_size: u64,
        out: &Sink,
    ) -> Result<Pushed> {
        let diff = &diff;
        let short = diff.hex()[..12].to_string();
        let say = |s: String| {
            out(Progress::Id {
                id: short.clone(),
                status: s,
            })
        };
        let mut sources = self.store.blob_sources(diff);
        sources.retain(|s| s.registry == repo.registry);
        // This repository's own copy first, then mounts from others.
        sources.sort_by_key(|s| s.repository != repo.name);
        let mut location = None;
        for s in &sources {
            let found = Pushed {
                digest: s.digest.clone(),
                size: s.size,
                media_type: s.media_type.clone(),
            };
            if s.repository == repo.name {
                if repo.blob_exists(&s.digest).await.map_err(client_err)? {
                    say("Layer already exists".into());
                    return Ok(found);
                }
                continue;
            }
            match repo.mount_blob(&s.digest, &s.repository).await {
                Ok(None) => {
                    say(format!("Mounted from {}", s.repository));
                    self.remember(diff, repo, &found);
                    return Ok(found);
                }
                Ok(Some(loc)) => {
                    location = Some(loc);
                    break;
                }
                Err(e) => tracing::debug!(error = %e, "cross-repository mount failed"),
            }
        }
        let location = match location {
            Some(l) => l,
            None => repo.start_upload().await.map_err(client_err)?,
        };
        let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(8);
        let body =
            reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            }));
        let (store, d, sink, id) = (self.store.clone(), diff.clone(), out.clone(), short.clone());
        let producer = tokio::task::spawn_blocking(move || -> Result<(Digest, u64)> {
            let f = store.open_layer(&d)?;
            let mut src = Counting {
                inner: f,
                n: 0,
                last: 0,
                total: tar_size,
                id,
                out: sink,
            };
            let w = ChannelWriter {
                tx,
                buf: Vec::with_capacity(CHUNK),
                hasher: Hasher::new(berth_stdx::digest::Algorithm::Sha256),
                n: 0,
            };
            // Level 1: deterministic for the same input, and several times faster
            // than the default at a few percent of size.
            let mut gz = flate2::GzBuilder::new().write(w, flate2::Compression::fast());
            std::io::copy(&mut src, &mut gz)
                .map_err(|e| Error::internal(format!("compress layer {d}: {e}")))?;
            let mut w = gz
                .finish()
                .map_err(|e| Error::internal(format!("compress layer {d}: {e}")))?;
            w.push()
                .map_err(|e| Error::internal(format!("compress layer {d}: {e}")))?;
            Ok((w.hasher.finish(), w.n))
        });
        let sent = repo.patch_upload(&location, body).await;
        let (digest, size) = producer
            .await
            .map_err(|e| Error::internal(e.to_string()))??;
        let location = sent.map_err(client_err)?;
        repo.finish_upload(&location, &digest, 0, Vec::new().into())
            .await
            .map_err(client_err)?;
        say("Pushed".into());
        let p = Pushed {
            digest,
            size,
            media_type: DOCKER_LAYER_GZIP.into(),
        };
        self.remember(diff, repo, &p);
        Ok(p)
    }

    fn remember(&self, diff: &Digest, repo: &Repo, p: &Pushed) {
        let _ = self.store.add_blob_source(
            diff,
            BlobSource {
                digest: p.digest.clone(),
                size: p.size,
                media_type: p.media_type.clone(),
                registry: repo.registry.clone(),
                repository: repo.name.clone(),
            },
        );
    }
}

const CHUNK: usize = 256 << 10;

/// Sends compressed bytes to the request body, hashing and counting them.
struct ChannelWriter {
    tx: mpsc::Sender<std::io::Result<Bytes>>,
    buf: Vec<u8>,
    hasher: Hasher,
    n: u64,
}

impl ChannelWriter {
    fn push(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "upload ended"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.hasher.update(data);
        self.n += data.len() as u64;
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.push()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// "Pushing" progress over the uncompressed layer, every 512 KiB.
struct Counting<R> {
    inner: R,
    n: u64,
    last: u64,
    total: u64,
    id: String,
    out: Sink,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        if self.n - self.last >= (512 << 10) || (k == 0 && self.n != self.last) {
            self.last = self.n;
            (self.out)(Progress::Bar {
                id: self.id.clone(),
                status: "Pushing".into(),
                current: self.n,
                total: self.total,
            });
        }
        Ok(k)
    }
}

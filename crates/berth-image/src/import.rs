//! `docker import`: a rootfs tarball becomes a one-layer image.
//!
//! One pass over the input: decompress -> tee into the content store (the
//! uncompressed layer blob, hashed as it is written: its digest is the diff id) ->
//! unpack into a temp snapshot. Then: blob commit, snapshot commit, config blob,
//! record, tag.

use crate::change::parse_changes;
use crate::compress::decompress;
use crate::config::{ContainerConfig, History, ImageConfig, RootFs};
use crate::content::BUF_SIZE;
use crate::error::{Error, Result};
use crate::snapshot::SnapshotInfo;
use crate::store::{Image, ImageStore, ImportOptions, LayerRecord, Record};
use chrono::{SecondsFormat, Utc};
use std::io::{self, BufReader, Read, Write};

/// Reads from `r` and copies everything read into `w`.
pub(crate) struct Tee<'a, R, W> {
    pub(crate) r: R,
    pub(crate) w: &'a mut W,
}

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.w.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// The host platform in OCI terms.
pub(crate) fn host_platform() -> (String, String) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "arm" => "arm",
        other => other,
    };
    ("linux".to_string(), arch.to_string())
}

/// `os[/arch[/variant]]`
fn parse_platform(p: &str) -> Result<(String, String, Option<String>)> {
    let parts: Vec<&str> = p.split('/').collect();
    let (host_os, host_arch) = host_platform();
    match parts.as_slice() {
        [os] if !os.is_empty() => Ok((os.to_lowercase(), host_arch, None)),
        [os, arch] if !os.is_empty() && !arch.is_empty() => {
            Ok((os.to_lowercase(), arch.to_lowercase(), None))
        }
        [os, arch, v] if !os.is_empty() && !arch.is_empty() => {
            Ok((os.to_lowercase(), arch.to_lowercase(), Some(v.to_string())))
        }
        _ => {
            let _ = host_os;
            Err(Error::invalid(format!(
                "\"{p}\": unknown operating system or architecture: invalid argument"
            )))
        }
    }
}

impl ImageStore {
    /// Imports a rootfs tarball (plain, gzip, bzip2, xz, zstd) as a one-layer image.
    pub fn import(&self, src: &mut dyn Read, opts: &ImportOptions) -> Result<Image> {
        // Validate everything the user typed before reading a byte.
        let mut cc = ContainerConfig::default();
        parse_changes(&opts.changes, &mut cc)?;
        let (os, arch, variant) = match &opts.platform {
            Some(p) if !p.is_empty() => parse_platform(p)?,
            _ => {
                let (os, arch) = host_platform();
                (os, arch, None)
            }
        };
        if os != "linux" {
            return Err(Error::invalid(format!(
                "operating system is not supported: {os}"
            )));
        }

        let result = {
            let _running = self
                .inner
                .gc_guard
                .read()
                .unwrap_or_else(|e| e.into_inner());
            self.import_locked(src, opts, cc, (os, arch, variant))
        };
        if result.is_err()
            && let Err(e) = self.gc()
        {
            tracing::warn!(error = %e, "garbage collection after a failed import failed");
        }
        let id = result?;
        self.get(&id)
    }

    fn import_locked(
        &self,
        src: &mut dyn Read,
        opts: &ImportOptions,
        cc: ContainerConfig,
        (os, arch, variant): (String, String, Option<String>),
    ) -> Result<berth_stdx::Digest> {
        let inner = &self.inner;
        let mut blob = inner.content.writer()?;
        let input = decompress(BufReader::with_capacity(BUF_SIZE, src))
            .map_err(|e| Error::invalid(format!("import: {e}")))?;
        let (temp, applied) = inner.snaps.unpack(Tee {
            r: input,
            w: &mut blob,
        })?;
        let blob = blob.finish()?;
        let diff_id = blob.digest.clone();
        let tar_size = blob.size;
        blob.commit()?;
        let info = inner.snaps.commit(
            temp,
            SnapshotInfo {
                chain_id: diff_id.clone(),
                diff_id: diff_id.clone(),
                parent: None,
                size: applied.size,
            },
        )?;

        let now = Utc::now();
        let created = now.to_rfc3339_opts(SecondsFormat::Nanos, true);
        let source = if opts.source.is_empty() {
            "-"
        } else {
            &opts.source
        };
        let message = if opts.message.is_empty() {
            format!("Imported from {source}")
        } else {
            opts.message.clone()
        };
        let config = ImageConfig {
            created: Some(created.clone()),
            architecture: arch,
            os,
            variant,
            comment: Some(message.clone()),
            config: Some(cc),
            rootfs: RootFs {
                diff_ids: vec![diff_id.clone()],
                ..Default::default()
            },
            history: vec![History {
                created: Some(created),
                comment: Some(message),
                ..Default::default()
            }],
            ..Default::default()
        };
        let bytes = serde_json::to_vec(&config)
            .map_err(|e| Error::Internal(format!("encode image config: {e}")))?;
        let id = inner.content.put(&bytes)?;
        let record = Record {
            id: id.clone(),
            layers: vec![LayerRecord {
                diff_id: diff_id.clone(),
                chain_id: info.chain_id,
                blob: diff_id,
                tar_size,
                size: info.size,
            }],
            manifest_digest: None,
            repo_digests: Vec::new(),
            parent: None,
            loaded_at: now,
            last_tag_time: None,
        };
        let tags: Vec<_> = opts.tag.iter().cloned().collect();
        self.add_image(record, config, &tags)?;
        Ok(id)
    }
}

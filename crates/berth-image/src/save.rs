//! `docker save`: the Docker 25+ archive layout, which is at once an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/...`) and a classic docker archive
//! (`manifest.json` pointing into `blobs/`, plus `repositories`). Layers are written
//! as the uncompressed tars whose digests are the config's diff ids, so both
//! docker's loaders and ours verify them without decompressing.

use crate::archive::SaveItem;
use crate::config::{Descriptor, DockerManifestEntry, Index, Manifest, Platform, media_types};
use crate::content::BUF_SIZE;
use crate::error::{Error, IoContext, Result};
use crate::reference::Reference;
use crate::store::ImageStore;
use berth_stdx::Digest;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufWriter, Read, Write};

const IMAGE_NAME: &str = "io.containerd.image.name";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

struct Planned {
    id: Digest,
    tags: Vec<Reference>,
    layers: Vec<(Digest, u64)>,
    platform: Platform,
}

impl ImageStore {
    /// Writes the images named by `items` as one tar to `out`.
    pub fn save(&self, items: &[SaveItem], out: &mut dyn Write) -> Result<()> {
        let plan = self.plan_save(items)?;
        let mut tar = tar::Builder::new(BufWriter::with_capacity(BUF_SIZE, out));
        let err = |e: std::io::Error| Error::io("save: write archive", e);
        append_dir(&mut tar, "blobs/").map_err(err)?;
        append_dir(&mut tar, "blobs/sha256/").map_err(err)?;
        let mut written: HashSet<Digest> = HashSet::new();
        let mut index = Vec::new();
        let mut manifest_json = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for img in &plan {
            for (blob, _) in &img.layers {
                if written.insert(blob.clone()) {
                    let f = self.inner.content.open_blob(blob)?;
                    let len = f.metadata().ctx(|| format!("stat blob {blob}"))?.len();
                    append_file(&mut tar, &blob_name(blob), len, f).map_err(err)?;
                }
            }
            let config = self.inner.content.read_blob(&img.id)?;
            if written.insert(img.id.clone()) {
                append_file(
                    &mut tar,
                    &blob_name(&img.id),
                    config.len() as u64,
                    &config[..],
                )
                .map_err(err)?;
            }
            let manifest = Manifest {
                schema_version: 2,
                media_type: Some(media_types::OCI_MANIFEST.into()),
                config: Descriptor {
                    platform: Some(img.platform.clone()),
                    ..descriptor(media_types::OCI_CONFIG, &img.id, config.len() as u64)
                },
                layers: img
                    .layers
                    .iter()
                    .map(|(d, n)| descriptor(media_types::OCI_LAYER, d, *n))
                    .collect(),
                annotations: None,
                extra: Map::new(),
            };
            let mbytes = serde_json::to_vec(&manifest)
                .map_err(|e| Error::Internal(format!("encode manifest: {e}")))?;
            let mdigest = Digest::sha256_of(&mbytes);
            if written.insert(mdigest.clone()) {
                append_file(
                    &mut tar,
                    &blob_name(&mdigest),
                    mbytes.len() as u64,
                    &mbytes[..],
                )
                .map_err(err)?;
            }
            let mdesc = Descriptor {
                platform: Some(img.platform.clone()),
                ..descriptor(media_types::OCI_MANIFEST, &mdigest, mbytes.len() as u64)
            };
            if img.tags.is_empty() {
                index.push(mdesc.clone());
            }
            for t in &img.tags {
                let mut d = mdesc.clone();
                let mut ann = BTreeMap::new();
                ann.insert(IMAGE_NAME.to_string(), t.to_string());
                ann.insert(
                    REF_NAME.to_string(),
                    t.tag().unwrap_or("latest").to_string(),
                );
                d.annotations = Some(ann);
                index.push(d);
                if let (Some(tag), Some((top, _))) = (t.tag(), img.layers.last()) {
                    repositories
                        .entry(t.familiar_name())
                        .or_default()
                        .insert(tag.to_string(), top.hex().to_string());
                }
            }
            manifest_json.push(DockerManifestEntry {
                config: blob_name(&img.id),
                repo_tags: if img.tags.is_empty() {
                    None
                } else {
                    Some(img.tags.iter().map(Reference::familiar).collect())
                },
                layers: img.layers.iter().map(|(d, _)| blob_name(d)).collect(),
                extra: Map::new(),
            });
        }
        let index = Index {
            schema_version: 2,
            media_type: Some(media_types::OCI_INDEX.into()),
            manifests: index,
            annotations: None,
            extra: Map::new(),
        };
        let json = |v: &dyn erased::Json| v.bytes();
        let files: [(&str, Vec<u8>); 3] = [
            ("index.json", json(&index)),
            ("manifest.json", json(&manifest_json)),
            ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ];
        for (name, data) in files {
            append_file(&mut tar, name, data.len() as u64, &data[..]).map_err(err)?;
        }
        if !repositories.is_empty() {
            let data = json(&repositories);
            append_file(&mut tar, "repositories", data.len() as u64, &data[..]).map_err(err)?;
        }
        let mut w = tar.into_inner().map_err(err)?;
        w.flush().map_err(err)?;
        Ok(())
    }

    fn plan_save(&self, items: &[SaveItem]) -> Result<Vec<Planned>> {
        let st = self.read_state();
        let mut plan: Vec<Planned> = Vec::new();
        for item in items {
            let (id, tag) = match item {
                SaveItem::Tag(r) => {
                    let id = st
                        .tags
                        .get(r)
                        .cloned()
                        .ok_or_else(|| Error::NoSuchImage(r.familiar()))?;
                    (id, Some(r.clone()))
                }
                SaveItem::Id(d) => {
                    if !st.images.contains_key(d) {
                        return Err(Error::NoSuchImage(d.to_string()));
                    }
                    (d.clone(), None)
                }
            };
            let pos = match plan.iter().position(|p| p.id == id) {
                Some(p) => p,
                None => {
                    let e = &st.images[&id];
                    plan.push(Planned {
                        id: id.clone(),
                        tags: Vec::new(),
                        layers: e
                            .record
                            .layers
                            .iter()
                            .map(|l| (l.blob.clone(), l.tar_size))
                            .collect(),
                        platform: Platform {
                            architecture: e.config.architecture.clone(),
                            os: e.config.os.clone(),
                            variant: e.config.variant.clone(),
                            extra: Map::new(),
                        },
                    });
                    plan.len() - 1
                }
            };
            if let Some(t) = tag
                && !plan[pos].tags.contains(&t)
            {
                plan[pos].tags.push(t);
            }
        }
        Ok(plan)
    }
}

mod erased {
    pub(super) trait Json {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn bytes(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap_or_default()
        }
    }
}

pub(crate) fn blob_name(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algorithm().name(), d.hex())
}

fn descriptor(media_type: &str, d: &Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: d.clone(),
        size: size as i64,
        annotations: None,
        platform: None,
        extra: Map::<String, Value>::new(),
    }
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, name: &str) -> std::io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    h.set_mtime(0);
    tar.append_data(&mut h, name, std::io::empty())
}

fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    len: u64,
    data: impl Read,
) -> std::io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(len);
    h.set_mtime(0);
    tar.append_data(&mut h, name, data)
}

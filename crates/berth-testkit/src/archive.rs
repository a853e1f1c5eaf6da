//! Image archives as `docker save` writes them (Docker 1.10–24 and Docker 25+) and
//! plain OCI image layouts, built by hand so `load` is tested against formats we did
//! not produce ourselves. Options make them subtly broken for the error-path tests.

use crate::tarw::{Header, Kind, TarWriter};
use berth_stdx::digest::{Algorithm, Hasher};
use serde_json::{Value, json};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// A layer's content: bytes in memory or a (large) tar file streamed from disk.
#[derive(Clone)]
pub enum LayerSrc {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl LayerSrc {
    fn len(&self) -> u64 {
        match self {
            LayerSrc::Bytes(b) => b.len() as u64,
            LayerSrc::File(p) => std::fs::metadata(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .len(),
        }
    }

    fn reader(&self) -> Box<dyn Read + '_> {
        match self {
            LayerSrc::Bytes(b) => Box::new(&b[..]),
            LayerSrc::File(p) => Box::new(io::BufReader::with_capacity(
                1 << 20,
                std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
            )),
        }
    }

    /// `sha256:<hex>` of the content.
    pub fn digest(&self) -> String {
        let mut h = Hasher::new(Algorithm::Sha256);
        let mut r = self.reader();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = r.read(&mut buf).expect("read layer");
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        h.finish().to_string()
    }
}

/// One image to put in an archive.
#[derive(Clone)]
pub struct TestImage {
    pub layers: Vec<LayerSrc>,
    /// e.g. `["busybox:latest"]`; may be empty (an untagged image).
    pub repo_tags: Vec<String>,
    /// The `config` object of the image config (Cmd, Env, Labels, ...).
    pub config: Value,
    /// RFC 3339 creation time; fixed by default so CREATED columns are stable.
    pub created: String,
}

impl TestImage {
    pub fn new(tags: &[&str], layers: Vec<Vec<u8>>) -> TestImage {
        TestImage {
            layers: layers.into_iter().map(LayerSrc::Bytes).collect(),
            repo_tags: tags.iter().map(|s| s.to_string()).collect(),
            config: json!({"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]}),
            created: "2020-01-01T00:00:00Z".to_string(),
        }
    }

    pub fn with_config(mut self, config: Value) -> TestImage {
        self.config = config;
        self
    }

    pub fn with_created(mut self, created: &str) -> TestImage {
        self.created = created.to_string();
        self
    }
}

/// Archive flavours `load` must accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Docker 1.10–24: `<id>/layer.tar`, `<hex>.json`, `manifest.json`, `repositories`.
    DockerLegacy,
    /// Docker 25+: an OCI layout (`blobs/sha256`, `index.json`, `oci-layout`) plus `manifest.json`.
    Docker25,
    /// A plain OCI image layout (no `manifest.json`), names in index annotations.
    Oci,
}

/// Ways to break an otherwise valid archive.
#[derive(Debug, Clone, Copy, Default)]
pub struct Breakage {
    /// The manifest names a layer file the archive does not contain.
    pub omit_first_layer: bool,
    /// The config's `rootfs.diff_ids[0]` does not match the layer's content.
    pub wrong_diff_id: bool,
}

/// What was written: image ids (`sha256:` + config digest) and diff ids per image.
#[derive(Debug, Clone)]
pub struct ArchiveInfo {
    pub path: PathBuf,
    pub image_ids: Vec<String>,
    pub diff_ids: Vec<Vec<String>>,
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap_or(d)
}

fn sha(data: &[u8]) -> String {
    berth_stdx::Digest::sha256_of(data).to_string()
}

/// The image config JSON for `img` with the given diff ids.
pub fn config_json(img: &TestImage, diff_ids: &[String]) -> Vec<u8> {
    let history: Vec<Value> = diff_ids
        .iter()
        .map(|d| json!({"created": img.created, "created_by": format!("/bin/sh -c #(nop) ADD file:{} in / ", &hex(d)[..12])}))
        .collect();
    let v = json!({
        "architecture": "amd64",
        "config": img.config,
        "created": img.created,
        "history": history,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    serde_json::to_vec(&v).expect("serialize config")
}

fn split_tag(t: &str) -> (String, String) {
    match t.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => (r.to_string(), tag.to_string()),
        _ => (t.to_string(), "latest".to_string()),
    }
}

fn full_name(t: &str) -> String {
    let (repo, tag) = split_tag(t);
    let first = repo.split('/').next().unwrap_or("");
    let has_domain =
        repo.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let repo = if has_domain {
        repo
    } else if repo.contains('/') {
        format!("docker.io/{repo}")
    } else {
        format!("docker.io/library/{repo}")
    };
    format!("{repo}:{tag}")
}

struct Out<W: Write> {
    t: TarWriter<W>,
}

impl<W: Write> Out<W> {
    fn bytes(&mut self, path: &str, data: &[u8]) {
        self.t.file(path, 0o644, data).expect("write archive");
    }
    fn layer(&mut self, path: &str, l: &LayerSrc) {
        let mut h = Header::new(path, Kind::File);
        h.size = l.len();
        self.t.append(&h, &mut l.reader()).expect("write archive");
    }
    fn dir(&mut self, path: &str) {
        self.t.dir(path, 0o755).expect("write archive");
    }
}

/// Write `images` as one archive at `path` in `format`, broken as `breakage` says.
pub fn write_archive(
    path: &Path,
    images: &[TestImage],
    format: Format,
    breakage: Breakage,
) -> ArchiveInfo {
    let f =
        std::fs::File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let mut out = Out {
        t: TarWriter::new(BufWriter::with_capacity(1 << 20, f)),
    };
    let mut manifest_json = Vec::new();
    let mut repositories = serde_json::Map::new();
    let mut index_manifests = Vec::new();
    let mut info = ArchiveInfo {
        path: path.to_path_buf(),
        image_ids: Vec::new(),
        diff_ids: Vec::new(),
    };
    let mut written = std::collections::HashSet::new();
    if format != Format::DockerLegacy {
        out.dir("blobs/");
        out.dir("blobs/sha256/");
    }
    for img in images {
        let layer_digests: Vec<String> = img.layers.iter().map(LayerSrc::digest).collect();
        let mut diff_ids = layer_digests.clone();
        if breakage.wrong_diff_id && !diff_ids.is_empty() {
            diff_ids[0] = sha(b"not the layer you are looking for");
        }
        let config = config_json(img, &diff_ids);
        let config_digest = sha(&config);
        info.image_ids.push(config_digest.clone());
        info.diff_ids.push(diff_ids.clone());
        let mut layer_paths = Vec::new();
        let mut parent = String::new();
        for (i, (l, d)) in img.layers.iter().zip(&layer_digests).enumerate() {
            let omit = breakage.omit_first_layer && i == 0;
            let p = match format {
                Format::DockerLegacy => {
                    // Legacy v1 ids: any stable hex works; derive one from the chain.
                    let id = hex(&sha(format!("{parent}{d}{i}").as_bytes())).to_string();
                    if !omit && written.insert(id.clone()) {
                        out.dir(&format!("{id}/"));
                        out.bytes(&format!("{id}/VERSION"), b"1.0");
                        let mut v1 = json!({"id": id, "created": img.created, "os": "linux"});
                        if !parent.is_empty() {
                            v1["parent"] = json!(parent);
                        }
                        out.bytes(&format!("{id}/json"), &serde_json::to_vec(&v1).unwrap());
                        out.layer(&format!("{id}/layer.tar"), l);
                    }
                    parent = id.clone();
                    format!("{id}/layer.tar")
                }
                _ => {
                    let p = format!("blobs/sha256/{}", hex(d));
                    if !omit && written.insert(p.clone()) {
                        out.layer(&p, l);
                    }
                    p
                }
            };
            layer_paths.push(p);
        }
        let config_path = match format {
            Format::DockerLegacy => format!("{}.json", hex(&config_digest)),
            _ => format!("blobs/sha256/{}", hex(&config_digest)),
        };
        if written.insert(config_path.clone()) {
            out.bytes(&config_path, &config);
        }
        if format != Format::DockerLegacy {
            let layers: Vec<Value> = img
                .layers
                .iter()
                .zip(&layer_digests)
                .map(|(l, d)| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": l.len()}))
                .collect();
            let manifest = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
                "layers": layers,
            }))
            .unwrap();
            let md = sha(&manifest);
            let mp = format!("blobs/sha256/{}", hex(&md));
            if written.insert(mp.clone()) {
                out.bytes(&mp, &manifest);
            }
            let desc = |annotations: Value| json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len(), "annotations": annotations});
            if img.repo_tags.is_empty() {
                index_manifests.push(json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": manifest.len()}));
            }
            for t in &img.repo_tags {
                let (_, tag) = split_tag(t);
                index_manifests.push(desc(json!({
                    "io.containerd.image.name": full_name(t),
                    "org.opencontainers.image.ref.name": tag,
                })));
            }
        }
        manifest_json.push(json!({"Config": config_path, "RepoTags": if img.repo_tags.is_empty() { Value::Null } else { json!(img.repo_tags) }, "Layers": layer_paths}));
        for t in &img.repo_tags {
            let (repo, tag) = split_tag(t);
            let top = layer_paths.last().map(|p| {
                p.trim_end_matches("/layer.tar")
                    .trim_start_matches("blobs/sha256/")
                    .to_string()
            });
            let entry = repositories.entry(repo).or_insert_with(|| json!({}));
            entry[tag] = json!(top.unwrap_or_default());
        }
    }
    if format != Format::DockerLegacy {
        out.bytes("index.json", &serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index_manifests})).unwrap());
        out.bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    }
    if format != Format::Oci {
        out.bytes(
            "manifest.json",
            &serde_json::to_vec(&manifest_json).unwrap(),
        );
        if !repositories.is_empty() {
            out.bytes("repositories", &serde_json::to_vec(&repositories).unwrap());
        }
    }
    out.t
        .finish()
        .expect("finish archive")
        .flush()
        .expect("flush archive");
    info
}

/// The entry names of a tar file (or tar bytes), in order.
pub fn tar_entry_names(data: &[u8]) -> Vec<String> {
    let mut ar = tar::Archive::new(data);
    ar.entries()
        .expect("read tar")
        .map(|e| {
            let e = e.expect("read tar entry");
            String::from_utf8_lossy(&e.path_bytes())
                .trim_start_matches("./")
                .to_string()
        })
        .collect()
}

/// The content of one entry of a tar (bytes), if present.
pub fn tar_entry(data: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut ar = tar::Archive::new(data);
    for e in ar.entries().expect("read tar") {
        let mut e = e.expect("read tar entry");
        if String::from_utf8_lossy(&e.path_bytes()).trim_start_matches("./") == name {
            let mut v = Vec::new();
            e.read_to_end(&mut v).expect("read tar entry data");
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Layer;

    fn img() -> TestImage {
        TestImage::new(
            &["example/app:v1"],
            vec![
                Layer::new().file("a", "1").build(),
                Layer::new().file("b", "2").build(),
            ],
        )
    }

    #[test]
    fn docker25_archive_has_both_manifests_and_consistent_ids() {
        let d = tempfile::tempdir().unwrap();
        let info = write_archive(
            &d.path().join("a.tar"),
            &[img()],
            Format::Docker25,
            Breakage::default(),
        );
        let data = std::fs::read(&info.path).unwrap();
        let names = tar_entry_names(&data);
        for n in ["index.json", "oci-layout", "manifest.json", "repositories"] {
            assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
        }
        let m: Value = serde_json::from_slice(&tar_entry(&data, "manifest.json").unwrap()).unwrap();
        let cfg_path = m[0]["Config"].as_str().unwrap();
        let cfg = tar_entry(&data, cfg_path).unwrap();
        assert_eq!(sha(&cfg), info.image_ids[0]);
        let index: Value =
            serde_json::from_slice(&tar_entry(&data, "index.json").unwrap()).unwrap();
        assert_eq!(
            index["manifests"][0]["annotations"]["io.containerd.image.name"],
            "docker.io/example/app:v1"
        );
    }

    #[test]
    fn breakage_options_break_what_they_say() {
        let d = tempfile::tempdir().unwrap();
        let info = write_archive(
            &d.path().join("b.tar"),
            &[img()],
            Format::DockerLegacy,
            Breakage {
                omit_first_layer: true,
                wrong_diff_id: true,
            },
        );
        let data = std::fs::read(&info.path).unwrap();
        let m: Value = serde_json::from_slice(&tar_entry(&data, "manifest.json").unwrap()).unwrap();
        let first = m[0]["Layers"][0].as_str().unwrap();
        assert!(tar_entry(&data, first).is_none());
        let l0 = LayerSrc::Bytes(Layer::new().file("a", "1").build()).digest();
        assert_ne!(info.diff_ids[0][0], l0);
    }
}

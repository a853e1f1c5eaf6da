//! Mount parsing, in one place: `HostConfig.Binds` (`src:dst[:opts]`),
//! `HostConfig.Mounts`, the image's and the request's `Config.Volumes` (anonymous
//! volumes) and `HostConfig.VolumesFrom`, with docker's precedence and messages.
//!
//! [`plan`] validates everything and creates nothing (a bad request leaves no trace);
//! `ContainerManager::realize_mounts` then creates the volumes and copies
//! `--volumes-from`; the resolved [`MountPoint`]s are kept in the container's record.
//! At start, `setup_mounts` turns them into OCI mounts (and runs copy-up); at exit,
//! `teardown_mounts` releases them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::volumes::{self, ANONYMOUS_LABEL, CreateRequest};

/// A resolved mount of a container, as stored in its record (docker's `MountPoint`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The volume's name (volumes only).
    #[serde(default)]
    pub name: String,
    /// The host path (for a volume, its data dir).
    #[serde(default)]
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub driver: String,
    /// As the user wrote it (`ro`, `z`, `rw,rshared`), or docker's default.
    #[serde(default)]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    #[serde(default)]
    pub propagation: String,
    /// Copy the image's content into the volume while it is empty.
    #[serde(default)]
    pub copy_data: bool,
    /// Created without a name: `rm -v` removes it.
    #[serde(default)]
    pub anonymous: bool,
    /// `--mount type=bind`: a missing source is an error, never created.
    #[serde(default)]
    pub skip_create: bool,
    /// tmpfs data options (`size=1m,mode=1770`).
    #[serde(default)]
    pub tmpfs: String,
    /// `bind-recursive=disabled`: submounts of the source are not carried over.
    #[serde(default)]
    pub non_recursive: bool,
    /// `bind-recursive=writable`: read-only at the top only (docker 24's behaviour).
    #[serde(default)]
    pub ro_non_recursive: bool,
    /// `volume-subpath=`: the directory of the volume mounted instead of its root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subpath: String,
}

/// A volume the plan needs (named, or anonymous when `name` is empty).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct VolumeWant {
    pub name: String,
    pub driver: String,
    pub options: Option<BTreeMap<String, String>>,
    pub labels: Option<BTreeMap<String, String>>,
}

/// One mount before volumes exist.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Planned {
    pub mp: MountPoint,
    /// Some for `volume` mounts.
    pub volume: Option<VolumeWant>,
}

#[derive(Debug, Default, PartialEq)]
pub(crate) struct Plan {
    /// `--volumes-from`: container and whether its mounts stay writable.
    pub volumes_from: Vec<(String, bool)>,
    pub mounts: Vec<Planned>,
}

fn invalid_spec(raw: &str) -> String {
    format!("invalid volume specification: '{raw}'")
}

fn mount_config(kind: &str, msg: impl std::fmt::Display) -> String {
    format!("invalid mount config for type {kind:?}: {msg}")
}

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "slave", "rslave", "shared", "rshared",
];

/// docker's `ValidMountMode` for the third part of a bind.
fn valid_mode(mode: &str) -> bool {
    if mode.is_empty() {
        return true;
    }
    let (mut rw, mut label, mut prop, mut copy, mut consistency) = (0, 0, 0, 0, 0);
    for o in mode.split(',') {
        match o {
            "rw" | "ro" => rw += 1,
            "z" | "Z" => label += 1,
            "nocopy" => copy += 1,
            "consistent" | "cached" | "delegated" => consistency += 1,
            p if PROPAGATIONS.contains(&p) => prop += 1,
            _ => return false,
        }
    }
    rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && consistency <= 1
}

fn mode_has(mode: &str, opt: &str) -> bool {
    mode.split(',').any(|o| o == opt)
}

fn mode_propagation(mode: &str) -> Option<&str> {
    mode.split(',').find(|o| PROPAGATIONS.contains(o))
}

/// `path.Clean` for absolute container paths.
fn clean(p: &str) -> String {
    berth_stdx::rootpath::clean_absolute(p)
}

/// The checks every target gets: not `/`, absolute.
fn check_target(target: &str) -> std::result::Result<(), String> {
    if target.is_empty() {
        return Err("field Target must not be empty".into());
    }
    if clean(target) == "/" {
        return Err("invalid specification: destination can't be '/'".into());
    }
    if !target.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{target}' mount path must be absolute"
        ));
    }
    Ok(())
}

/// The fields of a `mount.Mount` berth reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ApiMount {
    #[serde(rename = "Type")]
    kind: String,
    source: String,
    target: String,
    read_only: bool,
    bind_options: Option<ApiBindOptions>,
    volume_options: Option<ApiVolumeOptions>,
    tmpfs_options: Option<ApiTmpfsOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ApiBindOptions {
    propagation: String,
    create_mountpoint: bool,
    non_recursive: bool,
    read_only_non_recursive: bool,
    read_only_force_recursive: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ApiVolumeOptions {
    no_copy: bool,
    labels: Option<BTreeMap<String, String>>,
    driver_config: Option<ApiDriver>,
    subpath: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ApiDriver {
    name: String,
    options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ApiTmpfsOptions {
    size_bytes: i64,
    mode: u32,
}

/// docker's `ConvertTmpfsOptions`: `ro`, `mode=<octal>`, `size=<n>[kmg]`.
fn tmpfs_data(o: Option<&ApiTmpfsOptions>, read_only: bool) -> String {
    let mut out = Vec::new();
    if read_only {
        out.push("ro".to_string());
    }
    if let Some(o) = o {
        if o.mode != 0 {
            out.push(format!("mode={:o}", o.mode));
        }
        if o.size_bytes != 0 {
            let mut s = (o.size_bytes, "");
            for (suffix, div) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
                if o.size_bytes % div == 0 {
                    s = (o.size_bytes / div, suffix);
                    break;
                }
            }
            out.push(format!("size={}{}", s.0, s.1));
        }
    }
    out.join(",")
}

fn check_volume(name: &str, driver: &str) -> Result<()> {
    if !driver.is_empty() && driver != volumes::LOCAL {
        return Err(Error::not_found(format!(
            "create {name}: error looking up volume plugin {driver}: plugin \"{driver}\" not found"
        )));
    }
    if !name.is_empty() {
        volumes::validate_name(name)
            .map_err(|e| Error::invalid(format!("create {name}: {}", e.message)))?;
    }
    Ok(())
}

/// `HostConfig.Mounts[i]`: docker's `ParseMountSpec` with the bind source check.
fn parse_api_mount(raw: &Value, bind_must_exist: bool) -> Result<Planned> {
    let m: ApiMount = serde_json::from_value(raw.clone())
        .map_err(|e| Error::invalid(format!("invalid mount config: {e}")))?;
    let kind = m.kind.as_str();
    let fail = |msg: String| Error::invalid(mount_config(kind, msg));
    if !matches!(kind, "bind" | "volume" | "tmpfs") {
        return Err(fail("mount type unknown".into()));
    }
    check_target(&m.target).map_err(fail)?;
    let mut mp = MountPoint {
        kind: kind.into(),
        destination: clean(&m.target),
        rw: !m.read_only,
        ..Default::default()
    };
    let mut volume = None;
    match kind {
        "bind" => {
            if m.source.is_empty() {
                return Err(fail("field Source must not be empty".into()));
            }
            let prop = m
                .bind_options
                .as_ref()
                .map(|b| b.propagation.as_str())
                .unwrap_or("");
            if !prop.is_empty() && !PROPAGATIONS.contains(&prop) {
                return Err(fail(format!("invalid propagation mode: {prop}")));
            }
            if m.volume_options.is_some() {
                return Err(fail("field VolumeOptions must not be specified".into()));
            }
            if m.tmpfs_options.is_some() {
                return Err(fail("field TmpfsOptions must not be specified".into()));
            }
            if !m.source.starts_with('/') {
                return Err(fail(format!(
                    "invalid mount path: '{}' mount path must be absolute",
                    m.source
                )));
            }
            let create = m.bind_options.as_ref().is_some_and(|b| b.create_mountpoint);
            if bind_must_exist && !create && !Path::new(&m.source).exists() {
                return Err(fail(format!(
                    "bind source path does not exist: {}",
                    m.source
                )));
            }
            let b = m.bind_options.as_ref();
            let flag = |f: fn(&ApiBindOptions) -> bool| b.is_some_and(f);
            // moby's wording for these (checked at start there, at create here).
            if flag(|b| b.read_only_non_recursive) && !m.read_only {
                return Err(Error::invalid(
                    "mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive",
                ));
            }
            if flag(|b| b.read_only_force_recursive) && !m.read_only {
                return Err(Error::invalid(
                    "mount options conflict: !ReadOnly && BindOptions.ReadOnlyForceRecursive",
                ));
            }
            mp.source = clean(&m.source);
            mp.propagation = if prop.is_empty() { "rprivate" } else { prop }.into();
            mp.skip_create = !create;
            mp.non_recursive = flag(|b| b.non_recursive);
            mp.ro_non_recursive = flag(|b| b.read_only_non_recursive);
        }
        "volume" => {
            if m.bind_options.is_some() {
                return Err(fail("field BindOptions must not be specified".into()));
            }
            if m.tmpfs_options.is_some() {
                return Err(fail("field TmpfsOptions must not be specified".into()));
            }
            let vo = m.volume_options.unwrap_or_default();
            if !vo.subpath.is_empty() {
                if m.source.is_empty() {
                    return Err(fail(
                        "must not set Subpath when using anonymous volumes".into(),
                    ));
                }
                if !volumes::subpath::is_local(&vo.subpath) {
                    return Err(fail(
                        "subpath must be a relative path within the volume".into(),
                    ));
                }
                mp.subpath = vo.subpath.clone();
            }
            if m.read_only && m.source.is_empty() {
                return Err(fail(
                    "must not set ReadOnly mode when using anonymous volumes".into(),
                ));
            }
            let driver = vo.driver_config.as_ref().map(|d| d.name.clone());
            check_volume(&m.source, driver.as_deref().unwrap_or(""))?;
            let mut labels = vo.labels;
            if m.source.is_empty() {
                labels
                    .get_or_insert_with(BTreeMap::new)
                    .insert(ANONYMOUS_LABEL.into(), String::new());
            }
            mp.copy_data = !vo.no_copy;
            mp.mode = "z".into();
            mp.name = m.source.clone();
            mp.anonymous = m.source.is_empty();
            volume = Some(VolumeWant {
                name: m.source.clone(),
                driver: driver.unwrap_or_default(),
                options: vo.driver_config.and_then(|d| d.options),
                labels,
            });
        }
        _ => {
            if !m.source.is_empty() {
                return Err(fail("field Source must not be specified".into()));
            }
            if m.bind_options.is_some() {
                return Err(fail("field BindOptions must not be specified".into()));
            }
            mp.tmpfs = tmpfs_data(m.tmpfs_options.as_ref(), m.read_only);
        }
    }
    Ok(Planned { mp, volume })
}

/// `HostConfig.Binds[i]`: docker's `ParseMountRaw` (`src:dst[:mode]`).
pub(crate) fn parse_bind(raw: &str, volume_driver: &str) -> Result<Planned> {
    let parts: Vec<&str> = raw.splitn(4, ':').collect();
    let bad = || Error::invalid(invalid_spec(raw));
    if parts[0].is_empty() {
        return Err(bad());
    }
    let (source, target, mode) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        [src, dst] => {
            if valid_mode(dst) {
                return Err(bad());
            }
            (*src, *dst, "")
        }
        [src, dst, mode] => (*src, *dst, *mode),
        _ => return Err(bad()),
    };
    if !valid_mode(mode) {
        return Err(Error::invalid(format!("invalid mode: {mode}")));
    }
    let kind = if source.starts_with('/') {
        "bind"
    } else {
        "volume"
    };
    let wrap = |msg: String| {
        Error::invalid(format!(
            "{}: {}",
            invalid_spec(raw),
            mount_config(kind, msg)
        ))
    };
    check_target(target).map_err(wrap)?;
    let prop = mode_propagation(mode);
    let nocopy = mode_has(mode, "nocopy");
    let mut mp = MountPoint {
        kind: kind.into(),
        destination: clean(target),
        rw: !mode_has(mode, "ro"),
        mode: mode.into(),
        ..Default::default()
    };
    let mut volume = None;
    if kind == "bind" {
        if nocopy {
            return Err(wrap("field VolumeOptions must not be specified".into()));
        }
        mp.source = clean(source);
        mp.propagation = prop.unwrap_or("rprivate").into();
    } else {
        if prop.is_some() {
            return Err(wrap("field BindOptions must not be specified".into()));
        }
        if source.is_empty() && !mp.rw {
            return Err(wrap(
                "must not set ReadOnly mode when using anonymous volumes".into(),
            ));
        }
        check_volume(source, volume_driver)?;
        mp.copy_data = !nocopy;
        mp.anonymous = source.is_empty();
        mp.name = source.into();
        if mp.mode.is_empty() {
            mp.mode = "z".into();
        }
        volume = Some(VolumeWant {
            name: source.into(),
            driver: volume_driver.into(),
            labels: source
                .is_empty()
                .then(|| [(ANONYMOUS_LABEL.to_string(), String::new())].into()),
            ..Default::default()
        });
    }
    Ok(Planned { mp, volume })
}

/// `HostConfig.VolumesFrom[i]`: `CONTAINER[:ro|rw]`.
pub(crate) fn parse_volumes_from(spec: &str) -> Result<(String, bool)> {
    if spec.is_empty() {
        return Err(Error::invalid(
            "volumes-from specification cannot be an empty string",
        ));
    }
    let (id, mode) = spec.split_once(':').unwrap_or((spec, ""));
    if mode.is_empty() {
        return Ok((id.into(), true));
    }
    if !valid_mode(mode) || mode_propagation(mode).is_some() || mode_has(mode, "nocopy") {
        return Err(Error::invalid(format!("invalid mode: {mode}")));
    }
    Ok((id.into(), !mode_has(mode, "ro")))
}

fn strs(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Validates every mount of a create request, in docker's order: volumes-from, then
/// binds, then mounts (a destination twice is an error), then `Config.Volumes` (skipped
/// where something is already mounted). Touches nothing but `stat` of bind sources.
pub(crate) fn plan(config: &Map<String, Value>, hc: &Map<String, Value>) -> Result<Plan> {
    let mut out = Plan::default();
    for v in strs(hc.get("VolumesFrom")) {
        out.volumes_from.push(parse_volumes_from(&v)?);
    }
    let driver = hc.get("VolumeDriver").and_then(Value::as_str).unwrap_or("");
    let tmpfs: Vec<String> = hc
        .get("Tmpfs")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(|k| clean(k)).collect())
        .unwrap_or_default();
    let dup = |d: &str| Error::invalid(format!("Duplicate mount point: {d}"));
    for b in strs(hc.get("Binds")) {
        let p = parse_bind(&b, driver)?;
        if out
            .mounts
            .iter()
            .any(|m| m.mp.destination == p.mp.destination)
            || tmpfs.contains(&p.mp.destination)
        {
            return Err(dup(&p.mp.destination));
        }
        out.mounts.push(p);
    }
    if let Some(ms) = hc.get("Mounts").and_then(Value::as_array) {
        for m in ms {
            let p = parse_api_mount(m, true)?;
            if out
                .mounts
                .iter()
                .any(|x| x.mp.destination == p.mp.destination)
            {
                let t = m.get("Target").and_then(Value::as_str).unwrap_or("");
                return Err(dup(t));
            }
            out.mounts.push(p);
        }
    }
    if let Some(vols) = config.get("Volumes").and_then(Value::as_object) {
        for spec in vols.keys() {
            let dest = clean(spec);
            if out.mounts.iter().any(|m| m.mp.destination == dest) || tmpfs.contains(&dest) {
                continue;
            }
            check_target(spec).map_err(|e| {
                Error::invalid(format!(
                    "{}: {}",
                    invalid_spec(spec),
                    mount_config("volume", e)
                ))
            })?;
            out.mounts.push(Planned {
                mp: MountPoint {
                    kind: "volume".into(),
                    destination: dest,
                    rw: true,
                    copy_data: true,
                    anonymous: true,
                    ..Default::default()
                },
                volume: Some(VolumeWant {
                    driver: driver.into(),
                    labels: Some([(ANONYMOUS_LABEL.to_string(), String::new())].into()),
                    ..Default::default()
                }),
            });
        }
    }
    Ok(out)
}

/// The image's `Volumes` join the request's (docker's config merge).
pub(crate) fn merge_image_volumes(
    c: &mut Map<String, Value>,
    img: Option<&BTreeMap<String, Map<String, Value>>>,
) {
    let Some(img) = img.filter(|m| !m.is_empty()) else {
        return;
    };
    let mut vols = c
        .get("Volumes")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for k in img.keys() {
        vols.entry(k.clone()).or_insert_with(|| json!({}));
    }
    c.insert("Volumes".into(), Value::Object(vols));
}

/// Sorted so a parent is mounted before what is mounted inside it (docker's order).
pub(crate) fn sort(mps: &mut [MountPoint]) {
    mps.sort_by(|a, b| {
        let depth = |m: &MountPoint| m.destination.split('/').filter(|s| !s.is_empty()).count();
        depth(a)
            .cmp(&depth(b))
            .then_with(|| a.destination.cmp(&b.destination))
    });
}

/// `Mounts` of `inspect` and `ps` in docker's shape.
pub(crate) fn api_mounts(mps: &[MountPoint]) -> Value {
    Value::Array(
        mps.iter()
            .map(|m| {
                let mut o = Map::new();
                o.insert("Type".into(), json!(m.kind));
                if !m.name.is_empty() {
                    o.insert("Name".into(), json!(m.name));
                }
                o.insert("Source".into(), json!(m.source));
                o.insert("Destination".into(), json!(m.destination));
                if !m.driver.is_empty() {
                    o.insert("Driver".into(), json!(m.driver));
                }
                o.insert("Mode".into(), json!(m.mode));
                o.insert("RW".into(), json!(m.rw));
                o.insert("Propagation".into(), json!(m.propagation));
                Value::Object(o)
            })
            .collect(),
    )
}

impl Planned {
    /// What the volume store is asked to create for this mount.
    pub(crate) fn create_request(&self) -> Option<CreateRequest> {
        self.volume.as_ref().map(|v| CreateRequest {
            name: v.name.clone(),
            driver: v.driver.clone(),
            options: v.options.clone(),
            labels: v.labels.clone(),
        })
    }
}

#[cfg(test)]
#[path = "mounts_tests.rs"]
mod tests;

//! COPY and ADD: which files, where they land, their checksum (the cache key), and
//! the layer tar that carries them.
//!
//! Security: every source path comes from the Dockerfile and is resolved with
//! `resolve_in_root` inside the source root (the build context or a stage's files),
//! so `../x` and a symlink such as `ctx/link -> /etc` can never name a host file;
//! inside a copied directory symlinks are copied as links, never followed.
//! Destinations are resolved inside the image's tree only to follow the image's own
//! symlinked directories; the files are written later by the image store's layer
//! apply, which is confined itself.

use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use berth_stdx::rootpath::resolve_in_root;
use sha2::{Digest as _, Sha256};

use crate::error::{BuildError, Result};

/// Where one source lands.
#[derive(Debug, Clone)]
enum Src {
    /// A file, directory or symlink under the source root (real path).
    Path(PathBuf),
    /// A heredoc body.
    Bytes(Vec<u8>),
    /// ADD of a local tar archive: extracted into the destination directory.
    Archive(PathBuf),
    /// ADD of a URL: the downloaded file and its mtime (`Last-Modified`, else 0).
    Remote(PathBuf, u64),
}

/// An `ADD <url>` source, already downloaded by the backend.
pub(crate) struct Remote {
    pub(crate) url: String,
    pub(crate) file: PathBuf,
    pub(crate) mtime: u64,
}

pub(crate) fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The file name an `ADD <url> dir/` gives: the URL path's last segment.
fn url_base(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let path = path.split_once('/').map(|(_, p)| p).unwrap_or("");
    // `.` and `..` name no file: a hostile URL must not climb out of the destination.
    match path.rsplit('/').find(|c| !c.is_empty()) {
        Some("." | "..") | None => String::new(),
        Some(c) => c.to_string(),
    }
}

#[derive(Debug, Clone)]
struct Item {
    src: Src,
    /// Destination relative to the image root, no leading `/`.
    dest: String,
}

/// What a COPY/ADD will write.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    items: Vec<Item>,
    /// Missing parent directories of the destinations, to create.
    parents: Vec<String>,
    owner: (u32, u32),
    chmod: Option<u32>,
    /// `file:<hex>`, `dir:<hex>` or `multi:<hex>`, as docker's history shows.
    pub(crate) checksum: String,
}

/// The inputs of [`plan`].
pub(crate) struct Request<'a> {
    pub(crate) src_root: &'a Path,
    pub(crate) sources: &'a [String],
    pub(crate) heredocs: &'a [(String, Vec<u8>)],
    /// Absolute destination (workdir applied), trailing `/` kept.
    pub(crate) dest: &'a str,
    pub(crate) image_root: &'a Path,
    pub(crate) owner: (u32, u32),
    pub(crate) chmod: Option<u32>,
    /// ADD: extract local archives.
    pub(crate) extract: bool,
    /// ADD: the downloaded URL sources.
    pub(crate) remote: &'a [Remote],
    pub(crate) cmd: &'a str,
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Cleans a source path relative to its root (`/a/../b` -> `b`, never above the root).
fn clean_rel(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

/// docker's refusal of a source that climbs out of its root (`../x`, `a/../../x`):
/// the path as docker shows it (one leading `/` and a `./` dropped), when it does.
/// Only the message: sources are resolved with `resolve_in_root` whatever this says.
fn outside_root(src: &str) -> Option<&str> {
    let shown = src
        .strip_prefix('/')
        .filter(|s| !s.is_empty())
        .unwrap_or(src);
    let shown = shown.strip_prefix("./").unwrap_or(shown);
    let mut depth = 0i64;
    for c in src.split('/') {
        match c {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
        if depth < 0 {
            return Some(shown);
        }
    }
    None
}

/// Expands a wildcard source into the matching paths (relative), sorted.
fn glob_sources(root: &Path, pattern: &str) -> Result<Vec<String>> {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let mut found = vec![String::new()];
    for part in parts {
        let mut next = Vec::new();
        for base in &found {
            if !has_glob(part) {
                next.push(join_rel(base, part));
                continue;
            }
            // Listing a directory of the source root: resolved inside it first.
            let dir = resolve_in_root(root, Path::new(base))
                .map_err(|e| BuildError::io("resolve source", e))?;
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut names: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| crate::dockerignore::glob(part, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| join_rel(base, &n)));
        }
        found = next;
    }
    Ok(found
        .into_iter()
        .filter(|p| {
            resolve_in_root(root, Path::new(p))
                .map(|r| r.symlink_metadata().is_ok())
                .unwrap_or(false)
        })
        .collect())
}

fn join_rel(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

/// Resolves sources and destinations and computes the checksum.
pub(crate) fn plan(req: &Request<'_>) -> Result<Plan> {
    let mut resolved: Vec<(String, PathBuf)> = Vec::new();
    let mut remotes: Vec<(String, &Remote)> = Vec::new();
    for s in req.sources {
        if is_url(s) {
            let Some(r) = req.remote.iter().find(|r| r.url == *s) else {
                return Err(BuildError::Invalid(format!(
                    "{} failed: source can't be a URL for {}",
                    req.cmd, req.cmd
                )));
            };
            let base = url_base(s);
            if base.is_empty() && req.dest.ends_with('/') {
                return Err(BuildError::Invalid(format!(
                    "{} failed: cannot determine filename from url: {s}",
                    req.cmd
                )));
            }
            remotes.push((base, r));
            continue;
        }
        let rel = clean_rel(s);
        if !has_glob(&rel)
            && let Some(shown) = outside_root(s)
        {
            return Err(BuildError::Invalid(format!(
                "{} failed: forbidden path outside the build context: {shown} ()",
                req.cmd
            )));
        }
        let names = if has_glob(&rel) {
            // docker matches a pattern against the paths inside the root: one that
            // climbs out (`../*.txt`) matches nothing.
            if outside_root(s).is_some() {
                Vec::new()
            } else {
                glob_sources(req.src_root, &rel)?
            }
        } else {
            vec![rel.clone()]
        };
        for n in names {
            // Resolved inside the source root: symlinks (even the last component)
            // are followed as if the root were `/`.
            let real = resolve_in_root(req.src_root, Path::new(&n))
                .map_err(|e| BuildError::io("resolve source", e))?;
            if real.symlink_metadata().is_err() {
                return Err(BuildError::NotFound(format!(
                    "{} failed: file not found in build context or excluded by .dockerignore: stat {n}: file does not exist",
                    req.cmd
                )));
            }
            resolved.push((n, real));
        }
    }
    let total = resolved.len() + remotes.len() + req.heredocs.len();
    if total == 0 {
        return Err(BuildError::Invalid(format!(
            "{} failed: no source files were specified",
            req.cmd
        )));
    }
    let dest_slash = req.dest.ends_with('/');
    // docker counts the sources after wildcards and asks for the slash even when
    // the destination is a directory already.
    if total > 1 && !dest_slash {
        return Err(BuildError::Invalid(format!(
            "When using {} with more than one source file, the destination must be a directory and end with a /",
            req.cmd
        )));
    }
    let dest_is_dir = dest_slash || is_image_dir(req.image_root, req.dest);
    let dest_clean = clean_rel(req.dest);
    let mut items = Vec::new();
    for (name, real) in &resolved {
        let md = real
            .symlink_metadata()
            .map_err(|e| BuildError::io("stat source", e))?;
        if md.is_dir() {
            items.push(Item {
                src: Src::Path(real.clone()),
                dest: image_path(req.image_root, &dest_clean),
            });
        } else if req.extract && md.is_file() && is_archive(real) {
            items.push(Item {
                src: Src::Archive(real.clone()),
                dest: image_path(req.image_root, &dest_clean),
            });
        } else {
            let base = name.rsplit('/').next().unwrap_or(name);
            let d = if dest_is_dir {
                join_rel(&dest_clean, base)
            } else {
                dest_clean.clone()
            };
            items.push(Item {
                src: Src::Path(real.clone()),
                dest: image_path(req.image_root, &d),
            });
        }
    }
    for (name, r) in &remotes {
        let d = if dest_is_dir {
            join_rel(&dest_clean, name)
        } else {
            dest_clean.clone()
        };
        items.push(Item {
            src: Src::Remote(r.file.clone(), r.mtime),
            dest: image_path(req.image_root, &d),
        });
    }
    for (name, body) in req.heredocs {
        let d = if dest_is_dir {
            join_rel(&dest_clean, name)
        } else {
            dest_clean.clone()
        };
        items.push(Item {
            src: Src::Bytes(body.clone()),
            dest: image_path(req.image_root, &d),
        });
    }
    let parents = missing_parents(req.image_root, &items);
    let mut plan = Plan {
        items,
        parents,
        owner: req.owner,
        chmod: req.chmod,
        checksum: String::new(),
    };
    let kind = if total > 1 {
        "multi"
    } else if matches!(&plan.items[0].src, Src::Path(p) if p.is_dir()) {
        "dir"
    } else {
        "file"
    };
    let mut h = Sha256::new();
    write_entries(&plan, &mut Hashing(&mut h))?;
    plan.checksum = format!("{kind}:{}", hex::encode(h.finalize()));
    Ok(plan)
}

/// The destination `d` (relative, cleaned) with the image's symlinked directories
/// followed, relative to the image root.
fn image_path(image_root: &Path, d: &str) -> String {
    let (dir, base) = match d.rsplit_once('/') {
        Some((a, b)) => (a, b),
        None => ("", d),
    };
    let resolved = resolve_in_root(image_root, Path::new(dir))
        .ok()
        .and_then(|p| p.strip_prefix(image_root).ok().map(Path::to_path_buf))
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_else(|| dir.to_string());
    join_rel(&resolved, base)
}

fn is_image_dir(image_root: &Path, dest: &str) -> bool {
    resolve_in_root(image_root, Path::new(&clean_rel(dest)))
        .map(|p| p.is_dir())
        .unwrap_or(false)
}

fn missing_parents(image_root: &Path, items: &[Item]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for it in items {
        let mut dirs: Vec<&str> = it.dest.split('/').collect();
        // A directory source lands *as* its destination directory.
        if !matches!(&it.src, Src::Path(p) if p.is_dir()) && !matches!(it.src, Src::Archive(_)) {
            dirs.pop();
        }
        let mut cur = String::new();
        for d in dirs.iter().filter(|d| !d.is_empty()) {
            cur = join_rel(&cur, d);
            let exists = resolve_in_root(image_root, Path::new(&cur))
                .map(|p| p.symlink_metadata().is_ok())
                .unwrap_or(false);
            if !exists && !out.contains(&cur) {
                out.push(cur.clone());
            }
        }
    }
    out
}

/// Writes the layer tar of a plan.
pub(crate) fn write_layer(plan: &Plan, out: impl Write) -> Result<()> {
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    write_entries(plan, &mut TarSink(&mut b))?;
    b.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(|e| BuildError::io("write layer", e))
}

/// Where entries go: a tar, or a hash (same walk, so the checksum covers exactly
/// what the layer holds, minus mtimes).
trait Sink {
    fn dir(&mut self, path: &str, mode: u32, owner: (u32, u32), mtime: u64) -> io::Result<()>;
    fn file(
        &mut self,
        path: &str,
        mode: u32,
        owner: (u32, u32),
        mtime: u64,
        size: u64,
        r: &mut dyn Read,
    ) -> io::Result<()>;
    fn symlink(
        &mut self,
        path: &str,
        target: &Path,
        owner: (u32, u32),
        mtime: u64,
    ) -> io::Result<()>;
}

struct Hashing<'a>(&'a mut Sha256);

impl Sink for Hashing<'_> {
    fn dir(&mut self, path: &str, mode: u32, owner: (u32, u32), _: u64) -> io::Result<()> {
        self.0
            .update(format!("d\0{path}\0{mode:o}\0{}\0{}\0", owner.0, owner.1));
        Ok(())
    }
    fn file(
        &mut self,
        path: &str,
        mode: u32,
        owner: (u32, u32),
        _: u64,
        size: u64,
        r: &mut dyn Read,
    ) -> io::Result<()> {
        self.0.update(format!(
            "f\0{path}\0{mode:o}\0{}\0{}\0{size}\0",
            owner.0, owner.1
        ));
        let mut h = Sha256::new();
        io::copy(r, &mut HashWriter(&mut h))?;
        self.0.update(h.finalize());
        Ok(())
    }
    fn symlink(&mut self, path: &str, target: &Path, owner: (u32, u32), _: u64) -> io::Result<()> {
        self.0.update(format!(
            "l\0{path}\0{}\0{}\0{}\0",
            target.display(),
            owner.0,
            owner.1
        ));
        Ok(())
    }
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct TarSink<'a, W: Write>(&'a mut tar::Builder<W>);

fn header(
    kind: tar::EntryType,
    mode: u32,
    owner: (u32, u32),
    mtime: u64,
    size: u64,
) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(owner.0.into());
    h.set_gid(owner.1.into());
    h.set_mtime(mtime);
    h.set_size(size);
    h
}

impl<W: Write> Sink for TarSink<'_, W> {
    fn dir(&mut self, path: &str, mode: u32, owner: (u32, u32), mtime: u64) -> io::Result<()> {
        let mut h = header(tar::EntryType::Directory, mode, owner, mtime, 0);
        self.0.append_data(&mut h, format!("{path}/"), io::empty())
    }
    fn file(
        &mut self,
        path: &str,
        mode: u32,
        owner: (u32, u32),
        mtime: u64,
        size: u64,
        r: &mut dyn Read,
    ) -> io::Result<()> {
        let mut h = header(tar::EntryType::Regular, mode, owner, mtime, size);
        // A file that changes size while being read would corrupt the tar: cap it.
        self.0.append_data(&mut h, path, r.take(size))
    }
    fn symlink(
        &mut self,
        path: &str,
        target: &Path,
        owner: (u32, u32),
        mtime: u64,
    ) -> io::Result<()> {
        let mut h = header(tar::EntryType::Symlink, 0o777, owner, mtime, 0);
        self.0.append_link(&mut h, path, target)
    }
}

fn mtime_of(md: &std::fs::Metadata) -> u64 {
    md.mtime().max(0) as u64
}

fn write_entries(plan: &Plan, sink: &mut dyn Sink) -> Result<()> {
    let io_err = |e| BuildError::io("copy", e);
    for p in &plan.parents {
        sink.dir(p, 0o755, plan.owner, 0).map_err(io_err)?;
    }
    for it in &plan.items {
        match &it.src {
            Src::Bytes(b) => {
                let mode = plan.chmod.unwrap_or(0o644);
                sink.file(&it.dest, mode, plan.owner, 0, b.len() as u64, &mut &b[..])
                    .map_err(io_err)?;
            }
            Src::Path(p) => walk(plan, p, &it.dest, sink, true).map_err(io_err)?,
            Src::Archive(p) => extract_archive(plan, p, &it.dest, sink)?,
            Src::Remote(p, mtime) => {
                // docker stores a downloaded file with mode 0600.
                let mode = plan.chmod.unwrap_or(0o600);
                let mut f = std::fs::File::open(p).map_err(io_err)?;
                let size = f.metadata().map_err(io_err)?.len();
                sink.file(&it.dest, mode, plan.owner, *mtime, size, &mut f)
                    .map_err(io_err)?;
            }
        }
    }
    Ok(())
}

/// Copies `src` (never following symlinks) to `dest`; a top-level directory's
/// contents go into `dest`.
fn walk(plan: &Plan, src: &Path, dest: &str, sink: &mut dyn Sink, top: bool) -> io::Result<()> {
    let md = src.symlink_metadata()?;
    let perm = |m: u32| plan.chmod.unwrap_or(m & 0o7777);
    let ft = md.file_type();
    if ft.is_dir() {
        // The top directory's contents land in the destination, which exists or is
        // among the created parents.
        if !top {
            sink.dir(
                dest,
                perm(md.permissions().mode()),
                plan.owner,
                mtime_of(&md),
            )?;
        }
        let mut names: Vec<_> = std::fs::read_dir(src)?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for n in names {
            let child_dest = join_rel(dest, &n.to_string_lossy());
            walk(plan, &src.join(&n), &child_dest, sink, false)?;
        }
    } else if ft.is_symlink() {
        let target = std::fs::read_link(src)?;
        sink.symlink(dest, &target, plan.owner, mtime_of(&md))?;
    } else if ft.is_file() {
        let mut f = std::fs::File::open(src)?;
        sink.file(
            dest,
            perm(md.permissions().mode()),
            plan.owner,
            mtime_of(&md),
            md.len(),
            &mut f,
        )?;
    }
    // Sockets, fifos and devices in a build context are skipped, as docker does.
    Ok(())
}

/// Whether a file is a (possibly compressed) tar archive.
fn is_archive(p: &Path) -> bool {
    let Ok(f) = std::fs::File::open(p) else {
        return false;
    };
    let Ok(mut r) = berth_image::decompress(io::BufReader::new(f)) else {
        return false;
    };
    let mut block = [0u8; 512];
    if r.read_exact(&mut block).is_err() {
        return false;
    }
    if &block[257..262] == b"ustar" {
        return true;
    }
    // A pre-POSIX tar: the header checksum must add up.
    let stored = std::str::from_utf8(&block[148..156])
        .ok()
        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|s| u64::from_str_radix(s, 8).ok());
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    stored == Some(sum) && block[0] != 0
}

/// ADD of a local archive: its entries, cleaned and placed under `dest`. Names are
/// cleaned lexically here; the layer apply then refuses anything escaping the root.
fn extract_archive(plan: &Plan, p: &Path, dest: &str, sink: &mut dyn Sink) -> Result<()> {
    let bad = |e: io::Error| BuildError::Invalid(format!("extract {}: {e}", p.display()));
    let f = std::fs::File::open(p).map_err(bad)?;
    let r = berth_image::decompress(io::BufReader::new(f)).map_err(bad)?;
    let mut ar = tar::Archive::new(r);
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let raw = String::from_utf8_lossy(&e.path_bytes()).to_string();
        let rel = clean_rel(&raw);
        if rel.is_empty() {
            continue;
        }
        let path = join_rel(dest, &rel);
        let h = e.header().clone();
        let mode = h.mode().unwrap_or(0o644);
        let owner = (h.uid().unwrap_or(0) as u32, h.gid().unwrap_or(0) as u32);
        let mtime = h.mtime().unwrap_or(0);
        match h.entry_type() {
            tar::EntryType::Directory => sink.dir(&path, mode, owner, mtime).map_err(bad)?,
            tar::EntryType::Symlink => {
                let target = e.link_name().map_err(bad)?.unwrap_or_default().into_owned();
                sink.symlink(&path, &target, owner, mtime).map_err(bad)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = h.size().unwrap_or(0);
                sink.file(&path, mode, owner, mtime, size, &mut e)
                    .map_err(bad)?;
            }
            // Hard links, devices and fifos in an ADDed archive are skipped.
            _ => {}
        }
    }
    let _ = plan;
    Ok(())
}

/// `--chown=user[:group]` against the image's `/etc/passwd` and `/etc/group`.
pub(crate) fn parse_chown(image_root: &Path, spec: &str) -> Result<(u32, u32)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, g),
        None => (spec, spec),
    };
    // docker's wording: "can't find uid for user X: no such user: X", and the same
    // with gid/group.
    let err = |what: &str, kind: &str, name: &str| {
        BuildError::Invalid(format!(
            "unable to convert uid/gid chown string to host mapping: can't find {what} for {kind} {name}: no such {kind}: {name}"
        ))
    };
    let lookup = |file: &str, name: &str| -> Option<(u32, u32)> {
        // The image's own files, resolved inside its root.
        let p = resolve_in_root(image_root, Path::new(file)).ok()?;
        let text = std::fs::read_to_string(p).ok()?;
        text.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() >= 3 && f[0] == name {
                let id = f[2].parse().ok()?;
                let gid = f.get(3).and_then(|g| g.parse().ok()).unwrap_or(id);
                Some((id, gid))
            } else {
                None
            }
        })
    };
    let uid = match user.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            lookup("/etc/passwd", user)
                .ok_or_else(|| err("uid", "user", user))?
                .0
        }
    };
    let gid = match group.parse::<u32>() {
        Ok(n) => n,
        Err(_) => lookup("/etc/group", group)
            .map(|g| g.0)
            .ok_or_else(|| err("gid", "group", group))?,
    };
    Ok((uid, gid))
}

/// `--chmod=755` (octal only, as the classic builder accepts).
pub(crate) fn parse_chmod(s: &str) -> Result<u32> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| BuildError::Invalid(format!("invalid chmod parameter: {s}")))
}

#[path = "copy_fast.rs"]
mod fast;
pub(crate) use fast::fast_key_for;
#[cfg(test)]
pub(crate) use fast::{FastRequest, fast_key};

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;

//! `cp` in both directions over `/containers/{id}/archive` (HEAD to stat, GET to
//! read a tar, PUT to write one), with docker's path rules: an existing directory
//! receives the source under its own name, a missing destination takes the
//! source's content under the new name, `SRC/.` copies a directory's contents,
//! and `-` means a tar stream on stdin/stdout.
//!
//! Extraction is `tar::Entry::unpack_in`, which refuses entries that would land
//! outside the target directory (`..`, absolute paths), so a hostile archive from
//! the daemon cannot write elsewhere on the host.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use clap::Args;
use serde_json::Value;

use super::Ctx;
use crate::usage::Arity;

#[derive(Debug, Args)]
pub(crate) struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long = "archive")]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    pub follow_link: bool,
    /// Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "SRC_PATH", hide = true)]
    pub args: Vec<String>,
}

/// `ctr:path` → (Some(ctr), path); a local path (absolute or with no colon before a
/// slash) → (None, path).
fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.contains('/') => (Some(c), p),
        _ => (None, arg),
    }
}

fn archive_path(ctr: &str) -> String {
    format!("/containers/{}/archive", berth_client::path_escape(ctr))
}

/// The `X-Docker-Container-Path-Stat` header, decoded.
fn path_stat(resp: &berth_client::Response) -> Option<Value> {
    let h = resp.header("x-docker-container-path-stat")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(h)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(h))
        .ok()?;
    serde_json::from_slice(&raw).ok()
}

fn is_dir_mode(stat: &Value) -> bool {
    // Go's os.ModeDir is the top bit of a 32-bit FileMode.
    stat["mode"].as_u64().is_some_and(|m| m & (1 << 31) != 0)
}

pub(crate) async fn cp(ctx: &Ctx, a: CpArgs) -> Result<()> {
    ctx.args(Arity::Exact(2), a.args.len())?;
    let (src_ctr, src) = split_cp_arg(&a.args[0]);
    let (dst_ctr, dst) = split_cp_arg(&a.args[1]);
    if src.is_empty() {
        anyhow::bail!("source can not be empty");
    }
    if dst.is_empty() {
        anyhow::bail!("destination can not be empty");
    }
    let quiet = a.quiet || !crate::tty::is_terminal(1);
    match (src_ctr, dst_ctr) {
        (Some(c), None) => copy_from(ctx, c, src, dst, quiet).await,
        (None, Some(c)) => copy_to(ctx, src, c, dst, a.archive, a.follow_link, quiet).await,
        (Some(_), Some(_)) => anyhow::bail!("copying between containers is not supported"),
        (None, None) => anyhow::bail!(
            "must specify at least one container source\n\nUsage:  berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH\n\nRun 'berth cp --help' for more information"
        ),
    }
}

async fn copy_from(ctx: &Ctx, ctr: &str, src: &str, dst: &str, quiet: bool) -> Result<()> {
    let client = ctx.client().await?;
    let resp = client
        .get(&archive_path(ctr))
        .query("path", src)
        .send()
        .await?;
    if dst == "-" {
        let mut stdout = tokio::io::stdout();
        resp.copy_to(&mut stdout).await?;
        return Ok(());
    }
    let stat = path_stat(&resp).unwrap_or(Value::Null);
    let src_is_dir = is_dir_mode(&stat);
    let contents_only = src.ends_with("/.");
    let body = resp.bytes().await?;
    let size = body.len();
    let dst_path = PathBuf::from(dst);
    let dst_meta = std::fs::metadata(&dst_path).ok();
    let dst_owned = dst.to_string();
    tokio::task::spawn_blocking(move || -> Result<()> {
        match dst_meta {
            Some(m) if m.is_dir() => {
                if contents_only {
                    extract_renamed(&body, &dst_path, None, true)
                } else {
                    let mut ar = tar::Archive::new(&body[..]);
                    ar.set_preserve_permissions(true);
                    for e in ar.entries()? {
                        let mut e = e?;
                        e.unpack_in(&dst_path)?;
                    }
                    Ok(())
                }
            }
            Some(_) if src_is_dir => {
                anyhow::bail!("cannot copy a directory to a file: {dst_owned}")
            }
            _ => {
                if dst_owned.ends_with('/') && !src_is_dir {
                    anyhow::bail!("destination \"{dst_owned}\" must be a directory");
                }
                extract_renamed(&body, &dst_path, Some(()), false)
            }
        }
    })
    .await??;
    if !quiet {
        eprintln!(
            "Successfully copied {} to {dst}",
            crate::format::units::human_size_prec(size as f64, 3)
        );
    }
    Ok(())
}

/// Extracts into a temporary directory beside the destination, then moves the
/// archive's top entry to `dst` (rename) or, for `contents`, its children into it.
fn extract_renamed(body: &[u8], dst: &Path, _rename: Option<()>, contents: bool) -> Result<()> {
    let parent = match dst.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !parent.is_dir() {
        anyhow::bail!(
            "invalid output path: directory {:?} does not exist",
            parent.display().to_string()
        );
    }
    let tmp = parent.join(format!(".berth-cp-{}", berth_stdx::random_id()));
    std::fs::create_dir(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    let result = (|| -> Result<()> {
        let mut ar = tar::Archive::new(body);
        ar.set_preserve_permissions(true);
        for e in ar.entries()? {
            let mut e = e?;
            e.unpack_in(&tmp)?;
        }
        let top = std::fs::read_dir(&tmp)?
            .next()
            .transpose()?
            .map(|e| e.path())
            .ok_or_else(|| anyhow::anyhow!("empty archive"))?;
        if contents {
            for child in std::fs::read_dir(&top)? {
                let child = child?;
                let target = dst.join(child.file_name());
                replace(&child.path(), &target)?;
            }
        } else {
            replace(&top, dst)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn replace(from: &Path, to: &Path) -> Result<()> {
    if let Ok(m) = std::fs::symlink_metadata(to)
        && !m.is_dir()
    {
        std::fs::remove_file(to)?;
    }
    std::fs::rename(from, to).with_context(|| format!("rename to {}", to.display()))
}

async fn copy_to(
    ctx: &Ctx,
    src: &str,
    ctr: &str,
    dst: &str,
    archive: bool,
    follow: bool,
    quiet: bool,
) -> Result<()> {
    let client = ctx.client().await?;
    let head = client
        .head(&archive_path(ctr))
        .query("path", dst)
        .send()
        .await;
    let dst_stat = match head {
        Ok(r) => Some(path_stat(&r).unwrap_or(Value::Null)),
        Err(e) if e.status() == Some(404) => None,
        Err(e) => return Err(e.into()),
    };
    let dst_is_dir = dst_stat.as_ref().is_some_and(is_dir_mode);
    if dst_stat.is_none() && dst.ends_with('/') {
        anyhow::bail!("no such directory");
    }
    let put = |path: String, body: Vec<u8>| {
        client
            .request(http::Method::PUT, &archive_path(ctr))
            .query_opt("copyUIDGID", archive.then_some("true"))
            .query("noOverwriteDirNonDir", "true")
            .query("path", path)
            .body(berth_client::Body::Bytes(body.into()))
            .header("content-type", "text/plain")
            .send()
    };
    if src == "-" {
        if dst_stat.is_some() && !dst_is_dir {
            anyhow::bail!("destination \"{ctr}:{dst}\" must be a directory");
        }
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
        put(dst.to_string(), buf).await?;
        return Ok(());
    }
    let src_path = PathBuf::from(src);
    let meta = if follow {
        std::fs::metadata(&src_path)
    } else {
        std::fs::symlink_metadata(&src_path)
    }
    .map_err(|e| {
        anyhow::anyhow!(
            "{}",
            super::container_parse::go_io_error(&e, src).replacen("open ", "lstat ", 1)
        )
    })?;
    let base = src_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    let (target_dir, name) = if dst_is_dir {
        (dst.to_string(), base)
    } else {
        if meta.is_dir() && dst_stat.is_some() {
            anyhow::bail!("cannot copy a directory to a file: {ctr}:{dst}");
        }
        let d = Path::new(dst.trim_end_matches('/'));
        let parent = d
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(base);
        (parent, name)
    };
    let src_clone = src_path.clone();
    let body = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(follow);
        if meta.is_dir() {
            b.append_dir_all(&name, &src_clone)?;
        } else {
            b.append_path_with_name(&src_clone, &name)?;
        }
        Ok(b.into_inner()?)
    })
    .await??;
    let size = body.len();
    put(target_dir, body).await?;
    if !quiet {
        eprintln!(
            "Successfully copied {} to {ctr}:{dst}",
            crate::format::units::human_size_prec(size as f64, 3)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_args_split_like_docker() {
        assert_eq!(
            split_cp_arg("c1:/etc/hostname"),
            (Some("c1"), "/etc/hostname")
        );
        assert_eq!(split_cp_arg("/tmp/a:b"), (None, "/tmp/a:b"));
        assert_eq!(split_cp_arg("./x:y"), (None, "./x:y"));
        assert_eq!(split_cp_arg("-"), (None, "-"));
        assert_eq!(split_cp_arg("dir/x:y"), (None, "dir/x:y"));
    }

    #[test]
    fn extraction_stays_inside_the_target() {
        // A hostile archive entry `../escape` must not be written outside.
        let dir = tempfile::tempdir().unwrap();
        let dst = dir.path().join("out");
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "top", &b"x"[..]).unwrap();
        let mut h2 = tar::Header::new_gnu();
        h2.set_size(1);
        h2.set_mode(0o644);
        // Write the raw name so the builder does not reject it.
        h2.as_old_mut().name[..9].copy_from_slice(b"../escape");
        h2.set_cksum();
        b.append(&h2, &b"y"[..]).unwrap();
        let data = b.into_inner().unwrap();
        let _ = extract_renamed(&data, &dst, Some(()), false);
        assert!(!dir.path().join("escape").exists());
        assert_eq!(std::fs::read(&dst).unwrap(), b"x");
    }
}

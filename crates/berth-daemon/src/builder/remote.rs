//! `POST /build?remote=`: a context the daemon fetches itself — a git repository
//! (`git clone --depth 1`, with `#ref:subdir`) or an http(s) URL of a tarball
//! (plain or compressed) or of a bare Dockerfile.

use std::io::Read;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::Error;

/// Whether `url` names a git repository (docker's rules).
pub(crate) fn is_git(url: &str) -> bool {
    url.starts_with("git://")
        || url.starts_with("git@")
        || url.starts_with("github.com/")
        || ((url.starts_with("http://") || url.starts_with("https://"))
            && (url.contains(".git#") || url.ends_with(".git")))
}

/// Fetches `url` under `scratch`; returns the context directory.
pub(crate) async fn fetch(url: &str, scratch: &Path, dockerfile: &str) -> Result<PathBuf, Error> {
    if is_git(url) {
        return clone(url, scratch).await;
    }
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::invalid(format!(
            "unable to prepare context: unsupported remote context {url:?}"
        )));
    }
    let resp =
        reqwest::Client::new().get(url).send().await.map_err(|e| {
            Error::invalid(format!("unable to prepare context: Get \"{url}\": {e}"))
        })?;
    if !resp.status().is_success() {
        return Err(Error::invalid(format!(
            "unable to prepare context: failed to GET {url} with status {}",
            resp.status()
        )));
    }
    let file = scratch.join("remote");
    let mut f = tokio::fs::File::create(&file)
        .await
        .map_err(|e| Error::internal(format!("create {}: {e}", file.display())))?;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| Error::invalid(format!("unable to prepare context: {url}: {e}")))?;
        f.write_all(&chunk)
            .await
            .map_err(|e| Error::internal(format!("write {}: {e}", file.display())))?;
    }
    f.flush().await.ok();
    drop(f);
    let ctx = scratch.join("context");
    let file2 = file.clone();
    let ctx2 = ctx.clone();
    let name = dockerfile.to_string();
    crate::server::blocking(move || unpack(&file2, &ctx2, &name)).await?;
    Ok(ctx)
}

/// A downloaded archive is extracted; anything else is the Dockerfile itself.
fn unpack(file: &Path, ctx: &Path, dockerfile: &str) -> Result<(), Error> {
    let open = || {
        std::fs::File::open(file)
            .map_err(|e| Error::internal(format!("open {}: {e}", file.display())))
    };
    let mut head = Vec::new();
    berth_image::decompress(std::io::BufReader::new(open()?))
        .and_then(|r| r.take(512).read_to_end(&mut head))
        .map_err(|e| Error::invalid(format!("unable to prepare context: {e}")))?;
    let compressed = {
        let mut raw = [0u8; 6];
        let n = open()?.read(&mut raw).unwrap_or(0);
        raw[..n].starts_with(&[0x1f, 0x8b])
            || raw[..n].starts_with(b"BZh")
            || raw[..n].starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
            || raw[..n].starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
    };
    if compressed || (head.len() >= 262 && &head[257..262] == b"ustar") {
        let r = berth_image::decompress(std::io::BufReader::new(open()?))
            .map_err(|e| Error::invalid(format!("unable to prepare context: {e}")))?;
        berth_build::extract_context(r, ctx)
            .map_err(|e| Error::invalid(format!("extract build context: {e}")))?;
        return Ok(());
    }
    // The Dockerfile's name is resolved inside the context dir.
    let dest = berth_stdx::rootpath::resolve_in_root(ctx, Path::new(dockerfile))
        .map_err(|e| Error::invalid(format!("resolve dockerfile: {e}")))?;
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p).map_err(|e| Error::internal(e.to_string()))?;
    }
    std::fs::copy(file, &dest).map_err(|e| Error::internal(format!("write dockerfile: {e}")))?;
    Ok(())
}

async fn clone(url: &str, scratch: &Path) -> Result<PathBuf, Error> {
    let (repo, frag) = url.split_once('#').unwrap_or((url, ""));
    let (reference, subdir) = frag.split_once(':').unwrap_or((frag, ""));
    let repo = if repo.starts_with("github.com/") {
        format!("https://{repo}")
    } else {
        repo.to_string()
    };
    let dir = scratch.join("git");
    let mut cmd = tokio::process::Command::new("git");
    cmd.args(["clone", "--depth", "1", "--recurse-submodules"]);
    if !reference.is_empty() {
        cmd.args(["--branch", reference]);
    }
    cmd.arg("--").arg(&repo).arg(&dir);
    let o = cmd
        .output()
        .await
        .map_err(|e| Error::invalid(format!("unable to prepare context: git: {e}")))?;
    if !o.status.success() {
        return Err(Error::invalid(format!(
            "unable to prepare context: unable to 'git clone' to temporary context directory: error fetching: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    // The subdirectory is resolved inside the checkout.
    berth_stdx::rootpath::resolve_in_root(&dir, Path::new(subdir))
        .map_err(|e| Error::invalid(format!("unable to prepare context: {e}")))
}

/// `ADD <url>`: downloads `url` to `dest` (a scratch file the build owns); returns
/// the `Last-Modified` time in seconds, when the server sent a valid one.
pub(crate) async fn download(url: &str, dest: &Path) -> Result<Option<u64>, String> {
    let resp = reqwest::Client::new()
        .get(url)
        .send()
        .await
        .map_err(|e| format!("Get \"{url}\": {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("failed to GET {url} with status {}", resp.status()));
    }
    let mtime = resp
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| chrono::DateTime::parse_from_rfc2822(s).ok())
        .map(|t| t.timestamp().max(0) as u64);
    let mut f = tokio::fs::File::create(dest)
        .await
        .map_err(|e| format!("create {}: {e}", dest.display()))?;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("{url}: {e}"))?;
        f.write_all(&chunk)
            .await
            .map_err(|e| format!("write {}: {e}", dest.display()))?;
    }
    f.flush()
        .await
        .map_err(|e| format!("write {}: {e}", dest.display()))?;
    Ok(mtime)
}

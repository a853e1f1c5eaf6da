//! `POST /build?remote=`: a context the daemon fetches itself — a git repository
//! (a shallow fetch of `#ref`, context `:subdir`, through `berth_build::git`) or an
//! http(s) URL of a tarball (plain or compressed) or of a bare Dockerfile.

use std::io::Read;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::Error;

/// The context of a `remote=` build, fetched under `scratch` (the build's scratch
/// dir, removed with it): a git repository is cloned there (called on a blocking
/// thread; `cancelled` is polled while git runs), anything else is downloaded.
pub(crate) fn prepare(
    url: &str,
    scratch: &Path,
    dockerfile: &str,
    rt: &tokio::runtime::Handle,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<PathBuf, Error> {
    if !berth_build::git::is_git_url(url) {
        return rt.block_on(fetch(url, scratch, dockerfile));
    }
    let repo = berth_build::git::parse(url).map_err(Error::invalid)?;
    let root = scratch.join("git");
    std::fs::create_dir_all(&root)
        .map_err(|e| Error::internal(format!("create {}: {e}", root.display())))?;
    // The daemon's own git config and credentials are never used for a build.
    let opts = berth_build::git::GitOptions {
        isolate: true,
        cancelled: Some(cancelled),
    };
    berth_build::git::clone(&repo, &root, opts).map_err(Error::invalid)
}

/// Downloads `url` under `scratch`; returns the context directory.
async fn fetch(url: &str, scratch: &Path, dockerfile: &str) -> Result<PathBuf, Error> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::invalid(format!(
            "remoteURL ({url}) could not be recognized as URL"
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

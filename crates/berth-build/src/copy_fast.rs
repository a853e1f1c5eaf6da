//! COPY/ADD cache keys from the context's index (see `context_spool`): a rebuild
//! whose COPY steps all hit the cache mounts no image and extracts no context.
//!
//! The key covers everything the step's result depends on: the parent image id
//! (which fixes the image's files, so how the destination resolves through its
//! symlinks and what a `--chown` name maps to), the expanded source words (wildcards
//! and names decide where files land), the destination as written and with the
//! workdir applied, `--chown`/`--chmod` as written, heredoc bodies, and of every
//! copied entry its path, kind, mode, size, content digest and link target (never
//! mtimes, never the context's owners, which the extraction does not keep). Whenever
//! the index cannot answer exactly as the directory walk would (a symlink on a
//! source's path, a `..`, a missing source, a URL, `--from`), there is no fast key
//! and the step takes the full path.

use berth_stdx::Digest;
use sha2::{Digest as _, Sha256};

use super::{clean_rel, has_glob, is_url, join_rel};
use crate::cache::Cache;
use crate::context::SpooledContext;
use crate::error::Result;
use crate::instruction::Copy;
use crate::stage::StageState;

/// A step's key and the index keys of its sources (what a miss must extract).
pub(crate) struct FastKey {
    pub(crate) key: String,
    pub(crate) sources: Vec<Vec<u8>>,
}

impl FastKey {
    /// Extracts what the step copies (only that) before the full path runs.
    pub(crate) fn extract(&self, spool: &SpooledContext) -> std::io::Result<()> {
        spool.extract_sources(&self.sources)
    }
}

/// What a COPY/ADD asks for, expanded.
pub(crate) struct FastRequest<'a> {
    pub(crate) cmd: &'a str,
    pub(crate) sources: &'a [String],
    pub(crate) heredocs: &'a [(String, Vec<u8>)],
    /// The destination as written (it is in the history line).
    pub(crate) dest: &'a str,
    /// The destination with the workdir applied.
    pub(crate) dest_abs: &'a str,
    pub(crate) chown: Option<&'a str>,
    pub(crate) chmod: Option<&'a str>,
}

/// [`fast_key`] for a COPY/ADD instruction of a stage; `ex` expands a word (the
/// `--chown`/`--chmod` values, as the full path expands them).
#[allow(clippy::too_many_arguments)]
pub(crate) fn fast_key_for(
    spool: &SpooledContext,
    st: &StageState,
    c: &Copy,
    cmd: &str,
    sources: &[String],
    heredocs: &[(String, Vec<u8>)],
    dest: &str,
    ex: impl Fn(&str) -> Result<String>,
) -> Result<Option<FastKey>> {
    let chown = c.chown.as_deref().map(&ex).transpose()?;
    let chmod = c.chmod.as_deref().map(&ex).transpose()?;
    let dest_abs = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{}", st.workdir().trim_end_matches('/'), dest)
    };
    let req = FastRequest {
        cmd,
        sources,
        heredocs,
        dest,
        dest_abs: &dest_abs,
        chown: chown.as_deref(),
        chmod: chmod.as_deref(),
    };
    Ok(fast_key(spool, st.id.as_ref(), &req))
}

/// The step's cache key, or `None` when only the full path can tell.
pub(crate) fn fast_key(
    spool: &SpooledContext,
    parent: Option<&Digest>,
    req: &FastRequest<'_>,
) -> Option<FastKey> {
    let ix = spool.index()?;
    let mut names: Vec<Vec<u8>> = Vec::new();
    for s in req.sources {
        // A URL, or a path climbing out of the context: the full path decides.
        if is_url(s) || s.split('/').any(|c| c == "..") {
            return None;
        }
        let rel = clean_rel(s);
        let found = if has_glob(&rel) {
            glob(spool, &rel).ok()?
        } else {
            vec![rel]
        };
        for n in found {
            // A missing source is the full path's error to report.
            let (key, _) = spool.resolve_source(&n).ok()??;
            names.push(key);
        }
    }
    if names.is_empty() && req.heredocs.is_empty() {
        return None;
    }
    let mut h = Sha256::new();
    h.update(crate::context::sources_digest(ix, &names));
    for (name, body) in req.heredocs {
        for part in [name.as_bytes(), body.as_slice()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
    }
    let text = format!(
        "{} from-context-index\nsources={:?}\ncontent={}\ndest={:?}\ndest_abs={:?}\nchown={:?}\nchmod={:?}",
        req.cmd,
        req.sources,
        hex::encode(h.finalize()),
        req.dest,
        req.dest_abs,
        req.chown,
        req.chmod,
    );
    Some(FastKey {
        key: Cache::key(parent, &text),
        sources: names,
    })
}

/// A wildcard source over the index, as `glob_sources` expands it over the
/// directory; `Err` when the index cannot say.
fn glob(spool: &SpooledContext, pattern: &str) -> Result<Vec<String>, ()> {
    let mut found = vec![String::new()];
    for part in pattern.split('/').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            if !has_glob(part) {
                next.push(join_rel(base, part));
                continue;
            }
            let Some((key, e)) = spool.resolve_source(base)? else {
                continue;
            };
            if e.kind != crate::context::Kind::Dir {
                continue;
            }
            for n in spool.children(&key)? {
                if crate::dockerignore::glob(part, &n) {
                    next.push(join_rel(base, &n));
                }
            }
        }
        found = next;
    }
    let mut out = Vec::new();
    for p in found {
        if spool.resolve_source(&p)?.is_some() {
            out.push(p);
        }
    }
    Ok(out)
}

//! `ADD <git url> <dest>` (BuildKit's form, also in berth's classic builder): the
//! repository at `#ref` (`:subdir` its part) is copied into `dest` like a directory,
//! `.git` left out unless `--keep-git-dir=true`.
//!
//! The step is cached by the commit the ref resolves to (`git ls-remote`, no clone):
//! a hit costs one round trip. On a miss the repository is fetched (shallow) into
//! the build's work dir, copied, and removed.

use crate::error::{BuildError, Result};
use crate::executor::Ctx;
use crate::git::{self, GitOptions};
use crate::instruction::Copy;
use crate::stage::StageState;

/// The ADD step whose source is a git repository (`chown`/`chmod`: the expanded
/// flag values).
pub(crate) fn step(
    ctx: &mut Ctx<'_>,
    st: &mut StageState,
    c: &Copy,
    sources: &[String],
    dest: &str,
    chown: Option<String>,
    chmod: Option<String>,
) -> Result<()> {
    let [url] = sources else {
        return Err(BuildError::Invalid(
            "ADD failed: a git repository must be the only source".into(),
        ));
    };
    let fail = |e: String| BuildError::Invalid(format!("ADD failed: {url}: {e}"));
    let repo = git::parse(url).map_err(fail)?;
    let cancel = ctx.cancel.clone();
    let cancelled = move || cancel.is_cancelled();
    // The daemon's own git config and credentials are never used.
    let opts = GitOptions {
        isolate: true,
        cancelled: Some(&cancelled),
    };
    let commit = git::resolve_commit(&repo, opts).map_err(fail)?;
    let chown_text = chown.clone().unwrap_or_default();
    let chmod_text = chmod.clone().unwrap_or_default();
    let keep_git = c.keep_git_dir;
    let dest_abs = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{}/{}", st.workdir().trim_end_matches('/'), dest)
    };
    // The commit names the content: the same commit is the same layer.
    let key = crate::cache::Cache::key(
        st.id.as_ref(),
        &format!(
            "ADD git {}@{commit}:{} in {dest_abs}\nchown={chown_text}\nchmod={chmod_text}\nkeep-git-dir={keep_git}",
            repo.remote, repo.subdir
        ),
    );
    if let Some(img) = ctx.cached(&key) {
        st.id = Some(img.id);
        return Ok(());
    }
    let work = ctx
        .opts
        .work_dir
        .join(format!("git-{}", berth_stdx::id::random_hex(8)));
    let res = (|| {
        std::fs::create_dir_all(&work).map_err(|e| BuildError::io("create git dir", e))?;
        let checkout = git::clone(&repo, &work, opts).map_err(fail)?;
        if !keep_git {
            let _ = berth_stdx::ensure_remove_all(&work.join(".git"));
        }
        let image = ctx.backend.mount(st.id.as_ref())?;
        let owner = match &chown {
            Some(_) => crate::copy::parse_chown(image.root(), &chown_text)?,
            None => (0, 0),
        };
        let chmod = match &chmod {
            Some(_) => Some(crate::copy::parse_chmod(&chmod_text)?),
            None => None,
        };
        // The checkout (or its subdir, resolved inside it) is the source root, and
        // everything in it is copied: sources resolve inside it, never outside.
        crate::dispatch::copy_commit(
            ctx,
            st,
            "ADD",
            &checkout,
            &[".".to_string()],
            &[],
            dest,
            &dest_abs,
            image,
            owner,
            chmod,
            &[],
            None,
            &chown_text,
        )
    })();
    let _ = berth_stdx::ensure_remove_all(&work);
    res?;
    if let Some(id) = &st.id {
        ctx.remember(&key, id);
    }
    Ok(())
}

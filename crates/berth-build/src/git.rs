//! Git build contexts and `ADD <git url>`: docker's URL rules, `#ref:subdir`
//! fragments, and a shallow fetch of one ref with the `git` binary.
//!
//! The checkout is made the way docker makes it (init, `remote add origin`, fetch of
//! the one ref, checkout of the ref or else of `FETCH_HEAD`, submodules), so refs
//! that are branches, tags or commits all work. Every git process runs with no
//! stdin, no terminal prompt (`GIT_TERMINAL_PROMPT=0`, ssh in batch mode), no
//! `file://` submodules, and, for the daemon (`isolate`), neither the system's nor
//! the user's git config or credential helpers.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A parsed git context URL: the remote, the ref (default `master`, as docker's
/// classic builder) and the subdirectory used as the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitUrl {
    pub remote: String,
    pub reference: String,
    pub subdir: String,
}

fn is_http(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// Whether `s` names a git repository by docker's rules: `git://`, `git@`,
/// `github.com/`, or an http(s) URL whose path ends in `.git` (maybe with a
/// `#fragment`).
pub fn is_git_url(s: &str) -> bool {
    if s.starts_with("git://") || s.starts_with("git@") || s.starts_with("github.com/") {
        return true;
    }
    if !is_http(s) {
        return false;
    }
    match s.split_once(".git#") {
        Some((_, frag)) => !frag.is_empty() || s.ends_with(".git"),
        None => s.ends_with(".git"),
    }
}

/// Splits `url#ref:subdir`; `github.com/...` gets `https://`.
pub fn parse(url: &str) -> Result<GitUrl, String> {
    let full = if url.starts_with("git://") || url.starts_with("git@") || is_http(url) {
        url.to_string()
    } else {
        format!("https://{url}")
    };
    let (remote, frag) = full.split_once('#').unwrap_or((&full, ""));
    let (reference, subdir) = frag.split_once(':').unwrap_or((frag, ""));
    let reference = if reference.is_empty() {
        "master"
    } else {
        reference
    };
    // A ref starting with `-` would be read by git as an option.
    if reference.starts_with('-') {
        return Err(format!("invalid refspec: {reference}"));
    }
    if remote.is_empty() || remote.starts_with('-') {
        return Err(format!("invalid git url: {url}"));
    }
    Ok(GitUrl {
        remote: remote.to_string(),
        reference: reference.to_string(),
        subdir: subdir.to_string(),
    })
}

/// How git runs.
#[derive(Clone, Copy, Default)]
pub struct GitOptions<'a> {
    /// Ignore the system's and the user's git config (the daemon: a build must not
    /// use whatever credentials the daemon's user has configured).
    pub isolate: bool,
    /// Polled while git runs; `true` kills it (a client that went away).
    pub cancelled: Option<&'a (dyn Fn() -> bool + Sync)>,
}

/// Runs `git args` in `dir`; stdout and stderr together, or the error docker reports
/// (`<output>: exit status N`).
fn git(dir: &Path, args: &[&str], o: GitOptions<'_>) -> Result<String, String> {
    let mut cmd = Command::new("git");
    // `file://` (and plain paths) as submodule URLs would read the host's repos.
    cmd.args(["-c", "protocol.file.allow=never"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PROTOCOL_FROM_USER", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE");
    // ssh never asks for a password or a host key; a user's own GIT_SSH_COMMAND (the
    // CLI) is theirs to keep.
    if o.isolate || std::env::var_os("GIT_SSH_COMMAND").is_none() {
        cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    if o.isolate {
        cmd.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("HOME", "/dev/null");
    }
    let (mut reader, writer) = std::io::pipe().map_err(|e| format!("git: {e}"))?;
    let writer2 = writer.try_clone().map_err(|e| format!("git: {e}"))?;
    cmd.stdout(writer).stderr(writer2);
    if o.cancelled.is_some() {
        // Its own process group, so a cancel also kills git's helpers
        // (git-remote-http, ssh) that hold the output pipe.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    }
    let mut child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            "unable to find 'git': exec: \"git\": executable file not found in $PATH".to_string()
        }
        _ => format!("git: {e}"),
    })?;
    // `cmd` holds the pipe's write ends: drop them so the reader sees EOF.
    drop(cmd);
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = reader.read_to_end(&mut v);
        v
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("git: {e}"));
            }
        }
        if o.cancelled.is_some_and(|c| c()) {
            // SAFETY: kill(2) on the process group this function created.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            let _ = out.join();
            return Err("git: cancelled".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let text = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    if status.success() {
        Ok(text)
    } else {
        let code = status.code().unwrap_or(-1);
        // docker keeps git's trailing newline before ": exit status"; one line reads
        // better and says the same.
        Err(format!("{}: exit status {code}", text.trim_end()))
    }
}

/// Fetches `url` into `root` (an empty directory the caller owns and removes) and
/// checks it out; returns the context directory (`root` or its subdir).
pub fn clone(url: &GitUrl, root: &Path, o: GitOptions<'_>) -> Result<PathBuf, String> {
    git(root, &["init", "-q"], o).map_err(|e| {
        if e.starts_with("unable to find 'git'") {
            e
        } else {
            format!("failed to init repo at {}: {e}", root.display())
        }
    })?;
    git(root, &["remote", "add", "origin", "--", &url.remote], o)
        .map_err(|e| format!("failed add origin repo at {}: {e}", url.remote))?;
    fetch(root, &url.reference, o)?;
    // A branch name gives a branch checkout; a tag or a commit the fetched one.
    if let Err(e) = git(root, &["checkout", "-q", &url.reference, "--"], o)
        && git(root, &["checkout", "-q", "FETCH_HEAD", "--"], o).is_err()
    {
        return Err(format!("error checking out {}: {e}", url.reference));
    }
    git(
        root,
        &["submodule", "update", "--init", "--recursive", "--depth=1"],
        o,
    )
    .map_err(|e| format!("error initializing submodules: {e}"))?;
    subdir(root, &url.subdir)
}

/// `git fetch --depth 1 origin -- <ref>`; servers that cannot do shallow fetches
/// (git's "dumb" http) get a full one.
fn fetch(root: &Path, reference: &str, o: GitOptions<'_>) -> Result<(), String> {
    match git(
        root,
        &["fetch", "-q", "--depth", "1", "origin", "--", reference],
        o,
    ) {
        Ok(_) => Ok(()),
        Err(e) if e.contains("does not support shallow") => {
            git(root, &["fetch", "-q", "origin", "--", reference], o)
                .map(drop)
                .map_err(|e| format!("error fetching: {e}"))
        }
        Err(e) => Err(format!("error fetching: {e}")),
    }
}

/// The context directory `sub` of the checkout at `root`. A lexical `..` that leaves
/// the checkout is refused (as docker does); symlinks on the way are resolved with
/// `resolve_in_root`, so a link to `/etc` names `<root>/etc`, never the host's.
fn subdir(root: &Path, sub: &str) -> Result<PathBuf, String> {
    if sub.is_empty() {
        return Ok(root.to_path_buf());
    }
    let mut depth: i64 = 0;
    for c in sub.split('/') {
        match c {
            "" | "." => {}
            ".." => depth -= 1,
            _ => depth += 1,
        }
        if depth < 0 {
            return Err(format!(
                "error setting git context, {sub:?} not within git root"
            ));
        }
    }
    let p = berth_stdx::rootpath::resolve_in_root(root, Path::new(sub))
        .map_err(|e| format!("error setting git context, {sub:?} not within git root: {e}"))?;
    match std::fs::metadata(&p) {
        Ok(m) if m.is_dir() => Ok(p),
        Ok(_) => Err(format!(
            "error setting git context, not a directory: {}",
            p.display()
        )),
        Err(_) => Err(format!("stat {}: no such file or directory", p.display())),
    }
}

/// The commit `url`'s ref names on the remote (`git ls-remote`), without fetching
/// anything: a full hex commit id is taken as is.
pub fn resolve_commit(url: &GitUrl, o: GitOptions<'_>) -> Result<String, String> {
    let r = &url.reference;
    if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(r.to_ascii_lowercase());
    }
    let out = git(Path::new("/"), &["ls-remote", "--", &url.remote, r], o)
        .map_err(|e| format!("error fetching: {e}"))?;
    // Annotated tags list the tag object and then the commit (`^{}`): the commit wins.
    let mut best: Option<(u8, String)> = None;
    for line in out.lines() {
        let Some((sha, name)) = line.split_once('\t') else {
            continue;
        };
        let rank = if name == format!("refs/tags/{r}^{{}}") {
            3
        } else if name == format!("refs/heads/{r}") || name == format!("refs/tags/{r}") {
            2
        } else if name == r || name.ends_with(&format!("/{r}")) {
            1
        } else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| rank > *b) {
            best = Some((rank, sha.to_string()));
        }
    }
    best.map(|(_, s)| s)
        .ok_or_else(|| format!("error fetching: couldn't find remote ref {r}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_urls_by_dockers_rules() {
        for yes in [
            "git://host/repo",
            "git@github.com:a/b.git",
            "github.com/a/b",
            "https://host/a/b.git",
            "http://host/a/b.git#main",
            "http://host/a/b.git#main:sub",
        ] {
            assert!(is_git_url(yes), "{yes}");
        }
        for no in [
            "https://host/a/b.tar",
            "https://host/a/b.git/x",
            "http://host/a/b.git#",
            "ftp://host/a.git",
            ".",
            "gitlab.com/a/b",
        ] {
            assert!(!is_git_url(no), "{no}");
        }
    }

    #[test]
    fn fragments_give_ref_and_subdir() {
        let g = parse("https://h/r.git#v1:docs/site").unwrap();
        assert_eq!(
            g,
            GitUrl {
                remote: "https://h/r.git".into(),
                reference: "v1".into(),
                subdir: "docs/site".into()
            }
        );
        let g = parse("github.com/a/b").unwrap();
        assert_eq!(g.remote, "https://github.com/a/b");
        assert_eq!(g.reference, "master");
        let g = parse("git@h:a/b.git#:sub").unwrap();
        assert_eq!(
            (g.remote.as_str(), g.reference.as_str(), g.subdir.as_str()),
            ("git@h:a/b.git", "master", "sub")
        );
        assert_eq!(
            parse("https://h/r.git#--upload-pack=x").unwrap_err(),
            "invalid refspec: --upload-pack=x"
        );
    }

    #[test]
    fn subdir_never_leaves_the_checkout() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("evil")).unwrap();
        std::os::unix::fs::symlink("../../..", root.join("a/up")).unwrap();
        assert_eq!(subdir(root, "a/b").unwrap(), root.join("a/b"));
        assert!(
            subdir(root, "../..")
                .unwrap_err()
                .contains("not within git root")
        );
        assert!(
            subdir(root, "a/../..")
                .unwrap_err()
                .contains("not within git root")
        );
        // A link to /etc names <root>/etc, which the checkout does not have.
        assert!(subdir(root, "evil").unwrap_err().contains("no such file"));
        // A link climbing out is clamped at the checkout's root.
        assert_eq!(
            subdir(root, "a/up").unwrap().canonicalize().unwrap(),
            root.canonicalize().unwrap()
        );
    }
}

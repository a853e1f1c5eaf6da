//! `berth build` and `berth builder prune`.
//!
//! The context (a directory with `.dockerignore` applied, a tar or a Dockerfile on
//! stdin, or a git repository cloned with the `git` binary) is streamed to
//! `POST /build` through a pipe: a thread writes the tar while the request sends it,
//! so memory stays flat whatever the context's size.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use serde::Deserialize;

use berth_build::Ignore;

use super::{Ctx, out};
use crate::usage::{Arity, Exit};

const HELP: &str = "Usage:  {usage}\n\n{about}\n\n{all-args}{after-help}";

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (Default is "PATH/Dockerfile")
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Set metadata for an image
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the image
    #[arg(long)]
    pub pull: bool,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<String>,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set the networking mode for the RUN instructions during build
    #[arg(long)]
    pub network: Option<String>,
    /// Add a custom host-to-IP mapping ("host:ip")
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Set type of progress output (auto, plain, tty)
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    pub platform: Option<String>,
    /// Remove intermediate containers after a successful build
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, hide = true)]
    pub rm: bool,
    /// Always remove intermediate containers
    #[arg(long = "force-rm", hide = true)]
    pub force_rm: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Remove all unused build cache, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (e.g. "until=24h")
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// Amount of disk space to keep for cache
    #[arg(long = "keep-storage")]
    pub keep_storage: Option<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(clap::Subcommand, Debug)]
pub(crate) enum BuilderCommand {
    /// Remove build cache
    #[command(override_usage = "berth builder prune", help_template = HELP)]
    Prune(PruneArgs),
}

fn fail(message: impl Into<String>) -> anyhow::Error {
    Exit {
        code: 1,
        message: message.into(),
    }
    .into()
}

/// What is sent: how to produce the tar, and the Dockerfile's name in it.
enum Source {
    /// A directory (with the Dockerfile's name in the tar, and an outside Dockerfile's
    /// text added under that name).
    Dir {
        dir: PathBuf,
        ignore: Ignore,
        extra: Option<(String, Vec<u8>)>,
    },
    /// A tar (maybe compressed) already: the bytes read so far, then the rest.
    Tar { head: Vec<u8> },
    /// Only a Dockerfile.
    Dockerfile(Vec<u8>),
    /// An http(s) URL the daemon fetches: the body is empty.
    Remote(String),
}

/// Clones `url#ref:subdir` as docker's CLI does (a shallow fetch of the ref with the
/// `git` binary, the user's own git config applying, never a prompt); returns the
/// checkout dir and the context dir inside it.
fn git_context(url: &str) -> Result<(tempdir::Dir, PathBuf)> {
    let wrap = |e: String| {
        if e.starts_with("unable to find 'git'") {
            return fail(format!("unable to prepare context: {e}"));
        }
        fail(format!(
            "unable to prepare context: unable to 'git clone' to temporary context directory: {e}"
        ))
    };
    let repo = berth_build::git::parse(url).map_err(wrap)?;
    let dir = tempdir::Dir::new()?;
    let ctx = berth_build::git::clone(&repo, dir.path(), Default::default()).map_err(wrap)?;
    Ok((dir, ctx))
}

/// A temporary directory removed on drop (the CLI has no tempfile dependency).
mod tempdir {
    pub(super) struct Dir(std::path::PathBuf);
    impl Dir {
        pub(super) fn new() -> std::io::Result<Dir> {
            let p =
                std::env::temp_dir().join(format!("berth-build-{}", berth_stdx::id::random_hex(8)));
            std::fs::create_dir_all(&p)?;
            Ok(Dir(p))
        }
        pub(super) fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn io_msg(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        _ => e.to_string(),
    }
}

fn looks_like_archive(head: &[u8]) -> bool {
    let compressed = head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(b"BZh")
        || head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00])
        || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    compressed || (head.len() >= 262 && &head[257..262] == b"ustar") || v7_tar_header(head)
}

/// A pre-POSIX tar header (no "ustar" magic), as docker's CLI also takes: a name and
/// a valid checksum (the header's bytes summed, the checksum field as spaces).
fn v7_tar_header(head: &[u8]) -> bool {
    if head.len() < 512 || head[0] == 0 {
        return false;
    }
    let field = String::from_utf8_lossy(&head[148..156]);
    let Ok(want) = u32::from_str_radix(field.trim_matches(|c: char| c == ' ' || c == '\0'), 8)
    else {
        return false;
    };
    let sum: u32 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    sum == want
}

fn read_dockerfile_arg(f: &str) -> Result<Vec<u8>> {
    if f == "-" {
        let mut v = Vec::new();
        std::io::stdin().read_to_end(&mut v)?;
        return Ok(v);
    }
    std::fs::read(f).map_err(|e| {
        fail(format!(
            "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: {}",
            std::path::absolute(f).unwrap_or_else(|_| f.into()).display(),
            io_msg(&e)
        ))
    })
}

/// Resolves PATH and `-f` into what is sent and the `dockerfile` parameter.
fn prepare(a: &BuildArgs, path: &str, git: &mut Option<tempdir::Dir>) -> Result<(Source, String)> {
    if path == "-" {
        if a.file.as_deref() == Some("-") {
            return Err(fail(
                "invalid argument: can't use stdin for both build context and dockerfile",
            ));
        }
        let mut head = vec![0u8; 512];
        let mut n = 0;
        let mut stdin = std::io::stdin();
        while n < head.len() {
            let k = stdin.read(&mut head[n..])?;
            if k == 0 {
                break;
            }
            n += k;
        }
        head.truncate(n);
        if looks_like_archive(&head) {
            let name = a.file.clone().unwrap_or_else(|| "Dockerfile".into());
            return Ok((Source::Tar { head }, name));
        }
        let mut rest = Vec::new();
        stdin.read_to_end(&mut rest)?;
        head.extend(rest);
        return Ok((Source::Dockerfile(head), "Dockerfile".into()));
    }
    // docker's order: a local directory, a git URL, another http(s) URL.
    let dir = if Path::new(path).is_dir() {
        PathBuf::from(path)
    } else if berth_build::git::is_git_url(path) {
        let (d, ctx) = git_context(path)?;
        *git = Some(d);
        ctx
    } else if path.starts_with("http://") || path.starts_with("https://") {
        // A tarball or a Dockerfile: the daemon downloads it (`remote=`).
        return Ok((
            Source::Remote(path.to_string()),
            a.file.clone().unwrap_or_else(|| "Dockerfile".into()),
        ));
    } else {
        PathBuf::from(path)
    };
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(fail(format!(
                "unable to prepare context: context must be a directory: {}",
                dir.display()
            )));
        }
        Err(_) => {
            return Err(fail(format!(
                "unable to prepare context: path {path:?} not found"
            )));
        }
    }
    let abs_dir = std::path::absolute(&dir)?;
    // The Dockerfile: inside the context it is sent as is; outside (or on stdin) it
    // is added to the tar under a name of its own.
    // In a git context, `-f` is relative to the context (docker's CLI rule).
    let file = match a.file.as_deref() {
        Some(f) if git.is_some() && f != "-" && Path::new(f).is_relative() => {
            Some(abs_dir.join(f).display().to_string())
        }
        other => other.map(str::to_string),
    };
    let (name, extra, df_path) = match file.as_deref() {
        Some("-") => {
            let text = read_dockerfile_arg("-")?;
            let n = format!(".dockerfile.{}", berth_stdx::id::random_hex(10));
            (n.clone(), Some((n, text)), None)
        }
        Some(f) => {
            let p = std::path::absolute(f)?;
            let text = read_dockerfile_arg(f)?;
            match p.strip_prefix(&abs_dir) {
                Ok(rel) => (rel.to_string_lossy().to_string(), None, Some(p)),
                Err(_) => {
                    let n = format!(".dockerfile.{}", berth_stdx::id::random_hex(10));
                    let _ = text.len();
                    (n.clone(), Some((n, text)), Some(p))
                }
            }
        }
        None => {
            let p = abs_dir.join("Dockerfile");
            if std::fs::symlink_metadata(&p).is_err() {
                return Err(fail(format!(
                    "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory",
                    p.display()
                )));
            }
            ("Dockerfile".to_string(), None, Some(p))
        }
    };
    // `<Dockerfile>.dockerignore` next to the Dockerfile wins over the context's.
    let specific = df_path.map(|p| PathBuf::from(format!("{}.dockerignore", p.display())));
    let text = specific
        .and_then(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::fs::read_to_string(abs_dir.join(".dockerignore")).ok())
        .unwrap_or_default();
    let mut ignore = Ignore::parse(&text);
    if !ignore.is_empty() {
        ignore.except(&name);
        ignore.except(".dockerignore");
    }
    Ok((
        Source::Dir {
            dir: abs_dir,
            ignore,
            extra,
        },
        name,
    ))
}

fn write_source(src: Source, mut w: impl Write) -> std::io::Result<()> {
    match src {
        Source::Dir { dir, ignore, extra } => {
            // The tar's end blocks come last: the context, then the extra Dockerfile.
            let mut body = Vec::new();
            if let Some((name, text)) = &extra {
                let mut b = tar::Builder::new(&mut body);
                let mut h = tar::Header::new_gnu();
                h.set_mode(0o600);
                h.set_size(text.len() as u64);
                b.append_data(&mut h, name, &text[..])?;
                b.finish()?;
            }
            let mut counting = StripEnd::new(&mut w, extra.is_some());
            berth_build::write_context_tar(&dir, &ignore, &mut counting)?;
            counting.finish()?;
            if extra.is_some() {
                w.write_all(&body)?;
            }
            w.flush()
        }
        Source::Tar { head } => {
            w.write_all(&head)?;
            std::io::copy(&mut std::io::stdin(), &mut w)?;
            w.flush()
        }
        Source::Remote(_) => w.flush(),
        Source::Dockerfile(text) => {
            let mut b = tar::Builder::new(w);
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o600);
            h.set_size(text.len() as u64);
            b.append_data(&mut h, "Dockerfile", &text[..])?;
            b.into_inner()?.flush()
        }
    }
}

/// Holds back the last 1024 bytes (a tar's two zero end blocks) when another tar
/// follows, so both become one archive.
struct StripEnd<W: Write> {
    w: W,
    strip: bool,
    tail: Vec<u8>,
}

impl<W: Write> StripEnd<W> {
    fn new(w: W, strip: bool) -> Self {
        StripEnd {
            w,
            strip,
            tail: Vec::new(),
        }
    }
    fn finish(mut self) -> std::io::Result<()> {
        if !self.strip {
            self.w.write_all(&self.tail)?;
        }
        self.w.flush()
    }
}

impl<W: Write> Write for StripEnd<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tail.extend_from_slice(buf);
        if self.tail.len() > 1024 {
            let n = self.tail.len() - 1024;
            self.w.write_all(&self.tail[..n])?;
            self.tail.drain(..n);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

/// `X-Registry-Config`: the stored credentials of each registry a FROM line or a
/// `COPY --from=` names (base64url JSON map, registry → credentials; `e30=` when
/// there are none).
fn registry_config(dockerfile: &str) -> String {
    use super::registry_auth as creds;
    let mut m = serde_json::Map::new();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        let image = match words.next().map(str::to_ascii_uppercase).as_deref() {
            Some("FROM") => words.find(|w| !w.starts_with("--")),
            Some("COPY") => words.find_map(|w| w.strip_prefix("--from=")),
            _ => None,
        };
        let Some(image) = image else {
            continue;
        };
        if image.contains('$') {
            continue;
        }
        let registry = creds::registry_of(image);
        let c = creds::get(&registry);
        if c.username.is_empty() && c.password.is_empty() {
            continue;
        }
        m.insert(
            creds::server_key(&registry),
            serde_json::json!({"username": c.username, "password": c.password,
                "serveraddress": c.server}),
        );
    }
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::Value::Object(m).to_string())
}

fn kv_map(items: &[String], from_env: bool) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    for i in items {
        match i.split_once('=') {
            Some((k, v)) => {
                m.insert(k.into(), v.into());
            }
            None if from_env => {
                // `--build-arg NAME`: the value from the environment, or unset.
                let v = std::env::var(i)
                    .map(serde_json::Value::String)
                    .unwrap_or(serde_json::Value::Null);
                m.insert(i.clone(), v);
            }
            None => {
                m.insert(i.clone(), "".into());
            }
        }
    }
    m
}

#[derive(Debug, Deserialize, Default)]
struct Message {
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    aux: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
}

#[derive(Debug, Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: String,
}

/// The compact live view on a terminal: one line per step, command output
/// indented, cache hits marked.
#[derive(Default)]
struct Compact {
    pending: String,
}

impl Compact {
    fn feed(&mut self, text: &str) {
        self.pending.push_str(text);
        while let Some(i) = self.pending.find('\n') {
            let line: String = self.pending.drain(..=i).collect();
            let line = line.trim_end_matches('\n');
            if let Some(rest) = line.strip_prefix("Step ") {
                let (n, inst) = rest.split_once(" : ").unwrap_or((rest, ""));
                out(&format!("\x1b[1m[{n}]\x1b[0m {inst}\n"));
            } else if line == " ---> Using cache" {
                out("      \x1b[2mcached\x1b[0m\n");
            } else if line.starts_with(" ---> ") || line.starts_with("Removing intermediate") {
                // Ids and container bookkeeping: not shown.
            } else if line.starts_with("Successfully ") || line.starts_with("[Warning]") {
                out(&format!("{line}\n"));
            } else {
                out(&format!("      \x1b[2m│\x1b[0m {line}\n"));
            }
        }
    }
}

pub(crate) async fn build(ctx: &Ctx, a: BuildArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    if !matches!(a.progress.as_str(), "auto" | "plain" | "tty") {
        return Err(fail(format!(
            "invalid progress mode {:?}: use auto, plain or tty",
            a.progress
        )));
    }
    let path = a.args[0].clone();
    let mut git = None;
    let (source, dockerfile) = prepare(&a, &path, &mut git)?;
    let remote = match &source {
        Source::Remote(u) => Some(u.clone()),
        _ => None,
    };
    let local_dockerfile = match &source {
        Source::Dir { dir, extra, .. } => match extra {
            Some((_, t)) => Some(String::from_utf8_lossy(t).into_owned()),
            None => std::fs::read_to_string(dir.join(&dockerfile)).ok(),
        },
        Source::Dockerfile(t) => Some(String::from_utf8_lossy(t).into_owned()),
        _ => None,
    };
    let client = ctx.client().await?;
    let mut req = client
        .post("/build")
        .query_opt("remote", remote.as_ref())
        .query("dockerfile", &dockerfile)
        .query_flag("nocache", a.no_cache)
        .query_flag("pull", a.pull)
        .query_flag("q", a.quiet)
        .query("rm", if a.rm { "1" } else { "0" })
        .query_flag("forcerm", a.force_rm)
        .query_opt("target", a.target.as_ref())
        .query_opt("networkmode", a.network.as_ref())
        .query_opt("platform", a.platform.as_ref())
        .query("version", "1");
    for t in &a.tags {
        req = req.query("t", t);
    }
    if !a.add_host.is_empty() {
        req = req.query("extrahosts", a.add_host.join(","));
    }
    if !a.build_args.is_empty() {
        req = req.query(
            "buildargs",
            serde_json::Value::Object(kv_map(&a.build_args, true)),
        );
    }
    if !a.labels.is_empty() {
        req = req.query(
            "labels",
            serde_json::Value::Object(kv_map(&a.labels, false)),
        );
    }
    // The tar is written by a thread into a pipe the request reads: nothing is
    // buffered beyond the pipe.
    let (reader, writer) = std::io::pipe()?;
    let producer = std::thread::spawn(move || write_source(source, writer));
    let body = tokio::fs::File::from_std(std::fs::File::from(std::os::fd::OwnedFd::from(reader)));
    let resp = req
        .body_reader(body, "application/x-tar")
        .header(
            "x-registry-config",
            &registry_config(local_dockerfile.as_deref().unwrap_or("")),
        )
        .send()
        .await;
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            let _ = producer.join();
            let msg = e.to_string();
            if msg.contains("dockerfile parse error on line")
                && let Some(text) = &local_dockerfile
                && let Err(berth_build::BuildError::Parse(p)) =
                    berth_build::plan_dockerfile(text, &dockerfile)
            {
                // Quote the instruction, with a caret at its column.
                return Err(fail(format!("{msg}\n{}", p.excerpt())));
            }
            return Err(e.into());
        }
    };
    let tty = match a.progress.as_str() {
        "plain" => false,
        "tty" => true,
        _ => std::io::stdout().is_terminal(),
    } && !a.quiet;
    let mut compact = Compact::default();
    let mut image_id: Option<String> = None;
    let mut lines = resp.json_lines();
    let mut steps = super::build_where::StepTracker::default();
    // A failed step's error, with the instruction quoted from the local Dockerfile.
    let located = |msg: String, steps: &super::build_where::StepTracker| match local_dockerfile
        .as_deref()
        .and_then(|t| steps.excerpt(t))
    {
        Some(x) => format!("{msg}\n{x}"),
        None => msg,
    };
    while let Some(m) = lines.next::<Message>().await {
        let m = m?;
        if let Some(d) = m.error_detail.filter(|d| !d.message.is_empty()) {
            let code = d.code.filter(|c| *c != 0).unwrap_or(1) as i32;
            return Err(Exit {
                code,
                message: located(d.message, &steps),
            }
            .into());
        }
        if let Some(e) = m.error.filter(|e| !e.is_empty()) {
            return Err(fail(located(e, &steps)));
        }
        if let Some(id) = m
            .aux
            .as_ref()
            .and_then(|v| v.get("ID"))
            .and_then(|v| v.as_str())
        {
            image_id = Some(id.to_string());
        }
        if let Some(s) = m.stream {
            steps.feed(&s);
            if tty {
                compact.feed(&s);
            } else {
                out(&s);
            }
        }
    }
    let _ = producer.join();
    if let (Some(f), Some(id)) = (&a.iidfile, &image_id) {
        // With -q docker's CLI writes what it printed: the id and a newline.
        let id = if a.quiet {
            format!("{id}\n")
        } else {
            id.clone()
        };
        std::fs::write(f, id)
            .map_err(|e| fail(format!("failed to write image ID to file: {e}")))?;
    }
    drop(git);
    Ok(())
}

pub(crate) async fn builder(ctx: &Ctx, c: BuilderCommand) -> Result<()> {
    match c {
        BuilderCommand::Prune(a) => prune(ctx, a).await,
    }
}

fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..split].parse().ok()?;
    let mult = match s[split..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

async fn prune(ctx: &Ctx, a: PruneArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    if !a.force {
        let warning = if a.all {
            "WARNING! This will remove all build cache."
        } else {
            "WARNING! This will remove all dangling build cache."
        };
        out(&format!(
            "{warning}\nAre you sure you want to continue? [y/N] "
        ));
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y") {
            return Ok(());
        }
    }
    let keep = match &a.keep_storage {
        Some(s) => {
            Some(parse_size(s).ok_or_else(|| fail(format!("invalid keep-storage value: {s}")))?)
        }
        None => None,
    };
    let client = ctx.client().await?;
    let mut req = client
        .post("/build/prune")
        .query_flag("all", a.all)
        .query_opt("keep-storage", keep);
    if let Some(f) = super::filters_json(ctx, &a.filters)? {
        req = req.query("filters", f);
    }
    let v: serde_json::Value = req.send().await?.json().await?;
    if let Some(ids) = v.get("CachesDeleted").and_then(|d| d.as_array())
        && !ids.is_empty()
    {
        out("Deleted build cache objects:\n");
        for id in ids {
            out(&format!("{}\n", id.as_str().unwrap_or_default()));
        }
        out("\n");
    }
    let bytes = v
        .get("SpaceReclaimed")
        .and_then(|s| s.as_u64())
        .unwrap_or(0);
    out(&format!(
        "Total reclaimed space: {}\n",
        crate::format::units::human_size(bytes as f64)
    ));
    Ok(())
}

//! `import`, `save`, `load`: the commands that stream archives to or from the daemon.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Result;
use clap::Args;
use serde::Deserialize;

use super::{Ctx, out};
use crate::usage::{Arity, Exit};

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long = "message", value_name = "string")]
    pub message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", value_name = "string")]
    pub platform: Option<String>,
    #[arg(value_name = "file|URL|-", allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn import(ctx: &Ctx, a: ImportArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let source = &a.args[0];
    let repo = a.args.get(1).cloned().unwrap_or_default();
    if !repo.is_empty() {
        super::reference::normalize(&repo).map_err(|e| Exit {
            code: 1,
            message: e,
        })?;
    }
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    let from_src = if is_url { source.as_str() } else { "-" };
    let client = ctx.client().await?;
    let mut req = client
        .post("/images/create")
        .query("fromSrc", from_src)
        .query_opt("repo", Some(&repo).filter(|r| !r.is_empty()))
        .query_opt("message", a.message.as_ref())
        .query_opt("platform", a.platform.as_ref());
    for c in &a.change {
        req = req.query("changes", c);
    }
    if !is_url && source != "-" {
        not_a_directory(ctx, "Post", &req.uri(), source)?;
    }
    let req = if is_url {
        req
    } else if source == "-" {
        req.body_reader(tokio::io::stdin(), "text/plain")
    } else {
        let f = tokio::fs::File::open(source).await.map_err(|e| Exit {
            code: 1,
            message: format!("open {source}: {}", io_msg(&e)),
        })?;
        req.body_reader(f, "text/plain")
    };
    display_stream(req.send().await?).await
}

/// docker reads the file while sending and reports a directory as a failed POST.
fn not_a_directory(ctx: &Ctx, method: &str, uri: &str, path: &str) -> Result<(), Exit> {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let base = match &ctx.host {
        berth_client::Host::Unix(p) => {
            format!("http://{}", urlencoding::encode(&p.to_string_lossy()))
        }
        berth_client::Host::Tcp(a) => format!("http://{a}"),
    };
    Err(Exit {
        code: 1,
        message: format!(
            "error during connect: {method} \"{base}{uri}\": read {path}: is a directory"
        ),
    })
}

fn io_msg(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[derive(Debug, Args)]
pub(crate) struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", value_name = "string")]
    pub output: Option<String>,
    /// Save only the given platform variant
    #[arg(long = "platform", value_name = "string", hide = true)]
    pub platform: Option<String>,
    #[arg(value_name = "IMAGE", hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn save(ctx: &Ctx, a: SaveArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    match a.output.as_deref() {
        None | Some("") if std::io::stdout().is_terminal() => {
            return Err(Exit {
                code: 1,
                message: "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                    .into(),
            }
            .into());
        }
        Some(p) if !p.is_empty() => {
            use std::os::unix::fs::FileTypeExt;
            let dir = Path::new(p)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !dir.exists() {
                return Err(Exit {
                    code: 1,
                    message: format!(
                        "failed to save image: invalid output path: stat {}: no such file or directory",
                        dir.display()
                    ),
                }
                .into());
            }
            if std::fs::metadata(p)
                .map(|m| m.file_type().is_char_device())
                .unwrap_or(false)
            {
                return Err(Exit {
                    code: 1,
                    message: "failed to save image: cannot write to a character device file".into(),
                }
                .into());
            }
        }
        _ => {}
    }
    let client = ctx.client().await?;
    let mut req = client.get("/images/get");
    for n in &a.args {
        req = req.query("names", n);
    }
    let resp = req
        .query_opt("platform", a.platform.as_ref())
        .send()
        .await?;
    match a.output.as_deref().filter(|p| !p.is_empty()) {
        None => {
            let mut stdout = tokio::io::stdout();
            resp.copy_to(&mut stdout).await?;
        }
        Some(p) => {
            // Written next to the target and renamed, so a failed save leaves no partial file.
            let path = Path::new(p);
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let tmp = dir.join(format!(".berth-save-{}", std::process::id()));
            let result = async {
                let mut f = tokio::fs::File::create(&tmp).await?;
                resp.copy_to(&mut f).await?;
                f.sync_all().await?;
                tokio::fs::rename(&tmp, path).await?;
                anyhow::Ok(())
            }
            .await;
            if let Err(e) = result {
                let _ = std::fs::remove_file(&tmp);
                return Err(Exit {
                    code: 1,
                    message: format!("failed to save image: {e}"),
                }
                .into());
            }
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long = "input", value_name = "string")]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Load only the given platform variant
    #[arg(long = "platform", value_name = "string", hide = true)]
    pub platform: Option<String>,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn load(ctx: &Ctx, a: LoadArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let quiet = a.quiet || !std::io::stdout().is_terminal();
    let file = match a.input.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => Some(tokio::fs::File::open(p).await.map_err(|e| Exit {
            code: 1,
            message: format!("open {p}: {}", io_msg(&e)),
        })?),
        None if std::io::stdin().is_terminal() => {
            return Err(Exit {
                code: 1,
                message: "requested load from stdin, but stdin is empty".into(),
            }
            .into());
        }
        None => None,
    };
    let client = ctx.client().await?;
    let req = client
        .post("/images/load")
        .query_flag("quiet", quiet)
        .query_opt("platform", a.platform.as_ref());
    if let Some(p) = a.input.as_deref().filter(|p| !p.is_empty()) {
        not_a_directory(ctx, "Post", &req.uri(), p)?;
    }
    let req = match file {
        Some(f) => req.body_reader(f, "application/x-tar"),
        None => req.body_reader(tokio::io::stdin(), "application/x-tar"),
    };
    let resp = req.send().await?;
    if resp
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"))
    {
        display_stream(resp).await
    } else {
        let mut stdout = tokio::io::stdout();
        resp.copy_to(&mut stdout).await?;
        Ok(())
    }
}

#[derive(Debug, Deserialize, Default)]
struct JsonMessage {
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    progress: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorDetail")]
    error_detail: Option<ErrorDetail>,
}

#[derive(Debug, Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    message: String,
}

/// Prints a JSON-lines progress stream as docker's jsonmessage does when stdout is
/// not a terminal; an in-band error ends the command with exit 1.
pub(crate) async fn display_stream(resp: berth_client::Response) -> Result<()> {
    let tty = std::io::stdout().is_terminal();
    // On a terminal, progress updates rewrite the current line until another message comes.
    let mut open_progress = false;
    let mut lines = resp.json_lines();
    while let Some(msg) = lines.next::<JsonMessage>().await {
        let m = msg?;
        let failure = m
            .error_detail
            .map(|d| d.message)
            .filter(|e| !e.is_empty())
            .or(m.error.filter(|e| !e.is_empty()));
        if let Some(message) = failure {
            if open_progress {
                out("\n");
            }
            return Err(Exit { code: 1, message }.into());
        }
        let progress = m.progress.as_deref().filter(|p| !p.is_empty());
        // docker's jsonmessage drops progress bars when stdout is not a terminal.
        if !tty && progress.is_some() {
            continue;
        }
        if tty && progress.is_some() {
            out(&format!(
                "\x1b[2K\r{}",
                render_message(m.id.as_deref(), m.status.as_deref(), progress, None)
            ));
            open_progress = true;
            continue;
        }
        if open_progress {
            out("\n");
            open_progress = false;
        }
        out(&render_message(
            m.id.as_deref(),
            m.status.as_deref(),
            progress,
            m.stream.as_deref(),
        ));
    }
    if open_progress {
        out("\n");
    }
    Ok(())
}

fn render_message(
    id: Option<&str>,
    status: Option<&str>,
    progress: Option<&str>,
    stream: Option<&str>,
) -> String {
    let mut s = String::new();
    if let Some(id) = id.filter(|i| !i.is_empty()) {
        s.push_str(&format!("{id}: "));
    }
    let status = status.unwrap_or("");
    match (
        progress.filter(|p| !p.is_empty()),
        stream.filter(|p| !p.is_empty()),
    ) {
        (Some(p), _) => s.push_str(&format!("{status} {p}")),
        (None, Some(st)) => s.push_str(st),
        (None, None) => {
            s.push_str(status);
            s.push('\n');
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::render_message;

    #[test]
    fn messages_render_like_jsonmessage() {
        assert_eq!(
            render_message(None, Some("sha256:ab"), None, None),
            "sha256:ab\n"
        );
        assert_eq!(
            render_message(None, None, None, Some("Loaded image: a:b\n")),
            "Loaded image: a:b\n"
        );
        assert_eq!(
            render_message(Some("abc"), Some("Loading layer"), None, None),
            "abc: Loading layer\n"
        );
    }
}

//! `pull`, `push`, `login`, `logout` and `search`, as the docker CLI does them:
//! credentials from config.json travel in X-Registry-Auth, progress is docker's
//! JSON stream rendered one line per layer (redrawn in place on a terminal).

use std::collections::HashMap;
use std::io::{IsTerminal, Read};

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use super::registry_auth::{self as creds, Creds};
use super::{Ctx, out};
use crate::format::template::Format;
use crate::usage::{Arity, Exit};

fn exit(message: impl Into<String>) -> anyhow::Error {
    Exit {
        code: 1,
        message: message.into(),
    }
    .into()
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Skip image verification
    #[arg(long = "disable-content-trust", default_value_t = true, hide = true)]
    pub disable_content_trust: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long = "platform", value_name = "string")]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long = "all-tags")]
    pub all_tags: bool,
    /// Skip image signing
    #[arg(long = "disable-content-trust", default_value_t = true, hide = true)]
    pub disable_content_trust: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "NAME[:TAG]", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// Password or Personal Access Token (PAT)
    #[arg(short = 'p', long = "password", value_name = "string")]
    pub password: Option<String>,
    /// Take the Password or Personal Access Token (PAT) from stdin
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Username
    #[arg(short = 'u', long = "username", value_name = "string")]
    pub username: Option<String>,
    #[arg(value_name = "SERVER", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    #[arg(value_name = "SERVER", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Pretty-print search using a Go template
    #[arg(long = "format", value_name = "string")]
    pub format: Option<String>,
    /// Max number of search results
    #[arg(long = "limit", value_name = "int", default_value_t = 0)]
    pub limit: i64,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    #[arg(value_name = "TERM", hide = true)]
    pub args: Vec<String>,
}

/// `name[:tag|@digest]` → (name, tag-or-digest or None).
fn split_ref(s: &str) -> (String, Option<String>) {
    let (name, tag, digest) = super::reference::split(s);
    (name, digest.or(tag))
}

/// Docker's full name of a reference, as pull prints it last
/// (`docker.io/library/busybox:latest`).
fn full_name(name: &str, tag: &str) -> String {
    let reg = creds::registry_of(name);
    let mut n = name.to_string();
    if reg == "docker.io" && !name.starts_with("docker.io/") {
        if !n.contains('/') {
            n = format!("library/{n}");
        }
        n = format!("docker.io/{n}");
    }
    if tag.is_empty() {
        n
    } else if tag.starts_with("sha256:") || tag.starts_with("sha512:") {
        format!("{n}@{tag}")
    } else {
        format!("{n}:{tag}")
    }
}

pub(crate) async fn pull(ctx: &Ctx, a: PullArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    let (name, tag) = split_ref(&a.args[0]);
    if a.all_tags && tag.is_some() {
        return Err(exit("tag can't be used with --all-tags/-a"));
    }
    let tag = match (tag, a.all_tags) {
        (_, true) => String::new(),
        (Some(t), _) => t,
        (None, false) => {
            if !a.quiet {
                out("Using default tag: latest\n");
            }
            "latest".into()
        }
    };
    let client = ctx.client().await?;
    let resp = client
        .post("/images/create")
        .query("fromImage", &name)
        .query_opt("platform", a.platform.as_deref())
        .query("tag", &tag)
        .header(
            "x-registry-auth",
            &creds::header_for(&creds::registry_of(&name)),
        )
        .send()
        .await?;
    render(resp, a.quiet).await?;
    out(&format!("{}\n", full_name(&name, &tag)));
    Ok(())
}

pub(crate) async fn push(ctx: &Ctx, a: PushArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    let (name, tag) = split_ref(&a.args[0]);
    if a.all_tags && tag.is_some() {
        return Err(exit("tag can't be used with --all-tags/-a"));
    }
    let tag = match (tag, a.all_tags) {
        (_, true) => String::new(),
        (Some(t), _) => t,
        (None, false) => {
            if !a.quiet {
                out("Using default tag: latest\n");
            }
            "latest".into()
        }
    };
    let client = ctx.client().await?;
    let resp = client
        .post(&format!("/images/{name}/push"))
        .query("tag", &tag)
        .header(
            "x-registry-auth",
            &creds::header_for(&creds::registry_of(&name)),
        )
        .send()
        .await?;
    render(resp, a.quiet).await?;
    if a.quiet {
        out(&format!("{}\n", full_name(&name, &tag)));
    }
    Ok(())
}

pub(crate) async fn login(ctx: &Ctx, a: LoginArgs) -> Result<()> {
    ctx.args(Arity::Max(1), a.args.len())?;
    if a.password.is_some() && a.password_stdin {
        return Err(exit(
            "conflicting options: cannot specify both --password and --password-stdin",
        ));
    }
    if a.password_stdin && a.username.as_deref().unwrap_or("").is_empty() {
        return Err(exit(
            "the --password-stdin option requires --username to be set",
        ));
    }
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let server_arg = a.args.first().cloned().unwrap_or_default();
    let key = if server_arg.is_empty() {
        creds::HUB_KEY.to_string()
    } else {
        creds::normalize_server(&server_arg)
    };
    let mut password = a.password.clone().unwrap_or_default();
    if a.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        password = s.trim_end_matches(['\n', '\r']).to_string();
    }
    let mut username = a.username.clone().unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        // Stored credentials are reused, as docker does.
        let stored = creds::get(&key);
        if username.is_empty() && !stored.username.is_empty() && password.is_empty() {
            username = stored.username;
            password = stored.password;
        }
    }
    if username.is_empty() || password.is_empty() {
        if !std::io::stdin().is_terminal() {
            return Err(exit(
                "Error: Cannot perform an interactive login from a non TTY device",
            ));
        }
        if username.is_empty() {
            out("Username: ");
            let mut s = String::new();
            std::io::stdin().read_line(&mut s)?;
            username = s.trim().to_string();
        }
        if password.is_empty() {
            password = read_password()?;
        }
    }
    if username.is_empty() {
        return Err(exit("Error: Non-null Username Required"));
    }
    if password.is_empty() {
        return Err(exit("Error: Password Required"));
    }
    let c = Creds {
        username,
        password,
        server: key.clone(),
    };
    let client = ctx.client().await?;
    let body = serde_json::json!({
        "username": c.username, "password": c.password, "serveraddress": key,
    });
    client
        .post("/auth")
        .header("content-type", "application/json")
        .body(berth_client::Body::Bytes(serde_json::to_vec(&body)?.into()))
        .send()
        .await?;
    let helper = creds::store(&c).map_err(|e| exit(format!("Error saving credentials: {e}")))?;
    if !helper {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
            creds::config_path().display()
        );
    }
    out("Login Succeeded\n");
    Ok(())
}

/// Reads a password from the terminal without echo.
fn read_password() -> Result<String> {
    use nix::sys::termios;
    let stdin = std::io::stdin();
    out("Password: ");
    let old = termios::tcgetattr(&stdin).ok();
    if let Some(o) = &old {
        let mut t = o.clone();
        t.local_flags.remove(termios::LocalFlags::ECHO);
        let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &t);
    }
    let mut s = String::new();
    let r = stdin.read_line(&mut s);
    if let Some(o) = &old {
        let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, o);
    }
    out("\n");
    r?;
    Ok(s.trim_end_matches(['\n', '\r']).to_string())
}

pub(crate) async fn logout(ctx: &Ctx, a: LogoutArgs) -> Result<()> {
    ctx.args(Arity::Max(1), a.args.len())?;
    let key = match a.args.first() {
        Some(s) if !s.is_empty() => creds::normalize_server(s),
        _ => creds::HUB_KEY.to_string(),
    };
    out(&format!(
        "Removing login credentials for {}\n",
        display_server(&key)
    ));
    creds::erase(&key).map_err(|e| exit(format!("WARNING: could not erase credentials: {e}")))?;
    Ok(())
}

fn display_server(key: &str) -> &str {
    if key == creds::HUB_KEY {
        "https://index.docker.io/v1/"
    } else {
        key
    }
}

const SEARCH_TABLE: &str = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}";
const SEARCH_HEADERS: [(&str, &str); 5] = [
    ("Name", "NAME"),
    ("Description", "DESCRIPTION"),
    ("StarCount", "STARS"),
    ("IsOfficial", "OFFICIAL"),
    ("IsAutomated", "AUTOMATED"),
];

pub(crate) async fn search(ctx: &Ctx, a: SearchArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    let term = &a.args[0];
    let filters = super::filters_json(ctx, &a.filter)?;
    let src = match a.format.as_deref() {
        None | Some("") | Some("table") => SEARCH_TABLE.to_string(),
        Some(f) => f.to_string(),
    };
    let fmt = Format::parse_ctx(&src).map_err(|e| exit(e.to_string()))?;
    let client = ctx.client().await?;
    let limit = (a.limit > 0).then(|| a.limit.to_string());
    let resp = client
        .get("/images/search")
        .query("term", term)
        .query_opt("limit", limit.as_deref())
        .query_opt("filters", filters.as_deref())
        .header(
            "x-registry-auth",
            &creds::header_for(&creds::registry_of(term)),
        )
        .send()
        .await?;
    let results: Vec<Value> = resp.json().await?;
    let rows: Vec<_> = results
        .iter()
        .map(|r| {
            let mut desc = r["description"].as_str().unwrap_or("").replace('\n', " ");
            if !a.no_trunc {
                desc = crate::format::ellipsis(&desc, 45);
            }
            let mut m: std::collections::BTreeMap<String, gotmpl::Value> = Default::default();
            m.insert("Name".into(), r["name"].as_str().unwrap_or("").into());
            m.insert("Description".into(), desc.into());
            m.insert(
                "StarCount".into(),
                gotmpl::Value::Int(r["star_count"].as_i64().unwrap_or(0)),
            );
            // docker's search context renders booleans as "[OK]" or "".
            let b = |k: &str| -> gotmpl::Value {
                if r[k].as_bool().unwrap_or(false) {
                    "[OK]"
                } else {
                    ""
                }
                .into()
            };
            m.insert("IsOfficial".into(), b("is_official"));
            m.insert("IsAutomated".into(), b("is_automated"));
            gotmpl::Value::from(m)
        })
        .collect();
    out(&fmt
        .render(&rows, &SEARCH_HEADERS)
        .map_err(|e| exit(e.to_string()))?);
    Ok(())
}

/// Renders a pull/push progress stream: with `quiet`, nothing but errors; on a
/// terminal one line per id, redrawn in place; otherwise docker's plain lines
/// (progress bars dropped). An in-band error exits 1.
pub(crate) async fn render(resp: berth_client::Response, quiet: bool) -> Result<()> {
    let tty = !quiet && std::io::stdout().is_terminal();
    let mut lines = resp.json_lines();
    // id → line index from the top of the block, for the terminal redraw.
    let mut rows: HashMap<String, usize> = HashMap::new();
    let mut total = 0usize;
    while let Some(msg) = lines.next::<Value>().await {
        let m = msg?;
        let err = m["errorDetail"]["message"]
            .as_str()
            .or(m["error"].as_str())
            .filter(|e| !e.is_empty());
        if let Some(e) = err {
            return Err(exit(e));
        }
        if quiet {
            continue;
        }
        let id = m["id"].as_str().unwrap_or("");
        let status = m["status"].as_str().unwrap_or("");
        let progress = m["progress"].as_str().unwrap_or("");
        if status.is_empty() && progress.is_empty() {
            continue;
        }
        let text = match (id.is_empty(), progress.is_empty()) {
            (true, true) => status.to_string(),
            (true, false) => format!("{status} {progress}"),
            (false, true) => format!("{id}: {status}"),
            (false, false) => format!("{id}: {status} {progress}"),
        };
        if !tty {
            if progress.is_empty() {
                out(&format!("{text}\n"));
            }
            continue;
        }
        // Lines with an id stay in place and are rewritten (docker's cursor moves);
        // "Pulling from" with the tag as id is a plain line.
        if id.is_empty() || status.starts_with("Pulling from ") {
            out(&format!("{text}\n"));
            if !id.is_empty() {
                rows.clear();
                total = 0;
            }
            continue;
        }
        match rows.get(id) {
            Some(&row) => {
                let up = total - row;
                out(&format!("\x1b[{up}A\x1b[2K\r{text}\x1b[{up}B\r"));
            }
            None => {
                rows.insert(id.to_string(), total);
                total += 1;
                out(&format!("{text}\n"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            full_name("busybox", "latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full_name("127.0.0.1:5000/a/b", "v1"),
            "127.0.0.1:5000/a/b:v1"
        );
        assert_eq!(
            split_ref("127.0.0.1:5000/a/b:v1"),
            ("127.0.0.1:5000/a/b".into(), Some("v1".into()))
        );
        assert_eq!(split_ref("busybox"), ("busybox".into(), None));
    }
}

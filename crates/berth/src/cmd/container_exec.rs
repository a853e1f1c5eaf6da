//! `logs`, `exec` and `attach`: the commands that read a container's streams.

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use super::container_run::{forward_signals, monitor_tty_size, wait_exit};
use super::container_stream::{StreamEnd, StreamOpts, demux, stream};
use super::{Ctx, out};
use crate::usage::{Arity, Exit};

fn cpath(name: &str, tail: &str) -> String {
    format!("/containers/{}{tail}", berth_client::path_escape(name))
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// Show extra details provided to logs
    #[arg(long = "details")]
    pub details: bool,
    /// Follow log output
    #[arg(short = 'f', long = "follow")]
    pub follow: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long = "since", value_name = "string")]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs
    #[arg(
        short = 'n',
        long = "tail",
        value_name = "string",
        default_value = "all"
    )]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long = "timestamps")]
    pub timestamps: bool,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long = "until", value_name = "string")]
    pub until: Option<String>,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

/// docker's `timetypes.GetTimestamp`: relative durations become `now - d`, dates
/// become unix seconds with nanoseconds, plain numbers pass through.
pub(crate) fn get_timestamp(value: &str, now: f64) -> Result<String, String> {
    if let Ok(ns) = super::container_parse::go_duration(value) {
        let t = now - ns as f64 / 1e9;
        let secs = t.floor();
        let nanos = ((t - secs) * 1e9).round() as i64;
        return Ok(format!("{}.{:09}", secs as i64, nanos.min(999_999_999)));
    }
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Ok(value.to_string());
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(value)
        .map(|d| d.timestamp_nanos_opt().unwrap_or(0))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                })
                .map(|d| d.and_utc().timestamp_nanos_opt().unwrap_or(0))
        });
    match parsed {
        Ok(ns) => Ok(format!(
            "{}.{:09}",
            ns.div_euclid(1_000_000_000),
            ns.rem_euclid(1_000_000_000)
        )),
        Err(_) => Err(format!(
            "failed to parse value as time or duration: \"{value}\""
        )),
    }
}

pub(crate) async fn logs(ctx: &Ctx, a: LogsArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    let client = ctx.client().await?;
    let info: Value = client
        .get(&cpath(&a.args[0], "/json"))
        .send()
        .await?
        .json()
        .await?;
    let id = info["Id"].as_str().unwrap_or(&a.args[0]).to_string();
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let now = crate::format::units::now_unix();
    let ts = |v: &Option<String>, what: &str| -> Result<Option<String>> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| get_timestamp(s, now))
            .transpose()
            .map_err(|e| anyhow::anyhow!("invalid value for \"{what}\": {e}"))
    };
    let since = ts(&a.since, "since")?;
    let until = ts(&a.until, "until")?;
    let mut resp = client
        .get(&cpath(&id, "/logs"))
        .query_flag("details", a.details)
        .query_flag("follow", a.follow)
        .query_opt("since", since)
        .query("stderr", 1)
        .query("stdout", 1)
        .query("tail", &a.tail)
        .query_flag("timestamps", a.timestamps)
        .query_opt("until", until)
        .send()
        .await?;
    if tty {
        while let Some(chunk) = resp.chunk().await? {
            out(&String::from_utf8_lossy(&chunk));
        }
        return Ok(());
    }
    let reader = tokio_util_reader(resp);
    demux(reader, |s, data| {
        use std::io::Write;
        if s == 2 {
            let _ = std::io::stderr().write_all(data);
        } else {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(data);
            let _ = o.flush();
        }
    })
    .await
}

/// A response body as an `AsyncRead`.
fn tokio_util_reader(resp: berth_client::Response) -> impl tokio::io::AsyncRead + Unpin {
    let stream = futures_util::stream::unfold(resp, |mut r| async move {
        match r.chunk().await {
            Ok(Some(c)) => Some((Ok::<_, std::io::Error>(c), r)),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), r)),
        }
    });
    tokio_util_stream_reader(Box::pin(stream))
}

fn tokio_util_stream_reader(
    s: std::pin::Pin<Box<dyn futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send>>,
) -> impl tokio::io::AsyncRead + Unpin {
    StreamReader {
        inner: s,
        buf: bytes::Bytes::new(),
    }
}

struct StreamReader {
    inner:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send>>,
    buf: bytes::Bytes,
}

impl tokio::io::AsyncRead for StreamReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use futures_util::StreamExt;
        use std::task::Poll;
        loop {
            if !self.buf.is_empty() {
                let n = self.buf.len().min(out.remaining());
                let chunk = self.buf.split_to(n);
                out.put_slice(&chunk);
                return Poll::Ready(Ok(()));
            }
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(b))) => self.buf = b,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file", value_name = "list")]
    pub env_file: Vec<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Give extended privileges to the command
    #[arg(long = "privileged")]
    pub privileged: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long = "tty")]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long = "user", value_name = "string")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir", value_name = "string")]
    pub workdir: Option<String>,
    #[arg(
        value_name = "CONTAINER",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        hide = true
    )]
    pub args: Vec<String>,
}

pub(crate) async fn exec(ctx: &Ctx, a: ExecArgs) -> Result<()> {
    super::container::reject_flag_arg(ctx, a.args.first())?;
    ctx.args(Arity::Min(2), a.args.len())?;
    let name = &a.args[0];
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(super::container_parse::parse_kv_file(f, true).map_err(|e| anyhow::anyhow!(e))?);
    }
    for e in &a.env {
        env.push(super::container_parse::parse_env(e).map_err(|e| anyhow::anyhow!(e))?);
    }
    let client = ctx.client().await?;
    client.get(&cpath(name, "/json")).send().await?;
    let attach_stdin = !a.detach && a.interactive;
    if !a.detach && attach_stdin && a.tty && !crate::tty::is_terminal(0) {
        anyhow::bail!("the input device is not a TTY");
    }
    let console = if a.tty && crate::tty::is_terminal(1) {
        crate::tty::size().map(|(h, w)| json!([h, w]))
    } else {
        None
    };
    let mut body = serde_json::Map::new();
    body.insert("User".into(), json!(a.user.clone().unwrap_or_default()));
    body.insert("Privileged".into(), json!(a.privileged));
    body.insert("Tty".into(), json!(a.tty));
    if let Some(c) = &console {
        body.insert("ConsoleSize".into(), c.clone());
    }
    body.insert("AttachStdin".into(), json!(attach_stdin));
    body.insert("AttachStderr".into(), json!(!a.detach));
    body.insert("AttachStdout".into(), json!(!a.detach));
    body.insert("Detach".into(), json!(a.detach));
    body.insert(
        "DetachKeys".into(),
        json!(a.detach_keys.clone().unwrap_or_default()),
    );
    body.insert(
        "Env".into(),
        if env.is_empty() {
            Value::Null
        } else {
            json!(env)
        },
    );
    body.insert(
        "WorkingDir".into(),
        json!(a.workdir.clone().unwrap_or_default()),
    );
    body.insert("Cmd".into(), json!(a.args[1..]));
    let created: Value = client
        .post(&cpath(name, "/exec"))
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let exec_id = created["Id"].as_str().unwrap_or("").to_string();
    if exec_id.is_empty() {
        anyhow::bail!("exec ID empty");
    }
    let start_path = format!("/exec/{exec_id}/start");
    let mut start_body = serde_json::Map::new();
    start_body.insert("Detach".into(), json!(a.detach));
    start_body.insert("Tty".into(), json!(a.tty));
    if let Some(c) = &console {
        start_body.insert("ConsoleSize".into(), c.clone());
    }
    if a.detach {
        client.post(&start_path).json(&start_body).send().await?;
        return Ok(());
    }
    let keys = super::container_run::detach_keys(a.detach_keys.as_deref());
    let resp = client
        .post(&start_path)
        .json(&start_body)
        .upgrade()
        .send_raw()
        .await?;
    let io = super::container_run::hijacked(resp).await?;
    let streamer = tokio::spawn(stream(
        io,
        StreamOpts {
            tty: a.tty,
            stdin: attach_stdin,
            stdout: true,
            stderr: true,
            detach_keys: keys,
        },
    ));
    if a.tty && crate::tty::is_terminal(1) {
        monitor_tty_size(ctx, format!("/exec/{exec_id}/resize"));
    }
    let end = streamer.await;
    crate::tty::restore();
    match end {
        Ok(Ok(StreamEnd::Detached)) => anyhow::bail!("read escape sequence"),
        Ok(Err(e)) => return Err(e),
        _ => {}
    }
    let info: Value = client
        .get(&format!("/exec/{exec_id}/json"))
        .send()
        .await?
        .json()
        .await?;
    let code = info["ExitCode"].as_i64().unwrap_or(0) as i32;
    if code != 0 {
        return Err(Exit {
            code,
            message: String::new(),
        }
        .into());
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = clap::ArgAction::Set, value_name = "")]
    pub sig_proxy: bool,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

async fn inspect_running(ctx: &Ctx, name: &str) -> Result<Value> {
    let client = ctx.client().await?;
    let c: Value = client
        .get(&cpath(name, "/json"))
        .send()
        .await?
        .json()
        .await?;
    let st = &c["State"];
    if !st["Running"].as_bool().unwrap_or(false) {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    if st["Paused"].as_bool().unwrap_or(false) {
        anyhow::bail!("You cannot attach to a paused container, unpause it first");
    }
    if st["Restarting"].as_bool().unwrap_or(false) {
        anyhow::bail!("You cannot attach to a restarting container, wait until it is running");
    }
    Ok(c)
}

pub(crate) async fn attach(ctx: &Ctx, a: AttachArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    let name = &a.args[0];
    ctx.client().await?;
    let wait_rx = wait_exit(ctx, name, None).await;
    let c = inspect_running(ctx, name).await?;
    let tty = c["Config"]["Tty"].as_bool().unwrap_or(false);
    if !a.no_stdin && tty && !crate::tty::is_terminal(0) {
        anyhow::bail!("the input device is not a TTY");
    }
    let stdin = !a.no_stdin && c["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let id = c["Id"].as_str().unwrap_or(name).to_string();
    if a.sig_proxy && !tty {
        forward_signals(ctx, name);
    }
    let io = super::container_run::attach_request(
        ctx,
        name,
        stdin,
        true,
        true,
        a.detach_keys.as_deref(),
    )
    .await?;
    inspect_running(ctx, name).await?;
    if tty && crate::tty::is_terminal(1) {
        monitor_tty_size(ctx, cpath(&id, "/resize"));
    }
    let keys = super::container_run::detach_keys(a.detach_keys.as_deref());
    let end = stream(
        io,
        StreamOpts {
            tty,
            stdin,
            stdout: true,
            stderr: true,
            detach_keys: keys,
        },
    )
    .await;
    crate::tty::restore();
    if end? == StreamEnd::Detached {
        anyhow::bail!("read escape sequence");
    }
    let code = wait_rx.await.unwrap_or(125);
    if code != 0 {
        return Err(Exit {
            code,
            message: String::new(),
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_like_docker() {
        assert_eq!(get_timestamp("2s", 100.5).unwrap(), "98.500000000");
        assert_eq!(get_timestamp("1700000000", 0.0).unwrap(), "1700000000");
        assert_eq!(
            get_timestamp("2013-01-02T13:23:37Z", 0.0).unwrap(),
            "1357133017.000000000"
        );
        assert_eq!(
            get_timestamp("yesterday", 0.0).unwrap_err(),
            "failed to parse value as time or duration: \"yesterday\""
        );
    }
}

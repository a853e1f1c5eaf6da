//! `run`, `create` and `start`, in docker's request order: create (on 404: pull,
//! retry), attach (hijacked, before start), `wait?condition=next-exit|removed`
//! (before start), start, then the tty size; the exit code is the container's.

use anyhow::Result;
use clap::{ArgAction, Args};
use serde_json::Value;

use super::container_opts::{ContainerOpts, CreateSpec, build};
use super::container_stream::{StreamEnd, StreamOpts, stream};
use super::{Ctx, out};
use crate::usage::{Arity, Exit};

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long = "detach")]
    pub detach: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = ArgAction::Set, value_name = "")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    #[command(flatten)]
    pub opts: ContainerOpts,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    pub opts: ContainerOpts,
}

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long = "attach")]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long = "interactive")]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys", value_name = "string")]
    pub detach_keys: Option<String>,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

/// docker's `withHelp`: `berth: <err>\n\nRun 'berth <cmd> --help' for more information`.
pub(crate) fn with_help(err: &str, cmd: &str) -> String {
    format!("berth: {err}\n\nRun 'berth {cmd} --help' for more information")
}

/// Builds the create body, reporting failures in docker's order: bad flag values
/// from its flag parser (usage, exit 125), then `--pull`, then the rest as
/// `berth: <err>` with a help hint.
fn checked_build(ctx: &Ctx, o: &ContainerOpts, cmd: &str) -> Result<CreateSpec> {
    let spec = build(o, console_size(o.tty));
    if let Err(e) = &spec
        && e.starts_with("invalid argument \"")
    {
        return Err(ctx.flag_error(e).into());
    }
    validate_pull(&o.pull, cmd)?;
    spec.map_err(|e| status(125, with_help(&e, cmd)))
}

fn status(code: i32, message: String) -> anyhow::Error {
    Exit { code, message }.into()
}

/// docker's `toStatusError`: 127 for a missing executable, 126 for permissions.
pub(crate) fn start_error_code(msg: &str) -> i32 {
    if msg.contains("executable file not found")
        || msg.contains("no such file or directory")
        || msg.contains("system cannot find the file specified")
    {
        127
    } else if msg.contains("permission denied") || msg.contains("is a directory") {
        126
    } else {
        125
    }
}

fn to_status_error(e: &anyhow::Error) -> anyhow::Error {
    let msg = e.to_string();
    status(start_error_code(&msg), with_help(&msg, "run"))
}

fn validate_pull(p: &str, cmd: &str) -> Result<()> {
    match p {
        "always" | "missing" | "never" | "" => Ok(()),
        _ => Err(status(
            125,
            with_help(
                &format!(
                    "invalid pull option: '{p}': must be one of \"always\", \"missing\" or \"never\""
                ),
                cmd,
            ),
        )),
    }
}

/// `busybox` → `busybox:latest`, as docker names the image it could not find.
fn tagged_familiar(image: &str) -> String {
    let (name, tag, digest) = super::reference::split(image);
    let name = super::reference::familiar_name(&name);
    match (tag, digest) {
        (_, Some(d)) => format!("{name}@{d}"),
        (Some(t), None) => format!("{name}:{t}"),
        (None, None) => format!("{name}:latest"),
    }
}

/// `POST /images/create?fromImage=&tag=`, its progress stream written to stderr.
async fn pull(ctx: &Ctx, image: &str, platform: Option<&str>) -> Result<()> {
    let client = ctx.client().await?;
    let (name, tag, digest) = super::reference::split(image);
    let tag = digest.or(tag).unwrap_or_else(|| "latest".into());
    let resp = client
        .post("/images/create")
        .query("fromImage", &name)
        .query_opt("platform", platform)
        .query("tag", &tag)
        .header(
            "x-registry-auth",
            &super::registry_auth::header_for(&super::registry_auth::registry_of(&name)),
        )
        .send()
        .await?;
    let mut lines = resp.json_lines();
    while let Some(msg) = lines.next::<Value>().await {
        let msg = msg?;
        if let Some(e) = msg.get("error").and_then(Value::as_str) {
            anyhow::bail!("{e}");
        }
        if let Some(s) = msg.get("status").and_then(Value::as_str) {
            match msg.get("id").and_then(Value::as_str) {
                Some(id) => eprintln!("{id}: {s}"),
                None => eprintln!("{s}"),
            }
        }
    }
    Ok(())
}

/// Creates the container; returns its id (warnings printed as docker prints them).
async fn create_container(ctx: &Ctx, o: &ContainerOpts, spec: &CreateSpec) -> Result<String> {
    let client = ctx.client().await?;
    let cidfile = match o.cidfile.as_deref().filter(|s| !s.is_empty()) {
        Some(p) => {
            if std::path::Path::new(p).exists() {
                anyhow::bail!(
                    "container ID file found, make sure the other container isn't running or delete {p}"
                );
            }
            std::fs::File::create(p)
                .map_err(|e| anyhow::anyhow!("failed to create the container ID file: {e}"))?;
            Some(p.to_string())
        }
        None => None,
    };
    let image = o.args.first().cloned().unwrap_or_default();
    if o.pull == "always" {
        pull(ctx, &image, o.platform.as_deref()).await?;
    }
    // Go's JSON encoder ends the body with a newline.
    let mut body = serde_json::to_vec(&spec.body)?;
    body.push(b'\n');
    let send = || {
        client
            .post("/containers/create")
            .query_opt("name", o.name.as_deref())
            .query_opt("platform", o.platform.as_deref())
            .header("content-type", "application/json")
            .body(berth_client::Body::Bytes(body.clone().into()))
            .send()
    };
    let resp = match send().await {
        Ok(r) => r,
        Err(berth_client::Error::Daemon { status: 404, .. }) if o.pull == "missing" => {
            if !o.quiet {
                eprintln!("Unable to find image '{}' locally", tagged_familiar(&image));
            }
            pull(ctx, &image, o.platform.as_deref()).await?;
            send().await?
        }
        Err(e) => return Err(e.into()),
    };
    let v: Value = resp.json().await?;
    let id = v
        .get("Id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(ws) = v.get("Warnings").and_then(Value::as_array) {
        for w in ws.iter().filter_map(Value::as_str) {
            eprintln!("WARNING: {w}");
        }
    }
    if let Some(p) = cidfile {
        std::fs::write(&p, &id)
            .map_err(|e| anyhow::anyhow!("failed to write the container ID to the file: {e}"))?;
    }
    Ok(id)
}

fn console_size(tty: bool) -> (u16, u16) {
    if tty && crate::tty::is_terminal(1) {
        crate::tty::size().unwrap_or((0, 0))
    } else {
        (0, 0)
    }
}

pub(crate) async fn create(ctx: &Ctx, a: CreateArgs) -> Result<()> {
    super::container::reject_flag_arg(ctx, a.opts.args.first())?;
    ctx.args(Arity::Min(1), a.opts.args.len())?;
    let spec = checked_build(ctx, &a.opts, "create")?;
    ctx.client().await?;
    let id = create_container(ctx, &a.opts, &spec).await?;
    out(&format!("{id}\n"));
    Ok(())
}

/// The attach request docker sends (hijacked, `text/plain`).
pub(crate) async fn attach_request(
    ctx: &Ctx,
    id: &str,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    detach_keys: Option<&str>,
) -> Result<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static> {
    let client = ctx.client().await?;
    let path = format!("/containers/{}/attach", berth_client::path_escape(id));
    // Go's url.Values sorts keys: detachKeys, stderr, stdin, stdout, stream.
    let mut req = client.post(&path).query_opt("detachKeys", detach_keys);
    if stderr {
        req = req.query("stderr", 1);
    }
    if stdin {
        req = req.query("stdin", 1);
    }
    if stdout {
        req = req.query("stdout", 1);
    }
    let resp = req
        .query("stream", 1)
        .header("content-type", "text/plain")
        .upgrade()
        .send_raw()
        .await?;
    hijacked(resp).await
}

/// The upgraded stream of a hijack answer; anything but `101` is docker's
/// `unable to upgrade to tcp, received <status>` (the daemon's message is dropped).
pub(crate) async fn hijacked(
    resp: berth_client::Response,
) -> Result<impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static> {
    if resp.status() != 101 {
        anyhow::bail!("unable to upgrade to tcp, received {}", resp.status());
    }
    Ok(resp.upgrade().await?)
}

/// `POST /containers/{id}/wait?condition=...` on its own connection, sent before
/// start as docker sends it: returns once the daemon answered the headers (or after
/// a short grace period) with a receiver for the exit code (125 when the wait
/// itself fails, as docker reports it).
pub(crate) async fn wait_exit(
    ctx: &Ctx,
    id: &str,
    condition: Option<&'static str>,
) -> tokio::sync::oneshot::Receiver<i32> {
    let host = ctx.host.clone();
    let version = ctx_version(ctx);
    let path = format!("/containers/{}/wait", berth_client::path_escape(id));
    let (tx, rx) = tokio::sync::oneshot::channel::<i32>();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let client = match version {
            Some(v) => berth_client::Client::with_version(host, &v),
            None => berth_client::Client::new(host),
        };
        let resp = client
            .post(&path)
            .query_opt("condition", condition)
            .send()
            .await;
        let _ = sent_tx.send(());
        let code = match resp {
            Ok(r) => match r.json::<Value>().await {
                Ok(v) => {
                    if v.get("Error").and_then(|e| e.get("Message")).is_some() {
                        125
                    } else {
                        v.get("StatusCode").and_then(Value::as_i64).unwrap_or(125) as i32
                    }
                }
                Err(_) => 125,
            },
            Err(_) => 125,
        };
        let _ = tx.send(code);
    });
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sent_rx).await;
    rx
}

fn ctx_version(ctx: &Ctx) -> Option<String> {
    ctx.client_version()
}

/// Sends the terminal size now and on every SIGWINCH (docker's `MonitorTtySize`).
pub(crate) fn monitor_tty_size(ctx: &Ctx, resize_path: String) {
    let host = ctx.host.clone();
    let version = ctx_version(ctx);
    tokio::spawn(async move {
        let client = match version {
            Some(v) => berth_client::Client::with_version(host, &v),
            None => berth_client::Client::new(host),
        };
        // docker retries the first resize a few times while the process starts.
        for _ in 0..10 {
            if resize(&client, &resize_path).await {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let Ok(mut sig) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
        else {
            return;
        };
        while sig.recv().await.is_some() {
            resize(&client, &resize_path).await;
        }
    });
}

/// One `resize?h=&w=` with the current terminal size; true when sent or nothing to send.
async fn resize(c: &berth_client::Client, path: &str) -> bool {
    let (h, w) = crate::tty::size().unwrap_or((0, 0));
    if h == 0 && w == 0 {
        return true;
    }
    c.post(path)
        .query("h", h)
        .query("w", w)
        .send()
        .await
        .is_ok()
}

/// Forwards the usual termination signals to the container (`--sig-proxy`).
pub(crate) fn forward_signals(ctx: &Ctx, id: &str) {
    use tokio::signal::unix::{SignalKind, signal};
    let host = ctx.host.clone();
    let version = ctx_version(ctx);
    let path = format!("/containers/{}/kill", berth_client::path_escape(id));
    for (kind, name) in [
        (SignalKind::interrupt(), "INT"),
        (SignalKind::terminate(), "TERM"),
        (SignalKind::hangup(), "HUP"),
        (SignalKind::quit(), "QUIT"),
        (SignalKind::user_defined1(), "USR1"),
        (SignalKind::user_defined2(), "USR2"),
    ] {
        let Ok(mut s) = signal(kind) else { continue };
        let host = host.clone();
        let version = version.clone();
        let path = path.clone();
        tokio::spawn(async move {
            let client = match version {
                Some(v) => berth_client::Client::with_version(host, &v),
                None => berth_client::Client::new(host),
            };
            while s.recv().await.is_some() {
                let _ = client.post(&path).query("signal", name).send().await;
            }
        });
    }
}

/// The detach sequence to watch for; an invalid one falls back to the default,
/// as docker's streamer does (the daemon rejects it on attach anyway).
pub(crate) fn detach_keys(keys: Option<&str>) -> Vec<u8> {
    keys.filter(|k| !k.is_empty())
        .and_then(|k| crate::tty::parse_detach_keys(k).ok())
        .unwrap_or_else(|| crate::tty::DEFAULT_DETACH.to_vec())
}

pub(crate) async fn run(ctx: &Ctx, a: RunArgs) -> Result<()> {
    super::container::reject_flag_arg(ctx, a.opts.args.first())?;
    ctx.args(Arity::Min(1), a.opts.args.len())?;
    let mut spec = checked_build(ctx, &a.opts, "run")?;
    ctx.client().await?;
    if a.detach {
        if !a.opts.attach.is_empty() {
            anyhow::bail!("conflicting options: cannot specify both --attach and --detach");
        }
        for k in ["AttachStdin", "AttachStdout", "AttachStderr", "StdinOnce"] {
            spec.body[k] = Value::Bool(false);
        }
        spec.attach_stdin = false;
        spec.attach_stdout = false;
        spec.attach_stderr = false;
    } else if spec.attach_stdin && spec.tty && !crate::tty::is_terminal(0) {
        anyhow::bail!("the input device is not a TTY");
    }
    let keys = detach_keys(a.detach_keys.as_deref());
    let id = create_container(ctx, &a.opts, &spec)
        .await
        .map_err(|e| to_status_error(&e))?;
    if a.sig_proxy {
        forward_signals(ctx, &id);
    }
    let attach = spec.attach_stdin || spec.attach_stdout || spec.attach_stderr;
    let mut streamer = None;
    if attach {
        let io = attach_request(
            ctx,
            &id,
            spec.attach_stdin,
            spec.attach_stdout,
            spec.attach_stderr,
            a.detach_keys.as_deref(),
        )
        .await?;
        let opts = StreamOpts {
            tty: spec.tty,
            stdin: spec.attach_stdin,
            stdout: spec.attach_stdout,
            stderr: spec.attach_stderr,
            detach_keys: keys,
        };
        streamer = Some(tokio::spawn(stream(io, opts)));
    }
    let condition = if a.opts.rm { "removed" } else { "next-exit" };
    let wait_rx = wait_exit(ctx, &id, Some(condition)).await;
    let client = ctx.client().await?;
    let start_path = format!("/containers/{}/start", berth_client::path_escape(&id));
    if let Err(e) = client.post(&start_path).send().await {
        if let Some(s) = streamer.take() {
            s.abort();
            crate::tty::restore();
        }
        if a.opts.rm {
            let _ = wait_rx.await;
        }
        return Err(to_status_error(&e.into()));
    }
    let Some(streamer) = streamer else {
        out(&format!("{id}\n"));
        return Ok(());
    };
    if spec.tty && crate::tty::is_terminal(1) {
        monitor_tty_size(
            ctx,
            format!("/containers/{}/resize", berth_client::path_escape(&id)),
        );
    }
    let end = streamer.await;
    crate::tty::restore();
    match end {
        Ok(Ok(StreamEnd::Detached)) => return Ok(()),
        Ok(Err(e)) => return Err(e),
        _ => {}
    }
    let code = wait_rx.await.unwrap_or(125);
    if code != 0 {
        return Err(status(code, String::new()));
    }
    Ok(())
}

pub(crate) async fn start(ctx: &Ctx, a: StartArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let client = ctx.client().await?;
    if !(a.attach || a.interactive) {
        let mut failed = Vec::new();
        for name in &a.args {
            let path = format!("/containers/{}/start", berth_client::path_escape(name));
            match client.post(&path).send().await {
                Ok(_) => out(&format!("{name}\n")),
                Err(e) => {
                    eprintln!("{e}");
                    failed.push(name.as_str());
                }
            }
        }
        if !failed.is_empty() {
            anyhow::bail!("Error: failed to start containers: {}", failed.join(", "));
        }
        return Ok(());
    }
    if a.args.len() > 1 {
        anyhow::bail!("you cannot start and attach multiple containers at once");
    }
    let name = &a.args[0];
    let info: Value = client
        .get(&format!(
            "/containers/{}/json",
            berth_client::path_escape(name)
        ))
        .send()
        .await?
        .json()
        .await?;
    let id = info["Id"].as_str().unwrap_or(name).to_string();
    let cfg = &info["Config"];
    let tty = cfg["Tty"].as_bool().unwrap_or(false);
    let open_stdin = cfg["OpenStdin"].as_bool().unwrap_or(false);
    let stdin = a.interactive && open_stdin;
    let auto_remove = info["HostConfig"]["AutoRemove"].as_bool().unwrap_or(false);
    let keys = detach_keys(a.detach_keys.as_deref());
    if !tty {
        forward_signals(ctx, &id);
    }
    // docker's order: attach, then wait, then start.
    let io = attach_request(ctx, &id, stdin, true, true, a.detach_keys.as_deref()).await?;
    let streamer = tokio::spawn(stream(
        io,
        StreamOpts {
            tty,
            stdin,
            stdout: true,
            stderr: true,
            detach_keys: keys,
        },
    ));
    let condition = if auto_remove { "removed" } else { "next-exit" };
    let wait_rx = wait_exit(ctx, &id, Some(condition)).await;
    let start_path = format!("/containers/{}/start", berth_client::path_escape(&id));
    if let Err(e) = client.post(&start_path).send().await {
        streamer.abort();
        crate::tty::restore();
        if auto_remove {
            let _ = wait_rx.await;
        }
        return Err(e.into());
    }
    if tty && crate::tty::is_terminal(1) {
        monitor_tty_size(
            ctx,
            format!("/containers/{}/resize", berth_client::path_escape(&id)),
        );
    }
    let end = streamer.await;
    crate::tty::restore();
    match end {
        Ok(Ok(StreamEnd::Detached)) => return Ok(()),
        Ok(Err(e)) => return Err(e),
        _ => {}
    }
    let code = wait_rx.await.unwrap_or(125);
    if code != 0 {
        return Err(status(code, String::new()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_errors_map_to_docker_codes() {
        assert_eq!(
            start_error_code(
                "failed to create task: exec: \"nope\": executable file not found in $PATH"
            ),
            127
        );
        assert_eq!(start_error_code("exec /etc: permission denied"), 126);
        assert_eq!(start_error_code("port is already allocated"), 125);
        assert_eq!(tagged_familiar("busybox"), "busybox:latest");
        assert_eq!(tagged_familiar("docker.io/library/alpine:3"), "alpine:3");
    }
}

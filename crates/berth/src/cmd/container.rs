//! Container lifecycle commands that are one request per container: stop, restart,
//! kill, rm, wait, pause, unpause, rename, prune, port, diff, export. Each prints
//! the name it was given on success and joins the daemon's errors, exit 1.

use anyhow::Result;
use clap::Args;
use futures_util::StreamExt;
use serde_json::Value;

use super::{Ctx, filters_json, out};
use crate::format::units;
use crate::usage::{Arity, Exit};

fn cpath(name: &str, tail: &str) -> String {
    format!("/containers/{}{tail}", berth_client::path_escape(name))
}

/// cobra's `RequiresRangeArgs` message for `min..=max` arguments.
pub(crate) fn range_args(ctx: &Ctx, min: usize, max: usize, n: usize) -> Result<(), Exit> {
    if (min..=max).contains(&n) {
        return Ok(());
    }
    let p = crate::usage::display_path(&ctx.path);
    Err(Exit {
        code: 1,
        message: format!(
            "berth: '{p}' requires at least {min} and at most {max} arguments\n\nUsage:  {}\n\nRun '{p} --help' for more information",
            crate::usage::usage_of(&ctx.path)
        ),
    })
}

/// A flag typed where the first positional argument belongs (commands that stop
/// flag parsing there take it as a value): docker's unknown-flag error.
pub(crate) fn reject_flag_arg(ctx: &Ctx, first: Option<&String>) -> Result<(), Exit> {
    match first {
        Some(f) if f.starts_with("--") && f.len() > 2 => {
            let name = f.split('=').next().unwrap_or(f);
            Err(ctx.flag_error(&format!("unknown flag: {name}")))
        }
        Some(f) if f.starts_with('-') && f.len() > 1 => {
            let c = f.chars().nth(1).unwrap_or('-');
            Err(ctx.flag_error(&format!("unknown shorthand flag: '{c}' in {f}")))
        }
        _ => Ok(()),
    }
}

fn joined(errs: Vec<String>) -> Result<()> {
    if errs.is_empty() {
        return Ok(());
    }
    Err(Exit {
        code: 1,
        message: errs.join("\n"),
    }
    .into())
}

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal", value_name = "string")]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub timeout: Option<i64>,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

/// `stop` and `restart` (same flags, different verb).
pub(crate) async fn stop(ctx: &Ctx, a: StopArgs, verb: &str) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let client = ctx.client().await?;
    let mut errs = Vec::new();
    for name in &a.args {
        let r = client
            .post(&cpath(name, &format!("/{verb}")))
            .query_opt("signal", a.signal.as_deref())
            .query_opt("t", a.timeout)
            .send()
            .await;
        match r {
            Ok(_) => out(&format!("{name}\n")),
            Err(e) => errs.push(e.to_string()),
        }
    }
    joined(errs)
}

#[derive(Debug, Args)]
pub(crate) struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long = "signal", value_name = "string")]
    pub signal: Option<String>,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn kill(ctx: &Ctx, a: KillArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let client = ctx.client().await?;
    let mut errs = Vec::new();
    for name in &a.args {
        let r = client
            .post(&cpath(name, "/kill"))
            .query_opt("signal", a.signal.as_deref().filter(|s| !s.is_empty()))
            .send()
            .await;
        match r {
            Ok(_) => out(&format!("{name}\n")),
            Err(e) => errs.push(e.to_string()),
        }
    }
    joined(errs)
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Remove the specified link
    #[arg(short = 'l', long = "link")]
    pub link: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn rm(ctx: &Ctx, a: RmArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let client = ctx.client().await?;
    let mut errs = Vec::new();
    // Up to 50 removals at once, results reported in argument order (docker's CLI).
    let client = &client;
    let results: Vec<_> = futures_util::stream::iter(a.args.iter().map(|name| async move {
        let id = name.trim_matches('/');
        if id.is_empty() {
            return (name, None);
        }
        let r = client
            .delete(&cpath(id, ""))
            .query_flag("force", a.force)
            .query_flag("link", a.link)
            .query_flag("v", a.volumes)
            .send()
            .await;
        (name, Some(r))
    }))
    .buffered(50)
    .collect()
    .await;
    for (name, r) in results {
        let Some(r) = r else {
            errs.push("container name cannot be empty".to_string());
            continue;
        };
        match r {
            Ok(_) => out(&format!("{name}\n")),
            Err(e) if a.force && e.status() == Some(404) => eprintln!("{e}"),
            Err(e) => errs.push(e.to_string()),
        }
    }
    joined(errs)
}

#[derive(Debug, Args)]
pub(crate) struct NamesArgs {
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

/// `pause` / `unpause`.
pub(crate) async fn simple(ctx: &Ctx, a: NamesArgs, verb: &str) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let client = ctx.client().await?;
    let mut errs = Vec::new();
    for name in &a.args {
        match client.post(&cpath(name, &format!("/{verb}"))).send().await {
            Ok(_) => out(&format!("{name}\n")),
            Err(e) => errs.push(e.to_string()),
        }
    }
    joined(errs)
}

pub(crate) async fn wait(ctx: &Ctx, a: NamesArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let client = ctx.client().await?;
    let mut errs = Vec::new();
    for name in &a.args {
        let r = async {
            let v: Value = client
                .post(&cpath(name, "/wait"))
                .send()
                .await?
                .json()
                .await?;
            if let Some(m) = v
                .get("Error")
                .and_then(|e| e.get("Message"))
                .and_then(Value::as_str)
            {
                anyhow::bail!("{m}");
            }
            Ok(v.get("StatusCode").and_then(Value::as_i64).unwrap_or(0))
        }
        .await;
        match r {
            Ok(code) => out(&format!("{code}\n")),
            Err(e) => errs.push(e.to_string()),
        }
    }
    joined(errs)
}

pub(crate) async fn rename(ctx: &Ctx, a: NamesArgs) -> Result<()> {
    ctx.args(Arity::Exact(2), a.args.len())?;
    let (old, new) = (a.args[0].trim(), a.args[1].trim());
    if old.is_empty() || new.is_empty() {
        anyhow::bail!("Error: Neither old nor new names may be empty");
    }
    let client = ctx.client().await?;
    if let Err(e) = client
        .post(&cpath(old, "/rename"))
        .query("name", new)
        .send()
        .await
    {
        eprintln!("{e}");
        anyhow::bail!("Error: failed to rename container named {old}");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn prune(ctx: &Ctx, a: PruneArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let filters = filters_json(ctx, &a.filter)?;
    if !a.force
        && !super::image::confirm(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?",
        )
    {
        return Ok(());
    }
    let client = ctx.client().await?;
    let report: Value = client
        .post("/containers/prune")
        .query_opt("filters", filters)
        .send()
        .await?
        .json()
        .await?;
    let mut text = String::new();
    let mut space = 0;
    if let Some(ids) = report["ContainersDeleted"]
        .as_array()
        .filter(|a| !a.is_empty())
    {
        text.push_str("Deleted Containers:\n");
        for id in ids.iter().filter_map(Value::as_str) {
            text.push_str(id);
            text.push('\n');
        }
        text.push('\n');
        space = report["SpaceReclaimed"].as_u64().unwrap_or(0);
    }
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        units::human_size(space as f64)
    ));
    out(&text);
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct PortArgs {
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`, from `NetworkSettings.Ports`.
pub(crate) async fn port(ctx: &Ctx, a: PortArgs) -> Result<()> {
    range_args(ctx, 1, 2, a.args.len())?;
    let client = ctx.client().await?;
    let v: Value = client
        .get(&cpath(&a.args[0], "/json"))
        .send()
        .await?
        .json()
        .await?;
    let ports = v["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let fmt_binding = |b: &Value| {
        let ip = b["HostIp"].as_str().unwrap_or("");
        let port = b["HostPort"].as_str().unwrap_or("");
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    let mut text = String::new();
    if let Some(want) = a.args.get(1) {
        let (p, proto) = want.split_once('/').unwrap_or((want, ""));
        let proto = if proto.is_empty() { "tcp" } else { proto };
        if p.parse::<u16>().is_err() {
            anyhow::bail!(
                "Error: invalid port ({p}): strconv.ParseUint: parsing {}: invalid syntax",
                super::container_ps::go_quote(p)
            );
        }
        let key = format!("{p}/{proto}");
        if let Some(bs) = ports.get(&key).and_then(Value::as_array) {
            for b in bs {
                text.push_str(&fmt_binding(b));
                text.push('\n');
            }
            out(&text);
            return Ok(());
        }
        anyhow::bail!("Error: No public port '{want}' published for {}", a.args[0]);
    }
    let mut lines = Vec::new();
    for (k, bs) in &ports {
        for b in bs.as_array().into_iter().flatten() {
            lines.push(format!("{k} -> {}", fmt_binding(b)));
        }
    }
    lines.sort();
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    out(&text);
    Ok(())
}

pub(crate) async fn diff(ctx: &Ctx, a: NamesArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    if a.args[0].is_empty() {
        anyhow::bail!("Container name cannot be empty");
    }
    let client = ctx.client().await?;
    let v: Value = client
        .get(&cpath(&a.args[0], "/changes"))
        .send()
        .await?
        .json()
        .await?;
    let mut text = String::new();
    for c in v.as_array().into_iter().flatten() {
        let kind = match c["Kind"].as_i64() {
            Some(0) => "C",
            Some(1) => "A",
            Some(2) => "D",
            _ => "",
        };
        text.push_str(&format!("{kind} {}\n", c["Path"].as_str().unwrap_or("")));
    }
    out(&text);
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long = "output", value_name = "string")]
    pub output: Option<String>,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn export(ctx: &Ctx, a: ExportArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    let to_file = a.output.as_deref().filter(|o| !o.is_empty());
    if to_file.is_none() && crate::tty::is_terminal(1) {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let client = ctx.client().await?;
    let resp = client.get(&cpath(&a.args[0], "/export")).send().await?;
    match to_file {
        Some(path) => {
            let dir = std::path::Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let tmp = dir.join(format!(".{}.tmp", berth_stdx::random_id()));
            let mut f = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| anyhow::anyhow!("failed to export container: {e}"))?;
            let r = resp.copy_to(&mut f).await;
            if let Err(e) = r {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, path)?;
        }
        None => {
            let mut stdout = tokio::io::stdout();
            resp.copy_to(&mut stdout).await?;
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Prune anonymous volumes
    #[arg(long = "volumes")]
    pub volumes: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// `system prune`: containers, networks, (volumes), images, as docker runs them.
pub(crate) async fn system_prune(ctx: &Ctx, a: SystemPruneArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    if a.volumes && a.filter.iter().any(|f| f.starts_with("until=")) {
        anyhow::bail!("ERROR: The \"until\" filter is not supported with \"--volumes\"");
    }
    if !a.force {
        let mut msg = String::from(
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container",
        );
        if a.volumes {
            msg.push_str("\n  - all anonymous volumes not used by at least one container");
        }
        if a.all {
            msg.push_str("\n  - all images without at least one container associated to them");
        } else {
            msg.push_str("\n  - all dangling images");
        }
        let mut filters: Vec<&String> = a
            .filter
            .iter()
            .filter(|f| {
                ["label=", "label!=", "until="]
                    .iter()
                    .any(|p| f.starts_with(p))
            })
            .collect();
        filters.sort();
        msg.push('\n');
        if !filters.is_empty() {
            msg.push_str("\n  Items to be pruned will be filtered with:");
            for f in filters {
                msg.push_str(&format!("\n  - {f}"));
            }
            msg.push('\n');
        }
        msg.push_str("\nAre you sure you want to continue?");
        if !super::image::confirm(&msg) {
            return Ok(());
        }
    }
    let client = ctx.client().await?;
    let filters = filters_json(ctx, &a.filter)?;
    let mut total = 0u64;
    let mut sections: Vec<(&str, &str, &str)> = vec![
        (
            "/containers/prune",
            "ContainersDeleted",
            "Deleted Containers:",
        ),
        ("/networks/prune", "NetworksDeleted", "Deleted Networks:"),
    ];
    if a.volumes {
        sections.push(("/volumes/prune", "VolumesDeleted", "Deleted Volumes:"));
    }
    for (path, key, title) in sections {
        let v: Value = client
            .post(path)
            .query_opt("filters", filters.clone())
            .send()
            .await?
            .json()
            .await?;
        if let Some(ids) = v[key].as_array().filter(|a| !a.is_empty()) {
            let mut text = format!("{title}\n");
            for id in ids.iter().filter_map(Value::as_str) {
                text.push_str(id);
                text.push('\n');
            }
            out(&format!("{text}\n"));
            total += v["SpaceReclaimed"].as_u64().unwrap_or(0);
        }
    }
    let mut img_filters = a.filter.clone();
    img_filters.push(format!("dangling={}", !a.all));
    let img_filters = filters_json(ctx, &img_filters)?;
    let v: Value = client
        .post("/images/prune")
        .query_opt("filters", img_filters)
        .send()
        .await?
        .json()
        .await?;
    if let Some(items) = v["ImagesDeleted"].as_array().filter(|a| !a.is_empty()) {
        let mut text = String::from("Deleted Images:\n");
        for d in items {
            if let Some(u) = d["Untagged"].as_str().filter(|s| !s.is_empty()) {
                text.push_str(&format!("untagged: {u}\n"));
            } else if let Some(id) = d["Deleted"].as_str() {
                text.push_str(&format!("deleted: {id}\n"));
            }
        }
        out(&format!("{text}\n"));
        total += v["SpaceReclaimed"].as_u64().unwrap_or(0);
    }
    out(&format!(
        "Total reclaimed space: {}\n",
        units::human_size(total as f64)
    ));
    Ok(())
}

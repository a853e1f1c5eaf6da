//! `volume create|ls|inspect|rm|prune`, worded and formatted as docker's CLI.

use super::kv_sorted as kv_map;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::{Ctx, filters_json, out};
use crate::format::template::{Format, context};
use crate::format::units;
use crate::usage::{Arity, Exit};

const HELP: &str = "Usage:  {usage}\n\n{about}\n\n{all-args}{after-help}";

#[derive(Debug, Subcommand)]
pub(crate) enum VolumeCommand {
    /// Create a volume
    #[command(override_usage = "berth volume create [OPTIONS] [VOLUME]", help_template = HELP)]
    Create(CreateArgs),
    /// Display detailed information on one or more volumes
    #[command(override_usage = "berth volume inspect [OPTIONS] VOLUME [VOLUME...]", help_template = HELP)]
    Inspect(InspectArgs),
    /// List volumes
    #[command(visible_alias = "list", override_usage = "berth volume ls [OPTIONS]", help_template = HELP)]
    Ls(ListArgs),
    /// Remove unused local volumes
    #[command(override_usage = "berth volume prune [OPTIONS]", help_template = HELP)]
    Prune(PruneArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove", override_usage = "berth volume rm [OPTIONS] VOLUME [VOLUME...]", help_template = HELP)]
    Rm(RmArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Specify volume driver name
    #[arg(
        short = 'd',
        long = "driver",
        value_name = "string",
        default_value = "local"
    )]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", value_name = "string", hide = true)]
    pub name: Option<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opt: Vec<String>,
    #[arg(value_name = "VOLUME", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string", long_help = crate::help::FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(value_name = "VOLUME", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string", long_help = crate::help::FORMAT_HELP)]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(value_name = "VOLUME", hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn dispatch(ctx: &Ctx, c: VolumeCommand) -> Result<()> {
    match c {
        VolumeCommand::Create(a) => create(ctx, a).await,
        VolumeCommand::Inspect(a) => inspect(ctx, a).await,
        VolumeCommand::Ls(a) => list(ctx, a).await,
        VolumeCommand::Prune(a) => prune(ctx, a).await,
        VolumeCommand::Rm(a) => rm(ctx, a).await,
    }
}

fn fail(code: i32, message: impl Into<String>) -> Exit {
    Exit::new(code, message)
}

async fn create(ctx: &Ctx, a: CreateArgs) -> Result<()> {
    ctx.args(Arity::Max(1), a.args.len())?;
    let name = match (a.name.as_deref().filter(|n| !n.is_empty()), a.args.first()) {
        (Some(n), Some(p)) if n != p => {
            return Err(fail(
                1,
                "conflicting options: either specify --name or provide positional arg, not both",
            )
            .into());
        }
        (Some(n), _) => n.to_string(),
        (None, Some(p)) => p.clone(),
        (None, None) => String::new(),
    };
    // Empty maps are left out, as docker's CLI does (the volume then shows `null`).
    let mut body = json!({"Driver": a.driver, "Name": name});
    if !a.opt.is_empty() {
        body["DriverOpts"] = json!(kv_map(&a.opt));
    }
    if !a.label.is_empty() {
        body["Labels"] = json!(kv_map(&a.label));
    }
    let v: Value = ctx
        .client()
        .await?
        .post("/volumes/create")
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    out(&format!(
        "{}\n",
        v.get("Name").and_then(Value::as_str).unwrap_or("")
    ));
    Ok(())
}

async fn inspect(ctx: &Ctx, a: InspectArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let fmt = crate::format::inspect::inspect_format(a.format.as_deref())?;
    let client = ctx.client().await?;
    let mut raws = Vec::new();
    let mut errors = Vec::new();
    for name in &a.args {
        let path = format!("/volumes/{}", berth_client::path_escape(name));
        match client.get(&path).send().await {
            Ok(resp) => raws.push((resp.bytes().await?, false)),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let text = crate::format::inspect::render_inspect(&raws, fmt.as_ref(), &mut errors)?;
    out(&text);
    if !errors.is_empty() {
        return Err(fail(1, errors.join("\n")).into());
    }
    Ok(())
}

const HEADERS: [(&str, &str); 10] = [
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
    ("Group", "GROUP"),
    ("Availability", "AVAILABILITY"),
    ("Status", "STATUS"),
];

/// sortorder.NaturalLess: digit runs compare as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, _) => return std::cmp::Ordering::Less,
            (_, None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let n = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let m = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (p, q) = (&x[..n], &y[..m]);
                let strip = |s: &[u8]| -> Vec<u8> {
                    s.iter().skip_while(|c| **c == b'0').copied().collect()
                };
                let (sp, sq) = (strip(p), strip(q));
                let o = sp.len().cmp(&sq.len()).then(sp.cmp(&sq)).then(n.cmp(&m));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
                x = &x[n..];
                y = &y[m..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn row(v: &Value) -> gotmpl::Value {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let labels: Vec<String> = v
        .get("Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    let usage = v.get("UsageData").filter(|u| !u.is_null());
    context(&[
        ("Name", s("Name")),
        ("Driver", s("Driver")),
        ("Scope", s("Scope")),
        ("Mountpoint", s("Mountpoint")),
        ("Labels", labels.join(",")),
        (
            "Links",
            usage
                .and_then(|u| u.get("RefCount"))
                .and_then(Value::as_i64)
                .map_or("N/A".into(), |n| n.to_string()),
        ),
        (
            "Size",
            usage
                .and_then(|u| u.get("Size"))
                .and_then(Value::as_i64)
                .map_or("N/A".into(), |n| units::human_size(n as f64)),
        ),
        // Cluster-volume fields: "N/A" for local volumes, as docker prints them.
        ("Group", "N/A".into()),
        ("Availability", "N/A".into()),
        ("Status", "N/A".into()),
    ])
}

async fn list(ctx: &Ctx, a: ListArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let filters = filters_json(ctx, &a.filter)?;
    let resp: Value = ctx
        .client()
        .await?
        .get("/volumes")
        .query_opt("filters", filters)
        .send()
        .await?
        .json()
        .await?;
    let mut vols = resp
        .get("Volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for w in resp
        .get("Warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        eprintln!("{}", w.as_str().unwrap_or(""));
    }
    let name = |v: &Value| {
        v.get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    vols.sort_by(|x, y| natural_cmp(&name(x), &name(y)));
    let src = match a.format.as_deref() {
        None | Some("") | Some("table") if a.quiet => "{{.Name}}",
        None | Some("") | Some("table") => "table {{.Driver}}\t{{.Name}}",
        Some(f) => f,
    };
    let fmt = Format::parse_ctx(src).map_err(|e| fail(1, e.to_string()))?;
    let rows: Vec<_> = vols.iter().map(row).collect();
    out(&fmt
        .render(&rows, &HEADERS)
        .map_err(|e| fail(1, e.to_string()))?);
    Ok(())
}

async fn rm(ctx: &Ctx, a: RmArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let client = ctx.client().await?;
    let mut errors = Vec::new();
    for name in &a.args {
        let path = format!("/volumes/{}", berth_client::path_escape(name));
        match client
            .delete(&path)
            .query_flag("force", a.force)
            .send()
            .await
        {
            Ok(_) => out(&format!("{name}\n")),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(fail(1, errors.join("\n")).into());
    }
    Ok(())
}

async fn prune(ctx: &Ctx, a: PruneArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let mut filter = a.filter.clone();
    if a.all {
        if filter.iter().any(|f| f.split('=').next() == Some("all")) {
            return Err(fail(
                125,
                "conflicting options: cannot specify both --all and --filter all=1",
            )
            .into());
        }
        filter.push("all=true".into());
    }
    let filters = filters_json(ctx, &filter)?;
    let warning = if a.all {
        "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?"
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?"
    };
    if !a.force && !super::image::confirm(warning) {
        return Ok(());
    }
    let report: Value = ctx
        .client()
        .await?
        .post("/volumes/prune")
        .query_opt("filters", filters)
        .send()
        .await?
        .json()
        .await?;
    let mut text = String::new();
    let deleted = report
        .get("VolumesDeleted")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !deleted.is_empty() {
        text.push_str("Deleted Volumes:\n");
        for d in &deleted {
            text.push_str(d.as_str().unwrap_or(""));
            text.push('\n');
        }
        text.push('\n');
    }
    let reclaimed = report
        .get("SpaceReclaimed")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        units::human_size(reclaimed as f64)
    ));
    out(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["v10", "v2", "a", "v1", "b01"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, vec!["a", "b01", "v1", "v2", "v10"]);
    }

    /// `--mount` sends what docker's CLI 28 sends (captured on the wire).
    #[test]
    fn mount_flags_match_dockers_wire_form() {
        use crate::cmd::container_parse::parse_mount;
        let cases = [
            (
                "type=volume,src=v2,dst=/m,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b,volume-nocopy",
                json!({"Type": "volume", "Source": "v2", "Target": "/m", "VolumeOptions": {
                    "NoCopy": true, "Labels": {"a": "b"},
                    "DriverConfig": {"Options": {"device": "tmpfs", "type": "tmpfs"}}}}),
            ),
            (
                "type=volume,dst=/n,volume-nocopy",
                json!({"Type": "volume", "Target": "/n",
                    "VolumeOptions": {"NoCopy": true, "DriverConfig": {}}}),
            ),
            (
                "type=bind,source=/x,target=/c,bind-nonrecursive",
                json!({"Type": "bind", "Source": "/x", "Target": "/c",
                    "BindOptions": {"NonRecursive": true}}),
            ),
            (
                "type=bind,source=/x,target=/c,readonly,bind-recursive=writable",
                json!({"Type": "bind", "Source": "/x", "Target": "/c", "ReadOnly": true,
                    "BindOptions": {"ReadOnlyNonRecursive": true}}),
            ),
        ];
        for (flag, want) in cases {
            assert_eq!(parse_mount(flag).unwrap(), want, "{flag}");
        }
        for (flag, want) in [
            (
                "type=bind,source=/x,target=/c,bind-recursive=readonly",
                "option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction",
            ),
            (
                "type=bind,source=/x,target=/c,readonly,bind-recursive=readonly",
                "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction",
            ),
            (
                "type=bind,source=/x,target=/c,bind-recursive=nope",
                "invalid value for bind-recursive: nope (must be \"enabled\", \"disabled\", \"writable\", or \"readonly\")",
            ),
        ] {
            assert_eq!(parse_mount(flag).unwrap_err(), want, "{flag}");
        }
    }

    #[test]
    fn map_flags() {
        let m = kv_map(&["type=tmpfs".into(), "o=size=1m,uid=0".into(), "x".into()]);
        assert_eq!(m["o"], "size=1m,uid=0");
        assert_eq!(m["x"], "");
    }
}

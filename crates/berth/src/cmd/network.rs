//! `network create|connect|disconnect|inspect|ls|prune|rm`, worded and formatted as
//! docker's CLI.

use super::kv_sorted as kv_map;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use super::{Ctx, filters_json, out};
use crate::format::template::{Format, context};
use crate::usage::{Arity, Exit};

const HELP: &str = "Usage:  {usage}\n\n{about}\n\n{all-args}{after-help}";

#[derive(Debug, Subcommand)]
pub(crate) enum NetworkCommand {
    /// Connect a container to a network
    #[command(override_usage = "berth network connect [OPTIONS] NETWORK CONTAINER", help_template = HELP)]
    Connect(ConnectArgs),
    /// Create a network
    #[command(override_usage = "berth network create [OPTIONS] NETWORK", help_template = HELP)]
    Create(CreateArgs),
    /// Disconnect a container from a network
    #[command(override_usage = "berth network disconnect [OPTIONS] NETWORK CONTAINER", help_template = HELP)]
    Disconnect(DisconnectArgs),
    /// Display detailed information on one or more networks
    #[command(override_usage = "berth network inspect [OPTIONS] NETWORK [NETWORK...]", help_template = HELP)]
    Inspect(InspectArgs),
    /// List networks
    #[command(visible_alias = "list", override_usage = "berth network ls [OPTIONS]", help_template = HELP)]
    Ls(ListArgs),
    /// Remove all unused networks
    #[command(override_usage = "berth network prune [OPTIONS]", help_template = HELP)]
    Prune(PruneArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove", override_usage = "berth network rm NETWORK [NETWORK...]", help_template = HELP)]
    Rm(RmArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long = "alias", value_name = "strings")]
    pub alias: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_name = "strings")]
    pub driver_opt: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long = "ip", value_name = "string")]
    pub ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long = "ip6", value_name = "string")]
    pub ip6: Option<String>,
    /// Add link to another container
    #[arg(long = "link", value_name = "list")]
    pub link: Vec<String>,
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Enable manual container attachment
    #[arg(long = "attachable")]
    pub attachable: bool,
    /// Driver to manage the Network
    #[arg(
        short = 'd',
        long = "driver",
        value_name = "string",
        default_value = "bridge"
    )]
    pub driver: String,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long = "gateway", value_name = "strings")]
    pub gateway: Vec<String>,
    /// Restrict external access to the network
    #[arg(long = "internal")]
    pub internal: bool,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_name = "strings")]
    pub ip_range: Vec<String>,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", value_name = "string", default_value = "default")]
    pub ipam_driver: String,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt", value_name = "map")]
    pub ipam_opt: Vec<String>,
    /// Enable or disable IPv6 networking
    #[arg(long = "ipv6", num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub ipv6: Option<bool>,
    /// Set metadata on a network
    #[arg(long = "label", value_name = "list")]
    pub label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opt: Vec<String>,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long = "subnet", value_name = "strings")]
    pub subnet: Vec<String>,
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string", long_help = crate::help::FORMAT_HELP)]
    pub format: Option<String>,
    /// Verbose output for diagnostics
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    #[arg(value_name = "NETWORK", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string", long_help = crate::help::FORMAT_HELP)]
    pub format: Option<String>,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display network IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "ARGS", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Provide filter values (e.g. "until=<timestamp>")
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
    /// Do not error if the network does not exist
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(value_name = "NETWORK", hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn dispatch(ctx: &Ctx, c: NetworkCommand) -> Result<()> {
    match c {
        NetworkCommand::Connect(a) => connect(ctx, a).await,
        NetworkCommand::Create(a) => create(ctx, a).await,
        NetworkCommand::Disconnect(a) => disconnect(ctx, a).await,
        NetworkCommand::Inspect(a) => inspect(ctx, a).await,
        NetworkCommand::Ls(a) => list(ctx, a).await,
        NetworkCommand::Prune(a) => prune(ctx, a).await,
        NetworkCommand::Rm(a) => rm(ctx, a).await,
    }
}

fn fail(code: i32, message: impl Into<String>) -> Exit {
    Exit::new(code, message)
}

/// docker's IPAM config from the flags: one entry per subnet, each gateway and range
/// attached to the subnet that contains it.
fn ipam_config(a: &CreateArgs) -> Result<Vec<Value>> {
    if a.subnet.is_empty() && (!a.gateway.is_empty() || !a.ip_range.is_empty()) {
        return Err(fail(
            1,
            "every ip-range or gateway must have a corresponding subnet",
        )
        .into());
    }
    let contains = |subnet: &str, ip: &str| -> bool {
        let (Ok(net), Ok(addr)) = (
            subnet.parse::<ipnet::IpNet>(),
            ip.split('/')
                .next()
                .unwrap_or("")
                .parse::<std::net::IpAddr>(),
        ) else {
            return false;
        };
        net.contains(&addr)
    };
    let mut out = Vec::new();
    for s in &a.subnet {
        let mut c = Map::new();
        c.insert("Subnet".into(), json!(s));
        if let Some(r) = a.ip_range.iter().find(|r| contains(s, r)) {
            c.insert("IPRange".into(), json!(r));
        }
        if let Some(g) = a.gateway.iter().find(|g| contains(s, g)) {
            c.insert("Gateway".into(), json!(g));
        }
        out.push(Value::Object(c));
    }
    for g in &a.gateway {
        if !a.subnet.iter().any(|s| contains(s, g)) {
            return Err(fail(1, format!("no matching subnet for gateway {g}")).into());
        }
    }
    for r in &a.ip_range {
        if !a.subnet.iter().any(|s| contains(s, r)) {
            return Err(fail(1, format!("no matching subnet for range {r}")).into());
        }
    }
    Ok(out)
}

async fn create(ctx: &Ctx, a: CreateArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    let mut body = json!({
        "Name": a.args[0],
        "Driver": a.driver,
        "Scope": "",
        "IPAM": {
            "Driver": a.ipam_driver,
            "Config": ipam_config(&a)?,
            "Options": kv_map(&a.ipam_opt),
        },
        "Internal": a.internal,
        "Attachable": a.attachable,
        "Ingress": false,
        "ConfigOnly": false,
        "ConfigFrom": null,
        "Options": kv_map(&a.opt),
        "Labels": kv_map(&a.label),
    });
    if let Some(v6) = a.ipv6 {
        body["EnableIPv6"] = json!(v6);
    }
    let v: Value = ctx
        .client()
        .await?
        .post("/networks/create")
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    out(&format!(
        "{}\n",
        v.get("Id").and_then(Value::as_str).unwrap_or("")
    ));
    Ok(())
}

async fn connect(ctx: &Ctx, a: ConnectArgs) -> Result<()> {
    ctx.args(Arity::Exact(2), a.args.len())?;
    let mut ep = json!({
        "Aliases": a.alias,
        "Links": a.link,
        "DriverOpts": kv_map(&a.driver_opt),
    });
    if a.ip.is_some() || a.ip6.is_some() {
        ep["IPAMConfig"] = json!({
            "IPv4Address": a.ip.clone().unwrap_or_default(),
            "IPv6Address": a.ip6.clone().unwrap_or_default(),
        });
    }
    let path = format!(
        "/networks/{}/connect",
        berth_client::path_escape(&a.args[0])
    );
    ctx.client()
        .await?
        .post(&path)
        .json(&json!({"Container": a.args[1], "EndpointConfig": ep}))
        .send()
        .await?;
    Ok(())
}

async fn disconnect(ctx: &Ctx, a: DisconnectArgs) -> Result<()> {
    ctx.args(Arity::Exact(2), a.args.len())?;
    let path = format!(
        "/networks/{}/disconnect",
        berth_client::path_escape(&a.args[0])
    );
    ctx.client()
        .await?
        .post(&path)
        .json(&json!({"Container": a.args[1], "Force": a.force}))
        .send()
        .await?;
    Ok(())
}

async fn inspect(ctx: &Ctx, a: InspectArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let fmt = crate::format::inspect::inspect_format(a.format.as_deref())?;
    let client = ctx.client().await?;
    let mut raws = Vec::new();
    let mut errors = Vec::new();
    for name in &a.args {
        let path = format!("/networks/{}", berth_client::path_escape(name));
        match client
            .get(&path)
            .query_flag("verbose", a.verbose)
            .send()
            .await
        {
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

const HEADERS: [(&str, &str); 8] = [
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

fn row(v: &Value, no_trunc: bool) -> gotmpl::Value {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let b = |k: &str| {
        v.get(k)
            .and_then(Value::as_bool)
            .unwrap_or(false)
            .to_string()
    };
    let mut id = s("Id");
    if !no_trunc {
        id.truncate(12);
    }
    let labels: Vec<String> = v
        .get("Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    let created = chrono::DateTime::parse_from_rfc3339(&s("Created"))
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S%.f +0000 UTC")
                .to_string()
        })
        .unwrap_or_default();
    context(&[
        ("ID", id),
        ("Name", s("Name")),
        ("Driver", s("Driver")),
        ("Scope", s("Scope")),
        ("IPv6", b("EnableIPv6")),
        ("Internal", b("Internal")),
        ("Labels", labels.join(",")),
        ("CreatedAt", created),
    ])
}

async fn list(ctx: &Ctx, a: ListArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let filters = filters_json(ctx, &a.filter)?;
    let mut nets: Vec<Value> = ctx
        .client()
        .await?
        .get("/networks")
        .query_opt("filters", filters)
        .send()
        .await?
        .json()
        .await?;
    let name = |v: &Value| {
        v.get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    nets.sort_by_key(name);
    let src = match a.format.as_deref() {
        None | Some("") | Some("table") if a.quiet => "{{.ID}}",
        None | Some("") | Some("table") => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
        Some(f) => f,
    };
    let fmt = Format::parse_ctx(src).map_err(|e| fail(1, e.to_string()))?;
    let rows: Vec<_> = nets.iter().map(|v| row(v, a.no_trunc)).collect();
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
        let path = format!("/networks/{}", berth_client::path_escape(name));
        match client.delete(&path).send().await {
            Ok(_) => out(&format!("{name}\n")),
            Err(e) if a.force && e.status() == Some(404) => {}
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
    let filters = filters_json(ctx, &a.filter)?;
    if !a.force
        && !super::image::confirm(
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?",
        )
    {
        return Ok(());
    }
    let report: Value = ctx
        .client()
        .await?
        .post("/networks/prune")
        .query_opt("filters", filters)
        .send()
        .await?
        .json()
        .await?;
    let deleted = report
        .get("NetworksDeleted")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !deleted.is_empty() {
        let mut text = String::from("Deleted Networks:\n");
        for d in &deleted {
            text.push_str(d.as_str().unwrap_or(""));
            text.push('\n');
        }
        text.push('\n');
        out(&text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(subnet: &[&str], gw: &[&str], range: &[&str]) -> CreateArgs {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect();
        CreateArgs {
            attachable: false,
            driver: "bridge".into(),
            gateway: v(gw),
            internal: false,
            ip_range: v(range),
            ipam_driver: "default".into(),
            ipam_opt: vec![],
            ipv6: None,
            label: vec![],
            opt: vec![],
            subnet: v(subnet),
            args: vec!["n".into()],
        }
    }

    #[test]
    fn ipam_flags_pair_up_like_dockers() {
        let c = ipam_config(&args(&["10.1.0.0/16"], &["10.1.0.254"], &["10.1.5.0/24"])).unwrap();
        assert_eq!(
            c,
            vec![
                json!({"Subnet": "10.1.0.0/16", "IPRange": "10.1.5.0/24", "Gateway": "10.1.0.254"})
            ]
        );
        assert!(ipam_config(&args(&[], &["10.1.0.1"], &[])).is_err());
        assert!(ipam_config(&args(&["10.1.0.0/16"], &["10.2.0.1"], &[])).is_err());
    }
}

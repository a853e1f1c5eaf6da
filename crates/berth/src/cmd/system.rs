//! `version`, `info`, `system df`.

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use super::{Ctx, out};
use crate::format::tabwriter::TabWriter;
use crate::format::template::{Format, context};
use crate::format::units;
use crate::usage::{Arity, Exit};

#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string", long_help = crate::help::INSPECT_FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

fn client_version(api: &str) -> Value {
    json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": api,
        "DefaultAPIVersion": berth_client::MAX_API_VERSION,
        "Os": "linux",
        "Arch": go_arch(),
        "Context": "default",
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The version data as docker's templates see it: the Go struct's `APIVersion` field
/// carries the json tag `ApiVersion` (the components' `Details` maps keep theirs).
fn go_field_names(mut data: Value) -> Value {
    for side in ["Client", "Server"] {
        if let Some(obj) = data.get_mut(side).and_then(Value::as_object_mut)
            && let Some(v) = obj.remove("ApiVersion")
        {
            obj.insert("APIVersion".into(), v);
        }
    }
    data
}

/// RFC 3339 build times as Go's ANSIC layout (`Mon Jan  2 15:04:05 2006`).
fn reformat_date(s: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.format("%a %b %e %H:%M:%S %Y").to_string(),
        Err(_) => s.to_string(),
    }
}

pub(crate) async fn version(ctx: &Ctx, a: VersionArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let fmt = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => Some(Format::parse("{{json .}}").map_err(|e| Exit {
            code: 64,
            message: e.to_string(),
        })?),
        Some(f) => Some(Format::parse(f).map_err(|e| Exit {
            code: 64,
            message: e.to_string(),
        })?),
    };
    let server = match ctx.client().await {
        Ok(c) => c.get("/version").send().await.map_err(anyhow::Error::new),
        Err(e) => Err(e),
    };
    let server = match server {
        Ok(r) => {
            let mut v = r.json::<Value>().await?;
            // docker shows the engine's build time in Go's ANSIC layout, in text and templates.
            if let Some(comps) = v.get_mut("Components").and_then(Value::as_array_mut) {
                for c in comps
                    .iter_mut()
                    .filter(|c| c.get("Name").and_then(Value::as_str) == Some("Engine"))
                {
                    if let Some(bt) = c.pointer_mut("/Details/BuildTime") {
                        let s = bt.as_str().map(reformat_date);
                        if let Some(s) = s {
                            *bt = Value::String(s);
                        }
                    }
                }
            }
            Ok(v)
        }
        Err(e) => Err(e),
    };
    let api = ctx
        .client()
        .await
        .ok()
        .and_then(|c| c.api_version().map(str::to_string));
    let api = api.unwrap_or_else(|| berth_client::MAX_API_VERSION.to_string());
    let client = client_version(&api);
    let mut tw = TabWriter::new(20, 1);
    match fmt {
        Some(f) => {
            let data = json!({"Client": client, "Server": server.as_ref().ok()});
            // Templates see docker's Go struct fields (`APIVersion`), JSON output its
            // json tags (`ApiVersion`): pick the view the template needs.
            let data = if a.format.as_deref().is_some_and(|f| f.contains("json")) {
                data
            } else {
                go_field_names(data)
            };
            tw.write(&f.execute_json(&data).map_err(|e| Exit {
                code: 1,
                message: e.to_string(),
            })?);
        }
        None => {
            tw.write("Client:\n");
            tw.write(&format!(" Version:\t{}\n", env!("CARGO_PKG_VERSION")));
            let downgraded = if api != berth_client::MAX_API_VERSION {
                format!(" (downgraded from {})", berth_client::MAX_API_VERSION)
            } else {
                String::new()
            };
            tw.write(&format!(" API version:\t{api}{downgraded}\n"));
            tw.write(&format!(" OS/Arch:\tlinux/{}\n", go_arch()));
            tw.write(" Context:\tdefault");
            if let Ok(s) = &server {
                tw.write(&server_section(s));
            }
        }
    }
    tw.write("\n");
    out(&tw.finish());
    server.map(|_| ())
}

fn server_section(s: &Value) -> String {
    let st = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut t = String::from("\n\nServer:");
    if let Some(name) = s
        .pointer("/Platform/Name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    {
        t.push_str(&format!(" {name}"));
    }
    let mut components = s
        .get("Components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !components.iter().any(|c| st(c, "Name") == "Engine") {
        let build_time = reformat_date(&st(s, "BuildTime"));
        components.push(json!({
            "Name": "Engine", "Version": st(s, "Version"),
            "Details": {
                "ApiVersion": st(s, "ApiVersion"), "MinAPIVersion": st(s, "MinAPIVersion"),
                "GitCommit": st(s, "GitCommit"), "GoVersion": st(s, "GoVersion"), "Os": st(s, "Os"),
                "Arch": st(s, "Arch"), "BuildTime": build_time,
                "Experimental": s.get("Experimental").and_then(Value::as_bool).unwrap_or(false).to_string(),
            }
        }));
    }
    for c in &components {
        let name = st(c, "Name");
        let empty = json!({});
        let d = c.get("Details").unwrap_or(&empty);
        t.push_str(&format!("\n {name}:"));
        if name == "Engine" {
            t.push_str(&format!("\n  Version:\t{}", st(c, "Version")));
            t.push_str(&format!(
                "\n  API version:\t{} (minimum version {})",
                st(d, "ApiVersion"),
                st(d, "MinAPIVersion")
            ));
            t.push_str(&format!("\n  Go version:\t{}", st(d, "GoVersion")));
            t.push_str(&format!("\n  Git commit:\t{}", st(d, "GitCommit")));
            t.push_str(&format!("\n  Built:\t{}", st(d, "BuildTime")));
            t.push_str(&format!("\n  OS/Arch:\t{}/{}", st(d, "Os"), st(d, "Arch")));
            t.push_str(&format!("\n  Experimental:\t{}", st(d, "Experimental")));
        } else {
            t.push_str(&format!("\n  Version:\t{}", st(c, "Version")));
            if let Some(obj) = d.as_object() {
                let mut keys: Vec<&String> = obj.keys().collect();
                keys.sort();
                for k in keys {
                    t.push_str(&format!("\n  {k}:\t{}", st(d, k)));
                }
            }
        }
    }
    t
}

#[derive(Debug, Args)]
pub(crate) struct InfoArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long = "format", value_name = "string", long_help = crate::help::INSPECT_FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn info(ctx: &Ctx, a: InfoArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let client = ctx.client().await;
    let info: Result<Value> = match client {
        Ok(c) => match c.get("/info").send().await {
            Ok(r) => Ok(r.json().await?),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    if let Some(f) = a.format.as_deref().filter(|f| !f.is_empty()) {
        let f = if f == "json" { "{{json .}}" } else { f };
        let fmt = Format::parse(f).map_err(|e| Exit {
            code: 1,
            message: e.to_string(),
        })?;
        let info = info?;
        let data = json!({
            "ClientInfo": {"Debug": false, "Context": "default", "Plugins": [], "Warnings": null},
        });
        let mut merged = info.as_object().cloned().unwrap_or_default();
        if let Some(o) = data.as_object() {
            merged.extend(o.clone());
        }
        out(&format!(
            "{}\n",
            fmt.execute_json(&Value::Object(merged)).map_err(|e| Exit {
                code: 1,
                message: e.to_string()
            })?
        ));
        return Ok(());
    }
    let mut tw = TabWriter::new(1, 1);
    tw.write(&format!(
        "Client:\n Version:\t{}\n Context:\tdefault\n Debug Mode:\tfalse\n",
        env!("CARGO_PKG_VERSION")
    ));
    let mut text = tw.finish();
    match info {
        Ok(i) => {
            text.push_str("\nServer:\n");
            text.push_str(&server_info(&i));
            out(&text);
            Ok(())
        }
        Err(e) => {
            text.push_str("\nServer:\n");
            out(&text);
            Err(Exit {
                code: 1,
                message: e.to_string(),
            }
            .into())
        }
    }
}

fn server_info(i: &Value) -> String {
    let s = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let n = |k: &str| i.get(k).and_then(Value::as_i64).unwrap_or(0);
    let b = |k: &str| i.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut t = String::new();
    let mut line = |l: String| {
        t.push_str(&l);
        t.push('\n');
    };
    line(format!(" Containers: {}", n("Containers")));
    line(format!("  Running: {}", n("ContainersRunning")));
    line(format!("  Paused: {}", n("ContainersPaused")));
    line(format!("  Stopped: {}", n("ContainersStopped")));
    line(format!(" Images: {}", n("Images")));
    line(format!(" Server Version: {}", s("ServerVersion")));
    line(format!(" Storage Driver: {}", s("Driver")));
    for pair in i
        .get("DriverStatus")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(k), Some(v)) = (
            pair.get(0).and_then(Value::as_str),
            pair.get(1).and_then(Value::as_str),
        ) {
            line(format!("  {k}: {v}"));
        }
    }
    line(format!(" Logging Driver: {}", s("LoggingDriver")));
    line(format!(" Cgroup Driver: {}", s("CgroupDriver")));
    line(format!(" Cgroup Version: {}", s("CgroupVersion")));
    if let Some(p) = i.get("Plugins").filter(|p| p.is_object()) {
        line(" Plugins:".into());
        for (k, label) in [("Volume", "Volume"), ("Network", "Network"), ("Log", "Log")] {
            let list: Vec<&str> = p
                .get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            line(format!("  {label}: {}", list.join(" ")));
        }
    }
    let swarm = i
        .pointer("/Swarm/LocalNodeState")
        .and_then(Value::as_str)
        .unwrap_or("inactive");
    line(format!(" Swarm: {swarm}"));
    if let Some(r) = i.get("Runtimes").and_then(Value::as_object) {
        let mut names: Vec<&String> = r.keys().collect();
        names.sort();
        line(format!(
            " Runtimes: {}",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    line(format!(" Default Runtime: {}", s("DefaultRuntime")));
    if !s("InitBinary").is_empty() {
        line(format!(" Init Binary: {}", s("InitBinary")));
    }
    for (label, key) in [
        ("containerd", "ContainerdCommit"),
        ("runc", "RuncCommit"),
        ("init", "InitCommit"),
    ] {
        let id = i
            .pointer(&format!("/{key}/ID"))
            .and_then(Value::as_str)
            .unwrap_or("");
        line(format!(" {label} version: {id}"));
    }
    let sec: Vec<String> = i
        .get("SecurityOptions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if !sec.is_empty() {
        line(" Security Options:".into());
        for o in sec {
            let mut parts = o.split(',');
            let name = parts.next().unwrap_or("").trim_start_matches("name=");
            line(format!("  {name}"));
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    let k = if k == "profile" {
                        "Profile".to_string()
                    } else {
                        k.to_string()
                    };
                    line(format!("   {k}: {v}"));
                }
            }
        }
    }
    line(format!(" Kernel Version: {}", s("KernelVersion")));
    line(format!(" Operating System: {}", s("OperatingSystem")));
    line(format!(" OSType: {}", s("OSType")));
    line(format!(" Architecture: {}", s("Architecture")));
    line(format!(" CPUs: {}", n("NCPU")));
    line(format!(
        " Total Memory: {}",
        units::bytes_size(n("MemTotal") as f64)
    ));
    line(format!(" Name: {}", s("Name")));
    line(format!(" ID: {}", s("ID")));
    line(format!(" Docker Root Dir: {}", s("DockerRootDir")));
    line(format!(" Debug Mode: {}", b("Debug")));
    line(format!(" Experimental: {}", b("ExperimentalBuild")));
    let insecure: Vec<String> = i
        .pointer("/RegistryConfig/InsecureRegistryCIDRs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if !insecure.is_empty() {
        line(" Insecure Registries:".into());
        for r in insecure {
            line(format!("  {r}"));
        }
    }
    line(format!(
        " Live Restore Enabled: {}",
        b("LiveRestoreEnabled")
    ));
    t.push('\n');
    t
}

#[derive(Debug, Args)]
pub(crate) struct DfArgs {
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string", long_help = crate::help::FORMAT_HELP)]
    pub format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

const DF_HEADERS: [(&str, &str); 5] = [
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

fn reclaim(reclaimable: i64, total: i64, percent: bool) -> String {
    if percent && total > 0 {
        format!(
            "{} ({}%)",
            units::human_size(reclaimable as f64),
            reclaimable * 100 / total
        )
    } else {
        units::human_size(reclaimable as f64)
    }
}

pub(crate) async fn df(ctx: &Ctx, a: DfArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let client = ctx.client().await?;
    let du: Value = client.get("/system/df").send().await?.json().await?;
    let arr = |k: &str| {
        du.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let i64of = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let images = arr("Images");
    let containers = arr("Containers");
    let volumes = arr("Volumes");
    let cache = arr("BuildCache");
    if a.verbose {
        return df_verbose(&du, &images, &containers, &volumes, &cache);
    }
    let layers = du.get("LayersSize").and_then(Value::as_i64).unwrap_or(0);
    let used: i64 = images
        .iter()
        .filter(|i| i64of(i, "/Containers") > 0)
        .filter(|i| i64of(i, "/Size") != -1 && i64of(i, "/SharedSize") != -1)
        .map(|i| i64of(i, "/Size") - i64of(i, "/SharedSize"))
        .sum();
    let c_size: i64 = containers.iter().map(|c| i64of(c, "/SizeRw")).sum();
    let c_running = containers
        .iter()
        .filter(|c| c.get("State").and_then(Value::as_str) == Some("running"))
        .count();
    let c_reclaim: i64 = containers
        .iter()
        .filter(|c| c.get("State").and_then(Value::as_str) != Some("running"))
        .map(|c| i64of(c, "/SizeRw"))
        .sum();
    let v_size: i64 = volumes
        .iter()
        .map(|v| i64of(v, "/UsageData/Size"))
        .filter(|s| *s > 0)
        .sum();
    let v_active = volumes
        .iter()
        .filter(|v| i64of(v, "/UsageData/RefCount") > 0)
        .count();
    let v_reclaim: i64 = volumes
        .iter()
        .filter(|v| i64of(v, "/UsageData/RefCount") == 0)
        .map(|v| i64of(v, "/UsageData/Size"))
        .filter(|s| *s > 0)
        .sum();
    let b_active = cache
        .iter()
        .filter(|c| c.get("InUse").and_then(Value::as_bool) == Some(true))
        .count();
    let not_shared = |c: &&Value| c.get("Shared").and_then(Value::as_bool) != Some(true);
    let b_size: i64 = cache
        .iter()
        .filter(not_shared)
        .map(|c| i64of(c, "/Size"))
        .sum();
    let b_reclaim: i64 = cache
        .iter()
        .filter(not_shared)
        .filter(|c| c.get("InUse").and_then(Value::as_bool) != Some(true))
        .map(|c| i64of(c, "/Size"))
        .sum();
    let rows = vec![
        context(&[
            ("Type", "Images".into()),
            ("TotalCount", images.len().to_string()),
            (
                "Active",
                images
                    .iter()
                    .filter(|i| i64of(i, "/Containers") > 0)
                    .count()
                    .to_string(),
            ),
            ("Size", units::human_size(layers as f64)),
            ("Reclaimable", reclaim(layers - used, layers, true)),
        ]),
        context(&[
            ("Type", "Containers".into()),
            ("TotalCount", containers.len().to_string()),
            ("Active", c_running.to_string()),
            ("Size", units::human_size(c_size as f64)),
            ("Reclaimable", reclaim(c_reclaim, c_size, true)),
        ]),
        context(&[
            ("Type", "Local Volumes".into()),
            ("TotalCount", volumes.len().to_string()),
            ("Active", v_active.to_string()),
            ("Size", units::human_size(v_size as f64)),
            ("Reclaimable", reclaim(v_reclaim, v_size, true)),
        ]),
        context(&[
            ("Type", "Build Cache".into()),
            ("TotalCount", cache.len().to_string()),
            ("Active", b_active.to_string()),
            ("Size", units::human_size(b_size as f64)),
            ("Reclaimable", reclaim(b_reclaim, b_size, false)),
        ]),
    ];
    let src = match a.format.as_deref() {
        None | Some("") | Some("table") => {
            "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
        }
        Some(f) => f,
    };
    let fmt = Format::parse_ctx(src).map_err(|e| Exit {
        code: 1,
        message: e.to_string(),
    })?;
    out(&fmt.render(&rows, &DF_HEADERS).map_err(|e| Exit {
        code: 1,
        message: e.to_string(),
    })?);
    Ok(())
}

fn df_verbose(
    du: &Value,
    images: &[Value],
    containers: &[Value],
    volumes: &[Value],
    cache: &[Value],
) -> Result<()> {
    let now = units::now_unix();
    let i64of = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let mut text = String::from("Images space usage:\n\n");
    let img_fmt = Format::parse(
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
    )?;
    let rows: Vec<_> = images
        .iter()
        .map(|i| {
            let tags: Vec<&str> = i
                .get("RepoTags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let (mut repo, mut tag) = ("<none>".to_string(), "<none>".to_string());
            if let Some(first) = tags.first().filter(|t| **t != "<none>:<none>") {
                let (n, t, _) = super::reference::split(first);
                if let Some(t) = t {
                    repo = super::reference::familiar_name(&n);
                    tag = t;
                }
            }
            let size = i64of(i, "/Size");
            let shared = i.get("SharedSize").and_then(Value::as_i64).unwrap_or(-1);
            let containers = i.get("Containers").and_then(Value::as_i64).unwrap_or(-1);
            let id = i.get("Id").and_then(Value::as_str).unwrap_or("");
            context(&[
                ("Repository", repo),
                ("Tag", tag),
                ("ID", crate::format::truncate_id(id)),
                ("CreatedSince", units::since(i64of(i, "/Created"), now)),
                ("Size", units::human_size_prec(size as f64, 3)),
                (
                    "SharedSize",
                    if shared == -1 {
                        "N/A".into()
                    } else {
                        units::human_size(shared as f64)
                    },
                ),
                (
                    "UniqueSize",
                    if shared == -1 {
                        "N/A".into()
                    } else {
                        units::human_size((size - shared) as f64)
                    },
                ),
                (
                    "Containers",
                    if containers == -1 {
                        "N/A".into()
                    } else {
                        containers.to_string()
                    },
                ),
            ])
        })
        .collect();
    let headers = [
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("ID", "IMAGE ID"),
        ("CreatedSince", "CREATED"),
        ("Size", "SIZE"),
        ("SharedSize", "SHARED SIZE"),
        ("UniqueSize", "UNIQUE SIZE"),
        ("Containers", "CONTAINERS"),
    ];
    text.push_str(&img_fmt.render(&rows, &headers)?);
    text.push_str("\nContainers space usage:\n\n");
    // docker leaves the virtual size out of this table.
    let crows: Vec<_> = containers
        .iter()
        .map(|c| {
            let mut c = c.clone();
            c["SizeRootFs"] = Value::from(0);
            super::container_ps::container_context(&c, true, now)
        })
        .collect();
    text.push_str(
        &Format::parse("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}")?
            .render(
                &crows,
                &[
                    ("ID", "CONTAINER ID"),
                    ("Image", "IMAGE"),
                    ("Command", "COMMAND"),
                    ("LocalVolumes", "LOCAL VOLUMES"),
                    ("Size", "SIZE"),
                    ("RunningFor", "CREATED"),
                    ("Status", "STATUS"),
                    ("Names", "NAMES"),
                ],
            )?,
    );
    text.push_str("\nLocal Volumes space usage:\n\n");
    let vrows: Vec<_> = volumes
        .iter()
        .map(|v| {
            let size = v
                .pointer("/UsageData/Size")
                .and_then(Value::as_i64)
                .unwrap_or(-1);
            context(&[
                (
                    "Name",
                    v.get("Name")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                ),
                (
                    "Links",
                    v.pointer("/UsageData/RefCount")
                        .and_then(Value::as_i64)
                        .map_or("N/A".into(), |n| n.to_string()),
                ),
                (
                    "Size",
                    if size == -1 {
                        "N/A".into()
                    } else {
                        units::human_size(size as f64)
                    },
                ),
            ])
        })
        .collect();
    text.push_str(
        &Format::parse("table {{.Name}}\t{{.Links}}\t{{.Size}}")?.render(
            &vrows,
            &[
                ("Name", "VOLUME NAME"),
                ("Links", "LINKS"),
                ("Size", "SIZE"),
            ],
        )?,
    );
    let total: i64 = cache.iter().map(|c| i64of(c, "/Size")).sum();
    let _ = du;
    text.push_str(&format!(
        "\nBuild cache usage: {}\n\n",
        units::human_size(total as f64)
    ));
    text.push_str(
        &Format::parse("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}")?
            .render(
                &cache_rows(cache, now),
                &[
                    ("ID", "CACHE ID"),
                    ("CacheType", "CACHE TYPE"),
                    ("Size", "SIZE"),
                    ("CreatedSince", "CREATED"),
                    ("LastUsedSince", "LAST USED"),
                    ("UsageCount", "USAGE"),
                    ("Shared", "SHARED"),
                ],
            )?,
    );
    out(&text);
    Ok(())
}

/// The `-v` view's build cache rows, as docker's CLI renders them: the id cut to 12
/// characters (a `*` when in use), the size to 3 significant digits, times as "ago".
fn cache_rows(cache: &[Value], now: f64) -> Vec<gotmpl::Value> {
    let ago = |v: &Value, key: &str| -> String {
        v.get(key)
            .and_then(Value::as_str)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map_or(String::new(), |t| units::since(t.timestamp(), now))
    };
    cache
        .iter()
        .map(|c| {
            let id = c.get("ID").and_then(Value::as_str).unwrap_or("");
            let id = id.rsplit(':').next().unwrap_or(id);
            let mut id: String = id.chars().take(12).collect();
            if c.get("InUse").and_then(Value::as_bool) == Some(true) {
                id.push('*');
            }
            context(&[
                ("ID", id),
                (
                    "CacheType",
                    c.get("Type").and_then(Value::as_str).unwrap_or("").into(),
                ),
                (
                    "Size",
                    units::human_size_prec(
                        c.get("Size").and_then(Value::as_i64).unwrap_or(0) as f64,
                        3,
                    ),
                ),
                ("CreatedSince", ago(c, "CreatedAt")),
                ("LastUsedSince", ago(c, "LastUsedAt")),
                (
                    "UsageCount",
                    c.get("UsageCount")
                        .and_then(Value::as_i64)
                        .unwrap_or(0)
                        .to_string(),
                ),
                (
                    "Shared",
                    c.get("Shared")
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                        .to_string(),
                ),
            ])
        })
        .collect()
}

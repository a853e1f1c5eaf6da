//! `inspect` (containers, then images), `top`, `stats`, `update` and `commit`.

use anyhow::Result;
use clap::Args;
use serde_json::{Map, Value, json};

use super::container_parse::{mem_bytes, nano_cpus};
use super::inspect::InspectArgs;
use super::{Ctx, out};
use crate::format::tabwriter::TabWriter;
use crate::format::template::{Format, context};
use crate::format::{truncate_id, units};
use crate::usage::{Arity, Exit};

pub(crate) use super::container_cp::{CpArgs, cp};

fn cpath(name: &str, tail: &str) -> String {
    format!("/containers/{}{tail}", berth_client::path_escape(name))
}

fn exit(code: i32, message: String) -> anyhow::Error {
    Exit { code, message }.into()
}

/// `inspect` and `container inspect`: the daemon's JSON indented as docker prints it,
/// or a template. `kind` None tries a container, then an image.
async fn inspect_objects(ctx: &Ctx, a: InspectArgs, kind: Option<&str>) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let fmt = crate::format::inspect::inspect_format(a.format.as_deref())?;
    let client = ctx.client().await?;
    let mut raws: Vec<(bytes::Bytes, bool)> = Vec::new();
    let mut errors = Vec::new();
    for name in &a.args {
        let mut found = None;
        let mut last_err = None;
        if kind.is_none() || kind == Some("container") {
            match client
                .get(&cpath(name, "/json"))
                .query_flag("size", a.size)
                .send()
                .await
            {
                Ok(r) => found = Some((r.bytes().await?, false)),
                Err(e) if matches!(e.status(), Some(404 | 400)) && kind.is_none() => {}
                Err(e) => last_err = Some(e.to_string()),
            }
        }
        if found.is_none() && last_err.is_none() && (kind.is_none() || kind == Some("image")) {
            let path = format!("/images/{}/json", berth_client::path_escape(name));
            match client.get(&path).send().await {
                Ok(r) => found = Some((r.bytes().await?, true)),
                Err(e) if matches!(e.status(), Some(404 | 400)) && kind.is_none() => {}
                Err(e) => last_err = Some(e.to_string()),
            }
        }
        if found.is_none() && last_err.is_none() && (kind.is_none() || kind == Some("volume")) {
            let path = format!("/volumes/{}", berth_client::path_escape(name));
            match client.get(&path).send().await {
                Ok(r) => found = Some((r.bytes().await?, false)),
                Err(e) if matches!(e.status(), Some(404 | 400)) && kind.is_none() => {}
                Err(e) => last_err = Some(e.to_string()),
            }
        }
        match (found, last_err) {
            (Some(f), _) => raws.push(f),
            (None, Some(e)) => errors.push(e),
            (None, None) => errors.push(format!("Error: No such object: {name}")),
        }
    }
    let text = crate::format::inspect::render_inspect(&raws, fmt.as_ref(), &mut errors)?;
    out(&text);
    if !errors.is_empty() {
        return Err(exit(1, errors.join("\n")));
    }
    Ok(())
}

/// `berth inspect [--type container|image]`.
pub(crate) async fn inspect_any(ctx: &Ctx, a: InspectArgs) -> Result<()> {
    let kind = a.kind.clone();
    match kind.as_deref() {
        None | Some("") => inspect_objects(ctx, a, None).await,
        Some("image") => super::inspect::inspect_any(ctx, a).await,
        Some("container") => inspect_objects(ctx, a, Some("container")).await,
        Some("volume") => inspect_objects(ctx, a, Some("volume")).await,
        Some(k) => Err(exit(1, format!("\"{k}\" is not a valid value for --type"))),
    }
}

pub(crate) async fn inspect_containers(ctx: &Ctx, a: InspectArgs) -> Result<()> {
    inspect_objects(ctx, a, Some("container")).await
}

#[derive(Debug, Args)]
pub(crate) struct TopArgs {
    #[arg(
        value_name = "CONTAINER",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        hide = true
    )]
    pub args: Vec<String>,
}

pub(crate) async fn top(ctx: &Ctx, a: TopArgs) -> Result<()> {
    super::container::reject_flag_arg(ctx, a.args.first())?;
    ctx.args(Arity::Min(1), a.args.len())?;
    let client = ctx.client().await?;
    let ps_args = (a.args.len() > 1).then(|| a.args[1..].join(" "));
    let v: Value = client
        .get(&cpath(&a.args[0], "/top"))
        .query_opt("ps_args", ps_args)
        .send()
        .await?
        .json()
        .await?;
    let mut tw = TabWriter::new(20, 3);
    let titles: Vec<&str> = v["Titles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    tw.write(&titles.join("\t"));
    tw.write("\n");
    for p in v["Processes"].as_array().into_iter().flatten() {
        let cells: Vec<&str> = p
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        tw.write(&cells.join("\t"));
        tw.write("\n");
    }
    out(&tw.finish());
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string", long_help = crate::help::FORMAT_HELP)]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

const STATS_TABLE: &str = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
const STATS_HEADERS: [(&str, &str); 9] = [
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// One row of `stats`, computed from the daemon's raw stats JSON as docker does.
pub(crate) fn stats_row(container: &str, s: &Value, trunc: bool, running: bool) -> gotmpl::Value {
    let id = s["id"].as_str().unwrap_or(container);
    let id = if trunc {
        truncate_id(id)
    } else {
        id.to_string()
    };
    let name = s["name"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    if !running {
        let dash = "--".to_string();
        return context(&[
            ("Container", container.to_string()),
            ("ID", id),
            ("Name", if name.is_empty() { dash.clone() } else { name }),
            ("CPUPerc", "0.00%".into()),
            ("MemUsage", "0B / 0B".into()),
            ("MemPerc", "0.00%".into()),
            ("NetIO", "0B / 0B".into()),
            ("BlockIO", "0B / 0B".into()),
            ("PIDs", "0".into()),
        ]);
    }
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let cpu = &s["cpu_stats"];
    let pre = &s["precpu_stats"];
    let cpu_delta = f(&cpu["cpu_usage"]["total_usage"]) - f(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = f(&cpu["system_cpu_usage"]) - f(&pre["system_cpu_usage"]);
    let mut online = f(&cpu["online_cpus"]);
    if online == 0.0 {
        online = cpu["cpu_usage"]["percpu_usage"]
            .as_array()
            .map_or(0.0, |a| a.len() as f64);
    }
    let cpu_pct = if sys_delta > 0.0 && cpu_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let mem = &s["memory_stats"];
    let usage = f(&mem["usage"]);
    let st = &mem["stats"];
    let mem_used = if let Some(v) = st.get("total_inactive_file").and_then(Value::as_f64)
        && v < usage
    {
        usage - v
    } else if let Some(v) = st.get("inactive_file").and_then(Value::as_f64)
        && v < usage
    {
        usage - v
    } else {
        usage
    };
    let limit = f(&mem["limit"]);
    let mem_pct = if limit != 0.0 {
        mem_used / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in s["networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, v)| v)
    {
        rx += f(&n["rx_bytes"]);
        tx += f(&n["tx_bytes"]);
    }
    let (mut rd, mut wr) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match e["op"].as_str().unwrap_or("").chars().next() {
            Some('r' | 'R') => rd += f(&e["value"]),
            Some('w' | 'W') => wr += f(&e["value"]),
            _ => {}
        }
    }
    let pids = s["pids_stats"]["current"].as_u64().unwrap_or(0);
    let hs = |v: f64| units::human_size_prec(v, 3);
    context(&[
        ("Container", container.to_string()),
        ("ID", id),
        ("Name", name),
        ("CPUPerc", format!("{cpu_pct:.2}%")),
        (
            "MemUsage",
            format!(
                "{} / {}",
                units::bytes_size(mem_used),
                units::bytes_size(limit)
            ),
        ),
        ("MemPerc", format!("{mem_pct:.2}%")),
        ("NetIO", format!("{} / {}", hs(rx), hs(tx))),
        ("BlockIO", format!("{} / {}", hs(rd), hs(wr))),
        ("PIDs", pids.to_string()),
    ])
}

pub(crate) async fn stats(ctx: &Ctx, a: StatsArgs) -> Result<()> {
    let src = match a.format.as_deref() {
        None | Some("") | Some("table") => STATS_TABLE.to_string(),
        Some(f) => f.to_string(),
    };
    let fmt = Format::parse_ctx(&src).map_err(|e| exit(1, e.to_string()))?;
    let client = ctx.client().await?;
    let named = !a.args.is_empty();
    let terminal = crate::tty::is_terminal(1);
    loop {
        let names: Vec<String> = if named {
            a.args.clone()
        } else {
            let list: Vec<Value> = client
                .get("/containers/json")
                .query_flag("all", a.all)
                .send()
                .await?
                .json()
                .await?;
            list.iter()
                .filter_map(|c| c["Id"].as_str().map(truncate_id))
                .collect()
        };
        let mut rows = Vec::new();
        let mut errs = Vec::new();
        for n in &names {
            let r = client
                .get(&cpath(n, "/stats"))
                .query("stream", 0)
                .send()
                .await;
            match r {
                Ok(r) => {
                    let v: Value = r.json().await?;
                    // A stopped container's stats come back zeroed (no read time).
                    let running = v["read"].as_str().is_some_and(|t| !t.starts_with("0001-"));
                    rows.push(stats_row(n, &v, !a.no_trunc, running));
                }
                // Listing mode shows a failed container as a row of dashes.
                Err(_) if !named => rows.push(context(&[
                    ("Container", n.clone()),
                    ("ID", String::new()),
                    ("Name", "--".into()),
                    ("CPUPerc", "--".into()),
                    ("MemUsage", "-- / --".into()),
                    ("MemPerc", "--".into()),
                    ("NetIO", "--".into()),
                    ("BlockIO", "--".into()),
                    ("PIDs", "--".into()),
                ])),
                Err(e) => errs.push(e.to_string()),
            }
        }
        if !errs.is_empty() {
            return Err(exit(1, errs.join("\n")));
        }
        let text = fmt
            .render(&rows, &STATS_HEADERS)
            .map_err(|e| exit(1, e.to_string()))?;
        if a.no_stream {
            out(&text);
            return Ok(());
        }
        if terminal {
            out(&format!("\x1b[2J\x1b[H{text}"));
        } else {
            out(&text);
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)
    #[arg(long = "blkio-weight", value_name = "uint16")]
    pub blkio_weight: Option<u16>,
    /// Limit CPU CFS (Completely Fair Scheduler) period
    #[arg(long = "cpu-period", value_name = "int")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota
    #[arg(long = "cpu-quota", value_name = "int", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Limit the CPU real-time period in microseconds
    #[arg(long = "cpu-rt-period", value_name = "int")]
    pub cpu_rt_period: Option<i64>,
    /// Limit the CPU real-time runtime in microseconds
    #[arg(long = "cpu-rt-runtime", value_name = "int")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares", value_name = "int")]
    pub cpu_shares: Option<i64>,
    /// Number of CPUs
    #[arg(long = "cpus", value_name = "decimal")]
    pub cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long = "memory", value_name = "bytes")]
    pub memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", value_name = "bytes")]
    pub memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", value_name = "int", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long = "restart", value_name = "string")]
    pub restart: Option<String>,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

/// The `POST /containers/{id}/update` body docker sends: every resource field, then
/// the restart policy.
pub(crate) fn update_body(a: &UpdateArgs) -> Result<Value, String> {
    let bytes = |v: &Option<String>, flag: &str| -> Result<i64, String> {
        match v.as_deref() {
            None => Ok(0),
            Some("-1") if flag == "--memory-swap" => Ok(-1),
            Some(s) => mem_bytes(s)
                .map_err(|e| format!("invalid argument \"{s}\" for \"{flag}\" flag: {e}")),
        }
    };
    let cpus = match &a.cpus {
        None => 0,
        Some(s) => nano_cpus(s)
            .map_err(|e| format!("invalid argument \"{s}\" for \"--cpus\" flag: {e}"))?,
    };
    let mut m = Map::new();
    m.insert("CpuShares".into(), json!(a.cpu_shares.unwrap_or(0)));
    m.insert("Memory".into(), json!(bytes(&a.memory, "-m, --memory")?));
    m.insert("NanoCpus".into(), json!(cpus));
    m.insert("CgroupParent".into(), json!(""));
    m.insert("BlkioWeight".into(), json!(a.blkio_weight.unwrap_or(0)));
    for k in [
        "BlkioWeightDevice",
        "BlkioDeviceReadBps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteIOps",
    ] {
        m.insert(k.into(), Value::Null);
    }
    m.insert("CpuPeriod".into(), json!(a.cpu_period.unwrap_or(0)));
    m.insert("CpuQuota".into(), json!(a.cpu_quota.unwrap_or(0)));
    m.insert(
        "CpuRealtimePeriod".into(),
        json!(a.cpu_rt_period.unwrap_or(0)),
    );
    m.insert(
        "CpuRealtimeRuntime".into(),
        json!(a.cpu_rt_runtime.unwrap_or(0)),
    );
    m.insert(
        "CpusetCpus".into(),
        json!(a.cpuset_cpus.clone().unwrap_or_default()),
    );
    m.insert(
        "CpusetMems".into(),
        json!(a.cpuset_mems.clone().unwrap_or_default()),
    );
    m.insert("Devices".into(), Value::Null);
    m.insert("DeviceCgroupRules".into(), Value::Null);
    m.insert("DeviceRequests".into(), Value::Null);
    m.insert(
        "MemoryReservation".into(),
        json!(bytes(&a.memory_reservation, "--memory-reservation")?),
    );
    m.insert(
        "MemorySwap".into(),
        json!(bytes(&a.memory_swap, "--memory-swap")?),
    );
    m.insert("MemorySwappiness".into(), Value::Null);
    m.insert("OomKillDisable".into(), Value::Null);
    m.insert(
        "PidsLimit".into(),
        a.pids_limit.map_or(Value::Null, |p| json!(p)),
    );
    m.insert("Ulimits".into(), Value::Null);
    m.insert("CpuCount".into(), json!(0));
    m.insert("CpuPercent".into(), json!(0));
    m.insert("IOMaximumIOps".into(), json!(0));
    m.insert("IOMaximumBandwidth".into(), json!(0));
    let restart = match a.restart.as_deref() {
        None => json!({"Name": "", "MaximumRetryCount": 0}),
        Some(r) => {
            let (name, count) = match r.split_once(':') {
                Some((n, c)) => (
                    n,
                    c.parse::<i64>().map_err(|_| {
                        "invalid restart policy format: maximum retry count must be an integer"
                            .to_string()
                    })?,
                ),
                None => (r, 0),
            };
            json!({"Name": name, "MaximumRetryCount": count})
        }
    };
    m.insert("RestartPolicy".into(), restart);
    Ok(Value::Object(m))
}

pub(crate) async fn update(ctx: &Ctx, a: UpdateArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let any_flag = a.blkio_weight.is_some()
        || a.cpu_period.is_some()
        || a.cpu_quota.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.cpu_shares.is_some()
        || a.cpus.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
        || a.memory.is_some()
        || a.memory_reservation.is_some()
        || a.memory_swap.is_some()
        || a.pids_limit.is_some()
        || a.restart.is_some();
    if !any_flag {
        anyhow::bail!("you must provide one or more flags when using this command");
    }
    let body = update_body(&a).map_err(|e| exit(125, e))?;
    let client = ctx.client().await?;
    let mut errs = Vec::new();
    for name in &a.args {
        match client
            .post(&cpath(name, "/update"))
            .json(&body)
            .send()
            .await
        {
            Ok(r) => {
                let v: Value = r.json().await.unwrap_or(Value::Null);
                for w in v["Warnings"].as_array().into_iter().flatten() {
                    if let Some(w) = w.as_str() {
                        eprintln!("{w}");
                    }
                }
                out(&format!("{name}\n"));
            }
            Err(e) => errs.push(e.to_string()),
        }
    }
    if !errs.is_empty() {
        return Err(exit(1, errs.join("\n")));
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long = "author", value_name = "string")]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long = "message", value_name = "string")]
    pub message: Option<String>,
    /// Pause container during commit
    #[arg(short = 'p', long = "pause", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = clap::ArgAction::Set)]
    pub pause: bool,
    #[arg(value_name = "CONTAINER", hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn commit(ctx: &Ctx, a: CommitArgs) -> Result<()> {
    super::container::range_args(ctx, 1, 2, a.args.len())?;
    let (repo, tag) = match a.args.get(1).filter(|r| !r.is_empty()) {
        Some(r) => {
            let (full, tag) = super::reference::normalize(r).map_err(|e| anyhow::anyhow!(e))?;
            let explicit_tag = super::reference::split(r).1.is_some();
            (Some(full), explicit_tag.then_some(tag))
        }
        None => (None, None),
    };
    let client = ctx.client().await?;
    // In Go's sorted query order.
    let mut req = client
        .post("/commit")
        .query_opt("author", a.author.as_deref());
    for c in &a.change {
        req = req.query("changes", c);
    }
    req = req
        .query_opt("comment", a.message.as_deref())
        .query("container", &a.args[0]);
    if !a.pause {
        req = req.query("pause", 0);
    }
    req = req.query_opt("repo", repo).query_opt("tag", tag);
    let v: Value = req.json(&Value::Null).send().await?.json().await?;
    out(&format!("{}\n", v["Id"].as_str().unwrap_or("")));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn stats_columns_from_raw_json() {
        let s = json!({
            "id": "0123456789abcdef", "name": "/web", "read": "2026-01-01T00:00:00Z",
            "cpu_stats": {"cpu_usage": {"total_usage": 2_000_000}, "system_cpu_usage": 100_000_000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000}, "system_cpu_usage": 90_000_000},
            "memory_stats": {"usage": 10_485_760, "limit": 1_073_741_824, "stats": {"inactive_file": 2_097_152}},
            "networks": {"eth0": {"rx_bytes": 1500, "tx_bytes": 800}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4096}, {"op": "write", "value": 8192}]},
            "pids_stats": {"current": 3}
        });
        let fmt = Format::parse_ctx(STATS_TABLE).unwrap();
        let rows = vec![stats_row("web", &s, true, true)];
        expect![[r#"
            CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        BLOCK I/O        PIDS
            0123456789ab   web       20.00%    8MiB / 1GiB         0.78%     1.5kB / 800B   4.1kB / 8.19kB   3
        "#]]
        .assert_eq(&fmt.render(&rows, &STATS_HEADERS).unwrap());
    }
}

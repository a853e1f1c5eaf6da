//! `ps` / `container ls`: docker's container formatter (columns, truncation rules,
//! port grouping) over `GET /containers/json`.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use super::{Ctx, filters_json, out};
use crate::format::template::{Format, context};
use crate::format::{ellipsis, truncate_id, units};
use crate::usage::{Arity, Exit};

const TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

const HEADERS: [(&str, &str); 15] = [
    ("ID", "CONTAINER ID"),
    ("Names", "NAMES"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Networks", "NETWORKS"),
    ("Platform", "PLATFORM"),
];

#[derive(Debug, Args)]
pub(crate) struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string", long_help = crate::help::FORMAT_HELP)]
    pub format: Option<String>,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", value_name = "int", default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long = "latest")]
    pub latest: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only display container IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short = 's', long = "size", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub size: Option<bool>,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

/// docker's `DisplayablePorts`: consecutive ports grouped into ranges.
pub(crate) fn displayable_ports(ports: &[Value]) -> String {
    struct P {
        ip: String,
        private: u16,
        public: u16,
        kind: String,
    }
    let mut ps: Vec<P> = ports
        .iter()
        .map(|p| P {
            ip: p["IP"].as_str().unwrap_or("").to_string(),
            private: p["PrivatePort"].as_u64().unwrap_or(0) as u16,
            public: p["PublicPort"].as_u64().unwrap_or(0) as u16,
            kind: p["Type"].as_str().unwrap_or("").to_string(),
        })
        .collect();
    ps.sort_by(|a, b| {
        (a.private, &a.ip, a.public, &a.kind).cmp(&(b.private, &b.ip, b.public, &b.kind))
    });
    let join_host = |ip: &str, port: &str| {
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    let form = |key: &str, first: u16, last: u16| {
        let (ip, kind) = match key.split_once('/') {
            Some((ip, k)) => (ip, k),
            None => ("", key),
        };
        let mut g = first.to_string();
        if first != last {
            g = format!("{g}-{last}");
        }
        if !ip.is_empty() {
            g = format!("{}->{g}", join_host(ip, &g));
        }
        format!("{g}/{kind}")
    };
    let mut groups: Vec<(String, u16, u16)> = Vec::new();
    let mut result = Vec::new();
    let mut host = Vec::new();
    for p in &ps {
        let mut key = p.kind.clone();
        if !p.ip.is_empty() {
            if p.public != p.private {
                host.push(format!(
                    "{}->{}/{}",
                    join_host(&p.ip, &p.public.to_string()),
                    p.private,
                    p.kind
                ));
                continue;
            }
            key = format!("{}/{}", p.ip, p.kind);
        }
        match groups.iter_mut().find(|g| g.0 == key) {
            None => groups.push((key, p.private, p.private)),
            Some(g) => {
                if p.private == g.2.wrapping_add(1) {
                    g.2 = p.private;
                } else {
                    result.push(form(&g.0, g.1, g.2));
                    g.1 = p.private;
                    g.2 = p.private;
                }
            }
        }
    }
    for g in &groups {
        result.push(form(&g.0, g.1, g.2));
    }
    result.extend(host);
    result.join(", ")
}

/// docker's image column: a truncated id, or the familiar `name:tag`.
fn image_column(image: &str, image_id: &str, trunc: bool) -> String {
    if image.is_empty() {
        return "<no image>".into();
    }
    if !trunc {
        return image.to_string();
    }
    let short = truncate_id(image_id);
    if short == truncate_id(image) {
        return short;
    }
    if image.starts_with("sha256:") || image.contains('@') {
        let (name, _, _) = super::reference::split(image);
        return super::reference::familiar_name(&name);
    }
    let (name, tag, _) = super::reference::split(image);
    let name = super::reference::familiar_name(&name);
    match tag {
        Some(t) => format!("{name}:{t}"),
        None => name,
    }
}

/// The template context for one container, every field as docker renders it.
pub(crate) fn container_context(c: &Value, trunc: bool, now: f64) -> gotmpl::Value {
    let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
    let id = if trunc {
        truncate_id(&s("Id"))
    } else {
        s("Id")
    };
    let mut names: Vec<String> = c["Names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|n| n.get(1..).unwrap_or("").to_string())
        .collect();
    if trunc && let Some(n) = names.iter().find(|n| !n.contains('/')) {
        names = vec![n.clone()];
    }
    let command = if trunc {
        ellipsis(&s("Command"), 20)
    } else {
        s("Command")
    };
    let created = c["Created"].as_i64().unwrap_or(0);
    let srw = c["SizeRw"].as_i64().unwrap_or(0);
    let sv = c["SizeRootFs"].as_i64().unwrap_or(0);
    let size = if sv > 0 {
        format!(
            "{} (virtual {})",
            units::human_size_prec(srw as f64, 3),
            units::human_size_prec(sv as f64, 3)
        )
    } else {
        units::human_size_prec(srw as f64, 3)
    };
    let mut labels: Vec<String> = c["Labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    labels.sort();
    let mounts: Vec<String> = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let name = m["Name"].as_str().filter(|n| !n.is_empty());
            let name = name.or(m["Source"].as_str()).unwrap_or("").to_string();
            if trunc { ellipsis(&name, 15) } else { name }
        })
        .collect();
    let local = c["Mounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["Driver"].as_str() == Some("local"))
        .count();
    let mut networks: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect();
    networks.sort();
    let ports = displayable_ports(c["Ports"].as_array().map(Vec::as_slice).unwrap_or(&[]));
    let mut v = context(&[
        ("ID", id),
        ("Names", names.join(",")),
        ("Image", image_column(&s("Image"), &s("ImageID"), trunc)),
        ("Command", go_quote(&command)),
        ("CreatedAt", super::image::go_time_string(created)),
        ("RunningFor", units::since(created, now)),
        ("Ports", ports),
        ("State", s("State")),
        ("Status", s("Status")),
        ("Size", size),
        ("Labels", labels.join(",")),
        ("Mounts", mounts.join(",")),
        ("LocalVolumes", local.to_string()),
        ("Networks", networks.join(",")),
    ]);
    // `Platform` is a struct pointer in docker's context: nil without a descriptor.
    if let gotmpl::Value::Map(m) = &mut v {
        let mut map = (**m).clone();
        map.insert(std::sync::Arc::from("Platform"), gotmpl::Value::Nil);
        v = gotmpl::Value::Map(map.into());
    }
    v
}

/// Go's `strconv.Quote`: double quotes, Go escapes, non-printables as `\x..`/`\u....`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            '\x07' => o.push_str("\\a"),
            '\x08' => o.push_str("\\b"),
            '\x0c' => o.push_str("\\f"),
            '\x0b' => o.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

pub(crate) async fn ps(ctx: &Ctx, a: PsArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let format = a.format.clone().unwrap_or_default();
    if !format.is_empty() && a.quiet {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    let mut size = a.size.unwrap_or(false);
    if !a.quiet && a.size.is_none() && format.contains(".Size") {
        size = true;
    }
    let src = match format.as_str() {
        "" | "table" if a.quiet => "{{.ID}}".to_string(),
        "" | "table" => {
            if size {
                format!("{TABLE}\t{{{{.Size}}}}")
            } else {
                TABLE.to_string()
            }
        }
        _ if a.quiet => "{{.ID}}".to_string(),
        f => f.to_string(),
    };
    let fmt = Format::parse_ctx(&src).map_err(|e| Exit {
        code: 1,
        message: e.to_string(),
    })?;
    let filters = filters_json(ctx, &a.filter)?;
    let limit = if a.latest && a.last == -1 { 1 } else { a.last };
    let client = ctx.client().await?;
    let list: Vec<Value> = client
        .get("/containers/json")
        .query_flag("all", a.all)
        .query_opt("filters", filters)
        .query_opt("limit", (limit > 0).then_some(limit))
        .query_flag("size", size)
        .send()
        .await?
        .json()
        .await?;
    let now = units::now_unix();
    let rows: Vec<_> = list
        .iter()
        .map(|c| container_context(c, !a.no_trunc, now))
        .collect();
    let text = fmt.render(&rows, &HEADERS).map_err(|e| Exit {
        code: 1,
        message: e.to_string(),
    })?;
    out(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;
    use serde_json::json;

    #[test]
    fn ports_group_like_docker() {
        let p = |ip: &str, private: u16, public: u16, t: &str| json!({"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": t});
        let got = [
            displayable_ports(&[
                p("", 80, 0, "tcp"),
                p("", 81, 0, "tcp"),
                p("", 443, 0, "tcp"),
            ]),
            displayable_ports(&[
                p("0.0.0.0", 5000, 32768, "tcp"),
                p("::", 5000, 32768, "tcp"),
                p("127.0.0.1", 9000, 9000, "udp"),
            ]),
        ]
        .join("\n");
        expect![[r#"
            80-81/tcp, 443/tcp
            127.0.0.1:9000->9000/udp, 0.0.0.0:32768->5000/tcp, [::]:32768->5000/tcp"#]]
        .assert_eq(&got);
    }

    #[test]
    fn table_rows() {
        let c = json!({
            "Id": "0123456789abcdef0123", "Names": ["/web"], "Image": "docker.io/library/busybox:latest",
            "ImageID": "sha256:aaaa", "Command": "sh -c 'while true; do sleep 1; done'", "Created": 1000,
            "State": "running", "Status": "Up 2 seconds", "Ports": [], "Labels": {}
        });
        let fmt = Format::parse_ctx(TABLE).unwrap();
        let rows = vec![container_context(&c, true, 1003.0)];
        expect![[r#"
            CONTAINER ID   IMAGE            COMMAND                  CREATED         STATUS         PORTS     NAMES
            0123456789ab   busybox:latest   "sh -c 'while true; …"   3 seconds ago   Up 2 seconds             web
        "#]]
        .assert_eq(&fmt.render(&rows, &HEADERS).unwrap());
        assert_eq!(go_quote("a\"b\\\x01"), "\"a\\\"b\\\\\\x01\"");
    }
}

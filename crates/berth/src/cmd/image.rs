//! `images`, `image inspect`, `history`, `tag`, `rmi`, `image prune`.

use anyhow::Result;
use clap::Args;
use serde::Deserialize;

use super::{Ctx, filters_json, out, reference};
use crate::format::template::{Format, context};
use crate::format::{ellipsis, truncate_id, units};
use crate::usage::{Arity, Exit};

pub(crate) use super::image_io::{ImportArgs, LoadArgs, SaveArgs, import, load, save};

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Show digests
    #[arg(long = "digests")]
    pub digests: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string", long_help = crate::help::FORMAT_HELP)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    #[arg(value_name = "REPOSITORY[:TAG]", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Summary {
    id: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    size: i64,
    #[serde(default = "minus_one")]
    shared_size: i64,
    #[serde(default = "minus_one")]
    containers: i64,
}

fn minus_one() -> i64 {
    -1
}

const IMAGE_HEADERS: [(&str, &str); 11] = [
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("VirtualSize", "SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
];

const IMAGE_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";
const IMAGE_TABLE_DIGEST: &str = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";

pub(crate) async fn list(ctx: &Ctx, a: ListArgs) -> Result<()> {
    ctx.args(Arity::Max(1), a.args.len())?;
    let mut filters = a.filter.clone();
    if let Some(r) = a.args.first() {
        filters.push(format!("reference={r}"));
    }
    let filters = filters_json(ctx, &filters)?;
    let client = ctx.client().await?;
    let images: Vec<Summary> = client
        .get("/images/json")
        .query_flag("all", a.all)
        .query_opt("filters", filters)
        .send()
        .await?
        .json()
        .await?;
    let source = a.format.clone().unwrap_or_else(|| "table".into());
    let fmt_src = match source.as_str() {
        "table" if a.quiet => "{{.ID}}".to_string(),
        "table" if a.digests => IMAGE_TABLE_DIGEST.to_string(),
        "table" => IMAGE_TABLE.to_string(),
        other => {
            let mut f = other.to_string();
            if f.starts_with("table") && a.digests && !f.contains("{{.Digest}}") {
                f.push_str("\t{{.Digest}}");
            }
            f
        }
    };
    let need_digest = a.digests || fmt_src.contains("{{.Digest}}");
    let fmt = Format::parse_ctx(&fmt_src).map_err(|e| Exit {
        code: 1,
        message: e.to_string(),
    })?;
    let now = units::now_unix();
    let mut rows = Vec::new();
    for img in &images {
        for (repo, tag, digest) in image_rows(img, a.digests, need_digest) {
            rows.push(image_context(img, &repo, &tag, &digest, !a.no_trunc, now));
        }
    }
    let text = fmt.render(&rows, &IMAGE_HEADERS).map_err(|e| Exit {
        code: 1,
        message: e.to_string(),
    })?;
    out(&text);
    Ok(())
}

/// One row per repository:tag (and per digest when digests are shown), as docker's
/// image formatter expands a summary; repositories keep the daemon's order.
fn image_rows(
    img: &Summary,
    show_digests: bool,
    need_digest: bool,
) -> Vec<(String, String, String)> {
    let tags = img.repo_tags.clone().unwrap_or_default();
    let digests = img.repo_digests.clone().unwrap_or_default();
    let dangling = (tags.is_empty() && digests.is_empty())
        || (tags == ["<none>:<none>"] && digests == ["<none>@<none>"]);
    if dangling {
        return vec![("<none>".into(), "<none>".into(), "<none>".into())];
    }
    let mut repo_tags: Vec<(String, Vec<String>)> = Vec::new();
    for t in &tags {
        let (name, tag, _) = reference::split(t);
        let Some(tag) = tag else { continue };
        let name = reference::familiar_name(&name);
        match repo_tags.iter_mut().find(|(r, _)| *r == name) {
            Some((_, v)) => v.push(tag),
            None => repo_tags.push((name, vec![tag])),
        }
    }
    let mut repo_digests: Vec<(String, Vec<String>)> = Vec::new();
    for d in &digests {
        let (name, _, digest) = reference::split(d);
        let Some(digest) = digest else { continue };
        let name = reference::familiar_name(&name);
        match repo_digests.iter_mut().find(|(r, _)| *r == name) {
            Some((_, v)) => v.push(digest),
            None => repo_digests.push((name, vec![digest])),
        }
    }
    let mut rows = Vec::new();
    for (repo, tags) in &repo_tags {
        let pos = repo_digests.iter().position(|(r, _)| r == repo);
        let ds = pos.map(|i| repo_digests.remove(i).1).unwrap_or_default();
        let ds = if need_digest { ds } else { Vec::new() };
        for tag in tags {
            if ds.is_empty() {
                rows.push((repo.clone(), tag.clone(), "<none>".into()));
            }
            for d in &ds {
                rows.push((repo.clone(), tag.clone(), d.clone()));
            }
        }
    }
    for (repo, ds) in repo_digests {
        if show_digests {
            for d in ds {
                rows.push((repo.clone(), "<none>".into(), d));
            }
        } else {
            rows.push((repo, "<none>".into(), String::new()));
        }
    }
    rows
}

fn image_context(
    img: &Summary,
    repo: &str,
    tag: &str,
    digest: &str,
    trunc: bool,
    now: f64,
) -> gotmpl::Value {
    let id = if trunc {
        truncate_id(&img.id)
    } else {
        img.id.clone()
    };
    let na = |v: i64, f: &dyn Fn(i64) -> String| if v == -1 { "N/A".to_string() } else { f(v) };
    context(&[
        ("ID", id),
        ("Repository", repo.to_string()),
        ("Tag", tag.to_string()),
        ("Digest", digest.to_string()),
        ("CreatedSince", units::since(img.created, now)),
        ("CreatedAt", go_time_string(img.created)),
        ("Size", units::human_size_prec(img.size as f64, 3)),
        ("Containers", na(img.containers, &|v| v.to_string())),
        ("VirtualSize", units::human_size(img.size as f64)),
        (
            "SharedSize",
            na(img.shared_size, &|v| units::human_size(v as f64)),
        ),
        (
            "UniqueSize",
            if img.size == -1 || img.shared_size == -1 {
                "N/A".into()
            } else {
                units::human_size((img.size - img.shared_size) as f64)
            },
        ),
    ])
}

/// Go's `time.Time.String()` for a unix time, in local time.
pub(crate) fn go_time_string(unix: i64) -> String {
    use chrono::{Local, TimeZone};
    match Local.timestamp_opt(unix, 0).single() {
        Some(t) => {
            let off = t.offset().local_minus_utc();
            let zone = if off == 0 {
                "UTC".to_string()
            } else {
                t.format("%z").to_string()
            };
            format!("{} {zone}", t.format("%Y-%m-%d %H:%M:%S %z"))
        }
        None => String::new(),
    }
}

/// RFC 3339 in local time, as Go's `time.RFC3339` layout prints it.
pub(crate) fn rfc3339_local(unix: i64) -> String {
    use chrono::{Local, TimeZone};
    match Local.timestamp_opt(unix, 0).single() {
        Some(t) if t.offset().local_minus_utc() == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        None => String::new(),
    }
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string", long_help = crate::help::FORMAT_HELP)]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long = "human", value_name = "bool", default_value = "true", default_missing_value = "true", num_args = 0..=1, require_equals = true, action = clap::ArgAction::Set, value_parser = go_bool("-H, --human"))]
    pub human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Show history for the given platform
    #[arg(long = "platform", value_name = "string", hide = true)]
    pub platform: Option<String>,
    #[arg(value_name = "IMAGE", hide = true)]
    pub args: Vec<String>,
}

/// A value parser accepting what Go's `strconv.ParseBool` accepts, with pflag's error.
pub(crate) fn go_bool(
    flag: &'static str,
) -> impl Fn(&str) -> Result<bool, String> + Clone + Send + Sync + 'static {
    move |s: &str| match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "invalid argument \"{s}\" for \"{flag}\" flag: strconv.ParseBool: parsing \"{s}\": invalid syntax"
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HistoryItem {
    id: String,
    #[serde(default)]
    created: i64,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    comment: String,
}

const HISTORY_HEADERS: [(&str, &str); 6] = [
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

pub(crate) async fn history(ctx: &Ctx, a: HistoryArgs) -> Result<()> {
    ctx.args(Arity::Exact(1), a.args.len())?;
    let client = ctx.client().await?;
    let path = format!("/images/{}/history", berth_client::path_escape(&a.args[0]));
    let items: Vec<HistoryItem> = client
        .get(&path)
        .query_opt("platform", a.platform.as_ref())
        .send()
        .await?
        .json()
        .await?;
    let src = match a.format.as_deref() {
        None | Some("table") | Some("") if a.quiet => "{{.ID}}".to_string(),
        None | Some("table") | Some("") => {
            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".to_string()
        }
        Some(f) => f.to_string(),
    };
    let fmt = Format::parse_ctx(&src).map_err(|e| Exit {
        code: 1,
        message: e.to_string(),
    })?;
    let now = units::now_unix();
    let trunc = !a.no_trunc;
    let rows: Vec<_> = items
        .iter()
        .map(|h| {
            let created_by = h.created_by.replace('\t', " ");
            context(&[
                (
                    "ID",
                    if trunc {
                        truncate_id(&h.id)
                    } else {
                        h.id.clone()
                    },
                ),
                (
                    "CreatedSince",
                    if a.human {
                        units::since(h.created, now)
                    } else {
                        rfc3339_local(h.created)
                    },
                ),
                ("CreatedAt", rfc3339_local(h.created)),
                (
                    "CreatedBy",
                    if trunc {
                        ellipsis(&created_by, 45)
                    } else {
                        created_by
                    },
                ),
                (
                    "Size",
                    if a.human {
                        units::human_size_prec(h.size as f64, 3)
                    } else {
                        h.size.to_string()
                    },
                ),
                ("Comment", h.comment.clone()),
            ])
        })
        .collect();
    let mut headers = HISTORY_HEADERS;
    if !a.human {
        headers[1].1 = "CREATED AT";
    }
    out(&fmt.render(&rows, &headers).map_err(|e| Exit {
        code: 1,
        message: e.to_string(),
    })?);
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct TagArgs {
    #[arg(value_name = "IMAGE", hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn tag(ctx: &Ctx, a: TagArgs) -> Result<()> {
    ctx.args(Arity::Exact(2), a.args.len())?;
    let (source, target) = (&a.args[0], &a.args[1]);
    if source.is_empty() || source.contains(char::is_whitespace) {
        return Err(Exit {
            code: 1,
            message: format!("Error parsing reference: \"{source}\" is not a valid repository/tag: invalid reference format"),
        }
        .into());
    }
    let (repo, tag) = reference::normalize(target).map_err(|e| {
        let message = if e.starts_with("refusing") {
            e
        } else {
            format!("Error parsing reference: \"{target}\" is not a valid repository/tag: {e}")
        };
        Exit { code: 1, message }
    })?;
    let client = ctx.client().await?;
    let path = format!("/images/{}/tag", berth_client::path_escape(source));
    client
        .post(&path)
        .query("repo", repo)
        .query("tag", tag)
        .send()
        .await?;
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// Force removal of the image
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Remove only the given platform variant
    #[arg(long = "platform", value_name = "strings", hide = true)]
    pub platform: Vec<String>,
    #[arg(value_name = "IMAGE", hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct DeleteItem {
    #[serde(default)]
    untagged: String,
    #[serde(default)]
    deleted: String,
}

pub(crate) async fn rm(ctx: &Ctx, a: RmArgs) -> Result<()> {
    ctx.args(Arity::Min(1), a.args.len())?;
    let client = ctx.client().await?;
    let mut errors = Vec::new();
    let mut fatal = false;
    for name in &a.args {
        let path = format!("/images/{}", berth_client::path_escape(name));
        let res = client
            .delete(&path)
            .query_flag("force", a.force)
            .query_flag("noprune", a.no_prune)
            .send()
            .await;
        let res = match res {
            Ok(r) => r.json::<Vec<DeleteItem>>().await,
            Err(e) => Err(e),
        };
        match res {
            Ok(items) => {
                let mut text = String::new();
                for d in items {
                    if !d.deleted.is_empty() {
                        text.push_str(&format!("Deleted: {}\n", d.deleted));
                    } else {
                        text.push_str(&format!("Untagged: {}\n", d.untagged));
                    }
                }
                out(&text);
            }
            Err(e) => {
                if e.status() != Some(404) {
                    fatal = true;
                }
                errors.push(e.to_string());
            }
        }
    }
    if !errors.is_empty() {
        let msg = errors.join("\n");
        if !a.force || fatal {
            return Err(Exit {
                code: 1,
                message: msg,
            }
            .into());
        }
        eprintln!("{msg}");
    }
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct PruneReport {
    #[serde(default)]
    images_deleted: Option<Vec<DeleteItem>>,
    #[serde(default)]
    space_reclaimed: u64,
}

pub(crate) async fn prune(ctx: &Ctx, a: PruneArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let mut filters = a.filter.clone();
    filters.push(format!("dangling={}", !a.all));
    let filters = filters_json(ctx, &filters)?;
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?"
    } else {
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
    };
    if !a.force && !confirm(warning) {
        return Ok(());
    }
    let client = ctx.client().await?;
    let report: PruneReport = client
        .post("/images/prune")
        .query_opt("filters", filters)
        .send()
        .await?
        .json()
        .await?;
    let mut text = String::new();
    let deleted = report.images_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        text.push_str("Deleted Images:\n");
        for d in &deleted {
            if !d.untagged.is_empty() {
                text.push_str(&format!("untagged: {}\n", d.untagged));
            } else {
                text.push_str(&format!("deleted: {}\n", d.deleted));
            }
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        units::human_size(report.space_reclaimed as f64)
    ));
    out(&text);
    Ok(())
}

/// docker's `PromptForConfirmation`: the message, ` [y/N] `, then one line of stdin.
pub(crate) fn confirm(message: &str) -> bool {
    out(&format!("{message} [y/N] "));
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y")
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn summary(tags: &[&str], digests: &[&str]) -> Summary {
        Summary {
            id: "sha256:0123456789abcdef0123456789abcdef".into(),
            repo_tags: Some(tags.iter().map(|s| s.to_string()).collect()),
            repo_digests: Some(digests.iter().map(|s| s.to_string()).collect()),
            created: 1_000,
            size: 4_261_000,
            shared_size: -1,
            containers: -1,
        }
    }

    fn table(imgs: &[Summary], format: &str, digests: bool) -> String {
        let fmt = Format::parse(format).unwrap();
        let need = digests || format.contains("{{.Digest}}");
        let rows: Vec<_> = imgs
            .iter()
            .flat_map(|i| {
                image_rows(i, digests, need)
                    .into_iter()
                    .map(move |(r, t, d)| (i, r, t, d))
            })
            .map(|(i, r, t, d)| image_context(i, &r, &t, &d, true, 1_000.0 + 3.0 * 7.0 * 86400.0))
            .collect();
        fmt.render(&rows, &IMAGE_HEADERS).unwrap()
    }

    #[test]
    fn images_table() {
        let imgs = [
            summary(
                &["busybox:latest", "busybox:1", "localhost:5000/bb:v1"],
                &["busybox@sha256:aaaa"],
            ),
            summary(&[], &[]),
            summary(&[], &["only/digest@sha256:bbbb"]),
        ];
        expect![[r#"
            REPOSITORY          TAG       IMAGE ID       CREATED       SIZE
            busybox             latest    0123456789ab   3 weeks ago   4.26MB
            busybox             1         0123456789ab   3 weeks ago   4.26MB
            localhost:5000/bb   v1        0123456789ab   3 weeks ago   4.26MB
            <none>              <none>    0123456789ab   3 weeks ago   4.26MB
            only/digest         <none>    0123456789ab   3 weeks ago   4.26MB
        "#]]
        .assert_eq(&table(&imgs, IMAGE_TABLE, false));
        expect![[r#"
            REPOSITORY          TAG       DIGEST        IMAGE ID       CREATED       SIZE
            busybox             latest    sha256:aaaa   0123456789ab   3 weeks ago   4.26MB
            busybox             1         sha256:aaaa   0123456789ab   3 weeks ago   4.26MB
            localhost:5000/bb   v1        <none>        0123456789ab   3 weeks ago   4.26MB
            <none>              <none>    <none>        0123456789ab   3 weeks ago   4.26MB
            only/digest         <none>    sha256:bbbb   0123456789ab   3 weeks ago   4.26MB
        "#]]
        .assert_eq(&table(&imgs, IMAGE_TABLE_DIGEST, true));
        expect![[r#"
            <none> "<none>" 4.261MB N/A
        "#]]
        .assert_eq(&table(
            &imgs[1..2],
            "{{.Repository}} {{json .Tag}} {{.VirtualSize}} {{.UniqueSize}}",
            false,
        ));
    }
}

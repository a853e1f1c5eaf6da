//! `/images/...`. Image names may contain `/` and `:` (`localhost:5000/a/b:1`), so
//! one wildcard route takes everything after `/images/` and [`dispatch`] splits
//! off the trailing verb (`/json`, `/history`, `/tag`, `/get`, `/push`).

use std::io::Read;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use http::{Extensions, Method, StatusCode};

use berth_api::{
    ApiVersion, ContainerConfig, GraphDriverData, HealthConfig, HistoryResponseItem,
    ImageDeleteResponseItem, ImageInspect, ImageMetadata, ImagePruneResponse, ImageRootFs,
    ImageSummary, JsonMessage,
};
use berth_image::Image;

use crate::error::Error;
use crate::images::{DeleteRecord, ImportRequest, ListedImage, LoadMessage};
use crate::server::query::Query;
use crate::server::stream::{
    body_reader, drain, drain_body, panic_text, progress_response, writer_body,
};
use crate::server::{AppState, api_version, blocking, compat, not_found};

pub async fn dispatch(
    State(st): State<AppState>,
    Path(rest): Path<String>,
    method: Method,
    q: Query,
    ext: Extensions,
    headers: http::HeaderMap,
    body: Body,
) -> Response {
    let v = api_version(&ext);
    let r = match (&method, rest.as_str()) {
        (&Method::GET, "json") => list(st, q, v).await,
        (&Method::GET, "get") => save(st, q.all("names")).await,
        (&Method::POST, "create") if !q.get("fromImage").is_empty() => {
            drain_body(body).await;
            return super::registry::pull(st, q, &headers).await;
        }
        (&Method::POST, "create") => create(st, q, body).await,
        (&Method::POST, "load") => Ok(load(st, q, body).await),
        (&Method::POST, "prune") => prune(st, q).await,
        (&Method::GET, "search") => return super::registry::search(st, q, &headers).await,
        (&Method::DELETE, name) => delete(st, name.to_string(), q).await,
        (m, path) => match path.rsplit_once('/') {
            Some((name, "json")) if m == Method::GET => inspect(st, name.to_string(), v).await,
            Some((name, "history")) if m == Method::GET => history(st, name.to_string()).await,
            Some((name, "tag")) if m == Method::POST => tag(st, name.to_string(), q).await,
            Some((name, "get")) if m == Method::GET => save(st, vec![name.to_string()]).await,
            Some((name, "push")) if m == Method::POST => {
                return super::registry::push(st, name.to_string(), q, &headers).await;
            }
            _ => return not_found().await,
        },
    };
    r.unwrap_or_else(IntoResponse::into_response)
}

/// Go's `time.RFC3339Nano`: fractional seconds without trailing zeros, `Z` for UTC.
pub fn rfc3339_nano(t: &DateTime<Utc>) -> String {
    trim_fraction(t.to_rfc3339_opts(SecondsFormat::Nanos, true))
}

/// The same for a local time (`/info` SystemTime), with its offset.
pub fn rfc3339_nano_local(t: &DateTime<chrono::Local>) -> String {
    trim_fraction(t.to_rfc3339_opts(SecondsFormat::Nanos, true))
}

/// `...:20.500000000Z` -> `...:20.5Z`; `...:20.000000000Z` -> `...:20Z`.
fn trim_fraction(s: String) -> String {
    let Some(dot) = s.rfind('.') else {
        return s;
    };
    let Some(end) = s[dot..].find(['Z', '+', '-']).map(|i| i + dot) else {
        return s;
    };
    let frac = s[dot + 1..end].trim_end_matches('0');
    if frac.is_empty() {
        format!("{}{}", &s[..dot], &s[end..])
    } else {
        format!("{}.{}{}", &s[..dot], frac, &s[end..])
    }
}

pub fn summary_of(li: &ListedImage) -> ImageSummary {
    let img = &li.image;
    ImageSummary {
        containers: -1,
        created: img.created.timestamp(),
        id: img.id.to_string(),
        labels: img.config.config.as_ref().and_then(|c| c.labels.clone()),
        parent_id: img
            .parent
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        repo_digests: li.repo_digests.clone(),
        repo_tags: li.repo_tags.clone(),
        shared_size: li.shared_size.map(|s| s as i64).unwrap_or(-1),
        size: img.size as i64,
        virtual_size: None,
    }
}

async fn list(st: AppState, q: Query, v: ApiVersion) -> Result<Response, Error> {
    let filters = q.filters()?;
    let all = q.bool("all");
    let shared = q.bool("shared-size") && v.at_least(1, 42);
    let images = st.images.clone();
    let listed = blocking(move || images.list(all, &filters, shared)).await?;
    let rows: Vec<ImageSummary> = listed
        .iter()
        .map(|li| {
            let mut s = summary_of(li);
            compat::image_summary(v, &mut s);
            s
        })
        .collect();
    Ok(Json(rows).into_response())
}

fn extra_str(m: &serde_json::Map<String, serde_json::Value>, k: &str) -> String {
    m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string()
}

fn extra_bool(m: &serde_json::Map<String, serde_json::Value>, k: &str) -> bool {
    m.get(k).and_then(|v| v.as_bool()).unwrap_or(false)
}

fn wire_config(c: Option<&berth_image::ContainerConfig>) -> ContainerConfig {
    let Some(c) = c else {
        return ContainerConfig::default();
    };
    let x = &c.extra;
    ContainerConfig {
        hostname: extra_str(x, "Hostname"),
        domainname: extra_str(x, "Domainname"),
        user: c.user.clone(),
        attach_stdin: extra_bool(x, "AttachStdin"),
        attach_stdout: extra_bool(x, "AttachStdout"),
        attach_stderr: extra_bool(x, "AttachStderr"),
        exposed_ports: c.exposed_ports.clone(),
        tty: extra_bool(x, "Tty"),
        open_stdin: extra_bool(x, "OpenStdin"),
        stdin_once: extra_bool(x, "StdinOnce"),
        env: c.env.clone(),
        cmd: c.cmd.clone(),
        healthcheck: c.healthcheck.as_ref().map(|h| HealthConfig {
            test: h.test.clone(),
            interval: h.interval.unwrap_or(0),
            timeout: h.timeout.unwrap_or(0),
            start_period: h.start_period.unwrap_or(0),
            start_interval: h.start_interval.unwrap_or(0),
            retries: h.retries.unwrap_or(0),
        }),
        args_escaped: c.args_escaped,
        image: extra_str(x, "Image"),
        volumes: c.volumes.clone(),
        working_dir: c.working_dir.clone(),
        entrypoint: c.entrypoint.clone(),
        on_build: c.on_build.clone(),
        labels: c.labels.clone(),
        stop_signal: c.stop_signal.clone(),
        shell: c.shell.clone(),
    }
}

fn inspect_of(img: &Image, dirs: &[std::path::PathBuf]) -> ImageInspect {
    let cfg = &img.config;
    let created = cfg
        .created
        .as_ref()
        .map(|c| match DateTime::parse_from_rfc3339(c) {
            Ok(t) => rfc3339_nano(&t.with_timezone(&Utc)),
            Err(_) => c.clone(),
        });
    let mut data = std::collections::BTreeMap::new();
    if let Some((top, lower)) = dirs.split_last() {
        data.insert("UpperDir".to_string(), top.display().to_string());
        if !lower.is_empty() {
            let l: Vec<String> = lower
                .iter()
                .rev()
                .map(|p| p.display().to_string())
                .collect();
            data.insert("LowerDir".to_string(), l.join(":"));
        }
    }
    ImageInspect {
        id: img.id.to_string(),
        repo_tags: img.repo_tags.iter().map(|r| r.familiar()).collect(),
        repo_digests: img.repo_digests.clone(),
        parent: img
            .parent
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        comment: cfg.comment.clone().unwrap_or_default(),
        created,
        container: None,
        container_config: None,
        docker_version: extra_str(&cfg.extra, "docker_version"),
        author: cfg.author.clone().unwrap_or_default(),
        config: wire_config(cfg.config.as_ref()),
        architecture: cfg.architecture.clone(),
        variant: cfg.variant.clone().filter(|v| !v.is_empty()),
        os: cfg.os.clone(),
        os_version: Some(extra_str(&cfg.extra, "os.version")).filter(|v| !v.is_empty()),
        size: img.size as i64,
        virtual_size: None,
        graph_driver: GraphDriverData {
            name: "overlay2".into(),
            data,
        },
        root_fs: ImageRootFs {
            typ: if cfg.rootfs.kind.is_empty() {
                "layers".into()
            } else {
                cfg.rootfs.kind.clone()
            },
            layers: cfg.rootfs.diff_ids.iter().map(|d| d.to_string()).collect(),
        },
        metadata: ImageMetadata {
            last_tag_time: img.last_tag_time.as_ref().map(rfc3339_nano),
        },
    }
}

async fn inspect(st: AppState, name: String, v: ApiVersion) -> Result<Response, Error> {
    let images = st.images.clone();
    let (img, dirs) = blocking(move || {
        let img = images.get(&name)?;
        let dirs = images.layer_dirs(&img.id).unwrap_or_default();
        Ok((img, dirs))
    })
    .await?;
    let mut out = inspect_of(&img, &dirs);
    compat::image_inspect(v, &mut out);
    Ok(Json(out).into_response())
}

async fn history(st: AppState, name: String) -> Result<Response, Error> {
    let images = st.images.clone();
    let entries = blocking(move || images.history(&name)).await?;
    let rows: Vec<HistoryResponseItem> = entries
        .into_iter()
        .map(|e| HistoryResponseItem {
            id: e.id,
            created: e.created.map(|c| c.timestamp()).unwrap_or(0),
            created_by: e.created_by,
            tags: (!e.tags.is_empty()).then(|| e.tags.iter().map(|t| t.familiar()).collect()),
            size: e.size as i64,
            comment: e.comment,
        })
        .collect();
    Ok(Json(rows).into_response())
}

async fn tag(st: AppState, name: String, q: Query) -> Result<Response, Error> {
    let images = st.images.clone();
    let (repo, tag) = (q.get("repo").to_string(), q.get("tag").to_string());
    blocking(move || images.tag(&name, &repo, &tag)).await?;
    Ok(StatusCode::CREATED.into_response())
}

fn records(rs: Vec<DeleteRecord>) -> Vec<ImageDeleteResponseItem> {
    rs.into_iter()
        .map(|r| match r {
            DeleteRecord::Untagged(s) => ImageDeleteResponseItem::untagged(s),
            DeleteRecord::Deleted(s) => ImageDeleteResponseItem::deleted(s),
        })
        .collect()
}

async fn delete(st: AppState, name: String, q: Query) -> Result<Response, Error> {
    let images = st.images.clone();
    let (force, prune) = (q.bool("force"), !q.bool("noprune"));
    let rs = blocking(move || images.delete(&name, force, prune)).await?;
    Ok(Json(records(rs)).into_response())
}

async fn prune(st: AppState, q: Query) -> Result<Response, Error> {
    let filters = q.filters()?;
    let images = st.images.clone();
    let rep = blocking(move || images.prune(&filters)).await?;
    let deleted = records(rep.records);
    Ok(Json(ImagePruneResponse {
        images_deleted: (!deleted.is_empty()).then_some(deleted),
        space_reclaimed: rep.space_reclaimed,
    })
    .into_response())
}

/// docker's `HumanSize`: decimal units, four significant digits (`%.4g`).
fn human_size(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut f = n as f64;
    let mut i = 0;
    while f >= 1000.0 && i < units.len() - 1 {
        f /= 1000.0;
        i += 1;
    }
    let int_digits = if f < 1.0 {
        1
    } else {
        (f.log10().floor() as usize) + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let s = format!("{f:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{}", units[i])
}

/// docker's progress bar text: `[=====>     ]  1.2MB/3.4MB` (50 cells plus the arrow).
pub(crate) fn progress_bar(current: u64, total: u64) -> String {
    if total == 0 {
        return format!("{:>8}", human_size(current));
    }
    let width = 50usize;
    let filled = ((current.min(total) as f64 / total as f64) * width as f64) as usize;
    format!(
        "[{}>{}] {:>8}/{}",
        "=".repeat(filled),
        " ".repeat(width - filled),
        human_size(current),
        human_size(total)
    )
}

fn progress_line(status: &str, id: &str, current: u64, total: u64) -> JsonMessage {
    JsonMessage {
        status: Some(status.into()),
        progress_detail: Some(serde_json::json!({"current": current, "total": total})),
        progress: Some(progress_bar(current, total)),
        id: Some(id.to_string()).filter(|i| !i.is_empty()),
        ..Default::default()
    }
}

async fn load(st: AppState, q: Query, body: Body) -> Response {
    let quiet = q.bool("quiet");
    let mut reader = body_reader(body);
    let images = st.images.clone();
    progress_response(false, move |lines| {
        let res = images.load(&mut reader, quiet, &mut |m| {
            let msg = match m {
                LoadMessage::Loaded(s) => JsonMessage::stream(format!("{s}\n")),
                LoadMessage::Layer { id, current, total } => {
                    progress_line("Loading layer", &id, current, total)
                }
            };
            lines.send(msg);
        });
        // Whatever happened, read to the end (see `archive::put`).
        drain(&mut reader);
        res
    })
    .await
}

/// Counts bytes read, reporting "Importing" progress for URL imports.
struct Counting<R> {
    inner: R,
    n: u64,
    last: u64,
    total: u64,
    lines: crate::server::stream::Lines,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        if self.n - self.last >= (4 << 20) || (k == 0 && self.n != self.last) {
            self.last = self.n;
            self.lines
                .send(progress_line("Importing", "", self.n, self.total));
        }
        Ok(k)
    }
}

async fn create(st: AppState, q: Query, body: Body) -> Result<Response, Error> {
    let src = q.get("fromSrc").to_string();
    if src.is_empty() {
        return Err(Error::invalid("fromSrc or fromImage is required"));
    }
    let req = ImportRequest {
        repo: q.get("repo").to_string(),
        tag: q.get("tag").to_string(),
        message: q.get("message").to_string(),
        changes: q.all("changes"),
        source: src.clone(),
        platform: Some(q.get("platform").to_string()).filter(|p| !p.is_empty()),
    };
    if let Err(e) = st.images.check_import(&req) {
        drain_body(body).await;
        return Err(e);
    }
    let images = st.images.clone();
    if src == "-" {
        let mut reader = body_reader(body);
        return Ok(progress_response(true, move |lines| {
            let res = images.import(&mut reader, &req);
            // Whatever happened, read to the end (see `archive::put`).
            drain(&mut reader);
            let id = res?;
            lines.send(JsonMessage::status(id.to_string()));
            Ok(())
        })
        .await);
    }
    drop(body);
    let url = if src.contains("://") {
        src.clone()
    } else {
        format!("http://{src}")
    };
    let parsed =
        reqwest::Url::parse(&url).map_err(|e| Error::invalid(format!("invalid URL {url}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::invalid(format!(
            "unsupported URL scheme {}: {url}",
            parsed.scheme()
        )));
    }
    let resp = reqwest::Client::new()
        .get(parsed.clone())
        .send()
        .await
        .map_err(|e| Error::invalid(format!("Get \"{url}\": {e}")))?;
    if !resp.status().is_success() {
        return Err(Error::invalid(format!(
            "failed to GET {url} with status {}",
            resp.status()
        )));
    }
    let total = resp.content_length().unwrap_or(0);
    let stream = resp.bytes_stream().map(|r| {
        r.map_err(|e| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e.to_string()))
    });
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    Ok(progress_response(true, move |lines| {
        lines.send(JsonMessage::status(format!("Downloading from {parsed}")));
        let mut counting = Counting {
            inner: reader,
            n: 0,
            last: 0,
            total,
            lines: lines.clone(),
        };
        let id = images.import(&mut counting, &req)?;
        lines.send(JsonMessage::status(id.to_string()));
        Ok(())
    })
    .await)
}

async fn save(st: AppState, names: Vec<String>) -> Result<Response, Error> {
    if names.is_empty() {
        return Err(Error::invalid("no images specified"));
    }
    let images = st.images.clone();
    let items = {
        let images = images.clone();
        blocking(move || images.resolve_save(&names)).await?
    };
    let (mut writer, body) = writer_body();
    tokio::task::spawn_blocking(move || {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            images.save(&items, &mut writer)
        }))
        .unwrap_or_else(|p| {
            Err(Error::internal(format!(
                "internal error: {}",
                panic_text(&*p)
            )))
        })
        .and_then(|_| {
            std::io::Write::flush(&mut writer)
                .map_err(|e| Error::internal(format!("write archive: {e}")))
        });
        if let Err(e) = res {
            tracing::warn!("save failed mid-stream: {}", e.message);
            writer.abort(e.message);
        }
    });
    Ok(([(http::header::CONTENT_TYPE, "application/x-tar")], body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_nano_like_go() {
        let t = DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap();
        assert_eq!(rfc3339_nano(&t), "2023-11-14T22:13:20.5Z");
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(rfc3339_nano(&t), "2023-11-14T22:13:20Z");
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(rfc3339_nano(&t), "2023-11-14T22:13:20.123456789Z");
    }

    #[test]
    fn progress_bar_like_docker() {
        assert_eq!(
            progress_bar(10240, 10240),
            "[==================================================>]  10.24kB/10.24kB"
        );
        assert!(progress_bar(0, 100).starts_with(&format!("[>{}]", " ".repeat(50))));
        assert_eq!(human_size(123_456_789), "123.5MB");
        assert_eq!(human_size(2_130_000), "2.13MB");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(0), "0B");
    }
}

//! `POST /build` (the classic builder's JSON line stream) and `POST /build/prune`.
//!
//! The body is the context tar (plain, gzip, bzip2, xz or zstd); it is extracted into
//! the build's scratch dir, the build runs on the blocking pool, and its lines go out
//! as `{"stream":...}`; the final id as `{"aux":{"ID":...}}`. Errors before the
//! first line are a normal error status (dockerd's "not flushed" rule), later ones
//! an in-band `errorDetail`. A client that goes away cancels the build.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::Path;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use berth_api::{JsonError, JsonMessage};
use berth_build::{BuildError, BuildOptions, Cancel, Progress};

use crate::builder::{Builder, DaemonBackend};
use crate::error::Error;
use crate::server::AppState;
use crate::server::query::Query;
use crate::server::stream::{body_reader, drain, drain_body, panic_text};

fn builder(st: &AppState) -> Result<std::sync::Arc<Builder>, Error> {
    st.builder
        .clone()
        .ok_or_else(|| Error::not_implemented("the builder is not available"))
}

fn json_map(q: &Query, key: &str) -> Result<BTreeMap<String, Option<String>>, Error> {
    let raw = q.get(key);
    if raw.is_empty() {
        return Ok(BTreeMap::new());
    }
    serde_json::from_str(raw).map_err(|e| Error::invalid(format!("invalid {key} parameter: {e}")))
}

/// What the build thread sends to the response.
enum Msg {
    Bytes(bytes::Bytes),
    Fail(Error),
}

/// The sending half held by the build thread.
struct Lines(tokio::sync::mpsc::Sender<Msg>);

impl Lines {
    fn send(&self, m: JsonMessage) -> bool {
        self.0
            .blocking_send(Msg::Bytes(bytes::Bytes::from(m.to_line())))
            .is_ok()
    }
    /// A bare newline, which JSON stream readers skip: writing it is the only way to
    /// notice a client that went away while a step runs silently.
    fn keepalive(&self) -> bool {
        self.0
            .blocking_send(Msg::Bytes(bytes::Bytes::from_static(b"\n")))
            .is_ok()
    }
}

/// Runs `work` on the blocking pool and streams its lines; an error before the first
/// line is a normal error status (dockerd's "not flushed" rule), later ones in-band.
async fn respond<F>(work: F) -> Response
where
    F: FnOnce(&Lines) -> Result<(), Error> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(32);
    tokio::task::spawn_blocking(move || {
        let lines = Lines(tx);
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&lines)))
            .unwrap_or_else(|p| {
                Err(Error::internal(format!(
                    "internal error: {}",
                    panic_text(&*p)
                )))
            });
        if let Err(e) = res {
            let _ = lines.0.blocking_send(Msg::Fail(e));
        }
    });
    let to_bytes = |m: Msg| match m {
        Msg::Bytes(b) => b,
        Msg::Fail(e) => bytes::Bytes::from(JsonMessage::error(e.message).to_line()),
    };
    let first = match rx.recv().await {
        Some(Msg::Fail(e)) => return crate::server::error::error_response(&e),
        other => other.map(to_bytes),
    };
    let head = futures_util::stream::iter(first.map(Ok::<_, std::io::Error>));
    let rest = futures_util::stream::unfold(rx, move |mut rx| async move {
        let m = rx.recv().await?;
        Some((Ok(to_bytes(m)), rx))
    });
    use futures_util::StreamExt;
    let body = Body::from_stream(head.chain(rest));
    ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Build output to the response: lines as `stream` messages (none with `q`).
struct Out<'a> {
    lines: &'a Lines,
    quiet: bool,
    cancel: Cancel,
    /// Something reached the client: later errors go in-band.
    sent: bool,
    last_keepalive: std::time::Instant,
}

impl Progress for Out<'_> {
    fn stream(&mut self, text: &str) -> bool {
        if self.quiet {
            return !self.cancel.is_cancelled();
        }
        let ok = self.lines.send(JsonMessage::stream(text));
        self.sent = true;
        if !ok {
            self.cancel.cancel();
        }
        ok
    }

    fn alive(&mut self) -> bool {
        // A silent step (a long RUN) writes a newline now and then: the only way to
        // notice a client that went away.
        if self.last_keepalive.elapsed() >= std::time::Duration::from_secs(1) {
            self.last_keepalive = std::time::Instant::now();
            if !self.lines.keepalive() {
                self.cancel.cancel();
            }
        }
        !self.cancel.is_cancelled()
    }

    fn aux_id(&mut self, id: &str) {
        let m = JsonMessage {
            aux: Some(json!({"ID": id})),
            ..Default::default()
        };
        self.sent = true;
        if !self.lines.send(m) {
            self.cancel.cancel();
        }
    }
}

/// A build error as docker sends it in-band (with the exit code of a failed RUN).
fn error_line(e: &BuildError) -> JsonMessage {
    let message = e.to_string();
    JsonMessage {
        error_detail: Some(JsonError {
            code: e.code().map(i64::from),
            message: message.clone(),
        }),
        error: Some(message),
        ..Default::default()
    }
}

fn to_error(e: BuildError) -> Error {
    Error::new(e.kind(), e.to_string())
}

pub async fn build(
    State(st): State<AppState>,
    q: Query,
    headers: http::HeaderMap,
    body: Body,
) -> Response {
    let b = match builder(&st) {
        Ok(b) => b,
        Err(e) => {
            drain_body(body).await;
            return crate::server::error::error_response(&e);
        }
    };
    let parsed = (|| -> Result<BuildOptions, Error> {
        let labels = json_map(&q, "labels")?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        let network = match q.get("networkmode") {
            "" | "default" | "bridge" => String::new(),
            "none" | "host" => q.get("networkmode").to_string(),
            other => {
                return Err(Error::invalid(format!(
                    "network mode {other} is not supported for builds (use default, host or none)"
                )));
            }
        };
        let extra_hosts = q
            .all("extrahosts")
            .iter()
            .flat_map(|s| s.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Ok(BuildOptions {
            dockerfile_name: match q.get("dockerfile") {
                "" => "Dockerfile".to_string(),
                d => d.to_string(),
            },
            build_args: json_map(&q, "buildargs")?,
            labels,
            no_cache: q.bool("nocache"),
            pull: q.bool("pull"),
            target: Some(q.get("target").to_string()).filter(|t| !t.is_empty()),
            tags: q.all("t").into_iter().filter(|t| !t.is_empty()).collect(),
            network,
            extra_hosts,
            quiet: q.bool("q"),
            platform: crate::builder::from::platform_param(q.get("platform"))?,
            ..Default::default()
        })
    })();
    let mut opts = match parsed {
        Ok(o) => o,
        Err(e) => {
            drain_body(body).await;
            return crate::server::error::error_response(&e);
        }
    };
    for t in &opts.tags {
        if let Err(e) = berth_image::Reference::parse(t) {
            drain_body(body).await;
            return crate::server::error::error_response(&Error::invalid(format!(
                "invalid reference format: {e}"
            )));
        }
    }
    let mut reader = body_reader(body);
    let rt = tokio::runtime::Handle::current();
    let remote = q.get("remote").to_string();
    let auth = crate::builder::from::registry_config(
        headers
            .get("x-registry-config")
            .and_then(|v| v.to_str().ok()),
    );
    respond(move |lines| {
        let scratch = b
            .scratch()
            .map_err(|e| Error::internal(format!("create build dir: {e}")))?;
        let mut ctx_dir = scratch.0.join("context");
        // The context is spooled and indexed, and extracted only when a step needs it.
        let mut spool = None;
        if remote.is_empty() {
            let input = berth_image::decompress(BufReader::with_capacity(1 << 20, &mut reader))
                .map_err(|e| Error::invalid(format!("read build context: {e}")));
            let extracted = input.and_then(|r| {
                let tar = scratch.0.join("context.tar");
                spool = Some(
                    berth_build::SpooledContext::receive(r, &tar, &ctx_dir)
                        .map_err(|e| Error::invalid(format!("extract build context: {e}")))?,
                );
                Ok(())
            });
            // Always read the body to its end: the tar reader stops at the first
            // end-of-archive block, and a response sent while the client is still
            // writing the trailing padding breaks its pipe ("write: broken pipe"
            // instead of the parse error the user should see).
            drain(&mut reader);
            extracted?;
        } else {
            drain(&mut reader);
            let gone = || lines.0.is_closed();
            ctx_dir = crate::builder::remote::prepare(
                &remote,
                &scratch.0,
                &opts.dockerfile_name,
                &rt,
                &gone,
            )?;
        }
        opts.dockerfile = match spool
            .as_ref()
            .and_then(|s| s.read_plain(&opts.dockerfile_name))
        {
            Some(text) => String::from_utf8_lossy(&text).into_owned(),
            None => {
                if let Some(s) = &spool {
                    s.extract()
                        .map_err(|e| Error::invalid(format!("extract build context: {e}")))?;
                }
                read_dockerfile(&ctx_dir, &opts.dockerfile_name)?
            }
        };
        match spool.as_mut() {
            Some(s) => s.remove_ignored(&opts.dockerfile_name),
            None => berth_build::remove_ignored(&ctx_dir, &opts.dockerfile_name),
        }
        opts.spool = spool.map(std::sync::Arc::new);
        opts.context = ctx_dir;
        opts.work_dir = scratch.0.clone();
        let cancel = Cancel::default();
        let mut out = Out {
            lines,
            quiet: opts.quiet,
            cancel: cancel.clone(),
            sent: false,
            last_keepalive: std::time::Instant::now(),
        };
        let backend = DaemonBackend {
            b: &b,
            rt: rt.clone(),
            scratch: scratch.0.clone(),
            auth,
        };
        let res = berth_build::build(&opts, &backend, Some(b.cache()), &mut out, &cancel);
        match res {
            Ok(id) => {
                if opts.quiet {
                    lines.send(JsonMessage::stream(format!("{id}\n")));
                }
                Ok(())
            }
            Err(e) if out.sent || e.code().is_some() => {
                lines.send(error_line(&e));
                Ok(())
            }
            Err(e) => Err(to_error(e)),
        }
    })
    .await
}

/// The Dockerfile, resolved inside the context (a `dockerfile=` of `../x` or a
/// symlink to `/etc/passwd` can only name files in the context).
fn read_dockerfile(ctx: &Path, name: &str) -> Result<String, Error> {
    let p = berth_stdx::rootpath::resolve_in_root(ctx, Path::new(name))
        .map_err(|e| Error::invalid(format!("resolve dockerfile: {e}")))?;
    match std::fs::read(&p) {
        Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::invalid(format!(
            "Cannot locate specified Dockerfile: {name}"
        ))),
        Err(e) => Err(Error::invalid(format!("read dockerfile {name}: {e}"))),
    }
}

/// `POST /build/prune?all=&keep-storage=&filters=`.
pub async fn prune(State(st): State<AppState>, q: Query) -> Response {
    let Some(b) = st.builder.clone() else {
        return Json(json!({"CachesDeleted": [], "SpaceReclaimed": 0})).into_response();
    };
    let res = match prune_options(&q) {
        Ok(opts) => crate::server::blocking(move || Ok(b.prune(&opts))).await,
        Err(e) => Err(e),
    };
    match res {
        Ok((deleted, freed)) => Json(json!({
            "CachesDeleted": if deleted.is_empty() { Value::Null } else { json!(deleted) },
            "SpaceReclaimed": freed,
        }))
        .into_response(),
        Err(e) => crate::server::error::error_response(&e),
    }
}

/// `all`, `keep-storage` and the `until` (or `unused-for`) filter of a prune.
fn prune_options(q: &Query) -> Result<crate::builder::PruneOptions, Error> {
    let keep_storage = q
        .get("keep-storage")
        .parse()
        .or_else(|_| q.get("reserved-space").parse())
        .unwrap_or(0);
    let all = matches!(q.get("all"), "1" | "true" | "True");
    let f = q.filters()?;
    f.validate(&["until", "unused-for"])
        .map_err(|e| Error::invalid(e.to_string()))?;
    let mut wanted = f.get("until");
    wanted.extend(f.get("unused-for"));
    let until = match wanted.as_slice() {
        [] => None,
        [one] => {
            let t = berth_api::parse_timestamp(one, chrono::Utc::now())
                .map_err(|e| Error::invalid(format!("invalid filter 'until={one}': {e}")))?;
            Some(std::time::SystemTime::from(t))
        }
        _ => return Err(Error::invalid("more than one until filter specified")),
    };
    Ok(crate::builder::PruneOptions {
        all,
        keep_storage,
        until,
    })
}

/// Build cache records for `GET /system/df`.
pub fn df_records(st: &AppState) -> Vec<Value> {
    let Some(b) = st.builder.clone() else {
        return Vec::new();
    };
    let ts = |t: std::time::SystemTime| {
        chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    };
    b.records()
        .into_iter()
        .map(|r| {
            json!({
                "ID": &r.entry.key[..25.min(r.entry.key.len())],
                "Parent": Value::Null,
                "Parents": Value::Null,
                "Type": "regular",
                "Description": r.description,
                "InUse": false,
                "Shared": false,
                "Size": r.size,
                "CreatedAt": ts(r.entry.created),
                "LastUsedAt": ts(r.entry.last_used),
                "UsageCount": 1,
            })
        })
        .collect()
}

//! HEALTHCHECK: the prober that runs a container's health test as an exec on its
//! interval and keeps docker's `State.Health` (status, failing streak, the last five
//! results), publishing `health_status: <status>` events on every change.
//!
//! One prober task per running container, started with it (and again for containers
//! found running after a daemon restart). It ends on its own as soon as the container
//! is no longer the run it was started for: each probe result is applied only if the
//! container's exit count is still the one the prober began with, so a late probe can
//! never touch the next run's state.

use std::sync::Arc;
use std::time::Duration;

use berth_runtime::shim::proto::Request;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::io::AsyncReadExt;

use super::manager::{ContainerManager, strs};
use super::record::{Record, State, Status};
use super::shim;

/// docker keeps the last five results.
const MAX_LOG: usize = 5;
/// docker truncates a probe's output to 4 KiB.
const MAX_OUTPUT: usize = 4096;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: i64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub exit_code: i64,
    pub output: String,
}

/// `State.Health` as docker keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: HealthStatus,
    pub failing_streak: i64,
    pub log: Vec<HealthResult>,
}

impl Health {
    /// The suffix of `ps`'s STATUS column: `healthy`, `health: starting`.
    pub fn ps_text(&self) -> String {
        match self.status {
            HealthStatus::Starting => "health: starting".into(),
            s => s.as_str().into(),
        }
    }

    /// The wire form of `State.Health`.
    pub fn to_json(&self) -> Value {
        let t = crate::routes::images::rfc3339_nano;
        json!({
            "Status": self.status.as_str(),
            "FailingStreak": self.failing_streak,
            "Log": self.log.iter().map(|r| json!({
                "Start": t(&r.start),
                "End": t(&r.end),
                "ExitCode": r.exit_code,
                "Output": r.output,
            })).collect::<Vec<_>>(),
        })
    }

    /// docker's `handleProbeResult`: append (keeping five), then move the status.
    /// Returns whether the status changed.
    fn apply(&mut self, result: HealthResult, retries: i64, in_start_period: bool) -> bool {
        let old = self.status;
        let exit = result.exit_code;
        self.log.push(result);
        if self.log.len() > MAX_LOG {
            let extra = self.log.len() - MAX_LOG;
            self.log.drain(..extra);
        }
        if exit == 0 {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !(self.status == HealthStatus::Starting && in_start_period) {
            // Failures while still starting inside the start period don't count.
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = HealthStatus::Unhealthy;
            }
        }
        old != self.status
    }
}

/// What `Config.Healthcheck` asks for, with docker's defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Probe {
    pub cmd: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub start_interval: Duration,
    pub retries: i64,
}

fn dur(h: &Map<String, Value>, key: &str, default: Duration) -> Duration {
    match h.get(key).and_then(Value::as_i64) {
        Some(n) if n > 0 => Duration::from_nanos(n as u64),
        _ => default,
    }
}

/// The probe of a container, or `None` without a healthcheck (none configured,
/// `NONE`, an empty or unknown test type: docker ignores those).
pub(crate) fn probe_of(config: &Map<String, Value>) -> Option<Probe> {
    let h = config.get("Healthcheck")?.as_object()?;
    let test = strs(h.get("Test"));
    let cmd = match test.first().map(String::as_str) {
        Some("CMD") => test[1..].to_vec(),
        Some("CMD-SHELL") => {
            let mut sh = strs(config.get("Shell"));
            if sh.is_empty() {
                sh = vec!["/bin/sh".into(), "-c".into()];
            }
            sh.push(test[1..].join(" "));
            sh
        }
        _ => return None,
    };
    if cmd.is_empty() || cmd[0].is_empty() {
        return None;
    }
    Some(Probe {
        cmd,
        interval: dur(h, "Interval", DEFAULT_INTERVAL),
        timeout: dur(h, "Timeout", DEFAULT_TIMEOUT),
        start_period: dur(h, "StartPeriod", Duration::ZERO),
        start_interval: dur(h, "StartInterval", DEFAULT_START_INTERVAL),
        retries: h
            .get("Retries")
            .and_then(Value::as_i64)
            .filter(|r| *r > 0)
            .unwrap_or(DEFAULT_RETRIES),
    })
}

/// docker's merge of the image's HEALTHCHECK into the request's: the whole image
/// healthcheck when the request has none, else field by field where the request's is
/// empty or zero.
pub(crate) fn merge_image(c: &mut Map<String, Value>, img: Option<&berth_image::HealthConfig>) {
    let Some(img) = img else { return };
    let img_json = serde_json::to_value(img).unwrap_or(Value::Null);
    let Some(img_map) = img_json.as_object() else {
        return;
    };
    match c.get_mut("Healthcheck") {
        Some(Value::Object(user)) => {
            let is_empty = |v: Option<&Value>| match v {
                None | Some(Value::Null) => true,
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                _ => false,
            };
            for k in [
                "Test",
                "Interval",
                "Timeout",
                "StartPeriod",
                "StartInterval",
                "Retries",
            ] {
                if is_empty(user.get(k))
                    && let Some(v) = img_map.get(k)
                {
                    user.insert(k.into(), v.clone());
                }
            }
        }
        _ => {
            c.insert("Healthcheck".into(), img_json.clone());
        }
    }
}

/// On exit: docker marks the health `unhealthy` once its monitor stopped.
pub(crate) fn on_stop(state: &mut State) {
    if let Some(h) = state.health.as_mut() {
        h.status = HealthStatus::Unhealthy;
    }
}

/// On start: a fresh `starting` status with no failing streak (the log is kept).
pub(crate) fn on_start(rec: &mut Record) {
    if probe_of(&rec.config).is_none() {
        rec.state.health = None;
        return;
    }
    let h = rec.state.health.get_or_insert(Health {
        status: HealthStatus::Starting,
        failing_streak: 0,
        log: Vec::new(),
    });
    h.status = HealthStatus::Starting;
    h.failing_streak = 0;
}

/// The `ps --filter health=` value of a container.
pub(crate) fn filter_value(rec: &Record) -> &'static str {
    match &rec.state.health {
        Some(h) if probe_of(&rec.config).is_some() => h.status.as_str(),
        _ => "none",
    }
}

pub(crate) fn valid_filter(v: &str) -> bool {
    matches!(v, "starting" | "healthy" | "unhealthy" | "none")
}

impl ContainerManager {
    /// Starts the prober of a running container, if it has a healthcheck.
    pub(crate) fn spawn_health(self: &Arc<Self>, id: &str) {
        let (probe, run) = {
            let idx = self.lock();
            let Some(e) = idx.by_id.get(id) else { return };
            let Some(p) = probe_of(&e.rec.config) else {
                return;
            };
            (p, e.exits)
        };
        let me = self.clone();
        let id = id.to_string();
        tokio::spawn(async move { me.health_loop(&id, probe, run).await });
    }

    /// The current run is still going (`run` is the exit count at the prober's start).
    fn health_current(&self, id: &str, run: u64) -> Option<Record> {
        let idx = self.lock();
        let e = idx.by_id.get(id)?;
        (e.exits == run && e.rec.state.status.is_active()).then(|| e.rec.clone())
    }

    async fn health_loop(self: &Arc<Self>, id: &str, probe: Probe, run: u64) {
        let mut changed = self.changed.subscribe();
        loop {
            let Some(rec) = self.health_current(id, run) else {
                return;
            };
            let since_start = rec
                .state
                .started_at
                .map(|t| (Utc::now() - t).to_std().unwrap_or_default())
                .unwrap_or_default();
            let starting = rec
                .state
                .health
                .as_ref()
                .is_some_and(|h| h.status == HealthStatus::Starting);
            let wait = if since_start < probe.start_period && starting {
                probe.start_interval
            } else {
                probe.interval
            };
            // Sleep the interval, waking early only to notice the run ended.
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => break,
                    r = changed.changed() => {
                        if r.is_err() || self.health_current(id, run).is_none() {
                            return;
                        }
                    }
                }
            }
            let Some(rec) = self.health_current(id, run) else {
                return;
            };
            if rec.state.status == Status::Paused {
                continue;
            }
            let result = self.run_probe(id, &probe).await;
            let in_start_period = rec
                .state
                .started_at
                .map(|t| (result.start - t).to_std().unwrap_or_default() < probe.start_period)
                .unwrap_or(false);
            if self.health_current(id, run).is_none() {
                return;
            }
            let mut status_changed = None;
            let updated = self.update(id, |e| {
                if e.exits != run {
                    return;
                }
                if let Some(h) = e.rec.state.health.as_mut()
                    && h.apply(result, probe.retries, in_start_period)
                {
                    status_changed = Some(h.status);
                }
            });
            if let (Ok(rec), Some(s)) = (updated, status_changed) {
                self.event(&rec, &format!("health_status: {}", s.as_str()), &[]);
            }
        }
    }

    /// Runs the test once as an exec in the container (docker's `cmdProbe`): stdout
    /// and stderr together, at most 4 KiB; past the timeout the process is killed and
    /// the result is -1, as are failures to start it.
    async fn run_probe(self: &Arc<Self>, id: &str, probe: &Probe) -> HealthResult {
        let start = Utc::now();
        let fail = |output: String| HealthResult {
            start,
            end: Utc::now(),
            exit_code: -1,
            output,
        };
        let mut cfg = Map::new();
        cfg.insert("Cmd".into(), json!(probe.cmd));
        cfg.insert("AttachStdout".into(), Value::Bool(true));
        cfg.insert("AttachStderr".into(), Value::Bool(true));
        let eid = match self.exec_create(id, cfg) {
            Ok(e) => e,
            Err(e) => return fail(e.message),
        };
        let result = match self.exec_start(&eid, Some(false)).await {
            Err(e) => fail(e.message),
            Ok(started) => {
                let sd = started.state_dir;
                let read = tokio::time::timeout(probe.timeout, read_output(&sd)).await;
                match read {
                    Err(_) => {
                        let _ = shim::call(
                            &sd,
                            &Request::Kill {
                                signal: libc::SIGKILL,
                                all: false,
                            },
                        )
                        .await;
                        fail(format!(
                            "Health check exceeded timeout ({})",
                            go_duration(probe.timeout)
                        ))
                    }
                    Ok(output) => {
                        self.exec_wait(&eid, Duration::from_secs(10)).await;
                        let code = self
                            .exec_get(&eid)
                            .ok()
                            .and_then(|e| e.exit_code)
                            .unwrap_or(-1);
                        HealthResult {
                            start,
                            end: Utc::now(),
                            exit_code: i64::from(code),
                            output,
                        }
                    }
                }
            }
        };
        // Probe execs are not kept around once their result is recorded.
        let me = self.clone();
        tokio::spawn(async move {
            me.exec_wait(&eid, Duration::from_secs(10)).await;
            me.lock().execs.remove(&eid);
        });
        result
    }
}

/// Reads an exec's multiplexed stream to its end: the payloads of stdout and stderr,
/// truncated to `MAX_OUTPUT` bytes (the rest is read and dropped).
async fn read_output(state_dir: &std::path::Path) -> String {
    let Ok(mut conn) = super::shim_attach(state_dir, false, true, true, false).await else {
        return String::new();
    };
    let mut out = Vec::new();
    let mut header = [0u8; 8];
    loop {
        if conn.read_exact(&mut header).await.is_err() {
            break;
        }
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let mut payload = vec![0u8; len.min(64 * 1024)];
        let mut left = len;
        while left > 0 {
            let n = left.min(payload.len());
            if conn.read_exact(&mut payload[..n]).await.is_err() {
                left = usize::MAX;
                break;
            }
            let room = MAX_OUTPUT.saturating_sub(out.len());
            out.extend_from_slice(&payload[..n.min(room)]);
            left -= n;
        }
        if left == usize::MAX {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A duration as Go prints it (`30s`, `1.5s`, `500ms`, `1m0s`).
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        let s = format!("{secs:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return format!("{s}s");
    }
    let total = d.as_secs();
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i64) -> HealthResult {
        HealthResult {
            start: Utc::now(),
            end: Utc::now(),
            exit_code: code,
            output: String::new(),
        }
    }

    fn starting() -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: Vec::new(),
        }
    }

    #[test]
    fn status_moves_as_dockers() {
        let mut h = starting();
        assert!(!h.apply(result(1), 2, false));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 1));
        assert!(h.apply(result(1), 2, false));
        assert_eq!(h.status, HealthStatus::Unhealthy);
        assert!(h.apply(result(0), 2, false));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        // Failures inside the start period don't count while starting.
        let mut h = starting();
        h.apply(result(1), 1, true);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        // Only the last five results are kept.
        for i in 0..7 {
            h.apply(result(i), 3, false);
        }
        assert_eq!(h.log.len(), 5);
        assert_eq!(h.log[0].exit_code, 2);
        assert_eq!(h.ps_text(), "unhealthy");
    }

    #[test]
    fn probes_from_config() {
        let c: Map<String, Value> = serde_json::from_str(
            r#"{"Healthcheck":{"Test":["CMD-SHELL","true && false"],"Interval":1000000000,"Retries":2}}"#,
        )
        .unwrap();
        let p = probe_of(&c).unwrap();
        assert_eq!(p.cmd, ["/bin/sh", "-c", "true && false"]);
        assert_eq!(p.interval, Duration::from_secs(1));
        assert_eq!(p.timeout, DEFAULT_TIMEOUT);
        assert_eq!(p.retries, 2);
        let c: Map<String, Value> =
            serde_json::from_str(r#"{"Healthcheck":{"Test":["CMD","cat","/x"]}}"#).unwrap();
        assert_eq!(probe_of(&c).unwrap().cmd, ["cat", "/x"]);
        for t in [r#"["NONE"]"#, "[]", r#"["BOGUS","x"]"#, r#"["CMD"]"#] {
            let c: Map<String, Value> =
                serde_json::from_str(&format!(r#"{{"Healthcheck":{{"Test":{t}}}}}"#)).unwrap();
            assert!(probe_of(&c).is_none(), "{t}");
        }
    }

    #[test]
    fn image_healthcheck_merges_field_by_field() {
        let img = berth_image::HealthConfig {
            test: Some(vec!["CMD".into(), "true".into()]),
            interval: Some(5),
            retries: Some(4),
            ..Default::default()
        };
        let mut c = Map::new();
        merge_image(&mut c, Some(&img));
        assert_eq!(c["Healthcheck"]["Test"], json!(["CMD", "true"]));
        let mut c: Map<String, Value> =
            serde_json::from_str(r#"{"Healthcheck":{"Interval":7}}"#).unwrap();
        merge_image(&mut c, Some(&img));
        assert_eq!(c["Healthcheck"]["Interval"], json!(7));
        assert_eq!(c["Healthcheck"]["Retries"], json!(4));
        assert_eq!(c["Healthcheck"]["Test"], json!(["CMD", "true"]));
        let mut c: Map<String, Value> =
            serde_json::from_str(r#"{"Healthcheck":{"Test":["NONE"]}}"#).unwrap();
        merge_image(&mut c, Some(&img));
        assert!(probe_of(&c).is_none());
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
    }
}

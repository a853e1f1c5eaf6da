//! `events` / `system events`: the daemon's event stream, printed line by line.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use super::{Ctx, filters_json, out};
use crate::format::template::Format;
use crate::usage::{Arity, Exit};

#[derive(Debug, Args)]
pub(crate) struct EventsArgs {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_name = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long = "format", value_name = "string", long_help = crate::help::INSPECT_FORMAT_HELP)]
    pub format: Option<String>,
    /// Show all events created since timestamp
    #[arg(long = "since", value_name = "string")]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long = "until", value_name = "string")]
    pub until: Option<String>,
    #[arg(hide = true)]
    pub args: Vec<String>,
}

pub(crate) async fn events(ctx: &Ctx, a: EventsArgs) -> Result<()> {
    ctx.args(Arity::None, a.args.len())?;
    let now = crate::format::units::now_unix();
    let ts = |v: &Option<String>| -> Result<Option<String>, Exit> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => timestamp(s, now).map(Some).map_err(|e| Exit {
                code: 1,
                message: e,
            }),
        }
    };
    let since = ts(&a.since)?;
    let until = ts(&a.until)?;
    let filters = filters_json(ctx, &a.filter)?;
    let fmt = match a.format.as_deref().filter(|f| !f.is_empty()) {
        Some(f) => Some(Format::parse(f).map_err(|e| Exit {
            code: 1,
            message: e.to_string(),
        })?),
        None => None,
    };
    let client = ctx.client().await?;
    let resp = client
        .get("/events")
        .query_opt("since", since)
        .query_opt("until", until)
        .query_opt("filters", filters)
        .send()
        .await?;
    let mut lines = resp.json_lines();
    while let Some(ev) = lines.next::<Value>().await {
        let ev = ev?;
        let line = match &fmt {
            Some(f) => format!(
                "{}\n",
                f.execute_json(&ev).map_err(|e| Exit {
                    code: 1,
                    message: e.to_string()
                })?
            ),
            None => pretty_event(&ev),
        };
        out(&line);
    }
    Ok(())
}

/// docker's default event line: `<time> <type> <action> <id> (k=v, ...)`.
pub(crate) fn pretty_event(ev: &Value) -> String {
    let mut s = String::new();
    let nano = ev.get("timeNano").and_then(Value::as_i64).unwrap_or(0);
    let secs = ev.get("time").and_then(Value::as_i64).unwrap_or(0);
    let t = if nano != 0 {
        Some(nano)
    } else if secs != 0 {
        Some(secs * 1_000_000_000)
    } else {
        None
    };
    if let Some(n) = t {
        s.push_str(&rfc3339_nano_fixed(n));
        s.push(' ');
    }
    let st = |k: &str| ev.get(k).and_then(Value::as_str).unwrap_or("");
    let id = ev
        .pointer("/Actor/ID")
        .and_then(Value::as_str)
        .unwrap_or("");
    s.push_str(&format!("{} {} {}", st("Type"), st("Action"), id));
    if let Some(attrs) = ev
        .pointer("/Actor/Attributes")
        .and_then(Value::as_object)
        .filter(|a| !a.is_empty())
    {
        let mut keys: Vec<&String> = attrs.keys().collect();
        keys.sort();
        let parts: Vec<String> = keys
            .iter()
            .map(|k| format!("{k}={}", attrs[k.as_str()].as_str().unwrap_or("")))
            .collect();
        s.push_str(&format!(" ({})", parts.join(", ")));
    }
    s.push('\n');
    s
}

/// Go's `2006-01-02T15:04:05.000000000Z07:00` in local time.
fn rfc3339_nano_fixed(nanos: i64) -> String {
    use chrono::{Local, TimeZone};
    let t = Local.timestamp_nanos(nanos);
    if t.offset().local_minus_utc() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.9f%:z").to_string()
    }
}

/// docker's `timetypes.GetTimestamp`: unix seconds (kept as given), a Go duration
/// counted back from now (`10m`, `1h30m`), or an RFC 3339 date/time.
pub(crate) fn timestamp(v: &str, now: f64) -> Result<String, String> {
    if v.parse::<f64>().is_ok() && !v.contains(['e', 'E']) {
        return Ok(v.to_string());
    }
    if let Some(d) = parse_go_duration(v) {
        // docker sends whole seconds for durations.
        return Ok(format!("{}", (now - d).floor() as i64));
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
                .map(|t| t.and_utc().timestamp())
        })
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map(|d| {
                d.and_hms_opt(0, 0, 0)
                    .map(|t| t.and_utc().timestamp())
                    .unwrap_or(0)
            })
        });
    match parsed {
        Ok(secs) => Ok(format!("{secs}.000000000")),
        Err(_) => Err(format!(
            "failed to parse value as time or duration: \"{v}\""
        )),
    }
}

/// A Go duration string (`1h2m3.5s`, `300ms`) in seconds.
fn parse_go_duration(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(if neg { -total } else { total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn event_line() {
        let ev = serde_json::json!({
            "Type": "image", "Action": "tag", "Actor": {"ID": "sha256:abc", "Attributes": {"name": "busybox:latest"}},
            "scope": "local", "time": 1_795_809_600, "timeNano": 1_795_809_600_000_000_123i64
        });
        let line = pretty_event(&ev);
        // The time prefix depends on the local zone; the rest does not.
        expect![[r#"image tag sha256:abc (name=busybox:latest)
"#]]
        .assert_eq(line.split_once(' ').unwrap().1);
        assert!(line.starts_with("20") && line.contains(".000000123"));
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp("1700000000", 0.0).unwrap(), "1700000000");
        assert_eq!(timestamp("60s", 1000.5).unwrap(), "940");
        assert_eq!(timestamp("1h30m", 10000.0).unwrap(), "4600");
        assert_eq!(
            timestamp("2026-11-27T20:00:00Z", 0.0).unwrap(),
            "1795809600.000000000"
        );
        assert!(timestamp("yesterday", 0.0).is_err());
    }
}

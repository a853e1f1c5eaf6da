//! docker's timestamp syntax for `since`/`until` (events, image filters): unix seconds
//! with optional fractional nanoseconds, RFC 3339 (with or without zone, date only),
//! or a Go duration (`10m`, `1h30m`) meaning that long before `now`.

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A value that is neither a time nor a duration; message as dockerd's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse value as time or duration: {0:?}")]
pub struct ParseTimestampError(pub String);

/// Parses a docker timestamp relative to `now` (for durations).
pub fn parse_timestamp(
    value: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ParseTimestampError> {
    let err = || ParseTimestampError(value.to_string());
    let v = value.trim();
    if v.is_empty() {
        return Err(err());
    }
    if v != "0"
        && let Some(d) = parse_go_duration(v)
    {
        return now
            .checked_sub_signed(chrono::Duration::nanoseconds(d))
            .ok_or_else(err);
    }
    if let Some(t) = parse_unix(v) {
        return Ok(t);
    }
    // A zone (`Z`, `+hh:mm` or a third `-`) means RFC 3339; otherwise local time, as docker.
    let has_zone = v.contains(['z', 'Z', '+']) || v.matches('-').count() == 3;
    if has_zone {
        return DateTime::parse_from_rfc3339(v)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| err());
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
        .ok_or_else(err)?;
    Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(err)
}

/// `1700000000` or `1700000000.123456789` (a short fraction is scaled, as docker does).
fn parse_unix(v: &str) -> Option<DateTime<Utc>> {
    let (s, frac) = match v.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (v, None),
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    let neg = s.starts_with('-');
    let s_digits = if neg { &s[1..] } else { s };
    if !digits(s_digits) || s_digits.len() > 12 {
        return None;
    }
    let secs: i64 = s.parse().ok()?;
    let nanos: u32 = match frac {
        None => 0,
        Some(f) if digits(f) => {
            let f = &f[..f.len().min(9)];
            let n: u64 = f.parse().ok()?;
            (n * 10u64.pow(9 - f.len() as u32)) as u32
        }
        Some(_) => return None,
    };
    DateTime::from_timestamp(secs, nanos)
}

/// Parses a Go `time.ParseDuration` string into nanoseconds (`None` if it is not one).
pub fn parse_go_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: f64 = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    if total > i64::MAX as f64 {
        return None;
    }
    let t = total as i64;
    Some(if neg { -t } else { t })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn ts(v: &str) -> String {
        match parse_timestamp(v, now()) {
            Ok(t) => format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unix_seconds_and_fractions() {
        assert_eq!(ts("1699999999"), "1699999999.000000000");
        assert_eq!(ts("1699999999.5"), "1699999999.500000000");
        assert_eq!(ts("1699999999.000000001"), "1699999999.000000001");
        assert_eq!(ts("0"), "0.000000000");
    }

    #[test]
    fn durations_are_relative_to_now() {
        assert_eq!(ts("10m"), "1699999400.000000000");
        assert_eq!(ts("1h30m"), "1699994600.000000000");
        assert_eq!(ts("1.5s"), "1699999998.500000000");
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("m"), None);
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(ts("2023-11-14T22:13:20Z"), "1700000000.000000000");
        assert_eq!(ts("2023-11-14T22:13:20.25+00:00"), "1700000000.250000000");
        assert!(parse_timestamp("2023-11-14", now()).is_ok());
        assert!(parse_timestamp("2023-11-14T22:13:20", now()).is_ok());
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in ["", "yesterday", "12abc", "2023-13-45", "1.2.3", "--5"] {
            assert!(parse_timestamp(bad, now()).is_err(), "{bad}");
        }
        assert_eq!(
            ts("yesterday"),
            r#"failed to parse value as time or duration: "yesterday""#
        );
    }
}

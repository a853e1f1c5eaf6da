//! Sizes and durations printed the way docker's go-units prints them.

/// Go's `%.*g` for a non-negative finite float: `precision` significant digits,
/// trailing zeros dropped, exponent form when the exponent is < -4 or >= precision.
pub(crate) fn format_g(v: f64, precision: usize) -> String {
    let p = precision.max(1);
    if v == 0.0 {
        return "0".to_string();
    }
    // Round to p significant digits first; the exponent is the rounded one.
    let sci = format!("{:.*e}", p - 1, v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    let decimals = (p as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{:.*}", decimals, v)).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

fn scale(mut size: f64, base: f64, units: &[&'static str; 9]) -> (f64, &'static str) {
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// go-units `HumanSizeWithPrecision`: decimal units, `precision` significant digits.
pub(crate) fn human_size_prec(size: f64, precision: usize) -> String {
    let (s, u) = scale(size, 1000.0, &DECIMAL);
    format!("{}{u}", format_g(s, precision))
}

/// go-units `HumanSize` (4 significant digits).
pub(crate) fn human_size(size: f64) -> String {
    human_size_prec(size, 4)
}

/// go-units `BytesSize`: binary units, 4 significant digits.
pub(crate) fn bytes_size(size: f64) -> String {
    let (s, u) = scale(size, 1024.0, &BINARY);
    format!("{}{u}", format_g(s, 4))
}

/// go-units `HumanDuration` for a duration in seconds (fractions allowed).
pub(crate) fn human_duration(secs: f64) -> String {
    let seconds = secs as i64;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (secs / 60.0) as i64;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go rounds half away from zero to the nearest hour here.
    let hours = (secs / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", (secs / 3600.0) as i64 / 24 / 365)
}

/// "<duration> ago" from a unix timestamp, as docker's CREATED columns print it.
pub(crate) fn since(created_unix: i64, now_unix: f64) -> String {
    format!("{} ago", human_duration(now_unix - created_unix as f64))
}

/// Seconds since the epoch, now.
pub(crate) fn now_unix() -> f64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn table(rows: &[(String, String)]) -> String {
        rows.iter().map(|(a, b)| format!("{a} => {b}\n")).collect()
    }

    #[test]
    fn sizes() {
        let cases = [
            0.0,
            1.0,
            999.0,
            1000.0,
            1024.0,
            4_261_000.0,
            4_265_000.0,
            999_900.0,
            1_234_567_890.0,
            5.0e12,
            123_456.0,
        ];
        let rows: Vec<_> = cases
            .iter()
            .map(|&s| {
                (
                    format!("{s}"),
                    format!(
                        "{} {} {}",
                        human_size_prec(s, 3),
                        human_size(s),
                        bytes_size(s)
                    ),
                )
            })
            .collect();
        expect![[r#"
            0 => 0B 0B 0B
            1 => 1B 1B 1B
            999 => 999B 999B 999B
            1000 => 1kB 1kB 1000B
            1024 => 1.02kB 1.024kB 1KiB
            4261000 => 4.26MB 4.261MB 4.064MiB
            4265000 => 4.26MB 4.265MB 4.067MiB
            999900 => 1e+03kB 999.9kB 976.5KiB
            1234567890 => 1.23GB 1.235GB 1.15GiB
            5000000000000 => 5TB 5TB 4.547TiB
            123456 => 123kB 123.5kB 120.6KiB
        "#]]
        .assert_eq(&table(&rows));
    }

    #[test]
    fn durations() {
        let (m, h, d) = (60.0, 3600.0, 86400.0);
        let cases = [
            0.45,
            1.0,
            47.0,
            60.0,
            3.0 * m,
            35.0 * m + 40.0,
            h,
            h + 29.0 * m,
            h + 31.0 * m,
            24.0 * h,
            36.0 * h,
            2.0 * d,
            13.0 * d + 5.0 * h,
            14.0 * d,
            30.0 * d,
            44.0 * d,
            60.0 * d,
            720.0 * d,
            734.0 * d,
            3.0 * 365.0 * d + 60.0 * d,
        ];
        let rows: Vec<_> = cases
            .iter()
            .map(|&s| (format!("{s}"), human_duration(s)))
            .collect();
        expect![[r#"
            0.45 => Less than a second
            1 => 1 second
            47 => 47 seconds
            60 => About a minute
            180 => 3 minutes
            2140 => 35 minutes
            3600 => About an hour
            5340 => About an hour
            5460 => 2 hours
            86400 => 24 hours
            129600 => 36 hours
            172800 => 2 days
            1141200 => 13 days
            1209600 => 2 weeks
            2592000 => 4 weeks
            3801600 => 6 weeks
            5184000 => 2 months
            62208000 => 24 months
            63417600 => 2 years
            99792000 => 3 years
        "#]]
        .assert_eq(&table(&rows));
    }
}

//! `--change` lines of `docker import` (and later `commit`): Dockerfile instructions
//! applied to an image's runtime config, with docker's validation and messages.
//!
//! Allowed (moby's `validCommitCommands`): CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK,
//! LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR. Anything else is
//! `<instr> is not a valid change command` (lowercased, as the Dockerfile parser
//! reports instruction names).

use crate::config::{ContainerConfig, HealthConfig};
use crate::error::{Error, Result};
use serde_json::Map;

const VALID: [&str; 11] = [
    "cmd",
    "entrypoint",
    "healthcheck",
    "env",
    "expose",
    "label",
    "onbuild",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

struct Line {
    instr: String,
    rest: String,
}

/// Applies Dockerfile-style `changes` to `config`, with docker's error messages.
pub fn parse_changes(changes: &[String], config: &mut ContainerConfig) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let lines = split_lines(&changes.join("\n"));
    for l in &lines {
        if !VALID.contains(&l.instr.as_str()) {
            return Err(Error::invalid(format!(
                "{} is not a valid change command",
                l.instr
            )));
        }
    }
    let mut cmd_set = false;
    for l in &lines {
        // docker reports these without a line position (checked against dockerd).
        apply(l, config, &mut cmd_set).map_err(Error::invalid)?;
    }
    Ok(())
}

/// Splits into logical lines: comments and blank lines dropped, `\` continuations joined.
fn split_lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for raw in text.lines() {
        let t = raw.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(s) = t.strip_suffix('\\') {
            cur.push_str(s);
            continue;
        }
        cur.push_str(t);
        let (instr, rest) = match cur.split_once(char::is_whitespace) {
            Some((a, b)) => (a.to_string(), b.trim().to_string()),
            None => (cur.clone(), String::new()),
        };
        out.push(Line {
            instr: instr.to_lowercase(),
            rest,
        });
        cur.clear();
    }
    if !cur.is_empty() {
        let (instr, rest) = match cur.split_once(char::is_whitespace) {
            Some((a, b)) => (a.to_string(), b.trim().to_string()),
            None => (cur.clone(), String::new()),
        };
        out.push(Line {
            instr: instr.to_lowercase(),
            rest,
        });
    }
    out
}

fn apply(l: &Line, c: &mut ContainerConfig, cmd_set: &mut bool) -> Result<(), String> {
    let name = l.instr.to_uppercase();
    let rest = l.rest.as_str();
    let env = c.env.clone().unwrap_or_default();
    match l.instr.as_str() {
        "cmd" => {
            c.cmd = Some(command_form(rest, c));
            *cmd_set = true;
        }
        "entrypoint" => {
            // An empty ENTRYPOINT (either form) clears it, as docker does.
            let ep = command_form(rest, c);
            c.entrypoint = if rest.is_empty() || ep.is_empty() {
                None
            } else {
                Some(ep)
            };
            if !*cmd_set {
                c.cmd = None;
            }
        }
        "env" => {
            for (k, v) in key_values(&name, rest, &env, true)? {
                let entry = format!("{k}={v}");
                let list = c.env.get_or_insert_with(Vec::new);
                match list
                    .iter_mut()
                    .find(|e| e.split('=').next() == Some(k.as_str()))
                {
                    Some(e) => *e = entry,
                    None => list.push(entry),
                }
            }
        }
        "label" => {
            for (k, v) in key_values(&name, rest, &env, false)? {
                c.labels.get_or_insert_with(Default::default).insert(k, v);
            }
        }
        "expose" => {
            let words = words(rest, &env)?;
            if words.is_empty() {
                return Err("EXPOSE requires at least one argument".into());
            }
            for w in words {
                for p in expand_port(&w)? {
                    c.exposed_ports
                        .get_or_insert_with(Default::default)
                        .insert(p, Map::new());
                }
            }
        }
        "workdir" => {
            // The rest of the line is one path, spaces included.
            let w = words(rest, &env)?.join(" ");
            if w.is_empty() {
                return Err("WORKDIR requires exactly one argument".into());
            }
            let joined = if w.starts_with('/') {
                w
            } else {
                format!("/{}/{}", c.working_dir, w)
            };
            c.working_dir = berth_stdx::rootpath::clean_absolute(&joined);
        }
        "user" => {
            let w = words(rest, &env)?.join(" ");
            if w.is_empty() {
                return Err("USER requires exactly one argument".into());
            }
            c.user = w;
        }
        "volume" => {
            let vols = match json_array(rest) {
                Some(v) => v,
                None => words(rest, &env)?,
            };
            if vols.is_empty() {
                return Err("VOLUME requires at least one argument".into());
            }
            for v in vols {
                if v.trim().is_empty() {
                    return Err("VOLUME specified can not be an empty string".into());
                }
                c.volumes
                    .get_or_insert_with(Default::default)
                    .insert(v, Map::new());
            }
        }
        "stopsignal" => {
            let w = words(rest, &env)?;
            if w.len() != 1 {
                return Err("STOPSIGNAL requires exactly one argument".into());
            }
            valid_signal(&w[0])?;
            c.stop_signal = Some(w[0].clone());
        }
        "onbuild" => {
            if rest.is_empty() {
                return Err("ONBUILD requires at least one argument".into());
            }
            let trigger = rest.split_whitespace().next().unwrap_or("").to_uppercase();
            match trigger.as_str() {
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
                }
                "FROM" | "MAINTAINER" => {
                    return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"));
                }
                _ => {}
            }
            c.on_build
                .get_or_insert_with(Vec::new)
                .push(rest.to_string());
        }
        "healthcheck" => c.healthcheck = Some(healthcheck(rest, c)?),
        _ => return Err(format!("unknown instruction: {name}")),
    }
    Ok(())
}

/// JSON form `["a","b"]` as is; shell form through the image's shell (`/bin/sh -c`).
fn command_form(rest: &str, c: &ContainerConfig) -> Vec<String> {
    if let Some(v) = json_array(rest) {
        return v;
    }
    let mut v = c
        .shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".to_string(), "-c".to_string()]);
    if !rest.is_empty() {
        v.push(rest.to_string());
    }
    v
}

fn json_array(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(rest).ok()
}

/// `k=v k2="v 2"` pairs, or the legacy `k v with spaces` single pair.
fn key_values(
    name: &str,
    rest: &str,
    env: &[String],
    is_env: bool,
) -> Result<Vec<(String, String)>, String> {
    if rest.is_empty() {
        return Err(format!("{name} requires at least one argument"));
    }
    let first = rest.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        // Legacy form: the first word is the key, the rest of the line the value.
        let (k, v) = match rest.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim()),
            None => return Err(format!("{name} must have two arguments")),
        };
        let v = words(v, env)?.join(" ");
        return Ok(vec![(k.to_string(), v)]);
    }
    let mut out = Vec::new();
    for w in words(rest, env)? {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in \"{w}\". Must be of the form: name=value"
            ));
        };
        if k.is_empty() {
            return Err(format!("{name} names can not be blank"));
        }
        let _ = is_env;
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Shell-like word splitting with quotes, backslash escapes and `$VAR`/`${VAR}`
/// expansion from `env` (not inside single quotes).
fn words(s: &str, env: &[String]) -> Result<Vec<String>, String> {
    let lookup = |k: &str| {
        env.iter()
            .rev()
            .find_map(|e| e.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .unwrap_or("")
            .to_string()
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(
                            "unexpected end of statement while looking for matching single-quote"
                                .into(),
                        ),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(c) = chars.next() {
                                cur.push(c);
                            }
                        }
                        Some('$') => cur.push_str(&expand_var(&mut chars, &lookup)),
                        Some(c) => cur.push(c),
                        None => return Err(
                            "unexpected end of statement while looking for matching double-quote"
                                .into(),
                        ),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            '$' => {
                in_word = true;
                cur.push_str(&expand_var(&mut chars, &lookup));
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn expand_var(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    lookup: &dyn Fn(&str) -> String,
) -> String {
    let mut name = String::new();
    if chars.peek() == Some(&'{') {
        chars.next();
        for c in chars.by_ref() {
            if c == '}' {
                break;
            }
            name.push(c);
        }
        // ${VAR:-default} and friends: take the name part.
        let key = name.split(':').next().unwrap_or("").to_string();
        let v = lookup(&key);
        if v.is_empty()
            && let Some(d) = name.split_once(":-").map(|(_, d)| d)
        {
            return d.to_string();
        }
        return v;
    }
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if name.is_empty() {
        return "$".to_string();
    }
    lookup(&name)
}

/// `80`, `80/udp`, `8000-8002/tcp` -> `["80/tcp"]`...
fn expand_port(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("Invalid proto: {proto}"));
    }
    let parse = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("Invalid containerPort: {ports}"))
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let p = parse(ports)?;
            (p, p)
        }
    };
    if hi < lo {
        return Err(format!("Invalid containerPort: {ports}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

fn valid_signal(s: &str) -> Result<(), String> {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    if let Ok(n) = s.parse::<u32>() {
        if (1..=64).contains(&n) {
            return Ok(());
        }
        return Err(format!("Invalid signal: {s}"));
    }
    let up = s.to_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let rt = name.starts_with("RTMIN") || name.starts_with("RTMAX");
    if NAMES.contains(&name) || rt {
        Ok(())
    } else {
        Err(format!("Invalid signal: {s}"))
    }
}

fn healthcheck(rest: &str, c: &ContainerConfig) -> Result<HealthConfig, String> {
    let mut hc = HealthConfig::default();
    let mut rest = rest.trim();
    while let Some(flag) = rest.strip_prefix("--") {
        let (f, tail) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("missing a value on flag: --{f}"))?;
        let dur = || parse_duration(v).ok_or_else(|| format!("time: invalid duration \"{v}\""));
        match k {
            "interval" => hc.interval = Some(dur()?),
            "timeout" => hc.timeout = Some(dur()?),
            "start-period" => hc.start_period = Some(dur()?),
            "start-interval" => hc.start_interval = Some(dur()?),
            "retries" => {
                let n: i64 = v
                    .parse()
                    .map_err(|_| format!("strconv.ParseInt: parsing \"{v}\": invalid syntax"))?;
                if n < 1 {
                    return Err(format!("--retries must be at least 1 (not {n})"));
                }
                hc.retries = Some(n);
            }
            _ => return Err(format!("Unknown flag: {k}")),
        }
        rest = tail.trim_start();
    }
    let (kind, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    match kind.to_uppercase().as_str() {
        "NONE" => {
            if !args.trim().is_empty() {
                return Err("HEALTHCHECK NONE takes no arguments".into());
            }
            hc.test = Some(vec!["NONE".into()]);
        }
        "CMD" => {
            let args = args.trim();
            if args.is_empty() {
                return Err("Missing command after HEALTHCHECK CMD".into());
            }
            hc.test = Some(match json_array(args) {
                Some(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
                None => vec!["CMD-SHELL".into(), args.to_string()],
            });
        }
        other => return Err(format!("Unknown type {other:?} in HEALTHCHECK (try CMD)")),
    }
    let _ = c;
    Ok(hc)
}

/// Go's `time.ParseDuration` for the units a healthcheck uses; nanoseconds.
fn parse_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[u_end..];
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(changes: &[&str], expect: Expect) {
        let mut c = ContainerConfig::default();
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        let out = match parse_changes(&changes, &mut c) {
            Ok(()) => serde_json::to_string_pretty(&c).unwrap(),
            Err(e) => format!("error: {e}"),
        };
        expect.assert_eq(&out);
    }

    #[test]
    fn all_instructions() {
        check(
            &[
                "ENV A=1 B=\"two words\"",
                "ENV C $A-x",
                "CMD echo $HOME hi",
                "ENTRYPOINT [\"/bin/tini\", \"--\"]",
                "EXPOSE 80 53/udp 8000-8002",
                "WORKDIR /srv",
                "WORKDIR app",
                "USER nobody:nogroup",
                "LABEL a=b \"c d\"=\"e f\"",
                "VOLUME /data /logs",
                "VOLUME [\"/json\"]",
                "STOPSIGNAL SIGQUIT",
                "ONBUILD RUN make",
                "HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/",
            ],
            expect![[r#"
                {
                  "User": "nobody:nogroup",
                  "ExposedPorts": {
                    "53/udp": {},
                    "80/tcp": {},
                    "8000/tcp": {},
                    "8001/tcp": {},
                    "8002/tcp": {}
                  },
                  "Env": [
                    "A=1",
                    "B=two words",
                    "C=1-x"
                  ],
                  "Entrypoint": [
                    "/bin/tini",
                    "--"
                  ],
                  "Cmd": [
                    "/bin/sh",
                    "-c",
                    "echo $HOME hi"
                  ],
                  "Volumes": {
                    "/data": {},
                    "/json": {},
                    "/logs": {}
                  },
                  "WorkingDir": "/srv/app",
                  "Labels": {
                    "a": "b",
                    "c d": "e f"
                  },
                  "StopSignal": "SIGQUIT",
                  "Healthcheck": {
                    "Test": [
                      "CMD-SHELL",
                      "curl -f http://localhost/"
                    ],
                    "Interval": 5000000000,
                    "Retries": 3
                  },
                  "OnBuild": [
                    "RUN make"
                  ]
                }"#]],
        );
    }

    #[test]
    fn entrypoint_after_cmd_keeps_cmd_but_alone_resets_it() {
        let mut c = ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        parse_changes(&["ENTRYPOINT top".into()], &mut c).unwrap();
        assert_eq!(c.cmd, None);
        assert_eq!(c.entrypoint.as_deref().unwrap(), ["/bin/sh", "-c", "top"]);
        // Empty forms, as dockerd answers them: CMD is the bare shell, ENTRYPOINT is cleared.
        parse_changes(&["CMD".into(), "ENTRYPOINT []".into()], &mut c).unwrap();
        assert_eq!(c.cmd.as_deref().unwrap(), ["/bin/sh", "-c"]);
        assert_eq!(c.entrypoint, None);
    }

    #[test]
    fn errors() {
        let cases = [
            &["RUN make"][..],
            &["FOO bar"],
            &["ENV"],
            &["ENV A"],
            &["EXPOSE abc"],
            &["EXPOSE 80/xyz"],
            &["WORKDIR"],
            &["LABEL a"],
            &["HEALTHCHECK --retries=0 CMD y"],
            &["STOPSIGNAL NOPE"],
            &["ONBUILD ONBUILD RUN x"],
            &["HEALTHCHECK --interval=x CMD y"],
        ];
        let mut out = String::new();
        for changes in cases {
            let mut c = ContainerConfig::default();
            let v: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
            out.push_str(&format!(
                "{:?} -> {}\n",
                changes,
                parse_changes(&v, &mut c).unwrap_err()
            ));
        }
        expect![[r#"
            ["RUN make"] -> run is not a valid change command
            ["FOO bar"] -> foo is not a valid change command
            ["ENV"] -> ENV requires at least one argument
            ["ENV A"] -> ENV must have two arguments
            ["EXPOSE abc"] -> Invalid containerPort: abc
            ["EXPOSE 80/xyz"] -> Invalid proto: xyz
            ["WORKDIR"] -> WORKDIR requires exactly one argument
            ["LABEL a"] -> LABEL must have two arguments
            ["HEALTHCHECK --retries=0 CMD y"] -> --retries must be at least 1 (not 0)
            ["STOPSIGNAL NOPE"] -> Invalid signal: NOPE
            ["ONBUILD ONBUILD RUN x"] -> Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed
            ["HEALTHCHECK --interval=x CMD y"] -> time: invalid duration "x"
        "#]]
        .assert_eq(&out);
    }
}

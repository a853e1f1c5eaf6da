//! [`Node`] -> typed [`Instruction`]: flags checked, argument counts checked, JSON
//! (exec) vs shell forms told apart. Values that docker expands are kept raw (quotes
//! and `$` intact) and expanded at dispatch, when the environment is known.

use crate::parser::{Flag, Heredoc, Node, ParseError};
use crate::subst::split_words;

/// Every instruction the builder knows, lower-case as docker lists them in
/// "did you mean" suggestions.
pub const INSTRUCTIONS: &[&str] = &[
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// A command line: exec form (JSON array) or shell form.
#[derive(Debug, Clone, PartialEq)]
pub enum CmdLine {
    Exec(Vec<String>),
    Shell(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct From {
    pub image: String,
    pub name: Option<String>,
    pub platform: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub cmd: CmdLine,
    pub heredocs: Vec<Heredoc>,
    /// `--network=none|host|default`.
    pub network: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Copy {
    /// Raw source words (context paths or, for ADD, URLs).
    pub sources: Vec<String>,
    /// Heredoc sources (`COPY <<EOF /file`).
    pub heredocs: Vec<Heredoc>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// ADD of a git repository keeps its `.git` (`--keep-git-dir=true`).
    pub keep_git_dir: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Health {
    /// `None` for `HEALTHCHECK NONE`.
    pub test: Option<Vec<String>>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
    pub retries: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Instruction {
    From(From),
    Run(Run),
    Cmd(CmdLine),
    Entrypoint(CmdLine),
    Copy(Copy),
    Add(Copy),
    /// Raw `(key, value)` pairs.
    Env(Vec<(String, String)>),
    /// Raw `(name, default)`.
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, String)>),
    Expose(Vec<String>),
    Volume(Vec<String>),
    Workdir(String),
    User(String),
    Healthcheck(Health),
    /// The trigger's text (`RUN echo hi`), checked to be a valid instruction.
    Onbuild(String),
    Shell(Vec<String>),
    Stopsignal(String),
    Maintainer(String),
}

/// One instruction with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub node: Node,
    pub inst: Instruction,
}

/// Types a node, with docker's error messages.
pub fn parse_instruction(node: &Node, escape: char) -> Result<Instruction, ParseError> {
    let err = |m: String| ParseError::at(node, m);
    let kw = node.keyword.as_str();
    let flags = Flags::new(node, allowed_flags(kw))?;
    // Flags only BuildKit implements: the classic builder refuses them, and silently
    // ignoring one (an ADD --checksum, a COPY --exclude) would build something else.
    if let Some(f) = node.flags.iter().find(|f| {
        matches!(
            (kw, f.name.as_str()),
            ("RUN", "mount" | "security") | ("COPY", "parents" | "exclude") | ("ADD", "checksum")
        )
    }) {
        return Err(err(format!(
            "the --{} option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled",
            f.name
        )));
    }
    let args = node.args.as_str();
    let need_args = |min: &str| -> Result<(), ParseError> {
        if args.trim().is_empty() && node.heredocs.is_empty() {
            Err(err(format!("{kw} requires {min}")))
        } else {
            Ok(())
        }
    };
    Ok(match kw {
        "FROM" => {
            need_args("at least one argument")?;
            let words = split_words(args, escape);
            let (image, name) = match words.as_slice() {
                [image] => (image.clone(), None),
                [image, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
                    let name = name.to_ascii_lowercase();
                    if !valid_stage_name(&name) {
                        return Err(err(format!(
                            "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                        )));
                    }
                    (image.clone(), Some(name))
                }
                _ => return Err(err("FROM requires either one or three arguments".into())),
            };
            Instruction::From(From {
                image,
                name,
                platform: flags.value("platform"),
            })
        }
        "RUN" => {
            need_args("at least one argument")?;
            let network = flags.value("network");
            if let Some(n) = &network
                && !matches!(n.as_str(), "none" | "host" | "default")
            {
                return Err(err(format!("unsupported network mode: {n}")));
            }
            Instruction::Run(Run {
                cmd: cmd_line(args),
                heredocs: node.heredocs.clone(),
                network,
            })
        }
        // A bare `CMD`/`ENTRYPOINT` sets an empty command, as docker's does.
        "CMD" if args.trim().is_empty() => Instruction::Cmd(CmdLine::Exec(Vec::new())),
        "ENTRYPOINT" if args.trim().is_empty() => {
            Instruction::Entrypoint(CmdLine::Exec(Vec::new()))
        }
        "CMD" => Instruction::Cmd(cmd_line(args)),
        "ENTRYPOINT" => Instruction::Entrypoint(cmd_line(args)),
        "COPY" | "ADD" => {
            let mut words = match json_array(args) {
                Some(v) => v,
                None => split_words(args, escape),
            };
            // Heredoc markers are sources of their own.
            words.retain(|w| !w.starts_with("<<"));
            if words.is_empty() || (words.len() < 2 && node.heredocs.is_empty()) {
                return Err(err(format!(
                    "{kw} requires at least two arguments, but only one was provided. Destination could not be determined"
                )));
            }
            let dest = words.pop().unwrap_or_default();
            let c = Copy {
                sources: words,
                heredocs: node.heredocs.clone(),
                dest,
                from: flags.value("from"),
                chown: flags.value("chown"),
                chmod: flags.value("chmod"),
                link: flags.has("link"),
                keep_git_dir: flags.has("keep-git-dir"),
            };
            if kw == "ADD" {
                if c.from.is_some() {
                    return Err(err("unknown flag: from".into()));
                }
                Instruction::Add(c)
            } else {
                Instruction::Copy(c)
            }
        }
        "ENV" => {
            need_args("at least one argument")?;
            Instruction::Env(name_values(node, "ENV", escape)?)
        }
        "LABEL" => {
            need_args("at least one argument")?;
            Instruction::Label(name_values(node, "LABEL", escape)?)
        }
        "ARG" => {
            need_args("at least one argument")?;
            let mut out = Vec::new();
            for w in split_words(args, escape) {
                let (k, v) = match w.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (w.clone(), None),
                };
                if k.is_empty() {
                    return Err(err("ARG names can not be blank".into()));
                }
                out.push((k, v));
            }
            Instruction::Arg(out)
        }
        "EXPOSE" => {
            need_args("at least one argument")?;
            Instruction::Expose(split_words(args, escape))
        }
        "VOLUME" => {
            need_args("at least one argument")?;
            let v = json_array(args).unwrap_or_else(|| split_words(args, escape));
            if v.iter().any(|s| s.trim().is_empty()) {
                return Err(err("VOLUME specified can not be an empty string".into()));
            }
            Instruction::Volume(v)
        }
        "WORKDIR" => {
            need_args("exactly one argument")?;
            Instruction::Workdir(args.trim().to_string())
        }
        "USER" => {
            need_args("exactly one argument")?;
            Instruction::User(args.trim().to_string())
        }
        "STOPSIGNAL" => {
            need_args("exactly one argument")?;
            Instruction::Stopsignal(args.trim().to_string())
        }
        "MAINTAINER" => {
            need_args("exactly one argument")?;
            Instruction::Maintainer(args.trim().to_string())
        }
        "SHELL" => {
            need_args("at least one argument")?;
            match json_array(args) {
                Some(v) if v.is_empty() => {
                    return Err(err("SHELL requires at least one argument".into()));
                }
                Some(v) => Instruction::Shell(v),
                _ => {
                    return Err(err("SHELL requires the arguments to be in JSON form".into()));
                }
            }
        }
        "ONBUILD" => {
            need_args("at least one argument")?;
            let trigger = args.trim();
            let first = trigger
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match first.as_str() {
                "ONBUILD" => {
                    return Err(err(
                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()
                    ));
                }
                "FROM" | "MAINTAINER" => {
                    return Err(err(format!("{first} isn't allowed as an ONBUILD trigger")));
                }
                _ => {}
            }
            // The trigger must itself parse.
            let inner = crate::parser::parse(trigger).map_err(|e| err(e.message))?;
            for n in &inner.nodes {
                parse_instruction(n, escape).map_err(|e| err(e.message))?;
            }
            // Docker keeps the trigger as written (`run echo hi` stays lower-case):
            // the line with its leading `ONBUILD` and blanks removed.
            let original = node.original.trim_start();
            let expr = original
                .get(node.keyword_raw.len()..)
                .unwrap_or(trigger)
                .trim_start();
            Instruction::Onbuild(expr.to_string())
        }
        "HEALTHCHECK" => {
            need_args("at least one argument")?;
            let trimmed = args.trim();
            let (ty, rest) = match trimmed.split_once(char::is_whitespace) {
                Some((t, r)) => (t, r.trim()),
                None => (trimmed, ""),
            };
            match ty.to_ascii_uppercase().as_str() {
                "NONE" => {
                    if !rest.is_empty() || !node.flags.is_empty() {
                        return Err(err("HEALTHCHECK NONE takes no arguments".into()));
                    }
                    Instruction::Healthcheck(Health {
                        test: Some(vec!["NONE".into()]),
                        ..Default::default()
                    })
                }
                "CMD" => {
                    if rest.is_empty() {
                        return Err(err("Missing command after HEALTHCHECK CMD".into()));
                    }
                    let test = match cmd_line(rest) {
                        CmdLine::Exec(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
                        CmdLine::Shell(s) => vec!["CMD-SHELL".to_string(), s],
                    };
                    // Docker's parseOptInterval: Go's duration syntax, 0 means
                    // unset, anything else at least 1ms.
                    let dur = |k: &str| -> Result<Option<i64>, ParseError> {
                        match flags.value(k).filter(|v| !v.is_empty()) {
                            None => Ok(None),
                            Some(v) => match parse_duration(&v).map_err(err)? {
                                0 => Ok(None),
                                d if d < 1_000_000 => {
                                    Err(err(format!("Interval {k:?} cannot be less than 1ms")))
                                }
                                d => Ok(Some(d)),
                            },
                        }
                    };
                    let retries = match flags.value("retries") {
                        None => None,
                        Some(v) => {
                            let n: i64 = v
                                .parse()
                                .map_err(|_| err(format!("invalid retries value: {v}")))?;
                            if n < 0 {
                                return Err(err(format!("--retries cannot be negative ({n})")));
                            }
                            Some(n)
                        }
                    };
                    Instruction::Healthcheck(Health {
                        test: Some(test),
                        interval: dur("interval")?,
                        timeout: dur("timeout")?,
                        start_period: dur("start-period")?,
                        start_interval: dur("start-interval")?,
                        retries,
                    })
                }
                other => {
                    return Err(err(format!(
                        "Unknown type {:?} in HEALTHCHECK (try CMD)",
                        other.to_ascii_uppercase()
                    )));
                }
            }
        }
        _ => {
            let mut m = format!("unknown instruction: {}", node.keyword_raw);
            if let Some(s) =
                crate::suggest::closest(&node.keyword_raw.to_ascii_lowercase(), INSTRUCTIONS)
            {
                m.push_str(&format!(" (did you mean {s}?)"));
            }
            return Err(err(m));
        }
    })
}

fn allowed_flags(kw: &str) -> &'static [&'static str] {
    match kw {
        "FROM" => &["platform"],
        "RUN" => &["mount", "network", "security"],
        "COPY" => &["from", "chown", "chmod", "link", "parents", "exclude"],
        "ADD" => &["chown", "chmod", "link", "checksum", "keep-git-dir", "from"],
        "HEALTHCHECK" => &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
        _ => &[],
    }
}

struct Flags<'a> {
    flags: &'a [Flag],
}

impl<'a> Flags<'a> {
    fn new(node: &'a Node, allowed: &[&str]) -> Result<Flags<'a>, ParseError> {
        let mut seen: Vec<&str> = Vec::new();
        for f in &node.flags {
            if !allowed.contains(&f.name.as_str()) {
                return Err(ParseError::at(node, format!("unknown flag: {}", f.name)));
            }
            if seen.contains(&f.name.as_str()) && f.name != "mount" && f.name != "exclude" {
                return Err(ParseError::at(
                    node,
                    format!("duplicate flag specified: {}", f.name),
                ));
            }
            let boolean = matches!(f.name.as_str(), "link" | "parents" | "keep-git-dir");
            if !boolean && f.value.is_none() {
                return Err(ParseError::at(
                    node,
                    format!("missing a value on flag: {}", f.name),
                ));
            }
            seen.push(&f.name);
        }
        Ok(Flags { flags: &node.flags })
    }

    fn value(&self, name: &str) -> Option<String> {
        self.flags
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value.clone())
    }

    fn has(&self, name: &str) -> bool {
        self.flags
            .iter()
            .any(|f| f.name == name && f.value.as_deref() != Some("false"))
    }
}

/// `["a","b"]` -> exec form; anything else is shell form (docker's rule: a line that
/// is not a valid JSON string array is a shell command).
pub(crate) fn cmd_line(args: &str) -> CmdLine {
    match json_array(args) {
        Some(v) => CmdLine::Exec(v),
        None => CmdLine::Shell(args.trim().to_string()),
    }
}

fn json_array(args: &str) -> Option<Vec<String>> {
    let t = args.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

fn valid_stage_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(f) if f.is_ascii_lowercase())
        && c.all(|ch| {
            ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '-' | '_' | '.')
        })
}

/// ENV/LABEL: `key value` (legacy, one pair) or `k=v k2="v 2"`.
fn name_values(node: &Node, kw: &str, escape: char) -> Result<Vec<(String, String)>, ParseError> {
    let words = split_words(&node.args, escape);
    let first = words.first().map(String::as_str).unwrap_or("");
    if !first.contains('=') {
        // Legacy form: the first word is the key, the rest of the line the value.
        let rest = node.args.trim_start()[first.len()..].trim();
        if rest.is_empty() {
            return Err(ParseError::at(
                node,
                format!("{kw} must have two arguments"),
            ));
        }
        return Ok(vec![(first.to_string(), rest.to_string())]);
    }
    let mut out = Vec::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(ParseError::at(
                node,
                format!("Syntax error - can't find = in {w:?}. Must be of the form: name=value"),
            ));
        };
        if k.is_empty() {
            return Err(ParseError::at(node, format!("{kw} names can not be blank")));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Go's `time.ParseDuration` subset docker accepts (`30s`, `1m30s`, `500ms`, `1h`),
/// in nanoseconds.
pub(crate) fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration {s:?}");
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if body == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = body;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_end == 0 {
            return Err(bad());
        }
        let n: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(if neg { -(total as i64) } else { total as i64 })
}

/// Go's `time.Duration.String()`: `0s`, `1.5s`, `1m30s`, `1h0m0s`, `500ms`, `2µs`.
pub(crate) fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let u = ns.unsigned_abs();
    // `v / div` with the fraction's trailing zeros dropped.
    let frac = |v: u64, div: u64| -> String {
        let (int, f) = (v / div, v % div);
        if f == 0 {
            return int.to_string();
        }
        let width = div.ilog10() as usize;
        let digits = format!("{f:0width$}");
        format!("{int}.{}", digits.trim_end_matches('0'))
    };
    let mut out = String::new();
    if ns < 0 {
        out.push('-');
    }
    if u < 1_000 {
        out.push_str(&format!("{u}ns"));
    } else if u < 1_000_000 {
        out.push_str(&(frac(u, 1_000) + "µs"));
    } else if u < 1_000_000_000 {
        out.push_str(&(frac(u, 1_000_000) + "ms"));
    } else {
        let (h, rem) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
        let (m, sec) = (rem / 60_000_000_000, rem % 60_000_000_000);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&(frac(sec, 1_000_000_000) + "s"));
    }
    out
}

/// Go's `%q` of an int: `strconv.QuoteRune` (`'\x03'`, `'\n'`, `'A'`).
fn go_quote_rune(n: i64) -> String {
    let c = u32::try_from(n)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{fffd}');
    let body = match c {
        '\x07' => "\\a".to_string(),
        '\x08' => "\\b".to_string(),
        '\x0c' => "\\f".to_string(),
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        '\x0b' => "\\v".to_string(),
        '\'' => "\\'".to_string(),
        '\\' => "\\\\".to_string(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("\\x{:02x}", c as u32),
        c if c.is_control() && (c as u32) < 0x10000 => format!("\\u{:04x}", c as u32),
        c if c.is_control() => format!("\\U{:08x}", c as u32),
        c => c.to_string(),
    };
    format!("'{body}'")
}

impl Health {
    /// Go's `%q` of docker's `*HealthConfig`, what the classic builder's history line
    /// shows: `&{["CMD-SHELL" "true"] "1s" "0s" "0s" "0s" '\x03'}`.
    pub(crate) fn history_text(&self) -> String {
        let test: Vec<String> = self
            .test
            .iter()
            .flatten()
            .map(|s| serde_json::to_string(s).unwrap_or_default())
            .collect();
        format!(
            "&{{[{}] {:?} {:?} {:?} {:?} {}}}",
            test.join(" "),
            go_duration(self.interval.unwrap_or(0)),
            go_duration(self.timeout.unwrap_or(0)),
            go_duration(self.start_period.unwrap_or(0)),
            go_duration(self.start_interval.unwrap_or(0)),
            go_quote_rune(self.retries.unwrap_or(0))
        )
    }
}

/// Docker's `signal.ParseSignal` check for STOPSIGNAL: a non-zero number, or a
/// Linux signal name with or without `SIG`.
pub(crate) fn check_signal(raw: &str) -> Result<(), String> {
    const NAMES: &[&str] = &[
        "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
        "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
        "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
        "RTMIN", "RTMAX",
    ];
    let bad = || format!("Invalid signal: {raw}");
    if let Ok(n) = raw.parse::<i64>() {
        return if n == 0 { Err(bad()) } else { Ok(()) };
    }
    let up = raw.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let rt = |base: &str, sign: char| -> bool {
        name.strip_prefix(base)
            .and_then(|r| r.strip_prefix(sign))
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (1..=15).contains(&n) && !name.contains("+0"))
    };
    if NAMES.contains(&name) || rt("RTMIN", '+') || rt("RTMAX", '-') {
        Ok(())
    } else {
        Err(bad())
    }
}

//! Usage errors worded and coded as docker's cobra front end words them: wrong
//! argument counts exit 1, bad flags exit 125, unknown commands exit 1.

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::cli::Cli;

/// A message for stderr and the exit code to leave with.
#[derive(Debug)]
pub(crate) struct Exit {
    pub code: i32,
    pub message: String,
}

impl Exit {
    pub(crate) fn new(code: i32, message: impl Into<String>) -> Exit {
        Exit {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Root flags that take a value, to skip while finding the command path.
const ROOT_VALUE_FLAGS: [&str; 6] = ["-H", "--host", "-l", "--log-level", "--config", "-c"];

/// The subcommand names in `args` (without the program name), resolving aliases:
/// `["image", "ls"]` for `berth -H x image list -a`.
pub(crate) fn command_path(args: &[String]) -> Vec<String> {
    let mut cmd = Cli::command();
    let mut path = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if path.is_empty() && ROOT_VALUE_FLAGS.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        let Some(sub) = cmd.find_subcommand(a).cloned() else {
            break;
        };
        path.push(sub.get_name().to_string());
        cmd = sub;
        i += 1;
    }
    path
}

/// `berth image ls` for a path.
pub(crate) fn display_path(path: &[String]) -> String {
    std::iter::once("berth".to_string())
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(crate) fn usage_of(path: &[String]) -> String {
    let mut cmd = Cli::command();
    for p in path {
        match cmd.find_subcommand(p).cloned() {
            Some(c) => cmd = c,
            None => break,
        }
    }
    cmd.get_overridden_usage()
        .map(|u| u.to_string())
        .unwrap_or_else(|| display_path(path))
}

/// How many positional arguments a command takes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arity {
    None,
    Exact(usize),
    Min(usize),
    Max(usize),
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "argument" } else { "arguments" }
}

/// Checks `n` arguments against `arity` for the command at `path`.
pub(crate) fn check_args(path: &[String], arity: Arity, n: usize) -> Result<(), Exit> {
    let p = display_path(path);
    let (what, tail) = match arity {
        Arity::None if n > 0 => ("accepts no arguments".to_string(), "Run"),
        Arity::Exact(k) if n != k => (format!("requires {k} {}", plural(k)), "Run"),
        Arity::Min(k) if n < k => (format!("requires at least {k} {}", plural(k)), "See"),
        // docker 28 prints this one with a stray "S" before "Run"; kept for byte equality.
        Arity::Max(k) if n > k => (format!("requires at most {k} {}", plural(k)), "SRun"),
        _ => return Ok(()),
    };
    Err(Exit {
        code: 1,
        message: format!(
            "berth: '{p}' {what}\n\nUsage:  {}\n\n{tail} '{p} --help' for more information",
            usage_of(path)
        ),
    })
}

/// Turns a clap parse failure into docker's wording, stream and exit code.
/// Help requests are returned as `Exit` with code 0 and the text to print on stdout
/// (`code == 0`), or on stderr for a bare command group.
pub(crate) fn from_clap(err: clap::Error, args: &[String]) -> Exit {
    let path = command_path(args);
    let p = display_path(&path);
    let invalid = match err.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let flag_error = |msg: String| Exit {
        code: 125,
        message: format!(
            "{msg}\n\nUsage:  {}\n\nRun '{p} --help' for more information",
            usage_of(&path)
        ),
    };
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Exit {
            code: 0,
            message: err.to_string(),
        },
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
            Exit {
                code: -1,
                message: err.render().to_string(),
            }
        }
        ErrorKind::InvalidSubcommand => {
            let bad = match err.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            let usage = if path.is_empty() {
                String::new()
            } else {
                format!("Usage:  {p}\n\n")
            };
            Exit {
                code: 1,
                message: format!(
                    "berth: unknown command: {p} {bad}\n\n{usage}Run '{p} --help' for more information"
                ),
            }
        }
        ErrorKind::UnknownArgument => {
            let flag = invalid.split('=').next().unwrap_or("").to_string();
            if let Some(short) = flag.strip_prefix('-').filter(|s| !s.starts_with('-')) {
                let c = short.chars().next().unwrap_or('-');
                flag_error(format!("unknown shorthand flag: '{c}' in {flag}"))
            } else if flag.starts_with("--") {
                flag_error(format!("unknown flag: {flag}"))
            } else {
                let usage = if path.is_empty() {
                    String::new()
                } else {
                    format!("Usage:  {p}\n\n")
                };
                Exit {
                    code: 1,
                    message: format!(
                        "berth: unknown command: {p} {invalid}\n\n{usage}Run '{p} --help' for more information"
                    ),
                }
            }
        }
        ErrorKind::InvalidValue | ErrorKind::NoEquals if value_missing(&err) => {
            // Name the flag as it was typed: the last flag on the command line.
            let typed = args
                .iter()
                .rev()
                .find(|a| a.starts_with('-'))
                .cloned()
                .unwrap_or(invalid.clone());
            let name = flag_name(&typed);
            flag_error(format!("flag needs an argument: {name}"))
        }
        ErrorKind::ValueValidation if std::error::Error::source(&err).is_some() => {
            let msg = std::error::Error::source(&err)
                .map(|e| e.to_string())
                .unwrap_or_default();
            flag_error(msg)
        }
        _ => {
            let text = err.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            flag_error(first)
        }
    }
}

fn value_missing(err: &clap::Error) -> bool {
    matches!(err.get(ContextKind::InvalidValue), Some(ContextValue::String(s)) if s.is_empty())
}

/// `'f' in -f` for a short flag, `--filter` for a long one, from clap's `-f <FILTER>`.
fn flag_name(invalid: &str) -> String {
    let first = invalid.split([' ', '<']).next().unwrap_or(invalid);
    // clap shows "-f, --filter"; docker names the flag as it was typed, so prefer
    // the form from the command line when only one is known.
    match first.trim_end_matches(',') {
        s if s.starts_with("--") => s.to_string(),
        s if s.starts_with('-') => format!("'{}' in {s}", &s[1..]),
        s => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use expect_test::expect;

    fn run(line: &str) -> String {
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        let mut full = vec!["berth".to_string()];
        full.extend(args.iter().cloned());
        match Cli::try_parse_from(&full) {
            Ok(_) => "ok".into(),
            Err(e) => {
                let ex = from_clap(e, &args);
                format!("rc={}\n{}", ex.code, ex.message)
            }
        }
    }

    #[test]
    fn command_paths() {
        let p = |s: &str| {
            command_path(&s.split_whitespace().map(str::to_string).collect::<Vec<_>>()).join(" ")
        };
        assert_eq!(p("-H unix:///x image list -a"), "image ls");
        assert_eq!(p("image remove x"), "image rm");
        assert_eq!(p("system df -v"), "system df");
        assert_eq!(p("images busybox"), "images");
    }

    #[test]
    fn arg_counts() {
        let path = vec!["tag".to_string()];
        expect![[r#"
            berth: 'berth tag' requires 2 arguments

            Usage:  berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]

            Run 'berth tag --help' for more information"#]]
        .assert_eq(&check_args(&path, Arity::Exact(2), 0).unwrap_err().message);
        let path = vec!["image".to_string(), "rm".to_string()];
        expect![[r#"
            berth: 'berth image rm' requires at least 1 argument

            Usage:  berth image rm [OPTIONS] IMAGE [IMAGE...]

            See 'berth image rm --help' for more information"#]]
        .assert_eq(&check_args(&path, Arity::Min(1), 0).unwrap_err().message);
        assert!(check_args(&path, Arity::Min(1), 3).is_ok());
    }

    #[test]
    fn clap_errors() {
        expect![[r#"
            rc=125
            unknown flag: --bogus

            Usage:  berth images [OPTIONS] [REPOSITORY[:TAG]]

            Run 'berth images --help' for more information"#]]
        .assert_eq(&run("images --bogus"));
        expect![[r#"
            rc=125
            unknown shorthand flag: 'x' in -x

            Usage:  berth images [OPTIONS] [REPOSITORY[:TAG]]

            Run 'berth images --help' for more information"#]]
        .assert_eq(&run("images -x"));
        expect![[r#"
            rc=1
            berth: unknown command: berth image bogus

            Usage:  berth image

            Run 'berth image --help' for more information"#]]
        .assert_eq(&run("image bogus"));
        expect![[r#"
            rc=1
            berth: unknown command: berth bogus

            Run 'berth --help' for more information"#]]
        .assert_eq(&run("bogus"));
        expect![[r#"
            rc=125
            flag needs an argument: 'f' in -f

            Usage:  berth image ls [OPTIONS] [REPOSITORY[:TAG]]

            Run 'berth image ls --help' for more information"#]]
        .assert_eq(&run("image ls -f"));
    }
}

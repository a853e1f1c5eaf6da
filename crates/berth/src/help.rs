//! `--help` text laid out as docker's cobra templates lay it out: usage, the short
//! description, aliases, command lists padded to 12 columns, and pflag-style option
//! columns wrapped at 80 characters.

use clap::{Arg, ArgAction, Command};

/// Root commands by docker's categories; others are listed under "Commands".
const COMMON: [&str; 6] = ["run", "exec", "ps", "images", "version", "info"];
const MANAGEMENT: [&str; 3] = ["container", "image", "system"];

/// Other spellings of a command, as docker lists them under "Aliases:".
const ALIASES: [(&str, &str); 64] = [
    ("attach", "berth container attach, berth attach"),
    ("container attach", "berth container attach, berth attach"),
    ("commit", "berth container commit, berth commit"),
    ("container commit", "berth container commit, berth commit"),
    ("cp", "berth container cp, berth cp"),
    ("container cp", "berth container cp, berth cp"),
    ("create", "berth container create, berth create"),
    ("container create", "berth container create, berth create"),
    ("diff", "berth container diff, berth diff"),
    ("container diff", "berth container diff, berth diff"),
    ("exec", "berth container exec, berth exec"),
    ("container exec", "berth container exec, berth exec"),
    ("export", "berth container export, berth export"),
    ("container export", "berth container export, berth export"),
    ("kill", "berth container kill, berth kill"),
    ("container kill", "berth container kill, berth kill"),
    ("logs", "berth container logs, berth logs"),
    ("container logs", "berth container logs, berth logs"),
    ("pause", "berth container pause, berth pause"),
    ("container pause", "berth container pause, berth pause"),
    ("port", "berth container port, berth port"),
    ("container port", "berth container port, berth port"),
    ("rename", "berth container rename, berth rename"),
    ("container rename", "berth container rename, berth rename"),
    ("restart", "berth container restart, berth restart"),
    (
        "container restart",
        "berth container restart, berth restart",
    ),
    ("rm", "berth container rm, berth container remove, berth rm"),
    (
        "container rm",
        "berth container rm, berth container remove, berth rm",
    ),
    ("run", "berth container run, berth run"),
    ("container run", "berth container run, berth run"),
    ("start", "berth container start, berth start"),
    ("container start", "berth container start, berth start"),
    ("stats", "berth container stats, berth stats"),
    ("container stats", "berth container stats, berth stats"),
    ("stop", "berth container stop, berth stop"),
    ("container stop", "berth container stop, berth stop"),
    ("top", "berth container top, berth top"),
    ("container top", "berth container top, berth top"),
    ("unpause", "berth container unpause, berth unpause"),
    (
        "container unpause",
        "berth container unpause, berth unpause",
    ),
    ("update", "berth container update, berth update"),
    ("container update", "berth container update, berth update"),
    ("wait", "berth container wait, berth wait"),
    ("container wait", "berth container wait, berth wait"),
    (
        "ps",
        "berth container ls, berth container list, berth container ps, berth ps",
    ),
    (
        "container ls",
        "berth container ls, berth container list, berth container ps, berth ps",
    ),
    ("info", "berth system info, berth info"),
    ("system info", "berth system info, berth info"),
    ("system events", "berth system events, berth events"),
    ("save", "berth image save, berth save"),
    ("image save", "berth image save, berth save"),
    ("load", "berth image load, berth load"),
    ("image load", "berth image load, berth load"),
    ("import", "berth image import, berth import"),
    ("image import", "berth image import, berth import"),
    ("images", "berth image ls, berth image list, berth images"),
    ("image ls", "berth image ls, berth image list, berth images"),
    ("tag", "berth image tag, berth tag"),
    ("image tag", "berth image tag, berth tag"),
    ("rmi", "berth image rm, berth image remove, berth rmi"),
    ("image rm", "berth image rm, berth image remove, berth rmi"),
    ("history", "berth image history, berth history"),
    ("image history", "berth image history, berth history"),
    ("events", "berth system events, berth events"),
];

/// The help text for the command at `path`.
pub(crate) fn render(root: &Command, path: &[String]) -> String {
    let mut cmd = root.clone();
    for p in path {
        match cmd.find_subcommand(p).cloned() {
            Some(c) => cmd = c,
            None => break,
        }
    }
    let usage = cmd
        .get_overridden_usage()
        .map(|u| u.to_string())
        .unwrap_or_default();
    let usage = if path.is_empty() {
        "berth [OPTIONS] COMMAND".to_string()
    } else {
        usage
    };
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let mut s = format!("Usage:  {usage}\n\n{about}\n\n");
    let key = path.join(" ");
    if let Some((_, a)) = ALIASES.iter().find(|(k, _)| *k == key) {
        s.push_str(&format!("Aliases:\n  {a}\n\n"));
    }
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    if !subs.is_empty() {
        let line = |c: &Command| {
            format!(
                "  {:<11} {}\n",
                c.get_name(),
                c.get_about().map(|a| a.to_string()).unwrap_or_default()
            )
        };
        if path.is_empty() {
            let section = |title: &str, names: &[&str]| {
                let mut t = format!("{title}:\n");
                for n in names {
                    if let Some(c) = subs.iter().find(|c| c.get_name() == *n) {
                        t.push_str(&line(c));
                    }
                }
                t.push('\n');
                t
            };
            s.push_str(&section("Common Commands", &COMMON));
            s.push_str(&section("Management Commands", &MANAGEMENT));
            let mut rest: Vec<&str> = subs
                .iter()
                .map(|c| c.get_name())
                .filter(|n| !COMMON.contains(n) && !MANAGEMENT.contains(n))
                .collect();
            rest.sort_unstable();
            s.push_str(&section("Commands", &rest));
        } else {
            let mut subs = subs.clone();
            subs.sort_by_key(|c| c.get_name().to_string());
            s.push_str("Commands:\n");
            for c in subs {
                s.push_str(&line(c));
            }
            s.push('\n');
        }
    }
    let mut opts: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set() && a.get_id() != "help")
        .collect();
    // pflag lists flags sorted by their long name.
    opts.sort_by_key(|a| a.get_long().unwrap_or(""));
    if !opts.is_empty() {
        s.push_str(if path.is_empty() {
            "Global Options:\n"
        } else {
            "Options:\n"
        });
        s.push_str(&flag_usages(&opts));
    }
    if subs.is_empty() && opts.is_empty() {
        // Nothing follows the aliases: no blank line at the end, as in docker.
        while s.ends_with("\n\n") {
            s.pop();
        }
    }
    if !subs.is_empty() {
        let p = crate::usage::display_path(path);
        let gap = if opts.is_empty() { "" } else { "\n" };
        s.push_str(&format!(
            "{gap}Run '{p} COMMAND --help' for more information on a command.\n"
        ));
    }
    s
}

/// pflag's `FlagUsagesWrapped(80)`: names, a value type, then the description in a
/// column three spaces past the longest name, wrapped at 80 columns.
fn flag_usages(opts: &[&Arg]) -> String {
    let lefts: Vec<String> = opts
        .iter()
        .map(|a| {
            let long = a.get_long().unwrap_or("");
            let mut l = match a.get_short() {
                Some(c) => format!("  -{c}, --{long}"),
                None => format!("      --{long}"),
            };
            let takes_value = matches!(a.get_action(), ArgAction::Set | ArgAction::Append);
            let value = a.get_value_names().and_then(|v| v.first());
            if let Some(v) =
                value.filter(|_| takes_value && a.get_num_args().is_none_or(|n| n.min_values() > 0))
            {
                l.push(' ');
                l.push_str(v);
            }
            l
        })
        .collect();
    let maxlen = lefts.iter().map(|l| l.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (a, l) in opts.iter().zip(lefts) {
        let mut help = a
            .get_long_help()
            .or(a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        if let Some(d) = a
            .get_default_values()
            .first()
            .filter(|_| a.get_long() != Some("help"))
        {
            // pflag quotes the default of a string flag.
            let quoted = a
                .get_value_names()
                .and_then(|v| v.first())
                .is_some_and(|v| v.as_str() == "string");
            if quoted {
                help.push_str(&format!(" (default \"{}\")", d.to_string_lossy()));
            } else {
                help.push_str(&format!(" (default {})", d.to_string_lossy()));
            }
        }
        out.push_str(&format!(
            "{l}{}   {}\n",
            " ".repeat(maxlen - l.len()),
            wrap(maxlen + 3, 79, &help)
        ));
    }
    out
}

/// pflag's `wrap`: the usage is one string (newlines included) cut into pieces of
/// at most `width - indent - 5` bytes, with 5 bytes of slop before a cut is needed;
/// a cut happens at the last newline or, failing that, the last space.
fn wrap(mut indent: usize, width: usize, text: &str) -> String {
    let mut avail = width.saturating_sub(indent);
    let mut r = String::new();
    if avail < 24 {
        indent = 16;
        avail = width.saturating_sub(indent);
        r.push('\n');
        r.push_str(&" ".repeat(indent));
    }
    let pad = format!("\n{}", " ".repeat(indent));
    if avail < 24 {
        return r + &text.replace('\n', &pad);
    }
    let slop = 5;
    let limit = avail - slop;
    let mut rest = text;
    let mut first = true;
    while !rest.is_empty() {
        let (piece, next) = wrap_once(limit, slop, rest);
        if !first {
            r.push_str(&pad);
        }
        r.push_str(&piece.replace('\n', &pad));
        first = false;
        rest = next;
    }
    r
}

fn wrap_once(limit: usize, slop: usize, s: &str) -> (&str, &str) {
    if limit + slop > s.len() {
        return (s, "");
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let head = &s[..end];
    let Some(w) = head.rfind([' ', '\t', '\n']).filter(|w| *w > 0) else {
        return (s, "");
    };
    match head.rfind('\n') {
        Some(nl) if nl > 0 && nl < w => (&s[..nl], &s[nl + 1..]),
        _ => (&s[..w], &s[w + 1..]),
    }
}

/// docker's help text for `--format` on inspect-like commands.
pub(crate) const INSPECT_FORMAT_HELP: &str = "Format output using a custom template:\n\
'json':             Print in JSON format\n\
'TEMPLATE':         Print output using the given Go template.\n\
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

/// docker's help text for `--format` on list commands.
pub(crate) const FORMAT_HELP: &str = "Format output using a custom template:\n\
'table':            Print output in table format with column headers (default)\n\
'table TEMPLATE':   Print output in table format using the given Go template\n\
'json':             Print in JSON format\n\
'TEMPLATE':         Print output using the given Go template.\n\
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use expect_test::expect;

    fn help(path: &str) -> String {
        let p: Vec<String> = path.split_whitespace().map(str::to_string).collect();
        render(&crate::cli::Cli::command(), &p)
    }

    #[test]
    fn leaf_help_looks_like_docker() {
        expect![[r#"
            Usage:  berth image ls [OPTIONS] [REPOSITORY[:TAG]]

            List images

            Aliases:
              berth image ls, berth image list, berth images

            Options:
              -a, --all             Show all images (default hides intermediate images)
                  --digests         Show digests
              -f, --filter filter   Filter output based on conditions provided
                  --format string   Format output using a custom template:
                                    'table':            Print output in table format
                                    with column headers (default)
                                    'table TEMPLATE':   Print output in table format
                                    using the given Go template
                                    'json':             Print in JSON format
                                    'TEMPLATE':         Print output using the given
                                    Go template.
                                    Refer to https://docs.docker.com/go/formatting/
                                    for more information about formatting output with
                                    templates
                  --no-trunc        Don't truncate output
              -q, --quiet           Only show image IDs
        "#]]
        .assert_eq(&help("image ls"));
    }

    #[test]
    fn group_help_lists_commands() {
        expect![[r#"
            Usage:  berth system COMMAND

            Manage berth

            Commands:
              df          Show berth disk usage
              events      Get real time events from the server
              info        Display system-wide information
              prune       Remove unused data

            Run 'berth system COMMAND --help' for more information on a command.
        "#]]
        .assert_eq(&help("system"));
    }
}

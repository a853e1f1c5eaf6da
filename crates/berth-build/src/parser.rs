//! Dockerfile text -> a list of [`Node`]s with positions.
//!
//! This layer only knows the file's shape: parser directives (`# syntax=`, `# escape=`,
//! `# check=`), comments, line continuations with the escape character, the keyword,
//! its `--flags`, and heredoc bodies (`<<EOF`, `<<-EOF`, quoted delimiters, several
//! per line). What an instruction means is decided by `instruction`.

use std::fmt;

/// The parsed file.
#[derive(Debug, Clone, PartialEq)]
pub struct Dockerfile {
    pub directives: Directives,
    pub nodes: Vec<Node>,
}

/// Parser directives found at the top of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Directives {
    pub syntax: Option<String>,
    pub escape: char,
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
            check: None,
        }
    }
}

/// One instruction, its continuation lines joined.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Upper-cased keyword (`RUN`).
    pub keyword: String,
    /// The keyword as written (`run`), for error messages.
    pub keyword_raw: String,
    /// The whole logical line as written (continuations joined), what docker prints
    /// after "Step N/M :".
    pub original: String,
    /// 1-based line and column of the keyword.
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub flags: Vec<Flag>,
    /// What follows the keyword and flags, trimmed.
    pub args: String,
    pub heredocs: Vec<Heredoc>,
}

/// `--name=value` (or `--name` alone) before an instruction's arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// A heredoc body attached to an instruction.
#[derive(Debug, Clone, PartialEq)]
pub struct Heredoc {
    pub name: String,
    /// The body, each line ending with `\n` (tabs already stripped for `<<-`).
    pub content: String,
    /// False when the delimiter was quoted: no variable expansion.
    pub expand: bool,
    pub strip_tabs: bool,
}

/// A parse error, with docker's wording (`dockerfile parse error on line N: ...`).
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The instruction's text, for a caller that quotes it.
    pub source: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dockerfile parse error on line {}: {}",
            self.line, self.message
        )
    }
}

impl std::error::Error for ParseError {}

impl ParseError {
    pub(crate) fn at(node: &Node, message: impl Into<String>) -> ParseError {
        ParseError {
            line: node.line,
            column: node.column,
            message: message.into(),
            source: node.original.clone(),
        }
    }

    /// A quote of the instruction with a caret under the column, for terminals.
    pub fn excerpt(&self) -> String {
        let first = self.source.lines().next().unwrap_or("");
        format!(
            "{:>4} | {first}\n     | {}^",
            self.line,
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

/// Parses a Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let directives = parse_directives(&lines)?;
    let escape = directives.escape;
    let mut nodes = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let column = raw[..raw.len() - trimmed.len()].chars().count() + 1;
        let mut logical = String::new();
        let mut line = trimmed;
        loop {
            let (content, cont) = strip_continuation(line, escape);
            logical.push_str(content);
            i += 1;
            if !cont {
                break;
            }
            // Comment lines and blank lines inside a continuation are dropped.
            while i < lines.len() {
                let t = lines[i].trim_start();
                if t.is_empty() || t.starts_with('#') {
                    i += 1;
                } else {
                    break;
                }
            }
            if i >= lines.len() {
                break;
            }
            line = lines[i];
        }
        let end_line = i;
        let mut node = split_node(&logical, start + 1, column, end_line)?;
        if matches!(node.keyword.as_str(), "RUN" | "COPY" | "ADD") {
            let marks = heredoc_marks(&node.args, escape);
            for m in marks {
                let mut content = String::new();
                let mut found = false;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let cmp = if m.strip_tabs {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if cmp == m.name {
                        found = true;
                        break;
                    }
                    content.push_str(cmp);
                    content.push('\n');
                }
                if !found {
                    return Err(ParseError {
                        line: node.line,
                        column: node.column,
                        message: format!("unterminated heredoc {}", m.name),
                        source: node.original.clone(),
                    });
                }
                node.heredocs.push(Heredoc {
                    name: m.name,
                    content,
                    expand: m.expand,
                    strip_tabs: m.strip_tabs,
                });
            }
            node.end_line = i;
        }
        nodes.push(node);
    }
    Ok(Dockerfile { directives, nodes })
}

fn parse_directives(lines: &[&str]) -> Result<Directives, ParseError> {
    let mut d = Directives::default();
    let mut seen: Vec<String> = Vec::new();
    for (n, l) in lines.iter().enumerate() {
        let Some((k, v)) = directive(l) else { break };
        if seen.contains(&k) {
            return Err(ParseError {
                line: n + 1,
                column: 1,
                message: format!("only one {k} parser directive can be used"),
                source: l.to_string(),
            });
        }
        match k.as_str() {
            "escape" => {
                d.escape = match v.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(ParseError {
                            line: n + 1,
                            column: 1,
                            message: format!("invalid escape token '{v}' does not match ^[\\\\`]$"),
                            source: l.to_string(),
                        });
                    }
                }
            }
            "syntax" => d.syntax = Some(v),
            "check" => d.check = Some(v),
            _ => break,
        }
        seen.push(k);
    }
    Ok(d)
}

/// `# key=value` with a known key.
fn directive(l: &str) -> Option<(String, String)> {
    let rest = l.trim_start().strip_prefix('#')?.trim_start();
    let (k, v) = rest.split_once('=')?;
    let k = k.trim().to_ascii_lowercase();
    if !matches!(k.as_str(), "syntax" | "escape" | "check") {
        return None;
    }
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    Some((k, v.to_string()))
}

/// Removes a trailing escape (and the blanks after it); says whether the line goes on.
fn strip_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(c) => (c, true),
        None => (line, false),
    }
}

fn split_node(
    logical: &str,
    line: usize,
    column: usize,
    end_line: usize,
) -> Result<Node, ParseError> {
    let logical_trim = logical.trim_end();
    let kw_end = logical_trim
        .find(char::is_whitespace)
        .unwrap_or(logical_trim.len());
    let keyword_raw = &logical_trim[..kw_end];
    let mut rest = logical_trim[kw_end..].trim_start();
    let mut flags = Vec::new();
    let mut node = Node {
        keyword: keyword_raw.to_ascii_uppercase(),
        keyword_raw: keyword_raw.to_string(),
        original: logical_trim.to_string(),
        line,
        column,
        end_line,
        flags: Vec::new(),
        args: String::new(),
        heredocs: Vec::new(),
    };
    while let Some(after) = rest.strip_prefix("--") {
        let end = flag_end(after);
        let tok = &after[..end];
        if tok.is_empty() {
            // `--` alone ends the flags.
            rest = after[end..].trim_start();
            break;
        }
        let (name, value) = match tok.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(unquote(v))),
            None => (tok.to_string(), None),
        };
        if name.is_empty() {
            return Err(ParseError::at(&node, format!("invalid flag: --{tok}")));
        }
        flags.push(Flag { name, value });
        rest = after[end..].trim_start();
    }
    node.flags = flags;
    node.args = rest.to_string();
    Ok(node)
}

/// Where a flag token ends: the first blank outside quotes.
fn flag_end(s: &str) -> usize {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => return i,
            None => {}
        }
    }
    s.len()
}

fn unquote(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut quote: Option<char> = None;
    for c in v.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => out.push(c),
            None if c == '"' || c == '\'' => quote = Some(c),
            None => out.push(c),
        }
    }
    out
}

struct Mark {
    name: String,
    expand: bool,
    strip_tabs: bool,
}

/// The heredoc delimiters (`<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`) in an
/// instruction's arguments, outside quotes; none for an exec-form (JSON) line.
fn heredoc_marks(args: &str, escape: char) -> Vec<Mark> {
    if args.trim_start().starts_with('[')
        && serde_json::from_str::<Vec<String>>(args.trim()).is_ok()
    {
        return Vec::new();
    }
    let chars: Vec<char> = args.chars().collect();
    let mut out = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == escape && q == '"' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == escape {
            i += 2;
            continue;
        }
        if c == '"' || c == '\'' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == '<' && chars.get(i + 1) == Some(&'<') && chars.get(i + 2) != Some(&'<') {
            let mut j = i + 2;
            let strip_tabs = chars.get(j) == Some(&'-');
            if strip_tabs {
                j += 1;
            }
            let q = chars.get(j).copied().filter(|c| *c == '"' || *c == '\'');
            if q.is_some() {
                j += 1;
            }
            let start = j;
            while j < chars.len() && is_delim_char(chars[j]) {
                j += 1;
            }
            let name: String = chars[start..j].iter().collect();
            if let Some(q) = q {
                if chars.get(j) != Some(&q) {
                    i = j;
                    continue;
                }
                j += 1;
            }
            if !name.is_empty() {
                out.push(Mark {
                    name,
                    expand: q.is_none(),
                    strip_tabs,
                });
            }
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

fn is_delim_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;

//! Words and variable substitution, the way docker's shell lexer treats the
//! instructions it expands (ENV, ARG, LABEL, COPY, ADD, WORKDIR, EXPOSE, VOLUME, USER,
//! STOPSIGNAL, FROM): quotes are removed, the escape character escapes the next
//! character, `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}`,
//! `${VAR:?msg}`, `${VAR?msg}`, `${VAR#glob}`, `${VAR##glob}`, `${VAR%glob}`,
//! `${VAR%%glob}`, `${VAR/glob/x}` and `${VAR//glob/x}` expand (docker 28's lexer,
//! error messages included). Single quotes expand nothing.

/// Looks a variable up.
pub(crate) type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// How deeply `${A:-${B:-...}}` may nest. Docker (Go, growable stacks) has no limit;
/// a hostile Dockerfile must not overflow ours, and no real one comes close.
const MAX_NESTING: usize = 256;

/// Splits on blanks outside quotes, keeping quotes and escapes for [`expand`].
pub(crate) fn split_words(s: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                } else if c == escape
                    && q == '"'
                    && let Some(n) = chars.next()
                {
                    cur.push(n);
                }
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                cur.push(c);
                if c == '"' || c == '\'' {
                    quote = Some(c);
                } else if c == escape
                    && let Some(n) = chars.next()
                {
                    cur.push(n);
                }
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Quote removal, escapes and `$` expansion of one word.
pub(crate) fn expand(word: &str, escape: char, lookup: Lookup<'_>) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut p = Lexer {
        c: &chars,
        i: 0,
        escape,
        lookup,
        depth: 0,
        raw_escapes: false,
    };
    p.word(None)
}

/// Expands without removing quotes or escapes (a heredoc body).
pub(crate) fn expand_heredoc(
    body: &str,
    escape: char,
    lookup: Lookup<'_>,
) -> Result<String, String> {
    let chars: Vec<char> = body.chars().collect();
    let mut p = Lexer {
        c: &chars,
        i: 0,
        escape,
        lookup,
        depth: 0,
        raw_escapes: false,
    };
    let mut out = String::new();
    while p.i < chars.len() {
        let c = chars[p.i];
        if c == escape && chars.get(p.i + 1) == Some(&'$') {
            out.push('$');
            p.i += 2;
        } else if c == '$' {
            p.i += 1;
            out.push_str(&p.dollar()?);
        } else {
            out.push(c);
            p.i += 1;
        }
    }
    Ok(out)
}

struct Lexer<'a> {
    c: &'a [char],
    i: usize,
    escape: char,
    lookup: Lookup<'a>,
    /// Open `${...}` levels.
    depth: usize,
    /// Keep escape characters (the pattern of `${A#p}`, `${A%p}`, `${A/p/r}`).
    raw_escapes: bool,
}

fn unsupported(chs: &str) -> String {
    format!("unsupported modifier ({chs}) in substitution")
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.i += 1;
        }
        c
    }

    /// Reads until the end or `stop` (unquoted, consumed), returning the processed
    /// text: docker's `processStopOn`.
    fn word(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.i += 1;
                return Ok(out);
            }
            self.i += 1;
            if c == '\'' {
                let start = self.i;
                while self.peek().is_some_and(|c| c != '\'') {
                    self.i += 1;
                }
                if self.next().is_none() {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                out.extend(&self.c[start..self.i - 1]);
            } else if c == '"' {
                self.double_quoted(&mut out)?;
            } else if c == '$' {
                out.push_str(&self.dollar()?);
            } else if c == self.escape {
                if self.raw_escapes {
                    out.push(c);
                }
                // An escape at the very end is dropped.
                if let Some(n) = self.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        match stop {
            Some(s) => Err(format!(
                "unexpected end of statement while looking for matching {s}"
            )),
            None => Ok(out),
        }
    }

    /// After an opening `"`: the escape character escapes only `"`, `$` and itself.
    fn double_quoted(&mut self, out: &mut String) -> Result<(), String> {
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    );
                }
                Some('"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some('$') => {
                    self.i += 1;
                    out.push_str(&self.dollar()?);
                }
                Some(mut ch) => {
                    self.i += 1;
                    if ch == self.escape {
                        if self.raw_escapes {
                            out.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                ch = n;
                                self.i += 1;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(ch);
                }
            }
        }
    }

    /// A nested word (`${A:-word}`), depth-limited.
    fn nested(&mut self, stop: char, raw_escapes: bool) -> Result<String, String> {
        if self.depth >= MAX_NESTING {
            return Err("substitution nested too deeply".into());
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let w = self.word(Some(stop));
        self.raw_escapes = saved;
        self.depth -= 1;
        w.map_err(|e| {
            if self.peek().is_none() && e.starts_with("unexpected end of statement") {
                match stop {
                    '}' => "syntax error: missing '}'".to_string(),
                    _ => format!("syntax error: missing '{stop}' in ${{}}"),
                }
            } else {
                e
            }
        })
    }

    /// After a `$`: docker's `processDollar`.
    fn dollar(&mut self) -> Result<String, String> {
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok((self.lookup)(&name).unwrap_or_default());
        }
        self.i += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        // Go's string(EOF) is U+FFFD, what its message shows for `${A`.
        let show = |c: Option<char>| c.unwrap_or('\u{fffd}');
        let first = self.next();
        let mut chs = show(first).to_string();
        let value = (self.lookup)(&name);
        let mut op = first;
        let mut null_is_unset = false;
        match first {
            Some('}') => return Ok(value.unwrap_or_default()),
            Some('/') => return self.replace(value),
            Some(':') => {
                null_is_unset = true;
                op = self.next();
                chs.push(show(op));
            }
            Some('+' | '-' | '?' | '#' | '%') => {}
            _ => return Err(unsupported(&chs)),
        }
        let raw = matches!(op, Some('#' | '%'));
        if null_is_unset && raw {
            return Err(unsupported(&chs));
        }
        let word = self.nested('}', raw)?;
        let set = |v: &Option<String>| v.is_some() && !(null_is_unset && v.as_deref() == Some(""));
        match op {
            Some('-') => Ok(if set(&value) {
                value.unwrap_or_default()
            } else {
                word
            }),
            Some('+') => Ok(if set(&value) { word } else { String::new() }),
            Some('?') => match value {
                None => Err(format!(
                    "{name}: {}",
                    if word.is_empty() {
                        "is not allowed to be unset"
                    } else {
                        &word
                    }
                )),
                Some(v) if null_is_unset && v.is_empty() => Err(format!(
                    "{name}: {}",
                    if word.is_empty() {
                        "is not allowed to be empty"
                    } else {
                        &word
                    }
                )),
                Some(v) => Ok(v),
            },
            Some(k @ ('#' | '%')) => {
                let (greedy, pat) = match word.strip_prefix(k) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let value = value.unwrap_or_default();
                if k == '#' {
                    glob::trim_prefix(pat, &value, greedy)
                } else {
                    glob::trim_suffix(pat, &value, greedy)
                }
            }
            _ => Err(unsupported(&chs)),
        }
    }

    /// `${A/pattern/replacement}` and `${A//pattern/replacement}` (all matches).
    fn replace(&mut self, value: Option<String>) -> Result<String, String> {
        let all = self.peek() == Some('/');
        if all {
            self.i += 1;
        }
        let pattern = self.nested('/', true)?;
        let replacement = self.nested('}', true)?;
        glob::replace(&pattern, &value.unwrap_or_default(), &replacement, all)
    }

    /// A variable name: a run of digits, one special parameter (`$-`, `$@`, ...), or
    /// letters, digits and `_`.
    fn name(&mut self) -> String {
        let start = self.i;
        match self.peek() {
            Some(c) if c.is_numeric() => {
                while self.peek().is_some_and(char::is_numeric) {
                    self.i += 1;
                }
            }
            Some('@' | '*' | '#' | '?' | '-' | '$' | '!') => self.i += 1,
            _ => {
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.i += 1;
                }
            }
        }
        self.c[start..self.i].iter().collect()
    }
}

#[path = "subst_glob.rs"]
mod glob;

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "A" => Some("a".into()),
            "E" => Some(String::new()),
            "SP" => Some("x y".into()),
            "P" => Some("a/b/c.tgz".into()),
            _ => None,
        }
    }

    #[test]
    fn table() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("$A", Ok("a")),
            ("${A}b", Ok("ab")),
            ("${U:-def}", Ok("def")),
            ("${E:-def}", Ok("def")),
            ("${E-def}", Ok("")),
            ("${A:+alt}", Ok("alt")),
            ("${E:+alt}", Ok("")),
            ("${E+alt}", Ok("alt")),
            ("${U+alt}", Ok("")),
            ("${U:-${A}x}", Ok("ax")),
            ("'$A'", Ok("$A")),
            ("\"$A $SP\"", Ok("a x y")),
            ("\\$A", Ok("$A")),
            ("\"\\$A\"", Ok("$A")),
            ("a\\ b", Ok("a b")),
            ("$", Ok("$")),
            ("$-x", Ok("x")),
            ("$1a", Ok("a")),
            ("$ a", Ok("$ a")),
            ("a\\", Ok("a")),
            ("${U:?must be set}", Err("U: must be set")),
            ("${E:?}", Err("E: is not allowed to be empty")),
            ("${E?}", Ok("")),
            ("${U?}", Err("U: is not allowed to be unset")),
            (
                "${A",
                Err("unsupported modifier (\u{fffd}) in substitution"),
            ),
            ("${A:-x", Err("syntax error: missing '}'")),
            ("${", Err("syntax error: missing '}'")),
            ("${:x}", Err("syntax error: bad substitution")),
            ("${A:#x}", Err("unsupported modifier (:#) in substitution")),
            ("${A:x}", Err("unsupported modifier (:x) in substitution")),
            ("${P#*/}", Ok("b/c.tgz")),
            ("${P##*/}", Ok("c.tgz")),
            ("${P%.*}", Ok("a/b/c")),
            ("${P%%/*}", Ok("a")),
            ("${P/\\//-}", Ok("a-b/c.tgz")),
            ("${P//\\//-}", Ok("a-b-c.tgz")),
            ("${P//[/x}", Ok("a/b/c.tgz")),
            ("${P/b", Err("syntax error: missing '/' in ${}")),
            ("${U#x}", Ok("")),
            (
                "'x",
                Err("unexpected end of statement while looking for matching single-quote"),
            ),
            (
                "\"x",
                Err("unexpected end of statement while looking for matching double-quote"),
            ),
            ("${}", Err("syntax error: bad substitution")),
            ("${A^x}", Err("unsupported modifier (^) in substitution")),
        ];
        for (input, want) in cases {
            let got = expand(input, '\\', &env);
            assert_eq!(
                got.as_deref(),
                want.map_err(|e| e.to_string()).as_deref(),
                "{input}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let n = 100_000;
        let word = "${A:-".repeat(n) + &"}".repeat(n);
        assert_eq!(
            expand(&word, '\\', &env).unwrap_err(),
            "substitution nested too deeply"
        );
        let ok = "${U:-".repeat(20) + "x" + &"}".repeat(20);
        assert_eq!(expand(&ok, '\\', &env).unwrap(), "x");
        assert!(expand_heredoc(&word, '\\', &env).is_err());
    }

    #[test]
    fn backtick_escape() {
        assert_eq!(expand("`$A", '`', &env).unwrap(), "$A");
        assert_eq!(expand("C:\\dir", '`', &env).unwrap(), "C:\\dir");
    }

    #[test]
    fn words() {
        assert_eq!(
            split_words(r#"a "b c" 'd e' f\ g  h"#, '\\'),
            vec!["a", "\"b c\"", "'d e'", "f\\ g", "h"]
        );
        assert!(split_words("   ", '\\').is_empty());
    }

    #[test]
    fn heredoc_body() {
        assert_eq!(
            expand_heredoc("x=$A '$A' \\$A\n", '\\', &env).unwrap(),
            "x=a 'a' $A\n"
        );
    }
}

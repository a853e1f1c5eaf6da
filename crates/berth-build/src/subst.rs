//! Words and variable substitution, the way docker's shell lexer treats the
//! instructions it expands (ENV, ARG, LABEL, COPY, ADD, WORKDIR, EXPOSE, VOLUME, USER,
//! STOPSIGNAL, FROM): quotes are removed, the escape character escapes the next
//! character, `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}`,
//! `${VAR:?msg}` and `${VAR?msg}` expand. Single quotes expand nothing.

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
    /// Open `${...:-word}` levels.
    depth: usize,
}

impl Lexer<'_> {
    /// Reads until the end or `stop` (unquoted), returning the processed text.
    fn word(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        while self.i < self.c.len() {
            let c = self.c[self.i];
            if Some(c) == stop {
                return Ok(out);
            }
            self.i += 1;
            if c == self.escape {
                match self.c.get(self.i) {
                    Some(n) => {
                        out.push(*n);
                        self.i += 1;
                    }
                    None => out.push(c),
                }
            } else if c == '\'' {
                let start = self.i;
                while self.i < self.c.len() && self.c[self.i] != '\'' {
                    self.i += 1;
                }
                if self.i >= self.c.len() {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                out.extend(&self.c[start..self.i]);
                self.i += 1;
            } else if c == '"' {
                loop {
                    let Some(&d) = self.c.get(self.i) else {
                        return Err(
                            "unexpected end of statement while looking for matching double-quote"
                                .into(),
                        );
                    };
                    self.i += 1;
                    if d == '"' {
                        break;
                    }
                    if d == self.escape {
                        match self.c.get(self.i) {
                            Some(&n) if n == '"' || n == '$' || n == self.escape => {
                                out.push(n);
                                self.i += 1;
                            }
                            _ => out.push(d),
                        }
                    } else if d == '$' {
                        out.push_str(&self.dollar()?);
                    } else {
                        out.push(d);
                    }
                }
            } else if c == '$' {
                out.push_str(&self.dollar()?);
            } else {
                out.push(c);
            }
        }
        if stop.is_some() {
            return Err("missing '}'".into());
        }
        Ok(out)
    }

    /// After a `$`.
    fn dollar(&mut self) -> Result<String, String> {
        match self.c.get(self.i) {
            Some('{') => {
                self.i += 1;
                let name = self.name();
                if name.is_empty() {
                    return Err("bad substitution".into());
                }
                let value = (self.lookup)(&name);
                match self.c.get(self.i).copied() {
                    Some('}') => {
                        self.i += 1;
                        Ok(value.unwrap_or_default())
                    }
                    Some(op @ (':' | '-' | '+' | '?')) => {
                        let colon = op == ':';
                        if colon {
                            self.i += 1;
                        }
                        let Some(&kind) = self.c.get(self.i) else {
                            return Err("missing '}'".into());
                        };
                        if !matches!(kind, '-' | '+' | '?') {
                            return Err(format!("unsupported modifier ({kind}) in substitution"));
                        }
                        self.i += 1;
                        if self.depth >= MAX_NESTING {
                            return Err("substitution nested too deeply".into());
                        }
                        self.depth += 1;
                        let word = self.word(Some('}'));
                        self.depth -= 1;
                        let word = word?;
                        self.i += 1;
                        let set = match &value {
                            Some(v) => !colon || !v.is_empty(),
                            None => false,
                        };
                        match kind {
                            '-' => Ok(if set { value.unwrap_or_default() } else { word }),
                            '+' => Ok(if set { word } else { String::new() }),
                            _ => {
                                if set {
                                    Ok(value.unwrap_or_default())
                                } else if word.is_empty() {
                                    Err(format!("{name}: is not allowed to be unset"))
                                } else {
                                    Err(format!("{name}: {word}"))
                                }
                            }
                        }
                    }
                    Some(other) => Err(format!("unsupported modifier ({other}) in substitution")),
                    None => Err("missing '}'".into()),
                }
            }
            Some(c) if c.is_ascii_alphanumeric() || *c == '_' => {
                let name = self.name();
                Ok((self.lookup)(&name).unwrap_or_default())
            }
            _ => Ok("$".into()),
        }
    }

    fn name(&mut self) -> String {
        let start = self.i;
        while self.i < self.c.len()
            && (self.c[self.i].is_ascii_alphanumeric() || self.c[self.i] == '_')
        {
            self.i += 1;
        }
        self.c[start..self.i].iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "A" => Some("a".into()),
            "E" => Some(String::new()),
            "SP" => Some("x y".into()),
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
            ("$-", Ok("$-")),
            ("${U:?must be set}", Err("U: must be set")),
            ("${A", Err("missing '}'")),
            (
                "'x",
                Err("unexpected end of statement while looking for matching single-quote"),
            ),
            (
                "\"x",
                Err("unexpected end of statement while looking for matching double-quote"),
            ),
            ("${}", Err("bad substitution")),
            ("${A/x}", Err("unsupported modifier (/) in substitution")),
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

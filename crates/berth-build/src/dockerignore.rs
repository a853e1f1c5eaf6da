//! `.dockerignore`: docker's pattern rules. A path is excluded when the last pattern
//! matching it (or one of its parent directories) is not a `!` exception. Patterns
//! are cleaned like paths (a leading `/` means the context root, which is where every
//! pattern is anchored anyway); `*`, `?`, `[...]` work within one path component and
//! `**` spans any number of components.

#[derive(Debug, Clone, PartialEq)]
struct Pattern {
    segments: Vec<String>,
    exception: bool,
}

/// A compiled `.dockerignore`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

impl Ignore {
    /// Parses the file's text (comments `#`, blank lines ignored).
    pub fn parse(text: &str) -> Ignore {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let mut l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let exception = l.starts_with('!');
            if exception {
                l = l[1..].trim();
            }
            let cleaned = clean(l);
            if cleaned.is_empty() {
                continue;
            }
            patterns.push(Pattern {
                segments: cleaned.split('/').map(str::to_string).collect(),
                exception,
            });
        }
        Ignore { patterns }
    }

    /// Adds an exception (the CLI always sends the Dockerfile and `.dockerignore`).
    pub fn except(&mut self, path: &str) {
        let cleaned = clean(path);
        self.patterns.push(Pattern {
            segments: cleaned.split('/').map(str::to_string).collect(),
            exception: true,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether some exception could re-include a path under an excluded directory.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// Whether `rel` (slash-separated, relative to the context) is excluded.
    pub fn excluded(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        let mut excluded = false;
        for p in &self.patterns {
            let hit = (1..=parts.len()).any(|n| match_segments(&p.segments, &parts[..n]));
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }
}

/// Lexical clean: no `.`, `..` popped, no leading or doubled `/`.
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

fn match_segments(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((p, prest)) => glob(first, p) && match_segments(rest, prest),
            None => false,
        },
    }
}

/// One component: `*`, `?`, `[a-z]`, `[^a]`, `\x`.
pub(crate) fn glob(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    glob_at(&p, &s)
}

fn glob_at(p: &[char], s: &[char]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') => (0..=s.len()).any(|i| glob_at(&p[1..], &s[i..])),
        Some('?') => !s.is_empty() && glob_at(&p[1..], &s[1..]),
        Some('[') => {
            let Some(c) = s.first() else { return false };
            match class(&p[1..], *c) {
                Some((ok, used)) => ok && glob_at(&p[1 + used..], &s[1..]),
                None => false,
            }
        }
        Some('\\') if p.len() > 1 => s.first() == Some(&p[1]) && glob_at(&p[2..], &s[1..]),
        Some(c) => s.first() == Some(c) && glob_at(&p[1..], &s[1..]),
    }
}

/// Matches `c` against a class body; returns (matched, chars consumed incl. `]`).
fn class(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 0;
    let negate = matches!(p.first(), Some('^') | Some('!'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if p[i] == '\\' && i + 1 < p.len() {
            i += 1;
            p[i]
        } else {
            p[i]
        };
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            let hi = p[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let ig = Ignore::parse(
            "# comment\n\n*.log\n/tmp\n**/node_modules\ndocs/**/*.md\n!docs/keep.md\nsecret?\n[ab].txt\n",
        );
        let cases = [
            ("a.log", true),
            ("sub/a.log", false),
            ("tmp", true),
            ("tmp/x", true),
            ("sub/tmp", false),
            ("node_modules/x", true),
            ("a/b/node_modules", true),
            ("docs/x.md", true),
            ("docs/a/b/x.md", true),
            ("docs/keep.md", false),
            ("secret1", true),
            ("secret12", false),
            ("a.txt", true),
            ("c.txt", false),
            ("src/main.rs", false),
        ];
        for (p, want) in cases {
            assert_eq!(ig.excluded(p), want, "{p}");
        }
    }

    #[test]
    fn exceptions_and_order() {
        let ig = Ignore::parse("*\n!src\nsrc/gen\n");
        assert!(ig.excluded("README"));
        assert!(!ig.excluded("src/a.rs"));
        assert!(ig.excluded("src/gen/x.rs"));
        assert!(ig.has_exceptions());
        let mut ig = Ignore::parse("Dockerfile\n.dockerignore\n");
        ig.except("Dockerfile");
        assert!(!ig.excluded("Dockerfile"));
        assert!(ig.excluded(".dockerignore"));
    }

    #[test]
    fn cleaning() {
        let ig = Ignore::parse("./a/../b\n/c//d/\n");
        assert!(ig.excluded("b"));
        assert!(ig.excluded("c/d/e"));
        assert!(!ig.excluded("a"));
    }
}

//! The shell patterns of `${A#p}`, `${A%p}` and `${A/p/r}`: `*` any run, `?` one
//! character, `\*` `\?` `\\` literals (`\}` and `\/` lose their backslash), everything
//! else literal, as docker's lexer reads them. Matching is a set-of-positions walk,
//! O(pattern × value) per start position, with a work cap so a hostile build cannot
//! spin.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Star,
    Any,
    Lit(char),
}

/// Above this many steps a substitution is refused (real Dockerfiles use a few
/// hundred).
const MAX_WORK: usize = 20_000_000;

fn compile(pattern: &str) -> Result<Vec<Tok>, String> {
    let bad = |e: String| format!("invalid pattern ({pattern}) in substitution: {e}");
    let mut out = Vec::new();
    let mut it = pattern.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::Any),
            '\\' => match it.peek().copied() {
                Some('}' | '/') => {}
                Some(n @ ('*' | '?' | '\\')) => {
                    it.next();
                    out.push(Tok::Lit(n));
                }
                Some(n) => return Err(bad(format!("invalid escape '\\{n}'"))),
                None => return Err(bad("invalid escape '\\'".into())),
            },
            c => out.push(Tok::Lit(c)),
        }
    }
    Ok(out)
}

/// The ends `e` such that `s[start..e]` matches `toks`, ascending.
fn match_ends(
    toks: &[Tok],
    s: &[char],
    start: usize,
    work: &mut usize,
) -> Result<Vec<usize>, String> {
    let mut cur = vec![false; s.len() + 1];
    cur[start] = true;
    for t in toks {
        *work += s.len() + 1;
        if *work > MAX_WORK {
            return Err("substitution pattern too costly".into());
        }
        let mut next = vec![false; s.len() + 1];
        match t {
            Tok::Star => {
                if let Some(first) = cur.iter().position(|b| *b) {
                    next[first..].iter_mut().for_each(|b| *b = true);
                }
            }
            Tok::Any => next[1..].copy_from_slice(&cur[..s.len()]),
            Tok::Lit(c) => {
                for i in 0..s.len() {
                    next[i + 1] = cur[i] && s[i] == *c;
                }
            }
        }
        cur = next;
    }
    Ok((0..=s.len()).filter(|i| cur[*i]).collect())
}

fn pick(ends: &[usize], greedy: bool) -> Option<usize> {
    if greedy {
        ends.last().copied()
    } else {
        ends.first().copied()
    }
}

/// `${A#p}` (shortest) and `${A##p}` (longest): the value without a matching prefix.
pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let toks = compile(pattern)?;
    let s: Vec<char> = value.chars().collect();
    let ends = match_ends(&toks, &s, 0, &mut 0)?;
    Ok(match pick(&ends, greedy) {
        Some(e) => s[e..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${A%p}` (shortest) and `${A%%p}` (longest): the value without a matching suffix.
pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let mut toks = compile(pattern)?;
    toks.reverse();
    let mut s: Vec<char> = value.chars().collect();
    s.reverse();
    let ends = match_ends(&toks, &s, 0, &mut 0)?;
    Ok(match pick(&ends, greedy) {
        Some(e) => s[e..].iter().rev().collect(),
        None => value.to_string(),
    })
}

/// `${A/p/r}` (first match) and `${A//p/r}` (every match): leftmost, longest.
pub(super) fn replace(pattern: &str, value: &str, with: &str, all: bool) -> Result<String, String> {
    let toks = compile(pattern)?;
    let s: Vec<char> = value.chars().collect();
    let mut out = String::new();
    let mut pos = 0;
    let mut last_end: Option<usize> = None;
    let mut work = 0;
    while pos <= s.len() {
        let mut found = None;
        for st in pos..=s.len() {
            if let Some(e) = match_ends(&toks, &s, st, &mut work)?.last().copied() {
                // An empty match right where the previous one ended is skipped.
                if e == st && last_end == Some(st) {
                    continue;
                }
                found = Some((st, e));
                break;
            }
        }
        let Some((st, e)) = found else { break };
        out.extend(&s[pos..st]);
        out.push_str(with);
        last_end = Some(e);
        if e == st {
            if st < s.len() {
                out.push(s[st]);
            }
            pos = st + 1;
        } else {
            pos = e;
        }
        if !all {
            break;
        }
    }
    if pos <= s.len() {
        out.extend(&s[pos..]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_replaces_like_docker() {
        let v = "a/b/c.tar.gz";
        assert_eq!(trim_prefix("*/", v, false).unwrap(), "b/c.tar.gz");
        assert_eq!(trim_prefix("*/", v, true).unwrap(), "c.tar.gz");
        assert_eq!(trim_suffix(".*", v, false).unwrap(), "a/b/c.tar");
        assert_eq!(trim_suffix(".*", v, true).unwrap(), "a/b/c");
        assert_eq!(trim_prefix("x", v, false).unwrap(), v);
        assert_eq!(trim_prefix("a?b", v, false).unwrap(), "/c.tar.gz");
        assert_eq!(trim_prefix("\\*", "*x", false).unwrap(), "x");
        assert_eq!(replace("/", v, "-", false).unwrap(), "a-b/c.tar.gz");
        assert_eq!(replace("/", v, "-", true).unwrap(), "a-b-c.tar.gz");
        assert_eq!(replace("b*c", v, "X", false).unwrap(), "a/X.tar.gz");
        assert_eq!(replace("", "ab", "-", true).unwrap(), "-a-b-");
        assert_eq!(replace("z", "ab", "-", true).unwrap(), "ab");
        assert_eq!(
            trim_prefix("\\q", v, false).unwrap_err(),
            "invalid pattern (\\q) in substitution: invalid escape '\\q'"
        );
    }

    #[test]
    fn costly_patterns_are_refused() {
        let v = "a".repeat(5000);
        let p = "*a".repeat(100) + "b";
        assert!(replace(&p, &v, "", true).is_err());
    }
}

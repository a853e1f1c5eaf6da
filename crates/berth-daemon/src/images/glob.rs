//! Go's `path.Match`, which docker uses for `reference=` filters (`busy*`,
//! `busybox:1.*`): `*` and `?` never match `/`.

/// A pattern that is not well formed (`[` unclosed, trailing `\`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern;

impl std::fmt::Display for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("syntax error in pattern")
    }
}

pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    validate(&p)?;
    Ok(match_from(&p, &n))
}

fn validate(p: &[char]) -> Result<(), BadPattern> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(BadPattern);
                }
                i += 2;
            }
            '[' => {
                let (_, next) = class_end(p, i + 1).ok_or(BadPattern)?;
                i = next;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Finds the end of a character class starting after `[`; returns the items and the
/// index after `]`.
fn class_end(p: &[char], mut i: usize) -> Option<(Vec<(char, char)>, usize)> {
    let mut items = Vec::new();
    if i < p.len() && p[i] == '^' {
        i += 1;
    }
    let mut first = true;
    loop {
        if i >= p.len() {
            return None;
        }
        if p[i] == ']' && !first {
            return Some((items, i + 1));
        }
        first = false;
        let lo = read_class_char(p, &mut i)?;
        let mut hi = lo;
        if i < p.len() && p[i] == '-' && i + 1 < p.len() && p[i + 1] != ']' {
            i += 1;
            hi = read_class_char(p, &mut i)?;
            if hi < lo {
                return None;
            }
        }
        items.push((lo, hi));
    }
}

fn read_class_char(p: &[char], i: &mut usize) -> Option<char> {
    let c = *p.get(*i)?;
    if c == '\\' {
        let e = *p.get(*i + 1)?;
        *i += 2;
        return Some(e);
    }
    if c == '-' {
        return None;
    }
    *i += 1;
    Some(c)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    if p.is_empty() {
        return n.is_empty();
    }
    match p[0] {
        '*' => {
            // `*` spans any run of non-separator characters.
            let mut k = 0;
            loop {
                if match_from(&p[1..], &n[k..]) {
                    return true;
                }
                if k >= n.len() || n[k] == '/' {
                    return false;
                }
                k += 1;
            }
        }
        '?' => !n.is_empty() && n[0] != '/' && match_from(&p[1..], &n[1..]),
        '[' => {
            let negated = p.get(1) == Some(&'^');
            let Some((items, next)) = class_end(p, 1) else {
                return false;
            };
            if n.is_empty() || n[0] == '/' {
                return false;
            }
            let hit = items.iter().any(|(lo, hi)| *lo <= n[0] && n[0] <= *hi);
            hit != negated && match_from(&p[next..], &n[1..])
        }
        '\\' => p.len() > 1 && !n.is_empty() && n[0] == p[1] && match_from(&p[2..], &n[1..]),
        c => !n.is_empty() && n[0] == c && match_from(&p[1..], &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_reference_patterns() {
        let m = |p: &str, n: &str| path_match(p, n).unwrap();
        assert!(m("busy*", "busybox"));
        assert!(m("busybox:1.*", "busybox:1.36"));
        assert!(!m("busybox:1.*", "busybox:latest"));
        assert!(!m("*", "library/busybox"));
        assert!(m("*/*", "mytest/imported"));
        assert!(m("b?sybox", "busybox"));
        assert!(m("[a-c]usybox", "busybox"));
        assert!(!m("[^a-c]usybox", "busybox"));
        assert!(m("a\\*b", "a*b"));
        assert!(m("", ""));
    }

    #[test]
    fn bad_patterns() {
        assert!(path_match("[", "x").is_err());
        assert!(path_match("ab\\", "ab").is_err());
        assert!(path_match("[z-a]", "x").is_err());
    }
}

//! Output formatting shared by every command: docker's tabwriter, `--format`
//! templates, and go-units sizes and durations.

pub(crate) mod inspect;
pub(crate) mod tabwriter;
pub(crate) mod template;
pub(crate) mod units;

/// docker's `stringid.TruncateID`: drop the algorithm prefix, keep 12 characters.
pub(crate) fn truncate_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, h)| h);
    id.chars().take(12).collect()
}

/// docker's `formatter.Ellipsis`: cut to `max` characters, the last one an ellipsis.
pub(crate) fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ellipsis() {
        assert_eq!(truncate_id("sha256:0123456789abcdef0123"), "0123456789ab");
        assert_eq!(truncate_id("<missing>"), "<missing>");
        assert_eq!(ellipsis("abcdef", 4), "abc…");
        assert_eq!(ellipsis("abc", 4), "abc");
    }
}

/// Go's `json.Indent(dst, src, "", indent)`: re-indents JSON text without touching
/// its tokens (string escapes and number spellings stay as the daemon sent them);
/// empty objects and arrays stay `{}` and `[]`.
pub(crate) fn json_indent(src: &[u8], indent: &str) -> String {
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut need_indent = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(indent.as_bytes());
        }
    };
    for &c in src {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        if need_indent && c != b']' && c != b'}' {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            b'"' => {
                in_str = true;
                out.push(c);
            }
            b'{' | b'[' => {
                out.push(c);
                need_indent = true;
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b'}' | b']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod indent_tests {
    use super::json_indent;
    use expect_test::expect;

    #[test]
    fn indents_like_go() {
        expect![[r#"
            [
                {
                    "Id": "sha256:a\"b",
                    "RepoTags": [],
                    "Config": {
                        "Env": [
                            "A=1"
                        ],
                        "Labels": {},
                        "N": 1.5e3,
                        "S": "\u003cx\u003e"
                    }
                }
            ]"#]]
        .assert_eq(&json_indent(
            br#"[{"Id":"sha256:a\"b","RepoTags":[ ],"Config":{"Env":["A=1"],"Labels":{},"N":1.5e3,"S":"\u003cx\u003e"}}]"#,
            "    ",
        ));
        assert_eq!(json_indent(b"[]", "    "), "[]");
    }
}

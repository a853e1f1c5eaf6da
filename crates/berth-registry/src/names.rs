//! Repository names, tags and upload ids from request paths.
//!
//! Security: a repository name becomes a directory path under `repositories/`, so
//! only names matching the distribution grammar are accepted. The grammar has no
//! `.`-only component, no empty component, no leading `_`, `/` or `%`, so `..`,
//! `a/../b`, `..%2f`, absolute paths and our own `_manifests`/`_layers` directories
//! can never be named. The raw (undecoded) path is checked, so percent-encoding
//! cannot smuggle a separator past it either.

/// The longest repository name accepted (as the reference registry does).
const MAX_NAME: usize = 255;

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator run: ".", "_", "__" or "-+", then an alphanumeric
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Whether `name` is a valid repository name.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME && name.split('/').all(valid_component)
}

/// Tags: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub(crate) fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
}

/// Upload session ids are ours: 32 lowercase hex characters.
pub(crate) fn valid_upload_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "a",
            "library/busybox",
            "a.b_c__d---e/f0",
            "my-org/sub/repo9",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        // Hostile names: traversal (raw or percent-encoded), absolute, empty
        // components, our metadata dirs, upper case, overlong.
        for bad in [
            "",
            "..",
            "a/../b",
            "a/./b",
            "..%2fetc",
            "a%2f..%2fb",
            "/abs",
            "a//b",
            "a/",
            "a/_layers",
            "_manifests",
            "A",
            "a___b",
            "a-",
            "-a",
            "a.",
            "a..b",
            "a b",
            &"a".repeat(256),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags_and_ids() {
        assert!(valid_tag("latest"));
        assert!(valid_tag("_v1.2-rc.3"));
        assert!(!valid_tag(".."));
        assert!(!valid_tag(".hidden"));
        assert!(!valid_tag("a/b"));
        assert!(!valid_tag(&"a".repeat(129)));
        assert!(valid_upload_id(&"0a".repeat(16)));
        assert!(!valid_upload_id("../../etc/passwd"));
        assert!(!valid_upload_id(&"0A".repeat(16)));
    }
}

//! Just enough of docker's reference grammar for the client side: familiar names
//! (`docker.io/library/busybox` → `busybox`) and splitting off tags and digests.

/// `docker.io/library/x` → `x`, `docker.io/u/x` → `u/x`; others unchanged.
pub(crate) fn familiar_name(name: &str) -> String {
    let rest = name
        .strip_prefix("docker.io/")
        .or_else(|| name.strip_prefix("index.docker.io/"));
    match rest {
        Some(r) => match r.strip_prefix("library/") {
            Some(short) if !short.contains('/') => short.to_string(),
            _ => r.to_string(),
        },
        None => name.to_string(),
    }
}

/// Splits `name[:tag][@digest]` into its parts; a `:` before the last `/` is a port.
pub(crate) fn split(reference: &str) -> (String, Option<String>, Option<String>) {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d.to_string())),
        None => (reference, None),
    };
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(i) => (
            rest[..slash + i].to_string(),
            Some(rest[slash + i + 1..].to_string()),
            digest,
        ),
        None => (rest.to_string(), None, digest),
    }
}

/// Normalises a reference the way the docker client does before tagging: the
/// full repository name (`docker.io/library/busybox`) and the tag (default
/// `latest`). Errors are worded like docker's `invalid reference format`.
pub(crate) fn normalize(reference: &str) -> Result<(String, String), String> {
    let (name, tag, digest) = split(reference);
    if digest.is_some() {
        return Err("refusing to create a tag with a digest reference".into());
    }
    if name.is_empty() || reference.contains(char::is_whitespace) {
        return Err("invalid reference format".into());
    }
    let first = name.split('/').next().unwrap_or("");
    let has_domain =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_domain {
        name.clone()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    let path = if has_domain {
        &name[first.len() + 1..]
    } else {
        full.trim_start_matches("docker.io/")
    };
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "invalid reference format: repository name ({path}) must be lowercase"
        ));
    }
    let valid_path = path.split('/').all(|c| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
    });
    let tag = tag.unwrap_or_else(|| "latest".into());
    let valid_tag = !tag.is_empty()
        && tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid_path || !valid_tag {
        return Err("invalid reference format".into());
    }
    Ok((full, tag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_and_split() {
        assert_eq!(familiar_name("docker.io/library/busybox"), "busybox");
        assert_eq!(familiar_name("docker.io/u/x"), "u/x");
        assert_eq!(familiar_name("localhost:5000/x"), "localhost:5000/x");
        assert_eq!(
            split("localhost:5000/a:v1"),
            ("localhost:5000/a".into(), Some("v1".into()), None)
        );
        assert_eq!(
            split("a@sha256:ab"),
            ("a".into(), None, Some("sha256:ab".into()))
        );
    }

    #[test]
    fn normalizes() {
        assert_eq!(
            normalize("busybox").unwrap(),
            ("docker.io/library/busybox".into(), "latest".into())
        );
        assert_eq!(
            normalize("my/img:v1").unwrap(),
            ("docker.io/my/img".into(), "v1".into())
        );
        assert_eq!(
            normalize("reg:5000/a/b:x").unwrap(),
            ("reg:5000/a/b".into(), "x".into())
        );
        assert_eq!(
            normalize("Foo").unwrap_err(),
            "invalid reference format: repository name (library/Foo) must be lowercase"
        );
        assert_eq!(normalize("a:b:c").unwrap_err(), "invalid reference format");
        assert_eq!(
            normalize("a@sha256:00").unwrap_err(),
            "refusing to create a tag with a digest reference"
        );
    }
}

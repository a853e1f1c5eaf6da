//! Docker image references and their normalisation (`busybox` ->
//! `docker.io/library/busybox:latest`), following the grammar of
//! `github.com/distribution/reference`:
//!
//! ```text
//! reference   := name [ ":" tag ] [ "@" digest ]
//! name        := [domain "/"] path-component ["/" path-component]*
//! domain      := host [":" port]     (the first component, if it has "." or ":",
//!                                     is "localhost", or has an uppercase letter)
//! path-comp.  := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
//! tag         := [\w][\w.-]{0,127}
//! ```
//!
//! Error messages are docker's, since users and scripts match on them.

use berth_stdx::Digest;
use std::fmt;
use std::str::FromStr;

pub(crate) const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A normalised image reference: repository (`domain/path`), optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// `docker.io/library/busybox`
    name: String,
    /// Length of the domain prefix of `name`.
    domain_len: usize,
    tag: Option<String>,
    digest: Option<Digest>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseReferenceError {
    #[error("invalid reference format")]
    InvalidFormat,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    NotLowercase(String),
    #[error("repository name must have at least one component")]
    NameEmpty,
    #[error("repository name must not be more than 255 characters")]
    NameTooLong,
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("invalid checksum digest format")]
    DigestFormat,
    #[error("unsupported digest algorithm")]
    DigestAlgorithm,
    #[error("invalid checksum digest length")]
    DigestLength,
}

type PResult<T> = Result<T, ParseReferenceError>;

impl Reference {
    /// Parses and normalises `s`, adding the `latest` tag when neither a tag nor a
    /// digest is given (docker's `ParseNormalizedNamed` + `TagNameOnly`).
    pub fn parse(s: &str) -> PResult<Reference> {
        let mut r = Self::parse_no_default_tag(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".to_string());
        }
        Ok(r)
    }

    /// Parses and normalises `s` without adding a default tag (for `images REPO`).
    pub fn parse_no_default_tag(s: &str) -> PResult<Reference> {
        if is_full_hex_id(s) {
            return Err(ParseReferenceError::HexName(s.to_string()));
        }
        let (domain, remainder) = split_docker_domain(s);
        // The lowercase rule applies to the repository path only (a tag may have
        // capitals); `remainder` may still carry ":tag@digest".
        let name_part = match remainder.find([':', '@']) {
            Some(i) => &remainder[..i],
            None => &remainder[..],
        };
        if name_part.to_lowercase() != name_part {
            return Err(ParseReferenceError::NotLowercase(name_part.to_string()));
        }
        parse_full(&domain, &remainder)
    }

    /// The same repository with `tag` (and no digest).
    pub fn with_tag(&self, tag: &str) -> PResult<Reference> {
        if !valid_tag(tag) {
            return Err(ParseReferenceError::InvalidFormat);
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository with only `digest` (for repo digests).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The bare repository, without tag or digest.
    pub fn name_only(&self) -> Reference {
        Reference {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    /// `docker.io/library/busybox`
    pub fn repository(&self) -> &str {
        &self.name
    }

    /// `docker.io`
    pub fn domain(&self) -> &str {
        &self.name[..self.domain_len]
    }

    /// `library/busybox`
    pub fn path(&self) -> &str {
        &self.name[self.domain_len + 1..]
    }

    /// `busybox` (docker's FamiliarName).
    pub fn familiar_name(&self) -> String {
        if self.domain() == DEFAULT_DOMAIN {
            let path = self.path();
            if let Some(rest) = path.strip_prefix(OFFICIAL_REPO_PREFIX)
                && !rest.contains('/')
            {
                return rest.to_string();
            }
            return path.to_string();
        }
        self.name.clone()
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `busybox:latest`, as docker shows it in RepoTags (FamiliarString).
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        self.push_suffix(&mut s);
        s
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name.clone();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = ParseReferenceError;
    fn from_str(s: &str) -> PResult<Reference> {
        Reference::parse(s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Reference::parse_no_default_tag(&s).map_err(serde::de::Error::custom)
    }
}

/// `^[a-f0-9]{64}$`
pub(crate) fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// docker's splitDockerDomain: the first component is a domain when it contains `.`
/// or `:`, is `localhost`, or is not all lowercase.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.find('/') {
        Some(i) => {
            let first = &name[..i];
            if !first.contains(['.', ':']) && first != "localhost" && first.to_lowercase() == first
            {
                (DEFAULT_DOMAIN.to_string(), name.to_string())
            } else {
                (first.to_string(), name[i + 1..].to_string())
            }
        }
        None => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// Parses `domain` + `/` + `remainder` (path[:tag][@digest]) against the grammar.
fn parse_full(domain: &str, remainder: &str) -> PResult<Reference> {
    let whole = format!("{domain}/{remainder}");
    let (name_tag, digest) = match remainder.split_once('@') {
        Some((a, d)) => (a, Some(d)),
        None => (remainder, None),
    };
    let (path, tag) = match name_tag.rfind(':') {
        Some(i) if !name_tag[i..].contains('/') => (&name_tag[..i], Some(&name_tag[i + 1..])),
        _ => (name_tag, None),
    };
    let grammar_ok = valid_domain(domain)
        && valid_path(path)
        && tag.is_none_or(valid_tag)
        && digest.is_none_or(digest_shape_ok);
    if !grammar_ok {
        if whole.is_empty() {
            return Err(ParseReferenceError::NameEmpty);
        }
        return Err(ParseReferenceError::InvalidFormat);
    }
    let name = format!("{domain}/{path}");
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ParseReferenceError::NameTooLong);
    }
    let digest = match digest {
        Some(d) => Some(parse_digest(d)?),
        None => None,
    };
    Ok(Reference {
        name,
        domain_len: domain.len(),
        tag: tag.map(str::to_string),
        digest,
    })
}

/// `host[:port]`, host being dot-separated `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`
/// components or a bracketed IPv6 address.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return false;
        };
        let ip = &rest[..end];
        if ip.is_empty() || !ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(p) => return !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
            None => return after.is_empty(),
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
        })
}

fn valid_path(p: &str) -> bool {
    !p.is_empty() && p.split('/').all(valid_path_component)
}

/// `[a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
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

/// `[\w][\w.-]{0,127}`
pub(crate) fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// The grammar's digest shape: `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`.
fn digest_shape_ok(d: &str) -> bool {
    let Some((algo, hex)) = d.split_once(':') else {
        return false;
    };
    let algo_ok = algo.split(['-', '_', '+', '.']).all(|c| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|x| x.is_ascii_alphanumeric())
    });
    algo_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_digest(d: &str) -> PResult<Digest> {
    let (algo, hex) = d.split_once(':').ok_or(ParseReferenceError::DigestFormat)?;
    let want = match algo {
        "sha256" => 64,
        "sha384" => return Err(ParseReferenceError::DigestAlgorithm),
        "sha512" => 128,
        _ => return Err(ParseReferenceError::DigestAlgorithm),
    };
    if hex.len() != want {
        return Err(ParseReferenceError::DigestLength);
    }
    d.parse().map_err(|_| ParseReferenceError::DigestFormat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check(inputs: &[&str], expect: Expect) {
        let mut out = String::new();
        for s in inputs {
            let line = match Reference::parse(s) {
                Ok(r) => format!("{s:?} -> {r} | {} | {}\n", r.familiar(), r.familiar_name()),
                Err(e) => format!("{s:?} -> error: {e}\n"),
            };
            out.push_str(&line);
        }
        expect.assert_eq(&out);
    }

    #[test]
    fn normalisation() {
        check(
            &[
                "busybox",
                "busybox:1.36",
                "library/busybox",
                "docker.io/busybox",
                "index.docker.io/library/busybox:x",
                "user/app",
                "docker.io/library/a/b",
                "localhost/foo",
                "localhost:5000/a/b:v1",
                "quay.io/coreos/etcd:v3.5.0",
                "example.com:8080/x_y/z-w__v.u:Tag_1.2-3",
                "[::1]:5000/foo",
                "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "busybox:1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "Foo/bar",
            ],
            expect![[r#"
                "busybox" -> docker.io/library/busybox:latest | busybox:latest | busybox
                "busybox:1.36" -> docker.io/library/busybox:1.36 | busybox:1.36 | busybox
                "library/busybox" -> docker.io/library/busybox:latest | busybox:latest | busybox
                "docker.io/busybox" -> docker.io/library/busybox:latest | busybox:latest | busybox
                "index.docker.io/library/busybox:x" -> docker.io/library/busybox:x | busybox:x | busybox
                "user/app" -> docker.io/user/app:latest | user/app:latest | user/app
                "docker.io/library/a/b" -> docker.io/library/a/b:latest | library/a/b:latest | library/a/b
                "localhost/foo" -> localhost/foo:latest | localhost/foo:latest | localhost/foo
                "localhost:5000/a/b:v1" -> localhost:5000/a/b:v1 | localhost:5000/a/b:v1 | localhost:5000/a/b
                "quay.io/coreos/etcd:v3.5.0" -> quay.io/coreos/etcd:v3.5.0 | quay.io/coreos/etcd:v3.5.0 | quay.io/coreos/etcd
                "example.com:8080/x_y/z-w__v.u:Tag_1.2-3" -> example.com:8080/x_y/z-w__v.u:Tag_1.2-3 | example.com:8080/x_y/z-w__v.u:Tag_1.2-3 | example.com:8080/x_y/z-w__v.u
                "[::1]:5000/foo" -> [::1]:5000/foo:latest | [::1]:5000/foo:latest | [::1]:5000/foo
                "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" -> docker.io/library/busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 | busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 | busybox
                "busybox:1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" -> docker.io/library/busybox:1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 | busybox:1@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 | busybox
                "Foo/bar" -> Foo/bar:latest | Foo/bar:latest | Foo/bar
            "#]],
        );
    }

    #[test]
    fn errors_are_dockers() {
        check(
            &[
                "",
                "Busybox",
                "library/Busybox:latest",
                "busybox:",
                "busybox:-x",
                ":tag",
                "a//b",
                "a/b/",
                "-abc",
                "abc-",
                "a..b",
                "a___b",
                "busybox:a/b",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "busybox@sha256:abc",
                "busybox@md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "busybox@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            ],
            expect![[r#"
                "" -> error: invalid reference format
                "Busybox" -> error: invalid reference format: repository name (library/Busybox) must be lowercase
                "library/Busybox:latest" -> error: invalid reference format: repository name (library/Busybox) must be lowercase
                "busybox:" -> error: invalid reference format
                "busybox:-x" -> error: invalid reference format
                ":tag" -> error: invalid reference format
                "a//b" -> error: invalid reference format
                "a/b/" -> error: invalid reference format
                "-abc" -> error: invalid reference format
                "abc-" -> error: invalid reference format
                "a..b" -> error: invalid reference format
                "a___b" -> error: invalid reference format
                "busybox:a/b" -> error: invalid reference format
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" -> error: invalid repository name (e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855), cannot specify 64-byte hexadecimal strings
                "busybox@sha256:abc" -> error: invalid reference format
                "busybox@md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" -> error: unsupported digest algorithm
                "busybox@sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855" -> error: invalid checksum digest format
            "#]],
        );
    }

    #[test]
    fn long_names_and_tags() {
        let long = "a".repeat(256);
        assert_eq!(
            Reference::parse(&long).unwrap_err(),
            ParseReferenceError::NameTooLong
        );
        let tag = "t".repeat(128);
        assert!(Reference::parse(&format!("a:{tag}")).is_ok());
        assert!(Reference::parse(&format!("a:{tag}x")).is_err());
    }

    #[test]
    fn no_default_tag() {
        let r = Reference::parse_no_default_tag("busybox").unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.to_string(), "docker.io/library/busybox");
        assert_eq!(r.repository(), "docker.io/library/busybox");
        assert_eq!(r.domain(), "docker.io");
        assert_eq!(r.path(), "library/busybox");
    }
}

//! Platforms of a build: `--platform`, `FROM --platform=`, and the automatic
//! platform args (`TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, `TARGETVARIANT` and the
//! same four for `BUILD*`), which are meta args: usable in FROM lines, and in a stage
//! once it declares `ARG NAME` without a value.

use std::collections::BTreeMap;

use crate::backend::BaseImage;
use crate::error::{BuildError, Result};
use crate::executor::Ctx;
use crate::instruction::From;
use crate::parser::{Node, ParseError};
use crate::subst::expand;

/// An `os/arch[/variant]`, normalized as docker normalizes it (`x86_64` is `amd64`,
/// `aarch64` is `arm64`, `arm64/v8` is `arm64`, `arm` is `arm/v7`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this process runs on.
    pub fn host() -> Platform {
        Platform::normalize("linux", std::env::consts::ARCH, None)
    }

    /// Parses `os[/arch[/variant]]` (an arch alone is taken as linux's).
    pub fn parse(s: &str) -> Result<Platform, String> {
        let bad = || format!("{s:?}: unknown operating system or architecture: invalid argument");
        let parts: Vec<String> = s.trim().split('/').map(str::to_ascii_lowercase).collect();
        if parts.iter().any(|p| p.is_empty()) || parts.len() > 3 {
            return Err(bad());
        }
        let host = Platform::host();
        let p = match parts.as_slice() {
            [one] if one == "linux" || one == "windows" || one == "darwin" || one == "freebsd" => {
                Platform::normalize(one, &host.arch, host.variant.as_deref())
            }
            [one] => Platform::normalize("linux", one, None),
            [os, arch] => Platform::normalize(os, arch, None),
            [os, arch, v] => Platform::normalize(os, arch, Some(v)),
            _ => return Err(bad()),
        };
        if !p.os.chars().all(|c| c.is_ascii_alphanumeric())
            || !p
                .arch
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(bad());
        }
        Ok(p)
    }

    fn normalize(os: &str, arch: &str, variant: Option<&str>) -> Platform {
        let (arch, variant) = match (arch, variant) {
            ("x86_64" | "x86-64" | "amd64", v) => ("amd64", v.filter(|v| *v != "v1")),
            ("aarch64" | "arm64", Some("v8") | Some("8")) | ("aarch64" | "arm64", None) => {
                ("arm64", None)
            }
            ("aarch64" | "arm64", v) => ("arm64", v),
            ("armhf" | "arm", None) => ("arm", Some("v7")),
            ("armel", None) => ("arm", Some("v6")),
            ("i386" | "i686" | "x86" | "386", v) => ("386", v),
            (a, v) => (a, v),
        };
        let variant = variant.map(|v| {
            if v.chars().all(|c| c.is_ascii_digit()) {
                format!("v{v}")
            } else {
                v.to_string()
            }
        });
        Platform {
            os: os.to_string(),
            arch: arch.to_string(),
            variant,
        }
    }

    /// Whether an image configured for `os/arch/variant` is this platform (an image
    /// that says nothing about its platform matches anything, as in docker).
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        if arch.is_empty() {
            return true;
        }
        let other = Platform::normalize(if os.is_empty() { "linux" } else { os }, arch, variant);
        other.os == self.os
            && other.arch == self.arch
            && (self.variant.is_none() || other.variant.is_none() || other.variant == self.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The meta args a build starts with: the automatic platform args for `--platform`
/// (an invalid one is docker's error).
pub(crate) fn meta_args(platform: Option<&str>) -> Result<BTreeMap<String, Option<String>>> {
    let target = match platform.filter(|p| !p.is_empty()) {
        Some(p) => Some(Platform::parse(p).map_err(BuildError::Invalid)?),
        None => None,
    };
    Ok(auto_args(target.as_ref())
        .into_iter()
        .map(|(k, v)| (k, Some(v)))
        .collect())
}

/// FROM's base image: with `FROM --platform=` (expanded with the meta args) or the
/// build's `--platform`, that platform's image; else whatever the name names.
pub(crate) fn from_image(
    ctx: &Ctx<'_>,
    f: &From,
    node: &Node,
    image: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<BaseImage> {
    let raw = match &f.platform {
        Some(p) => Some(expand(p, ctx.escape, lookup).map_err(|e| ParseError::at(node, e))?),
        None => ctx.opts.platform.clone(),
    };
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return ctx.backend.image(image, ctx.opts.pull);
    };
    let p = Platform::parse(&raw)
        .map_err(|e| BuildError::Invalid(format!("failed to parse platform {raw}: {e}")))?;
    ctx.backend.image_for(image, ctx.opts.pull, &p)
}

/// docker's error for a local image of another platform.
pub(crate) fn check(name: &str, img: &BaseImage, wanted: &Platform) -> Result<()> {
    let c = &img.config;
    if wanted.matches(&c.os, &c.architecture, c.variant.as_deref()) {
        return Ok(());
    }
    Err(BuildError::NotFound(mismatch(
        name,
        &c.os,
        &c.architecture,
        c.variant.as_deref(),
        wanted,
    )))
}

/// "image with reference X was found but its platform (A) does not match the
/// specified platform (B)".
pub fn mismatch(
    name: &str,
    os: &str,
    arch: &str,
    variant: Option<&str>,
    wanted: &Platform,
) -> String {
    let os = if os.is_empty() { "linux" } else { os };
    let actual = Platform::normalize(os, arch, variant);
    format!(
        "image with reference {name} was found but its platform ({actual}) does not match the specified platform ({wanted})"
    )
}

/// The automatic platform args for a build targeting `target` (the host's without
/// `--platform`).
pub(crate) fn auto_args(target: Option<&Platform>) -> Vec<(String, String)> {
    let build = Platform::host();
    let target = target.cloned().unwrap_or_else(|| build.clone());
    let mut out = Vec::new();
    for (prefix, p) in [("TARGET", &target), ("BUILD", &build)] {
        out.push((format!("{prefix}PLATFORM"), p.to_string()));
        out.push((format!("{prefix}OS"), p.os.clone()));
        out.push((format!("{prefix}ARCH"), p.arch.clone()));
        out.push((
            format!("{prefix}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes_like_docker() {
        let p = |s: &str| Platform::parse(s).unwrap().to_string();
        assert_eq!(p("linux/amd64"), "linux/amd64");
        assert_eq!(p("Linux/x86_64"), "linux/amd64");
        assert_eq!(p("linux/arm64/v8"), "linux/arm64");
        assert_eq!(p("linux/aarch64"), "linux/arm64");
        assert_eq!(p("linux/arm"), "linux/arm/v7");
        assert_eq!(p("linux/arm/v6"), "linux/arm/v6");
        assert_eq!(p("arm64"), "linux/arm64");
        for bad in ["", "linux//amd64", "a/b/c/d", "linux/am d64"] {
            assert!(Platform::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_and_automatic_args() {
        let arm = Platform::parse("linux/arm64").unwrap();
        assert!(arm.matches("linux", "arm64", Some("v8")));
        assert!(arm.matches("linux", "aarch64", None));
        assert!(!arm.matches("linux", "amd64", None));
        assert!(arm.matches("", "", None));
        let args = auto_args(Some(&Platform::parse("linux/arm/v7").unwrap()));
        let get = |k: &str| args.iter().find(|(n, _)| n == k).unwrap().1.clone();
        assert_eq!(get("TARGETPLATFORM"), "linux/arm/v7");
        assert_eq!(get("TARGETOS"), "linux");
        assert_eq!(get("TARGETARCH"), "arm");
        assert_eq!(get("TARGETVARIANT"), "v7");
        assert_eq!(get("BUILDPLATFORM"), Platform::host().to_string());
    }
}

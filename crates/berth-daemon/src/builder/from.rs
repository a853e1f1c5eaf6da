//! FROM's base image on the daemon: looked up in the store, pulled when missing (or
//! with `--pull`, or when the local one is another platform than the build asked
//! for), with the credentials the client sent in `X-Registry-Config`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use berth_build::{BaseImage, BuildError, Platform};
use berth_image::Reference;
use berth_registry::client::Credentials;
use serde_json::Value;

use super::DaemonBackend;

/// The registry credentials of a build: registry name (`docker.io`, `host:port`) →
/// credentials.
pub(crate) type RegistryAuth = BTreeMap<String, Credentials>;

/// Decodes `X-Registry-Config`: base64 (url-safe or standard, padded or not) of a
/// JSON map `{"<registry>": {username, password, auth, identitytoken, ...}}` keyed
/// the way `config.json` keys its `auths`. Anything undecodable is no credentials,
/// as dockerd treats it.
pub(crate) fn registry_config(header: Option<&str>) -> RegistryAuth {
    let Some(h) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return RegistryAuth::new();
    };
    let raw = [URL_SAFE, STANDARD, URL_SAFE_NO_PAD, STANDARD_NO_PAD]
        .iter()
        .find_map(|e| e.decode(h).ok());
    let Some(Value::Object(map)) = raw.and_then(|r| serde_json::from_slice(&r).ok()) else {
        return RegistryAuth::new();
    };
    map.into_iter()
        .map(|(server, v)| {
            // One entry has X-Registry-Auth's shape: decode it the same way.
            let one = URL_SAFE.encode(v.to_string());
            (
                crate::images::normalize_server(&server),
                crate::images::decode_auth(Some(&one)),
            )
        })
        .collect()
}

/// `platform=` of `POST /build`: checked up front (docker's 400 for a bad one).
pub(crate) fn platform_param(raw: &str) -> Result<Option<String>, crate::error::Error> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    Platform::parse(raw).map_err(crate::error::Error::invalid)?;
    Ok(Some(raw.trim().to_string()))
}

fn to_base(img: &berth_image::Image) -> BaseImage {
    BaseImage {
        id: img.id.clone(),
        config: img.config.clone(),
    }
}

/// The image `name` names for a FROM, pulled as docker's classic builder pulls it.
pub(crate) fn base_image(
    be: &DaemonBackend<'_>,
    name: &str,
    pull: bool,
    platform: Option<&Platform>,
) -> berth_build::Result<BaseImage> {
    let local = be.b.images.get(name);
    let missing = local
        .as_ref()
        .is_err_and(|e| e.kind == berth_stdx::ErrorKind::NotFound);
    let wrong_platform = match (&local, platform) {
        (Ok(img), Some(p)) => {
            let c = &img.config;
            (!p.matches(&c.os, &c.architecture, c.variant.as_deref())).then(|| {
                berth_build::platform_mismatch(
                    name,
                    &c.os,
                    &c.architecture,
                    c.variant.as_deref(),
                    p,
                )
            })
        }
        _ => None,
    };
    if (pull || missing || wrong_platform.is_some())
        && let Some(registries) = be.b.images.registries()
        && let Ok(r) = Reference::parse(name)
    {
        let req = crate::images::PullRequest {
            image: r.to_string(),
            tag: String::new(),
            platform: platform.map(|p| p.to_string()),
            creds: be.auth.get(r.domain()).cloned().unwrap_or_default(),
        };
        let quiet: crate::images::Sink = std::sync::Arc::new(|_| {});
        if let Err(e) = be.rt.block_on(registries.pull(req, quiet)) {
            return Err(match (wrong_platform, missing) {
                // The local image stays the answer: it is the wrong platform.
                (Some(msg), _) => BuildError::NotFound(msg),
                (None, true) => BuildError::NotFound(e.message),
                (None, false) => BuildError::Invalid(e.message),
            });
        }
    } else if let Some(msg) = wrong_platform {
        return Err(BuildError::NotFound(msg));
    }
    let img = be.b.images.get(name).map_err(|e| {
        if e.kind == berth_stdx::ErrorKind::NotFound {
            BuildError::NotFound(e.message)
        } else {
            BuildError::Invalid(e.message)
        }
    })?;
    let base = to_base(&img);
    if let Some(p) = platform {
        let c = &base.config;
        if !p.matches(&c.os, &c.architecture, c.variant.as_deref()) {
            return Err(BuildError::NotFound(berth_build::platform_mismatch(
                name,
                &c.os,
                &c.architecture,
                c.variant.as_deref(),
                p,
            )));
        }
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_config_is_keyed_by_registry_name() {
        let json = r#"{"127.0.0.1:5000":{"username":"u","password":"p"},
            "https://index.docker.io/v1/":{"auth":"YTpi"}}"#;
        for enc in [URL_SAFE, STANDARD_NO_PAD] {
            let m = registry_config(Some(&enc.encode(json)));
            assert_eq!(m["127.0.0.1:5000"].username, "u");
            assert_eq!(m["127.0.0.1:5000"].password, "p");
            assert_eq!(m["docker.io"].username, "a");
            assert_eq!(m["docker.io"].password, "b");
        }
        assert!(registry_config(Some("e30=")).is_empty());
        assert!(registry_config(Some("!!")).is_empty());
        assert!(registry_config(None).is_empty());
    }
}

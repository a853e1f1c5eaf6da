//! `GET /images/json` semantics: dockerd's filters, dangling rules and ordering.

use chrono::{DateTime, Utc};

use berth_api::{Filters, parse_timestamp};
use berth_image::{Image, Reference};

use super::ListedImage;
use super::glob::path_match;
use crate::error::{Error, Result};

pub const LIST_FILTERS: &[&str] = &["dangling", "label", "before", "since", "reference", "until"];

pub(crate) fn labels_of(img: &Image) -> Option<&std::collections::BTreeMap<String, String>> {
    img.config.config.as_ref().and_then(|c| c.labels.as_ref())
}

/// docker's `FamiliarMatch`: the pattern against `name:tag`, then against the name alone.
fn familiar_match(pattern: &str, r: &Reference) -> Result<bool> {
    let bad = |_| Error::invalid("syntax error in pattern");
    if path_match(pattern, &r.familiar()).map_err(bad)? {
        return Ok(true);
    }
    path_match(pattern, &r.familiar_name()).map_err(bad)
}

fn digest_ref(s: &str) -> Option<Reference> {
    Reference::parse(s).ok()
}

/// Filters and orders `images` as dockerd does. `resolve` looks up `before`/`since`.
pub fn filter_images(
    images: Vec<Image>,
    all: bool,
    f: &Filters,
    resolve: impl Fn(&str) -> Result<Image>,
) -> Result<Vec<ListedImage>> {
    f.validate(LIST_FILTERS)?;
    let mut dangling_only = false;
    if f.contains("dangling") {
        if f.exact_match("dangling", "true") {
            dangling_only = true;
        } else if !f.exact_match("dangling", "false") {
            return Err(berth_api::FilterError::invalid("dangling", &f.get("dangling")).into());
        }
    }
    let mut before: Option<DateTime<Utc>> = None;
    for v in f.get("before") {
        let c = resolve(v)?.created;
        before = Some(before.map_or(c, |b| b.min(c)));
    }
    let now = Utc::now();
    for v in f.get("until") {
        let t = parse_timestamp(v, now)?;
        before = Some(before.map_or(t, |b| b.min(t)));
    }
    let mut since: Option<DateTime<Utc>> = None;
    for v in f.get("since") {
        let c = resolve(v)?.created;
        since = Some(since.map_or(c, |s| s.max(c)));
    }

    let has_children = |img: &Image| images.iter().any(|o| o.parent.as_ref() == Some(&img.id));
    let mut out = Vec::new();
    for img in &images {
        if dangling_only && has_children(img) {
            continue;
        }
        if before.is_some_and(|b| img.created >= b) || since.is_some_and(|s| img.created <= s) {
            continue;
        }
        if f.contains("label") {
            let empty = Default::default();
            if !f.match_labels("label", labels_of(img).unwrap_or(&empty)) {
                continue;
            }
        }
        let mut tags = Vec::new();
        let mut digests = Vec::new();
        let patterns = f.get("reference");
        for r in &img.repo_tags {
            if !patterns.is_empty() && !any_match(&patterns, r)? {
                continue;
            }
            tags.push(r.familiar());
        }
        for d in &img.repo_digests {
            if !patterns.is_empty() {
                match digest_ref(d) {
                    Some(r) if any_match(&patterns, &r)? => {}
                    _ => continue,
                }
            }
            digests.push(d.clone());
        }
        if tags.is_empty() && digests.is_empty() {
            if all || !has_children(img) {
                if f.contains("dangling") && !dangling_only {
                    continue;
                }
                if f.contains("reference") {
                    continue;
                }
            } else {
                continue;
            }
        } else if dangling_only && !tags.is_empty() {
            continue;
        }
        out.push(ListedImage {
            image: img.clone(),
            repo_tags: tags,
            repo_digests: digests,
            shared_size: None,
        });
    }
    out.sort_by(|a, b| {
        b.image
            .created
            .cmp(&a.image.created)
            .then_with(|| a.image.id.to_string().cmp(&b.image.id.to_string()))
    });
    Ok(out)
}

fn any_match(patterns: &[&str], r: &Reference) -> Result<bool> {
    for p in patterns {
        if familiar_match(p, r)? {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_stdx::Digest;

    fn img(
        n: u8,
        secs: i64,
        tags: &[&str],
        parent: Option<u8>,
        label: Option<(&str, &str)>,
    ) -> Image {
        let id = |n: u8| Digest::sha256_of(&[n]);
        let mut config = berth_image::ImageConfig::default();
        if let Some((k, v)) = label {
            let c = berth_image::ContainerConfig {
                labels: Some([(k.to_string(), v.to_string())].into_iter().collect()),
                ..Default::default()
            };
            config.config = Some(c);
        }
        Image {
            id: id(n),
            repo_tags: tags.iter().map(|t| Reference::parse(t).unwrap()).collect(),
            repo_digests: vec![],
            manifest_digest: None,
            parent: parent.map(id),
            created: DateTime::from_timestamp(secs, 0).unwrap(),
            size: 1,
            config,
            last_tag_time: None,
            loaded_at: DateTime::from_timestamp(secs, 0).unwrap(),
        }
    }

    fn store() -> Vec<Image> {
        vec![
            img(1, 100, &["busybox:1.36", "busybox:latest"], None, None),
            img(2, 200, &[], Some(1), None), // intermediate: has a child
            img(3, 300, &["app:1"], Some(2), Some(("team", "a"))),
            img(4, 400, &[], None, Some(("team", "b"))), // dangling
            img(5, 500, &["localhost:5000/x/y:2"], None, None),
        ]
    }

    fn names(f: &str, all: bool) -> String {
        let images = store();
        let filters = Filters::parse(f).unwrap();
        let resolve = |n: &str| {
            images
                .iter()
                .find(|i| i.repo_tags.iter().any(|t| t.familiar() == n))
                .cloned()
                .ok_or_else(|| Error::not_found(format!("No such image: {n}")))
        };
        match filter_images(images.clone(), all, &filters, resolve) {
            Ok(v) => v
                .iter()
                .map(|li| {
                    if li.repo_tags.is_empty() {
                        format!("<{}>", li.image.created.timestamp())
                    } else {
                        li.repo_tags.join("+")
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => format!("error: {}", e.message),
        }
    }

    #[test]
    fn default_listing_hides_intermediates_and_sorts_newest_first() {
        assert_eq!(
            names("", false),
            "localhost:5000/x/y:2 <400> app:1 busybox:1.36+busybox:latest"
        );
        assert_eq!(
            names("", true),
            "localhost:5000/x/y:2 <400> app:1 <200> busybox:1.36+busybox:latest"
        );
    }

    #[test]
    fn dangling_filter() {
        assert_eq!(names(r#"{"dangling":{"true":true}}"#, false), "<400>");
        assert_eq!(
            names(r#"{"dangling":["false"]}"#, true),
            "localhost:5000/x/y:2 app:1 busybox:1.36+busybox:latest"
        );
        assert_eq!(
            names(r#"{"dangling":["maybe"]}"#, false),
            "error: invalid filter 'dangling=maybe'"
        );
    }

    #[test]
    fn reference_globs_match_name_or_name_and_tag() {
        assert_eq!(
            names(r#"{"reference":["busy*"]}"#, false),
            "busybox:1.36+busybox:latest"
        );
        assert_eq!(
            names(r#"{"reference":["busybox:1.*"]}"#, false),
            "busybox:1.36"
        );
        assert_eq!(
            names(r#"{"reference":["localhost:5000/x/*"]}"#, false),
            "localhost:5000/x/y:2"
        );
        assert_eq!(
            names(r#"{"reference":["["]}"#, false),
            "error: syntax error in pattern"
        );
    }

    #[test]
    fn time_and_label_filters() {
        assert_eq!(
            names(r#"{"before":["app:1"]}"#, false),
            "busybox:1.36+busybox:latest"
        );
        assert_eq!(
            names(r#"{"since":["app:1"]}"#, false),
            "localhost:5000/x/y:2 <400>"
        );
        assert_eq!(
            names(r#"{"until":["350"]}"#, false),
            "app:1 busybox:1.36+busybox:latest"
        );
        assert_eq!(names(r#"{"label":["team=a"]}"#, false), "app:1");
        assert_eq!(names(r#"{"label":["team"]}"#, false), "<400> app:1");
        assert_eq!(
            names(r#"{"since":["nope"]}"#, false),
            "error: No such image: nope"
        );
        assert_eq!(
            names(r#"{"foo":["x"]}"#, false),
            "error: invalid filter 'foo'"
        );
    }
}

//! The one place API-version differences are adapted: handlers build the current
//! (1.45) shape, and these functions rewrite it for older clients.

use berth_api::{ApiVersion, ImageInspect, ImageSummary};

/// `/images/json` and `/system/df` rows.
pub fn image_summary(v: ApiVersion, s: &mut ImageSummary) {
    // VirtualSize was dropped in 1.44.
    if v.before(1, 44) {
        s.virtual_size = Some(s.size);
    }
    // Before 1.43 untagged images showed hardcoded placeholders.
    if v.before(1, 43) {
        if s.repo_tags.is_empty() {
            s.repo_tags = vec!["<none>:<none>".into()];
        }
        if s.repo_digests.is_empty() {
            s.repo_digests = vec!["<none>@<none>".into()];
        }
    }
}

/// `POST /volumes/prune`: before 1.42 a prune took every unused volume, not only
/// anonymous ones.
pub fn volume_prune_filters(v: ApiVersion, f: &mut berth_api::Filters) {
    if v.before(1, 42) && !f.contains("all") {
        f.add("all", "true");
    }
}

/// `/images/{name}/json`.
pub fn image_inspect(v: ApiVersion, i: &mut ImageInspect) {
    if v.before(1, 44) {
        i.virtual_size = Some(i.size);
    }
    // Container and ContainerConfig were dropped in 1.45.
    if v.before(1, 45) {
        i.container = Some(String::new());
        i.container_config = Some(Default::default());
    }
    // Before 1.44 a missing Created was the zero time.
    if v.before(1, 44) && i.created.is_none() {
        i.created = Some("0001-01-01T00:00:00Z".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> ImageSummary {
        ImageSummary {
            containers: -1,
            created: 0,
            id: "sha256:aa".into(),
            labels: None,
            parent_id: String::new(),
            repo_digests: vec![],
            repo_tags: vec![],
            shared_size: -1,
            size: 5,
            virtual_size: None,
        }
    }

    #[test]
    fn old_clients_get_old_fields() {
        let mut s = summary();
        image_summary(ApiVersion::new(1, 41), &mut s);
        assert_eq!(s.virtual_size, Some(5));
        assert_eq!(s.repo_tags, vec!["<none>:<none>"]);
        let mut s = summary();
        image_summary(ApiVersion::CURRENT, &mut s);
        assert_eq!(s, summary());
    }
}

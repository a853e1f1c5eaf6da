//! `GET /containers/json`: docker's list filters and the human status column.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use berth_api::Filters;

use super::manager::ContainerManager;
use super::record::{Record, Status};
use crate::error::{Error, Result};

const KEYS: &[&str] = &[
    "ancestor",
    "before",
    "expose",
    "exited",
    "health",
    "id",
    "isolation",
    "is-task",
    "label",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
];

/// docker's `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    if s < 1 {
        return "Less than a second".into();
    }
    if s == 1 {
        return "1 second".into();
    }
    if s < 60 {
        return format!("{s} seconds");
    }
    let m = s / 60;
    if m == 1 {
        return "About a minute".into();
    }
    if m < 60 {
        return format!("{m} minutes");
    }
    let h = (s as f64 / 3600.0).round() as i64;
    if h == 1 {
        return "About an hour".into();
    }
    if h < 48 {
        return format!("{h} hours");
    }
    if h < 24 * 7 * 2 {
        return format!("{} days", h / 24);
    }
    if h < 24 * 30 * 2 {
        return format!("{} weeks", h / 24 / 7);
    }
    if h < 24 * 365 * 2 {
        return format!("{} months", h / 24 / 30);
    }
    format!("{} years", h / 24 / 365)
}

fn ago(t: Option<DateTime<Utc>>) -> i64 {
    t.map(|t| (Utc::now() - t).num_seconds()).unwrap_or(0)
}

/// The `STATUS` column: `Up 5 seconds`, `Exited (0) 3 seconds ago`, `Created`.
pub fn status_text(r: &Record) -> String {
    let s = &r.state;
    match s.status {
        Status::Running => match &s.health {
            Some(h) => format!("Up {} ({})", human_duration(ago(s.started_at)), h.ps_text()),
            None => format!("Up {}", human_duration(ago(s.started_at))),
        },
        Status::Paused => format!("Up {} (Paused)", human_duration(ago(s.started_at))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(ago(s.finished_at))
        ),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Created => "Created".into(),
        Status::Exited => match s.finished_at {
            Some(_) if s.started_at.is_some() => format!(
                "Exited ({}) {} ago",
                s.exit_code,
                human_duration(ago(s.finished_at))
            ),
            _ => "Created".into(),
        },
    }
}

/// The summary row of one container.
pub fn summary(r: &Record) -> Value {
    // docker quotes arguments with spaces in this column.
    let mut cmd = vec![r.path.clone()];
    cmd.extend(r.args.iter().map(|a| {
        if a.contains(' ') {
            format!("'{a}'")
        } else {
            a.clone()
        }
    }));
    let image = if r.image_ref.is_empty() {
        r.image_id.clone()
    } else {
        r.image_ref.clone()
    };
    json!({
        "Id": r.id,
        "Names": [r.name],
        "Image": image,
        "ImageID": r.image_id,
        "Command": cmd.join(" "),
        "Created": r.created.timestamp(),
        "Ports": [],
        "Labels": r.labels(),
        "State": r.state.status.as_str(),
        "Status": status_text(r),
        "HostConfig": {"NetworkMode": r.hc_str("NetworkMode")},
        "NetworkSettings": {"Networks": {}},
        "Mounts": super::mounts_run::api_mounts(r),
    })
}

impl ContainerManager {
    /// docker's container sizes: `SizeRw`, the bytes of the writable (upper) layer, and
    /// `SizeRootFs`, that plus the image's unpacked layers. Walks the upper dir: call it
    /// off the async workers.
    pub fn sizes(&self, name: &str) -> Result<(u64, u64)> {
        let r = self.get(name)?;
        let rw = crate::volumes::dir_size(&self.dir(&r.id).join("upper"));
        let image = self.images.get(&r.image_id).map(|i| i.size).unwrap_or(0);
        Ok((rw, rw + image))
    }

    /// Rows newest first, filtered as docker does.
    pub fn list(&self, all: bool, filters: &Filters, limit: i64) -> Result<Vec<Value>> {
        filters.validate(KEYS)?;
        let vals =
            |k: &str| -> Vec<String> { filters.get(k).into_iter().map(String::from).collect() };
        let statuses = vals("status");
        for s in &statuses {
            if !matches!(
                s.as_str(),
                "created" | "restarting" | "running" | "removing" | "paused" | "exited" | "dead"
            ) {
                return Err(Error::invalid(format!("invalid filter 'status={s}'")));
            }
        }
        let health = vals("health");
        if let Some(h) = health.iter().find(|h| !super::health::valid_filter(h)) {
            return Err(Error::invalid(format!(
                "Unrecognised filter value for health: {h}"
            )));
        }
        let mut recs: Vec<Record> = self.lock().by_id.values().map(|e| e.rec.clone()).collect();
        recs.sort_by_key(|r| std::cmp::Reverse(r.created));
        let created_of = |name: &str| -> Result<DateTime<Utc>> { Ok(self.get(name)?.created) };
        let before = vals("before").first().map(|n| created_of(n)).transpose()?;
        let since = vals("since").first().map(|n| created_of(n)).transpose()?;
        let ancestors: Vec<String> = vals("ancestor")
            .iter()
            .filter_map(|a| self.images.get(a).ok().map(|i| i.id.to_string()))
            .collect();
        let any_all = all
            || !statuses.is_empty()
            || before.is_some()
            || since.is_some()
            || !vals("exited").is_empty();
        let mut out = Vec::new();
        for r in recs {
            let st = r.state.status.as_str();
            if !any_all && !r.state.status.is_active() {
                continue;
            }
            if !statuses.is_empty() && !statuses.iter().any(|s| s == st) {
                continue;
            }
            let names = vals("name");
            if !names.is_empty() && !names.iter().any(|n| name_matches(n, r.bare_name())) {
                continue;
            }
            let ids = vals("id");
            if !ids.is_empty() && !ids.iter().any(|i| r.id.starts_with(i.as_str())) {
                continue;
            }
            let labels = r.labels();
            if !filters.match_labels("label", &labels) {
                continue;
            }
            if !vals("ancestor").is_empty() && !ancestors.contains(&r.image_id) {
                continue;
            }
            let exited = vals("exited");
            if !exited.is_empty()
                && (r.state.status != Status::Exited
                    || !exited
                        .iter()
                        .any(|c| c.parse::<i32>().ok() == Some(r.state.exit_code)))
            {
                continue;
            }
            if !health.is_empty() && !health.iter().any(|h| h == super::health::filter_value(&r)) {
                continue;
            }
            if before.is_some_and(|b| r.created >= b) || since.is_some_and(|s| r.created <= s) {
                continue;
            }
            if !super::mounts_run::matches_volume_filter(filters, &r)
                || !self.matches_network_filters(filters, &r)?
            {
                continue;
            }
            let mut row = summary(&r);
            self.fill_network_row(&mut row, &r);
            out.push(row);
            if limit > 0 && out.len() as i64 >= limit {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_dockers() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(1), "1 second");
        assert_eq!(human_duration(59), "59 seconds");
        assert_eq!(human_duration(60), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(7200), "2 hours");
        assert_eq!(human_duration(3 * 86400), "3 days");
    }
}

/// docker's `name` filter: each value is a Go regular expression matched anywhere in the
/// name, with or without its leading `/`; an invalid expression matches nothing.
fn name_matches(pattern: &str, bare_name: &str) -> bool {
    match regex::Regex::new(pattern) {
        Ok(re) => re.is_match(bare_name) || re.is_match(&format!("/{bare_name}")),
        Err(_) => false,
    }
}

#[cfg(test)]
mod name_filter_tests {
    use super::name_matches;

    #[test]
    fn name_filter_is_a_regex_on_either_form() {
        assert!(name_matches("web", "my-web-1"));
        assert!(name_matches("^web$", "web"));
        assert!(!name_matches("^web$", "web2"));
        assert!(name_matches("^/web", "web"));
        assert!(name_matches("w.b", "wXb"));
        assert!(!name_matches("^db", "web"));
        assert!(!name_matches("(", "("), "an invalid regex matches nothing");
    }
}

//! Docker's `filters` query parameter: a JSON object in either the map shape
//! (`{"dangling":{"true":true}}`, what the CLI sends) or the legacy list shape
//! (`{"label":["a=b"]}`, what docker-py and compose send).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// Parsed filters: key -> set of values. Keys and values keep their exact spelling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<String, BTreeSet<String>>,
}

/// A filter that cannot be parsed or is not allowed; messages are dockerd's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Unknown key, or a bad value for a known key: `invalid filter 'key=v1,v2'`.
    #[error("invalid filter '{}'", render(.key, .values))]
    Invalid { key: String, values: Vec<String> },
    /// The parameter is not a JSON object of the accepted shapes.
    #[error("invalid filter: {0}")]
    Malformed(String),
}

fn render(key: &str, values: &[String]) -> String {
    if values.is_empty() {
        key.to_string()
    } else {
        format!("{key}={}", values.join(","))
    }
}

impl FilterError {
    pub fn invalid(key: &str, values: &[&str]) -> Self {
        FilterError::Invalid {
            key: key.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }
}

impl Filters {
    pub fn new() -> Self {
        Filters::default()
    }

    /// Parses the `filters` query value. An empty string means no filters.
    pub fn parse(json: &str) -> Result<Filters, FilterError> {
        let mut f = Filters::default();
        if json.trim().is_empty() {
            return Ok(f);
        }
        let value: Value =
            serde_json::from_str(json).map_err(|e| FilterError::Malformed(e.to_string()))?;
        let Value::Object(obj) = value else {
            return Err(FilterError::Malformed(
                "filters must be a JSON object".into(),
            ));
        };
        for (key, vals) in obj {
            let set = f.fields.entry(key).or_default();
            match vals {
                // map shape; docker keys on presence, whatever the boolean says
                Value::Object(m) => {
                    for (v, b) in m {
                        if !b.is_boolean() {
                            return Err(FilterError::Malformed(format!(
                                "value of filter {v:?} must be a boolean"
                            )));
                        }
                        set.insert(v);
                    }
                }
                Value::Array(items) => {
                    for item in items {
                        match item {
                            Value::String(s) => {
                                set.insert(s);
                            }
                            other => {
                                return Err(FilterError::Malformed(format!(
                                    "filter values must be strings, got {other}"
                                )));
                            }
                        }
                    }
                }
                Value::Null => {}
                other => {
                    return Err(FilterError::Malformed(format!(
                        "filter values must be an object or a list, got {other}"
                    )));
                }
            }
        }
        Ok(f)
    }

    /// Adds `key=value` (as `docker ... --filter key=value` does client-side).
    pub fn add(&mut self, key: &str, value: &str) {
        self.fields
            .entry(key.to_string())
            .or_default()
            .insert(value.to_string());
    }

    /// Serialises in the map shape the docker CLI sends.
    pub fn to_json(&self) -> String {
        let obj: BTreeMap<&str, BTreeMap<&str, bool>> = self
            .fields
            .iter()
            .map(|(k, vs)| (k.as_str(), vs.iter().map(|v| (v.as_str(), true)).collect()))
            .collect();
        serde_json::to_string(&obj).unwrap_or_else(|_| "{}".into())
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Rejects any key not in `allowed` with `invalid filter 'key'`.
    pub fn validate(&self, allowed: &[&str]) -> Result<(), FilterError> {
        match self.fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(FilterError::invalid(k, &[])),
            None => Ok(()),
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    /// The values given for `key`, sorted; empty if absent.
    pub fn get(&self, key: &str) -> Vec<&str> {
        self.fields
            .get(key)
            .map(|s| s.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// docker's `ExactMatch`: true when `key` is not filtered, or `value` is one of its values.
    pub fn exact_match(&self, key: &str, value: &str) -> bool {
        match self.fields.get(key) {
            None => true,
            Some(s) if s.is_empty() => true,
            Some(s) => s.contains(value),
        }
    }

    /// docker's `GetBoolOrDefault`: `true`/`1` or `false`/`0`; both or neither is invalid.
    pub fn get_bool_or_default(&self, key: &str, default: bool) -> Result<bool, FilterError> {
        let Some(vals) = self.fields.get(key) else {
            return Ok(default);
        };
        let is_true = vals.contains("true") || vals.contains("1");
        let is_false = vals.contains("false") || vals.contains("0");
        if is_true == is_false {
            let v: Vec<&str> = vals.iter().map(String::as_str).collect();
            return Err(FilterError::invalid(key, &v));
        }
        Ok(is_true)
    }

    /// docker's `MatchKVList` for `label` filters: every `k` or `k=v` given under `key`
    /// must be satisfied by `labels`. True when `key` is not filtered.
    pub fn match_kv_list<'a>(&self, key: &str, labels: impl Fn(&str) -> Option<&'a str>) -> bool {
        let Some(vals) = self.fields.get(key) else {
            return true;
        };
        vals.iter().all(|want| match want.split_once('=') {
            Some((k, v)) => labels(k) == Some(v),
            None => labels(want).is_some(),
        })
    }

    /// [`Filters::match_kv_list`] over a label map.
    pub fn match_labels(&self, key: &str, labels: &BTreeMap<String, String>) -> bool {
        self.match_kv_list(key, |k| labels.get(k).map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn map_and_list_shapes_agree() {
        let a = Filters::parse(r#"{"dangling":{"true":true},"label":{"a=b":true}}"#).unwrap();
        let b = Filters::parse(r#"{"dangling":["true"],"label":["a=b"]}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.get("dangling"), vec!["true"]);
        assert!(a.contains("label") && !a.contains("before"));
        expect![[r#"{"dangling":{"true":true},"label":{"a=b":true}}"#]].assert_eq(&a.to_json());
    }

    #[test]
    fn empty_means_nothing_filtered() {
        let f = Filters::parse("").unwrap();
        assert!(f.is_empty());
        assert!(f.exact_match("type", "image"));
        assert!(Filters::parse("{}").unwrap().is_empty());
    }

    #[test]
    fn validation_uses_dockers_message() {
        let f = Filters::parse(r#"{"foo":{"x":true}}"#).unwrap();
        let err = f.validate(&["dangling", "label"]).unwrap_err();
        expect!["invalid filter 'foo'"].assert_eq(&err.to_string());
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        for bad in [
            "{",
            "[]",
            "1",
            r#"{"a":1}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{"b":"c"}}"#,
        ] {
            let err = Filters::parse(bad).unwrap_err();
            assert!(matches!(err, FilterError::Malformed(_)), "{bad}: {err}");
            assert!(err.to_string().starts_with("invalid filter"), "{err}");
        }
    }

    #[test]
    fn bool_filters() {
        let t = Filters::parse(r#"{"dangling":["1"]}"#).unwrap();
        assert_eq!(t.get_bool_or_default("dangling", false), Ok(true));
        let both = Filters::parse(r#"{"dangling":["true","false"]}"#).unwrap();
        expect!["invalid filter 'dangling=false,true'"].assert_eq(
            &both
                .get_bool_or_default("dangling", false)
                .unwrap_err()
                .to_string(),
        );
        let junk = Filters::parse(r#"{"dangling":["yes"]}"#).unwrap();
        assert!(junk.get_bool_or_default("dangling", false).is_err());
        assert_eq!(
            Filters::new().get_bool_or_default("dangling", true),
            Ok(true)
        );
    }

    #[test]
    fn label_matching() {
        let mut labels = BTreeMap::new();
        labels.insert("a".to_string(), "b".to_string());
        labels.insert("c".to_string(), "".to_string());
        let yes = Filters::parse(r#"{"label":["a=b","c"]}"#).unwrap();
        let no = Filters::parse(r#"{"label":["a=x"]}"#).unwrap();
        let missing = Filters::parse(r#"{"label":["zzz"]}"#).unwrap();
        assert!(yes.match_labels("label", &labels));
        assert!(!no.match_labels("label", &labels));
        assert!(!missing.match_labels("label", &labels));
        assert!(Filters::new().match_labels("label", &labels));
    }
}

//! Query strings as docker reads them: repeated keys (`names=a&names=b`), and
//! `BoolValue` truthiness.

use axum::extract::FromRequestParts;
use http::request::Parts;

use berth_api::Filters;

use crate::error::Error;

/// All `key=value` pairs of the query, percent-decoded, in order.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Vec<(String, String)>);

fn decode(s: &str) -> String {
    let plus = s.replace('+', " ");
    urlencoding::decode(&plus)
        .map(|c| c.into_owned())
        .unwrap_or(plus)
}

impl Query {
    pub fn parse(q: &str) -> Query {
        Query(
            q.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    /// The first value of `key` ("" if absent), like Go's `r.Form.Get`.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// docker's `BoolValue`: anything but "", "0", "no", "false", "none" is true.
    pub fn bool(&self, key: &str) -> bool {
        let v = self.get(key).trim().to_ascii_lowercase();
        !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
    }

    /// The `filters` parameter, parsed (400 on bad JSON).
    pub fn filters(&self) -> Result<Filters, Error> {
        Ok(Filters::parse(self.get("filters"))?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Query::parse(parts.uri.query().unwrap_or("")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_encoded() {
        let q = Query::parse("names=a&names=b%2Fc&quiet=1&filters=%7B%22a%22%3A%5B%5D%7D&x");
        assert_eq!(q.all("names"), vec!["a", "b/c"]);
        assert!(q.bool("quiet") && !q.bool("missing"));
        assert_eq!(q.get("filters"), r#"{"a":[]}"#);
        assert!(q.filters().unwrap().contains("a"));
        assert!(Query::parse("filters=%7B").filters().is_err());
        assert_eq!(Query::parse("m=a+b").get("m"), "a b");
    }
}

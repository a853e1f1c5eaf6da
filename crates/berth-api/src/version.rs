//! Engine API versions: `1.24` ..= `1.45`.

use std::fmt;
use std::str::FromStr;

/// An Engine API version such as `1.41`. Ordered numerically (1.9 < 1.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    pub major: u16,
    pub minor: u16,
}

/// A version string that is not `MAJOR.MINOR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid API version format: {0}")]
pub struct ParseVersionError(pub String);

impl ApiVersion {
    /// The version this daemon speaks natively.
    pub const CURRENT: ApiVersion = ApiVersion::new(1, 45);
    /// The oldest version this daemon still serves (same as dockerd 26).
    pub const MIN: ApiVersion = ApiVersion::new(1, 24);

    pub const fn new(major: u16, minor: u16) -> Self {
        ApiVersion { major, minor }
    }

    /// Parses `1.41` (a leading `v` is accepted, as in URL prefixes).
    pub fn parse(s: &str) -> Result<Self, ParseVersionError> {
        let t = s.strip_prefix('v').unwrap_or(s);
        let err = || ParseVersionError(s.to_string());
        let (a, b) = t.split_once('.').ok_or_else(err)?;
        let digits =
            |x: &str| !x.is_empty() && x.len() <= 4 && x.bytes().all(|c| c.is_ascii_digit());
        if !digits(a) || !digits(b) {
            return Err(err());
        }
        Ok(ApiVersion::new(
            a.parse().map_err(|_| err())?,
            b.parse().map_err(|_| err())?,
        ))
    }

    /// True when this version is `>= other`.
    pub fn at_least(self, major: u16, minor: u16) -> bool {
        self >= ApiVersion::new(major, minor)
    }

    /// True when this version is `< other`.
    pub fn before(self, major: u16, minor: u16) -> bool {
        self < ApiVersion::new(major, minor)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for ApiVersion {
    type Err = ParseVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApiVersion::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_numerically() {
        let v = ApiVersion::parse("1.41").unwrap();
        assert_eq!(v, ApiVersion::new(1, 41));
        assert_eq!(ApiVersion::parse("v1.9").unwrap().to_string(), "1.9");
        assert!(ApiVersion::parse("1.9").unwrap() < ApiVersion::parse("1.10").unwrap());
        assert!(ApiVersion::MIN < ApiVersion::CURRENT);
        assert!(v.at_least(1, 41) && !v.at_least(1, 42) && v.before(1, 44));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "", "1", "1.", ".1", "a.b", "1.2.3", "1.-2", "99999.1", "1.4x",
        ] {
            assert!(ApiVersion::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}

//! Daemon addresses: `unix:///path`, `tcp://host:port`, and how the CLI picks one.

use std::path::PathBuf;

use crate::Error;

/// The socket the CLI talks to when nothing else is named.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berth.sock";

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Unix(PathBuf),
    /// `host:port`, without scheme.
    Tcp(String),
}

impl Host {
    /// Parses `unix:///path`, `tcp://host:port`, `host:port` or a bare absolute path.
    pub fn parse(s: &str) -> Result<Host, Error> {
        let s = s.trim();
        if let Some(path) = s.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(Error::InvalidHost(s.to_string()));
            }
            return Ok(Host::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s
            .strip_prefix("tcp://")
            .or_else(|| s.strip_prefix("http://"))
        {
            let addr = addr.trim_end_matches('/');
            if addr.is_empty() {
                return Err(Error::InvalidHost(s.to_string()));
            }
            let addr = if addr.contains(':') {
                addr.to_string()
            } else {
                format!("{addr}:2375")
            };
            return Ok(Host::Tcp(addr));
        }
        if s.starts_with('/') {
            return Ok(Host::Unix(PathBuf::from(s)));
        }
        if s.contains("://") || s.is_empty() {
            return Err(Error::InvalidHost(s.to_string()));
        }
        Ok(Host::Tcp(s.to_string()))
    }

    /// Picks the host as the CLI does: the flag, then `BERTH_HOST`, then `DOCKER_HOST`,
    /// then the default socket. The boolean says whether the default was used.
    pub fn select(flag: Option<&str>) -> Result<(Host, bool), Error> {
        Self::select_with(flag, |k| std::env::var(k).ok())
    }

    pub(crate) fn select_with(
        flag: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Host, bool), Error> {
        let named = flag
            .map(str::to_string)
            .or_else(|| env("BERTH_HOST").filter(|v| !v.is_empty()))
            .or_else(|| env("DOCKER_HOST").filter(|v| !v.is_empty()));
        match named {
            Some(h) => {
                let host = Host::parse(&h)?;
                let is_default = host == Host::parse(DEFAULT_HOST)?;
                Ok((host, is_default))
            }
            None => Ok((Host::parse(DEFAULT_HOST)?, true)),
        }
    }
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts() {
        assert_eq!(
            Host::parse("unix:///tmp/x.sock").unwrap(),
            Host::Unix("/tmp/x.sock".into())
        );
        assert_eq!(
            Host::parse("tcp://1.2.3.4:5").unwrap(),
            Host::Tcp("1.2.3.4:5".into())
        );
        assert_eq!(Host::parse("tcp://h").unwrap(), Host::Tcp("h:2375".into()));
        assert_eq!(
            Host::parse("/run/a.sock").unwrap(),
            Host::Unix("/run/a.sock".into())
        );
        assert!(Host::parse("unix://").is_err());
        assert!(Host::parse("ssh://x").is_err());
    }

    #[test]
    fn selection_order() {
        let env = |k: &str| match k {
            "BERTH_HOST" => Some("unix:///b".to_string()),
            "DOCKER_HOST" => Some("unix:///d".to_string()),
            _ => None,
        };
        let (h, d) = Host::select_with(Some("unix:///f"), env).unwrap();
        assert_eq!((h.to_string(), d), ("unix:///f".to_string(), false));
        let (h, _) = Host::select_with(None, env).unwrap();
        assert_eq!(h.to_string(), "unix:///b");
        let (h, _) =
            Host::select_with(None, |k| (k == "DOCKER_HOST").then(|| "unix:///d".into())).unwrap();
        assert_eq!(h.to_string(), "unix:///d");
        let (h, d) = Host::select_with(None, |_| None).unwrap();
        assert_eq!((h.to_string(), d), (DEFAULT_HOST.to_string(), true));
    }
}

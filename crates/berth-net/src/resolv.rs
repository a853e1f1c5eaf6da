//! A container's `/etc/resolv.conf`, derived from the host's the way docker does.
//!
//! * On the default bridge (and with `--network none`), the host's file is copied with
//!   loopback name servers removed (they are unreachable from the container's own
//!   network namespace); if none remain, docker's public fallbacks are used.
//! * On user-defined networks the container asks the embedded DNS server at
//!   127.0.0.11, which forwards to the host's servers (loopback ones included, since it
//!   forwards from the host's side).
//! * `--dns`, `--dns-search` and `--dns-option` replace the corresponding parts.

use std::net::IpAddr;

/// docker's fallbacks when the host has only loopback servers.
pub const FALLBACK_NAMESERVERS: &[&str] = &["8.8.8.8", "8.8.4.4"];
/// Where the embedded DNS server listens inside each container.
pub const EMBEDDED_DNS: &str = "127.0.0.11";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Parses resolv.conf text (unknown lines are dropped, as docker does).
    pub fn parse(text: &str) -> ResolvConf {
        let mut r = ResolvConf::default();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(ns) = words.next() {
                        r.nameservers.push(ns.to_string());
                    }
                }
                Some("search") | Some("domain") => {
                    r.search = words.map(str::to_string).collect();
                }
                Some("options") => r.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        r
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.search.is_empty() {
            out.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        for ns in &self.nameservers {
            out.push_str(&format!("nameserver {ns}\n"));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }
}

/// The user's DNS flags.
#[derive(Debug, Clone, Default)]
pub struct DnsOptions {
    pub servers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

fn is_loopback(ns: &str) -> bool {
    ns.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// The container's resolv.conf. `embedded` is true on user-defined networks.
pub fn for_container(host: &ResolvConf, user: &DnsOptions, embedded: bool) -> ResolvConf {
    let mut r = host.clone();
    if embedded {
        r.nameservers = vec![EMBEDDED_DNS.to_string()];
    } else if !user.servers.is_empty() {
        r.nameservers = user.servers.iter().map(|s| s.to_string()).collect();
    } else {
        r.nameservers.retain(|ns| !is_loopback(ns));
        if r.nameservers.is_empty() {
            r.nameservers = FALLBACK_NAMESERVERS.iter().map(|s| s.to_string()).collect();
        }
    }
    if !user.search.is_empty() {
        // `--dns-search .` means: no search domains.
        r.search = user.search.iter().filter(|s| *s != ".").cloned().collect();
    }
    if !user.options.is_empty() {
        r.options = user.options.clone();
    }
    r
}

/// The upstream servers the embedded DNS server forwards to: the user's, else the
/// host's (all of them, loopback included, because forwarding happens on the host side).
pub fn upstreams(host: &ResolvConf, user: &DnsOptions) -> Vec<String> {
    if !user.servers.is_empty() {
        return user.servers.iter().map(|s| s.to_string()).collect();
    }
    host.nameservers.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEMD: &str =
        "# generated\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch corp.example\n";

    #[test]
    fn parse_and_render() {
        let r = ResolvConf::parse(
            "nameserver 10.0.0.1 ; comment\nnameserver 10.0.0.2\nsearch a b\nweird line\noptions ndots:2\n",
        );
        assert_eq!(r.nameservers, vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(
            r.render(),
            "search a b\nnameserver 10.0.0.1\nnameserver 10.0.0.2\noptions ndots:2\n"
        );
    }

    #[test]
    fn loopback_servers_are_replaced_on_the_default_bridge() {
        let host = ResolvConf::parse(SYSTEMD);
        let r = for_container(&host, &DnsOptions::default(), false);
        assert_eq!(r.nameservers, vec!["8.8.8.8", "8.8.4.4"]);
        assert_eq!(r.search, vec!["corp.example"]);
        assert_eq!(r.options, vec!["edns0", "trust-ad"]);
    }

    #[test]
    fn user_networks_use_the_embedded_server_which_forwards_to_loopback() {
        let host = ResolvConf::parse(SYSTEMD);
        let r = for_container(&host, &DnsOptions::default(), true);
        assert_eq!(r.nameservers, vec!["127.0.0.11"]);
        assert_eq!(upstreams(&host, &DnsOptions::default()), vec!["127.0.0.53"]);
    }

    #[test]
    fn user_flags_win() {
        let host = ResolvConf::parse("nameserver 10.0.0.1\nsearch x\n");
        let user = DnsOptions {
            servers: vec!["10.9.9.9".parse().unwrap()],
            search: vec![".".into()],
            options: vec!["ndots:5".into()],
        };
        let r = for_container(&host, &user, false);
        assert_eq!(r.render(), "nameserver 10.9.9.9\noptions ndots:5\n");
    }
}

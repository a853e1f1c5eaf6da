//! docker's wording for a registry request that failed because the proxy (from the
//! `HTTPS_PROXY`/`HTTP_PROXY` environment, as the client uses) refused the
//! connection: Go's `proxyconnect tcp: dial tcp <addr>: connect: connection refused`.
//! Which proxy applies follows Go's `httpproxy` rules: the scheme's variable (upper
//! case first), never for localhost or loopback addresses, not for `NO_PROXY` hosts.

use std::net::IpAddr;

/// The proxy's `host:port` for a request to `url`, given the environment `env`.
pub(crate) fn proxy_addr(url: &str, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let hostport = rest.split(['/', '?', '#']).next()?;
    let host = host_of(hostport);
    let var = |k: &str| {
        env(&k.to_ascii_uppercase())
            .filter(|v| !v.is_empty())
            .or_else(|| env(k).filter(|v| !v.is_empty()))
    };
    let proxy = match scheme {
        "https" => var("https_proxy")?,
        "http" => var("http_proxy")?,
        _ => return None,
    };
    if host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    {
        return None;
    }
    if let Some(no) = var("no_proxy")
        && no.split(',').map(str::trim).any(|e| excludes(e, host))
    {
        return None;
    }
    let (pscheme, prest) = proxy.split_once("://").unwrap_or(("http", proxy.as_str()));
    let paddr = prest.split(['/', '?', '#']).next()?;
    let paddr = paddr.rsplit_once('@').map_or(paddr, |(_, a)| a);
    if paddr.is_empty() {
        return None;
    }
    let has_port = match paddr.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => paddr.contains(':'),
    };
    Some(if has_port {
        paddr.to_string()
    } else {
        let port = if pscheme == "https" { 443 } else { 80 };
        format!("{paddr}:{port}")
    })
}

/// The host part of `host[:port]` or `[v6]:port`.
fn host_of(hostport: &str) -> &str {
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|c| c.is_ascii_digit()) => h,
        _ => hostport,
    }
}

/// Whether the `NO_PROXY` entry `e` covers `host`: `*`, an address range, an
/// address, or a domain (with or without a leading dot) and its subdomains.
fn excludes(e: &str, host: &str) -> bool {
    if e.is_empty() {
        return false;
    }
    if e == "*" {
        return true;
    }
    if let (Ok(net), Ok(ip)) = (e.parse::<ipnet::IpNet>(), host.parse::<IpAddr>()) {
        return net.contains(&ip);
    }
    let e = host_of(e).trim_start_matches('.').to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    host == e || host.ends_with(&format!(".{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_proxy_of_a_request_follows_go_rules() {
        let e = env(&[
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
            ("http_proxy", "http://user:pw@proxy.example"),
            ("NO_PROXY", "10.0.0.0/8, .corp.example,reg.example:5000"),
        ]);
        let p = |u| proxy_addr(u, &e);
        assert_eq!(
            p("https://registry-1.docker.io/v2/").as_deref(),
            Some("127.0.0.1:9")
        );
        assert_eq!(
            p("http://plain.example/v2/").as_deref(),
            Some("proxy.example:80")
        );
        for direct in [
            "https://127.0.0.1:5000/v2/",
            "https://localhost/v2/",
            "https://[::1]:5000/v2/",
            "https://10.1.2.3/v2/",
            "https://a.corp.example/v2/",
            "https://corp.example/v2/",
            "https://reg.example/v2/",
            "ftp://x.example/",
            "junk",
        ] {
            assert_eq!(p(direct), None, "{direct}");
        }
        assert_eq!(proxy_addr("https://x.example/", env(&[])), None);
        assert_eq!(
            proxy_addr("https://x.example/", env(&[("HTTPS_PROXY", "http://@/")])),
            None
        );
        assert_eq!(
            proxy_addr(
                "https://x.example/",
                env(&[("HTTPS_PROXY", "p.example:3128"), ("no_proxy", "*")])
            ),
            None
        );
    }
}

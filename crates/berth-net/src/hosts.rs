//! A container's `/etc/hosts`, in the shape docker writes it.

use std::net::IpAddr;

#[derive(Debug, Clone, Default)]
pub struct HostsInput {
    /// The container's own address on its primary network, if it has one.
    pub address: Option<IpAddr>,
    /// The container's hostname and, if set, its domain name.
    pub hostname: String,
    pub domainname: String,
    /// `--add-host name:ip` entries, in order.
    pub extra: Vec<(String, IpAddr)>,
    /// Whether the host's network is used (`--network host`): docker then copies the
    /// host's own file instead.
    pub ipv6: bool,
}

/// The file's contents.
pub fn render(input: &HostsInput) -> String {
    let mut out = String::new();
    out.push_str("127.0.0.1\tlocalhost\n");
    if input.ipv6 {
        out.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
        out.push_str("fe00::\tip6-localnet\n");
        out.push_str("ff00::\tip6-mcastprefix\n");
        out.push_str("ff02::1\tip6-allnodes\n");
        out.push_str("ff02::2\tip6-allrouters\n");
    }
    for (name, ip) in &input.extra {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    if let Some(ip) = input.address {
        let names = if input.domainname.is_empty() {
            input.hostname.clone()
        } else {
            format!("{}.{} {}", input.hostname, input.domainname, input.hostname)
        };
        out.push_str(&format!("{ip}\t{names}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_shape() {
        let h = render(&HostsInput {
            address: Some("172.30.0.2".parse().unwrap()),
            hostname: "3f2a1b0c9d8e".into(),
            domainname: String::new(),
            extra: vec![("db".into(), "10.0.0.5".parse().unwrap())],
            ipv6: true,
        });
        assert_eq!(
            h,
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n10.0.0.5\tdb\n172.30.0.2\t3f2a1b0c9d8e\n"
        );
    }

    #[test]
    fn no_network_and_domain() {
        let h = render(&HostsInput {
            address: None,
            hostname: "web".into(),
            domainname: "example.org".into(),
            extra: vec![],
            ipv6: false,
        });
        assert_eq!(h, "127.0.0.1\tlocalhost\n");
        let h = render(&HostsInput {
            address: Some("10.1.0.2".parse().unwrap()),
            hostname: "web".into(),
            domainname: "example.org".into(),
            extra: vec![],
            ipv6: false,
        });
        assert!(h.ends_with("10.1.0.2\tweb.example.org web\n"));
    }
}

//! The embedded DNS server's logic, without sockets: the name table (a value rebuilt
//! on every network change) and the DNS wire format for what the server answers
//! itself: A/AAAA questions for container names (NODATA for AAAA) and PTR questions
//! for container addresses (`name.network.`, as docker does). Everything else is
//! relayed byte for byte to the upstream resolvers.
//!
//! Key decision: the wire handling is the small subset RFC 1035 needs for a single
//! question and A answers (header, one question, compressed answer names), so lookups
//! and responses are unit-tested as pure functions.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// Who can see which names: on user-defined networks, a container resolves the
/// names (container name, aliases, short id) of containers that share a network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsTable {
    /// Lowercased name -> (network id, address).
    names: BTreeMap<String, Vec<(String, Ipv4Addr)>>,
    /// Container id -> its user-defined networks.
    member: BTreeMap<String, BTreeSet<String>>,
    /// (network id, address) -> the PTR answer, docker's `name.network`.
    reverse: BTreeMap<(String, Ipv4Addr), String>,
}

impl DnsTable {
    /// Records a running container's endpoint on network `net`.
    pub fn add(&mut self, net: &str, cid: &str, names: &[String], ip: Ipv4Addr) {
        self.member
            .entry(cid.to_string())
            .or_default()
            .insert(net.to_string());
        for n in names {
            let n = n.trim_end_matches('.').to_ascii_lowercase();
            if n.is_empty() {
                continue;
            }
            let v = self.names.entry(n).or_default();
            if !v.contains(&(net.to_string(), ip)) {
                v.push((net.to_string(), ip));
            }
        }
    }

    /// Records the reverse name of `ip` on network `net` (id): docker answers PTR
    /// questions for container addresses with `<container name>.<network name>.`.
    pub fn add_reverse(&mut self, net: &str, ip: Ipv4Addr, name: &str, net_name: &str) {
        self.reverse
            .entry((net.to_string(), ip))
            .or_insert_with(|| format!("{name}.{net_name}"));
    }

    /// The PTR name of `ip` for container `cid`: only addresses on its networks.
    pub fn lookup_reverse(&self, cid: &str, ip: Ipv4Addr) -> Option<&str> {
        let nets = self.member.get(cid)?;
        nets.iter()
            .find_map(|n| self.reverse.get(&(n.clone(), ip)))
            .map(String::as_str)
    }

    /// The addresses `name` has for container `cid` (empty: not ours).
    pub fn lookup(&self, cid: &str, name: &str) -> Vec<Ipv4Addr> {
        let Some(nets) = self.member.get(cid) else {
            return Vec::new();
        };
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        self.names
            .get(&key)
            .map(|v| {
                v.iter()
                    .filter(|(n, _)| nets.contains(n))
                    .map(|(_, ip)| *ip)
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_PTR: u16 = 12;
pub const RCODE_SERVFAIL: u8 = 2;

/// The single question of a standard query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// Offset of the byte after the question section.
    pub end: usize,
}

/// Parses a query; `None` for anything that is not a standard query with exactly one
/// question and uncompressed labels (those are relayed or dropped, never answered).
pub fn parse_query(b: &[u8]) -> Option<Question> {
    if b.len() < 12 {
        return None;
    }
    let flags = u16::from_be_bytes([b[2], b[3]]);
    let qr = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    let qdcount = u16::from_be_bytes([b[4], b[5]]);
    if qr || opcode != 0 || qdcount != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *b.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len & 0xc0 != 0 {
            return None;
        }
        let label = b.get(i..i + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        i += len;
        if labels.len() > 127 {
            return None;
        }
    }
    let qtype = u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]);
    let qclass = u16::from_be_bytes([*b.get(i + 2)?, *b.get(i + 3)?]);
    Some(Question {
        id: u16::from_be_bytes([b[0], b[1]]),
        name: labels.join("."),
        qtype,
        qclass,
        end: i + 4,
    })
}

fn header(query: &[u8], rcode: u8, answers: u16) -> Vec<u8> {
    let rd = query[2] & 0x01;
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&query[0..2]);
    // QR, AA, RD as asked; RA.
    out.push(0x80 | 0x04 | rd);
    out.push(0x80 | (rcode & 0x0f));
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

/// The authoritative answer for a name we own: A records for an A question, an
/// empty NOERROR answer for other types (as docker's resolver does for AAAA).
pub fn answer(query: &[u8], q: &Question, ips: &[Ipv4Addr]) -> Vec<u8> {
    let a = if q.qtype == TYPE_A { ips } else { &[] };
    let mut out = header(query, 0, a.len() as u16);
    out.extend_from_slice(&query[12..q.end]);
    for ip in a {
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&600u32.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// The address a reverse name (`d.c.b.a.in-addr.arpa`, already lowercased) stands
/// for; `None` for anything else (partial zones, IPv6, junk).
pub fn reverse_ip(name: &str) -> Option<Ipv4Addr> {
    let rest = name.trim_end_matches('.').strip_suffix(".in-addr.arpa")?;
    let mut o = [0u8; 4];
    let mut parts = rest.split('.');
    for slot in o.iter_mut().rev() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(o))
}

/// The authoritative PTR answer: `fqdn` (e.g. `web.mynet`) as an absolute name.
/// `None` when a label does not fit the wire format (then the query is relayed).
pub fn answer_ptr(query: &[u8], q: &Question, fqdn: &str) -> Option<Vec<u8>> {
    let mut rdata = Vec::new();
    for l in fqdn.trim_end_matches('.').split('.') {
        if l.is_empty() || l.len() > 63 {
            return None;
        }
        rdata.push(l.len() as u8);
        rdata.extend_from_slice(l.as_bytes());
    }
    rdata.push(0);
    if rdata.len() > 255 {
        return None;
    }
    let mut out = header(query, 0, 1);
    out.extend_from_slice(&query[12..q.end]);
    out.extend_from_slice(&[0xc0, 0x0c]);
    out.extend_from_slice(&TYPE_PTR.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&600u32.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    Some(out)
}

/// The names of the PTR records of a response (for tests).
pub fn parse_ptr_answers(b: &[u8]) -> Option<Vec<String>> {
    let mut c = b.to_vec();
    *c.get_mut(2)? &= 0x7f;
    let q = parse_query(&c)?;
    let count = u16::from_be_bytes([b[6], b[7]]);
    let mut i = q.end;
    let mut out = Vec::new();
    for _ in 0..count {
        if *b.get(i)? & 0xc0 != 0xc0 {
            return None;
        }
        i += 2;
        let t = u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]);
        let len = u16::from_be_bytes([*b.get(i + 8)?, *b.get(i + 9)?]) as usize;
        let data = b.get(i + 10..i + 10 + len)?;
        if t == TYPE_PTR {
            let mut labels = Vec::new();
            let mut j = 0;
            while *data.get(j)? != 0 {
                let l = data[j] as usize;
                labels.push(String::from_utf8_lossy(data.get(j + 1..j + 1 + l)?).into_owned());
                j += 1 + l;
            }
            out.push(format!("{}.", labels.join(".")));
        }
        i += 10 + len;
    }
    Some(out)
}

/// The largest UDP response the client of `query` accepts: its EDNS(0) OPT record's
/// payload size (at least 512), else RFC 1035's 512 bytes.
pub fn udp_limit(query: &[u8], q: &Question) -> usize {
    let arcount = query
        .get(10..12)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    // The OPT record right after the question: root name, type 41, class = size.
    match query.get(q.end..q.end + 5) {
        Some(&[0, 0, 41, hi, lo]) if arcount >= 1 => {
            usize::from(u16::from_be_bytes([hi, lo])).max(512)
        }
        _ => 512,
    }
}

/// `resp` cut to fit a UDP datagram of `limit` bytes: when too large, the header and
/// question only, with TC set, so the client retries over TCP (as docker does).
pub fn fit_udp(resp: Vec<u8>, q: &Question, limit: usize) -> Vec<u8> {
    if resp.len() <= limit || resp.len() < q.end {
        return resp;
    }
    let mut out = resp[..q.end].to_vec();
    out[2] |= 0x02;
    out[6..12].fill(0);
    out
}

/// An error response (SERVFAIL when no upstream answered).
pub fn error(query: &[u8], q: &Question, rcode: u8) -> Vec<u8> {
    let mut out = header(query, rcode, 0);
    out.extend_from_slice(&query[12..q.end]);
    out
}

/// A query for tests and health checks: `name` type `qtype`, recursion desired.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for l in name.trim_end_matches('.').split('.') {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out
}

/// The A records of a response (for tests): rcode and addresses.
pub fn parse_answers(b: &[u8]) -> Option<(u8, Vec<Ipv4Addr>)> {
    let q = {
        // Re-use the query parser on a copy with QR cleared.
        let mut c = b.to_vec();
        *c.get_mut(2)? &= 0x7f;
        parse_query(&c)?
    };
    let rcode = b[3] & 0x0f;
    let count = u16::from_be_bytes([b[6], b[7]]);
    let mut i = q.end;
    let mut ips = Vec::new();
    for _ in 0..count {
        // Compressed name pointer or labels.
        if *b.get(i)? & 0xc0 == 0xc0 {
            i += 2;
        } else {
            while *b.get(i)? != 0 {
                i += 1 + *b.get(i)? as usize;
            }
            i += 1;
        }
        let t = u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]);
        let len = u16::from_be_bytes([*b.get(i + 8)?, *b.get(i + 9)?]) as usize;
        let data = b.get(i + 10..i + 10 + len)?;
        if t == TYPE_A && len == 4 {
            ips.push(Ipv4Addr::new(data[0], data[1], data[2], data[3]));
        }
        i += 10 + len;
    }
    Some((rcode, ips))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> DnsTable {
        let mut t = DnsTable::default();
        let ip1 = "10.1.0.2".parse().unwrap();
        let ip2 = "10.2.0.2".parse().unwrap();
        t.add(
            "n1",
            "c1",
            &["web".into(), "Front".into(), "c1short".into()],
            ip1,
        );
        t.add("n2", "c2", &["db".into()], ip2);
        t.add("n1", "c3", &["client".into()], "10.1.0.3".parse().unwrap());
        t
    }

    #[test]
    fn names_resolve_only_for_containers_sharing_a_network() {
        let t = table();
        let ip1: Ipv4Addr = "10.1.0.2".parse().unwrap();
        assert_eq!(t.lookup("c3", "web"), vec![ip1]);
        assert_eq!(t.lookup("c3", "FRONT."), vec![ip1], "case and trailing dot");
        assert_eq!(t.lookup("c3", "c1short"), vec![ip1]);
        assert!(t.lookup("c3", "db").is_empty(), "db is on another network");
        assert!(t.lookup("unknown", "web").is_empty());
        assert!(t.lookup("c3", "example.com").is_empty());
    }

    #[test]
    fn answers_round_trip_through_the_wire_format() {
        let q = build_query(0x1234, "Web", TYPE_A);
        let parsed = parse_query(&q).unwrap();
        assert_eq!(
            (parsed.id, parsed.name.as_str(), parsed.qtype),
            (0x1234, "web", TYPE_A)
        );
        let ips = table().lookup("c3", &parsed.name);
        let resp = answer(&q, &parsed, &ips);
        assert_eq!(&resp[0..2], &[0x12, 0x34]);
        assert_eq!(parse_answers(&resp), Some((0, ips)));
        let q6 = build_query(7, "web", TYPE_AAAA);
        let p6 = parse_query(&q6).unwrap();
        assert_eq!(parse_answers(&answer(&q6, &p6, &[])), Some((0, vec![])));
        assert_eq!(
            parse_answers(&error(&q6, &p6, RCODE_SERVFAIL)),
            Some((2, vec![]))
        );
    }

    #[test]
    fn ptr_questions_for_container_addresses_answer_name_dot_network() {
        let mut t = table();
        let ip1: Ipv4Addr = "10.1.0.2".parse().unwrap();
        t.add_reverse("n1", ip1, "Web", "mynet");
        t.add_reverse("n2", "10.2.0.2".parse().unwrap(), "db", "other");
        assert_eq!(reverse_ip("2.0.1.10.in-addr.arpa"), Some(ip1));
        assert_eq!(reverse_ip("2.0.1.10.in-addr.arpa."), Some(ip1));
        for bad in [
            "0.1.10.in-addr.arpa",
            "1.2.0.1.10.in-addr.arpa",
            "256.0.1.10.in-addr.arpa",
            "x.0.1.10.in-addr.arpa",
            "2..1.10.in-addr.arpa",
            "2.0.1.10.ip6.arpa",
            "in-addr.arpa",
        ] {
            assert_eq!(reverse_ip(bad), None, "{bad}");
        }
        assert_eq!(t.lookup_reverse("c3", ip1), Some("Web.mynet"), "case kept");
        assert_eq!(
            t.lookup_reverse("c3", "10.2.0.2".parse().unwrap()),
            None,
            "db is on another network"
        );
        // Reverse questions arrive in any case: the parser lowercases them.
        let q = build_query(9, "2.0.1.10.IN-ADDR.ARPA", TYPE_PTR);
        let p = parse_query(&q).unwrap();
        let ip = reverse_ip(&p.name).unwrap();
        let r = answer_ptr(&q, &p, t.lookup_reverse("c3", ip).unwrap()).unwrap();
        assert_eq!(parse_answers(&r).map(|a| a.0), Some(0));
        assert_eq!(parse_ptr_answers(&r), Some(vec!["Web.mynet.".to_string()]));
        assert_eq!(answer_ptr(&q, &p, &"x".repeat(64)), None);
    }

    #[test]
    fn a_name_we_own_without_aaaa_is_nodata_not_nxdomain() {
        let q = build_query(5, "WEB", TYPE_AAAA);
        let p = parse_query(&q).unwrap();
        let ips = table().lookup("c3", &p.name);
        assert!(!ips.is_empty());
        let r = answer(&q, &p, &ips);
        // NOERROR, authoritative, zero answers: the name exists, the type does not.
        assert_eq!(r[3] & 0x0f, 0);
        assert_eq!(r[2] & 0x04, 0x04);
        assert_eq!(parse_answers(&r), Some((0, vec![])));
    }

    #[test]
    fn udp_answers_too_large_are_truncated_with_tc() {
        let mut t = DnsTable::default();
        let names = ["many".to_string()];
        for i in 0..100u8 {
            t.add("n1", &format!("c{i}"), &names, Ipv4Addr::new(10, 1, 0, i));
        }
        let q = build_query(3, "many", TYPE_A);
        let p = parse_query(&q).unwrap();
        let full = answer(&q, &p, &t.lookup("c0", "many"));
        assert!(full.len() > 512);
        assert_eq!(udp_limit(&q, &p), 512);
        let cut = fit_udp(full.clone(), &p, udp_limit(&q, &p));
        assert_eq!(cut.len(), p.end);
        assert_eq!(cut[2] & 0x02, 0x02, "TC");
        assert_eq!(parse_answers(&cut), Some((0, vec![])));
        // With EDNS(0) advertising 4096 bytes, the whole answer fits.
        let mut q4 = q.clone();
        q4[11] = 1;
        q4.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        let p4 = parse_query(&q4).unwrap();
        assert_eq!(udp_limit(&q4, &p4), 4096);
        assert_eq!(fit_udp(full.clone(), &p4, 4096), full);
        // A small answer is untouched.
        let small = answer(&q, &p, &[Ipv4Addr::new(10, 1, 0, 1)]);
        assert_eq!(fit_udp(small.clone(), &p, 512), small);
    }

    #[test]
    fn hostile_packets_are_refused_without_panics() {
        let q = build_query(1, "web", TYPE_A);
        for bad in [
            vec![],
            q[..11].to_vec(),
            q[..q.len() - 1].to_vec(),
            {
                let mut r = q.clone();
                r[2] |= 0x80; // a response, not a query
                r
            },
            {
                let mut r = q.clone();
                r[12] = 0xc0; // compression in the question
                r
            },
            {
                let mut r = q.clone();
                r[12] = 60; // label longer than the packet
                r
            },
        ] {
            assert_eq!(parse_query(&bad), None, "{bad:?}");
            let _ = parse_answers(&bad);
            let _ = parse_ptr_answers(&bad);
        }
    }
}

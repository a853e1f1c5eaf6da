//! The embedded DNS server's logic, without sockets: the name table (a value rebuilt
//! on every network change) and the DNS wire format for the one thing the server
//! answers itself (A/AAAA questions for container names). Everything else is relayed
//! byte for byte to the upstream resolvers.
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
        }
    }
}

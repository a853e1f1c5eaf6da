//! Host port allocation for published ports: which (address, protocol, port) triples
//! are taken, docker's conflict rules (`0.0.0.0` clashes with every address), and a
//! random pick from the ephemeral range for `-p CPORT` / `-P`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::firewall::Proto;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("Bind for {0}:{1} failed: port is already allocated")]
    Allocated(Ipv4Addr, u16),
    #[error("no free host port in {0}-{1}")]
    Exhausted(u16, u16),
    #[error("invalid host port range: {0}")]
    BadRange(String),
}

/// The host ports a request may use: one port, a range, or any ephemeral port.
pub fn parse_host_port(s: &str) -> Result<Option<(u16, u16)>, PortError> {
    let s = s.trim();
    if s.is_empty() || s == "0" {
        return Ok(None);
    }
    let bad = || PortError::BadRange(s.to_string());
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok(Some((a, b)))
}

/// The kernel's ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`).
pub fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().filter_map(|x| x.parse().ok());
            Some((it.next()?, it.next()?))
        })
        .filter(|(a, b)| a <= b)
        .unwrap_or((32768, 60999))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortAllocator {
    used: BTreeSet<(Proto, Ipv4Addr, u16)>,
}

impl PortAllocator {
    pub fn is_free(&self, proto: Proto, ip: Ipv4Addr, port: u16) -> bool {
        !self.used.iter().any(|(p, i, n)| {
            *p == proto && *n == port && (*i == ip || i.is_unspecified() || ip.is_unspecified())
        })
    }

    /// Takes a port of `range` (or of `ephemeral` when `None`). A single requested
    /// port that is taken is docker's "port is already allocated"; ranges and random
    /// picks skip taken ports and those `usable` refuses (bound by another process).
    pub fn allocate(
        &mut self,
        proto: Proto,
        ip: Ipv4Addr,
        range: Option<(u16, u16)>,
        ephemeral: (u16, u16),
        mut usable: impl FnMut(u16) -> bool,
    ) -> Result<u16, PortError> {
        if let Some((a, b)) = range
            && a == b
        {
            if !self.is_free(proto, ip, a) {
                return Err(PortError::Allocated(ip, a));
            }
            self.used.insert((proto, ip, a));
            return Ok(a);
        }
        let (lo, hi) = range.unwrap_or(ephemeral);
        let span = u32::from(hi - lo) + 1;
        let mut seed = [0u8; 4];
        let _ = getrandom::fill(&mut seed);
        let start = u32::from_le_bytes(seed) % span;
        for i in 0..span {
            let port = lo + ((start + i) % span) as u16;
            if self.is_free(proto, ip, port) && usable(port) {
                self.used.insert((proto, ip, port));
                return Ok(port);
            }
        }
        Err(PortError::Exhausted(lo, hi))
    }

    /// Marks a port as taken (restoring state after a restart).
    pub fn take(&mut self, proto: Proto, ip: Ipv4Addr, port: u16) {
        self.used.insert((proto, ip, port));
    }

    pub fn release(&mut self, proto: Proto, ip: Ipv4Addr, port: u16) {
        self.used.remove(&(proto, ip, port));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: Ipv4Addr = Ipv4Addr::UNSPECIFIED;

    #[test]
    fn host_port_specs() {
        assert_eq!(parse_host_port(""), Ok(None));
        assert_eq!(parse_host_port("8080"), Ok(Some((8080, 8080))));
        assert_eq!(parse_host_port("8000-8010"), Ok(Some((8000, 8010))));
        for bad in ["x", "10-5", "-1", "70000", "0-3"] {
            assert!(parse_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_taken_port_is_already_allocated_on_any_overlapping_address() {
        let mut a = PortAllocator::default();
        let lo = "127.0.0.1".parse().unwrap();
        a.allocate(Proto::Tcp, lo, Some((8080, 8080)), (1, 2), |_| true)
            .unwrap();
        let e = a
            .allocate(Proto::Tcp, ANY, Some((8080, 8080)), (1, 2), |_| true)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bind for 0.0.0.0:8080 failed: port is already allocated"
        );
        // Another protocol or another specific address is fine.
        a.allocate(Proto::Udp, ANY, Some((8080, 8080)), (1, 2), |_| true)
            .unwrap();
        a.allocate(
            Proto::Tcp,
            "10.0.0.1".parse().unwrap(),
            Some((8080, 8080)),
            (1, 2),
            |_| true,
        )
        .unwrap();
        a.release(Proto::Tcp, lo, 8080);
        assert!(
            a.is_free(Proto::Tcp, lo, 8080),
            "the 10.0.0.1 binding is separate"
        );
        assert!(!a.is_free(Proto::Tcp, ANY, 8080));
    }

    #[test]
    fn ranges_and_random_picks_skip_taken_and_unusable_ports() {
        let mut a = PortAllocator::default();
        let p1 = a
            .allocate(Proto::Tcp, ANY, Some((9000, 9001)), (1, 2), |p| p != 9000)
            .unwrap();
        assert_eq!(p1, 9001);
        assert_eq!(
            a.allocate(Proto::Tcp, ANY, Some((9000, 9001)), (1, 2), |p| p != 9000),
            Err(PortError::Exhausted(9000, 9001))
        );
        let r = a
            .allocate(Proto::Tcp, ANY, None, (40000, 40009), |_| true)
            .unwrap();
        assert!((40000..=40009).contains(&r));
    }
}

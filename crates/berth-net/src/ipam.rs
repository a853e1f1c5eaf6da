//! Address management: picking a free subnet for a new network from the address pools
//! (skipping every range already routed on the host, so berth never collides with
//! docker0, a podman network or the host's own LAN), and handing out addresses inside
//! a subnet.

use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// A pool subnets are carved from: `base` split into subnets of prefix `size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub base: Ipv4Net,
    pub size: u8,
}

/// docker's `default-address-pools`: 172.17–31.0.0/16 and 192.168.0.0/16 in /20s.
pub fn default_pools() -> Vec<Pool> {
    vec![
        Pool {
            base: "172.17.0.0/16".parse().expect("literal"),
            size: 16,
        },
        Pool {
            base: "172.18.0.0/15".parse().expect("literal"),
            size: 16,
        },
        Pool {
            base: "172.20.0.0/14".parse().expect("literal"),
            size: 16,
        },
        Pool {
            base: "172.24.0.0/13".parse().expect("literal"),
            size: 16,
        },
        Pool {
            base: "192.168.0.0/16".parse().expect("literal"),
            size: 20,
        },
    ]
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IpamError {
    #[error(
        "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network"
    )]
    PoolsExhausted,
    #[error("no available IPv4 addresses on this network's address pools: {0}")]
    SubnetFull(Ipv4Net),
    #[error("address {0} is not in subnet {1}")]
    OutOfRange(Ipv4Addr, Ipv4Net),
    #[error("Address already in use")]
    InUse(Ipv4Addr),
    #[error("invalid pool request: Pool overlaps with other one on this address space")]
    Overlap(Ipv4Net),
}

/// The first subnet from `pools` that overlaps nothing in `taken` (host routes and
/// other networks' subnets).
pub fn pick_subnet(pools: &[Pool], taken: &[Ipv4Net]) -> Result<Ipv4Net, IpamError> {
    for pool in pools {
        let Ok(subnets) = pool.base.subnets(pool.size) else {
            continue;
        };
        for candidate in subnets {
            if !taken.iter().any(|t| overlaps(t, &candidate)) {
                return Ok(candidate);
            }
        }
    }
    Err(IpamError::PoolsExhausted)
}

/// A user-given subnet must not overlap another network's or a host route.
pub fn check_subnet(subnet: Ipv4Net, taken: &[Ipv4Net]) -> Result<(), IpamError> {
    if taken.iter().any(|t| overlaps(t, &subnet)) {
        return Err(IpamError::Overlap(subnet));
    }
    Ok(())
}

pub fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The gateway docker gives a subnet: its first host address.
pub fn gateway_of(subnet: Ipv4Net) -> Ipv4Addr {
    subnet.hosts().next().unwrap_or(subnet.network())
}

/// Addresses handed out in one subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocator {
    subnet: Ipv4Net,
    /// Where dynamic allocation may pick from (`--ip-range`), defaults to the subnet.
    range: Ipv4Net,
    used: BTreeSet<Ipv4Addr>,
}

impl Allocator {
    pub fn new(subnet: Ipv4Net, range: Option<Ipv4Net>, gateway: Ipv4Addr) -> Allocator {
        let mut used = BTreeSet::new();
        used.insert(gateway);
        Allocator {
            subnet,
            range: range.unwrap_or(subnet),
            used,
        }
    }

    /// The lowest free address of the range (docker picks sequentially).
    pub fn allocate(&mut self) -> Result<Ipv4Addr, IpamError> {
        let ip = self
            .range
            .hosts()
            .find(|ip| {
                self.subnet.contains(ip)
                    && !self.used.contains(ip)
                    && *ip != self.subnet.broadcast()
            })
            .ok_or(IpamError::SubnetFull(self.subnet))?;
        self.used.insert(ip);
        Ok(ip)
    }

    /// Takes a specific address (`--ip`).
    pub fn reserve(&mut self, ip: Ipv4Addr) -> Result<(), IpamError> {
        if !self.subnet.contains(&ip)
            || ip == self.subnet.network()
            || ip == self.subnet.broadcast()
        {
            return Err(IpamError::OutOfRange(ip, self.subnet));
        }
        if !self.used.insert(ip) {
            return Err(IpamError::InUse(ip));
        }
        Ok(())
    }

    pub fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&ip);
    }

    pub fn in_use(&self) -> impl Iterator<Item = &Ipv4Addr> {
        self.used.iter()
    }
}

/// Parses the destinations of the host's IPv4 routes from `/proc/net/route` text
/// (hex fields), skipping the default route.
pub fn routes_from_proc(text: &str) -> Vec<Ipv4Net> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dest), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        // The kernel prints the network-order word as a host integer: its native
        // bytes are the address bytes.
        let dest = Ipv4Addr::from(dest.to_ne_bytes());
        let mask = Ipv4Addr::from(mask.to_ne_bytes());
        let prefix = u32::from(mask).leading_ones() as u8;
        if prefix == 0 {
            continue;
        }
        if let Ok(net) = Ipv4Net::new(dest, prefix) {
            out.push(net.trunc());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn skips_routed_ranges() {
        let taken = vec![n("172.17.0.0/16"), n("172.18.5.0/24"), n("10.0.0.0/8")];
        assert_eq!(
            pick_subnet(&default_pools(), &taken).unwrap(),
            n("172.19.0.0/16")
        );
        assert_eq!(
            pick_subnet(&default_pools(), &[]).unwrap(),
            n("172.17.0.0/16")
        );
    }

    #[test]
    fn falls_through_to_192_168_and_exhausts() {
        let taken = vec![n("172.16.0.0/12")];
        assert_eq!(
            pick_subnet(&default_pools(), &taken).unwrap(),
            n("192.168.0.0/20")
        );
        let all = vec![n("172.16.0.0/12"), n("192.168.0.0/16")];
        assert_eq!(
            pick_subnet(&default_pools(), &all),
            Err(IpamError::PoolsExhausted)
        );
    }

    #[test]
    fn user_subnet_overlap_is_refused() {
        assert!(check_subnet(n("172.17.1.0/24"), &[n("172.17.0.0/16")]).is_err());
        assert!(check_subnet(n("10.99.0.0/24"), &[n("172.17.0.0/16")]).is_ok());
    }

    #[test]
    fn allocation_is_sequential_and_skips_gateway() {
        let s = n("10.5.0.0/29");
        let mut a = Allocator::new(s, None, gateway_of(s));
        assert_eq!(gateway_of(s), "10.5.0.1".parse::<Ipv4Addr>().unwrap());
        let got: Vec<Ipv4Addr> = (0..5).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(got.first().unwrap().to_string(), "10.5.0.2");
        assert_eq!(got.last().unwrap().to_string(), "10.5.0.6");
        assert_eq!(a.allocate(), Err(IpamError::SubnetFull(s)));
        a.release("10.5.0.4".parse().unwrap());
        assert_eq!(a.allocate().unwrap().to_string(), "10.5.0.4");
    }

    #[test]
    fn reserve_checks_range_and_use() {
        let s = n("10.5.0.0/24");
        let mut a = Allocator::new(s, Some(n("10.5.0.128/25")), gateway_of(s));
        assert_eq!(a.allocate().unwrap().to_string(), "10.5.0.129");
        a.reserve("10.5.0.7".parse().unwrap()).unwrap();
        assert_eq!(
            a.reserve("10.5.0.7".parse().unwrap()),
            Err(IpamError::InUse("10.5.0.7".parse().unwrap()))
        );
        assert!(a.reserve("10.6.0.7".parse().unwrap()).is_err());
        assert!(a.reserve("10.5.0.255".parse().unwrap()).is_err());
    }

    #[test]
    fn proc_net_route() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(
            routes_from_proc(text),
            vec![n("192.168.2.0/24"), n("172.17.0.0/16")]
        );
    }
}

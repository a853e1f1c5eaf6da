//! Container networking: the files a container resolves names with (`/etc/hosts`,
//! `/etc/resolv.conf`), address management, bridges, veths and
//! namespaces (`link`), berth's nftables table (`firewall`) and host port allocation.
//!
//! Key decision: every piece of state here is a value computed from inputs by a pure
//! function (the hosts file from the container's names and links, resolv.conf from the
//! host's and the user's options, an allocation from the pool and what is in use), so
//! it is unit-tested without sockets, namespaces or root; the side effects live at the
//! edges.

#[cfg(test)]
mod conformance;
pub mod dns;
pub mod firewall;
pub mod hosts;
pub mod ipam;
pub mod link;
pub mod ports;
pub mod resolv;

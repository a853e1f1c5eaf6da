//! Everything between a container's configuration and a running process: the OCI
//! runtime spec berth generates (docker's confinement defaults: capabilities, the
//! default seccomp profile, masked and read-only paths, a minimal `/dev`, cgroup
//! limits), and, in later work, the runtime drivers and the shim.
//!
//! Key decision: spec generation is a pure function of a [`spec::ContainerSpec`] and
//! the host facts it is given ([`cgroups::CgroupLayout`], the architecture), so every
//! default docker applies is unit-tested without root and without starting anything.

pub mod caps;
pub mod cgroups;
pub mod driver;
pub mod oci;
pub mod rootfs;
pub mod seccomp;
pub mod shim;
pub mod spec;
pub mod stats;
pub mod user;

pub use spec::{ContainerSpec, SpecError, generate};

//! One module per API resource. Routes parse requests, call a backend, and convert
//! to `berth-api` wire types; they hold no state of their own.

pub mod archive;
pub mod build;
pub mod container_resources;
pub mod containers;
pub mod events;
pub mod exec;
pub mod images;
pub mod networks;
pub mod registry;
pub mod system;
pub mod volumes;

#[cfg(test)]
mod fake_tests;

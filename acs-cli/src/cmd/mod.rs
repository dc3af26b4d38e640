//! The subcommands.

pub mod alerts;
pub mod assignment;
pub mod client;
pub mod cpe_credentials;
pub mod cwmp;
pub mod devices;
pub mod dhcp;
pub mod files;
pub mod firmware;
pub mod get;
pub mod nbi;
pub mod outcome;
pub mod output;
pub mod provision;
pub mod rpc;
pub mod serve;
pub mod sim;
pub mod submit;
pub mod target;
pub mod tasks;
pub mod token;
pub mod upload;

use anyhow::Context as _;
use std::io::Read as _;

/// Reads a file, or standard input for `-`.
pub fn read_input(path: &str) -> anyhow::Result<Vec<u8>> {
    if path == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {path}"))
    }
}

//! The core of `acs`, a TR-069 (CWMP) Auto-Configuration Server: everything that is neither
//! HTTP serving nor the command line.
//!
//! - [`cwmp`]: the SOAP codec (pure, no I/O).
//! - [`auth`]: HTTP Basic and Digest authentication of CPEs (pure, clock passed in).
//! - [`secret`]: a string that never prints.

pub mod auth;
pub mod cwmp;
pub mod secret;

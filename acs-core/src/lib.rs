//! The core of `acs`, a TR-069 (CWMP) Auto-Configuration Server: everything that is neither
//! HTTP serving nor the command line.
//!
//! - [`cwmp`]: the SOAP codec (pure, no I/O).
#![warn(missing_docs)]

pub mod cwmp;

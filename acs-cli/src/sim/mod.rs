//! The CPE simulator: thousands of simulated TR-069 devices in one process.

pub mod model;
pub mod profile;

//! `[connection_request]`: timeouts, authentication and fan-out of connection requests.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[connection_request]`: how the ACS wakes devices (TR-069 §3.2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionRequestSettings {
    /// Upper bound for one connection request, the Digest challenge round trip included.
    pub timeout_secs: u64,
    /// Answer a CPE that offers only Basic authentication. Off by default: connection-request
    /// URLs are plain HTTP, where Basic sends the password in clear text.
    pub allow_basic: bool,
    /// Connection requests in flight at once when many devices are woken (bulk jobs).
    pub concurrency: usize,
    /// Seconds between two connection requests to one device, unless its session has started
    /// in between. Default 30: a burst of operator commands wakes a device once.
    pub min_interval_secs: u64,
    /// Devices whose last connection request is remembered at most (bounded memory); beyond
    /// it, new devices are refused as rate limited until old entries expire. Default 1000000.
    pub max_tracked_devices: usize,
}

impl Default for ConnectionRequestSettings {
    fn default() -> Self {
        Self {
            timeout_secs: 10,
            allow_basic: false,
            concurrency: 50,
            min_interval_secs: 30,
            max_tracked_devices: 1_000_000,
        }
    }
}

impl From<&ConnectionRequestSettings> for crate::connreq::ConnReqConfig {
    fn from(s: &ConnectionRequestSettings) -> Self {
        crate::connreq::ConnReqConfig {
            timeout: Duration::from_secs(s.timeout_secs),
            allow_basic: s.allow_basic,
            min_interval: Duration::from_secs(s.min_interval_secs),
            concurrency: s.concurrency,
            max_tracked_devices: s.max_tracked_devices,
        }
    }
}

impl ConnectionRequestSettings {
    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        if !(1..=300).contains(&self.timeout_secs) {
            bad(
                "connection_request.timeout_secs",
                format!("must be 1 to 300, got {}", self.timeout_secs),
            );
        }
        if !(1..=10_000).contains(&self.concurrency) {
            bad(
                "connection_request.concurrency",
                format!("must be 1 to 10000, got {}", self.concurrency),
            );
        }
    }
}

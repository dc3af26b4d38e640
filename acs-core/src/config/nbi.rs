//! `[nbi]`: where the northbound REST API listens.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::cwmp::TlsSettings;
use super::load::socket_addr;

/// `[nbi]`: the northbound interface (REST API for operators and scripts).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NbiSettings {
    /// Address and port of the REST API. Default `127.0.0.1:7557`: reachable only from this
    /// host. Expose it (e.g. `0.0.0.0:7557`) only on a management network; the container image
    /// does so and the compose file publishes it on 127.0.0.1 only.
    #[serde(deserialize_with = "socket_addr")]
    pub listen: SocketAddr,
    /// Worker threads of the API listener. Unset: one per CPU core.
    pub workers: Option<usize>,
    /// `[nbi.tls]`: serve the API, the console and the metrics over HTTPS with this
    /// certificate (API tokens and console passwords then never cross the network in clear).
    pub tls: Option<TlsSettings>,
}

impl Default for NbiSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7557)),
            workers: None,
            tls: None,
        }
    }
}

impl NbiSettings {
    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        super::cwmp::check_workers("nbi.workers", self.workers, bad);
        if let Some(tls) = &self.tls {
            for (key, path) in [("nbi.tls.cert", &tls.cert), ("nbi.tls.key", &tls.key)] {
                if !path.is_file() {
                    bad(key, format!("file {} does not exist", path.display()));
                }
            }
        }
    }
}

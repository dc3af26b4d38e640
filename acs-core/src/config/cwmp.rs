//! `[cwmp]`: the listener CPEs talk to, its TLS, timeouts and trusted proxies.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::IpNetwork;
use super::load::{socket_addr, string_or_list};

/// Lowest accepted `cwmp.keep_alive_secs`.
pub const MIN_KEEP_ALIVE_SECS: u64 = 30;

/// `[cwmp]`: the endpoint CPEs talk to (TR-069 ACS URL).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CwmpSettings {
    /// Address and port to listen on, `IP:port` (`[::]:7547` for IPv6). Default `0.0.0.0:7547`,
    /// the IANA port for CWMP; CPEs must be able to reach it.
    #[serde(deserialize_with = "socket_addr")]
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate chain and key (PEM files). Unset: plain HTTP, in which
    /// case TR-069 allows only Digest authentication. Without it, terminate TLS in a proxy and
    /// list the proxy in `trusted_proxies`.
    pub tls: Option<TlsSettings>,
    /// Seconds a CWMP session may stay idle (no request from the CPE) before the ACS forgets it.
    /// Default 60. A CPE that resumes later starts over with a new Inform.
    pub session_timeout_secs: u64,
    /// Largest request body accepted, in bytes. Default 16 MiB (16777216): GetParameterValues
    /// responses of a large data model are several MiB. Bigger requests get 413.
    pub max_body_bytes: usize,
    /// Seconds a request body may take to arrive, from the end of its headers. Default 30. A
    /// body that trickles, or a chunked body that never ends, is cut off (408, connection
    /// closed) so a slow client cannot hold a worker's memory indefinitely.
    pub body_timeout_secs: u64,
    /// Seconds an idle HTTP keep-alive connection is held open between the requests of a session.
    /// Default 60, minimum 30: CPEs keep one TCP connection per session and some take many
    /// seconds to compute a response; closing too early breaks sessions.
    pub keep_alive_secs: u64,
    /// Reverse proxies / load balancers (IP addresses or CIDR networks, e.g. `10.0.0.0/8`) whose
    /// `X-Forwarded-For` header is believed. From anyone else the header is ignored and the
    /// TCP peer is the client address (used for the authentication failure limiter and logs).
    /// Default empty. In environment variables: comma-separated.
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<IpNetwork>,
    /// The URL CPEs use to reach this server (e.g. `https://acs.example.net:7547`), needed when
    /// it differs from `listen` (NAT, proxies, DNS names): file download URLs given to CPEs are
    /// built from it. Unset: derived from the request.
    pub public_url: Option<String>,
    /// On `0 BOOTSTRAP`, give the device random connection-request credentials
    /// (ManagementServer.ConnectionRequestUsername/Password) and store them once it has applied
    /// them: CPEs read passwords back empty, so only credentials the ACS set are usable.
    pub provision_connection_request_credentials: bool,
    /// Set HoldRequests on the InformResponse and on every ACS request while the ACS has work
    /// queued for the device (TR-069 §3.7.1.4), so that work runs before the CPE's own requests
    /// (TransferComplete, GetRPCMethods). Default off: some agents mishandle the header.
    pub hold_requests: bool,
    /// Worker threads of the CWMP listener. Unset: one per CPU core.
    pub workers: Option<usize>,
}

impl Default for CwmpSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 7547)),
            tls: None,
            session_timeout_secs: 60,
            max_body_bytes: 16 * 1024 * 1024,
            body_timeout_secs: 30,
            keep_alive_secs: 60,
            trusted_proxies: Vec::new(),
            public_url: None,
            provision_connection_request_credentials: true,
            hold_requests: false,
            workers: None,
        }
    }
}

impl CwmpSettings {
    pub fn session_timeout(&self) -> Duration {
        Duration::from_secs(self.session_timeout_secs)
    }

    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }

    /// Whether `peer` is one of `trusted_proxies`, i.e. its `X-Forwarded-For` is believed.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(peer))
    }

    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        check_workers("cwmp.workers", self.workers, bad);
        if let Some(tls) = &self.tls {
            for (key, path) in [("cwmp.tls.cert", &tls.cert), ("cwmp.tls.key", &tls.key)] {
                if !path.is_file() {
                    bad(key, format!("file {} does not exist", path.display()));
                }
            }
        }
        if self.session_timeout_secs == 0 {
            bad("cwmp.session_timeout_secs", "must be at least 1".into());
        }
        if self.body_timeout_secs == 0 {
            bad("cwmp.body_timeout_secs", "must be at least 1".into());
        }
        if self.max_body_bytes < 64 * 1024 {
            bad(
                "cwmp.max_body_bytes",
                format!(
                    "{} is too small for CWMP messages; use at least 65536",
                    self.max_body_bytes
                ),
            );
        }
        if self.keep_alive_secs < MIN_KEEP_ALIVE_SECS {
            bad(
                "cwmp.keep_alive_secs",
                format!(
                    "{} is below the minimum of {MIN_KEEP_ALIVE_SECS}: CPEs hold one connection \
                     for a whole session and can take long to answer",
                    self.keep_alive_secs
                ),
            );
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bad(
                "cwmp.public_url",
                format!("{url:?} must start with http:// or https://"),
            );
        }
    }
}

/// `[cwmp.tls]` and `[nbi.tls]`: a listener's server certificate for HTTPS.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1). Keep it readable only by the ACS.
    pub key: PathBuf,
}

/// A listener's `workers`: unset (one per core) or at least 1.
pub(super) fn check_workers(key: &str, workers: Option<usize>, bad: &mut impl FnMut(&str, String)) {
    if workers == Some(0) {
        bad(key, "must be at least 1 (or unset: one per core)".into());
    }
}

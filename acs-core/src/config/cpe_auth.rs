//! `[cpe_auth]`: how CPEs authenticate, their credentials and the failure limiter.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::load::string_or_list;
use crate::auth::{CpeAuthMode, DigestAlgorithm, LimiterConfig};
use crate::secret::Secret;

/// `[cpe_auth]`: how CPEs authenticate to the ACS (TR-069 §3.4.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpeAuthSettings {
    /// `none`, `basic` or `digest`. Unset: `digest` when `username`/`password` or `devices` are
    /// configured, otherwise `none`; see [`CpeAuthSettings::effective_mode`]. `basic` sends the
    /// password in clear text and is refused without `cwmp.tls` unless `allow_insecure_basic`.
    pub mode: Option<CpeAuthMode>,
    /// Username every CPE uses (its `ManagementServer.Username`), unless it has an entry in
    /// `devices`.
    pub username: Option<String>,
    /// Password for `username` (`ManagementServer.Password`). Secret; prefer
    /// `ACS_CPE_AUTH__PASSWORD`.
    pub password: Option<Secret>,
    /// Realm sent in challenges. Default `acs`. Digest hashes include it, so changing it
    /// invalidates nothing stored but must match what pre-hashed CPE credentials assumed.
    pub realm: String,
    /// Allow `basic` over plain HTTP, e.g. when a TLS-terminating proxy sits in front. Default
    /// false. Anyone on the path between that proxy and the ACS sees the passwords.
    pub allow_insecure_basic: bool,
    /// Digest algorithms offered, in order: `MD5`, `SHA-256`. Default `["MD5"]`: many CPEs only
    /// implement MD5 and some fail on a second challenge; add `SHA-256` after testing your fleet.
    #[serde(deserialize_with = "string_or_list")]
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// Seconds a Digest nonce stays valid. Default 300. Expired nonces get a `stale=true`
    /// challenge, which CPEs answer without counting as a failure.
    pub nonce_lifetime_secs: u64,
    /// Per-device credentials: device id (`OUI-ProductClass-SerialNumber` or `OUI-SerialNumber`,
    /// as in the Inform's DeviceId) → username and password. A device listed here must use its
    /// own credentials. Set from the environment as
    /// `ACS_CPE_AUTH__DEVICES__<ID>__USERNAME` — environment names are lower-cased, so
    /// prefer the file for ids with upper-case letters.
    pub devices: BTreeMap<String, DeviceCredentials>,
    /// Give every device that bootstraps with the shared pair its own random ACS credentials
    /// (set through `ManagementServer.Username`/`.Password`, stored once the CPE applied them).
    /// After that the device is accepted only with its own pair; the shared pair still works
    /// for its `0 BOOTSTRAP` (a factory reset), which rotates again. Default false.
    pub provision_device_credentials: bool,
    /// Blocking of sources that keep failing authentication (online password guessing).
    pub limiter: LimiterSettings,
}

impl Default for CpeAuthSettings {
    fn default() -> Self {
        Self {
            mode: None,
            username: None,
            password: None,
            realm: "acs".to_owned(),
            allow_insecure_basic: false,
            digest_algorithms: vec![DigestAlgorithm::Md5],
            nonce_lifetime_secs: 300,
            devices: BTreeMap::new(),
            provision_device_credentials: false,
            limiter: LimiterSettings::default(),
        }
    }
}

impl CpeAuthSettings {
    /// The mode in force: `mode` if set, else `digest` when any credentials are configured,
    /// else `none`.
    pub fn effective_mode(&self) -> CpeAuthMode {
        match self.mode {
            Some(mode) => mode,
            None if self.has_credentials() => CpeAuthMode::Digest,
            None => CpeAuthMode::None,
        }
    }

    pub(super) fn has_credentials(&self) -> bool {
        self.username.is_some() || self.password.is_some() || !self.devices.is_empty()
    }

    pub fn nonce_lifetime(&self) -> Duration {
        Duration::from_secs(self.nonce_lifetime_secs)
    }

    /// The shared `username`/`password`, when both are set.
    pub fn shared_credentials(&self) -> Option<(&str, &Secret)> {
        Some((self.username.as_deref()?, self.password.as_ref()?))
    }

    /// The credentials configured for one device, if any.
    pub fn device_credentials(&self, device_id: &str) -> Option<&DeviceCredentials> {
        self.devices.get(device_id)
    }

    /// Adds what is wrong with these settings to `bad` (key, message); `tls` says whether the
    /// CWMP listener serves HTTPS, without which basic authentication is refused.
    pub(super) fn check(&self, tls: bool, bad: &mut impl FnMut(&str, String)) {
        match (&self.username, &self.password) {
            (Some(_), None) => bad(
                "cpe_auth.password",
                "missing: cpe_auth.username is set without a password".into(),
            ),
            (None, Some(_)) => bad(
                "cpe_auth.username",
                "missing: cpe_auth.password is set without a username".into(),
            ),
            _ => {}
        }
        if self.username.as_deref() == Some("") {
            bad("cpe_auth.username", "must not be empty".into());
        }
        if self.password.as_ref().is_some_and(Secret::is_empty) {
            bad("cpe_auth.password", "must not be empty".into());
        }
        if self.effective_mode() == CpeAuthMode::Basic && !tls && !self.allow_insecure_basic {
            bad(
                "cpe_auth.mode",
                "basic authentication sends passwords in clear text, and TR-069 allows it only \
                 over TLS: configure [cwmp.tls], use mode = \"digest\", or (TLS terminated by a \
                 proxy) set cpe_auth.allow_insecure_basic = true"
                    .into(),
            );
        }
        if self.realm.is_empty() || self.realm.contains(['"', '\\']) || has_control(&self.realm) {
            bad(
                "cpe_auth.realm",
                "must be non-empty, without quotes, backslashes or control characters".into(),
            );
        }
        if self.digest_algorithms.is_empty() {
            bad(
                "cpe_auth.digest_algorithms",
                "must list at least one of \"MD5\", \"SHA-256\"".into(),
            );
        }
        let mut seen = Vec::new();
        for alg in &self.digest_algorithms {
            if seen.contains(alg) {
                bad("cpe_auth.digest_algorithms", format!("{alg} listed twice"));
            }
            seen.push(*alg);
        }
        if self.nonce_lifetime_secs == 0 {
            bad("cpe_auth.nonce_lifetime_secs", "must be at least 1".into());
        }
        for (id, creds) in &self.devices {
            if id.is_empty() {
                bad("cpe_auth.devices", "device id must not be empty".into());
            }
            if creds.username.is_empty() {
                bad(
                    &format!("cpe_auth.devices.{id:?}.username"),
                    "must not be empty".into(),
                );
            }
            if creds.password.is_empty() {
                bad(
                    &format!("cpe_auth.devices.{id:?}.password"),
                    "must not be empty".into(),
                );
            }
        }
        if self.provision_device_credentials
            && (self.shared_credentials().is_none() || self.effective_mode() == CpeAuthMode::None)
        {
            bad(
                "cpe_auth.provision_device_credentials",
                "needs the shared cpe_auth.username/password (devices bootstrap with it) and \
                 authentication on"
                    .into(),
            );
        }
        let limiter = &self.limiter;
        for (key, value) in [
            (
                "cpe_auth.limiter.max_failures",
                u64::from(limiter.max_failures),
            ),
            ("cpe_auth.limiter.window_secs", limiter.window_secs),
            ("cpe_auth.limiter.block_secs", limiter.block_secs),
        ] {
            if value == 0 {
                bad(key, "must be at least 1".into());
            }
        }
    }
}

/// `[cpe_auth.devices."<device id>"]`: the credentials of one CPE.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceCredentials {
    pub username: String,
    /// Secret.
    pub password: Secret,
}

/// `[cpe_auth.limiter]`: per source address (IPv6: per /64).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimiterSettings {
    /// Failures within `window_secs` that block a source. Default 10. Behind carrier-grade NAT
    /// many CPEs share an address: keep this well above what one misconfigured CPE produces.
    pub max_failures: u32,
    /// Window, counted from a source's first failure, in seconds. Default 300.
    pub window_secs: u64,
    /// How long a blocked source is refused, in seconds. Default 300.
    pub block_secs: u64,
}

impl Default for LimiterSettings {
    fn default() -> Self {
        Self {
            max_failures: 10,
            window_secs: 300,
            block_secs: 300,
        }
    }
}

impl From<&LimiterSettings> for LimiterConfig {
    fn from(s: &LimiterSettings) -> Self {
        Self {
            max_failures: s.max_failures,
            window: Duration::from_secs(s.window_secs),
            block_for: Duration::from_secs(s.block_secs),
            max_sources: crate::auth::limiter::MAX_SOURCES,
            ipv6_prefix_len: crate::auth::limiter::IPV6_PREFIX_LEN,
        }
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

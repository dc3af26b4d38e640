//! HTTP authentication of CPEs on the CWMP endpoint (TR-069 §3.4.4), on top of the pure
//! verifiers in `acs_core::auth`.
//!
//! A request is authenticated when it opens a session (no live session matched it); the
//! session cookie, a 128-bit random value, carries the authentication for the rest of the
//! session. A failed attempt creates no session state and counts against its source address.

use acs_core::auth::{
    AuthFailure, AuthOutcome, CpeAuthMode, DigestAlgorithm, DigestAuthenticator, FailureLimiter,
    LimiterConfig, basic_challenge, verify_basic,
};
use acs_core::secret::Secret;
use acs_core::storage::{CredentialOrigin, Store};
use actix_web::HttpResponse;
use actix_web::http::header;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// How CPEs authenticate.
#[derive(Debug, Clone)]
pub struct CpeAuthConfig {
    /// None, Basic or Digest.
    pub mode: CpeAuthMode,
    /// The realm in challenges.
    pub realm: String,
    /// Shared username → password pairs: accepted from any device that has no credentials of
    /// its own (and, with `provision_device_credentials`, from any device's `0 BOOTSTRAP`).
    pub credentials: Vec<(String, Secret)>,
    /// Per-device pairs from the configuration file: (device id, username, password). More
    /// live in the database (`acs cpe-credentials`); both authenticate only their device.
    pub device_credentials: Vec<(String, String, Secret)>,
    /// Give devices that bootstrap with the shared pair their own random credentials.
    pub provision_device_credentials: bool,
    /// Digest algorithms offered.
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// How long a nonce stays valid.
    pub nonce_lifetime: Duration,
    /// Failed-attempt limits per source.
    pub limiter: LimiterConfig,
    /// Accept Basic over plain HTTP (TR-069 §3.4.4 allows Basic only over TLS).
    pub allow_insecure_basic: bool,
    /// HMAC key for nonces; random when `None` (nonces then do not survive a restart, which
    /// costs a CPE one extra challenge).
    pub nonce_key: Option<[u8; 32]>,
}

impl From<&acs_core::config::CpeAuthSettings> for CpeAuthConfig {
    fn from(auth: &acs_core::config::CpeAuthSettings) -> CpeAuthConfig {
        CpeAuthConfig {
            mode: auth.effective_mode(),
            realm: auth.realm.clone(),
            credentials: auth
                .shared_credentials()
                .map(|(u, p)| (u.to_owned(), p.clone()))
                .into_iter()
                .collect(),
            device_credentials: auth
                .devices
                .iter()
                .map(|(id, d)| (id.clone(), d.username.clone(), d.password.clone()))
                .collect(),
            provision_device_credentials: auth.provision_device_credentials,
            digest_algorithms: auth.digest_algorithms.clone(),
            nonce_lifetime: auth.nonce_lifetime(),
            limiter: (&auth.limiter).into(),
            allow_insecure_basic: auth.allow_insecure_basic,
            nonce_key: None,
        }
    }
}

impl Default for CpeAuthConfig {
    /// `[cpe_auth]` as `Settings::default()` has it.
    fn default() -> Self {
        CpeAuthConfig::from(&acs_core::config::CpeAuthSettings::default())
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid CPE authentication settings: {0}")]
pub struct CpeAuthConfigError(String);

/// The authenticator for the CWMP endpoint.
#[derive(Debug)]
pub struct CpeAuth {
    mode: CpeAuthMode,
    realm: String,
    digest: Option<DigestAuthenticator>,
    credentials: HashMap<String, Secret>,
    /// Configuration-file per-device pairs, by username: (device id, password).
    devices: HashMap<String, (String, Secret)>,
    /// Device ids that have configuration-file credentials.
    configured_devices: HashSet<String>,
    provision_device_credentials: bool,
    limiter: FailureLimiter,
    /// Per-device credentials in the database; `None` in setups without one (unit tests).
    store: Option<Store>,
    /// Bursts of failures per source, when a webhook wants `auth.failure_burst`.
    bursts: Option<acs_core::alerts::BurstDetector>,
}

/// Who a request authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The username presented.
    pub username: String,
    /// The device these credentials belong to; `None` for a shared pair.
    pub device_id: Option<String>,
    /// Credentials the ACS is still setting on the device (see `CredentialOrigin::Pending`).
    pub pending: bool,
}

/// The verdict on one request.
#[derive(Debug)]
pub enum Verdict {
    /// Go on; who authenticated, when authentication is on.
    Allowed(Option<Principal>),
    /// Answer with this response (401 with a challenge, 429 when the source is blocked, 503 when
    /// the credentials cannot be read; the last two with a reason that does not count).
    Refused(HttpResponse, AuthFailure),
}

/// Whether an authenticated principal may speak for the device an Inform names.
#[derive(Debug)]
pub enum Binding {
    /// Yes; `rotate` when the ACS should give the device credentials of its own now.
    Bound { rotate: bool },
    /// No: answer with this 401 (a fresh challenge); the failure is already recorded against
    /// the source.
    Refused(HttpResponse, &'static str),
    /// The credentials store could not be read: answer with this 503.
    Unavailable(HttpResponse),
}

impl CpeAuth {
    /// Builds the authenticator for a listener that is (`tls`) or is not encrypted.
    pub fn new(config: CpeAuthConfig, tls: bool) -> Result<Self, CpeAuthConfigError> {
        if config.mode == CpeAuthMode::Basic
            && !acs_core::auth::basic_allowed(tls, config.allow_insecure_basic)
        {
            return Err(CpeAuthConfigError(
                "Basic authentication sends the password in clear text; it needs TLS on the CWMP listener \
                 or allow_insecure_basic = true"
                    .into(),
            ));
        }
        let digest = match config.mode {
            CpeAuthMode::Digest => Some(
                DigestAuthenticator::new(
                    config.realm.clone(),
                    config
                        .nonce_key
                        .unwrap_or_else(DigestAuthenticator::random_key),
                    config.nonce_lifetime,
                    config.digest_algorithms.clone(),
                )
                .map_err(|e| CpeAuthConfigError(e.to_string()))?,
            ),
            _ => None,
        };
        let mut devices = HashMap::new();
        for (device_id, username, password) in config.device_credentials {
            if config.credentials.iter().any(|(u, _)| *u == username) {
                return Err(CpeAuthConfigError(format!(
                    "device {device_id:?} uses the shared username {username:?}: a device's \
                     credentials must name only that device"
                )));
            }
            if let Some((other, _)) =
                devices.insert(username.clone(), (device_id.clone(), password))
            {
                return Err(CpeAuthConfigError(format!(
                    "username {username:?} is configured for both {other:?} and {device_id:?}"
                )));
            }
        }
        Ok(CpeAuth {
            mode: config.mode,
            realm: config.realm,
            digest,
            credentials: config.credentials.into_iter().collect(),
            configured_devices: devices.values().map(|(d, _)| d.clone()).collect(),
            devices,
            provision_device_credentials: config.provision_device_credentials,
            limiter: FailureLimiter::new(config.limiter),
            store: None,
            bursts: None,
        })
    }

    /// Looks up per-device credentials in `store` as well as in the configuration.
    pub fn with_store(mut self, store: Store) -> Self {
        let routing = store.alert_routing();
        if routing
            .webhooks
            .iter()
            .any(|w| w.wants(acs_core::alerts::Event::AuthFailureBurst))
        {
            self.bursts = Some(acs_core::alerts::BurstDetector::new(routing.burst));
        }
        self.store = Some(store);
        self
    }

    /// Records a failed attempt of `source`: against the limiter, and towards a burst alert.
    fn failed(&self, source: IpAddr, now: SystemTime) {
        self.limiter.record_failure(source, now);
        let (Some(bursts), Some(store)) = (&self.bursts, &self.store) else {
            return;
        };
        if let Some((alert, start)) = bursts.failure(source, now) {
            let store = store.clone();
            let at = chrono::DateTime::<chrono::Utc>::from(start);
            tracing::warn!(%source, "burst of failed CPE authentications");
            // Stored off the request's path: the 401 does not wait for the database.
            tokio::spawn(async move {
                if let Err(e) = store.raise_alert(&alert, at).await {
                    tracing::warn!(error = %e, "the auth.failure_burst alert could not be stored");
                }
            });
        }
    }

    /// Whether the ACS gives bootstrapping devices their own credentials.
    pub fn provisions_device_credentials(&self) -> bool {
        self.provision_device_credentials
    }

    /// The password of a claimed username and who it belongs to: a shared pair, a
    /// configuration-file device entry, or a database row (one index lookup).
    async fn resolve(
        &self,
        username: &str,
    ) -> Result<Option<(Secret, Principal)>, acs_core::storage::StoreError> {
        let principal = |device_id: Option<String>, pending: bool| Principal {
            username: username.to_owned(),
            device_id,
            pending,
        };
        if let Some(secret) = self.credentials.get(username) {
            return Ok(Some((secret.clone(), principal(None, false))));
        }
        if let Some((device_id, secret)) = self.devices.get(username) {
            return Ok(Some((
                secret.clone(),
                principal(Some(device_id.clone()), false),
            )));
        }
        let Some(store) = &self.store else {
            return Ok(None);
        };
        Ok(store
            .device_credential_by_username(username)
            .await?
            .map(|c| {
                let pending = c.origin == CredentialOrigin::Pending;
                (c.password, principal(Some(c.device_id), pending))
            }))
    }

    /// The mode in force.
    pub fn mode(&self) -> CpeAuthMode {
        self.mode
    }

    /// Checks a request that stands on its own (a file download): [`CpeAuth::verify`], and a
    /// success clears the source's failures.
    pub async fn check(
        &self,
        method: &str,
        authorization: Option<&str>,
        source: IpAddr,
        now: SystemTime,
    ) -> Verdict {
        let verdict = self.verify(method, authorization, source, now).await;
        if let Verdict::Allowed(Some(_)) = verdict {
            self.limiter.record_success(source);
        }
        verdict
    }

    /// Checks the credentials of a request that opens a session. A success does not clear the
    /// source's failures yet: the session must still be bound to its device
    /// ([`CpeAuth::bind`]), or the right password for the wrong device could be tried forever.
    pub async fn verify(
        &self,
        method: &str,
        authorization: Option<&str>,
        source: IpAddr,
        now: SystemTime,
    ) -> Verdict {
        if self.mode == CpeAuthMode::None {
            return Verdict::Allowed(None);
        }
        if let Some(retry_after) = self.limiter.is_blocked(source, now) {
            let response = HttpResponse::TooManyRequests()
                .insert_header((
                    header::RETRY_AFTER,
                    retry_after.as_secs().max(1).to_string(),
                ))
                .body("too many failed authentication attempts from this address\n");
            return Verdict::Refused(response, AuthFailure::BadResponse);
        }
        // The verifier's lookup is synchronous: the claimed username's row is fetched first.
        let claimed = authorization.and_then(acs_core::auth::claimed_username);
        let resolved = match &claimed {
            Some(user) => match self.resolve(user).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "CPE credentials could not be read");
                    // Not the client's fault: a reason that does not count as a failure.
                    return Verdict::Refused(unavailable(), AuthFailure::Missing);
                }
            },
            None => None,
        };
        let lookup = |user: &str| {
            resolved
                .as_ref()
                .filter(|(_, p)| p.username == user)
                .map(|(secret, _)| secret.clone())
        };
        let outcome = match &self.digest {
            Some(digest) => digest.verify(method, authorization, now, &lookup),
            None => verify_basic(authorization, &lookup),
        };
        match outcome {
            AuthOutcome::Authenticated { username } => {
                let principal = resolved.map(|(_, p)| p).filter(|p| p.username == username);
                Verdict::Allowed(principal)
            }
            AuthOutcome::Stale => {
                Verdict::Refused(self.challenge(now, true), AuthFailure::BadNonce)
            }
            AuthOutcome::Failed { reason } => {
                if reason.counts_as_failure() {
                    self.failed(source, now);
                }
                Verdict::Refused(self.challenge(now, false), reason)
            }
        }
    }

    /// Decides whether `principal` may open a session for `device_id` (the Inform's
    /// `OUI-ProductClass-SerialNumber`): a device's credentials authenticate only that device,
    /// and a device with credentials of its own cannot use a shared pair, except for its
    /// `0 BOOTSTRAP` when the ACS provisions device credentials (a factory-reset device comes
    /// back with the shared pair and gets new credentials). A refusal counts as a failed
    /// attempt of `source`.
    pub async fn bind(
        &self,
        principal: &Principal,
        device_id: &str,
        bootstrap: bool,
        source: Option<IpAddr>,
        now: SystemTime,
    ) -> Binding {
        let bound = |rotate: bool| {
            if let Some(source) = source {
                self.limiter.record_success(source);
            }
            Binding::Bound { rotate }
        };
        let refuse = |why: &'static str| {
            if let Some(source) = source {
                self.failed(source, now);
            }
            Binding::Refused(self.challenge(now, false), why)
        };
        if let Some(own) = &principal.device_id {
            if own != device_id {
                return refuse("the credentials belong to another device");
            }
            if principal.pending
                && let Some(store) = &self.store
                && let Err(e) = store
                    .confirm_device_credential(device_id, &principal.username)
                    .await
            {
                // The pair is still accepted while pending; the next session confirms it.
                tracing::warn!(error = %e, "could not confirm the device's new credentials");
            }
            return bound(false);
        }
        if self.configured_devices.contains(device_id) {
            return refuse("the device has credentials of its own in the configuration");
        }
        let has_own = match &self.store {
            Some(store) => match store.has_device_credential(device_id).await {
                Ok(has) => has,
                Err(e) => {
                    tracing::warn!(error = %e, "CPE credentials could not be read");
                    return Binding::Unavailable(unavailable());
                }
            },
            None => false,
        };
        let rotate = self.provision_device_credentials && bootstrap;
        if has_own && !rotate {
            return refuse("the device has credentials of its own; the shared pair is refused");
        }
        bound(rotate)
    }

    fn challenge(&self, now: SystemTime, stale: bool) -> HttpResponse {
        let mut response = HttpResponse::Unauthorized();
        match &self.digest {
            Some(digest) => {
                for value in digest.challenge(now, stale) {
                    response.append_header((header::WWW_AUTHENTICATE, value));
                }
            }
            None => {
                response.append_header((header::WWW_AUTHENTICATE, basic_challenge(&self.realm)));
            }
        }
        response.finish()
    }
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "30"))
        .body("credentials storage unavailable; retry later\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(provision: bool) -> CpeAuthConfig {
        CpeAuthConfig {
            mode: CpeAuthMode::Digest,
            credentials: vec![("phones".into(), Secret::new("shared"))],
            device_credentials: vec![("DEV-C".into(), "phone-c".into(), Secret::new("pw-c"))],
            provision_device_credentials: provision,
            ..CpeAuthConfig::default()
        }
    }

    fn principal(username: &str, device_id: Option<&str>) -> Principal {
        Principal {
            username: username.into(),
            device_id: device_id.map(str::to_owned),
            pending: false,
        }
    }

    #[test]
    fn a_username_names_one_device() {
        let mut c = config(false);
        c.device_credentials
            .push(("DEV-D".into(), "phones".into(), Secret::new("x")));
        let e = CpeAuth::new(c, false).unwrap_err().to_string();
        assert!(e.contains("shared username"), "{e}");
        let mut c = config(false);
        c.device_credentials
            .push(("DEV-D".into(), "phone-c".into(), Secret::new("x")));
        let e = CpeAuth::new(c, false).unwrap_err().to_string();
        assert!(e.contains("DEV-C") && e.contains("DEV-D"), "{e}");
    }

    #[tokio::test]
    async fn bindings() {
        let now = SystemTime::now();
        let source = Some("192.0.2.1".parse().unwrap());
        let auth = CpeAuth::new(config(false), false).unwrap();
        let bind = |p: Principal, device: &'static str, bootstrap: bool| {
            let auth = &auth;
            async move { auth.bind(&p, device, bootstrap, source, now).await }
        };
        let c = principal("phone-c", Some("DEV-C"));
        assert!(matches!(
            bind(c.clone(), "DEV-C", false).await,
            Binding::Bound { rotate: false }
        ));
        assert!(matches!(
            bind(c, "DEV-X", false).await,
            Binding::Refused(r, _) if r.status() == 401
        ));
        let shared = principal("phones", None);
        assert!(matches!(
            bind(shared.clone(), "DEV-X", true).await,
            Binding::Bound { rotate: false }
        ));
        // A configuration-file device never uses the shared pair, not even to bootstrap.
        assert!(matches!(
            bind(shared.clone(), "DEV-C", true).await,
            Binding::Refused(..)
        ));
        let auth = CpeAuth::new(config(true), false).unwrap();
        assert!(matches!(
            auth.bind(&shared, "DEV-X", true, source, now).await,
            Binding::Bound { rotate: true }
        ));
        assert!(matches!(
            auth.bind(&shared, "DEV-X", false, source, now).await,
            Binding::Bound { rotate: false }
        ));
    }
}

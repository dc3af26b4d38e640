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
use actix_web::HttpResponse;
use actix_web::http::header;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// How CPEs authenticate.
#[derive(Debug, Clone)]
pub struct CpeAuthConfig {
    /// None, Basic or Digest.
    pub mode: CpeAuthMode,
    /// The realm in challenges.
    pub realm: String,
    /// Accepted username → password pairs (the shared pair and per-device pairs).
    pub credentials: Vec<(String, Secret)>,
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

impl Default for CpeAuthConfig {
    fn default() -> Self {
        CpeAuthConfig {
            mode: CpeAuthMode::None,
            realm: "acs".into(),
            credentials: Vec::new(),
            digest_algorithms: vec![DigestAlgorithm::Md5],
            nonce_lifetime: Duration::from_secs(300),
            limiter: LimiterConfig::default(),
            allow_insecure_basic: false,
            nonce_key: None,
        }
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
    limiter: FailureLimiter,
}

/// The verdict on one request.
#[derive(Debug)]
pub enum Verdict {
    /// Go on; the username when one was checked.
    Allowed(Option<String>),
    /// Answer with this response (401 with a challenge, or 429 when the source is blocked).
    Refused(HttpResponse, AuthFailure),
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
        if config.mode != CpeAuthMode::None && config.credentials.is_empty() {
            return Err(CpeAuthConfigError(format!(
                "mode {:?} needs at least one username and password",
                config.mode
            )));
        }
        Ok(CpeAuth {
            mode: config.mode,
            realm: config.realm,
            digest,
            credentials: config.credentials.into_iter().collect(),
            limiter: FailureLimiter::new(config.limiter),
        })
    }

    /// The mode in force.
    pub fn mode(&self) -> CpeAuthMode {
        self.mode
    }

    /// Checks a request that opens a session.
    pub fn check(
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
        let lookup = |user: &str| self.credentials.get(user).cloned();
        let outcome = match &self.digest {
            Some(digest) => digest.verify(method, authorization, now, &lookup),
            None => verify_basic(authorization, &lookup),
        };
        match outcome {
            AuthOutcome::Authenticated { username } => {
                self.limiter.record_success(source);
                Verdict::Allowed(Some(username))
            }
            AuthOutcome::Stale => {
                Verdict::Refused(self.challenge(now, true), AuthFailure::BadNonce)
            }
            AuthOutcome::Failed { reason } => {
                if reason.counts_as_failure() {
                    self.limiter.record_failure(source, now);
                }
                Verdict::Refused(self.challenge(now, false), reason)
            }
        }
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

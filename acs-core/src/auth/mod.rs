//! Authentication of CPEs by the ACS (TR-069 Amendment 6 §3.4.4 "CPE authentication").
//!
//! TR-069 requires a CPE that has no TLS client certificate to authenticate with HTTP
//! authentication: Basic only over TLS, Digest over plain HTTP; the ACS chooses by the
//! challenge it sends. This module is pure: the HTTP layer passes header strings, the client
//! address and the current time in, and turns the returned [`AuthOutcome`] into a response.
//!
//! Typical flow in the HTTP layer:
//! 1. [`FailureLimiter::is_blocked`] for the source address; if blocked answer 503/429 with
//!    `Retry-After`.
//! 2. Digest: [`DigestAuthenticator::verify`]; Basic ([`basic_allowed`] permitting):
//!    [`verify_basic`]. Credentials come from a [`CredentialLookup`]; when they live in a
//!    database, fetch them first using [`claimed_username`] and hand a closure over the result.
//! 3. `Authenticated` → go on; `Stale` → 401 with `challenge(now, true)`; `Failed` → 401 with a
//!    fresh challenge, and [`FailureLimiter::record_failure`] if
//!    [`AuthFailure::counts_as_failure`].

pub mod basic;
pub mod client;
pub mod digest;
mod header;
pub mod limiter;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

pub use basic::{basic_allowed, basic_challenge, verify_basic};
pub use digest::{DigestAuthenticator, DigestConfigError};
pub use limiter::{FailureLimiter, LimiterConfig};

/// Which HTTP authentication the ACS demands of CPEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpeAuthMode {
    /// No HTTP authentication (e.g. TLS client certificates are checked elsewhere, or a lab).
    None,
    /// RFC 7617 Basic; TR-069 §3.4.4 allows it only over TLS, see [`basic_allowed`].
    Basic,
    /// RFC 7616 Digest; the only HTTP authentication TR-069 allows over plain HTTP.
    #[default]
    Digest,
}

/// Digest hash algorithms (RFC 7616 §3.3 / §6.1).
///
/// The `-sess` variants are not offered and are rejected when a client uses them: no CPE needs
/// them, and accepting an algorithm the ACS never challenged with only widens the surface.
/// Serialises as, and parses (case-insensitively) from, the RFC names `MD5` and `SHA-256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DigestAlgorithm {
    /// Universal among CPEs (SPEC §7).
    Md5,
    /// RFC 7616; support in CPEs is uncertain, so offer it alongside MD5, not instead.
    Sha256,
}

impl DigestAlgorithm {
    pub const fn rfc_name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    /// Length of the hex `response` this algorithm produces.
    pub(crate) const fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha256 => 64,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc_name())
    }
}

/// An `algorithm` value this module does not implement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported digest algorithm {0:?}")]
pub struct UnsupportedAlgorithm(pub String);

impl FromStr for DigestAlgorithm {
    type Err = UnsupportedAlgorithm;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("MD5") {
            Ok(Self::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(Self::Sha256)
        } else {
            Err(UnsupportedAlgorithm(s.to_owned()))
        }
    }
}

impl TryFrom<String> for DigestAlgorithm {
    type Error = UnsupportedAlgorithm;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DigestAlgorithm> for String {
    fn from(a: DigestAlgorithm) -> Self {
        a.rfc_name().to_owned()
    }
}

/// Looks up the password of a username; `None` for an unknown user.
///
/// A closure type rather than a trait so both a shared credential
/// (`&|u| (u == "cpe").then(|| pw.clone())`) and per-device credentials prefetched from storage
/// fit without adapters.
pub type CredentialLookup<'a> = dyn Fn(&str) -> Option<Secret> + 'a;

/// Result of checking one request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    Authenticated {
        username: String,
    },
    /// The client knows the password but its nonce is expired or not ours (e.g. issued before
    /// a key change). Answer 401 with `challenge(now, true)`: `stale=true` tells the client to
    /// retry with the new nonce instead of treating it as a wrong password (RFC 7616 §3.3).
    Stale,
    Failed {
        reason: AuthFailure,
    },
}

impl AuthOutcome {
    pub fn is_authenticated(&self) -> bool {
        matches!(self, Self::Authenticated { .. })
    }

    pub(crate) fn failed(reason: AuthFailure) -> Self {
        Self::Failed { reason }
    }
}

/// Why credentials were refused. Meant for logs and metrics; a client gets the same 401 for all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AuthFailure {
    /// No `Authorization` header: the normal first request of every session.
    #[error("no credentials presented")]
    Missing,
    #[error("authorization scheme is not the one demanded")]
    WrongScheme,
    #[error("malformed authorization header: {0}")]
    Malformed(&'static str),
    #[error("realm differs from the one challenged with")]
    RealmMismatch,
    #[error("unknown username")]
    UnknownUser,
    /// Digest `response` does not match.
    #[error("wrong digest response")]
    BadResponse,
    /// Basic password does not match.
    #[error("wrong password")]
    BadPassword,
    /// Nonce not issued by this server (forged, corrupted, other key) and the response is wrong.
    #[error("invalid nonce")]
    BadNonce,
    #[error("unsupported or disabled digest algorithm")]
    UnsupportedAlgorithm,
    /// `qop` other than `auth` (e.g. `auth-int`, which needs the body and was never offered).
    #[error("unsupported qop")]
    UnsupportedQop,
    /// RFC 7616 `userhash=true`: the server would need every username to find the user.
    #[error("userhash is not supported")]
    UserhashUnsupported,
}

impl AuthFailure {
    /// Whether the failure should count against the source in the [`FailureLimiter`].
    ///
    /// `Missing` must not count: every CWMP session starts with an unauthenticated Inform that
    /// is answered with a challenge (SPEC §2), so counting it would block healthy CPEs.
    pub fn counts_as_failure(self) -> bool {
        !matches!(self, Self::Missing)
    }
}

/// The username a header claims, without checking anything.
///
/// Lets the HTTP layer fetch per-device credentials (possibly asynchronously) before calling
/// the pure verifier. Handles Basic and Digest (`username` and RFC 7616 `username*`).
pub fn claimed_username(authorization: &str) -> Option<String> {
    if authorization.len() > header::MAX_HEADER_LEN {
        return None;
    }
    let (scheme, rest) = header::split_scheme(authorization)?;
    if scheme.eq_ignore_ascii_case("Basic") {
        basic::decode_credentials(rest).ok().map(|(user, _)| user)
    } else if scheme.eq_ignore_ascii_case("Digest") {
        let (params, _) = header::parse_params(rest).ok()?;
        digest::username_param(&params).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names() {
        let cases: &[(&str, Option<DigestAlgorithm>)] = &[
            ("MD5", Some(DigestAlgorithm::Md5)),
            ("md5", Some(DigestAlgorithm::Md5)),
            ("SHA-256", Some(DigestAlgorithm::Sha256)),
            ("sha-256", Some(DigestAlgorithm::Sha256)),
            ("MD5-sess", None),
            ("SHA-256-sess", None),
            ("SHA-512-256", None),
            ("SHA256", None),
            ("", None),
        ];
        for &(name, want) in cases {
            assert_eq!(name.parse::<DigestAlgorithm>().ok(), want, "{name}");
        }
        assert_eq!(DigestAlgorithm::Sha256.to_string(), "SHA-256");
    }

    #[test]
    fn serde_forms() {
        assert_eq!(
            serde_json::to_string(&[DigestAlgorithm::Md5, DigestAlgorithm::Sha256]).unwrap(),
            r#"["MD5","SHA-256"]"#
        );
        let algs: Vec<DigestAlgorithm> = serde_json::from_str(r#"["sha-256","MD5"]"#).unwrap();
        assert_eq!(algs, [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]);
        assert!(serde_json::from_str::<DigestAlgorithm>(r#""MD5-sess""#).is_err());

        assert_eq!(
            serde_json::to_string(&CpeAuthMode::Digest).unwrap(),
            r#""digest""#
        );
        let m: CpeAuthMode = serde_json::from_str(r#""none""#).unwrap();
        assert_eq!(m, CpeAuthMode::None);
        assert!(serde_json::from_str::<CpeAuthMode>(r#""Digest""#).is_err());
    }

    #[test]
    fn claimed_usernames() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Basic YWRtaW46", Some("admin")),
            (
                r#"Digest username="00D09E-IGD-123", realm="x""#,
                Some("00D09E-IGD-123"),
            ),
            (
                r#"digest realm="x", username*=UTF-8''J%C3%A4s"#,
                Some("J\u{e4}s"),
            ),
            ("Digest realm=\"x", None),
            ("Bearer abc", None),
            ("", None),
        ];
        for &(h, want) in cases {
            assert_eq!(claimed_username(h).as_deref(), want, "{h}");
        }
    }

    #[test]
    fn failure_counting() {
        assert!(!AuthFailure::Missing.counts_as_failure());
        assert!(AuthFailure::BadResponse.counts_as_failure());
        assert!(AuthFailure::Malformed("x").counts_as_failure());
    }
}

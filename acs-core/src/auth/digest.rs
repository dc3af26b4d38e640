//! HTTP Digest authentication of CPEs: RFC 7616 (SHA-256), RFC 2617 (MD5, `qop=auth`) and the
//! RFC 2069 form without `qop` that some older CPEs still send (SPEC §7, TR-069 §3.4.4).
//!
//! # Nonces are stateless
//!
//! A nonce is `base64url(issued_at ‖ random ‖ mac)` where `issued_at` is the 8-byte big-endian
//! Unix time in seconds, `random` 16 random bytes, and `mac` the first 16 bytes of
//! HMAC-SHA256(key, issued_at ‖ random ‖ realm). The server keeps no per-nonce state: it
//! verifies the MAC and the age. Consequences:
//! - Any ACS instance holding the same key accepts the nonce, so no sticky sessions are needed.
//! - **Nonce counts are not tracked**: a captured request can be replayed while its nonce is
//!   fresh. RFC 7616 §5.5 makes `nc` checking optional; the exposure is bounded by the nonce
//!   lifetime, and TLS is the real defence against capture.
//! - Changing the key (e.g. a random key per process) invalidates outstanding nonces; clients
//!   that know the password then get `stale=true` and retry without counting as failures.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::header::{self, Params};
use super::{AuthFailure, AuthOutcome, CredentialLookup, DigestAlgorithm};

type HmacSha256 = Hmac<Sha256>;

const ISSUED_LEN: usize = 8;
const RANDOM_LEN: usize = 16;
const MAC_LEN: usize = 16;
const NONCE_BYTES: usize = ISSUED_LEN + RANDOM_LEN + MAC_LEN;
/// Encoded nonces are 54 characters; anything much longer is not ours and is not decoded.
const MAX_NONCE_CHARS: usize = 64;

/// Invalid [`DigestAuthenticator`] configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestConfigError {
    #[error("at least one digest algorithm must be enabled")]
    NoAlgorithms,
    /// Control characters would allow header injection through the challenge.
    #[error("realm must be non-empty and free of control characters")]
    InvalidRealm,
    #[error("nonce lifetime must be at least one second")]
    NonceLifetimeTooShort,
}

/// Issues Digest challenges and verifies Digest credentials. Cheap to share (`&self` only).
pub struct DigestAuthenticator {
    realm: String,
    key: [u8; 32],
    nonce_lifetime: Duration,
    algorithms: Vec<DigestAlgorithm>,
    opaque: String,
}

impl std::fmt::Debug for DigestAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestAuthenticator")
            .field("realm", &self.realm)
            .field("key", &crate::secret::REDACTED)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("algorithms", &self.algorithms)
            .finish()
    }
}

impl DigestAuthenticator {
    /// `key` authenticates nonces; every ACS instance behind one URL must use the same key.
    /// `algorithms` is in order of preference and one challenge is sent per entry (RFC 7616
    /// §3.7); duplicates are dropped. Listing MD5 first is the safe choice for CPEs whose
    /// clients only look at the first challenge.
    pub fn new(
        realm: impl Into<String>,
        key: [u8; 32],
        nonce_lifetime: Duration,
        algorithms: Vec<DigestAlgorithm>,
    ) -> Result<Self, DigestConfigError> {
        let realm = realm.into();
        if realm.is_empty() || realm.chars().any(char::is_control) {
            return Err(DigestConfigError::InvalidRealm);
        }
        if nonce_lifetime.as_secs() == 0 {
            return Err(DigestConfigError::NonceLifetimeTooShort);
        }
        let mut algs: Vec<DigestAlgorithm> = Vec::with_capacity(algorithms.len());
        for a in algorithms {
            if !algs.contains(&a) {
                algs.push(a);
            }
        }
        if algs.is_empty() {
            return Err(DigestConfigError::NoAlgorithms);
        }
        // Opaque must be echoed by clients but carries no security here; derive it from the key
        // so every instance sends the same value without coordination.
        let opaque = hex::encode(&mac(&key, &[b"opaque", realm.as_bytes()])[..16]);
        Ok(Self {
            realm,
            key,
            nonce_lifetime,
            algorithms: algs,
            opaque,
        })
    }

    /// A fresh random key, for deployments with a single ACS process and no configured key.
    pub fn random_key() -> [u8; 32] {
        rand::random()
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    pub fn algorithms(&self) -> &[DigestAlgorithm] {
        &self.algorithms
    }

    pub fn nonce_lifetime(&self) -> Duration {
        self.nonce_lifetime
    }

    /// One `WWW-Authenticate` value per enabled algorithm, all sharing one new nonce.
    /// `stale` is set after an [`AuthOutcome::Stale`] (RFC 7616 §3.3).
    pub fn challenge(&self, now: SystemTime, stale: bool) -> Vec<String> {
        let nonce = self.issue_nonce(unix_secs(now), rand::random());
        let realm = header::quote(&self.realm);
        self.algorithms
            .iter()
            .map(|alg| {
                let mut c = format!(
                    "Digest realm={realm}, qop=\"auth\", algorithm={alg}, nonce=\"{nonce}\", opaque=\"{}\"",
                    self.opaque
                );
                if stale {
                    c.push_str(", stale=true");
                }
                c
            })
            .collect()
    }

    pub(crate) fn issue_nonce(&self, issued_at: u64, random: [u8; RANDOM_LEN]) -> String {
        let issued = issued_at.to_be_bytes();
        let tag = mac(&self.key, &[&issued, &random, self.realm.as_bytes()]);
        let mut raw = [0u8; NONCE_BYTES];
        raw[..ISSUED_LEN].copy_from_slice(&issued);
        raw[ISSUED_LEN..ISSUED_LEN + RANDOM_LEN].copy_from_slice(&random);
        raw[ISSUED_LEN + RANDOM_LEN..].copy_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn check_nonce(&self, nonce: &str, now: u64) -> NonceState {
        if nonce.len() > MAX_NONCE_CHARS {
            return NonceState::Foreign;
        }
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return NonceState::Foreign;
        };
        if raw.len() != NONCE_BYTES {
            return NonceState::Foreign;
        }
        let (issued, rest) = raw.split_at(ISSUED_LEN);
        let (random, tag) = rest.split_at(RANDOM_LEN);
        let expected = mac(&self.key, &[issued, random, self.realm.as_bytes()]);
        if !bool::from(expected[..MAC_LEN].ct_eq(tag)) {
            return NonceState::Foreign;
        }
        let mut issued_be = [0u8; ISSUED_LEN];
        issued_be.copy_from_slice(issued);
        let issued_at = u64::from_be_bytes(issued_be);
        let lifetime = self.nonce_lifetime.as_secs();
        // A nonce from the future means the clock was stepped back; honour it for at most one
        // lifetime so a large step cannot keep it alive indefinitely.
        let age = now.abs_diff(issued_at);
        if age > lifetime {
            NonceState::Expired
        } else {
            NonceState::Fresh
        }
    }

    /// Verifies an `Authorization` value for a request with HTTP `method` (`POST` for CWMP).
    ///
    /// - `Authorization` absent or blank → `Failed(Missing)`.
    /// - Parameters may come in any order; `algorithm` absent means MD5; `qop` absent means the
    ///   RFC 2069 form `H(HA1:nonce:HA2)`; `qop=auth` requires `nc` and `cnonce`.
    /// - The `uri` parameter is taken as sent and is **not** compared with the request target,
    ///   although RFC 7616 §3.4.6 says it should be: some CPEs send the absolute ACS URL, a
    ///   path with or without query, or a stale path after a redirect (SPEC §7). The uri is
    ///   still covered by the response hash, and the ACS serves CWMP on one endpoint, so
    ///   binding it to the path would reject real devices for no security gain.
    /// - The `opaque` parameter is not checked: it is constant and public.
    /// - A correct response with an expired or foreign nonce yields [`AuthOutcome::Stale`]; a
    ///   wrong response with a foreign nonce `BadNonce`, otherwise `BadResponse`.
    /// - The response is compared in constant time. No input panics.
    pub fn verify(
        &self,
        method: &str,
        authorization: Option<&str>,
        now: SystemTime,
        lookup: &CredentialLookup<'_>,
    ) -> AuthOutcome {
        match self.verify_inner(method, authorization, now, lookup) {
            Ok(outcome) => outcome,
            Err(reason) => AuthOutcome::failed(reason),
        }
    }

    fn verify_inner(
        &self,
        method: &str,
        authorization: Option<&str>,
        now: SystemTime,
        lookup: &CredentialLookup<'_>,
    ) -> Result<AuthOutcome, AuthFailure> {
        let value = match authorization {
            Some(v) if !v.trim().is_empty() => v,
            _ => return Err(AuthFailure::Missing),
        };
        if value.len() > header::MAX_HEADER_LEN {
            return Err(AuthFailure::Malformed("header too long"));
        }
        let (scheme, rest) =
            header::split_scheme(value).ok_or(AuthFailure::Malformed("no auth scheme"))?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthFailure::WrongScheme);
        }
        let (params, trailing) = header::parse_params(rest).map_err(AuthFailure::Malformed)?;
        if !trailing.is_empty() {
            return Err(AuthFailure::Malformed("unexpected token after parameters"));
        }
        if params.is_empty() {
            return Err(AuthFailure::Malformed("no parameters"));
        }
        if params
            .get("userhash")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Err(AuthFailure::UserhashUnsupported);
        }
        let username = username_param(&params)?;
        let realm = required(&params, "realm")?;
        let nonce = required(&params, "nonce")?;
        let uri = required(&params, "uri")?;
        let response = required(&params, "response")?;

        let algorithm = match params.get("algorithm") {
            None => DigestAlgorithm::Md5,
            Some(a) => a
                .parse::<DigestAlgorithm>()
                .map_err(|_| AuthFailure::UnsupportedAlgorithm)?,
        };
        if !self.algorithms.contains(&algorithm) {
            return Err(AuthFailure::UnsupportedAlgorithm);
        }
        let qop = match params.get("qop") {
            None => None,
            Some(q) if q.eq_ignore_ascii_case("auth") => Some(QopAuth {
                nc: required(&params, "nc")?,
                cnonce: required(&params, "cnonce")?,
            }),
            Some(_) => return Err(AuthFailure::UnsupportedQop),
        };
        if realm != self.realm {
            return Err(AuthFailure::RealmMismatch);
        }
        let password = lookup(&username).ok_or(AuthFailure::UnknownUser)?;

        let expected = compute_response(
            algorithm,
            &DigestInput {
                username: &username,
                realm,
                password: password.expose(),
                method,
                uri,
                nonce,
                qop,
            },
        );
        // Clients may send upper-case hex; the response is not secret, so normalising it
        // before the constant-time compare leaks nothing.
        let response = response.to_ascii_lowercase();
        let digest_ok = response.len() == algorithm.hex_len()
            && bool::from(expected.as_bytes().ct_eq(response.as_bytes()));

        match (self.check_nonce(nonce, unix_secs(now)), digest_ok) {
            (NonceState::Fresh, true) => Ok(AuthOutcome::Authenticated { username }),
            (NonceState::Expired | NonceState::Foreign, true) => Ok(AuthOutcome::Stale),
            (NonceState::Foreign, false) => Err(AuthFailure::BadNonce),
            (NonceState::Fresh | NonceState::Expired, false) => Err(AuthFailure::BadResponse),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonceState {
    Fresh,
    Expired,
    /// Not issued under this key and realm, or not a nonce at all.
    Foreign,
}

fn required<'p>(params: &'p Params, name: &'static str) -> Result<&'p str, AuthFailure> {
    params.get(name).ok_or(AuthFailure::Malformed(match name {
        "realm" => "missing realm",
        "nonce" => "missing nonce",
        "uri" => "missing uri",
        "response" => "missing response",
        "nc" => "qop=auth without nc",
        "cnonce" => "qop=auth without cnonce",
        _ => "missing parameter",
    }))
}

/// `username`, or the RFC 7616 §3.4.4 `username*` form for names that need encoding.
pub(crate) fn username_param(params: &Params) -> Result<String, AuthFailure> {
    match (params.get("username"), params.get("username*")) {
        (Some(u), None) => Ok(u.to_owned()),
        (None, Some(ext)) => header::decode_ext_value(ext)
            .ok_or(AuthFailure::Malformed("invalid username* encoding")),
        (Some(_), Some(_)) => Err(AuthFailure::Malformed("both username and username*")),
        (None, None) => Err(AuthFailure::Malformed("missing username")),
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QopAuth<'a> {
    pub nc: &'a str,
    pub cnonce: &'a str,
}

/// Everything the response hash covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigestInput<'a> {
    pub username: &'a str,
    pub realm: &'a str,
    pub password: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    pub nonce: &'a str,
    /// `None` selects the RFC 2069 form.
    pub qop: Option<QopAuth<'a>>,
}

/// The lower-case hex `response` (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1, RFC 2069 §2.1.2).
pub(crate) fn compute_response(alg: DigestAlgorithm, i: &DigestInput<'_>) -> String {
    let h = |parts: &[&[u8]]| hash_hex(alg, parts);
    let ha1 = h(&[
        i.username.as_bytes(),
        i.realm.as_bytes(),
        i.password.as_bytes(),
    ]);
    let ha2 = h(&[i.method.as_bytes(), i.uri.as_bytes()]);
    match i.qop {
        Some(q) => h(&[
            ha1.as_bytes(),
            i.nonce.as_bytes(),
            q.nc.as_bytes(),
            q.cnonce.as_bytes(),
            b"auth",
            ha2.as_bytes(),
        ]),
        None => h(&[ha1.as_bytes(), i.nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// Hex of H(p1 ":" p2 ":" …).
fn hash_hex(alg: DigestAlgorithm, parts: &[&[u8]]) -> String {
    fn run<D: sha2::Digest>(parts: &[&[u8]]) -> String {
        let mut d = D::new();
        for (n, p) in parts.iter().enumerate() {
            if n > 0 {
                d.update(b":");
            }
            d.update(p);
        }
        hex::encode(d.finalize())
    }
    match alg {
        DigestAlgorithm::Md5 => run::<Md5>(parts),
        DigestAlgorithm::Sha256 => run::<Sha256>(parts),
    }
}

#[cfg(test)]
mod tests;

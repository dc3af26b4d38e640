//! HTTP Basic authentication of CPEs (RFC 7617). TR-069 §3.4.4 allows it only over TLS, as
//! the password travels in clear; see [`basic_allowed`].

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::header::{self, MAX_HEADER_LEN};
use super::{AuthFailure, AuthOutcome, CredentialLookup};

/// Standard alphabet, padding optional: some embedded encoders drop the `=`.
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The `WWW-Authenticate` value for Basic. The optional RFC 7617 §2.1 `charset` parameter is
/// left out: CPE credentials are ASCII and some old CPE parsers expect `realm` alone.
pub fn basic_challenge(realm: &str) -> String {
    format!("Basic realm={}", header::quote(realm))
}

/// Whether the HTTP layer may offer or accept Basic on this connection.
///
/// TR-069 §3.4.4 (SPEC §7): Basic only over TLS. `allow_insecure_basic` exists for labs and
/// for CPEs that cannot do Digest, as an explicit, visible opt-out.
pub fn basic_allowed(is_tls: bool, allow_insecure_basic: bool) -> bool {
    is_tls || allow_insecure_basic
}

/// Verifies an `Authorization: Basic …` value: base64 of `user:password`, split at the first
/// `:` (RFC 7617 §2: user-ids cannot contain a colon, passwords can). The password is compared
/// in constant time.
pub fn verify_basic(authorization: Option<&str>, lookup: &CredentialLookup<'_>) -> AuthOutcome {
    let value = match authorization {
        Some(v) if !v.trim().is_empty() => v,
        _ => return AuthOutcome::failed(AuthFailure::Missing),
    };
    if value.len() > MAX_HEADER_LEN {
        return AuthOutcome::failed(AuthFailure::Malformed("header too long"));
    }
    let Some((scheme, rest)) = header::split_scheme(value) else {
        return AuthOutcome::failed(AuthFailure::Malformed("no auth scheme"));
    };
    if !scheme.eq_ignore_ascii_case("Basic") {
        return AuthOutcome::failed(AuthFailure::WrongScheme);
    }
    let (username, password) = match decode_credentials(rest) {
        Ok(c) => c,
        Err(reason) => return AuthOutcome::failed(reason),
    };
    match lookup(&username) {
        None => AuthOutcome::failed(AuthFailure::UnknownUser),
        Some(secret) if secret.matches(password.as_bytes()) => {
            AuthOutcome::Authenticated { username }
        }
        Some(_) => AuthOutcome::failed(AuthFailure::BadPassword),
    }
}

/// Decodes the token68 after `Basic` into (user-id, password).
pub(crate) fn decode_credentials(token: &str) -> Result<(String, String), AuthFailure> {
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthFailure::Malformed("missing credentials"));
    }
    let raw = LENIENT_STANDARD
        .decode(token)
        .map_err(|_| AuthFailure::Malformed("invalid base64"))?;
    let text =
        String::from_utf8(raw).map_err(|_| AuthFailure::Malformed("credentials not UTF-8"))?;
    let (user, password) = text
        .split_once(':')
        .ok_or(AuthFailure::Malformed("no ':' in credentials"))?;
    Ok((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use base64::engine::general_purpose::STANDARD;

    fn lookup(user: &str) -> Option<Secret> {
        match user {
            "cpe" => Some(Secret::from("pa:ss")),
            "admin" => Some(Secret::from("")),
            _ => None,
        }
    }

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    fn check(name: &str, header: Option<&str>, want: Result<&str, AuthFailure>) {
        let got = verify_basic(header, &lookup);
        let want = match want {
            Ok(u) => AuthOutcome::Authenticated { username: u.into() },
            Err(reason) => AuthOutcome::Failed { reason },
        };
        assert_eq!(got, want, "case {name}: header {header:?}");
    }

    #[test]
    fn cases() {
        let good = format!("Basic {}", b64("cpe:pa:ss"));
        let lower = format!("basic   {} ", b64("cpe:pa:ss"));
        let unpadded = format!("Basic {}", b64("cpe:pa:ss").trim_end_matches('='));
        let empty_pw = format!("Basic {}", b64("admin:"));
        let wrong = format!("Basic {}", b64("cpe:pa:sS"));
        let prefix = format!("Basic {}", b64("cpe:pa"));
        let unknown = format!("Basic {}", b64("nobody:x"));
        let no_colon = format!("Basic {}", b64("cpe"));
        let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, b':', b'x']));
        let cases: Vec<(&str, Option<&str>, Result<&str, AuthFailure>)> = vec![
            ("good", Some(&good), Ok("cpe")),
            ("scheme case and spaces", Some(&lower), Ok("cpe")),
            ("no padding", Some(&unpadded), Ok("cpe")),
            ("empty password", Some(&empty_pw), Ok("admin")),
            (
                "wrong password",
                Some(&wrong),
                Err(AuthFailure::BadPassword),
            ),
            (
                "password prefix",
                Some(&prefix),
                Err(AuthFailure::BadPassword),
            ),
            (
                "unknown user",
                Some(&unknown),
                Err(AuthFailure::UnknownUser),
            ),
            ("absent", None, Err(AuthFailure::Missing)),
            ("blank", Some("  "), Err(AuthFailure::Missing)),
            (
                "digest",
                Some("Digest username=\"cpe\""),
                Err(AuthFailure::WrongScheme),
            ),
            (
                "bad base64",
                Some("Basic !!!notbase64"),
                Err(AuthFailure::Malformed("invalid base64")),
            ),
            (
                "inner space",
                Some("Basic YWJj ZGVm"),
                Err(AuthFailure::Malformed("invalid base64")),
            ),
            (
                "no token",
                Some("Basic"),
                Err(AuthFailure::Malformed("missing credentials")),
            ),
            (
                "no colon",
                Some(&no_colon),
                Err(AuthFailure::Malformed("no ':' in credentials")),
            ),
            (
                "not utf-8",
                Some(&not_utf8),
                Err(AuthFailure::Malformed("credentials not UTF-8")),
            ),
        ];
        for (name, header, want) in cases {
            check(name, header, want);
        }
    }

    #[test]
    fn challenge_and_policy() {
        assert_eq!(basic_challenge("acs \"x\""), r#"Basic realm="acs \"x\"""#);
        assert!(basic_allowed(true, false));
        assert!(basic_allowed(false, true));
        assert!(!basic_allowed(false, false));
    }
}

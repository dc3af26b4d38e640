//! The client side of Digest: answering a challenge.
//!
//! Used by the CPE simulator (to authenticate its Informs like a real CPE) and by test suites
//! (to craft requests, correct or deliberately wrong). It mirrors what CPE stacks do: `qop=auth`
//! when offered, the RFC 2069 form when the challenge has no `qop`.

use super::DigestAlgorithm;
use super::digest::{DigestInput, QopAuth, compute_response};
use super::header::{self, Params};

/// Why no `Authorization` value could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("no Digest challenge found")]
    NoDigestChallenge,
    #[error("malformed challenge: {0}")]
    Malformed(&'static str),
    #[error("challenge lacks {0}")]
    MissingParam(&'static str),
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("challenge offers no usable qop: {0:?}")]
    UnsupportedQop(String),
    /// Control characters would corrupt the header.
    #[error("{0} contains control characters")]
    InvalidInput(&'static str),
}

/// Builds the `Authorization` value answering `challenge` (one `WWW-Authenticate` value; if it
/// holds several challenges, the first Digest one with a supported algorithm is used; to choose
/// among several headers, try each in turn).
///
/// `nc` is the nonce count for this nonce, starting at 1 (RFC 7616 §3.4); `cnonce` should be
/// random per request in real use and is a parameter so tests are reproducible.
pub fn digest_authorization(
    challenge: &str,
    method: &str,
    uri: &str,
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, ClientError> {
    for (what, value) in [
        ("method", method),
        ("uri", uri),
        ("username", username),
        ("cnonce", cnonce),
    ] {
        if value.chars().any(char::is_control) {
            return Err(ClientError::InvalidInput(what));
        }
    }
    let params = select_challenge(challenge)?;
    let get = |name: &'static str| params.get(name).ok_or(ClientError::MissingParam(name));
    let realm = get("realm")?;
    let nonce = get("nonce")?;
    let algorithm = params
        .get("algorithm")
        .map_or(Ok(DigestAlgorithm::Md5), |a| {
            a.parse()
                .map_err(|_| ClientError::UnsupportedAlgorithm(a.to_owned()))
        })?;
    let nc = format!("{nc:08x}");
    let qop = match params.get("qop") {
        None => None,
        Some(list)
            if list
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth")) =>
        {
            Some(QopAuth { nc: &nc, cnonce })
        }
        Some(list) => return Err(ClientError::UnsupportedQop(list.to_owned())),
    };
    let response = compute_response(
        algorithm,
        &DigestInput {
            username,
            realm,
            password,
            method,
            uri,
            nonce,
            qop,
        },
    );

    let mut out = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, algorithm={algorithm}, response=\"{response}\"",
        header::quote(username),
        header::quote(realm),
        header::quote(nonce),
        header::quote(uri),
    );
    if qop.is_some() {
        out.push_str(&format!(
            ", qop=auth, nc={nc}, cnonce={}",
            header::quote(cnonce)
        ));
    }
    if let Some(opaque) = params.get("opaque") {
        out.push_str(&format!(", opaque={}", header::quote(opaque)));
    }
    Ok(out)
}

/// The first Digest challenge whose algorithm is implemented; if none is, the first Digest
/// challenge (so the error names its algorithm).
fn select_challenge(value: &str) -> Result<Params, ClientError> {
    if value.len() > header::MAX_HEADER_LEN {
        return Err(ClientError::Malformed("challenge too long"));
    }
    let mut rest = value;
    let mut first_digest = None;
    while !rest.trim().is_empty() {
        let trimmed = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        let (scheme, after) =
            header::split_scheme(trimmed).ok_or(ClientError::Malformed("no auth scheme"))?;
        let (params, next) = header::parse_params(after).map_err(ClientError::Malformed)?;
        if scheme.eq_ignore_ascii_case("Digest") {
            let supported = params
                .get("algorithm")
                .is_none_or(|a| a.parse::<DigestAlgorithm>().is_ok());
            if supported {
                return Ok(params);
            }
            first_digest.get_or_insert(params);
        }
        rest = next;
    }
    first_digest.ok_or(ClientError::NoDigestChallenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_rfc_2617_challenge() {
        let challenge = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let got = digest_authorization(
            challenge,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
            1,
        )
        .unwrap();
        assert_eq!(
            got,
            r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", algorithm=MD5, response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41""#
        );
    }

    #[test]
    fn challenge_selection_and_errors() {
        let ok = |c: &str| digest_authorization(c, "POST", "/", "u", "p", "c", 1);
        let cases: &[(&str, Result<&str, ClientError>)] = &[
            // RFC 2069 form: no qop in challenge, none in answer.
            (r#"Digest realm="r", nonce="n""#, Ok("no-qop")),
            (
                r#"Basic realm="b", Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth""#,
                Ok("SHA-256"),
            ),
            (
                r#"Digest realm="r", nonce="n", algorithm=SHA-512-256, Digest realm="r", nonce="n""#,
                Ok("MD5"),
            ),
            (
                r#"Digest realm="r", nonce="n", algorithm=MD5-sess"#,
                Err(ClientError::UnsupportedAlgorithm("MD5-sess".into())),
            ),
            (
                r#"Digest realm="r", nonce="n", qop="auth-int""#,
                Err(ClientError::UnsupportedQop("auth-int".into())),
            ),
            (
                r#"Digest nonce="n""#,
                Err(ClientError::MissingParam("realm")),
            ),
            (
                r#"Digest realm="r""#,
                Err(ClientError::MissingParam("nonce")),
            ),
            (r#"Basic realm="r""#, Err(ClientError::NoDigestChallenge)),
            ("", Err(ClientError::NoDigestChallenge)),
            (
                r#"Digest realm="r"#,
                Err(ClientError::Malformed("unterminated quoted string")),
            ),
        ];
        for (challenge, want) in cases {
            match (ok(challenge), want) {
                (Ok(h), Ok("no-qop")) => assert!(!h.contains("qop"), "{h}"),
                (Ok(h), Ok(alg)) => assert!(h.contains(&format!("algorithm={alg},")), "{h}"),
                (got, want) => assert_eq!(got.map(|_| ()), want.clone().map(|_| ()), "{challenge}"),
            }
        }
        assert_eq!(
            digest_authorization(
                r#"Digest realm="r", nonce="n""#,
                "POST",
                "/\r\nX: y",
                "u",
                "p",
                "c",
                1
            ),
            Err(ClientError::InvalidInput("uri"))
        );
    }
}

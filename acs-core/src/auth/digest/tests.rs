use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use super::*;
use crate::auth::client::digest_authorization;
use crate::auth::header::quote;
use crate::secret::Secret;

const KEY: [u8; 32] = [7; 32];
const REALM: &str = "acs@example.net";
const LIFETIME: u64 = 300;

fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn auth(algs: &[DigestAlgorithm]) -> DigestAuthenticator {
    DigestAuthenticator::new(REALM, KEY, Duration::from_secs(LIFETIME), algs.to_vec()).unwrap()
}

fn lookup(user: &str) -> Option<Secret> {
    match user {
        "cpe" => Some(Secret::from("s3cret")),
        "a,\"b" => Some(Secret::from("pw")),
        "J\u{e4}s" => Some(Secret::from("pw")),
        "admin" => Some(Secret::from("")),
        _ => None,
    }
}

fn nonce_from(challenge: &str) -> String {
    let (_, rest) = header::split_scheme(challenge).unwrap();
    let (params, _) = header::parse_params(rest).unwrap();
    params.get("nonce").unwrap().to_owned()
}

/// Response for `cpe`-style requests, computed with the module's own hash function (pinned by
/// the known-answer tests below).
fn resp(alg: DigestAlgorithm, user: &str, pw: &str, uri: &str, nonce: &str, qop: bool) -> String {
    compute_response(
        alg,
        &DigestInput {
            username: user,
            realm: REALM,
            password: pw,
            method: "POST",
            uri,
            nonce,
            qop: qop.then_some(QopAuth {
                nc: "00000001",
                cnonce: "c0ffee",
            }),
        },
    )
}

fn check(
    name: &str,
    a: &DigestAuthenticator,
    header: Option<&str>,
    now: SystemTime,
    want: AuthOutcome,
) {
    let got = a.verify("POST", header, now, &lookup);
    assert_eq!(got, want, "case {name:?}\nheader: {header:?}");
}

fn ok(user: &str) -> AuthOutcome {
    AuthOutcome::Authenticated {
        username: user.to_owned(),
    }
}

fn fail(reason: AuthFailure) -> AuthOutcome {
    AuthOutcome::Failed { reason }
}

#[test]
fn known_answers() {
    let rfc7616 = |qop| DigestInput {
        username: "Mufasa",
        realm: "http-auth@example.org",
        password: "Circle of Life",
        method: "GET",
        uri: "/dir/index.html",
        nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        qop,
    };
    let q7616 = Some(QopAuth {
        nc: "00000001",
        cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    });
    let rfc2617 = |password, qop| DigestInput {
        username: "Mufasa",
        realm: "testrealm@host.com",
        password,
        method: "GET",
        uri: "/dir/index.html",
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop,
    };
    let q2617 = Some(QopAuth {
        nc: "00000001",
        cnonce: "0a4f113b",
    });
    let cases: Vec<(&str, DigestAlgorithm, DigestInput<'_>, &str)> = vec![
        (
            "RFC 2617 §3.5",
            DigestAlgorithm::Md5,
            rfc2617("Circle Of Life", q2617),
            "6629fae49393a05397450978507c4ef1",
        ),
        (
            "RFC 7616 §3.9.1 MD5",
            DigestAlgorithm::Md5,
            rfc7616(q7616),
            "8ca523f5e9506fed4657c9700eebdbec",
        ),
        (
            "RFC 7616 §3.9.1 SHA-256",
            DigestAlgorithm::Sha256,
            rfc7616(q7616),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
        // RFC 2069 §2.4 example inputs. The response printed there (e966c932…) does not follow
        // from its own formula; this value was computed independently with Python's hashlib.
        (
            "RFC 2069 form",
            DigestAlgorithm::Md5,
            rfc2617("CircleOfLife", None),
            "1949323746fe6a43ef61f9606e7febea",
        ),
    ];
    for (name, alg, input, want) in cases {
        assert_eq!(compute_response(alg, &input), want, "{name}");
    }
}

#[test]
fn challenge_format() {
    let a = auth(&[
        DigestAlgorithm::Md5,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Md5,
    ]);
    let c = a.challenge(t(0), false);
    assert_eq!(c.len(), 2, "one per distinct algorithm");
    let nonce = nonce_from(&c[0]);
    assert_eq!(nonce.len(), 54);
    let opaque = &a.opaque;
    assert_eq!(
        c[0],
        format!(
            r#"Digest realm="acs@example.net", qop="auth", algorithm=MD5, nonce="{nonce}", opaque="{opaque}""#
        )
    );
    assert_eq!(
        c[1],
        format!(
            r#"Digest realm="acs@example.net", qop="auth", algorithm=SHA-256, nonce="{nonce}", opaque="{opaque}""#
        )
    );
    let stale = a.challenge(t(0), true);
    assert!(stale.iter().all(|c| c.ends_with(", stale=true")));
    assert_ne!(
        nonce_from(&stale[0]),
        nonce,
        "every challenge gets a new nonce"
    );

    let raw = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
    assert_eq!(raw.len(), 40);
    assert_eq!(
        u64::from_be_bytes(raw[..8].try_into().unwrap()),
        1_700_000_000
    );

    let odd = DigestAuthenticator::new(
        r#"a "b" \c"#,
        KEY,
        Duration::from_secs(1),
        vec![DigestAlgorithm::Md5],
    )
    .unwrap();
    assert!(odd.challenge(t(0), false)[0].starts_with(r#"Digest realm="a \"b\" \\c", "#));
}

#[test]
fn config_errors() {
    let new = |realm: &str, secs, algs: Vec<DigestAlgorithm>| {
        DigestAuthenticator::new(realm, KEY, Duration::from_secs(secs), algs).err()
    };
    assert_eq!(new("r", 1, vec![]), Some(DigestConfigError::NoAlgorithms));
    assert_eq!(
        new("", 1, vec![DigestAlgorithm::Md5]),
        Some(DigestConfigError::InvalidRealm)
    );
    assert_eq!(
        new("a\r\nX: y", 1, vec![DigestAlgorithm::Md5]),
        Some(DigestConfigError::InvalidRealm)
    );
    assert_eq!(
        new("r", 0, vec![DigestAlgorithm::Md5]),
        Some(DigestConfigError::NonceLifetimeTooShort)
    );
    assert_eq!(new("r", 1, vec![DigestAlgorithm::Sha256]), None);
}

#[test]
fn debug_hides_key() {
    let a = DigestAuthenticator::new(
        "r",
        [0xab; 32],
        Duration::from_secs(60),
        vec![DigestAlgorithm::Md5],
    )
    .unwrap();
    let dbg = format!("{a:?}");
    assert!(
        !dbg.contains("171") && !dbg.contains("ab, ab") && dbg.contains("[redacted]"),
        "{dbg}"
    );
}

/// End to end through the client helper, the way the CPE simulator will use it.
#[test]
fn client_helper_round_trip() {
    let a = auth(&[DigestAlgorithm::Md5, DigestAlgorithm::Sha256]);
    for (n, challenge) in a.challenge(t(0), false).iter().enumerate() {
        let h =
            digest_authorization(challenge, "POST", "/cwmp", "cpe", "s3cret", "abcdef", 1).unwrap();
        check(&format!("challenge {n}"), &a, Some(&h), t(10), ok("cpe"));
        let bad =
            digest_authorization(challenge, "POST", "/cwmp", "cpe", "wrong", "abcdef", 1).unwrap();
        check(
            &format!("challenge {n} wrong pw"),
            &a,
            Some(&bad),
            t(10),
            fail(AuthFailure::BadResponse),
        );
    }
}

/// A fully hand-written header whose response was computed outside this crate (Python
/// hashlib and hmac, nonce included), so the nonce encoding, parsing and hashing are checked against an independent
/// implementation rather than against themselves.
#[test]
fn independent_end_to_end_vector() {
    let a = auth(&[DigestAlgorithm::Md5]);
    let nonce = a.issue_nonce(1_700_000_000, [1; 16]);
    assert_eq!(
        nonce,
        "AAAAAGVT8QABAQEBAQEBAQEBAQEBAQEBOpGWZNVJov-sOmAayQ7gyg"
    );
    let header = format!(
        r#"Digest username="cpe", realm="acs@example.net", nonce="{nonce}", uri="/cwmp", response="07dc20fd535e0f14929189c734ed7cff", qop=auth, nc=00000001, cnonce="c0ffee""#
    );
    check("independent", &a, Some(&header), t(5), ok("cpe"));
}

#[test]
fn verification_cases() {
    use DigestAlgorithm::{Md5, Sha256};
    let md5 = auth(&[Md5]);
    let sha_only = auth(&[Sha256]);
    let both = auth(&[Md5, Sha256]);
    let now = t(100);
    let nonce = md5.issue_nonce(1_700_000_000 + 50, [9; 16]);
    let old = md5.issue_nonce(1_700_000_000 + 100 - LIFETIME - 1, [9; 16]);
    let edge = md5.issue_nonce(1_700_000_000 + 100 - LIFETIME, [9; 16]);
    let future = md5.issue_nonce(1_700_000_000 + 160, [9; 16]);
    let far_future = md5.issue_nonce(1_700_000_000 + 100 + LIFETIME + 1, [9; 16]);
    let other_key =
        DigestAuthenticator::new(REALM, [8; 32], Duration::from_secs(LIFETIME), vec![Md5])
            .unwrap()
            .issue_nonce(1_700_000_050, [9; 16]);
    let mut tampered = nonce.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    // Standard request: qop=auth, algorithm given.
    let std_hdr = |user: &str, pw: &str, uri: &str, n: &str| {
        format!(
            r#"Digest username={}, realm="{REALM}", nonce="{n}", uri={}, algorithm=MD5, response="{}", qop=auth, nc=00000001, cnonce="c0ffee", opaque="x""#,
            quote(user),
            quote(uri),
            resp(Md5, user, pw, uri, n, true)
        )
    };
    let good = std_hdr("cpe", "s3cret", "/cwmp", &nonce);
    let r = resp(Md5, "cpe", "s3cret", "/cwmp", &nonce, true);
    let r2069 = resp(Md5, "cpe", "s3cret", "/cwmp", &nonce, false);
    let r256 = resp(Sha256, "cpe", "s3cret", "/cwmp", &nonce, true);
    let cases: Vec<(&str, &DigestAuthenticator, String, AuthOutcome)> = vec![
        ("good", &md5, good.clone(), ok("cpe")),
        (
            "edge of lifetime",
            &md5,
            std_hdr("cpe", "s3cret", "/cwmp", &edge),
            ok("cpe"),
        ),
        (
            "rfc 2069, no qop, no algorithm",
            &md5,
            format!(
                r#"Digest username="cpe", realm="{REALM}", nonce="{nonce}", uri="/cwmp", response="{r2069}""#
            ),
            ok("cpe"),
        ),
        (
            "sha-256",
            &both,
            format!(
                r#"Digest username="cpe", realm="{REALM}", nonce="{nonce}", uri="/cwmp", algorithm=SHA-256, response="{r256}", qop=auth, nc=00000001, cnonce="c0ffee""#
            ),
            ok("cpe"),
        ),
        (
            "robust syntax: scheme case, order, spacing, quoted tokens, upper-case hex",
            &md5,
            format!(
                "digest   cnonce=\"c0ffee\" ,nc = 00000001,\tqop=\"auth\",response=\"{}\",uri=\"/cwmp\" , nonce={nonce},realm=\"{REALM}\",algorithm=\"md5\",username=\"cpe\",,",
                r.to_uppercase()
            ),
            ok("cpe"),
        ),
        (
            "uri differs from the request path",
            &md5,
            std_hdr(
                "cpe",
                "s3cret",
                "http://acs.example.net:7547/cwmp?a=1,b=\"2\"",
                &nonce,
            ),
            ok("cpe"),
        ),
        (
            "commas and escaped quotes in username",
            &md5,
            std_hdr("a,\"b", "pw", "/cwmp", &nonce),
            ok("a,\"b"),
        ),
        (
            "username* (RFC 7616 §3.4.4)",
            &md5,
            format!(
                r#"Digest username*=UTF-8''J%C3%A4s, realm="{REALM}", nonce="{nonce}", uri="/", response="{}""#,
                resp(Md5, "J\u{e4}s", "pw", "/", &nonce, false)
            ),
            ok("J\u{e4}s"),
        ),
        (
            "empty password",
            &md5,
            std_hdr("admin", "", "/cwmp", &nonce),
            ok("admin"),
        ),
        (
            "clock stepped back",
            &md5,
            std_hdr("cpe", "s3cret", "/cwmp", &future),
            ok("cpe"),
        ),
        (
            "expired nonce, right password",
            &md5,
            std_hdr("cpe", "s3cret", "/cwmp", &old),
            AuthOutcome::Stale,
        ),
        (
            "nonce too far in the future",
            &md5,
            std_hdr("cpe", "s3cret", "/cwmp", &far_future),
            AuthOutcome::Stale,
        ),
        (
            "nonce under another key, right password",
            &md5,
            std_hdr("cpe", "s3cret", "/cwmp", &other_key),
            AuthOutcome::Stale,
        ),
        (
            "tampered nonce, response over it",
            &md5,
            std_hdr("cpe", "s3cret", "/cwmp", &tampered),
            AuthOutcome::Stale,
        ),
        (
            "expired nonce, wrong password",
            &md5,
            std_hdr("cpe", "nope", "/cwmp", &old),
            fail(AuthFailure::BadResponse),
        ),
        (
            "wrong password",
            &md5,
            std_hdr("cpe", "nope", "/cwmp", &nonce),
            fail(AuthFailure::BadResponse),
        ),
        (
            "tampered nonce, original response",
            &md5,
            good.replace(&nonce, &tampered),
            fail(AuthFailure::BadNonce),
        ),
        (
            "garbage nonce",
            &md5,
            std_hdr("cpe", "nope", "/cwmp", "not-a-nonce!"),
            fail(AuthFailure::BadNonce),
        ),
        (
            "uri changed after hashing",
            &md5,
            good.replace("uri=\"/cwmp\"", "uri=\"/other\""),
            fail(AuthFailure::BadResponse),
        ),
        (
            "nc changed after hashing",
            &md5,
            good.replace("nc=00000001", "nc=00000002"),
            fail(AuthFailure::BadResponse),
        ),
        (
            "qop dropped after hashing",
            &md5,
            good.replace(", qop=auth", ""),
            fail(AuthFailure::BadResponse),
        ),
        (
            "truncated response",
            &md5,
            good.replace(&r, &r[..31]),
            fail(AuthFailure::BadResponse),
        ),
        (
            "unknown user",
            &md5,
            std_hdr("mallory", "x", "/cwmp", &nonce),
            fail(AuthFailure::UnknownUser),
        ),
        (
            "realm mismatch",
            &md5,
            good.replace(REALM, "other"),
            fail(AuthFailure::RealmMismatch),
        ),
        (
            "sha-256 not enabled",
            &md5,
            good.replace("algorithm=MD5", "algorithm=SHA-256"),
            fail(AuthFailure::UnsupportedAlgorithm),
        ),
        (
            "MD5-sess",
            &md5,
            good.replace("algorithm=MD5", "algorithm=MD5-sess"),
            fail(AuthFailure::UnsupportedAlgorithm),
        ),
        (
            "rfc 2069 needs MD5 enabled",
            &sha_only,
            format!(
                r#"Digest username="cpe", realm="{REALM}", nonce="{nonce}", uri="/cwmp", response="{r2069}""#
            ),
            fail(AuthFailure::UnsupportedAlgorithm),
        ),
        (
            "auth-int",
            &md5,
            good.replace("qop=auth", "qop=auth-int"),
            fail(AuthFailure::UnsupportedQop),
        ),
        (
            "userhash",
            &md5,
            format!("{good}, userhash=true"),
            fail(AuthFailure::UserhashUnsupported),
        ),
        (
            "basic scheme",
            &md5,
            "Basic Y3BlOnMzY3JldA==".into(),
            fail(AuthFailure::WrongScheme),
        ),
        ("blank", &md5, "   ".into(), fail(AuthFailure::Missing)),
        (
            "scheme only",
            &md5,
            "Digest".into(),
            fail(AuthFailure::Malformed("no parameters")),
        ),
        (
            "unterminated quote",
            &md5,
            good.replace("opaque=\"x\"", "opaque=\"x"),
            fail(AuthFailure::Malformed("unterminated quoted string")),
        ),
        (
            "duplicate parameter",
            &md5,
            format!("{good}, nonce=\"x\""),
            fail(AuthFailure::Malformed("duplicate parameter")),
        ),
        (
            "missing response",
            &md5,
            good.replace(&format!(", response=\"{r}\""), ""),
            fail(AuthFailure::Malformed("missing response")),
        ),
        (
            "missing nonce",
            &md5,
            good.replace(&format!(" nonce=\"{nonce}\","), ""),
            fail(AuthFailure::Malformed("missing nonce")),
        ),
        (
            "qop without nc",
            &md5,
            good.replace(" nc=00000001,", ""),
            fail(AuthFailure::Malformed("qop=auth without nc")),
        ),
        (
            "qop without cnonce",
            &md5,
            good.replace(", cnonce=\"c0ffee\"", ""),
            fail(AuthFailure::Malformed("qop=auth without cnonce")),
        ),
        (
            "both username forms",
            &md5,
            format!("{good}, username*=UTF-8''x"),
            fail(AuthFailure::Malformed("both username and username*")),
        ),
        (
            "token68 after scheme",
            &md5,
            "Digest abc".into(),
            fail(AuthFailure::Malformed("unexpected token after parameters")),
        ),
        (
            "second scheme",
            &md5,
            format!("{good}, Basic abc"),
            fail(AuthFailure::Malformed("unexpected token after parameters")),
        ),
        (
            "too long",
            &md5,
            format!("{good}, x=\"{}\"", "a".repeat(9000)),
            fail(AuthFailure::Malformed("header too long")),
        ),
    ];
    for (name, a, header, want) in cases {
        check(name, a, Some(&header), now, want);
    }
    check("absent", &md5, None, now, fail(AuthFailure::Missing));
}

#[test]
fn stale_then_fresh_challenge_succeeds() {
    let a = auth(&[DigestAlgorithm::Md5]);
    let first = &a.challenge(t(0), false)[0];
    let h = digest_authorization(first, "POST", "/", "cpe", "s3cret", "1", 1).unwrap();
    check("fresh", &a, Some(&h), t(LIFETIME), ok("cpe"));
    check("late", &a, Some(&h), t(LIFETIME + 1), AuthOutcome::Stale);
    let again = &a.challenge(t(LIFETIME + 1), true)[0];
    assert!(again.ends_with("stale=true"));
    let h = digest_authorization(again, "POST", "/", "cpe", "s3cret", "2", 1).unwrap();
    check("after stale", &a, Some(&h), t(LIFETIME + 2), ok("cpe"));
}

fn digestish() -> impl Strategy<Value = String> {
    let name = prop::sample::select(vec![
        "username",
        "realm",
        "nonce",
        "uri",
        "response",
        "qop",
        "nc",
        "cnonce",
        "algorithm",
        "opaque",
        "userhash",
        "username*",
        "x",
    ]);
    let value = prop_oneof![
        "[ -~]{0,20}".prop_map(|v| quote(&v)),
        "[!-~]{0,20}",
        ".{0,8}",
        Just("\"unterminated".to_owned()),
        Just("auth".to_owned()),
        Just("MD5".to_owned()),
    ];
    let sep = prop::sample::select(vec![",", ", ", " ", ",,", "\t,", "", "="]);
    prop::collection::vec((name, "[ =]{0,2}", value, sep), 0..12).prop_map(|items| {
        let mut s = "Digest ".to_owned();
        for (n, eq, v, sep) in items {
            s.push_str(&format!("{n}={eq}{v}{sep}"));
        }
        s
    })
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_headers(h in ".*") {
        let a = auth(&[DigestAlgorithm::Md5, DigestAlgorithm::Sha256]);
        let _ = a.verify("POST", Some(&h), t(0), &lookup);
        let _ = crate::auth::verify_basic(Some(&h), &lookup);
        let _ = crate::auth::claimed_username(&h);
        let _ = digest_authorization(&h, "POST", "/", "u", "p", "c", 1);
    }

    #[test]
    fn never_panics_on_digest_like_headers(h in digestish()) {
        let a = auth(&[DigestAlgorithm::Md5]);
        let outcome = a.verify("POST", Some(&h), t(0), &lookup);
        prop_assert!(!outcome.is_authenticated());
        let _ = crate::auth::claimed_username(&h);
        let _ = digest_authorization(&h, "POST", "/", "u", "p", "c", 1);
    }

    #[test]
    fn client_and_server_agree(user in "[a-zA-Z0-9\",\\\\ -]{1,12}", pw in ".{0,12}", uri in "[ -~]{0,20}", nc in 1u32..) {
        let a = auth(&[DigestAlgorithm::Md5, DigestAlgorithm::Sha256]);
        let pw2 = pw.clone();
        let user2 = user.clone();
        let lookup = move |u: &str| (u == user2).then(|| Secret::from(pw2.as_str()));
        for c in a.challenge(t(0), false) {
            let h = digest_authorization(&c, "POST", &uri, &user, &pw, "cn", nc).unwrap();
            prop_assert_eq!(a.verify("POST", Some(&h), t(1), &lookup), AuthOutcome::Authenticated { username: user.clone() });
        }
    }
}

//! CPE authentication on the CWMP endpoint: Digest and Basic accepted and refused as configured.

use acs_core::auth::{CpeAuthMode, DigestAlgorithm, client::digest_authorization};
use acs_core::config::{DeviceCredentials, LimiterSettings, Settings};
use acs_core::cwmp::EventCode;
use acs_core::secret::Secret;
use acs_tests::{RawCpe, device_key, inform, spawn_app_with};

fn with_auth(
    mode: CpeAuthMode,
    algorithms: Vec<DigestAlgorithm>,
    allow_insecure_basic: bool,
) -> impl FnOnce(&mut Settings) {
    move |c| {
        c.cpe_auth.mode = Some(mode);
        c.cpe_auth.username = Some("cpe".into());
        c.cpe_auth.password = Some(Secret::new("s3cret"));
        // AUTH7 has a pair of its own.
        c.cpe_auth.devices.insert(
            device_key("AUTH7"),
            DeviceCredentials {
                username: "phone-7".into(),
                password: Secret::new("per-device"),
            },
        );
        c.cpe_auth.digest_algorithms = algorithms;
        c.cpe_auth.limiter = LimiterSettings {
            max_failures: 3,
            window_secs: 600,
            block_secs: 600,
        };
        // Basic over plain HTTP is a deliberate opt-in; the tests have no TLS listener.
        c.cpe_auth.allow_insecure_basic = allow_insecure_basic;
    }
}

fn challenges(reply: &acs_tests::Reply) -> Vec<String> {
    reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn digest_is_required_accepted_and_refused_as_configured() {
    for algorithms in [
        vec![DigestAlgorithm::Md5],
        vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
    ] {
        let app = spawn_app_with(with_auth(CpeAuthMode::Digest, algorithms.clone(), false)).await;
        let body = acs_core::cwmp::encode(&inform("AUTH1", &[EventCode::Bootstrap], "1")).unwrap();
        let mut cpe = RawCpe::new(&app.cwmp_url);
        let first = cpe.post(body.clone()).await;
        assert_eq!(first.status, 401);
        assert!(
            first.session_cookie().is_none(),
            "a refused request creates no session"
        );
        assert_eq!(app.state.registry.len(), 0);
        let offered = challenges(&first);
        assert_eq!(offered.len(), algorithms.len(), "{offered:?}");
        for challenge in &offered {
            // Wrong password: refused again.
            cpe.authorization = Some(
                digest_authorization(challenge, "POST", "/", "cpe", "wrong", "c0ffee", 1).unwrap(),
            );
            assert_eq!(cpe.post(body.clone()).await.status, 401);
            // Right password, shared and per-device credentials both work.
            for (serial, user, pass) in [
                ("AUTH1", "cpe", "s3cret"),
                ("AUTH7", "phone-7", "per-device"),
            ] {
                cpe.authorization = Some(
                    digest_authorization(challenge, "POST", "/", user, pass, "c0ffee", 1).unwrap(),
                );
                let own =
                    acs_core::cwmp::encode(&inform(serial, &[EventCode::Bootstrap], "1")).unwrap();
                let ok = cpe.post(own).await;
                assert_eq!(ok.status, 200, "{challenge}: {}", ok.text);
                // The rest of the session rides on the cookie.
                cpe.authorization = None;
                assert_eq!(cpe.post(Vec::new()).await.status, 204);
                cpe.cookie = None;
            }
        }
        app.cleanup().await;
    }
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_per_source() {
    let app = spawn_app_with(with_auth(
        CpeAuthMode::Digest,
        vec![DigestAlgorithm::Md5],
        false,
    ))
    .await;
    let body = acs_core::cwmp::encode(&inform("AUTH2", &[EventCode::Bootstrap], "1")).unwrap();
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let challenge = challenges(&cpe.post(body.clone()).await).remove(0);
    cpe.authorization =
        Some(digest_authorization(&challenge, "POST", "/", "cpe", "nope", "1", 1).unwrap());
    for _ in 0..3 {
        assert_eq!(cpe.post(body.clone()).await.status, 401);
    }
    let blocked = cpe.post(body.clone()).await;
    assert_eq!(blocked.status, 429);
    assert!(blocked.headers.get("retry-after").is_some());
    // Even the right password waits out the block.
    cpe.authorization =
        Some(digest_authorization(&challenge, "POST", "/", "cpe", "s3cret", "1", 2).unwrap());
    assert_eq!(cpe.post(body).await.status, 429);
    let metrics = reqwest::get(format!("{}/metrics", app.nbi_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("acs_auth_failures_total"), "{metrics}");
    app.cleanup().await;
}

#[tokio::test]
async fn basic_is_accepted_only_where_allowed() {
    use base64::Engine as _;
    let basic = |user: &str, pass: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    };
    // Over plain HTTP, Basic is refused at start unless explicitly allowed.
    let mut config = acs_tests::test_settings();
    with_auth(CpeAuthMode::Basic, vec![], false)(&mut config);
    acs_tests::init();
    let (db, url) = acs_tests::TestDb::create().await;
    let store = acs_core::storage::Store::connect(&url, Default::default())
        .await
        .unwrap();
    let err = acs_http::Application::build(&config, store)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
    db.drop_database().await;
    // With the opt-in, Basic works.
    let app = spawn_app_with(with_auth(CpeAuthMode::Basic, vec![], true)).await;
    let body = acs_core::cwmp::encode(&inform("AUTH3", &[EventCode::Bootstrap], "1")).unwrap();
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let refused = cpe.post(body.clone()).await;
    assert_eq!(refused.status, 401);
    assert!(challenges(&refused)[0].starts_with("Basic realm="));
    cpe.authorization = Some(basic("cpe", "bad"));
    assert_eq!(cpe.post(body.clone()).await.status, 401);
    cpe.authorization = Some(basic("cpe", "s3cret"));
    assert_eq!(cpe.post(body.clone()).await.status, 200);
    app.cleanup().await;
}

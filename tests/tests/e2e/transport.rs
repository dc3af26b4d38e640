//! Transport-level behaviour: TLS on both listeners and client addresses behind a proxy.

use acs_core::auth::CpeAuthMode;
use acs_core::cwmp::EventCode;
use acs_core::secret::Secret;
use acs_tests::{RawCpe, api_token, device_key, inform, spawn_app_with};

/// A self-signed certificate for `localhost`, written to a temporary directory.
fn localhost_certificate() -> (
    rcgen::CertifiedKey<rcgen::KeyPair>,
    tempfile::TempDir,
    acs_core::config::TlsSettings,
) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let settings = acs_core::config::TlsSettings {
        cert: cert_path,
        key: key_path,
    };
    (cert, dir, settings)
}

/// `[nbi.tls]`: the API, health and metrics answer over HTTPS, and plain HTTP gets nowhere.
#[tokio::test]
async fn the_nbi_over_tls() {
    let (cert, _dir, tls) = localhost_certificate();
    let app = spawn_app_with(|c| c.nbi.tls = Some(tls.clone())).await;
    let https = app.nbi_url.replace("http://127.0.0.1", "https://localhost");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let health = client.get(format!("{https}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let token = api_token(&app, "tls-reader", acs_core::storage::Role::Viewer).await;
    let devices = client
        .get(format!("{https}/api/v1/devices"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(devices.status(), 200);
    let plain = reqwest::Client::new()
        .get(format!("{}/healthz", app.nbi_url))
        .send()
        .await;
    assert!(
        plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()),
        "plain HTTP must not reach a TLS listener"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn cwmp_over_tls_with_basic_authentication() {
    let (cert, _dir, tls) = localhost_certificate();
    let app = spawn_app_with(|c| {
        c.cwmp.tls = Some(tls.clone());
        // Basic is acceptable over TLS without any opt-in.
        c.cpe_auth.mode = Some(CpeAuthMode::Basic);
        c.cpe_auth.username = Some("cpe".into());
        c.cpe_auth.password = Some(Secret::new("tls-pass"));
    })
    .await;
    let url = app
        .cwmp_url
        .replace("http://127.0.0.1", "https://localhost");
    let mut cpe = RawCpe::new(&url);
    cpe.client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    use base64::Engine as _;
    cpe.authorization = Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("cpe:tls-pass")
    ));
    let reply = cpe
        .send(&inform("TLS1", &[EventCode::Bootstrap], "1"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let cookie = reply
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    // Plain HTTP to the TLS port gets nowhere.
    let plain = reqwest::Client::new()
        .post(&app.cwmp_url)
        .body("x")
        .send()
        .await;
    assert!(plain.is_err() || plain.is_ok_and(|r| r.status() != 200));
    app.cleanup().await;
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let app = spawn_app_with(|c| {
        c.cwmp.trusted_proxies =
            vec![acs_core::config::IpNetwork::new("127.0.0.0".parse().unwrap(), 8).unwrap()];
    })
    .await;
    let cpe = RawCpe::new(&app.cwmp_url);
    let body = acs_core::cwmp::encode(&inform("XFF1", &[EventCode::Bootstrap], "1")).unwrap();
    let resp = cpe
        .client
        .post(&app.cwmp_url)
        .header("X-Forwarded-For", "203.0.113.99, 198.51.100.7, 127.0.0.2")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let device = app
        .store
        .get_device(&device_key("XFF1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        device.remote_ip.as_deref(),
        Some("198.51.100.7"),
        "the rightmost untrusted hop is the client"
    );
    app.cleanup().await;

    // Without trusted proxies the header is ignored.
    let app = spawn_app_with(|_| {}).await;
    let body = acs_core::cwmp::encode(&inform("XFF2", &[EventCode::Bootstrap], "1")).unwrap();
    cpe.client
        .post(&app.cwmp_url)
        .header("X-Forwarded-For", "203.0.113.99")
        .body(body)
        .send()
        .await
        .unwrap();
    let device = app
        .store
        .get_device(&device_key("XFF2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(device.remote_ip.as_deref(), Some("127.0.0.1"));
    app.cleanup().await;
}

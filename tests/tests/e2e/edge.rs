//! The edge of the CWMP listener: a session cookie alone admits nobody, unauthenticated bodies
//! are never read, slow bodies are cut off, and header names are written as strict CPE agents
//! expect them.

use acs_core::auth::{CpeAuthMode, DigestAlgorithm, client::digest_authorization};
use acs_core::cwmp::{self, Body, CwmpNamespace, Envelope, EventCode};
use acs_core::secret::Secret;
use acs_core::storage::{NewTask, TaskState};
use acs_tests::{RawCpe, TestApp, device_key, inform, spawn_app_with};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USER: &str = "cpe";
const PASSWORD: &str = "s3cret";

fn digest(c: &mut acs_core::config::Settings) {
    c.cpe_auth.mode = Some(CpeAuthMode::Digest);
    c.cpe_auth.digest_algorithms = vec![DigestAlgorithm::Md5];
    c.cpe_auth.username = Some(USER.into());
    c.cpe_auth.password = Some(Secret::new(PASSWORD));
    // Another identity, with a pair of its own.
    c.cpe_auth.devices.insert(
        acs_tests::device_key("EDGE7"),
        acs_core::config::DeviceCredentials {
            username: "phone-7".into(),
            password: Secret::new("per-device"),
        },
    );
}

fn challenge(reply: &acs_tests::Reply) -> String {
    reply
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a challenge")
        .to_owned()
}

/// Answers the challenge in `refused` as `user` and POSTs `body` again.
async fn answer_challenge(
    cpe: &mut RawCpe,
    refused: &acs_tests::Reply,
    user: &str,
    password: &str,
    body: Vec<u8>,
) -> acs_tests::Reply {
    assert_eq!(refused.status, 401, "{}", refused.text);
    cpe.authorization = Some(
        digest_authorization(
            &challenge(refused),
            "POST",
            "/",
            user,
            password,
            "c0ffee",
            1,
        )
        .unwrap(),
    );
    let reply = cpe.post(body).await;
    cpe.authorization = None;
    reply
}

/// A device with one GetParameterValues queued, in a session whose request is outstanding.
struct Victim {
    cpe: RawCpe,
    key: String,
    task: i64,
    cwmp_id: String,
}

/// Opens a session with an Inform, answering the challenge when `authenticate`.
async fn open(cpe: &mut RawCpe, serial: &str, authenticate: bool) {
    let body = cwmp::encode(&inform(serial, &[EventCode::Periodic], "1"))
        .unwrap()
        .into_bytes();
    let mut opened = cpe.post(body.clone()).await;
    if authenticate {
        opened = answer_challenge(cpe, &opened, USER, PASSWORD, body).await;
    }
    assert_eq!(opened.status, 200, "{}", opened.text);
}

async fn victim_mid_session(app: &TestApp, serial: &str, authenticate: bool) -> Victim {
    let key = device_key(serial);
    let mut cpe = RawCpe::new(&app.cwmp_url);
    // A first session makes the device known, so tasks can be queued for it.
    open(&mut cpe, serial, authenticate).await;
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    let gpv = Body::GetParameterValues(cwmp::GetParameterValues {
        parameter_names: vec!["Device.DeviceInfo.SoftwareVersion".into()],
    });
    let task = app
        .store
        .enqueue_task(&NewTask::new(
            &key,
            "GetParameterValues",
            serde_json::to_value(&gpv).unwrap(),
        ))
        .await
        .unwrap();
    open(&mut cpe, serial, authenticate).await;
    let request = cpe.post(Vec::new()).await.envelope();
    assert_eq!(request.body, gpv);
    assert_eq!(
        app.store.get_task(task.id).await.unwrap().unwrap().state,
        TaskState::Sent
    );
    Victim {
        cpe,
        key,
        task: task.id,
        cwmp_id: request.header.id.expect("cwmp:ID"),
    }
}

fn gpv_response(cwmp_id: &str, version: &str) -> Vec<u8> {
    cwmp::encode(&Envelope::new(
        CwmpNamespace::for_version(cwmp::CwmpVersion::V1_2),
        Some(cwmp_id.to_owned()),
        Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
            parameter_list: vec![cwmp::ParameterValue::string(
                "Device.DeviceInfo.SoftwareVersion",
                version,
            )],
        }),
    ))
    .unwrap()
    .into_bytes()
}

/// The victim's session is exactly as it was: request outstanding, nothing forged stored.
async fn assert_untouched(app: &TestApp, victim: &Victim) {
    let task = app.store.get_task(victim.task).await.unwrap().unwrap();
    assert_eq!(
        task.state,
        TaskState::Sent,
        "the outstanding request stays sent"
    );
    let params = app
        .store
        .get_parameters(&victim.key, Some("Device.DeviceInfo.SoftwareVersion"))
        .await
        .unwrap();
    assert!(
        params.iter().all(|p| p.value != "forged"),
        "no forged value stored: {params:?}"
    );
    assert_eq!(
        app.state.registry.len(),
        1,
        "the victim's session is still live"
    );
}

/// The victim answers on its own connection and its session completes.
async fn victim_completes(app: &TestApp, mut victim: Victim) {
    let done = victim
        .cpe
        .post(gpv_response(&victim.cwmp_id, "sip88xx.12-0-3MPP-5"))
        .await;
    assert_eq!(done.status, 204, "{}", done.text);
    let task = app.store.get_task(victim.task).await.unwrap().unwrap();
    assert_eq!(task.state, TaskState::Done);
    let params = app
        .store
        .get_parameters(&victim.key, Some("Device.DeviceInfo.SoftwareVersion"))
        .await
        .unwrap();
    assert_eq!(params[0].value, "sip88xx.12-0-3MPP-5");
}

#[tokio::test]
async fn a_replayed_cookie_does_not_continue_an_authenticated_session() {
    let app = spawn_app_with(digest).await;
    let victim = victim_mid_session(&app, "EDGE1", true).await;
    let forged = gpv_response(&victim.cwmp_id, "forged");

    // Another connection, the stolen cookie, no credentials: challenged, nothing read.
    let mut attacker = RawCpe::new(&app.cwmp_url);
    attacker.cookie = victim.cpe.cookie.clone();
    let refused = attacker.post(forged.clone()).await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(challenge(&refused).starts_with("Digest "));
    assert_untouched(&app, &victim).await;
    // Nor an empty POST, which would ask for the victim's next request.
    assert_eq!(attacker.post(Vec::new()).await.status, 401);
    assert_untouched(&app, &victim).await;

    // Valid credentials of another identity do not make the cookie theirs.
    let forbidden = answer_challenge(
        &mut attacker,
        &refused,
        "phone-7",
        "per-device",
        forged.clone(),
    )
    .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.text);
    assert_untouched(&app, &victim).await;

    // A wrong password for the right identity neither.
    let wrong = answer_challenge(&mut attacker, &refused, USER, "guess", forged).await;
    assert_eq!(wrong.status, 401);
    assert_untouched(&app, &victim).await;

    victim_completes(&app, victim).await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_cpe_reconnecting_mid_session_authenticates_again() {
    let app = spawn_app_with(digest).await;
    let victim = victim_mid_session(&app, "EDGE2", true).await;
    // The CPE lost its connection and carries on over a new one, answering the challenge there
    // as real CPEs do.
    let mut reconnected = RawCpe::new(&app.cwmp_url);
    reconnected.cookie = victim.cpe.cookie.clone();
    let answer = gpv_response(&victim.cwmp_id, "sip88xx.12-0-3MPP-6");
    let refused = reconnected.post(answer.clone()).await;
    let done = answer_challenge(&mut reconnected, &refused, USER, PASSWORD, answer).await;
    assert_eq!(done.status, 204, "{}", done.text);
    let task = app.store.get_task(victim.task).await.unwrap().unwrap();
    assert_eq!(task.state, TaskState::Done);
    app.cleanup().await;
}

#[tokio::test]
async fn without_authentication_a_cookie_from_another_address_is_refused() {
    let app = spawn_app_with(|_| {}).await;
    let victim = victim_mid_session(&app, "EDGE3", false).await;
    let other_address = reqwest::Client::builder()
        .local_address(Some("127.0.0.2".parse().unwrap()))
        .build()
        .unwrap();
    let mut attacker = RawCpe {
        client: other_address,
        url: app.cwmp_url.clone(),
        cookie: victim.cpe.cookie.clone(),
        authorization: None,
    };
    let refused = attacker.post(gpv_response(&victim.cwmp_id, "forged")).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_untouched(&app, &victim).await;

    // The same CPE on a new connection from its own address carries on.
    let mut reconnected = RawCpe::new(&app.cwmp_url);
    reconnected.cookie = victim.cpe.cookie.clone();
    let done = reconnected
        .post(gpv_response(&victim.cwmp_id, "sip88xx.12-0-3MPP-6"))
        .await;
    assert_eq!(done.status, 204, "{}", done.text);
    assert_eq!(
        app.store
            .get_task(victim.task)
            .await
            .unwrap()
            .unwrap()
            .state,
        TaskState::Done
    );
    app.cleanup().await;
}

// ---- Raw HTTP: what is read before answering, and the bytes on the wire. ----

fn addr(app: &TestApp) -> String {
    app.cwmp_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// Reads one response: the head as text and the body by its Content-Length.
async fn read_response(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.expect("read response");
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.expect("read body");
        assert!(n > 0, "connection closed inside the body");
        body.extend_from_slice(&chunk[..n]);
    }
    (head, body)
}

/// Waits for the server to close the connection. The timeout only keeps a failing test from
/// hanging; the assertion is that the close happens at all.
async fn assert_closed(stream: &mut TcpStream, what: &str) {
    let mut sink = [0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "{what}: the server left the connection open"
    );
}

fn post_head(extra: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: acs\r\nContent-Type: text/xml; charset=\"utf-8\"\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn an_unauthenticated_body_is_refused_before_it_is_sent() {
    let app = spawn_app_with(digest).await;
    for framing in [
        "Content-Length: 16777216\r\n",
        "Transfer-Encoding: chunked\r\n",
    ] {
        let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
        // Only the head: the answer must come without a byte of the body.
        stream
            .write_all(post_head(framing).as_bytes())
            .await
            .unwrap();
        let (head, _) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 401"), "{framing}: {head}");
        assert!(
            head.contains("\r\nWWW-Authenticate: Digest "),
            "{framing}: {head}"
        );
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        assert_closed(&mut stream, framing).await;
    }
    assert_eq!(app.state.registry.len(), 0);
    app.cleanup().await;
}

#[tokio::test]
async fn a_small_refused_body_keeps_the_connection_for_the_digest_retry() {
    let app = spawn_app_with(digest).await;
    let body = cwmp::encode(&inform("EDGE5", &[EventCode::Bootstrap], "1")).unwrap();
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    let request = |authorization: &str| {
        let mut r = post_head(&format!(
            "Content-Length: {}\r\n{authorization}",
            body.len()
        ))
        .into_bytes();
        r.extend_from_slice(body.as_bytes());
        r
    };
    stream.write_all(&request("")).await.unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let challenge = head
        .lines()
        .find_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .expect("title-case challenge header");
    let authorization =
        digest_authorization(challenge, "POST", "/", USER, PASSWORD, "c0ffee", 1).unwrap();
    // Same connection: it was kept open.
    stream
        .write_all(&request(&format!("Authorization: {authorization}\r\n")))
        .await
        .unwrap();
    let (head, body) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("\r\nSet-Cookie: acs_session="), "{head}");
    assert!(head.contains("\r\nContent-Type: text/xml"), "{head}");
    assert!(String::from_utf8_lossy(&body).contains("InformResponse"));
    app.cleanup().await;
}

/// The spelling must survive everything that can come before a challenge on one connection: a
/// HEAD answer (a Content-Length with no body after it), a 100 Continue, and a body that looks
/// like a header line. Each answer is read off the raw bytes, as a strict CPE agent reads them.
#[tokio::test]
async fn header_names_reach_the_cpe_in_title_case_after_a_bodiless_answer() {
    let app = spawn_app_with(digest).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    // A HEAD for a device file without credentials: refused with a challenge and no body.
    stream
        .write_all(b"HEAD /files/d/phone.cfg HTTP/1.1\r\nHost: acs\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.expect("read HEAD answer");
        assert!(n > 0, "closed after HEAD");
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    assert!(head.contains("\r\nWWW-Authenticate: "), "{head}");
    assert!(head.contains("\r\nContent-Length: "), "{head}");
    // Then a CWMP POST with Expect: 100-continue on the same connection.
    let body = "<x/>";
    stream
        .write_all(
            post_head(&format!(
                "Content-Length: {}\r\nExpect: 100-continue\r\n",
                body.len()
            ))
            .as_bytes(),
        )
        .await
        .unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut wire = String::new();
    loop {
        if let Some(from) = wire.find("HTTP/1.1 401")
            && wire[from..].contains("\r\n\r\n")
        {
            break;
        }
        let n = stream.read(&mut chunk).await.expect("read POST answer");
        assert!(n > 0, "closed before the challenge: {wire}");
        wire.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    let from = wire.find("HTTP/1.1 401").expect("a 401 for the POST");
    let head = &wire[from..];
    assert!(head.contains("\r\nWWW-Authenticate: Digest "), "{wire}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_cut_off() {
    let app = spawn_app_with(|c| c.cwmp.body_timeout_secs = 1).await;
    for (framing, sent) in [
        // Trickles: ten bytes of a thousand, then nothing.
        ("Content-Length: 1000\r\n", "<soap:Env>"),
        // A chunked body whose last chunk never comes.
        ("Transfer-Encoding: chunked\r\n", "5\r\n<soap\r\n"),
    ] {
        let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
        stream
            .write_all(format!("{}{sent}", post_head(framing)).as_bytes())
            .await
            .unwrap();
        let (head, _) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 408"), "{framing}: {head}");
        assert_closed(&mut stream, framing).await;
    }
    assert_eq!(app.state.registry.len(), 0);
    app.cleanup().await;
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_unread() {
    let app = spawn_app_with(|c| c.cwmp.max_body_bytes = 64 * 1024).await;
    let mut stream = TcpStream::connect(addr(&app)).await.unwrap();
    stream
        .write_all(post_head("Content-Length: 1000000\r\n").as_bytes())
        .await
        .unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert_closed(&mut stream, "over the limit").await;
    app.cleanup().await;
}

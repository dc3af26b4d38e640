use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::auth::{AuthOutcome, DigestAlgorithm, DigestAuthenticator};

const USER: &str = "acs";
const PASSWORD: &str = "s3cret";

fn init() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// One request as the test CPE saw it.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
}

fn status(status: u16) -> Resp {
    Resp {
        status,
        headers: Vec::new(),
    }
}

fn with_headers(status: u16, headers: &[(&str, &str)]) -> Resp {
    Resp {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// A tiny HTTP/1.1 connection-request server: one request per connection, empty bodies.
struct TestCpe {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Req>>>,
    high_water: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestCpe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestCpe {
    async fn start(handler: impl Fn(&Req) -> Resp + Send + Sync + 'static) -> Self {
        Self::start_with_delay(handler, Duration::ZERO).await
    }

    async fn start_with_delay(
        handler: impl Fn(&Req) -> Resp + Send + Sync + 'static,
        delay: Duration,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handler: Handler = Arc::new(handler);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let high_water = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let task = {
            let seen = Arc::clone(&seen);
            let high_water = Arc::clone(&high_water);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let handler = Arc::clone(&handler);
                    let seen = Arc::clone(&seen);
                    let high_water = Arc::clone(&high_water);
                    let in_flight = Arc::clone(&in_flight);
                    tokio::spawn(async move {
                        let mut stream = stream;
                        let Some(req) = read_request(&mut stream).await else {
                            return;
                        };
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        high_water.fetch_max(now, Ordering::SeqCst);
                        lock(&seen).push(req.clone());
                        if !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        let resp = handler(&req);
                        let mut out = format!("HTTP/1.1 {} Test\r\n", resp.status);
                        for (n, v) in &resp.headers {
                            out.push_str(&format!("{n}: {v}\r\n"));
                        }
                        out.push_str("Content-Length: 0\r\nConnection: close\r\n\r\n");
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        let _ = stream.write_all(out.as_bytes()).await;
                        let _ = stream.shutdown().await;
                    });
                }
            })
        };
        Self {
            addr,
            seen,
            high_water,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/cr/dev?x=1", self.addr)
    }

    fn requests(&self) -> Vec<Req> {
        lock(&self.seen).clone()
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<Req> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 16 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Some(Req {
        method,
        target,
        headers,
    })
}

fn target(device_id: &str, url: &str, creds: Option<(&str, &str)>) -> ConnReqTarget {
    ConnReqTarget {
        device_id: device_id.to_owned(),
        url: Some(url.to_owned()),
        username: creds.map(|(u, _)| u.to_owned()),
        password: creds.map(|(_, p)| Secret::new(p)),
    }
}

fn client(config: ConnReqConfig) -> ConnReqClient {
    init();
    ConnReqClient::new(config).unwrap()
}

/// A CPE demanding Digest with `algorithms`, accepting `acs`/`s3cret`.
fn digest_cpe(algorithms: Vec<DigestAlgorithm>) -> impl Fn(&Req) -> Resp + Send + Sync {
    let auth =
        DigestAuthenticator::new("cpe.example", [7; 32], Duration::from_secs(300), algorithms)
            .unwrap();
    move |req| {
        let lookup = |u: &str| (u == USER).then(|| Secret::new(PASSWORD));
        match auth.verify(
            &req.method,
            req.header("authorization"),
            SystemTime::now(),
            &lookup,
        ) {
            AuthOutcome::Authenticated { .. } => status(200),
            outcome => {
                let stale = outcome == AuthOutcome::Stale;
                let mut resp = status(401);
                for c in auth.challenge(SystemTime::now(), stale) {
                    resp.headers.push(("WWW-Authenticate".into(), c));
                }
                resp
            }
        }
    }
}

/// Like easycwmp: the header name and the scheme are compared byte for byte, so a lowercase
/// `authorization:` is never seen and the request is challenged forever.
fn case_sensitive_digest_cpe() -> impl Fn(&Req) -> Resp + Send + Sync {
    let lenient = digest_cpe(vec![DigestAlgorithm::Md5]);
    move |req| {
        let strict = Req {
            headers: req
                .headers
                .iter()
                .filter(|(n, v)| n == "Authorization" && v.starts_with("Digest "))
                .cloned()
                .collect(),
            ..req.clone()
        };
        lenient(&strict)
    }
}

#[tokio::test]
async fn header_names_are_title_case_for_strict_agents() {
    let cpe = TestCpe::start(case_sensitive_digest_cpe()).await;
    let c = client(ConnReqConfig::default());
    let outcome = c
        .send(&target("strict", &cpe.url(), Some((USER, PASSWORD))))
        .await;
    assert_eq!(outcome, ConnReqOutcome::Accepted { status: 200 });
    let reqs = cpe.requests();
    assert_eq!(reqs.len(), 2, "one challenge, then accepted");
    assert!(
        reqs[1]
            .headers
            .iter()
            .any(|(n, v)| n == "Authorization" && v.starts_with("Digest ")),
        "{:?}",
        reqs[1].headers
    );
    for (name, _) in reqs.iter().flat_map(|r| &r.headers) {
        let title_case = name.split('-').all(|part| {
            part.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && part.chars().skip(1).all(|c| !c.is_ascii_uppercase())
        });
        assert!(title_case, "header name {name:?} as sent");
    }
}

#[tokio::test]
async fn digest_success() {
    for algorithms in [
        vec![DigestAlgorithm::Md5],
        vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
    ] {
        let cpe = TestCpe::start(digest_cpe(algorithms.clone())).await;
        let c = client(ConnReqConfig::default());
        let outcome = c
            .send(&target("d1", &cpe.url(), Some((USER, PASSWORD))))
            .await;
        assert_eq!(
            outcome,
            ConnReqOutcome::Accepted { status: 200 },
            "{algorithms:?}"
        );
        let reqs = cpe.requests();
        assert_eq!(reqs.len(), 2, "challenge round trip");
        assert!(
            reqs.iter()
                .all(|r| r.method == "GET" && r.target == "/cr/dev?x=1")
        );
        assert!(reqs[0].header("authorization").is_none());
        assert!(
            reqs[1]
                .header("authorization")
                .unwrap()
                .starts_with("Digest ")
        );
        assert!(reqs.iter().all(|r| {
            r.header("content-length").is_none_or(|v| v == "0")
                && r.header("transfer-encoding").is_none()
        }));
    }
}

#[tokio::test]
async fn digest_wrong_password_is_auth_failed() {
    let cpe = TestCpe::start(digest_cpe(vec![DigestAlgorithm::Md5])).await;
    let c = client(ConnReqConfig::default());
    let outcome = c
        .send(&target("d1", &cpe.url(), Some((USER, "wrong"))))
        .await;
    assert_eq!(outcome, ConnReqOutcome::AuthFailed);
    assert_eq!(cpe.requests().len(), 2);
    // A failed request does not hold the device's slot.
    let outcome = c
        .send(&target("d1", &cpe.url(), Some((USER, PASSWORD))))
        .await;
    assert_eq!(outcome, ConnReqOutcome::Accepted { status: 200 });
}

#[tokio::test]
async fn digest_challenge_after_a_basic_one() {
    // diqwest reads only the first WWW-Authenticate header; the fallback finds the Digest one.
    let digest = digest_cpe(vec![DigestAlgorithm::Md5]);
    let cpe = TestCpe::start(move |req| {
        let mut resp = digest(req);
        if resp.status == 401 {
            resp.headers
                .insert(0, ("WWW-Authenticate".into(), "Basic realm=\"cpe\"".into()));
        }
        resp
    })
    .await;
    let c = client(ConnReqConfig::default());
    let outcome = c
        .send(&target("d1", &cpe.url(), Some((USER, PASSWORD))))
        .await;
    assert_eq!(outcome, ConnReqOutcome::Accepted { status: 200 });
    let reqs = cpe.requests();
    assert!(reqs.iter().all(|r| {
        r.header("authorization")
            .is_none_or(|a| a.starts_with("Digest "))
    }));
}

#[tokio::test]
async fn without_credentials() {
    let open = TestCpe::start(|_| status(204)).await;
    let c = client(ConnReqConfig::default());
    let outcome = c.send(&target("d1", &open.url(), None)).await;
    assert_eq!(outcome, ConnReqOutcome::Accepted { status: 204 });
    assert_eq!(open.requests().len(), 1);

    let guarded = TestCpe::start(digest_cpe(vec![DigestAlgorithm::Md5])).await;
    let outcome = c.send(&target("d2", &guarded.url(), None)).await;
    assert_eq!(outcome, ConnReqOutcome::NoCredentials);
}

#[tokio::test]
async fn with_credentials_but_no_challenge() {
    // A CPE that does not authenticate: the first answer is final.
    let cpe = TestCpe::start(|_| status(200)).await;
    let c = client(ConnReqConfig::default());
    let outcome = c
        .send(&target("d1", &cpe.url(), Some((USER, PASSWORD))))
        .await;
    assert_eq!(outcome, ConnReqOutcome::Accepted { status: 200 });
    assert_eq!(cpe.requests().len(), 1);
}

#[tokio::test]
async fn status_interpretation() {
    let cases: Vec<(Resp, ConnReqOutcome)> = vec![
        (status(503), ConnReqOutcome::Busy { retry_after: None }),
        (
            with_headers(503, &[("Retry-After", "120")]),
            ConnReqOutcome::Busy {
                retry_after: Some(Duration::from_secs(120)),
            },
        ),
        (
            with_headers(503, &[("Retry-After", "Fri, 31 Dec 1999 23:59:59 GMT")]),
            ConnReqOutcome::Busy { retry_after: None },
        ),
        (status(500), ConnReqOutcome::Unexpected { status: 500 }),
        (status(404), ConnReqOutcome::Unexpected { status: 404 }),
        (
            with_headers(302, &[("Location", "http://127.0.0.1:1/elsewhere")]),
            ConnReqOutcome::Unexpected { status: 302 },
        ),
        (status(401), ConnReqOutcome::AuthFailed),
    ];
    let c = client(ConnReqConfig::default());
    for (i, (resp, want)) in cases.into_iter().enumerate() {
        let resp = Arc::new(resp);
        let cpe = TestCpe::start({
            let resp = Arc::clone(&resp);
            move |_| Resp {
                status: resp.status,
                headers: resp.headers.clone(),
            }
        })
        .await;
        let got = c
            .send(&target(
                &format!("d{i}"),
                &cpe.url(),
                Some((USER, PASSWORD)),
            ))
            .await;
        assert_eq!(got, want, "status {}", resp.status);
        // No redirect followed, no retry of a plain answer.
        if resp.status != 401 {
            assert_eq!(cpe.requests().len(), 1, "status {}", resp.status);
        }
    }
}

#[tokio::test]
async fn basic_only_challenge_is_opt_in() {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    let handler = move |req: &Req| {
        if req.header("authorization") == Some(expected.as_str()) {
            status(204)
        } else {
            with_headers(401, &[("WWW-Authenticate", "Basic realm=\"cpe\"")])
        }
    };
    let cpe = TestCpe::start(handler.clone()).await;
    let c = client(ConnReqConfig::default());
    let outcome = c
        .send(&target("d1", &cpe.url(), Some((USER, PASSWORD))))
        .await;
    assert_eq!(outcome, ConnReqOutcome::BasicNotAllowed);
    assert!(
        cpe.requests()
            .iter()
            .all(|r| r.header("authorization").is_none()),
        "the password must not be sent in clear"
    );

    let cpe = TestCpe::start(handler).await;
    let c = client(ConnReqConfig {
        allow_basic: true,
        ..ConnReqConfig::default()
    });
    let outcome = c
        .send(&target("d1", &cpe.url(), Some((USER, PASSWORD))))
        .await;
    assert_eq!(outcome, ConnReqOutcome::Accepted { status: 204 });
    let outcome = c
        .send(&target("d2", &cpe.url(), Some((USER, "wrong"))))
        .await;
    assert_eq!(outcome, ConnReqOutcome::AuthFailed);
}

#[tokio::test]
async fn unknown_challenge_scheme() {
    let cpe =
        TestCpe::start(|_| with_headers(401, &[("WWW-Authenticate", "Bearer realm=\"x\"")])).await;
    let c = client(ConnReqConfig::default());
    let outcome = c
        .send(&target("d1", &cpe.url(), Some((USER, PASSWORD))))
        .await;
    assert!(
        matches!(outcome, ConnReqOutcome::AuthUnsupported { .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn silent_cpe_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let c = client(ConnReqConfig {
        timeout: Duration::from_millis(200),
        ..ConnReqConfig::default()
    });
    let started = Instant::now();
    let outcome = c
        .send(&target(
            "d1",
            &format!("http://{addr}/"),
            Some((USER, PASSWORD)),
        ))
        .await;
    assert_eq!(outcome, ConnReqOutcome::Timeout);
    assert!(started.elapsed() < Duration::from_secs(5));
    hold.abort();
}

#[tokio::test]
async fn connection_refused_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = client(ConnReqConfig::default());
    let outcome = c
        .send(&target(
            "d1",
            &format!("http://{addr}/"),
            Some((USER, PASSWORD)),
        ))
        .await;
    let ConnReqOutcome::Unreachable { reason } = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(!reason.contains(PASSWORD));
    assert!(outcome.to_string().starts_with("the CPE is unreachable: "));
}

#[tokio::test]
async fn ipv6_literal() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        return; // no IPv6 loopback in this environment
    };
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let c = client(ConnReqConfig::default());
    // Port closed on purpose: the URL must get as far as a connection attempt.
    let outcome = c
        .send(&target("d1", &format!("http://[::1]:{port}/cr"), None))
        .await;
    assert!(
        matches!(outcome, ConnReqOutcome::Unreachable { .. }),
        "{outcome:?}"
    );
}

#[test]
fn url_validation() {
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (None, None),
        (Some(""), None),
        (Some("  "), None),
        (Some("ftp://10.0.0.1/cr"), Some("scheme \"ftp\"")),
        (Some("file:///etc/passwd"), Some("scheme")),
        (Some("not a url"), Some("")),
        (Some("http://user:pw@10.0.0.1:7547/"), Some("credentials")),
        (Some("http://[::1"), Some("")),
    ];
    for &(url, want) in cases {
        let got = validate_url(url).unwrap_err();
        match want {
            None => assert_eq!(got, ConnReqOutcome::NoUrl, "{url:?}"),
            Some(fragment) => {
                let ConnReqOutcome::InvalidUrl { reason } = &got else {
                    panic!("{url:?}: {got:?}");
                };
                assert!(reason.contains(fragment), "{url:?}: {reason}");
            }
        }
    }
    for ok in [
        "http://10.0.0.1:7547/cr",
        "https://cpe.example/cr?x=1",
        "http://[2001:db8::1]:7547/",
        " http://[fe80::1]/ ",
    ] {
        assert!(validate_url(Some(ok)).is_ok(), "{ok}");
    }
}

#[tokio::test]
async fn invalid_targets_send_nothing() {
    let c = client(ConnReqConfig::default());
    let mut t = target("d1", "ftp://127.0.0.1/cr", Some((USER, PASSWORD)));
    assert!(matches!(
        c.send(&t).await,
        ConnReqOutcome::InvalidUrl { .. }
    ));
    t.url = None;
    assert_eq!(c.send(&t).await, ConnReqOutcome::NoUrl);
}

#[tokio::test]
async fn pacing_per_device() {
    let cpe = TestCpe::start(|_| status(200)).await;
    let clock = Arc::new(ManualClock::new());
    init();
    let c = ConnReqClient::with_clock(ConnReqConfig::default(), clock.clone()).unwrap();
    let t = target("d1", &cpe.url(), None);

    assert!(c.send(&t).await.is_accepted());
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        c.send(&t).await,
        ConnReqOutcome::RateLimited {
            retry_in: Duration::from_secs(20)
        }
    );
    // Other devices are not affected.
    assert!(c.send(&target("d2", &cpe.url(), None)).await.is_accepted());
    assert_eq!(cpe.requests().len(), 2);

    // The device's session started: ask again at once.
    c.session_started("d1");
    assert!(c.send(&t).await.is_accepted());
    clock.advance(Duration::from_secs(29));
    assert_eq!(
        c.send(&t).await,
        ConnReqOutcome::RateLimited {
            retry_in: Duration::from_secs(1)
        }
    );
    clock.advance(Duration::from_secs(1));
    assert!(c.send(&t).await.is_accepted());
    assert_eq!(cpe.requests().len(), 4);
    // session_started for an unknown device is harmless.
    c.session_started("nobody");
}

#[tokio::test]
async fn only_accepted_requests_hold_the_slot() {
    let cpe = TestCpe::start(|_| status(503)).await;
    let clock = Arc::new(ManualClock::new());
    init();
    let c = ConnReqClient::with_clock(ConnReqConfig::default(), clock).unwrap();
    let t = target("d1", &cpe.url(), None);
    for _ in 0..3 {
        assert_eq!(c.send(&t).await, ConnReqOutcome::Busy { retry_after: None });
    }
    assert_eq!(cpe.requests().len(), 3);
}

#[tokio::test]
async fn duplicate_targets_in_one_fan_out_send_once() {
    let cpe = TestCpe::start_with_delay(|_| status(200), Duration::from_millis(50)).await;
    let c = client(ConnReqConfig::default());
    let t = target("d1", &cpe.url(), None);
    let summary = c.send_many(vec![t.clone(), t], |_, _| {}).await;
    assert_eq!(summary.accepted, 1);
    assert_eq!(summary.rate_limited, 1);
    assert_eq!(cpe.requests().len(), 1);
}

#[test]
fn pacing_map_is_bounded() {
    let min = Duration::from_secs(30);
    let t0 = Instant::now();
    let mut p = Pacing::new();
    for i in 0..3 {
        assert!(p.reserve(&format!("d{i}"), t0, min, 3).is_ok());
    }
    // Full with live entries: refused, nothing evicted.
    assert_eq!(p.reserve("d3", t0, min, 3), Err(min));
    assert_eq!(p.slots.len(), 3);
    // Once they expire, the prune makes room.
    let later = t0 + min;
    assert!(p.reserve("d3", later, min, 3).is_ok());
    assert_eq!(p.slots.len(), 1);

    // Expired entries are dropped as the map grows, without any cap being hit.
    let mut p = Pacing::new();
    for i in 0..PRUNE_FLOOR {
        p.reserve(&format!("old{i}"), t0, min, usize::MAX).unwrap();
    }
    p.reserve("new", later, min, usize::MAX).unwrap();
    assert_eq!(p.slots.len(), 1);

    // A stale release does not free a slot taken again since.
    let mut p = Pacing::new();
    let first = p.reserve("d", t0, min, 10).unwrap();
    p.slots.clear();
    let _second = p.reserve("d", t0, min, 10).unwrap();
    p.release("d", first);
    assert!(p.slots.contains_key("d"));
}

#[tokio::test]
async fn fan_out_respects_concurrency() {
    let cpe = TestCpe::start_with_delay(|_| status(204), Duration::from_millis(20)).await;
    let c = client(ConnReqConfig {
        concurrency: 10,
        ..ConnReqConfig::default()
    });
    let mut targets: Vec<ConnReqTarget> = (0..200)
        .map(|i| target(&format!("dev{i}"), &cpe.url(), None))
        .collect();
    targets.push(ConnReqTarget {
        device_id: "no-url".into(),
        url: None,
        username: None,
        password: None,
    });
    let mut seen = std::collections::HashSet::new();
    let summary = c
        .send_many(targets, |t, outcome| {
            if t.device_id != "no-url" {
                assert_eq!(
                    *outcome,
                    ConnReqOutcome::Accepted { status: 204 },
                    "{}",
                    t.device_id
                );
            }
            assert!(seen.insert(t.device_id.clone()), "reported twice");
        })
        .await;
    assert_eq!(seen.len(), 201);
    assert_eq!(
        summary,
        FanOutSummary {
            total: 201,
            accepted: 200,
            invalid_target: 1,
            ..FanOutSummary::default()
        }
    );
    assert_eq!(summary.failed(), 1);
    assert_eq!(cpe.requests().len(), 200);
    let high = cpe.high_water.load(Ordering::SeqCst);
    assert!(high <= 10, "{high} requests in flight at once");
    assert!(high >= 2, "requests were not concurrent at all ({high})");
}

#[test]
fn config_validation_and_defaults() {
    init();
    let d = ConnReqConfig::default();
    assert_eq!(d.timeout, Duration::from_secs(10));
    assert!(!d.allow_basic);
    assert_eq!(d.min_interval, Duration::from_secs(30));
    assert_eq!(d.concurrency, 50);
    for bad in [
        ConnReqConfig {
            concurrency: 0,
            ..d.clone()
        },
        ConnReqConfig {
            timeout: Duration::ZERO,
            ..d.clone()
        },
        ConnReqConfig {
            max_tracked_devices: 0,
            ..d.clone()
        },
    ] {
        assert!(matches!(
            ConnReqClient::new(bad),
            Err(ConnReqError::Config(_))
        ));
    }
}

#[test]
fn display_and_redaction() {
    let cases: &[(ConnReqOutcome, &str)] = &[
        (
            ConnReqOutcome::Accepted { status: 204 },
            "accepted by the CPE (HTTP 204)",
        ),
        (
            ConnReqOutcome::Busy {
                retry_after: Some(Duration::from_secs(60)),
            },
            "the CPE is busy (HTTP 503), retry after 60 s",
        ),
        (
            ConnReqOutcome::RateLimited {
                retry_in: Duration::from_millis(19_200),
            },
            "a connection request to this device is pending; retry in 20 s or after its session \
             starts",
        ),
        (
            ConnReqOutcome::InvalidUrl {
                reason: "scheme \"ftp\" is not http or https".into(),
            },
            "invalid ConnectionRequestURL: scheme \"ftp\" is not http or https",
        ),
        (
            ConnReqOutcome::NoUrl,
            "no ConnectionRequestURL is known for the device",
        ),
    ];
    for (outcome, want) in cases {
        assert_eq!(outcome.to_string(), *want);
    }
    let t = target("d1", "http://10.0.0.1/", Some((USER, PASSWORD)));
    assert!(!format!("{t:?}").contains(PASSWORD));
    let c = client(ConnReqConfig::default());
    assert!(format!("{c:?}").contains("ConnReqClient"));
}

#[test]
fn every_outcome_has_a_metric_series_from_the_start() {
    use std::time::Duration;
    let all = [
        ConnReqOutcome::Accepted { status: 200 },
        ConnReqOutcome::AuthFailed,
        ConnReqOutcome::NoCredentials,
        ConnReqOutcome::BasicNotAllowed,
        ConnReqOutcome::AuthUnsupported {
            reason: String::new(),
        },
        ConnReqOutcome::Busy { retry_after: None },
        ConnReqOutcome::Unexpected { status: 500 },
        ConnReqOutcome::Timeout,
        ConnReqOutcome::Unreachable {
            reason: String::new(),
        },
        ConnReqOutcome::InvalidUrl {
            reason: String::new(),
        },
        ConnReqOutcome::NoUrl,
        ConnReqOutcome::RateLimited {
            retry_in: Duration::from_secs(1),
        },
    ];
    let kinds: std::collections::BTreeSet<&str> = all.iter().map(ConnReqOutcome::kind).collect();
    let listed: std::collections::BTreeSet<&str> = CONNREQ_OUTCOMES.into_iter().collect();
    assert_eq!(kinds, listed);
}

//! Alerts end to end: raised by what happens to devices, stored in the outbox before anything
//! is sent, kept while the receiver is down and across a restart, then delivered exactly once
//! per idempotency key, signed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acs_core::alerts::{Alert, Deliverer, signature};
use acs_core::auth::CpeAuthMode;
use acs_core::config::{LimiterSettings, Settings, WebhookSettings};
use acs_core::cwmp::{self, Body, Envelope, EventCode};
use acs_core::secret::Secret;
use acs_core::storage::{OutboxState, Role};
use acs_core::tasks::TaskSpec;
use acs_tests::{Api, RawCpe, device_key, inform, spawn_app_with, start};
use chrono::{TimeDelta, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One POST the receiver accepted.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A webhook receiver on port 0 that answers 503 while down and 200 (recording the request)
/// while up.
#[derive(Clone)]
struct Receiver {
    url: String,
    up: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let rx = Receiver {
            url,
            up: Arc::default(),
            refused: Arc::default(),
            got: Arc::default(),
        };
        let me = rx.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move { me.serve(conn).await });
            }
        });
        rx
    }

    async fn serve(&self, mut conn: tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            let Ok(n) = conn.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let headers: HashMap<String, String> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let Ok(n) = conn.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let status = if self.up.load(Ordering::SeqCst) {
            self.got.lock().unwrap().push(Received {
                headers,
                body: buf[head_end..head_end + len].to_vec(),
            });
            "200 OK"
        } else {
            self.refused.fetch_add(1, Ordering::SeqCst);
            "503 Service Unavailable"
        };
        let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let _ = conn.write_all(reply.as_bytes()).await;
        let _ = conn.shutdown().await;
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

const SECRET: &str = "whsec-e2e-9f2c";

fn with_webhook(url: &str, events: &[&str]) -> impl FnOnce(&mut Settings) {
    let url = url.to_owned();
    let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
    move |s: &mut Settings| {
        s.alerts.webhooks.push(WebhookSettings {
            name: Some("ops".into()),
            url,
            secret: Some(Secret::new(SECRET)),
            events,
        });
        // The server's own worker waits longer than any test: the test drives `deliver_due`.
        s.alerts.poll_interval_secs = 3600;
        s.alerts.backoff_base_secs = 600;
        s.alerts.backoff_max_secs = 600;
    }
}

fn deliverer(settings: &Settings, store: &acs_core::storage::Store) -> Deliverer {
    Deliverer::new(
        store.clone(),
        settings.alerts.webhooks(),
        settings.alerts.retry(),
        Duration::from_secs(5),
    )
    .unwrap()
}

/// One session of `serial` that answers the queued request with `fault` (when given).
async fn session(app_url: &str, serial: &str, fault: Option<cwmp::FaultCode>) {
    let mut cpe = RawCpe::new(app_url);
    assert_eq!(
        cpe.send(&inform(serial, &[EventCode::Periodic], "1"))
            .await
            .status,
        200
    );
    let reply = cpe.post(Vec::new()).await;
    if let Some(code) = fault {
        let request = reply.envelope();
        let answer = Envelope::new(
            request.namespace.clone(),
            request.header.id.clone(),
            Body::Fault(cwmp::SoapFault::new(cwmp::CwmpFault::new(code))),
        );
        assert_eq!(cpe.send(&answer).await.status, 204);
    }
}

#[tokio::test]
async fn alerts_wait_out_a_receiver_that_is_down_and_a_restart_and_arrive_once_each() {
    let receiver = Receiver::start().await;
    let configure = with_webhook(&receiver.url, &[]);
    let mut settings = acs_tests::test_settings();
    let app = spawn_app_with(|s| {
        configure(s);
        settings = s.clone();
    })
    .await;
    let now = Utc::now();

    // A device that faults a task (task.fault), then goes silent (device.offline).
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("ALERT1", &[EventCode::Boot], "1")).await;
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    let id = device_key("ALERT1");
    let task = acs_tests::queue_task(
        &app,
        &id,
        TaskSpec::GetParameterValues {
            names: vec!["Device.Nope.".into()],
        },
    )
    .await;
    session(
        &app.cwmp_url,
        "ALERT1",
        Some(cwmp::FaultCode::InvalidParameterName),
    )
    .await;
    let ops = app.state.ops.clone();
    acs_http::sweep_presence(&ops, now + TimeDelta::seconds(11_000)).await;
    // What the line-status code raises, through the same call.
    let line = Alert::LineUnregistered {
        device_id: id.clone(),
        line: "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.".into(),
        status: "Error".into(),
    };
    assert_eq!(app.store.raise_alert(&line, now).await.unwrap(), 1);
    // Raising the same alert again stores nothing new.
    assert_eq!(app.store.raise_alert(&line, now).await.unwrap(), 0);

    let stored = app.store.list_alerts(None, 100).await.unwrap();
    let mut events: Vec<&str> = stored.iter().map(|r| r.event.as_str()).collect();
    events.sort_unstable();
    assert_eq!(
        events,
        ["device.offline", "line.unregistered", "task.fault"]
    );
    let fault: serde_json::Value = serde_json::from_str(
        &stored
            .iter()
            .find(|r| r.event == "task.fault")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(fault["data"]["task_id"], task);
    assert_eq!(fault["data"]["fault_code"], 9005);
    assert_eq!(fault["data"]["device_id"], id.as_str());

    // The receiver is down: every row is tried, kept and scheduled again.
    let report = deliverer(&settings, &app.store)
        .deliver_due(now + TimeDelta::seconds(11_001))
        .await
        .unwrap();
    assert_eq!((report.delivered, report.retried, report.failed), (0, 3, 0));
    assert!(receiver.refused.load(Ordering::SeqCst) >= 3);
    for row in app.store.list_alerts(None, 100).await.unwrap() {
        assert_eq!(row.state, OutboxState::Pending, "{row:?}");
        assert!(row.attempts >= 1, "{row:?}");
        assert!(
            row.last_error.as_deref().unwrap_or("").contains("503"),
            "{row:?}"
        );
    }

    // A restart keeps the outbox.
    let (store, db) = app.stop().await;
    let app = start(&settings, store, db).await;
    assert_eq!(app.store.count_pending_alerts().await.unwrap(), 3);
    // The device comes back (device.online).
    session(&app.cwmp_url, "ALERT1", None).await;
    assert_eq!(app.store.count_pending_alerts().await.unwrap(), 4);

    // The receiver is up: everything arrives, once.
    receiver.up.store(true, Ordering::SeqCst);
    let later = now + TimeDelta::hours(4);
    let deliver = deliverer(&settings, &app.store);
    let report = deliver.deliver_due(later).await.unwrap();
    assert_eq!((report.delivered, report.failed), (4, 0));
    let again = deliver
        .deliver_due(later + TimeDelta::hours(1))
        .await
        .unwrap();
    assert_eq!(again.delivered + again.retried + again.failed, 0);

    let got = receiver.received();
    let mut keys: Vec<&str> = got
        .iter()
        .map(|r| r.headers["idempotency-key"].as_str())
        .collect();
    keys.sort_unstable();
    let before = keys.len();
    keys.dedup();
    assert_eq!((before, keys.len()), (4, 4), "each key exactly once");
    let mut events = Vec::new();
    for r in &got {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"], r.headers["idempotency-key"].as_str());
        assert_eq!(body["event"], r.headers["x-acs-event"].as_str());
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.headers.contains_key("x-acs-timestamp"));
        assert_eq!(
            r.headers["x-acs-signature"],
            signature(&Secret::new(SECRET), &r.body),
            "the signature is the HMAC of the body"
        );
        events.push(body["event"].as_str().unwrap().to_owned());
    }
    events.sort_unstable();
    assert_eq!(
        events,
        [
            "device.offline",
            "device.online",
            "line.unregistered",
            "task.fault"
        ]
    );
    for row in app.store.list_alerts(None, 100).await.unwrap() {
        assert_eq!(row.state, OutboxState::Delivered, "{row:?}");
        assert!(row.delivered_at.is_some());
    }

    // The API lists them, newest first, without the secret or the URL.
    let token = acs_tests::api_token(&app, "alerts", Role::Viewer).await;
    let listed = Api::new(&app, Some(&token)).get("/api/v1/alerts").await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert!(!listed.text.contains(SECRET));
    assert!(!listed.text.contains(&receiver.url));
    let alerts = listed.json()["alerts"].as_array().unwrap().clone();
    assert_eq!(alerts.len(), 4);
    assert_eq!(alerts[0]["event"], "device.online");
    assert_eq!(alerts[0]["state"], "delivered");
    assert!(
        alerts
            .windows(2)
            .all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64())
    );
    let metrics = reqwest::get(format!("{}/metrics", app.nbi_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "acs_webhook_deliveries_total{outcome=\"delivered\"}",
        "acs_webhook_deliveries_total{outcome=\"retried\"}",
        "acs_webhook_deliveries_total{outcome=\"failed\"}",
        "acs_alert_outbox_pending",
    ] {
        assert!(metrics.contains(series), "{series} missing from /metrics");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_test_alert_goes_to_the_named_webhook_and_needs_an_admin() {
    let receiver = Receiver::start().await;
    receiver.up.store(true, Ordering::SeqCst);
    let mut settings = acs_tests::test_settings();
    let configure = with_webhook(&receiver.url, &["task.fault"]);
    let app = spawn_app_with(|s| {
        configure(s);
        settings = s.clone();
    })
    .await;
    let viewer = acs_tests::api_token(&app, "viewer", Role::Viewer).await;
    let admin = acs_tests::api_token(&app, "admin2", Role::Admin).await;
    let refused = Api::new(&app, Some(&viewer))
        .post("/api/v1/alerts/test", &serde_json::json!({}))
        .await;
    assert_eq!(refused.status, 403);
    let api = Api::new(&app, Some(&admin));
    let unknown = api
        .post("/api/v1/alerts/test?webhook=nobody", &serde_json::json!({}))
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    let queued = api
        .post("/api/v1/alerts/test?webhook=ops", &serde_json::json!({}))
        .await;
    assert_eq!(queued.status, 202, "{}", queued.text);
    assert_eq!(queued.json()["webhooks"], serde_json::json!(["ops"]));
    // `events` does not filter the test alert out: it checks the path, not the filter.
    let report = deliverer(&settings, &app.store)
        .deliver_due(Utc::now() + TimeDelta::seconds(1))
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["x-acs-event"], "test");
    let failed = api.get("/api/v1/alerts?state=failed").await.json();
    assert_eq!(failed["alerts"], serde_json::json!([]));
    app.cleanup().await;
}

#[tokio::test]
async fn a_burst_of_auth_failures_from_one_source_is_one_alert_per_window() {
    let receiver = Receiver::start().await;
    let configure = with_webhook(&receiver.url, &["auth.failure_burst"]);
    let app = spawn_app_with(|s| {
        configure(s);
        s.cpe_auth.mode = Some(CpeAuthMode::Digest);
        s.cpe_auth.username = Some("cpe".into());
        s.cpe_auth.password = Some(Secret::new("s3cret"));
        // The limiter would stop counting at its own limit; keep it out of the way.
        s.cpe_auth.limiter = LimiterSettings {
            max_failures: 100,
            window_secs: 600,
            block_secs: 600,
        };
        s.alerts.auth_burst_failures = 3;
        s.alerts.auth_burst_window_secs = 600;
    })
    .await;
    let body = cwmp::encode(&inform("BURST1", &[EventCode::Bootstrap], "1")).unwrap();
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let first = cpe.post(body.clone()).await;
    let challenge = first
        .headers
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for nc in 1..=10 {
        cpe.authorization = Some(
            acs_core::auth::client::digest_authorization(
                &challenge, "POST", "/", "cpe", "wrong", "c0ffee", nc,
            )
            .unwrap(),
        );
        assert_eq!(cpe.post(body.clone()).await.status, 401);
    }
    // The alert is stored off the request's path: wait for it.
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = app.store.list_alerts(None, 10).await.unwrap();
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Ten failures, three make a burst: one alert for the window, not one per failure.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rows = if rows.is_empty() {
        rows
    } else {
        app.store.list_alerts(None, 10).await.unwrap()
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].event, "auth.failure_burst");
    let body: serde_json::Value = serde_json::from_str(&rows[0].body).unwrap();
    assert_eq!(body["data"]["source"], "127.0.0.1");
    assert_eq!(body["data"]["failures"], 3);
    assert_eq!(body["data"]["window_secs"], 600);
    app.cleanup().await;
}

#[tokio::test]
async fn a_rollout_stopped_by_its_failure_rule_raises_one_alert() {
    let receiver = Receiver::start().await;
    let configure = with_webhook(&receiver.url, &["rollout.stopped"]);
    let app = spawn_app_with(configure).await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("ROLL1", &[EventCode::Boot], "1")).await;
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    let ops = app.state.ops.clone();
    let job = ops
        .create_job(&acs_core::ops::NewJob {
            spec: TaskSpec::GetParameterValues {
                names: vec!["Device.Nope.".into()],
            },
            target: acs_core::ops::JobTarget::Devices(vec![device_key("ROLL1")]),
            connection_request: false,
            options: Default::default(),
            created_by: Some("e2e".into()),
            concurrency: None,
            max_failures: Some(acs_core::ops::FailureLimit::Count(0)),
            window: None,
        })
        .await
        .unwrap()
        .job;
    // The task faults; the task.fault alert is filtered out, the stop is not.
    session(
        &app.cwmp_url,
        "ROLL1",
        Some(cwmp::FaultCode::InvalidParameterName),
    )
    .await;
    ops.run_jobs_once_at(Utc::now()).await.unwrap();
    ops.run_jobs_once_at(Utc::now()).await.unwrap();
    let rows = app.store.list_alerts(None, 10).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].event, "rollout.stopped");
    let body: serde_json::Value = serde_json::from_str(&rows[0].body).unwrap();
    assert_eq!(body["data"]["rollout"], job.id);
    assert!(
        body["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("max_failures"),
        "{body}"
    );
    app.cleanup().await;
}

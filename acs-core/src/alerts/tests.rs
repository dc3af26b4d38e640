use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use chrono::TimeZone;

use super::*;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 6, 10, 30, 0).unwrap()
}

fn hook(events: &[Event]) -> Webhook {
    Webhook {
        name: "ops".into(),
        url: "https://hooks.example.net/acs?token=abc".into(),
        secret: Some(Secret::new("s3cr3t-key")),
        events: events.iter().copied().collect(),
    }
}

#[test]
fn the_signature_is_the_hmac_sha256_of_the_body_in_hex() {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    let sig = signature(&Secret::new("Jefe"), b"what do ya want for nothing?");
    assert_eq!(
        sig,
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn retries_double_from_the_base_up_to_the_cap() {
    let retry = Retry::default();
    let secs: Vec<i64> = (1..=10).map(|n| retry.delay(n).num_seconds()).collect();
    assert_eq!(secs, [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]);
    assert_eq!(retry.delay(u32::MAX).num_seconds(), 600);
    let created = at();
    assert!(!retry.gives_up(19, created, created + chrono::Duration::hours(1)));
    assert!(retry.gives_up(20, created, created + chrono::Duration::hours(1)));
    assert!(retry.gives_up(2, created, created + chrono::Duration::hours(24)));
}

#[test]
fn a_webhook_without_events_wants_every_event_and_test_goes_everywhere() {
    let all = hook(&[]);
    assert!(Event::ALL.iter().all(|e| all.wants(*e)));
    let some = hook(&[Event::TaskFault]);
    assert!(some.wants(Event::TaskFault));
    assert!(!some.wants(Event::DeviceOffline));
    assert!(some.wants(Event::Test));
    let webhooks = [hook(&[Event::DeviceOffline])];
    let alert = Alert::Test {
        message: "hi".into(),
    };
    assert_eq!(outgoing(&webhooks, &alert, at()).len(), 1);
    let fault = Alert::RolloutStopped {
        rollout: 1,
        reason: "r".into(),
    };
    assert!(outgoing(&webhooks, &fault, at()).is_empty());
}

#[test]
fn event_names_read_back_and_unknown_ones_are_refused() {
    for e in Event::ALL {
        assert_eq!(e.as_str().parse::<Event>(), Ok(e));
    }
    assert_eq!(
        "device.gone".parse::<Event>(),
        Err(UnknownEvent("device.gone".into()))
    );
}

#[test]
fn each_alert_has_a_pinned_json_shape() {
    let cases: Vec<(Alert, serde_json::Value)> = vec![
        (
            Alert::DeviceOffline {
                device_id: "00000C-CP-1".into(),
            },
            json!({"event": "device.offline", "data": {"device_id": "00000C-CP-1"}}),
        ),
        (
            Alert::DeviceOnline {
                device_id: "00000C-CP-1".into(),
            },
            json!({"event": "device.online", "data": {"device_id": "00000C-CP-1"}}),
        ),
        (
            Alert::LineUnregistered {
                device_id: "D".into(),
                line: "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.".into(),
                status: "Error".into(),
            },
            json!({"event": "line.unregistered", "data": {
                "device_id": "D",
                "line": "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.",
                "status": "Error"}}),
        ),
        (
            Alert::LineRegistered {
                device_id: "D".into(),
                line: "L".into(),
            },
            json!({"event": "line.registered", "data": {"device_id": "D", "line": "L"}}),
        ),
        (
            Alert::RolloutStopped {
                rollout: 7,
                reason: "3 of 10 devices failed".into(),
            },
            json!({"event": "rollout.stopped", "data": {"rollout": 7, "reason": "3 of 10 devices failed"}}),
        ),
        (
            Alert::TaskFault {
                device_id: "D".into(),
                task_id: 42,
                kind: "set".into(),
                fault_code: Some(9005),
                fault_string: Some("Invalid parameter name".into()),
            },
            json!({"event": "task.fault", "data": {
                "device_id": "D", "task_id": 42, "kind": "set",
                "fault_code": 9005, "fault_string": "Invalid parameter name"}}),
        ),
        (
            Alert::AuthFailureBurst {
                source: "192.0.2.7".into(),
                failures: 10,
                window_secs: 60,
            },
            json!({"event": "auth.failure_burst", "data": {
                "source": "192.0.2.7", "failures": 10, "window_secs": 60}}),
        ),
        (
            Alert::Test {
                message: "hello".into(),
            },
            json!({"event": "test", "data": {"message": "hello"}}),
        ),
    ];
    for (alert, expected) in cases {
        let body: serde_json::Value = serde_json::from_str(&alert.body(at())).unwrap();
        let mut want = expected.clone();
        want["id"] = json!(alert.key(at()));
        want["at"] = json!("2026-12-06T10:30:00.000000Z");
        assert_eq!(body, want, "{alert:?}");
        assert_eq!(alert.key(at()).len(), 32);
    }
}

#[test]
fn the_key_is_stable_for_an_alert_and_differs_between_alerts() {
    let a = Alert::DeviceOffline {
        device_id: "A".into(),
    };
    let b = Alert::DeviceOffline {
        device_id: "B".into(),
    };
    assert_eq!(a.key(at()), a.key(at()));
    assert_ne!(a.key(at()), b.key(at()));
    assert_ne!(a.key(at()), a.key(at() + chrono::Duration::seconds(1)));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let w = hook(&[]);
    let debug = format!(
        "{w:?} {:?}",
        AlertRouting {
            webhooks: vec![w.clone()],
            burst: BurstPolicy::default(),
        }
    );
    assert!(!debug.contains("s3cr3t-key"), "{debug}");
    assert!(!debug.contains("token=abc"), "{debug}");
    assert!(debug.contains("[redacted]"));
    let settings: crate::config::WebhookSettings = toml::from_str(
        "url = \"https://h.example/x\"\nsecret = \"s3cr3t-key\"\nevents = [\"task.fault\"]",
    )
    .unwrap();
    assert!(!format!("{settings:?}").contains("s3cr3t-key"));
}

#[test]
fn a_burst_is_raised_once_per_window_per_source() {
    let detector = BurstDetector::new(BurstPolicy {
        failures: 3,
        window: Duration::from_secs(60),
    });
    let src: IpAddr = "192.0.2.7".parse().unwrap();
    let other: IpAddr = "192.0.2.8".parse().unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let s = Duration::from_secs;
    assert!(detector.failure(src, t0).is_none());
    assert!(detector.failure(src, t0 + s(1)).is_none());
    assert!(detector.failure(other, t0 + s(1)).is_none());
    let (alert, start) = detector
        .failure(src, t0 + s(2))
        .expect("third failure is a burst");
    assert_eq!(start, t0);
    assert_eq!(
        alert,
        Alert::AuthFailureBurst {
            source: "192.0.2.7".into(),
            failures: 3,
            window_secs: 60
        }
    );
    for i in 3..59 {
        assert!(detector.failure(src, t0 + s(i)).is_none(), "at {i}s");
    }
    // A new window counts from zero.
    assert!(detector.failure(src, t0 + s(60)).is_none());
    assert!(detector.failure(src, t0 + s(61)).is_none());
    assert!(detector.failure(src, t0 + s(62)).is_some());
}

#[test]
fn unknown_event_names_are_refused_at_startup() {
    let mut settings = crate::config::Settings::default();
    settings
        .alerts
        .webhooks
        .push(crate::config::WebhookSettings {
            name: None,
            url: "https://h.example/x".into(),
            secret: None,
            events: vec!["task.fault".into(), "device.gone".into()],
        });
    let err = settings.validate().unwrap_err().to_string();
    assert!(err.contains("alerts.webhooks[0].events"), "{err}");
    assert!(err.contains("\"device.gone\""), "{err}");
    assert!(!err.contains("\"task.fault\";"), "{err}");
    settings.alerts.webhooks[0].events.pop();
    settings.validate().unwrap();
    assert_eq!(settings.alerts.webhooks()[0].name, "h.example");
}

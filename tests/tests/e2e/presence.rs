//! Presence end to end: a device that stops informing turns late, then offline, which the API
//! shows (a field, a filter, events); its next Inform brings it back.

use acs_core::cwmp::EventCode;
use acs_core::storage::Role;
use acs_tests::{Api, RawCpe, api_token, device_key, enc, inform, spawn_app};
use chrono::{TimeDelta, Utc};

#[tokio::test]
async fn a_silent_phone_turns_late_then_offline_and_comes_back() {
    let app = spawn_app().await;
    let token = api_token(&app, "presence", Role::Viewer).await;
    let api = Api::new(&app, Some(&token));
    let mut cpe = RawCpe::new(&app.cwmp_url);
    // The example MPP Inform reports PeriodicInformInterval 3600.
    assert_eq!(
        cpe.send(&inform("PRES1", &[EventCode::Boot], "1"))
            .await
            .status,
        200
    );
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    let id = device_key("PRES1");
    let status = |api: &Api, id: String| {
        let api = api.clone();
        async move {
            api.get(&format!("/api/v1/devices/{}", enc(&id)))
                .await
                .json()["status"]
                .clone()
        }
    };
    assert_eq!(status(&api, id.clone()).await, "online");

    let ops = app.state.ops.clone();
    let now = Utc::now();
    // 1.5 intervals later: late; 3 intervals: offline.
    let late = ops
        .sweep_presence(now + TimeDelta::seconds(5500))
        .await
        .unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!(status(&api, id.clone()).await, "late");
    // The server's own sweep: the same move, counted and gauged for /metrics.
    acs_http::sweep_presence(&ops, now + TimeDelta::seconds(11_000)).await;
    assert_eq!(status(&api, id.clone()).await, "offline");
    let metrics = reqwest::get(format!("{}/metrics", app.nbi_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Other tests' servers share the process-wide recorder, so the series, not their values.
    for series in [
        "acs_devices{presence=\"online\"}",
        "acs_devices{presence=\"late\"}",
        "acs_devices{presence=\"offline\"}",
        "acs_presence_changes_total{to=\"offline\"}",
        // Failure counters are there from the start.
        "acs_connection_requests_total{outcome=\"unreachable\"}",
        "acs_connection_requests_total{outcome=\"auth_failed\"}",
        "acs_sessions_failed_total{reason=\"storage\"}",
        "acs_auth_failures_total",
    ] {
        assert!(metrics.contains(series), "{series} missing from /metrics");
    }

    let offline = api
        .get(&format!(
            "/api/v1/devices?filter={}",
            enc("status = offline")
        ))
        .await
        .json();
    let ids: Vec<&str> = offline["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    let none = api
        .get(&format!(
            "/api/v1/devices?filter={}",
            enc("status = online")
        ))
        .await
        .json();
    assert!(none["devices"].as_array().unwrap().is_empty());
    // A misspelt state is refused, not an empty answer.
    let bad = api
        .get(&format!("/api/v1/devices?filter={}", enc("status = gone")))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("online, late or offline"), "{}", bad.text);

    let events = api
        .get(&format!("/api/v1/devices/{}/events", enc(&id)))
        .await
        .json();
    let codes: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"presence late") && codes.contains(&"presence offline"),
        "{codes:?}"
    );

    // It informs again: online, and the return is an event too.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform("PRES1", &[EventCode::Periodic], "2"))
            .await
            .status,
        200
    );
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    assert_eq!(status(&api, id.clone()).await, "online");
    let events = api
        .get(&format!("/api/v1/devices/{}/events", enc(&id)))
        .await
        .json();
    assert!(events.to_string().contains("presence online"), "{events}");
    app.cleanup().await;
}

/// A device id that is not there: the 404 names it as given and says what to try, including
/// the commonest mistake, an id encoded twice.
#[tokio::test]
async fn an_unknown_device_id_gets_a_404_that_helps() {
    let app = spawn_app().await;
    let token = api_token(&app, "lookup", Role::Viewer).await;
    let api = Api::new(&app, Some(&token));
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform("HELP1", &[EventCode::Boot], "1"))
            .await
            .status,
        200
    );
    let id = device_key("HELP1");
    // Encoded once: found.
    let found = api.get(&format!("/api/v1/devices/{}", enc(&id))).await;
    assert_eq!(found.status, 200, "{}", found.text);
    // Encoded twice: the id arrives with `%25` in it.
    let twice = api
        .get(&format!("/api/v1/devices/{}", enc(&enc(&id))))
        .await;
    assert_eq!(twice.status, 404);
    let message = twice.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains(&enc(&id)),
        "names the id as given: {message}"
    );
    assert!(message.contains("encoded twice"), "{message}");
    // A serial number where an id goes: pointed at resolve.
    let serial = api.get("/api/v1/devices/HELP1").await;
    assert_eq!(serial.status, 404);
    let message = serial.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("`HELP1`") && message.contains("resolve"),
        "{message}"
    );
    app.cleanup().await;
}

/// `docs/grafana-dashboard.json` asks only for series the ACS exports: each metric its panels
/// query is on `/metrics` once a server has run a session and a presence sweep.
#[tokio::test]
async fn every_series_of_the_dashboard_is_exported() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut names = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(i) = rest.find("acs_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                rest = &rest[i + name.len()..];
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(&name)
                    .to_owned();
                names.insert(base);
            }
        }
    }
    assert!(names.len() >= 8, "{names:?}");

    let app = spawn_app().await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform("DASH1", &[EventCode::Boot], "1"))
            .await
            .status,
        200
    );
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    acs_tests::queue_task(
        &app,
        &device_key("DASH1"),
        acs_core::tasks::TaskSpec::Reboot {},
    )
    .await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform("DASH1", &[EventCode::Periodic], "2"))
            .await
            .status,
        200
    );
    let request = cpe.post(Vec::new()).await.envelope();
    let answer = acs_core::cwmp::Envelope::new(
        request.namespace.clone(),
        request.header.id.clone(),
        acs_core::cwmp::Body::RebootResponse,
    );
    assert_eq!(cpe.send(&answer).await.status, 204);
    // Work still queued, so the task gauge has a series of this server's own.
    acs_tests::queue_task(
        &app,
        &device_key("DASH1"),
        acs_core::tasks::TaskSpec::Reboot {},
    )
    .await;
    acs_http::sweep_presence(&app.state.ops, Utc::now()).await;
    let metrics = reqwest::get(format!("{}/metrics", app.nbi_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in &names {
        assert!(
            metrics.lines().any(|l| l.starts_with(&format!("{name}{{"))
                || l.starts_with(&format!("{name}_bucket{{"))
                || l.starts_with(&format!("{name} "))),
            "the dashboard queries {name}, which /metrics does not export"
        );
    }
    app.cleanup().await;
}

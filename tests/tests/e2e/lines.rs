//! Registration health of voice lines: a simulated MPP phone is watched (active notification on
//! its lines' states after the bootstrap read), loses a line's registration on command, and
//! the ACS knows at once: the filter, the device events, the alerts and the metrics say so.

use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
use acs_core::config::WebhookSettings;
use acs_core::storage::Role;
use acs_tests::{Api, TestApp, api_token, enc, spawn_app_with};
use serde_json::json;

const LINE: &str = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";

async fn down_phones(api: &Api) -> Vec<String> {
    let reply = api
        .get(&format!(
            "/api/v1/devices?filter={}",
            enc(r#"line_status != "Up""#)
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn events(app: &TestApp, device: &str) -> Vec<String> {
    app.store
        .list_events(device, 100)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.event_code)
        .filter(|c| c.starts_with("line "))
        .collect()
}

async fn lines_gauge(app: &TestApp, status: &str) -> Option<f64> {
    let text = reqwest::get(format!("{}/metrics", app.nbi_url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let series = format!("acs_lines{{status=\"{status}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn a_phone_that_loses_a_line_registration_is_listed_alerted_and_counted() {
    let app = spawn_app_with(|s| {
        s.bootstrap.fetch = true;
        s.alerts.webhooks.push(WebhookSettings {
            name: Some("noc".into()),
            // Nobody listens: the alerts wait in the outbox, which is what is checked here.
            url: "http://127.0.0.1:9/hook".into(),
            secret: None,
            events: vec!["line.unregistered".into(), "line.registered".into()],
        });
        s.alerts.poll_interval_secs = 3600;
    })
    .await;
    let api = Api::new(&app, Some(&api_token(&app, "lines", Role::Admin).await));
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        2,
        Profile::builtin("cisco-mpp").expect("profile"),
    );
    config.periodic = false;
    config.serial_prefix = Some("LN".into());
    let sim = Simulator::start(config).await.expect("simulator");
    let session = |i: usize| {
        let sim = &sim;
        async move {
            let report = sim.run_session(i, vec![]).await.expect("session");
            assert!(report.succeeded(), "{report:?}");
            report
        }
    };
    // Bootstrap: the read finds two lines, and asks for active notification on their states.
    for i in 0..2 {
        let report = session(i).await;
        assert_eq!(
            report.rpcs_received,
            ["GetParameterValues", "SetParameterAttributes"],
            "{report:?}"
        );
    }
    let phone = sim.device(0);
    let other = sim.device(1);
    let id = phone.device_id();
    let notification = phone.with_model(|m| {
        m.get_attributes(&[format!("{LINE}1.Status")])
            .expect("attributes")[0]
            .notification
    });
    assert_eq!(notification, 2);
    // Both lines are switched off: nothing is down.
    assert!(down_phones(&api).await.is_empty());

    // Line 1 is configured on both phones; they register, and report it themselves.
    for (i, p) in [&phone, &other].into_iter().enumerate() {
        let reply = api
            .post(
                &format!("/api/v1/devices/{}/tasks", enc(&p.device_id())),
                &json!({"kind": "set_parameter_values",
                        "values": [{"name": format!("{LINE}1.Enable"), "value": "Enabled"}]}),
            )
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        session(i).await;
        assert_eq!(p.value(&format!("{LINE}1.Status")).as_deref(), Some("Up"));
        let report = session(i).await;
        assert!(
            report
                .events
                .iter()
                .any(|e| e.event_code == acs_core::cwmp::EventCode::ValueChange),
            "{report:?}"
        );
    }
    let lines = app.store.device_lines(&id).await.expect("lines");
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.line.as_str(), l.status.as_str()))
            .collect::<Vec<_>>(),
        [
            (format!("{LINE}1.").as_str(), "Up"),
            (format!("{LINE}2.").as_str(), "Disabled")
        ]
    );
    assert!(down_phones(&api).await.is_empty());

    // The registrar stops answering phone 0's line 1: through the simulator's control
    // endpoint, as an operator's test rig would. The phone informs with VALUE CHANGE.
    let control = reqwest::Client::new();
    let url = format!("{}/lines/1/deregister", phone.cr_url());
    let answer = control.post(&url).send().await.expect("control");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        control.post(&url).send().await.expect("control").status(),
        204,
        "already deregistered"
    );
    assert_eq!(
        control
            .post(format!("{}/lines/7/deregister", phone.cr_url()))
            .send()
            .await
            .expect("control")
            .status(),
        404
    );
    session(0).await;
    assert_eq!(down_phones(&api).await, vec![id.clone()]);
    assert_eq!(
        events(&app, &id).await,
        [format!("line unregistered: {LINE}1. is Error")]
    );
    // What the gauge is set from at each sweep (other tests' servers share the process-wide
    // recorder, so its values are theirs too; the series must be there).
    let counts = app.state.ops.line_counts().await.expect("counts");
    let count = |s: &str| counts.iter().find(|c| c.0 == s).map(|c| c.1);
    assert_eq!(
        (
            count("Error"),
            count("Up"),
            count("Disabled"),
            count("other")
        ),
        (Some(1), Some(1), Some(2), Some(0))
    );
    acs_http::sweep_presence(&app.state.ops, chrono::Utc::now()).await;
    assert!(lines_gauge(&app, "Error").await.is_some());

    // Registered again.
    assert!(phone.register_line(1).expect("register"));
    session(0).await;
    assert!(down_phones(&api).await.is_empty());
    assert_eq!(
        events(&app, &id).await,
        [
            format!("line registered: {LINE}1."),
            format!("line unregistered: {LINE}1. is Error")
        ]
    );
    // Both changes wait in the outbox for the webhook, in order.
    let alerts = api.get("/api/v1/alerts").await;
    assert_eq!(alerts.status, 200, "{}", alerts.text);
    let listed: Vec<String> = alerts.json()["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| a["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ["line.registered", "line.unregistered"]);
    // The filter's other forms.
    let up = api
        .get(&format!(
            "/api/v1/devices?filter={}",
            enc(r#"line_status = "Up""#)
        ))
        .await;
    assert_eq!(up.json()["devices"].as_array().map(Vec::len), Some(2));
    let bad = api
        .get(&format!(
            "/api/v1/devices?filter={}",
            enc(r#"line_status > "Up""#)
        ))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(bad.text.contains("line_status"), "{}", bad.text);
    sim.shutdown().await;
    app.cleanup().await;
}

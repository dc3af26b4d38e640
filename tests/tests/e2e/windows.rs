//! Maintenance windows: a job's tasks reach devices only while its window is open, and work
//! still queued when it closes waits for the next opening. The runner is driven with the time
//! the test chooses; the window is picked so that it is closed at the real time of the run.

use acs_core::cwmp::EventCode;
use acs_core::ops::{JobTarget, NewJob, TaskOptions};
use acs_core::storage::Role;
use acs_core::tasks::TaskSpec;
use acs_core::window::MaintenanceWindow;
use acs_tests::{Api, RawCpe, api_token, device_key, inform, spawn_app};
use chrono::{Datelike, TimeDelta, Utc};

#[tokio::test]
async fn a_jobs_work_waits_for_its_window() {
    let app = spawn_app().await;
    for serial in ["WIN1", "WIN2"] {
        let mut cpe = RawCpe::new(&app.cwmp_url);
        assert_eq!(
            cpe.send(&inform(serial, &[EventCode::Boot], "1"))
                .await
                .status,
            200
        );
        assert_eq!(cpe.post(Vec::new()).await.status, 204);
    }
    // Three days from now: closed today whatever the time.
    let day = (Utc::now() + TimeDelta::days(3)).weekday();
    let window: MaintenanceWindow = format!("{day} 01:00-05:00 UTC").parse().unwrap();
    let now = Utc::now();
    let opens = window.next_open(now).unwrap();
    let ops = app.state.ops.clone();
    let job = ops
        .create_job(&NewJob {
            spec: TaskSpec::Reboot {},
            target: JobTarget::Devices(vec![device_key("WIN1"), device_key("WIN2")]),
            connection_request: false,
            options: TaskOptions::default(),
            created_by: Some("e2e".into()),
            concurrency: None,
            max_failures: None,
            window: Some(window.clone()),
        })
        .await
        .unwrap();
    let id = job.job.id;
    assert_eq!(
        job.counts.held, 2,
        "nothing reaches a device before the window"
    );
    assert_eq!(job.window_opens_at, Some(opens));

    // Closed: the runner releases nothing, and a device that comes gets nothing.
    ops.run_jobs_once_at(now).await.unwrap();
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("WIN1", &[EventCode::Periodic], "2")).await;
    assert_eq!(cpe.post(Vec::new()).await.status, 204);

    // Open: both released; WIN1 comes and reboots.
    ops.run_jobs_once_at(opens + TimeDelta::minutes(1))
        .await
        .unwrap();
    assert_eq!(ops.job(id).await.unwrap().counts.queued, 2);
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("WIN1", &[EventCode::Periodic], "3")).await;
    let request = cpe.post(Vec::new()).await;
    assert!(request.text.contains("Reboot"), "{}", request.text);

    // Closed again before WIN2 came: its task waits for the next opening.
    ops.run_jobs_once_at(opens + TimeDelta::hours(5))
        .await
        .unwrap();
    let status = ops.job(id).await.unwrap();
    assert_eq!((status.counts.held, status.counts.queued), (1, 0));
    let mut cpe2 = RawCpe::new(&app.cwmp_url);
    cpe2.send(&inform("WIN2", &[EventCode::Periodic], "4"))
        .await;
    assert_eq!(
        cpe2.post(Vec::new()).await.status,
        204,
        "outside the window"
    );

    // The job's view says it waits, and for what.
    let token = api_token(&app, "windows", Role::Viewer).await;
    let shown = Api::new(&app, Some(&token))
        .get(&format!("/api/v1/jobs/{id}"))
        .await
        .json();
    assert_eq!(shown["window"], window.to_string());
    assert!(shown["window_opens_at"].is_string(), "{shown}");
    // A window that cannot be read is refused with the reason.
    let operator = api_token(&app, "windows-op", Role::Operator).await;
    let bad = Api::new(&app, Some(&operator))
        .post(
            "/api/v1/jobs",
            &serde_json::json!({"task": {"kind": "reboot"}, "devices": [device_key("WIN1")],
                "window": "weekdays at night"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(
        bad.text.contains("unknown day") && bad.text.contains("write it like"),
        "{}",
        bad.text
    );
    app.cleanup().await;
}

/// A provisioning rule with a window pushes nothing at an Inform outside it.
#[tokio::test]
async fn a_rule_waits_for_its_window() {
    let app = spawn_app().await;
    let admin = api_token(&app, "rules", Role::Admin).await;
    let api = Api::new(&app, Some(&admin));
    let day = (Utc::now() + TimeDelta::days(3)).weekday();
    let window = format!("{day} 01:00-05:00 Europe/Oslo");
    let param = |name: &str| serde_json::json!([{"name": name, "value": "1200", "type": "xsd:unsignedInt"}]);
    for (name, window) in [("later", Some(window.as_str())), ("now", None)] {
        let reply = api
            .post(
                "/api/v1/provision/rules",
                &serde_json::json!({
                    "name": name,
                    "events": ["BOOT"],
                    "parameters": param(&format!("Device.X_{name}.Interval")),
                    "window": window,
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        assert_eq!(reply.json()["window"].as_str(), window);
    }
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform("RULEWIN", &[EventCode::Boot], "1"))
            .await
            .status,
        200
    );
    let tasks = app.store.list_tasks(&device_key("RULEWIN")).await.unwrap();
    let pushed: Vec<String> = tasks.iter().map(|t| t.payload.to_string()).collect();
    assert_eq!(
        pushed.len(),
        1,
        "only the rule without a window: {pushed:?}"
    );
    assert!(pushed[0].contains("X_now"), "{pushed:?}");
    app.cleanup().await;
}

//! Provisioning that ensures: rules that act on PERIODIC or VALUE CHANGE verify what they set
//! and push again what drifted; object instances and notification attributes are ensured too;
//! a device that keeps undoing a value is halted, not pushed every session.

use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
use acs_core::cwmp::{EventCode, EventStruct};
use acs_core::storage::{NewTask, Role, TaskRow};
use acs_core::tasks::TaskSpec;
use acs_tests::{Api, TestApp, api_token, enc, spawn_app};
use serde_json::{Value, json};

const LINES: &str = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";

fn line(n: u32, rest: &str) -> String {
    format!("{LINES}{n}.{rest}")
}

async fn phone(app: &TestApp, prefix: &str) -> Simulator {
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        1,
        Profile::builtin("cisco-mpp").expect("profile"),
    );
    config.periodic = false;
    config.serial_prefix = Some(prefix.to_owned());
    Simulator::start(config).await.expect("simulator")
}

async fn session(sim: &Simulator, events: &[EventCode]) {
    let events = events.iter().cloned().map(EventStruct::new).collect();
    let report = sim.run_session(0, events).await.expect("session");
    assert!(report.succeeded(), "{report:?}");
}

async fn tasks(app: &TestApp, device: &str) -> Vec<TaskRow> {
    app.store.list_tasks(device).await.expect("tasks")
}

fn of_kind<'a>(tasks: &'a [TaskRow], kind: &str) -> Vec<&'a TaskRow> {
    tasks.iter().filter(|t| t.kind == kind).collect()
}

/// `rule/item → (status, detail)`, from the API.
async fn items(api: &Api, device: &str) -> Vec<(String, String, Value)> {
    let reply = api
        .get(&format!("/api/v1/devices/{}/provisioning", enc(device)))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .json()
        .as_array()
        .expect("array")
        .iter()
        .map(|i| {
            (
                format!(
                    "{}/{}",
                    i["rule"].as_str().unwrap(),
                    i["item"].as_str().unwrap()
                ),
                i["status"].as_str().unwrap().to_owned(),
                i["detail"].clone(),
            )
        })
        .collect()
}

fn status_of(items: &[(String, String, Value)], key: &str) -> String {
    items
        .iter()
        .find(|i| i.0 == key)
        .map(|i| i.1.clone())
        .unwrap_or_else(|| panic!("no {key} in {items:?}"))
}

/// An hour passes for the device's provisioning record: every item's last check (and change)
/// moves back, so the check interval has run out. The clock itself is not waited for.
async fn an_hour_passes(app: &TestApp, device: &str) {
    for mut s in app.store.provision_states(device).await.expect("states") {
        let back = chrono::Duration::minutes(61);
        s.checked_at = s.checked_at.map(|t| t - back);
        s.updated_at -= back;
        app.store
            .save_provision_state(&s, None)
            .await
            .expect("state");
    }
}

async fn drift_total(app: &TestApp, item: &str) -> u64 {
    let text = reqwest::get(format!("{}/metrics", app.nbi_url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let series = format!("acs_provision_drift_total{{item=\"{item}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_periodic_rule_adds_missing_lines_then_finds_and_repairs_drift() {
    let app = spawn_app().await;
    let api = Api::new(&app, Some(&api_token(&app, "ensure", Role::Admin).await));
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({
                "name": "lines",
                "events": ["BOOTSTRAP", "PERIODIC"],
                "objects": [{"path": LINES, "instances": 3}],
                "parameters": [
                    {"name": line(3, "DirectoryNumber"), "value": "1003"},
                    {"name": line(1, "CallingFeatures.CallerIDName"), "value": "Desk"},
                    {"name": line(1, "SIP.AuthPassword"), "value": "never-read-back"},
                ],
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json()["objects"][0]["instances"], 3);
    let sim = phone(&app, "ENS").await;
    let device = sim.device(0).device_id();
    let phone = sim.device(0);
    assert!(
        phone.value(&line(3, "Enable")).is_none(),
        "two lines at first"
    );

    // Bootstrap: the lines are read, the missing one added, and then (same session) the
    // parameters, one of which lives in the new line, are set.
    session(&sim, &[]).await;
    assert_eq!(
        phone.value(&line(3, "DirectoryNumber")).as_deref(),
        Some("1003")
    );
    assert_eq!(
        phone
            .value(&line(1, "CallingFeatures.CallerIDName"))
            .as_deref(),
        Some("Desk")
    );
    let all = tasks(&app, &device).await;
    let kinds: Vec<&str> = all.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "get_parameter_values",
            "set_parameter_attributes",
            "add_object",
            "set_parameter_values"
        ],
        "read (and watch the lines' states), add one line, then set"
    );
    let listed = items(&api, &device).await;
    assert_eq!(status_of(&listed, "lines/objects"), "applied", "{listed:?}");
    assert_eq!(
        status_of(&listed, "lines/parameters"),
        "applied",
        "{listed:?}"
    );

    // A PERIODIC within the check interval reads nothing.
    session(&sim, &[EventCode::Periodic]).await;
    assert_eq!(
        tasks(&app, &device).await.len(),
        4,
        "no check before the interval"
    );

    // Someone changes the caller ID on the phone; an hour later the PERIODIC check reads
    // only the rule's readable parameters (never the password), finds the drift, and pushes
    // only the drifted value, in the same session.
    phone
        .set_value(&line(1, "CallingFeatures.CallerIDName"), "Lobby")
        .expect("set");
    let drifted_before = drift_total(&app, "parameters").await;
    an_hour_passes(&app, &device).await;
    session(&sim, &[EventCode::Periodic]).await;
    assert_eq!(
        phone
            .value(&line(1, "CallingFeatures.CallerIDName"))
            .as_deref(),
        Some("Desk"),
        "repaired"
    );
    let all = tasks(&app, &device).await;
    let reads = of_kind(&all, "get_parameter_values");
    assert_eq!(reads.len(), 3, "objects and parameters checked: {all:?}");
    let check = app.store.open_payload(&reads[2].payload).expect("payload");
    let names = check["spec"]["names"].to_string();
    assert!(names.contains("CallerIDName"), "{names}");
    assert!(
        !names.contains("Password"),
        "a password is never read: {names}"
    );
    let sets = of_kind(&all, "set_parameter_values");
    assert_eq!(sets.len(), 2);
    let repush = app.store.open_payload(&sets[1].payload).expect("payload");
    let values = repush["spec"]["values"].as_array().expect("values");
    assert_eq!(values.len(), 1, "only what drifted: {repush}");
    assert_eq!(values[0]["value"], "Desk");
    assert!(
        of_kind(&all, "add_object").len() == 1,
        "three lines: none added"
    );
    // Recorded as an event and counted.
    let events = app.store.list_events(&device, 50).await.expect("events");
    let drift = events
        .iter()
        .find(|e| e.event_code.starts_with("provision drift"))
        .expect("a drift event");
    assert!(
        drift
            .event_code
            .contains(r#"CallerIDName is "Lobby", wanted "Desk""#),
        "{}",
        drift.event_code
    );
    // Other tests' servers share the process-wide recorder: at least this one.
    assert!(drift_total(&app, "parameters").await > drifted_before);

    // A line deleted on the phone is found missing at the next check and added again.
    sim.device(0)
        .with_model(|m| assert!(m.value(&line(3, "Enable")).is_some()));
    app.store
        .enqueue_task(&NewTask::for_spec(
            &device,
            &TaskSpec::DeleteObject {
                object: line(3, ""),
            },
        ))
        .await
        .expect("queued");
    session(&sim, &[]).await;
    assert!(phone.value(&line(3, "Enable")).is_none(), "line 3 deleted");
    an_hour_passes(&app, &device).await;
    session(&sim, &[EventCode::Periodic]).await;
    assert_eq!(
        of_kind(&tasks(&app, &device).await, "add_object").len(),
        2,
        "the missing line is added again"
    );
    assert_eq!(
        phone.value(&line(4, "DirectoryNumber")).as_deref(),
        Some(""),
        "the CPE numbered it 4"
    );
    let events = app.store.list_events(&device, 50).await.expect("events");
    assert!(
        events.iter().any(|e| e
            .event_code
            .starts_with("provision drift: rule lines objects")),
        "{events:?}"
    );
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn notified_parameters_are_verified_from_value_change_and_a_reverting_phone_is_halted() {
    let app = spawn_app().await;
    let api = Api::new(&app, Some(&api_token(&app, "ensure-vc", Role::Admin).await));
    let number = line(2, "DirectoryNumber");
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({
                "name": "second-line",
                "events": ["BOOTSTRAP", "VALUE CHANGE"],
                "parameters": [{"name": number, "value": "1002"}],
                "attributes": [{"name": number, "notification": 2}],
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let sim = phone(&app, "ENV").await;
    let device = sim.device(0).device_id();
    let phone = sim.device(0);
    session(&sim, &[]).await;
    assert_eq!(phone.value(&number).as_deref(), Some("1002"));
    let notification = phone
        .with_model(|m| m.get_attributes(&[number.as_str()]).expect("attributes")[0].notification);
    assert_eq!(notification, 2, "the attribute is ensured");
    let listed = items(&api, &device).await;
    assert_eq!(status_of(&listed, "second-line/attributes"), "applied");

    // The phone changes the number itself: it informs with 4 VALUE CHANGE and the new value,
    // which is compared without reading anything, and the wanted value goes back at once.
    for _ in 0..2 {
        assert!(phone.set_value(&number, "9999").expect("set"));
        session(&sim, &[]).await;
        assert_eq!(phone.value(&number).as_deref(), Some("1002"), "repaired");
    }
    let all = tasks(&app, &device).await;
    assert!(
        of_kind(&all, "get_parameter_values").is_empty(),
        "notified parameters are never read: {all:?}"
    );
    assert_eq!(of_kind(&all, "set_parameter_values").len(), 3);

    // It keeps undoing it: the third push within the loop window was the last (loop_limit 3);
    // the next drift halts the item instead of pushing at every session.
    assert!(phone.set_value(&number, "9999").expect("set"));
    session(&sim, &[]).await;
    assert_eq!(phone.value(&number).as_deref(), Some("9999"), "left alone");
    assert_eq!(
        of_kind(&tasks(&app, &device).await, "set_parameter_values").len(),
        3
    );
    let listed = items(&api, &device).await;
    let parameters = listed
        .iter()
        .find(|i| i.0 == "second-line/parameters")
        .expect("parameters");
    assert_eq!(parameters.1, "halted", "{listed:?}");
    assert!(
        parameters
            .2
            .as_str()
            .unwrap_or_default()
            .contains("acs provision reset"),
        "{listed:?}"
    );
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_refused_value_backs_off_instead_of_being_pushed_every_session() {
    let app = spawn_app().await;
    let api = Api::new(&app, Some(&api_token(&app, "ensure-bo", Role::Admin).await));
    // The phone's model number cannot be written: every push is refused.
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({
                "name": "impossible",
                "events": ["BOOTSTRAP", "PERIODIC"],
                "parameters": [{"name": "Device.DeviceInfo.ModelName", "value": "CP-9999"}],
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let sim = phone(&app, "ENB").await;
    let device = sim.device(0).device_id();
    session(&sim, &[]).await;
    for _ in 0..3 {
        session(&sim, &[EventCode::Periodic]).await;
    }
    let all = tasks(&app, &device).await;
    assert_eq!(
        of_kind(&all, "set_parameter_values").len(),
        1,
        "refused once, then waits for its backoff: {all:?}"
    );
    assert!(of_kind(&all, "get_parameter_values").is_empty(), "{all:?}");
    let listed = items(&api, &device).await;
    assert_eq!(status_of(&listed, "impossible/parameters"), "failed");
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn objects_the_device_does_not_have_fail_with_the_reason_instead_of_checking_forever() {
    let app = spawn_app().await;
    let api = Api::new(&app, Some(&api_token(&app, "ensure-no", Role::Admin).await));
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({
                "name": "wifi",
                "events": ["BOOTSTRAP", "PERIODIC"],
                "objects": [{"path": "Device.WiFi.SSID.", "instances": 2}],
                "parameters": [{"name": "Device.WiFi.SSID.2.SSID", "value": "guest"}],
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let sim = phone(&app, "ENN").await;
    let device = sim.device(0).device_id();
    session(&sim, &[]).await;
    assert_eq!(
        status_of(&items(&api, &device).await, "wifi/objects"),
        "checking"
    );
    session(&sim, &[EventCode::Periodic]).await;
    let listed = items(&api, &device).await;
    let objects = listed
        .iter()
        .find(|i| i.0 == "wifi/objects")
        .expect("objects");
    assert_eq!(objects.1, "failed", "{listed:?}");
    assert!(
        objects
            .2
            .as_str()
            .unwrap_or_default()
            .contains("reading the objects failed"),
        "{listed:?}"
    );
    // The parameters that would live in them were never pushed, and nothing is retried
    // before the backoff.
    session(&sim, &[EventCode::Periodic]).await;
    let all = tasks(&app, &device).await;
    assert!(of_kind(&all, "set_parameter_values").is_empty(), "{all:?}");
    assert_eq!(of_kind(&all, "get_parameter_values").len(), 1, "{all:?}");
    sim.shutdown().await;
    app.cleanup().await;
}

//! Zero-touch provisioning: a phone that bootstraps gets what its rules say, once; failures back
//! off; a looping device is halted; rules are managed through the API.

use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
use acs_core::cwmp::{EventCode, EventStruct};
use acs_core::storage::{FileKind, Role, TaskRow};
use acs_tests::{Api, TestApp, api_token, enc, spawn_app, spawn_app_with};
use serde_json::{Value, json};

/// What the simulated phones run before any upgrade (`schemas/profiles/cisco-mpp.json`).
const FACTORY_VERSION: &str = "sip88xx.12-0-2MPP-1";
const IMAGE: &str = "sip88xx.12-0-5MPP-2.loads";
const NEW_VERSION: &str = "sip88xx.12-0-5MPP-2";
const INTERVAL: &str = "Device.ManagementServer.PeriodicInformInterval";

/// Phones that have not contacted the ACS yet: their first session is a BOOTSTRAP.
async fn new_phones(app: &TestApp, n: usize, prefix: &str) -> Simulator {
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        n,
        Profile::builtin("cisco-mpp").expect("profile"),
    );
    config.periodic = false;
    config.serial_prefix = Some(prefix.to_owned());
    Simulator::start(config).await.expect("simulator")
}

async fn session(sim: &Simulator, i: usize, events: &[EventCode]) {
    let events = events.iter().cloned().map(EventStruct::new).collect();
    let report = sim.run_session(i, events).await.expect("session");
    assert!(report.succeeded(), "{report:?}");
}

async fn admin(app: &TestApp) -> Api {
    Api::new(app, Some(&api_token(app, "prov-admin", Role::Admin).await))
}

async fn tasks(app: &TestApp, device: &str) -> Vec<TaskRow> {
    app.store.list_tasks(device).await.expect("tasks")
}

/// `rule/item → status` of a device, from the API.
async fn status(api: &Api, device: &str) -> Vec<(String, String, Value)> {
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

#[tokio::test]
async fn a_bootstrapping_phone_gets_its_rules_configuration_and_firmware_once() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let template = app
        .upload(
            FileKind::ConfigTemplate,
            "mpp.xml",
            None,
            b"<device><flat-profile><Station_Name>{{ station }}</Station_Name>\
          <User_ID_1_>{{ serial }}</User_ID_1_></flat-profile></device>",
        )
        .await;
    let sim = new_phones(&app, 1, "ZT").await;
    let other = new_phones(&app, 1, "NO").await;
    let serial = sim.device(0).serial().to_owned();
    let vars = app
        .upload(
            FileKind::Vars,
            "phones.csv",
            None,
            format!("serial,station\n{serial},Reception\n").as_bytes(),
        )
        .await;
    let firmware = app
        .upload(FileKind::Firmware, IMAGE, None, &[5u8; 50_000])
        .await;

    // Two rules; `base` (order 10) comes before `mpp` (order 20) whatever their names.
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({
                "name": "mpp",
                "order": 20,
                "filter": "serial ~ \"ZT*\"",
                "events": ["BOOTSTRAP", "BOOT", "PERIODIC"],
                "template_file": template,
                "vars_file": vars,
                "firmware_file": firmware,
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.json()["firmware_version"],
        NEW_VERSION,
        "the version is taken from the MPP image name"
    );
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({
                "name": "base",
                "order": 10,
                "filter": "serial ~ \"ZT*\"",
                "events": ["BOOTSTRAP"],
                "parameters": [{"name": INTERVAL, "value": "3600", "type": "xsd:unsignedInt"}],
                "connection_request_credentials": true,
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let listed = api.get("/api/v1/provision/rules").await.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["base", "mpp"], "listed in the order they apply");

    // First contact: 0 BOOTSTRAP. Everything is queued and served in this session, in rule
    // order; then the phone fetches both files, applies the configuration, installs the image
    // and reboots.
    let device = sim.device(0).device_id();
    session(&sim, 0, &[]).await;
    let queued = tasks(&app, &device).await;
    let kinds: Vec<&str> = queued.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "set_parameter_values",
            "set_connection_request_credentials",
            "download",
            "download"
        ]
    );
    assert!(
        queued[2]
            .payload
            .to_string()
            .contains("3 Vendor Configuration File")
            && queued[3]
                .payload
                .to_string()
                .contains("1 Firmware Upgrade Image"),
        "configuration before firmware: {queued:?}"
    );
    // The phone comes back with 1 BOOT, M Download and its TransferCompletes.
    session(&sim, 0, &[]).await;
    // And informs once more: the ACS sees the new version after the install.
    session(&sim, 0, &[EventCode::Periodic]).await;

    let phone = sim.device(0);
    assert_eq!(phone.value(INTERVAL).as_deref(), Some("3600"));
    assert_eq!(
        phone.flat_profile().get("Station_Name").map(String::as_str),
        Some("Reception"),
        "the template was rendered with the phone's CSV row"
    );
    assert_eq!(
        phone.value("Device.DeviceInfo.SoftwareVersion").as_deref(),
        Some(NEW_VERSION)
    );
    let stored = app.store.get_device(&device).await.unwrap().unwrap();
    assert_eq!(stored.software_version.as_deref(), Some(NEW_VERSION));
    assert!(
        stored.connection_request_password.is_some(),
        "the phone's new connection-request credentials are stored"
    );
    let items = status(&api, &device).await;
    let summary: Vec<(&str, &str)> = items
        .iter()
        .map(|(k, s, _)| (k.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("base/connection_request", "applied"),
            ("base/parameters", "applied"),
            ("mpp/configuration", "applied"),
            ("mpp/firmware", "applied"),
        ],
        "{items:?}"
    );

    // Idempotent: more BOOT and PERIODIC Informs push nothing.
    let before = tasks(&app, &device).await.len();
    session(&sim, 0, &[EventCode::Boot]).await;
    session(&sim, 0, &[EventCode::Periodic]).await;
    assert_eq!(tasks(&app, &device).await.len(), before);
    let firmware_fetches = app
        .store
        .file_transfers_of_device(&device, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.file_id == Some(firmware) && t.outcome == "ok")
        .count();
    assert_eq!(firmware_fetches, 1);

    // A phone the filters do not match gets nothing.
    session(&other, 0, &[]).await;
    assert!(tasks(&app, &other.device(0).device_id()).await.is_empty());

    // The files are in use: they cannot be deleted from under the rule.
    let reply = api
        .call("DELETE", &format!("/api/v1/files/{firmware}"), None)
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert!(reply.text.contains("mpp"), "{}", reply.text);

    sim.shutdown().await;
    other.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn firmware_already_at_the_rule_version_is_not_pushed() {
    let app = spawn_app().await;
    let api = admin(&app).await;
    let firmware = app
        .upload(
            FileKind::Firmware,
            &format!("{FACTORY_VERSION}.loads"),
            None,
            &[1u8; 1000],
        )
        .await;
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({"name": "fw", "firmware_file": firmware}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let sim = new_phones(&app, 1, "SAME").await;
    session(&sim, 0, &[]).await;
    let device = sim.device(0).device_id();
    assert!(tasks(&app, &device).await.is_empty());
    let items = status(&api, &device).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].0.as_str(), items[0].1.as_str()),
        ("fw/firmware", "applied")
    );
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_failed_push_waits_for_its_backoff_and_an_operator_reset_retries_it() {
    let app = spawn_app_with(|c| {
        c.provision.backoff_secs = 3600;
    })
    .await;
    let api = admin(&app).await;
    // An image the phone does not take: its TransferComplete reports 9018.
    let firmware = app
        .upload(FileKind::Firmware, "gateway-2.0.bin", None, &[2u8; 1000])
        .await;
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({
                "name": "wrong-image",
                "events": ["BOOTSTRAP", "BOOT", "PERIODIC"],
                "firmware_file": firmware,
                "firmware_version": "2.0",
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let sim = new_phones(&app, 1, "BO").await;
    let device = sim.device(0).device_id();
    session(&sim, 0, &[]).await; // BOOTSTRAP: Download queued and sent.
    session(&sim, 0, &[]).await; // TransferComplete with the fault.
    session(&sim, 0, &[EventCode::Periodic]).await; // Settled as failed; backoff.
    session(&sim, 0, &[EventCode::Periodic]).await; // Still within the backoff.
    let downloads = |t: &[TaskRow]| t.iter().filter(|t| t.kind == "download").count();
    assert_eq!(downloads(&tasks(&app, &device).await), 1);
    let items = status(&api, &device).await;
    assert_eq!(items[0].1, "failed", "{items:?}");
    assert!(
        items[0].2.as_str().unwrap_or_default().contains("9018"),
        "the fault is shown: {items:?}"
    );

    // The operator fixes the cause and resets the device's record: tried again at once.
    let reply = api
        .call(
            "DELETE",
            &format!("/api/v1/devices/{}/provisioning", enc(&device)),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["reset"], 1);
    session(&sim, 0, &[EventCode::Periodic]).await;
    assert_eq!(downloads(&tasks(&app, &device).await), 2);
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_device_that_keeps_bootstrapping_is_halted_by_the_loop_protection() {
    let app = spawn_app_with(|c| {
        c.provision.loop_limit = 2;
    })
    .await;
    let api = admin(&app).await;
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({
                "name": "interval",
                "events": ["BOOTSTRAP"],
                "parameters": [{"name": INTERVAL, "value": "600", "type": "xsd:unsignedInt"}],
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let sim = new_phones(&app, 1, "LOOP").await;
    let device = sim.device(0).device_id();
    // A bootstrap says the device lost its configuration: pushed again, up to the limit.
    for _ in 0..4 {
        session(&sim, 0, &[EventCode::Bootstrap]).await;
    }
    let pushes = tasks(&app, &device)
        .await
        .iter()
        .filter(|t| t.kind == "set_parameter_values")
        .count();
    assert_eq!(pushes, 2);
    let items = status(&api, &device).await;
    assert_eq!(items[0].1, "halted", "{items:?}");
    assert!(
        items[0].2.as_str().unwrap_or_default().contains("loop"),
        "{items:?}"
    );
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn rules_are_checked_and_only_admins_change_them() {
    let config_rule: acs_core::provision::ConfigRule = serde_json::from_value(json!({
        "name": "from-config",
        "order": 1,
        "events": ["BOOTSTRAP"],
        "parameters": [{"name": INTERVAL, "value": "900", "type": "xsd:unsignedInt"}],
    }))
    .expect("rule");
    let app = spawn_app_with(|c| c.provision.rules = vec![config_rule]).await;
    let api = admin(&app).await;
    let operator = Api::new(
        &app,
        Some(&api_token(&app, "prov-op", Role::Operator).await),
    );
    let viewer = Api::new(
        &app,
        Some(&api_token(&app, "prov-viewer", Role::Viewer).await),
    );
    let template = app
        .upload(FileKind::ConfigTemplate, "t.xml", None, b"<flat-profile/>")
        .await;

    let rule = json!({"name": "r1", "parameters": [{"name": INTERVAL, "value": "60", "type": "xsd:unsignedInt"}]});
    assert_eq!(
        operator.post("/api/v1/provision/rules", &rule).await.status,
        403
    );
    assert_eq!(viewer.get("/api/v1/provision/rules").await.status, 403);
    assert_eq!(operator.get("/api/v1/provision/rules").await.status, 200);

    for (body, status, says) in [
        (
            json!({"name": "bad filter", "parameters": rule["parameters"]}),
            400,
            "invalid rule name",
        ),
        (
            json!({"name": "f", "filter": "serial =", "parameters": rule["parameters"]}),
            400,
            "filter at column",
        ),
        (
            json!({"name": "e", "events": ["6 CONNECTION REQUEST"], "parameters": rule["parameters"]}),
            400,
            "unknown event",
        ),
        (json!({"name": "n"}), 400, "ensures nothing"),
        (
            json!({"name": "m", "firmware_file": 999_999}),
            400,
            "firmware file 999999 does not exist",
        ),
        (
            json!({"name": "k", "firmware_file": template}),
            400,
            "is a config-template file, not a firmware",
        ),
        (
            json!({"name": "v", "template_file": template, "vars_file": 999_999}),
            400,
            "vars file 999999 does not exist",
        ),
        (
            json!({"name": "from-config", "parameters": rule["parameters"]}),
            409,
            "configuration file",
        ),
        (
            json!({"name": "x", "parameters": rule["parameters"], "colour": "red"}),
            400,
            "colour",
        ),
    ] {
        let reply = api.post("/api/v1/provision/rules", &body).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.text);
        assert!(
            reply.text.contains(says),
            "{body}: {} should say {says:?}",
            reply.text
        );
    }

    assert_eq!(api.post("/api/v1/provision/rules", &rule).await.status, 201);
    let again = api.post("/api/v1/provision/rules", &rule).await;
    assert_eq!(again.status, 409, "{}", again.text);
    let shown = api.get("/api/v1/provision/rules/r1").await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["source"], "api");
    assert_eq!(shown.json()["created_by"], "prov-admin");
    assert_eq!(
        shown.json()["events"],
        json!(["BOOTSTRAP", "BOOT"]),
        "the default events"
    );
    let all = api.get("/api/v1/provision/rules").await.json();
    assert_eq!(all[0]["name"], "from-config");
    assert_eq!(all[0]["source"], "config");

    let removed = api.call("DELETE", "/api/v1/provision/rules/r1", None).await;
    assert_eq!(removed.status, 204, "{}", removed.text);
    assert_eq!(
        api.call("DELETE", "/api/v1/provision/rules/r1", None)
            .await
            .status,
        404
    );
    let config = api
        .call("DELETE", "/api/v1/provision/rules/from-config", None)
        .await;
    assert_eq!(config.status, 409, "{}", config.text);
    assert_eq!(
        operator
            .call("DELETE", "/api/v1/provision/rules/from-config", None)
            .await
            .status,
        403
    );
    assert_eq!(
        api.get("/api/v1/devices/nope/provisioning").await.status,
        404
    );
    app.cleanup().await;
}

#[tokio::test]
async fn config_file_rules_import_their_files_once_across_restarts() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join(IMAGE);
    std::fs::write(&image, [3u8; 10_000]).unwrap();
    let template = dir.path().join("mpp.xml");
    std::fs::write(
        &template,
        "<flat-profile><Station_Name>{{ serial }}</Station_Name></flat-profile>",
    )
    .unwrap();
    let rule: acs_core::provision::ConfigRule =
        serde_json::from_value(json!({"name": "mpp", "template": template, "firmware": image}))
            .expect("rule");
    let first = acs_core::provision::import_config_rules(
        &app.files.files,
        &app.store,
        std::slice::from_ref(&rule),
    )
    .await
    .expect("import");
    let second = acs_core::provision::import_config_rules(&app.files.files, &app.store, &[rule])
        .await
        .expect("import again");
    assert_eq!(first, second, "the same files are reused");
    assert_eq!(first[0].firmware_version.as_deref(), Some(NEW_VERSION));
    assert_eq!(app.store.list_files(None).await.unwrap().len(), 2);
    app.cleanup().await;
}

#[tokio::test]
async fn a_credentials_rule_adopts_the_bootstrap_default_instead_of_sending_a_second_set() {
    let app = spawn_app_with(|c| c.cwmp.provision_connection_request_credentials = true).await;
    let api = admin(&app).await;
    let reply = api
        .post(
            "/api/v1/provision/rules",
            &json!({"name": "creds", "events": ["BOOTSTRAP"], "connection_request_credentials": true}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let sim = new_phones(&app, 1, "CR").await;
    let device = sim.device(0).device_id();
    session(&sim, 0, &[]).await;
    let sets = tasks(&app, &device)
        .await
        .into_iter()
        .filter(|t| t.kind == "set_connection_request_credentials")
        .count();
    assert_eq!(sets, 1);
    let items = status(&api, &device).await;
    assert_eq!(
        (items[0].0.as_str(), items[0].1.as_str()),
        ("creds/connection_request", "applied"),
        "{items:?}"
    );
    sim.shutdown().await;
    app.cleanup().await;
}

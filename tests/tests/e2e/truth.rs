//! "The stored state never lies": what the ACS did is what it stores (values, types, names,
//! writability, instances, attributes, the MAC), values get their types without the operator
//! typing them, and a bootstrapping device is read without anyone asking.

use acs_core::cwmp::{self, Body, Envelope, EventCode, FaultCode, ParameterValue, ValueType};
use acs_core::storage::{ParameterRecord, ParameterRow, Role, TaskState};
use acs_core::tasks::TaskSpec;
use acs_tests::{Api, RawCpe, TestApp, api_token, device_key, enc, inform, spawn_app};
use serde_json::json;

const INTERVAL: &str = "Device.ManagementServer.PeriodicInformInterval";

async fn queue(app: &TestApp, device: &str, spec: TaskSpec) -> i64 {
    acs_tests::queue_task(app, device, spec).await
}

/// A device that has informed once and has nothing queued.
async fn register(app: &TestApp, serial: &str) -> String {
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform(serial, &[EventCode::Bootstrap], "1"))
        .await;
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    device_key(serial)
}

/// One session of a scripted CPE: every ACS request goes to `answer`; returns the requests in
/// order once the ACS ends the session.
async fn session(
    app: &TestApp,
    serial: &str,
    events: &[EventCode],
    mut answer: impl FnMut(&Body) -> Body,
) -> Vec<Body> {
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform(serial, events, "1")).await;
    let mut reply = cpe.post(Vec::new()).await;
    let mut requests = Vec::new();
    while reply.status == 200 {
        let request = reply.envelope();
        let response = answer(&request.body);
        requests.push(request.body.clone());
        reply = cpe
            .send(&Envelope::new(
                request.namespace.clone(),
                request.header.id.clone(),
                response,
            ))
            .await;
    }
    assert_eq!(reply.status, 204, "{}", reply.text);
    requests
}

fn fault(code: FaultCode) -> Body {
    Body::Fault(cwmp::SoapFault::new(cwmp::CwmpFault::new(code)))
}

async fn param(app: &TestApp, device: &str, name: &str) -> Option<ParameterRow> {
    app.store
        .get_parameters(device, Some(name))
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == name)
}

async fn state(app: &TestApp, task: i64) -> TaskState {
    app.store.get_task(task).await.unwrap().unwrap().state
}

/// A strict CPE (as some firmware is): fault 9006 unless each value carries the parameter's
/// own type. `types` is its data model.
fn strict_set(types: &[(&str, ValueType)], request: &Body) -> Body {
    let Body::SetParameterValues(set) = request else {
        panic!("expected a SetParameterValues, got {request:?}")
    };
    for v in &set.parameter_list {
        let own = types.iter().find(|(n, _)| *n == v.name).map(|(_, t)| t);
        if own != Some(&v.value_type) {
            return fault(FaultCode::InvalidParameterType);
        }
    }
    Body::SetParameterValuesResponse(cwmp::SetParameterValuesResponse { status: 0 })
}

#[tokio::test]
async fn the_readme_example_gets_unsigned_int_without_a_type() {
    let app = spawn_app().await;
    let id = register(&app, "FCH2233A0B1").await;
    let token = api_token(&app, "ops", Role::Operator).await;
    let api = Api::new(&app, Some(&token));
    // `acs set -d FCH2233A0B1 Device.ManagementServer.PeriodicInformInterval=300`: no type.
    let created = api
        .post(
            &format!(
                "/api/v1/devices/{}/tasks?connection_request=false",
                enc(&id)
            ),
            &json!({"kind": "set_parameter_values",
                    "values": [{"name": INTERVAL, "value": "300"}]}),
        )
        .await;
    assert!(created.status < 300, "{}", created.text);
    let task = created.json()["id"].as_i64().expect("task id");
    // Known at creation (the Inform stored it), so the task shows it at once.
    assert_eq!(
        created.json()["definition"]["values"][0]["type"],
        "xsd:unsignedInt"
    );
    // The Inform stored the interval as xsd:unsignedInt, and the data model says so too.
    let requests = session(&app, "FCH2233A0B1", &[EventCode::Periodic], |r| {
        strict_set(&[(INTERVAL, ValueType::UnsignedInt)], r)
    })
    .await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(state(&app, task).await, TaskState::Done);
    let stored = param(&app, &id, INTERVAL).await.unwrap();
    assert_eq!(
        (stored.value.as_str(), stored.xsd_type.as_str()),
        ("300", "xsd:unsignedInt")
    );
    // The stored task says what went on the wire.
    let payload = app.store.get_task(task).await.unwrap().unwrap().payload;
    assert_eq!(payload["spec"]["values"][0]["type"], "xsd:unsignedInt");
    app.cleanup().await;
}

#[tokio::test]
async fn the_data_model_types_a_parameter_never_stored() {
    let app = spawn_app().await;
    let id = register(&app, "DM1").await;
    let enable = "Device.ManagementServer.PeriodicInformEnable";
    assert!(param(&app, &id, enable).await.is_none());
    let mut spec: TaskSpec = serde_json::from_value(json!({"kind": "set_parameter_values",
        "values": [{"name": enable, "value": "1"}]}))
    .unwrap();
    let task = queue(&app, &id, spec.clone()).await;
    let requests = session(&app, "DM1", &[EventCode::Periodic], |r| {
        strict_set(&[(enable, ValueType::Boolean)], r)
    })
    .await;
    assert_eq!(
        requests.len(),
        1,
        "no GetParameterValues needed: {requests:?}"
    );
    assert_eq!(state(&app, task).await, TaskState::Done);
    assert_eq!(
        param(&app, &id, enable).await.unwrap().xsd_type,
        "xsd:boolean"
    );
    // A value that does not fit the resolved type fails unsent, with the reason.
    if let TaskSpec::SetParameterValues { values } = &mut spec {
        values[0].value = "sometimes".into();
    }
    let bad = queue(&app, &id, spec).await;
    let requests = session(&app, "DM1", &[EventCode::Periodic], |r| {
        panic!("sent {r:?}")
    })
    .await;
    assert!(requests.is_empty());
    let t = app.store.get_task(bad).await.unwrap().unwrap();
    assert_eq!(t.state, TaskState::Fault);
    assert!(
        t.fault_string.unwrap().contains("not a valid xsd:boolean"),
        "the reason names the type"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn an_unknown_parameter_is_typed_by_the_cpe_in_the_same_session() {
    let app = spawn_app().await;
    let id = register(&app, "GPV1").await;
    let volume = "Device.X_ACME_Ringer.Volume";
    let spec: TaskSpec = serde_json::from_value(json!({"kind": "set_parameter_values",
        "values": [{"name": volume, "value": "7"}, {"name": INTERVAL, "value": "600"}]}))
    .unwrap();
    let task = queue(&app, &id, spec).await;
    let types = [
        (volume, ValueType::UnsignedInt),
        (INTERVAL, ValueType::UnsignedInt),
    ];
    let requests = session(&app, "GPV1", &[EventCode::Periodic], |r| match r {
        Body::GetParameterValues(g) => {
            // Only the name nothing else could type is asked for.
            assert_eq!(g.parameter_names, [volume]);
            Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
                parameter_list: vec![ParameterValue::new(volume, "3", ValueType::UnsignedInt)],
            })
        }
        other => strict_set(&types, other),
    })
    .await;
    assert_eq!(
        requests.iter().map(Body::element_name).collect::<Vec<_>>(),
        ["GetParameterValues", "SetParameterValues"]
    );
    let t = app.store.get_task(task).await.unwrap().unwrap();
    // The typing read and the set are steps of one task: one attempt, like a refresh.
    assert_eq!((t.state, t.attempts), (TaskState::Done, 1));
    let stored = param(&app, &id, volume).await.unwrap();
    assert_eq!(
        (
            stored.value.as_str(),
            stored.xsd_type.as_str(),
            stored.writable
        ),
        ("7", "xsd:unsignedInt", Some(true))
    );
    app.cleanup().await;
}

#[tokio::test]
async fn set_values_are_stored_only_when_the_cpe_accepted_them() {
    let app = spawn_app().await;
    let id = register(&app, "SPV1").await;
    // Not among the Inform's parameters, so only the set can have changed it.
    let name = "Device.Time.NTPServer1";
    let set = |v: &str| TaskSpec::SetParameterValues {
        values: vec![ParameterValue::string(name, v)],
    };
    // Status 1: committed, applied later. Still what the device now has.
    let ok = queue(&app, &id, set("lab")).await;
    session(&app, "SPV1", &[EventCode::Periodic], |_| {
        Body::SetParameterValuesResponse(cwmp::SetParameterValuesResponse { status: 1 })
    })
    .await;
    assert_eq!(state(&app, ok).await, TaskState::Done);
    let stored = param(&app, &id, name).await.unwrap();
    assert_eq!(
        (stored.value.as_str(), stored.writable),
        ("lab", Some(true))
    );
    // A refused write leaves the stored value alone.
    let refused = queue(&app, &id, set("prod")).await;
    session(&app, "SPV1", &[EventCode::Periodic], |_| {
        fault(FaultCode::InvalidParameterValue)
    })
    .await;
    assert_eq!(state(&app, refused).await, TaskState::Fault);
    assert_eq!(param(&app, &id, name).await.unwrap().value, "lab");
    app.cleanup().await;
}

#[tokio::test]
async fn a_refresh_stores_the_tree_with_writability_and_forgets_what_is_gone() {
    let app = spawn_app().await;
    let id = register(&app, "GPN1").await;
    let now = chrono::Utc::now();
    let gone = "Device.DeviceInfo.X_OLD_Thing";
    app.store
        .upsert_parameters(&id, &[ParameterRecord::new(gone, "1", "xsd:string")], now)
        .await
        .unwrap();
    let task = queue(
        &app,
        &id,
        TaskSpec::Refresh {
            path: "Device.DeviceInfo.".into(),
        },
    )
    .await;
    let info = |name: &str, writable| cwmp::ParameterInfo {
        name: name.into(),
        writable,
    };
    session(&app, "GPN1", &[EventCode::Periodic], |r| match r {
        Body::GetParameterNames(_) => {
            Body::GetParameterNamesResponse(cwmp::GetParameterNamesResponse {
                parameter_list: vec![
                    info("Device.DeviceInfo.", false),
                    info("Device.DeviceInfo.SoftwareVersion", false),
                    info("Device.DeviceInfo.ProvisioningCode", true),
                    info("Device.DeviceInfo.UpTime", false),
                ],
            })
        }
        Body::GetParameterValues(_) => {
            Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
                parameter_list: vec![
                    ParameterValue::string(
                        "Device.DeviceInfo.SoftwareVersion",
                        "sip88xx.12-0-2MPP-1",
                    ),
                    ParameterValue::string("Device.DeviceInfo.ProvisioningCode", "lab"),
                    ParameterValue::new("Device.DeviceInfo.UpTime", "42", ValueType::UnsignedInt),
                ],
            })
        }
        other => panic!("unexpected {other:?}"),
    })
    .await;
    assert_eq!(state(&app, task).await, TaskState::Done);
    assert!(param(&app, &id, gone).await.is_none(), "stale name removed");
    // Through the NBI: writability is known for every name now.
    let token = api_token(&app, "viewer", Role::Viewer).await;
    let list = Api::new(&app, Some(&token))
        .get(&format!(
            "/api/v1/devices/{}/parameters?prefix=Device.DeviceInfo.",
            enc(&id)
        ))
        .await
        .json();
    let rows: Vec<(String, serde_json::Value, String)> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["writable"].clone(),
                p["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let row = |n: &str| rows.iter().find(|r| r.0 == n).cloned().unwrap();
    assert_eq!(row("Device.DeviceInfo.ProvisioningCode").1, json!(true));
    assert_eq!(row("Device.DeviceInfo.ProvisioningCode").2, "lab");
    assert_eq!(row("Device.DeviceInfo.UpTime").1, json!(false));
    assert_eq!(row("Device.DeviceInfo.UpTime").2, "42");
    assert_eq!(row("Device.DeviceInfo.SoftwareVersion").1, json!(false));
    // Outside the refreshed subtree nothing was touched.
    assert!(param(&app, &id, INTERVAL).await.is_some());
    app.cleanup().await;
}

#[tokio::test]
async fn add_object_stores_the_instance_and_delete_object_removes_the_subtree() {
    let app = spawn_app().await;
    let id = register(&app, "OBJ1").await;
    let table = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";
    let now = chrono::Utc::now();
    app.store
        .upsert_parameters(
            &id,
            &[
                ParameterRecord::new(format!("{table}1.Enable"), "Enabled", "xsd:string"),
                ParameterRecord::new(format!("{table}3.Enable"), "Enabled", "xsd:string"),
                ParameterRecord::new(format!("{table}3.SIP.URI"), "sip:3@lab", "xsd:string"),
                // Same prefix text, another instance: must survive the delete of 3.
                ParameterRecord::new(format!("{table}30.Enable"), "Enabled", "xsd:string"),
            ],
            now,
        )
        .await
        .unwrap();
    let add = queue(
        &app,
        &id,
        TaskSpec::AddObject {
            object: table.into(),
        },
    )
    .await;
    session(&app, "OBJ1", &[EventCode::Periodic], |_| {
        Body::AddObjectResponse(cwmp::AddObjectResponse {
            instance_number: 4,
            status: 0,
        })
    })
    .await;
    assert_eq!(state(&app, add).await, TaskState::Done);
    let instance = param(&app, &id, &format!("{table}4."))
        .await
        .expect("instance stored");
    assert_eq!(instance.writable, Some(true));

    let delete = queue(
        &app,
        &id,
        TaskSpec::DeleteObject {
            object: format!("{table}3."),
        },
    )
    .await;
    session(&app, "OBJ1", &[EventCode::Periodic], |_| {
        Body::DeleteObjectResponse(cwmp::DeleteObjectResponse { status: 0 })
    })
    .await;
    assert_eq!(state(&app, delete).await, TaskState::Done);
    let names: Vec<String> = app
        .store
        .get_parameters(&id, Some(table))
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        names,
        [
            format!("{table}1.Enable"),
            format!("{table}30.Enable"),
            format!("{table}4."),
        ]
    );
    app.cleanup().await;
}

#[tokio::test]
async fn attributes_set_and_reported_are_stored() {
    let app = spawn_app().await;
    let id = register(&app, "ATTR1").await;
    let version = "Device.DeviceInfo.SoftwareVersion";
    let set = queue(
        &app,
        &id,
        TaskSpec::SetParameterAttributes {
            attributes: vec![
                cwmp::SetParameterAttributesStruct {
                    name: version.into(),
                    notification_change: true,
                    notification: 2,
                    access_list_change: false,
                    access_list: vec![],
                },
                // A partial path applies to every stored name below it.
                cwmp::SetParameterAttributesStruct {
                    name: "Device.ManagementServer.".into(),
                    notification_change: false,
                    notification: 0,
                    access_list_change: true,
                    access_list: vec!["Subscriber".into()],
                },
            ],
        },
    )
    .await;
    session(&app, "ATTR1", &[EventCode::Periodic], |_| {
        Body::SetParameterAttributesResponse
    })
    .await;
    assert_eq!(state(&app, set).await, TaskState::Done);
    let v = param(&app, &id, version).await.unwrap();
    assert_eq!((v.notification, v.access_list), (Some(2), None));
    let i = param(&app, &id, INTERVAL).await.unwrap();
    assert_eq!(
        (i.notification, i.access_list),
        (None, Some(vec!["Subscriber".to_owned()]))
    );
    assert_eq!(i.value, "3600", "attributes leave the value alone");

    // What the CPE reports replaces what the ACS believed.
    let get = queue(
        &app,
        &id,
        TaskSpec::GetParameterAttributes {
            names: vec![version.into()],
        },
    )
    .await;
    session(&app, "ATTR1", &[EventCode::Periodic], |_| {
        Body::GetParameterAttributesResponse(cwmp::GetParameterAttributesResponse {
            parameter_list: vec![cwmp::ParameterAttribute {
                name: version.into(),
                notification: 1,
                access_list: vec![],
            }],
        })
    })
    .await;
    assert_eq!(state(&app, get).await, TaskState::Done);
    let v = param(&app, &id, version).await.unwrap();
    assert_eq!((v.notification, v.access_list), (Some(1), Some(vec![])));
    app.cleanup().await;
}

#[tokio::test]
async fn the_mac_is_learned_from_stored_parameters() {
    let app = spawn_app().await;
    let id = register(&app, "MAC1").await;
    assert_eq!(app.store.get_device(&id).await.unwrap().unwrap().mac, None);
    let task = queue(
        &app,
        &id,
        TaskSpec::GetParameterValues {
            names: vec!["Device.Ethernet.Interface.1.MACAddress".into()],
        },
    )
    .await;
    session(&app, "MAC1", &[EventCode::Periodic], |_| {
        Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
            parameter_list: vec![ParameterValue::string(
                "Device.Ethernet.Interface.1.MACAddress",
                "00562b0a0b0c",
            )],
        })
    })
    .await;
    assert_eq!(state(&app, task).await, TaskState::Done);
    assert_eq!(
        app.store
            .get_device(&id)
            .await
            .unwrap()
            .unwrap()
            .mac
            .as_deref(),
        Some("00:56:2B:0A:0B:0C")
    );
    // `-d <MAC>` names the device.
    let token = api_token(&app, "viewer", Role::Viewer).await;
    let resolved = Api::new(&app, Some(&token))
        .get("/api/v1/devices/resolve?name=00:56:2b:0a:0b:0c")
        .await;
    assert!(resolved.text.contains(&id), "{}", resolved.text);
    app.cleanup().await;
}

#[tokio::test]
async fn a_bootstrapping_mpp_phone_is_read_for_the_views() {
    let app = acs_tests::spawn_app_with(|c| c.bootstrap.fetch = true).await;
    let line = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";
    let requests = session(&app, "BOOT1", &[EventCode::Bootstrap], |r| match r {
        Body::GetParameterValues(g) => {
            assert!(
                !g.parameter_names.iter().any(|n| n == "Device."),
                "no full walk"
            );
            assert!(g.parameter_names.iter().any(|n| n == line), "{g:?}");
            Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
                parameter_list: vec![
                    ParameterValue::string(
                        "Device.Ethernet.Interface.1.MACAddress",
                        "00:56:2B:01:02:03",
                    ),
                    ParameterValue::string(format!("{line}1.Status"), "Up"),
                    ParameterValue::string(format!("{line}2.Status"), "Registering"),
                ],
            })
        }
        // The lines it has will report every registration change themselves.
        Body::SetParameterAttributes(a) => {
            let names: Vec<(&str, u8, bool)> = a
                .parameter_list
                .iter()
                .map(|p| (p.name.as_str(), p.notification, p.notification_change))
                .collect();
            assert_eq!(
                names,
                [
                    (format!("{line}1.Status").as_str(), 2, true),
                    (format!("{line}2.Status").as_str(), 2, true)
                ]
            );
            Body::SetParameterAttributesResponse
        }
        other => panic!("unexpected {other:?}"),
    })
    .await;
    assert_eq!(requests.len(), 2);
    let id = device_key("BOOT1");
    assert_eq!(
        app.store
            .get_device(&id)
            .await
            .unwrap()
            .unwrap()
            .mac
            .as_deref(),
        Some("00:56:2B:01:02:03")
    );
    assert_eq!(
        param(&app, &id, &format!("{line}2.Status"))
            .await
            .unwrap()
            .value,
        "Registering"
    );
    // Only a bootstrap does this: a later boot reads nothing.
    let requests = session(&app, "BOOT1", &[EventCode::Boot], |r| panic!("sent {r:?}")).await;
    assert!(requests.is_empty());
    app.cleanup().await;
}

#[tokio::test]
async fn a_simulated_mpp_phone_is_known_by_its_mac_after_bootstrap() {
    use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
    let app = acs_tests::spawn_app_with(|c| c.bootstrap.fetch = true).await;
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        1,
        Profile::builtin("cisco-mpp").unwrap(),
    );
    config.periodic = false;
    let sim = Simulator::start(config).await.unwrap();
    let phone = sim.device(0);
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(
        report.rpcs_received,
        ["GetParameterValues", "SetParameterAttributes"],
        "the bootstrap read, then active notification on the lines' states: {report:?}"
    );
    let mac = phone
        .value("Device.Ethernet.Interface.1.MACAddress")
        .unwrap();
    let id = phone.device_id();
    assert_eq!(
        app.store
            .get_device(&id)
            .await
            .unwrap()
            .unwrap()
            .mac
            .as_deref(),
        Some(mac.as_str())
    );
    let status = "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.Status";
    assert_eq!(
        param(&app, &id, status).await.unwrap().value,
        phone.value(status).unwrap()
    );
    // The phone is named by its MAC, and a template's {{ mac }} is it.
    let token = api_token(&app, "ops", Role::Operator).await;
    let rendered = Api::new(&app, Some(&token))
        .post(
            "/api/v1/config/render",
            &json!({"device": mac.to_lowercase(),
                    "template": "<flat-profile><Station_Name>{{ mac }}</Station_Name></flat-profile>"}),
        )
        .await;
    assert_eq!(rendered.status, 200, "{}", rendered.text);
    assert_eq!(rendered.json()["device_id"], id.as_str());
    assert!(
        rendered.json()["rendered"]
            .as_str()
            .unwrap()
            .contains(&format!("<Station_Name>{mac}</Station_Name>")),
        "{}",
        rendered.text
    );
    sim.shutdown().await;
    app.cleanup().await;
}

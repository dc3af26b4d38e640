//! The server driven by the CPE simulator: MPP phones and TR-098 gateways register, and queued
//! requests of every kind run against their data models.

use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
use acs_core::auth::{CpeAuthMode, DigestAlgorithm};
use acs_core::cwmp::{self, Body, EventCode, EventStruct, ParameterValue, ValueType};
use acs_core::secret::Secret;
use acs_core::storage::{NewTask, TaskRow, TaskState};
use acs_tests::{TestApp, spawn_app, spawn_app_with};

async fn simulator(app: &TestApp, profile: &str, devices: usize) -> Simulator {
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        devices,
        Profile::builtin(profile).expect("profile"),
    );
    config.periodic = false;
    Simulator::start(config).await.expect("simulator")
}

async fn queue(app: &TestApp, device: &str, body: Body) -> i64 {
    let kind = body.element_name();
    app.store
        .enqueue_task(&NewTask::new(
            device,
            kind,
            serde_json::to_value(&body).unwrap(),
        ))
        .await
        .unwrap()
        .id
}

async fn task(app: &TestApp, id: i64) -> TaskRow {
    app.store.get_task(id).await.unwrap().expect("task")
}

#[tokio::test]
async fn mpp_phones_bootstrap_and_are_registered() {
    let app = spawn_app().await;
    let sim = simulator(&app, "cisco-mpp", 3).await;
    for i in 0..3 {
        let report = sim.run_session(i, vec![]).await.unwrap();
        assert!(report.succeeded(), "{report:?}");
        assert!(
            report.ended_with_204 && report.has_event("0 BOOTSTRAP") && report.has_event("1 BOOT"),
            "{report:?}"
        );
        let device = app
            .store
            .get_device(&sim.device(i).device_id())
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(device.product_class, "CP-8851-3PCC");
        assert_eq!(
            device.software_version.as_deref(),
            Some("sip88xx.12-0-2MPP-1")
        );
        assert!(device.last_bootstrap.is_some());
        assert_eq!(
            device.connection_request_url.as_deref(),
            Some(sim.device(i).cr_url())
        );
    }
    // The next session is periodic.
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.has_event("2 PERIODIC"), "{report:?}");
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn every_request_kind_runs_against_an_mpp_phone() {
    let app = spawn_app().await;
    let sim = simulator(&app, "cisco-mpp", 1).await;
    let phone = sim.device(0);
    let id = phone.device_id();
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());

    let line = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";
    let t_rpc = queue(&app, &id, Body::GetRpcMethods).await;
    let t_gpn = queue(
        &app,
        &id,
        Body::GetParameterNames(cwmp::GetParameterNames {
            parameter_path: "Device.ManagementServer.".into(),
            next_level: true,
        }),
    )
    .await;
    let t_spv = queue(
        &app,
        &id,
        Body::SetParameterValues(cwmp::SetParameterValues {
            parameter_list: vec![ParameterValue::new(
                "Device.ManagementServer.PeriodicInformInterval",
                "300",
                ValueType::UnsignedInt,
            )],
            parameter_key: "pk1".into(),
        }),
    )
    .await;
    let t_spv_bad = queue(
        &app,
        &id,
        Body::SetParameterValues(cwmp::SetParameterValues {
            parameter_list: vec![
                // Schema-valid text the phone must refuse: 9007 for the value, 9008 for the
                // read-only serial number.
                ParameterValue::string("Device.ManagementServer.PeriodicInformInterval", "often"),
                ParameterValue::string("Device.DeviceInfo.SerialNumber", "X"),
            ],
            parameter_key: "pk2".into(),
        }),
    )
    .await;
    // Not even schema-valid: the ACS refuses to send it, the task fails, the phone never sees it.
    let t_unsendable = queue(
        &app,
        &id,
        Body::SetParameterValues(cwmp::SetParameterValues {
            parameter_list: vec![ParameterValue::new(
                "Device.ManagementServer.PeriodicInformInterval",
                "often",
                ValueType::UnsignedInt,
            )],
            parameter_key: "pk2b".into(),
        }),
    )
    .await;
    let t_gpv = queue(
        &app,
        &id,
        Body::GetParameterValues(cwmp::GetParameterValues {
            parameter_names: vec!["Device.ManagementServer.".into()],
        }),
    )
    .await;
    let t_spa = queue(
        &app,
        &id,
        Body::SetParameterAttributes(cwmp::SetParameterAttributes {
            parameter_list: vec![cwmp::SetParameterAttributesStruct {
                name: "Device.DeviceInfo.SoftwareVersion".into(),
                notification_change: true,
                notification: 2,
                access_list_change: false,
                access_list: vec![],
            }],
        }),
    )
    .await;
    let t_gpa = queue(
        &app,
        &id,
        Body::GetParameterAttributes(cwmp::GetParameterAttributes {
            parameter_names: vec!["Device.DeviceInfo.SoftwareVersion".into()],
        }),
    )
    .await;
    let t_add = queue(
        &app,
        &id,
        Body::AddObject(cwmp::AddObject {
            object_name: line.into(),
            parameter_key: "pk3".into(),
        }),
    )
    .await;

    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(
        report.rpcs_received,
        [
            "GetRPCMethods",
            "GetParameterNames",
            "SetParameterValues",
            "SetParameterValues",
            "GetParameterValues",
            "SetParameterAttributes",
            "GetParameterAttributes",
            "AddObject"
        ],
        "one request at a time, in queue order"
    );
    for t in [t_rpc, t_gpn, t_spv, t_gpv, t_spa, t_gpa, t_add] {
        assert_eq!(task(&app, t).await.state, TaskState::Done, "task {t}");
    }
    let bad = task(&app, t_spv_bad).await;
    assert_eq!((bad.state, bad.fault_code), (TaskState::Fault, Some(9003)));
    let unsendable = task(&app, t_unsendable).await;
    assert_eq!(
        (unsendable.state, unsendable.fault_code, unsendable.attempts),
        (TaskState::Fault, Some(8003), 0)
    );
    assert!(
        unsendable
            .fault_string
            .unwrap_or_default()
            .contains("unsignedInt")
    );
    let detail = bad.fault_detail.expect("per-parameter detail").to_string();
    assert!(
        detail.contains("9007") && detail.contains("9008"),
        "{detail}"
    );
    assert_eq!(
        phone
            .value("Device.ManagementServer.PeriodicInformInterval")
            .as_deref(),
        Some("300")
    );
    let stored = app
        .store
        .get_parameters(&id, Some("Device.ManagementServer.PeriodicInformInterval"))
        .await
        .unwrap();
    assert_eq!(
        stored[0].value, "300",
        "GetParameterValues refreshed the stored copy"
    );
    // Delete the new line, then reboot: the phone comes back with 1 BOOT + M Reboot.
    let Some(acs_core::tasks::Response::AddObject {
        instance_number: instance,
        ..
    }) = task(&app, t_add).await.result.expect("result").response
    else {
        panic!("an AddObject answers with its instance");
    };
    let t_del = queue(
        &app,
        &id,
        Body::DeleteObject(cwmp::DeleteObject {
            object_name: format!("{line}{instance}."),
            parameter_key: "pk4".into(),
        }),
    )
    .await;
    let t_reboot = queue(
        &app,
        &id,
        Body::Reboot(cwmp::Reboot {
            command_key: "reboot-7".into(),
        }),
    )
    .await;
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(report.rpcs_received, ["DeleteObject", "Reboot"]);
    assert_eq!(task(&app, t_del).await.state, TaskState::Done);
    assert_eq!(task(&app, t_reboot).await.state, TaskState::Done);
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(
        report.has_event("1 BOOT") && report.event_key("M Reboot") == Some("reboot-7"),
        "{report:?}"
    );

    // Factory reset: the phone comes back with 0 BOOTSTRAP.
    let t_reset = queue(&app, &id, Body::FactoryReset).await;
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    assert_eq!(task(&app, t_reset).await.state, TaskState::Done);
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.has_event("0 BOOTSTRAP"), "{report:?}");

    // A method the phone does not implement comes back as fault 9000.
    let t_upload = queue(
        &app,
        &id,
        Body::Upload(cwmp::Upload {
            command_key: "u".into(),
            file_type: "2 Vendor Log File".into(),
            url: "http://127.0.0.1:9/".into(),
            username: String::new(),
            password: Default::default(),
            delay_seconds: 0,
        }),
    )
    .await;
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    assert_eq!(task(&app, t_upload).await.fault_code, Some(9000));
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_gateway_schedules_an_inform() {
    let app = spawn_app().await;
    let sim = simulator(&app, "tr098-gateway", 1).await;
    let id = sim.device(0).device_id();
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    let device = app.store.get_device(&id).await.unwrap().unwrap();
    assert!(
        device.cwmp_version.contains("cwmp-1-"),
        "{}",
        device.cwmp_version
    );
    let t = queue(
        &app,
        &id,
        Body::ScheduleInform(cwmp::ScheduleInform {
            delay_seconds: 5,
            command_key: "si-1".into(),
        }),
    )
    .await;
    let t_gpv = queue(
        &app,
        &id,
        Body::GetParameterValues(cwmp::GetParameterValues {
            parameter_names: vec!["InternetGatewayDevice.DeviceInfo.".into()],
        }),
    )
    .await;
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    assert_eq!(task(&app, t).await.state, TaskState::Done);
    assert_eq!(task(&app, t_gpv).await.state, TaskState::Done);
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(
        report.has_event("3 SCHEDULED") && report.event_key("M ScheduleInform") == Some("si-1"),
        "{report:?}"
    );
    let params = app
        .store
        .get_parameters(&id, Some("InternetGatewayDevice.DeviceInfo."))
        .await
        .unwrap();
    assert!(params.len() > 5, "{}", params.len());
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn simulated_phones_authenticate_with_digest() {
    let app = spawn_app_with(|c| {
        c.cpe_auth.mode = Some(CpeAuthMode::Digest);
        c.cpe_auth.digest_algorithms = vec![DigestAlgorithm::Md5];
        c.cpe_auth.username = Some("phones".into());
        c.cpe_auth.password = Some(Secret::new("pa55"));
    })
    .await;
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        2,
        Profile::builtin("cisco-mpp").unwrap(),
    );
    config.periodic = false;
    config.username = Some("phones".into());
    config.password = Some("pa55".into());
    let sim = Simulator::start(config).await.unwrap();
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(
        report.http_statuses.first(),
        Some(&401),
        "challenged first: {report:?}"
    );
    sim.shutdown().await;
    // Wrong password: the session fails and nothing is registered.
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        1,
        Profile::builtin("cisco-mpp").unwrap(),
    );
    config.periodic = false;
    config.serial_prefix = Some("BAD".into());
    config.username = Some("phones".into());
    config.password = Some("nope".into());
    let sim = Simulator::start(config).await.unwrap();
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(!report.succeeded(), "{report:?}");
    assert!(
        app.store
            .get_device(&sim.device(0).device_id())
            .await
            .unwrap()
            .is_none()
    );
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_fleet_registers_concurrently() {
    let app = spawn_app().await;
    let n = 200;
    let sim = simulator(&app, "cisco-mpp", n).await;
    let sessions = (0..n).map(|i| sim.run_session(i, vec![EventStruct::new(EventCode::Bootstrap)]));
    let reports = futures::future::join_all(sessions).await;
    for r in &reports {
        let r = r.as_ref().expect("session");
        assert!(r.succeeded(), "{r:?}");
    }
    assert_eq!(app.store.count_devices().await.unwrap(), n as u64);
    assert_eq!(app.state.registry.len(), 0);
    sim.shutdown().await;
    app.cleanup().await;
}

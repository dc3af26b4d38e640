//! Task definitions through the engine: multi-step refresh, confirmation by later Informs,
//! retries of faults worth retrying.

use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
use acs_core::cwmp::{self, Body, Envelope, EventCode};
use acs_core::storage::TaskState;
use acs_core::tasks::TaskSpec;
use acs_tests::{RawCpe, TestApp, device_key, inform, spawn_app};

async fn queue(app: &TestApp, device: &str, spec: TaskSpec) -> i64 {
    acs_tests::queue_task(app, device, spec).await
}

#[tokio::test]
async fn refresh_reboot_and_factory_reset_on_a_simulated_phone() {
    let app = spawn_app().await;
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        1,
        Profile::builtin("cisco-mpp").unwrap(),
    );
    config.periodic = false;
    let sim = Simulator::start(config).await.unwrap();
    let id = sim.device(0).device_id();
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());

    let refresh = queue(
        &app,
        &id,
        TaskSpec::Refresh {
            path: "Device.Services.".into(),
        },
    )
    .await;
    let reboot = queue(&app, &id, TaskSpec::Reboot {}).await;
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(
        report.rpcs_received,
        // The refresh read the lines: their states are watched from now on.
        [
            "GetParameterNames",
            "GetParameterValues",
            "Reboot",
            "SetParameterAttributes"
        ],
        "{report:?}"
    );
    let t = app.store.get_task(refresh).await.unwrap().unwrap();
    assert_eq!(
        (t.state, t.attempts),
        (TaskState::Done, 1),
        "the steps of a refresh are one attempt"
    );
    let lines = app
        .store
        .get_parameters(
            &id,
            Some("Device.Services.VoiceService.1.VoiceProfile.1.Line."),
        )
        .await
        .unwrap();
    assert!(
        lines.len() > 5,
        "the subtree's values were stored: {}",
        lines.len()
    );
    let t = app.store.get_task(reboot).await.unwrap().unwrap();
    assert_eq!(t.state, TaskState::Done, "a reboot is done on its response");
    assert!(t.result.as_ref().and_then(|r| r.confirmed_at).is_none());

    // The phone comes back: 1 BOOT + M Reboot with the task's CommandKey confirms it.
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(
        report.event_key("M Reboot"),
        Some(TaskSpec::command_key(reboot).as_str())
    );
    let t = app.store.get_task(reboot).await.unwrap().unwrap();
    assert!(
        t.result.unwrap().confirmed_at.is_some(),
        "confirmed by M Reboot"
    );

    // A factory reset is confirmed by the BOOTSTRAP that follows it.
    let reset = queue(&app, &id, TaskSpec::FactoryReset {}).await;
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    assert!(
        app.store
            .get_task(reset)
            .await
            .unwrap()
            .unwrap()
            .result
            .and_then(|r| r.confirmed_at)
            .is_none()
    );
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.has_event("0 BOOTSTRAP"));
    let t = app.store.get_task(reset).await.unwrap().unwrap();
    assert!(
        t.result.unwrap().confirmed_at.is_some(),
        "confirmed by 0 BOOTSTRAP"
    );
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn faults_worth_retrying_are_retried_then_given_up() {
    let app = spawn_app().await;
    let key = device_key("RETRY1");
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("RETRY1", &[EventCode::Bootstrap], "1"))
        .await;
    cpe.post(Vec::new()).await;
    let spec = TaskSpec::GetParameterValues {
        names: vec!["Device.DeviceInfo.".into()],
    };
    let retried = queue(&app, &key, spec.clone()).await;
    let busy = |id: Option<String>| {
        Envelope::new(
            cwmp::CwmpNamespace::for_version(cwmp::CwmpVersion::V1_2),
            id,
            Body::Fault(cwmp::SoapFault::new(cwmp::CwmpFault::new(
                cwmp::FaultCode::ResourcesExceeded,
            ))),
        )
    };
    // Three sessions, each answered 9004 (resources exceeded): queued again twice, then fault.
    for attempt in 1..=3 {
        let mut cpe = RawCpe::new(&app.cwmp_url);
        cpe.send(&inform("RETRY1", &[EventCode::Periodic], "1"))
            .await;
        let request = cpe.post(Vec::new()).await.envelope();
        assert!(
            matches!(request.body, Body::GetParameterValues(_)),
            "attempt {attempt}"
        );
        assert_eq!(cpe.send(&busy(request.header.id)).await.status, 204);
        let t = app.store.get_task(retried).await.unwrap().unwrap();
        assert_eq!(t.fault_code, Some(9004), "the fault stays on record");
        let expected = if attempt < 3 {
            TaskState::Queued
        } else {
            TaskState::Fault
        };
        assert_eq!(
            (t.state, t.attempts),
            (expected, attempt),
            "attempt {attempt}"
        );
    }
    // A fault not worth retrying ends the task at once.
    let named = queue(&app, &key, spec).await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("RETRY1", &[EventCode::Periodic], "1"))
        .await;
    let request = cpe.post(Vec::new()).await.envelope();
    let fault = Body::Fault(cwmp::SoapFault::new(cwmp::CwmpFault::new(
        cwmp::FaultCode::InvalidParameterName,
    )));
    cpe.send(&Envelope::new(
        request.namespace.clone(),
        request.header.id.clone(),
        fault,
    ))
    .await;
    let t = app.store.get_task(named).await.unwrap().unwrap();
    assert_eq!(
        (t.state, t.fault_code, t.attempts),
        (TaskState::Fault, Some(9005), 1)
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_restart_with_requests_in_flight_loses_and_repeats_nothing() {
    let app = spawn_app().await;
    let ns = cwmp::CwmpNamespace::for_version(cwmp::CwmpVersion::V1_2);
    for serial in ["CRASH1", "CRASH2", "CRASH3"] {
        let mut cpe = RawCpe::new(&app.cwmp_url);
        cpe.send(&inform(serial, &[EventCode::Bootstrap], "1"))
            .await;
        cpe.post(Vec::new()).await;
    }
    let reboot = queue(&app, &device_key("CRASH1"), TaskSpec::Reboot {}).await;
    let set = queue(
        &app,
        &device_key("CRASH2"),
        TaskSpec::SetParameterValues {
            values: vec![cwmp::ParameterValue::string("Device.X_Test.Name", "new")],
        },
    )
    .await;
    let read = queue(
        &app,
        &device_key("CRASH3"),
        TaskSpec::GetParameterValues {
            names: vec!["Device.DeviceInfo.".into()],
        },
    )
    .await;
    // Each device receives its request; the ACS goes down before any answer arrives.
    for serial in ["CRASH1", "CRASH2", "CRASH3"] {
        let mut cpe = RawCpe::new(&app.cwmp_url);
        cpe.send(&inform(serial, &[EventCode::Periodic], "1")).await;
        let request = cpe.post(Vec::new()).await.envelope();
        assert!(
            !matches!(request.body, Body::Fault(_)),
            "{serial}: {:?}",
            request.body
        );
    }
    for id in [reboot, set, read] {
        assert_eq!(
            app.store.get_task(id).await.unwrap().unwrap().state,
            TaskState::Sent
        );
    }
    let (store, db) = app.stop().await;

    // A new ACS on the same database.
    let app = acs_tests::start(&acs_tests::test_settings(), store, db).await;
    assert_eq!(app.state.load_orphans().await.unwrap(), 3);

    // CRASH1 rebooted: its Inform carries M Reboot with the task's key. Done, not resent.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let mut env = inform("CRASH1", &[EventCode::Boot], "2");
    if let Body::Inform(i) = &mut env.body {
        i.event.push(cwmp::EventStruct::with_key(
            EventCode::m_reboot(),
            TaskSpec::command_key(reboot),
        ));
    }
    cpe.send(&env).await;
    assert_eq!(
        cpe.post(Vec::new()).await.status,
        204,
        "the reboot is not sent twice"
    );
    let t = app.store.get_task(reboot).await.unwrap().unwrap();
    assert_eq!(t.state, TaskState::Done);
    assert!(t.result.unwrap().recovered.unwrap().contains("M Reboot"));

    // CRASH2 applied the write: its ParameterKey is the task's key. Done, not resent.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let mut env = inform("CRASH2", &[EventCode::Periodic], "2");
    if let Body::Inform(i) = &mut env.body {
        for p in &mut i.parameter_list {
            if p.name == "Device.ManagementServer.ParameterKey" {
                p.value = TaskSpec::command_key(set);
            }
        }
    }
    cpe.send(&env).await;
    assert_eq!(
        cpe.post(Vec::new()).await.status,
        204,
        "the write is not sent twice"
    );
    assert_eq!(
        app.store.get_task(set).await.unwrap().unwrap().state,
        TaskState::Done
    );

    // CRASH3's read left no trace: it is sent again and completes.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("CRASH3", &[EventCode::Periodic], "2"))
        .await;
    let again = cpe.post(Vec::new()).await.envelope();
    assert!(matches!(again.body, Body::GetParameterValues(_)));
    let answer = Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
        parameter_list: vec![],
    });
    assert_eq!(
        cpe.send(&Envelope::new(ns, again.header.id.clone(), answer))
            .await
            .status,
        204
    );
    let t = app.store.get_task(read).await.unwrap().unwrap();
    assert_eq!((t.state, t.attempts), (TaskState::Done, 2));
    app.cleanup().await;
}

#[tokio::test]
async fn a_bootstrapping_phone_gets_connection_request_credentials() {
    let app =
        acs_tests::spawn_app_with(|c| c.cwmp.provision_connection_request_credentials = true).await;
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        1,
        Profile::builtin("cisco-mpp").unwrap(),
    );
    config.periodic = false;
    let sim = Simulator::start(config).await.unwrap();
    let phone = sim.device(0);
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(report.rpcs_received, ["SetParameterValues"], "{report:?}");
    let device = app
        .store
        .get_device(&phone.device_id())
        .await
        .unwrap()
        .unwrap();
    let username = device
        .connection_request_username
        .expect("stored once applied");
    // Stored sealed; opened with the server's key it is what the phone holds.
    let sealed = device
        .connection_request_password
        .expect("stored once applied");
    assert!(acs_core::vault::is_sealed(sealed.expose()));
    let password = app.store.open_secret(&sealed).unwrap();
    assert_eq!(
        phone
            .value("Device.ManagementServer.ConnectionRequestUsername")
            .as_deref(),
        Some(username.as_str())
    );
    assert_eq!(
        phone
            .value("Device.ManagementServer.ConnectionRequestPassword")
            .as_deref(),
        Some(password.expose())
    );
    assert!(password.expose().len() >= 24);
    // A periodic session changes nothing; a new BOOTSTRAP (factory reset) gets new ones.
    assert!(
        sim.run_session(0, vec![])
            .await
            .unwrap()
            .rpcs_received
            .is_empty()
    );
    let id = phone.device_id();
    queue(&app, &id, TaskSpec::FactoryReset {}).await;
    sim.run_session(0, vec![]).await.unwrap();
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(
        report.has_event("0 BOOTSTRAP") && report.rpcs_received == ["SetParameterValues"],
        "{report:?}"
    );
    let again = app.store.get_device(&id).await.unwrap().unwrap();
    assert_ne!(
        app.store
            .open_secret(&again.connection_request_password.unwrap())
            .unwrap()
            .expose(),
        password.expose()
    );
    sim.shutdown().await;
    app.cleanup().await;
}

/// A file server for the test: one file at `/{name}`, 404 for anything else.
async fn file_server(name: &'static str, content: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let content = content.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let response = if path == format!("/{name}") {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        content.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(&content);
                    r
                } else {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                };
                let _ = socket.write_all(&response).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_firmware_download_ends_in_its_transfer_complete() {
    let app = spawn_app().await;
    let files = file_server("sip88xx.12-0-3MPP-5.loads", vec![7u8; 4096]).await;
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        2,
        Profile::builtin("cisco-mpp").unwrap(),
    );
    config.periodic = false;
    let sim = Simulator::start(config).await.unwrap();
    for i in 0..2 {
        assert!(sim.run_session(i, vec![]).await.unwrap().succeeded());
    }
    let download = |url: String| TaskSpec::Download {
        file_type: "1 Firmware Upgrade Image".into(),
        url,
        file_id: None,
        vars_file_id: None,
        username: String::new(),
        password: Default::default(),
        file_size: 4096,
        target_file_name: "sip88xx.12-0-3MPP-5.loads".into(),
        delay_seconds: 0,
    };
    let good = queue(
        &app,
        &sim.device(0).device_id(),
        download(format!("{files}/sip88xx.12-0-3MPP-5.loads")),
    )
    .await;
    let bad = queue(
        &app,
        &sim.device(1).device_id(),
        download(format!("{files}/missing.loads")),
    )
    .await;
    for i in 0..2 {
        let report = sim.run_session(i, vec![]).await.unwrap();
        assert_eq!(report.rpcs_received, ["Download"], "{report:?}");
    }
    // The Download is done on its response; the outcome arrives with the TransferComplete in
    // the phone's next session (after the reboot into the new image for the good one).
    for (i, task) in [(0, good), (1, bad)] {
        let t = app.store.get_task(task).await.unwrap().unwrap();
        assert_eq!(t.state, TaskState::Done);
        assert!(t.result.unwrap().transfer_complete.is_none());
        let report = sim.run_session(i, vec![]).await.unwrap();
        assert!(report.has_event("7 TRANSFER COMPLETE"), "{report:?}");
        assert_eq!(
            report.event_key("M Download"),
            Some(TaskSpec::command_key(task).as_str())
        );
        assert_eq!(
            report.transfer_completes_acknowledged.len(),
            1,
            "{report:?}"
        );
    }
    let ok = app
        .store
        .get_task(good)
        .await
        .unwrap()
        .unwrap()
        .result
        .unwrap();
    assert_eq!(ok.transfer_complete.unwrap().fault_code, 0);
    assert!(ok.confirmed_at.is_some());
    let device = app
        .store
        .get_device(&sim.device(0).device_id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        device.software_version.as_deref(),
        Some("sip88xx.12-0-3MPP-5"),
        "the new image reports its version"
    );
    let failed = app
        .store
        .get_task(bad)
        .await
        .unwrap()
        .unwrap()
        .result
        .unwrap();
    let transfer = failed.transfer_complete.clone().unwrap();
    assert!((9010..=9020).contains(&transfer.fault_code), "{failed:?}");
    assert!(failed.confirmed_at.is_none());
    assert!(transfer.meaning.contains("transfer"), "{failed:?}");
    sim.shutdown().await;
    app.cleanup().await;
}

/// `[cwmp] hold_requests` reaches the session: with work queued the InformResponse carries
/// HoldRequests (TR-069 §3.7.1.4); without the setting, or without work, it does not.
#[tokio::test]
async fn hold_requests_is_a_setting_that_reaches_the_inform_response() {
    for hold in [false, true] {
        let app = acs_tests::spawn_app_with(|s| s.cwmp.hold_requests = hold).await;
        let serial = if hold { "HOLD1" } else { "HOLD0" };
        // First contact without work: never held.
        let mut cpe = RawCpe::new(&app.cwmp_url);
        let body = cwmp::encode(&inform(serial, &[EventCode::Bootstrap], "1")).unwrap();
        let reply = cpe.post(body).await.envelope();
        assert_eq!(reply.header.hold_requests, None);
        assert_eq!(cpe.post(Vec::new()).await.status, 204);
        // With a task queued, the next session is held only when the setting says so.
        queue(&app, &device_key(serial), TaskSpec::Reboot {}).await;
        let mut cpe = RawCpe::new(&app.cwmp_url);
        let body = cwmp::encode(&inform(serial, &[EventCode::Periodic], "2")).unwrap();
        let reply = cpe.post(body).await.envelope();
        assert!(matches!(reply.body, Body::InformResponse(_)), "{reply:?}");
        assert_eq!(
            reply.header.hold_requests,
            hold.then_some(true),
            "hold {hold}"
        );
        app.cleanup().await;
    }
}

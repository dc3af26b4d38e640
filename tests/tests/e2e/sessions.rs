//! CWMP sessions over real HTTP: InformResponses for quirky devices, the queue, session
//! affinity, concurrency and expiry.

use acs_core::cwmp::{self, Body, CwmpNamespace, Envelope, EventCode};
use acs_core::storage::{NewTask, TaskState};
use acs_tests::{RawCpe, device_key, inform, spawn_app};
use std::path::Path;
use std::time::{Duration, Instant};

fn sample(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/cwmp/samples")
            .join(rel),
    )
    .expect("sample")
}

#[tokio::test]
async fn every_sample_inform_gets_a_correct_inform_response() {
    let app = spawn_app().await;
    let informs = [
        "easycwmp/inform_0_bootstrap_1_boot_cwmp12.xml",
        "easycwmp/inform_6_connection_request.xml",
        "genieacs-sim/inform_2_periodic.xml",
        "genieacs-sim/inform_6_connection_request.xml",
        "handmade/inform_cwmp12_bootstrap.xml",
        "orange-tr069agent/inform_0_bootstrap_1_boot.xml",
        "real/cwmp_ex__motorola_vap2404e_periodic.xml",
        "real/cwmp_ex__sagemcom_router_periodic.xml",
        "real/cwmp_ex__zyxel_p2601hn-f1_periodic.xml",
        "real/cwmp_ex__zyxel_vmg8924-b10a_connreq.xml",
        "simulatr69/inform_0_bootstrap_tr098.xml",
        "simulatr69/inform_0_bootstrap_tr181_tplink_ex220.xml",
        "simulatr69/inform_1_boot_after_reboot.xml",
        "simulatr69/inform_6_connection_request_tr181.xml",
        "simulatr69/inform_7_transfer_complete.xml",
    ];
    for rel in informs {
        let bytes = sample(rel);
        let sent = cwmp::decode(&bytes).expect("sample decodes");
        let Body::Inform(sent_inform) = &sent.body else {
            panic!("{rel} is not an Inform")
        };
        let mut cpe = RawCpe::new(&app.cwmp_url);
        let reply = cpe.post(bytes.clone()).await;
        assert_eq!(reply.status, 200, "{rel}: {}", reply.text);
        assert!(reply.session_cookie().is_some(), "{rel}: no session cookie");
        let env = reply.envelope();
        assert_eq!(env.namespace, sent.namespace, "{rel}: namespace echoed");
        assert_eq!(env.header.id, sent.header.id, "{rel}: cwmp:ID echoed");
        assert_eq!(
            env.body,
            Body::InformResponse(cwmp::InformResponse { max_envelopes: 1 }),
            "{rel}"
        );
        assert!(
            reply
                .text
                .contains(&format!("xmlns:cwmp=\"{}\"", sent.namespace)),
            "{rel}"
        );
        // The empty POST ends the session: nothing is queued.
        let end = cpe.post(Vec::new()).await;
        assert_eq!(end.status, 204, "{rel}: {}", end.text);
        let device = app
            .store
            .get_device(&sent_inform.device_id.device_key())
            .await
            .unwrap()
            .expect("device stored");
        assert_eq!(
            device.serial_number, sent_inform.device_id.serial_number,
            "{rel}"
        );
        assert_eq!(
            device.oui_normalized,
            sent_inform.device_id.normalized_oui(),
            "{rel}"
        );
        assert_eq!(device.cwmp_version, sent.namespace.as_str(), "{rel}");
        let params = app.store.get_parameters(&device.id, None).await.unwrap();
        assert!(!params.is_empty(), "{rel}: parameters stored");
    }
    assert_eq!(app.state.registry.len(), 0, "all sessions closed");
    app.cleanup().await;
}

#[tokio::test]
async fn queued_requests_are_sent_one_at_a_time_and_results_stored() {
    let app = spawn_app().await;
    let serial = "Q1";
    let key = device_key(serial);
    let mut cpe = RawCpe::new(&app.cwmp_url);
    // First contact registers the device.
    assert_eq!(
        cpe.send(&inform(
            serial,
            &[EventCode::Bootstrap, EventCode::Boot],
            "1"
        ))
        .await
        .status,
        200
    );
    assert_eq!(cpe.post(Vec::new()).await.status, 204);

    let gpv = Body::GetParameterValues(cwmp::GetParameterValues {
        parameter_names: vec!["Device.DeviceInfo.".into()],
    });
    let reboot = Body::Reboot(cwmp::Reboot {
        command_key: "r1".into(),
    });
    let t1 = app
        .store
        .enqueue_task(&NewTask::new(
            &key,
            "GetParameterValues",
            serde_json::to_value(&gpv).unwrap(),
        ))
        .await
        .unwrap();
    let t2 = app
        .store
        .enqueue_task(&NewTask::new(
            &key,
            "Reboot",
            serde_json::to_value(&reboot).unwrap(),
        ))
        .await
        .unwrap();

    let mut cpe = RawCpe::new(&app.cwmp_url);
    let ns = CwmpNamespace::for_version(cwmp::CwmpVersion::V1_2);
    assert_eq!(
        cpe.send(&inform(serial, &[EventCode::Periodic], "2"))
            .await
            .status,
        200
    );
    let first = cpe.post(Vec::new()).await.envelope();
    assert_eq!(first.body, gpv);
    let id = first.header.id.clone().expect("request carries cwmp:ID");
    assert_eq!(
        app.store.get_task(t1.id).await.unwrap().unwrap().state,
        TaskState::Sent,
        "stored as sent before the request went out"
    );

    let answer = Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
        parameter_list: vec![cwmp::ParameterValue::string(
            "Device.DeviceInfo.SoftwareVersion",
            "sip88xx.12-0-3MPP-5",
        )],
    });
    let second = cpe
        .send(&Envelope::new(ns.clone(), Some(id), answer))
        .await
        .envelope();
    assert_eq!(second.body, reboot);
    let done = app.store.get_task(t1.id).await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Done);
    let params = app
        .store
        .get_parameters(&key, Some("Device.DeviceInfo.SoftwareVersion"))
        .await
        .unwrap();
    assert_eq!(
        params[0].value, "sip88xx.12-0-3MPP-5",
        "GetParameterValues updates stored parameters"
    );

    let fault = cwmp::SoapFault::new(cwmp::CwmpFault::new(cwmp::FaultCode::RequestDenied));
    let end = cpe
        .send(&Envelope::new(
            ns,
            second.header.id.clone(),
            Body::Fault(fault),
        ))
        .await;
    assert_eq!(end.status, 204);
    let faulted = app.store.get_task(t2.id).await.unwrap().unwrap();
    assert_eq!(faulted.state, TaskState::Fault);
    assert_eq!(faulted.fault_code, Some(9001));
    app.cleanup().await;
}

#[tokio::test]
async fn a_session_survives_a_new_tcp_connection() {
    let app = spawn_app().await;
    let key = device_key("TCP1");
    let mut first = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        first
            .send(&inform("TCP1", &[EventCode::Bootstrap], "1"))
            .await
            .status,
        200
    );
    let gpv = Body::GetParameterValues(cwmp::GetParameterValues {
        parameter_names: vec!["Device.".into()],
    });
    let task = app
        .store
        .enqueue_task(&NewTask::new(
            &key,
            "GetParameterValues",
            serde_json::to_value(&gpv).unwrap(),
        ))
        .await
        .unwrap();

    // Same cookie, brand-new client and therefore a new TCP connection.
    let mut second = RawCpe::new(&app.cwmp_url);
    second.cookie = first.cookie.clone();
    let request = second.post(Vec::new()).await.envelope();
    assert_eq!(request.body, gpv);
    let answer = Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
        parameter_list: vec![],
    });
    let mut third = RawCpe::new(&app.cwmp_url);
    third.cookie = first.cookie.clone();
    let end = third
        .send(&Envelope::new(
            request.namespace.clone(),
            request.header.id.clone(),
            answer,
        ))
        .await;
    assert_eq!(end.status, 204);
    assert_eq!(
        app.store.get_task(task.id).await.unwrap().unwrap().state,
        TaskState::Done
    );

    // Without a cookie the session is found by its TCP connection.
    let mut nocookie = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        nocookie
            .send(&inform("TCP1", &[EventCode::Periodic], "2"))
            .await
            .status,
        200
    );
    assert_eq!(app.state.registry.len(), 1);
    nocookie.cookie = None;
    assert_eq!(nocookie.post(Vec::new()).await.status, 204);
    assert_eq!(
        app.state.registry.len(),
        0,
        "the cookieless empty POST ended the session"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn two_concurrent_sessions_for_one_device() {
    let app = spawn_app().await;
    let key = device_key("DUP1");
    let mut a = RawCpe::new(&app.cwmp_url);
    let mut b = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        a.send(&inform("DUP1", &[EventCode::Bootstrap], "1"))
            .await
            .status,
        200
    );
    let gpv = Body::GetParameterValues(cwmp::GetParameterValues {
        parameter_names: vec!["Device.".into()],
    });
    let task = app
        .store
        .enqueue_task(&NewTask::new(
            &key,
            "GetParameterValues",
            serde_json::to_value(&gpv).unwrap(),
        ))
        .await
        .unwrap();
    // Session A takes the task...
    let request = a.post(Vec::new()).await.envelope();
    assert_eq!(request.body, gpv);
    // ...then the device opens session B (it gave up on A): B supersedes A and the task is
    // requeued, not lost and not duplicated.
    assert_eq!(
        b.send(&inform("DUP1", &[EventCode::Periodic], "2"))
            .await
            .status,
        200
    );
    assert_eq!(app.state.registry.len(), 1, "one session per device");
    let t = app.store.get_task(task.id).await.unwrap().unwrap();
    assert_eq!(t.state, TaskState::Queued, "outstanding task requeued");
    // A's late answer finds no session: it is refused, and does not complete the task.
    let answer = Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
        parameter_list: vec![],
    });
    let late = a
        .send(&Envelope::new(
            request.namespace.clone(),
            request.header.id.clone(),
            answer.clone(),
        ))
        .await;
    assert_eq!(late.status, 400, "{}", late.text);
    // B gets the task and completes it.
    let again = b.post(Vec::new()).await.envelope();
    assert_eq!(again.body, gpv);
    assert_ne!(again.header.id, request.header.id, "a fresh cwmp:ID");
    assert_eq!(
        b.send(&Envelope::new(
            again.namespace.clone(),
            again.header.id.clone(),
            answer
        ))
        .await
        .status,
        204
    );
    let t = app.store.get_task(task.id).await.unwrap().unwrap();
    assert_eq!((t.state, t.attempts), (TaskState::Done, 2));
    app.cleanup().await;
}

#[tokio::test]
async fn a_cpe_that_stops_answering_frees_its_session() {
    let app = spawn_app().await;
    let key = device_key("GONE1");
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform("GONE1", &[EventCode::Bootstrap], "1"))
            .await
            .status,
        200
    );
    let gpv = Body::GetParameterValues(cwmp::GetParameterValues {
        parameter_names: vec!["Device.".into()],
    });
    let task = app
        .store
        .enqueue_task(&NewTask::new(
            &key,
            "GetParameterValues",
            serde_json::to_value(&gpv).unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(cpe.post(Vec::new()).await.envelope().body, gpv);
    assert_eq!(app.state.registry.len(), 1);
    // Time is passed in explicitly: nothing here depends on how fast the machine is.
    let now = Instant::now();
    assert_eq!(
        acs_http::cwmp::expire_idle(&app.state, now).await,
        0,
        "not idle yet"
    );
    let later = now + app.state.config.session_timeout + Duration::from_secs(1);
    assert_eq!(acs_http::cwmp::expire_idle(&app.state, later).await, 1);
    assert_eq!(app.state.registry.len(), 0);
    assert_eq!(
        app.store.get_task(task.id).await.unwrap().unwrap().state,
        TaskState::Queued,
        "its task goes back to the queue"
    );
    // The device's next session starts cleanly.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform("GONE1", &[EventCode::Periodic], "2"))
            .await
            .status,
        200
    );
    assert_eq!(cpe.post(Vec::new()).await.envelope().body, gpv);
    app.cleanup().await;
}

#[tokio::test]
async fn protocol_breaches_get_clear_answers() {
    let app = spawn_app().await;
    let ns = CwmpNamespace::for_version(cwmp::CwmpVersion::V1_2);
    // Not an Inform first: a SOAP fault, no session.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let reply = cpe
        .send(&Envelope::new(
            ns.clone(),
            Some("1".into()),
            Body::GetRpcMethods,
        ))
        .await;
    assert_eq!(reply.status, 200);
    let Body::Fault(f) = reply.envelope().body else {
        panic!("{}", reply.text)
    };
    assert_eq!(f.detail.fault_code, cwmp::FaultCode::AcsRequestDenied);
    assert_eq!(app.state.registry.len(), 0);
    // Garbage: 400 with a message naming the place.
    let reply = cpe
        .post(b"<soap:Envelope><oops></soap:Envelope>".to_vec())
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.text.contains("line 1"), "{}", reply.text);
    // A DTD is refused, never expanded.
    let reply = cpe
        .post(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>".to_vec())
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.text.contains("DOCTYPE"), "{}", reply.text);
    // A method the ACS does not implement, inside a session: fault 8000, session closed.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform("BAD1", &[EventCode::Bootstrap], "1"))
            .await
            .status,
        200
    );
    let reply = cpe
        .send(&Envelope::new(
            ns.clone(),
            Some("2".into()),
            Body::FactoryReset,
        ))
        .await;
    let Body::Fault(f) = reply.envelope().body else {
        panic!("{}", reply.text)
    };
    assert_eq!(f.detail.fault_code, cwmp::FaultCode::AcsMethodNotSupported);
    assert_eq!(
        app.state.registry.len(),
        0,
        "session closed after the breach"
    );
    // A CPE request inside a session is answered (TransferComplete → response, with its ID).
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform(
            "TC1",
            &[EventCode::TransferComplete, EventCode::m_download()],
            "1"
        ))
        .await
        .status,
        200
    );
    let tc = Body::TransferComplete(cwmp::TransferComplete {
        command_key: "fw1".into(),
        fault_struct: cwmp::TransferFault::success(),
        start_time: cwmp::CwmpDateTime::unknown(),
        complete_time: cwmp::CwmpDateTime::unknown(),
    });
    let reply = cpe
        .send(&Envelope::new(ns, Some("tc-9".into()), tc))
        .await
        .envelope();
    assert_eq!(reply.body, Body::TransferCompleteResponse);
    assert_eq!(reply.header.id.as_deref(), Some("tc-9"));
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    let events = app.store.list_events(&device_key("TC1"), 10).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.event_code.contains("TransferComplete")
                && e.command_key.as_deref() == Some("fw1")),
        "{events:?}"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn health_and_metrics() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", app.nbi_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform(
        "MET1",
        &[EventCode::Bootstrap, EventCode::Boot],
        "1",
    ))
    .await;
    cpe.post(Vec::new()).await;
    let text = client
        .get(format!("{}/metrics", app.nbi_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "acs_sessions_started_total",
        "acs_sessions_completed_total",
        "acs_informs_total{event=\"0 BOOTSTRAP\"}",
        "acs_sessions_active",
    ] {
        assert!(text.contains(series), "{series} missing from\n{text}");
    }
    app.cleanup().await;
}

/// A proxy in front of the ACS may carry several CPEs over one pooled connection. An Inform
/// from another device that finds a live session only through the connection must not end that
/// session: found at scale (95 of 100,000 bootstraps answered 400 through a pooled client).
#[tokio::test]
async fn another_device_on_the_same_connection_does_not_end_a_session() {
    let app = spawn_app().await;
    let mut a = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        a.send(&inform("POOL-A", &[EventCode::Boot], "1"))
            .await
            .status,
        200
    );
    assert_eq!(a.post(Vec::new()).await.status, 204);
    let gpv = Body::GetParameterValues(cwmp::GetParameterValues {
        parameter_names: vec!["Device.DeviceInfo.SoftwareVersion".into()],
    });
    let task = app
        .store
        .enqueue_task(&NewTask::new(
            &device_key("POOL-A"),
            "GetParameterValues",
            serde_json::to_value(&gpv).unwrap(),
        ))
        .await
        .unwrap();

    // A's session is waiting for its answer to the GetParameterValues …
    let mut a = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        a.send(&inform("POOL-A", &[EventCode::Periodic], "2"))
            .await
            .status,
        200
    );
    let request = a.post(Vec::new()).await;
    assert_eq!(request.status, 200);
    let id = request.envelope().header.id.expect("cwmp:ID");
    // … when B, without a cookie, informs over the same connection.
    let mut b = a.sharing();
    let reply = b.send(&inform("POOL-B", &[EventCode::Boot], "3")).await;
    assert_eq!(reply.status, 200);
    assert!(matches!(reply.envelope().body, Body::InformResponse(_)));
    // A's answer is still taken.
    let answer = Envelope::new(
        CwmpNamespace::for_version(cwmp::CwmpVersion::V1_2),
        Some(id),
        Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
            parameter_list: vec![cwmp::ParameterValue::string(
                "Device.DeviceInfo.SoftwareVersion",
                "1.2.3",
            )],
        }),
    );
    assert_eq!(a.send(&answer).await.status, 204);
    assert_eq!(
        app.store.get_task(task.id).await.unwrap().unwrap().state,
        TaskState::Done
    );
    assert_eq!(b.post(Vec::new()).await.status, 204);
    app.cleanup().await;
}

#[tokio::test]
async fn characters_xml_forbids_get_fault_8003_and_store_nothing() {
    let app = spawn_app().await;
    let serial = "NUL1";
    let key = device_key(serial);
    let clean = cwmp::encode(&inform(serial, &[EventCode::Bootstrap], "77")).unwrap();
    assert!(clean.contains("sip88xx.12-0-2MPP-1"));
    for bad in ["\u{0}", "&#0;", "&#x1;", "\u{1b}", "&#xFFFE;"] {
        let body = clean.replace("sip88xx.12-0-2MPP-1", &format!("sip{bad}88xx"));
        let mut cpe = RawCpe::new(&app.cwmp_url);
        let reply = cpe.post(body).await;
        assert_eq!(reply.status, 200, "{bad:?}: {}", reply.text);
        let env = reply.envelope();
        assert_eq!(env.namespace.as_str(), "urn:dslforum-org:cwmp-1-2");
        let Body::Fault(fault) = env.body else {
            panic!("{bad:?}: {:?}", env.body)
        };
        assert_eq!(fault.detail.fault_code.code(), 8003, "{bad:?}");
        assert!(
            app.store.get_device(&key).await.unwrap().is_none(),
            "{bad:?}: nothing is stored"
        );
    }
    // The same device then registers normally, with its real value.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let reply = cpe.post(clean.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(matches!(reply.envelope().body, Body::InformResponse(_)));
    let device = app.store.get_device(&key).await.unwrap().expect("stored");
    assert_eq!(device.serial_number, serial);
    assert_eq!(
        device.software_version.as_deref(),
        Some("sip88xx.12-0-2MPP-1")
    );
    app.cleanup().await;
}

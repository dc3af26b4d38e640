//! The stored state never lies (issue 11): a transfer that faulted ends its task in `fault`, a
//! refresh is one attempt and its GetParameterValues fault is the task's, and the outcome of a
//! connection request is kept with the task it was made for.

use std::time::{Duration, Instant};

use acs_core::cwmp::{
    self, Body, CwmpDateTime, Envelope, EventCode, FaultCode, TransferComplete, TransferFault,
    TransferResponse,
};
use acs_core::storage::{Role, TaskState};
use acs_core::tasks::TaskSpec;
use acs_tests::{Api, RawCpe, TestApp, api_token, device_key, enc, inform, spawn_app};
use serde_json::{Value, json};

async fn queue(app: &TestApp, device: &str, spec: TaskSpec) -> i64 {
    acs_tests::queue_task(app, device, spec).await
}

async fn register(app: &TestApp, serial: &str, cr_url: Option<&str>) -> String {
    let mut env = inform(serial, &[EventCode::Bootstrap, EventCode::Boot], "1");
    if let (Body::Inform(i), Some(url)) = (&mut env.body, cr_url) {
        for p in &mut i.parameter_list {
            if p.name.ends_with("ConnectionRequestURL") {
                p.value = url.to_owned();
            }
        }
    }
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(cpe.send(&env).await.status, 200);
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    device_key(serial)
}

/// One session in which the CPE accepts the transfer the ACS asks for (status 1: it runs
/// later); returns the transfer's CommandKey.
async fn accept_transfer(app: &TestApp, serial: &str) -> String {
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform(serial, &[EventCode::Periodic], "1")).await;
    let request = cpe.post(Vec::new()).await.envelope();
    let (key, response) = match &request.body {
        Body::Download(d) => (
            d.command_key.clone(),
            Body::DownloadResponse(TransferResponse {
                status: 1,
                start_time: CwmpDateTime::unknown(),
                complete_time: CwmpDateTime::unknown(),
            }),
        ),
        Body::ScheduleDownload(d) => (d.command_key.clone(), Body::ScheduleDownloadResponse),
        Body::Upload(u) => (
            u.command_key.clone(),
            Body::UploadResponse(TransferResponse {
                status: 1,
                start_time: CwmpDateTime::unknown(),
                complete_time: CwmpDateTime::unknown(),
            }),
        ),
        other => panic!("expected a transfer, got {other:?}"),
    };
    let answer = Envelope::new(
        request.namespace.clone(),
        request.header.id.clone(),
        response,
    );
    assert_eq!(cpe.send(&answer).await.status, 204);
    key
}

/// The next session reports the transfer's end with `code` (0: success).
async fn transfer_complete(app: &TestApp, serial: &str, key: &str, code: u32) {
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let hello = inform(serial, &[EventCode::TransferComplete], "1");
    let namespace = hello.namespace.clone();
    assert_eq!(cpe.send(&hello).await.status, 200);
    let now = CwmpDateTime::from_utc(chrono::Utc::now());
    let tc = Envelope::new(
        namespace,
        Some("tc1".into()),
        Body::TransferComplete(TransferComplete {
            command_key: key.to_owned(),
            fault_struct: TransferFault {
                fault_code: FaultCode::from_code(code),
                fault_string: if code == 0 {
                    String::new()
                } else {
                    "the server said no".into()
                },
            },
            start_time: now.clone(),
            complete_time: now,
        }),
    );
    assert_eq!(cpe.send(&tc).await.status, 200);
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
}

fn download() -> TaskSpec {
    TaskSpec::Download {
        file_type: "1 Firmware Upgrade Image".into(),
        url: "http://files.example/sip88xx.12-0-3MPP.loads".into(),
        file_id: None,
        vars_file_id: None,
        username: String::new(),
        password: Default::default(),
        file_size: 0,
        target_file_name: String::new(),
        delay_seconds: 0,
    }
}

fn schedule_download() -> TaskSpec {
    TaskSpec::ScheduleDownload {
        file_type: "1 Firmware Upgrade Image".into(),
        url: "http://files.example/sip88xx.12-0-3MPP.loads".into(),
        username: String::new(),
        password: Default::default(),
        file_size: 0,
        target_file_name: String::new(),
        time_windows: vec![cwmp::TimeWindow {
            window_start: 0,
            window_end: 3600,
            window_mode: "1 At Any Time".into(),
            user_message: String::new(),
            max_retries: -1,
        }],
    }
}

fn upload() -> TaskSpec {
    TaskSpec::Upload {
        file_type: "1 Vendor Configuration File".into(),
        url: "http://files.example/upload".into(),
        username: String::new(),
        password: Default::default(),
        delay_seconds: 0,
    }
}

#[tokio::test]
async fn a_transfer_complete_with_a_fault_ends_the_task_in_fault() {
    let app = spawn_app().await;
    let api = Api::new(&app, Some(&api_token(&app, "op", Role::Operator).await));
    let device = register(&app, "TCFAIL", None).await;
    // A Download whose image the CPE rejects, an Upload whose file the server would not take,
    // a ScheduleDownload whose file could not be fetched in its window, and a Download that
    // succeeds.
    let mut tasks = Vec::new();
    for (spec, code) in [
        (download(), 9010),
        (upload(), 9011),
        (schedule_download(), 9016),
        (download(), 0),
    ] {
        let id = queue(&app, &device, spec).await;
        let key = accept_transfer(&app, "TCFAIL").await;
        assert_eq!(key, format!("acs-{id}"));
        let t = app.store.get_task(id).await.unwrap().unwrap();
        assert_eq!(t.state, TaskState::Done, "accepted, not yet transferred");
        transfer_complete(&app, "TCFAIL", &key, code).await;
        tasks.push((id, code));
    }
    for &(id, code) in &tasks {
        let t = app.store.get_task(id).await.unwrap().unwrap();
        if code == 0 {
            assert_eq!((t.state, t.fault_code), (TaskState::Done, None), "{t:?}");
            assert!(t.result.as_ref().unwrap().confirmed_at.is_some());
            continue;
        }
        assert_eq!(
            (t.state, t.fault_code, t.fault_string.as_deref()),
            (
                TaskState::Fault,
                Some(code as i32),
                Some("the server said no")
            ),
            "{t:?}"
        );
        let meaning = FaultCode::from_code(code).meaning();
        let task = api.get(&format!("/api/v1/tasks/{id}")).await.json();
        assert_eq!(task["state"], "fault", "{task}");
        assert_eq!(task["fault"]["code"], code, "{task}");
        assert_eq!(task["fault"]["string"], "the server said no", "{task}");
        assert_eq!(task["fault"]["meaning"], meaning, "{task}");
        assert_eq!(task["fault"]["detail"]["meaning"], meaning, "{task}");
        assert_eq!(task["result"]["transfer_complete"]["fault_code"], code);
    }
    let faults = api
        .get(&format!("/api/v1/faults?device={}", enc(&device)))
        .await
        .json();
    let listed: Vec<i64> = faults["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    let mut listed = listed;
    listed.sort_unstable();
    assert_eq!(listed, [tasks[0].0, tasks[1].0, tasks[2].0], "{faults}");

    // A CPE re-sends TransferComplete until acknowledged: the copy changes nothing.
    let before = app.store.get_task(tasks[0].0).await.unwrap().unwrap();
    transfer_complete(&app, "TCFAIL", &format!("acs-{}", tasks[0].0), 9002).await;
    let after = app.store.get_task(tasks[0].0).await.unwrap().unwrap();
    assert_eq!(before, after);
    app.cleanup().await;
}

#[tokio::test]
async fn an_autonomous_transfer_fault_is_in_the_devices_events_with_its_meaning() {
    let app = spawn_app().await;
    let api = Api::new(&app, Some(&api_token(&app, "viewer", Role::Viewer).await));
    let device = register(&app, "AUTOTC", None).await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let hello = inform("AUTOTC", &[EventCode::AutonomousTransferComplete], "1");
    let namespace = hello.namespace.clone();
    assert_eq!(cpe.send(&hello).await.status, 200);
    let now = CwmpDateTime::from_utc(chrono::Utc::now());
    let atc = Envelope::new(
        namespace,
        Some("atc1".into()),
        Body::AutonomousTransferComplete(cwmp::AutonomousTransferComplete {
            announce_url: String::new(),
            transfer_url: "http://files.example/sip88xx.12-0-3MPP.loads".into(),
            is_download: true,
            file_type: "1 Firmware Upgrade Image".into(),
            file_size: 0,
            target_file_name: String::new(),
            fault_struct: TransferFault {
                fault_code: FaultCode::from_code(9010),
                fault_string: "checksum mismatch".into(),
            },
            start_time: now.clone(),
            complete_time: now,
        }),
    );
    assert_eq!(cpe.send(&atc).await.status, 200);
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    let events = api
        .get(&format!("/api/v1/devices/{}/events", enc(&device)))
        .await
        .json();
    let meaning = FaultCode::from_code(9010).meaning();
    let found = events["events"].as_array().unwrap().iter().any(|e| {
        let text = e.to_string();
        text.contains("AutonomousTransferComplete fault 9010: checksum mismatch")
            && text.contains(meaning)
    });
    assert!(found, "{events}");
    app.cleanup().await;
}

#[tokio::test]
async fn a_refresh_is_one_attempt_and_its_get_parameter_values_fault_is_the_tasks() {
    let app = spawn_app().await;
    let device = register(&app, "REFRESH", None).await;
    let id = queue(
        &app,
        &device,
        TaskSpec::Refresh {
            path: "Device.DeviceInfo.".into(),
        },
    )
    .await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("REFRESH", &[EventCode::Periodic], "1"))
        .await;
    let gpn = cpe.post(Vec::new()).await.envelope();
    assert!(matches!(gpn.body, Body::GetParameterNames(_)), "{gpn:?}");
    let names = Body::GetParameterNamesResponse(cwmp::GetParameterNamesResponse {
        parameter_list: vec![cwmp::ParameterInfo {
            name: "Device.DeviceInfo.SoftwareVersion".into(),
            writable: false,
        }],
    });
    let gpv = cpe
        .send(&Envelope::new(
            gpn.namespace.clone(),
            gpn.header.id.clone(),
            names,
        ))
        .await
        .envelope();
    assert!(matches!(gpv.body, Body::GetParameterValues(_)), "{gpv:?}");
    assert_ne!(
        gpv.header.id, gpn.header.id,
        "every send has its own cwmp:ID"
    );
    let t = app.store.get_task(id).await.unwrap().unwrap();
    assert_eq!((t.state, t.attempts), (TaskState::Sent, 1), "{t:?}");
    let fault = Body::Fault(cwmp::SoapFault::new(cwmp::CwmpFault::new(
        FaultCode::InvalidParameterName,
    )));
    let end = cpe
        .send(&Envelope::new(
            gpv.namespace.clone(),
            gpv.header.id.clone(),
            fault,
        ))
        .await;
    assert_eq!(end.status, 204);
    let t = app.store.get_task(id).await.unwrap().unwrap();
    assert_eq!(
        (t.state, t.fault_code, t.attempts),
        (TaskState::Fault, Some(9005), 1),
        "{t:?}"
    );
    app.cleanup().await;
}

/// A loopback port with nothing listening: a connection request to it is refused.
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cr", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// A connection-request target that accepts every request.
async fn accepting_url() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cr", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_connection_request_outcome_is_stored_with_the_task() {
    let app = spawn_app().await;
    let api = Api::new(&app, Some(&api_token(&app, "op", Role::Operator).await));
    let refused = register(&app, "CRREFUSED", Some(&closed_port_url().await)).await;
    let awake = register(&app, "CRAWAKE", Some(&accepting_url().await)).await;

    // One task: the outcome comes back with the creation and stays on the task.
    let created = api
        .post(
            &format!(
                "/api/v1/devices/{}/tasks?connection_request=true",
                enc(&refused)
            ),
            &json!({"kind": "reboot"}),
        )
        .await;
    assert_eq!(created.status, 202, "{}", created.text);
    let created = created.json();
    assert_eq!(
        created["connection_request"]["outcome"], "unreachable",
        "{created}"
    );
    let task = api
        .get(&format!("/api/v1/tasks/{}", created["id"]))
        .await
        .json();
    assert_eq!(
        task["connection_request"]["outcome"], "unreachable",
        "{task}"
    );
    assert!(task["connection_request"]["at"].is_string(), "{task}");
    let stored = app
        .store
        .get_task(created["id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.connection_request.map(|c| c.outcome).as_deref(),
        Some("unreachable")
    );

    // A job: the runner's wake-ups land on each device's task.
    let job = api
        .post(
            "/api/v1/jobs",
            &json!({"task": {"kind": "reboot"}, "devices": [refused, awake],
                    "connection_request": true}),
        )
        .await;
    assert_eq!(job.status, 201, "{}", job.text);
    let job = job.json()["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let outcomes = loop {
        let tasks = api.get(&format!("/api/v1/jobs/{job}/tasks")).await.json();
        let outcomes: Vec<(String, Value)> = tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["device_id"].as_str().unwrap().to_owned(),
                    t["connection_request"]["outcome"].clone(),
                )
            })
            .collect();
        if outcomes.iter().all(|(_, o)| o.is_string()) {
            break outcomes;
        }
        assert!(Instant::now() < deadline, "no outcomes stored: {tasks}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let of = |d: &str| outcomes.iter().find(|(id, _)| id == d).unwrap().1.clone();
    assert_eq!(of(&refused), "unreachable");
    assert_eq!(of(&awake), "accepted");
    app.cleanup().await;
}

#[tokio::test]
async fn uploaded_firmware_knows_its_version_and_a_ca_file_must_be_a_certificate() {
    let app = spawn_app().await;
    let api = Api::new(&app, Some(&api_token(&app, "op", Role::Operator).await));
    let upload = |query: &str, body: Vec<u8>| {
        let path = format!("/api/v1/files?{query}");
        let api = api.clone();
        async move {
            api.raw("POST", &path, Some((body, "application/octet-stream")))
                .await
        }
    };
    let image = upload("name=sip88xx.12-0-9MPP.loads&type=firmware", vec![1; 100]).await;
    assert_eq!(image.status, 201, "{}", image.text);
    assert_eq!(image.json()["version"], "sip88xx.12-0-9MPP");
    // A version given wins over the name's.
    let given = upload(
        "name=sip88xx.12-0-9MPP.loads&type=firmware&version=12-0-9MPP-1",
        vec![2; 100],
    )
    .await;
    assert_eq!(given.json()["version"], "12-0-9MPP-1");
    let other = upload("name=sip88xx.12-0-9MPP.loads&type=other", vec![3; 100]).await;
    assert_eq!(other.json()["version"], Value::Null);

    let cert = rcgen::generate_simple_self_signed(vec!["lab-ca".to_owned()]).unwrap();
    let pem = upload("name=lab-ca.pem&type=ca", cert.cert.pem().into_bytes()).await;
    assert_eq!(pem.status, 201, "{}", pem.text);
    let der = upload("name=lab-ca.der&type=ca", cert.cert.der().to_vec()).await;
    assert_eq!(der.status, 201, "{}", der.text);
    for (name, body, part) in [
        (
            "junk.pem",
            b"not a certificate".to_vec(),
            "neither a PEM nor a DER",
        ),
        (
            "key.pem",
            cert.signing_key.serialize_pem().into_bytes(),
            "PRIVATE KEY, not a certificate",
        ),
        (
            "cut.der",
            cert.cert.der()[..100].to_vec(),
            "not a DER certificate",
        ),
    ] {
        let refused = upload(&format!("name={name}&type=ca"), body).await;
        assert_eq!(refused.status, 400, "{name}: {}", refused.text);
        let message = refused.json()["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains(part) && message.contains(name),
            "{name}: {message}"
        );
    }
    let cas = api.get("/api/v1/files?type=ca").await.json();
    assert_eq!(cas["files"].as_array().unwrap().len(), 2, "{cas}");
    app.cleanup().await;
}

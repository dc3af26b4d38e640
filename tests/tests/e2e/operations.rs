//! Operations end to end with the simulator: every task kind against an MPP phone and a TR-098
//! gateway, woken by a connection request or picked up at the device's own next session; bulk
//! jobs over a fleet; a restart in the middle of a job.

use std::sync::Arc;
use std::time::Duration;

use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
use acs_core::cwmp::{ParameterValue, Password, SetParameterAttributesStruct, ValueType};
use acs_core::ops::{JobState, JobTarget, NewJob, Operations, TaskOptions};
use acs_core::storage::{TaskRow, TaskState};
use acs_core::tasks::TaskSpec;
use acs_tests::{TestApp, spawn_app_with, start, test_settings};
use actix_web::{App, HttpResponse, HttpServer, web};

/// Long enough for anything that is going to happen; the waits end as soon as it does.
const PATIENCE: Duration = Duration::from_secs(120);

/// A file server for Download and a sink for Upload, on a free port.
fn file_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/files/{name}",
                web::get().to(|| async {
                    HttpResponse::Ok().body(
                        "<flat-profile><Station_Name ua=\"na\">Lobby</Station_Name></flat-profile>",
                    )
                }),
            )
            .route("/upload/{name}", web::put().to(HttpResponse::Ok))
            .route("/upload/{name}", web::post().to(HttpResponse::Ok))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    format!("http://{addr}")
}

async fn fleet(app: &TestApp, profile: &str, devices: usize) -> Simulator {
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        devices,
        Profile::builtin(profile).expect("profile"),
    );
    config.periodic = false;
    config.reboot_delay = Duration::from_millis(50);
    let sim = Simulator::start(config).await.expect("simulator");
    sim.run();
    for i in 0..devices {
        sim.wait_for_session(i, 1).await.expect("first contact");
    }
    sim
}

/// Every task kind for a device whose data model is under `root`, with what the simulated
/// device answers: `None` done, `Some(code)` that CWMP fault.
fn every_kind(root: &str, files: &str, phone: bool) -> Vec<(TaskSpec, Option<i32>)> {
    let interval = format!("{root}ManagementServer.PeriodicInformInterval");
    let version = format!("{root}DeviceInfo.SoftwareVersion");
    let table = if phone {
        "Device.Services.VoiceService.1.VoiceProfile.1.Line.".to_owned()
    } else {
        "InternetGatewayDevice.Layer3Forwarding.Forwarding.".to_owned()
    };
    vec![
        (TaskSpec::GetRpcMethods {}, None),
        (
            TaskSpec::GetParameterValues {
                names: vec![format!("{root}DeviceInfo.")],
            },
            None,
        ),
        (
            TaskSpec::SetParameterValues {
                values: vec![ParameterValue::new(
                    &interval,
                    "600",
                    ValueType::UnsignedInt,
                )],
            },
            None,
        ),
        (
            TaskSpec::GetParameterNames {
                path: format!("{root}ManagementServer."),
                next_level: true,
            },
            None,
        ),
        (
            TaskSpec::SetParameterAttributes {
                attributes: vec![SetParameterAttributesStruct {
                    name: version.clone(),
                    notification_change: true,
                    notification: 2,
                    access_list_change: false,
                    access_list: vec![],
                }],
            },
            None,
        ),
        (
            TaskSpec::GetParameterAttributes {
                names: vec![version],
            },
            None,
        ),
        (TaskSpec::AddObject { object: table }, None),
        (
            TaskSpec::Refresh {
                path: format!("{root}ManagementServer."),
            },
            None,
        ),
        (
            TaskSpec::SetConnectionRequestCredentials {
                root: root.to_owned(),
                username: "cr-user".into(),
                password: Password::new("cr-secret-1"),
            },
            None,
        ),
        // MPP phones implement no ScheduleInform.
        (
            TaskSpec::ScheduleInform { delay_seconds: 1 },
            phone.then_some(9000),
        ),
        (
            TaskSpec::Download {
                file_type: "3 Vendor Configuration File".into(),
                url: format!("{files}/files/config.xml"),
                file_id: None,
                vars_file_id: None,
                username: String::new(),
                password: Password::default(),
                file_size: 0,
                target_file_name: "config.xml".into(),
                delay_seconds: 0,
            },
            None,
        ),
        (
            TaskSpec::Upload {
                file_type: "1 Vendor Configuration File".into(),
                url: format!("{files}/upload/config.xml"),
                username: String::new(),
                password: Password::default(),
                delay_seconds: 0,
            },
            // MPP phones implement no Upload.
            phone.then_some(9000),
        ),
        (TaskSpec::Reboot {}, None),
        (TaskSpec::FactoryReset {}, None),
    ]
}

/// Runs one task on device `index`, waking it by connection request or by an explicit session,
/// and returns the task once final. Kinds after which the device calls back on its own (reboot,
/// factory reset, ScheduleInform, transfers) wait for that session too, so the next task never
/// races it.
async fn run_task(
    ops: &Arc<Operations>,
    sim: &Simulator,
    index: usize,
    spec: &TaskSpec,
    by_connection_request: bool,
) -> TaskRow {
    let device = sim.device(index).device_id();
    let sessions = sim.device(index).sessions();
    let task = ops
        .create_task(&device, spec, &TaskOptions::default())
        .await
        .expect("create task");
    if by_connection_request {
        let outcome = ops.connection_request(&device).await.expect("device");
        assert!(outcome.is_accepted(), "{}: {outcome}", spec.kind());
    } else {
        let report = sim.run_session(index, vec![]).await.expect("session");
        assert!(report.succeeded(), "{}: {report:?}", spec.kind());
    }
    let task = ops.wait_for_task(task.id, PATIENCE).await.expect("wait");
    let calls_back = task.state == TaskState::Done
        && matches!(
            spec,
            TaskSpec::Reboot {}
                | TaskSpec::FactoryReset {}
                | TaskSpec::ScheduleInform { .. }
                | TaskSpec::Download { .. }
                | TaskSpec::Upload { .. }
        );
    // The task is final before its session has ended; a connection request arriving before
    // then is refused as busy (503), as a real CPE would. Wait for the end of the session, and
    // for the device's own call-back session where it makes one.
    let target = sessions + if calls_back { 2 } else { 1 };
    if calls_back && !by_connection_request {
        // A device driven by explicit sessions reports what happened in its next one (a
        // rebooted one may already have come back on its own; this then is just one more).
        let report = sim.run_session(index, vec![]).await.expect("session");
        assert!(report.succeeded(), "{}: {report:?}", spec.kind());
    }
    tokio::time::timeout(PATIENCE, sim.wait_for_session(index, target))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} via cr={by_connection_request}: sessions {} -> {} (wanted {target}), last {:?}",
                spec.kind(),
                sessions,
                sim.device(index).sessions(),
                sim.device(index).last_report()
            )
        })
        .expect("session");
    task
}

async fn every_kind_on(profile: &str, root: &str, phone: bool) {
    // Credentials on BOOTSTRAP, so connection requests are Digest-authenticated as in the field.
    let app = spawn_app_with(|c| c.cwmp.provision_connection_request_credentials = true).await;
    let files = file_server();
    let sim = fleet(&app, profile, 2).await;
    let ops = app.state.ops.clone();
    for (spec, expected) in every_kind(root, &files, phone) {
        for (index, by_cr) in [(0, true), (1, false)] {
            let task = run_task(&ops, &sim, index, &spec, by_cr).await;
            let how = if by_cr {
                "connection request"
            } else {
                "own session"
            };
            // What the tasks did shows on the device and in what the ACS stored.
            let device = sim.device(index);
            match &spec {
                TaskSpec::SetParameterValues { values } => assert_eq!(
                    device.value(&values[0].name).as_deref(),
                    Some("600"),
                    "{profile} via {how}"
                ),
                TaskSpec::SetConnectionRequestCredentials { username, .. } => {
                    assert_eq!(
                        device
                            .value(&format!("{root}ManagementServer.ConnectionRequestUsername"))
                            .as_deref(),
                        Some(username.as_str())
                    );
                    let stored = ops.store().get_device(&device.device_id()).await.unwrap();
                    assert_eq!(
                        stored.unwrap().connection_request_username.as_deref(),
                        Some(username.as_str()),
                        "later connection requests use the new credentials"
                    );
                }
                _ => {}
            }
            // An added instance is deleted again: DeleteObject needs the instance number.
            if let (
                TaskSpec::AddObject { object },
                Some(acs_core::tasks::TaskResult {
                    response:
                        Some(acs_core::tasks::Response::AddObject {
                            instance_number: instance,
                            ..
                        }),
                    ..
                }),
            ) = (&spec, &task.result)
            {
                let delete = TaskSpec::DeleteObject {
                    object: format!("{object}{instance}."),
                };
                let deleted = run_task(&ops, &sim, index, &delete, by_cr).await;
                assert_eq!(deleted.state, TaskState::Done, "{profile} delete via {how}");
            }
            match expected {
                None => assert_eq!(
                    task.state,
                    TaskState::Done,
                    "{profile} {} via {how}: {task:?}",
                    spec.kind()
                ),
                Some(code) => assert_eq!(
                    (task.state, task.fault_code),
                    (TaskState::Fault, Some(code)),
                    "{profile} {} via {how}",
                    spec.kind()
                ),
            }
        }
    }
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn every_task_kind_runs_on_an_mpp_phone_with_and_without_connection_requests() {
    every_kind_on("cisco-mpp", "Device.", true).await;
}

#[tokio::test]
async fn every_task_kind_runs_on_a_gateway_with_and_without_connection_requests() {
    every_kind_on("tr098-gateway", "InternetGatewayDevice.", false).await;
}

fn gpv_job(names: Vec<String>, target: JobTarget, connection_request: bool) -> NewJob {
    NewJob {
        spec: TaskSpec::GetParameterValues { names },
        target,
        connection_request,
        options: TaskOptions::default(),
        created_by: Some("e2e".into()),
        concurrency: None,
        max_failures: None,
        window: None,
    }
}

async fn wait_for_job_end(ops: &Operations, id: i64) -> acs_core::ops::JobStatus {
    let deadline = tokio::time::Instant::now() + PATIENCE * 2;
    loop {
        let status = ops.job(id).await.expect("job");
        if status.job.state != JobState::Running {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job still running: {:?}",
            status.counts
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_bulk_get_over_a_thousand_simulated_phones() {
    const PHONES: usize = 1000;
    let app = spawn_app_with(|_| {}).await;
    let sim = fleet(&app, "cisco-mpp", PHONES).await;
    let ops = app.state.ops.clone();
    let name = "Device.DeviceInfo.UpTime".to_owned();
    let job = ops
        .create_job(&gpv_job(
            vec![name.clone()],
            JobTarget::Filter("product_class = \"CP-8851-3PCC\"".into()),
            true,
        ))
        .await
        .expect("job");
    assert_eq!(job.job.total, PHONES as i64);
    let done = wait_for_job_end(&ops, job.job.id).await;
    assert_eq!(done.job.state, JobState::Finished);
    assert_eq!(done.counts.done, PHONES as i64, "{:?}", done.counts);
    // Every phone was asked once and its fresh value is stored.
    let mut cursor =
        ops.query_parameters(acs_core::ops::DeviceSelection::All, vec![name.clone()], 250);
    let mut rows = 0;
    while let Some(batch) = cursor.next_batch().await.expect("batch") {
        for row in batch {
            assert!(row.value.is_some(), "{row:?}");
            rows += 1;
        }
    }
    assert_eq!(rows, PHONES);
    assert_eq!(sim.stats().sessions_failed, 0);
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_job_loses_and_repeats_nothing() {
    const PHONES: usize = 20;
    let app = spawn_app_with(|_| {}).await;
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        PHONES,
        Profile::builtin("cisco-mpp").expect("profile"),
    );
    config.periodic = false;
    let sim = Simulator::start(config).await.expect("simulator");
    for i in 0..PHONES {
        assert!(sim.run_session(i, vec![]).await.unwrap().succeeded());
    }
    let ops = app.state.ops.clone();
    let job = ops
        .create_job(&gpv_job(
            vec!["Device.DeviceInfo.SoftwareVersion".into()],
            JobTarget::Filter("serial ~ \"*\"".into()),
            false,
        ))
        .await
        .expect("job")
        .job;
    // Half the phones run their task before the restart.
    for i in 0..PHONES / 2 {
        let report = sim.run_session(i, vec![]).await.unwrap();
        assert_eq!(report.rpcs_received, ["GetParameterValues"]);
    }
    // The new server listens where the old one did, so the simulated phones find it.
    let addr: std::net::SocketAddr = app
        .cwmp_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("cwmp address");
    let (store, db) = app.stop().await;
    let mut config = test_settings();
    config.cwmp.listen = addr;
    let app = start(&config, store, db).await;
    app.state.load_orphans().await.expect("orphans");
    let ops = app.state.ops.clone();
    let midway = ops.job(job.id).await.expect("job");
    assert_eq!(
        (midway.counts.done, midway.counts.queued),
        (PHONES as i64 / 2, PHONES as i64 / 2)
    );
    for i in 0..PHONES {
        let report = sim.run_session(i, vec![]).await.unwrap();
        let expected: &[&str] = if i < PHONES / 2 {
            &[]
        } else {
            &["GetParameterValues"]
        };
        assert_eq!(report.rpcs_received, expected, "phone {i}");
    }
    let status = wait_for_job_end(&ops, job.id).await;
    assert_eq!(status.job.state, JobState::Finished);
    assert_eq!(status.counts.done, PHONES as i64);
    assert_eq!(status.counts.total(), PHONES as i64);
    sim.shutdown().await;
    app.cleanup().await;
}

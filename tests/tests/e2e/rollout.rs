//! Firmware rollouts: Downloads of stored files (token URLs minted at send time), and jobs that
//! release devices a few at a time, stop on too many failures and verify the installed version.

use std::time::Duration;

use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
use acs_core::cwmp::{
    self, Body, CwmpDateTime, Envelope, EventCode, FaultCode, TransferComplete, TransferFault,
    TransferResponse,
};
use acs_core::ops::{
    FailureLimit, JobState, JobStatus, JobTarget, NewJob, Operations, TaskOptions,
};
use acs_core::rollout::RolloutState;
use acs_core::storage::{FileKind, NewTask, TaskState};
use acs_core::tasks::{QueuedTask, TaskSpec};
use acs_tests::{
    RawCpe, TestApp, device_key, inform, spawn_app, spawn_app_with, start, test_settings,
};

/// How long a rollout may take before a test gives up (generous: CI machines are slow).
const PATIENCE: Duration = Duration::from_secs(60);

const IMAGE: &str = "sip88xx.12-0-3MPP-5.loads";
const VERSION: &str = "12-0-3MPP-5";

fn firmware(file_id: i64) -> TaskSpec {
    TaskSpec::Download {
        file_type: "1 Firmware Upgrade Image".into(),
        url: String::new(),
        file_id: Some(file_id),
        vars_file_id: None,
        username: String::new(),
        password: Default::default(),
        file_size: 0,
        target_file_name: String::new(),
        delay_seconds: 0,
    }
}

async fn queue(app: &TestApp, device: &str, spec: &TaskSpec) -> i64 {
    spec.validate().expect("valid task");
    app.store
        .enqueue_task(&NewTask::new(
            device,
            spec.kind(),
            QueuedTask::payload(spec),
        ))
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn a_download_of_a_stored_file_carries_a_working_token_url() {
    let app = spawn_app().await;
    let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let file = app
        .upload(
            FileKind::Firmware,
            "sip88xx.12-0-3MPP-5.loads",
            Some("12-0-3MPP-5"),
            &data,
        )
        .await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("ROLL1", &[EventCode::Bootstrap], "1"))
        .await;
    cpe.post(Vec::new()).await;
    let task = queue(&app, &device_key("ROLL1"), &firmware(file)).await;

    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("ROLL1", &[EventCode::Periodic], "1"))
        .await;
    let request = cpe.post(Vec::new()).await.envelope();
    let Body::Download(d) = request.body else {
        panic!("expected a Download, got {request:?}")
    };
    assert_eq!(d.command_key, format!("acs-{task}"));
    assert_eq!(d.file_size, 50_000);
    assert_eq!(d.target_file_name, "sip88xx.12-0-3MPP-5.loads");
    let base = app.cwmp_url.trim_end_matches('/');
    assert!(
        d.url.starts_with(&format!("{base}/files/t/"))
            && d.url.ends_with("/sip88xx.12-0-3MPP-5.loads"),
        "{}",
        d.url
    );
    let got = reqwest::get(&d.url).await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), data.as_slice());
    assert_eq!(
        app.store.get_task(task).await.unwrap().unwrap().state,
        TaskState::Sent
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_configured_base_url_is_used_and_a_deleted_file_fails_the_task_unsent() {
    let app = spawn_app().await;
    app.files
        .set_base_url(Some("https://files.example.net:8443/".into()));
    let keep = app
        .upload(
            FileKind::Firmware,
            "sip88xx.12-0-3MPP-5.loads",
            None,
            b"firmware",
        )
        .await;
    let gone = app
        .upload(FileKind::Firmware, "sip88xx.11-3-7MPP.loads", None, b"old")
        .await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("ROLL2", &[EventCode::Bootstrap], "1"))
        .await;
    cpe.post(Vec::new()).await;
    let key = device_key("ROLL2");
    let doomed = queue(&app, &key, &firmware(gone)).await;
    let mut given = firmware(keep);
    if let TaskSpec::Download {
        file_size,
        target_file_name,
        ..
    } = &mut given
    {
        *file_size = 7;
        *target_file_name = "image.loads".into();
    }
    let sent = queue(&app, &key, &given).await;
    app.store.delete_file(gone).await.unwrap();

    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("ROLL2", &[EventCode::Periodic], "1"))
        .await;
    let request = cpe.post(Vec::new()).await.envelope();
    let Body::Download(d) = request.body else {
        panic!("expected a Download, got {request:?}")
    };
    assert_eq!(d.command_key, format!("acs-{sent}"));
    assert!(
        d.url.starts_with("https://files.example.net:8443/files/t/"),
        "{}",
        d.url
    );
    assert_eq!(
        (d.file_size, d.target_file_name.as_str()),
        (7, "image.loads")
    );
    let t = app.store.get_task(doomed).await.unwrap().unwrap();
    assert_eq!((t.state, t.attempts), (TaskState::Fault, 0), "{t:?}");
    assert!(
        t.fault_string
            .as_deref()
            .unwrap_or_default()
            .contains("no longer exists"),
        "{t:?}"
    );
    app.cleanup().await;
}

fn rollout_job(file_id: i64, devices: Vec<String>, concurrency: u32) -> NewJob {
    NewJob {
        spec: firmware(file_id),
        target: JobTarget::Devices(devices),
        connection_request: false,
        options: TaskOptions::default(),
        created_by: Some("e2e".into()),
        concurrency: Some(concurrency),
        max_failures: None,
        window: None,
    }
}

/// The job as stored now; fails the test if more devices than `limit` are in flight.
async fn observe(ops: &Operations, job: i64, limit: i64) -> JobStatus {
    let s = ops.job(job).await.expect("job");
    assert!(
        s.rollout.in_flight() <= limit,
        "more than {limit} devices in flight: {:?}",
        s.rollout
    );
    assert!(
        s.counts.queued + s.counts.sent <= limit,
        "more than {limit} tasks released: {:?}",
        s.counts
    );
    s
}

async fn phones(app: &TestApp, n: usize, prefix: &str) -> Simulator {
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        n,
        Profile::builtin("cisco-mpp").expect("profile"),
    );
    config.periodic = false;
    config.serial_prefix = Some(prefix.to_owned());
    let sim = Simulator::start(config).await.expect("simulator");
    for i in 0..n {
        assert!(sim.run_session(i, vec![]).await.unwrap().succeeded());
    }
    sim
}

/// Runs sessions of every phone in `range` (and `extra` after each round) until the job is no
/// longer running and nothing is in flight, checking the concurrency limit after every session.
async fn drive(
    ops: &Operations,
    sim: &Simulator,
    range: std::ops::Range<usize>,
    job: i64,
    limit: i64,
) -> JobStatus {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let s = observe(ops, job, limit).await;
        if s.job.state != JobState::Running && s.rollout.in_flight() == 0 {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "rollout stuck: {s:?}"
        );
        for i in range.clone() {
            assert!(sim.run_session(i, vec![]).await.unwrap().succeeded());
            observe(ops, job, limit).await;
        }
        // Let the runner (every 100 ms) release the next devices.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn assert_downloaded_once(app: &TestApp, sim: &Simulator, n: usize) {
    for i in 0..n {
        let device = sim.device(i).device_id();
        let log = app
            .store
            .file_transfers_of_device(&device, 100)
            .await
            .unwrap();
        let ok: Vec<_> = log.iter().filter(|t| t.outcome == "ok").collect();
        assert_eq!(ok.len(), 1, "phone {i} downloads: {log:?}");
        assert!(ok[0].task_id.is_some(), "{log:?}");
    }
}

#[tokio::test]
async fn a_rollout_releases_a_few_phones_at_a_time_and_verifies_every_one() {
    const PHONES: usize = 7;
    const LIMIT: u32 = 2;
    let app = spawn_app().await;
    let sim = phones(&app, PHONES, "RC").await;
    let file = app
        .upload(FileKind::Firmware, IMAGE, Some(VERSION), &[7u8; 4096])
        .await;
    let ops = app.state.ops.clone();
    let devices = (0..PHONES).map(|i| sim.device(i).device_id()).collect();
    let job = ops
        .create_job(&rollout_job(file, devices, LIMIT))
        .await
        .expect("job");
    assert_eq!(
        job.counts.held, PHONES as i64,
        "nothing is released at creation"
    );
    assert_eq!(job.rollout.pending, PHONES as i64);
    let end = drive(&ops, &sim, 0..PHONES, job.job.id, i64::from(LIMIT)).await;
    assert_eq!(end.job.state, JobState::Finished, "{end:?}");
    assert_eq!(end.rollout.verified, PHONES as i64, "{:?}", end.rollout);
    for i in 0..PHONES {
        let d = app
            .store
            .get_device(&sim.device(i).device_id())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.software_version.as_deref(), Some("sip88xx.12-0-3MPP-5"));
    }
    assert_downloaded_once(&app, &sim, PHONES).await;
    sim.shutdown().await;
    app.cleanup().await;
}

/// A hand-driven phone that takes the Download and then reports `code` in its TransferComplete.
async fn failing_phone_session(app: &TestApp, serial: &str, code: u32) -> bool {
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform(serial, &[EventCode::Periodic], "1")).await;
    let reply = cpe.post(Vec::new()).await;
    if reply.status == 204 {
        return false;
    }
    let request = reply.envelope();
    let Body::Download(d) = &request.body else {
        panic!("expected a Download, got {request:?}")
    };
    let now = CwmpDateTime::from_utc(chrono::Utc::now());
    let answer = Envelope::new(
        request.namespace.clone(),
        request.header.id.clone(),
        Body::DownloadResponse(TransferResponse {
            status: 1,
            start_time: CwmpDateTime::unknown(),
            complete_time: CwmpDateTime::unknown(),
        }),
    );
    assert_eq!(cpe.send(&answer).await.status, 204);
    // The next session reports the failed transfer.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let mut hello = inform(serial, &[EventCode::TransferComplete], "1");
    if let Body::Inform(i) = &mut hello.body {
        i.event.push(cwmp::EventStruct {
            event_code: EventCode::Method("Download".into()),
            command_key: d.command_key.clone(),
        });
    }
    assert_eq!(cpe.send(&hello).await.status, 200);
    let tc = Envelope::new(
        request.namespace.clone(),
        Some("tc1".into()),
        Body::TransferComplete(TransferComplete {
            command_key: d.command_key.clone(),
            fault_struct: TransferFault {
                fault_code: FaultCode::from_code(code),
                fault_string: "image rejected".into(),
            },
            start_time: now.clone(),
            complete_time: now,
        }),
    );
    assert_eq!(cpe.send(&tc).await.status, 200);
    cpe.post(Vec::new()).await;
    true
}

#[tokio::test]
async fn a_failed_phone_reports_its_fault_and_does_not_block_the_others() {
    const PHONES: usize = 3;
    let app = spawn_app().await;
    let sim = phones(&app, PHONES, "RF").await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.send(&inform("RFBAD", &[EventCode::Bootstrap], "1"))
        .await;
    cpe.post(Vec::new()).await;
    let file = app
        .upload(FileKind::Firmware, IMAGE, Some(VERSION), &[1u8; 1000])
        .await;
    let ops = app.state.ops.clone();
    // The failing phone first, so it holds one of the two slots.
    let mut devices = vec![device_key("RFBAD")];
    devices.extend((0..PHONES).map(|i| sim.device(i).device_id()));
    let job = ops
        .create_job(&rollout_job(file, devices, 2))
        .await
        .expect("job")
        .job;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !failing_phone_session(&app, "RFBAD", 9018).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bad phone got no Download"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let end = drive(&ops, &sim, 0..PHONES, job.id, 2).await;
    assert_eq!(end.job.state, JobState::Finished, "{end:?}");
    assert_eq!(
        (end.rollout.verified, end.rollout.failed),
        (PHONES as i64, 1),
        "{:?}",
        end.rollout
    );
    let progress = ops.job_progress(job.id).await.unwrap();
    let bad = progress
        .outcomes
        .values()
        .find(|o| o.state == RolloutState::Failed)
        .expect("a failed device");
    assert_eq!(bad.fault_code, Some(9018), "{bad:?}");
    assert_eq!(
        bad.meaning.as_deref(),
        Some(FaultCode::from_code(9018).meaning())
    );
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn too_many_failures_stop_the_job() {
    let app = spawn_app().await;
    let serials = ["RSTOP1", "RSTOP2", "RSTOP3", "RSTOP4", "RSTOP5"];
    for s in serials {
        let mut cpe = RawCpe::new(&app.cwmp_url);
        cpe.send(&inform(s, &[EventCode::Bootstrap], "1")).await;
        cpe.post(Vec::new()).await;
    }
    let file = app
        .upload(FileKind::Firmware, IMAGE, Some(VERSION), &[1u8; 1000])
        .await;
    let ops = app.state.ops.clone();
    let mut new = rollout_job(file, serials.iter().map(|s| device_key(s)).collect(), 1);
    new.max_failures = Some("20%".parse::<FailureLimit>().unwrap());
    let job = ops.create_job(&new).await.expect("job").job;
    assert_eq!(job.max_failures, Some(FailureLimit::Percent(20)));
    // 20% of 5 tolerates one failure; the second stops the job.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut failed = 0;
    let status = loop {
        let s = observe(&ops, job.id, 1).await;
        if s.job.state != JobState::Running {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s:?}");
        for serial in serials {
            if failed < 2 && failing_phone_session(&app, serial, 9010).await {
                failed += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.job.state, JobState::Stopped, "{status:?}");
    assert_eq!(status.rollout.failed, 2, "{:?}", status.rollout);
    assert_eq!(status.rollout.cancelled, 3, "{:?}", status.rollout);
    let reason = status.job.stop_reason.expect("a reason");
    assert!(
        reason.contains("2 of 5") && reason.contains("20%"),
        "{reason}"
    );
    // Nothing more is sent for the stopped job.
    for serial in serials {
        let mut cpe = RawCpe::new(&app.cwmp_url);
        cpe.send(&inform(serial, &[EventCode::Periodic], "1")).await;
        assert_eq!(cpe.post(Vec::new()).await.status, 204, "{serial}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_rollout_resumes_and_completes() {
    const PHONES: usize = 6;
    const LIMIT: u32 = 2;
    let files_dir = test_settings().data_dir;
    let dir = files_dir.clone();
    let app = spawn_app_with(move |c| c.data_dir = dir).await;
    let sim = phones(&app, PHONES, "RR").await;
    let file = app
        .upload(FileKind::Firmware, IMAGE, Some(VERSION), &[3u8; 2048])
        .await;
    let ops = app.state.ops.clone();
    let devices = (0..PHONES).map(|i| sim.device(i).device_id()).collect();
    let job = ops
        .create_job(&rollout_job(file, devices, LIMIT))
        .await
        .expect("job")
        .job;
    // Run until some phones are done and others are under way.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let s = observe(&ops, job.id, i64::from(LIMIT)).await;
        if s.rollout.verified >= 2 && s.rollout.in_flight() > 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s:?}");
        for i in 0..PHONES {
            assert!(sim.run_session(i, vec![]).await.unwrap().succeeded());
            let s = observe(&ops, job.id, i64::from(LIMIT)).await;
            if s.rollout.verified >= 2 && s.rollout.in_flight() > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let addr: std::net::SocketAddr = app
        .cwmp_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("cwmp address");
    let (store, db) = app.stop().await;
    let mut config = test_settings();
    config.cwmp.listen = addr;
    config.data_dir = files_dir;
    let app = start(&config, store, db).await;
    app.state.load_orphans().await.expect("orphans");
    let ops = app.state.ops.clone();
    let end = drive(&ops, &sim, 0..PHONES, job.id, i64::from(LIMIT)).await;
    assert_eq!(end.job.state, JobState::Finished, "{end:?}");
    assert_eq!(end.rollout.verified, PHONES as i64, "{:?}", end.rollout);
    assert_downloaded_once(&app, &sim, PHONES).await;
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn the_api_creates_rollouts_and_shows_each_device_state() {
    let app = spawn_app().await;
    let serials = ["RAPI1", "RAPI2", "RAPI3"];
    for s in serials {
        let mut cpe = RawCpe::new(&app.cwmp_url);
        cpe.send(&inform(s, &[EventCode::Bootstrap], "1")).await;
        cpe.post(Vec::new()).await;
    }
    let file = app
        .upload(FileKind::Firmware, IMAGE, Some(VERSION), &[9u8; 100])
        .await;
    let token = acs_tests::api_token(&app, "ops", acs_core::storage::Role::Operator).await;
    let api = acs_tests::Api::new(&app, Some(&token));
    let bad = api
        .post(
            "/api/v1/jobs",
            &serde_json::json!({
                "task": {"kind": "download", "file_type": "1 Firmware Upgrade Image", "file_id": file},
                "devices": serials, "max_failures": "150%",
            }),
        )
        .await;
    assert_eq!(bad.status, 400, "{:?}", bad.json());
    let created = api
        .post(
            "/api/v1/jobs",
            &serde_json::json!({
                "task": {"kind": "download", "file_type": "1 Firmware Upgrade Image", "file_id": file},
                "devices": serials, "concurrency": 1, "max_failures": "50%",
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let job = created.json();
    assert_eq!(job["concurrency"], 1);
    assert_eq!(job["max_failures"], "50%");
    assert_eq!(job["stop_reason"], serde_json::Value::Null);
    assert_eq!(job["counts"]["held"], 3);
    assert_eq!(job["rollout"]["pending"], 3);
    assert_eq!(job["definition"]["file_id"], file);
    let path = format!("/api/v1/jobs/{}/tasks", job["id"]);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let tasks = loop {
        let tasks = api.get(&path).await.json();
        let states: Vec<String> = tasks["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["rollout"]["state"].as_str().unwrap().to_owned())
            .collect();
        if states.contains(&"queued".to_owned()) {
            assert_eq!(states, ["queued", "pending", "pending"]);
            break tasks;
        }
        assert!(tokio::time::Instant::now() < deadline, "{tasks:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(tasks["tasks"][1]["state"], "held");
    app.cleanup().await;
}

#[tokio::test]
async fn five_hundred_phones_fifty_at_a_time() {
    const PHONES: usize = 500;
    const LIMIT: u32 = 50;
    let app = spawn_app().await;
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        PHONES,
        Profile::builtin("cisco-mpp").expect("profile"),
    );
    config.periodic = false;
    config.serial_prefix = Some("R5H".into());
    let sim = Simulator::start(config).await.expect("simulator");
    let all: Vec<usize> = (0..PHONES).collect();
    let sessions = |ids: Vec<usize>| {
        let sim = &sim;
        futures::future::join_all(ids.into_iter().map(move |i| async move {
            assert!(sim.run_session(i, vec![]).await.unwrap().succeeded());
        }))
    };
    sessions(all.clone()).await;
    let index: std::collections::HashMap<String, usize> = all
        .iter()
        .map(|&i| (sim.device(i).device_id(), i))
        .collect();
    let file = app
        .upload(FileKind::Firmware, IMAGE, Some(VERSION), &[5u8; 512])
        .await;
    let ops = app.state.ops.clone();
    let job = ops
        .create_job(&rollout_job(file, index.keys().cloned().collect(), LIMIT))
        .await
        .expect("job")
        .job;
    let deadline = tokio::time::Instant::now() + PATIENCE * 3;
    let end = loop {
        let s = observe(&ops, job.id, i64::from(LIMIT)).await;
        if s.job.state != JobState::Running && s.rollout.in_flight() == 0 {
            break s;
        }
        assert!(tokio::time::Instant::now() < deadline, "{s:?}");
        // Only the phones with something to do get a session (released or transferring).
        let progress = ops.job_progress(job.id).await.unwrap();
        let busy: Vec<usize> = app
            .store
            .job_tasks(job.id)
            .await
            .unwrap()
            .iter()
            .filter(|t| progress.outcomes[&t.id].state.in_flight())
            .map(|t| index[&t.device_id])
            .collect();
        sessions(busy).await;
        observe(&ops, job.id, i64::from(LIMIT)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(end.job.state, JobState::Finished, "{end:?}");
    assert_eq!(end.rollout.verified, PHONES as i64, "{:?}", end.rollout);
    sim.shutdown().await;
    app.cleanup().await;
}

/// Downloads that fail on the wire: a file server nobody answers on (9015) and a forged
/// download token (403, 9012). Each phone's fault is reported with its meaning, and the
/// rollout of the others is not held up.
#[tokio::test]
async fn unreachable_urls_and_bad_tokens_fail_only_their_phones() {
    let app = spawn_app().await;
    let sim = phones(&app, 5, "RW").await;
    let file = app
        .upload(FileKind::Firmware, IMAGE, Some(VERSION), &[3u8; 2000])
        .await;
    let ops = app.state.ops.clone();
    let good = ops
        .create_job(&rollout_job(
            file,
            (0..3).map(|i| sim.device(i).device_id()).collect(),
            2,
        ))
        .await
        .expect("job")
        .job;
    let base = app.cwmp_url.trim_end_matches('/');
    let mut failing = Vec::new();
    for (phone, url, code) in [
        (3, format!("http://127.0.0.1:9/{IMAGE}"), 9015),
        (
            4,
            format!("{base}/files/t/forged.0.AA.AAAAAAAAAAAAAAAAAAAAAA/{IMAGE}"),
            9012,
        ),
    ] {
        let mut job = rollout_job(file, vec![sim.device(phone).device_id()], 1);
        job.spec = TaskSpec::Download {
            file_type: "1 Firmware Upgrade Image".into(),
            url,
            file_id: None,
            vars_file_id: None,
            username: String::new(),
            password: Default::default(),
            file_size: 0,
            target_file_name: IMAGE.into(),
            delay_seconds: 0,
        };
        failing.push((ops.create_job(&job).await.expect("job").job.id, code));
    }
    let end = drive(&ops, &sim, 0..5, good.id, 2).await;
    assert_eq!(end.job.state, JobState::Finished, "{end:?}");
    assert_eq!(end.rollout.verified, 3, "{:?}", end.rollout);
    for (job, code) in failing {
        let progress = ops.job_progress(job).await.unwrap();
        let outcome = progress.outcomes.values().next().expect("one phone");
        assert_eq!(outcome.state, RolloutState::Failed, "{outcome:?}");
        assert_eq!(outcome.fault_code, Some(code as i32), "{outcome:?}");
        assert_eq!(
            outcome.meaning.as_deref(),
            Some(FaultCode::from_code(code).meaning())
        );
    }
    sim.shutdown().await;
    app.cleanup().await;
}

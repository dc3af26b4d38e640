//! Whole sessions against an in-memory store, with no HTTP: what the driver stores and sends.

use super::*;
use crate::connreq::{ConnReqClient, ConnReqConfig};
use crate::cwmp::{
    self, Body, CwmpFault, CwmpNamespace, EventCode, EventStruct, FaultCode, ParameterValue,
    SoapFault, TransferComplete, TransferFault,
};
use crate::files::FileStore;
use crate::provision::ProvisionPolicy;
use crate::session::SessionState;
use crate::storage::{FileKind, NewFile, NewTask, StoreOptions, TaskRow, TaskState};
use crate::tasks::TaskSpec;
use std::time::Duration;

/// Makes download URLs that say what they were made from.
#[derive(Debug)]
struct Signer;

impl DownloadSigner for Signer {
    fn download_url(
        &self,
        reached_at: &str,
        device_id: &str,
        task_id: i64,
        file: &FileRow,
        _ttl: chrono::TimeDelta,
    ) -> String {
        format!("{reached_at}/signed/{device_id}/{task_id}/{}", file.name)
    }
}

struct Rig {
    store: Store,
    ops: Arc<Operations>,
    files: FileStore,
    _dir: tempfile::TempDir,
}

/// Nothing queued behind the operator's back: no credentials, no bootstrap read.
fn quiet() -> DriverConfig {
    DriverConfig {
        session: crate::session::SessionConfig::default(),
        provision_cr_credentials: false,
        bootstrap: BootstrapSettings {
            fetch: false,
            ..BootstrapSettings::default()
        },
    }
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::connect("sqlite::memory:", StoreOptions::default())
        .await
        .expect("store");
    store.install_vault(crate::vault::Vault::from_key(&[7; 32]));
    store.migrate().await.expect("migrate");
    let ops = Arc::new(Operations::new(
        store.clone(),
        ConnReqClient::new(ConnReqConfig::default()).expect("connreq"),
    ));
    let files = FileStore::new(dir.path(), store.clone(), 1 << 20);
    files.prepare().expect("files");
    Rig {
        store,
        ops,
        files,
        _dir: dir,
    }
}

impl Rig {
    /// A driver over the rig's store; a second one stands for the ACS after a restart.
    fn driver(&self, config: DriverConfig) -> Driver {
        let provisioner = Provisioner::new(
            self.store.clone(),
            self.files.clone(),
            Vec::new(),
            ProvisionPolicy::default(),
        )
        .expect("provisioner");
        Driver::new(
            self.ops.clone(),
            InformWriter::spawn(self.store.clone(), 100, 16),
            Arc::new(provisioner),
            Arc::new(Signer),
            config,
        )
    }

    async fn enqueue(&self, device: &str, spec: TaskSpec) -> i64 {
        self.store
            .enqueue_task(&NewTask::for_spec(device, &spec))
            .await
            .expect("enqueue")
            .id
    }

    async fn task(&self, id: i64) -> TaskRow {
        self.store.get_task(id).await.expect("read").expect("task")
    }
}

fn inform_from(serial: &str, events: Vec<EventStruct>) -> Envelope {
    let mut inform = cwmp::examples::inform(0);
    inform.device_id.serial_number = serial.into();
    inform.event = events;
    Envelope::new(
        CwmpNamespace::default(),
        Some("1".into()),
        Body::Inform(inform),
    )
}

fn device_key(serial: &str) -> String {
    match inform_from(serial, vec![]).body {
        Body::Inform(i) => i.device_id.device_key(),
        _ => unreachable!(),
    }
}

/// Makes the device known (tasks are only queued for stored devices): a first, empty session.
async fn known(driver: &Driver, serial: &str) -> String {
    let mut session = open(driver, serial, boot()).await;
    let turn = driver
        .on_message(&mut session, None)
        .await
        .expect("empty session");
    assert!(finished(&turn), "{turn:?}");
    device_key(serial)
}

fn boot() -> Vec<EventStruct> {
    vec![EventStruct::new(EventCode::Boot)]
}

fn context() -> InformContext {
    InformContext {
        source: None,
        reached_at: "http://acs.example:7547".into(),
        rotate_credentials: false,
    }
}

async fn open(driver: &Driver, serial: &str, events: Vec<EventStruct>) -> DeviceSession {
    let opened = driver
        .on_inform(inform_from(serial, events), context())
        .await
        .expect("session opens");
    assert!(matches!(opened.reply.body, Body::InformResponse(_)));
    opened.session
}

/// The CPE's answer to `outgoing`.
fn answer(outgoing: &Outgoing, body: Body) -> Option<Envelope> {
    Some(Envelope::new(
        CwmpNamespace::default(),
        outgoing.envelope.header.id.clone(),
        body,
    ))
}

fn fault(outgoing: &Outgoing, code: FaultCode) -> Option<Envelope> {
    answer(outgoing, Body::Fault(SoapFault::new(CwmpFault::new(code))))
}

fn sent(turn: Turn) -> Outgoing {
    match turn {
        Turn::Next {
            next: Next::Send(o),
            ..
        } => o,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn finished(turn: &Turn) -> bool {
    matches!(
        turn,
        Turn::Next {
            next: Next::Finish,
            ..
        }
    )
}

#[tokio::test]
async fn an_inform_opens_a_session_that_sends_the_queue_in_order_and_stores_each_answer() {
    let rig = rig().await;
    let driver = rig.driver(quiet());
    let key = known(&driver, "S1").await;
    let read = rig
        .enqueue(
            &key,
            TaskSpec::GetParameterValues {
                names: vec!["Device.DeviceInfo.UpTime".into()],
            },
        )
        .await;
    let reboot = rig.enqueue(&key, TaskSpec::Reboot {}).await;

    let mut session = open(&driver, "S1", boot()).await;
    assert_eq!(session.device_id(), key);
    // Stored before the InformResponse existed.
    let device = rig.store.get_device(&key).await.unwrap().expect("device");
    assert_eq!(device.serial_number, "S1");

    let first = sent(driver.on_message(&mut session, None).await.unwrap());
    assert_eq!((first.method, first.task_id), ("GetParameterValues", read));
    assert!(first.xml.contains("Device.DeviceInfo.UpTime"));
    assert_eq!(rig.task(read).await.state, TaskState::Sent);

    // Someone waits for the read; the driver tells them once its result is stored.
    let waiter = tokio::spawn({
        let ops = rig.ops.clone();
        async move { ops.wait_for_task(read, Duration::from_secs(300)).await }
    });
    tokio::task::yield_now().await;
    let values = Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
        parameter_list: vec![ParameterValue::new(
            "Device.DeviceInfo.UpTime",
            "42",
            cwmp::ValueType::UnsignedInt,
        )],
    });
    let turn = driver
        .on_message(&mut session, answer(&first, values))
        .await
        .unwrap();
    let Turn::Next {
        completed: Some("GetParameterValues"),
        next: Next::Send(second),
    } = turn
    else {
        panic!("expected the reboot next, got {turn:?}");
    };
    let done = waiter.await.unwrap().unwrap();
    assert_eq!(done.state, TaskState::Done);
    let stored = rig.store.get_parameters(&key, None).await.unwrap();
    assert!(
        stored
            .iter()
            .any(|p| p.name == "Device.DeviceInfo.UpTime" && p.value == "42"),
        "the tree holds what the device answered: {stored:?}"
    );

    assert_eq!((second.method, second.task_id), ("Reboot", reboot));
    let turn = driver
        .on_message(&mut session, answer(&second, Body::RebootResponse))
        .await
        .unwrap();
    assert!(finished(&turn), "{turn:?}");
    assert_eq!(session.protocol().state(), &SessionState::Finished);
    assert_eq!(rig.task(reboot).await.state, TaskState::Done);
}

#[tokio::test]
async fn a_fault_ends_the_task_or_sends_it_back_for_a_later_session() {
    let rig = rig().await;
    let driver = rig.driver(quiet());
    let key = known(&driver, "S2").await;
    let get = |name: &str| TaskSpec::GetParameterValues {
        names: vec![name.into()],
    };
    let refused = rig.enqueue(&key, get("Device.Nope.")).await;
    let busy = rig.enqueue(&key, get("Device.DeviceInfo.")).await;
    let behind = rig.enqueue(&key, get("Device.Time.")).await;

    let mut session = open(&driver, "S2", boot()).await;
    let first = sent(driver.on_message(&mut session, None).await.unwrap());
    let second = sent(
        driver
            .on_message(&mut session, fault(&first, FaultCode::InvalidParameterName))
            .await
            .unwrap(),
    );
    let task = rig.task(refused).await;
    assert_eq!(task.state, TaskState::Fault);
    assert_eq!(task.fault_code, Some(9005));
    assert_eq!(second.task_id, busy);

    // 9002 is worth another try, in a later session: the queue behind it waits too.
    let turn = driver
        .on_message(&mut session, fault(&second, FaultCode::InternalError))
        .await
        .unwrap();
    assert!(finished(&turn), "{turn:?}");
    assert_eq!(rig.task(busy).await.state, TaskState::Queued);
    assert_eq!(rig.task(behind).await.state, TaskState::Queued);

    let mut later = open(&driver, "S2", boot()).await;
    let retried = sent(driver.on_message(&mut later, None).await.unwrap());
    assert_eq!(retried.task_id, busy);
}

#[tokio::test]
async fn a_download_is_signed_for_the_device_and_completed_by_a_later_transfer_complete() {
    let rig = rig().await;
    let driver = rig.driver(quiet());
    let key = known(&driver, "S3").await;
    let file = rig
        .store
        .insert_file(&NewFile {
            name: "sip88xx.12-0-3MPP-5.loads".into(),
            kind: FileKind::Firmware,
            product_class: None,
            version: None,
            sha256: "0".repeat(64),
            size: 1234,
        })
        .await
        .unwrap();
    let spec: TaskSpec = serde_json::from_value(serde_json::json!({
        "kind": "download",
        "file_type": "1 Firmware Upgrade Image",
        "file_id": file.id,
    }))
    .unwrap();
    let task = rig.enqueue(&key, spec).await;

    let mut session = open(&driver, "S3", boot()).await;
    let request = sent(driver.on_message(&mut session, None).await.unwrap());
    let Body::Download(download) = &request.envelope.body else {
        panic!("expected a Download, got {:?}", request.envelope.body);
    };
    assert_eq!(
        download.url,
        format!("http://acs.example:7547/signed/{key}/{task}/sip88xx.12-0-3MPP-5.loads")
    );
    assert_eq!(download.file_size, 1234);
    assert_eq!(download.command_key, format!("acs-{task}"));
    let accepted = Body::DownloadResponse(cwmp::TransferResponse {
        status: 1,
        start_time: cwmp::CwmpDateTime::unknown(),
        complete_time: cwmp::CwmpDateTime::unknown(),
    });
    let turn = driver
        .on_message(&mut session, answer(&request, accepted))
        .await
        .unwrap();
    assert!(finished(&turn));
    let accepted = rig.task(task).await;
    assert_eq!(accepted.state, TaskState::Done);
    let result = accepted.result.expect("result");
    assert_eq!(result.download_status(), Some(1));
    assert!(result.transfer_complete.is_none());

    // The phone reboots into the image and reports in a new session.
    let events = vec![
        EventStruct::new(EventCode::TransferComplete),
        EventStruct::with_key(EventCode::Method("Download".into()), format!("acs-{task}")),
    ];
    let mut later = open(&driver, "S3", events).await;
    let complete = Body::TransferComplete(TransferComplete {
        command_key: format!("acs-{task}"),
        fault_struct: TransferFault {
            fault_code: FaultCode::Other(0),
            fault_string: String::new(),
        },
        start_time: cwmp::CwmpDateTime::from_raw("2026-12-06T03:00:00Z"),
        complete_time: cwmp::CwmpDateTime::from_raw("2026-12-06T03:02:00Z"),
    });
    let message = Envelope::new(CwmpNamespace::default(), Some("9".into()), complete);
    let turn = driver.on_message(&mut later, Some(message)).await.unwrap();
    assert!(matches!(
        turn,
        Turn::Answer(Envelope {
            body: Body::TransferCompleteResponse,
            ..
        })
    ));
    let result = rig.task(task).await.result.expect("result");
    assert_eq!(result.transfer_complete.expect("transfer").fault_code, 0);
    assert!(result.confirmed_at.is_some());
}

#[tokio::test]
async fn tasks_a_crash_left_sent_are_resolved_by_the_next_inform() {
    let rig = rig().await;
    let before = rig.driver(quiet());
    let (rebooted, reread) = (known(&before, "S4").await, known(&before, "S5").await);
    let reboot = rig.enqueue(&rebooted, TaskSpec::Reboot {}).await;
    let read = rig
        .enqueue(
            &reread,
            TaskSpec::GetParameterValues {
                names: vec!["Device.DeviceInfo.".into()],
            },
        )
        .await;
    for serial in ["S4", "S5"] {
        let mut session = open(&before, serial, boot()).await;
        sent(before.on_message(&mut session, None).await.unwrap());
        // The ACS stops here: no answer, no abandon.
    }
    drop(before);

    let after = rig.driver(quiet());
    assert_eq!(after.load_orphans().await.unwrap(), 2);
    // The reboot ran (the Inform says so): done, never sent again.
    let events = vec![
        EventStruct::new(EventCode::Boot),
        EventStruct::with_key(EventCode::Method("Reboot".into()), format!("acs-{reboot}")),
    ];
    let mut session = open(&after, "S4", events).await;
    let task = rig.task(reboot).await;
    assert_eq!(task.state, TaskState::Done);
    assert!(task.result.unwrap().recovered.is_some());
    assert!(finished(
        &after.on_message(&mut session, None).await.unwrap()
    ));
    // Nothing says the read ran: it goes back to the queue and is sent again.
    let mut session = open(&after, "S5", boot()).await;
    let again = sent(after.on_message(&mut session, None).await.unwrap());
    assert_eq!(again.task_id, read);
}

#[tokio::test]
async fn an_abandoned_session_gives_its_outstanding_task_back() {
    let rig = rig().await;
    let driver = rig.driver(quiet());
    let key = known(&driver, "S6").await;
    let task = rig.enqueue(&key, TaskSpec::FactoryReset {}).await;
    let mut session = open(&driver, "S6", boot()).await;
    sent(driver.on_message(&mut session, None).await.unwrap());
    driver.abandon(&mut session).await.unwrap();
    assert_eq!(rig.task(task).await.state, TaskState::Queued);
}

#[tokio::test]
async fn a_session_must_open_with_an_inform() {
    let rig = rig().await;
    let driver = rig.driver(quiet());
    let not_inform = Envelope::new(
        CwmpNamespace::default(),
        Some("1".into()),
        Body::RebootResponse,
    );
    let err = driver.on_inform(not_inform, context()).await.unwrap_err();
    assert!(matches!(err, OpenError::Protocol(_)), "{err}");
}

#[tokio::test]
async fn a_bootstrap_gets_credentials_of_its_own_and_the_bootstrap_read() {
    let rig = rig().await;
    let driver = rig.driver(DriverConfig {
        provision_cr_credentials: true,
        ..DriverConfig::from(&crate::config::Settings::default())
    });
    let key = device_key("S7");
    let opened = driver
        .on_inform(
            inform_from("S7", vec![EventStruct::new(EventCode::Bootstrap)]),
            InformContext {
                rotate_credentials: true,
                ..context()
            },
        )
        .await
        .unwrap();
    let mut session = opened.session;
    let kinds: Vec<String> = rig
        .store
        .list_tasks(&key)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "set_connection_request_credentials",
            "set_management_server_credentials",
            "get_parameter_values"
        ]
    );
    // Applied by the CPE: from now on connection requests use them.
    let set = sent(driver.on_message(&mut session, None).await.unwrap());
    assert_eq!(set.method, "SetParameterValues");
    let applied = Body::SetParameterValuesResponse(cwmp::SetParameterValuesResponse { status: 0 });
    sent(
        driver
            .on_message(&mut session, answer(&set, applied))
            .await
            .unwrap(),
    );
    let device = rig.store.get_device(&key).await.unwrap().expect("device");
    assert!(device.connection_request_username.is_some());
    assert!(device.connection_request_password.is_some());
}

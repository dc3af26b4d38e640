//! Storage tests. Each test is written once as an `async fn(Store)` and run
//! against SQLite (a temporary file) and, when `ACS_TEST_DATABASE_URL` is set
//! (e.g. `postgres://postgres@127.0.0.1:5432/postgres`), against a fresh
//! PostgreSQL database created for the test and dropped afterwards.
//!
//! `cargo test --release -- --ignored --nocapture bench_` runs the
//! throughput measurement.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use crate::storage::{
    Backend, EventRecord, InformRecord, NewTask, ParameterRecord, Store, StoreError, StoreOptions,
    TaskState,
};

const PG_ENV: &str = "ACS_TEST_DATABASE_URL";

// ---------------------------------------------------------------- harness

/// Where a test's database lives; removed by [`TestDb::teardown`].
enum Place {
    /// Held so the directory lives until teardown.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

struct TestDb {
    store: Store,
    place: Place,
}

fn unique_suffix() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = Utc::now().timestamp_subsec_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Replaces the database name in a `postgres://…/db?…` URL.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        // A nested path also checks that the parent directory is created.
        let path = dir.path().join("nested").join("acs.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let store = Store::connect(&url, StoreOptions::default())
            .await
            .expect("connect sqlite");
        TestDb {
            store,
            place: Place::Sqlite(dir),
        }
    }

    async fn postgres() -> Option<TestDb> {
        Self::postgres_with(StoreOptions {
            max_connections: 10,
            ..StoreOptions::default()
        })
        .await
    }

    async fn postgres_with(opts: StoreOptions) -> Option<TestDb> {
        let admin_url = std::env::var(PG_ENV).ok()?;
        let name = format!("acs_test_{}", unique_suffix());
        let admin = Database::connect(&admin_url)
            .await
            .expect("connect admin db");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        admin.close().await.expect("close admin");
        let store = Store::connect(&with_database(&admin_url, &name), opts)
            .await
            .expect("connect test database");
        Some(TestDb {
            store,
            place: Place::Postgres { admin_url, name },
        })
    }

    async fn teardown(self) {
        let _ = self.store.close().await;
        if let Place::Postgres { admin_url, name } = self.place
            && let Ok(admin) = Database::connect(&admin_url).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
            let _ = admin.close().await;
        }
    }
}

/// Runs `body` on its own task so a failing assertion still lets the test
/// database be dropped, then re-raises the panic.
async fn run_on<F, Fut>(db: TestDb, body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let result = tokio::spawn(body(db.store.clone())).await;
    db.teardown().await;
    if let Err(e) = result {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("test task failed: {e}");
    }
}

macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::run_on(super::TestDb::sqlite().await, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match super::TestDb::postgres().await {
                        Some(db) => super::run_on(db, super::$name).await,
                        None => eprintln!("{} not set: skipping PostgreSQL test", super::PG_ENV),
                    }
                }
            )*
        }
    };
}

backend_tests!(
    migrations_are_idempotent,
    record_inform_creates_then_updates,
    bootstrap_clears_parameters_and_credentials,
    forty_thousand_parameters,
    event_retention_prunes,
    task_queue_order_and_cas,
    task_expiry,
    task_requeue_and_attempts,
    concurrent_informs_from_50_tasks,
    batched_informs,
    tags,
    delete_cascades,
    parameter_prefix_filter,
    filter_required_examples,
    filter_boolean_logic,
    filter_parameters,
    filter_times,
    filter_keyset_paging,
    filter_id_batches_and_errors,
);

mod filter_sql;
use filter_sql::{
    filter_boolean_logic, filter_id_batches_and_errors, filter_keyset_paging, filter_parameters,
    filter_required_examples, filter_times,
};

// ---------------------------------------------------------------- helpers

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + secs, 123_456_789)
        .single()
        .expect("valid timestamp")
}

async fn migrated(store: Store) -> Store {
    store.migrate().await.expect("migrate");
    store
}

fn param(name: &str, value: &str) -> ParameterRecord {
    ParameterRecord::new(name, value, "xsd:string")
}

fn inform(device: &str, at: DateTime<Utc>, events: &[&str]) -> InformRecord {
    InformRecord {
        device_id: device.to_owned(),
        manufacturer: "Acme".into(),
        oui: "00a0bc".into(),
        product_class: "CPE-1".into(),
        serial_number: format!("SN-{device}"),
        remote_ip: Some("192.0.2.10".into()),
        cwmp_version: "urn:dslforum-org:cwmp-1-2".into(),
        events: events
            .iter()
            .map(|c| EventRecord {
                code: (*c).into(),
                command_key: None,
            })
            .collect(),
        parameters: vec![
            param("InternetGatewayDevice.DeviceInfo.SoftwareVersion", "1.0"),
            param("InternetGatewayDevice.DeviceInfo.HardwareVersion", "HW1"),
            param("InternetGatewayDevice.DeviceInfo.ProvisioningCode", "PC"),
            param(
                "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
                "http://192.0.2.10:7547/cr",
            ),
            param(
                "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
                "300",
            ),
            param(
                "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.MACAddress",
                "00-a0-bc-01-02-03",
            ),
        ],
        received_at: at,
        is_bootstrap: events.contains(&"0 BOOTSTRAP"),
        is_boot: events.contains(&"1 BOOT"),
    }
}

fn new_task(device: &str, kind: &str) -> NewTask {
    NewTask {
        device_id: device.into(),
        kind: kind.into(),
        payload: json!({"names": ["Device."]}),
        command_key: None,
        max_attempts: 3,
        expires_at: None,
        job_id: None,
    }
}

fn ts6(x: DateTime<Utc>) -> DateTime<Utc> {
    crate::storage::ts(x)
}

// ---------------------------------------------------------------- tests

async fn migrations_are_idempotent(store: Store) {
    let before = store.migration_status().await.expect("status before");
    assert!(!before.is_empty());
    assert!(before.iter().all(|m| !m.applied), "{before:?}");
    store.migrate().await.expect("first migrate");
    store.migrate().await.expect("second migrate");
    let after = store.migration_status().await.expect("status after");
    assert_eq!(after.len(), before.len());
    assert!(after.iter().all(|m| m.applied), "{after:?}");
    assert_eq!(after[0].name, "m20261121_000001_initial_schema");
    assert_eq!(after[1].name, "m20261121_000002_api_tokens");
    assert_eq!(store.count_devices().await.expect("count"), 0);
}

async fn record_inform_creates_then_updates(store: Store) {
    let store = migrated(store).await;
    let first = inform("dev-1", t(0), &["0 BOOTSTRAP", "1 BOOT"]);
    let row = store.record_inform(&first, 64).await.expect("first inform");
    assert_eq!(row.id, "dev-1");
    assert_eq!(row.oui, "00a0bc");
    assert_eq!(row.oui_normalized, "00A0BC");
    assert_eq!(row.first_seen, ts6(t(0)));
    assert_eq!(row.last_inform, ts6(t(0)));
    assert_eq!(row.last_boot, Some(ts6(t(0))));
    assert_eq!(row.last_bootstrap, Some(ts6(t(0))));
    assert_eq!(row.software_version.as_deref(), Some("1.0"));
    assert_eq!(row.hardware_version.as_deref(), Some("HW1"));
    assert_eq!(row.provisioning_code.as_deref(), Some("PC"));
    assert_eq!(
        row.connection_request_url.as_deref(),
        Some("http://192.0.2.10:7547/cr")
    );
    assert_eq!(row.periodic_inform_interval, Some(300));
    assert_eq!(row.mac.as_deref(), Some("00:A0:BC:01:02:03"));
    assert_eq!(row.last_events, ["0 BOOTSTRAP", "1 BOOT"]);
    assert_eq!(row.cwmp_version, "urn:dslforum-org:cwmp-1-2");

    let mut second = inform("dev-1", t(300), &["2 PERIODIC"]);
    second.parameters[0].value = "2.0".into();
    second.remote_ip = Some("198.51.100.7".into());
    second.cwmp_version = "urn:dslforum-org:cwmp-1-0".into();
    // Not reported this time: stored value must be kept.
    second
        .parameters
        .retain(|p| !p.name.ends_with("ProvisioningCode"));
    let row = store
        .record_inform(&second, 64)
        .await
        .expect("second inform");
    assert_eq!(row.first_seen, ts6(t(0)), "first_seen kept");
    assert_eq!(row.created_at, ts6(t(0)));
    assert_eq!(row.last_inform, ts6(t(300)));
    assert_eq!(row.updated_at, ts6(t(300)));
    assert_eq!(row.last_boot, Some(ts6(t(0))), "last_boot kept");
    assert_eq!(row.last_bootstrap, Some(ts6(t(0))));
    assert_eq!(row.software_version.as_deref(), Some("2.0"));
    assert_eq!(row.provisioning_code.as_deref(), Some("PC"));
    assert_eq!(row.remote_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(row.cwmp_version, "urn:dslforum-org:cwmp-1-0");
    assert_eq!(row.last_events, ["2 PERIODIC"]);
    assert_eq!(
        store.get_device("dev-1").await.expect("get"),
        Some(row.clone())
    );

    // Changed parameter rewritten, unchanged ones untouched.
    let params = store.get_parameters("dev-1", None).await.expect("params");
    assert_eq!(params.len(), 6);
    let sw = params
        .iter()
        .find(|p| p.name.ends_with("SoftwareVersion"))
        .expect("sw param");
    assert_eq!((sw.value.as_str(), sw.updated_at), ("2.0", ts6(t(300))));
    let hw = params
        .iter()
        .find(|p| p.name.ends_with("HardwareVersion"))
        .expect("hw param");
    assert_eq!(hw.updated_at, ts6(t(0)));

    let events = store.list_events("dev-1", 10).await.expect("events");
    let codes: Vec<_> = events.iter().map(|e| e.event_code.as_str()).collect();
    assert_eq!(codes, ["2 PERIODIC", "1 BOOT", "0 BOOTSTRAP"]);

    assert_eq!(store.count_devices().await.expect("count"), 1);
    let by_serial = store
        .find_devices_by_serial("SN-dev-1")
        .await
        .expect("serial");
    assert_eq!(by_serial.len(), 1);
    let by_mac = store
        .find_devices_by_mac("00a0bc010203")
        .await
        .expect("mac");
    assert_eq!(by_mac.len(), 1);
    assert!(store.get_device("nope").await.expect("get none").is_none());

    let mut bad = inform("", t(1), &[]);
    bad.device_id.clear();
    assert!(matches!(
        store.record_inform(&bad, 64).await,
        Err(StoreError::InvalidInput(_))
    ));
}

async fn bootstrap_clears_parameters_and_credentials(store: Store) {
    let store = migrated(store).await;
    store.install_vault(crate::vault::Vault::from_key(&[3; 32]));
    store
        .record_inform(&inform("dev-b", t(0), &["0 BOOTSTRAP"]), 64)
        .await
        .expect("bootstrap 1");
    store
        .set_connection_request_credentials("dev-b", Some("acs"), Some("s3cret"))
        .await
        .expect("set creds");
    store
        .upsert_parameters(
            "dev-b",
            &[param("InternetGatewayDevice.X_Custom.Setting", "on")],
            t(5),
        )
        .await
        .expect("extra param");
    assert_eq!(
        store.get_parameters("dev-b", None).await.expect("p").len(),
        7
    );

    // A periodic Inform keeps credentials and parameters.
    let row = store
        .record_inform(&inform("dev-b", t(300), &["2 PERIODIC"]), 64)
        .await
        .expect("periodic");
    assert_eq!(row.connection_request_username.as_deref(), Some("acs"));
    // Stored sealed, opened with the key.
    let stored = row.connection_request_password.as_ref().expect("stored");
    assert!(crate::vault::is_sealed(stored.expose()));
    assert_eq!(store.open_secret(stored).expect("open").expose(), "s3cret");
    assert!(
        !format!("{row:?}").contains("s3cret"),
        "secrets never reach Debug output"
    );
    assert_eq!(
        store.get_parameters("dev-b", None).await.expect("p").len(),
        7
    );

    // Bootstrap again (factory reset): only the reported parameters remain.
    let mut again = inform("dev-b", t(600), &["0 BOOTSTRAP", "1 BOOT"]);
    again.parameters.truncate(2);
    let row = store.record_inform(&again, 64).await.expect("bootstrap 2");
    assert_eq!(row.connection_request_username, None);
    assert_eq!(row.connection_request_password, None);
    assert_eq!(row.last_bootstrap, Some(ts6(t(600))));
    let names: Vec<String> = store
        .get_parameters("dev-b", None)
        .await
        .expect("p")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        names,
        [
            "InternetGatewayDevice.DeviceInfo.HardwareVersion",
            "InternetGatewayDevice.DeviceInfo.SoftwareVersion"
        ]
    );
    // Values derived earlier and not re-reported are kept on the device row.
    assert_eq!(row.provisioning_code.as_deref(), Some("PC"));

    assert!(matches!(
        store
            .set_connection_request_credentials("missing", Some("a"), Some("b"))
            .await,
        Err(StoreError::DeviceNotFound(_))
    ));
}

async fn forty_thousand_parameters(store: Store) {
    let store = migrated(store).await;
    let mut big = inform("dev-big", t(0), &["0 BOOTSTRAP"]);
    big.parameters = (0..40_000)
        .map(|i| param(&format!("Device.X_Test.Item.{i}.Value"), &format!("v{i}")))
        .collect();
    // Duplicate name: the last occurrence wins.
    big.parameters
        .push(param("Device.X_Test.Item.7.Value", "last"));
    store
        .record_inform(&big, 64)
        .await
        .expect("inform with 40k params");
    let all = store
        .get_parameters("dev-big", None)
        .await
        .expect("get all");
    assert_eq!(all.len(), 40_000);
    let seven = all
        .iter()
        .find(|p| p.name == "Device.X_Test.Item.7.Value")
        .expect("item 7");
    assert_eq!(seven.value, "last");

    let update: Vec<ParameterRecord> = (0..40_000)
        .map(|i| ParameterRecord {
            writable: Some(i % 2 == 0),
            ..param(&format!("Device.X_Test.Item.{i}.Value"), &format!("w{i}"))
        })
        .collect();
    store
        .upsert_parameters("dev-big", &update, t(10))
        .await
        .expect("upsert 40k");
    let all = store
        .get_parameters("dev-big", None)
        .await
        .expect("get all");
    assert_eq!(all.len(), 40_000);
    assert!(
        all.iter()
            .all(|p| p.value.starts_with('w') && p.updated_at == ts6(t(10)))
    );
    let p2 = all
        .iter()
        .find(|p| p.name == "Device.X_Test.Item.2.Value")
        .expect("item 2");
    assert_eq!(p2.writable, Some(true));

    // Unknown writability keeps the stored flag.
    store
        .upsert_parameters(
            "dev-big",
            &[param("Device.X_Test.Item.2.Value", "w2")],
            t(20),
        )
        .await
        .expect("upsert one");
    let p2 = store
        .get_parameters("dev-big", Some("Device.X_Test.Item.2.Value"))
        .await
        .expect("get one");
    assert_eq!(p2.len(), 1);
    assert_eq!(p2[0].writable, Some(true));
    assert_eq!(
        p2[0].updated_at,
        ts6(t(10)),
        "unchanged value is not rewritten"
    );

    assert!(matches!(
        store.upsert_parameters("missing", &update[..3], t(1)).await,
        Err(StoreError::DeviceNotFound(_))
    ));
}

async fn event_retention_prunes(store: Store) {
    let store = migrated(store).await;
    store
        .record_inform(&inform("dev-other", t(0), &["0 BOOTSTRAP", "1 BOOT"]), 5)
        .await
        .expect("other");
    for i in 0..10 {
        let mut inf = inform("dev-e", t(i), &["2 PERIODIC"]);
        inf.events.push(EventRecord {
            code: "M Reboot".into(),
            command_key: Some(format!("ck{i}")),
        });
        store.record_inform(&inf, 5).await.expect("inform");
    }
    let events = store.list_events("dev-e", 100).await.expect("events");
    assert_eq!(events.len(), 5);
    assert!(events.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(events[0].command_key.as_deref(), Some("ck9"));
    assert_eq!(events[0].received_at, ts6(t(9)));
    assert_eq!(store.list_events("dev-e", 2).await.expect("limit").len(), 2);
    assert_eq!(
        store
            .list_events("dev-other", 100)
            .await
            .expect("other")
            .len(),
        2
    );

    // Retention 0 keeps nothing.
    store
        .record_inform(&inform("dev-e", t(100), &["2 PERIODIC"]), 0)
        .await
        .expect("inform");
    assert!(
        store
            .list_events("dev-e", 100)
            .await
            .expect("events")
            .is_empty()
    );
}

async fn task_queue_order_and_cas(store: Store) {
    let store = migrated(store).await;
    store
        .record_inform(&inform("dev-q", t(0), &["1 BOOT"]), 64)
        .await
        .expect("inform");
    assert!(
        store
            .next_queued_task("dev-q", t(1))
            .await
            .expect("empty")
            .is_none()
    );

    let a = store
        .enqueue_task(&new_task("dev-q", "get_parameter_values"))
        .await
        .expect("a");
    let b = store
        .enqueue_task(&new_task("dev-q", "reboot"))
        .await
        .expect("b");
    let c = store
        .enqueue_task(&new_task("dev-q", "factory_reset"))
        .await
        .expect("c");
    assert!(a.id < b.id && b.id < c.id);
    assert_eq!(a.state, TaskState::Queued);
    assert_eq!(a.attempts, 0);
    assert_eq!(a.payload, json!({"names": ["Device."]}));

    let head = store.next_queued_task("dev-q", t(1)).await.expect("head");
    assert_eq!(head.as_ref().map(|t| t.id), Some(a.id));

    let sent = store
        .mark_task_sent(a.id, "cwmp-1", t(2))
        .await
        .expect("send a");
    assert_eq!(sent.state, TaskState::Sent);
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.cwmp_id.as_deref(), Some("cwmp-1"));
    assert_eq!(sent.sent_at, Some(ts6(t(2))));
    // Compare-and-set: a task is never sent twice.
    match store.mark_task_sent(a.id, "cwmp-2", t(3)).await {
        Err(StoreError::TaskStateConflict {
            task_id,
            expected: TaskState::Queued,
            actual: TaskState::Sent,
        }) => assert_eq!(task_id, a.id),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(
        store
            .sent_tasks_for_device("dev-q")
            .await
            .expect("sent")
            .len(),
        1
    );
    // Queue head moves on.
    let head = store.next_queued_task("dev-q", t(3)).await.expect("head");
    assert_eq!(head.map(|t| t.id), Some(b.id));

    let answer = crate::tasks::TaskResult {
        response: Some(crate::tasks::Response::SetParameterValues { status: 0 }),
        ..Default::default()
    };
    let done = store
        .complete_task(a.id, &answer, t(4))
        .await
        .expect("complete");
    assert_eq!(done.state, TaskState::Done);
    assert_eq!(done.result, Some(answer.clone()));
    assert_eq!(done.finished_at, Some(ts6(t(4))));
    assert!(matches!(
        store.complete_task(a.id, &answer, t(5)).await,
        Err(StoreError::TaskStateConflict {
            actual: TaskState::Done,
            ..
        })
    ));
    // complete/fault only from sent.
    assert!(matches!(
        store.complete_task(b.id, &answer, t(5)).await,
        Err(StoreError::TaskStateConflict {
            expected: TaskState::Sent,
            actual: TaskState::Queued,
            ..
        })
    ));

    store
        .mark_task_sent(b.id, "cwmp-3", t(6))
        .await
        .expect("send b");
    let faulted = store
        .fault_task(
            b.id,
            9002,
            "Internal error",
            Some(&json!({"detail": 1})),
            t(7),
        )
        .await
        .expect("fault");
    assert_eq!(faulted.state, TaskState::Fault);
    assert_eq!(faulted.fault_code, Some(9002));
    assert_eq!(faulted.fault_string.as_deref(), Some("Internal error"));
    assert_eq!(faulted.fault_detail, Some(json!({"detail": 1})));

    // cancel: only from queued.
    let cancelled = store.cancel_task(c.id).await.expect("cancel");
    assert_eq!(cancelled.state, TaskState::Cancelled);
    assert!(cancelled.finished_at.is_some());
    assert!(matches!(
        store.cancel_task(c.id).await,
        Err(StoreError::TaskStateConflict { .. })
    ));
    assert!(matches!(
        store.mark_task_sent(c.id, "x", t(8)).await,
        Err(StoreError::TaskStateConflict {
            actual: TaskState::Cancelled,
            ..
        })
    ));
    assert!(matches!(
        store.mark_task_sent(999_999, "x", t(8)).await,
        Err(StoreError::TaskNotFound(999_999))
    ));
    assert!(
        store
            .next_queued_task("dev-q", t(9))
            .await
            .expect("empty")
            .is_none()
    );

    let all = store.list_tasks("dev-q").await.expect("list");
    let states: Vec<_> = all.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [TaskState::Done, TaskState::Fault, TaskState::Cancelled]
    );
    assert_eq!(store.get_task(b.id).await.expect("get"), Some(faulted));
    assert!(store.get_task(424_242).await.expect("get none").is_none());

    assert!(matches!(
        store.enqueue_task(&new_task("missing", "reboot")).await,
        Err(StoreError::DeviceNotFound(_))
    ));
    let mut bad = new_task("dev-q", "reboot");
    bad.max_attempts = 0;
    assert!(matches!(
        store.enqueue_task(&bad).await,
        Err(StoreError::InvalidInput(_))
    ));

    // Concurrent senders: exactly one wins.
    let d = store
        .enqueue_task(&new_task("dev-q", "reboot"))
        .await
        .expect("d");
    let mut handles = Vec::new();
    for i in 0..8 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            s.mark_task_sent(d.id, &format!("id-{i}"), t(10)).await
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.expect("join") {
            Ok(_) => ok += 1,
            Err(StoreError::TaskStateConflict { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(ok, 1);
}

async fn task_expiry(store: Store) {
    let store = migrated(store).await;
    store
        .record_inform(&inform("dev-x", t(0), &["1 BOOT"]), 64)
        .await
        .expect("inform");
    let mut early = new_task("dev-x", "reboot");
    early.expires_at = Some(t(100));
    let early = store.enqueue_task(&early).await.expect("early");
    let mut late = new_task("dev-x", "download");
    late.expires_at = Some(t(1_000));
    let late = store.enqueue_task(&late).await.expect("late");
    let never = store
        .enqueue_task(&new_task("dev-x", "reboot"))
        .await
        .expect("never");

    // Before the deadline the first task is served.
    let head = store.next_queued_task("dev-x", t(50)).await.expect("head");
    assert_eq!(head.map(|t| t.id), Some(early.id));
    // Exactly at the deadline it has expired.
    let head = store.next_queued_task("dev-x", t(100)).await.expect("head");
    assert_eq!(head.map(|t| t.id), Some(late.id));
    let e = store
        .get_task(early.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(e.state, TaskState::Expired);
    assert_eq!(e.finished_at, Some(ts6(t(100))));
    // Both deadlines passed: both expired on the way, third served.
    let head = store
        .next_queued_task("dev-x", t(5_000))
        .await
        .expect("head");
    assert_eq!(head.map(|t| t.id), Some(never.id));
    assert_eq!(
        store.get_task(late.id).await.expect("get").map(|t| t.state),
        Some(TaskState::Expired)
    );
    assert!(matches!(
        store.mark_task_sent(early.id, "x", t(5_000)).await,
        Err(StoreError::TaskStateConflict {
            actual: TaskState::Expired,
            ..
        })
    ));
}

async fn task_requeue_and_attempts(store: Store) {
    let store = migrated(store).await;
    store
        .record_inform(&inform("dev-r", t(0), &["1 BOOT"]), 64)
        .await
        .expect("inform");
    let mut nt = new_task("dev-r", "reboot");
    nt.max_attempts = 2;
    let task = store.enqueue_task(&nt).await.expect("enqueue");
    store
        .mark_task_sent(task.id, "c1", t(1))
        .await
        .expect("send 1");
    let rq = store.requeue_task(task.id).await.expect("requeue");
    assert_eq!(rq.state, TaskState::Queued);
    assert_eq!(rq.attempts, 1);
    assert_eq!(rq.cwmp_id, None);
    assert!(matches!(
        store.requeue_task(task.id).await,
        Err(StoreError::TaskStateConflict {
            expected: TaskState::Sent,
            actual: TaskState::Queued,
            ..
        })
    ));
    let s2 = store
        .mark_task_sent(task.id, "c2", t(2))
        .await
        .expect("send 2");
    assert_eq!(s2.attempts, 2);
    // Attempts exhausted: requeue gives up.
    let gave_up = store.requeue_task(task.id).await.expect("requeue 2");
    assert_eq!(gave_up.state, TaskState::Fault);
    assert_eq!(gave_up.fault_code, None);
    assert_eq!(
        gave_up.fault_string.as_deref(),
        Some(crate::storage::tasks::ATTEMPTS_EXHAUSTED)
    );
    assert!(gave_up.finished_at.is_some());
}

async fn concurrent_informs_from_50_tasks(store: Store) {
    let store = migrated(store).await;
    let mut handles = Vec::new();
    for d in 0..50 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            let id = format!("conc-{d}");
            for i in 0..10 {
                let events: &[&str] = if i == 0 {
                    &["0 BOOTSTRAP", "1 BOOT"]
                } else {
                    &["2 PERIODIC"]
                };
                let mut inf = inform(&id, t(i), events);
                inf.parameters.push(param(
                    "InternetGatewayDevice.DeviceInfo.UpTime",
                    &i.to_string(),
                ));
                s.record_inform(&inf, 8).await?;
                // Interleave reads and other writes.
                s.get_device(&id).await?;
                if i == 5 {
                    s.enqueue_task(&new_task(&id, "reboot")).await?;
                    s.next_queued_task(&id, t(i)).await?;
                }
            }
            Ok::<_, StoreError>(())
        }));
    }
    for h in handles {
        h.await
            .expect("join")
            .expect("no SQLITE_BUSY or other error");
    }
    assert_eq!(store.count_devices().await.expect("count"), 50);
    let dev = store
        .get_device("conc-7")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(dev.last_inform, ts6(t(9)));
    assert_eq!(
        store
            .list_events("conc-7", 100)
            .await
            .expect("events")
            .len(),
        8
    );
}

/// The same Informs recorded one by one and as one batch give the same rows.
async fn batched_informs(store: Store) {
    let store = migrated(store).await;
    let mut batch = Vec::new();
    for d in 0..20 {
        batch.push(inform(
            &format!("batch-{d}"),
            t(0),
            &["0 BOOTSTRAP", "1 BOOT"],
        ));
    }
    // The same device twice in one batch, the second Inform later.
    let mut again = inform("batch-3", t(30), &["2 PERIODIC"]);
    again.parameters[0].value = "9.9".into();
    batch.push(again);
    let rows = store.record_informs(&batch, 3).await.expect("batch");
    assert_eq!(rows.len(), 21);
    assert_eq!(rows[0].id, "batch-0");
    assert_eq!(rows[3].software_version.as_deref(), Some("1.0"));
    assert_eq!(rows[20].id, "batch-3");
    assert_eq!(rows[20].software_version.as_deref(), Some("9.9"));
    assert_eq!(rows[20].first_seen, ts6(t(0)));
    assert_eq!(rows[20].last_inform, ts6(t(30)));
    assert_eq!(store.count_devices().await.expect("count"), 20);
    assert_eq!(store.list_events("batch-3", 10).await.expect("ev").len(), 3);
    assert_eq!(store.list_events("batch-4", 10).await.expect("ev").len(), 2);

    let single = store
        .record_inform(&inform("single", t(0), &["0 BOOTSTRAP", "1 BOOT"]), 3)
        .await
        .expect("single");
    let batched = &rows[5];
    assert_eq!(single.mac, batched.mac);
    assert_eq!(single.last_events, batched.last_events);
    assert_eq!(
        single.periodic_inform_interval,
        batched.periodic_inform_interval
    );
    assert!(
        store
            .record_informs(&[], 3)
            .await
            .expect("empty")
            .is_empty()
    );
}

async fn tags(store: Store) {
    let store = migrated(store).await;
    store
        .record_inform(&inform("dev-t", t(0), &["1 BOOT"]), 64)
        .await
        .expect("inform");
    store.add_tag("dev-t", "zeta").await.expect("tag");
    store.add_tag("dev-t", "alpha").await.expect("tag");
    store
        .add_tag("dev-t", "alpha")
        .await
        .expect("tag again is a no-op");
    assert_eq!(
        store.list_tags("dev-t").await.expect("list"),
        ["alpha", "zeta"]
    );
    assert!(store.remove_tag("dev-t", "zeta").await.expect("remove"));
    assert!(
        !store
            .remove_tag("dev-t", "zeta")
            .await
            .expect("remove again")
    );
    assert_eq!(store.list_tags("dev-t").await.expect("list"), ["alpha"]);
    assert!(matches!(
        store.add_tag("missing", "x").await,
        Err(StoreError::DeviceNotFound(_))
    ));
    assert!(matches!(
        store.add_tag("dev-t", "").await,
        Err(StoreError::InvalidInput(_))
    ));
}

async fn delete_cascades(store: Store) {
    let store = migrated(store).await;
    store
        .record_inform(&inform("dev-d", t(0), &["0 BOOTSTRAP", "1 BOOT"]), 64)
        .await
        .expect("inform");
    store.add_tag("dev-d", "x").await.expect("tag");
    let task = store
        .enqueue_task(&new_task("dev-d", "reboot"))
        .await
        .expect("task");
    assert!(store.delete_device("dev-d").await.expect("delete"));
    assert!(!store.delete_device("dev-d").await.expect("delete again"));
    assert!(store.get_device("dev-d").await.expect("get").is_none());
    assert!(
        store
            .get_parameters("dev-d", None)
            .await
            .expect("p")
            .is_empty()
    );
    assert!(store.list_events("dev-d", 10).await.expect("e").is_empty());
    assert!(store.list_tags("dev-d").await.expect("t").is_empty());
    assert!(store.get_task(task.id).await.expect("task").is_none());
}

async fn parameter_prefix_filter(store: Store) {
    let store = migrated(store).await;
    store
        .record_inform(&inform("dev-p", t(0), &["1 BOOT"]), 64)
        .await
        .expect("inform");
    store
        .upsert_parameters(
            "dev-p",
            &[
                param("Device.X_ACME_Thing.A", "1"),
                param("Device.XYACMEZThing.B", "2"), // `_` must not act as a wildcard
                param("device.x_acme_thing.C", "3"), // case-sensitive
                param("Device.X_ACME_Thing.%", "4"),
            ],
            t(1),
        )
        .await
        .expect("upsert");
    let names: Vec<String> = store
        .get_parameters("dev-p", Some("Device.X_ACME_Thing."))
        .await
        .expect("prefix")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["Device.X_ACME_Thing.%", "Device.X_ACME_Thing.A"]);
    let devinfo = store
        .get_parameters("dev-p", Some("InternetGatewayDevice.DeviceInfo."))
        .await
        .expect("prefix");
    assert_eq!(devinfo.len(), 3);
    assert_eq!(
        store
            .get_parameters("dev-p", None)
            .await
            .expect("all")
            .len(),
        10
    );
}

/// `pg_synchronous_commit: false` reaches the server session.
#[tokio::test]
async fn pg_synchronous_commit_option() {
    let relaxed = StoreOptions {
        pg_synchronous_commit: false,
        ..StoreOptions::default()
    };
    let Some(db) = TestDb::postgres_with(relaxed).await else {
        eprintln!("{PG_ENV} not set: skipping PostgreSQL test");
        return;
    };
    run_on(db, |store| async move {
        let row = store
            .read
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SHOW synchronous_commit",
            ))
            .await
            .expect("show")
            .expect("row");
        let v: String = row.try_get("", "synchronous_commit").expect("value");
        assert_eq!(v, "off");
    })
    .await;
}

// ------------------------------------------------------- SQLite-specific

#[tokio::test]
async fn unsupported_url_is_rejected() {
    match Store::connect("mysql://u:p@h/db", StoreOptions::default()).await {
        Err(StoreError::UnsupportedUrl(s)) => assert_eq!(s, "mysql"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = Store::connect("sqlite::memory:", StoreOptions::default())
        .await
        .expect("connect");
    assert_eq!(store.backend(), Backend::Sqlite);
    let store = migrated(store).await;
    store
        .record_inform(&inform("m", t(0), &["1 BOOT"]), 4)
        .await
        .expect("inform");
    assert!(store.get_device("m").await.expect("get").is_some());
}

/// Two independent stores on one file behave like two processes (each has
/// its own writer connection): `BEGIN IMMEDIATE` + `busy_timeout` make them
/// wait for each other instead of failing with SQLITE_BUSY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_on_one_sqlite_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    let a = Store::connect(&url, StoreOptions::default())
        .await
        .expect("a");
    a.migrate().await.expect("migrate");
    let b = Store::connect(&url, StoreOptions::default())
        .await
        .expect("b");
    let mut handles = Vec::new();
    for (n, s) in [a.clone(), b.clone()]
        .into_iter()
        .cycle()
        .take(16)
        .enumerate()
    {
        handles.push(tokio::spawn(async move {
            for i in 0..20 {
                s.record_inform(&inform(&format!("p{n}"), t(i), &["2 PERIODIC"]), 4)
                    .await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for h in handles {
        h.await.expect("join").expect("no SQLITE_BUSY");
    }
    assert_eq!(b.count_devices().await.expect("count"), 16);
}

/// `begin_write` really issues `BEGIN IMMEDIATE`: the write lock is held
/// as soon as the transaction is open, before any statement ran, so another
/// connection (with no busy timeout) cannot start a write transaction.
#[tokio::test]
async fn sqlite_write_transactions_begin_immediate() {
    use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    use sea_orm::sqlx::{self, Connection as _};
    use std::str::FromStr;

    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("i.db").display());
    let store = migrated(
        Store::connect(&url, StoreOptions::default())
            .await
            .expect("connect"),
    )
    .await;
    let opts = SqliteConnectOptions::from_str(&url)
        .expect("opts")
        .busy_timeout(Duration::ZERO);
    let mut other = SqliteConnection::connect_with(&opts).await.expect("other");

    let txn = store.begin_write().await.expect("begin");
    let err = sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect_err("write lock must already be held");
    assert!(err.to_string().contains("locked"), "{err}");
    txn.commit().await.expect("commit");

    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("free now");
    sqlx::query("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("rollback");
    other.close().await.expect("close");
}

#[test]
fn database_name_replacement() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

// ------------------------------------------------------------ measurement

/// Periodic Inform (10 parameters, 1 event) for distinct existing devices.
fn periodic(device: usize, at: DateTime<Utc>) -> InformRecord {
    let mut inf = inform(&format!("bench-{device}"), at, &["2 PERIODIC"]);
    inf.parameters.extend([
        param("InternetGatewayDevice.DeviceSummary", "InternetGatewayDevice:1.4[](Baseline:1)"),
        param("InternetGatewayDevice.DeviceInfo.SpecVersion", "1.0"),
        param(
            "InternetGatewayDevice.ManagementServer.ParameterKey",
            "",
        ),
        param(
            "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress",
            "192.0.2.10",
        ),
    ]);
    inf
}

/// CPU time (user + system) this process has used, from /proc (Linux).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 Hz on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

fn report(label: &str, what: &str, n: usize, wall: Duration, cpu: Duration) {
    println!(
        "{label}: {what}: {:.0} informs/s, {:.0} us CPU (this process) per inform",
        n as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / n as f64
    );
}

async fn bench_store(store: Store, label: &str) {
    const DEVICES: usize = 4_000;
    const WORKERS: usize = 8;
    let store = migrated(store).await;
    let seed: Vec<InformRecord> = (0..DEVICES).map(|d| periodic(d, t(0))).collect();
    for chunk in seed.chunks(500) {
        store.record_informs(chunk, 64).await.expect("seed");
    }

    // 1. One transaction per Inform, from 8 concurrent tasks (and from 1,
    //    for comparison).
    for (round, workers) in [(1i64, WORKERS), (2, 1)] {
        let start = Instant::now();
        let cpu = process_cpu();
        let mut handles = Vec::new();
        for w in 0..workers {
            let s = store.clone();
            handles.push(tokio::spawn(async move {
                let mut d = w;
                while d < DEVICES {
                    s.record_inform(&periodic(d, t(300 * round)), 64)
                        .await
                        .expect("inform");
                    d += workers;
                }
            }));
        }
        for h in handles {
            h.await.expect("join");
        }
        report(
            label,
            &format!("record_inform, 1 tx each, {workers} tasks"),
            DEVICES,
            start.elapsed(),
            process_cpu() - cpu,
        );
    }

    // 2. Batched (group commit), one writer.
    for batch in [16usize, 64, 256] {
        let informs: Vec<InformRecord> = (0..DEVICES)
            .map(|d| periodic(d, t(600 + batch as i64)))
            .collect();
        let start = Instant::now();
        let cpu = process_cpu();
        for chunk in informs.chunks(batch) {
            store.record_informs(chunk, 64).await.expect("batch");
        }
        report(
            label,
            &format!("record_informs, batch {batch}"),
            DEVICES,
            start.elapsed(),
            process_cpu() - cpu,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run with --release --ignored --nocapture"]
async fn bench_record_inform() {
    let db = TestDb::sqlite().await;
    run_on(db, |s| async move { bench_store(s, "sqlite").await }).await;
    if let Some(db) = TestDb::postgres().await {
        run_on(db, |s| async move { bench_store(s, "postgres").await }).await;
    }
    let relaxed = StoreOptions {
        pg_synchronous_commit: false,
        ..StoreOptions::default()
    };
    if let Some(db) = TestDb::postgres_with(relaxed).await {
        run_on(db, |s| async move {
            bench_store(s, "postgres synchronous_commit=off").await
        })
        .await;
    }
}

mod census;
mod credentials;
mod jobs;
mod presence;
mod tokens;
mod writer_faults;

//! No acknowledged Inform is ever lost: a storage failure while storing an Inform is answered
//! with fault 8002, never with an InformResponse, and the CPE's retry is stored. Failures come
//! from the storage fault seam (`Store::fail_inform_commit`), never from timing.

use acs_core::cwmp::{Body, EventCode, FaultCode, ParameterValue};
use acs_core::storage::StorageFault;
use acs_tests::{RawCpe, device_key, inform, spawn_app};

/// An Inform whose ProvisioningCode names it, so the stored device shows which Inform of
/// its device was the last one stored.
fn marked_inform(serial: &str, marker: &str) -> acs_core::cwmp::Envelope {
    let mut env = inform(serial, &[EventCode::Periodic], marker);
    if let Body::Inform(i) = &mut env.body {
        i.parameter_list
            .retain(|p| p.name != "Device.DeviceInfo.ProvisioningCode");
        i.parameter_list.push(ParameterValue::string(
            "Device.DeviceInfo.ProvisioningCode",
            marker,
        ));
    }
    env
}

/// What the ACS answered to an Inform.
enum Answer {
    Acknowledged,
    Fault8002,
}

async fn send_inform(cpe: &mut RawCpe, serial: &str, marker: &str) -> Answer {
    let reply = cpe.send(&marked_inform(serial, marker)).await;
    match reply.envelope().body {
        Body::InformResponse(_) => {
            assert!(reply.session_cookie().is_some(), "a session was opened");
            Answer::Acknowledged
        }
        Body::Fault(f) => {
            assert_eq!(
                f.detail.fault_code,
                FaultCode::AcsInternalError,
                "{}",
                reply.text
            );
            assert_eq!(f.detail.fault_code.code(), 8002);
            assert!(
                reply.session_cookie().is_none(),
                "no session for an Inform that was not stored"
            );
            Answer::Fault8002
        }
        other => panic!("unexpected answer to an Inform: {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_inform_commit_is_answered_8002_and_the_retry_is_stored() {
    let app = spawn_app().await;
    let key = device_key("DUR-1");
    let mut cpe = RawCpe::new(&app.cwmp_url);

    app.store.fail_inform_commit(1, StorageFault::Io);
    assert!(matches!(
        send_inform(&mut cpe, "DUR-1", "first").await,
        Answer::Fault8002
    ));
    assert!(app.store.get_device(&key).await.unwrap().is_none());
    assert!(
        app.state.registry.find_by_device(&key).is_none(),
        "no session is left registered"
    );
    // The CPE retries its session, as TR-069 §3.2.1.1 has it after a fault.
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert!(matches!(
        send_inform(&mut cpe, "DUR-1", "retry").await,
        Answer::Acknowledged
    ));
    let stored = app.store.get_device(&key).await.unwrap().expect("stored");
    assert_eq!(stored.provisioning_code.as_deref(), Some("retry"));
    assert!(app.state.registry.find_by_device(&key).is_some());
    app.cleanup().await;
}

/// The architecture invariant "stored before it is acknowledged" under injected commit
/// failures of every kind, with concurrent CPEs so that failures hit batches of several
/// Informs: every InformResponse corresponds to an Inform already stored, every fault is
/// retried until acknowledged, and no acknowledged Inform is missing at the end.
#[tokio::test]
async fn stored_before_acknowledged() {
    const CPES: usize = 24;
    const SESSIONS: usize = 4;
    let app = spawn_app().await;
    // At most CPES Informs are in flight, so CPES * SESSIONS Informs need at least SESSIONS
    // commits: commits 2 to 4 exist and all three faults fire. The order matters on SQLite:
    // after `Full` the driver counts a transaction that the engine already ended, and a
    // writer that kept that connection would, at the next failure, roll back only to a
    // savepoint and leave a transaction open that swallows every later "committed" Inform.
    app.store.fail_inform_commit(2, StorageFault::Io);
    app.store.fail_inform_commit(3, StorageFault::Full);
    app.store
        .fail_inform_commit(4, StorageFault::ConnectionLost);

    let runs = (0..CPES).map(|c| {
        let url = app.cwmp_url.clone();
        let store = app.store.clone();
        tokio::spawn(async move {
            let serial = format!("DUR-{c}");
            let key = device_key(&serial);
            let (mut acknowledged, mut faults) = (0usize, 0usize);
            for s in 0..SESSIONS {
                let marker = format!("{c}-{s}");
                loop {
                    let mut cpe = RawCpe::new(&url);
                    match send_inform(&mut cpe, &serial, &marker).await {
                        Answer::Acknowledged => {
                            let row = store.get_device(&key).await.unwrap();
                            let stored = row.and_then(|d| d.provisioning_code);
                            assert_eq!(
                                stored.as_deref(),
                                Some(marker.as_str()),
                                "acknowledged but not stored"
                            );
                            acknowledged += 1;
                            break;
                        }
                        Answer::Fault8002 => faults += 1,
                    }
                }
            }
            (acknowledged, faults)
        })
    });
    let (mut acknowledged, mut faults) = (0, 0);
    for run in futures::future::join_all(runs).await {
        let (a, f) = run.expect("CPE task");
        acknowledged += a;
        faults += f;
    }
    assert_eq!(acknowledged, CPES * SESSIONS);
    assert!(
        faults >= 3,
        "each injected failure fails at least one Inform: {faults}"
    );
    assert_eq!(app.store.count_devices().await.unwrap(), CPES as u64);
    for c in 0..CPES {
        let events = app
            .store
            .list_events(&device_key(&format!("DUR-{c}")), 100)
            .await
            .unwrap();
        assert_eq!(
            events.len(),
            SESSIONS,
            "one stored event per acknowledged Inform"
        );
    }
    app.cleanup().await;
}

/// A restart in the suites connects a fresh store, as a restarted process does, and closes
/// the old one: the old pool holds connections opened on the stopped server's worker
/// runtimes, which PostgreSQL connections cannot outlive (the cause of a flaky restart test).
#[tokio::test]
async fn a_restart_connects_a_fresh_store() {
    let app = spawn_app().await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert!(matches!(
        send_inform(&mut cpe, "DUR-R", "before").await,
        Answer::Acknowledged
    ));
    let old = app.store.clone();
    let (store, db) = app.stop().await;
    assert!(
        old.count_devices().await.is_err(),
        "the stopped server's store is closed"
    );
    let app = acs_tests::start(&acs_tests::test_settings(), store, db).await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert!(matches!(
        send_inform(&mut cpe, "DUR-R", "after").await,
        Answer::Acknowledged
    ));
    let stored = app.store.get_device(&device_key("DUR-R")).await.unwrap();
    assert_eq!(
        stored.and_then(|d| d.provisioning_code).as_deref(),
        Some("after")
    );
    app.cleanup().await;
}

//! Per-device CPE credentials: a device's credentials authenticate only that device, the ACS
//! rotates bootstrapping devices onto credentials of their own, and no password is stored in
//! plain text.

use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
use acs_core::auth::{CpeAuthMode, DigestAlgorithm, client::digest_authorization};
use acs_core::config::{DeviceCredentials, LimiterSettings, Settings};
use acs_core::cwmp::EventCode;
use acs_core::secret::Secret;
use acs_core::storage::{CredentialOrigin, NewTask, Store, TaskState};
use acs_core::tasks::TaskSpec;
use acs_tests::{RawCpe, TestApp, TestDb, device_key, inform, start, test_settings};

const SHARED: (&str, &str) = ("phones", "shared-pa55");

fn digest(c: &mut Settings) {
    c.cpe_auth.mode = Some(CpeAuthMode::Digest);
    c.cpe_auth.digest_algorithms = vec![DigestAlgorithm::Md5];
    c.cpe_auth.username = Some(SHARED.0.into());
    c.cpe_auth.password = Some(Secret::new(SHARED.1));
}

/// Starts a server and also returns the database URL, for tests that look at the raw rows.
async fn spawn(configure: impl FnOnce(&mut Settings)) -> (TestApp, String) {
    acs_tests::init();
    let (db, url) = TestDb::create().await;
    let store = Store::connect(&url, Default::default()).await.unwrap();
    let mut config = test_settings();
    configure(&mut config);
    (start(&config, store, Some(db)).await, url)
}

async fn auth_failures(app: &TestApp) -> u64 {
    let text = reqwest::get(format!("{}/metrics", app.nbi_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("acs_auth_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Posts `serial`'s Inform with `events`, authenticated as `user`/`pass` against a fresh
/// challenge; returns the HTTP status.
async fn inform_as(
    app: &TestApp,
    serial: &str,
    events: &[EventCode],
    user: &str,
    pass: &str,
) -> u16 {
    let body = acs_core::cwmp::encode(&inform(serial, events, "1")).unwrap();
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let first = cpe.post(body.clone()).await;
    assert_eq!(first.status, 401, "challenged first");
    let challenge = first
        .headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .expect("a challenge")
        .to_owned();
    cpe.authorization =
        Some(digest_authorization(&challenge, "POST", "/", user, pass, "c0ffee", 1).unwrap());
    let reply = cpe.post(body).await;
    if reply.status == 200 {
        // End the session so the next Inform opens a new one.
        cpe.authorization = None;
        assert_eq!(cpe.post(Vec::new()).await.status, 204);
    } else if reply.status == 401 {
        assert!(
            reply.headers.get("www-authenticate").is_some(),
            "a refusal carries a fresh challenge"
        );
        assert!(reply.session_cookie().is_none(), "and creates no session");
    }
    reply.status
}

#[tokio::test]
async fn a_devices_credentials_authenticate_only_that_device() {
    let (app, _) = spawn(|c| {
        digest(c);
        // Configuration-file entries keep working, bound the same way.
        c.cpe_auth.devices.insert(
            device_key("BINDC"),
            DeviceCredentials {
                username: "phone-c".into(),
                password: Secret::new("pw-c"),
            },
        );
        c.cpe_auth.limiter = LimiterSettings {
            max_failures: 1000,
            ..LimiterSettings::default()
        };
    })
    .await;
    let (a, b) = (device_key("BINDA"), device_key("BINDB"));
    app.store
        .set_device_credential(
            &a,
            "phone-a",
            &Secret::new("pw-a"),
            CredentialOrigin::Operator,
        )
        .await
        .unwrap();
    let periodic = [EventCode::Periodic];

    // Device A's pair with device B's Inform: refused, counted, and B is not stored.
    let before = auth_failures(&app).await;
    assert_eq!(
        inform_as(&app, "BINDB", &periodic, "phone-a", "pw-a").await,
        401
    );
    assert!(
        auth_failures(&app).await > before,
        "counted as an auth failure"
    );
    assert!(
        app.store.get_device(&b).await.unwrap().is_none(),
        "nothing stored"
    );
    assert_eq!(app.state.registry.len(), 0);
    // A's pair with A's Inform: accepted.
    assert_eq!(
        inform_as(&app, "BINDA", &periodic, "phone-a", "pw-a").await,
        200
    );
    assert!(app.store.get_device(&a).await.unwrap().is_some());
    // A has its own credentials: the shared pair is refused for it, even for a BOOTSTRAP
    // (the ACS does not rotate credentials here).
    let last = app.store.get_device(&a).await.unwrap().unwrap().last_inform;
    for events in [&[EventCode::Boot][..], &[EventCode::Bootstrap]] {
        assert_eq!(
            inform_as(&app, "BINDA", events, SHARED.0, SHARED.1).await,
            401
        );
    }
    assert_eq!(
        app.store.get_device(&a).await.unwrap().unwrap().last_inform,
        last,
        "a refused Inform is not stored"
    );
    // B has none: the shared pair works for it.
    assert_eq!(
        inform_as(&app, "BINDB", &periodic, SHARED.0, SHARED.1).await,
        200
    );
    // The configuration-file entry: only for C, and C cannot use the shared pair.
    assert_eq!(
        inform_as(&app, "BINDB", &periodic, "phone-c", "pw-c").await,
        401
    );
    assert_eq!(
        inform_as(&app, "BINDC", &periodic, "phone-c", "pw-c").await,
        200
    );
    assert_eq!(
        inform_as(&app, "BINDC", &periodic, SHARED.0, SHARED.1).await,
        401
    );
    assert!(
        app.store
            .get_device(&device_key("BINDC"))
            .await
            .unwrap()
            .is_some()
    );
    // Removed from the database: A may use the shared pair again, and its old pair is unknown.
    assert!(app.store.remove_device_credential(&a).await.unwrap());
    assert_eq!(
        inform_as(&app, "BINDA", &periodic, SHARED.0, SHARED.1).await,
        200
    );
    assert_eq!(
        inform_as(&app, "BINDA", &periodic, "phone-a", "pw-a").await,
        401
    );
    app.cleanup().await;
}

#[tokio::test]
async fn a_binding_refusal_counts_against_the_source() {
    let (app, _) = spawn(|c| {
        digest(c);
        c.cpe_auth.limiter = LimiterSettings {
            max_failures: 2,
            window_secs: 600,
            block_secs: 600,
        };
    })
    .await;
    app.store
        .set_device_credential(
            &device_key("LIMA"),
            "phone-a",
            &Secret::new("pw-a"),
            CredentialOrigin::Operator,
        )
        .await
        .unwrap();
    // Right password, wrong device, twice: the source is then blocked like a password guesser.
    for _ in 0..2 {
        assert_eq!(
            inform_as(&app, "LIMB", &[EventCode::Periodic], "phone-a", "pw-a").await,
            401
        );
    }
    let body = acs_core::cwmp::encode(&inform("LIMA", &[EventCode::Periodic], "1")).unwrap();
    assert_eq!(RawCpe::new(&app.cwmp_url).post(body).await.status, 429);
    app.cleanup().await;
}

fn sim_config(app: &TestApp) -> SimConfig {
    let mut config = SimConfig::new(
        app.cwmp_url.clone(),
        1,
        Profile::builtin("cisco-mpp").unwrap(),
    );
    config.periodic = false;
    config.serial_prefix = Some("ROT".into());
    config.username = Some(SHARED.0.into());
    config.password = Some(SHARED.1.into());
    config
}

async fn management_server_task(app: &TestApp, device: &str) -> Vec<acs_core::storage::TaskRow> {
    app.store
        .list_tasks(device)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.kind == "set_management_server_credentials")
        .collect()
}

#[tokio::test]
async fn the_acs_rotates_a_bootstrapping_device_onto_its_own_credentials() {
    let (app, _) = spawn(|c| {
        digest(c);
        c.cpe_auth.provision_device_credentials = true;
    })
    .await;
    let sim = Simulator::start(sim_config(&app)).await.unwrap();
    let phone = sim.device(0);
    let id = phone.device_id();
    let user_param = "Device.ManagementServer.Username";
    let pass_param = "Device.ManagementServer.Password";

    // Bootstrap with the shared pair: accepted, and the session sets the device's own pair.
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(
        report.succeeded() && report.has_event("0 BOOTSTRAP"),
        "{report:?}"
    );
    let tasks = management_server_task(&app, &id).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].state, TaskState::Done, "{tasks:?}");
    let own_user = phone.value(user_param).unwrap();
    let own_pass = phone.value(pass_param).unwrap();
    assert_ne!(own_user, SHARED.0);
    assert_ne!(own_pass, SHARED.1);
    let stored = app
        .store
        .device_credential_by_username(&own_user)
        .await
        .unwrap()
        .expect("stored once applied");
    assert_eq!(stored.device_id, id);
    assert_eq!(stored.password.expose(), own_pass);
    assert_eq!(stored.origin, CredentialOrigin::Acs);
    // The task view never shows the password.
    assert!(!tasks[0].payload.to_string().contains(&own_pass));

    // The next session uses the device's own pair and is accepted.
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(
        management_server_task(&app, &id).await.len(),
        1,
        "no second rotation"
    );
    // The shared pair is refused for this device, except for a BOOTSTRAP.
    let serial = phone.serial().to_owned();
    for events in [&[EventCode::Boot][..], &[EventCode::Periodic]] {
        assert_eq!(
            inform_as(&app, &serial, events, SHARED.0, SHARED.1).await,
            401
        );
    }

    // A factory reset brings the shared pair back on the phone; its BOOTSTRAP is accepted and
    // the ACS gives it a fresh pair of its own.
    let spec = TaskSpec::FactoryReset {};
    app.store
        .enqueue_task(&NewTask::for_spec(&id, &spec))
        .await
        .unwrap();
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(
        phone.value(user_param).as_deref(),
        Some(SHARED.0),
        "factory defaults"
    );
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(
        report.succeeded() && report.has_event("0 BOOTSTRAP"),
        "{report:?}"
    );
    let new_user = phone.value(user_param).unwrap();
    assert_ne!(new_user, SHARED.0);
    assert_ne!(new_user, own_user, "rotated again");
    let stored = app
        .store
        .device_credential_by_username(&new_user)
        .await
        .unwrap()
        .expect("the new pair is stored");
    assert_eq!(stored.device_id, id);
    assert!(
        app.store
            .device_credential_by_username(&own_user)
            .await
            .unwrap()
            .is_none(),
        "the old pair no longer works"
    );
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn a_pair_the_phone_applied_is_accepted_even_if_its_answer_was_lost() {
    let (app, _) = spawn(|c| {
        digest(c);
        c.cpe_auth.provision_device_credentials = true;
    })
    .await;
    let sim = Simulator::start(sim_config(&app)).await.unwrap();
    let phone = sim.device(0);
    let id = phone.device_id();
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    let own_user = phone.value("Device.ManagementServer.Username").unwrap();
    let own_pass = phone.value("Device.ManagementServer.Password").unwrap();
    // As if the ACS had stopped between the phone applying the pair and storing its answer:
    // the pair is still only pending (it was stored so before the request went out).
    app.store
        .set_device_credential(
            &id,
            &own_user,
            &Secret::new(own_pass),
            CredentialOrigin::Pending,
        )
        .await
        .unwrap();
    // While pending, the shared pair still works for the phone…
    let serial = phone.serial().to_owned();
    assert_eq!(
        inform_as(&app, &serial, &[EventCode::Periodic], SHARED.0, SHARED.1).await,
        200
    );
    // …and the phone's own pair is accepted, which proves it applied it.
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    let stored = app
        .store
        .device_credential_by_username(&own_user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.origin, CredentialOrigin::Acs);
    assert_eq!(
        inform_as(&app, &serial, &[EventCode::Periodic], SHARED.0, SHARED.1).await,
        401
    );
    sim.shutdown().await;
    app.cleanup().await;
}

#[tokio::test]
async fn no_password_is_stored_in_plain_text() {
    let (app, url) = spawn(|c| {
        digest(c);
        c.cpe_auth.provision_device_credentials = true;
        c.cwmp.provision_connection_request_credentials = true;
    })
    .await;
    let sim = Simulator::start(sim_config(&app)).await.unwrap();
    let phone = sim.device(0);
    let report = sim.run_session(0, vec![]).await.unwrap();
    assert!(report.succeeded(), "{report:?}");
    let device_user = phone.value("Device.ManagementServer.Username").unwrap();
    let device_password = phone.value("Device.ManagementServer.Password").unwrap();
    let cr_password = phone
        .value("Device.ManagementServer.ConnectionRequestPassword")
        .unwrap();
    assert!(device_password.len() >= 16 && cr_password.len() >= 16);
    // Both were stored (opened with the key, they are the device's values)…
    let device = app
        .store
        .get_device(&phone.device_id())
        .await
        .unwrap()
        .unwrap();
    let stored_cr = device.connection_request_password.expect("stored");
    assert_eq!(
        app.store.open_secret(&stored_cr).unwrap().expose(),
        cr_password
    );
    // …and a connection request with them is accepted by the phone.
    let outcome = app
        .state
        .ops
        .connection_request(&phone.device_id())
        .await
        .unwrap();
    assert!(
        matches!(outcome, acs_core::connreq::ConnReqOutcome::Accepted { .. }),
        "{outcome:?}"
    );
    let (_, db) = app.stop().await;
    // The database itself holds neither password.
    let needles = [device_password.as_bytes(), cr_password.as_bytes()];
    match &db {
        Some(TestDb::Sqlite(dir)) => {
            let mut bytes = std::fs::read(dir.path().join("acs.db")).unwrap();
            // Recent commits may still be in the write-ahead log.
            bytes.extend(std::fs::read(dir.path().join("acs.db-wal")).unwrap_or_default());
            let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
            assert!(
                contains(device_user.as_bytes()),
                "the scan sees the stored rows"
            );
            for needle in needles {
                assert!(!contains(needle), "a password in the database file");
            }
        }
        _ => {
            use sea_orm::{ConnectionTrait, Statement};
            let conn = sea_orm::Database::connect(&url).await.unwrap();
            for table in ["devices", "device_credentials", "tasks"] {
                let rows = conn
                    .query_all_raw(Statement::from_string(
                        conn.get_database_backend(),
                        format!("SELECT t::text AS row FROM {table} t"),
                    ))
                    .await
                    .unwrap();
                assert!(!rows.is_empty(), "{table} has rows");
                for row in rows {
                    let text: String = row.try_get("", "row").unwrap();
                    for needle in [&device_password, &cr_password] {
                        assert!(!text.contains(needle.as_str()), "a password in {table}");
                    }
                }
            }
            let _ = conn.close().await;
        }
    }
    sim.shutdown().await;
    if let Some(db) = db {
        db.drop_database().await;
    }
}

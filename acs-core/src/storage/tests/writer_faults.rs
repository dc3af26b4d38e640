//! The group-commit writer under storage failures, on SQLite and (with
//! `ACS_TEST_DATABASE_URL`) PostgreSQL. Failures come from the fault seam
//! (`Store::fail_commit`), which leaves the connection the way the real failure does.

use chrono::Utc;
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{ConnectionTrait, Database};

use super::{PG_ENV, Place, TestDb, inform, migrated, param, run_on, with_database};
use crate::storage::writer::write_batch_of;
use crate::storage::{InformRecord, InformWriter, StorageFault, Store, StoreError};

/// A URL for a second connection to the test database, outside the store's pools.
fn side_url(db: &TestDb) -> String {
    match &db.place {
        Place::Sqlite(dir) => format!(
            "sqlite://{}",
            dir.path().join("nested").join("acs.db").display()
        ),
        Place::Postgres { admin_url, name } => with_database(admin_url, name),
    }
}

fn device(i: usize) -> String {
    format!("00A0BC-CPE-{i}")
}

fn record(i: usize, version: &str) -> InformRecord {
    let mut r = inform(&device(i), Utc::now(), &["2 PERIODIC"]);
    r.parameters.push(param(
        "InternetGatewayDevice.DeviceInfo.SoftwareVersion",
        version,
    ));
    r
}

/// Nothing holds a lock the failed batch took: another connection can take SQLite's write
/// lock at once, or lock the batch's PostgreSQL rows without waiting, and (PostgreSQL) no
/// connection of the store sits inside a transaction.
async fn assert_locks_released(side: &str) {
    if side.starts_with("sqlite:") {
        let opts: sqlx::sqlite::SqliteConnectOptions = side.parse().expect("sqlite url");
        let mut other =
            sqlx::SqliteConnection::connect_with(&opts.busy_timeout(std::time::Duration::ZERO))
                .await
                .expect("second connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("the write lock is free after the failed batch");
        sqlx::query("ROLLBACK")
            .execute(&mut other)
            .await
            .expect("rollback");
        other.close().await.expect("close");
    } else {
        let other = Database::connect(side).await.expect("second connection");
        let idle_in_txn = other
            .query_one_raw(sea_orm::Statement::from_string(
                other.get_database_backend(),
                "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                 AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
            ))
            .await
            .expect("pg_stat_activity")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("count");
        assert_eq!(idle_in_txn, 0, "a connection was left inside a transaction");
        other
            .execute_unprepared(&format!(
                "BEGIN; SELECT id FROM devices WHERE id = '{}' FOR UPDATE NOWAIT; ROLLBACK",
                device(0)
            ))
            .await
            .expect("the failed batch's rows are not locked");
        other.close().await.expect("close");
    }
}

/// On SQLite, a write transaction after the failure is a real `BEGIN IMMEDIATE` again: it
/// holds the write lock. (A connection whose driver still counted the failed transaction as
/// open would run it as a SAVEPOINT that takes no lock and never commits.)
async fn assert_next_write_holds_the_lock(store: &Store, side: &str) {
    if !side.starts_with("sqlite:") {
        return;
    }
    let opts: sqlx::sqlite::SqliteConnectOptions = side.parse().expect("sqlite url");
    let mut other =
        sqlx::SqliteConnection::connect_with(&opts.busy_timeout(std::time::Duration::ZERO))
            .await
            .expect("second connection");
    let txn = store.begin_write().await.expect("begin");
    let err = sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect_err("the store's write transaction must hold the write lock");
    assert!(err.to_string().contains("locked"), "{err}");
    txn.commit().await.expect("commit");
    other.close().await.expect("close");
}

async fn commit_failure_fails_the_batch_and_the_writer_recovers(
    store: Store,
    side: String,
    fault: StorageFault,
) {
    let store = migrated(store).await;
    store
        .record_inform(&record(0, "1.0"), 10)
        .await
        .expect("first Inform");

    store.fail_commit(1, fault);
    let failed = write_batch_of(&store, 10, (0..8).map(|i| record(i, "2.0")).collect()).await;
    assert_eq!(failed.len(), 8);
    for (i, r) in failed.iter().enumerate() {
        assert!(
            matches!(r, Err(StoreError::BatchRolledBack(_))),
            "Inform {i} of the failed batch: {r:?}"
        );
    }
    // Nothing of the batch is stored: no new device, and device 0 is as before.
    assert_eq!(store.count_devices().await.expect("count"), 1);
    let d0 = store
        .get_device(&device(0))
        .await
        .expect("get")
        .expect("d0");
    assert_eq!(d0.software_version.as_deref(), Some("1.0"));
    assert_locks_released(&side).await;

    // The next batch is stored.
    let stored = write_batch_of(&store, 10, (0..8).map(|i| record(i, "3.0")).collect()).await;
    for (i, r) in stored.iter().enumerate() {
        let row = r.as_ref().unwrap_or_else(|e| panic!("Inform {i}: {e}"));
        assert_eq!(row.id, device(i));
    }
    assert_eq!(store.count_devices().await.expect("count"), 8);
    let d0 = store
        .get_device(&device(0))
        .await
        .expect("get")
        .expect("d0");
    assert_eq!(d0.software_version.as_deref(), Some("3.0"));
    assert_next_write_holds_the_lock(&store, &side).await;
    assert_locks_released(&side).await;

    // The writer task itself survives a failed batch and serves the next one.
    let writer = InformWriter::spawn(store.clone(), 10, 64);
    store.fail_commit(1, fault);
    let err = writer
        .record(record(20, "1.0"))
        .await
        .expect_err("the failed commit");
    assert!(matches!(err, StoreError::BatchRolledBack(_)), "{err}");
    writer
        .record(record(21, "1.0"))
        .await
        .expect("the next Inform");
    assert!(store.get_device(&device(20)).await.expect("get").is_none());
    assert!(store.get_device(&device(21)).await.expect("get").is_some());
    assert_locks_released(&side).await;
}

async fn on_sqlite(fault: StorageFault) {
    let db = TestDb::sqlite().await;
    let side = side_url(&db);
    run_on(db, move |s| {
        commit_failure_fails_the_batch_and_the_writer_recovers(s, side, fault)
    })
    .await;
}

async fn on_postgres(fault: StorageFault) {
    let Some(db) = TestDb::postgres().await else {
        eprintln!("{PG_ENV} not set: skipping PostgreSQL test");
        return;
    };
    let side = side_url(&db);
    run_on(db, move |s| {
        commit_failure_fails_the_batch_and_the_writer_recovers(s, side, fault)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_io_error_at_commit() {
    on_sqlite(StorageFault::Io).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_at_commit() {
    on_sqlite(StorageFault::Full).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_io_error_at_commit() {
    on_postgres(StorageFault::Io).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connection_lost_mid_commit() {
    on_postgres(StorageFault::ConnectionLost).await;
}

/// A statement that fails inside a write transaction (here: SQLite aborting the transaction
/// on its own, as `SQLITE_FULL` may mid-statement) must not leave later writes inside a
/// transaction the driver still believes open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_failed_statement_leaves_no_transaction_behind() {
    let db = TestDb::sqlite().await;
    let side = side_url(&db);
    run_on(db, move |store| async move {
        let store = migrated(store).await;
        {
            let txn = store.begin_write().await.expect("begin");
            txn.execute_unprepared("ROLLBACK")
                .await
                .expect("engine rollback");
            txn.execute_unprepared("SELECT * FROM no_such_table")
                .await
                .expect_err("a failing statement");
            // The caller's own rollback fails: SQLite has no transaction any more.
            txn.rollback().await.expect_err("nothing left to roll back");
        }
        store
            .record_inform(&record(1, "1.0"), 10)
            .await
            .expect("next Inform");
        assert_next_write_holds_the_lock(&store, &side).await;
        assert_locks_released(&side).await;
        // Stored for real: a new pool (a restart) sees it.
        let url = side.clone() + "?mode=rw";
        let fresh = Store::connect(&url, Default::default())
            .await
            .expect("reconnect");
        assert!(fresh.get_device(&device(1)).await.expect("get").is_some());
        fresh.close().await.expect("close");
    })
    .await;
}

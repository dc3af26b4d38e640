//! Storage fault injection, for tests only (`cfg(test)` or the `fault-injection` feature).
//!
//! A real disk error cannot be produced on demand in a test, and waiting for one (a data
//! directory made read-only for a few seconds) makes a test depend on timing. The seam instead
//! makes the Nth write-transaction commit fail, leaving the connection in the state the real
//! failure leaves it in, so that the recovery code runs exactly as it would in production.

use std::sync::Mutex;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
};

use crate::storage::{Store, StoreError};

/// How an injected commit fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// The COMMIT fails with an I/O error and the transaction is still open on the
    /// connection (SQLite's `SQLITE_IOERR` when the engine does not roll back by itself).
    Io,
    /// The disk is full. On SQLite the engine has already rolled the transaction back when the
    /// COMMIT fails (as `SQLITE_FULL` may), so the driver still believes a transaction is open:
    /// its own ROLLBACK then fails too. On PostgreSQL as [`StorageFault::Io`].
    Full,
    /// PostgreSQL: the server connection is terminated (`pg_terminate_backend` from another
    /// connection) right before the COMMIT, which then fails on the dead connection. On SQLite
    /// (no server) as [`StorageFault::Io`].
    ConnectionLost,
}

impl std::fmt::Display for StorageFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StorageFault::Io => "disk I/O error (injected)",
            StorageFault::Full => "database or disk is full (injected)",
            StorageFault::ConnectionLost => "connection lost (injected)",
        })
    }
}

/// The armed faults, shared by every clone of a [`Store`].
#[derive(Debug, Default)]
pub(crate) struct FaultInjector {
    plan: Mutex<Plan>,
}

#[derive(Debug, Default)]
struct Plan {
    /// Write-transaction commits attempted so far.
    commits: u64,
    /// Of those, commits of transactions that store Informs.
    inform_commits: u64,
    /// Faults still to fire.
    armed: Vec<Armed>,
}

#[derive(Debug)]
struct Armed {
    informs_only: bool,
    at: u64,
    fault: StorageFault,
}

impl FaultInjector {
    fn arm(&self, informs_only: bool, nth: u64, fault: StorageFault) {
        let mut plan = self.plan.lock().unwrap_or_else(|p| p.into_inner());
        let base = if informs_only {
            plan.inform_commits
        } else {
            plan.commits
        };
        plan.armed.push(Armed {
            informs_only,
            at: base + nth.max(1),
            fault,
        });
    }

    /// Counts one commit; the fault armed for it, if any.
    pub(crate) fn next_commit(&self, stores_informs: bool) -> Option<StorageFault> {
        let mut plan = self.plan.lock().unwrap_or_else(|p| p.into_inner());
        plan.commits += 1;
        if stores_informs {
            plan.inform_commits += 1;
        }
        let (all, informs) = (plan.commits, plan.inform_commits);
        let i = plan.armed.iter().position(|a| {
            if a.informs_only {
                stores_informs && a.at == informs
            } else {
                a.at == all
            }
        })?;
        Some(plan.armed.swap_remove(i).fault)
    }
}

impl Store {
    /// Makes the `nth` write-transaction commit from now (1: the next one) fail with `fault`.
    /// Commits are counted across all clones of this store.
    pub fn fail_commit(&self, nth: u64, fault: StorageFault) {
        self.faults.arm(false, nth, fault);
    }

    /// Like [`Store::fail_commit`], counting only the transactions that store Informs, so a
    /// test of a running server is not disturbed by its background writes.
    pub fn fail_inform_commit(&self, nth: u64, fault: StorageFault) {
        self.faults.arm(true, nth, fault);
    }
}

/// Fails the commit of `txn` the way `fault` describes. Returns the error, and the transaction
/// when it is still open (the caller rolls it back, as after any real failure). `pool` is used
/// for a second connection (PostgreSQL's `pg_terminate_backend`), so it needs room for one more.
pub(crate) async fn fail_commit(
    txn: DatabaseTransaction,
    pool: &DatabaseConnection,
    fault: StorageFault,
) -> (Option<DatabaseTransaction>, StoreError) {
    let backend = txn.get_database_backend();
    let result = match (fault, backend) {
        (StorageFault::Full, DbBackend::Sqlite) => engine_rolled_back(txn).await,
        (StorageFault::ConnectionLost, DbBackend::Postgres) => terminated(txn, pool).await,
        _ => return (Some(txn), StoreError::Db(DbErr::Custom(fault.to_string()))),
    };
    let err = match result {
        Ok(()) => StoreError::Internal(format!("{fault}: the COMMIT did not fail")),
        Err(e) => e,
    };
    (None, err)
}

/// The engine's own rollback, behind the driver's back; the real COMMIT then fails ("no
/// transaction is active"), and so will the driver's ROLLBACK when the transaction is dropped.
async fn engine_rolled_back(txn: DatabaseTransaction) -> Result<(), StoreError> {
    txn.execute_unprepared("ROLLBACK").await?;
    Ok(txn.commit().await?)
}

async fn terminated(txn: DatabaseTransaction, pool: &DatabaseConnection) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let row = txn
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT pg_backend_pid() AS pid",
        ))
        .await?
        .ok_or_else(|| StoreError::Internal("pg_backend_pid() returned no row".into()))?;
    let pid: i32 = row.try_get("", "pid")?;
    // With a timeout the call returns only once the backend is gone, so the COMMIT meets a
    // closed connection instead of racing the termination.
    pool.execute_raw(Statement::from_sql_and_values(
        backend,
        "SELECT pg_terminate_backend($1, 10000)",
        [pid.into()],
    ))
    .await?;
    Ok(txn.commit().await?)
}

//! Write transactions, and what happens to their connection when one fails.
//!
//! A failed COMMIT or statement can leave a connection in a state the driver misjudges. sqlx
//! counts transaction depth itself and only lowers it when a COMMIT or ROLLBACK succeeds. When
//! SQLite aborts a transaction on its own (`SQLITE_FULL`, some `SQLITE_IOERR`s), or a disk error
//! also makes the ROLLBACK fail, the depth stays at 1. sea-orm then opens every later
//! "transaction" on that connection as a `SAVEPOINT`, and `RELEASE SAVEPOINT` succeeds without
//! committing anything. Every later write is reported as committed but is lost, and the
//! database stays locked for other processes for as long as the connection lives.
//!
//! Two measures prevent this. After an error, [`WriteTxn`] users roll back explicitly (a
//! dropped transaction only queues its ROLLBACK). And every connection that goes back to the
//! pool still inside a transaction is closed instead of reused (see [`release_check`]).
//! Closing a connection ends its transaction and releases its locks: SQLite rolls back on
//! close, and PostgreSQL aborts a session's transaction when the session ends. The pool opens a
//! fresh connection on the next write, as soon as the storage accepts one again.

use std::future::Future;
use std::pin::Pin;

use sea_orm::sqlx;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};
use tracing::warn;

use crate::storage::StoreError;

/// A write transaction on the writer connection (see [`crate::storage::Store::begin_write`]).
/// Used like sea-orm's `DatabaseTransaction`; dropping it rolls back.
#[derive(Debug)]
pub(crate) struct WriteTxn {
    inner: DatabaseTransaction,
    #[cfg(any(test, feature = "fault-injection"))]
    faults: std::sync::Arc<super::fault::FaultInjector>,
    /// Whether this transaction stores Informs (the fault seam can target those alone).
    #[cfg_attr(not(any(test, feature = "fault-injection")), allow(dead_code))]
    stores_informs: bool,
    /// For the fault seam's second connection.
    #[cfg(any(test, feature = "fault-injection"))]
    pool: sea_orm::DatabaseConnection,
}

impl WriteTxn {
    #[cfg_attr(not(any(test, feature = "fault-injection")), allow(unused_variables))]
    pub(super) fn new(inner: DatabaseTransaction, store: &super::Store) -> Self {
        WriteTxn {
            inner,
            #[cfg(any(test, feature = "fault-injection"))]
            faults: store.faults.clone(),
            #[cfg(any(test, feature = "fault-injection"))]
            pool: store.read.clone(),
            stores_informs: false,
        }
    }

    /// Marks this transaction as one that stores Informs.
    pub(crate) fn storing_informs(mut self) -> Self {
        self.stores_informs = true;
        self
    }

    /// Commits. On failure nothing of the transaction is stored, and the connection is rolled
    /// back (or, when that is impossible, discarded) before anyone else can use it.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        #[cfg(any(test, feature = "fault-injection"))]
        if let Some(fault) = self.faults.next_commit(self.stores_informs) {
            let (open, err) = super::fault::fail_commit(self.inner, &self.pool, fault).await;
            if let Some(txn) = open {
                let _ = roll_back(txn).await;
            }
            return Err(err);
        }
        // A failed COMMIT consumes the transaction; its drop queues the ROLLBACK, which the
        // driver runs before the connection is released, and `release_check` discards the
        // connection if that ROLLBACK failed as well.
        Ok(self.inner.commit().await?)
    }

    /// Rolls back, e.g. after a failed statement. Nothing is stored either way; when the
    /// ROLLBACK fails the connection is discarded on release, and the error is returned.
    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        roll_back(self.inner).await
    }
}

async fn roll_back(txn: DatabaseTransaction) -> Result<(), StoreError> {
    txn.rollback().await.map_err(|e| {
        warn!(error = %e, "ROLLBACK failed; the connection will be discarded");
        e.into()
    })
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.inner
    }
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbErr>> + Send + 'a>>;

// sea-orm's trait is declared with `async_trait`; these are the signatures that macro expands
// to, written out so the crate needs no extra dependency for five forwarding methods.
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    fn execute_raw<'a, 'b>(&'a self, stmt: Statement) -> BoxFut<'b, ExecResult>
    where
        'a: 'b,
        Self: 'b,
    {
        self.inner.execute_raw(stmt)
    }

    fn execute_unprepared<'a, 'c, 'b>(&'a self, sql: &'c str) -> BoxFut<'b, ExecResult>
    where
        'a: 'b,
        'c: 'b,
        Self: 'b,
    {
        self.inner.execute_unprepared(sql)
    }

    fn query_one_raw<'a, 'b>(&'a self, stmt: Statement) -> BoxFut<'b, Option<QueryResult>>
    where
        'a: 'b,
        Self: 'b,
    {
        self.inner.query_one_raw(stmt)
    }

    fn query_all_raw<'a, 'b>(&'a self, stmt: Statement) -> BoxFut<'b, Vec<QueryResult>>
    where
        'a: 'b,
        Self: 'b,
    {
        self.inner.query_all_raw(stmt)
    }

    fn support_returning(&self) -> bool {
        self.inner.support_returning()
    }
}

/// The pool's `after_release` check: whether a released connection may be reused. A connection
/// still inside a transaction is closed instead; closing ends the transaction and its locks.
///
/// `flush`: run a round trip first. sqlx's SQLite worker runs the ROLLBACK queued by a dropped
/// transaction asynchronously, so the depth is only final after the next command; on
/// PostgreSQL the queued ROLLBACK already lowered the depth and sqlx pings on release anyway.
pub(crate) async fn release_check<C: sqlx::Connection>(
    conn: &mut C,
    flush: bool,
) -> Result<bool, sqlx::Error> {
    if flush {
        conn.ping().await?;
    }
    if conn.is_in_transaction() {
        warn!("a connection was released inside a failed transaction; closing it");
        return Ok(false);
    }
    Ok(true)
}

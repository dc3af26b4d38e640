//! Persistent storage for the ACS: devices, their parameters, tags and
//! events, and the per-device task queue, on SQLite or PostgreSQL.
//!
//! # Concurrency model
//!
//! * **PostgreSQL**: one pool serves reads and writes; write transactions
//!   are plain `BEGIN` (READ COMMITTED). Upserts use `ON CONFLICT`, and bulk
//!   statements touch rows in a deterministic (sorted) order so concurrent
//!   transactions on the same device cannot deadlock on row locks.
//! * **SQLite**: a *writer* pool with exactly one connection and a *reader*
//!   pool of [`StoreOptions::max_connections`] connections (marked
//!   `query_only`). WAL mode lets readers proceed while the writer writes.
//!   Every multi-statement write runs in a transaction opened with
//!   `BEGIN IMMEDIATE` (SeaORM 2's
//!   [`TransactionOptions::sqlite_transaction_mode`](sea_orm::TransactionOptions)
//!   = [`SqliteTransactionMode::Immediate`](sea_orm::SqliteTransactionMode)),
//!   see [`Store::begin_write`] for why both measures are needed.
//!
//! All timestamps are truncated to whole microseconds on the way in, because
//! PostgreSQL stores microseconds: a value read back equals the value written
//! on both backends, and SQLite's text timestamps keep sorting correctly.

mod alerts;
mod census;
mod credentials;
mod devices;
mod entity;
pub mod error;
#[cfg(any(test, feature = "fault-injection"))]
mod fault;
mod files;
mod inform;
mod jobs;
mod lines;
pub mod model;
mod presence;
mod provision;
mod query;
mod session_ops;
mod tasks;
mod tokens;
mod truth;
mod txn;
mod writer;

#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbBackend, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

pub use alerts::{OutboxRow, OutboxState};
pub use census::{Census, TOP_PRODUCT_CLASSES};
pub use credentials::{CredentialOrigin, DeviceCredential, DeviceCredentialInfo};
pub use error::StoreError;
#[cfg(any(test, feature = "fault-injection"))]
pub use fault::StorageFault;
pub use files::{FileKind, FileRow, FileTransferRecord, NewFile, TransferCounts};
pub use inform::normalize_mac;
pub use jobs::{FailureLimit, JobRow, JobState, NewJobRow, TaskCounts, TaskFilter};
pub use lines::LineRow;
pub use model::{
    ConnReqRecord, DeviceRow, EventRecord, EventRow, InformRecord, NewTask, ParameterRecord,
    ParameterRow, TaskRow, TaskState, UnknownTaskState,
};
pub use provision::{ProvisionStateRow, ProvisionTaskRole, StoredRule};
pub use query::{
    DeviceIdBatches, DevicePage, DeviceQuery, DeviceSort, MAX_PAGE_SIZE, SortDirection, SortField,
    filter_condition,
};
pub use tasks::ATTEMPTS_EXHAUSTED;
pub use tokens::{
    ADMIN_TOKEN_FILE, ADMIN_TOKEN_NAME, LAST_USED_RESOLUTION, Role, TOKEN_CACHE_TTL, TokenInfo,
    UnknownRole, ensure_admin_token, parse_token,
};
pub use truth::AttributeRecord;
pub use writer::{BATCH_SERIES, COMMIT_SERIES, InformWriter, QUEUE_SERIES};

/// Largest number of bind parameters put in one statement.
///
/// SQLite allows 32,766 host parameters per statement and PostgreSQL 65,535;
/// bulk inserts are split into chunks that stay under this, with margin.
pub const MAX_BIND_PARAMS: usize = 30_000;

/// Tuning for [`Store::connect`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// PostgreSQL: pool size. SQLite: number of *reader* connections (there
    /// is always exactly one writer connection).
    pub max_connections: u32,
    /// How long to wait for a pooled connection before failing.
    pub acquire_timeout: Duration,
    /// SQLite `busy_timeout`: how long a connection waits for a lock held by
    /// another connection or process before returning `SQLITE_BUSY`.
    pub busy_timeout: Duration,
    /// Log every SQL statement through `log`/`tracing` (costly; debugging).
    pub log_statements: bool,
    /// PostgreSQL `synchronous_commit` for this pool. `true` (the default)
    /// waits for the WAL flush on every commit. `false` returns before the
    /// flush: a database crash can lose the last few hundred milliseconds
    /// of commits (never corrupting anything), which is the same guarantee
    /// SQLite gives here with `synchronous=NORMAL`, and removes the fsync
    /// wait from every transaction. Informs are re-sent periodically, but
    /// note that task state changes fall under it too.
    pub pg_synchronous_commit: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
            busy_timeout: Duration::from_secs(5),
            log_statements: false,
            pg_synchronous_commit: true,
        }
    }
}

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (single file, WAL).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// One migration and whether it has been applied, for `acs db status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Migration name, e.g. `m20261121_000001_initial_schema`.
    pub name: String,
    /// Whether it is recorded as applied in `seaql_migrations`.
    pub applied: bool,
}

/// Handle to the database. Cheap to clone (pools are reference counted).
#[derive(Debug, Clone)]
pub struct Store {
    /// Connections for read-only queries.
    read: DatabaseConnection,
    /// Connections for writes. On SQLite a pool of exactly one connection;
    /// on PostgreSQL the same pool as `read`.
    write: DatabaseConnection,
    backend: Backend,
    /// Recently verified API tokens (see [`Store::verify_token`]); shared
    /// by every clone of this store.
    tokens: Arc<tokens::TokenCache>,
    /// Armed commit failures (tests only); shared by every clone.
    #[cfg(any(test, feature = "fault-injection"))]
    faults: Arc<fault::FaultInjector>,
    /// The key sealing stored passwords; shared by every clone, installed once at start.
    vault: Arc<std::sync::OnceLock<crate::vault::Vault>>,
    /// How presence is judged (`[presence]`); the defaults until startup installs the
    /// configured policy. Shared by every clone.
    presence: Arc<std::sync::OnceLock<crate::presence::PresencePolicy>>,
    /// Where alerts go (`[alerts]`); none until startup installs them. Shared by every clone.
    alerts: Arc<std::sync::OnceLock<crate::alerts::AlertRouting>>,
    /// Vendor parameters holding a line's registration state (device profiles); installed
    /// once at startup. Shared by every clone.
    registration: Arc<std::sync::OnceLock<Vec<String>>>,
}

impl Store {
    /// Connects to `sqlite:…` (e.g. `sqlite://var/acs.db?mode=rwc`) or
    /// `postgres://…` and configures the pools (see the module docs).
    ///
    /// For SQLite the parent directory of the database file is created, and
    /// every connection gets `journal_mode=WAL`, `synchronous=NORMAL` (durable
    /// across application crashes; a power loss can lose the last
    /// transactions but never corrupts the file), `foreign_keys=ON` (needed
    /// for `ON DELETE CASCADE`) and `busy_timeout`.
    ///
    /// An in-memory SQLite database (`sqlite::memory:`) uses a single
    /// connection for everything, since each connection would otherwise see
    /// its own empty database.
    pub async fn connect(url: &str, opts: StoreOptions) -> Result<Store, StoreError> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, &opts).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::connect_postgres(url, &opts).await
        } else {
            let scheme = url.split(':').next().unwrap_or_default().to_owned();
            Err(StoreError::UnsupportedUrl(scheme))
        }
    }

    async fn connect_postgres(url: &str, opts: &StoreOptions) -> Result<Store, StoreError> {
        let mut co = ConnectOptions::new(url);
        co.max_connections(opts.max_connections.max(1))
            .min_connections(1)
            .acquire_timeout(opts.acquire_timeout)
            // Ping only connections that sat idle (a proxy may have dropped
            // them) instead of a round trip on every checkout.
            .test_before_acquire_if_idle_for(Duration::from_secs(30))
            .sqlx_logging(opts.log_statements)
            .set_application_name("acs")
            .map_sqlx_postgres_pool_opts(|o| {
                o.after_release(|conn, _| Box::pin(txn::release_check(conn, false)))
            });
        if !opts.pg_synchronous_commit {
            co.map_sqlx_postgres_opts(|o| o.options([("synchronous_commit", "off")]));
        }
        let db = Database::connect(co).await?;
        Ok(Store {
            read: db.clone(),
            write: db,
            backend: Backend::Postgres,
            tokens: Arc::default(),
            #[cfg(any(test, feature = "fault-injection"))]
            faults: Arc::default(),
            vault: Arc::default(),
            presence: Arc::default(),
            alerts: Arc::default(),
            registration: Arc::default(),
        })
    }

    async fn connect_sqlite(url: &str, opts: &StoreOptions) -> Result<Store, StoreError> {
        let parsed = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::InvalidUrl(e.to_string()))?;
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory
            && let Some(dir) = parsed.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            crate::vault::create_private_dir(dir).map_err(|source| StoreError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        if !in_memory {
            // Owner-only from the first byte: it holds sealed secrets and the device inventory.
            // SQLite gives the -wal and -shm files the database file's mode.
            let create = url.contains("mode=rwc");
            private_db_file(parsed.get_filename(), create).map_err(|source| {
                StoreError::DbFile {
                    path: parsed.get_filename().to_path_buf(),
                    source,
                }
            })?;
        }

        let busy = opts.busy_timeout;
        let sqlite_pool = |size: u32, query_only: bool| {
            let mut co = ConnectOptions::new(url);
            co.max_connections(size)
                .min_connections(1)
                .acquire_timeout(opts.acquire_timeout)
                // A local file cannot "drop" a connection: no pings. Keep
                // connections (and their prepared-statement caches) forever.
                .test_before_acquire(false)
                .idle_timeout(None)
                .max_lifetime(None)
                .sqlx_logging(opts.log_statements)
                .map_sqlx_sqlite_opts(move |o| {
                    let o = o
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(busy)
                        .pragma("temp_store", "memory");
                    if query_only {
                        o.pragma("query_only", "ON")
                    } else {
                        o
                    }
                });
            // An in-memory database lives only as long as its one connection: that one is
            // never discarded (a known limit: a broken in-memory writer stays broken).
            if !query_only && !in_memory {
                co.map_sqlx_sqlite_pool_opts(|o| {
                    o.after_release(|conn, _| Box::pin(txn::release_check(conn, true)))
                });
            }
            co
        };

        // The writer is opened first: it creates the file (mode=rwc) and
        // switches it to WAL before any reader opens it.
        let write = Database::connect(sqlite_pool(1, false)).await?;
        let store_vault: Arc<std::sync::OnceLock<crate::vault::Vault>> = Arc::default();
        if in_memory {
            // The database dies with the process, and so may its key.
            let _ = store_vault.set(crate::vault::Vault::from_key(&rand::random()));
        }
        let read = if in_memory {
            write.clone()
        } else {
            Database::connect(sqlite_pool(opts.max_connections.max(1), true)).await?
        };
        Ok(Store {
            read,
            write,
            backend: Backend::Sqlite,
            tokens: Arc::default(),
            #[cfg(any(test, feature = "fault-injection"))]
            faults: Arc::default(),
            vault: store_vault,
            presence: Arc::default(),
            alerts: Arc::default(),
            registration: Arc::default(),
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies all pending migrations. Idempotent.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.write, None).await?;
        Ok(())
    }

    /// Every known migration and whether it is applied, in order. Does not
    /// create the migrations table (works on an empty database).
    pub async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError> {
        let list = Migrator::get_migration_with_status_read_only(&self.read).await?;
        Ok(list
            .iter()
            .map(|m| MigrationState {
                name: m.name().to_owned(),
                applied: matches!(m.status(), migration::MigrationStatus::Applied),
            })
            .collect())
    }

    /// Closes the pools (on SQLite this lets the last connection checkpoint
    /// the WAL into the main file).
    pub async fn close(self) -> Result<(), StoreError> {
        let Store { read, write, .. } = self;
        // Readers first, so the writer is the last connection to close and
        // checkpoints the WAL. `read` may be a clone of `write` (PostgreSQL,
        // in-memory SQLite); closing a closed pool is a no-op.
        read.close().await?;
        write.close().await?;
        Ok(())
    }

    /// Starts a write transaction.
    ///
    /// On SQLite it is opened with `BEGIN IMMEDIATE`, through SeaORM 2's
    /// `TransactionOptions { sqlite_transaction_mode: Some(Immediate) }`
    /// (sqlx issues the `BEGIN IMMEDIATE` statement itself, so its
    /// transaction depth bookkeeping stays right). A plain (deferred) `BEGIN`
    /// starts as a reader; its first write must upgrade to the write lock.
    /// SQLite never runs the busy handler for a connection that already holds
    /// a read transaction (waiting could deadlock, and once another writer has
    /// committed the snapshot is stale anyway), so that upgrade fails at once
    /// with `SQLITE_BUSY`/`SQLITE_BUSY_SNAPSHOT` whenever another connection
    /// writes concurrently, and `busy_timeout` does not help. `BEGIN
    /// IMMEDIATE` takes the write lock before any snapshot exists, where
    /// waiting is safe and `busy_timeout` applies.
    ///
    /// Within this process there is only one writer connection, so writers
    /// queue fairly on the pool instead of spinning in SQLite's busy handler;
    /// `BEGIN IMMEDIATE` + `busy_timeout` cover other processes (the CLI,
    /// a second server) writing the same file. On PostgreSQL the option is
    /// ignored and this is a plain `BEGIN`.
    ///
    /// After a failure the connection is rolled back or, when even that fails, closed and
    /// replaced, so a failed write never leaves the database locked nor later writes inside
    /// a transaction that is never committed (see `txn.rs`).
    pub(crate) async fn begin_write(&self) -> Result<txn::WriteTxn, StoreError> {
        let opts = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let inner = self.write.begin_with_options(opts).await?;
        Ok(txn::WriteTxn::new(inner, self))
    }

    pub(crate) fn db_backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }
}

/// Creates the SQLite file with mode 0600 when it does not exist yet and the URL lets SQLite
/// create it (`mode=rwc`), and takes group and other permissions away from an existing one
/// (databases created before this was done).
fn private_db_file(path: &std::path::Path, create: bool) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        opts.mode(0o600);
        if create && !path.exists() {
            opts.open(path)?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = std::path::PathBuf::from(name);
            if let Ok(meta) = std::fs::metadata(&file)
                && meta.permissions().mode() & 0o077 != 0
            {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    if create && !path.exists() {
        opts.open(path)?;
    }
    Ok(())
}

/// Truncates to whole microseconds (PostgreSQL's precision); see module docs.
pub(crate) fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// Bound-data budget for one PostgreSQL statement.
///
/// sqlx 0.9.0 stopped setting `TCP_NODELAY` on its sockets (sqlx issue
/// #4335, fixed upstream after 0.9.0). A Bind message bigger than the socket
/// send buffer then goes out in two writes, Nagle's algorithm holds the
/// second one until the server ACKs the first, and the server delays that
/// ACK by ~40 ms: measured, a 160-row parameter upsert took 45 ms over TCP
/// instead of 0.5 ms. Keeping each statement's data under this budget
/// avoids the stall for the price of a few more (sub-millisecond) round
/// trips. Not needed over a Unix socket or once sqlx sets `TCP_NODELAY`
/// again.
pub(crate) const PG_MAX_STATEMENT_BYTES: usize = 8 * 1024;

/// Splits `items` into consecutive chunks such that no chunk has more than
/// [`MAX_BIND_PARAMS`] bind parameters (`columns` per item) and, on
/// PostgreSQL, no chunk's estimated data (`size` per item) exceeds
/// [`PG_MAX_STATEMENT_BYTES`] (a single oversized item gets a chunk of its
/// own).
pub(crate) fn chunks<T>(
    backend: DbBackend,
    items: &[T],
    columns: usize,
    size: impl Fn(&T) -> usize,
) -> Vec<&[T]> {
    let max_rows = (MAX_BIND_PARAMS / columns.max(1)).max(1);
    let max_bytes = match backend {
        DbBackend::Postgres => PG_MAX_STATEMENT_BYTES,
        _ => usize::MAX,
    };
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (i, item) in items.iter().enumerate() {
        // Per value: a 4-byte length prefix plus the data.
        let n = size(item).saturating_add(4 * columns);
        if i > start && (i - start >= max_rows || bytes.saturating_add(n) > max_bytes) {
            out.push(&items[start..i]);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(n);
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    #[test]
    fn chunks_respect_bind_limit_and_pg_budget() {
        let items: Vec<usize> = vec![10; 70_000];
        let c = chunks(DbBackend::Sqlite, &items, 6, |s| *s);
        assert_eq!(c.len(), 14);
        assert!(c.iter().all(|c| c.len() * 6 <= MAX_BIND_PARAMS));
        assert_eq!(c.iter().map(|c| c.len()).sum::<usize>(), 70_000);

        let c = chunks(DbBackend::Postgres, &items, 6, |s| *s);
        assert!(c.iter().all(|c| c.len() * 34 <= PG_MAX_STATEMENT_BYTES));
        assert_eq!(c.iter().map(|c| c.len()).sum::<usize>(), 70_000);

        let big = [100_000usize, 1, 100_000];
        assert_eq!(chunks(DbBackend::Postgres, &big, 1, |s| *s).len(), 3);
        assert!(chunks(DbBackend::Postgres, &[] as &[usize], 1, |s| *s).is_empty());
    }
}

//! Typed storage errors.

use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::DbErr;

use crate::storage::model::TaskState;

/// Everything that can go wrong in [`crate::storage::Store`].
///
/// Callers match on the domain variants (`DeviceNotFound`, `TaskNotFound`,
/// `TaskStateConflict`) to drive protocol decisions; `Db` wraps driver
/// failures, and `Corrupt` reports rows that cannot be decoded instead of
/// panicking on them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL scheme is neither `sqlite:` nor `postgres://`/`postgresql://`.
    /// Only the scheme is kept so that credentials never reach a log line.
    #[error("unsupported database URL scheme `{0}` (expected sqlite: or postgres://)")]
    UnsupportedUrl(String),

    /// The URL has a supported scheme but could not be parsed.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),

    /// The directory that should hold the SQLite file could not be created.
    #[error("cannot create database directory {path}: {source}")]
    CreateDir {
        /// The directory we tried to create.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The SQLite file could not be created, or made private to its owner.
    #[error("cannot create or restrict the database file {path}: {source}")]
    DbFile {
        /// The database file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// An error from the database driver or from SeaORM.
    #[error("database error: {0}")]
    Db(#[from] DbErr),

    /// The caller passed a value the store refuses (e.g. an empty device id).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// No device with this id.
    #[error("device `{0}` not found")]
    DeviceNotFound(String),

    /// No task with this id.
    #[error("task {0} not found")]
    TaskNotFound(i64),

    /// A compare-and-set state change found the task in another state, e.g.
    /// a second session trying to send a task that was already sent.
    #[error("task {task_id} is `{actual}`, expected `{expected}`")]
    TaskStateConflict {
        /// The task.
        task_id: i64,
        /// The state the transition requires.
        expected: TaskState,
        /// The state the task is actually in.
        actual: TaskState,
    },

    /// A stored value could not be decoded (bad JSON shape, unknown task
    /// state, ...). Reported rather than panicking so one bad row cannot take
    /// the server down.
    #[error("corrupt data in {table}.{column} (row {key}): {reason}")]
    Corrupt {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
        /// Primary key of the row, as text.
        key: String,
        /// What was wrong.
        reason: String,
    },

    /// `create_token`: a token with this name already exists (names stay
    /// taken after a revoke, so the audit trail stays unambiguous).
    #[error("a token named `{0}` already exists")]
    TokenNameTaken(String),

    /// An insert of a named thing (a provisioning rule) whose name is taken.
    #[error("{0} already exists")]
    AlreadyExists(String),

    /// A password had to be sealed or opened but no key was installed
    /// ([`crate::storage::Store::install_vault`]).
    #[error("no secrets key is loaded; stored passwords cannot be written or read")]
    NoVault,

    /// A stored password cannot be opened with the installed key.
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),

    /// `revoke_token`: no token with this name or id.
    #[error("no token named `{0}` (or with that id)")]
    TokenNotFound(String),

    /// The admin token file could not be written.
    #[error("cannot write token file {path}: {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The group-commit transaction this write was part of failed and was rolled back:
    /// nothing of it is stored, and retrying is safe. Every write of the batch gets this, with
    /// the shared cause.
    #[error("the write was rolled back with its batch; nothing of it is stored: {0}")]
    BatchRolledBack(Arc<StoreError>),

    /// A query could not be built (a bug in this module, never user data).
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl StoreError {
    /// Whether the database itself (not the request) is the problem: the pool is exhausted
    /// or the connection was lost, so retrying later may work. The NBI answers these with 503,
    /// without having to know the driver's error type.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Db(DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
        )
    }
}

impl From<sea_orm::sea_query::error::Error> for StoreError {
    fn from(e: sea_orm::sea_query::error::Error) -> Self {
        StoreError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lost_or_exhausted_database_is_unavailable() {
        let lost = StoreError::Db(DbErr::Conn(sea_orm::RuntimeErr::Internal("reset".into())));
        let busy = StoreError::Db(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert!(lost.is_unavailable() && busy.is_unavailable());
        for other in [
            StoreError::Db(DbErr::Custom("constraint".into())),
            StoreError::InvalidInput("x".into()),
            StoreError::TaskNotFound(1),
        ] {
            assert!(!other.is_unavailable(), "{other}");
        }
    }
}

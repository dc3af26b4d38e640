//! SeaORM entities mirroring the tables created by the `migration` crate.
//!
//! They are private to the storage module: the public API speaks the plain
//! types of [`crate::storage::model`]. Column types match the migration
//! (`timestamp with time zone`, `jsonb` on PostgreSQL; text on SQLite).

pub(crate) mod api_token;
pub(crate) mod device;
pub(crate) mod device_credential;
pub(crate) mod device_event;
pub(crate) mod device_parameter;
pub(crate) mod device_tag;
pub(crate) mod file;
pub(crate) mod file_transfer;
pub(crate) mod job;
pub(crate) mod provision_rule;
pub(crate) mod provision_state;
pub(crate) mod task;

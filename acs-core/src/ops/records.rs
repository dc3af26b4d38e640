//! The NBI's side door to stored records: lookups (devices, parameters, events, tasks, files,
//! tokens) and the plain record edits (tags, deleting a device) that need no engine.
//!
//! These pass straight through to [`Store`](crate::storage::Store), but through
//! [`Operations`], so that an API handler holds one service and never the store: what it
//! may touch is listed here, and storage errors reach it as [`OpsError`], never as the
//! driver's type.

use chrono::{DateTime, Utc};

use super::{Operations, OpsError};
use crate::filter::Filter;
use crate::storage::{
    DevicePage, DeviceQuery, DeviceRow, EventRow, FileKind, FileRow, FileTransferRecord,
    ParameterRow, TaskRow, TokenInfo, TransferCounts,
};

impl Operations {
    /// A device by its exact id.
    pub async fn device(&self, id: &str) -> Result<Option<DeviceRow>, OpsError> {
        Ok(self.store.get_device(id).await?)
    }

    /// A page of devices: filtered, sorted, keyset-paged.
    pub async fn find_devices(&self, query: &DeviceQuery<'_>) -> Result<DevicePage, OpsError> {
        Ok(self.store.find_devices(query).await?)
    }

    /// How many devices match `filter` (all without one) at `now`.
    pub async fn count_devices(
        &self,
        filter: Option<&Filter>,
        now: DateTime<Utc>,
    ) -> Result<u64, OpsError> {
        Ok(self.store.count_devices_matching(filter, now).await?)
    }

    /// A device's tags, sorted.
    pub async fn device_tags(&self, device_id: &str) -> Result<Vec<String>, OpsError> {
        Ok(self.store.list_tags(device_id).await?)
    }

    /// Deletes a device with everything stored about it; `false` when there was none.
    pub async fn delete_device(&self, device_id: &str) -> Result<bool, OpsError> {
        Ok(self.store.delete_device(device_id).await?)
    }

    /// Tags a device (idempotent).
    pub async fn add_tag(&self, device_id: &str, tag: &str) -> Result<(), OpsError> {
        Ok(self.store.add_tag(device_id, tag).await?)
    }

    /// Removes a tag; `false` when the device did not have it.
    pub async fn remove_tag(&self, device_id: &str, tag: &str) -> Result<bool, OpsError> {
        Ok(self.store.remove_tag(device_id, tag).await?)
    }

    /// A device's stored parameters, by name, optionally under a prefix.
    pub async fn parameters(
        &self,
        device_id: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<ParameterRow>, OpsError> {
        Ok(self.store.get_parameters(device_id, prefix).await?)
    }

    /// A device's latest Inform events, newest first.
    pub async fn events(&self, device_id: &str, limit: u64) -> Result<Vec<EventRow>, OpsError> {
        Ok(self.store.list_events(device_id, limit).await?)
    }

    /// A device's tasks, oldest first.
    pub async fn device_tasks(&self, device_id: &str) -> Result<Vec<TaskRow>, OpsError> {
        Ok(self.store.list_tasks(device_id).await?)
    }

    /// One task.
    pub async fn task(&self, task_id: i64) -> Result<Option<TaskRow>, OpsError> {
        Ok(self.store.get_task(task_id).await?)
    }

    /// The token's name and role when it is valid at `now`.
    pub async fn verify_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenInfo>, OpsError> {
        Ok(self.store.verify_token(token, now).await?)
    }

    /// Stored files, newest first, optionally of one kind.
    pub async fn files(&self, kind: Option<FileKind>) -> Result<Vec<FileRow>, OpsError> {
        Ok(self.store.list_files(kind).await?)
    }

    /// One stored file.
    pub async fn file(&self, id: i64) -> Result<Option<FileRow>, OpsError> {
        Ok(self.store.get_file(id).await?)
    }

    /// A device's file fetches counted by outcome, all time.
    pub async fn transfer_counts(&self, device_id: &str) -> Result<TransferCounts, OpsError> {
        Ok(self.store.file_transfer_counts(device_id).await?)
    }

    /// A device's latest file fetches, newest first.
    pub async fn transfers(
        &self,
        device_id: &str,
        limit: u64,
    ) -> Result<Vec<FileTransferRecord>, OpsError> {
        Ok(self
            .store
            .file_transfers_of_device(device_id, limit)
            .await?)
    }
}

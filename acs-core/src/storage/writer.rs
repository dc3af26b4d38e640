//! Group commit for Informs.
//!
//! Every session starts with one write (the Inform), and SQLite has a single writer: one
//! transaction per Inform tops out near 2,000/s on the reference machine, while one
//! transaction for many Informs reaches ~10,000/s. The writer task takes whatever Informs are
//! waiting, stores them in one transaction, and answers each caller. Batches form only while
//! the writer is busy, so an idle server adds no latency.
//!
//! Architecture invariant: a caller's `record` returns `Ok` only after its Inform is committed,
//! so the InformResponse still follows the stored Inform. When the batch's transaction fails,
//! it is rolled back and every caller in it gets an error (the CPE is answered with a fault
//! and retries); the writer then carries on with the next batch.

use std::sync::Arc;

use sea_orm::SqlErr;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::storage::model::{DeviceRow, InformRecord};
use crate::storage::{Store, StoreError};

struct Job {
    record: InformRecord,
    reply: oneshot::Sender<Result<DeviceRow, StoreError>>,
}

/// Handle to the writer task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct InformWriter {
    tx: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("device_id", &self.record.device_id)
            .finish_non_exhaustive()
    }
}

/// Seconds one group commit of Informs took (the transaction, from begin to commit).
pub const COMMIT_SERIES: &str = "acs_storage_commit_seconds";
/// Informs per group commit.
pub const BATCH_SERIES: &str = "acs_storage_commit_batch_size";
/// Informs waiting for the writer when a batch starts.
pub const QUEUE_SERIES: &str = "acs_storage_writer_queue_depth";

impl InformWriter {
    /// Starts the writer on the current tokio runtime. `max_batch` bounds one transaction.
    pub fn spawn(store: Store, event_retention: usize, max_batch: usize) -> Self {
        let (tx, mut rx) = mpsc::channel::<Job>(max_batch.max(1) * 8);
        tokio::spawn(async move {
            let mut batch: Vec<Job> = Vec::with_capacity(max_batch);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                while batch.len() < max_batch {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                // What waits behind this batch: a growing queue says the disk is the limit.
                metrics::gauge!(QUEUE_SERIES).set(rx.len() as f64);
                metrics::histogram!(BATCH_SERIES).record(batch.len() as f64);
                let started = std::time::Instant::now();
                write_batch(&store, event_retention, &mut batch).await;
                metrics::histogram!(COMMIT_SERIES).record(started.elapsed().as_secs_f64());
            }
        });
        InformWriter { tx }
    }

    /// Stores one Inform; returns once it is committed.
    pub async fn record(&self, record: InformRecord) -> Result<DeviceRow, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { record, reply })
            .await
            .map_err(|_| StoreError::Internal("the Inform writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Internal("the Inform writer dropped a request".into()))?
    }
}

async fn write_batch(store: &Store, retention: usize, batch: &mut Vec<Job>) {
    let records: Vec<InformRecord> = batch.iter().map(|j| j.record.clone()).collect();
    match store.record_informs(&records, retention).await {
        Ok(rows) if rows.len() == batch.len() => {
            for (job, row) in batch.drain(..).zip(rows) {
                let _ = job.reply.send(Ok(row));
            }
        }
        Ok(rows) => {
            // Stored, but the rows cannot be matched to the callers: only a bug gets here.
            // Failing them is safe (the CPEs retry; an Inform stored twice is harmless).
            let msg = format!(
                "{} Informs stored, {} rows returned",
                batch.len(),
                rows.len()
            );
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(StoreError::Internal(msg.clone())));
            }
        }
        Err(e) if batch.len() > 1 && is_about_one_record(&e) => {
            warn!(error = %e, informs = batch.len(), "batched Inform write refused; writing one by one");
            // One transaction each, so one bad record cannot fail the others. Safe only
            // because the failed batch was rolled back and its connection is clean again.
            for job in batch.drain(..) {
                let r = store.record_inform(&job.record, retention).await;
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            // The storage itself failed (I/O, disk full, connection lost): the batch was
            // rolled back, and retrying its Informs one by one would only hit the same wall.
            // Every caller is told, so no session acknowledges an Inform that is not stored.
            warn!(error = %e, informs = batch.len(), "Inform batch rolled back");
            let cause = Arc::new(e);
            for job in batch.drain(..) {
                let _ = job
                    .reply
                    .send(Err(StoreError::BatchRolledBack(cause.clone())));
            }
        }
    }
}

/// Runs one batch of exactly these records through the writer's commit path, as the writer
/// task does with whatever is waiting, and returns each caller's answer in order.
#[cfg(test)]
pub(crate) async fn write_batch_of(
    store: &Store,
    retention: usize,
    records: Vec<InformRecord>,
) -> Vec<Result<DeviceRow, StoreError>> {
    let (mut batch, answers): (Vec<Job>, Vec<_>) = records
        .into_iter()
        .map(|record| {
            let (reply, answer) = oneshot::channel();
            (Job { record, reply }, answer)
        })
        .unzip();
    write_batch(store, retention, &mut batch).await;
    let mut out = Vec::with_capacity(answers.len());
    for answer in answers {
        out.push(
            answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Internal("the batch dropped a caller".into()))),
        );
    }
    out
}

/// Whether a failed batch was refused because of what one of its records holds (a constraint
/// or an invalid value), rather than because the storage failed.
fn is_about_one_record(e: &StoreError) -> bool {
    match e {
        StoreError::InvalidInput(_) => true,
        StoreError::Db(db) => matches!(
            db.sql_err(),
            Some(SqlErr::UniqueConstraintViolation(_) | SqlErr::ForeignKeyConstraintViolation(_))
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{InformRecord, StoreOptions};

    fn record(i: usize) -> InformRecord {
        InformRecord {
            device_id: format!("00562B-W-{i}"),
            manufacturer: "Cisco".into(),
            oui: "00562B".into(),
            product_class: "W".into(),
            serial_number: format!("{i}"),
            remote_ip: None,
            cwmp_version: "urn:dslforum-org:cwmp-1-2".into(),
            events: vec![],
            parameters: vec![],
            received_at: chrono::Utc::now(),
            is_bootstrap: true,
            is_boot: false,
        }
    }

    #[tokio::test]
    async fn concurrent_informs_are_all_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(
            &format!("sqlite://{}/w.db?mode=rwc", dir.path().display()),
            StoreOptions::default(),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let writer = InformWriter::spawn(store.clone(), 10, 64);
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let w = writer.clone();
                // The same device twice in flight: the batch must split it, not fail.
                tokio::spawn(async move { w.record(record(i % 150)).await })
            })
            .collect();
        for h in handles {
            let row = h.await.unwrap().unwrap();
            assert!(row.id.starts_with("00562B-W-"));
        }
        assert_eq!(store.count_devices().await.unwrap(), 150);
    }
}

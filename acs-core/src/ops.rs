//! Operations: what the northbound API and the CLI ask of the ACS, on top of storage, the task
//! engine and the connection-request client.
//!
//! This is the one place that ties a stored task to "wake the device now" (a connection
//! request) and to "tell me when it is done" (a per-task notification the CWMP session driver
//! fires on every state change), and that turns one task definition into a bulk job over many
//! devices.
//!
//! Architecture invariant: a job's tasks are all stored (one transaction per chunk) before any
//! connection request for the job goes out, and a job's progress is derived from its tasks'
//! states, never kept in memory. A restart therefore loses nothing and repeats nothing: the
//! runner resumes by looking at the stored tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::connreq::{ConnReqClient, ConnReqOutcome, ConnReqTarget, FanOutSummary};
use crate::filter::{Filter, FilterError};
use crate::storage::{DeviceRow, Store, StoreError, TaskRow, TaskState};
use crate::tasks::{TaskSpec, TaskSpecError};

/// Why an operation was refused or failed. The NBI maps each variant to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// 404: no such device / task / job.
    #[error("{what} `{id}` not found")]
    NotFound {
        /// `"device"`, `"task"`, `"job"`.
        what: &'static str,
        /// The id or name asked for.
        id: String,
    },
    /// 409: a device name (serial, MAC) matches several devices.
    #[error("`{name}` matches {} devices: {}", candidates.len(), candidates.join(", "))]
    Ambiguous {
        /// The name asked for.
        name: String,
        /// The matching device ids.
        candidates: Vec<String>,
    },
    /// 409: the request conflicts with the current state (cancel a sent task, …).
    #[error("{0}")]
    Conflict(String),
    /// 400: an invalid task definition.
    #[error("invalid task: {0}")]
    InvalidTask(#[from] TaskSpecError),
    /// 400: a malformed filter (carries the position).
    #[error("invalid filter: {0}")]
    InvalidFilter(#[from] FilterError),
    /// 400: any other invalid input.
    #[error("{0}")]
    Invalid(String),
    /// 503/500: the database failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Options for a single task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOptions {
    /// The task expires if it has not been sent this long after creation.
    pub expires_in: Option<Duration>,
    /// Send attempts before the task is given up (default 3).
    pub max_attempts: Option<i32>,
}

/// Which devices a bulk job targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobTarget {
    /// Every device matching a filter when the job is created.
    Filter(String),
    /// These device ids (or serials / MACs, resolved when unique).
    Devices(Vec<String>),
}

/// A bulk job to create: one task definition over many devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The task each device gets.
    pub spec: TaskSpec,
    /// The devices.
    pub target: JobTarget,
    /// Wake the devices with connection requests instead of waiting for their next Inform.
    pub connection_request: bool,
    /// Per-task options.
    pub options: TaskOptions,
    /// Who created it (the API token's name), for the record.
    pub created_by: Option<String>,
}

/// Life cycle of a job: `running` until every task is final, or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Tasks are still queued or sent.
    Running,
    /// Every task reached a final state.
    Finished,
    /// Cancelled by an operator; its queued tasks were cancelled.
    Cancelled,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Id.
    pub id: i64,
    /// The task definition.
    pub spec: TaskSpec,
    /// The filter, when the job was created from one.
    pub filter: Option<String>,
    /// Whether connection requests are sent.
    pub connection_request: bool,
    /// State.
    pub state: JobState,
    /// Number of devices (tasks).
    pub total: i64,
    /// Creator.
    pub created_by: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it became finished or cancelled.
    pub finished_at: Option<DateTime<Utc>>,
}

/// How many of a job's tasks are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    /// Waiting for the device.
    pub queued: i64,
    /// Sent, waiting for the answer.
    pub sent: i64,
    /// Done.
    pub done: i64,
    /// Faulted.
    pub fault: i64,
    /// Expired before being sent.
    pub expired: i64,
    /// Cancelled.
    pub cancelled: i64,
}

impl TaskCounts {
    /// Sum of all states.
    pub fn total(&self) -> i64 {
        self.queued + self.sent + self.done + self.fault + self.expired + self.cancelled
    }

    /// Tasks still queued or sent.
    pub fn pending(&self) -> i64 {
        self.queued + self.sent
    }
}

/// A job with its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    /// The job.
    pub job: JobRow,
    /// Progress.
    pub counts: TaskCounts,
}

/// A listing of tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskQuery {
    /// Only this device's tasks.
    pub device_id: Option<String>,
    /// Only tasks in this state.
    pub state: Option<TaskState>,
    /// Only this job's tasks.
    pub job_id: Option<i64>,
    /// Only this kind (`reboot`, …).
    pub kind: Option<String>,
    /// Page size (clamped to 1..=1000).
    pub limit: u64,
    /// Only tasks with a larger id (the `next` cursor of the previous page).
    pub after: Option<i64>,
}

/// One page of tasks, by ascending id.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPage {
    /// The tasks.
    pub tasks: Vec<TaskRow>,
    /// Cursor for the next page.
    pub next: Option<i64>,
}

/// A fault: a task in state `fault` that nobody has cleared yet.
pub type FaultRow = TaskRow;

/// One row of a bulk parameter query: a device and one of the asked names. `value` is `None`
/// when the device has no stored value for the name, so a script sees every device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterQueryRow {
    /// Device id.
    pub device_id: String,
    /// Parameter name.
    pub name: String,
    /// Stored value.
    pub value: Option<String>,
    /// Stored xsd type (`xsd:string`, …).
    #[serde(rename = "type")]
    pub xsd_type: Option<String>,
    /// When the value was stored.
    pub updated_at: Option<DateTime<Utc>>,
}

/// Who a bulk parameter query covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSelection {
    /// Every device.
    All,
    /// Devices matching a filter.
    Filter(Filter),
    /// These device ids.
    Devices(Vec<String>),
}

/// What a connection request for a task did, reported next to the task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnReqReport {
    /// `accepted`, `rate_limited`, `busy`, `auth_failed`, `unreachable`, `invalid_target`,
    /// `unexpected` (see [`ConnReqOutcome::kind`]).
    pub outcome: String,
    /// Human-readable detail.
    pub detail: String,
}

impl From<&ConnReqOutcome> for ConnReqReport {
    fn from(o: &ConnReqOutcome) -> Self {
        ConnReqReport {
            outcome: o.kind().to_owned(),
            detail: o.to_string(),
        }
    }
}

/// The operations service: one per server, shared by the CWMP driver and the NBI.
pub struct Operations {
    store: Store,
    connreq: ConnReqClient,
    waiters: Mutex<HashMap<i64, Arc<Notify>>>,
    job_chunk: usize,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations").finish_non_exhaustive()
    }
}

impl Operations {
    /// The service over `store`, waking devices with `connreq`.
    pub fn new(store: Store, connreq: ConnReqClient) -> Operations {
        Operations {
            store,
            connreq,
            waiters: Mutex::new(HashMap::new()),
            job_chunk: 500,
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The connection-request client.
    pub fn connreq(&self) -> &ConnReqClient {
        &self.connreq
    }

    /// Called by the session driver after it stored a state change of `task_id`: wakes
    /// [`Operations::wait_for_task`] callers.
    pub fn task_changed(&self, task_id: i64) {
        let _ = (task_id, &self.waiters, self.job_chunk);
        todo!()
    }

    /// Called by the session driver on every accepted Inform.
    pub fn session_started(&self, device_id: &str) {
        self.connreq.session_started(device_id);
    }

    /// Finds a device by its id, or else its serial number or MAC when that names exactly one.
    pub async fn resolve_device(&self, name: &str) -> Result<DeviceRow, OpsError> {
        let _ = name;
        todo!()
    }

    /// Validates `spec` and queues it for `device_id` (an exact id).
    pub async fn create_task(
        &self,
        device_id: &str,
        spec: &TaskSpec,
        options: &TaskOptions,
    ) -> Result<TaskRow, OpsError> {
        let _ = (device_id, spec, options);
        todo!()
    }

    /// Sends one connection request to `device_id` with its stored URL and credentials.
    pub async fn connection_request(&self, device_id: &str) -> Result<ConnReqOutcome, OpsError> {
        let _ = device_id;
        todo!()
    }

    /// Sends connection requests to many devices, bounded by the client's concurrency.
    pub async fn connection_requests(&self, device_ids: &[String]) -> FanOutSummary {
        let _ = (device_ids, std::marker::PhantomData::<ConnReqTarget>);
        todo!()
    }

    /// Waits until the task is final (a Reboot counts once it is `done`), or `timeout` passes;
    /// returns the task as stored then.
    pub async fn wait_for_task(&self, task_id: i64, timeout: Duration) -> Result<TaskRow, OpsError> {
        let _ = (task_id, timeout);
        todo!()
    }

    /// A page of tasks.
    pub async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage, OpsError> {
        let _ = query;
        todo!()
    }

    /// Cancels a queued task (409 for any other state).
    pub async fn cancel_task(&self, task_id: i64) -> Result<TaskRow, OpsError> {
        let _ = task_id;
        todo!()
    }

    /// Queues a new copy of a task that ended in `fault`, `expired` or `cancelled` (409
    /// otherwise); the copy keeps the job. Clears the old task's fault.
    pub async fn retry_task(&self, task_id: i64) -> Result<TaskRow, OpsError> {
        let _ = task_id;
        todo!()
    }

    /// Uncleared faults, newest last, optionally of one device; paged by task id.
    pub async fn list_faults(
        &self,
        device_id: Option<&str>,
        limit: u64,
        after: Option<i64>,
    ) -> Result<TaskPage, OpsError> {
        let _ = (device_id, limit, after);
        todo!()
    }

    /// Clears faults: one task's, or all of a device's, or all. Returns how many.
    pub async fn clear_faults(
        &self,
        task_id: Option<i64>,
        device_id: Option<&str>,
    ) -> Result<u64, OpsError> {
        let _ = (task_id, device_id);
        todo!()
    }

    /// Creates a job: resolves the devices, stores the job and all its tasks, returns it.
    /// Connection requests are sent by the runner ([`Operations::run_jobs_once`]).
    pub async fn create_job(&self, job: &NewJob) -> Result<JobStatus, OpsError> {
        let _ = job;
        todo!()
    }

    /// A job with its progress.
    pub async fn job(&self, job_id: i64) -> Result<JobStatus, OpsError> {
        let _ = job_id;
        todo!()
    }

    /// Jobs by descending id.
    pub async fn list_jobs(
        &self,
        limit: u64,
        after: Option<i64>,
    ) -> Result<Vec<JobStatus>, OpsError> {
        let _ = (limit, after);
        todo!()
    }

    /// Cancels a running job: its queued tasks become `cancelled`; sent ones finish normally.
    pub async fn cancel_job(&self, job_id: i64) -> Result<JobStatus, OpsError> {
        let _ = job_id;
        todo!()
    }

    /// One pass of the job runner: marks finished jobs, expires overdue tasks, and sends
    /// connection requests to devices with queued tasks of running jobs that asked for them
    /// (the client's 30 s pacing keeps repeats cheap). Returns the number of requests sent.
    pub async fn run_jobs_once(&self) -> Result<usize, OpsError> {
        Ok(0)
    }

    /// A cursor over the stored values of `names` for the selected devices, in device-id
    /// order, `batch` devices per database round trip (memory stays flat however many devices
    /// match).
    pub fn query_parameters(
        &self,
        selection: DeviceSelection,
        names: Vec<String>,
        batch: usize,
    ) -> ParameterCursor {
        let _ = (selection, names, batch);
        todo!()
    }
}

/// Batches of a bulk parameter query; see [`Operations::query_parameters`].
#[derive(Debug)]
pub struct ParameterCursor {
    _store: Store,
}

impl ParameterCursor {
    /// The next batch of rows (every asked name for every device of the batch), `None` at the
    /// end.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<ParameterQueryRow>>, OpsError> {
        todo!()
    }
}

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
use crate::rollout::{DeviceOutcome, RolloutCounts};
use crate::storage::{ConnReqRecord, DeviceRow, Store, StoreError, TaskRow, TaskState};
pub use crate::storage::{FailureLimit, JobRow, JobState, OutboxRow, OutboxState, TaskCounts};
use crate::tasks::{TaskSpec, TaskSpecError};

mod alerts;
mod presence;

pub use alerts::MAX_ALERTS_LISTED;
mod records;

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
    /// At most this many devices in flight at once (task queued or sent, or a Download whose
    /// TransferComplete has not come yet); `None`: every device gets its task at once.
    pub concurrency: Option<u32>,
    /// Stop the job when more devices than this failed.
    pub max_failures: Option<FailureLimit>,
    /// Send and wake only while this window is open; work still queued when it closes waits
    /// for the next one.
    pub window: Option<crate::window::MaintenanceWindow>,
}

/// A job with its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    /// The job.
    pub job: JobRow,
    /// Progress.
    pub counts: TaskCounts,
    /// Where its devices stand (see [`crate::rollout`]).
    pub rollout: RolloutCounts,
    /// When the job's maintenance window opens next, while it is closed (its work waits).
    pub window_opens_at: Option<DateTime<Utc>>,
}

/// A job's tasks with each device's rollout outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    /// Per state.
    pub counts: RolloutCounts,
    /// Per task id.
    pub outcomes: HashMap<i64, DeviceOutcome>,
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

/// Default number of send attempts of a task.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;

/// The operations service: one per server, shared by the CWMP driver and the NBI.
pub struct Operations {
    store: Store,
    connreq: Arc<ConnReqClient>,
    waiters: Mutex<HashMap<i64, Arc<Notify>>>,
    /// Jobs whose connection-request fan-out is running, so passes of the runner never overlap
    /// on one job; and when each job's last fan-out started.
    fan_outs: Mutex<HashMap<i64, FanOutState>>,
}

#[derive(Debug, Clone, Copy)]
struct FanOutState {
    running: bool,
    started: std::time::Instant,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operations").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn task_not_found(id: i64) -> OpsError {
    OpsError::NotFound {
        what: "task",
        id: id.to_string(),
    }
}

fn job_not_found(id: i64) -> OpsError {
    OpsError::NotFound {
        what: "job",
        id: id.to_string(),
    }
}

impl Operations {
    /// The service over `store`, waking devices with `connreq`.
    pub fn new(store: Store, connreq: ConnReqClient) -> Operations {
        Operations {
            store,
            connreq: Arc::new(connreq),
            waiters: Mutex::new(HashMap::new()),
            fan_outs: Mutex::new(HashMap::new()),
        }
    }

    /// The store. The NBI does not use it: its lookups are in `ops/records.rs` (see there why).
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
        if let Some(n) = lock(&self.waiters).get(&task_id) {
            n.notify_waiters();
        }
    }

    /// Called by the session driver on every accepted Inform.
    pub fn session_started(&self, device_id: &str) {
        self.connreq.session_started(device_id);
    }

    /// Finds a device by its id, or else its serial number or MAC when that names exactly one.
    pub async fn resolve_device(&self, name: &str) -> Result<DeviceRow, OpsError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(OpsError::Invalid("empty device name".into()));
        }
        if let Some(d) = self.store.get_device(name).await? {
            return Ok(d);
        }
        let mut found = self.store.find_devices_by_serial(name).await?;
        if found.is_empty()
            && let Some(mac) = crate::storage::normalize_mac(name)
        {
            found = self.store.find_devices_by_mac(&mac).await?;
        }
        match found.len() {
            0 => Err(OpsError::NotFound {
                what: "device",
                id: name.to_owned(),
            }),
            1 => Ok(found.remove(0)),
            _ => Err(OpsError::Ambiguous {
                name: name.to_owned(),
                candidates: found.into_iter().map(|d| d.id).collect(),
            }),
        }
    }

    fn new_task(
        device_id: &str,
        spec: &TaskSpec,
        options: &TaskOptions,
    ) -> Result<crate::storage::NewTask, OpsError> {
        spec.validate()?;
        let max_attempts = options.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
        if !(1..=100).contains(&max_attempts) {
            return Err(OpsError::Invalid(format!(
                "max_attempts must be between 1 and 100, got {max_attempts}"
            )));
        }
        let mut new = crate::storage::NewTask::new(
            device_id,
            spec.kind(),
            crate::tasks::QueuedTask::payload(spec),
        );
        new.max_attempts = max_attempts;
        new.expires_at = expiry(options)?;
        Ok(new)
    }

    /// Validates `spec` and queues it for `device_id` (an exact id).
    pub async fn create_task(
        &self,
        device_id: &str,
        spec: &TaskSpec,
        options: &TaskOptions,
    ) -> Result<TaskRow, OpsError> {
        // Types known now are fixed now, so a value that cannot be one is refused here, and the
        // task shows what will be sent; the rest is resolved when it is sent.
        let mut spec = spec.clone();
        if let TaskSpec::SetParameterValues { values } = &mut spec {
            crate::truth::types::resolve_for_device(&self.store, device_id, values).await?;
        }
        let new = Self::new_task(device_id, &spec, options)?;
        self.store.enqueue_task(&new).await.map_err(|e| match e {
            StoreError::DeviceNotFound(id) => OpsError::NotFound { what: "device", id },
            e => e.into(),
        })
    }

    fn target(&self, device: &DeviceRow) -> ConnReqTarget {
        // Stored sealed; a password the key cannot open is as good as none (the CPE will
        // refuse the request, which the outcome reports).
        let password = device.connection_request_password.as_ref().and_then(|p| {
            self.store
                .open_secret(p)
                .inspect_err(|e| tracing::warn!(device = %device.id, error = %e, "connection-request password unreadable"))
                .ok()
        });
        ConnReqTarget {
            device_id: device.id.clone(),
            url: device.connection_request_url.clone(),
            username: device.connection_request_username.clone(),
            password,
        }
    }

    /// Sends one connection request to `device_id` with its stored URL and credentials.
    pub async fn connection_request(&self, device_id: &str) -> Result<ConnReqOutcome, OpsError> {
        let device = self
            .store
            .get_device(device_id)
            .await?
            .ok_or_else(|| OpsError::NotFound {
                what: "device",
                id: device_id.to_owned(),
            })?;
        Ok(self.connreq.send(&self.target(&device)).await)
    }

    /// Wakes the device of a task just created and stores the outcome with the task, so the
    /// task says later why its device did (not) come. A request that could not be attempted
    /// is reported as `error`.
    pub async fn connection_request_for_task(
        &self,
        task: &TaskRow,
    ) -> Result<ConnReqRecord, OpsError> {
        let report = match self.connection_request(&task.device_id).await {
            Ok(outcome) => ConnReqReport::from(&outcome),
            Err(e) => ConnReqReport {
                outcome: "error".into(),
                detail: e.to_string(),
            },
        };
        let at = Utc::now();
        self.store
            .record_task_connection_request(task.id, &report.outcome, &report.detail, at)
            .await?;
        Ok(ConnReqRecord {
            outcome: report.outcome,
            detail: report.detail,
            at,
        })
    }

    /// Sends connection requests to many devices, bounded by the client's concurrency.
    /// Devices that no longer exist are skipped.
    pub async fn connection_requests(
        &self,
        device_ids: &[String],
    ) -> Result<FanOutSummary, OpsError> {
        let (summary, _) = self.send_many(device_ids).await?;
        Ok(summary)
    }

    /// The connection requests of a job's fan-out: the outcome for each device is stored with
    /// its task. `rate_limited` is not stored: nothing was sent, and it would hide the outcome
    /// of the request that is still pending.
    pub async fn job_connection_requests(
        &self,
        job_id: i64,
        device_ids: &[String],
    ) -> Result<FanOutSummary, OpsError> {
        let (summary, outcomes) = self.send_many(device_ids).await?;
        let outcomes: Vec<_> = outcomes
            .into_iter()
            .filter(|(_, o)| !matches!(o, ConnReqOutcome::RateLimited { .. }))
            .map(|(d, o)| (d, o.kind().to_owned(), o.to_string()))
            .collect();
        self.store
            .record_job_connection_requests(job_id, &outcomes, Utc::now())
            .await?;
        Ok(summary)
    }

    async fn send_many(
        &self,
        device_ids: &[String],
    ) -> Result<(FanOutSummary, Vec<(String, ConnReqOutcome)>), OpsError> {
        let mut targets = Vec::with_capacity(device_ids.len());
        for id in device_ids {
            if let Some(d) = self.store.get_device(id).await? {
                targets.push(self.target(&d));
            }
        }
        let mut outcomes = Vec::with_capacity(targets.len());
        let summary = self
            .connreq
            .send_many(targets, |t, o| {
                outcomes.push((t.device_id.clone(), o.clone()))
            })
            .await;
        Ok((summary, outcomes))
    }

    /// Waits until the task is final (a Reboot counts once it is `done`), or `timeout` passes;
    /// returns the task as stored then.
    pub async fn wait_for_task(
        &self,
        task_id: i64,
        timeout: Duration,
    ) -> Result<TaskRow, OpsError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let notify = lock(&self.waiters)
            .entry(task_id)
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone();
        let result = async {
            loop {
                // Registered before the read, so a change between the read and the wait is not
                // missed.
                let changed = notify.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                let task = self
                    .store
                    .get_task(task_id)
                    .await?
                    .ok_or_else(|| task_not_found(task_id))?;
                if task.state.is_final() {
                    return Ok(task);
                }
                // Also re-read now and then: a task can be finished by another process (the
                // expiry sweep of another server on the same database).
                let nap = deadline.min(tokio::time::Instant::now() + Duration::from_secs(2));
                if tokio::time::timeout_at(nap, changed).await.is_err()
                    && tokio::time::Instant::now() >= deadline
                {
                    return Ok(task);
                }
            }
        }
        .await;
        let mut waiters = lock(&self.waiters);
        // The map holds one reference; ours is the other. Drop the entry once nobody waits.
        if Arc::strong_count(&notify) <= 2 {
            waiters.remove(&task_id);
        }
        result
    }

    /// A page of tasks.
    pub async fn list_tasks(&self, query: &TaskQuery) -> Result<TaskPage, OpsError> {
        let limit = query.limit.clamp(1, 1000);
        let tasks = self
            .store
            .find_tasks(&crate::storage::TaskFilter {
                device_id: query.device_id.clone(),
                state: query.state,
                job_id: query.job_id,
                kind: query.kind.clone(),
                uncleared_faults: false,
                after: query.after,
                limit,
            })
            .await?;
        Ok(page(tasks, limit))
    }

    /// Cancels a queued task (409 for any other state).
    pub async fn cancel_task(&self, task_id: i64) -> Result<TaskRow, OpsError> {
        let task = self.store.cancel_task(task_id).await.map_err(|e| match e {
            StoreError::TaskNotFound(id) => task_not_found(id),
            StoreError::TaskStateConflict { actual, .. } => OpsError::Conflict(format!(
                "task {task_id} is {actual}; only a queued task can be cancelled"
            )),
            e => e.into(),
        })?;
        self.task_changed(task_id);
        Ok(task)
    }

    /// Queues a new copy of a task that ended in `fault`, `expired` or `cancelled` (409
    /// otherwise); the copy keeps the job. Clears the old task's fault.
    pub async fn retry_task(&self, task_id: i64) -> Result<TaskRow, OpsError> {
        let old = self
            .store
            .get_task(task_id)
            .await?
            .ok_or_else(|| task_not_found(task_id))?;
        if !matches!(
            old.state,
            TaskState::Fault | TaskState::Expired | TaskState::Cancelled
        ) {
            return Err(OpsError::Conflict(format!(
                "task {task_id} is {}; only a task that ended in fault, expired or cancelled \
                 can be retried",
                old.state
            )));
        }
        // A multi-step task restarts from its first step.
        let payload = match crate::tasks::Payload::parse(&old.payload) {
            Ok(crate::tasks::Payload::Task(t)) => crate::tasks::QueuedTask::payload(&t.spec),
            _ => old.payload.clone(),
        };
        let mut new = crate::storage::NewTask::new(&old.device_id, &old.kind, payload);
        new.max_attempts = old.max_attempts;
        new.job_id = old.job_id;
        // An expired task gets a fresh deadline of the same length.
        new.expires_at = old
            .expires_at
            .map(|e| Utc::now() + (e - old.created_at).max(chrono::TimeDelta::zero()));
        let task = self.store.enqueue_task(&new).await.map_err(|e| match e {
            StoreError::DeviceNotFound(id) => OpsError::NotFound { what: "device", id },
            e => e.into(),
        })?;
        self.store
            .clear_faults(Some(task_id), None, Utc::now())
            .await?;
        if let Some(job) = old.job_id {
            // The job has work again.
            self.store.reopen_job(job).await?;
        }
        Ok(task)
    }

    /// Uncleared faults, oldest first, optionally of one device; paged by task id.
    pub async fn list_faults(
        &self,
        device_id: Option<&str>,
        limit: u64,
        after: Option<i64>,
    ) -> Result<TaskPage, OpsError> {
        let limit = limit.clamp(1, 1000);
        let tasks = self
            .store
            .find_tasks(&crate::storage::TaskFilter {
                device_id: device_id.map(str::to_owned),
                uncleared_faults: true,
                after,
                limit,
                ..Default::default()
            })
            .await?;
        Ok(page(tasks, limit))
    }

    /// Clears faults: one task's, or all of a device's, or all. Returns how many. Clearing one
    /// task that is not an uncleared fault is a 404 (unknown task) or 409.
    pub async fn clear_faults(
        &self,
        task_id: Option<i64>,
        device_id: Option<&str>,
    ) -> Result<u64, OpsError> {
        let n = self
            .store
            .clear_faults(task_id, device_id, Utc::now())
            .await?;
        if let Some(id) = task_id
            && n == 0
        {
            let task = self
                .store
                .get_task(id)
                .await?
                .ok_or_else(|| task_not_found(id))?;
            return Err(OpsError::Conflict(if task.state == TaskState::Fault {
                format!("the fault of task {id} was already cleared")
            } else {
                format!("task {id} is {}, not a fault", task.state)
            }));
        }
        Ok(n)
    }

    /// Creates a job: resolves the devices, stores the job and all its tasks, returns it.
    /// Connection requests are sent by the runner ([`Operations::run_jobs_once`]).
    pub async fn create_job(&self, job: &NewJob) -> Result<JobStatus, OpsError> {
        let template = Self::new_task("-", &job.spec, &job.options)?;
        let (filter, devices) = match &job.target {
            JobTarget::Filter(text) => {
                let parsed = Filter::parse(text)?;
                let mut ids = Vec::new();
                let mut batches = self
                    .store
                    .stream_device_ids(Some(&parsed), Utc::now(), 5000);
                while let Some(batch) = batches.next_batch().await? {
                    ids.extend(batch);
                }
                (Some(text.clone()), ids)
            }
            JobTarget::Devices(names) => {
                let mut ids = Vec::with_capacity(names.len());
                let mut seen = std::collections::HashSet::new();
                for name in names {
                    // Exact ids are the common case (scripts); resolve names only if needed.
                    let id = if self.store.get_device(name).await?.is_some() {
                        name.clone()
                    } else {
                        self.resolve_device(name).await?.id
                    };
                    if seen.insert(id.clone()) {
                        ids.push(id);
                    }
                }
                (None, ids)
            }
        };
        if devices.is_empty() {
            return Err(OpsError::Invalid("the job matches no device".into()));
        }
        if job.concurrency == Some(0) {
            return Err(OpsError::Invalid("concurrency must be at least 1".into()));
        }
        let stored = self
            .store
            .create_job(
                &crate::storage::NewJobRow {
                    definition: serde_json::to_value(&job.spec)
                        .map_err(|e| OpsError::Invalid(e.to_string()))?,
                    filter,
                    connection_request: job.connection_request,
                    created_by: job.created_by.clone(),
                    kind: template.kind,
                    payload: template.payload,
                    max_attempts: template.max_attempts,
                    expires_at: template.expires_at,
                    concurrency: job.concurrency,
                    max_failures: job.max_failures,
                    window: job.window.clone(),
                },
                &devices,
            )
            .await
            .map_err(|e| match e {
                // A device deleted between resolution and insert.
                StoreError::DeviceNotFound(id) => OpsError::NotFound { what: "device", id },
                e => e.into(),
            })?;
        self.status(stored).await
    }

    async fn status(&self, stored: JobRow) -> Result<JobStatus, OpsError> {
        let counts = self.store.job_counts(stored.id).await?;
        let rollout = self.rollout_counts(&stored, &counts).await?;
        let now = Utc::now();
        let window_opens_at = match &stored.window {
            Some(w) if stored.state == JobState::Running && !w.contains(now) => w.next_open(now),
            _ => None,
        };
        Ok(JobStatus {
            job: stored,
            counts,
            rollout,
            window_opens_at,
        })
    }

    /// Devices by rollout state. Only a Download job needs its tasks read one by one (results,
    /// device versions); for any other job the states follow from the task counts.
    async fn rollout_counts(
        &self,
        job: &JobRow,
        counts: &TaskCounts,
    ) -> Result<RolloutCounts, OpsError> {
        if matches!(job.spec, TaskSpec::Download { .. }) {
            return Ok(self.progress(job.id, &job.spec).await?.counts);
        }
        Ok(RolloutCounts {
            pending: counts.held,
            queued: counts.queued,
            sent: counts.sent,
            transferring: 0,
            installed: counts.done,
            verified: 0,
            failed: counts.fault + counts.expired,
            cancelled: counts.cancelled,
        })
    }

    /// Every device's rollout outcome in a job, derived from its task, the device as stored
    /// and the version of the file the job sends.
    async fn progress(&self, job_id: i64, spec: &TaskSpec) -> Result<JobProgress, OpsError> {
        let tasks = self.store.job_tasks(job_id).await?;
        let file_id = match spec {
            TaskSpec::Download { file_id, .. } => *file_id,
            _ => None,
        };
        let version = match file_id {
            Some(id) => self.store.get_file(id).await?.and_then(|f| f.version),
            None => None,
        };
        let mut devices = HashMap::new();
        if version.is_some() {
            let ids: Vec<String> = tasks
                .iter()
                .filter(|t| t.state == TaskState::Done)
                .map(|t| t.device_id.clone())
                .collect();
            for d in self.store.devices_by_ids(&ids).await? {
                devices.insert(d.id.clone(), d);
            }
        }
        let mut progress = JobProgress {
            counts: RolloutCounts::default(),
            outcomes: HashMap::with_capacity(tasks.len()),
        };
        for t in &tasks {
            let o = crate::rollout::outcome(t, version.as_deref(), devices.get(&t.device_id));
            progress.counts.add(o.state);
            progress.outcomes.insert(t.id, o);
        }
        Ok(progress)
    }

    /// Each task's rollout outcome in a job (for the job's task listing).
    pub async fn job_progress(&self, job_id: i64) -> Result<JobProgress, OpsError> {
        let stored = self
            .store
            .get_job(job_id)
            .await?
            .ok_or_else(|| job_not_found(job_id))?;
        self.progress(job_id, &stored.spec).await
    }

    /// A job with its progress.
    pub async fn job(&self, job_id: i64) -> Result<JobStatus, OpsError> {
        let stored = self
            .store
            .get_job(job_id)
            .await?
            .ok_or_else(|| job_not_found(job_id))?;
        self.status(stored).await
    }

    /// Jobs by descending id; `after` is the last id of the previous page.
    pub async fn list_jobs(
        &self,
        limit: u64,
        after: Option<i64>,
    ) -> Result<Vec<JobStatus>, OpsError> {
        let mut out = Vec::new();
        for stored in self.store.list_jobs(limit, after).await? {
            out.push(self.status(stored).await?);
        }
        Ok(out)
    }

    /// Cancels a running job: its queued tasks become `cancelled`; sent ones finish normally.
    pub async fn cancel_job(&self, job_id: i64) -> Result<JobStatus, OpsError> {
        let job = self.job(job_id).await?;
        if job.job.state != JobState::Running {
            return Err(OpsError::Conflict(format!(
                "job {job_id} is {}; only a running job can be cancelled",
                job.job.state.as_str()
            )));
        }
        // One transaction: the runner never sees a cancelled job with work still queued.
        if let Some(ids) = self
            .store
            .end_job_cancelling_tasks(job_id, JobState::Cancelled, None, Utc::now())
            .await?
        {
            for id in ids {
                self.task_changed(id);
            }
        }
        self.job(job_id).await
    }

    /// One pass of the job runner: expires overdue tasks, marks finished jobs, and starts
    /// connection-request fan-outs (in the background) for running jobs that asked for them,
    /// at most once per the client's pacing interval per job. Returns the number of fan-outs
    /// started.
    pub async fn run_jobs_once(self: &Arc<Self>) -> Result<usize, OpsError> {
        self.run_jobs_once_at(Utc::now()).await
    }

    /// [`Operations::run_jobs_once`] at a given time (maintenance windows are judged by it).
    pub async fn run_jobs_once_at(self: &Arc<Self>, now: DateTime<Utc>) -> Result<usize, OpsError> {
        for id in self.store.expire_overdue_tasks(now).await? {
            self.task_changed(id);
        }
        let mut started = 0;
        let running = self.store.running_jobs().await?;
        {
            // Forget fan-out bookkeeping of jobs that ended.
            let live: std::collections::HashSet<i64> = running.iter().map(|j| j.id).collect();
            lock(&self.fan_outs).retain(|id, _| live.contains(id));
        }
        for job in running {
            let counts = self.store.job_counts(job.id).await?;
            let rollout = self.rollout_counts(&job, &counts).await?;
            if let Some(limit) = job.max_failures {
                let allowed = limit.allowed(job.total);
                if rollout.failed > allowed {
                    let reason = format!(
                        "{} of {} devices failed, more than max_failures {limit} allows ({allowed})",
                        rollout.failed, job.total
                    );
                    // One transaction: nothing is released or woken for it any more, and no
                    // observer sees it stopped with work still waiting.
                    if let Some(ids) = self
                        .store
                        .end_job_cancelling_tasks(job.id, JobState::Stopped, Some(&reason), now)
                        .await?
                    {
                        tracing::warn!(job = job.id, %reason, "job stopped");
                        for id in ids {
                            self.task_changed(id);
                        }
                    }
                    continue;
                }
            }
            // A rollout is over when no device has work left and no transfer is under way.
            if counts.pending() == 0 && rollout.transferring == 0 {
                self.store.end_job(job.id, JobState::Finished, now).await?;
                continue;
            }
            if let Some(window) = &job.window
                && !window.contains(now)
            {
                // Closed: nothing is released or woken, and what was queued but not yet taken
                // by its device waits for the next opening.
                let held = self.store.hold_queued_tasks(job.id).await?;
                if held > 0 {
                    tracing::info!(job = job.id, n = held, %window, "maintenance window closed; tasks wait");
                }
                continue;
            }
            let room = match job.concurrency {
                Some(limit) => i64::from(limit) - rollout.in_flight(),
                // A window alone holds everything until it opens, then releases it all.
                None if job.window.is_some() => counts.held,
                None => 0,
            };
            {
                if room > 0 && counts.held > 0 {
                    let released = self.store.release_held_tasks(job.id, room as u64).await?;
                    if !released.is_empty() {
                        tracing::info!(job = job.id, n = released.len(), "devices released");
                    }
                    if job.connection_request && !released.is_empty() {
                        // Wake the released devices now rather than at the next paced fan-out.
                        let ops = Arc::clone(self);
                        let ids: Vec<String> = released.into_iter().map(|(_, d)| d).collect();
                        let job_id = job.id;
                        tokio::spawn(async move {
                            if let Err(e) = ops.job_connection_requests(job_id, &ids).await {
                                tracing::warn!(error = %e, "connection requests failed");
                            }
                        });
                    }
                }
            }
            if !job.connection_request || counts.queued == 0 {
                continue;
            }
            let interval = self.connreq.config().min_interval;
            {
                let mut fan_outs = lock(&self.fan_outs);
                let due = fan_outs
                    .get(&job.id)
                    .is_none_or(|f| !f.running && f.started.elapsed() >= interval);
                if !due {
                    continue;
                }
                fan_outs.insert(
                    job.id,
                    FanOutState {
                        running: true,
                        started: std::time::Instant::now(),
                    },
                );
            }
            started += 1;
            let ops = Arc::clone(self);
            let job_id = job.id;
            tokio::spawn(async move {
                match ops.store.job_queued_devices(job_id).await {
                    Ok(devices) => {
                        if let Err(e) = ops.job_connection_requests(job_id, &devices).await {
                            tracing::warn!(job = job_id, error = %e, "connection requests failed");
                        }
                    }
                    Err(e) => tracing::warn!(job = job_id, error = %e, "reading a job failed"),
                }
                if let Some(f) = lock(&ops.fan_outs).get_mut(&job_id) {
                    f.running = false;
                }
            });
        }
        Ok(started)
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
        let batch = batch.clamp(1, 10_000);
        let source = match selection {
            DeviceSelection::All => {
                Source::Batches(self.store.stream_device_ids(None, Utc::now(), batch as u64))
            }
            DeviceSelection::Filter(f) => Source::Batches(self.store.stream_device_ids(
                Some(&f),
                Utc::now(),
                batch as u64,
            )),
            DeviceSelection::Devices(ids) => Source::List(ids.into_iter(), batch),
        };
        ParameterCursor {
            store: self.store.clone(),
            source,
            names,
        }
    }
}

fn page(tasks: Vec<TaskRow>, limit: u64) -> TaskPage {
    let next = if tasks.len() as u64 >= limit {
        tasks.last().map(|t| t.id)
    } else {
        None
    };
    TaskPage { tasks, next }
}

fn expiry(options: &TaskOptions) -> Result<Option<DateTime<Utc>>, OpsError> {
    options
        .expires_in
        .map(|d| {
            chrono::TimeDelta::from_std(d)
                .ok()
                .and_then(|d| Utc::now().checked_add_signed(d))
                .ok_or_else(|| OpsError::Invalid("expires_in is too large".into()))
        })
        .transpose()
}

enum Source {
    Batches(crate::storage::DeviceIdBatches),
    List(std::vec::IntoIter<String>, usize),
}

/// Batches of a bulk parameter query; see [`Operations::query_parameters`].
pub struct ParameterCursor {
    store: Store,
    source: Source,
    names: Vec<String>,
}

impl std::fmt::Debug for ParameterCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParameterCursor")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl ParameterCursor {
    /// The next batch of rows (every asked name for every device of the batch), `None` at the
    /// end.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<ParameterQueryRow>>, OpsError> {
        let ids: Vec<String> = match &mut self.source {
            Source::Batches(b) => match b.next_batch().await? {
                Some(ids) => ids,
                None => return Ok(None),
            },
            Source::List(it, n) => {
                let ids: Vec<String> = it.by_ref().take(*n).collect();
                if ids.is_empty() {
                    return Ok(None);
                }
                ids
            }
        };
        let mut found: HashMap<(String, String), crate::storage::ParameterRow> = self
            .store
            .parameters_of_devices(&ids, &self.names)
            .await?
            .into_iter()
            .map(|(device, p)| ((device, p.name.clone()), p))
            .collect();
        let mut rows = Vec::with_capacity(ids.len() * self.names.len());
        for id in ids {
            for name in &self.names {
                let p = found.remove(&(id.clone(), name.clone()));
                rows.push(ParameterQueryRow {
                    device_id: id.clone(),
                    name: name.clone(),
                    value: p.as_ref().map(|p| p.value.clone()),
                    xsd_type: p.as_ref().map(|p| p.xsd_type.clone()),
                    updated_at: p.map(|p| p.updated_at),
                });
            }
        }
        Ok(Some(rows))
    }
}

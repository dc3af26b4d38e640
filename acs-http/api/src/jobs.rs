//! Bulk jobs: one task definition over many devices, and their rollout view.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::{IntoParams, ToSchema};

use crate::definition::{TaskDefinition, redact};

/// Job life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStateName {
    /// Tasks are still queued or sent.
    Running,
    /// Every task is final.
    Finished,
    /// Cancelled.
    Cancelled,
    /// Stopped by the ACS: more devices failed than `max_failures` allows (see
    /// `stop_reason`).
    Stopped,
}

impl JobStateName {
    /// The name on the wire (`running`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStateName::Running => "running",
            JobStateName::Finished => "finished",
            JobStateName::Cancelled => "cancelled",
            JobStateName::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for JobStateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job's tasks by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Counts {
    /// Held: not yet released (a job with a concurrency limit).
    pub held: i64,
    /// Queued.
    pub queued: i64,
    /// Sent.
    pub sent: i64,
    /// Done.
    pub done: i64,
    /// Fault.
    pub fault: i64,
    /// Expired.
    pub expired: i64,
    /// Cancelled.
    pub cancelled: i64,
}

impl Counts {
    /// Tasks that reached a final state (done, fault, expired, cancelled).
    pub fn finished(&self) -> i64 {
        self.done + self.fault + self.expired + self.cancelled
    }
}

/// How many failed devices stop a job: written `10` or `"5%"`. The job stops when its
/// failures *exceed* the limit, so `0` stops at the first failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureLimit {
    /// At most this many failed devices.
    Count(u32),
    /// At most this percentage (0–100) of the job's devices, rounded down.
    Percent(u32),
}

impl std::fmt::Display for FailureLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureLimit::Count(n) => write!(f, "{n}"),
            FailureLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl std::str::FromStr for FailureLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "{s:?} is not a failure limit (a count like \"10\" or a percentage like \"5%\")"
            )
        };
        if let Some(p) = t.strip_suffix('%') {
            let p: u32 = p.trim().parse().map_err(|_| bad())?;
            if p > 100 {
                return Err(format!("{s:?}: a percentage must be 0–100"));
            }
            Ok(FailureLimit::Percent(p))
        } else {
            t.parse().map(FailureLimit::Count).map_err(|_| bad())
        }
    }
}

impl Serialize for FailureLimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FailureLimit::Count(n) => s.serialize_u32(*n),
            FailureLimit::Percent(_) => s.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for FailureLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Count(n) => Ok(FailureLimit::Count(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A bulk job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// The task every device gets, passwords redacted.
    #[schema(value_type = TaskDefinition)]
    pub definition: Json,
    /// The filter it was created from.
    pub filter: Option<String>,
    /// Whether devices are woken by connection requests.
    pub connection_request: bool,
    /// State.
    pub state: JobStateName,
    /// Number of devices (tasks).
    pub total: i64,
    /// Tasks by state.
    pub counts: Counts,
    /// Devices by rollout state (pending … verified, failed).
    pub rollout: RolloutCounts,
    /// At most this many devices in flight at once (`null`: no limit).
    pub concurrency: Option<u32>,
    /// Failures that stop the job: a count, or `"N%"` of its devices.
    #[schema(value_type = Option<String>, example = "5%")]
    pub max_failures: Option<FailureLimit>,
    /// Why the ACS stopped the job (state `stopped`).
    pub stop_reason: Option<String>,
    /// Its maintenance window, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// While the window is closed and the job runs: when it opens next (its work waits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_opens_at: Option<DateTime<Utc>>,
    /// The token that created it.
    pub created_by: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Finished, cancelled or stopped.
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    /// The `kind` of its task (`download`, …), also for a kind this client has no type for.
    pub fn kind(&self) -> Option<&str> {
        self.definition.get("kind").and_then(Json::as_str)
    }

    /// The definition as a typed task (`None` for a shape this client does not know).
    pub fn task(&self) -> Option<TaskDefinition> {
        serde_json::from_value(self.definition.clone()).ok()
    }

    /// Whether it is a rollout: a Download, whose devices are followed by rollout state (a
    /// device that installed another version is `done` yet failed).
    pub fn is_rollout(&self) -> bool {
        self.kind() == Some("download")
    }
}

/// A rollout's devices by state. In flight (counted against `concurrency`): queued, sent and
/// transferring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RolloutCounts {
    /// Not released yet.
    pub pending: i64,
    /// Released, waiting for the device's session.
    pub queued: i64,
    /// Download sent, not answered.
    pub sent: i64,
    /// Download accepted; TransferComplete not yet received.
    pub transferring: i64,
    /// TransferComplete without fault; version not (yet) confirmed. Final for a file without a
    /// version.
    pub installed: i64,
    /// The device reported the file's version as its SoftwareVersion.
    pub verified: i64,
    /// Fault, expiry, TransferComplete fault or another version after the install.
    pub failed: i64,
    /// Cancelled before the device got its task.
    pub cancelled: i64,
}

/// Where one device of a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStateName {
    /// Not released yet (a job with a concurrency limit).
    Pending,
    /// Released; waiting for the device's next session.
    Queued,
    /// The request went out; waiting for the answer.
    Sent,
    /// The CPE accepted a Download and has not reported its TransferComplete yet.
    Transferring,
    /// TransferComplete without fault; final when the file has no version.
    Installed,
    /// The device reported the file's version as its SoftwareVersion.
    Verified,
    /// Fault, expiry, a TransferComplete fault, or another version after the install.
    Failed,
    /// Cancelled before the device got its task.
    Cancelled,
}

/// A device's rollout state (in a job's task listing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rollout {
    /// `pending`, `queued`, `sent`, `transferring`, `installed`, `verified`, `failed`,
    /// `cancelled`.
    #[schema(value_type = String)]
    pub state: RolloutStateName,
    /// For `failed`: the CWMP fault code (8850: another version than the file's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_code: Option<i32>,
    /// For `failed`: the fault string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_string: Option<String>,
    /// For `failed`: what the code means (TR-069 Table A.5 / A.6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
}

/// Jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    pub jobs: Vec<Job>,
}

/// `POST /api/v1/jobs`.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// The task every device gets.
    // JSON rather than `TaskDefinition`: the server reads it as acs-core's `TaskSpec`, whose
    // messages for a bad definition are the API's. Clients build it with `CreateJob::new`.
    #[schema(value_type = TaskDefinition)]
    pub task: Json,
    /// The devices matching this filter now (exclusive with `devices`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// These devices: ids, serial numbers or MACs (exclusive with `filter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<String>>,
    /// Wake the devices with connection requests.
    #[serde(default)]
    pub connection_request: bool,
    /// A task not sent within this many seconds expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// Send attempts per task (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<i32>,
    /// Release devices a few at a time: at most this many in flight at once (task queued or
    /// sent, or a Download whose TransferComplete has not come). Default: all at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Stop the job (state `stopped`) when more devices than this failed: a number, or a
    /// string `"N%"` of the job's devices.
    #[schema(value_type = Option<String>, example = "5%")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<FailureLimit>,
    /// A maintenance window, `DAYS HH:MM-HH:MM ZONE` (`Mon-Fri 01:00-05:00 Europe/Oslo`, a zone
    /// of the tz database, local times, an end before the start crossing midnight): tasks are
    /// sent and devices woken only while it is open; work still queued when it closes waits
    /// for the next opening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

/// The devices of a new job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobDevices {
    /// The devices matching a filter.
    Filter(String),
    /// These devices (ids, serial numbers or MACs).
    Devices(Vec<String>),
}

impl CreateJob {
    /// A job of `task` over `devices`, with the server's defaults for everything else.
    pub fn new(task: &TaskDefinition, devices: JobDevices) -> CreateJob {
        let (filter, devices) = match devices {
            JobDevices::Filter(f) => (Some(f), None),
            JobDevices::Devices(d) => (None, Some(d)),
        };
        CreateJob {
            // Serializing a derived enum of strings and numbers cannot fail.
            task: serde_json::to_value(task).unwrap_or(Json::Null),
            filter,
            devices,
            connection_request: false,
            expires_in: None,
            max_attempts: None,
            concurrency: None,
            max_failures: None,
            window: None,
        }
    }
}

impl std::fmt::Debug for CreateJob {
    // The task may carry a transfer or connection-request password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut task = self.task.clone();
        redact(&mut task);
        f.debug_struct("CreateJob")
            .field("task", &task)
            .field("filter", &self.filter)
            .field("devices", &self.devices)
            .field("connection_request", &self.connection_request)
            .field("expires_in", &self.expires_in)
            .field("max_attempts", &self.max_attempts)
            .field("concurrency", &self.concurrency)
            .field("max_failures", &self.max_failures)
            .finish()
    }
}

/// Query of `GET /jobs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobListQuery {
    /// Page size, 1–1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Only jobs with a smaller id (the last id of the previous page).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

/// Query of `GET /jobs/{id}/tasks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobTasksQuery {
    /// Only tasks in this state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The `next` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

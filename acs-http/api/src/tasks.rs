//! Tasks, faults and connection requests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::{IntoParams, ToSchema};

use crate::definition::TaskDefinition;
use crate::jobs::Rollout;

/// Task life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStateName {
    /// A job task not yet released to its device (a job with a concurrency limit).
    Held,
    /// Waiting for the device.
    Queued,
    /// Sent; waiting for the answer.
    Sent,
    /// Done.
    Done,
    /// Failed.
    Fault,
    /// Not sent before it expired.
    Expired,
    /// Cancelled.
    Cancelled,
}

impl TaskStateName {
    /// Every state, in life-cycle order.
    pub const ALL: [TaskStateName; 7] = [
        TaskStateName::Held,
        TaskStateName::Queued,
        TaskStateName::Sent,
        TaskStateName::Done,
        TaskStateName::Fault,
        TaskStateName::Expired,
        TaskStateName::Cancelled,
    ];

    /// The name on the wire (`queued`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStateName::Held => "held",
            TaskStateName::Queued => "queued",
            TaskStateName::Sent => "sent",
            TaskStateName::Done => "done",
            TaskStateName::Fault => "fault",
            TaskStateName::Expired => "expired",
            TaskStateName::Cancelled => "cancelled",
        }
    }

    /// Whether the task will not change any more (`held` is not final: a rollout has not
    /// released the device's task yet).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            TaskStateName::Held | TaskStateName::Queued | TaskStateName::Sent
        )
    }
}

impl std::fmt::Display for TaskStateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a task failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskFault {
    /// CWMP fault code (9000–9899); `null` when the ACS gave up (attempts exhausted).
    pub code: Option<i32>,
    /// Fault string.
    pub string: Option<String>,
    /// What TR-069 says the code means (Table A.5 / A.6); `null` without a code.
    pub meaning: Option<String>,
    /// Detail, e.g. a SetParameterValuesFault list, or the TransferComplete of a failed
    /// transfer.
    pub detail: Option<Json>,
}

/// What a connection request did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConnReq {
    /// `accepted`, `rate_limited`, `busy`, `auth_failed`, `no_credentials`, `unreachable`,
    /// `timeout`, `no_url`, `invalid_url`, `unexpected`, … or `error` when it could not be
    /// attempted.
    pub outcome: String,
    /// Human-readable detail.
    pub detail: String,
    /// When it completed (`null` when it could not be stored).
    pub at: Option<DateTime<Utc>>,
}

impl ConnReq {
    /// Whether the device accepted the wake-up.
    pub fn accepted(&self) -> bool {
        self.outcome == "accepted"
    }
}

/// A task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Task {
    /// Id.
    pub id: i64,
    /// Device.
    pub device_id: String,
    /// Kind (`reboot`, `get_parameter_values`, …).
    pub kind: String,
    /// The task definition, passwords replaced by `<redacted>`.
    #[schema(value_type = TaskDefinition)]
    pub definition: Json,
    /// State.
    pub state: TaskStateName,
    /// Times sent.
    pub attempts: i32,
    /// Send limit.
    pub max_attempts: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// Reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Expires if not sent by then.
    pub expires_at: Option<DateTime<Utc>>,
    /// Result of a `done` task (e.g. the values read).
    pub result: Option<crate::TaskResult>,
    /// The fault, when there is (or was, before a retry by the engine) one.
    pub fault: Option<TaskFault>,
    /// The bulk job it belongs to.
    pub job_id: Option<i64>,
    /// The last connection request made for it (task creation with
    /// `connection_request=true`, or a job's wake-ups of the device while the task waited);
    /// absent when none was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_request: Option<ConnReq>,
    /// Only in a job's task listing: where the device stands in the rollout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// A page of tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskList {
    /// By ascending id.
    pub tasks: Vec<Task>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<i64>,
}

/// A device's tasks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceTaskList {
    /// Oldest first.
    pub tasks: Vec<Task>,
}

/// A page of faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FaultList {
    /// Tasks in state `fault` that were not cleared.
    pub faults: Vec<Task>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<i64>,
}

/// How many faults were cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Cleared {
    /// Faults cleared.
    pub cleared: u64,
}

/// `POST /api/v1/faults/clear`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearFaults {
    /// Only this device's faults; all faults when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

/// Query of `POST /devices/{id}/tasks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CreateTaskQuery {
    /// Wake the device now instead of waiting for its next Inform.
    #[serde(default)]
    pub connection_request: bool,
    /// Hold the request up to this many seconds (at most 300) for the task to finish.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
    /// The task expires if not sent within this many seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// Send attempts (default 3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<i32>,
}

/// Query of `GET /tasks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// Only this device's tasks (exact id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// `queued`, `sent`, `done`, `fault`, `expired` or `cancelled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Only this job's tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<i64>,
    /// Only this kind (`reboot`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The `next` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

/// Query of `GET /faults`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FaultListQuery {
    /// Only this device's faults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The `next` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
}

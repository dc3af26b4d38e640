//! Plain storage-level input and output types.
//!
//! These deliberately do not depend on the CWMP codec: the session engine
//! converts decoded SOAP messages into these structs, which keeps the storage
//! layer testable on its own and the codec free to change.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

/// One event from an Inform's `Event` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Event code, e.g. `"2 PERIODIC"` or `"M Reboot"`.
    pub code: String,
    /// The `CommandKey` that came with the event (may be empty).
    pub command_key: Option<String>,
}

/// One parameter value as reported by the CPE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterRecord {
    /// Full parameter path, e.g. `Device.DeviceInfo.SoftwareVersion`.
    pub name: String,
    /// The value as text, exactly as received.
    pub value: String,
    /// The raw `xsi:type` string as received (`"xsd:string"`, even
    /// `"xsd:string(64)"`); interpreted by higher layers only.
    pub xsd_type: String,
    /// Writability when known (from GetParameterNames); `None` keeps what is
    /// stored.
    pub writable: Option<bool>,
}

impl ParameterRecord {
    /// A parameter with unknown writability.
    pub fn new(
        name: impl Into<String>,
        value: impl Into<String>,
        xsd_type: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            xsd_type: xsd_type.into(),
            writable: None,
        }
    }
}

/// Everything from one Inform that the storage layer records.
#[derive(Debug, Clone, PartialEq)]
pub struct InformRecord {
    /// Device id computed by the caller from the DeviceId struct.
    pub device_id: String,
    /// `DeviceId.Manufacturer`.
    pub manufacturer: String,
    /// `DeviceId.OUI` as reported (normalised copy kept separately).
    pub oui: String,
    /// `DeviceId.ProductClass`.
    pub product_class: String,
    /// `DeviceId.SerialNumber`.
    pub serial_number: String,
    /// Peer address of the session; `None` keeps the stored one.
    pub remote_ip: Option<String>,
    /// The cwmp namespace the CPE used, e.g. `urn:dslforum-org:cwmp-1-2`.
    pub cwmp_version: String,
    /// The Inform's events.
    pub events: Vec<EventRecord>,
    /// The Inform's ParameterList.
    pub parameters: Vec<ParameterRecord>,
    /// When the ACS received the Inform.
    pub received_at: DateTime<Utc>,
    /// The Inform carried `0 BOOTSTRAP`.
    pub is_bootstrap: bool,
    /// The Inform carried `1 BOOT`.
    pub is_boot: bool,
}

/// A stored device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    /// Device id (primary key).
    pub id: String,
    /// Manufacturer as last reported.
    pub manufacturer: String,
    /// OUI as last reported.
    pub oui: String,
    /// Upper-cased, trimmed OUI used for identity lookups.
    pub oui_normalized: String,
    /// Product class.
    pub product_class: String,
    /// Serial number.
    pub serial_number: String,
    /// MAC address, normalised to `AA:BB:CC:DD:EE:FF`.
    pub mac: Option<String>,
    /// `*.DeviceInfo.SoftwareVersion`.
    pub software_version: Option<String>,
    /// `*.DeviceInfo.HardwareVersion`.
    pub hardware_version: Option<String>,
    /// `*.DeviceInfo.ProvisioningCode`.
    pub provisioning_code: Option<String>,
    /// `*.ManagementServer.ConnectionRequestURL`.
    pub connection_request_url: Option<String>,
    /// Connection request username the ACS configured on the CPE.
    pub connection_request_username: Option<String>,
    /// Connection request password the ACS configured on the CPE, as stored: sealed
    /// ([`crate::vault`]); [`crate::storage::Store::open_secret`] gives the password.
    pub connection_request_password: Option<crate::secret::Secret>,
    /// Peer address of the last session.
    pub remote_ip: Option<String>,
    /// cwmp namespace of the last Inform.
    pub cwmp_version: String,
    /// First Inform ever recorded.
    pub first_seen: DateTime<Utc>,
    /// Last Inform.
    pub last_inform: DateTime<Utc>,
    /// Last Inform with `1 BOOT`.
    pub last_boot: Option<DateTime<Utc>>,
    /// Last Inform with `0 BOOTSTRAP`.
    pub last_bootstrap: Option<DateTime<Utc>>,
    /// `*.ManagementServer.PeriodicInformInterval` in seconds.
    pub periodic_inform_interval: Option<i64>,
    /// Event codes of the last Inform.
    pub last_events: Vec<String>,
    /// Online, late or offline ([`crate::presence`]).
    pub presence: crate::presence::Presence,
    /// Row creation time.
    pub created_at: DateTime<Utc>,
    /// Last row update time.
    pub updated_at: DateTime<Utc>,
}

/// A stored parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterRow {
    /// Full parameter path.
    pub name: String,
    /// Value as text.
    pub value: String,
    /// Raw type string as received.
    pub xsd_type: String,
    /// Writability, when known.
    pub writable: Option<bool>,
    /// Notification attribute (0–6) as last set or reported, when known.
    pub notification: Option<i32>,
    /// AccessList as last set or reported (`Subscriber`, …), when known.
    pub access_list: Option<Vec<String>>,
    /// When value, type or writability last changed. Re-reporting an
    /// unchanged value does not rewrite the row (see
    /// [`crate::storage::Store::upsert_parameters`]).
    pub updated_at: DateTime<Utc>,
}

/// A stored Inform event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// Monotonic id (newest is largest).
    pub id: i64,
    /// Device id.
    pub device_id: String,
    /// Event code.
    pub event_code: String,
    /// Command key.
    pub command_key: Option<String>,
    /// When the Inform was received.
    pub received_at: DateTime<Utc>,
}

/// Life cycle of a queued device request.
///
/// ```text
/// queued -> sent -> done | fault
///   |        `-> queued (requeue_task: session died before the answer)
///   |-> expired (expires_at passed before it was sent)
///   `-> cancelled
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// A job task not yet released to its device: a job with a concurrency limit stores every
    /// device's task up front in this state and the job runner moves a few at a time to
    /// `queued` (see `Store::release_held_tasks`). Never sent, never expired.
    Held,
    /// Waiting for the device's next session.
    Queued,
    /// Sent in a session; waiting for the response.
    Sent,
    /// Completed successfully.
    Done,
    /// The CPE answered with a fault (or attempts were exhausted).
    Fault,
    /// `expires_at` passed before the task was sent.
    Expired,
    /// Cancelled by an operator before it was sent.
    Cancelled,
}

impl TaskState {
    /// The value stored in `tasks.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Held => "held",
            TaskState::Queued => "queued",
            TaskState::Sent => "sent",
            TaskState::Done => "done",
            TaskState::Fault => "fault",
            TaskState::Expired => "expired",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// Whether the task can no longer change state.
    pub fn is_final(self) -> bool {
        !matches!(self, TaskState::Held | TaskState::Queued | TaskState::Sent)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error returned when a string is not a [`TaskState`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task state `{0}`")]
pub struct UnknownTaskState(pub String);

impl FromStr for TaskState {
    type Err = UnknownTaskState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "held" => TaskState::Held,
            "queued" => TaskState::Queued,
            "sent" => TaskState::Sent,
            "done" => TaskState::Done,
            "fault" => TaskState::Fault,
            "expired" => TaskState::Expired,
            "cancelled" => TaskState::Cancelled,
            other => return Err(UnknownTaskState(other.to_owned())),
        })
    }
}

/// A request to queue for a device.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Target device.
    pub device_id: String,
    /// Request kind, e.g. `"get_parameter_values"`, `"reboot"`.
    pub kind: String,
    /// Request arguments; opaque to storage.
    pub payload: Json,
    /// CommandKey to send (for kinds that carry one).
    pub command_key: Option<String>,
    /// How many times the task may be sent before it is given up (>= 1).
    pub max_attempts: i32,
    /// The task expires if not sent by then.
    pub expires_at: Option<DateTime<Utc>>,
    /// The bulk job this task belongs to.
    pub job_id: Option<i64>,
}

/// A stored task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    /// Monotonic id; the queue is served in id order.
    pub id: i64,
    /// Target device.
    pub device_id: String,
    /// Request kind.
    pub kind: String,
    /// Request arguments.
    pub payload: Json,
    /// Current state.
    pub state: TaskState,
    /// SOAP `cwmp:ID` of the last send.
    pub cwmp_id: Option<String>,
    /// CommandKey.
    pub command_key: Option<String>,
    /// How many times it was sent.
    pub attempts: i32,
    /// Send limit.
    pub max_attempts: i32,
    /// Enqueue time.
    pub created_at: DateTime<Utc>,
    /// Last send time.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Expiry deadline for sending.
    pub expires_at: Option<DateTime<Utc>>,
    /// Response data for `done`.
    pub result: Option<crate::tasks::TaskResult>,
    /// CWMP fault code for `fault`.
    pub fault_code: Option<i32>,
    /// Fault string for `fault`.
    pub fault_string: Option<String>,
    /// Fault detail (e.g. SetParameterValuesFault list).
    pub fault_detail: Option<Json>,
    /// Owning bulk job.
    pub job_id: Option<i64>,
    /// When an operator cleared this task's fault.
    pub fault_cleared_at: Option<DateTime<Utc>>,
    /// The last connection request made for it (`accepted`, `auth_failed`, `unreachable`,
    /// `timeout`, …; see `ConnReqOutcome::kind`), its detail and when it completed.
    pub connection_request: Option<ConnReqRecord>,
}

/// A connection request's outcome as stored with a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnReqRecord {
    /// `ConnReqOutcome::kind`, or `error` when it could not be attempted.
    pub outcome: String,
    /// Human-readable detail.
    pub detail: String,
    /// When it completed.
    pub at: DateTime<Utc>,
}

impl TaskRow {
    /// Whether a queued task's deadline has passed at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }

    /// The `cwmp:ID` for sending this queued task now: `acs-<id>-<attempt>` for a new
    /// attempt, `acs-<id>-<attempt>-<step>` for a later step of the attempt under way (the
    /// task still carries its previous step's ID), so no two sends share an ID.
    pub fn next_cwmp_id(&self) -> String {
        let id = crate::session::Session::cwmp_id;
        match &self.cwmp_id {
            None => id(self.id, self.attempts + 1),
            Some(_) => {
                let step = self
                    .payload
                    .get("step")
                    .and_then(Json::as_u64)
                    .unwrap_or_default();
                format!("{}-{step}", id(self.id, self.attempts))
            }
        }
    }
}

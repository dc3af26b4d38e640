//! The API's JSON shapes (docs/NBI.md "Shapes"), separate from the core types.
//!
//! Core types are storage and engine types: they carry secrets (connection-request passwords,
//! Download credentials) and change with the schema. The API promises a stable shape without
//! secrets, so every response is built from these DTOs, and the OpenAPI schemas come from them.

use acs_core::ops::{
    ConnReqReport, FailureLimit, JobState, JobStatus, ParameterQueryRow, TaskCounts,
};
use acs_core::storage::{ConnReqRecord, DeviceRow, EventRow, ParameterRow, TaskRow, TaskState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

/// What replaces a password in API output.
pub const REDACTED: &str = "<redacted>";

/// A device (never its connection-request credentials).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Device {
    /// The device id (`OUI-ProductClass-Serial`, escaped).
    pub id: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// OUI as reported.
    pub oui: String,
    /// Product class.
    pub product_class: String,
    /// Serial number.
    pub serial_number: String,
    /// MAC address (`AA:BB:CC:DD:EE:FF`).
    pub mac: Option<String>,
    /// Software version.
    pub software_version: Option<String>,
    /// Hardware version.
    pub hardware_version: Option<String>,
    /// Provisioning code.
    pub provisioning_code: Option<String>,
    /// ConnectionRequestURL.
    pub connection_request_url: Option<String>,
    /// Peer address of the last session.
    pub remote_ip: Option<String>,
    /// The cwmp namespace of the last Inform.
    pub cwmp_version: String,
    /// First Inform.
    pub first_seen: DateTime<Utc>,
    /// Last Inform.
    pub last_inform: DateTime<Utc>,
    /// Last Inform with `1 BOOT`.
    pub last_boot: Option<DateTime<Utc>>,
    /// Last Inform with `0 BOOTSTRAP`.
    pub last_bootstrap: Option<DateTime<Utc>>,
    /// PeriodicInformInterval in seconds.
    pub periodic_inform_interval: Option<i64>,
    /// Event codes of the last Inform.
    pub last_events: Vec<String>,
    /// Tags, sorted.
    pub tags: Vec<String>,
}

impl Device {
    /// The API form of a stored device; the credentials are dropped here, once.
    pub fn new(d: DeviceRow, tags: Vec<String>) -> Device {
        Device {
            id: d.id,
            manufacturer: d.manufacturer,
            oui: d.oui,
            product_class: d.product_class,
            serial_number: d.serial_number,
            mac: d.mac,
            software_version: d.software_version,
            hardware_version: d.hardware_version,
            provisioning_code: d.provisioning_code,
            connection_request_url: d.connection_request_url,
            remote_ip: d.remote_ip,
            cwmp_version: d.cwmp_version,
            first_seen: d.first_seen,
            last_inform: d.last_inform,
            last_boot: d.last_boot,
            last_bootstrap: d.last_bootstrap,
            periodic_inform_interval: d.periodic_inform_interval,
            last_events: d.last_events,
            tags,
        }
    }
}

/// A page of devices.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeviceList {
    /// The devices.
    pub devices: Vec<Device>,
    /// Pass as `after` for the next page (same filter and sort); `null` on the last page.
    pub next: Option<String>,
}

/// A count.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Count {
    /// Matching devices.
    pub count: u64,
}

/// A stored parameter value.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Parameter {
    /// Full name.
    pub name: String,
    /// Value as text.
    pub value: String,
    /// xsd type as reported (`xsd:string`, …); empty for a name known only from
    /// GetParameterNames or AddObject (not read yet).
    #[serde(rename = "type")]
    pub xsd_type: String,
    /// Writability, when known.
    pub writable: Option<bool>,
    /// Notification attribute (0 off, 1 passive, 2 active, …), when known.
    pub notification: Option<i32>,
    /// AccessList (`Subscriber`, …), when known.
    pub access_list: Option<Vec<String>>,
    /// When the value last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<ParameterRow> for Parameter {
    fn from(p: ParameterRow) -> Parameter {
        Parameter {
            name: p.name,
            value: p.value,
            xsd_type: p.xsd_type,
            writable: p.writable,
            notification: p.notification,
            access_list: p.access_list,
            updated_at: p.updated_at,
        }
    }
}

/// A device's parameters.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParameterList {
    /// By name.
    pub parameters: Vec<Parameter>,
}

/// One line of the bulk parameter query (NDJSON).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParameterLine {
    /// Device id.
    pub device_id: String,
    /// Parameter name as asked.
    pub name: String,
    /// Stored value; `null` when the device has none.
    pub value: Option<String>,
    /// Stored type; `null` when the device has no value.
    #[serde(rename = "type")]
    pub xsd_type: Option<String>,
    /// When the value last changed; `null` when the device has no value.
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<ParameterQueryRow> for ParameterLine {
    fn from(r: ParameterQueryRow) -> ParameterLine {
        ParameterLine {
            device_id: r.device_id,
            name: r.name,
            value: r.value,
            xsd_type: r.xsd_type,
            updated_at: r.updated_at,
        }
    }
}

/// An Inform event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Event {
    /// `2 PERIODIC`, `M Reboot`, …
    pub event_code: String,
    /// The CommandKey that came with it.
    pub command_key: Option<String>,
    /// When the Inform arrived.
    pub received_at: DateTime<Utc>,
}

impl From<EventRow> for Event {
    fn from(e: EventRow) -> Event {
        Event {
            event_code: e.event_code,
            command_key: e.command_key,
            received_at: e.received_at,
        }
    }
}

/// A device's recent events.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventList {
    /// Newest first.
    pub events: Vec<Event>,
}

/// Task life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<TaskState> for TaskStateName {
    fn from(s: TaskState) -> TaskStateName {
        match s {
            TaskState::Held => TaskStateName::Held,
            TaskState::Queued => TaskStateName::Queued,
            TaskState::Sent => TaskStateName::Sent,
            TaskState::Done => TaskStateName::Done,
            TaskState::Fault => TaskStateName::Fault,
            TaskState::Expired => TaskStateName::Expired,
            TaskState::Cancelled => TaskStateName::Cancelled,
        }
    }
}

/// Why a task failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<ConnReqReport> for ConnReq {
    fn from(r: ConnReqReport) -> ConnReq {
        ConnReq {
            outcome: r.outcome,
            detail: r.detail,
            at: None,
        }
    }
}

impl From<ConnReqRecord> for ConnReq {
    fn from(r: ConnReqRecord) -> ConnReq {
        ConnReq {
            outcome: r.outcome,
            detail: r.detail,
            at: Some(r.at),
        }
    }
}

/// A task.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    pub result: Option<Json>,
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

impl From<TaskRow> for Task {
    fn from(t: TaskRow) -> Task {
        let fault = (t.fault_code.is_some() || t.fault_string.is_some()).then_some(TaskFault {
            code: t.fault_code,
            string: t.fault_string,
            meaning: t.fault_code.map(|c| {
                acs_core::cwmp::FaultCode::from_code(u32::try_from(c).unwrap_or_default())
                    .meaning()
                    .to_owned()
            }),
            detail: t.fault_detail,
        });
        Task {
            id: t.id,
            definition: definition_of(&t.payload),
            device_id: t.device_id,
            kind: t.kind,
            state: t.state.into(),
            attempts: t.attempts,
            max_attempts: t.max_attempts,
            created_at: t.created_at,
            sent_at: t.sent_at,
            finished_at: t.finished_at,
            expires_at: t.expires_at,
            result: t.result.map(|mut r| {
                // A read of a `…Password` parameter is as secret as the write.
                redact(&mut r);
                r
            }),
            fault,
            job_id: t.job_id,
            connection_request: t.connection_request.map(ConnReq::from),
            rollout: None,
        }
    }
}

/// A page of tasks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskList {
    /// By ascending id.
    pub tasks: Vec<Task>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<i64>,
}

/// A device's tasks.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeviceTaskList {
    /// Oldest first.
    pub tasks: Vec<Task>,
}

/// A page of faults.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FaultList {
    /// Tasks in state `fault` that were not cleared.
    pub faults: Vec<Task>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<i64>,
}

/// How many faults were cleared.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cleared {
    /// Faults cleared.
    pub cleared: u64,
}

/// Job life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
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

impl From<JobState> for JobStateName {
    fn from(s: JobState) -> JobStateName {
        match s {
            JobState::Running => JobStateName::Running,
            JobState::Finished => JobStateName::Finished,
            JobState::Cancelled => JobStateName::Cancelled,
            JobState::Stopped => JobStateName::Stopped,
        }
    }
}

/// A job's tasks by state.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
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

impl From<TaskCounts> for Counts {
    fn from(c: TaskCounts) -> Counts {
        Counts {
            held: c.held,
            queued: c.queued,
            sent: c.sent,
            done: c.done,
            fault: c.fault,
            expired: c.expired,
            cancelled: c.cancelled,
        }
    }
}

/// A bulk job.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
    /// The token that created it.
    pub created_by: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Finished, cancelled or stopped.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A rollout's devices by state. In flight (counted against `concurrency`): queued, sent and
/// transferring.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
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

impl From<acs_core::rollout::RolloutCounts> for RolloutCounts {
    fn from(c: acs_core::rollout::RolloutCounts) -> RolloutCounts {
        RolloutCounts {
            pending: c.pending,
            queued: c.queued,
            sent: c.sent,
            transferring: c.transferring,
            installed: c.installed,
            verified: c.verified,
            failed: c.failed,
            cancelled: c.cancelled,
        }
    }
}

/// A device's rollout state (in a job's task listing).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rollout {
    /// `pending`, `queued`, `sent`, `transferring`, `installed`, `verified`, `failed`,
    /// `cancelled`.
    #[schema(value_type = String)]
    pub state: acs_core::rollout::RolloutState,
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

impl From<acs_core::rollout::DeviceOutcome> for Rollout {
    fn from(o: acs_core::rollout::DeviceOutcome) -> Rollout {
        Rollout {
            state: o.state,
            fault_code: o.fault_code,
            fault_string: o.fault_string,
            meaning: o.meaning,
        }
    }
}

impl From<JobStatus> for Job {
    fn from(s: JobStatus) -> Job {
        let j = s.job;
        let mut definition = serde_json::to_value(&j.spec).unwrap_or(Json::Null);
        redact(&mut definition);
        Job {
            id: j.id,
            definition,
            filter: j.filter,
            connection_request: j.connection_request,
            state: j.state.into(),
            total: j.total,
            counts: s.counts.into(),
            rollout: s.rollout.into(),
            concurrency: j.concurrency,
            max_failures: j.max_failures,
            stop_reason: j.stop_reason,
            created_by: j.created_by,
            created_at: j.created_at,
            finished_at: j.finished_at,
        }
    }
}

/// Jobs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobList {
    /// Newest first.
    pub jobs: Vec<Job>,
}

/// `POST /api/v1/jobs`.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateJob {
    /// The task every device gets.
    #[schema(value_type = TaskDefinition)]
    pub task: Json,
    /// The devices matching this filter now (exclusive with `devices`).
    pub filter: Option<String>,
    /// These devices: ids, serial numbers or MACs (exclusive with `filter`).
    pub devices: Option<Vec<String>>,
    /// Wake the devices with connection requests.
    #[serde(default)]
    pub connection_request: bool,
    /// A task not sent within this many seconds expires.
    pub expires_in: Option<u64>,
    /// Send attempts per task (default 3).
    pub max_attempts: Option<i32>,
    /// Release devices a few at a time: at most this many in flight at once (task queued or
    /// sent, or a Download whose TransferComplete has not come). Default: all at once.
    pub concurrency: Option<u32>,
    /// Stop the job (state `stopped`) when more devices than this failed: a number, or a
    /// string `"N%"` of the job's devices.
    #[schema(value_type = Option<String>, example = "5%")]
    pub max_failures: Option<FailureLimit>,
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

/// `POST /api/v1/faults/clear`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearFaults {
    /// Only this device's faults; all faults when absent.
    pub device: Option<String>,
}

/// The definition part of a stored task payload, with secrets redacted. A payload is either
/// `{"spec": TaskSpec, "step": n}` (tasks from the API) or a raw CWMP request body (tasks
/// queued by internal callers); both may hold passwords.
pub fn definition_of(payload: &Json) -> Json {
    let mut def = payload
        .get("spec")
        .cloned()
        .unwrap_or_else(|| payload.clone());
    redact(&mut def);
    def
}

/// Replaces every password in a JSON tree: values of keys named `password` (any case), and
/// the `value` of a parameter whose name ends in `Password` (a SetParameterValues of
/// `…ConnectionRequestPassword` carries it as data, not under a `password` key). Empty
/// passwords stay empty: "no password" is not a secret and is useful to see.
pub fn redact(v: &mut Json) {
    match v {
        Json::Object(map) => {
            let secret_param = map
                .get("name")
                .and_then(Json::as_str)
                .is_some_and(|n| n.to_ascii_lowercase().ends_with("password"));
            for (k, child) in map.iter_mut() {
                let hide = k.eq_ignore_ascii_case("password")
                    || (secret_param && k.eq_ignore_ascii_case("value"));
                if hide && child.as_str().is_none_or(|s| !s.is_empty()) {
                    *child = Json::String(REDACTED.to_owned());
                } else {
                    redact(child);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

// Documentation mirror of `acs_core::cwmp::ParameterValue`.
/// One value of `set_parameter_values`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SetValue {
    /// Full parameter name.
    pub name: String,
    /// Value as text.
    pub value: String,
    /// `xsd:string`, `xsd:unsignedInt`, `xsd:boolean`, `xsd:dateTime`, … Absent: the type stored
    /// for the parameter, else the data model's (TR-181, TR-098, device profile), else the one
    /// the device reports in a GetParameterValues sent just before.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
}

// Documentation mirror of `acs_core::cwmp::SetParameterAttributesStruct`.
/// One entry of `set_parameter_attributes`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SetAttribute {
    /// Name or partial path.
    pub name: String,
    /// Whether `notification` applies.
    pub notification_change: bool,
    /// 0 off, 1 passive, 2 active, 3–6 lightweight.
    pub notification: u8,
    /// Whether `access_list` applies.
    pub access_list_change: bool,
    /// `Subscriber` or empty.
    #[serde(default)]
    pub access_list: Vec<String>,
}

// This enum only documents the input for OpenAPI: requests are parsed into the core
// `acs_core::tasks::TaskSpec` (which cannot derive the schema without acs-core depending on
// utoipa), so it is never built from a request and its derived `Debug` never sees a real
// password. A unit test checks that every variant here is accepted by `TaskSpec`. (Plain
// comments, not doc comments: those become the schema's description.)
/// A task definition, tagged by `kind`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TaskDefinition {
    /// GetParameterValues of full names or partial paths (ending in `.`).
    GetParameterValues {
        /// Names.
        names: Vec<String>,
    },
    /// SetParameterValues (atomic on the CPE).
    SetParameterValues {
        /// Values.
        values: Vec<SetValue>,
    },
    /// GetParameterNames.
    GetParameterNames {
        /// Partial path, full name, or empty for everything.
        #[serde(default)]
        path: String,
        /// Only the next level.
        #[serde(default)]
        next_level: bool,
    },
    /// GetParameterAttributes.
    GetParameterAttributes {
        /// Names.
        names: Vec<String>,
    },
    /// SetParameterAttributes.
    SetParameterAttributes {
        /// Entries.
        attributes: Vec<SetAttribute>,
    },
    /// AddObject.
    AddObject {
        /// The table, ending in `.`.
        object: String,
    },
    /// DeleteObject.
    DeleteObject {
        /// The instance, ending in `.`.
        object: String,
    },
    /// Reboot.
    Reboot {},
    /// FactoryReset.
    FactoryReset {},
    /// Download; finished by a TransferComplete.
    Download {
        /// `1 Firmware Upgrade Image`, `3 Vendor Configuration File`, …
        file_type: String,
        /// http(s) or ftp URL; omitted when `file_id` is given.
        #[serde(default)]
        url: String,
        /// A stored file (`/api/v1/files`) instead of `url`: the ACS sends a token URL on its
        /// own file server, and the file's size and name as FileSize and TargetFileName unless
        /// given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_id: Option<i64>,
        /// With a `config-template` `file_id`: a stored CSV (`serial` or `mac` column) whose
        /// row for the downloading device adds template variables.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vars_file_id: Option<i64>,
        /// File server username.
        #[serde(default)]
        username: String,
        /// File server password (write-only: shown as `<redacted>`).
        #[serde(default)]
        password: String,
        /// Bytes, 0 if unknown.
        #[serde(default)]
        file_size: u32,
        /// Name on the CPE.
        #[serde(default)]
        target_file_name: String,
        /// Seconds before the CPE starts.
        #[serde(default)]
        delay_seconds: u32,
    },
    /// Upload; finished by a TransferComplete.
    Upload {
        /// `1 Vendor Configuration File`, `2 Vendor Log File`, …
        file_type: String,
        /// http(s) or ftp URL.
        url: String,
        /// Username.
        #[serde(default)]
        username: String,
        /// Password (write-only: shown as `<redacted>`).
        #[serde(default)]
        password: String,
        /// Seconds before the CPE starts.
        #[serde(default)]
        delay_seconds: u32,
    },
    /// ScheduleInform.
    ScheduleInform {
        /// Seconds (> 0).
        delay_seconds: u32,
    },
    /// GetRPCMethods.
    GetRpcMethods {},
    /// Sets the connection-request credentials on the CPE and stores them once applied.
    SetConnectionRequestCredentials {
        /// `Device.` or `InternetGatewayDevice.`.
        root: String,
        /// Username.
        username: String,
        /// Password (write-only: shown as `<redacted>`).
        password: String,
    },
    /// GetParameterNames then GetParameterValues of a subtree.
    Refresh {
        /// Partial path ending in `.`.
        path: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use acs_core::tasks::TaskSpec;

    /// The documentation mirror stays parseable as the real definition.
    #[test]
    fn every_documented_definition_is_a_task_spec() {
        let s = |x: &str| x.to_owned();
        let samples = vec![
            TaskDefinition::GetParameterValues {
                names: vec![s("Device.DeviceInfo.")],
            },
            TaskDefinition::SetParameterValues {
                values: vec![SetValue {
                    name: s("Device.X.Y"),
                    value: s("1"),
                    value_type: Some(s("xsd:unsignedInt")),
                }],
            },
            TaskDefinition::GetParameterNames {
                path: s("Device."),
                next_level: true,
            },
            TaskDefinition::GetParameterAttributes {
                names: vec![s("Device.X")],
            },
            TaskDefinition::SetParameterAttributes {
                attributes: vec![SetAttribute {
                    name: s("Device.X"),
                    notification_change: true,
                    notification: 2,
                    access_list_change: false,
                    access_list: vec![],
                }],
            },
            TaskDefinition::AddObject {
                object: s("Device.T."),
            },
            TaskDefinition::DeleteObject {
                object: s("Device.T.1."),
            },
            TaskDefinition::Reboot {},
            TaskDefinition::FactoryReset {},
            TaskDefinition::Download {
                file_type: s("1 Firmware Upgrade Image"),
                url: s("https://f.example.net/x"),
                file_id: None,
                vars_file_id: None,
                username: s("u"),
                password: s("p"),
                file_size: 1,
                target_file_name: s("x"),
                delay_seconds: 0,
            },
            TaskDefinition::Upload {
                file_type: s("2 Vendor Log File"),
                url: s("https://f.example.net/x"),
                username: s("u"),
                password: s("p"),
                delay_seconds: 0,
            },
            TaskDefinition::ScheduleInform { delay_seconds: 5 },
            TaskDefinition::GetRpcMethods {},
            TaskDefinition::SetConnectionRequestCredentials {
                root: s("Device."),
                username: s("u"),
                password: s("p"),
            },
            TaskDefinition::Refresh {
                path: s("Device.DeviceInfo."),
            },
        ];
        for d in samples {
            let json = serde_json::to_value(&d).unwrap();
            let spec: TaskSpec =
                serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{json}: {e}"));
            spec.validate().unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(json["kind"], spec.kind());
        }
    }

    #[test]
    fn passwords_are_redacted_wherever_they_are() {
        let mut v = serde_json::json!({
            "kind": "download", "password": "hunter2", "username": "u",
            "nested": [{"Download": {"Password": "x"}}],
            "values": [
                {"name": "Device.ManagementServer.ConnectionRequestPassword", "value": "s3"},
                {"name": "Device.ManagementServer.ConnectionRequestUsername", "value": "u"}
            ],
            "empty": {"password": ""}
        });
        redact(&mut v);
        let text = v.to_string();
        assert!(!text.contains("hunter2") && !text.contains("\"x\"") && !text.contains("s3"));
        assert_eq!(v["password"], REDACTED);
        assert_eq!(v["values"][1]["value"], "u");
        assert_eq!(v["empty"]["password"], "");
        let job: CreateJob = serde_json::from_value(serde_json::json!({
            "task": {"kind": "download", "file_type": "1", "url": "http://x/y", "password": "hunter2"},
            "filter": "tag = a"
        }))
        .unwrap();
        assert!(!format!("{job:?}").contains("hunter2"));
    }
}

//! Task definitions: what an operator or a script asks of a device, validated up front and
//! turned into the CWMP requests the session engine sends.
//!
//! A task is one operator intent. Most kinds are one RPC; `refresh` is two (GetParameterNames,
//! then GetParameterValues of the same subtree), which is why a task has [`TaskSpec::steps`].
//! Methods whose completion the CPE reports later carry a CommandKey derived from the task id
//! (`acs-<id>`), so the `M Reboot` / `M Download` event or the TransferComplete can be matched
//! to the task across sessions and reboots.

use crate::cwmp::{self, Body, ParameterValue, Password, SetParameterAttributesStruct, ValueType};
use serde::{Deserialize, Serialize};

mod result;
pub use result::{
    AttributesRead, FaultDetail, NameRead, ParameterFault, QueuedTransferRead, RESULT_VERSION,
    Response, ResultError, TaskResult, TransferAccepted, TransferOutcome, ValueRead,
};

/// What a task asks for. The JSON form (`{"kind": "reboot"}`) is the task API's input and the
/// stored definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskSpec {
    /// GetParameterValues: full names or partial paths ending in `.`.
    GetParameterValues {
        /// Names or partial paths.
        names: Vec<String>,
    },
    /// SetParameterValues, atomic on the CPE.
    SetParameterValues {
        /// Name, value and type of each parameter. A value without `type` gets the stored
        /// type, else the data model's, else the one the CPE reports in a GetParameterValues
        /// sent first (see [`crate::truth::types`]); until then it is [`UNSPECIFIED_TYPE`].
        #[serde(deserialize_with = "values_maybe_untyped")]
        values: Vec<ParameterValue>,
    },
    /// GetParameterNames.
    GetParameterNames {
        /// A partial path ending in `.`, a full name, or empty for the whole tree.
        #[serde(default)]
        path: String,
        /// Only the level right below `path`.
        #[serde(default)]
        next_level: bool,
    },
    /// GetParameterAttributes.
    GetParameterAttributes {
        /// Names or partial paths.
        names: Vec<String>,
    },
    /// SetParameterAttributes.
    SetParameterAttributes {
        /// One entry per name.
        attributes: Vec<SetParameterAttributesStruct>,
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
    /// Reboot; confirmed by `1 BOOT` + `M Reboot` at the next Inform.
    Reboot {},
    /// FactoryReset; the CPE comes back with `0 BOOTSTRAP`.
    FactoryReset {},
    /// Download (firmware, configuration, …); finished by a TransferComplete.
    Download {
        /// `1 Firmware Upgrade Image`, `3 Vendor Configuration File`, `X <OUI> <name>`, …
        file_type: String,
        /// Where the CPE fetches the file. Empty when `file_id` names a stored file: the session
        /// driver then fills in a token URL on the ACS's own file server when it sends the task.
        #[serde(default)]
        url: String,
        /// A stored file (`/api/v1/files`) to send instead of `url`. At send time FileSize and
        /// TargetFileName default to the file's size and name, and the URL is a per-device,
        /// per-task token URL. Absent in payloads stored before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file_id: Option<i64>,
        /// For a configuration template (`file_id`): a stored CSV (`serial` or `mac` column)
        /// whose row for the downloading device adds template variables.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vars_file_id: Option<i64>,
        /// HTTP credentials for the file server.
        #[serde(default)]
        username: String,
        /// Never printed.
        #[serde(default)]
        password: Password,
        /// Size in bytes, 0 if unknown.
        #[serde(default)]
        file_size: u32,
        /// Name on the CPE.
        #[serde(default)]
        target_file_name: String,
        /// Seconds before the CPE starts.
        #[serde(default)]
        delay_seconds: u32,
    },
    /// Upload (configuration or log file); finished by a TransferComplete.
    Upload {
        /// `1 Vendor Configuration File`, `2 Vendor Log File`, …
        file_type: String,
        /// Where the CPE sends the file.
        url: String,
        /// HTTP credentials for the destination.
        #[serde(default)]
        username: String,
        /// Never printed.
        #[serde(default)]
        password: Password,
        /// Seconds before the CPE starts.
        #[serde(default)]
        delay_seconds: u32,
    },
    /// ScheduleDownload (TR-069 A.4.1.8): a Download the CPE runs inside one or two time
    /// windows; finished, like a Download, by the TransferComplete that names its CommandKey.
    ScheduleDownload {
        /// `1 Firmware Upgrade Image`, `3 Vendor Configuration File`, `X <OUI> <name>`, …
        file_type: String,
        /// Where the CPE fetches the file.
        url: String,
        /// HTTP credentials for the file server.
        #[serde(default)]
        username: String,
        /// Never printed.
        #[serde(default)]
        password: Password,
        /// Size in bytes, 0 if unknown.
        #[serde(default)]
        file_size: u32,
        /// Name on the CPE.
        #[serde(default)]
        target_file_name: String,
        /// One or two windows, in seconds from the request (A.4.1.8: the second starts at or
        /// after the end of the first).
        time_windows: Vec<cwmp::TimeWindow>,
    },
    /// ScheduleInform; the CPE calls back with `3 SCHEDULED` + `M ScheduleInform`.
    ScheduleInform {
        /// Seconds from now (> 0).
        delay_seconds: u32,
    },
    /// GetRPCMethods.
    GetRpcMethods {},
    /// GetAllQueuedTransfers (TR-069 A.4.1.7): the transfers the CPE has queued or running.
    GetQueuedTransfers {},
    /// CancelTransfer (TR-069 A.4.1.9): drop a queued (not yet started) transfer, named by its
    /// CommandKey (`acs-<task id>` for the ACS's own).
    CancelTransfer {
        /// The transfer's CommandKey.
        command_key: String,
    },
    /// Sets ManagementServer.ConnectionRequestUsername/Password under `root` (`Device.` or
    /// `InternetGatewayDevice.`); the ACS stores them once the CPE has applied them.
    SetConnectionRequestCredentials {
        /// The data model root, with its trailing dot.
        root: String,
        /// The username.
        username: String,
        /// Never printed.
        password: Password,
    },
    /// Sets ManagementServer.Username/Password under `root`: the device's own ACS credentials,
    /// which the ACS stores (bound to the device) once the CPE has applied them. From then on
    /// the device authenticates with them and no longer with the shared pair.
    SetManagementServerCredentials {
        /// The data model root, with its trailing dot.
        root: String,
        /// The username.
        username: String,
        /// Never printed.
        password: Password,
    },
    /// GetParameterNames then GetParameterValues of a subtree: refreshes the stored copy of
    /// values and writability.
    Refresh {
        /// A partial path ending in `.` (e.g. `Device.DeviceInfo.`).
        path: String,
    },
}

/// The type of a SetParameterValues value the caller did not give: the ACS resolves it before
/// sending, and never sends it as such.
pub const UNSPECIFIED_TYPE: ValueType = ValueType::Other(String::new());

/// Whether a value's type is still to be resolved.
pub fn is_unspecified(t: &ValueType) -> bool {
    matches!(t, ValueType::Other(s) if s.is_empty())
}

/// `{"name", "value", "type"?}`: a missing or null type is [`UNSPECIFIED_TYPE`] (the codec's own
/// JSON form defaults to xsd:string, which is what a CPE means by an absent `xsi:type`, not
/// what an operator means by leaving it out).
fn values_maybe_untyped<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<ParameterValue>, D::Error> {
    #[derive(Deserialize)]
    struct MaybeTyped {
        name: String,
        value: String,
        #[serde(rename = "type", default)]
        value_type: Option<ValueType>,
    }
    Ok(Vec::<MaybeTyped>::deserialize(d)?
        .into_iter()
        .map(|v| ParameterValue::new(v.name, v.value, v.value_type.unwrap_or(UNSPECIFIED_TYPE)))
        .collect())
}

fn untyped_names(values: &[ParameterValue]) -> Vec<String> {
    values
        .iter()
        .filter(|v| is_unspecified(&v.value_type))
        .map(|v| v.name.clone())
        .collect()
}

/// Why a task definition is refused (the API answers 400 with this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct TaskSpecError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> Result<(), TaskSpecError> {
    Err(TaskSpecError {
        field,
        reason: reason.into(),
    })
}

/// How a finished RPC relates to the task being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirmation {
    /// The response is the result.
    Response,
    /// Done when the response arrives; the next Inform carrying this cumulative event with the
    /// task's CommandKey confirms it (Reboot: `M Reboot`).
    Event(&'static str),
    /// The CPE forgets everything; its next Inform carries `0 BOOTSTRAP`.
    Bootstrap,
    /// A TransferComplete with the task's CommandKey reports the outcome (immediately when the
    /// response says Status 0).
    TransferComplete,
}

const MAX_NAME: usize = 256;
const MAX_URL: usize = 256;

fn check_names(field: &'static str, names: &[String]) -> Result<(), TaskSpecError> {
    if names.is_empty() {
        return invalid(field, "at least one name is required");
    }
    for n in names {
        check_path(field, n, false)?;
    }
    Ok(())
}

/// A parameter path: no spaces, at most 256 characters, no empty segments.
fn check_path(field: &'static str, path: &str, must_be_object: bool) -> Result<(), TaskSpecError> {
    if path.chars().count() > MAX_NAME {
        return invalid(
            field,
            format!("{path:?} is longer than {MAX_NAME} characters"),
        );
    }
    if path.is_empty()
        || path.contains(char::is_whitespace)
        || path.trim_end_matches('.').split('.').any(str::is_empty)
    {
        return invalid(field, format!("{path:?} is not a parameter path"));
    }
    if must_be_object && !path.ends_with('.') {
        return invalid(
            field,
            format!("{path:?} must name an object, ending in '.'"),
        );
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), TaskSpecError> {
    if url.chars().count() > MAX_URL {
        return invalid("url", format!("longer than {MAX_URL} characters"));
    }
    let scheme_ok = ["http://", "https://", "ftp://"]
        .iter()
        .any(|s| url.len() > s.len() && url[..s.len()].eq_ignore_ascii_case(s));
    if !scheme_ok || url.contains(char::is_whitespace) {
        return invalid("url", format!("{url:?} is not an http(s) or ftp URL"));
    }
    Ok(())
}

/// TR-069 A.4.1.8: one or two windows, each ending at or after its start, the second not
/// before the first has ended, with a known WindowMode (or a vendor `X <OUI> …` one).
fn check_time_windows(windows: &[cwmp::TimeWindow]) -> Result<(), TaskSpecError> {
    if windows.is_empty() || windows.len() > 2 {
        return invalid("time_windows", "one or two windows are required");
    }
    for (i, w) in windows.iter().enumerate() {
        let n = i + 1;
        if w.window_end < w.window_start {
            return invalid(
                "time_windows",
                format!(
                    "window {n} ends ({}) before it starts ({})",
                    w.window_end, w.window_start
                ),
            );
        }
        let known = [
            "1 At Any Time",
            "2 Immediately",
            "3 When Idle",
            "4 Confirmation Needed",
        ];
        if !known.contains(&w.window_mode.as_str()) && !w.window_mode.starts_with("X ") {
            return invalid(
                "time_windows",
                format!(
                    "window {n}: window_mode {:?} is not one of {known:?} or a vendor mode \"X <OUI> <name>\"",
                    w.window_mode
                ),
            );
        }
        if w.user_message.chars().count() > 256 {
            return invalid(
                "time_windows",
                format!("window {n}: user_message over 256 characters"),
            );
        }
        if w.max_retries < -1 {
            return invalid(
                "time_windows",
                format!("window {n}: max_retries must be -1 or more"),
            );
        }
    }
    if let [first, second] = windows
        && second.window_start < first.window_end
    {
        return invalid(
            "time_windows",
            "the second window starts before the first one ends",
        );
    }
    Ok(())
}

impl TaskSpec {
    /// The kind as written in JSON (`get_parameter_values`).
    pub const fn kind(&self) -> &'static str {
        match self {
            TaskSpec::GetParameterValues { .. } => "get_parameter_values",
            TaskSpec::SetParameterValues { .. } => "set_parameter_values",
            TaskSpec::GetParameterNames { .. } => "get_parameter_names",
            TaskSpec::GetParameterAttributes { .. } => "get_parameter_attributes",
            TaskSpec::SetParameterAttributes { .. } => "set_parameter_attributes",
            TaskSpec::AddObject { .. } => "add_object",
            TaskSpec::DeleteObject { .. } => "delete_object",
            TaskSpec::Reboot {} => "reboot",
            TaskSpec::FactoryReset {} => "factory_reset",
            TaskSpec::Download { .. } => "download",
            TaskSpec::Upload { .. } => "upload",
            TaskSpec::ScheduleDownload { .. } => "schedule_download",
            TaskSpec::ScheduleInform { .. } => "schedule_inform",
            TaskSpec::GetRpcMethods {} => "get_rpc_methods",
            TaskSpec::GetQueuedTransfers {} => "get_queued_transfers",
            TaskSpec::CancelTransfer { .. } => "cancel_transfer",
            TaskSpec::Refresh { .. } => "refresh",
            TaskSpec::SetConnectionRequestCredentials { .. } => {
                "set_connection_request_credentials"
            }
            TaskSpec::SetManagementServerCredentials { .. } => "set_management_server_credentials",
        }
    }

    /// Checks everything that can be checked without the device, so a bad task is refused at
    /// creation instead of failing in a session.
    pub fn validate(&self) -> Result<(), TaskSpecError> {
        match self {
            TaskSpec::GetParameterValues { names } | TaskSpec::GetParameterAttributes { names } => {
                check_names("names", names)
            }
            TaskSpec::SetParameterValues { values } => {
                if values.is_empty() {
                    return invalid("values", "at least one value is required");
                }
                for v in values {
                    check_path("values", &v.name, false)?;
                    if v.name.ends_with('.') {
                        return invalid(
                            "values",
                            format!("{:?} is an object, not a parameter", v.name),
                        );
                    }
                    if let ValueType::Other(t) = &v.value_type
                        && !t.is_empty()
                    {
                        return invalid(
                            "values",
                            format!("{t:?} is not a CWMP value type for {}", v.name),
                        );
                    }
                    if !v.value_type.accepts(&v.value) {
                        return invalid(
                            "values",
                            format!(
                                "{:?} is not a valid {} for {}",
                                v.value, v.value_type, v.name
                            ),
                        );
                    }
                }
                Ok(())
            }
            TaskSpec::GetParameterNames { path, .. } => {
                if path.is_empty() {
                    Ok(())
                } else {
                    check_path("path", path, false)
                }
            }
            TaskSpec::SetParameterAttributes { attributes } => {
                if attributes.is_empty() {
                    return invalid("attributes", "at least one entry is required");
                }
                for a in attributes {
                    check_path("attributes", &a.name, false)?;
                    if a.notification > 6 {
                        return invalid(
                            "attributes",
                            format!("notification {} is not 0–6", a.notification),
                        );
                    }
                }
                Ok(())
            }
            TaskSpec::AddObject { object } => check_path("object", object, true),
            TaskSpec::DeleteObject { object } => {
                check_path("object", object, true)?;
                let last = object
                    .trim_end_matches('.')
                    .rsplit('.')
                    .next()
                    .unwrap_or_default();
                if last.parse::<u32>().is_err() {
                    return invalid(
                        "object",
                        format!("{object:?} must name an instance (…Table.3.)"),
                    );
                }
                Ok(())
            }
            TaskSpec::Download {
                file_type,
                url,
                file_id,
                vars_file_id,
                ..
            } => {
                if vars_file_id.is_some() && file_id.is_none() {
                    return invalid("vars_file_id", "only with file_id (a stored template)");
                }
                match file_id {
                    Some(id) if *id <= 0 => {
                        return invalid("file_id", format!("{id} is not a file id"));
                    }
                    Some(_) if !url.is_empty() => {
                        return invalid("url", "give either url or file_id, not both");
                    }
                    Some(_) => {}
                    None => check_url(url)?,
                }
                if file_type.trim().is_empty() {
                    return invalid("file_type", "required (e.g. \"1 Firmware Upgrade Image\")");
                }
                Ok(())
            }
            TaskSpec::Upload { file_type, url, .. } => {
                check_url(url)?;
                if file_type.trim().is_empty() {
                    return invalid("file_type", "required (e.g. \"1 Firmware Upgrade Image\")");
                }
                Ok(())
            }
            TaskSpec::ScheduleDownload {
                file_type,
                url,
                time_windows,
                ..
            } => {
                check_url(url)?;
                if file_type.trim().is_empty() {
                    return invalid("file_type", "required (e.g. \"1 Firmware Upgrade Image\")");
                }
                check_time_windows(time_windows)
            }
            TaskSpec::ScheduleInform { delay_seconds } => {
                if *delay_seconds == 0 {
                    invalid("delay_seconds", "must be greater than 0")
                } else {
                    Ok(())
                }
            }
            TaskSpec::Refresh { path } => check_path("path", path, true),
            TaskSpec::SetConnectionRequestCredentials {
                root,
                username,
                password,
            }
            | TaskSpec::SetManagementServerCredentials {
                root,
                username,
                password,
            } => {
                check_path("root", root, true)?;
                if username.is_empty()
                    || username.chars().count() > 256
                    || password.expose().chars().count() > 256
                {
                    return invalid("username", "1 to 256 characters, password at most 256");
                }
                Ok(())
            }
            TaskSpec::CancelTransfer { command_key } => {
                if command_key.is_empty() || command_key.len() > 32 {
                    invalid("command_key", "1 to 32 characters (TR-069 A.4.1.9)")
                } else {
                    Ok(())
                }
            }
            TaskSpec::Reboot {}
            | TaskSpec::FactoryReset {}
            | TaskSpec::GetRpcMethods {}
            | TaskSpec::GetQueuedTransfers {} => Ok(()),
        }
    }

    /// How many RPCs the task takes.
    pub fn steps(&self) -> usize {
        match self {
            TaskSpec::Refresh { .. } => 2,
            // GetParameterValues for the types nothing else knows, then the set.
            TaskSpec::SetParameterValues { values } if !untyped_names(values).is_empty() => 2,
            _ => 1,
        }
    }

    /// The CommandKey of a task (`acs-<id>`): unique, at most 32 characters, and recognisable in
    /// the CPE's later events.
    pub fn command_key(task_id: i64) -> String {
        format!("acs-{task_id}")
    }

    /// The request for step `step` (0-based) of the task with id `task_id`; `None` past the
    /// last step.
    pub fn request(&self, task_id: i64, step: usize) -> Option<Body> {
        if let TaskSpec::SetParameterValues { values } = self {
            // The step count shrinks once the first step has supplied the types.
            let untyped = untyped_names(values);
            return match (untyped.is_empty(), step) {
                (true, 0 | 1) => Some(Body::SetParameterValues(cwmp::SetParameterValues {
                    parameter_list: values.clone(),
                    parameter_key: Self::command_key(task_id),
                })),
                (false, 0) => Some(Body::GetParameterValues(cwmp::GetParameterValues {
                    parameter_names: untyped,
                })),
                _ => None,
            };
        }
        if step >= self.steps() {
            return None;
        }
        let key = Self::command_key(task_id);
        Some(match self {
            TaskSpec::GetParameterValues { names } => {
                Body::GetParameterValues(cwmp::GetParameterValues {
                    parameter_names: names.clone(),
                })
            }
            TaskSpec::SetParameterValues { values } => {
                Body::SetParameterValues(cwmp::SetParameterValues {
                    parameter_list: values.clone(),
                    parameter_key: key,
                })
            }
            TaskSpec::GetParameterNames { path, next_level } => {
                Body::GetParameterNames(cwmp::GetParameterNames {
                    parameter_path: path.clone(),
                    next_level: *next_level,
                })
            }
            TaskSpec::GetParameterAttributes { names } => {
                Body::GetParameterAttributes(cwmp::GetParameterAttributes {
                    parameter_names: names.clone(),
                })
            }
            TaskSpec::SetParameterAttributes { attributes } => {
                Body::SetParameterAttributes(cwmp::SetParameterAttributes {
                    parameter_list: attributes.clone(),
                })
            }
            TaskSpec::AddObject { object } => Body::AddObject(cwmp::AddObject {
                object_name: object.clone(),
                parameter_key: key,
            }),
            TaskSpec::DeleteObject { object } => Body::DeleteObject(cwmp::DeleteObject {
                object_name: object.clone(),
                parameter_key: key,
            }),
            TaskSpec::Reboot {} => Body::Reboot(cwmp::Reboot { command_key: key }),
            TaskSpec::FactoryReset {} => Body::FactoryReset,
            TaskSpec::Download {
                file_type,
                url,
                file_id: _,
                vars_file_id: _,
                username,
                password,
                file_size,
                target_file_name,
                delay_seconds,
            } => Body::Download(cwmp::Download {
                command_key: key,
                file_type: file_type.clone(),
                url: url.clone(),
                username: username.clone(),
                password: password.clone(),
                file_size: *file_size,
                target_file_name: target_file_name.clone(),
                delay_seconds: *delay_seconds,
                success_url: String::new(),
                failure_url: String::new(),
            }),
            TaskSpec::Upload {
                file_type,
                url,
                username,
                password,
                delay_seconds,
            } => Body::Upload(cwmp::Upload {
                command_key: key,
                file_type: file_type.clone(),
                url: url.clone(),
                username: username.clone(),
                password: password.clone(),
                delay_seconds: *delay_seconds,
            }),
            TaskSpec::ScheduleDownload {
                file_type,
                url,
                username,
                password,
                file_size,
                target_file_name,
                time_windows,
            } => Body::ScheduleDownload(cwmp::ScheduleDownload {
                command_key: key,
                file_type: file_type.clone(),
                url: url.clone(),
                username: username.clone(),
                password: password.clone(),
                file_size: *file_size,
                target_file_name: target_file_name.clone(),
                time_window_list: time_windows.clone(),
            }),
            TaskSpec::ScheduleInform { delay_seconds } => {
                Body::ScheduleInform(cwmp::ScheduleInform {
                    delay_seconds: *delay_seconds,
                    command_key: key,
                })
            }
            TaskSpec::GetRpcMethods {} => Body::GetRpcMethods,
            TaskSpec::GetQueuedTransfers {} => Body::GetAllQueuedTransfers,
            TaskSpec::CancelTransfer { command_key } => {
                Body::CancelTransfer(cwmp::CancelTransfer {
                    command_key: command_key.clone(),
                })
            }
            TaskSpec::SetConnectionRequestCredentials {
                root,
                username,
                password,
            } => Body::SetParameterValues(cwmp::SetParameterValues {
                parameter_list: vec![
                    ParameterValue::string(
                        format!("{root}ManagementServer.ConnectionRequestUsername"),
                        username.clone(),
                    ),
                    ParameterValue::string(
                        format!("{root}ManagementServer.ConnectionRequestPassword"),
                        password.expose(),
                    ),
                ],
                parameter_key: key,
            }),
            TaskSpec::SetManagementServerCredentials {
                root,
                username,
                password,
            } => Body::SetParameterValues(cwmp::SetParameterValues {
                parameter_list: vec![
                    ParameterValue::string(
                        format!("{root}ManagementServer.Username"),
                        username.clone(),
                    ),
                    ParameterValue::string(
                        format!("{root}ManagementServer.Password"),
                        password.expose(),
                    ),
                ],
                parameter_key: key,
            }),
            TaskSpec::Refresh { path } if step == 0 => {
                Body::GetParameterNames(cwmp::GetParameterNames {
                    parameter_path: path.clone(),
                    next_level: false,
                })
            }
            TaskSpec::Refresh { path } => Body::GetParameterValues(cwmp::GetParameterValues {
                parameter_names: vec![path.clone()],
            }),
        })
    }

    /// How the task's completion shows.
    pub const fn confirmation(&self) -> Confirmation {
        match self {
            TaskSpec::Reboot {} => Confirmation::Event("Reboot"),
            TaskSpec::ScheduleInform { .. } => Confirmation::Event("ScheduleInform"),
            TaskSpec::FactoryReset {} => Confirmation::Bootstrap,
            TaskSpec::Download { .. }
            | TaskSpec::Upload { .. }
            | TaskSpec::ScheduleDownload { .. } => Confirmation::TransferComplete,
            _ => Confirmation::Response,
        }
    }

    /// Whether sending the task again after an unknown outcome (a crash between "sent" and the
    /// answer) is harmless. Reads are; a reboot or a write might run twice, so those are
    /// resolved from what the CPE reports (events, ParameterKey) instead of being resent.
    pub const fn is_idempotent(&self) -> bool {
        matches!(
            self,
            TaskSpec::GetParameterValues { .. }
                | TaskSpec::GetParameterNames { .. }
                | TaskSpec::GetParameterAttributes { .. }
                | TaskSpec::GetRpcMethods {}
                | TaskSpec::GetQueuedTransfers {}
                | TaskSpec::Refresh { .. }
        )
    }
}

/// What the queue stores for a task: its definition and the step it is at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedTask {
    /// The definition.
    pub spec: TaskSpec,
    /// The next RPC to send (0-based).
    #[serde(default)]
    pub step: usize,
}

/// A queue payload: a task definition, or a raw CWMP request (for callers that build the
/// request themselves).
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A [`TaskSpec`] at a step.
    Task(QueuedTask),
    /// A request body sent as is.
    Request(Body),
}

impl Payload {
    /// Reads a stored payload.
    pub fn parse(json: &serde_json::Value) -> Result<Payload, String> {
        if json.get("spec").is_some() {
            return serde_json::from_value(json.clone())
                .map(Payload::Task)
                .map_err(|e| format!("task payload: {e}"));
        }
        serde_json::from_value(json.clone())
            .map(Payload::Request)
            .map_err(|e| format!("request payload: {e}"))
    }

    /// The request to send now for task `task_id`.
    pub fn request(&self, task_id: i64) -> Result<Body, String> {
        match self {
            Payload::Task(t) => {
                if let TaskSpec::SetParameterValues { values } = &t.spec {
                    let untyped = untyped_names(values);
                    if t.step > 0 && !untyped.is_empty() {
                        return Err(format!(
                            "the CPE reported no usable type for {}; give one (NAME=VALUE:TYPE)",
                            untyped.join(", ")
                        ));
                    }
                    // A type resolved after the task was created was not checked then.
                    if let Some(v) = values.iter().find(|v| !v.value_type.accepts(&v.value)) {
                        return Err(format!(
                            "{:?} is not a valid {} for {}",
                            v.value, v.value_type, v.name
                        ));
                    }
                }
                t.spec
                    .request(task_id, t.step)
                    .ok_or_else(|| format!("step {} is past the task's end", t.step))
            }
            Payload::Request(b) if b.is_response() => {
                Err(format!("{} is not a request", b.element_name()))
            }
            Payload::Request(b) => Ok(b.clone()),
        }
    }

    /// The payload for the next step, if the task has one, given the CPE's answer to this one.
    pub fn next_step(&self, response: &Body) -> Option<serde_json::Value> {
        match self {
            Payload::Task(QueuedTask {
                spec: TaskSpec::SetParameterValues { values },
                step: 0,
            }) if !untyped_names(values).is_empty() => {
                // The GetParameterValues step: the CPE's own types complete the set.
                let mut values = values.clone();
                if let Body::GetParameterValuesResponse(r) = response {
                    for v in values.iter_mut().filter(|v| is_unspecified(&v.value_type)) {
                        if let Some(p) = r.parameter_list.iter().find(|p| p.name == v.name)
                            && !matches!(p.value_type, ValueType::Other(_))
                        {
                            v.value_type = p.value_type.clone();
                        }
                    }
                }
                serde_json::to_value(QueuedTask {
                    spec: TaskSpec::SetParameterValues { values },
                    step: 1,
                })
                .ok()
            }
            Payload::Task(t) if t.step + 1 < t.spec.steps() => serde_json::to_value(QueuedTask {
                spec: t.spec.clone(),
                step: t.step + 1,
            })
            .ok(),
            _ => None,
        }
    }
}

impl QueuedTask {
    /// The payload that queues `spec` from its first step.
    pub fn payload(spec: &TaskSpec) -> serde_json::Value {
        serde_json::json!({ "spec": spec, "step": 0 })
    }
}

/// What became of a task left `sent` by a crash, judged from the device's next Inform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// It ran: mark it done with this note, never send it again.
    Ran(&'static str),
    /// No sign that it ran (or it is harmless to repeat): back to the queue.
    Requeue,
}

impl Payload {
    /// Decides, from an Inform, whether a task whose answer was lost ran on the CPE. Evidence:
    /// the cumulative event with the task's CommandKey (Reboot, ScheduleInform), a BOOTSTRAP
    /// after a FactoryReset, or `ManagementServer.ParameterKey` equal to the task's key after a
    /// SetParameterValues/AddObject/DeleteObject (TR-069 §A.3.2.1: the CPE sets it on success).
    pub fn recover(&self, task_id: i64, inform: &cwmp::Inform) -> Recovery {
        let Payload::Task(task) = self else {
            return Recovery::Requeue;
        };
        let key = TaskSpec::command_key(task_id);
        let event_with_key = |method: &str| {
            inform
                .event
                .iter()
                .any(|e| e.event_code.is_method(method) && e.command_key == key)
        };
        let parameter_key = inform
            .parameter_list
            .iter()
            .find(|p| p.name.ends_with(".ManagementServer.ParameterKey"))
            .map(|p| p.value.as_str());
        match &task.spec {
            TaskSpec::Reboot {} if event_with_key("Reboot") => {
                Recovery::Ran("confirmed by M Reboot after an ACS restart")
            }
            TaskSpec::ScheduleInform { .. } if event_with_key("ScheduleInform") => {
                Recovery::Ran("confirmed by M ScheduleInform after an ACS restart")
            }
            TaskSpec::FactoryReset {}
                if inform
                    .event
                    .iter()
                    .any(|e| e.event_code == cwmp::EventCode::Bootstrap) =>
            {
                Recovery::Ran("confirmed by 0 BOOTSTRAP after an ACS restart")
            }
            TaskSpec::SetParameterValues { .. }
            | TaskSpec::AddObject { .. }
            | TaskSpec::DeleteObject { .. }
                if parameter_key == Some(key.as_str()) =>
            {
                Recovery::Ran(
                    "applied: the CPE reports the task's ParameterKey after an ACS restart",
                )
            }
            _ => Recovery::Requeue,
        }
    }
}

/// Fresh connection-request credentials: 16 and 24 random alphanumeric characters.
pub fn random_connection_request_credentials() -> (String, Password) {
    use rand::Rng as _;
    use rand::distr::Alphanumeric;
    let mut rng = rand::rng();
    let mut take = |n: usize| {
        (&mut rng)
            .sample_iter(&Alphanumeric)
            .take(n)
            .map(char::from)
            .collect::<String>()
    };
    (format!("acs-{}", take(12)), Password::new(take(24)))
}

/// The methods whose cumulative event (`M <method>` with the task's key) confirms a task. `M
/// Download`/`M Upload` are not among them: they say a transfer ended, not that it succeeded,
/// which only the TransferComplete tells.
pub const CONFIRMING_EVENTS: [&str; 2] = ["Reboot", "ScheduleInform"];

/// The task id inside a CommandKey this ACS generated (`acs-<id>`).
pub fn task_id_of_command_key(command_key: &str) -> Option<i64> {
    command_key.strip_prefix("acs-")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<TaskSpec, String> {
        let spec: TaskSpec = serde_json::from_str(json).map_err(|e| format!("json: {e}"))?;
        spec.validate().map_err(|e| e.to_string())?;
        Ok(spec)
    }

    /// One case: JSON in, and either the first request's element name or the error's start.
    fn check(json: &str, expected: Result<&str, &str>) {
        match (spec(json), expected) {
            (Ok(s), Ok(method)) => {
                let body = s.request(42, 0).expect("first step");
                assert_eq!(body.element_name(), method, "{json}");
                // Everything a valid task produces must be writable as CWMP.
                let env = cwmp::Envelope::new(
                    cwmp::CwmpNamespace::for_version(cwmp::CwmpVersion::V1_2),
                    Some("x".into()),
                    body,
                );
                cwmp::encode(&env).unwrap_or_else(|e| panic!("{json}: {e}"));
                // And the JSON form is stable.
                assert_eq!(
                    serde_json::from_value::<TaskSpec>(serde_json::to_value(&s).unwrap()).unwrap(),
                    s
                );
            }
            (Err(e), Err(prefix)) => assert!(e.starts_with(prefix), "{json}: {e}"),
            (got, want) => panic!("{json}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn schedule_download_definitions() {
        let w = |start: u32, end: u32, mode: &str| {
            format!(
                r#"{{"window_start":{start},"window_end":{end},"window_mode":"{mode}","max_retries":-1}}"#
            )
        };
        let sd = |windows: &[String]| {
            format!(
                r#"{{"kind":"schedule_download","file_type":"1 Firmware Upgrade Image","url":"http://f.example/a.loads","time_windows":[{}]}}"#,
                windows.join(",")
            )
        };
        check(&sd(&[w(0, 3600, "1 At Any Time")]), Ok("ScheduleDownload"));
        check(
            &sd(&[w(0, 60, "2 Immediately"), w(60, 120, "3 When Idle")]),
            Ok("ScheduleDownload"),
        );
        check(&sd(&[]), Err("time_windows: one or two"));
        check(
            &sd(&[
                w(0, 1, "1 At Any Time"),
                w(2, 3, "1 At Any Time"),
                w(4, 5, "1 At Any Time"),
            ]),
            Err("time_windows: one or two"),
        );
        check(
            &sd(&[w(10, 5, "1 At Any Time")]),
            Err("time_windows: window 1 ends"),
        );
        check(
            &sd(&[w(0, 5, "5 Whenever")]),
            Err("time_windows: window 1: window_mode"),
        );
        check(
            &sd(&[w(0, 100, "1 At Any Time"), w(50, 200, "1 At Any Time")]),
            Err("time_windows: the second window starts before"),
        );
        let spec: TaskSpec = serde_json::from_str(&sd(&[w(0, 9, "1 At Any Time")])).unwrap();
        assert_eq!(spec.kind(), "schedule_download");
        assert_eq!(spec.confirmation(), Confirmation::TransferComplete);
    }

    #[test]
    fn task_definitions() {
        check(
            r#"{"kind":"get_parameter_values","names":["Device.DeviceInfo."]}"#,
            Ok("GetParameterValues"),
        );
        check(
            r#"{"kind":"get_parameter_values","names":[]}"#,
            Err("names: at least one"),
        );
        check(
            r#"{"kind":"get_parameter_values","names":["Device..X"]}"#,
            Err("names:"),
        );
        check(
            r#"{"kind":"set_parameter_values","values":[{"name":"Device.ManagementServer.PeriodicInformInterval","value":"300","type":"xsd:unsignedInt"}]}"#,
            Ok("SetParameterValues"),
        );
        check(
            r#"{"kind":"set_parameter_values","values":[{"name":"Device.ManagementServer.PeriodicInformInterval","value":"often","type":"xsd:unsignedInt"}]}"#,
            Err("values: \"often\" is not a valid xsd:unsignedInt"),
        );
        check(
            r#"{"kind":"set_parameter_values","values":[{"name":"Device.X.","value":"1"}]}"#,
            Err("values:"),
        );
        check(r#"{"kind":"get_parameter_names"}"#, Ok("GetParameterNames"));
        check(
            r#"{"kind":"get_parameter_attributes","names":["Device.DeviceInfo.SoftwareVersion"]}"#,
            Ok("GetParameterAttributes"),
        );
        check(
            r#"{"kind":"set_parameter_attributes","attributes":[{"name":"Device.DeviceInfo.SoftwareVersion","notification_change":true,"notification":2,"access_list_change":false}]}"#,
            Ok("SetParameterAttributes"),
        );
        check(
            r#"{"kind":"add_object","object":"Device.Services.VoiceService.1.VoiceProfile.1.Line."}"#,
            Ok("AddObject"),
        );
        check(
            r#"{"kind":"add_object","object":"Device.X"}"#,
            Err("object:"),
        );
        check(
            r#"{"kind":"delete_object","object":"Device.Services.VoiceService.1.VoiceProfile.1.Line.3."}"#,
            Ok("DeleteObject"),
        );
        check(
            r#"{"kind":"delete_object","object":"Device.Services.VoiceService.1.VoiceProfile.1.Line."}"#,
            Err("object:"),
        );
        check(r#"{"kind":"reboot"}"#, Ok("Reboot"));
        check(r#"{"kind":"factory_reset"}"#, Ok("FactoryReset"));
        check(
            r#"{"kind":"download","file_type":"1 Firmware Upgrade Image","url":"https://acs.example.net/f/sip88xx.12-0-3MPP-5.loads","file_size":1024}"#,
            Ok("Download"),
        );
        check(
            r#"{"kind":"download","file_type":"1 Firmware Upgrade Image","file_id":7}"#,
            Ok("Download"),
        );
        check(
            r#"{"kind":"download","file_type":"1 Firmware Upgrade Image"}"#,
            Err("url:"),
        );
        check(
            r#"{"kind":"download","file_type":"1 Firmware Upgrade Image","file_id":7,"url":"http://x.example/a"}"#,
            Err("url:"),
        );
        check(
            r#"{"kind":"download","file_type":"1 Firmware Upgrade Image","url":"file:///etc/passwd"}"#,
            Err("url:"),
        );
        check(
            r#"{"kind":"upload","file_type":"2 Vendor Log File","url":"http://acs.example.net/u/1"}"#,
            Ok("Upload"),
        );
        check(
            r#"{"kind":"schedule_inform","delay_seconds":60}"#,
            Ok("ScheduleInform"),
        );
        check(
            r#"{"kind":"schedule_inform","delay_seconds":0}"#,
            Err("delay_seconds:"),
        );
        check(r#"{"kind":"get_rpc_methods"}"#, Ok("GetRPCMethods"));
        check(
            r#"{"kind":"refresh","path":"Device.DeviceInfo."}"#,
            Ok("GetParameterNames"),
        );
        check(
            r#"{"kind":"refresh","path":"Device.DeviceInfo.SoftwareVersion"}"#,
            Err("path:"),
        );
        check(r#"{"kind":"reboot","surprise":1}"#, Err("json:"));
        check(r#"{"kind":"launch_rockets"}"#, Err("json:"));
    }

    #[test]
    fn refresh_is_names_then_values_and_keys_name_the_task() {
        let refresh = TaskSpec::Refresh {
            path: "Device.DeviceInfo.".into(),
        };
        assert_eq!(refresh.steps(), 2);
        assert_eq!(
            refresh.request(1, 1).unwrap().element_name(),
            "GetParameterValues"
        );
        assert_eq!(refresh.request(1, 2), None);
        let Some(Body::Reboot(r)) = TaskSpec::Reboot {}.request(123_456_789, 0) else {
            panic!()
        };
        assert_eq!(r.command_key, "acs-123456789");
        assert!(TaskSpec::command_key(i64::MAX).len() <= 32);
        assert_eq!(
            TaskSpec::Reboot {}.confirmation(),
            Confirmation::Event("Reboot")
        );
        assert_eq!(
            TaskSpec::FactoryReset {}.confirmation(),
            Confirmation::Bootstrap
        );
        assert!(refresh.is_idempotent() && !TaskSpec::Reboot {}.is_idempotent());
    }

    #[test]
    fn download_passwords_never_print() {
        let spec = TaskSpec::Download {
            file_type: "1 Firmware Upgrade Image".into(),
            url: "https://f.example.net/x".into(),
            file_id: None,
            vars_file_id: None,
            username: "u".into(),
            password: Password::new("top-secret"),
            file_size: 0,
            target_file_name: String::new(),
            delay_seconds: 0,
        };
        assert!(!format!("{spec:?}").contains("top-secret"));
        assert!(!format!("{:?}", spec.request(1, 0)).contains("top-secret"));
    }
}

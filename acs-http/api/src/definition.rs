//! Task definitions as the API takes them, and the redaction of secrets in what it gives back.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use utoipa::ToSchema;

/// What replaces a password in API output.
pub const REDACTED: &str = "<redacted>";

/// One value of `set_parameter_values`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// One entry of `set_parameter_attributes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// One window of a ScheduleDownload (TR-069 A.4.1.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimeWindow {
    /// Seconds from the request until the window opens.
    pub window_start: u32,
    /// Seconds from the request until it closes.
    pub window_end: u32,
    /// `1 At Any Time`, `2 Immediately`, `3 When Idle`, `4 Confirmation Needed`.
    pub window_mode: String,
    /// Shown to the user in mode 4.
    #[serde(default)]
    pub user_message: String,
    /// -1 for the CPE's own policy.
    pub max_retries: i32,
}

// The server parses requests into acs-core's `TaskSpec` (its validation and error messages are
// the API's); this type is what clients build and what the OpenAPI document shows. A test in
// acs-http checks that every variant here is accepted by `TaskSpec`. (Plain comments, not doc
// comments: those become the schema's description.)
/// A task definition, tagged by `kind`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
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
    /// ScheduleDownload: a Download the CPE runs inside one or two time windows; finished by
    /// a TransferComplete.
    ScheduleDownload {
        /// `1 Firmware Upgrade Image`, `3 Vendor Configuration File`, …
        file_type: String,
        /// Where the CPE fetches the file.
        url: String,
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
        /// One or two windows, in seconds from the request.
        time_windows: Vec<TimeWindow>,
    },
    /// GetAllQueuedTransfers: the transfers the CPE has queued or running.
    GetQueuedTransfers {},
    /// CancelTransfer: drop a queued transfer by its CommandKey.
    CancelTransfer {
        /// The transfer's CommandKey (`acs-<task id>` for the ACS's own).
        command_key: String,
    },
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

impl TaskDefinition {
    /// The `kind` it is tagged with (`reboot`, `get_parameter_values`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            TaskDefinition::GetParameterValues { .. } => "get_parameter_values",
            TaskDefinition::SetParameterValues { .. } => "set_parameter_values",
            TaskDefinition::GetParameterNames { .. } => "get_parameter_names",
            TaskDefinition::GetParameterAttributes { .. } => "get_parameter_attributes",
            TaskDefinition::SetParameterAttributes { .. } => "set_parameter_attributes",
            TaskDefinition::AddObject { .. } => "add_object",
            TaskDefinition::DeleteObject { .. } => "delete_object",
            TaskDefinition::Reboot {} => "reboot",
            TaskDefinition::FactoryReset {} => "factory_reset",
            TaskDefinition::Download { .. } => "download",
            TaskDefinition::Upload { .. } => "upload",
            TaskDefinition::ScheduleInform { .. } => "schedule_inform",
            TaskDefinition::GetRpcMethods {} => "get_rpc_methods",
            TaskDefinition::ScheduleDownload { .. } => "schedule_download",
            TaskDefinition::GetQueuedTransfers {} => "get_queued_transfers",
            TaskDefinition::CancelTransfer { .. } => "cancel_transfer",
            TaskDefinition::SetConnectionRequestCredentials { .. } => {
                "set_connection_request_credentials"
            }
            TaskDefinition::Refresh { .. } => "refresh",
        }
    }

    /// A Download of a file in the ACS's file store (`/api/v1/files`), everything else left to
    /// the server's defaults.
    pub fn download_of_file(file_type: &str, file_id: i64, vars_file_id: Option<i64>) -> Self {
        TaskDefinition::Download {
            file_type: file_type.to_owned(),
            url: String::new(),
            file_id: Some(file_id),
            vars_file_id,
            username: String::new(),
            password: String::new(),
            file_size: 0,
            target_file_name: String::new(),
            delay_seconds: 0,
        }
    }
}

impl std::fmt::Debug for TaskDefinition {
    // A client builds definitions with real passwords (Download, connection-request
    // credentials): a debug line must not carry them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut v = serde_json::to_value(self).unwrap_or(Json::Null);
        redact(&mut v);
        write!(f, "TaskDefinition({v})")
    }
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

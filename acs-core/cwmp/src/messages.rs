//! The CWMP RPC messages, both directions (TR-069 Annex A §A.3 and §A.4).
//!
//! Field names follow the TR-069 argument names in snake_case; the JSON form of these types is
//! what `acs cwmp decode` prints and `acs cwmp encode` reads.

use super::event::EventStruct;
use super::fault::{FaultCode, SoapFault};
use super::value::{CwmpDateTime, ParameterValue, Password};
use serde::{Deserialize, Serialize};

/// `DeviceIdStruct` (§A.3.3.1): the CPE's identity, fixed for its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceId {
    /// Manufacturer name.
    pub manufacturer: String,
    /// Organizationally Unique Identifier, as sent (some CPEs send lowercase).
    pub oui: String,
    /// Product class; may be empty.
    #[serde(default)]
    pub product_class: String,
    /// Serial number.
    pub serial_number: String,
}

impl DeviceId {
    /// The OUI uppercased: the form used for identity, so `00562b` and `00562B` are one vendor.
    pub fn normalized_oui(&self) -> String {
        self.oui.trim().to_ascii_uppercase()
    }

    /// The device's storage key, `OUI-ProductClass-SerialNumber` (TR-069 §3.4.4 recommends this
    /// form for CPE usernames): the OUI uppercased, ProductClass omitted when empty, and every
    /// byte outside `[A-Za-z0-9_]` percent-encoded (`%2D` for '-') so that the `-` separators
    /// stay unambiguous whatever the fields contain.
    pub fn device_key(&self) -> String {
        let mut out = String::with_capacity(
            self.oui.len() + self.product_class.len() + self.serial_number.len() + 2,
        );
        escape_id_part(&self.normalized_oui(), &mut out);
        if !self.product_class.is_empty() {
            out.push('-');
            escape_id_part(&self.product_class, &mut out);
        }
        out.push('-');
        escape_id_part(&self.serial_number, &mut out);
        out
    }
}

fn escape_id_part(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0xf)]));
        }
    }
}

/// `Inform` (§A.3.3.1): the CPE opens every session with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inform {
    /// Who the CPE is.
    pub device_id: DeviceId,
    /// Why it is calling, at most one of each code.
    pub event: Vec<EventStruct>,
    /// Ignored by receivers (always 1 in practice).
    pub max_envelopes: u32,
    /// The CPE's clock, kept raw.
    pub current_time: CwmpDateTime,
    /// Failed attempts since the last successful session.
    pub retry_count: u32,
    /// Forced-inform and changed parameters.
    pub parameter_list: Vec<ParameterValue>,
}

/// `InformResponse` (§A.3.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InformResponse {
    /// Always 1 from this ACS.
    pub max_envelopes: u32,
}

/// `GetRPCMethodsResponse` (§A.3.1.1): the methods the sender supports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRpcMethodsResponse {
    /// Method names.
    pub method_list: Vec<String>,
}

/// `SetParameterValues` (§A.3.2.1): atomic write of parameter values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetParameterValues {
    /// The values to write.
    pub parameter_list: Vec<ParameterValue>,
    /// The CPE stores this in ManagementServer.ParameterKey on success (≤ 32 chars).
    #[serde(default)]
    pub parameter_key: String,
}

/// `SetParameterValuesResponse` (§A.3.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetParameterValuesResponse {
    /// 0: applied; 1: committed, applied later (e.g. after a reboot).
    pub status: i32,
}

/// `GetParameterValues` (§A.3.2.2): full names, or partial paths ending in `.`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetParameterValues {
    /// Names or partial paths.
    pub parameter_names: Vec<String>,
}

/// `GetParameterValuesResponse` (§A.3.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetParameterValuesResponse {
    /// The values.
    pub parameter_list: Vec<ParameterValue>,
}

/// `GetParameterNames` (§A.3.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetParameterNames {
    /// A full name, a partial path ending in `.`, or `""` for the whole tree.
    #[serde(default)]
    pub parameter_path: String,
    /// Only the next level below the path.
    pub next_level: bool,
}

/// `ParameterInfoStruct` (§A.3.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterInfo {
    /// Name; objects end in `.`.
    pub name: String,
    /// Whether the ACS may write it (for objects: may add/delete instances).
    pub writable: bool,
}

/// `GetParameterNamesResponse` (§A.3.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetParameterNamesResponse {
    /// The names found.
    pub parameter_list: Vec<ParameterInfo>,
}

/// `SetParameterAttributesStruct` (§A.3.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetParameterAttributesStruct {
    /// Name or partial path.
    pub name: String,
    /// Whether `notification` is to be applied.
    pub notification_change: bool,
    /// 0 off, 1 passive, 2 active, 3–6 lightweight (CWMP 1.4).
    pub notification: u8,
    /// Whether `access_list` is to be applied.
    pub access_list_change: bool,
    /// Entities allowed to write besides the ACS (`Subscriber`).
    #[serde(default)]
    pub access_list: Vec<String>,
}

/// `SetParameterAttributes` (§A.3.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetParameterAttributes {
    /// One entry per name.
    pub parameter_list: Vec<SetParameterAttributesStruct>,
}

/// `GetParameterAttributes` (§A.3.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetParameterAttributes {
    /// Names or partial paths.
    pub parameter_names: Vec<String>,
}

/// `ParameterAttributeStruct` (§A.3.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterAttribute {
    /// Full parameter name.
    pub name: String,
    /// 0–6, see [`SetParameterAttributesStruct::notification`].
    pub notification: u8,
    /// Entities allowed to write besides the ACS.
    #[serde(default)]
    pub access_list: Vec<String>,
}

/// `GetParameterAttributesResponse` (§A.3.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetParameterAttributesResponse {
    /// The attributes.
    pub parameter_list: Vec<ParameterAttribute>,
}

/// `AddObject` (§A.3.2.6): a new instance of a multi-instance object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddObject {
    /// The table path, ending in `.`.
    pub object_name: String,
    /// See [`SetParameterValues::parameter_key`].
    #[serde(default)]
    pub parameter_key: String,
}

/// `AddObjectResponse` (§A.3.2.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddObjectResponse {
    /// The new instance (≥ 1).
    pub instance_number: u32,
    /// 0 created, 1 created but not yet applied.
    pub status: i32,
}

/// `DeleteObject` (§A.3.2.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteObject {
    /// The instance path, ending in `.`.
    pub object_name: String,
    /// See [`SetParameterValues::parameter_key`].
    #[serde(default)]
    pub parameter_key: String,
}

/// `DeleteObjectResponse` (§A.3.2.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteObjectResponse {
    /// 0 deleted, 1 deleted but not yet applied.
    pub status: i32,
}

/// `Download` (§A.3.2.8): the CPE fetches a file (firmware, configuration, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Download {
    /// Identifies this transfer in the later TransferComplete (≤ 32 chars).
    #[serde(default)]
    pub command_key: String,
    /// `1 Firmware Upgrade Image`, `3 Vendor Configuration File`, `X <OUI> <text>`, …
    pub file_type: String,
    /// Where to fetch it.
    pub url: String,
    /// HTTP credentials for the file server; empty when the URL carries its own token.
    #[serde(default)]
    pub username: String,
    /// Never printed: see the crate's secret-handling invariant.
    #[serde(default, skip_serializing_if = "Password::is_empty")]
    pub password: Password,
    /// Size in bytes, 0 when unknown.
    #[serde(default)]
    pub file_size: u32,
    /// Name the CPE should store the file under; may be empty.
    #[serde(default)]
    pub target_file_name: String,
    /// Seconds to wait before starting.
    #[serde(default)]
    pub delay_seconds: u32,
    /// Where the CPE's browser goes on success (web content); usually empty.
    #[serde(default)]
    pub success_url: String,
    /// Where it goes on failure; usually empty.
    #[serde(default)]
    pub failure_url: String,
}

/// The response shape shared by Download and Upload (§A.3.2.8, §A.4.1.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferResponse {
    /// 0 finished, 1 not yet finished (a TransferComplete follows).
    pub status: i32,
    /// Start time, or the unknown time.
    pub start_time: CwmpDateTime,
    /// Completion time, or the unknown time.
    pub complete_time: CwmpDateTime,
}

/// `Reboot` (§A.3.2.9). The CPE later reports `1 BOOT` + `M Reboot` with this CommandKey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reboot {
    /// Echoed in the `M Reboot` event.
    #[serde(default)]
    pub command_key: String,
}

/// `QueuedTransferStruct` (§A.4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedTransfer {
    /// The transfer's CommandKey.
    pub command_key: String,
    /// 1 not started, 2 in progress, 3 completed.
    pub state: i32,
}

/// `GetQueuedTransfersResponse` (§A.4.1.1, deprecated in favour of GetAllQueuedTransfers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetQueuedTransfersResponse {
    /// At most 16 transfers.
    pub transfer_list: Vec<QueuedTransfer>,
}

/// `ScheduleInform` (§A.4.1.2): the CPE opens a session after `delay_seconds` with `3 SCHEDULED`
/// and `M ScheduleInform`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleInform {
    /// Seconds from now; must be > 0.
    pub delay_seconds: u32,
    /// Echoed in `M ScheduleInform`.
    #[serde(default)]
    pub command_key: String,
}

/// `Upload` (§A.4.1.5): the CPE sends a file (configuration, log) to a URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// Identifies this transfer in the later TransferComplete.
    #[serde(default)]
    pub command_key: String,
    /// `1 Vendor Configuration File`, `2 Vendor Log File`, …
    pub file_type: String,
    /// Where to send it.
    pub url: String,
    /// HTTP credentials for the destination.
    #[serde(default)]
    pub username: String,
    /// Never printed.
    #[serde(default, skip_serializing_if = "Password::is_empty")]
    pub password: Password,
    /// Seconds to wait before starting.
    #[serde(default)]
    pub delay_seconds: u32,
}

/// `AllQueuedTransferStruct` (§A.4.1.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllQueuedTransfer {
    /// The transfer's CommandKey.
    pub command_key: String,
    /// 1 not started, 2 in progress, 3 completed.
    pub state: i32,
    /// Download (true) or Upload (false).
    pub is_download: bool,
    /// The file type.
    pub file_type: String,
    /// Size in bytes.
    pub file_size: u32,
    /// Target file name.
    #[serde(default)]
    pub target_file_name: String,
}

/// `GetAllQueuedTransfersResponse` (§A.4.1.7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAllQueuedTransfersResponse {
    /// At most 16 transfers.
    pub transfer_list: Vec<AllQueuedTransfer>,
}

/// `TimeWindowStruct` (§A.4.1.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeWindow {
    /// Seconds from the request until the window opens.
    pub window_start: u32,
    /// Seconds from the request until it closes.
    pub window_end: u32,
    /// `1 At Any Time`, `2 Immediately`, `3 When Idle`, `4 Confirmation Needed`.
    pub window_mode: String,
    /// Shown to the user for mode 4.
    #[serde(default)]
    pub user_message: String,
    /// -1 for the CPE's own policy.
    pub max_retries: i32,
}

/// `ScheduleDownload` (§A.4.1.8): a Download inside one or two time windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDownload {
    /// Identifies this transfer.
    #[serde(default)]
    pub command_key: String,
    /// The file type.
    pub file_type: String,
    /// Where to fetch it.
    pub url: String,
    /// HTTP credentials.
    #[serde(default)]
    pub username: String,
    /// Never printed.
    #[serde(default, skip_serializing_if = "Password::is_empty")]
    pub password: Password,
    /// Size in bytes.
    #[serde(default)]
    pub file_size: u32,
    /// Target file name.
    #[serde(default)]
    pub target_file_name: String,
    /// One or two windows.
    pub time_window_list: Vec<TimeWindow>,
}

/// `CancelTransfer` (§A.4.1.9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelTransfer {
    /// The transfer to cancel.
    pub command_key: String,
}

/// One `Operations` entry of ChangeDUState (§A.4.1.10), written with `xsi:type` naming the
/// operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation")]
pub enum DuOperation {
    /// `InstallOpStruct`
    Install {
        /// Where to fetch the deployment unit.
        url: String,
        /// Optional UUID.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uuid: Option<String>,
        /// Optional credentials.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// Never printed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<Password>,
        /// Execution environment path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution_env_ref: Option<String>,
    },
    /// `UpdateOpStruct`
    Update {
        /// Which unit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uuid: Option<String>,
        /// Which version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        /// New location.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// Optional credentials.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// Never printed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<Password>,
    },
    /// `UninstallOpStruct`
    Uninstall {
        /// Which unit.
        uuid: String,
        /// Which version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        /// Execution environment path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution_env_ref: Option<String>,
    },
}

/// `ChangeDUState` (§A.4.1.10): install, update or uninstall software modules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeDuState {
    /// At least one operation.
    pub operations: Vec<DuOperation>,
    /// Echoed in DUStateChangeComplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_key: Option<String>,
}

/// `TransferCompleteFaultStruct` (§A.3.3.2): code 0 means success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferFault {
    /// 0 on success, else 9001–9019 and vendor codes.
    pub fault_code: FaultCode,
    /// Explanation; empty on success.
    #[serde(default)]
    pub fault_string: String,
}

impl TransferFault {
    /// The success value.
    pub fn success() -> Self {
        TransferFault {
            fault_code: FaultCode::Other(0),
            fault_string: String::new(),
        }
    }

    /// Whether this reports success.
    pub fn is_success(&self) -> bool {
        self.fault_code.code() == 0
    }
}

/// `TransferComplete` (§A.3.3.2): the outcome of a Download or Upload the ACS requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferComplete {
    /// The CommandKey of the Download/Upload.
    pub command_key: String,
    /// Success or why not.
    pub fault_struct: TransferFault,
    /// When it started.
    pub start_time: CwmpDateTime,
    /// When it finished.
    pub complete_time: CwmpDateTime,
}

/// `AutonomousTransferComplete` (§A.3.3.3): a transfer the CPE started itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutonomousTransferComplete {
    /// The URL announcing the transfer (multicast), may be empty.
    #[serde(default)]
    pub announce_url: String,
    /// The URL transferred.
    pub transfer_url: String,
    /// Download or upload.
    pub is_download: bool,
    /// The file type.
    pub file_type: String,
    /// Size in bytes.
    pub file_size: u32,
    /// Target file name.
    #[serde(default)]
    pub target_file_name: String,
    /// Success or why not.
    pub fault_struct: TransferFault,
    /// When it started.
    pub start_time: CwmpDateTime,
    /// When it finished.
    pub complete_time: CwmpDateTime,
}

/// `ArgStruct` of RequestDownload (§A.4.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTypeArg {
    /// Argument name.
    pub name: String,
    /// Argument value.
    pub value: String,
}

/// `RequestDownload` (§A.4.2.1): the CPE asks the ACS to send it a Download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDownload {
    /// The file type wanted.
    pub file_type: String,
    /// Up to 16 arguments.
    #[serde(default)]
    pub file_type_arg: Vec<FileTypeArg>,
}

/// `Kicked` (§A.4.2.2, deprecated): a web page kicked the CPE into a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kicked {
    /// Generic command.
    pub command: String,
    /// The referring page.
    pub referer: String,
    /// Command argument.
    pub arg: String,
    /// Where the browser should go next.
    pub next: String,
}

/// `KickedResponse` (§A.4.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KickedResponse {
    /// Where the browser goes.
    pub next_url: String,
}

/// `DeploymentUnitFaultStruct` (§A.4.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuFault {
    /// 0 on success.
    pub fault_code: FaultCode,
    /// Explanation.
    #[serde(default)]
    pub fault_string: String,
}

/// `OpResultStruct` (§A.4.2.3), with the operation for the autonomous variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuOpResult {
    /// Deployment unit UUID.
    pub uuid: String,
    /// Path of the DeploymentUnit instance.
    pub deployment_unit_ref: String,
    /// Its version.
    pub version: String,
    /// `Installed`, `Uninstalled` or `Failed`.
    pub current_state: String,
    /// Whether dependencies were resolved.
    pub resolved: bool,
    /// Comma-separated ExecutionUnit paths.
    #[serde(default)]
    pub execution_unit_ref_list: String,
    /// When it started.
    pub start_time: CwmpDateTime,
    /// When it finished.
    pub complete_time: CwmpDateTime,
    /// Outcome.
    pub fault: DuFault,
    /// `Install`/`Update`/`Uninstall`: only in AutonomousDUStateChangeComplete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_performed: Option<String>,
}

/// `DUStateChangeComplete` (§A.4.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuStateChangeComplete {
    /// One per operation.
    pub results: Vec<DuOpResult>,
    /// The ChangeDUState CommandKey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_key: Option<String>,
}

/// `AutonomousDUStateChangeComplete` (§A.4.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutonomousDuStateChangeComplete {
    /// One per operation, each with `operation_performed`.
    pub results: Vec<DuOpResult>,
}

/// The content of a SOAP Body: exactly one CWMP message.
///
/// Requests and responses of both directions share this enum because the same endpoint reads
/// both (the ACS reads CPE requests and CPE responses; the simulator reads the other half).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    // Methods the CPE calls (§A.3.3, §A.4.2) and the ACS's answers.
    /// §A.3.3.1
    Inform(Inform),
    /// §A.3.3.1
    InformResponse(InformResponse),
    /// §A.3.3.2
    TransferComplete(TransferComplete),
    /// §A.3.3.2
    TransferCompleteResponse,
    /// §A.3.3.3
    AutonomousTransferComplete(AutonomousTransferComplete),
    /// §A.3.3.3
    AutonomousTransferCompleteResponse,
    /// §A.4.2.1
    RequestDownload(RequestDownload),
    /// §A.4.2.1
    RequestDownloadResponse,
    /// §A.4.2.2
    Kicked(Kicked),
    /// §A.4.2.2
    KickedResponse(KickedResponse),
    /// §A.4.2.3
    DuStateChangeComplete(DuStateChangeComplete),
    /// §A.4.2.3
    DuStateChangeCompleteResponse,
    /// §A.4.2.4
    AutonomousDuStateChangeComplete(AutonomousDuStateChangeComplete),
    /// §A.4.2.4
    AutonomousDuStateChangeCompleteResponse,

    // Either direction (§A.3.1.1).
    /// §A.3.1.1
    GetRpcMethods,
    /// §A.3.1.1
    GetRpcMethodsResponse(GetRpcMethodsResponse),

    // Methods the ACS calls (§A.3.2, §A.4.1) and the CPE's answers.
    /// §A.3.2.1
    SetParameterValues(SetParameterValues),
    /// §A.3.2.1
    SetParameterValuesResponse(SetParameterValuesResponse),
    /// §A.3.2.2
    GetParameterValues(GetParameterValues),
    /// §A.3.2.2
    GetParameterValuesResponse(GetParameterValuesResponse),
    /// §A.3.2.3
    GetParameterNames(GetParameterNames),
    /// §A.3.2.3
    GetParameterNamesResponse(GetParameterNamesResponse),
    /// §A.3.2.4
    SetParameterAttributes(SetParameterAttributes),
    /// §A.3.2.4
    SetParameterAttributesResponse,
    /// §A.3.2.5
    GetParameterAttributes(GetParameterAttributes),
    /// §A.3.2.5
    GetParameterAttributesResponse(GetParameterAttributesResponse),
    /// §A.3.2.6
    AddObject(AddObject),
    /// §A.3.2.6
    AddObjectResponse(AddObjectResponse),
    /// §A.3.2.7
    DeleteObject(DeleteObject),
    /// §A.3.2.7
    DeleteObjectResponse(DeleteObjectResponse),
    /// §A.3.2.8
    Download(Download),
    /// §A.3.2.8
    DownloadResponse(TransferResponse),
    /// §A.3.2.9
    Reboot(Reboot),
    /// §A.3.2.9
    RebootResponse,
    /// §A.4.1.1
    GetQueuedTransfers,
    /// §A.4.1.1
    GetQueuedTransfersResponse(GetQueuedTransfersResponse),
    /// §A.4.1.2
    ScheduleInform(ScheduleInform),
    /// §A.4.1.2
    ScheduleInformResponse,
    /// §A.4.1.5
    Upload(Upload),
    /// §A.4.1.5
    UploadResponse(TransferResponse),
    /// §A.4.1.6
    FactoryReset,
    /// §A.4.1.6
    FactoryResetResponse,
    /// §A.4.1.7
    GetAllQueuedTransfers,
    /// §A.4.1.7
    GetAllQueuedTransfersResponse(GetAllQueuedTransfersResponse),
    /// §A.4.1.8
    ScheduleDownload(ScheduleDownload),
    /// §A.4.1.8
    ScheduleDownloadResponse,
    /// §A.4.1.9
    CancelTransfer(CancelTransfer),
    /// §A.4.1.9
    CancelTransferResponse,
    /// §A.4.1.10
    ChangeDuState(ChangeDuState),
    /// §A.4.1.10
    ChangeDuStateResponse,

    /// A SOAP fault (§A.5), either direction.
    Fault(SoapFault),
}

impl Body {
    /// The element name on the wire (`GetRPCMethods`, `ChangeDUState`, …).
    pub const fn element_name(&self) -> &'static str {
        match self {
            Body::Inform(_) => "Inform",
            Body::InformResponse(_) => "InformResponse",
            Body::TransferComplete(_) => "TransferComplete",
            Body::TransferCompleteResponse => "TransferCompleteResponse",
            Body::AutonomousTransferComplete(_) => "AutonomousTransferComplete",
            Body::AutonomousTransferCompleteResponse => "AutonomousTransferCompleteResponse",
            Body::RequestDownload(_) => "RequestDownload",
            Body::RequestDownloadResponse => "RequestDownloadResponse",
            Body::Kicked(_) => "Kicked",
            Body::KickedResponse(_) => "KickedResponse",
            Body::DuStateChangeComplete(_) => "DUStateChangeComplete",
            Body::DuStateChangeCompleteResponse => "DUStateChangeCompleteResponse",
            Body::AutonomousDuStateChangeComplete(_) => "AutonomousDUStateChangeComplete",
            Body::AutonomousDuStateChangeCompleteResponse => {
                "AutonomousDUStateChangeCompleteResponse"
            }
            Body::GetRpcMethods => "GetRPCMethods",
            Body::GetRpcMethodsResponse(_) => "GetRPCMethodsResponse",
            Body::SetParameterValues(_) => "SetParameterValues",
            Body::SetParameterValuesResponse(_) => "SetParameterValuesResponse",
            Body::GetParameterValues(_) => "GetParameterValues",
            Body::GetParameterValuesResponse(_) => "GetParameterValuesResponse",
            Body::GetParameterNames(_) => "GetParameterNames",
            Body::GetParameterNamesResponse(_) => "GetParameterNamesResponse",
            Body::SetParameterAttributes(_) => "SetParameterAttributes",
            Body::SetParameterAttributesResponse => "SetParameterAttributesResponse",
            Body::GetParameterAttributes(_) => "GetParameterAttributes",
            Body::GetParameterAttributesResponse(_) => "GetParameterAttributesResponse",
            Body::AddObject(_) => "AddObject",
            Body::AddObjectResponse(_) => "AddObjectResponse",
            Body::DeleteObject(_) => "DeleteObject",
            Body::DeleteObjectResponse(_) => "DeleteObjectResponse",
            Body::Download(_) => "Download",
            Body::DownloadResponse(_) => "DownloadResponse",
            Body::Reboot(_) => "Reboot",
            Body::RebootResponse => "RebootResponse",
            Body::GetQueuedTransfers => "GetQueuedTransfers",
            Body::GetQueuedTransfersResponse(_) => "GetQueuedTransfersResponse",
            Body::ScheduleInform(_) => "ScheduleInform",
            Body::ScheduleInformResponse => "ScheduleInformResponse",
            Body::Upload(_) => "Upload",
            Body::UploadResponse(_) => "UploadResponse",
            Body::FactoryReset => "FactoryReset",
            Body::FactoryResetResponse => "FactoryResetResponse",
            Body::GetAllQueuedTransfers => "GetAllQueuedTransfers",
            Body::GetAllQueuedTransfersResponse(_) => "GetAllQueuedTransfersResponse",
            Body::ScheduleDownload(_) => "ScheduleDownload",
            Body::ScheduleDownloadResponse => "ScheduleDownloadResponse",
            Body::CancelTransfer(_) => "CancelTransfer",
            Body::CancelTransferResponse => "CancelTransferResponse",
            Body::ChangeDuState(_) => "ChangeDUState",
            Body::ChangeDuStateResponse => "ChangeDUStateResponse",
            Body::Fault(_) => "Fault",
        }
    }

    /// Whether this is an answer (a `…Response` or a fault) rather than a request.
    pub fn is_response(&self) -> bool {
        matches!(self, Body::Fault(_)) || self.element_name().ends_with("Response")
    }

    /// The first CWMP version whose schema defines this message: the codec refuses to write a
    /// message into a namespace whose schema does not know it.
    pub const fn min_version(&self) -> super::CwmpVersion {
        use super::CwmpVersion as V;
        match self {
            Body::AutonomousTransferComplete(_)
            | Body::AutonomousTransferCompleteResponse
            | Body::GetAllQueuedTransfers
            | Body::GetAllQueuedTransfersResponse(_) => V::V1_1,
            Body::ScheduleDownload(_)
            | Body::ScheduleDownloadResponse
            | Body::CancelTransfer(_)
            | Body::CancelTransferResponse
            | Body::ChangeDuState(_)
            | Body::ChangeDuStateResponse
            | Body::DuStateChangeComplete(_)
            | Body::DuStateChangeCompleteResponse
            | Body::AutonomousDuStateChangeComplete(_)
            | Body::AutonomousDuStateChangeCompleteResponse => V::V1_2,
            _ => V::V1_0,
        }
    }
}

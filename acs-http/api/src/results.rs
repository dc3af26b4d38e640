//! A task's result as the API shows it: the CPE's answer, named by its TR-069 element, and what
//! later messages said about the task.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The result of a task (`done`, or `fault` after a failed transfer).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskResult {
    /// The CPE's answer to the task's (last) request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<RpcResponse>,
    /// The TransferComplete of a task that asked for a transfer (Download, Upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_complete: Option<TransferComplete>,
    /// When the device confirmed the task took effect (an `M Reboot`/`M Download` event with
    /// the task's CommandKey, `0 BOOTSTRAP` after a factory reset, a successful
    /// TransferComplete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// For a task resolved after an ACS restart: how its outcome was learnt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<String>,
}

/// The TransferComplete a transfer ended with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransferComplete {
    /// 0 on success, else the CPE's fault code (9010–9020 for transfers).
    pub fault_code: i32,
    /// The CPE's explanation.
    pub fault_string: String,
    /// What the fault code means.
    pub meaning: String,
    /// When the transfer started, as the CPE wrote it.
    pub start_time: String,
    /// When it completed, as the CPE wrote it.
    pub complete_time: String,
}

/// A parameter value read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValueRead {
    /// Full name.
    pub name: String,
    /// Value as text (`<redacted>` for a `…Password` parameter).
    pub value: String,
    /// `xsd:` type.
    #[serde(rename = "type")]
    pub value_type: String,
}

/// A name a GetParameterNames reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NameRead {
    /// Full name (objects end in `.`).
    pub name: String,
    /// Whether the ACS may write it.
    pub writable: bool,
}

/// A parameter's attributes read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttributesRead {
    /// Full name.
    pub name: String,
    /// 0 off, 1 passive, 2 active.
    pub notification: u8,
    /// Who besides the ACS may write it.
    pub access_list: Vec<String>,
}

/// A transfer the CPE has queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueuedTransfer {
    /// Its CommandKey.
    pub command_key: String,
    /// 1 not started, 2 in progress, 3 completed.
    pub state: i32,
    /// Download (true) or Upload; only from GetAllQueuedTransfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_download: Option<bool>,
    /// Its FileType; only from GetAllQueuedTransfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    /// Its size; only from GetAllQueuedTransfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u32>,
    /// Its target file name; only from GetAllQueuedTransfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_file_name: Option<String>,
}

/// The CPE's answer, tagged by `method` (its TR-069 element name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method")]
pub enum RpcResponse {
    /// GetRPCMethodsResponse.
    #[serde(rename = "GetRPCMethodsResponse")]
    GetRpcMethods {
        /// Methods the CPE supports.
        method_list: Vec<String>,
    },
    /// SetParameterValuesResponse.
    #[serde(rename = "SetParameterValuesResponse")]
    SetParameterValues {
        /// 0 applied, 1 applied at the next reboot.
        status: i32,
    },
    /// GetParameterValuesResponse.
    #[serde(rename = "GetParameterValuesResponse")]
    GetParameterValues {
        /// The values.
        parameter_list: Vec<ValueRead>,
    },
    /// GetParameterNamesResponse.
    #[serde(rename = "GetParameterNamesResponse")]
    GetParameterNames {
        /// The names.
        parameter_list: Vec<NameRead>,
    },
    /// SetParameterAttributesResponse.
    #[serde(rename = "SetParameterAttributesResponse")]
    SetParameterAttributes,
    /// GetParameterAttributesResponse.
    #[serde(rename = "GetParameterAttributesResponse")]
    GetParameterAttributes {
        /// The attributes.
        parameter_list: Vec<AttributesRead>,
    },
    /// AddObjectResponse.
    #[serde(rename = "AddObjectResponse")]
    AddObject {
        /// The new instance's number.
        instance_number: u32,
        /// 0 applied, 1 applied at the next reboot.
        status: i32,
    },
    /// DeleteObjectResponse.
    #[serde(rename = "DeleteObjectResponse")]
    DeleteObject {
        /// 0 applied, 1 applied at the next reboot.
        status: i32,
    },
    /// DownloadResponse.
    #[serde(rename = "DownloadResponse")]
    Download {
        /// 0 done in the session, 1 a TransferComplete follows.
        status: i32,
        /// As the CPE wrote it.
        start_time: String,
        /// As the CPE wrote it.
        complete_time: String,
    },
    /// UploadResponse.
    #[serde(rename = "UploadResponse")]
    Upload {
        /// 0 done in the session, 1 a TransferComplete follows.
        status: i32,
        /// As the CPE wrote it.
        start_time: String,
        /// As the CPE wrote it.
        complete_time: String,
    },
    /// RebootResponse.
    #[serde(rename = "RebootResponse")]
    Reboot,
    /// FactoryResetResponse.
    #[serde(rename = "FactoryResetResponse")]
    FactoryReset,
    /// ScheduleInformResponse.
    #[serde(rename = "ScheduleInformResponse")]
    ScheduleInform,
    /// ScheduleDownloadResponse.
    #[serde(rename = "ScheduleDownloadResponse")]
    ScheduleDownload,
    /// CancelTransferResponse.
    #[serde(rename = "CancelTransferResponse")]
    CancelTransfer,
    /// ChangeDUStateResponse.
    #[serde(rename = "ChangeDUStateResponse")]
    ChangeDuState,
    /// GetQueuedTransfersResponse.
    #[serde(rename = "GetQueuedTransfersResponse")]
    GetQueuedTransfers {
        /// The transfers.
        transfer_list: Vec<QueuedTransfer>,
    },
    /// GetAllQueuedTransfersResponse.
    #[serde(rename = "GetAllQueuedTransfersResponse")]
    GetAllQueuedTransfers {
        /// The transfers.
        transfer_list: Vec<QueuedTransfer>,
    },
    /// An answer a newer server knows and this client does not.
    #[serde(other)]
    Unknown,
}

//! What a task's result is once stored: an explicit, versioned shape of its own.
//!
//! The codec's types describe SOAP; this describes what the ACS keeps. Storing the codec's serde
//! shape would make a rename in the codec a silent change to every stored row and to the API,
//! so the CPE's answer is copied field by field into [`Response`], and the stored JSON carries
//! its version (`"v": 1`). Rows written before the version existed (the codec's shape, where a
//! unit answer such as `"RebootResponse"` was a bare string) are still read, by
//! [`TaskResult::from_stored`].
//!
//! Architecture invariant: nothing outside this module reads or writes a task result's JSON.

use crate::cwmp::{self, Body};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version [`TaskResult::to_stored`] writes.
pub const RESULT_VERSION: u64 = 1;

/// A task's result: the CPE's answer and what later messages said about it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The CPE's answer to the task's (last) request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    /// The TransferComplete of a task that asked for a transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_complete: Option<TransferOutcome>,
    /// When an Inform (or TransferComplete) confirmed the task took effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// For a task resolved after a restart: how its outcome was learnt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<String>,
}

/// The TransferComplete a task's transfer ended with (TR-069 §A.3.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferOutcome {
    /// 0 on success, else the CPE's fault code.
    pub fault_code: i32,
    /// The CPE's explanation.
    #[serde(default)]
    pub fault_string: String,
    /// What the fault code means.
    #[serde(default)]
    pub meaning: String,
    /// When the transfer started, as the CPE wrote it.
    #[serde(default)]
    pub start_time: String,
    /// When it completed, as the CPE wrote it.
    #[serde(default)]
    pub complete_time: String,
}

/// A parameter value a CPE reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueRead {
    /// Full name.
    pub name: String,
    /// Value, as text.
    pub value: String,
    /// `xsd:` type.
    #[serde(rename = "type", default = "string_type")]
    pub value_type: String,
}

fn string_type() -> String {
    "xsd:string".to_owned()
}

/// A name a GetParameterNames reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameRead {
    /// Full name (objects end in `.`).
    pub name: String,
    /// Whether the ACS may write it.
    pub writable: bool,
}

/// A parameter's attributes a CPE reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributesRead {
    /// Full name.
    pub name: String,
    /// 0 off, 1 passive, 2 active.
    pub notification: u8,
    /// Who may write it besides the ACS.
    #[serde(default)]
    pub access_list: Vec<String>,
}

/// A transfer a CPE has queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedTransferRead {
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
    /// Its target name; only from GetAllQueuedTransfers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_file_name: Option<String>,
}

/// The CPE's answer to an ACS request, named by its TR-069 element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method")]
pub enum Response {
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
        /// The new instance.
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
    Download(TransferAccepted),
    /// UploadResponse.
    #[serde(rename = "UploadResponse")]
    Upload(TransferAccepted),
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
        transfer_list: Vec<QueuedTransferRead>,
    },
    /// GetAllQueuedTransfersResponse.
    #[serde(rename = "GetAllQueuedTransfersResponse")]
    GetAllQueuedTransfers {
        /// The transfers.
        transfer_list: Vec<QueuedTransferRead>,
    },
    /// An answer this version does not know (written by a later one).
    #[serde(other)]
    Unknown,
}

/// A Download's or Upload's acceptance (TR-069 §A.3.2.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferAccepted {
    /// 0 done in the session, 1 a TransferComplete follows.
    pub status: i32,
    /// As the CPE wrote it.
    #[serde(default)]
    pub start_time: String,
    /// As the CPE wrote it.
    #[serde(default)]
    pub complete_time: String,
}

impl Response {
    /// The answer as the ACS keeps it; `None` for a message that answers no ACS request.
    pub fn of(body: &Body) -> Option<Response> {
        let accepted = |t: &cwmp::TransferResponse| TransferAccepted {
            status: t.status,
            start_time: t.start_time.as_str().to_owned(),
            complete_time: t.complete_time.as_str().to_owned(),
        };
        Some(match body {
            Body::GetRpcMethodsResponse(r) => Response::GetRpcMethods {
                method_list: r.method_list.clone(),
            },
            Body::SetParameterValuesResponse(r) => {
                Response::SetParameterValues { status: r.status }
            }
            Body::GetParameterValuesResponse(r) => Response::GetParameterValues {
                parameter_list: r
                    .parameter_list
                    .iter()
                    .map(|p| ValueRead {
                        name: p.name.clone(),
                        value: p.value.clone(),
                        value_type: p.value_type.to_string(),
                    })
                    .collect(),
            },
            Body::GetParameterNamesResponse(r) => Response::GetParameterNames {
                parameter_list: r
                    .parameter_list
                    .iter()
                    .map(|p| NameRead {
                        name: p.name.clone(),
                        writable: p.writable,
                    })
                    .collect(),
            },
            Body::SetParameterAttributesResponse => Response::SetParameterAttributes,
            Body::GetParameterAttributesResponse(r) => Response::GetParameterAttributes {
                parameter_list: r
                    .parameter_list
                    .iter()
                    .map(|p| AttributesRead {
                        name: p.name.clone(),
                        notification: p.notification,
                        access_list: p.access_list.clone(),
                    })
                    .collect(),
            },
            Body::AddObjectResponse(r) => Response::AddObject {
                instance_number: r.instance_number,
                status: r.status,
            },
            Body::DeleteObjectResponse(r) => Response::DeleteObject { status: r.status },
            Body::DownloadResponse(r) => Response::Download(accepted(r)),
            Body::UploadResponse(r) => Response::Upload(accepted(r)),
            Body::RebootResponse => Response::Reboot,
            Body::FactoryResetResponse => Response::FactoryReset,
            Body::ScheduleInformResponse => Response::ScheduleInform,
            Body::ScheduleDownloadResponse => Response::ScheduleDownload,
            Body::CancelTransferResponse => Response::CancelTransfer,
            Body::ChangeDuStateResponse => Response::ChangeDuState,
            Body::GetQueuedTransfersResponse(r) => Response::GetQueuedTransfers {
                transfer_list: r
                    .transfer_list
                    .iter()
                    .map(|t| QueuedTransferRead {
                        command_key: t.command_key.clone(),
                        state: t.state,
                        is_download: None,
                        file_type: None,
                        file_size: None,
                        target_file_name: None,
                    })
                    .collect(),
            },
            Body::GetAllQueuedTransfersResponse(r) => Response::GetAllQueuedTransfers {
                transfer_list: r
                    .transfer_list
                    .iter()
                    .map(|t| QueuedTransferRead {
                        command_key: t.command_key.clone(),
                        state: t.state,
                        is_download: Some(t.is_download),
                        file_type: Some(t.file_type.clone()),
                        file_size: Some(t.file_size),
                        target_file_name: Some(t.target_file_name.clone()),
                    })
                    .collect(),
            },
            _ => return None,
        })
    }
}

/// The CWMP fault a task ended with (TR-069 §A.5), as stored beside the task's fault code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultDetail {
    /// The fault code.
    pub fault_code: u32,
    /// The CPE's explanation.
    pub fault_string: String,
    /// Per-parameter faults of a SetParameterValues.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_parameter_values_faults: Vec<ParameterFault>,
}

/// One parameter a SetParameterValues was refused for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterFault {
    /// The parameter.
    pub parameter_name: String,
    /// Why (9005–9008 typically).
    pub fault_code: u32,
    /// The CPE's explanation.
    pub fault_string: String,
}

impl FaultDetail {
    /// The detail of a CPE's fault.
    pub fn of(fault: &cwmp::CwmpFault) -> FaultDetail {
        FaultDetail {
            fault_code: fault.fault_code.code(),
            fault_string: fault.fault_string.clone(),
            set_parameter_values_faults: fault
                .set_parameter_values_faults
                .iter()
                .map(|f| ParameterFault {
                    parameter_name: f.parameter_name.clone(),
                    fault_code: f.fault_code.code(),
                    fault_string: f.fault_string.clone(),
                })
                .collect(),
        }
    }

    /// The JSON stored as the task's fault detail.
    pub fn to_stored(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A stored result that is neither this version's shape nor an earlier one's.
#[derive(Debug, thiserror::Error)]
#[error("unreadable task result: {0}")]
pub struct ResultError(String);

impl TaskResult {
    /// The result of a task the CPE answered with `body`.
    pub fn of_response(body: &Body) -> TaskResult {
        TaskResult {
            response: Response::of(body),
            ..TaskResult::default()
        }
    }

    /// The result of a task found done after a restart.
    pub fn recovered(note: impl Into<String>, at: DateTime<Utc>) -> TaskResult {
        TaskResult {
            recovered: Some(note.into()),
            confirmed_at: Some(at),
            ..TaskResult::default()
        }
    }

    /// A Download's status when the CPE applied it within the session (0) or will report a
    /// TransferComplete (1).
    pub fn download_status(&self) -> Option<i32> {
        match &self.response {
            Some(Response::Download(accepted)) => Some(accepted.status),
            _ => None,
        }
    }

    /// The JSON stored in the database: this shape and its version.
    pub fn to_stored(&self) -> Value {
        let mut value =
            serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Default::default()));
        if let Value::Object(map) = &mut value {
            map.insert("v".to_owned(), Value::from(RESULT_VERSION));
        }
        value
    }

    /// Reads a stored result of any version this one knows.
    pub fn from_stored(stored: &Value) -> Result<TaskResult, ResultError> {
        match stored.get("v").and_then(Value::as_u64) {
            Some(RESULT_VERSION) => {
                serde_json::from_value(stored.clone()).map_err(|e| ResultError(e.to_string()))
            }
            Some(other) => Err(ResultError(format!(
                "version {other} is newer than this ACS ({RESULT_VERSION})"
            ))),
            None => legacy(stored),
        }
    }
}

/// Reads a result stored before results had a version: the codec's serde shape of the answer
/// (a unit answer as a bare string, or under `response` once annotated), beside
/// `transfer_complete`, `confirmed_at` and `recovered`.
fn legacy(stored: &Value) -> Result<TaskResult, ResultError> {
    let unit = |name: &str| {
        let tagged = serde_json::json!({ "method": element_name(name) });
        serde_json::from_value::<Response>(tagged).map_err(|e| ResultError(e.to_string()))
    };
    let map = match stored {
        Value::String(name) => {
            return Ok(TaskResult {
                response: Some(unit(name)?),
                ..TaskResult::default()
            });
        }
        Value::Object(map) => map,
        Value::Null => return Ok(TaskResult::default()),
        other => return Err(ResultError(format!("unexpected {other}"))),
    };
    let mut result = TaskResult::default();
    for (key, value) in map {
        let bad = |e: serde_json::Error| ResultError(format!("{key}: {e}"));
        match (key.as_str(), value) {
            ("transfer_complete", v) => {
                result.transfer_complete = Some(serde_json::from_value(v.clone()).map_err(bad)?);
            }
            ("confirmed_at", v) => {
                result.confirmed_at = Some(serde_json::from_value(v.clone()).map_err(bad)?);
            }
            ("recovered", v) => result.recovered = v.as_str().map(str::to_owned),
            ("response", Value::String(name)) => result.response = Some(unit(name)?),
            (name, Value::Object(fields)) if name.ends_with("Response") => {
                let mut tagged = fields.clone();
                tagged.insert("method".into(), Value::from(element_name(name)));
                result.response = Some(serde_json::from_value(Value::Object(tagged)).map_err(bad)?);
            }
            // Anything else was never written by the ACS; a hand-edited row keeps what can be
            // read.
            _ => {}
        }
    }
    Ok(result)
}

/// The TR-069 element name of an answer the codec named after its Rust variant.
fn element_name(rust_name: &str) -> &str {
    match rust_name {
        "GetRpcMethodsResponse" => "GetRPCMethodsResponse",
        "ChangeDuStateResponse" => "ChangeDUStateResponse",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The stored shape is pinned here, independently of the codec: a rename in `acs-cwmp`
    /// that reached the database or the API would fail this test.
    #[test]
    fn the_stored_shape_is_pinned() {
        let check = |body: Body, stored: Value| {
            let result = TaskResult::of_response(&body);
            assert_eq!(result.to_stored(), stored, "{}", body.element_name());
            assert_eq!(TaskResult::from_stored(&stored).unwrap(), result);
        };
        check(
            Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
                parameter_list: vec![cwmp::ParameterValue::new(
                    "Device.DeviceInfo.UpTime",
                    "42",
                    cwmp::ValueType::UnsignedInt,
                )],
            }),
            json!({"v": 1, "response": {"method": "GetParameterValuesResponse", "parameter_list": [
                {"name": "Device.DeviceInfo.UpTime", "value": "42", "type": "xsd:unsignedInt"}]}}),
        );
        check(
            Body::AddObjectResponse(cwmp::AddObjectResponse {
                instance_number: 3,
                status: 0,
            }),
            json!({"v": 1, "response": {"method": "AddObjectResponse", "instance_number": 3, "status": 0}}),
        );
        check(
            Body::GetRpcMethodsResponse(cwmp::GetRpcMethodsResponse {
                method_list: vec!["Inform".into()],
            }),
            json!({"v": 1, "response": {"method": "GetRPCMethodsResponse", "method_list": ["Inform"]}}),
        );
        check(
            Body::DownloadResponse(cwmp::TransferResponse {
                status: 1,
                start_time: cwmp::CwmpDateTime::unknown(),
                complete_time: cwmp::CwmpDateTime::unknown(),
            }),
            json!({"v": 1, "response": {"method": "DownloadResponse", "status": 1,
                "start_time": "0001-01-01T00:00:00Z", "complete_time": "0001-01-01T00:00:00Z"}}),
        );
        check(
            Body::RebootResponse,
            json!({"v": 1, "response": {"method": "RebootResponse"}}),
        );
        let recovered = TaskResult::recovered(
            "the Inform reports M Reboot",
            "2026-12-06T03:00:00Z".parse().unwrap(),
        );
        assert_eq!(
            recovered.to_stored(),
            json!({"v": 1, "recovered": "the Inform reports M Reboot",
                "confirmed_at": "2026-12-06T03:00:00Z"})
        );
    }

    #[test]
    fn the_stored_fault_detail_is_pinned() {
        let fault = cwmp::CwmpFault {
            fault_code: cwmp::FaultCode::InvalidArguments,
            fault_string: "bad".into(),
            set_parameter_values_faults: vec![cwmp::SetParameterValuesFault {
                parameter_name: "Device.X".into(),
                fault_code: cwmp::FaultCode::InvalidParameterValue,
                fault_string: "no".into(),
            }],
        };
        assert_eq!(
            FaultDetail::of(&fault).to_stored(),
            json!({"fault_code": 9003, "fault_string": "bad", "set_parameter_values_faults": [
                {"parameter_name": "Device.X", "fault_code": 9007, "fault_string": "no"}]})
        );
    }

    #[test]
    fn every_answer_to_an_acs_request_is_kept() {
        for (name, body) in cwmp::examples::all_bodies() {
            let acs_request_answer = body.is_response()
                && !matches!(
                    body,
                    Body::InformResponse(_)
                        | Body::Fault(_)
                        | Body::TransferCompleteResponse
                        | Body::AutonomousTransferCompleteResponse
                        | Body::RequestDownloadResponse
                        | Body::KickedResponse(_)
                        | Body::DuStateChangeCompleteResponse
                        | Body::AutonomousDuStateChangeCompleteResponse
                );
            if !acs_request_answer {
                continue;
            }
            let result = TaskResult::of_response(&body);
            let response = result.response.as_ref().expect(name);
            assert!(!matches!(response, Response::Unknown), "{name}");
            let stored = result.to_stored();
            assert_eq!(stored["response"]["method"], body.element_name(), "{name}");
            assert_eq!(TaskResult::from_stored(&stored).unwrap(), result, "{name}");
        }
    }

    /// Rows written before results had a version are read as they were meant.
    #[test]
    fn results_stored_before_the_version_are_read() {
        let check = |stored: Value, expected: TaskResult| {
            assert_eq!(
                TaskResult::from_stored(&stored).unwrap(),
                expected,
                "{stored}"
            );
        };
        check(
            json!({"AddObjectResponse": {"instance_number": 2, "status": 0}}),
            TaskResult {
                response: Some(Response::AddObject {
                    instance_number: 2,
                    status: 0,
                }),
                ..TaskResult::default()
            },
        );
        check(
            json!("RebootResponse"),
            TaskResult {
                response: Some(Response::Reboot),
                ..TaskResult::default()
            },
        );
        check(
            json!({"response": "FactoryResetResponse", "confirmed_at": "2026-12-01T10:00:00+00:00"}),
            TaskResult {
                response: Some(Response::FactoryReset),
                confirmed_at: Some("2026-12-01T10:00:00Z".parse().unwrap()),
                ..TaskResult::default()
            },
        );
        check(
            json!({"GetRpcMethodsResponse": {"method_list": ["Inform"]},
                "transfer_complete": {"fault_code": 0, "fault_string": "", "meaning": "",
                    "start_time": "a", "complete_time": "b"}}),
            TaskResult {
                response: Some(Response::GetRpcMethods {
                    method_list: vec!["Inform".into()],
                }),
                transfer_complete: Some(TransferOutcome {
                    fault_code: 0,
                    fault_string: String::new(),
                    meaning: String::new(),
                    start_time: "a".into(),
                    complete_time: "b".into(),
                }),
                ..TaskResult::default()
            },
        );
        assert!(TaskResult::from_stored(&json!({"v": 9})).is_err());
    }
}

//! One realistic instance of every message kind the codec writes.
//!
//! CI writes each of these with [`super::encode`] and validates the files against the official
//! schemas (`acs cwmp examples --out DIR` then `validate.sh`); the round-trip tests and the
//! benchmarks start from them too, so the set is the single list of "every message kind".

use super::*;

fn t(s: &str) -> CwmpDateTime {
    CwmpDateTime::from_raw(s)
}

/// An MPP phone's BOOTSTRAP Inform with `extra` additional parameters (for benchmarks).
pub fn inform(extra: usize) -> Inform {
    let mut parameter_list = vec![
        ParameterValue::string("Device.RootDataModelVersion", "2.15"),
        ParameterValue::string("Device.DeviceInfo.HardwareVersion", "V02"),
        ParameterValue::string("Device.DeviceInfo.SoftwareVersion", "sip88xx.12-0-2MPP-1"),
        ParameterValue::string("Device.DeviceInfo.ProvisioningCode", ""),
        ParameterValue::string("Device.ManagementServer.ParameterKey", ""),
        ParameterValue::string(
            "Device.ManagementServer.ConnectionRequestURL",
            "http://192.0.2.10:7547/cr",
        ),
        ParameterValue::new(
            "Device.ManagementServer.AliasBasedAddressing",
            "false",
            ValueType::Boolean,
        ),
        ParameterValue::new(
            "Device.ManagementServer.PeriodicInformInterval",
            "3600",
            ValueType::UnsignedInt,
        ),
    ];
    for i in 0..extra {
        parameter_list.push(ParameterValue::string(
            format!("Device.Services.VoiceService.1.VoiceProfile.1.Line.{i}.DirectoryNumber"),
            format!("+1555010{i:04}"),
        ));
    }
    Inform {
        device_id: DeviceId {
            manufacturer: "Cisco Systems, Inc.".into(),
            oui: "00562B".into(),
            product_class: "CP-8851-3PCC".into(),
            serial_number: "FCH2233A0B1".into(),
        },
        event: vec![
            EventStruct::new(EventCode::Bootstrap),
            EventStruct::new(EventCode::Boot),
        ],
        max_envelopes: 1,
        current_time: t("2026-11-21T09:41:15Z"),
        retry_count: 0,
        parameter_list,
    }
}

fn dt() -> CwmpDateTime {
    t("2026-11-21T09:41:22Z")
}

fn du_result(operation: Option<&str>) -> DuOpResult {
    DuOpResult {
        uuid: "123e4567-e89b-12d3-a456-426614174000".into(),
        deployment_unit_ref: "Device.SoftwareModules.DeploymentUnit.1".into(),
        version: "1.0.3".into(),
        current_state: "Installed".into(),
        resolved: true,
        execution_unit_ref_list: "Device.SoftwareModules.ExecutionUnit.1".into(),
        start_time: dt(),
        complete_time: dt(),
        fault: DuFault {
            fault_code: FaultCode::Other(0),
            fault_string: String::new(),
        },
        operation_performed: operation.map(str::to_owned),
    }
}

/// Every message kind, named by its element (the fault twice: plain and SetParameterValues).
pub fn all_bodies() -> Vec<(&'static str, Body)> {
    let names = vec![
        "Device.DeviceInfo.SoftwareVersion".to_owned(),
        "Device.ManagementServer.".to_owned(),
    ];
    vec![
        ("Inform", Body::Inform(inform(12))),
        (
            "InformResponse",
            Body::InformResponse(InformResponse { max_envelopes: 1 }),
        ),
        (
            "TransferComplete",
            Body::TransferComplete(TransferComplete {
                command_key: "fw-7f3a".into(),
                fault_struct: TransferFault::success(),
                start_time: t("2026-11-21T09:41:15.542Z"),
                complete_time: dt(),
            }),
        ),
        ("TransferCompleteResponse", Body::TransferCompleteResponse),
        (
            "AutonomousTransferComplete",
            Body::AutonomousTransferComplete(AutonomousTransferComplete {
                announce_url: String::new(),
                transfer_url: "http://files.example.net/sip88xx.12-0-3MPP-5.loads".into(),
                is_download: true,
                file_type: "1 Firmware Upgrade Image".into(),
                file_size: 45_000_000,
                target_file_name: "sip88xx.12-0-3MPP-5.loads".into(),
                fault_struct: TransferFault {
                    fault_code: FaultCode::DownloadFailure,
                    fault_string: "timeout".into(),
                },
                start_time: dt(),
                complete_time: dt(),
            }),
        ),
        (
            "AutonomousTransferCompleteResponse",
            Body::AutonomousTransferCompleteResponse,
        ),
        (
            "RequestDownload",
            Body::RequestDownload(RequestDownload {
                file_type: "1 Firmware Upgrade Image".into(),
                file_type_arg: vec![FileTypeArg {
                    name: "Version".into(),
                    value: "12-0-3".into(),
                }],
            }),
        ),
        ("RequestDownloadResponse", Body::RequestDownloadResponse),
        (
            "Kicked",
            Body::Kicked(Kicked {
                command: "setup".into(),
                referer: "http://portal.example.net/".into(),
                arg: "plan=basic".into(),
                next: "http://portal.example.net/done".into(),
            }),
        ),
        (
            "KickedResponse",
            Body::KickedResponse(KickedResponse {
                next_url: "http://portal.example.net/done".into(),
            }),
        ),
        (
            "DUStateChangeComplete",
            Body::DuStateChangeComplete(DuStateChangeComplete {
                results: vec![du_result(None)],
                command_key: Some("du-1".into()),
            }),
        ),
        (
            "DUStateChangeCompleteResponse",
            Body::DuStateChangeCompleteResponse,
        ),
        (
            "AutonomousDUStateChangeComplete",
            Body::AutonomousDuStateChangeComplete(AutonomousDuStateChangeComplete {
                results: vec![du_result(Some("Install"))],
            }),
        ),
        (
            "AutonomousDUStateChangeCompleteResponse",
            Body::AutonomousDuStateChangeCompleteResponse,
        ),
        ("GetRPCMethods", Body::GetRpcMethods),
        (
            "GetRPCMethodsResponse",
            Body::GetRpcMethodsResponse(GetRpcMethodsResponse {
                method_list: [
                    "GetRPCMethods",
                    "SetParameterValues",
                    "GetParameterValues",
                    "Reboot",
                    "Download",
                ]
                .map(String::from)
                .to_vec(),
            }),
        ),
        (
            "SetParameterValues",
            Body::SetParameterValues(SetParameterValues {
                parameter_list: vec![
                    ParameterValue::new(
                        "Device.ManagementServer.PeriodicInformInterval",
                        "300",
                        ValueType::UnsignedInt,
                    ),
                    ParameterValue::new(
                        "Device.ManagementServer.PeriodicInformEnable",
                        "1",
                        ValueType::Boolean,
                    ),
                    ParameterValue::string(
                        "Device.Services.VoiceService.1.VoiceProfile.1.SIP.ProxyServer",
                        "sip.example.net <&>",
                    ),
                ],
                parameter_key: "pk-42".into(),
            }),
        ),
        (
            "SetParameterValuesResponse",
            Body::SetParameterValuesResponse(SetParameterValuesResponse { status: 0 }),
        ),
        (
            "GetParameterValues",
            Body::GetParameterValues(GetParameterValues {
                parameter_names: names.clone(),
            }),
        ),
        (
            "GetParameterValuesResponse",
            Body::GetParameterValuesResponse(GetParameterValuesResponse {
                parameter_list: vec![
                    ParameterValue::string(
                        "Device.DeviceInfo.SoftwareVersion",
                        "sip88xx.12-0-2MPP-1",
                    ),
                    ParameterValue::new(
                        "Device.DeviceInfo.UpTime",
                        "86400",
                        ValueType::UnsignedInt,
                    ),
                    ParameterValue::new(
                        "Device.Time.CurrentLocalTime",
                        "2026-11-21T10:41:15+01:00",
                        ValueType::DateTime,
                    ),
                    ParameterValue::new("Device.X_CISCO_Blob", "3q2+7w==", ValueType::Base64Binary),
                ],
            }),
        ),
        (
            "GetParameterNames",
            Body::GetParameterNames(GetParameterNames {
                parameter_path: "Device.ManagementServer.".into(),
                next_level: true,
            }),
        ),
        (
            "GetParameterNamesResponse",
            Body::GetParameterNamesResponse(GetParameterNamesResponse {
                parameter_list: vec![
                    ParameterInfo {
                        name: "Device.ManagementServer.URL".into(),
                        writable: true,
                    },
                    ParameterInfo {
                        name: "Device.ManagementServer.ManageableDevice.".into(),
                        writable: false,
                    },
                ],
            }),
        ),
        (
            "SetParameterAttributes",
            Body::SetParameterAttributes(SetParameterAttributes {
                parameter_list: vec![SetParameterAttributesStruct {
                    name: "Device.DeviceInfo.SoftwareVersion".into(),
                    notification_change: true,
                    notification: 2,
                    access_list_change: false,
                    access_list: vec!["Subscriber".into()],
                }],
            }),
        ),
        (
            "SetParameterAttributesResponse",
            Body::SetParameterAttributesResponse,
        ),
        (
            "GetParameterAttributes",
            Body::GetParameterAttributes(GetParameterAttributes {
                parameter_names: names,
            }),
        ),
        (
            "GetParameterAttributesResponse",
            Body::GetParameterAttributesResponse(GetParameterAttributesResponse {
                parameter_list: vec![ParameterAttribute {
                    name: "Device.DeviceInfo.SoftwareVersion".into(),
                    notification: 2,
                    access_list: vec![],
                }],
            }),
        ),
        (
            "AddObject",
            Body::AddObject(AddObject {
                object_name: "Device.Services.VoiceService.1.VoiceProfile.1.Line.".into(),
                parameter_key: "pk-43".into(),
            }),
        ),
        (
            "AddObjectResponse",
            Body::AddObjectResponse(AddObjectResponse {
                instance_number: 3,
                status: 0,
            }),
        ),
        (
            "DeleteObject",
            Body::DeleteObject(DeleteObject {
                object_name: "Device.Services.VoiceService.1.VoiceProfile.1.Line.3.".into(),
                parameter_key: "pk-44".into(),
            }),
        ),
        (
            "DeleteObjectResponse",
            Body::DeleteObjectResponse(DeleteObjectResponse { status: 1 }),
        ),
        (
            "Download",
            Body::Download(Download {
                command_key: "fw-7f3a".into(),
                file_type: "1 Firmware Upgrade Image".into(),
                url: "https://acs.example.net:7548/files/sip88xx.12-0-3MPP-5.loads?t=abc&x=1"
                    .into(),
                username: String::new(),
                password: Password::default(),
                file_size: 45_000_000,
                target_file_name: "sip88xx.12-0-3MPP-5.loads".into(),
                delay_seconds: 0,
                success_url: String::new(),
                failure_url: String::new(),
            }),
        ),
        (
            "DownloadResponse",
            Body::DownloadResponse(TransferResponse {
                status: 1,
                start_time: CwmpDateTime::unknown(),
                complete_time: CwmpDateTime::unknown(),
            }),
        ),
        (
            "Reboot",
            Body::Reboot(Reboot {
                command_key: "reboot-1".into(),
            }),
        ),
        ("RebootResponse", Body::RebootResponse),
        ("GetQueuedTransfers", Body::GetQueuedTransfers),
        (
            "GetQueuedTransfersResponse",
            Body::GetQueuedTransfersResponse(GetQueuedTransfersResponse {
                transfer_list: vec![QueuedTransfer {
                    command_key: "fw-7f3a".into(),
                    state: 2,
                }],
            }),
        ),
        (
            "ScheduleInform",
            Body::ScheduleInform(ScheduleInform {
                delay_seconds: 60,
                command_key: "si-1".into(),
            }),
        ),
        ("ScheduleInformResponse", Body::ScheduleInformResponse),
        (
            "Upload",
            Body::Upload(Upload {
                command_key: "ul-1".into(),
                file_type: "2 Vendor Log File".into(),
                url: "https://acs.example.net:7548/uploads/ul-1".into(),
                username: "cpe".into(),
                password: "secret".into(),
                delay_seconds: 5,
            }),
        ),
        (
            "UploadResponse",
            Body::UploadResponse(TransferResponse {
                status: 0,
                start_time: dt(),
                complete_time: dt(),
            }),
        ),
        ("FactoryReset", Body::FactoryReset),
        ("FactoryResetResponse", Body::FactoryResetResponse),
        ("GetAllQueuedTransfers", Body::GetAllQueuedTransfers),
        (
            "GetAllQueuedTransfersResponse",
            Body::GetAllQueuedTransfersResponse(GetAllQueuedTransfersResponse {
                transfer_list: vec![AllQueuedTransfer {
                    command_key: "fw-7f3a".into(),
                    state: 1,
                    is_download: true,
                    file_type: "1 Firmware Upgrade Image".into(),
                    file_size: 45_000_000,
                    target_file_name: "sip88xx.12-0-3MPP-5.loads".into(),
                }],
            }),
        ),
        (
            "ScheduleDownload",
            Body::ScheduleDownload(ScheduleDownload {
                command_key: "sd-1".into(),
                file_type: "1 Firmware Upgrade Image".into(),
                url: "https://acs.example.net:7548/files/fw.loads".into(),
                username: String::new(),
                password: Password::default(),
                file_size: 1024,
                target_file_name: "fw.loads".into(),
                time_window_list: vec![TimeWindow {
                    window_start: 0,
                    window_end: 3600,
                    window_mode: "1 At Any Time".into(),
                    user_message: String::new(),
                    max_retries: -1,
                }],
            }),
        ),
        ("ScheduleDownloadResponse", Body::ScheduleDownloadResponse),
        (
            "CancelTransfer",
            Body::CancelTransfer(CancelTransfer {
                command_key: "sd-1".into(),
            }),
        ),
        ("CancelTransferResponse", Body::CancelTransferResponse),
        (
            "ChangeDUState",
            Body::ChangeDuState(ChangeDuState {
                operations: vec![
                    DuOperation::Install {
                        url: "http://files.example.net/app.ipk".into(),
                        uuid: Some("123e4567-e89b-12d3-a456-426614174000".into()),
                        username: None,
                        password: None,
                        execution_env_ref: Some("Device.SoftwareModules.ExecEnv.1".into()),
                    },
                    DuOperation::Update {
                        uuid: Some("123e4567-e89b-12d3-a456-426614174000".into()),
                        version: Some("1.0.4".into()),
                        url: None,
                        username: None,
                        password: None,
                    },
                    DuOperation::Uninstall {
                        uuid: "123e4567-e89b-12d3-a456-426614174000".into(),
                        version: None,
                        execution_env_ref: None,
                    },
                ],
                command_key: Some("du-1".into()),
            }),
        ),
        ("ChangeDUStateResponse", Body::ChangeDuStateResponse),
        (
            "Fault",
            Body::Fault(SoapFault::new(CwmpFault::new(FaultCode::AcsRetryRequest))),
        ),
        (
            "Fault_SetParameterValues",
            Body::Fault(SoapFault::new(CwmpFault {
                fault_code: FaultCode::InvalidArguments,
                fault_string: "Invalid arguments".into(),
                set_parameter_values_faults: vec![
                    SetParameterValuesFault {
                        parameter_name: "Device.Nope".into(),
                        fault_code: FaultCode::InvalidParameterName,
                        fault_string: "Invalid parameter name".into(),
                    },
                    SetParameterValuesFault {
                        parameter_name: "Device.DeviceInfo.SerialNumber".into(),
                        fault_code: FaultCode::NonWritableParameter,
                        fault_string: "Attempt to set a non-writable parameter".into(),
                    },
                ],
            })),
        ),
    ]
}

/// Every message kind in every standard namespace whose schema defines it, with the headers
/// that namespace allows. File-name stem, envelope.
pub fn all_envelopes() -> Vec<(String, Envelope)> {
    let mut out = Vec::new();
    for version in [CwmpVersion::V1_0, CwmpVersion::V1_1, CwmpVersion::V1_2] {
        for (name, body) in all_bodies() {
            if body.min_version() > version {
                continue;
            }
            let mut header = Header {
                id: Some(format!("{name}-1")),
                ..Header::default()
            };
            match &body {
                Body::Inform(_) if version >= CwmpVersion::V1_2 => {
                    header.session_timeout = Some(30);
                    header.supported_cwmp_versions = Some("1.0,1.1,1.2,1.3,1.4".into());
                }
                Body::InformResponse(_) if version >= CwmpVersion::V1_2 => {
                    header.use_cwmp_version = Some("1.4".into());
                    header.hold_requests = Some(false);
                }
                Body::InformResponse(_) => header.hold_requests = Some(true),
                _ => {}
            }
            let stem = format!("cwmp-{}_{}", version.as_str().replace('.', "-"), name);
            out.push((
                stem,
                Envelope {
                    namespace: CwmpNamespace::for_version(version),
                    header,
                    body,
                },
            ));
        }
    }
    out
}

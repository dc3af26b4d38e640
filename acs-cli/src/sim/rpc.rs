//! Answers the ACS's requests from a device's data model: pure, no I/O. What must happen after
//! the session (reboot, transfers, …) comes back as an [`Action`].

use acs_core::cwmp::{
    AddObjectResponse, Body, CwmpDateTime, CwmpFault, DeleteObjectResponse, FaultCode,
    GetParameterAttributesResponse, GetParameterNamesResponse, GetParameterValuesResponse,
    GetRpcMethodsResponse, ParameterAttribute, ParameterInfo, ParameterValue,
    SetParameterValuesFault, SetParameterValuesResponse, SoapFault, TransferResponse, ValueType,
};
use acs_core::cwmp::{Download, Upload};

use super::model::{CpeFault, DataModel, ParamValue, SetAttributes};

/// Something the device does once the session is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Reboot {
        command_key: String,
    },
    FactoryReset,
    Download(Download),
    Upload(Upload),
    ScheduleInform {
        delay_seconds: u32,
        command_key: String,
    },
}

/// A CWMP fault answer with the code's standard wording.
pub(crate) fn fault(code: FaultCode, detail: &str) -> Body {
    let mut f = CwmpFault::new(code);
    if !detail.is_empty() {
        f.fault_string = format!("{}: {detail}", f.fault_string);
    }
    Body::Fault(SoapFault::new(f))
}

/// The model's fault as a SOAP fault (SetParameterValuesFault entries included).
pub(crate) fn model_fault(f: CpeFault) -> Body {
    Body::Fault(SoapFault::new(CwmpFault {
        fault_code: FaultCode::from_code(f.code),
        fault_string: f.message,
        set_parameter_values_faults: f
            .parameter_faults
            .into_iter()
            .map(|p| SetParameterValuesFault {
                parameter_name: p.name,
                fault_code: FaultCode::from_code(p.code),
                fault_string: p.message,
            })
            .collect(),
    }))
}

pub(crate) fn to_wire(p: ParamValue) -> ParameterValue {
    ParameterValue::new(p.name, p.value, ValueType::parse(p.ty.xsd_name()))
}

/// Answers one ACS request. Methods the profile does not list get fault 9000.
pub(crate) fn handle(model: &mut DataModel, request: &Body) -> (Body, Option<Action>) {
    let method = request.element_name();
    if !model.profile().supports_rpc(method) {
        return (fault(FaultCode::MethodNotSupported, method), None);
    }
    let profile = model.profile();
    let unknown = || CwmpDateTime::unknown();
    let answer = match request {
        Body::GetRpcMethods => Ok(Body::GetRpcMethodsResponse(GetRpcMethodsResponse {
            method_list: profile.rpc_methods.clone(),
        })),
        Body::GetParameterNames(r) => {
            model
                .get_names(&r.parameter_path, r.next_level)
                .map(|list| {
                    Body::GetParameterNamesResponse(GetParameterNamesResponse {
                        parameter_list: list
                            .into_iter()
                            .map(|p| ParameterInfo {
                                name: p.name,
                                writable: p.writable,
                            })
                            .collect(),
                    })
                })
        }
        Body::GetParameterValues(r) => model.get_values(&r.parameter_names).map(|list| {
            Body::GetParameterValuesResponse(GetParameterValuesResponse {
                parameter_list: list.into_iter().map(to_wire).collect(),
            })
        }),
        Body::SetParameterValues(r) => {
            // xsd:string (also what a Value without xsi:type reads as) is not checked against
            // the parameter's type: ACSs commonly send every value as a string and devices
            // accept it; the value itself is still checked. Other types must match (9006).
            let params: Vec<(&str, &str, &str)> = r
                .parameter_list
                .iter()
                .map(|p| {
                    let ty = match &p.value_type {
                        ValueType::String | ValueType::Other(_) => "",
                        t => t.wire_name(),
                    };
                    (p.name.as_str(), p.value.as_str(), ty)
                })
                .collect();
            let applied = model.set_values(&params, &r.parameter_key);
            if applied.is_ok() {
                super::lines::follow_enable(model, params.iter().map(|p| p.0));
            }
            applied.map(|status| {
                Body::SetParameterValuesResponse(SetParameterValuesResponse {
                    status: i32::from(status),
                })
            })
        }
        Body::GetParameterAttributes(r) => model.get_attributes(&r.parameter_names).map(|list| {
            Body::GetParameterAttributesResponse(GetParameterAttributesResponse {
                parameter_list: list
                    .into_iter()
                    .map(|a| ParameterAttribute {
                        name: a.name,
                        notification: a.notification,
                        access_list: a.access_list,
                    })
                    .collect(),
            })
        }),
        Body::SetParameterAttributes(r) => {
            let attrs: Vec<SetAttributes> = r
                .parameter_list
                .iter()
                .map(|a| SetAttributes {
                    name: a.name.clone(),
                    notification_change: a.notification_change,
                    notification: a.notification,
                    access_list_change: a.access_list_change,
                    access_list: a.access_list.clone(),
                })
                .collect();
            model
                .set_attributes(&attrs)
                .map(|()| Body::SetParameterAttributesResponse)
        }
        Body::AddObject(r) => {
            model
                .add_object(&r.object_name, &r.parameter_key)
                .map(|(instance_number, status)| {
                    Body::AddObjectResponse(AddObjectResponse {
                        instance_number,
                        status: i32::from(status),
                    })
                })
        }
        Body::DeleteObject(r) => {
            model
                .delete_object(&r.object_name, &r.parameter_key)
                .map(|status| {
                    Body::DeleteObjectResponse(DeleteObjectResponse {
                        status: i32::from(status),
                    })
                })
        }
        Body::Reboot(r) => {
            return (
                Body::RebootResponse,
                Some(Action::Reboot {
                    command_key: r.command_key.clone(),
                }),
            );
        }
        Body::FactoryReset => return (Body::FactoryResetResponse, Some(Action::FactoryReset)),
        Body::Download(d) => {
            if !profile.supports.download_file_types.contains(&d.file_type) {
                return (
                    fault(
                        FaultCode::DownloadFailure,
                        &format!("unsupported FileType {:?}", d.file_type),
                    ),
                    None,
                );
            }
            if let Some(f) = check_url(&d.url) {
                return (f, None);
            }
            return (
                Body::DownloadResponse(TransferResponse {
                    status: 1,
                    start_time: unknown(),
                    complete_time: unknown(),
                }),
                Some(Action::Download(d.clone())),
            );
        }
        Body::Upload(u) => {
            if !profile.supports.upload_file_types.contains(&u.file_type) {
                return (
                    fault(
                        FaultCode::UploadFailure,
                        &format!("unsupported FileType {:?}", u.file_type),
                    ),
                    None,
                );
            }
            if let Some(f) = check_url(&u.url) {
                return (f, None);
            }
            return (
                Body::UploadResponse(TransferResponse {
                    status: 1,
                    start_time: unknown(),
                    complete_time: unknown(),
                }),
                Some(Action::Upload(u.clone())),
            );
        }
        Body::ScheduleInform(s) => {
            if s.delay_seconds == 0 {
                return (
                    fault(FaultCode::InvalidArguments, "DelaySeconds must be > 0"),
                    None,
                );
            }
            return (
                Body::ScheduleInformResponse,
                Some(Action::ScheduleInform {
                    delay_seconds: s.delay_seconds,
                    command_key: s.command_key.clone(),
                }),
            );
        }
        Body::ScheduleDownload(s) => {
            if !profile.supports.download_file_types.contains(&s.file_type) {
                return (
                    fault(
                        FaultCode::DownloadFailure,
                        &format!("unsupported FileType {:?}", s.file_type),
                    ),
                    None,
                );
            }
            if let Some(f) = check_url(&s.url) {
                return (f, None);
            }
            // A window open now runs like a Download; a later one is queued (and stays so).
            if s.time_window_list
                .first()
                .is_some_and(|w| w.window_start == 0)
            {
                let download = acs_core::cwmp::Download {
                    command_key: s.command_key.clone(),
                    file_type: s.file_type.clone(),
                    url: s.url.clone(),
                    username: s.username.clone(),
                    password: s.password.clone(),
                    file_size: s.file_size,
                    target_file_name: s.target_file_name.clone(),
                    delay_seconds: 0,
                    success_url: String::new(),
                    failure_url: String::new(),
                };
                return (
                    Body::ScheduleDownloadResponse,
                    Some(Action::Download(download)),
                );
            }
            model
                .queued_transfers
                .push(acs_core::cwmp::AllQueuedTransfer {
                    command_key: s.command_key.clone(),
                    state: 1,
                    is_download: true,
                    file_type: s.file_type.clone(),
                    file_size: s.file_size,
                    target_file_name: s.target_file_name.clone(),
                });
            Ok(Body::ScheduleDownloadResponse)
        }
        Body::GetAllQueuedTransfers => Ok(Body::GetAllQueuedTransfersResponse(
            acs_core::cwmp::GetAllQueuedTransfersResponse {
                transfer_list: model.queued_transfers.clone(),
            },
        )),
        Body::CancelTransfer(c) => {
            let before = model.queued_transfers.len();
            model
                .queued_transfers
                .retain(|t| t.command_key != c.command_key);
            if model.queued_transfers.len() == before {
                // TR-069 A.4.1.9: no such transfer, or one already running.
                return (
                    fault(
                        FaultCode::CancellationNotPermitted,
                        &format!("no queued transfer with CommandKey {:?}", c.command_key),
                    ),
                    None,
                );
            }
            Ok(Body::CancelTransferResponse)
        }
        // Listed by a profile but not simulated, or not a request at all.
        _ => return (fault(FaultCode::MethodNotSupported, method), None),
    };
    (answer.unwrap_or_else(model_fault), None)
}

/// 9013 for a URL the simulator cannot fetch (only http and https are).
fn check_url(url: &str) -> Option<Body> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => None,
        Ok(u) => Some(fault(
            FaultCode::UnsupportedTransferProtocol,
            &format!("scheme {:?}", u.scheme()),
        )),
        Err(e) => Some(fault(FaultCode::InvalidArguments, &format!("URL: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::DeviceVars;
    use crate::sim::profile::Profile;
    use acs_core::cwmp::*;

    /// What a request must produce.
    enum Want {
        /// Exactly this response.
        Body(Body),
        /// A fault with this code (and, for SetParameterValues, these per-parameter codes).
        Fault(u32, Vec<(&'static str, u32)>),
        /// A response of this element name, checked by the closure.
        Check(&'static str, fn(&Body)),
    }

    fn device(profile: &str) -> DataModel {
        let p = Profile::builtin(profile).unwrap();
        let vars = DeviceVars::new(
            &p,
            "FCH000001",
            "10.0.0.2",
            "http://127.0.0.1:7547/FCH000001",
            "http://acs.test:7547/",
        );
        DataModel::from_profile(&p, &vars).unwrap()
    }

    /// Runs `request` on a fresh device of `profile` (after `setup`) and compares.
    fn check(profile: &str, setup: &[Body], request: Body, want: Want, action: Option<Action>) {
        let mut model = device(profile);
        for s in setup {
            let (answer, _) = handle(&mut model, s);
            assert!(!matches!(answer, Body::Fault(_)), "setup {s:?}: {answer:?}");
        }
        let (got, got_action) = handle(&mut model, &request);
        let name = request.element_name();
        match want {
            Want::Body(b) => assert_eq!(got, b, "{name}"),
            Want::Fault(code, params) => {
                let Body::Fault(f) = &got else {
                    panic!("{name}: expected fault {code}, got {got:?}")
                };
                assert_eq!(f.detail.fault_code.code(), code, "{name}: {got:?}");
                let got_params: Vec<(&str, u32)> = f
                    .detail
                    .set_parameter_values_faults
                    .iter()
                    .map(|p| (p.parameter_name.as_str(), p.fault_code.code()))
                    .collect();
                assert_eq!(got_params, params, "{name}");
                // Faults must encode in the device's namespace.
                encode(&Envelope::new(
                    CwmpNamespace::for_version(CwmpVersion::V1_2),
                    Some("1".into()),
                    got.clone(),
                ))
                .unwrap();
            }
            Want::Check(element, f) => {
                assert_eq!(got.element_name(), element, "{name}: {got:?}");
                f(&got);
            }
        }
        assert_eq!(got_action, action, "{name}");
    }

    const MPP: &str = "cisco-mpp";
    const GW: &str = "tr098-gateway";

    /// Profile, setup requests, the request, what it must produce, the action it must yield.
    type Case = (&'static str, Vec<Body>, Body, Want, Option<Action>);

    fn gpv(names: &[&str]) -> Body {
        Body::GetParameterValues(GetParameterValues {
            parameter_names: names.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn spv(params: &[(&str, &str, ValueType)], key: &str) -> Body {
        Body::SetParameterValues(SetParameterValues {
            parameter_list: params
                .iter()
                .map(|(n, v, t)| ParameterValue::new(*n, *v, t.clone()))
                .collect(),
            parameter_key: key.into(),
        })
    }

    fn download(file_type: &str, url: &str) -> Download {
        Download {
            command_key: "fw1".into(),
            file_type: file_type.into(),
            url: url.into(),
            username: String::new(),
            password: Password::default(),
            file_size: 0,
            target_file_name: String::new(),
            delay_seconds: 0,
            success_url: String::new(),
            failure_url: String::new(),
        }
    }

    fn pending_transfer() -> Body {
        Body::DownloadResponse(TransferResponse {
            status: 1,
            start_time: CwmpDateTime::unknown(),
            complete_time: CwmpDateTime::unknown(),
        })
    }

    #[test]
    fn rpc_table() {
        let fw = download(
            "1 Firmware Upgrade Image",
            "http://files.test/sip88xx.12-0-3MPP-5.loads",
        );
        let upload = Upload {
            command_key: "up1".into(),
            file_type: "1 Vendor Configuration File".into(),
            url: "http://files.test/up".into(),
            username: String::new(),
            password: Password::default(),
            delay_seconds: 0,
        };
        let line1 = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";
        let cases: Vec<Case> = vec![
            (
                MPP,
                vec![],
                Body::GetRpcMethods,
                Want::Check("GetRPCMethodsResponse", |b| {
                    let Body::GetRpcMethodsResponse(r) = b else {
                        unreachable!()
                    };
                    assert!(r.method_list.contains(&"Download".to_owned()));
                    assert!(!r.method_list.contains(&"Upload".to_owned()));
                }),
                None,
            ),
            (
                MPP,
                vec![],
                gpv(&["Device.DeviceInfo.SoftwareVersion"]),
                Want::Body(Body::GetParameterValuesResponse(
                    GetParameterValuesResponse {
                        parameter_list: vec![ParameterValue::string(
                            "Device.DeviceInfo.SoftwareVersion",
                            "sip88xx.12-0-2MPP-1",
                        )],
                    },
                )),
                None,
            ),
            (
                MPP,
                vec![],
                gpv(&["Device.ManagementServer."]),
                Want::Check("GetParameterValuesResponse", |b| {
                    let Body::GetParameterValuesResponse(r) = b else {
                        unreachable!()
                    };
                    let cr = r
                        .parameter_list
                        .iter()
                        .find(|p| p.name == "Device.ManagementServer.ConnectionRequestURL")
                        .unwrap();
                    assert_eq!(cr.value, "http://127.0.0.1:7547/FCH000001");
                    let interval = r
                        .parameter_list
                        .iter()
                        .find(|p| p.name == "Device.ManagementServer.PeriodicInformInterval")
                        .unwrap();
                    assert_eq!(interval.value_type, ValueType::UnsignedInt);
                    assert!(r.parameter_list.len() > 10);
                }),
                None,
            ),
            (
                MPP,
                vec![],
                gpv(&["Device.Nope"]),
                Want::Fault(9005, vec![]),
                None,
            ),
            (
                MPP,
                vec![],
                Body::GetParameterNames(GetParameterNames {
                    parameter_path: "Device.DeviceInfo.".into(),
                    next_level: true,
                }),
                Want::Check("GetParameterNamesResponse", |b| {
                    let Body::GetParameterNamesResponse(r) = b else {
                        unreachable!()
                    };
                    assert!(
                        r.parameter_list
                            .iter()
                            .any(|p| p.name == "Device.DeviceInfo.ProvisioningCode" && p.writable)
                    );
                }),
                None,
            ),
            (
                MPP,
                vec![],
                spv(
                    &[
                        (
                            "Device.ManagementServer.PeriodicInformInterval",
                            "60",
                            ValueType::UnsignedInt,
                        ),
                        (
                            "Device.DeviceInfo.ProvisioningCode",
                            "abc",
                            ValueType::String,
                        ),
                    ],
                    "k1",
                ),
                Want::Body(Body::SetParameterValuesResponse(
                    SetParameterValuesResponse { status: 0 },
                )),
                None,
            ),
            (
                MPP,
                vec![spv(
                    &[("Device.DeviceInfo.ProvisioningCode", "x", ValueType::String)],
                    "key-7",
                )],
                gpv(&[
                    "Device.ManagementServer.ParameterKey",
                    "Device.DeviceInfo.ProvisioningCode",
                ]),
                Want::Body(Body::GetParameterValuesResponse(
                    GetParameterValuesResponse {
                        parameter_list: vec![
                            ParameterValue::string("Device.ManagementServer.ParameterKey", "key-7"),
                            ParameterValue::string("Device.DeviceInfo.ProvisioningCode", "x"),
                        ],
                    },
                )),
                None,
            ),
            // Atomic: every failing parameter listed under 9003.
            (
                MPP,
                vec![],
                spv(
                    &[
                        (
                            "Device.DeviceInfo.ProvisioningCode",
                            "ok",
                            ValueType::String,
                        ),
                        ("Device.Nope", "1", ValueType::String),
                        ("Device.ManagementServer.EnableCWMP", "1", ValueType::Int),
                        (
                            "Device.ManagementServer.PeriodicInformInterval",
                            "x",
                            ValueType::String,
                        ),
                        ("Device.DeviceInfo.SerialNumber", "x", ValueType::String),
                    ],
                    "",
                ),
                Want::Fault(
                    9003,
                    vec![
                        ("Device.Nope", 9005),
                        ("Device.ManagementServer.EnableCWMP", 9006),
                        ("Device.ManagementServer.PeriodicInformInterval", 9007),
                        ("Device.DeviceInfo.SerialNumber", 9008),
                    ],
                ),
                None,
            ),
            (
                MPP,
                vec![],
                Body::SetParameterAttributes(SetParameterAttributes {
                    parameter_list: vec![SetParameterAttributesStruct {
                        name: "Device.DeviceInfo.ProvisioningCode".into(),
                        notification_change: true,
                        notification: 1,
                        access_list_change: false,
                        access_list: vec![],
                    }],
                }),
                Want::Fault(9009, vec![]),
                None,
            ),
            (
                MPP,
                vec![Body::SetParameterAttributes(SetParameterAttributes {
                    parameter_list: vec![SetParameterAttributesStruct {
                        name: "Device.ManagementServer.PeriodicInformInterval".into(),
                        notification_change: true,
                        notification: 1,
                        access_list_change: true,
                        access_list: vec!["Subscriber".into()],
                    }],
                })],
                Body::GetParameterAttributes(GetParameterAttributes {
                    parameter_names: vec!["Device.ManagementServer.PeriodicInformInterval".into()],
                }),
                Want::Body(Body::GetParameterAttributesResponse(
                    GetParameterAttributesResponse {
                        parameter_list: vec![ParameterAttribute {
                            name: "Device.ManagementServer.PeriodicInformInterval".into(),
                            notification: 1,
                            access_list: vec!["Subscriber".into()],
                        }],
                    },
                )),
                None,
            ),
            (
                MPP,
                vec![],
                Body::AddObject(AddObject {
                    object_name: line1.into(),
                    parameter_key: "".into(),
                }),
                Want::Check("AddObjectResponse", |b| {
                    let Body::AddObjectResponse(r) = b else {
                        unreachable!()
                    };
                    assert!(r.instance_number >= 2, "{r:?}");
                    assert_eq!(r.status, 0);
                }),
                None,
            ),
            (
                MPP,
                vec![],
                Body::AddObject(AddObject {
                    object_name: "Device.DeviceInfo.".into(),
                    parameter_key: "".into(),
                }),
                Want::Fault(9005, vec![]),
                None,
            ),
            (
                MPP,
                vec![],
                Body::DeleteObject(DeleteObject {
                    object_name: format!("{line1}1."),
                    parameter_key: "".into(),
                }),
                Want::Body(Body::DeleteObjectResponse(DeleteObjectResponse {
                    status: 0,
                })),
                None,
            ),
            (
                MPP,
                vec![],
                Body::DeleteObject(DeleteObject {
                    object_name: format!("{line1}99."),
                    parameter_key: "".into(),
                }),
                Want::Fault(9005, vec![]),
                None,
            ),
            (
                MPP,
                vec![],
                Body::Reboot(Reboot {
                    command_key: "rb1".into(),
                }),
                Want::Body(Body::RebootResponse),
                Some(Action::Reboot {
                    command_key: "rb1".into(),
                }),
            ),
            (
                MPP,
                vec![],
                Body::FactoryReset,
                Want::Body(Body::FactoryResetResponse),
                Some(Action::FactoryReset),
            ),
            (
                MPP,
                vec![],
                Body::Download(fw.clone()),
                Want::Body(pending_transfer()),
                Some(Action::Download(fw.clone())),
            ),
            (
                MPP,
                vec![],
                Body::Download(download("2 Web Content", "http://files.test/x")),
                Want::Fault(9010, vec![]),
                None,
            ),
            (
                MPP,
                vec![],
                Body::Download(download("1 Firmware Upgrade Image", "ftp://files.test/x")),
                Want::Fault(9013, vec![]),
                None,
            ),
            // Not in the MPP profile: 9000.
            (
                MPP,
                vec![],
                Body::Upload(upload.clone()),
                Want::Fault(9000, vec![]),
                None,
            ),
            (
                MPP,
                vec![],
                Body::ScheduleInform(ScheduleInform {
                    delay_seconds: 5,
                    command_key: "s".into(),
                }),
                Want::Fault(9000, vec![]),
                None,
            ),
            (
                MPP,
                vec![],
                Body::GetAllQueuedTransfers,
                Want::Fault(9000, vec![]),
                None,
            ),
            (
                GW,
                vec![],
                Body::Upload(upload.clone()),
                Want::Body(Body::UploadResponse(TransferResponse {
                    status: 1,
                    start_time: CwmpDateTime::unknown(),
                    complete_time: CwmpDateTime::unknown(),
                })),
                Some(Action::Upload(upload.clone())),
            ),
            (
                GW,
                vec![],
                Body::ScheduleInform(ScheduleInform {
                    delay_seconds: 5,
                    command_key: "s".into(),
                }),
                Want::Body(Body::ScheduleInformResponse),
                Some(Action::ScheduleInform {
                    delay_seconds: 5,
                    command_key: "s".into(),
                }),
            ),
            (
                GW,
                vec![],
                Body::ScheduleInform(ScheduleInform {
                    delay_seconds: 0,
                    command_key: "s".into(),
                }),
                Want::Fault(9003, vec![]),
                None,
            ),
            (
                GW,
                vec![],
                gpv(&["InternetGatewayDevice.ManagementServer.ConnectionRequestPassword"]),
                Want::Body(Body::GetParameterValuesResponse(
                    GetParameterValuesResponse {
                        parameter_list: vec![ParameterValue::string(
                            "InternetGatewayDevice.ManagementServer.ConnectionRequestPassword",
                            "",
                        )],
                    },
                )),
                None,
            ),
        ];
        for (profile, setup, request, want, action) in cases {
            check(profile, &setup, request, want, action);
        }
    }
}

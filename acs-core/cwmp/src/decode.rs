//! Lenient reading of CWMP envelopes (TR-069 §3.5, Annex A).
//!
//! What "lenient" means here, precisely:
//! - elements are matched by local name whatever their prefix or default namespace;
//! - array wrappers are read by their children, whatever `arrayType` or `xsi:type` they claim;
//! - unknown elements are skipped;
//! - values of fields receivers must ignore (MaxEnvelopes) are not checked, times are kept raw;
//! - a schema-required element that is absent is a [`DecodeError::MissingElement`], except the
//!   cwmp:Fault `FaultString`, which the schema itself makes optional.

use super::xml::{Doc, Limits, NodeId, Position};
use super::*;

pub(super) fn decode(input: &[u8], limits: &Limits) -> Result<Envelope, DecodeError> {
    if input.len() > limits.max_bytes {
        return Err(DecodeError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let owned;
    let text = match std::str::from_utf8(input) {
        Ok(t) => t,
        Err(e) if declares_latin1(input) => {
            let _ = e;
            owned = input.iter().map(|&b| char::from(b)).collect::<String>();
            &owned
        }
        Err(e) => {
            let valid = std::str::from_utf8(&input[..e.valid_up_to()]).unwrap_or_default();
            return Err(DecodeError::Encoding {
                position: Position::at(valid, valid.len()),
            });
        }
    };
    let doc = Doc::parse(text, limits)?;
    Reader { doc: &doc }.envelope()
}

/// Old CPEs declare `encoding="ISO-8859-1"` and mean it; anything else must be UTF-8.
fn declares_latin1(input: &[u8]) -> bool {
    let head = &input[..input.len().min(100)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    head.starts_with("<?xml") && (head.contains("iso-8859-1") || head.contains("latin1"))
}

struct Reader<'d, 'a> {
    doc: &'d Doc<'a>,
}

impl Reader<'_, '_> {
    fn envelope(&self) -> Result<Envelope, DecodeError> {
        let doc = self.doc;
        let root = doc.root();
        if doc.name(root) != "Envelope" {
            return Err(DecodeError::NotEnvelope {
                found: doc.name(root).to_owned(),
                position: doc.position(root),
            });
        }
        let header_node = doc.child(root, "Header");
        let body_node = self.req(root, "Body")?;
        let method = doc.first_child(body_node).ok_or(DecodeError::EmptyBody {
            position: doc.position(body_node),
        })?;
        let namespace = self.namespace(method, header_node);
        let header = header_node
            .map(|h| self.header(h))
            .transpose()?
            .unwrap_or_default();
        let body = self.body(method)?;
        Ok(Envelope {
            namespace,
            header,
            body,
        })
    }

    /// The cwmp namespace: the method element's if it has one, else a header entry's, else any
    /// cwmp namespace bound in the document (some CPEs declare it but write unprefixed methods).
    fn namespace(&self, method: NodeId, header: Option<NodeId>) -> CwmpNamespace {
        let doc = self.doc;
        std::iter::once(method)
            .chain(header.into_iter().flat_map(|h| doc.children(h)))
            .find_map(|n| CwmpNamespace::parse(doc.namespace(n)))
            .or_else(|| doc.namespaces().find_map(CwmpNamespace::parse))
            .unwrap_or_default()
    }

    fn header(&self, header: NodeId) -> Result<Header, DecodeError> {
        let doc = self.doc;
        let mut h = Header::default();
        for entry in doc.children(header) {
            let text = doc.text(entry).trim();
            match doc.name(entry) {
                "ID" => h.id = Some(text.to_owned()),
                "HoldRequests" => h.hold_requests = Some(self.boolean(entry)?),
                // Deprecated and ignored by receivers: a bad value is not worth failing for.
                "NoMoreRequests" => h.no_more_requests = parse_bool(text),
                "SessionTimeout" => h.session_timeout = Some(self.number(entry)?),
                "SupportedCWMPVersions" => h.supported_cwmp_versions = Some(text.to_owned()),
                "UseCWMPVersion" => h.use_cwmp_version = Some(text.to_owned()),
                _ => {}
            }
        }
        Ok(h)
    }

    fn req(&self, parent: NodeId, name: &'static str) -> Result<NodeId, DecodeError> {
        self.doc
            .child(parent, name)
            .ok_or_else(|| DecodeError::MissingElement {
                element: name,
                parent: self.doc.name(parent).to_owned(),
                position: self.doc.position(parent),
            })
    }

    /// Required string, as sent (values keep their whitespace).
    fn string(&self, parent: NodeId, name: &'static str) -> Result<String, DecodeError> {
        Ok(self.doc.text(self.req(parent, name)?).to_owned())
    }

    /// Required identifier-like string (names, codes, keys): surrounding whitespace from
    /// pretty-printing CPEs is dropped.
    fn token(&self, parent: NodeId, name: &'static str) -> Result<String, DecodeError> {
        Ok(self.doc.text(self.req(parent, name)?).trim().to_owned())
    }

    fn opt_token(&self, parent: NodeId, name: &'static str) -> Option<String> {
        self.doc
            .child(parent, name)
            .map(|n| self.doc.text(n).trim().to_owned())
    }

    fn invalid(&self, node: NodeId, expected: &'static str) -> DecodeError {
        DecodeError::InvalidValue {
            element: self.doc.name(node).to_owned(),
            value: self.doc.text(node).to_owned(),
            expected,
            position: self.doc.position(node),
        }
    }

    fn number<T: std::str::FromStr>(&self, node: NodeId) -> Result<T, DecodeError> {
        let t = self.doc.text(node).trim();
        t.strip_prefix('+')
            .unwrap_or(t)
            .parse()
            .map_err(|_| self.invalid(node, "a number"))
    }

    fn num<T: std::str::FromStr>(
        &self,
        parent: NodeId,
        name: &'static str,
    ) -> Result<T, DecodeError> {
        self.number(self.req(parent, name)?)
    }

    fn boolean(&self, node: NodeId) -> Result<bool, DecodeError> {
        parse_bool(self.doc.text(node))
            .ok_or_else(|| self.invalid(node, "a boolean (true, false, 1, 0)"))
    }

    fn bool_of(&self, parent: NodeId, name: &'static str) -> Result<bool, DecodeError> {
        self.boolean(self.req(parent, name)?)
    }

    fn time(&self, parent: NodeId, name: &'static str) -> Result<CwmpDateTime, DecodeError> {
        Ok(CwmpDateTime::from_raw(
            self.doc.text(self.req(parent, name)?).trim(),
        ))
    }

    fn fault_code(&self, parent: NodeId, name: &'static str) -> Result<FaultCode, DecodeError> {
        self.num(parent, name).map(FaultCode::from_code)
    }

    /// Children of an array element, whatever they are called and however many the arrayType
    /// attribute claims.
    fn array<T>(
        &self,
        parent: NodeId,
        name: &'static str,
        item: impl Fn(NodeId) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        self.doc
            .children(self.req(parent, name)?)
            .map(item)
            .collect()
    }

    fn strings(&self, parent: NodeId, name: &'static str) -> Result<Vec<String>, DecodeError> {
        self.array(parent, name, |n| Ok(self.doc.text(n).trim().to_owned()))
    }

    fn parameter_values(&self, parent: NodeId) -> Result<Vec<ParameterValue>, DecodeError> {
        self.array(parent, "ParameterList", |pvs| {
            let value = self.req(pvs, "Value")?;
            Ok(ParameterValue {
                name: self.token(pvs, "Name")?,
                value: self.doc.text(value).to_owned(),
                value_type: self
                    .doc
                    .attr(value, "type")
                    .map_or(ValueType::String, ValueType::parse),
            })
        })
    }

    fn transfer_fault(&self, parent: NodeId) -> Result<TransferFault, DecodeError> {
        let f = self.req(parent, "FaultStruct")?;
        Ok(TransferFault {
            fault_code: self.fault_code(f, "FaultCode")?,
            fault_string: self.opt_token(f, "FaultString").unwrap_or_default(),
        })
    }

    fn transfer_response(&self, m: NodeId) -> Result<TransferResponse, DecodeError> {
        Ok(TransferResponse {
            status: self.num(m, "Status")?,
            start_time: self.time(m, "StartTime")?,
            complete_time: self.time(m, "CompleteTime")?,
        })
    }

    fn body(&self, m: NodeId) -> Result<Body, DecodeError> {
        let doc = self.doc;
        Ok(match doc.name(m) {
            "Inform" => {
                let id = self.req(m, "DeviceId")?;
                Body::Inform(Inform {
                    device_id: DeviceId {
                        manufacturer: self.token(id, "Manufacturer")?,
                        oui: self.token(id, "OUI")?,
                        product_class: self.token(id, "ProductClass")?,
                        serial_number: self.token(id, "SerialNumber")?,
                    },
                    event: self.array(m, "Event", |e| {
                        Ok(EventStruct {
                            event_code: EventCode::parse(&self.token(e, "EventCode")?),
                            command_key: self.token(e, "CommandKey")?,
                        })
                    })?,
                    // Receivers ignore MaxEnvelopes (TR-069 §3.5), so its value is not checked.
                    max_envelopes: {
                        let n = self.req(m, "MaxEnvelopes")?;
                        self.number(n).unwrap_or(1)
                    },
                    current_time: self.time(m, "CurrentTime")?,
                    retry_count: self.num(m, "RetryCount")?,
                    parameter_list: self.parameter_values(m)?,
                })
            }
            "InformResponse" => Body::InformResponse(InformResponse {
                max_envelopes: self.number(self.req(m, "MaxEnvelopes")?).unwrap_or(1),
            }),
            "TransferComplete" => Body::TransferComplete(TransferComplete {
                command_key: self.token(m, "CommandKey")?,
                fault_struct: self.transfer_fault(m)?,
                start_time: self.time(m, "StartTime")?,
                complete_time: self.time(m, "CompleteTime")?,
            }),
            "TransferCompleteResponse" => Body::TransferCompleteResponse,
            "AutonomousTransferComplete" => {
                Body::AutonomousTransferComplete(AutonomousTransferComplete {
                    announce_url: self.token(m, "AnnounceURL")?,
                    transfer_url: self.token(m, "TransferURL")?,
                    is_download: self.bool_of(m, "IsDownload")?,
                    file_type: self.token(m, "FileType")?,
                    file_size: self.num(m, "FileSize")?,
                    target_file_name: self.string(m, "TargetFileName")?,
                    fault_struct: self.transfer_fault(m)?,
                    start_time: self.time(m, "StartTime")?,
                    complete_time: self.time(m, "CompleteTime")?,
                })
            }
            "AutonomousTransferCompleteResponse" => Body::AutonomousTransferCompleteResponse,
            "RequestDownload" => Body::RequestDownload(RequestDownload {
                file_type: self.token(m, "FileType")?,
                file_type_arg: self.array(m, "FileTypeArg", |a| {
                    Ok(FileTypeArg {
                        name: self.token(a, "Name")?,
                        value: self.string(a, "Value")?,
                    })
                })?,
            }),
            "RequestDownloadResponse" => Body::RequestDownloadResponse,
            "Kicked" => Body::Kicked(Kicked {
                command: self.string(m, "Command")?,
                referer: self.string(m, "Referer")?,
                arg: self.string(m, "Arg")?,
                next: self.string(m, "Next")?,
            }),
            "KickedResponse" => Body::KickedResponse(KickedResponse {
                next_url: self.token(m, "NextURL")?,
            }),
            "DUStateChangeComplete" => Body::DuStateChangeComplete(DuStateChangeComplete {
                results: self.du_results(m)?,
                command_key: self.opt_token(m, "CommandKey"),
            }),
            "DUStateChangeCompleteResponse" => Body::DuStateChangeCompleteResponse,
            "AutonomousDUStateChangeComplete" => {
                Body::AutonomousDuStateChangeComplete(AutonomousDuStateChangeComplete {
                    results: self.du_results(m)?,
                })
            }
            "AutonomousDUStateChangeCompleteResponse" => {
                Body::AutonomousDuStateChangeCompleteResponse
            }
            "GetRPCMethods" => Body::GetRpcMethods,
            "GetRPCMethodsResponse" => Body::GetRpcMethodsResponse(GetRpcMethodsResponse {
                method_list: self.strings(m, "MethodList")?,
            }),
            "SetParameterValues" => Body::SetParameterValues(SetParameterValues {
                parameter_list: self.parameter_values(m)?,
                parameter_key: self.string(m, "ParameterKey")?,
            }),
            "SetParameterValuesResponse" => {
                Body::SetParameterValuesResponse(SetParameterValuesResponse {
                    status: self.num(m, "Status")?,
                })
            }
            "GetParameterValues" => Body::GetParameterValues(GetParameterValues {
                parameter_names: self.strings(m, "ParameterNames")?,
            }),
            "GetParameterValuesResponse" => {
                Body::GetParameterValuesResponse(GetParameterValuesResponse {
                    parameter_list: self.parameter_values(m)?,
                })
            }
            "GetParameterNames" => Body::GetParameterNames(GetParameterNames {
                parameter_path: self.token(m, "ParameterPath")?,
                next_level: self.bool_of(m, "NextLevel")?,
            }),
            "GetParameterNamesResponse" => {
                Body::GetParameterNamesResponse(GetParameterNamesResponse {
                    parameter_list: self.array(m, "ParameterList", |p| {
                        Ok(ParameterInfo {
                            name: self.token(p, "Name")?,
                            writable: self.bool_of(p, "Writable")?,
                        })
                    })?,
                })
            }
            "SetParameterAttributes" => Body::SetParameterAttributes(SetParameterAttributes {
                parameter_list: self.array(m, "ParameterList", |p| {
                    Ok(SetParameterAttributesStruct {
                        name: self.token(p, "Name")?,
                        notification_change: self.bool_of(p, "NotificationChange")?,
                        notification: self.num(p, "Notification")?,
                        access_list_change: self.bool_of(p, "AccessListChange")?,
                        access_list: self.strings(p, "AccessList")?,
                    })
                })?,
            }),
            "SetParameterAttributesResponse" => Body::SetParameterAttributesResponse,
            "GetParameterAttributes" => Body::GetParameterAttributes(GetParameterAttributes {
                parameter_names: self.strings(m, "ParameterNames")?,
            }),
            "GetParameterAttributesResponse" => {
                Body::GetParameterAttributesResponse(GetParameterAttributesResponse {
                    parameter_list: self.array(m, "ParameterList", |p| {
                        Ok(ParameterAttribute {
                            name: self.token(p, "Name")?,
                            notification: self.num(p, "Notification")?,
                            access_list: self.strings(p, "AccessList")?,
                        })
                    })?,
                })
            }
            "AddObject" => Body::AddObject(AddObject {
                object_name: self.token(m, "ObjectName")?,
                parameter_key: self.string(m, "ParameterKey")?,
            }),
            "AddObjectResponse" => Body::AddObjectResponse(AddObjectResponse {
                instance_number: self.num(m, "InstanceNumber")?,
                status: self.num(m, "Status")?,
            }),
            "DeleteObject" => Body::DeleteObject(DeleteObject {
                object_name: self.token(m, "ObjectName")?,
                parameter_key: self.string(m, "ParameterKey")?,
            }),
            "DeleteObjectResponse" => Body::DeleteObjectResponse(DeleteObjectResponse {
                status: self.num(m, "Status")?,
            }),
            "Download" => Body::Download(Download {
                command_key: self.string(m, "CommandKey")?,
                file_type: self.token(m, "FileType")?,
                url: self.token(m, "URL")?,
                username: self.string(m, "Username")?,
                password: self.string(m, "Password")?.into(),
                file_size: self.num(m, "FileSize")?,
                target_file_name: self.string(m, "TargetFileName")?,
                delay_seconds: self.num(m, "DelaySeconds")?,
                success_url: self.token(m, "SuccessURL")?,
                failure_url: self.token(m, "FailureURL")?,
            }),
            "DownloadResponse" => Body::DownloadResponse(self.transfer_response(m)?),
            "Reboot" => Body::Reboot(Reboot {
                command_key: self.string(m, "CommandKey")?,
            }),
            "RebootResponse" => Body::RebootResponse,
            "GetQueuedTransfers" => Body::GetQueuedTransfers,
            "GetQueuedTransfersResponse" => {
                Body::GetQueuedTransfersResponse(GetQueuedTransfersResponse {
                    transfer_list: self.array(m, "TransferList", |t| {
                        Ok(QueuedTransfer {
                            command_key: self.string(t, "CommandKey")?,
                            state: self.num(t, "State")?,
                        })
                    })?,
                })
            }
            "ScheduleInform" => Body::ScheduleInform(ScheduleInform {
                delay_seconds: self.num(m, "DelaySeconds")?,
                command_key: self.string(m, "CommandKey")?,
            }),
            "ScheduleInformResponse" => Body::ScheduleInformResponse,
            "Upload" => Body::Upload(Upload {
                command_key: self.string(m, "CommandKey")?,
                file_type: self.token(m, "FileType")?,
                url: self.token(m, "URL")?,
                username: self.string(m, "Username")?,
                password: self.string(m, "Password")?.into(),
                delay_seconds: self.num(m, "DelaySeconds")?,
            }),
            "UploadResponse" => Body::UploadResponse(self.transfer_response(m)?),
            "FactoryReset" => Body::FactoryReset,
            "FactoryResetResponse" => Body::FactoryResetResponse,
            "GetAllQueuedTransfers" => Body::GetAllQueuedTransfers,
            "GetAllQueuedTransfersResponse" => {
                Body::GetAllQueuedTransfersResponse(GetAllQueuedTransfersResponse {
                    transfer_list: self.array(m, "TransferList", |t| {
                        Ok(AllQueuedTransfer {
                            command_key: self.string(t, "CommandKey")?,
                            state: self.num(t, "State")?,
                            is_download: self.bool_of(t, "IsDownload")?,
                            file_type: self.token(t, "FileType")?,
                            file_size: self.num(t, "FileSize")?,
                            target_file_name: self.string(t, "TargetFileName")?,
                        })
                    })?,
                })
            }
            "ScheduleDownload" => Body::ScheduleDownload(ScheduleDownload {
                command_key: self.string(m, "CommandKey")?,
                file_type: self.token(m, "FileType")?,
                url: self.token(m, "URL")?,
                username: self.string(m, "Username")?,
                password: self.string(m, "Password")?.into(),
                file_size: self.num(m, "FileSize")?,
                target_file_name: self.string(m, "TargetFileName")?,
                time_window_list: self.array(m, "TimeWindowList", |w| {
                    Ok(TimeWindow {
                        window_start: self.num(w, "WindowStart")?,
                        window_end: self.num(w, "WindowEnd")?,
                        window_mode: self.token(w, "WindowMode")?,
                        user_message: self.string(w, "UserMessage")?,
                        max_retries: self.num(w, "MaxRetries")?,
                    })
                })?,
            }),
            "ScheduleDownloadResponse" => Body::ScheduleDownloadResponse,
            "CancelTransfer" => Body::CancelTransfer(CancelTransfer {
                command_key: self.string(m, "CommandKey")?,
            }),
            "CancelTransferResponse" => Body::CancelTransferResponse,
            "ChangeDUState" => Body::ChangeDuState(ChangeDuState {
                operations: doc
                    .children(m)
                    .filter(|&c| doc.name(c) == "Operations")
                    .map(|op| self.du_operation(op))
                    .collect::<Result<Vec<_>, _>>()?,
                command_key: self.opt_token(m, "CommandKey"),
            }),
            "ChangeDUStateResponse" => Body::ChangeDuStateResponse,
            "Fault" => Body::Fault(self.soap_fault(m)?),
            other => {
                return Err(DecodeError::UnknownMethod {
                    name: other.to_owned(),
                    position: doc.position(m),
                });
            }
        })
    }

    fn du_operation(&self, op: NodeId) -> Result<DuOperation, DecodeError> {
        let doc = self.doc;
        let opt = |name: &'static str| self.opt_token(op, name);
        // The operation is named by xsi:type; CPEs that omit it are read by the shape of the
        // content (only an Install has a URL and no UUID requirement; only an Uninstall lacks a URL).
        let kind = doc
            .attr(op, "type")
            .map(|t| t.rsplit(':').next().unwrap_or(t).to_owned());
        let kind = kind.as_deref().unwrap_or_else(|| {
            if doc.child(op, "URL").is_none() {
                "UninstallOpStruct"
            } else if doc.child(op, "Version").is_some() {
                "UpdateOpStruct"
            } else {
                "InstallOpStruct"
            }
        });
        Ok(match kind {
            k if k.starts_with("Install") => DuOperation::Install {
                url: self.token(op, "URL")?,
                uuid: opt("UUID"),
                username: opt("Username"),
                password: opt("Password").map(Password::from),
                execution_env_ref: opt("ExecutionEnvRef"),
            },
            k if k.starts_with("Update") => DuOperation::Update {
                uuid: opt("UUID"),
                version: opt("Version"),
                url: opt("URL"),
                username: opt("Username"),
                password: opt("Password").map(Password::from),
            },
            k if k.starts_with("Uninstall") => DuOperation::Uninstall {
                uuid: self.token(op, "UUID")?,
                version: opt("Version"),
                execution_env_ref: opt("ExecutionEnvRef"),
            },
            _ => {
                return Err(self.invalid(
                    op,
                    "an InstallOpStruct, UpdateOpStruct or UninstallOpStruct",
                ));
            }
        })
    }

    fn du_results(&self, m: NodeId) -> Result<Vec<DuOpResult>, DecodeError> {
        let doc = self.doc;
        doc.children(m)
            .filter(|&c| doc.name(c) == "Results")
            .map(|r| {
                let f = self.req(r, "Fault")?;
                Ok(DuOpResult {
                    uuid: self.token(r, "UUID")?,
                    deployment_unit_ref: self.token(r, "DeploymentUnitRef")?,
                    version: self.token(r, "Version")?,
                    current_state: self.token(r, "CurrentState")?,
                    resolved: self.bool_of(r, "Resolved")?,
                    execution_unit_ref_list: self.token(r, "ExecutionUnitRefList")?,
                    start_time: self.time(r, "StartTime")?,
                    complete_time: self.time(r, "CompleteTime")?,
                    fault: DuFault {
                        fault_code: self.fault_code(f, "FaultCode")?,
                        fault_string: self.opt_token(f, "FaultString").unwrap_or_default(),
                    },
                    operation_performed: self.opt_token(r, "OperationPerformed"),
                })
            })
            .collect()
    }

    fn soap_fault(&self, m: NodeId) -> Result<SoapFault, DecodeError> {
        let doc = self.doc;
        let class_text = self.token(m, "faultcode")?;
        let fault_class = if class_text.rsplit(':').next() == Some("Server") {
            SoapFaultClass::Server
        } else {
            SoapFaultClass::Client
        };
        let detail = self.req(m, "detail")?;
        let cwmp = self.req(detail, "Fault")?;
        Ok(SoapFault {
            fault_class,
            fault_string: self.opt_token(m, "faultstring").unwrap_or_default(),
            detail: CwmpFault {
                fault_code: self.fault_code(cwmp, "FaultCode")?,
                fault_string: self.opt_token(cwmp, "FaultString").unwrap_or_default(),
                set_parameter_values_faults: doc
                    .children(cwmp)
                    .filter(|&c| doc.name(c) == "SetParameterValuesFault")
                    .map(|p| {
                        Ok(SetParameterValuesFault {
                            parameter_name: self.token(p, "ParameterName")?,
                            fault_code: self.fault_code(p, "FaultCode")?,
                            fault_string: self.opt_token(p, "FaultString").unwrap_or_default(),
                        })
                    })
                    .collect::<Result<_, DecodeError>>()?,
            },
        })
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "1" => Some(true),
        "0" => Some(false),
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

//! Strict writing of CWMP envelopes (TR-069 §3.5, Annex A).
//!
//! Everything written validates against the BBF schema of the envelope's namespace: element
//! order as in the schema, `soap-enc:arrayType` on every array, `xsi:type` on every Value, the
//! schema's length and pattern restrictions checked before writing (an [`EncodeError`] instead
//! of an invalid message), and XML escaping of all text.

use super::*;
use std::fmt::Write as _;

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP_ENC: &str = "http://schemas.xmlsoap.org/soap/encoding/";
const XSD: &str = "http://www.w3.org/2001/XMLSchema";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

pub(super) fn encode(env: &Envelope) -> Result<String, EncodeError> {
    let version = env.namespace.version();
    let needs = env.body.min_version();
    if version < needs {
        return Err(EncodeError::NotInVersion {
            message: env.body.element_name(),
            namespace: env.namespace.to_string(),
            version,
            needs,
        });
    }
    let mut w = Writer {
        out: String::with_capacity(1024),
    };
    w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap-env:Envelope xmlns:soap-env=\"");
    w.raw(SOAP_ENV);
    w.raw("\" xmlns:soap-enc=\"");
    w.raw(SOAP_ENC);
    w.raw("\" xmlns:xsd=\"");
    w.raw(XSD);
    w.raw("\" xmlns:xsi=\"");
    w.raw(XSI);
    w.raw("\" xmlns:cwmp=\"");
    w.escaped("namespace", env.namespace.as_str())?;
    w.raw("\">");
    w.header(&env.header, version)?;
    w.raw("<soap-env:Body>");
    w.body(&env.body)?;
    w.raw("</soap-env:Body></soap-env:Envelope>");
    Ok(w.out)
}

struct Writer {
    out: String,
}

/// Schema `maxLength` facets (cwmp-1-2.xsd) for the fields that have one.
mod max {
    pub const COMMAND_KEY: usize = 32;
    pub const PARAMETER_KEY: usize = 32;
    pub const NAME: usize = 256;
    pub const URL: usize = 256;
    pub const LONG_URL: usize = 1024;
    pub const CREDENTIAL: usize = 256;
    pub const FILE_NAME: usize = 256;
    pub const FILE_TYPE: usize = 64;
    pub const METHOD_NAME: usize = 64;
    pub const ACCESS_ENTITY: usize = 64;
    pub const DEVICE_ID_FIELD: usize = 64;
    pub const USER_MESSAGE: usize = 256;
    pub const DU_VERSION: usize = 32;
}

impl Writer {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Escapes text for element content and attribute values. Characters XML 1.0 cannot carry
    /// at all are refused; `\r` is written as a reference because a reader would otherwise
    /// normalise it away.
    fn escaped(&mut self, field: &'static str, s: &str) -> Result<(), EncodeError> {
        for c in s.chars() {
            match c {
                '<' => self.out.push_str("&lt;"),
                '>' => self.out.push_str("&gt;"),
                '&' => self.out.push_str("&amp;"),
                '"' => self.out.push_str("&quot;"),
                '\'' => self.out.push_str("&apos;"),
                '\r' => self.out.push_str("&#xD;"),
                '\t' | '\n' => self.out.push(c),
                c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {
                    return Err(EncodeError::Invalid {
                        field,
                        reason: format!(
                            "character U+{:04X} cannot be written in XML 1.0",
                            c as u32
                        ),
                    });
                }
                c => self.out.push(c),
            }
        }
        Ok(())
    }

    fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn text(&mut self, name: &'static str, value: &str) -> Result<(), EncodeError> {
        self.open(name);
        self.escaped(name, value)?;
        self.close(name);
        Ok(())
    }

    /// A string with a schema `maxLength` (counted in characters, as XML Schema does).
    fn bounded(&mut self, name: &'static str, value: &str, max: usize) -> Result<(), EncodeError> {
        let len = value.chars().count();
        if len > max {
            return Err(EncodeError::Invalid {
                field: name,
                reason: format!("{len} characters, at most {max} allowed"),
            });
        }
        self.text(name, value)
    }

    fn number(&mut self, name: &str, n: impl std::fmt::Display) {
        self.open(name);
        let _ = write!(self.out, "{n}");
        self.close(name);
    }

    /// Booleans are written `1`/`0`: valid xs:boolean, and the only form some CPEs accept.
    fn boolean(&mut self, name: &str, b: bool) {
        self.open(name);
        self.out.push(if b { '1' } else { '0' });
        self.close(name);
    }

    fn time(&mut self, name: &'static str, t: &CwmpDateTime) {
        self.open(name);
        self.out.push_str(t.wire_str());
        self.close(name);
    }

    fn array_open(&mut self, name: &str, item_type: &str, len: usize) {
        let _ = write!(
            self.out,
            "<{name} soap-enc:arrayType=\"{item_type}[{len}]\">"
        );
    }

    fn strings(
        &mut self,
        name: &'static str,
        item_type: &str,
        items: &[String],
        max: usize,
    ) -> Result<(), EncodeError> {
        self.array_open(name, item_type, items.len());
        for s in items {
            self.bounded("string", s, max)?;
        }
        self.close(name);
        Ok(())
    }

    fn fault_code(
        &mut self,
        name: &'static str,
        code: FaultCode,
        allow_success: bool,
    ) -> Result<(), EncodeError> {
        let n = code.code();
        let valid = matches!(n, 8000..=8899 | 9000..=9899) || (allow_success && n == 0);
        if !valid {
            return Err(EncodeError::Invalid {
                field: name,
                reason: format!("fault code {n} is outside the CWMP ranges"),
            });
        }
        self.number(name, n);
        Ok(())
    }

    fn file_type(&mut self, name: &'static str, file_type: &str) -> Result<(), EncodeError> {
        if !is_file_type(file_type) {
            return Err(EncodeError::Invalid {
                field: name,
                reason: format!(
                    "{file_type:?} is not a TR-069 file type (\"1 Firmware Upgrade Image\", \"X <OUI> <name>\")"
                ),
            });
        }
        self.bounded(name, file_type, max::FILE_TYPE)
    }

    fn header(&mut self, h: &Header, version: CwmpVersion) -> Result<(), EncodeError> {
        // SessionTimeout (1.3) and the 1.4 negotiation headers exist only in the cwmp-1-2
        // namespace; a 1.0/1.1 peer never sent them and must not receive them.
        let modern = version >= CwmpVersion::V1_2;
        let any = h.id.is_some()
            || h.hold_requests.is_some()
            || (modern
                && (h.session_timeout.is_some()
                    || h.supported_cwmp_versions.is_some()
                    || h.use_cwmp_version.is_some()));
        if !any {
            return Ok(());
        }
        self.raw("<soap-env:Header>");
        if let Some(id) = &h.id {
            self.raw("<cwmp:ID soap-env:mustUnderstand=\"1\">");
            self.escaped("ID", id)?;
            self.raw("</cwmp:ID>");
        }
        if let Some(hold) = h.hold_requests {
            self.raw("<cwmp:HoldRequests soap-env:mustUnderstand=\"1\">");
            self.raw(if hold { "1" } else { "0" });
            self.raw("</cwmp:HoldRequests>");
        }
        if modern {
            if let Some(t) = h.session_timeout {
                let _ = write!(
                    self.out,
                    "<cwmp:SessionTimeout soap-env:mustUnderstand=\"0\">{t}</cwmp:SessionTimeout>"
                );
            }
            if let Some(v) = &h.supported_cwmp_versions {
                self.raw("<cwmp:SupportedCWMPVersions soap-env:mustUnderstand=\"0\">");
                self.escaped("SupportedCWMPVersions", v)?;
                self.raw("</cwmp:SupportedCWMPVersions>");
            }
            if let Some(v) = &h.use_cwmp_version {
                self.raw("<cwmp:UseCWMPVersion soap-env:mustUnderstand=\"1\">");
                self.escaped("UseCWMPVersion", v)?;
                self.raw("</cwmp:UseCWMPVersion>");
            }
        }
        self.raw("</soap-env:Header>");
        Ok(())
    }

    fn parameter_values(&mut self, list: &[ParameterValue]) -> Result<(), EncodeError> {
        self.array_open("ParameterList", "cwmp:ParameterValueStruct", list.len());
        for p in list {
            self.raw("<ParameterValueStruct>");
            self.bounded("Name", &p.name, max::NAME)?;
            let _ = write!(
                self.out,
                "<Value xsi:type=\"{}\">",
                p.value_type.wire_name()
            );
            if !p.value_type.accepts(&p.value) {
                return Err(EncodeError::Invalid {
                    field: "Value",
                    reason: format!(
                        "{:?} is not a valid {} (parameter {})",
                        p.value,
                        p.value_type.wire_name(),
                        p.name
                    ),
                });
            }
            self.escaped("Value", &p.value)?;
            self.raw("</Value></ParameterValueStruct>");
        }
        self.close("ParameterList");
        Ok(())
    }

    fn transfer_fault(&mut self, f: &TransferFault) -> Result<(), EncodeError> {
        self.open("FaultStruct");
        self.fault_code("FaultCode", f.fault_code, true)?;
        self.text("FaultString", &f.fault_string)?;
        self.close("FaultStruct");
        Ok(())
    }

    fn opt_text(
        &mut self,
        name: &'static str,
        v: &Option<String>,
        max: usize,
    ) -> Result<(), EncodeError> {
        match v {
            Some(v) => self.bounded(name, v, max),
            None => Ok(()),
        }
    }

    fn body(&mut self, body: &Body) -> Result<(), EncodeError> {
        let name = body.element_name();
        if let Body::Fault(f) = body {
            return self.soap_fault(f);
        }
        self.raw("<cwmp:");
        self.raw(name);
        self.raw(">");
        match body {
            Body::Inform(m) => {
                self.open("DeviceId");
                self.bounded(
                    "Manufacturer",
                    &m.device_id.manufacturer,
                    max::DEVICE_ID_FIELD,
                )?;
                if m.device_id.oui.len() != 6
                    || !m
                        .device_id
                        .oui
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
                {
                    return Err(EncodeError::Invalid {
                        field: "OUI",
                        reason: format!(
                            "{:?} is not six uppercase hexadecimal digits",
                            m.device_id.oui
                        ),
                    });
                }
                self.text("OUI", &m.device_id.oui)?;
                self.bounded(
                    "ProductClass",
                    &m.device_id.product_class,
                    max::DEVICE_ID_FIELD,
                )?;
                self.bounded(
                    "SerialNumber",
                    &m.device_id.serial_number,
                    max::DEVICE_ID_FIELD,
                )?;
                self.close("DeviceId");
                self.array_open("Event", "cwmp:EventStruct", m.event.len());
                for e in &m.event {
                    let code = e.event_code.to_string();
                    if !is_event_code(&code) {
                        return Err(EncodeError::Invalid {
                            field: "EventCode",
                            reason: format!("{code:?} is not a TR-069 event code"),
                        });
                    }
                    self.open("EventStruct");
                    self.bounded("EventCode", &code, 64)?;
                    self.bounded("CommandKey", &e.command_key, max::COMMAND_KEY)?;
                    self.close("EventStruct");
                }
                self.close("Event");
                self.number("MaxEnvelopes", m.max_envelopes);
                self.time("CurrentTime", &m.current_time);
                self.number("RetryCount", m.retry_count);
                self.parameter_values(&m.parameter_list)?;
            }
            Body::InformResponse(m) => self.number("MaxEnvelopes", m.max_envelopes),
            Body::TransferComplete(m) => {
                self.bounded("CommandKey", &m.command_key, max::COMMAND_KEY)?;
                self.transfer_fault(&m.fault_struct)?;
                self.time("StartTime", &m.start_time);
                self.time("CompleteTime", &m.complete_time);
            }
            Body::AutonomousTransferComplete(m) => {
                self.bounded("AnnounceURL", &m.announce_url, max::LONG_URL)?;
                self.bounded("TransferURL", &m.transfer_url, max::LONG_URL)?;
                self.boolean("IsDownload", m.is_download);
                self.file_type("FileType", &m.file_type)?;
                self.number("FileSize", m.file_size);
                self.bounded("TargetFileName", &m.target_file_name, max::FILE_NAME)?;
                self.transfer_fault(&m.fault_struct)?;
                self.time("StartTime", &m.start_time);
                self.time("CompleteTime", &m.complete_time);
            }
            Body::RequestDownload(m) => {
                self.file_type("FileType", &m.file_type)?;
                if m.file_type_arg.len() > 16 {
                    return Err(EncodeError::Invalid {
                        field: "FileTypeArg",
                        reason: "at most 16 arguments".into(),
                    });
                }
                self.array_open("FileTypeArg", "cwmp:ArgStruct", m.file_type_arg.len());
                for a in &m.file_type_arg {
                    self.open("ArgStruct");
                    self.bounded("Name", &a.name, 64)?;
                    self.bounded("Value", &a.value, 256)?;
                    self.close("ArgStruct");
                }
                self.close("FileTypeArg");
            }
            Body::Kicked(m) => {
                self.bounded("Command", &m.command, 32)?;
                self.bounded("Referer", &m.referer, 64)?;
                self.bounded("Arg", &m.arg, 256)?;
                self.bounded("Next", &m.next, 1024)?;
            }
            Body::KickedResponse(m) => self.bounded("NextURL", &m.next_url, max::LONG_URL)?,
            Body::DuStateChangeComplete(m) => {
                self.du_results(&m.results, false)?;
                self.opt_text("CommandKey", &m.command_key, max::COMMAND_KEY)?;
            }
            Body::AutonomousDuStateChangeComplete(m) => self.du_results(&m.results, true)?,
            Body::GetRpcMethodsResponse(m) => {
                self.strings("MethodList", "xsd:string", &m.method_list, max::METHOD_NAME)?;
            }
            Body::SetParameterValues(m) => {
                self.parameter_values(&m.parameter_list)?;
                self.bounded("ParameterKey", &m.parameter_key, max::PARAMETER_KEY)?;
            }
            Body::SetParameterValuesResponse(m) => self.number("Status", m.status),
            Body::GetParameterValues(m) => {
                self.strings(
                    "ParameterNames",
                    "xsd:string",
                    &m.parameter_names,
                    max::NAME,
                )?;
            }
            Body::GetParameterValuesResponse(m) => self.parameter_values(&m.parameter_list)?,
            Body::GetParameterNames(m) => {
                self.bounded("ParameterPath", &m.parameter_path, max::NAME)?;
                self.boolean("NextLevel", m.next_level);
            }
            Body::GetParameterNamesResponse(m) => {
                self.array_open(
                    "ParameterList",
                    "cwmp:ParameterInfoStruct",
                    m.parameter_list.len(),
                );
                for p in &m.parameter_list {
                    self.open("ParameterInfoStruct");
                    self.bounded("Name", &p.name, max::NAME)?;
                    self.boolean("Writable", p.writable);
                    self.close("ParameterInfoStruct");
                }
                self.close("ParameterList");
            }
            Body::SetParameterAttributes(m) => {
                if m.parameter_list.is_empty() {
                    return Err(EncodeError::Invalid {
                        field: "ParameterList",
                        reason: "at least one entry is required".into(),
                    });
                }
                self.array_open(
                    "ParameterList",
                    "cwmp:SetParameterAttributesStruct",
                    m.parameter_list.len(),
                );
                for p in &m.parameter_list {
                    self.open("SetParameterAttributesStruct");
                    self.bounded("Name", &p.name, max::NAME)?;
                    self.boolean("NotificationChange", p.notification_change);
                    self.notification(p.notification)?;
                    self.boolean("AccessListChange", p.access_list_change);
                    self.strings(
                        "AccessList",
                        "xsd:string",
                        &p.access_list,
                        max::ACCESS_ENTITY,
                    )?;
                    self.close("SetParameterAttributesStruct");
                }
                self.close("ParameterList");
            }
            Body::GetParameterAttributes(m) => {
                self.strings(
                    "ParameterNames",
                    "xsd:string",
                    &m.parameter_names,
                    max::NAME,
                )?;
            }
            Body::GetParameterAttributesResponse(m) => {
                self.array_open(
                    "ParameterList",
                    "cwmp:ParameterAttributeStruct",
                    m.parameter_list.len(),
                );
                for p in &m.parameter_list {
                    self.open("ParameterAttributeStruct");
                    self.bounded("Name", &p.name, max::NAME)?;
                    self.notification(p.notification)?;
                    self.strings(
                        "AccessList",
                        "xsd:string",
                        &p.access_list,
                        max::ACCESS_ENTITY,
                    )?;
                    self.close("ParameterAttributeStruct");
                }
                self.close("ParameterList");
            }
            Body::AddObject(m) => {
                self.bounded("ObjectName", &m.object_name, max::NAME)?;
                self.bounded("ParameterKey", &m.parameter_key, max::PARAMETER_KEY)?;
            }
            Body::AddObjectResponse(m) => {
                if m.instance_number == 0 {
                    return Err(EncodeError::Invalid {
                        field: "InstanceNumber",
                        reason: "instance numbers start at 1".into(),
                    });
                }
                self.number("InstanceNumber", m.instance_number);
                self.status(m.status)?;
            }
            Body::DeleteObject(m) => {
                self.bounded("ObjectName", &m.object_name, max::NAME)?;
                self.bounded("ParameterKey", &m.parameter_key, max::PARAMETER_KEY)?;
            }
            Body::DeleteObjectResponse(m) => self.status(m.status)?,
            Body::Download(m) => {
                self.bounded("CommandKey", &m.command_key, max::COMMAND_KEY)?;
                self.file_type("FileType", &m.file_type)?;
                self.bounded("URL", &m.url, max::URL)?;
                self.bounded("Username", &m.username, max::CREDENTIAL)?;
                self.bounded("Password", m.password.expose(), max::CREDENTIAL)?;
                self.number("FileSize", m.file_size);
                self.bounded("TargetFileName", &m.target_file_name, max::FILE_NAME)?;
                self.number("DelaySeconds", m.delay_seconds);
                self.bounded("SuccessURL", &m.success_url, max::URL)?;
                self.bounded("FailureURL", &m.failure_url, max::URL)?;
            }
            Body::DownloadResponse(r) | Body::UploadResponse(r) => {
                self.status(r.status)?;
                self.time("StartTime", &r.start_time);
                self.time("CompleteTime", &r.complete_time);
            }
            Body::Reboot(m) => self.bounded("CommandKey", &m.command_key, max::COMMAND_KEY)?,
            Body::GetQueuedTransfersResponse(m) => {
                if m.transfer_list.len() > 16 {
                    return Err(EncodeError::Invalid {
                        field: "TransferList",
                        reason: "at most 16 transfers".into(),
                    });
                }
                self.array_open(
                    "TransferList",
                    "cwmp:QueuedTransferStruct",
                    m.transfer_list.len(),
                );
                for t in &m.transfer_list {
                    self.open("QueuedTransferStruct");
                    self.bounded("CommandKey", &t.command_key, max::COMMAND_KEY)?;
                    self.transfer_state(t.state)?;
                    self.close("QueuedTransferStruct");
                }
                self.close("TransferList");
            }
            Body::ScheduleInform(m) => {
                if m.delay_seconds == 0 {
                    return Err(EncodeError::Invalid {
                        field: "DelaySeconds",
                        reason: "must be greater than 0".into(),
                    });
                }
                self.number("DelaySeconds", m.delay_seconds);
                self.bounded("CommandKey", &m.command_key, max::COMMAND_KEY)?;
            }
            Body::Upload(m) => {
                self.bounded("CommandKey", &m.command_key, max::COMMAND_KEY)?;
                self.file_type("FileType", &m.file_type)?;
                self.bounded("URL", &m.url, max::URL)?;
                self.bounded("Username", &m.username, max::CREDENTIAL)?;
                self.bounded("Password", m.password.expose(), max::CREDENTIAL)?;
                self.number("DelaySeconds", m.delay_seconds);
            }
            Body::GetAllQueuedTransfersResponse(m) => {
                if m.transfer_list.len() > 16 {
                    return Err(EncodeError::Invalid {
                        field: "TransferList",
                        reason: "at most 16 transfers".into(),
                    });
                }
                self.array_open(
                    "TransferList",
                    "cwmp:AllQueuedTransferStruct",
                    m.transfer_list.len(),
                );
                for t in &m.transfer_list {
                    self.open("AllQueuedTransferStruct");
                    self.bounded("CommandKey", &t.command_key, max::COMMAND_KEY)?;
                    self.transfer_state(t.state)?;
                    self.boolean("IsDownload", t.is_download);
                    self.file_type("FileType", &t.file_type)?;
                    self.number("FileSize", t.file_size);
                    self.bounded("TargetFileName", &t.target_file_name, max::FILE_NAME)?;
                    self.close("AllQueuedTransferStruct");
                }
                self.close("TransferList");
            }
            Body::ScheduleDownload(m) => {
                self.bounded("CommandKey", &m.command_key, max::COMMAND_KEY)?;
                self.file_type("FileType", &m.file_type)?;
                self.bounded("URL", &m.url, max::URL)?;
                self.bounded("Username", &m.username, max::CREDENTIAL)?;
                self.bounded("Password", m.password.expose(), max::CREDENTIAL)?;
                self.number("FileSize", m.file_size);
                self.bounded("TargetFileName", &m.target_file_name, max::FILE_NAME)?;
                if !(1..=2).contains(&m.time_window_list.len()) {
                    return Err(EncodeError::Invalid {
                        field: "TimeWindowList",
                        reason: "one or two windows are required".into(),
                    });
                }
                self.array_open(
                    "TimeWindowList",
                    "cwmp:TimeWindowStruct",
                    m.time_window_list.len(),
                );
                for t in &m.time_window_list {
                    self.open("TimeWindowStruct");
                    self.number("WindowStart", t.window_start);
                    self.number("WindowEnd", t.window_end);
                    if !is_file_type(&t.window_mode) {
                        return Err(EncodeError::Invalid {
                            field: "WindowMode",
                            reason: format!(
                                "{:?} is not a TR-069 window mode (\"1 At Any Time\")",
                                t.window_mode
                            ),
                        });
                    }
                    self.bounded("WindowMode", &t.window_mode, 64)?;
                    self.bounded("UserMessage", &t.user_message, max::USER_MESSAGE)?;
                    self.number("MaxRetries", t.max_retries);
                    self.close("TimeWindowStruct");
                }
                self.close("TimeWindowList");
            }
            Body::CancelTransfer(m) => {
                self.bounded("CommandKey", &m.command_key, max::COMMAND_KEY)?
            }
            Body::ChangeDuState(m) => {
                if m.operations.is_empty() {
                    return Err(EncodeError::Invalid {
                        field: "Operations",
                        reason: "at least one operation is required".into(),
                    });
                }
                for op in &m.operations {
                    self.du_operation(op)?;
                }
                self.opt_text("CommandKey", &m.command_key, max::COMMAND_KEY)?;
            }
            Body::TransferCompleteResponse
            | Body::AutonomousTransferCompleteResponse
            | Body::RequestDownloadResponse
            | Body::DuStateChangeCompleteResponse
            | Body::AutonomousDuStateChangeCompleteResponse
            | Body::GetRpcMethods
            | Body::SetParameterAttributesResponse
            | Body::RebootResponse
            | Body::GetQueuedTransfers
            | Body::ScheduleInformResponse
            | Body::FactoryReset
            | Body::FactoryResetResponse
            | Body::GetAllQueuedTransfers
            | Body::ScheduleDownloadResponse
            | Body::CancelTransferResponse
            | Body::ChangeDuStateResponse
            | Body::Fault(_) => {}
        }
        self.raw("</cwmp:");
        self.raw(name);
        self.raw(">");
        Ok(())
    }

    fn status(&mut self, status: i32) -> Result<(), EncodeError> {
        if !matches!(status, 0 | 1) {
            return Err(EncodeError::Invalid {
                field: "Status",
                reason: format!("{status} is neither 0 nor 1"),
            });
        }
        self.number("Status", status);
        Ok(())
    }

    fn transfer_state(&mut self, state: i32) -> Result<(), EncodeError> {
        if !(1..=3).contains(&state) {
            return Err(EncodeError::Invalid {
                field: "State",
                reason: format!("{state} is not 1, 2 or 3"),
            });
        }
        self.number("State", state);
        Ok(())
    }

    fn notification(&mut self, n: u8) -> Result<(), EncodeError> {
        if n > 6 {
            return Err(EncodeError::Invalid {
                field: "Notification",
                reason: format!("{n} is not between 0 and 6"),
            });
        }
        self.number("Notification", n);
        Ok(())
    }

    fn du_operation(&mut self, op: &DuOperation) -> Result<(), EncodeError> {
        let check_uuid = |u: &Option<String>| match u {
            Some(u) if !is_uuid(u) => Err(EncodeError::Invalid {
                field: "UUID",
                reason: format!("{u:?} is not a UUID"),
            }),
            _ => Ok(()),
        };
        match op {
            DuOperation::Install {
                url,
                uuid,
                username,
                password,
                execution_env_ref,
            } => {
                check_uuid(uuid)?;
                self.raw("<Operations xsi:type=\"cwmp:InstallOpStruct\">");
                self.bounded("URL", url, max::LONG_URL)?;
                self.opt_text("UUID", uuid, 36)?;
                self.opt_text("Username", username, max::CREDENTIAL)?;
                self.opt_text(
                    "Password",
                    &password.as_ref().map(|p| p.expose().to_owned()),
                    max::CREDENTIAL,
                )?;
                self.opt_text("ExecutionEnvRef", execution_env_ref, 256)?;
            }
            DuOperation::Update {
                uuid,
                version,
                url,
                username,
                password,
            } => {
                check_uuid(uuid)?;
                self.raw("<Operations xsi:type=\"cwmp:UpdateOpStruct\">");
                self.opt_text("UUID", uuid, 36)?;
                self.opt_text("Version", version, max::DU_VERSION)?;
                self.opt_text("URL", url, max::LONG_URL)?;
                self.opt_text("Username", username, max::CREDENTIAL)?;
                self.opt_text(
                    "Password",
                    &password.as_ref().map(|p| p.expose().to_owned()),
                    max::CREDENTIAL,
                )?;
            }
            DuOperation::Uninstall {
                uuid,
                version,
                execution_env_ref,
            } => {
                check_uuid(&Some(uuid.clone()))?;
                self.raw("<Operations xsi:type=\"cwmp:UninstallOpStruct\">");
                self.bounded("UUID", uuid, 36)?;
                self.opt_text("Version", version, max::DU_VERSION)?;
                self.opt_text("ExecutionEnvRef", execution_env_ref, 256)?;
            }
        }
        self.raw("</Operations>");
        Ok(())
    }

    fn du_results(&mut self, results: &[DuOpResult], autonomous: bool) -> Result<(), EncodeError> {
        if results.is_empty() {
            return Err(EncodeError::Invalid {
                field: "Results",
                reason: "at least one result is required".into(),
            });
        }
        for r in results {
            if !is_uuid(&r.uuid) {
                return Err(EncodeError::Invalid {
                    field: "UUID",
                    reason: format!("{:?} is not a UUID", r.uuid),
                });
            }
            if !matches!(
                r.current_state.as_str(),
                "Installed" | "Uninstalled" | "Failed"
            ) {
                return Err(EncodeError::Invalid {
                    field: "CurrentState",
                    reason: format!(
                        "{:?} is not Installed, Uninstalled or Failed",
                        r.current_state
                    ),
                });
            }
            self.raw(if autonomous {
                "<Results xsi:type=\"cwmp:AutonOpResultStruct\">"
            } else {
                "<Results>"
            });
            self.text("UUID", &r.uuid)?;
            self.text("DeploymentUnitRef", &r.deployment_unit_ref)?;
            self.bounded("Version", &r.version, max::DU_VERSION)?;
            self.text("CurrentState", &r.current_state)?;
            self.boolean("Resolved", r.resolved);
            self.text("ExecutionUnitRefList", &r.execution_unit_ref_list)?;
            self.time("StartTime", &r.start_time);
            self.time("CompleteTime", &r.complete_time);
            self.open("Fault");
            self.fault_code("FaultCode", r.fault.fault_code, true)?;
            self.text("FaultString", &r.fault.fault_string)?;
            self.close("Fault");
            if autonomous {
                let op = r.operation_performed.as_deref().unwrap_or_default();
                if !matches!(op, "Install" | "Update" | "Uninstall") {
                    return Err(EncodeError::Invalid {
                        field: "OperationPerformed",
                        reason: format!("{op:?} is not Install, Update or Uninstall"),
                    });
                }
                self.text("OperationPerformed", op)?;
            }
            self.raw("</Results>");
        }
        Ok(())
    }

    fn soap_fault(&mut self, f: &SoapFault) -> Result<(), EncodeError> {
        self.raw("<soap-env:Fault><faultcode>");
        self.raw(match f.fault_class {
            SoapFaultClass::Client => "Client",
            SoapFaultClass::Server => "Server",
        });
        self.raw("</faultcode>");
        self.text("faultstring", &f.fault_string)?;
        self.raw("<detail><cwmp:Fault>");
        self.fault_code("FaultCode", f.detail.fault_code, false)?;
        self.text("FaultString", &f.detail.fault_string)?;
        for p in &f.detail.set_parameter_values_faults {
            self.open("SetParameterValuesFault");
            self.text("ParameterName", &p.parameter_name)?;
            self.fault_code("FaultCode", p.fault_code, false)?;
            self.text("FaultString", &p.fault_string)?;
            self.close("SetParameterValuesFault");
        }
        self.raw("</cwmp:Fault></detail></soap-env:Fault>");
        Ok(())
    }
}

/// `[1-9]\d*( \S+)+` or `X \S+ .+` (DownloadFileType, UploadFileType, TransferFileType and
/// TimeWindowModeValueType share these patterns).
fn is_file_type(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("X ") {
        return matches!(rest.split_once(' '), Some((vendor, name)) if !vendor.is_empty() && !vendor.contains(char::is_whitespace) && !name.is_empty() && !name.contains(['\n', '\r']));
    }
    let (number, rest) = s.split_at(s.bytes().take_while(u8::is_ascii_digit).count());
    !number.is_empty() && !number.starts_with('0') && words(rest)
}

/// `( \S+)+`: one or more words, each preceded by exactly one space.
fn words(rest: &str) -> bool {
    rest.starts_with(' ')
        && rest[1..]
            .split(' ')
            .all(|w| !w.is_empty() && !w.contains(char::is_whitespace))
}

/// EventCodeType: `\d+( \S+)+`, `M \S+`, `X \S+ .+`.
fn is_event_code(s: &str) -> bool {
    if let Some(m) = s.strip_prefix("M ") {
        return !m.is_empty() && !m.contains(char::is_whitespace);
    }
    if s.starts_with("X ") {
        return is_file_type(s);
    }
    let (number, rest) = s.split_at(s.bytes().take_while(u8::is_ascii_digit).count());
    !number.is_empty() && words(rest)
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_patterns() {
        for ok in [
            "1 Firmware Upgrade Image",
            "3 Vendor Configuration File",
            "X 00562B CA Certificate",
            "3 Vendor Configuration File 2",
        ] {
            assert!(is_file_type(ok), "{ok}");
        }
        for bad in ["", "Firmware", "0 Firmware", "1", "1  Double", "X 00562B"] {
            assert!(!is_file_type(bad), "{bad}");
        }
        for ok in [
            "0 BOOTSTRAP",
            "M Reboot",
            "X 00562B Thing happened",
            "14 FUTURE EVENT",
        ] {
            assert!(is_event_code(ok), "{ok}");
        }
        for bad in ["", "BOOT", "M ", "M Two Words"] {
            assert!(!is_event_code(bad), "{bad}");
        }
        assert!(is_uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(!is_uuid("123e4567e89b12d3a456426614174000"));
    }
}

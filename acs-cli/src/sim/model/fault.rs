//! The CPE faults the model answers with (TR-069 A.5.1).

/// The CPE fault codes this model produces (TR-069 A.5.1); `code()` gives the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum FaultCode {
    MethodNotSupported = 9000,
    RequestDenied = 9001,
    InternalError = 9002,
    InvalidArguments = 9003,
    ResourcesExceeded = 9004,
    InvalidParameterName = 9005,
    InvalidParameterType = 9006,
    InvalidParameterValue = 9007,
    NotWritable = 9008,
    NotificationRejected = 9009,
}

impl FaultCode {
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The standard FaultString.
    pub fn message(self) -> &'static str {
        match self {
            FaultCode::MethodNotSupported => "Method not supported",
            FaultCode::RequestDenied => "Request denied",
            FaultCode::InternalError => "Internal error",
            FaultCode::InvalidArguments => "Invalid arguments",
            FaultCode::ResourcesExceeded => "Resources exceeded",
            FaultCode::InvalidParameterName => "Invalid parameter name",
            FaultCode::InvalidParameterType => "Invalid parameter type",
            FaultCode::InvalidParameterValue => "Invalid parameter value",
            FaultCode::NotWritable => "Attempt to set a non-writable parameter",
            FaultCode::NotificationRejected => "Notification request rejected",
        }
    }
}

/// One SetParameterValuesFault entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterFault {
    pub name: String,
    pub code: u32,
    pub message: String,
}

/// A CPE fault (SOAP Fault detail `cwmp:Fault`). For SetParameterValues the code is 9003 with
/// one [`ParameterFault`] per failing parameter; other operations leave the list empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CWMP fault {code}: {message}")]
pub struct CpeFault {
    pub code: u32,
    pub message: String,
    pub parameter_faults: Vec<ParameterFault>,
}

impl CpeFault {
    /// A fault with the standard FaultString followed by `detail` (when not empty).
    pub fn new(code: FaultCode, detail: impl AsRef<str>) -> CpeFault {
        let detail = detail.as_ref();
        let message = if detail.is_empty() {
            code.message().to_owned()
        } else {
            format!("{}: {detail}", code.message())
        };
        CpeFault {
            code: code.code(),
            message,
            parameter_faults: Vec::new(),
        }
    }

    /// 9000 for an RPC the profile does not list.
    pub fn method_not_supported(method: &str) -> CpeFault {
        CpeFault::new(FaultCode::MethodNotSupported, method)
    }

    pub(super) fn invalid_name(name: impl AsRef<str>) -> CpeFault {
        CpeFault::new(FaultCode::InvalidParameterName, name)
    }

    pub(super) fn invalid_arguments(detail: impl AsRef<str>) -> CpeFault {
        CpeFault::new(FaultCode::InvalidArguments, detail)
    }
}

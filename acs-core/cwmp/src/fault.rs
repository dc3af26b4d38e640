//! CWMP fault codes and the SOAP fault that carries them (TR-069 Annex A §A.5).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A CWMP fault code (TR-069 §A.5.1 ACS faults, §A.5.2 CPE faults).
///
/// Known codes are variants so that callers match on meaning, not numbers; the vendor ranges and
/// anything else a device invents keep their number. Serialised as the bare number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultCode {
    /// 8000
    AcsMethodNotSupported,
    /// 8001
    AcsRequestDenied,
    /// 8002
    AcsInternalError,
    /// 8003
    AcsInvalidArguments,
    /// 8004
    AcsResourcesExceeded,
    /// 8005: asks the CPE to retry the Inform or TransferComplete later.
    AcsRetryRequest,
    /// 8006 (CWMP 1.4): no common protocol version.
    AcsVersionIncompatible,
    /// 9000
    MethodNotSupported,
    /// 9001
    RequestDenied,
    /// 9002
    InternalError,
    /// 9003
    InvalidArguments,
    /// 9004
    ResourcesExceeded,
    /// 9005
    InvalidParameterName,
    /// 9006
    InvalidParameterType,
    /// 9007
    InvalidParameterValue,
    /// 9008
    NonWritableParameter,
    /// 9009
    NotificationRequestRejected,
    /// 9010
    DownloadFailure,
    /// 9011
    UploadFailure,
    /// 9012
    FileTransferServerAuthenticationFailure,
    /// 9013
    UnsupportedTransferProtocol,
    /// 9014
    MulticastJoinFailure,
    /// 9015
    FileServerUnreachable,
    /// 9016
    FileAccessFailure,
    /// 9017
    DownloadIncomplete,
    /// 9018
    FileCorrupted,
    /// 9019
    FileAuthenticationFailure,
    /// 9020
    DownloadTimeWindowsExhausted,
    /// 9021
    CancellationNotPermitted,
    /// 9022
    InvalidUuid,
    /// 9023
    UnknownExecutionEnvironment,
    /// 9024
    DisabledExecutionEnvironment,
    /// 9025
    DeploymentUnitMismatch,
    /// 9026
    DuplicateDeploymentUnit,
    /// 9027
    SystemResourcesExceeded,
    /// 9028
    UnknownDeploymentUnit,
    /// 9029
    InvalidDeploymentUnitState,
    /// 9030
    DowngradeNotPermitted,
    /// 9031
    VersionNotSpecified,
    /// 9032
    VersionAlreadyExists,
    /// 8800–8899: ACS vendor range.
    AcsVendor(u32),
    /// 9800–9899: CPE vendor range.
    CpeVendor(u32),
    /// Any other number, kept as sent (the success value 0 of a TransferComplete FaultStruct lands
    /// here too).
    Other(u32),
}

macro_rules! fault_table {
    ($($variant:ident = $num:literal, $meaning:literal;)*) => {
        impl FaultCode {
            /// The number on the wire.
            pub const fn code(self) -> u32 {
                match self {
                    $(FaultCode::$variant => $num,)*
                    FaultCode::AcsVendor(n) | FaultCode::CpeVendor(n) | FaultCode::Other(n) => n,
                }
            }

            /// Maps a wire number onto its variant; never fails.
            pub const fn from_code(n: u32) -> Self {
                match n {
                    $($num => FaultCode::$variant,)*
                    8800..=8899 => FaultCode::AcsVendor(n),
                    9800..=9899 => FaultCode::CpeVendor(n),
                    _ => FaultCode::Other(n),
                }
            }

            /// The meaning TR-069 gives the code, for operators reading a fault.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(FaultCode::$variant => $meaning,)*
                    FaultCode::AcsVendor(_) => "ACS vendor-specific fault",
                    FaultCode::CpeVendor(_) => "CPE vendor-specific fault",
                    FaultCode::Other(0) => "No fault",
                    FaultCode::Other(_) => "Unknown fault code",
                }
            }
        }
    };
}

fault_table! {
    AcsMethodNotSupported = 8000, "Method not supported";
    AcsRequestDenied = 8001, "Request denied";
    AcsInternalError = 8002, "Internal error";
    AcsInvalidArguments = 8003, "Invalid arguments";
    AcsResourcesExceeded = 8004, "Resources exceeded";
    AcsRetryRequest = 8005, "Retry request";
    AcsVersionIncompatible = 8006, "ACS version incompatible with CPE";
    MethodNotSupported = 9000, "Method not supported";
    RequestDenied = 9001, "Request denied";
    InternalError = 9002, "Internal error";
    InvalidArguments = 9003, "Invalid arguments";
    ResourcesExceeded = 9004, "Resources exceeded";
    InvalidParameterName = 9005, "Invalid parameter name";
    InvalidParameterType = 9006, "Invalid parameter type";
    InvalidParameterValue = 9007, "Invalid parameter value";
    NonWritableParameter = 9008, "Attempt to set a non-writable parameter";
    NotificationRequestRejected = 9009, "Notification request rejected";
    DownloadFailure = 9010, "File transfer failure";
    UploadFailure = 9011, "Upload failure";
    FileTransferServerAuthenticationFailure = 9012, "File transfer server authentication failure";
    UnsupportedTransferProtocol = 9013, "Unsupported protocol for file transfer";
    MulticastJoinFailure = 9014, "File transfer failure: unable to join multicast group";
    FileServerUnreachable = 9015, "File transfer failure: unable to contact file server";
    FileAccessFailure = 9016, "File transfer failure: unable to access file";
    DownloadIncomplete = 9017, "File transfer failure: unable to complete download";
    FileCorrupted = 9018, "File transfer failure: file corrupted or unusable";
    FileAuthenticationFailure = 9019, "File transfer failure: file authentication failure";
    DownloadTimeWindowsExhausted = 9020, "File transfer failure: download not completed within the time windows";
    CancellationNotPermitted = 9021, "Cancelation of file transfer not permitted";
    InvalidUuid = 9022, "Invalid UUID format";
    UnknownExecutionEnvironment = 9023, "Unknown execution environment";
    DisabledExecutionEnvironment = 9024, "Disabled execution environment";
    DeploymentUnitMismatch = 9025, "Deployment unit to execution environment mismatch";
    DuplicateDeploymentUnit = 9026, "Duplicate deployment unit";
    SystemResourcesExceeded = 9027, "System resources exceeded";
    UnknownDeploymentUnit = 9028, "Unknown deployment unit";
    InvalidDeploymentUnitState = 9029, "Invalid deployment unit state";
    DowngradeNotPermitted = 9030, "Invalid deployment unit update: downgrade not permitted";
    VersionNotSpecified = 9031, "Invalid deployment unit update: version not specified";
    VersionAlreadyExists = 9032, "Invalid deployment unit update: version already exists";
}

impl FaultCode {
    /// Faults from the ACS side (8000–8899) carry SOAP faultcode `Server`, CPE faults that blame
    /// the request carry `Client`. TR-069 Table 130 gives a class per code; the split here
    /// follows it for the common codes and defaults to `Client` for request errors.
    pub const fn soap_class(self) -> SoapFaultClass {
        match self {
            FaultCode::AcsInternalError
            | FaultCode::AcsResourcesExceeded
            | FaultCode::AcsRetryRequest
            | FaultCode::InternalError
            | FaultCode::ResourcesExceeded
            | FaultCode::DownloadFailure
            | FaultCode::UploadFailure
            | FaultCode::FileTransferServerAuthenticationFailure
            | FaultCode::MulticastJoinFailure
            | FaultCode::FileServerUnreachable
            | FaultCode::FileAccessFailure
            | FaultCode::DownloadIncomplete
            | FaultCode::FileCorrupted
            | FaultCode::FileAuthenticationFailure
            | FaultCode::DownloadTimeWindowsExhausted
            | FaultCode::SystemResourcesExceeded
            | FaultCode::AcsVendor(_)
            | FaultCode::CpeVendor(_) => SoapFaultClass::Server,
            _ => SoapFaultClass::Client,
        }
    }

    /// Whether a task that failed with this fault is worth sending again later: transient
    /// resource and transfer problems are, malformed requests are not.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            FaultCode::InternalError
                | FaultCode::ResourcesExceeded
                | FaultCode::DownloadFailure
                | FaultCode::UploadFailure
                | FaultCode::FileServerUnreachable
                | FaultCode::DownloadIncomplete
                | FaultCode::DownloadTimeWindowsExhausted
                | FaultCode::SystemResourcesExceeded
        )
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.meaning())
    }
}

impl Serialize for FaultCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.code())
    }
}

impl<'de> Deserialize<'de> for FaultCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(FaultCode::from_code)
    }
}

/// The SOAP 1.1 `faultcode` class (SOAP 1.1 §4.4.1, TR-069 §A.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SoapFaultClass {
    /// The request was at fault.
    Client,
    /// The receiver was at fault.
    Server,
}

/// One failing parameter of a SetParameterValues fault (TR-069 §A.5, `SetParameterValuesFault`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetParameterValuesFault {
    /// The parameter the CPE refused.
    pub parameter_name: String,
    /// Why (9005–9008 typically).
    pub fault_code: FaultCode,
    /// The CPE's explanation; may be empty.
    pub fault_string: String,
}

/// The `cwmp:Fault` detail of a SOAP fault (TR-069 §A.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CwmpFault {
    /// The fault code.
    pub fault_code: FaultCode,
    /// The sender's explanation; may be empty.
    pub fault_string: String,
    /// Per-parameter detail, only for SetParameterValues (top-level code 9003).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_parameter_values_faults: Vec<SetParameterValuesFault>,
}

impl CwmpFault {
    /// A fault with no per-parameter detail, worded with the code's standard meaning.
    pub fn new(code: FaultCode) -> Self {
        CwmpFault {
            fault_code: code,
            fault_string: code.meaning().to_owned(),
            set_parameter_values_faults: Vec::new(),
        }
    }
}

/// A SOAP Fault carrying a CWMP fault (SOAP 1.1 §4.4, TR-069 §A.5): the answer to any request
/// that could not be carried out, in either direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoapFault {
    /// `Client` or `Server`.
    pub fault_class: SoapFaultClass,
    /// The SOAP `faultstring`; TR-069 fixes it to `CWMP fault`.
    pub fault_string: String,
    /// The CWMP detail.
    pub detail: CwmpFault,
}

impl SoapFault {
    /// Wraps a CWMP fault with the SOAP class its code implies.
    pub fn new(detail: CwmpFault) -> Self {
        SoapFault {
            fault_class: detail.fault_code.soap_class(),
            fault_string: "CWMP fault".to_owned(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_back_to_its_number() {
        for n in (7990..9900).chain([0, 1, 65535, u32::MAX]) {
            assert_eq!(FaultCode::from_code(n).code(), n, "code {n}");
        }
        assert_eq!(FaultCode::from_code(9010), FaultCode::DownloadFailure);
        assert_eq!(FaultCode::from_code(8850), FaultCode::AcsVendor(8850));
        assert_eq!(FaultCode::from_code(9850), FaultCode::CpeVendor(9850));
        assert_eq!(FaultCode::from_code(9033), FaultCode::Other(9033));
    }

    #[test]
    fn transfer_faults_have_operator_meanings() {
        for n in 9010..=9020 {
            let m = FaultCode::from_code(n).meaning();
            assert!(
                m.contains("transfer") || m.contains("Upload") || m.contains("protocol"),
                "{n}: {m}"
            );
        }
    }
}

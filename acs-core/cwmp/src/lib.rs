//! `acs-cwmp`: the CWMP (TR-069) SOAP codec and session state machine of `acs`.
//!
//! It implements the SOAP messages of TR-069 Amendment 6 (CWMP 1.4) in both directions, as
//! summarised in the spec digest `../shared/cwmp/SPEC.md` (beside the repository; the official
//! schemas are in `../shared/cwmp/xsd/`). Every message type cites its TR-069 Annex A section.
//!
//! Pure: types, [`decode`] and [`encode`], and the [`session`] state machine; no I/O, no
//! clock, no storage. It serves both ends of the protocol: the ACS reads what CPEs send and
//! writes its requests and answers; the CPE simulator does the reverse. Purity is enforced by
//! this crate's `Cargo.toml`, whose only dependencies are quick-xml, serde, chrono and
//! thiserror: code that wanted a socket, a file or a database would not compile here.
//!
//! Architecture invariants:
//! - Reading never panics on input, whatever the bytes (property tests feed it arbitrary
//!   bytes, XML-ish noise and mutated samples).
//! - Reading never expands a DTD: a `<!DOCTYPE` is an error, only the five predefined entities
//!   and character references are resolved, and size and depth are capped ([`Limits`]) before
//!   anything grows with them.
//! - Reading is lenient: any prefixes, missing Header, SOAP-encoding noise, wrong arrayType
//!   counts, unknown value types, malformed CurrentTime are all accepted. A missing required
//!   element is a [`DecodeError::MissingElement`] naming it.
//! - Writing is strict: every message [`encode`] produces validates against the official BBF
//!   schema of its namespace (checked in CI with `validate.sh`).
//! - Every reply is written in the namespace string the peer used ([`CwmpNamespace`]).

mod decode;
mod encode;
pub mod event;
pub mod examples;
pub mod fault;
pub mod messages;
pub mod session;
pub mod value;
pub mod xml;

pub use event::{EventCode, EventStruct};
pub use fault::{CwmpFault, FaultCode, SetParameterValuesFault, SoapFault, SoapFaultClass};
pub use messages::*;
pub use value::{CwmpDateTime, ParameterValue, Password, ValueType};
pub use xml::{Limits, Position, SafeEvent, SafeReader, XmlError};

use serde::{Deserialize, Serialize};
use std::fmt;

/// A CWMP protocol version (TR-069 §1.2 and Amendments 1–6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CwmpVersion {
    /// Amendment 1, namespace cwmp-1-0.
    #[serde(rename = "1.0")]
    V1_0,
    /// Amendment 2, namespace cwmp-1-1.
    #[serde(rename = "1.1")]
    V1_1,
    /// Amendment 3, namespace cwmp-1-2.
    #[serde(rename = "1.2")]
    V1_2,
    /// Amendment 4, still namespace cwmp-1-2.
    #[serde(rename = "1.3")]
    V1_3,
    /// Amendments 5 and 6, still namespace cwmp-1-2.
    #[serde(rename = "1.4")]
    V1_4,
}

impl CwmpVersion {
    /// Every version, oldest first.
    pub const ALL: [CwmpVersion; 5] = [
        CwmpVersion::V1_0,
        CwmpVersion::V1_1,
        CwmpVersion::V1_2,
        CwmpVersion::V1_3,
        CwmpVersion::V1_4,
    ];

    /// The highest version this codec speaks.
    pub const LATEST: CwmpVersion = CwmpVersion::V1_4;

    /// `"1.2"`-style text, as in SupportedCWMPVersions.
    pub const fn as_str(self) -> &'static str {
        match self {
            CwmpVersion::V1_0 => "1.0",
            CwmpVersion::V1_1 => "1.1",
            CwmpVersion::V1_2 => "1.2",
            CwmpVersion::V1_3 => "1.3",
            CwmpVersion::V1_4 => "1.4",
        }
    }

    /// Parses `"1.2"`; surrounding whitespace is ignored.
    pub fn parse(s: &str) -> Option<Self> {
        CwmpVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == s.trim())
    }

    /// The standard namespace for this version (1.3 and 1.4 kept cwmp-1-2).
    pub const fn standard_namespace(self) -> &'static str {
        match self {
            CwmpVersion::V1_0 => "urn:dslforum-org:cwmp-1-0",
            CwmpVersion::V1_1 => "urn:dslforum-org:cwmp-1-1",
            _ => "urn:dslforum-org:cwmp-1-2",
        }
    }

    /// CWMP 1.4 version negotiation (TR-069 Amendment 5 §3.7.1.6): the highest version both in
    /// the CPE's `SupportedCWMPVersions` list and no higher than `ours`. `None` when there is no
    /// common version (fault 8006).
    pub fn negotiate(supported: &str, ours: CwmpVersion) -> Option<CwmpVersion> {
        supported
            .split(',')
            .filter_map(CwmpVersion::parse)
            .filter(|v| *v <= ours)
            .max()
    }
}

impl fmt::Display for CwmpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The exact cwmp namespace string of an envelope (TR-069 §A.2.3).
///
/// Kept verbatim because replies must echo the peer's string, including the non-standard
/// `cwmp-1-3`/`cwmp-1-4` some field devices send.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CwmpNamespace(String);

impl CwmpNamespace {
    /// The prefix every cwmp namespace shares.
    pub const PREFIX: &'static str = "urn:dslforum-org:cwmp-";

    /// Accepts any `urn:dslforum-org:cwmp-1-N` string.
    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix(Self::PREFIX)?;
        let (major, minor) = rest.split_once('-')?;
        (major.parse::<u8>().is_ok() && minor.parse::<u8>().is_ok())
            .then(|| CwmpNamespace(s.to_owned()))
    }

    /// The standard namespace of a version.
    pub fn for_version(v: CwmpVersion) -> Self {
        CwmpNamespace(v.standard_namespace().to_owned())
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The version the namespace names: cwmp-1-0 → 1.0, cwmp-1-1 → 1.1, cwmp-1-2 → 1.2 (a CPE on
    /// 1.3/1.4 says so through SupportedCWMPVersions), the non-standard cwmp-1-3/1-4 → 1.3/1.4,
    /// anything newer → the latest we speak.
    pub fn version(&self) -> CwmpVersion {
        match self.0.strip_prefix(Self::PREFIX) {
            Some("1-0") => CwmpVersion::V1_0,
            Some("1-1") => CwmpVersion::V1_1,
            Some("1-2") => CwmpVersion::V1_2,
            Some("1-3") => CwmpVersion::V1_3,
            _ => CwmpVersion::V1_4,
        }
    }

    /// Whether the official schemas describe this namespace (cwmp-1-0, 1-1, 1-2).
    pub fn is_standard(&self) -> bool {
        CwmpVersion::ALL
            .iter()
            .any(|v| v.standard_namespace() == self.0)
    }
}

impl Default for CwmpNamespace {
    /// cwmp-1-0 is what every CPE understands, used when a message carries no namespace at all.
    fn default() -> Self {
        CwmpNamespace::for_version(CwmpVersion::V1_0)
    }
}

impl fmt::Display for CwmpNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SOAP Header entries CWMP defines (TR-069 §3.5, Table 5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// `cwmp:ID`: correlates a response with its request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `cwmp:HoldRequests` (ACS → CPE): no CPE requests in the next POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_requests: Option<bool>,
    /// `cwmp:NoMoreRequests` (CWMP 1.0, deprecated): read and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_more_requests: Option<bool>,
    /// `cwmp:SessionTimeout` (CWMP 1.3, CPE → ACS): seconds the CPE waits for each response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<u32>,
    /// `cwmp:SupportedCWMPVersions` (CWMP 1.4, on the Inform), e.g. `1.0,1.1,1.2,1.3,1.4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_cwmp_versions: Option<String>,
    /// `cwmp:UseCWMPVersion` (CWMP 1.4, on the InformResponse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_cwmp_version: Option<String>,
}

/// A whole SOAP envelope: the namespace it speaks, its header and its one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The cwmp namespace string.
    #[serde(default)]
    pub namespace: CwmpNamespace,
    /// Header entries.
    #[serde(default)]
    pub header: Header,
    /// The message.
    pub body: Body,
}

impl Envelope {
    /// An envelope with only a `cwmp:ID` header.
    pub fn new(namespace: CwmpNamespace, id: Option<String>, body: Body) -> Self {
        Envelope {
            namespace,
            header: Header {
                id,
                ..Header::default()
            },
            body,
        }
    }
}

/// Why an envelope could not be read. Every variant that concerns a place in the input names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Over [`Limits::max_bytes`].
    #[error("message is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Over [`Limits::max_depth`].
    #[error("XML nested deeper than {limit} levels at {position}")]
    TooDeep {
        /// The cap.
        limit: usize,
        /// Where.
        position: Position,
    },
    /// A `<!DOCTYPE`: refused, never expanded.
    #[error("DOCTYPE declarations are not accepted (at {position})")]
    Dtd {
        /// Where.
        position: Position,
    },
    /// The input is not valid UTF-8 (nor declared ISO-8859-1).
    #[error("message is not valid UTF-8 at {position}")]
    Encoding {
        /// Where.
        position: Position,
    },
    /// A character XML 1.0 forbids (`Char`, §2.2), raw or as a character reference.
    #[error("character U+{code_point:04X} is not allowed in XML 1.0 (at {position})")]
    ForbiddenChar {
        /// The code point.
        code_point: u32,
        /// Where.
        position: Position,
    },
    /// Not well-formed XML.
    #[error("malformed XML at {position}: {message}")]
    Xml {
        /// Where.
        position: Position,
        /// What the parser said.
        message: String,
    },
    /// The root element is not a SOAP Envelope.
    #[error("root element is <{found}>, not a SOAP Envelope (at {position})")]
    NotEnvelope {
        /// The root element's local name.
        found: String,
        /// Where.
        position: Position,
    },
    /// A required element is absent.
    #[error("missing element <{element}> in <{parent}> (at {position})")]
    MissingElement {
        /// The missing element's name.
        element: &'static str,
        /// The element it should be in.
        parent: String,
        /// Where the parent starts.
        position: Position,
    },
    /// An element's text is not of the type it must be.
    #[error("<{element}> has invalid value {value:?}: expected {expected} (at {position})")]
    InvalidValue {
        /// The element.
        element: String,
        /// Its text.
        value: String,
        /// What was expected.
        expected: &'static str,
        /// Where.
        position: Position,
    },
    /// The Body has no message element.
    #[error("SOAP Body is empty (at {position})")]
    EmptyBody {
        /// Where the Body starts.
        position: Position,
    },
    /// The Body holds an element that is no CWMP method.
    #[error("unknown CWMP method <{name}> (at {position})")]
    UnknownMethod {
        /// Its local name.
        name: String,
        /// Where.
        position: Position,
    },
}

impl DecodeError {
    /// Where in the input the problem is, when it concerns a place.
    pub fn position(&self) -> Option<Position> {
        match self {
            DecodeError::TooLarge { .. } => None,
            DecodeError::TooDeep { position, .. }
            | DecodeError::Dtd { position }
            | DecodeError::Encoding { position }
            | DecodeError::ForbiddenChar { position, .. }
            | DecodeError::Xml { position, .. }
            | DecodeError::NotEnvelope { position, .. }
            | DecodeError::MissingElement { position, .. }
            | DecodeError::InvalidValue { position, .. }
            | DecodeError::EmptyBody { position }
            | DecodeError::UnknownMethod { position, .. } => Some(*position),
        }
    }
}

/// Why a message could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The message does not exist in the namespace's version of the protocol.
    #[error("{message} does not exist in CWMP {version} (namespace {namespace}); it needs {needs}")]
    NotInVersion {
        /// Element name.
        message: &'static str,
        /// The namespace asked for.
        namespace: String,
        /// Its version.
        version: CwmpVersion,
        /// The first version that has it.
        needs: CwmpVersion,
    },
    /// A value breaks a schema rule that we refuse to write.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

/// Reads an envelope with the default [`Limits`].
pub fn decode(input: &[u8]) -> Result<Envelope, DecodeError> {
    decode::decode(input, &Limits::default())
}

/// Reads an envelope under explicit limits.
pub fn decode_with_limits(input: &[u8], limits: &Limits) -> Result<Envelope, DecodeError> {
    decode::decode(input, limits)
}

/// The SOAP fault answering a message that could not be decoded, when the reason is an
/// invalid argument the CPE sent (fault 8003, TR-069 A.5.1), not a broken transport: a
/// character XML forbids. `None` for other errors, which get an HTTP 400.
///
/// The reply is written in the cwmp namespace the message named, found by a plain search
/// since the message cannot be parsed; cwmp-1-0 when it names none.
pub fn decode_fault(input: &[u8], error: &DecodeError) -> Option<Envelope> {
    if !matches!(error, DecodeError::ForbiddenChar { .. }) {
        return None;
    }
    let prefix = CwmpNamespace::PREFIX.as_bytes();
    let namespace = input
        .windows(prefix.len())
        .position(|w| w == prefix)
        .and_then(|start| {
            let rest = &input[start + prefix.len()..];
            let len = rest
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b'-')
                .count();
            std::str::from_utf8(&input[start..start + prefix.len() + len]).ok()
        })
        .and_then(CwmpNamespace::parse)
        .unwrap_or_default();
    Some(Envelope::new(
        namespace,
        None,
        Body::Fault(SoapFault::new(CwmpFault {
            fault_code: FaultCode::AcsInvalidArguments,
            fault_string: error.to_string(),
            set_parameter_values_faults: vec![],
        })),
    ))
}

/// Writes an envelope as schema-valid XML.
pub fn encode(envelope: &Envelope) -> Result<String, EncodeError> {
    encode::encode(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_versions() {
        let check = |s: &str, v: CwmpVersion, standard: bool| {
            let ns = CwmpNamespace::parse(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(ns.version(), v, "{s}");
            assert_eq!(ns.is_standard(), standard, "{s}");
        };
        check("urn:dslforum-org:cwmp-1-0", CwmpVersion::V1_0, true);
        check("urn:dslforum-org:cwmp-1-1", CwmpVersion::V1_1, true);
        check("urn:dslforum-org:cwmp-1-2", CwmpVersion::V1_2, true);
        check("urn:dslforum-org:cwmp-1-3", CwmpVersion::V1_3, false);
        check("urn:dslforum-org:cwmp-1-4", CwmpVersion::V1_4, false);
        assert!(CwmpNamespace::parse("urn:other").is_none());
        assert!(CwmpNamespace::parse("urn:dslforum-org:cwmp-x").is_none());
    }

    #[test]
    fn version_negotiation_picks_highest_common() {
        assert_eq!(
            CwmpVersion::negotiate("1.0,1.1,1.2,1.3,1.4", CwmpVersion::V1_4),
            Some(CwmpVersion::V1_4)
        );
        assert_eq!(
            CwmpVersion::negotiate("1.0, 1.2", CwmpVersion::V1_4),
            Some(CwmpVersion::V1_2)
        );
        assert_eq!(CwmpVersion::negotiate("1.4,2.0", CwmpVersion::V1_2), None);
        assert_eq!(CwmpVersion::negotiate("", CwmpVersion::V1_4), None);
    }

    #[test]
    fn device_key_escapes_separators() {
        let id = DeviceId {
            manufacturer: "Cisco".into(),
            oui: "00562b".into(),
            product_class: "CP-8851-3PCC".into(),
            serial_number: "FCH1234/5".into(),
        };
        assert_eq!(id.device_key(), "00562B-CP%2D8851%2D3PCC-FCH1234%2F5");
        let no_class = DeviceId {
            product_class: String::new(),
            ..id
        };
        assert_eq!(no_class.device_key(), "00562B-FCH1234%2F5");
    }
}

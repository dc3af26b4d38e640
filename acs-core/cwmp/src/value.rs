//! Parameter values and the scalar types they carry (TR-069 §A.2.1 data types, §A.3.2.1
//! ParameterValueStruct).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The `xsi:type` of a parameter `Value` (TR-069 §A.2.1, TR-106 §3.2).
///
/// Reading is lenient: any namespace prefix is accepted, and a type this enum does not know
/// (`xsd:string(64)`, `unsigendInt`) is kept verbatim in [`ValueType::Other`] so nothing the CPE
/// said is lost. Writing is strict: see [`ValueType::wire_name`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// xsd:string
    String,
    /// xsd:int
    Int,
    /// xsd:unsignedInt
    UnsignedInt,
    /// xsd:long
    Long,
    /// xsd:unsignedLong
    UnsignedLong,
    /// xsd:boolean
    Boolean,
    /// xsd:dateTime
    DateTime,
    /// xsd:base64Binary
    Base64Binary,
    /// xsd:hexBinary
    HexBinary,
    /// xsd:decimal
    Decimal,
    /// Anything else, exactly as the CPE wrote it (prefix included).
    Other(String),
}

impl ValueType {
    /// Parses an `xsi:type` attribute value. An absent attribute means xsd:string.
    pub fn parse(raw: &str) -> Self {
        let trimmed = raw.trim();
        let local = trimmed.rsplit_once(':').map_or(trimmed, |(_, l)| l);
        match local {
            "string" => ValueType::String,
            "int" => ValueType::Int,
            "unsignedInt" => ValueType::UnsignedInt,
            "long" => ValueType::Long,
            "unsignedLong" => ValueType::UnsignedLong,
            "boolean" => ValueType::Boolean,
            "dateTime" => ValueType::DateTime,
            "base64Binary" | "base64" => ValueType::Base64Binary,
            "hexBinary" => ValueType::HexBinary,
            "decimal" => ValueType::Decimal,
            _ => ValueType::Other(trimmed.to_owned()),
        }
    }

    /// The local name of a known XML Schema type.
    pub const fn local_name(&self) -> Option<&'static str> {
        Some(match self {
            ValueType::String => "string",
            ValueType::Int => "int",
            ValueType::UnsignedInt => "unsignedInt",
            ValueType::Long => "long",
            ValueType::UnsignedLong => "unsignedLong",
            ValueType::Boolean => "boolean",
            ValueType::DateTime => "dateTime",
            ValueType::Base64Binary => "base64Binary",
            ValueType::HexBinary => "hexBinary",
            ValueType::Decimal => "decimal",
            ValueType::Other(_) => return None,
        })
    }

    /// The `xsi:type` written on the wire. An unknown type is written as `xsd:string`: the value
    /// is opaque text to us, and an invented QName would make the message fail the schema.
    pub fn wire_name(&self) -> &'static str {
        match self {
            ValueType::String | ValueType::Other(_) => "xsd:string",
            ValueType::Int => "xsd:int",
            ValueType::UnsignedInt => "xsd:unsignedInt",
            ValueType::Long => "xsd:long",
            ValueType::UnsignedLong => "xsd:unsignedLong",
            ValueType::Boolean => "xsd:boolean",
            ValueType::DateTime => "xsd:dateTime",
            ValueType::Base64Binary => "xsd:base64Binary",
            ValueType::HexBinary => "xsd:hexBinary",
            ValueType::Decimal => "xsd:decimal",
        }
    }

    /// Whether `value` is a lexically valid instance of this type, as the schema checks it.
    /// Unknown types accept anything.
    pub fn accepts(&self, value: &str) -> bool {
        let v = value.trim();
        match self {
            ValueType::String | ValueType::Other(_) => true,
            ValueType::Int => v.parse::<i32>().is_ok(),
            ValueType::UnsignedInt => v.strip_prefix('+').unwrap_or(v).parse::<u32>().is_ok(),
            ValueType::Long => v.parse::<i64>().is_ok(),
            ValueType::UnsignedLong => v.strip_prefix('+').unwrap_or(v).parse::<u64>().is_ok(),
            ValueType::Boolean => matches!(v, "true" | "false" | "1" | "0"),
            ValueType::DateTime => is_xsd_datetime(v),
            ValueType::Base64Binary => v.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'+' | b'/' | b'=' | b' ' | b'\n' | b'\r' | b'\t')
            }),
            ValueType::HexBinary => {
                v.len().is_multiple_of(2) && v.bytes().all(|b| b.is_ascii_hexdigit())
            }
            ValueType::Decimal => is_decimal(v),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Other(raw) => f.write_str(raw),
            known => f.write_str(known.wire_name()),
        }
    }
}

impl Serialize for ValueType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ValueType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| ValueType::parse(&s))
    }
}

fn is_decimal(v: &str) -> bool {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// Checks the xs:dateTime lexical form `[-]YYYY-MM-DDThh:mm:ss[.f+][Z|(+|-)hh:mm]`.
pub(crate) fn is_xsd_datetime(v: &str) -> bool {
    let body = v.strip_prefix('-').unwrap_or(v);
    let b = body.as_bytes();
    let digits_in =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() < 19
        || !digits_in(0..4)
        || b[4] != b'-'
        || !digits_in(5..7)
        || b[7] != b'-'
        || !digits_in(8..10)
        || b[10] != b'T'
        || !digits_in(11..13)
        || b[13] != b':'
        || !digits_in(14..16)
        || b[16] != b':'
        || !digits_in(17..19)
    {
        return false;
    }
    let num = |r: std::ops::Range<usize>| body[r].parse::<u32>().unwrap_or(u32::MAX);
    let (month, day, hour, minute, second) =
        (num(5..7), num(8..10), num(11..13), num(14..16), num(17..19));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 24
        || minute > 59
        || second > 59
    {
        return false;
    }
    let mut rest = &body[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest.as_bytes() {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// An xs:dateTime as it travels in CWMP (TR-069 §A.2.1).
///
/// CPEs send times without a zone, with fractions, or malformed; TR-069 also uses the sentinel
/// `0001-01-01T00:00:00Z` for "unknown". So the raw text is what is kept, and interpretation is
/// on demand: an Inform is never rejected for its CurrentTime.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CwmpDateTime(String);

impl CwmpDateTime {
    /// The "unknown time" value TR-069 prescribes (§A.3.2.8 StartTime/CompleteTime).
    pub const UNKNOWN: &'static str = "0001-01-01T00:00:00Z";

    /// Keeps the text exactly as received.
    pub fn from_raw(raw: impl Into<String>) -> Self {
        CwmpDateTime(raw.into())
    }

    /// The unknown time.
    pub fn unknown() -> Self {
        CwmpDateTime(Self::UNKNOWN.to_owned())
    }

    /// A UTC time in whole seconds (some CPEs reject fractions).
    pub fn from_utc(t: chrono::DateTime<chrono::Utc>) -> Self {
        CwmpDateTime(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    }

    /// The text as received or constructed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Interprets the text: RFC 3339 first, then a zone-less form taken as UTC. `None` for
    /// malformed text and for the unknown-time sentinel.
    pub fn to_utc(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let s = self.0.trim();
        if s.starts_with("0001-01-01") {
            return None;
        }
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
            return Some(t.with_timezone(&chrono::Utc));
        }
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|n| n.and_utc())
    }

    /// What the writer puts on the wire: the text when it is a valid xs:dateTime, else the
    /// unknown-time sentinel, so a malformed time read from one peer can never make a message
    /// we write fail the schema.
    pub fn wire_str(&self) -> &str {
        let s = self.0.trim();
        if is_xsd_datetime(s) { s } else { Self::UNKNOWN }
    }
}

impl Default for CwmpDateTime {
    fn default() -> Self {
        CwmpDateTime::unknown()
    }
}

/// A parameter name with its value and type (`ParameterValueStruct`, TR-069 §A.3.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParameterValue {
    /// The full parameter path.
    pub name: String,
    /// The value as text; its meaning depends on `value_type`.
    pub value: String,
    /// The `xsi:type`.
    #[serde(rename = "type", default = "string_type")]
    pub value_type: ValueType,
}

fn string_type() -> ValueType {
    ValueType::String
}

impl ParameterValue {
    /// A typed value.
    pub fn new(name: impl Into<String>, value: impl Into<String>, value_type: ValueType) -> Self {
        ParameterValue {
            name: name.into(),
            value: value.into(),
            value_type,
        }
    }

    /// An xsd:string value.
    pub fn string(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(name, value, ValueType::String)
    }
}

/// A credential carried inside a CWMP message (Download/Upload/ScheduleDownload `Password`,
/// ChangeDUState operations).
///
/// Architecture invariant: secrets never reach logs, so `Debug` is redacted; serialisation
/// keeps the value because the task queue must store it and `acs cwmp encode` must write it.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Password(s.into())
    }

    /// The password itself, for writing it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty (no credentials).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "[redacted]"
        })
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Password(s.to_owned())
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Password(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_types_parse_with_any_prefix_and_keep_unknown_ones() {
        for (raw, expected) in [
            ("xsd:string", ValueType::String),
            ("xs:unsignedInt", ValueType::UnsignedInt),
            ("boolean", ValueType::Boolean),
            ("soap-enc:base64", ValueType::Base64Binary),
            ("xsd:string(64)", ValueType::Other("xsd:string(64)".into())),
            (
                "xsd:unsigendInt",
                ValueType::Other("xsd:unsigendInt".into()),
            ),
        ] {
            assert_eq!(ValueType::parse(raw), expected, "{raw}");
        }
        assert_eq!(
            ValueType::Other("xsd:string(64)".into()).wire_name(),
            "xsd:string"
        );
    }

    #[test]
    fn passwords_never_print() {
        assert_eq!(format!("{:?}", Password::new("hunter2")), "[redacted]");
        assert_eq!(
            serde_json::to_string(&Password::new("hunter2")).unwrap(),
            "\"hunter2\""
        );
    }

    #[test]
    fn datetime_lexical_check() {
        for ok in [
            "2016-01-31T13:28:09+01:00",
            "2026-11-21T09:41:15.542Z",
            "0001-01-01T00:00:00Z",
            "2020-02-02T02:02:02",
        ] {
            assert!(is_xsd_datetime(ok), "{ok}");
        }
        for bad in [
            "",
            "2016-01-31 13:28:09",
            "yesterday",
            "2016-13-01T00:00:00Z",
            "2016-01-31T13:28:09+0100",
            "2016-01-31T13:28:09.Z",
        ] {
            assert!(!is_xsd_datetime(bad), "{bad}");
        }
        assert_eq!(
            CwmpDateTime::from_raw("junk").wire_str(),
            CwmpDateTime::UNKNOWN
        );
        assert!(
            CwmpDateTime::from_raw("2020-02-02T02:02:02")
                .to_utc()
                .is_some()
        );
        assert!(CwmpDateTime::unknown().to_utc().is_none());
    }
}

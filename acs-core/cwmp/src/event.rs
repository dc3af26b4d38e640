//! Inform event codes (TR-069 §3.7.1.5, Table 7).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An Inform event code. Single events are numbered (`0 BOOTSTRAP`); cumulative events name the
/// method whose completion they report (`M Reboot`); vendors add `X <OUI> <name>` events.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventCode {
    /// `0 BOOTSTRAP`: first contact, factory reset or ACS URL change; the CPE forgot what the ACS set.
    Bootstrap,
    /// `1 BOOT`
    Boot,
    /// `2 PERIODIC`
    Periodic,
    /// `3 SCHEDULED`
    Scheduled,
    /// `4 VALUE CHANGE`
    ValueChange,
    /// `5 KICKED`
    Kicked,
    /// `6 CONNECTION REQUEST`
    ConnectionRequest,
    /// `7 TRANSFER COMPLETE`
    TransferComplete,
    /// `8 DIAGNOSTICS COMPLETE`
    DiagnosticsComplete,
    /// `9 REQUEST DOWNLOAD`
    RequestDownload,
    /// `10 AUTONOMOUS TRANSFER COMPLETE`
    AutonomousTransferComplete,
    /// `11 DU STATE CHANGE COMPLETE`
    DuStateChangeComplete,
    /// `12 AUTONOMOUS DU STATE CHANGE COMPLETE`
    AutonomousDuStateChangeComplete,
    /// `13 WAKEUP` (CWMP 1.4)
    Wakeup,
    /// `M <method>`: a cumulative event for a method that completed (`M Reboot`, `M Download`,
    /// `M X_VENDOR_Method`). Holds the method name.
    Method(String),
    /// `X <OUI> <event>`: a vendor event. Holds everything after `X `.
    Vendor(String),
    /// A numbered code this implementation does not know, kept as sent.
    Unknown(String),
}

impl EventCode {
    /// Parses a code as CPEs send it. Surrounding whitespace is ignored and repeated inner
    /// whitespace tolerated (`2  PERIODIC`), because field devices produce both; the number alone
    /// decides the standard codes, so a misspelt name is still understood.
    pub fn parse(raw: &str) -> Self {
        let s = raw.trim();
        if let Some(rest) = s.strip_prefix("M ") {
            return EventCode::Method(rest.trim().to_owned());
        }
        if let Some(rest) = s.strip_prefix("X ") {
            return EventCode::Vendor(rest.trim().to_owned());
        }
        let number = s.split_whitespace().next().unwrap_or("");
        match number {
            "0" => EventCode::Bootstrap,
            "1" => EventCode::Boot,
            "2" => EventCode::Periodic,
            "3" => EventCode::Scheduled,
            "4" => EventCode::ValueChange,
            "5" => EventCode::Kicked,
            "6" => EventCode::ConnectionRequest,
            "7" => EventCode::TransferComplete,
            "8" => EventCode::DiagnosticsComplete,
            "9" => EventCode::RequestDownload,
            "10" => EventCode::AutonomousTransferComplete,
            "11" => EventCode::DuStateChangeComplete,
            "12" => EventCode::AutonomousDuStateChangeComplete,
            "13" => EventCode::Wakeup,
            _ => EventCode::Unknown(s.to_owned()),
        }
    }

    /// The standard single events as written on the wire.
    const fn standard(&self) -> Option<&'static str> {
        Some(match self {
            EventCode::Bootstrap => "0 BOOTSTRAP",
            EventCode::Boot => "1 BOOT",
            EventCode::Periodic => "2 PERIODIC",
            EventCode::Scheduled => "3 SCHEDULED",
            EventCode::ValueChange => "4 VALUE CHANGE",
            EventCode::Kicked => "5 KICKED",
            EventCode::ConnectionRequest => "6 CONNECTION REQUEST",
            EventCode::TransferComplete => "7 TRANSFER COMPLETE",
            EventCode::DiagnosticsComplete => "8 DIAGNOSTICS COMPLETE",
            EventCode::RequestDownload => "9 REQUEST DOWNLOAD",
            EventCode::AutonomousTransferComplete => "10 AUTONOMOUS TRANSFER COMPLETE",
            EventCode::DuStateChangeComplete => "11 DU STATE CHANGE COMPLETE",
            EventCode::AutonomousDuStateChangeComplete => "12 AUTONOMOUS DU STATE CHANGE COMPLETE",
            EventCode::Wakeup => "13 WAKEUP",
            EventCode::Method(_) | EventCode::Vendor(_) | EventCode::Unknown(_) => return None,
        })
    }

    /// `M Reboot`
    pub fn m_reboot() -> Self {
        EventCode::Method("Reboot".to_owned())
    }

    /// `M Download`
    pub fn m_download() -> Self {
        EventCode::Method("Download".to_owned())
    }

    /// `M ScheduleInform`
    pub fn m_schedule_inform() -> Self {
        EventCode::Method("ScheduleInform".to_owned())
    }

    /// `M Upload`
    pub fn m_upload() -> Self {
        EventCode::Method("Upload".to_owned())
    }

    /// Whether this is the cumulative event for `method` (`M Reboot` for "Reboot").
    pub fn is_method(&self, method: &str) -> bool {
        matches!(self, EventCode::Method(m) if m == method)
    }
}

impl fmt::Display for EventCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventCode::Method(m) => write!(f, "M {m}"),
            EventCode::Vendor(v) => write!(f, "X {v}"),
            EventCode::Unknown(s) => f.write_str(s),
            standard => f.write_str(standard.standard().unwrap_or_default()),
        }
    }
}

impl Serialize for EventCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EventCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| EventCode::parse(&s))
    }
}

/// One entry of the Inform `Event` array (`EventStruct`, TR-069 §A.3.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventStruct {
    /// The event.
    pub event_code: EventCode,
    /// The CommandKey of the method a cumulative event reports; empty otherwise.
    #[serde(default)]
    pub command_key: String,
}

impl EventStruct {
    /// An event without a CommandKey.
    pub fn new(event_code: EventCode) -> Self {
        EventStruct {
            event_code,
            command_key: String::new(),
        }
    }

    /// A cumulative event with its CommandKey.
    pub fn with_key(event_code: EventCode, command_key: impl Into<String>) -> Self {
        EventStruct {
            event_code,
            command_key: command_key.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(raw: &str, expected: EventCode, written: &str) {
        let parsed = EventCode::parse(raw);
        assert_eq!(parsed, expected, "parse {raw:?}");
        assert_eq!(parsed.to_string(), written, "display {raw:?}");
    }

    #[test]
    fn parses_every_kind_of_event_code() {
        check("0 BOOTSTRAP", EventCode::Bootstrap, "0 BOOTSTRAP");
        check(" 1 BOOT ", EventCode::Boot, "1 BOOT");
        check("2  PERIODIC", EventCode::Periodic, "2 PERIODIC");
        check(
            "6 CONNECTION REQUEST",
            EventCode::ConnectionRequest,
            "6 CONNECTION REQUEST",
        );
        check("13 WAKEUP", EventCode::Wakeup, "13 WAKEUP");
        check("M Reboot", EventCode::m_reboot(), "M Reboot");
        check(
            "M X_00562B_Resync",
            EventCode::Method("X_00562B_Resync".into()),
            "M X_00562B_Resync",
        );
        check(
            "X 00562B PROVISIONED",
            EventCode::Vendor("00562B PROVISIONED".into()),
            "X 00562B PROVISIONED",
        );
        check(
            "14 FUTURE",
            EventCode::Unknown("14 FUTURE".into()),
            "14 FUTURE",
        );
        check("", EventCode::Unknown(String::new()), "");
    }
}

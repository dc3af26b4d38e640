//! Registration health of voice lines: which parameters hold a line's registration state, and
//! which changes of it matter to an operator.
//!
//! A line's state is TR-104's `…VoiceProfile.{i}.Line.{j}.Status` (`Up`, `Initializing`,
//! `Registering`, `Unregistering`, `Error`, `Testing`, `Quiescent`, `Disabled`), TR-104v2's
//! `…SIP.Client.{i}.Status`, or a vendor parameter a `[[bootstrap.profiles]]` entry names in
//! `registration`. It is kept current from Informs: on `0 BOOTSTRAP` the ACS sets active
//! notification on these parameters (TR-069 §A.3.2.4), so every change arrives as
//! `4 VALUE CHANGE` with the new value (§3.7.1.5).
//!
//! A line is *down* when it is enabled and neither registered nor on its way to be
//! (`Initializing`, `Registering` are the normal steps of a boot); going down and coming back
//! `Up` are device events (`line unregistered`, `line registered`).

use chrono::{DateTime, Utc};

use crate::storage::{Store, StoreError};

/// The state of a line that is switched off: no registration to lose.
pub const DISABLED: &str = "Disabled";
/// The state of a registered line.
pub const UP: &str = "Up";

/// The line (its object path, ending in `.`) whose registration state `name` holds, if it is
/// one: a TR-104 line or SIP client `Status`, or one of the `extra` names a profile declares
/// (whose parent object is the line).
pub fn line_of(name: &str, extra: &[String]) -> Option<String> {
    let parent = name.strip_suffix("Status").filter(|p| p.ends_with('.'));
    if let Some(parent) = parent {
        let segments: Vec<&str> = parent.trim_end_matches('.').split('.').collect();
        let n = segments.len();
        let numbered = |i: usize| segments[i].parse::<u32>().is_ok();
        let tr104 = n >= 4
            && segments[n - 2] == "Line"
            && numbered(n - 1)
            && segments[n - 4] == "VoiceProfile"
            && numbered(n - 3);
        let sip_client = n >= 4
            && segments[n - 2] == "Client"
            && numbered(n - 1)
            && segments[n - 3] == "SIP"
            && segments.contains(&"VoiceService");
        if tr104 || sip_client {
            return Some(parent.to_owned());
        }
    }
    extra
        .iter()
        .any(|e| e == name)
        .then(|| name.rsplit_once('.').map(|(p, _)| format!("{p}.")))
        .flatten()
}

/// Every registration state TR-104 (v1 and v2) defines: the labels of the per-state metric.
/// Anything else a device reports is counted as `other`, so a device cannot grow the
/// metric's label set.
pub const STATES: [&str; 13] = [
    "Up",
    "Initializing",
    "Registering",
    "Unregistering",
    "Deregistering",
    "Error",
    "Error_Misconfigured",
    "Error_Network",
    "Error_Registration",
    "Testing",
    "Quiescent",
    "Disabled",
    "other",
];

/// The metric label of a reported state.
pub fn state_label(status: &str) -> &'static str {
    STATES
        .iter()
        .find(|s| **s == status)
        .copied()
        .unwrap_or("other")
}

/// Whether a line in `status` has lost (or never got) its registration.
pub fn is_down(status: &str) -> bool {
    !matches!(status, UP | DISABLED | "Initializing" | "Registering")
}

/// What a change of a line's state means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// The line went down (`status` says how).
    Unregistered {
        /// The line's object path.
        line: String,
        /// Its state now.
        status: String,
    },
    /// A line that was down is registered again.
    Registered {
        /// The line's object path.
        line: String,
    },
}

impl LineEvent {
    /// A change from `from` (unknown before: `None`) to `to`, if it is one.
    pub fn of(line: &str, from: Option<&str>, to: &str) -> Option<LineEvent> {
        let was_down = from.is_some_and(is_down);
        if !was_down && is_down(to) {
            Some(LineEvent::Unregistered {
                line: line.to_owned(),
                status: to.to_owned(),
            })
        } else if was_down && to == UP {
            Some(LineEvent::Registered {
                line: line.to_owned(),
            })
        } else {
            None
        }
    }

    /// The device event that records it.
    pub fn event_code(&self) -> String {
        match self {
            LineEvent::Unregistered { line, status } => {
                format!("line unregistered: {line} is {status}")
            }
            LineEvent::Registered { line } => format!("line registered: {line}"),
        }
    }
}

/// Stores the line states among `params` (name, value) that a device reported, and records
/// each change that matters as a device event, in one transaction. Costs nothing when no
/// parameter is a line's state.
pub async fn record<'a>(
    store: &Store,
    device_id: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    at: DateTime<Utc>,
) -> Result<Vec<LineEvent>, StoreError> {
    let extra = store.registration_names();
    let lines: Vec<(String, String)> = params
        .into_iter()
        .filter_map(|(name, value)| {
            // A state is a short enumeration; a longer one is cut, not stored whole.
            let value: String = value.trim().chars().take(64).collect();
            Some((line_of(name, &extra)?, value))
        })
        .collect();
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    store.record_line_states(device_id, &lines, at).await
}

/// Asks the device to report every change of the line states among `names` (what a read
/// returned): a SetParameterAttributes with active notification (2) for those not known to
/// have it, unless one is already queued. After a factory reset the stored attributes are
/// forgotten (the device has its defaults again), so the bootstrap read sets it anew.
pub async fn watch<'a>(
    store: &Store,
    device_id: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Option<i64>, StoreError> {
    let extra = store.registration_names();
    let mut wanted = Vec::new();
    for name in names {
        if line_of(name, &extra).is_none() {
            continue;
        }
        let known = store
            .get_parameters(device_id, Some(name))
            .await?
            .into_iter()
            .find(|p| p.name == name)
            .and_then(|p| p.notification);
        if known != Some(2) {
            wanted.push(name.to_owned());
        }
    }
    if wanted.is_empty()
        || store
            .unfinished_task_of_kind(device_id, "set_parameter_attributes")
            .await?
            .is_some()
    {
        return Ok(None);
    }
    let spec = crate::tasks::TaskSpec::SetParameterAttributes {
        attributes: wanted
            .into_iter()
            .map(|name| crate::cwmp::SetParameterAttributesStruct {
                name,
                notification_change: true,
                notification: 2,
                access_list_change: false,
                access_list: Vec::new(),
            })
            .collect(),
    };
    let task = store
        .enqueue_task(&crate::storage::NewTask::for_spec(device_id, &spec))
        .await?;
    Ok(Some(task.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_states_are_recognised_by_their_tr104_names_or_a_profile() {
        let none: &[String] = &[];
        assert_eq!(
            line_of(
                "Device.Services.VoiceService.1.VoiceProfile.1.Line.2.Status",
                none
            )
            .as_deref(),
            Some("Device.Services.VoiceService.1.VoiceProfile.1.Line.2.")
        );
        assert_eq!(
            line_of(
                "InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.Line.1.Status",
                none
            )
            .as_deref(),
            Some("InternetGatewayDevice.Services.VoiceService.1.VoiceProfile.1.Line.1.")
        );
        assert_eq!(
            line_of("Device.Services.VoiceService.1.SIP.Client.3.Status", none).as_deref(),
            Some("Device.Services.VoiceService.1.SIP.Client.3.")
        );
        for other in [
            "Device.Services.VoiceService.1.VoiceProfile.1.Line.2.CallState",
            "Device.Services.VoiceService.1.VoiceProfile.1.Line.Status",
            "Device.Ethernet.Interface.1.Status",
            "Device.Services.VoiceService.1.VoiceProfile.1.Line.2.SIP.Status",
            "Status",
            "",
        ] {
            assert_eq!(line_of(other, none), None, "{other}");
        }
        let vendor = vec!["Device.X_CISCO_Ext.1.RegistrationState".to_owned()];
        assert_eq!(
            line_of("Device.X_CISCO_Ext.1.RegistrationState", &vendor).as_deref(),
            Some("Device.X_CISCO_Ext.1.")
        );
    }

    #[test]
    fn only_going_down_and_coming_back_are_events() {
        let l = "D.Line.1.";
        let down = |from, to| LineEvent::of(l, from, to);
        // A boot: disabled, registering, up — nothing to tell.
        assert_eq!(down(None, "Registering"), None);
        assert_eq!(down(Some("Registering"), "Up"), None);
        assert_eq!(down(None, "Up"), None);
        assert_eq!(
            down(Some("Up"), "Disabled"),
            None,
            "switched off on purpose"
        );
        // Lost, then back.
        assert_eq!(
            down(Some("Up"), "Error"),
            Some(LineEvent::Unregistered {
                line: l.into(),
                status: "Error".into()
            })
        );
        assert_eq!(
            down(None, "Error").map(|e| e.event_code()),
            Some(format!("line unregistered: {l} is Error"))
        );
        assert_eq!(down(Some("Error"), "Unregistering"), None, "still down");
        assert_eq!(
            down(Some("Error"), "Up"),
            Some(LineEvent::Registered { line: l.into() })
        );
        assert_eq!(down(Some("Error"), "Registering"), None, "not back yet");
        assert!(is_down("Error") && is_down("Quiescent") && !is_down("Disabled"));
    }
}

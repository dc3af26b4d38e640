//! Rollouts: where each device of a job stands, derived from its stored task, the file it was
//! sent and what the device last reported.
//!
//! Nothing here is stored: a device's rollout state is computed from its task (state, result
//! with `transfer_complete`), the device row (SoftwareVersion, last Inform) and the file row
//! (`version`), so it is the same after a restart and can never drift from the facts.
//!
//! ```text
//! pending ─release─▶ queued ─▶ sent ─DownloadResponse 1─▶ transferring ─TransferComplete 0─▶ installed ─Inform with the version─▶ verified
//!                                  └─DownloadResponse 0──────────────────────────────────────▶ installed
//! any step ─fault / expiry / TransferComplete fault / another version after install─▶ failed
//! ```

use serde::{Deserialize, Serialize};

use crate::cwmp::FaultCode;
use crate::storage::{DeviceRow, TaskRow, TaskState};

/// Fault code recorded for a device that came back with another SoftwareVersion than the file's
/// (an ACS vendor code: the CPE reported no fault).
pub const VERSION_MISMATCH_FAULT: i32 = 8850;

/// Where one device of a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Not released yet (a job with a concurrency limit).
    Pending,
    /// Released; waiting for the device's next session.
    Queued,
    /// The request went out; waiting for the answer.
    Sent,
    /// The CPE accepted a Download and has not reported its TransferComplete yet.
    Transferring,
    /// TransferComplete without fault (or the task finished without a transfer to wait for);
    /// final when the file has no version.
    Installed,
    /// The device reported the file's version as its SoftwareVersion.
    Verified,
    /// Fault, expiry, a TransferComplete fault, or another version after the install.
    Failed,
    /// Cancelled (the job was cancelled or stopped before the device got its task).
    Cancelled,
}

impl RolloutState {
    /// Whether the device counts against the job's concurrency limit.
    pub fn in_flight(self) -> bool {
        matches!(
            self,
            RolloutState::Queued | RolloutState::Sent | RolloutState::Transferring
        )
    }
}

/// One device's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceOutcome {
    /// The state.
    pub state: RolloutState,
    /// For `failed`: the CWMP fault code (or [`VERSION_MISMATCH_FAULT`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_code: Option<i32>,
    /// For `failed`: what the CPE (or the ACS) said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_string: Option<String>,
    /// For `failed`: what TR-069 says the code means.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
}

impl DeviceOutcome {
    fn state(state: RolloutState) -> DeviceOutcome {
        DeviceOutcome {
            state,
            fault_code: None,
            fault_string: None,
            meaning: None,
        }
    }

    fn failed(code: i32, text: impl Into<String>) -> DeviceOutcome {
        let meaning = if code == VERSION_MISMATCH_FAULT {
            "Installed version differs from the file's version".to_owned()
        } else {
            FaultCode::from_code(code.max(0) as u32)
                .meaning()
                .to_owned()
        };
        DeviceOutcome {
            state: RolloutState::Failed,
            fault_code: Some(code),
            fault_string: Some(text.into()),
            meaning: Some(meaning),
        }
    }
}

/// How many devices are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutCounts {
    /// Not released yet.
    pub pending: i64,
    /// Released, not sent.
    pub queued: i64,
    /// Sent, unanswered.
    pub sent: i64,
    /// Transfer under way.
    pub transferring: i64,
    /// Installed, version not (yet) confirmed.
    pub installed: i64,
    /// Installed and reporting the file's version.
    pub verified: i64,
    /// Failed.
    pub failed: i64,
    /// Cancelled.
    pub cancelled: i64,
}

impl RolloutCounts {
    /// Adds one device.
    pub fn add(&mut self, state: RolloutState) {
        *match state {
            RolloutState::Pending => &mut self.pending,
            RolloutState::Queued => &mut self.queued,
            RolloutState::Sent => &mut self.sent,
            RolloutState::Transferring => &mut self.transferring,
            RolloutState::Installed => &mut self.installed,
            RolloutState::Verified => &mut self.verified,
            RolloutState::Failed => &mut self.failed,
            RolloutState::Cancelled => &mut self.cancelled,
        } += 1;
    }

    /// Devices counting against the concurrency limit.
    pub fn in_flight(&self) -> i64 {
        self.queued + self.sent + self.transferring
    }
}

/// Where the device of `task` stands. `version` is the version the file installs (when known);
/// `device` is the device as stored (for its SoftwareVersion and last Inform).
pub fn outcome(task: &TaskRow, version: Option<&str>, device: Option<&DeviceRow>) -> DeviceOutcome {
    match task.state {
        TaskState::Held => DeviceOutcome::state(RolloutState::Pending),
        TaskState::Queued => DeviceOutcome::state(RolloutState::Queued),
        TaskState::Sent => DeviceOutcome::state(RolloutState::Sent),
        TaskState::Cancelled => DeviceOutcome::state(RolloutState::Cancelled),
        TaskState::Expired => DeviceOutcome::failed(
            crate::cwmp::FaultCode::AcsRequestDenied.code() as i32,
            "expired before the device could be reached",
        ),
        TaskState::Fault => DeviceOutcome::failed(
            task.fault_code.unwrap_or(0),
            task.fault_string.clone().unwrap_or_default(),
        ),
        TaskState::Done => done_outcome(task, version, device),
    }
}

fn done_outcome(
    task: &TaskRow,
    version: Option<&str>,
    device: Option<&DeviceRow>,
) -> DeviceOutcome {
    let result = task.result.as_ref();
    let transfer = result.and_then(|r| r.transfer_complete.as_ref());
    // Status 0 in the DownloadResponse: applied in the session, no TransferComplete follows.
    let applied_at_once = result.and_then(|r| r.download_status()) == Some(0);
    let installed_at = match transfer {
        Some(t) => {
            if t.fault_code != 0 {
                return DeviceOutcome::failed(t.fault_code, t.fault_string.clone());
            }
            result.and_then(|r| r.confirmed_at).or(task.finished_at)
        }
        None if applied_at_once || task.kind != "download" => task.finished_at,
        None => return DeviceOutcome::state(RolloutState::Transferring),
    };
    let (Some(version), Some(device)) = (version, device) else {
        return DeviceOutcome::state(RolloutState::Installed);
    };
    let reported = device.software_version.as_deref().unwrap_or_default();
    if version_matches(reported, version) {
        return DeviceOutcome::state(RolloutState::Verified);
    }
    // An Inform after the install that still reports another version: the image did not take.
    if installed_at.is_some_and(|at| device.last_inform > at) {
        return DeviceOutcome::failed(
            VERSION_MISMATCH_FAULT,
            format!("the device reports SoftwareVersion {reported:?}, the file is {version:?}"),
        );
    }
    DeviceOutcome::state(RolloutState::Installed)
}

/// Whether a reported SoftwareVersion is `version`. Cisco MPP phones report
/// `sip88xx.12-0-3MPP-5` for the image `sip88xx.12-0-3MPP-5.loads` (SPEC §9), so a file
/// version given either with or without the image prefix matches.
pub fn version_matches(reported: &str, version: &str) -> bool {
    let (reported, version) = (reported.trim(), version.trim());
    if reported.is_empty() || version.is_empty() {
        return false;
    }
    strip_image(reported).eq_ignore_ascii_case(strip_image(version))
}

/// `sip88xx.12-0-3MPP-5` → `12-0-3MPP-5`: drops an image prefix (a first dotted part with a
/// letter in it), so `12.0.3` stays whole.
fn strip_image(v: &str) -> &str {
    match v.split_once('.') {
        Some((prefix, rest)) if prefix.chars().any(|c| c.is_ascii_alphabetic()) => rest,
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpp_versions_match_with_or_without_the_image_prefix() {
        assert!(version_matches("sip88xx.12-0-3MPP-5", "12-0-3MPP-5"));
        assert!(version_matches(
            "sip88xx.12-0-3MPP-5",
            "sip88xx.12-0-3MPP-5"
        ));
        assert!(version_matches("12-0-3MPP-5", "sip88xx.12-0-3MPP-5"));
        assert!(!version_matches("sip88xx.12-0-2MPP", "12-0-3MPP-5"));
        assert!(!version_matches("", "12-0-3MPP-5"));
        assert!(version_matches("12.0.3", "12.0.3"));
        assert!(!version_matches("12.0.3", "0.3"));
    }
}

//! The provisioning policy (idempotence, one push at a time, backoff, loop protection); no I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Item;
use crate::rollout::{self, RolloutState, VERSION_MISMATCH_FAULT};
use crate::storage::{DeviceRow, ProvisionStateRow, TaskRow};

/// Where one item stands for one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Pushed; its task is not finished.
    Pending,
    /// Done (for firmware: the device reports the version).
    Applied,
    /// The push failed; retried after `next_attempt_at`.
    Failed,
    /// The image installed but the device reports another version; not pushed again.
    Mismatch,
    /// Pushed too often within the loop window; not pushed again before it has passed.
    Halted,
    /// Being read from the device to learn what is missing (object instances); nothing pushed
    /// yet.
    Checking,
}

impl ItemStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Applied => "applied",
            ItemStatus::Failed => "failed",
            ItemStatus::Mismatch => "mismatch",
            ItemStatus::Halted => "halted",
            ItemStatus::Checking => "checking",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<ItemStatus> {
        Some(match s {
            "pending" => ItemStatus::Pending,
            "applied" => ItemStatus::Applied,
            "failed" => ItemStatus::Failed,
            "mismatch" => ItemStatus::Mismatch,
            "halted" => ItemStatus::Halted,
            "checking" => ItemStatus::Checking,
            _ => return None,
        })
    }
}

/// Backoff and loop protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvisionPolicy {
    /// Wait after the first failure; doubled after each further one.
    pub backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
    /// Window of the loop protection.
    pub loop_window: Duration,
    /// Pushes of one target allowed per window (at least 1).
    pub loop_limit: u32,
    /// A rule that acts on PERIODIC or VALUE CHANGE reads a device to verify an applied item
    /// at most once per this interval.
    pub check_interval: Duration,
}

impl Default for ProvisionPolicy {
    fn default() -> Self {
        ProvisionPolicy {
            backoff: Duration::from_secs(300),
            max_backoff: Duration::from_secs(24 * 3600),
            loop_window: Duration::from_secs(24 * 3600),
            loop_limit: 3,
            check_interval: Duration::from_secs(3600),
        }
    }
}

impl ProvisionPolicy {
    pub(super) fn backoff_after(&self, failures: i32) -> chrono::Duration {
        let shift = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let wait = self
            .backoff
            .saturating_mul(1u32 << shift.min(20))
            .min(self.max_backoff);
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
    }

    pub(super) fn check_every(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.check_interval).unwrap_or(chrono::Duration::MAX)
    }

    pub(super) fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.loop_window).unwrap_or(chrono::Duration::MAX)
    }
}

/// What one item should be, for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The item.
    pub item: Item,
    /// Hash of everything that decides what is pushed.
    pub hash: String,
    /// For firmware: the version the image installs.
    pub version: Option<String>,
}

/// What [`decide`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do or store.
    Keep,
    /// Store this state; push nothing.
    Record(ProvisionStateRow),
    /// Push, then store this state (with the new task's id).
    Push(ProvisionStateRow),
}

/// The task's outcome, as far as provisioning is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Not sent, or sent and not answered yet.
    Unfinished,
    /// Accepted by the CPE (DownloadResponse status 1) and waiting, since then, for its
    /// TransferComplete; or, for firmware, installed and waiting for the device to report the
    /// version.
    AwaitingTransfer(DateTime<Utc>),
    /// Lost: the device can no longer finish it (it bootstrapped, or never reported back).
    /// Retried at once, within the loop protection.
    Lost(String),
    /// Finished well.
    Succeeded,
    /// Failed: fault code and text.
    Failed(Option<i32>, String),
    /// The task no longer exists.
    Missing,
}

fn since(task: &TaskRow) -> DateTime<Utc> {
    task.finished_at.or(task.sent_at).unwrap_or(task.created_at)
}

/// Classifies a pushed task (with the firmware version and the device, for firmware).
pub fn task_outcome(
    task: Option<&TaskRow>,
    version: Option<&str>,
    device: &DeviceRow,
) -> TaskOutcome {
    let Some(task) = task else {
        return TaskOutcome::Missing;
    };
    let o = rollout::outcome(task, version, Some(device));
    match o.state {
        RolloutState::Pending | RolloutState::Queued | RolloutState::Sent => {
            TaskOutcome::Unfinished
        }
        RolloutState::Transferring => TaskOutcome::AwaitingTransfer(since(task)),
        // Installed with a version to wait for: the device has not informed since.
        RolloutState::Installed if version.is_some() => TaskOutcome::AwaitingTransfer(since(task)),
        RolloutState::Installed | RolloutState::Verified => TaskOutcome::Succeeded,
        RolloutState::Cancelled => TaskOutcome::Failed(None, "the task was cancelled".into()),
        RolloutState::Failed => {
            let text = match (&o.meaning, &o.fault_string) {
                (Some(m), Some(s)) if !s.is_empty() => format!("{m}: {s}"),
                (Some(m), _) => m.clone(),
                (None, s) => s.clone().unwrap_or_default(),
            };
            TaskOutcome::Failed(o.fault_code, text)
        }
    }
}

/// The whole provisioning policy for one item: given the target, the stored state, how its
/// last task went and what the device reports, what to store and whether to push.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    device_id: &str,
    rule: &str,
    target: &Target,
    state: Option<&ProvisionStateRow>,
    outcome: &TaskOutcome,
    reported_version: Option<&str>,
    bootstrap: bool,
    now: DateTime<Utc>,
    policy: &ProvisionPolicy,
) -> Decision {
    let fresh = || ProvisionStateRow {
        device_id: device_id.to_owned(),
        rule: rule.to_owned(),
        item: target.item.as_str().to_owned(),
        target_hash: target.hash.clone(),
        task_id: None,
        status: ItemStatus::Applied.as_str().to_owned(),
        failures: 0,
        next_attempt_at: None,
        window_start: None,
        window_pushes: 0,
        detail: None,
        updated_at: now,
        checked_at: None,
        check_task_id: None,
    };
    let at_version = target.item == Item::Firmware
        && matches!(
            (reported_version, target.version.as_deref()),
            (Some(r), Some(v)) if rollout::version_matches(r, v)
        );
    // 1. Settle a pushed item from its task.
    let st = match state {
        Some(s) if ItemStatus::parse(&s.status) == Some(ItemStatus::Pending) => {
            let outcome = match outcome {
                // A factory reset discards a TransferComplete not yet delivered (TR-069
                // §3.7.1.5): that transfer will never be reported.
                TaskOutcome::AwaitingTransfer(_) if bootstrap && !at_version => TaskOutcome::Lost(
                    "the device bootstrapped before it reported the transfer".into(),
                ),
                TaskOutcome::AwaitingTransfer(since) if now - *since >= policy.window() => {
                    TaskOutcome::Lost(format!(
                        "no TransferComplete within {}s",
                        policy.loop_window.as_secs()
                    ))
                }
                TaskOutcome::AwaitingTransfer(_) if at_version => TaskOutcome::Succeeded,
                other => other.clone(),
            };
            match settle(s, &outcome, now, policy) {
                Some(s) => Some(s),
                None => return Decision::Keep,
            }
        }
        other => other.cloned(),
    };
    let settled = |st: Option<ProvisionStateRow>| match st {
        Some(s) if Some(&s) != state => Decision::Record(s),
        _ => Decision::Keep,
    };
    // 2. Firmware: nothing to do while the device runs the version.
    if at_version {
        let mut s = st.unwrap_or_else(fresh);
        if s.target_hash != target.hash || s.status != ItemStatus::Applied.as_str() {
            s.target_hash = target.hash.clone();
            s.status = ItemStatus::Applied.as_str().into();
            s.failures = 0;
            s.next_attempt_at = None;
            s.detail = None;
            s.updated_at = now;
        }
        return settled(Some(s));
    }
    // 3. Push, or not.
    let Some(s) = st else {
        return push(fresh(), now, policy);
    };
    if s.target_hash != target.hash {
        let mut s = s;
        s.target_hash = target.hash.clone();
        s.failures = 0;
        s.next_attempt_at = None;
        s.window_start = None;
        s.window_pushes = 0;
        return push(s, now, policy);
    }
    match ItemStatus::parse(&s.status) {
        // Firmware gets here only when the device reports another version (step 2), for
        // instance after a manual downgrade; loop protection bounds the re-pushes.
        Some(ItemStatus::Applied) if bootstrap || target.item == Item::Firmware => {
            push(s, now, policy)
        }
        Some(ItemStatus::Failed) if s.next_attempt_at.is_none_or(|t| now >= t) => {
            push(s, now, policy)
        }
        Some(ItemStatus::Halted) if s.window_start.is_none_or(|w| now - w >= policy.window()) => {
            push(s, now, policy)
        }
        // A state this version does not know: start over.
        None => push(s, now, policy),
        _ => settled(Some(s)),
    }
}

/// A `pending` item once its task has finished (`None` while it has not): applied, failed
/// (with its backoff) or, for an image after which the device reports another version,
/// mismatch.
pub fn settle(
    state: &ProvisionStateRow,
    outcome: &TaskOutcome,
    now: DateTime<Utc>,
    policy: &ProvisionPolicy,
) -> Option<ProvisionStateRow> {
    let mut s = state.clone();
    match outcome {
        TaskOutcome::Unfinished | TaskOutcome::AwaitingTransfer(_) => return None,
        TaskOutcome::Lost(why) => {
            s.status = ItemStatus::Failed.as_str().into();
            s.next_attempt_at = None;
            s.detail = Some(why.clone());
        }
        TaskOutcome::Succeeded => {
            s.status = ItemStatus::Applied.as_str().into();
            s.failures = 0;
            s.next_attempt_at = None;
            s.detail = None;
        }
        TaskOutcome::Failed(Some(code), text) if *code == VERSION_MISMATCH_FAULT => {
            s.status = ItemStatus::Mismatch.as_str().into();
            s.detail = Some(text.clone());
        }
        TaskOutcome::Failed(code, text) => {
            s.status = ItemStatus::Failed.as_str().into();
            s.failures = s.failures.saturating_add(1);
            s.next_attempt_at = Some(later(now, policy.backoff_after(s.failures)));
            s.detail = Some(match code {
                Some(c) => format!("fault {c}: {text}"),
                None => text.clone(),
            });
        }
        TaskOutcome::Missing => {
            s.status = ItemStatus::Failed.as_str().into();
            s.failures = s.failures.saturating_add(1);
            s.next_attempt_at = Some(later(now, policy.backoff_after(s.failures)));
            s.detail = Some("the task was deleted".into());
        }
    }
    s.updated_at = now;
    Some(s)
}

pub(super) fn later(now: DateTime<Utc>, wait: chrono::Duration) -> DateTime<Utc> {
    now.checked_add_signed(wait)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

pub(super) fn push(
    mut s: ProvisionStateRow,
    now: DateTime<Utc>,
    policy: &ProvisionPolicy,
) -> Decision {
    if s.window_start.is_none_or(|w| now - w >= policy.window()) {
        s.window_start = Some(now);
        s.window_pushes = 0;
    }
    s.updated_at = now;
    if s.window_pushes >= i32::try_from(policy.loop_limit.max(1)).unwrap_or(i32::MAX) {
        let halted = ItemStatus::Halted.as_str();
        if s.status == halted {
            return Decision::Keep;
        }
        s.status = halted.into();
        s.detail = Some(format!(
            "pushed {} times within {}s; halted to break a loop (reset it with `acs provision reset`)",
            s.window_pushes,
            policy.loop_window.as_secs()
        ));
        return Decision::Record(s);
    }
    s.window_pushes += 1;
    s.status = ItemStatus::Pending.as_str().into();
    s.task_id = None;
    s.detail = None;
    Decision::Push(s)
}

//! Ensuring, not only pushing: what a device's answer to a check says has drifted, and when an
//! item is due a check. No I/O.
//!
//! A rule that acts on `2 PERIODIC` or `4 VALUE CHANGE` verifies its applied items:
//! - **parameters** by a GetParameterValues of only the rule's parameters, at most once per
//!   [`ProvisionPolicy::check_interval`]; those whose Notification the rule itself turns on are
//!   not read at all but compared with what the device last reported (a change reaches the ACS
//!   in an Inform), and passwords are never compared (a CPE reads them back empty, TR-069
//!   §A.3.2.1);
//! - **attributes** by a GetParameterAttributes of the rule's names;
//! - **objects** by a GetParameterValues of the tables' partial paths, whose answer names every
//!   instance. Objects are always read before anything is added: the ACS cannot know how many
//!   instances a device has until it asks.
//!
//! What drifted is re-pushed, and only that, through the same loop protection and backoff as
//! every push ([`super::policy::push`]): a device that refuses a value backs off, one that keeps
//! reverting it is halted.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::policy::{ItemStatus, ProvisionPolicy, push};
use super::rule::{AttributeSpec, ObjectSpec};
use super::{Decision, Item};
use crate::cwmp::{ParameterAttribute, ParameterValue, ValueType};
use crate::storage::ProvisionStateRow;

/// Whether a parameter's value cannot be read back (a CPE answers a password with an empty
/// string, TR-069 §A.3.2.1), so it is pushed but never verified.
pub fn unreadable(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    last.ends_with("Password") || last.ends_with("Passphrase") || last.ends_with("PreSharedKey")
}

/// Whether the device's `got` is the wanted value, by the wanted type: `true`/`1` are one
/// boolean, `007`/`7` one number; anything else compares exactly.
pub fn same_value(wanted: &ParameterValue, got: &str) -> bool {
    let (w, g) = (wanted.value.trim(), got.trim());
    match wanted.value_type {
        ValueType::Boolean => match (boolean(w), boolean(g)) {
            (Some(a), Some(b)) => a == b,
            _ => w == g,
        },
        ValueType::Int | ValueType::UnsignedInt | ValueType::Long | ValueType::UnsignedLong => {
            match (w.parse::<i128>(), g.parse::<i128>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => w == g,
            }
        }
        ValueType::DateTime => match (
            DateTime::parse_from_rfc3339(w),
            DateTime::parse_from_rfc3339(g),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => w == g,
        },
        _ => wanted.value == got,
    }
}

fn boolean(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

/// One value that is not what the rule wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The parameter, attribute or table.
    pub name: String,
    /// What the device has.
    pub found: String,
    /// What the rule wants.
    pub wanted: String,
}

/// The rule's parameters the device reports otherwise. A parameter missing from `got` is not
/// drift (it was not read); a password is never compared.
pub fn drifted_parameters<'a>(
    wanted: &'a [ParameterValue],
    got: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(ParameterValue, Drift)> {
    let got: HashMap<&str, &str> = got.into_iter().collect();
    wanted
        .iter()
        .filter(|w| !unreadable(&w.name))
        .filter_map(|w| {
            let found = *got.get(w.name.as_str())?;
            (!same_value(w, found)).then(|| {
                (
                    w.clone(),
                    Drift {
                        name: w.name.clone(),
                        found: found.to_owned(),
                        wanted: w.value.clone(),
                    },
                )
            })
        })
        .collect()
}

/// The rule's attributes the device reports otherwise.
pub fn drifted_attributes(
    wanted: &[AttributeSpec],
    got: &[ParameterAttribute],
) -> Vec<(AttributeSpec, Drift)> {
    let got: HashMap<&str, u8> = got
        .iter()
        .map(|a| (a.name.as_str(), a.notification))
        .collect();
    wanted
        .iter()
        .filter_map(|w| {
            let found = *got.get(w.name.as_str())?;
            (found != w.notification).then(|| {
                (
                    w.clone(),
                    Drift {
                        name: w.name.clone(),
                        found: format!("notification {found}"),
                        wanted: format!("notification {}", w.notification),
                    },
                )
            })
        })
        .collect()
}

/// For each table with fewer instances than wanted, the table and how many to add. `names`
/// are the parameter (or object) names of the device's answer for the tables' partial paths.
pub fn missing_instances<'a>(
    wanted: &[ObjectSpec],
    names: impl IntoIterator<Item = &'a str> + Clone,
) -> Vec<(ObjectSpec, u32, Drift)> {
    wanted
        .iter()
        .filter_map(|o| {
            let instances: BTreeSet<u64> = names
                .clone()
                .into_iter()
                .filter_map(|n| n.strip_prefix(o.path.as_str()))
                .filter_map(|rest| rest.split('.').next()?.parse::<u64>().ok())
                .collect();
            let have = u32::try_from(instances.len()).unwrap_or(u32::MAX);
            (have < o.instances).then(|| {
                (
                    o.clone(),
                    o.instances - have,
                    Drift {
                        name: o.path.clone(),
                        found: format!("{have} instances"),
                        wanted: format!("at least {}", o.instances),
                    },
                )
            })
        })
        .collect()
}

/// Whether an applied item is due a check: its last check (or, never checked, its last
/// change) is at least the check interval old.
pub fn check_due(state: &ProvisionStateRow, now: DateTime<Utc>, policy: &ProvisionPolicy) -> bool {
    ItemStatus::parse(&state.status) == Some(ItemStatus::Applied)
        && now - state.checked_at.unwrap_or(state.updated_at) >= policy.check_every()
}

/// For an objects item, whether to read the device now, and the state to store with the read:
/// always for a new or changed target and after `0 BOOTSTRAP` (what the device had is gone);
/// for an applied item at a verifying event when due; after a failure once its backoff is
/// over; when halted once the loop window has passed. `None`: nothing to do.
pub fn objects_check(
    state: Option<&ProvisionStateRow>,
    fresh: impl FnOnce() -> ProvisionStateRow,
    target_hash: &str,
    bootstrap: bool,
    verifying: bool,
    now: DateTime<Utc>,
    policy: &ProvisionPolicy,
) -> Option<ProvisionStateRow> {
    let checking = |mut s: ProvisionStateRow| {
        s.status = ItemStatus::Checking.as_str().into();
        s.checked_at = Some(now);
        s.updated_at = now;
        s
    };
    let Some(s) = state else {
        return Some(checking(fresh()));
    };
    if s.target_hash != target_hash {
        let mut s = s.clone();
        s.target_hash = target_hash.to_owned();
        s.failures = 0;
        s.next_attempt_at = None;
        s.window_start = None;
        s.window_pushes = 0;
        s.detail = None;
        return Some(checking(s));
    }
    let due_again = now - s.checked_at.unwrap_or(s.updated_at) >= policy.check_every();
    match ItemStatus::parse(&s.status) {
        // Its AddObjects are on their way.
        Some(ItemStatus::Pending) => None,
        _ if bootstrap => Some(checking(s.clone())),
        Some(ItemStatus::Applied) if verifying && check_due(s, now, policy) => {
            let mut s = s.clone();
            s.checked_at = Some(now);
            Some(s)
        }
        Some(ItemStatus::Failed) if s.next_attempt_at.is_none_or(|t| now >= t) => {
            Some(checking(s.clone()))
        }
        Some(ItemStatus::Halted) if s.window_start.is_none_or(|w| now - w >= policy.window()) => {
            Some(checking(s.clone()))
        }
        // A read that never came back (the session ended, or it faulted): read again, but not
        // more often than the interval.
        Some(ItemStatus::Checking) | None if due_again => Some(checking(s.clone())),
        _ => None,
    }
}

/// What to do about drift found in an item: push again unless its task is still on its way or
/// its backoff is running; the loop protection in [`push`] halts a device that keeps undoing
/// what it is given.
pub fn on_drift(
    state: &ProvisionStateRow,
    now: DateTime<Utc>,
    policy: &ProvisionPolicy,
) -> Decision {
    match ItemStatus::parse(&state.status) {
        Some(ItemStatus::Pending) => Decision::Keep,
        Some(ItemStatus::Failed) if state.next_attempt_at.is_some_and(|t| now < t) => {
            Decision::Keep
        }
        _ => push(state.clone(), now, policy),
    }
}

/// An objects item whose check found nothing missing: applied.
pub fn applied(state: &ProvisionStateRow, now: DateTime<Utc>) -> ProvisionStateRow {
    let mut s = state.clone();
    if ItemStatus::parse(&s.status) != Some(ItemStatus::Applied) {
        s.status = ItemStatus::Applied.as_str().into();
        s.failures = 0;
        s.next_attempt_at = None;
        s.detail = None;
        s.updated_at = now;
    }
    s.check_task_id = None;
    s
}

/// Whether drift found by a check is news: the item was applied (an item still being set up
/// is not "drifted", it was never there).
pub fn is_drift(state: &ProvisionStateRow) -> bool {
    ItemStatus::parse(&state.status) == Some(ItemStatus::Applied)
}

/// The device event that records drift: the rule, the item and what differed (values cut to
/// 64 characters; passwords are never compared, so never shown).
pub fn drift_event(rule: &str, item: Item, drift: &[Drift]) -> String {
    fn cut(s: &str) -> String {
        if s.chars().count() > 64 {
            format!("{}…", s.chars().take(63).collect::<String>())
        } else {
            s.to_owned()
        }
    }
    let what: Vec<String> = drift
        .iter()
        .map(|d| {
            format!(
                "{} is {:?}, wanted {:?}",
                d.name,
                cut(&d.found),
                cut(&d.wanted)
            )
        })
        .collect();
    format!(
        "provision drift: rule {rule} {}: {}",
        item.as_str(),
        what.join("; ")
    )
}

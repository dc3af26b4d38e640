//! `[presence]`: when a device that stopped informing counts as late, then offline.

use serde::{Deserialize, Serialize};

use crate::presence::PresencePolicy;

/// `[presence]`: online, late and offline, from the last Inform and the periodic inform interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PresenceSettings {
    /// Periodic inform intervals after the last Inform at which a device is late. Default 1.5.
    pub late_after: f64,
    /// Intervals after the last Inform at which it is offline. Default 3; more than
    /// `late_after`.
    pub offline_after: f64,
    /// The interval of a device that reported none (neither in an Inform nor to the bootstrap
    /// read) and whose `[[bootstrap.profiles]]` entry names no `periodic_inform_interval_secs`.
    /// Default 3600.
    pub default_interval_secs: u64,
    /// Seconds between two sweeps for devices whose state is due to change. Default 30.
    pub sweep_interval_secs: u64,
}

impl Default for PresenceSettings {
    fn default() -> Self {
        PresenceSettings {
            late_after: 1.5,
            offline_after: 3.0,
            default_interval_secs: 3600,
            sweep_interval_secs: 30,
        }
    }
}

impl PresenceSettings {
    /// The policy, with the device profiles' default intervals.
    pub fn policy(&self, bootstrap: &crate::truth::bootstrap::BootstrapSettings) -> PresencePolicy {
        PresencePolicy {
            late_after: self.late_after,
            offline_after: self.offline_after,
            default_interval_secs: i64::try_from(self.default_interval_secs).unwrap_or(i64::MAX),
            profile_intervals: bootstrap
                .profiles
                .iter()
                .filter_map(|p| {
                    let secs = i64::try_from(p.periodic_inform_interval_secs?).ok()?;
                    Some((p.product_class.clone().unwrap_or_else(|| "*".into()), secs))
                })
                .collect(),
        }
    }

    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        if !(self.late_after.is_finite() && self.late_after >= 1.0) {
            bad(
                "presence.late_after",
                format!("must be at least 1 (intervals), got {}", self.late_after),
            );
        }
        if !(self.offline_after.is_finite() && self.offline_after > self.late_after) {
            bad(
                "presence.offline_after",
                format!(
                    "must be more than late_after ({}), got {}",
                    self.late_after, self.offline_after
                ),
            );
        }
        if !(1..=31_536_000).contains(&self.default_interval_secs) {
            bad(
                "presence.default_interval_secs",
                format!("must be 1 to 31536000, got {}", self.default_interval_secs),
            );
        }
        if !(1..=3600).contains(&self.sweep_interval_secs) {
            bad(
                "presence.sweep_interval_secs",
                format!("must be 1 to 3600, got {}", self.sweep_interval_secs),
            );
        }
    }
}

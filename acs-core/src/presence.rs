//! Presence: whether a device is `online`, `late` or `offline`, from its last Inform and its
//! periodic inform interval (TR-069 §3.7.1.5: a CPE with PeriodicInformEnable sends `2 PERIODIC`
//! every PeriodicInformInterval seconds).
//!
//! A device is `online` until `late_after` intervals have passed since its last Inform, `late`
//! until `offline_after` intervals, then `offline`. The interval is the one the device reported
//! (in an Inform, or read by the bootstrap GetParameterValues), else its profile's default, else
//! `[presence] default_interval_secs`.
//!
//! Nothing here reads the clock or the database: [`PresencePolicy::at`] says where a device
//! stands at a given time and when that must next be looked at. Storage keeps that time
//! (`presence_due`, indexed), so the sweep reads only the devices whose state may have changed.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Where a device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Informed within `late_after` intervals.
    Online,
    /// Missed its periodic Inform.
    Late,
    /// Missed `offline_after` intervals.
    Offline,
}

impl Presence {
    /// Every state, for metrics and listings.
    pub const ALL: [Presence; 3] = [Presence::Online, Presence::Late, Presence::Offline];

    /// The stored and shown name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Late => "late",
            Presence::Offline => "offline",
        }
    }

    /// The state a stored name stands for; `None` for an unknown one.
    pub fn parse(s: &str) -> Option<Presence> {
        Presence::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The device event code that records entering this state.
    pub fn event_code(self) -> String {
        format!("presence {}", self.as_str())
    }
}

impl std::fmt::Display for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a device stands at some time, and when to look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The state.
    pub presence: Presence,
    /// When the device entered it (its last Inform for `online`).
    pub since: DateTime<Utc>,
    /// When the state changes next unless the device informs (`None` once offline).
    pub due: Option<DateTime<Utc>>,
}

/// How presence is computed (`[presence]` and the device profiles' defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct PresencePolicy {
    /// Intervals after the last Inform at which a device is late.
    pub late_after: f64,
    /// Intervals after the last Inform at which a device is offline.
    pub offline_after: f64,
    /// Interval of a device that reported none and whose profile names none.
    pub default_interval_secs: i64,
    /// Per product class (a `*` glob) default intervals, first match wins.
    pub profile_intervals: Vec<(String, i64)>,
}

impl Default for PresencePolicy {
    fn default() -> Self {
        PresencePolicy {
            late_after: 1.5,
            offline_after: 3.0,
            default_interval_secs: 3600,
            profile_intervals: Vec::new(),
        }
    }
}

impl PresencePolicy {
    /// The interval a device is judged by: what it reported, else its profile's, else the
    /// default. Never below one second.
    pub fn interval_secs(&self, reported: Option<i64>, product_class: &str) -> i64 {
        reported
            .filter(|s| *s > 0)
            .or_else(|| {
                self.profile_intervals
                    .iter()
                    .find(|(pattern, _)| crate::truth::bootstrap::glob(pattern, product_class))
                    .map(|(_, secs)| *secs)
            })
            .unwrap_or(self.default_interval_secs)
            .max(1)
    }

    fn after(last_inform: DateTime<Utc>, interval_secs: i64, factor: f64) -> DateTime<Utc> {
        // Whole milliseconds: exact enough, and overflow-free for any interval a CPE can hold
        // (an unsignedInt of seconds times a small factor).
        let millis = (interval_secs as f64 * factor * 1000.0).round() as i64;
        last_inform + TimeDelta::milliseconds(millis)
    }

    /// Where a device that last informed at `last_inform` stands at `now`.
    pub fn at(
        &self,
        last_inform: DateTime<Utc>,
        interval_secs: i64,
        now: DateTime<Utc>,
    ) -> Standing {
        let late_at = Self::after(last_inform, interval_secs, self.late_after);
        let offline_at = Self::after(last_inform, interval_secs, self.offline_after);
        if now < late_at {
            Standing {
                presence: Presence::Online,
                since: last_inform,
                due: Some(late_at),
            }
        } else if now < offline_at {
            Standing {
                presence: Presence::Late,
                since: late_at,
                due: Some(offline_at),
            }
        } else {
            Standing {
                presence: Presence::Offline,
                since: offline_at,
                due: None,
            }
        }
    }
}

/// A device whose presence changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChange {
    /// The device.
    pub device_id: String,
    /// Before.
    pub from: Presence,
    /// After.
    pub to: Presence,
    /// When it happened.
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_device_is_late_after_one_and_a_half_intervals_and_offline_after_three() {
        let policy = PresencePolicy::default();
        let last = t("2026-12-06T10:00:00Z");
        let check = |now: &str, presence, since: &str, due: Option<&str>| {
            assert_eq!(
                policy.at(last, 600, t(now)),
                Standing {
                    presence,
                    since: t(since),
                    due: due.map(t),
                },
                "at {now}"
            );
        };
        check(
            "2026-12-06T10:00:00Z",
            Presence::Online,
            "2026-12-06T10:00:00Z",
            Some("2026-12-06T10:15:00Z"),
        );
        check(
            "2026-12-06T10:14:59Z",
            Presence::Online,
            "2026-12-06T10:00:00Z",
            Some("2026-12-06T10:15:00Z"),
        );
        check(
            "2026-12-06T10:15:00Z",
            Presence::Late,
            "2026-12-06T10:15:00Z",
            Some("2026-12-06T10:30:00Z"),
        );
        check(
            "2026-12-06T10:30:00Z",
            Presence::Offline,
            "2026-12-06T10:30:00Z",
            None,
        );
        check(
            "2027-01-01T00:00:00Z",
            Presence::Offline,
            "2026-12-06T10:30:00Z",
            None,
        );
    }

    #[test]
    fn the_interval_is_the_devices_else_its_profiles_else_the_default() {
        let policy = PresencePolicy {
            profile_intervals: vec![("CP-*".into(), 300)],
            ..PresencePolicy::default()
        };
        assert_eq!(policy.interval_secs(Some(60), "CP-8851-3PCC"), 60);
        assert_eq!(policy.interval_secs(None, "CP-8851-3PCC"), 300);
        assert_eq!(policy.interval_secs(Some(0), "CP-8851-3PCC"), 300);
        assert_eq!(policy.interval_secs(None, "HG-2000"), 3600);
        // Factors that differ from the defaults are honoured.
        let strict = PresencePolicy {
            late_after: 1.1,
            offline_after: 2.0,
            ..PresencePolicy::default()
        };
        let last = t("2026-12-06T10:00:00Z");
        assert_eq!(
            strict.at(last, 100, t("2026-12-06T10:01:50Z")).presence,
            Presence::Late
        );
        assert_eq!(
            strict.at(last, 100, t("2026-12-06T10:03:20Z")).presence,
            Presence::Offline
        );
    }

    #[test]
    fn names_round_trip() {
        for p in Presence::ALL {
            assert_eq!(Presence::parse(p.as_str()), Some(p));
        }
        assert_eq!(Presence::parse("gone"), None);
    }
}

//! Maintenance windows: when disruptive work may reach devices, written as operators say it,
//! `Mon-Fri 01:00-05:00 Europe/Oslo`.
//!
//! Days (`Mon-Fri`, `Sat,Sun`, `Tue`, or `*` for every day), a local time range (an end before
//! the start crosses midnight: `22:00-02:00` on `Fri` runs into Saturday), and a zone of the tz
//! database. Times are local wall-clock times, so a window follows the zone's DST changes: on
//! the night the clocks go forward, `01:00-05:00` lasts three hours of real time.
//!
//! Pure: the caller passes the time.

use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use std::fmt;
use std::str::FromStr;

/// A weekly maintenance window in a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    /// Days on which the window opens (index 0 = Monday).
    days: [bool; 7],
    start: NaiveTime,
    end: NaiveTime,
    zone: Tz,
    /// As written, for display and storage.
    text: String,
}

/// A window that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("maintenance window {text:?}: {reason} (write it like `Mon-Fri 01:00-05:00 Europe/Oslo`)")]
pub struct WindowError {
    text: String,
    reason: String,
}

/// Each day as written short and in full, Monday first.
const DAYS: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

/// `Mon` or `Monday` (any case) as 0 for Monday; nothing else.
fn day_index(s: &str) -> Option<usize> {
    let s = s.to_ascii_lowercase();
    DAYS.iter()
        .position(|(short, full)| s == *short || s == *full)
}

impl FromStr for MaintenanceWindow {
    type Err = WindowError;

    fn from_str(text: &str) -> Result<Self, WindowError> {
        let bad = |reason: &str| WindowError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [days, times, zone] = parts.as_slice() else {
            return Err(bad("expected DAYS HH:MM-HH:MM ZONE"));
        };
        let mut set = [false; 7];
        if *days == "*" {
            set = [true; 7];
        } else {
            for item in days.split(',') {
                match item.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (
                            day_index(a).ok_or_else(|| bad(&format!("unknown day {a:?}")))?,
                            day_index(b).ok_or_else(|| bad(&format!("unknown day {b:?}")))?,
                        );
                        // `Fri-Mon` wraps over the weekend.
                        let mut d = a;
                        loop {
                            set[d] = true;
                            if d == b {
                                break;
                            }
                            d = (d + 1) % 7;
                        }
                    }
                    None => {
                        set[day_index(item)
                            .ok_or_else(|| bad(&format!("unknown day {item:?}")))?] = true;
                    }
                }
            }
        }
        let (start, end) = times
            .split_once('-')
            .ok_or_else(|| bad("expected a time range HH:MM-HH:MM"))?;
        let time = |t: &str| {
            NaiveTime::parse_from_str(t, "%H:%M").map_err(|_| bad(&format!("{t:?} is not HH:MM")))
        };
        let (start, end) = (time(start)?, time(end)?);
        if start == end {
            return Err(bad("the window starts and ends at the same time"));
        }
        let zone: Tz = zone
            .parse()
            .map_err(|_| bad(&format!("{zone:?} is not a zone of the tz database")))?;
        Ok(MaintenanceWindow {
            days: set,
            start,
            end,
            zone,
            text: text.to_owned(),
        })
    }
}

impl fmt::Display for MaintenanceWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl MaintenanceWindow {
    fn opens_on(&self, day: Weekday) -> bool {
        self.days[day.num_days_from_monday() as usize]
    }

    /// Whether the window is open at `at`.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.zone);
        let (day, time) = (local.weekday(), local.time());
        if self.start < self.end {
            self.opens_on(day) && time >= self.start && time < self.end
        } else {
            // Crosses midnight: the evening part opens on a listed day, the morning part
            // belongs to the day before.
            (self.opens_on(day) && time >= self.start)
                || (self.opens_on(day.pred()) && time < self.end)
        }
    }

    /// The next time at or after `at` when the window is open (`at` itself when it is open),
    /// to the minute; `None` only if it never opens (no day listed cannot be written).
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.contains(at) {
            return Some(at);
        }
        let local = at.with_timezone(&self.zone);
        // The start time on each of the next eight days, in local wall-clock time; a start
        // that falls in a DST gap opens at the first minute after it.
        for offset in 0..8 {
            let date = local.date_naive() + chrono::Days::new(offset);
            if !self.opens_on(date.weekday()) {
                continue;
            }
            let naive = date.and_time(self.start);
            let candidate = match self.zone.from_local_datetime(&naive) {
                chrono::LocalResult::Single(t) => t,
                chrono::LocalResult::Ambiguous(first, _) => first,
                chrono::LocalResult::None => {
                    match self
                        .zone
                        .from_local_datetime(&(naive + chrono::TimeDelta::hours(1)))
                    {
                        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t,
                        chrono::LocalResult::None => continue,
                    }
                }
            }
            .with_timezone(&Utc);
            if candidate > at {
                return Some(candidate);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> MaintenanceWindow {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// `at` (UTC) is inside (true) or outside (false) `window`.
    fn check(window: &str, cases: &[(&str, bool)]) {
        let window = w(window);
        for (at, open) in cases {
            assert_eq!(window.contains(t(at)), *open, "{window} at {at}");
        }
    }

    #[test]
    fn weekday_nights_in_oslo() {
        // Oslo is UTC+1 in winter, UTC+2 in summer.
        check(
            "Mon-Fri 01:00-05:00 Europe/Oslo",
            &[
                ("2026-12-07T00:00:00Z", true),  // Mon 01:00 local
                ("2026-12-06T23:59:00Z", false), // Mon 00:59 local: not yet
                ("2026-12-07T03:59:59Z", true),  // Mon 04:59:59
                ("2026-12-07T04:00:00Z", false), // Mon 05:00: closed
                ("2026-12-12T00:30:00Z", false), // Sat 01:30: not a listed day
                ("2026-07-06T23:30:00Z", true),  // Tue 01:30 CEST
                ("2026-07-07T03:00:00Z", false), // Tue 05:00 CEST
            ],
        );
    }

    #[test]
    fn the_window_follows_dst_in_its_zone() {
        // 2026-03-29 (Sun): Oslo goes from 02:00 CET to 03:00 CEST. 2026-10-25 (Sun): from
        // 03:00 CEST back to 02:00 CET.
        let window = "Sun 01:00-05:00 Europe/Oslo";
        check(
            window,
            &[
                ("2026-03-29T00:00:00Z", true),  // 01:00 CET
                ("2026-03-29T00:59:00Z", true),  // 01:59 CET, then the clock jumps
                ("2026-03-29T01:00:00Z", true),  // 03:00 CEST
                ("2026-03-29T02:59:00Z", true),  // 04:59 CEST
                ("2026-03-29T03:00:00Z", false), // 05:00 CEST: three real hours in all
                ("2026-10-24T23:00:00Z", true),  // 01:00 CEST
                ("2026-10-25T00:30:00Z", true),  // 02:30 CEST (first time round)
                ("2026-10-25T01:30:00Z", true),  // 02:30 CET (second time round)
                ("2026-10-25T03:59:00Z", true),  // 04:59 CET
                ("2026-10-25T04:00:00Z", false), // 05:00 CET: five real hours in all
            ],
        );
        let w = w(window);
        // Opening in a DST gap (02:30 does not exist on 2026-03-29): the first minute after.
        let gap = MaintenanceWindow::from_str("Sun 02:30-04:00 Europe/Oslo").unwrap();
        assert_eq!(
            gap.next_open(t("2026-03-28T12:00:00Z")),
            Some(t("2026-03-29T01:30:00Z"))
        );
        assert_eq!(
            w.next_open(t("2026-03-28T12:00:00Z")),
            Some(t("2026-03-29T00:00:00Z"))
        );
        assert_eq!(
            w.next_open(t("2026-10-24T12:00:00Z")),
            Some(t("2026-10-24T23:00:00Z"))
        );
    }

    #[test]
    fn a_window_may_cross_midnight() {
        check(
            "Fri 22:00-02:00 UTC",
            &[
                ("2026-12-11T21:59:00Z", false), // Fri 21:59
                ("2026-12-11T22:00:00Z", true),  // Fri 22:00
                ("2026-12-12T01:59:00Z", true),  // Sat 01:59: Friday's window
                ("2026-12-12T02:00:00Z", false),
                ("2026-12-12T22:30:00Z", false), // Sat evening: not listed
                ("2026-12-11T01:00:00Z", false), // Fri 01:00: Thursday's night, not listed
            ],
        );
        let w = w("Fri 22:00-02:00 UTC");
        assert_eq!(
            w.next_open(t("2026-12-07T10:00:00Z")),
            Some(t("2026-12-11T22:00:00Z"))
        );
        assert_eq!(
            w.next_open(t("2026-12-12T01:00:00Z")),
            Some(t("2026-12-12T01:00:00Z")),
            "open now"
        );
    }

    #[test]
    fn days_read_as_operators_write_them() {
        check("* 00:00-23:59 UTC", &[("2026-12-13T12:00:00Z", true)]);
        check(
            "Sat,Sun 08:00-09:00 UTC",
            &[
                ("2026-12-12T08:30:00Z", true),
                ("2026-12-14T08:30:00Z", false),
            ],
        );
        check(
            "Fri-Mon 08:00-09:00 UTC",
            &[
                ("2026-12-14T08:30:00Z", true),  // Mon
                ("2026-12-15T08:30:00Z", false), // Tue
                ("2026-12-12T08:30:00Z", true),  // Sat
            ],
        );
        check("Monday 08:00-09:00 UTC", &[("2026-12-14T08:30:00Z", true)]);
    }

    #[test]
    fn a_bad_window_says_what_is_wrong() {
        for (text, part) in [
            ("Mon-Fri 01:00-05:00", "DAYS HH:MM-HH:MM ZONE"),
            ("Mo-Fri 01:00-05:00 UTC", "unknown day"),
            ("Mon 1am-5am UTC", "not HH:MM"),
            ("Mon 01:00-05:00 Mars/Olympus", "tz database"),
            ("Mon 01:00-01:00 UTC", "same time"),
            ("Mon 01:00 UTC", "time range"),
            // Not ASCII: refused, never sliced mid-character.
            ("éé-Fri 01:00-05:00 UTC", "unknown day"),
            ("Mondays 01:00-05:00 UTC", "unknown day"),
        ] {
            let e = text.parse::<MaintenanceWindow>().unwrap_err().to_string();
            assert!(e.contains(part), "{text}: {e}");
        }
    }
}

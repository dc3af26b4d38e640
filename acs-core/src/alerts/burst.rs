//! Bursts of failed CPE authentications from one source: the sign of a password being
//! guessed, or of a fleet with a wrong shared password after a change.
//!
//! The per-source limiter (`auth::limiter`) blocks such a source; this says it once per
//! window, so a source that keeps failing is one alert a minute, not one per attempt.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::Alert;

/// How many failures within what window make a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurstPolicy {
    pub failures: u32,
    pub window: Duration,
}

impl Default for BurstPolicy {
    fn default() -> Self {
        BurstPolicy {
            failures: 10,
            window: Duration::from_secs(60),
        }
    }
}

/// Sources tracked at most; past it, windows already over are forgotten first, so an attack
/// from many addresses costs bounded memory.
const MAX_SOURCES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start: SystemTime,
    failures: u32,
    raised: bool,
}

/// Counts failures per source in fixed windows (the clock is passed in).
#[derive(Debug, Default)]
pub struct BurstDetector {
    policy: BurstPolicy,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl BurstDetector {
    pub fn new(policy: BurstPolicy) -> Self {
        BurstDetector {
            policy,
            windows: Mutex::default(),
        }
    }

    /// Records one failure of `source` at `now`; returns the alert (and the window's start,
    /// its time) when this failure makes the window a burst, at most once per window.
    pub fn failure(&self, source: IpAddr, now: SystemTime) -> Option<(Alert, SystemTime)> {
        let window = self.policy.window;
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= MAX_SOURCES && !windows.contains_key(&source) {
            windows.retain(|_, w| !over(w, now, window));
            if windows.len() >= MAX_SOURCES {
                return None;
            }
        }
        let w = windows.entry(source).or_insert(Window {
            start: now,
            failures: 0,
            raised: false,
        });
        if over(w, now, window) {
            *w = Window {
                start: now,
                failures: 0,
                raised: false,
            };
        }
        w.failures = w.failures.saturating_add(1);
        if w.raised || w.failures < self.policy.failures {
            return None;
        }
        w.raised = true;
        Some((
            Alert::AuthFailureBurst {
                source: source.to_string(),
                failures: w.failures,
                window_secs: window.as_secs(),
            },
            w.start,
        ))
    }
}

fn over(w: &Window, now: SystemTime, window: Duration) -> bool {
    now.duration_since(w.start).is_ok_and(|d| d >= window)
}

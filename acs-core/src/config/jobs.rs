//! `[jobs]`: the pace of the runner behind bulk jobs and rollouts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[jobs]`: the runner that moves bulk jobs and rollouts forward.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSettings {
    /// Milliseconds between two looks at running jobs (new devices to queue, rollout gates,
    /// finished jobs). Default 1000; 10 to 60000.
    pub interval_ms: u64,
}

impl Default for JobsSettings {
    fn default() -> Self {
        Self { interval_ms: 1000 }
    }
}

impl JobsSettings {
    pub fn interval(&self) -> Duration {
        Duration::from_millis(self.interval_ms)
    }

    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        if !(10..=60_000).contains(&self.interval_ms) {
            bad(
                "jobs.interval_ms",
                format!("must be 10 to 60000, got {}", self.interval_ms),
            );
        }
    }
}

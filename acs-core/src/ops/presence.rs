//! Presence for the runner and the API: sweeping devices whose state is due, and counts.

use chrono::{DateTime, Utc};

use super::{Operations, OpsError};
use crate::presence::{Presence, PresenceChange};

/// Devices read per sweep transaction: small enough to keep the writer free for Informs.
const SWEEP_BATCH: u64 = 500;

impl Operations {
    /// Moves every device whose presence is due at `now` to where its last Inform puts it
    /// (late, offline), recording each change as a device event; returns the changes. Run
    /// every `[presence] sweep_interval_secs` by the server, and directly by tests with the
    /// time they choose.
    pub async fn sweep_presence(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<PresenceChange>, OpsError> {
        let mut all = Vec::new();
        loop {
            // Every row read is moved past `now` (or out of the sweep once offline), so each
            // pass reads new rows and the loop ends.
            let (changes, read) = self.store.sweep_presence(now, SWEEP_BATCH).await?;
            all.extend(changes);
            if (read as u64) < SWEEP_BATCH {
                return Ok(all);
            }
        }
    }

    /// How many devices are online, late and offline.
    pub async fn presence_counts(&self) -> Result<Vec<(Presence, u64)>, OpsError> {
        Ok(self.store.count_by_presence().await?)
    }

    /// How many voice lines are in each registration state: every TR-104 state (0 when no
    /// line is in it) and `other` for anything else a device reported.
    pub async fn line_counts(&self) -> Result<Vec<(&'static str, u64)>, OpsError> {
        use crate::truth::lines::{STATES, state_label};
        let mut counts: Vec<(&'static str, u64)> = STATES.iter().map(|s| (*s, 0)).collect();
        for (state, n) in self.store.count_lines_by_status().await? {
            let label = state_label(&state);
            if let Some(c) = counts.iter_mut().find(|(s, _)| *s == label) {
                c.1 += n;
            }
        }
        Ok(counts)
    }

    /// The counts behind the fleet gauges (devices by product class, tasks, jobs).
    pub async fn census(&self) -> Result<crate::storage::Census, OpsError> {
        Ok(self.store.census().await?)
    }
}

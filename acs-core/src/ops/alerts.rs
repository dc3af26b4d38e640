//! Alerts for the API: recent deliveries, and a test alert to check the path to a receiver.

use chrono::{DateTime, Utc};

use super::{Operations, OpsError};
use crate::alerts::Alert;
use crate::storage::{OutboxRow, OutboxState};

/// Most deliveries one listing returns.
pub const MAX_ALERTS_LISTED: u64 = 1000;

impl Operations {
    /// The latest `limit` deliveries (at most [`MAX_ALERTS_LISTED`]), newest first, optionally
    /// in one state.
    pub async fn list_alerts(
        &self,
        state: Option<OutboxState>,
        limit: u64,
    ) -> Result<Vec<OutboxRow>, OpsError> {
        Ok(self
            .store
            .list_alerts(state, limit.clamp(1, MAX_ALERTS_LISTED))
            .await?)
    }

    /// Queues a `test` alert to every webhook, or to the one named `webhook`; returns the names
    /// of the webhooks it was queued for. The worker delivers it like any alert.
    pub async fn test_alert(
        &self,
        webhook: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, OpsError> {
        let all = &self.store.alert_routing().webhooks;
        let chosen: Vec<_> = all
            .iter()
            .filter(|w| webhook.is_none_or(|name| w.name == name))
            .cloned()
            .collect();
        if chosen.is_empty() {
            return Err(match webhook {
                Some(name) => OpsError::NotFound {
                    what: "webhook",
                    id: name.to_owned(),
                },
                None => OpsError::Invalid(
                    "no webhooks are configured ([[alerts.webhooks]] in the configuration)".into(),
                ),
            });
        }
        let alert = Alert::Test {
            message: "a test alert from acs".into(),
        };
        self.store.raise_alert_to(&chosen, &alert, now).await?;
        Ok(chosen.into_iter().map(|w| w.name).collect())
    }
}

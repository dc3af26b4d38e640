//! `[alerts]` and `[[alerts.webhooks]]`: where alerts are delivered, which events each
//! receiver wants, and how deliveries are retried.

use serde::{Deserialize, Serialize};

use crate::alerts::{BurstPolicy, Event, Retry, Webhook};
use crate::secret::Secret;

/// `[alerts]`: the outbox worker's pacing and the webhooks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsSettings {
    /// Seconds between two passes of the delivery worker over due rows. Default 2.
    pub poll_interval_secs: u64,
    /// First retry delay; doubled after each failed attempt. Default 5.
    pub backoff_base_secs: u64,
    /// Longest delay between two attempts. Default 600 (10 minutes).
    pub backoff_max_secs: u64,
    /// Attempts after which a delivery is given up (`failed`). Default 20.
    pub max_attempts: u32,
    /// Age after which a delivery is given up whatever its attempts. Default 86400 (24 h).
    pub max_age_secs: u64,
    /// Deadline of one POST, connection included. Default 10.
    pub timeout_secs: u64,
    /// Failed CPE authentications from one source within `auth_burst_window_secs` that make
    /// an `auth.failure_burst` alert. Default 10.
    pub auth_burst_failures: u32,
    /// The window of `auth_burst_failures`; at most one alert per source per window.
    /// Default 60.
    pub auth_burst_window_secs: u64,
    /// The receivers.
    pub webhooks: Vec<WebhookSettings>,
}

impl Default for AlertsSettings {
    fn default() -> Self {
        AlertsSettings {
            poll_interval_secs: 2,
            backoff_base_secs: 5,
            backoff_max_secs: 600,
            max_attempts: 20,
            max_age_secs: 86_400,
            timeout_secs: 10,
            auth_burst_failures: 10,
            auth_burst_window_secs: 60,
            webhooks: Vec::new(),
        }
    }
}

/// One `[[alerts.webhooks]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// How deliveries, the API and the CLI name this receiver; default the URL's host (and
    /// port). Unique. Stored with each delivery, so renaming a webhook abandons its backlog.
    #[serde(default)]
    pub name: Option<String>,
    /// Where alerts are POSTed (`http://` or `https://`).
    pub url: String,
    /// Key of the `X-Acs-Signature` HMAC-SHA256 of each body. Secret.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Event names to send (`device.offline`, `task.fault`, …); empty or absent: all.
    #[serde(default)]
    pub events: Vec<String>,
}

impl WebhookSettings {
    /// The name the webhook goes by (see [`WebhookSettings::name`]).
    pub fn effective_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| {
                let host = u.host_str()?.to_owned();
                Some(match u.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
            .unwrap_or_else(|| self.url.clone())
    }
}

impl AlertsSettings {
    /// The webhooks as the alerts module uses them. Call after [`crate::config::Settings::validate`]:
    /// unknown event names were refused there and are skipped here.
    pub fn webhooks(&self) -> Vec<Webhook> {
        self.webhooks
            .iter()
            .map(|w| Webhook {
                name: w.effective_name(),
                url: w.url.clone(),
                secret: w.secret.clone().filter(|s| !s.is_empty()),
                events: w.events.iter().filter_map(|e| e.parse().ok()).collect(),
            })
            .collect()
    }

    /// The retry schedule.
    pub fn retry(&self) -> Retry {
        Retry {
            base: chrono::Duration::seconds(secs(self.backoff_base_secs)),
            max: chrono::Duration::seconds(secs(self.backoff_max_secs)),
            max_attempts: self.max_attempts,
            max_age: chrono::Duration::seconds(secs(self.max_age_secs)),
        }
    }

    /// What counts as a burst of CPE authentication failures.
    pub fn burst(&self) -> BurstPolicy {
        BurstPolicy {
            failures: self.auth_burst_failures,
            window: std::time::Duration::from_secs(self.auth_burst_window_secs),
        }
    }

    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        if !(1..=3600).contains(&self.poll_interval_secs) {
            bad(
                "alerts.poll_interval_secs",
                format!("must be 1 to 3600, got {}", self.poll_interval_secs),
            );
        }
        if self.backoff_base_secs == 0 || self.backoff_base_secs > self.backoff_max_secs {
            bad(
                "alerts.backoff_base_secs",
                format!(
                    "must be at least 1 and at most backoff_max_secs ({}), got {}",
                    self.backoff_max_secs, self.backoff_base_secs
                ),
            );
        }
        if self.backoff_max_secs > 86_400 {
            bad(
                "alerts.backoff_max_secs",
                format!("must be at most 86400, got {}", self.backoff_max_secs),
            );
        }
        if self.max_attempts == 0 {
            bad("alerts.max_attempts", "must be at least 1".into());
        }
        if !(60..=30 * 86_400).contains(&self.max_age_secs) {
            bad(
                "alerts.max_age_secs",
                format!("must be 60 to 2592000, got {}", self.max_age_secs),
            );
        }
        if !(1..=300).contains(&self.timeout_secs) {
            bad(
                "alerts.timeout_secs",
                format!("must be 1 to 300, got {}", self.timeout_secs),
            );
        }
        if self.auth_burst_failures == 0 {
            bad("alerts.auth_burst_failures", "must be at least 1".into());
        }
        if !(1..=86_400).contains(&self.auth_burst_window_secs) {
            bad(
                "alerts.auth_burst_window_secs",
                format!("must be 1 to 86400, got {}", self.auth_burst_window_secs),
            );
        }
        let mut names = std::collections::HashSet::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            let key = |field: &str| format!("alerts.webhooks[{i}].{field}");
            match reqwest::Url::parse(&w.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => bad(
                    &key("url"),
                    "must be an http:// or https:// URL with a host".into(),
                ),
            }
            let name = w.effective_name();
            if name.is_empty() {
                bad(&key("name"), "must not be empty".into());
            } else if !names.insert(name.clone()) {
                bad(
                    &key("name"),
                    format!("{name:?} names two webhooks; give each a distinct name"),
                );
            }
            for event in &w.events {
                if event.parse::<Event>().is_err() {
                    bad(
                        &key("events"),
                        format!(
                            "unknown event {event:?}; known: {}",
                            Event::ALL.map(Event::as_str).join(", ")
                        ),
                    );
                }
            }
        }
    }
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX / 1_000_000)
}

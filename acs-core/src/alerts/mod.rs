//! Alerts: what operators are told without asking, delivered to webhooks through a stored
//! outbox.
//!
//! Raising an alert ([`crate::storage::Store::raise_alert`], or inside a storage transaction
//! that changes the state the alert is about) inserts one outbox row per webhook whose
//! `events` want it, and nothing else: no HTTP happens on the path that raises it, so a CWMP
//! session never waits for a receiver. The [`Deliverer`] (`deliver.rs`) sends due rows, signs
//! them (`sign.rs`) and retries failures with exponential backoff until they are delivered or
//! given up. Delivery is at least once; every row carries an idempotency key, stable for the
//! alert, by which a receiver drops repeats.
//!
//! The events come from the TR-069 world: a CPE that stopped sending its periodic Inform
//! (§3.7.1.5, `device.offline`) and came back (`device.online`), a TR-104 voice line that
//! lost its registration (`line.*`), a rollout stopped by its failure rule, a task answered
//! with a CWMP fault (§A.5), and a burst of failed CPE authentications (§3.4.4) from one
//! address.

mod burst;
mod deliver;
mod sign;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

pub use burst::{BurstDetector, BurstPolicy};
pub use deliver::{ClientError, Deliverer, DeliveryOutcome, DeliveryReport, Retry};
pub use sign::{SIGNATURE_HEADER, signature};

/// The Prometheus counter of delivery attempts, by `outcome` ([`DELIVERY_OUTCOMES`]).
pub const DELIVERIES_SERIES: &str = "acs_webhook_deliveries_total";
/// The outcomes of [`DELIVERIES_SERIES`].
pub const DELIVERY_OUTCOMES: [&str; 3] = ["delivered", "retried", "failed"];
/// The Prometheus gauge of outbox rows still to deliver.
pub const PENDING_GAUGE: &str = "acs_alert_outbox_pending";

/// The kind of an alert: the `event` of its JSON, the `X-Acs-Event` header, and what a
/// webhook's `events` list names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Event {
    DeviceOffline,
    DeviceOnline,
    LineUnregistered,
    LineRegistered,
    RolloutStopped,
    TaskFault,
    AuthFailureBurst,
    /// `acs alerts test`.
    Test,
}

impl Event {
    /// Every event, in documentation order.
    pub const ALL: [Event; 8] = [
        Event::DeviceOffline,
        Event::DeviceOnline,
        Event::LineUnregistered,
        Event::LineRegistered,
        Event::RolloutStopped,
        Event::TaskFault,
        Event::AuthFailureBurst,
        Event::Test,
    ];

    /// The wire name (`device.offline`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Event::DeviceOffline => "device.offline",
            Event::DeviceOnline => "device.online",
            Event::LineUnregistered => "line.unregistered",
            Event::LineRegistered => "line.registered",
            Event::RolloutStopped => "rollout.stopped",
            Event::TaskFault => "task.fault",
            Event::AuthFailureBurst => "auth.failure_burst",
            Event::Test => "test",
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event name that is not one of [`Event::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown alert event {0:?}")]
pub struct UnknownEvent(pub String);

impl FromStr for Event {
    type Err = UnknownEvent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Event::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownEvent(s.to_owned()))
    }
}

/// Something an operator is told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// The device missed enough periodic Informs to count as offline.
    DeviceOffline { device_id: String },
    /// A device that was offline sent an Inform.
    DeviceOnline { device_id: String },
    /// A voice line (TR-104 `…Line.{i}.`) is no longer registered; `status` is what the
    /// device reports (`Error`, `Registering`, …).
    LineUnregistered {
        device_id: String,
        line: String,
        status: String,
    },
    /// A line that was unregistered is registered (`Up`) again.
    LineRegistered { device_id: String, line: String },
    /// A rollout (job) was stopped by its `max_failures` rule.
    RolloutStopped { rollout: i64, reason: String },
    /// A task ended in a fault: a CWMP fault answer, or a failed transfer.
    TaskFault {
        device_id: String,
        task_id: i64,
        kind: String,
        fault_code: Option<i32>,
        fault_string: Option<String>,
    },
    /// At least `failures` failed CPE authentications from `source` within `window_secs`.
    AuthFailureBurst {
        source: String,
        failures: u32,
        window_secs: u64,
    },
    /// A sample sent on request (`acs alerts test`).
    Test { message: String },
}

impl Alert {
    /// The alert's event.
    pub fn event(&self) -> Event {
        match self {
            Alert::DeviceOffline { .. } => Event::DeviceOffline,
            Alert::DeviceOnline { .. } => Event::DeviceOnline,
            Alert::LineUnregistered { .. } => Event::LineUnregistered,
            Alert::LineRegistered { .. } => Event::LineRegistered,
            Alert::RolloutStopped { .. } => Event::RolloutStopped,
            Alert::TaskFault { .. } => Event::TaskFault,
            Alert::AuthFailureBurst { .. } => Event::AuthFailureBurst,
            Alert::Test { .. } => Event::Test,
        }
    }

    /// The alert's own fields, the `data` of its JSON. Written out field by field so a rename
    /// in Rust never changes what receivers get.
    pub fn data(&self) -> serde_json::Value {
        match self {
            Alert::DeviceOffline { device_id } | Alert::DeviceOnline { device_id } => {
                json!({ "device_id": device_id })
            }
            Alert::LineUnregistered {
                device_id,
                line,
                status,
            } => json!({ "device_id": device_id, "line": line, "status": status }),
            Alert::LineRegistered { device_id, line } => {
                json!({ "device_id": device_id, "line": line })
            }
            Alert::RolloutStopped { rollout, reason } => {
                json!({ "rollout": rollout, "reason": reason })
            }
            Alert::TaskFault {
                device_id,
                task_id,
                kind,
                fault_code,
                fault_string,
            } => json!({
                "device_id": device_id,
                "task_id": task_id,
                "kind": kind,
                "fault_code": fault_code,
                "fault_string": fault_string,
            }),
            Alert::AuthFailureBurst {
                source,
                failures,
                window_secs,
            } => json!({ "source": source, "failures": failures, "window_secs": window_secs }),
            Alert::Test { message } => json!({ "message": message }),
        }
    }

    /// The idempotency key: a hash of the event, the time and the data, so the same alert
    /// raised twice (a sweep retried after a failed commit) has the same key and is stored
    /// once per webhook.
    pub fn key(&self, at: DateTime<Utc>) -> String {
        let mut h = Sha256::new();
        h.update(self.event().as_str());
        h.update([0]);
        h.update(timestamp(at));
        h.update([0]);
        h.update(self.data().to_string());
        hex::encode(&h.finalize()[..16])
    }

    /// The JSON body sent to a webhook: `{"id", "event", "at", "data"}`.
    pub fn body(&self, at: DateTime<Utc>) -> String {
        json!({
            "id": self.key(at),
            "event": self.event().as_str(),
            "at": timestamp(at),
            "data": self.data(),
        })
        .to_string()
    }
}

/// RFC 3339 in UTC with microseconds, the precision storage keeps.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One receiver, from `[[alerts.webhooks]]`.
#[derive(Clone)]
pub struct Webhook {
    /// Its name in the outbox, the API and the CLI.
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// The HMAC key of `X-Acs-Signature`; none: unsigned.
    pub secret: Option<Secret>,
    /// The events it wants; empty: all.
    pub events: BTreeSet<Event>,
}

impl Webhook {
    /// Whether this webhook wants `event`. `test` goes to every webhook: it checks the path,
    /// not the filter.
    pub fn wants(&self, event: Event) -> bool {
        event == Event::Test || self.events.is_empty() || self.events.contains(&event)
    }
}

impl fmt::Debug for Webhook {
    // The URL may carry a token of the receiver's; the name identifies the webhook.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("secret", &self.secret)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// What startup installs in the store (`Store::install_alerts`): the webhooks and what makes
/// a burst of authentication failures.
#[derive(Debug, Clone, Default)]
pub struct AlertRouting {
    pub webhooks: Vec<Webhook>,
    pub burst: BurstPolicy,
}

/// One outbox row to insert: the alert as sent to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub webhook: String,
    pub event: Event,
    pub key: String,
    pub body: String,
}

/// The rows raising `alert` at `at` inserts: one per webhook that wants it.
pub fn outgoing(webhooks: &[Webhook], alert: &Alert, at: DateTime<Utc>) -> Vec<Outgoing> {
    let event = alert.event();
    let matching: Vec<&Webhook> = webhooks.iter().filter(|w| w.wants(event)).collect();
    if matching.is_empty() {
        return Vec::new();
    }
    let key = alert.key(at);
    let body = alert.body(at);
    matching
        .into_iter()
        .map(|w| Outgoing {
            webhook: w.name.clone(),
            event,
            key: key.clone(),
            body: body.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests;

//! Alerts: webhook deliveries from the outbox, and the test alert.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStateName {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    /// The webhook answered 2xx.
    Delivered,
    /// Given up after `[alerts] max_attempts` attempts or `max_age_secs`.
    Failed,
}

impl DeliveryStateName {
    /// The name on the wire (`pending`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStateName::Pending => "pending",
            DeliveryStateName::Delivered => "delivered",
            DeliveryStateName::Failed => "failed",
        }
    }
}

impl std::fmt::Display for DeliveryStateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeliveryStateName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(DeliveryStateName::Pending),
            "delivered" => Ok(DeliveryStateName::Delivered),
            "failed" => Ok(DeliveryStateName::Failed),
            _ => Err(format!(
                "unknown delivery state {s:?} (pending, delivered, failed)"
            )),
        }
    }
}

/// One alert as sent to one webhook. Never carries the webhook's URL or secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertDelivery {
    /// Outbox row id.
    pub id: i64,
    /// The webhook's name (`[[alerts.webhooks]] name`).
    pub webhook: String,
    /// `device.offline`, `task.fault`, … (`X-Acs-Event`).
    pub event: String,
    /// The idempotency key (`Idempotency-Key`, and `id` in the body); the same for every
    /// attempt.
    pub key: String,
    pub state: DeliveryStateName,
    /// Attempts made.
    pub attempts: i32,
    /// The next attempt, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the alert was stored.
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The JSON body sent.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

/// `GET /alerts`: deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<AlertDelivery>,
}

/// Query of `GET /alerts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertListQuery {
    /// Only deliveries in this state.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<DeliveryStateName>)]
    pub state: Option<DeliveryStateName>,
    /// How many, 1–1000 (default 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// Query of `POST /alerts/test`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertTestQuery {
    /// Only this webhook (by name); default every webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
}

/// `POST /alerts/test`: the webhooks a test alert was queued for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertTestQueued {
    pub webhooks: Vec<String>,
}

//! The delivery worker: sends due outbox rows to their webhooks and records each attempt.
//!
//! [`Deliverer::deliver_due`] does one pass at a time the caller gives, so tests drive it
//! with the clock they choose; the server calls it every `[alerts] poll_interval_secs`.
//! A 2xx answer is delivered; anything else (another status, a refused connection, a
//! timeout) is retried with exponential backoff until `max_attempts` or `max_age`, then the
//! row is `failed` and kept for `acs alerts list`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use metrics::{counter, gauge};

use super::sign::{SIGNATURE_HEADER, signature};
use super::{DELIVERIES_SERIES, PENDING_GAUGE, Webhook};
use crate::storage::{OutboxRow, OutboxState, Store, StoreError};

/// Rows read per query of a pass.
const BATCH: u64 = 100;
/// Attempts in flight at once in a pass: a slow receiver does not hold up the others.
const CONCURRENCY: usize = 8;
/// Bounds one pass, so a flood of new alerts cannot keep it running forever.
const MAX_BATCHES: usize = 50;

/// When a failed delivery is tried again, and when it is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// The delay after the first failed attempt; doubled after each further one.
    pub base: chrono::Duration,
    /// The longest delay.
    pub max: chrono::Duration,
    /// Attempts after which the row is `failed`.
    pub max_attempts: u32,
    /// Age (from being raised) after which the row is `failed` at its next failed attempt.
    pub max_age: chrono::Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            base: chrono::Duration::seconds(5),
            max: chrono::Duration::minutes(10),
            max_attempts: 20,
            max_age: chrono::Duration::hours(24),
        }
    }
}

impl Retry {
    /// The delay before the next attempt after `failed` failed attempts (1 or more):
    /// `base * 2^(failed-1)`, at most `max`.
    pub fn delay(&self, failed: u32) -> chrono::Duration {
        let doublings = failed.saturating_sub(1).min(30);
        let factor = 1i32 << doublings;
        self.base
            .checked_mul(factor)
            .map_or(self.max, |d| d.min(self.max))
    }

    /// Whether a row that has now failed `failed` times, raised at `created_at`, is given up.
    pub fn gives_up(&self, failed: u32, created_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        failed >= self.max_attempts || now - created_at >= self.max_age
    }
}

/// What became of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    Retried,
    Failed,
}

impl DeliveryOutcome {
    /// The `outcome` label of `acs_webhook_deliveries_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retried => "retried",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Sends the outbox to the webhooks.
#[derive(Debug, Clone)]
pub struct Deliverer {
    store: Store,
    client: reqwest::Client,
    webhooks: HashMap<String, Webhook>,
    retry: Retry,
    /// How long a row is taken by an attempt (longer than the request's deadline).
    lease: chrono::Duration,
}

/// Why a deliverer could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the webhook HTTP client cannot be built: {0}")]
pub struct ClientError(String);

impl Deliverer {
    /// A deliverer for `webhooks` (the same list the store raises alerts for), with a
    /// deadline of `timeout` per POST.
    pub fn new(
        store: Store,
        webhooks: Vec<Webhook>,
        retry: Retry,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // A receiver that moved is misconfigured; following it could send alerts elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("acs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError(e.to_string()))?;
        let lease = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX)
            + chrono::Duration::seconds(30);
        Ok(Deliverer {
            store,
            client,
            webhooks: webhooks.into_iter().map(|w| (w.name.clone(), w)).collect(),
            retry,
            lease,
        })
    }

    /// Attempts every row due at `now` once, and refreshes `acs_alert_outbox_pending`.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> Result<DeliveryReport, StoreError> {
        let mut report = DeliveryReport::default();
        for _ in 0..MAX_BATCHES {
            let due = self.store.due_alerts(now, BATCH).await?;
            let read = due.len();
            let outcomes: Vec<Result<Option<DeliveryOutcome>, StoreError>> =
                futures::stream::iter(due)
                    .map(|row| self.attempt(row, now))
                    .buffer_unordered(CONCURRENCY)
                    .collect()
                    .await;
            for outcome in outcomes {
                match outcome? {
                    Some(DeliveryOutcome::Delivered) => report.delivered += 1,
                    Some(DeliveryOutcome::Retried) => report.retried += 1,
                    Some(DeliveryOutcome::Failed) => report.failed += 1,
                    None => {}
                }
            }
            // Every row read is delivered, moved past `now` or taken by another worker.
            if (read as u64) < BATCH {
                break;
            }
        }
        let pending = self.store.count_pending_alerts().await?;
        gauge!(PENDING_GAUGE).set(pending as f64);
        Ok(report)
    }

    /// One attempt of `row`; `None` when another worker took it first.
    async fn attempt(
        &self,
        row: OutboxRow,
        now: DateTime<Utc>,
    ) -> Result<Option<DeliveryOutcome>, StoreError> {
        if !self
            .store
            .lease_alert(row.id, row.next_attempt_at, now + self.lease)
            .await?
        {
            return Ok(None);
        }
        let result = match self.webhooks.get(&row.webhook) {
            Some(webhook) => self.post(webhook, &row, now).await,
            None => Err("the webhook is no longer configured".to_owned()),
        };
        let failed = u32::try_from(row.attempts).unwrap_or(0).saturating_add(1);
        let (state, next, error, outcome) = match result {
            Ok(()) => (
                OutboxState::Delivered,
                now,
                None,
                DeliveryOutcome::Delivered,
            ),
            Err(e)
                if self.webhooks.contains_key(&row.webhook)
                    && !self.retry.gives_up(failed, row.created_at, now) =>
            {
                let next = now + self.retry.delay(failed);
                (
                    OutboxState::Pending,
                    next,
                    Some(e),
                    DeliveryOutcome::Retried,
                )
            }
            Err(e) => (OutboxState::Failed, now, Some(e), DeliveryOutcome::Failed),
        };
        match &error {
            None => {
                tracing::debug!(webhook = %row.webhook, event = %row.event, key = %row.idempotency_key, "alert delivered")
            }
            Some(e) => tracing::warn!(
                webhook = %row.webhook,
                event = %row.event,
                key = %row.idempotency_key,
                attempts = failed,
                error = %e,
                outcome = outcome.as_str(),
                "alert delivery failed"
            ),
        }
        self.store
            .record_alert_attempt(row.id, state, next, error.as_deref(), now)
            .await?;
        counter!(DELIVERIES_SERIES, "outcome" => outcome.as_str()).increment(1);
        Ok(Some(outcome))
    }

    /// POSTs the row's body; `Err` with a one-line reason (never the URL, which may hold a
    /// token of the receiver's).
    async fn post(
        &self,
        webhook: &Webhook,
        row: &OutboxRow,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let mut request = self
            .client
            .post(&webhook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &row.idempotency_key)
            .header("X-Acs-Event", &row.event)
            .header("X-Acs-Timestamp", now.timestamp().to_string());
        if let Some(secret) = &webhook.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, row.body.as_bytes()));
        }
        let response = request
            .body(row.body.clone())
            .send()
            .await
            .map_err(|e| error_line(&e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

/// A reqwest error with its causes on one line ("error sending request: connection refused").
fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

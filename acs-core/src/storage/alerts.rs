//! The alert outbox in storage: raising an alert is an insert, delivering it is a few
//! updates of its row.
//!
//! Rows are inserted with `ON CONFLICT DO NOTHING` on `(webhook, idempotency_key)`, so the
//! same alert raised twice is stored once. The worker reads only due `pending` rows through
//! the index on `(state, next_attempt_at)`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Order, Query, SelectStatement};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::alerts::{Alert, AlertRouting, Outgoing, Webhook, outgoing};
use crate::storage::{Store, StoreError, ts};

const TABLE: &str = "alert_outbox";

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxState {
    /// Not delivered yet; tried again at `next_attempt_at`.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Given up after the attempt or age limit.
    Failed,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Delivered => "delivered",
            OutboxState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(OutboxState::Pending),
            "delivered" => Some(OutboxState::Delivered),
            "failed" => Some(OutboxState::Failed),
            _ => None,
        }
    }
}

/// One delivery: an alert for one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    /// The webhook's name (never its URL or secret).
    pub webhook: String,
    pub event: String,
    pub idempotency_key: String,
    /// The JSON sent, exactly.
    pub body: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub state: OutboxState,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, FromQueryResult)]
struct Raw {
    id: i64,
    webhook: String,
    event: String,
    idempotency_key: String,
    body: String,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    state: String,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

impl TryFrom<Raw> for OutboxRow {
    type Error = StoreError;

    fn try_from(r: Raw) -> Result<Self, StoreError> {
        let state = OutboxState::parse(&r.state)
            .ok_or_else(|| StoreError::Internal(format!("unknown outbox state {:?}", r.state)))?;
        Ok(OutboxRow {
            id: r.id,
            webhook: r.webhook,
            event: r.event,
            idempotency_key: r.idempotency_key,
            body: r.body,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            state,
            last_error: r.last_error,
            created_at: r.created_at,
            delivered_at: r.delivered_at,
        })
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

fn select_rows() -> SelectStatement {
    Query::select()
        .columns(
            [
                "id",
                "webhook",
                "event",
                "idempotency_key",
                "body",
                "attempts",
                "next_attempt_at",
                "state",
                "last_error",
                "created_at",
                "delivered_at",
            ]
            .map(col),
        )
        .from(col(TABLE))
        .to_owned()
}

/// Inserts the rows raising `alert` at `at` makes for `webhooks`, on `db` (a connection or the
/// transaction that changes what the alert is about, so the two commit together). Returns how
/// many rows were new.
pub(crate) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    webhooks: &[Webhook],
    alert: &Alert,
    at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let rows = outgoing(webhooks, alert, at);
    if rows.is_empty() {
        return Ok(0);
    }
    let mut ins = Query::insert();
    ins.into_table(col(TABLE)).columns(
        [
            "webhook",
            "event",
            "idempotency_key",
            "body",
            "attempts",
            "next_attempt_at",
            "state",
            "created_at",
        ]
        .map(col),
    );
    let at = ts(at);
    let now = ts(Utc::now());
    for Outgoing {
        webhook,
        event,
        key,
        body,
    } in rows
    {
        // Due at once: `at` may be the moment the state changed, earlier than now.
        ins.values([
            Expr::val(webhook),
            Expr::val(event.as_str()),
            Expr::val(key),
            Expr::val(body),
            Expr::val(0),
            Expr::val(std::cmp::min(at, now)),
            Expr::val(OutboxState::Pending.as_str()),
            Expr::val(now),
        ])?;
    }
    ins.on_conflict(
        OnConflict::columns([col("webhook"), col("idempotency_key")])
            .do_nothing()
            .to_owned(),
    );
    Ok(db.execute(&ins).await?.rows_affected())
}

impl Store {
    /// Installs the webhooks and burst policy (once, at startup; later calls keep the first).
    pub fn install_alerts(&self, routing: AlertRouting) {
        let _ = self.alerts.set(routing);
    }

    /// The alert routing in force (none until startup installs it).
    pub fn alert_routing(&self) -> &AlertRouting {
        static NONE: std::sync::OnceLock<AlertRouting> = std::sync::OnceLock::new();
        self.alerts
            .get()
            .unwrap_or_else(|| NONE.get_or_init(AlertRouting::default))
    }

    /// Raises `alert`, which happened at `at`: one outbox row per webhook that wants it, and
    /// no delivery (the worker sends it). Raising the same alert again is a no-op. Returns how
    /// many rows were stored.
    pub async fn raise_alert(&self, alert: &Alert, at: DateTime<Utc>) -> Result<u64, StoreError> {
        enqueue(&self.write, &self.alert_routing().webhooks, alert, at).await
    }

    /// [`Store::raise_alert`] for the given webhooks only (a test alert to one of them).
    pub async fn raise_alert_to(
        &self,
        webhooks: &[Webhook],
        alert: &Alert,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        enqueue(&self.write, webhooks, alert, at).await
    }

    /// Up to `limit` pending rows due at `now`, oldest due first.
    pub async fn due_alerts(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let q = select_rows()
            .and_where(Expr::col(col("state")).eq(OutboxState::Pending.as_str()))
            .and_where(Expr::col(col("next_attempt_at")).lte(ts(now)))
            .order_by(col("next_attempt_at"), Order::Asc)
            .order_by(col("id"), Order::Asc)
            .limit(limit)
            .to_owned();
        let rows = Raw::find_by_statement(self.db_backend().build(&q))
            .all(&self.write)
            .await?;
        rows.into_iter().map(OutboxRow::try_from).collect()
    }

    /// Takes row `id` for one attempt: moves its `next_attempt_at` from `due` to `until` if
    /// nobody else did. A second worker on the same database then skips it, and a worker that
    /// dies mid-attempt leaves it due again at `until`.
    pub async fn lease_alert(
        &self,
        id: i64,
        due: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let upd = Query::update()
            .table(col(TABLE))
            .value(col("next_attempt_at"), ts(until))
            .and_where(Expr::col(col("id")).eq(id))
            .and_where(Expr::col(col("state")).eq(OutboxState::Pending.as_str()))
            .and_where(Expr::col(col("next_attempt_at")).eq(ts(due)))
            .to_owned();
        Ok(self.write.execute(&upd).await?.rows_affected() == 1)
    }

    /// Records an attempt of row `id`: `delivered`, retried at `next` (still `pending`) or
    /// given up (`failed`), with the attempt's error.
    pub async fn record_alert_attempt(
        &self,
        id: i64,
        state: OutboxState,
        next: DateTime<Utc>,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut upd = Query::update();
        upd.table(col(TABLE))
            .value(col("state"), state.as_str())
            .value(
                col("attempts"),
                Expr::col(col("attempts")).add(Expr::val(1)),
            )
            .value(col("next_attempt_at"), ts(next))
            .value(col("last_error"), error)
            .and_where(Expr::col(col("id")).eq(id));
        if state == OutboxState::Delivered {
            upd.value(col("delivered_at"), ts(now));
        }
        self.write.execute(&upd).await?;
        Ok(())
    }

    /// The latest `limit` deliveries (newest first), optionally in one state.
    pub async fn list_alerts(
        &self,
        state: Option<OutboxState>,
        limit: u64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let mut q = select_rows();
        if let Some(state) = state {
            q.and_where(Expr::col(col("state")).eq(state.as_str()));
        }
        q.order_by(col("id"), Order::Desc).limit(limit);
        let rows = Raw::find_by_statement(self.db_backend().build(&q))
            .all(&self.read)
            .await?;
        rows.into_iter().map(OutboxRow::try_from).collect()
    }

    /// How many deliveries are still pending.
    pub async fn count_pending_alerts(&self) -> Result<u64, StoreError> {
        #[derive(FromQueryResult)]
        struct Count {
            n: i64,
        }
        let q = Query::select()
            .expr_as(Expr::col(col("id")).count(), col("n"))
            .from(col(TABLE))
            .and_where(Expr::col(col("state")).eq(OutboxState::Pending.as_str()))
            .to_owned();
        let n = Count::find_by_statement(self.db_backend().build(&q))
            .one(&self.read)
            .await?
            .map_or(0, |c| c.n);
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

//! Presence in storage: the sweep that moves devices to `late` and `offline` as their time
//! comes, and counts by state.
//!
//! The Inform path (`devices.rs`) sets `online` and the time the device would be late
//! (`presence_due`). The sweep reads only rows with `presence_due <= now`, through the index on
//! that column, in batches: its cost follows the devices whose state changes, not the fleet.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::alerts::Alert;
use crate::presence::{Presence, PresenceChange, PresencePolicy};
use crate::storage::alerts;
use crate::storage::entity::{device, device_event};
use crate::storage::{Store, StoreError, ts};

#[derive(Debug, FromQueryResult)]
struct Due {
    id: String,
    product_class: String,
    presence: String,
    last_inform: DateTime<Utc>,
    periodic_inform_interval: Option<i64>,
}

impl Store {
    /// Installs the configured presence policy (once, at startup; later calls keep the first).
    pub fn install_presence_policy(&self, policy: PresencePolicy) {
        let _ = self.presence.set(policy);
    }

    /// The presence policy in force.
    pub fn presence_policy(&self) -> PresencePolicy {
        self.presence.get().cloned().unwrap_or_default()
    }

    /// Moves at most `limit` devices whose presence is due at `now` to where their last Inform
    /// puts them, recording each change as a device event at the moment it happened. Returns
    /// the changes; fewer than `limit` rows read means the sweep is done for `now`.
    ///
    /// A device that informs meanwhile is left alone: each row is updated only if its
    /// `last_inform` is still the one read.
    pub async fn sweep_presence(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<(Vec<PresenceChange>, usize), StoreError> {
        use device::Column as C;
        let policy = self.presence_policy();
        let select = Query::select()
            .columns([
                C::Id,
                C::ProductClass,
                C::Presence,
                C::LastInform,
                C::PeriodicInformInterval,
            ])
            .from(device::Entity)
            .and_where(Expr::col(C::PresenceDue).lte(ts(now)))
            .order_by(C::PresenceDue, Order::Asc)
            .limit(limit)
            .to_owned();
        let backend = self.write.get_database_backend();
        let due = Due::find_by_statement(backend.build(&select))
            .all(&self.read)
            .await?;
        if due.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let read = due.len();
        let mut changes = Vec::new();
        let webhooks = &self.alert_routing().webhooks;
        let txn = self.begin_write().await?;
        let result = async {
            for d in &due {
                let interval = policy.interval_secs(d.periodic_inform_interval, &d.product_class);
                let standing = policy.at(d.last_inform, interval, now);
                let update = Query::update()
                    .table(device::Entity)
                    .value(C::Presence, standing.presence.as_str())
                    .value(C::PresenceDue, standing.due.map(ts))
                    .and_where(Expr::col(C::Id).eq(d.id.as_str()))
                    .and_where(Expr::col(C::LastInform).eq(ts(d.last_inform)))
                    .to_owned();
                let updated = txn.execute(&update).await?.rows_affected() == 1;
                let from = Presence::parse(&d.presence).unwrap_or(Presence::Online);
                if updated && from != standing.presence {
                    let mut event = Query::insert();
                    event
                        .into_table(device_event::Entity)
                        .columns([
                            device_event::Column::DeviceId,
                            device_event::Column::EventCode,
                            device_event::Column::CommandKey,
                            device_event::Column::ReceivedAt,
                        ])
                        .values([
                            Expr::val(d.id.as_str()),
                            Expr::val(standing.presence.event_code()),
                            Expr::val(None::<String>),
                            Expr::val(ts(standing.since)),
                        ])?;
                    txn.execute(&event).await?;
                    if standing.presence == Presence::Offline {
                        let alert = Alert::DeviceOffline {
                            device_id: d.id.clone(),
                        };
                        alerts::enqueue(&txn, webhooks, &alert, standing.since).await?;
                    }
                    changes.push(PresenceChange {
                        device_id: d.id.clone(),
                        from,
                        to: standing.presence,
                        at: standing.since,
                    });
                }
            }
            Ok::<_, StoreError>(())
        }
        .await;
        match result {
            Ok(()) => txn.commit().await?,
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(e);
            }
        }
        Ok((changes, read))
    }

    /// Records a periodic inform interval the device reported outside an Inform (read by a
    /// GetParameterValues): presence judges it by this from now on. Returns whether it changed.
    pub async fn learn_periodic_interval(
        &self,
        device_id: &str,
        secs: i64,
    ) -> Result<bool, StoreError> {
        use device::Column as C;
        let Some(device) = self.get_device(device_id).await? else {
            return Ok(false);
        };
        if device.periodic_inform_interval == Some(secs) {
            return Ok(false);
        }
        let policy = self.presence_policy();
        let interval = policy.interval_secs(Some(secs), &device.product_class);
        // The device is in a session (it just answered), so it is online: due when late.
        let standing = policy.at(device.last_inform, interval, device.last_inform);
        let update = Query::update()
            .table(device::Entity)
            .value(C::PeriodicInformInterval, secs)
            .value(C::PresenceDue, standing.due.map(ts))
            .and_where(Expr::col(C::Id).eq(device_id))
            .and_where(Expr::col(C::Presence).eq(Presence::Online.as_str()))
            .to_owned();
        Ok(self.write.execute(&update).await?.rows_affected() > 0)
    }

    /// How many devices are in each presence state (as last swept).
    pub async fn count_by_presence(&self) -> Result<Vec<(Presence, u64)>, StoreError> {
        #[derive(Debug, FromQueryResult)]
        struct Row {
            presence: String,
            n: i64,
        }
        let select = Query::select()
            .column(device::Column::Presence)
            .expr_as(Expr::col(device::Column::Id).count(), "n")
            .from(device::Entity)
            .group_by_col(device::Column::Presence)
            .to_owned();
        let backend = self.read.get_database_backend();
        let rows = Row::find_by_statement(backend.build(&select))
            .all(&self.read)
            .await?;
        Ok(Presence::ALL
            .into_iter()
            .map(|p| {
                let n = rows
                    .iter()
                    .filter(|r| r.presence == p.as_str())
                    .map(|r| u64::try_from(r.n).unwrap_or(0))
                    .sum();
                (p, n)
            })
            .collect())
    }
}

//! The registration state of each voice line (`device_lines`), kept beside the parameter table
//! so that `line_status` filters and the per-state counts read one small indexed table.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::alerts::Alert;
use crate::storage::entity::device_event;
use crate::storage::{Store, StoreError, ts};
use crate::truth::lines::LineEvent;

/// One line of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    /// The line's object path.
    pub line: String,
    /// Its registration state as last reported.
    pub status: String,
    /// When that state was first reported.
    pub updated_at: DateTime<Utc>,
}

fn table() -> Alias {
    Alias::new("device_lines")
}

fn col(name: &str) -> Alias {
    Alias::new(name)
}

impl Store {
    /// Installs the vendor parameters that hold a line's registration state (the
    /// `registration` names of the device profiles), once at startup.
    pub fn install_registration_names(&self, names: Vec<String>) {
        let _ = self.registration.set(names);
    }

    /// The vendor parameters that hold a line's registration state.
    pub fn registration_names(&self) -> Vec<String> {
        self.registration.get().cloned().unwrap_or_default()
    }

    /// Stores the states of a device's lines; each change that matters (see [`LineEvent`]) is
    /// a device event, in the same transaction. An unchanged state writes nothing.
    pub async fn record_line_states(
        &self,
        device_id: &str,
        lines: &[(String, String)],
        at: DateTime<Utc>,
    ) -> Result<Vec<LineEvent>, StoreError> {
        #[derive(Debug, FromQueryResult)]
        struct Known {
            line: String,
            status: String,
        }
        let select = Query::select()
            .columns([col("line"), col("status")])
            .from(table())
            .and_where(Expr::col(col("device_id")).eq(device_id))
            .to_owned();
        let backend = self.write.get_database_backend();
        let txn = self.begin_write().await?;
        let result = async {
            let known = Known::find_by_statement(backend.build(&select))
                .all(&txn)
                .await?;
            let mut events = Vec::new();
            for (line, status) in lines {
                let from = known
                    .iter()
                    .find(|k| &k.line == line)
                    .map(|k| k.status.as_str());
                if from == Some(status.as_str()) {
                    continue;
                }
                let upsert = Query::insert()
                    .into_table(table())
                    .columns([
                        col("device_id"),
                        col("line"),
                        col("status"),
                        col("updated_at"),
                    ])
                    .values([
                        Expr::val(device_id),
                        Expr::val(line.as_str()),
                        Expr::val(status.as_str()),
                        Expr::val(ts(at)),
                    ])?
                    .on_conflict(
                        OnConflict::columns([col("device_id"), col("line")])
                            .update_columns([col("status"), col("updated_at")])
                            .to_owned(),
                    )
                    .to_owned();
                txn.execute(&upsert).await?;
                if let Some(event) = LineEvent::of(line, from, status) {
                    let insert = Query::insert()
                        .into_table(device_event::Entity)
                        .columns([
                            device_event::Column::DeviceId,
                            device_event::Column::EventCode,
                            device_event::Column::CommandKey,
                            device_event::Column::ReceivedAt,
                        ])
                        .values([
                            Expr::val(device_id),
                            Expr::val(event.event_code()),
                            Expr::val(None::<String>),
                            Expr::val(ts(at)),
                        ])?
                        .to_owned();
                    txn.execute(&insert).await?;
                    // Committed with the change it reports, or not at all.
                    let alert = match &event {
                        LineEvent::Unregistered { line, status } => Alert::LineUnregistered {
                            device_id: device_id.to_owned(),
                            line: line.clone(),
                            status: status.clone(),
                        },
                        LineEvent::Registered { line } => Alert::LineRegistered {
                            device_id: device_id.to_owned(),
                            line: line.clone(),
                        },
                    };
                    super::alerts::enqueue(&txn, &self.alert_routing().webhooks, &alert, at)
                        .await?;
                    events.push(event);
                }
            }
            Ok::<_, StoreError>(events)
        }
        .await;
        match result {
            Ok(events) => {
                txn.commit().await?;
                Ok(events)
            }
            Err(e) => {
                let _ = txn.rollback().await;
                Err(e)
            }
        }
    }

    /// A device's lines, by path.
    pub async fn device_lines(&self, device_id: &str) -> Result<Vec<LineRow>, StoreError> {
        #[derive(Debug, FromQueryResult)]
        struct Row {
            line: String,
            status: String,
            updated_at: DateTime<Utc>,
        }
        let select = Query::select()
            .columns([col("line"), col("status"), col("updated_at")])
            .from(table())
            .and_where(Expr::col(col("device_id")).eq(device_id))
            .order_by(col("line"), sea_orm::sea_query::Order::Asc)
            .to_owned();
        let backend = self.read.get_database_backend();
        Ok(Row::find_by_statement(backend.build(&select))
            .all(&self.read)
            .await?
            .into_iter()
            .map(|r| LineRow {
                line: r.line,
                status: r.status,
                updated_at: r.updated_at,
            })
            .collect())
    }

    /// How many lines are in each state (through the index on `status`).
    pub async fn count_lines_by_status(&self) -> Result<Vec<(String, u64)>, StoreError> {
        #[derive(Debug, FromQueryResult)]
        struct Row {
            status: String,
            n: i64,
        }
        let select = Query::select()
            .column(col("status"))
            .expr_as(Expr::col(col("status")).count(), "n")
            .from(table())
            .group_by_col(col("status"))
            .to_owned();
        let backend = self.read.get_database_backend();
        Ok(Row::find_by_statement(backend.build(&select))
            .all(&self.read)
            .await?
            .into_iter()
            .map(|r| (r.status, u64::try_from(r.n).unwrap_or(0)))
            .collect())
    }
}

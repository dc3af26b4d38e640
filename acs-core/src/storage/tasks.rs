//! The per-device task (request) queue.
//!
//! Every state change is a compare-and-set: `UPDATE … WHERE id = ? AND
//! state = ? RETURNING *`. If no row comes back the task is re-read to tell
//! "not found" from "in another state", and a typed error is returned; the
//! statement itself is atomic, so e.g. two sessions can never both mark the
//! same task `sent`.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, UpdateStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
};
use serde_json::Value as Json;

use crate::alerts::{Alert, Event};
use crate::storage::alerts;
use crate::storage::entity::task;
use crate::storage::model::{ConnReqRecord, NewTask, TaskRow, TaskState};
use crate::storage::{Store, StoreError, ts};
use crate::tasks::TaskResult;

impl TryFrom<task::Model> for TaskRow {
    type Error = StoreError;

    fn try_from(m: task::Model) -> Result<Self, StoreError> {
        let state = m
            .state
            .parse::<TaskState>()
            .map_err(|e| StoreError::Corrupt {
                table: "tasks",
                column: "state",
                key: m.id.to_string(),
                reason: e.to_string(),
            })?;
        Ok(TaskRow {
            id: m.id,
            device_id: m.device_id,
            kind: m.kind,
            payload: m.payload,
            state,
            cwmp_id: m.cwmp_id,
            command_key: m.command_key,
            attempts: m.attempts,
            max_attempts: m.max_attempts,
            created_at: m.created_at,
            sent_at: m.sent_at,
            finished_at: m.finished_at,
            expires_at: m.expires_at,
            result: match m.result.as_ref().map(TaskResult::from_stored) {
                None => None,
                Some(Ok(result)) => Some(result),
                // A result this version cannot read (written by a later one, or edited by
                // hand) does not make the task unreadable; the state and fault still are.
                Some(Err(e)) => {
                    tracing::warn!(task = m.id, error = %e, "task result not readable");
                    None
                }
            },
            fault_code: m.fault_code,
            fault_string: m.fault_string,
            fault_detail: m.fault_detail,
            job_id: m.job_id,
            fault_cleared_at: m.fault_cleared_at,
            connection_request: match (m.connreq_outcome, m.connreq_at) {
                (Some(outcome), Some(at)) => Some(ConnReqRecord {
                    outcome,
                    detail: m.connreq_detail.unwrap_or_default(),
                    at,
                }),
                _ => None,
            },
        })
    }
}

pub(crate) fn rows(models: Vec<task::Model>) -> Result<Vec<TaskRow>, StoreError> {
    models.into_iter().map(TaskRow::try_from).collect()
}

/// Fault string recorded when a task is given up after its last attempt.
pub const ATTEMPTS_EXHAUSTED: &str =
    "session ended before the response arrived; attempts exhausted";

impl Store {
    /// Queues a request for a device. Fails with `DeviceNotFound` if the
    /// device does not exist.
    pub async fn enqueue_task(&self, new: &NewTask) -> Result<TaskRow, StoreError> {
        let sealed = NewTask {
            payload: self.seal_payload(&new.payload)?,
            ..new.clone()
        };
        insert_task(&self.write, &sealed).await
    }

    /// The task with this id.
    pub async fn get_task(&self, id: i64) -> Result<Option<TaskRow>, StoreError> {
        task::Entity::find_by_id(id)
            .one(&self.read)
            .await?
            .map(TaskRow::try_from)
            .transpose()
    }

    /// All of a device's tasks, oldest first.
    pub async fn list_tasks(&self, device_id: &str) -> Result<Vec<TaskRow>, StoreError> {
        rows(
            task::Entity::find()
                .filter(task::Column::DeviceId.eq(device_id))
                .order_by_asc(task::Column::Id)
                .all(&self.read)
                .await?,
        )
    }

    /// A device's tasks in state `sent` (awaiting a response), oldest first.
    pub async fn sent_tasks_for_device(&self, device_id: &str) -> Result<Vec<TaskRow>, StoreError> {
        rows(
            task::Entity::find()
                .filter(task::Column::DeviceId.eq(device_id))
                .filter(task::Column::State.eq(TaskState::Sent.as_str()))
                .order_by_asc(task::Column::Id)
                .all(&self.read)
                .await?,
        )
    }

    /// The oldest queued, unexpired task of a device, or `None`.
    ///
    /// Queued tasks whose `expires_at <= now` that are found at the head of
    /// the queue are marked `expired` on the way. The common case (empty
    /// queue or a live head) is a single read on the `(device_id, state, id)`
    /// index and takes no write lock.
    pub async fn next_queued_task(
        &self,
        device_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TaskRow>, StoreError> {
        let now = ts(now);
        let head = queue_head(&self.read, device_id).await?;
        match head {
            None => return Ok(None),
            Some(t) if !t.is_expired_at(now) => return Ok(Some(t)),
            Some(_) => {}
        }
        let txn = self.begin_write().await?;
        use task::Column as C;
        let expire = Query::update()
            .table(task::Entity)
            .value(C::State, TaskState::Expired.as_str())
            .value(C::FinishedAt, now)
            .and_where(Expr::col(C::DeviceId).eq(device_id))
            .and_where(Expr::col(C::State).eq(TaskState::Queued.as_str()))
            .and_where(Expr::col(C::ExpiresAt).is_not_null())
            .and_where(Expr::col(C::ExpiresAt).lte(now))
            .to_owned();
        txn.execute(&expire).await?;
        let head = queue_head(&txn, device_id).await?;
        txn.commit().await?;
        Ok(head)
    }

    /// `queued -> sent`: records the SOAP `cwmp:ID` and send time and
    /// increments `attempts`, except for the next step of a multi-step task
    /// (a queued task that still carries its previous step's `cwmp_id`): the
    /// steps of a refresh are one attempt. Fails with `TaskStateConflict` if
    /// the task is not queued (e.g. another session sent it first).
    pub async fn mark_task_sent(
        &self,
        task_id: i64,
        cwmp_id: &str,
        now: DateTime<Utc>,
    ) -> Result<TaskRow, StoreError> {
        use task::Column as C;
        let mut upd = Query::update();
        upd.value(C::State, TaskState::Sent.as_str())
            .value(C::CwmpId, cwmp_id)
            .value(C::SentAt, ts(now))
            .value(
                C::Attempts,
                Expr::col(C::Attempts)
                    .add(Expr::case(Expr::col(C::CwmpId).is_null(), 1).finally(0)),
            );
        self.transition(task_id, TaskState::Queued, upd).await
    }

    /// `sent -> done` with the response data.
    pub async fn complete_task(
        &self,
        task_id: i64,
        result: &TaskResult,
        now: DateTime<Utc>,
    ) -> Result<TaskRow, StoreError> {
        use task::Column as C;
        let mut upd = Query::update();
        upd.value(C::State, TaskState::Done.as_str())
            .value(C::Result, result.to_stored())
            .value(C::FinishedAt, ts(now));
        self.transition(task_id, TaskState::Sent, upd).await
    }

    /// `sent -> fault` with the CWMP fault.
    pub async fn fault_task(
        &self,
        task_id: i64,
        code: i32,
        string: &str,
        detail: Option<&Json>,
        now: DateTime<Utc>,
    ) -> Result<TaskRow, StoreError> {
        self.transition(
            task_id,
            TaskState::Sent,
            fault_update(code, string, detail, now),
        )
        .await
    }

    /// `sent -> queued` for a session that ended before the response
    /// arrived, so the task is sent again in the next session. If the task
    /// has used all `max_attempts`, it goes to `fault` instead (no fault
    /// code, fault string [`ATTEMPTS_EXHAUSTED`]) so a request that crashes
    /// the CPE is not retried forever. Decided inside the same atomic
    /// statement.
    pub async fn requeue_task(&self, task_id: i64) -> Result<TaskRow, StoreError> {
        use task::Column as C;
        let now = ts(Utc::now());
        let retry = Expr::col(C::Attempts).lt(Expr::col(C::MaxAttempts));
        let mut upd = Query::update();
        upd.value(
            C::State,
            Expr::case(retry.clone(), TaskState::Queued.as_str())
                .finally(TaskState::Fault.as_str()),
        )
        .value(C::CwmpId, Expr::val(None::<String>))
        .value(
            C::FaultString,
            Expr::case(retry.clone(), Expr::val(None::<String>)).finally(ATTEMPTS_EXHAUSTED),
        )
        .value(
            C::FinishedAt,
            Expr::case(retry, Expr::val(None::<DateTime<Utc>>)).finally(now),
        );
        self.transition(task_id, TaskState::Sent, upd).await
    }

    /// `queued -> cancelled`.
    pub async fn cancel_task(&self, task_id: i64) -> Result<TaskRow, StoreError> {
        use task::Column as C;
        let mut upd = Query::update();
        upd.value(C::State, TaskState::Cancelled.as_str())
            .value(C::FinishedAt, ts(Utc::now()));
        self.transition(task_id, TaskState::Queued, upd).await
    }

    /// Stores what the connection request made for task `task_id` did (`outcome` is a
    /// `ConnReqOutcome::kind`). Returns whether the task exists.
    pub async fn record_task_connection_request(
        &self,
        task_id: i64,
        outcome: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let upd = connreq_update(outcome, detail, now)
            .and_where(Expr::col(task::Column::Id).eq(task_id))
            .to_owned();
        Ok(self.write.execute(&upd).await?.rows_affected() > 0)
    }

    /// Stores the outcome of a job's connection request to each device on the job's tasks
    /// that still wait for it (`held` or `queued`): a task already sent no longer depends on
    /// being woken, and its earlier outcome is what explains its history.
    pub async fn record_job_connection_requests(
        &self,
        job_id: i64,
        outcomes: &[(String, String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        use task::Column as C;
        if outcomes.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        for (device_id, outcome, detail) in outcomes {
            let upd = connreq_update(outcome, detail, now)
                .and_where(Expr::col(C::JobId).eq(job_id))
                .and_where(Expr::col(C::DeviceId).eq(device_id.as_str()))
                .and_where(
                    Expr::col(C::State)
                        .is_in([TaskState::Held.as_str(), TaskState::Queued.as_str()]),
                )
                .to_owned();
            txn.execute(&upd).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Applies `upd` (its SET list) to task `task_id` only if it is in state
    /// `from`; returns the updated row or the reason it was not updated.
    pub(crate) async fn transition(
        &self,
        task_id: i64,
        from: TaskState,
        mut upd: UpdateStatement,
    ) -> Result<TaskRow, StoreError> {
        use task::Column as C;
        upd.table(task::Entity)
            .and_where(Expr::col(C::Id).eq(task_id))
            .and_where(Expr::col(C::State).eq(from.as_str()))
            .returning_all();
        let stmt = self.db_backend().build(&upd);
        let webhooks = &self.alert_routing().webhooks;
        if webhooks.iter().any(|w| w.wants(Event::TaskFault)) {
            // The fault and its alert commit together, so a crash between them loses neither.
            let txn = self.begin_write().await?;
            let result = async {
                let Some(m) = task::Model::find_by_statement(stmt).one(&txn).await? else {
                    return Ok(None);
                };
                let row = TaskRow::try_from(m)?;
                if row.state == TaskState::Fault && from != TaskState::Fault {
                    let at = row.finished_at.unwrap_or_else(Utc::now);
                    alerts::enqueue(&txn, webhooks, &fault_alert(&row), at).await?;
                }
                Ok::<_, StoreError>(Some(row))
            }
            .await;
            match result {
                Ok(Some(row)) => {
                    txn.commit().await?;
                    return Ok(row);
                }
                Ok(None) => txn.rollback().await?,
                Err(e) => {
                    let _ = txn.rollback().await;
                    return Err(e);
                }
            }
        } else if let Some(m) = task::Model::find_by_statement(stmt)
            .one(&self.write)
            .await?
        {
            return TaskRow::try_from(m);
        }
        // Read on the writer so we see the state that made the CAS fail.
        match task::Entity::find_by_id(task_id).one(&self.write).await? {
            None => Err(StoreError::TaskNotFound(task_id)),
            Some(m) => Err(StoreError::TaskStateConflict {
                task_id,
                expected: from,
                actual: TaskRow::try_from(m)?.state,
            }),
        }
    }
}

/// The `task.fault` alert of a task that just moved to `fault`.
fn fault_alert(row: &TaskRow) -> Alert {
    Alert::TaskFault {
        device_id: row.device_id.clone(),
        task_id: row.id,
        kind: row.kind.clone(),
        fault_code: row.fault_code,
        fault_string: row.fault_string.clone(),
    }
}

/// Oldest queued task of a device (index `(device_id, state, id)`).
async fn queue_head<C: ConnectionTrait>(
    db: &C,
    device_id: &str,
) -> Result<Option<TaskRow>, StoreError> {
    use task::Column as C;
    task::Entity::find()
        .filter(C::DeviceId.eq(device_id))
        .filter(C::State.eq(TaskState::Queued.as_str()))
        .order_by(C::Id, Order::Asc)
        .one(db)
        .await?
        .map(TaskRow::try_from)
        .transpose()
}

/// The `UPDATE` (without its WHERE) that stores a connection request's outcome on tasks.
fn connreq_update(outcome: &str, detail: &str, now: DateTime<Utc>) -> UpdateStatement {
    use task::Column as C;
    Query::update()
        .table(task::Entity)
        .value(C::ConnreqOutcome, outcome)
        .value(C::ConnreqDetail, detail)
        .value(C::ConnreqAt, ts(now))
        .to_owned()
}

/// The `UPDATE` that moves a task to `fault`, from whichever state the caller checks.
pub(crate) fn fault_update(
    code: i32,
    string: &str,
    detail: Option<&Json>,
    now: DateTime<Utc>,
) -> UpdateStatement {
    use task::Column as C;
    let mut upd = Query::update();
    upd.value(C::State, TaskState::Fault.as_str())
        .value(C::FaultCode, code)
        .value(C::FaultString, string)
        .value(C::FaultDetail, detail.cloned())
        .value(C::FinishedAt, ts(now));
    upd
}

/// Inserts a queued task on `conn` (the write connection or a transaction).
pub(crate) async fn insert_task(
    conn: &impl ConnectionTrait,
    new: &NewTask,
) -> Result<TaskRow, StoreError> {
    use task::Column as C;

    if new.kind.is_empty() {
        return Err(StoreError::InvalidInput("empty task kind".into()));
    }
    if new.max_attempts < 1 {
        return Err(StoreError::InvalidInput(format!(
            "max_attempts must be >= 1, got {}",
            new.max_attempts
        )));
    }
    let ins = Query::insert()
        .into_table(task::Entity)
        .columns([
            C::DeviceId,
            C::Kind,
            C::Payload,
            C::State,
            C::CommandKey,
            C::Attempts,
            C::MaxAttempts,
            C::CreatedAt,
            C::ExpiresAt,
            C::JobId,
        ])
        .values([
            Expr::val(new.device_id.as_str()),
            Expr::val(new.kind.as_str()),
            Expr::val(new.payload.clone()),
            Expr::val(TaskState::Queued.as_str()),
            Expr::val(new.command_key.clone()),
            Expr::val(0i32),
            Expr::val(new.max_attempts),
            Expr::val(ts(Utc::now())),
            Expr::val(new.expires_at.map(ts)),
            Expr::val(new.job_id),
        ])?
        .returning_all()
        .to_owned();
    let stmt = conn.get_database_backend().build(&ins);
    let model = task::Model::find_by_statement(stmt)
        .one(conn)
        .await
        .map_err(|e| {
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
            ) {
                StoreError::DeviceNotFound(new.device_id.clone())
            } else {
                StoreError::Db(e)
            }
        })?
        .ok_or_else(|| StoreError::Internal("task insert returned no row".into()))?;
    TaskRow::try_from(model)
}

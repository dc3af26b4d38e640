//! Bulk jobs, task listings and faults.
//!
//! A job row records the intent (definition, target filter, whether to wake devices); its
//! tasks are ordinary queue rows with `job_id` set, inserted in the same transaction as the job
//! row, so a job either exists with all its tasks or not at all.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::storage::entity::{device, device_parameter, job, task};
use crate::storage::model::{ParameterRow, TaskRow, TaskState};
use crate::storage::{Store, StoreError, chunks, ts};

/// Life cycle of a job: `running` until every task is final, or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Tasks are still queued or sent.
    Running,
    /// Every task reached a final state.
    Finished,
    /// Cancelled by an operator; its queued tasks were cancelled.
    Cancelled,
    /// Stopped by the job runner because too many devices failed (`max_failures`); its held
    /// and queued tasks were cancelled, what was in flight finishes normally. The reason is in
    /// `stop_reason`.
    Stopped,
}

impl JobState {
    /// The value stored in `jobs.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Running => "running",
            JobState::Finished => "finished",
            JobState::Cancelled => "cancelled",
            JobState::Stopped => "stopped",
        }
    }

    fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "running" => JobState::Running,
            "finished" => JobState::Finished,
            "cancelled" => JobState::Cancelled,
            "stopped" => JobState::Stopped,
            _ => return None,
        })
    }
}

/// How many failed devices stop a rollout: a count, or a percentage of the job's devices.
/// Written `"10"` or `"5%"` (and so stored in `jobs.max_failures`). The job stops when its
/// failures *exceed* the limit, so `0` stops at the first failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureLimit {
    /// At most this many failed devices.
    Count(u32),
    /// At most this percentage (0–100) of the job's devices, rounded down.
    Percent(u32),
}

impl FailureLimit {
    /// Failures tolerated out of `total` devices.
    pub fn allowed(self, total: i64) -> i64 {
        match self {
            FailureLimit::Count(n) => i64::from(n),
            FailureLimit::Percent(p) => Ord::max(total, 0) * i64::from(p) / 100,
        }
    }
}

impl std::fmt::Display for FailureLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureLimit::Count(n) => write!(f, "{n}"),
            FailureLimit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl std::str::FromStr for FailureLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "{s:?} is not a failure limit (a count like \"10\" or a percentage like \"5%\")"
            )
        };
        if let Some(p) = t.strip_suffix('%') {
            let p: u32 = p.trim().parse().map_err(|_| bad())?;
            if p > 100 {
                return Err(format!("{s:?}: a percentage must be 0–100"));
            }
            Ok(FailureLimit::Percent(p))
        } else {
            t.parse().map(FailureLimit::Count).map_err(|_| bad())
        }
    }
}

impl Serialize for FailureLimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FailureLimit::Count(n) => s.serialize_u32(*n),
            FailureLimit::Percent(_) => s.serialize_str(&self.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for FailureLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u32),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Count(n) => Ok(FailureLimit::Count(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A job as stored: the one job record, from storage through operations to the API's DTO.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Id.
    pub id: i64,
    /// The task every device gets (passwords as stored: sealed).
    pub spec: crate::tasks::TaskSpec,
    /// The filter, when the job was created from one.
    pub filter: Option<String>,
    /// Whether connection requests are sent.
    pub connection_request: bool,
    /// State.
    pub state: JobState,
    /// Number of devices (tasks).
    pub total: i64,
    /// Creator.
    pub created_by: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it became finished, cancelled or stopped.
    pub finished_at: Option<DateTime<Utc>>,
    /// At most this many devices in flight at once (`None`: all at once).
    pub concurrency: Option<u32>,
    /// Failures that stop the job.
    pub max_failures: Option<FailureLimit>,
    /// Why the runner stopped the job.
    pub stop_reason: Option<String>,
    /// When its tasks may reach devices; `None`: at any time.
    pub window: Option<crate::window::MaintenanceWindow>,
}

impl TryFrom<job::Model> for JobRow {
    type Error = StoreError;

    fn try_from(m: job::Model) -> Result<Self, StoreError> {
        let state = JobState::parse(&m.state).ok_or_else(|| StoreError::Corrupt {
            table: "jobs",
            column: "state",
            key: m.id.to_string(),
            reason: format!("unknown job state `{}`", m.state),
        })?;
        let max_failures = m
            .max_failures
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|reason| StoreError::Corrupt {
                table: "jobs",
                column: "max_failures",
                key: m.id.to_string(),
                reason,
            })?;
        let spec = serde_json::from_value(m.definition).map_err(|e| StoreError::Corrupt {
            table: "jobs",
            column: "definition",
            key: m.id.to_string(),
            reason: e.to_string(),
        })?;
        let window = m
            .maintenance_window
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: crate::window::WindowError| StoreError::Corrupt {
                table: "jobs",
                column: "maintenance_window",
                key: m.id.to_string(),
                reason: e.to_string(),
            })?;
        Ok(JobRow {
            window,
            concurrency: m.concurrency.and_then(|c| u32::try_from(c).ok()),
            max_failures,
            stop_reason: m.stop_reason,
            id: m.id,
            spec,
            filter: m.filter,
            connection_request: m.connection_request,
            state,
            total: m.total,
            created_by: m.created_by,
            created_at: m.created_at,
            finished_at: m.finished_at,
        })
    }
}

/// A job to insert, with the task template every device gets.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJobRow {
    /// The task definition, as recorded on the job.
    pub definition: Json,
    /// The filter, if any.
    pub filter: Option<String>,
    /// Whether connection requests are sent.
    pub connection_request: bool,
    /// Creator.
    pub created_by: Option<String>,
    /// Task kind.
    pub kind: String,
    /// Task payload (the same for every device).
    pub payload: Json,
    /// Send attempts per task.
    pub max_attempts: i32,
    /// Expiry of every task.
    pub expires_at: Option<DateTime<Utc>>,
    /// Devices in flight at once; with a limit the tasks are stored `held`.
    pub concurrency: Option<u32>,
    /// Failures that stop the job.
    pub max_failures: Option<FailureLimit>,
    /// When its tasks may reach devices; with one the tasks are stored `held`.
    pub window: Option<crate::window::MaintenanceWindow>,
}

/// How many of a job's tasks are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCounts {
    /// Not yet released to the device (a job with a concurrency limit).
    #[serde(default)]
    pub held: i64,
    /// Waiting for the device.
    pub queued: i64,
    /// Sent, waiting for the answer.
    pub sent: i64,
    /// Done.
    pub done: i64,
    /// Faulted.
    pub fault: i64,
    /// Expired before being sent.
    pub expired: i64,
    /// Cancelled.
    pub cancelled: i64,
}

impl TaskCounts {
    /// Sum of all states.
    pub fn total(&self) -> i64 {
        self.held + self.queued + self.sent + self.done + self.fault + self.expired + self.cancelled
    }

    /// Tasks still held, queued or sent.
    pub fn pending(&self) -> i64 {
        self.held + self.queued + self.sent
    }

    fn add(&mut self, state: TaskState, n: i64) {
        let slot = match state {
            TaskState::Held => &mut self.held,
            TaskState::Queued => &mut self.queued,
            TaskState::Sent => &mut self.sent,
            TaskState::Done => &mut self.done,
            TaskState::Fault => &mut self.fault,
            TaskState::Expired => &mut self.expired,
            TaskState::Cancelled => &mut self.cancelled,
        };
        *slot += n;
    }
}

/// Which tasks a listing returns, by ascending id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only this device's tasks.
    pub device_id: Option<String>,
    /// Only tasks in this state.
    pub state: Option<TaskState>,
    /// Only this job's tasks.
    pub job_id: Option<i64>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only uncleared faults (implies state `fault`).
    pub uncleared_faults: bool,
    /// Only ids above this.
    pub after: Option<i64>,
    /// At most this many (1..=1000).
    pub limit: u64,
}

#[derive(Debug, FromQueryResult)]
struct StateCount {
    state: String,
    n: i64,
}

impl Store {
    /// Stores a job and one queued task per device, atomically. Unknown device ids fail the
    /// whole job with `DeviceNotFound` (nothing is stored).
    pub async fn create_job(
        &self,
        new: &NewJobRow,
        device_ids: &[String],
    ) -> Result<JobRow, StoreError> {
        if new.max_attempts < 1 {
            return Err(StoreError::InvalidInput(format!(
                "max_attempts must be >= 1, got {}",
                new.max_attempts
            )));
        }
        let now = ts(Utc::now());
        let txn = self.begin_write().await?;
        let ins = Query::insert()
            .into_table(job::Entity)
            .columns([
                job::Column::Definition,
                job::Column::Filter,
                job::Column::ConnectionRequest,
                job::Column::State,
                job::Column::Total,
                job::Column::CreatedBy,
                job::Column::CreatedAt,
                job::Column::Concurrency,
                job::Column::MaxFailures,
                job::Column::MaintenanceWindow,
            ])
            .values([
                Expr::val(self.seal_payload(&new.definition)?),
                Expr::val(new.filter.clone()),
                Expr::val(new.connection_request),
                Expr::val(JobState::Running.as_str()),
                Expr::val(device_ids.len() as i64),
                Expr::val(new.created_by.clone()),
                Expr::val(now),
                Expr::val(
                    new.concurrency
                        .map(|c| i32::try_from(c).unwrap_or(i32::MAX)),
                ),
                Expr::val(new.max_failures.map(|m| m.to_string())),
                Expr::val(new.window.as_ref().map(ToString::to_string)),
            ])?
            .returning_all()
            .to_owned();
        let stmt = self.db_backend().build(&ins);
        let job = job::Model::find_by_statement(stmt)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::Internal("job insert returned no row".into()))?;
        let payload = self.seal_payload(&new.payload)?;
        let payload_len = payload.to_string().len();
        // With a concurrency limit the runner releases devices a few at a time; with a
        // window, only while it is open.
        let initial = if new.concurrency.is_some() || new.window.is_some() {
            TaskState::Held
        } else {
            TaskState::Queued
        };
        use task::Column as C;
        for chunk in chunks(self.db_backend(), device_ids, 9, |d| d.len() + payload_len) {
            let mut ins = Query::insert();
            ins.into_table(task::Entity).columns([
                C::DeviceId,
                C::Kind,
                C::Payload,
                C::State,
                C::Attempts,
                C::MaxAttempts,
                C::CreatedAt,
                C::ExpiresAt,
                C::JobId,
            ]);
            for device_id in chunk {
                ins.values([
                    Expr::val(device_id.as_str()),
                    Expr::val(new.kind.as_str()),
                    Expr::val(payload.clone()),
                    Expr::val(initial.as_str()),
                    Expr::val(0i32),
                    Expr::val(new.max_attempts),
                    Expr::val(now),
                    Expr::val(new.expires_at.map(ts)),
                    Expr::val(job.id),
                ])?;
            }
            if let Err(e) = txn.execute(&ins).await {
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
                ) {
                    drop(txn);
                    let missing = self.missing_devices(chunk).await?;
                    return Err(StoreError::DeviceNotFound(missing.join(", ")));
                }
                return Err(e.into());
            }
        }
        txn.commit().await?;
        JobRow::try_from(job)
    }

    /// Which of `ids` are not stored devices.
    pub async fn missing_devices(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut found = std::collections::HashSet::new();
        for chunk in chunks(self.db_backend(), ids, 1, String::len) {
            let rows: Vec<String> = device::Entity::find()
                .select_only()
                .column(device::Column::Id)
                .filter(device::Column::Id.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(&self.read)
                .await?;
            found.extend(rows);
        }
        Ok(ids
            .iter()
            .filter(|i| !found.contains(*i))
            .cloned()
            .collect())
    }

    /// The job with this id.
    pub async fn get_job(&self, id: i64) -> Result<Option<JobRow>, StoreError> {
        job::Entity::find_by_id(id)
            .one(&self.read)
            .await?
            .map(JobRow::try_from)
            .transpose()
    }

    /// Jobs by descending id, below `before` when given.
    pub async fn list_jobs(
        &self,
        limit: u64,
        before: Option<i64>,
    ) -> Result<Vec<JobRow>, StoreError> {
        let mut q = job::Entity::find();
        if let Some(b) = before {
            q = q.filter(job::Column::Id.lt(b));
        }
        q.order_by_desc(job::Column::Id)
            .limit(limit.clamp(1, 1000))
            .all(&self.read)
            .await?
            .into_iter()
            .map(JobRow::try_from)
            .collect()
    }

    /// Jobs still running.
    pub async fn running_jobs(&self) -> Result<Vec<JobRow>, StoreError> {
        job::Entity::find()
            .filter(job::Column::State.eq(JobState::Running.as_str()))
            .order_by_asc(job::Column::Id)
            .all(&self.read)
            .await?
            .into_iter()
            .map(JobRow::try_from)
            .collect()
    }

    /// How many of the job's tasks are in each state.
    pub async fn job_counts(&self, job_id: i64) -> Result<TaskCounts, StoreError> {
        let q = Query::select()
            .column(task::Column::State)
            .expr_as(Func::count(Expr::col(task::Column::Id)), Alias::new("n"))
            .from(task::Entity)
            .and_where(Expr::col(task::Column::JobId).eq(job_id))
            .group_by_col(task::Column::State)
            .to_owned();
        let rows = StateCount::find_by_statement(self.db_backend().build(&q))
            .all(&self.read)
            .await?;
        let mut counts = TaskCounts::default();
        for r in rows {
            let state = r
                .state
                .parse::<TaskState>()
                .map_err(|e| StoreError::Corrupt {
                    table: "tasks",
                    column: "state",
                    key: format!("job {job_id}"),
                    reason: e.to_string(),
                })?;
            counts.add(state, r.n);
        }
        Ok(counts)
    }

    /// `running -> finished|cancelled`; `false` when the job was no longer running.
    pub async fn end_job(
        &self,
        job_id: i64,
        state: JobState,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let upd = Query::update()
            .table(job::Entity)
            .value(job::Column::State, state.as_str())
            .value(job::Column::FinishedAt, ts(now))
            .and_where(Expr::col(job::Column::Id).eq(job_id))
            .and_where(Expr::col(job::Column::State).eq(JobState::Running.as_str()))
            .to_owned();
        Ok(self.write.execute(&upd).await?.rows_affected() > 0)
    }

    /// `running -> stopped` (with a reason) or `running -> cancelled`, and the job's held and
    /// queued tasks `-> cancelled`, in one transaction: whoever sees the job ended also sees
    /// its unstarted work cancelled, and a crash leaves neither half. `None` when the job was
    /// no longer running; else the ids of the cancelled tasks.
    pub async fn end_job_cancelling_tasks(
        &self,
        job_id: i64,
        state: JobState,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let txn = self.begin_write().await?;
        let mut upd = Query::update();
        upd.table(job::Entity)
            .value(job::Column::State, state.as_str())
            .value(job::Column::FinishedAt, ts(now))
            .and_where(Expr::col(job::Column::Id).eq(job_id))
            .and_where(Expr::col(job::Column::State).eq(JobState::Running.as_str()));
        if let Some(reason) = reason {
            upd.value(job::Column::StopReason, reason);
        }
        if txn.execute(&upd).await?.rows_affected() == 0 {
            txn.rollback().await?;
            return Ok(None);
        }
        if state == JobState::Stopped {
            // Stored with the stop, so the alert cannot be lost between the two.
            let alert = crate::alerts::Alert::RolloutStopped {
                rollout: job_id,
                reason: reason.unwrap_or_default().to_owned(),
            };
            let webhooks = &self.alert_routing().webhooks;
            if let Err(e) = super::alerts::enqueue(&txn, webhooks, &alert, now).await {
                let _ = txn.rollback().await;
                return Err(e);
            }
        }
        use task::Column as C;
        let cancel = Query::update()
            .table(task::Entity)
            .value(C::State, TaskState::Cancelled.as_str())
            .value(C::FinishedAt, ts(now))
            .and_where(Expr::col(C::JobId).eq(job_id))
            .and_where(
                Expr::col(C::State).is_in([TaskState::Held.as_str(), TaskState::Queued.as_str()]),
            )
            .returning_col(C::Id)
            .to_owned();
        let ids = txn
            .query_all(&cancel)
            .await?
            .into_iter()
            .map(|r| r.try_get::<i64>("", "id"))
            .collect::<Result<Vec<_>, _>>()?;
        txn.commit().await?;
        Ok(Some(ids))
    }

    /// Releases up to `n` held tasks of a job (lowest ids first) to the queue; returns their
    /// ids and devices. One statement, so two passes never release the same task twice.
    pub async fn release_held_tasks(
        &self,
        job_id: i64,
        n: u64,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        use task::Column as C;
        if n == 0 {
            return Ok(Vec::new());
        }
        let pick = Query::select()
            .column(C::Id)
            .from(task::Entity)
            .and_where(Expr::col(C::JobId).eq(job_id))
            .and_where(Expr::col(C::State).eq(TaskState::Held.as_str()))
            .order_by(C::Id, Order::Asc)
            .limit(n)
            .to_owned();
        let upd = Query::update()
            .table(task::Entity)
            .value(C::State, TaskState::Queued.as_str())
            .and_where(Expr::col(C::Id).in_subquery(pick))
            .and_where(Expr::col(C::State).eq(TaskState::Held.as_str()))
            .returning(Query::returning().columns([C::Id, C::DeviceId]))
            .to_owned();
        let rows = self.write.query_all(&upd).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push((
                r.try_get::<i64>("", "id")?,
                r.try_get::<String>("", "device_id")?,
            ));
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Takes a job's queued (never sent) tasks back to `held`: its maintenance window closed
    /// before their devices came. Returns how many. A task already sent is left to finish.
    pub async fn hold_queued_tasks(&self, job_id: i64) -> Result<u64, StoreError> {
        use task::Column as C;
        let upd = Query::update()
            .table(task::Entity)
            .value(C::State, TaskState::Held.as_str())
            .and_where(Expr::col(C::JobId).eq(job_id))
            .and_where(Expr::col(C::State).eq(TaskState::Queued.as_str()))
            .to_owned();
        Ok(self.write.execute(&upd).await?.rows_affected())
    }

    /// Every task of a job, by id (the per-device rollout outcome is derived from them).
    pub async fn job_tasks(&self, job_id: i64) -> Result<Vec<TaskRow>, StoreError> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .find_tasks(&TaskFilter {
                    job_id: Some(job_id),
                    after,
                    limit: 1000,
                    ..Default::default()
                })
                .await?;
            let n = page.len();
            after = page.last().map(|t| t.id);
            out.extend(page);
            if n < 1000 {
                return Ok(out);
            }
        }
    }

    /// The stored devices among `ids`, in any order.
    pub async fn devices_by_ids(
        &self,
        ids: &[String],
    ) -> Result<Vec<crate::storage::DeviceRow>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in chunks(self.db_backend(), ids, 1, String::len) {
            for m in device::Entity::find()
                .filter(device::Column::Id.is_in(chunk.iter().cloned()))
                .all(&self.read)
                .await?
            {
                out.push(crate::storage::DeviceRow::try_from(m)?);
            }
        }
        Ok(out)
    }

    /// `finished -> running`, for a job that got a task again (a retry).
    pub async fn reopen_job(&self, job_id: i64) -> Result<bool, StoreError> {
        let upd = Query::update()
            .table(job::Entity)
            .value(job::Column::State, JobState::Running.as_str())
            .value(job::Column::FinishedAt, Expr::val(None::<DateTime<Utc>>))
            .and_where(Expr::col(job::Column::Id).eq(job_id))
            .and_where(Expr::col(job::Column::State).eq(JobState::Finished.as_str()))
            .to_owned();
        Ok(self.write.execute(&upd).await?.rows_affected() > 0)
    }

    /// Devices with queued tasks of this job, in id order.
    pub async fn job_queued_devices(&self, job_id: i64) -> Result<Vec<String>, StoreError> {
        Ok(task::Entity::find()
            .select_only()
            .column(task::Column::DeviceId)
            .filter(task::Column::JobId.eq(job_id))
            .filter(task::Column::State.eq(TaskState::Queued.as_str()))
            .order_by_asc(task::Column::Id)
            .into_tuple()
            .all(&self.read)
            .await?)
    }

    /// Marks every queued task whose deadline passed as `expired`; returns their ids.
    pub async fn expire_overdue_tasks(&self, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        use task::Column as C;
        let now = ts(now);
        let upd = Query::update()
            .table(task::Entity)
            .value(C::State, TaskState::Expired.as_str())
            .value(C::FinishedAt, now)
            .and_where(Expr::col(C::State).eq(TaskState::Queued.as_str()))
            .and_where(Expr::col(C::ExpiresAt).is_not_null())
            .and_where(Expr::col(C::ExpiresAt).lte(now))
            .returning_col(C::Id)
            .to_owned();
        let rows = self
            .write
            .query_all(&upd)
            .await?
            .into_iter()
            .map(|r| r.try_get::<i64>("", "id"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// A page of tasks by ascending id.
    pub async fn find_tasks(&self, f: &TaskFilter) -> Result<Vec<TaskRow>, StoreError> {
        use task::Column as C;
        let mut q = task::Entity::find();
        if let Some(d) = &f.device_id {
            q = q.filter(C::DeviceId.eq(d.as_str()));
        }
        if f.uncleared_faults {
            q = q
                .filter(C::State.eq(TaskState::Fault.as_str()))
                .filter(C::FaultClearedAt.is_null());
        } else if let Some(s) = f.state {
            q = q.filter(C::State.eq(s.as_str()));
        }
        if let Some(j) = f.job_id {
            q = q.filter(C::JobId.eq(j));
        }
        if let Some(k) = &f.kind {
            q = q.filter(C::Kind.eq(k.as_str()));
        }
        if let Some(a) = f.after {
            q = q.filter(C::Id.gt(a));
        }
        crate::storage::tasks::rows(
            q.order_by(C::Id, Order::Asc)
                .limit(f.limit.clamp(1, 1000))
                .all(&self.read)
                .await?,
        )
    }

    /// Clears uncleared faults: of one task, of one device, or all. Returns how many.
    pub async fn clear_faults(
        &self,
        task_id: Option<i64>,
        device_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        use task::Column as C;
        let mut upd = Query::update();
        upd.table(task::Entity)
            .value(C::FaultClearedAt, ts(now))
            .and_where(Expr::col(C::State).eq(TaskState::Fault.as_str()))
            .and_where(Expr::col(C::FaultClearedAt).is_null());
        if let Some(id) = task_id {
            upd.and_where(Expr::col(C::Id).eq(id));
        }
        if let Some(d) = device_id {
            upd.and_where(Expr::col(C::DeviceId).eq(d));
        }
        Ok(self.write.execute(&upd).await?.rows_affected())
    }

    /// Stored values of `names` for `device_ids` as `(device id, parameter)`, in any order.
    pub async fn parameters_of_devices(
        &self,
        device_ids: &[String],
        names: &[String],
    ) -> Result<Vec<(String, ParameterRow)>, StoreError> {
        use device_parameter::Column as C;
        if device_ids.is_empty() || names.is_empty() {
            return Ok(Vec::new());
        }
        let names_len: usize = names.iter().map(String::len).sum();
        let mut out = Vec::new();
        // Every statement binds all names plus a chunk of ids.
        let per_id = names.len().max(1);
        for chunk in chunks(self.db_backend(), device_ids, 1, |d| {
            d.len() + names_len / per_id
        }) {
            let rows = device_parameter::Entity::find()
                .filter(C::DeviceId.is_in(chunk.iter().cloned()))
                .filter(C::Name.is_in(names.iter().cloned()))
                .all(&self.read)
                .await?;
            out.extend(
                rows.into_iter()
                    .map(|m| (m.device_id.clone(), ParameterRow::from(m))),
            );
        }
        Ok(out)
    }
}

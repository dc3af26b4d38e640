//! Zero-touch provisioning: stored rules and the per-device state of each rule item.
//!
//! The rules' meaning lives in `crate::provision`; here a rule is a name and an opaque JSON
//! definition, and a state row is what was last pushed for one (device, rule, item).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, SqlErr};
use serde_json::Value as Json;

use crate::storage::entity::{provision_rule, provision_state};
use crate::storage::model::{NewTask, TaskRow};
use crate::storage::tasks::insert_task;
use crate::storage::{Store, StoreError, ts};

/// What the tasks queued with a provisioning state are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionTaskRole {
    /// They push the item (the state's `task_id` names the last).
    Push,
    /// It reads the device to verify the item (the state's `check_task_id`).
    Check,
}

/// A rule added through the API.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRule {
    /// Unique name.
    pub name: String,
    /// The rule, as `crate::provision::RuleSpec` JSON.
    pub definition: Json,
    /// The token name that added it.
    pub created_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<provision_rule::Model> for StoredRule {
    fn from(m: provision_rule::Model) -> Self {
        StoredRule {
            name: m.name,
            definition: m.definition,
            created_by: m.created_by,
            created_at: m.created_at,
        }
    }
}

/// What was last pushed for one item of one rule to one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionStateRow {
    /// The device.
    pub device_id: String,
    /// The rule's name.
    pub rule: String,
    /// `parameters`, `connection_request`, `configuration` or `firmware`.
    pub item: String,
    /// Hash of the target last decided on.
    pub target_hash: String,
    /// The task that pushed it, if one was pushed.
    pub task_id: Option<i64>,
    /// `pending`, `applied`, `failed`, `mismatch` or `halted`.
    pub status: String,
    /// Failed pushes of this target in a row.
    pub failures: i32,
    /// No retry before this time (after a failure).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Start of the loop-protection window.
    pub window_start: Option<DateTime<Utc>>,
    /// Pushes of this target since `window_start`.
    pub window_pushes: i32,
    /// Why it failed or halted.
    pub detail: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the device was last read to verify the item (a check queued then).
    pub checked_at: Option<DateTime<Utc>>,
    /// The task of that read, until its answer has been judged.
    pub check_task_id: Option<i64>,
}

impl From<provision_state::Model> for ProvisionStateRow {
    fn from(m: provision_state::Model) -> Self {
        ProvisionStateRow {
            device_id: m.device_id,
            rule: m.rule,
            item: m.item,
            target_hash: m.target_hash,
            task_id: m.task_id,
            status: m.status,
            failures: m.failures,
            next_attempt_at: m.next_attempt_at,
            window_start: m.window_start,
            window_pushes: m.window_pushes,
            detail: m.detail,
            updated_at: m.updated_at,
            checked_at: m.checked_at,
            check_task_id: m.check_task_id,
        }
    }
}

async fn upsert_state(
    conn: &impl ConnectionTrait,
    row: &ProvisionStateRow,
) -> Result<(), StoreError> {
    use provision_state::Column as C;
    let ins = Query::insert()
        .into_table(provision_state::Entity)
        .columns([
            C::DeviceId,
            C::Rule,
            C::Item,
            C::TargetHash,
            C::TaskId,
            C::Status,
            C::Failures,
            C::NextAttemptAt,
            C::WindowStart,
            C::WindowPushes,
            C::Detail,
            C::UpdatedAt,
            C::CheckedAt,
            C::CheckTaskId,
        ])
        .values([
            Expr::val(row.device_id.as_str()),
            Expr::val(row.rule.as_str()),
            Expr::val(row.item.as_str()),
            Expr::val(row.target_hash.as_str()),
            Expr::val(row.task_id),
            Expr::val(row.status.as_str()),
            Expr::val(row.failures),
            Expr::val(row.next_attempt_at.map(ts)),
            Expr::val(row.window_start.map(ts)),
            Expr::val(row.window_pushes),
            Expr::val(row.detail.clone()),
            Expr::val(ts(row.updated_at)),
            Expr::val(row.checked_at.map(ts)),
            Expr::val(row.check_task_id),
        ])?
        .on_conflict(
            OnConflict::columns([C::DeviceId, C::Rule, C::Item])
                .update_columns([
                    C::TargetHash,
                    C::TaskId,
                    C::Status,
                    C::Failures,
                    C::NextAttemptAt,
                    C::WindowStart,
                    C::WindowPushes,
                    C::Detail,
                    C::UpdatedAt,
                    C::CheckedAt,
                    C::CheckTaskId,
                ])
                .to_owned(),
        )
        .to_owned();
    conn.execute(&ins).await.map_err(|e| {
        if matches!(e.sql_err(), Some(SqlErr::ForeignKeyConstraintViolation(_))) {
            StoreError::DeviceNotFound(row.device_id.clone())
        } else {
            StoreError::Db(e)
        }
    })?;
    Ok(())
}

impl Store {
    /// Rules added through the API, by name.
    pub async fn list_provision_rules(&self) -> Result<Vec<StoredRule>, StoreError> {
        Ok(provision_rule::Entity::find()
            .order_by_asc(provision_rule::Column::Name)
            .all(&self.read)
            .await?
            .into_iter()
            .map(StoredRule::from)
            .collect())
    }

    /// Stores a rule; `AlreadyExists` when the name is taken.
    pub async fn insert_provision_rule(
        &self,
        name: &str,
        definition: &Json,
        created_by: Option<&str>,
    ) -> Result<StoredRule, StoreError> {
        let now = ts(Utc::now());
        let ins = Query::insert()
            .into_table(provision_rule::Entity)
            .columns([
                provision_rule::Column::Name,
                provision_rule::Column::Definition,
                provision_rule::Column::CreatedBy,
                provision_rule::Column::CreatedAt,
            ])
            .values([
                Expr::val(name),
                Expr::val(definition.clone()),
                Expr::val(created_by.map(str::to_owned)),
                Expr::val(now),
            ])?
            .to_owned();
        self.write.execute(&ins).await.map_err(|e| {
            if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                StoreError::AlreadyExists(format!("a provisioning rule named `{name}`"))
            } else {
                StoreError::Db(e)
            }
        })?;
        Ok(StoredRule {
            name: name.to_owned(),
            definition: definition.clone(),
            created_by: created_by.map(str::to_owned),
            created_at: now,
        })
    }

    /// Deletes a rule and every device's state of it (one transaction), so adding a rule of the
    /// same name later starts afresh. Returns the rule, `None` when there was none.
    pub async fn delete_provision_rule(
        &self,
        name: &str,
    ) -> Result<Option<StoredRule>, StoreError> {
        let txn = self.begin_write().await?;
        let Some(rule) = provision_rule::Entity::find_by_id(name.to_owned())
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        provision_rule::Entity::delete_by_id(name.to_owned())
            .exec(&txn)
            .await?;
        provision_state::Entity::delete_many()
            .filter(provision_state::Column::Rule.eq(name))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Some(rule.into()))
    }

    /// A device's provisioning states, by rule and item.
    pub async fn provision_states(
        &self,
        device_id: &str,
    ) -> Result<Vec<ProvisionStateRow>, StoreError> {
        Ok(provision_state::Entity::find()
            .filter(provision_state::Column::DeviceId.eq(device_id))
            .order_by_asc(provision_state::Column::Rule)
            .order_by_asc(provision_state::Column::Item)
            .all(&self.read)
            .await?
            .into_iter()
            .map(ProvisionStateRow::from)
            .collect())
    }

    /// Stores a provisioning state and, when given, queues its task, in one transaction: the
    /// state then names the task (`task_id`), and a crash can leave neither a push without its
    /// record (which would push twice) nor a record without its task.
    pub async fn save_provision_state(
        &self,
        row: &ProvisionStateRow,
        task: Option<&NewTask>,
    ) -> Result<Option<TaskRow>, StoreError> {
        let tasks = task.map(std::slice::from_ref).unwrap_or_default();
        Ok(self
            .save_provision_tasks(row, tasks, ProvisionTaskRole::Push)
            .await?
            .pop())
    }

    /// Stores a provisioning state and queues `tasks` (served in this order) in one
    /// transaction. A push names its last task in `task_id` (the item is settled when that one
    /// is); a check names its read in `check_task_id`.
    pub async fn save_provision_tasks(
        &self,
        row: &ProvisionStateRow,
        tasks: &[NewTask],
        role: ProvisionTaskRole,
    ) -> Result<Vec<TaskRow>, StoreError> {
        let txn = self.begin_write().await?;
        let mut row = row.clone();
        let mut queued = Vec::with_capacity(tasks.len());
        for new in tasks {
            let sealed = NewTask {
                payload: self.seal_payload(&new.payload)?,
                ..new.clone()
            };
            queued.push(insert_task(&txn, &sealed).await?);
        }
        if let Some(last) = queued.last() {
            match role {
                ProvisionTaskRole::Push => row.task_id = Some(last.id),
                ProvisionTaskRole::Check => row.check_task_id = Some(last.id),
            }
        }
        upsert_state(&txn, &row).await?;
        txn.commit().await?;
        Ok(queued)
    }

    /// Forgets a device's provisioning states (of one rule, or all) except those still
    /// `pending`: its next matching event evaluates them afresh. Returns how many were removed.
    pub async fn reset_provision_states(
        &self,
        device_id: &str,
        rule: Option<&str>,
    ) -> Result<u64, StoreError> {
        let mut q = provision_state::Entity::delete_many()
            .filter(provision_state::Column::DeviceId.eq(device_id))
            .filter(provision_state::Column::Status.ne("pending"));
        if let Some(rule) = rule {
            q = q.filter(provision_state::Column::Rule.eq(rule));
        }
        Ok(q.exec(&self.write).await?.rows_affected)
    }

    /// The device's oldest queued or sent task of `kind`, if any.
    pub async fn unfinished_task_of_kind(
        &self,
        device_id: &str,
        kind: &str,
    ) -> Result<Option<TaskRow>, StoreError> {
        use crate::storage::entity::task;
        task::Entity::find()
            .filter(task::Column::DeviceId.eq(device_id))
            .filter(task::Column::Kind.eq(kind))
            .filter(task::Column::State.is_in(["queued", "sent", "held"]))
            .order_by_asc(task::Column::Id)
            .one(&self.read)
            .await?
            .map(TaskRow::try_from)
            .transpose()
    }

    /// Whether the device matches `filter` (always, when `None`).
    pub async fn device_matches(
        &self,
        device_id: &str,
        filter: Option<&crate::filter::Filter>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        use sea_orm::PaginatorTrait;
        let mut sel = crate::storage::entity::device::Entity::find()
            .filter(crate::storage::entity::device::Column::Id.eq(device_id));
        if let Some(f) = filter {
            sel = sel.filter(crate::storage::filter_condition(f, self.db_backend(), now));
        }
        Ok(sel.count(&self.read).await? > 0)
    }
}

//! Storage operations the CWMP session driver needs, and conversions from codec types.
//!
//! Kept apart from the generic queries: this is the only storage file that knows the codec.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use std::net::IpAddr;

use crate::cwmp::{CwmpNamespace, EventCode, Inform, ParameterValue};
use crate::storage::entity::device_event;
use crate::storage::model::{
    EventRecord, InformRecord, NewTask, ParameterRecord, TaskRow, TaskState,
};
use crate::storage::{Store, StoreError, ts};
use crate::tasks::{TaskResult, TransferOutcome};

impl InformRecord {
    /// What storage keeps of an Inform.
    pub fn from_inform(
        inform: &Inform,
        device_id: &str,
        remote_ip: Option<IpAddr>,
        namespace: &CwmpNamespace,
        received_at: DateTime<Utc>,
    ) -> Self {
        let has = |code: &EventCode| inform.event.iter().any(|e| &e.event_code == code);
        InformRecord {
            device_id: device_id.to_owned(),
            manufacturer: inform.device_id.manufacturer.clone(),
            oui: inform.device_id.oui.clone(),
            product_class: inform.device_id.product_class.clone(),
            serial_number: inform.device_id.serial_number.clone(),
            remote_ip: remote_ip.map(|ip| ip.to_string()),
            cwmp_version: namespace.as_str().to_owned(),
            events: inform
                .event
                .iter()
                .map(|e| EventRecord {
                    code: e.event_code.to_string(),
                    command_key: (!e.command_key.is_empty()).then(|| e.command_key.clone()),
                })
                .collect(),
            parameters: inform
                .parameter_list
                .iter()
                .map(ParameterRecord::from_value)
                .collect(),
            received_at,
            is_bootstrap: has(&EventCode::Bootstrap),
            is_boot: has(&EventCode::Boot),
        }
    }
}

impl ParameterRecord {
    /// A reported value, its type kept exactly as the CPE wrote it.
    pub fn from_value(p: &ParameterValue) -> Self {
        ParameterRecord::new(p.name.clone(), p.value.clone(), p.value_type.to_string())
    }
}

impl NewTask {
    /// A task with the default policy: three attempts, no expiry, no job.
    pub fn new(device_id: &str, kind: &str, payload: serde_json::Value) -> Self {
        NewTask {
            device_id: device_id.to_owned(),
            kind: kind.to_owned(),
            payload,
            command_key: None,
            max_attempts: 3,
            expires_at: None,
            job_id: None,
        }
    }

    /// [`NewTask::new`] for a task definition: its kind and its queued payload.
    pub fn for_spec(device_id: &str, spec: &crate::tasks::TaskSpec) -> Self {
        NewTask::new(
            device_id,
            spec.kind(),
            crate::tasks::QueuedTask::payload(spec),
        )
    }
}

impl Store {
    /// `queued -> fault` for a task that can never be sent as it is (a payload the codec cannot
    /// carry, or a method the CPE's CWMP version lacks): it fails without reaching the CPE.
    pub async fn fail_unsent_task(
        &self,
        task_id: i64,
        code: i32,
        string: &str,
        now: DateTime<Utc>,
    ) -> Result<TaskRow, StoreError> {
        let upd = crate::storage::tasks::fault_update(code, string, None, now);
        self.transition(task_id, TaskState::Queued, upd).await
    }

    /// `sent -> queued` with a new payload: the next step of a multi-step task (a refresh's
    /// GetParameterValues after its GetParameterNames). The step's result is kept in `result`.
    /// The previous step's `cwmp_id` stays: it marks the task as part-way through an attempt,
    /// so sending the next step does not count as another attempt (see `mark_task_sent`).
    pub async fn advance_task(
        &self,
        task_id: i64,
        payload: &serde_json::Value,
        step_result: &TaskResult,
    ) -> Result<TaskRow, StoreError> {
        use crate::storage::entity::task::Column as C;
        let mut upd = sea_orm::sea_query::Query::update();
        upd.value(C::State, TaskState::Queued.as_str())
            .value(C::Payload, payload.clone())
            .value(C::Result, step_result.to_stored());
        self.transition(task_id, TaskState::Sent, upd).await
    }

    /// `sent -> queued` after a fault worth retrying (resources exceeded, file server
    /// unreachable, …), keeping the CPE's fault on record; `sent -> fault` once the attempts
    /// are used up.
    pub async fn retry_task(
        &self,
        task_id: i64,
        code: i32,
        string: &str,
        detail: Option<&serde_json::Value>,
        now: DateTime<Utc>,
    ) -> Result<TaskRow, StoreError> {
        use crate::storage::entity::task::Column as C;
        use sea_orm::sea_query::{Expr, ExprTrait};
        let retry = Expr::col(C::Attempts).lt(Expr::col(C::MaxAttempts));
        let mut upd = sea_orm::sea_query::Query::update();
        upd.value(
            C::State,
            Expr::case(retry.clone(), TaskState::Queued.as_str())
                .finally(TaskState::Fault.as_str()),
        )
        .value(C::FaultCode, code)
        .value(C::FaultString, string)
        .value(C::FaultDetail, detail.cloned())
        .value(C::CwmpId, Expr::val(None::<String>))
        .value(
            C::FinishedAt,
            Expr::case(retry, Expr::val(None::<DateTime<Utc>>)).finally(ts(now)),
        );
        self.transition(task_id, TaskState::Sent, upd).await
    }

    /// Marks done tasks as confirmed by what the CPE reported at a later Inform (`M Reboot`
    /// with the task's CommandKey, `0 BOOTSTRAP` after a FactoryReset): `result.confirmed_at`.
    /// Returns the ids confirmed. Duplicated events are harmless.
    pub async fn confirm_tasks(
        &self,
        device_id: &str,
        task_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut confirmed = Vec::new();
        for &id in task_ids {
            if self
                .annotate_done_task(device_id, id, now, |r| r.confirmed_at.is_none())
                .await?
            {
                confirmed.push(id);
            }
        }
        Ok(confirmed)
    }

    /// Records the (Autonomous)TransferComplete of a task that asked for a transfer (Download,
    /// Upload, ScheduleDownload) as `result.transfer_complete`. On success the task is
    /// confirmed (`confirmed_at`); with a non-zero FaultCode the transfer failed, so the task
    /// moves `done -> fault` with the CPE's code and string, the TransferComplete as the fault
    /// detail: the DownloadResponse only said the CPE accepted the job. A CPE re-sends
    /// TransferComplete until acknowledged, so only the first one counts. Returns whether the
    /// task was updated.
    pub async fn record_task_transfer(
        &self,
        device_id: &str,
        task_id: i64,
        transfer: TransferOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if transfer.fault_code == 0 {
            return self
                .annotate_done_task(device_id, task_id, now, |r| {
                    r.transfer_complete.is_none() && {
                        r.transfer_complete = Some(transfer);
                        r.confirmed_at = Some(now);
                        true
                    }
                })
                .await;
        }
        let Some(task) = self.get_task(task_id).await? else {
            return Ok(false);
        };
        if task.device_id != device_id || task.state != TaskState::Done {
            return Ok(false);
        }
        let mut result = task.result.unwrap_or_default();
        if result.transfer_complete.is_some() {
            return Ok(false);
        }
        let detail = serde_json::to_value(&transfer).ok();
        let (code, string) = (transfer.fault_code, transfer.fault_string.clone());
        result.transfer_complete = Some(transfer);
        let mut upd = crate::storage::tasks::fault_update(code, &string, detail.as_ref(), now);
        upd.value(
            crate::storage::entity::task::Column::Result,
            result.to_stored(),
        );
        match self.transition(task_id, TaskState::Done, upd).await {
            Ok(_) => Ok(true),
            // Another copy of the same TransferComplete got there first.
            Err(StoreError::TaskStateConflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Changes a done task's result with `apply` (which says whether it changed anything) and
    /// confirms it, once.
    async fn annotate_done_task(
        &self,
        device_id: &str,
        id: i64,
        now: DateTime<Utc>,
        apply: impl FnOnce(&mut TaskResult) -> bool,
    ) -> Result<bool, StoreError> {
        let Some(task) = self.get_task(id).await? else {
            return Ok(false);
        };
        if task.device_id != device_id || task.state != TaskState::Done {
            return Ok(false);
        }
        let mut result = task.result.unwrap_or_default();
        if !apply(&mut result) {
            return Ok(false);
        }
        result.confirmed_at.get_or_insert(ts(now));
        use crate::storage::entity::task;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        task::Entity::update_many()
            .col_expr(
                task::Column::Result,
                sea_orm::sea_query::Expr::val(result.to_stored()),
            )
            .filter(task::Column::Id.eq(id))
            .filter(task::Column::State.eq(TaskState::Done.as_str()))
            .exec(&self.write)
            .await?;
        Ok(true)
    }

    /// The device's done tasks of `kind` not yet confirmed, newest first.
    pub async fn unconfirmed_tasks(
        &self,
        device_id: &str,
        kind: &str,
    ) -> Result<Vec<i64>, StoreError> {
        Ok(self
            .list_tasks(device_id)
            .await?
            .into_iter()
            .filter(|t| t.kind == kind && t.state == TaskState::Done)
            .filter(|t| t.result.as_ref().is_none_or(|r| r.confirmed_at.is_none()))
            .map(|t| t.id)
            .rev()
            .collect())
    }

    /// Devices with tasks left `sent` by a session that no longer exists (an ACS crash or
    /// restart): read once at start so that only their next Informs pay for recovery.
    pub async fn devices_with_sent_tasks(&self) -> Result<Vec<String>, StoreError> {
        use crate::storage::entity::task;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
        let ids: Vec<String> = task::Entity::find()
            .select_only()
            .column(task::Column::DeviceId)
            .distinct()
            .filter(task::Column::State.eq(TaskState::Sent.as_str()))
            .into_tuple()
            .all(&self.read)
            .await?;
        Ok(ids)
    }

    /// Appends one entry to a device's event log.
    pub async fn append_event(
        &self,
        device_id: &str,
        code: &str,
        command_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        device_event::ActiveModel {
            device_id: Set(device_id.to_owned()),
            event_code: Set(code.to_owned()),
            command_key: Set(command_key.map(str::to_owned)),
            received_at: Set(ts(now)),
            ..Default::default()
        }
        .insert(&self.write)
        .await?;
        Ok(())
    }

    /// Records a TransferComplete in the device's event log, keyed by its CommandKey so later
    /// work (firmware rollouts) can find it; duplicates are harmless because CPEs re-send it.
    pub async fn record_transfer_complete(
        &self,
        device_id: &str,
        command_key: &str,
        fault_code: i32,
        fault_string: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let code = if fault_code == 0 {
            "TransferComplete".to_owned()
        } else {
            format!("TransferComplete fault {fault_code}: {fault_string}")
        };
        self.append_event(device_id, &code, Some(command_key), now)
            .await
    }
}

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

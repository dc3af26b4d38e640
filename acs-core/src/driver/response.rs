//! What the CPE sends in a session after its Inform: its own requests (TR-069 §A.3.2) and the
//! answers to the ACS's requests.

use super::{DeviceSession, DriveError, Driver, storage};
use crate::cwmp::Body;
use crate::session::Completion;
use crate::storage::{CredentialOrigin, StoreError, TaskState};
use crate::tasks::{FaultDetail, Payload, TaskResult, TaskSpec, TransferOutcome};
use chrono::Utc;

impl Driver {
    /// Stores a CPE request before its answer goes out.
    pub async fn on_cpe_request(
        &self,
        session: &DeviceSession,
        request: &Body,
    ) -> Result<(), DriveError> {
        self.store_cpe_request(&session.device_id, request)
            .await
            .map_err(DriveError::CpeRequestNotStored)
    }

    async fn store_cpe_request(&self, device_id: &str, request: &Body) -> Result<(), StoreError> {
        let now = Utc::now();
        let store = self.store();
        match request {
            Body::TransferComplete(tc) => {
                let code = tc.fault_struct.fault_code.code() as i32;
                if code != 0 {
                    // TR-069 defines 9000-9899; anything else is folded, never a new label.
                    let label = if (9000..9900).contains(&code) {
                        code.to_string()
                    } else {
                        "other".to_owned()
                    };
                    metrics::counter!(super::TRANSFER_FAULTS_SERIES, "code" => label).increment(1);
                }
                store
                    .record_transfer_complete(
                        device_id,
                        &tc.command_key,
                        code,
                        &tc.fault_struct.fault_string,
                        now,
                    )
                    .await?;
                // A transfer this ACS asked for names its task in the CommandKey.
                if let Some(task_id) = crate::tasks::task_id_of_command_key(&tc.command_key) {
                    let transfer = TransferOutcome {
                        fault_code: code,
                        fault_string: tc.fault_struct.fault_string.clone(),
                        meaning: tc.fault_struct.fault_code.meaning().to_owned(),
                        start_time: tc.start_time.as_str().to_owned(),
                        complete_time: tc.complete_time.as_str().to_owned(),
                    };
                    if store
                        .record_task_transfer(device_id, task_id, transfer, now)
                        .await?
                    {
                        self.ops.task_changed(task_id);
                    }
                }
                Ok(())
            }
            Body::AutonomousTransferComplete(atc) => {
                // No task asked for it, so no task can end in fault: the device's event log
                // says what happened, failure and meaning included.
                let fault = &atc.fault_struct;
                let code = if fault.is_success() {
                    format!("AutonomousTransferComplete {}", atc.file_type)
                } else {
                    format!(
                        "AutonomousTransferComplete fault {}: {} ({}; {})",
                        fault.fault_code.code(),
                        fault.fault_string,
                        fault.fault_code.meaning(),
                        atc.file_type
                    )
                };
                store.append_event(device_id, &code, None, now).await
            }
            Body::RequestDownload(_)
            | Body::Kicked(_)
            | Body::DuStateChangeComplete(_)
            | Body::AutonomousDuStateChangeComplete(_) => {
                store
                    .append_event(
                        device_id,
                        &format!("CPE {}", request.element_name()),
                        None,
                        now,
                    )
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Stores the answer to an ACS request: the device's new tree first, then the task's
    /// result (or its fault; a fault worth retrying sends the task back to the queue for a
    /// later session).
    pub async fn on_response(
        &self,
        session: &mut DeviceSession,
        done: &Completion,
    ) -> Result<(), DriveError> {
        let retry_later = self
            .store_completion(&session.device_id, done)
            .await
            .map_err(storage("storing a result"))?;
        if retry_later {
            session.retry_later.insert(done.task_id);
        }
        // Stored: whoever waits for this task may look now.
        self.ops.task_changed(done.task_id);
        // Lines the device has: from now on it reports their registration changes itself.
        if let Ok(Body::GetParameterValuesResponse(r)) = &done.result
            && let Err(e) = crate::truth::lines::watch(
                self.store(),
                &session.device_id,
                r.parameter_list.iter().map(|p| p.name.as_str()),
            )
            .await
        {
            tracing::warn!(error = %e, "could not ask for line registration notifications");
        }
        // A provisioning check's answer may call for a push, sent in this same session.
        if let Ok(answer) = &done.result {
            match self
                .provisioner
                .on_answer(&session.device_id, done.task_id, answer)
                .await
            {
                Ok(queued) => {
                    for q in &queued {
                        tracing::info!(rule = %q.rule, item = q.item.as_str(), task = q.task.id, "provisioning queued a task after a check");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "a provisioning check could not be judged"),
            }
        }
        Ok(())
    }

    /// `Ok(true)` when the task went back to the queue for a later session.
    async fn store_completion(
        &self,
        device_id: &str,
        done: &Completion,
    ) -> Result<bool, StoreError> {
        let now = Utc::now();
        let store = self.store();
        match &done.result {
            Ok(body) => {
                let result = TaskResult::of_response(body);
                let payload = match store.get_task(done.task_id).await? {
                    Some(task) => Payload::parse(&store.open_payload(&task.payload)?).ok(),
                    None => None,
                };
                // What the device now has is stored before the task says done (or takes its
                // next step), so whoever sees the result sees the tree it produced.
                let request = payload.as_ref().and_then(|p| p.request(done.task_id).ok());
                crate::truth::record::record_completion(
                    store,
                    device_id,
                    request.as_ref(),
                    body,
                    now,
                )
                .await?;
                if let Some(Payload::Task(task)) = &payload {
                    // Applied: credentials the ACS set are stored now, and used from now on.
                    self.store_applied(device_id, &task.spec).await?;
                }
                match payload.and_then(|p| p.next_step(body)) {
                    // A multi-step task goes back to the queue for its next RPC, in this
                    // session.
                    Some(payload) => store.advance_task(done.task_id, &payload, &result).await?,
                    None => store.complete_task(done.task_id, &result, now).await?,
                };
                Ok(false)
            }
            Err(fault) => {
                let detail = Some(FaultDetail::of(&fault.detail).to_stored());
                let code = fault.detail.fault_code;
                let (number, text) = (code.code() as i32, fault.detail.fault_string.as_str());
                if code.is_retryable() {
                    // Worth another try in a later session; the fault stays on record.
                    let task = store
                        .retry_task(done.task_id, number, text, detail.as_ref(), now)
                        .await?;
                    return Ok(task.state == TaskState::Queued);
                }
                store
                    .fault_task(done.task_id, number, text, detail.as_ref(), now)
                    .await?;
                Ok(false)
            }
        }
    }

    /// Stores credentials a CPE has just applied (its SetParameterValuesResponse arrived):
    /// from now on connection requests, or the device's own sessions, use them.
    async fn store_applied(&self, device_id: &str, spec: &TaskSpec) -> Result<(), StoreError> {
        match spec {
            TaskSpec::SetConnectionRequestCredentials {
                username, password, ..
            } => {
                self.store()
                    .set_connection_request_credentials(
                        device_id,
                        Some(username),
                        Some(password.expose()),
                    )
                    .await
            }
            TaskSpec::SetManagementServerCredentials {
                username, password, ..
            } => {
                self.store()
                    .set_device_credential(
                        device_id,
                        username,
                        &crate::secret::Secret::new(password.expose()),
                        CredentialOrigin::Acs,
                    )
                    .await
            }
            _ => Ok(()),
        }
    }
}

//! The ACS's turn: the next queued task becomes a request, or the session ends
//! (TR-069 §3.7.2.3).

use super::{DeviceSession, DriveError, Driver, Next, Outgoing, storage};
use crate::cwmp::{self, Body};
use crate::storage::{StoreError, TaskRow};
use crate::tasks::{Payload, QueuedTask, TaskSpec};
use chrono::Utc;
use tracing::{debug, warn};

/// In a Download's FileType, replaced by the device's OUI when the request is sent.
pub const OUI_PLACEHOLDER: &str = "{oui}";

/// How long a token URL handed out in a Download stays valid: long enough for a CPE that
/// delays or retries its transfer.
pub const DOWNLOAD_TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

impl Driver {
    /// The device's next queued task as a request, stored as `sent` before it is returned;
    /// [`Next::Finish`] when the queue holds nothing this session can send.
    ///
    /// A task that cannot become a request (a payload that is no CWMP request, a method the
    /// CPE's version lacks, a value the schema forbids, a file deleted meanwhile) fails here
    /// without ever reaching the CPE, and the next one is tried.
    pub async fn next_request(&self, session: &mut DeviceSession) -> Result<Next, DriveError> {
        let store = self.store();
        loop {
            let now = Utc::now();
            let task = match store
                .next_queued_task(&session.device_id, now)
                .await
                .map_err(storage("reading the queue"))?
            {
                // The queue is in order per device: a task waiting for a retry holds the ones
                // behind it until the next session.
                Some(task) if !session.retry_later.contains(&task.id) => task,
                _ => {
                    session.session.finish();
                    return Ok(Next::Finish);
                }
            };
            let cwmp_id = task.next_cwmp_id();
            let body = self
                .request_body(&task, session)
                .await
                .map_err(storage("reading a file"))?;
            let ready = body.and_then(|body| {
                let prepared = session
                    .session
                    .prepare(task.id, cwmp_id, body)
                    .ok_or_else(|| "the session is not in the ACS's turn".to_owned())?;
                let xml = cwmp::encode(&prepared.envelope)
                    .map_err(|e| format!("cannot be written as CWMP: {e}"))?;
                Ok((prepared, xml))
            });
            let (prepared, xml) = match ready {
                Ok(ready) => ready,
                Err(reason) => {
                    warn!(task = task.id, %reason, "task cannot be sent");
                    let code = cwmp::FaultCode::AcsInvalidArguments.code() as i32;
                    store
                        .fail_unsent_task(task.id, code, &reason, now)
                        .await
                        .map_err(storage("updating the queue"))?;
                    self.ops.task_changed(task.id);
                    continue;
                }
            };
            match store.mark_task_sent(task.id, &prepared.cwmp_id, now).await {
                Ok(_) => {}
                // Another session of the same device got it first (it superseded ours).
                Err(StoreError::TaskStateConflict { .. }) => continue,
                Err(e) => return Err(storage("updating the queue")(e)),
            }
            session.session.commit(&prepared);
            debug!(task = task.id, method = prepared.method, "request sent");
            return Ok(Next::Send(Outgoing {
                task_id: prepared.task_id,
                method: prepared.method,
                envelope: prepared.envelope,
                xml,
            }));
        }
    }

    /// The request a task stands for; one this session cannot carry is the task's fault, not
    /// the session's (the inner `Err`). The outer `Err` is a storage failure.
    async fn request_body(
        &self,
        task: &TaskRow,
        session: &DeviceSession,
    ) -> Result<Result<Body, String>, StoreError> {
        let store = self.store();
        let opened = match store.open_payload(&task.payload) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let payload = match Payload::parse(&opened) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        // Values the caller gave no type get one now, for this device; stored before sending.
        let payload =
            crate::truth::types::settle(store, &session.device_id, task.id, payload).await?;
        let mut body = match payload.request(task.id) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        if let (
            Payload::Task(QueuedTask {
                spec:
                    TaskSpec::Download {
                        file_id: Some(file_id),
                        ..
                    },
                ..
            }),
            Body::Download(download),
        ) = (&payload, &mut body)
        {
            // A stored file: resolved now, not at creation, so the URL carries a fresh token
            // for this device and task, and a file deleted meanwhile fails the task unsent.
            let Some(file) = store.get_file(*file_id).await? else {
                return Ok(Err(format!(
                    "file {file_id} no longer exists (deleted after the task was created)"
                )));
            };
            if download.file_size == 0 {
                download.file_size = u32::try_from(file.size).unwrap_or(0);
            }
            if download.target_file_name.is_empty() {
                download.target_file_name = file.name.clone();
            }
            download.url = self.signer.download_url(
                &session.reached_at,
                &session.device_id,
                task.id,
                &file,
                DOWNLOAD_TOKEN_TTL,
            );
        }
        // Vendor file types (`X <OUI> <name>`, TR-069 A.3.2.8) name the device's own OUI; a
        // task for many devices of several OUIs writes `{oui}` and gets each device's here.
        if let Body::Download(download) = &mut body
            && download.file_type.contains(OUI_PLACEHOLDER)
        {
            let oui = match store.get_device(&session.device_id).await? {
                Some(d) => d.oui_normalized,
                None => return Ok(Err("the device is no longer stored".into())),
            };
            download.file_type = download.file_type.replace(OUI_PLACEHOLDER, &oui);
        }
        let protocol = &session.session;
        if !protocol.supports(&body) {
            return Ok(Err(format!(
                "{} needs CWMP {}, the CPE speaks {}",
                body.element_name(),
                body.min_version(),
                protocol.version()
            )));
        }
        Ok(Ok(body))
    }
}

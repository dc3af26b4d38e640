//! Opening a session: the Inform and what it sets in motion (TR-069 §3.7.1.4, §3.7.1.5).

use super::{DeviceSession, Driver, InformContext, OpenError, Opened};
use crate::cwmp::{Envelope, EventCode, Inform};
use crate::session::Session;
use crate::storage::{self, CredentialOrigin, StoreError};
use crate::tasks::{Payload, Recovery, TaskSpec};
use chrono::Utc;
use tracing::{info, warn};

impl Driver {
    /// Opens a session with its Inform: stores it (before the InformResponse exists), then
    /// queues what the Inform calls for. Failures after the Inform is stored are logged, not
    /// fatal: the device's session goes on, and the next Inform tries again.
    pub async fn on_inform(
        &self,
        envelope: Envelope,
        context: InformContext,
    ) -> Result<Opened, OpenError> {
        let has_work = self.config.session.hold_requests
            && match &envelope.body {
                crate::cwmp::Body::Inform(i) => self
                    .store()
                    .next_queued_task(&i.device_id.device_key(), Utc::now())
                    .await
                    .ok()
                    .flatten()
                    .is_some(),
                _ => false,
            };
        let namespace = envelope.namespace.clone();
        let begun = Session::begin(envelope, &self.config.session, has_work)?;
        let device_id = begun.session.device_key().to_owned();
        let record = storage::InformRecord::from_inform(
            &begun.inform,
            &device_id,
            context.source,
            &namespace,
            Utc::now(),
        );
        self.informs
            .record(record)
            .await
            .map_err(OpenError::NotStored)?;
        // The device is talking to us: connection requests for it may go out again.
        self.ops.session_started(&device_id);
        let inform = &begun.inform;
        if let Err(e) = crate::truth::lines::record(
            self.store(),
            &device_id,
            inform
                .parameter_list
                .iter()
                .map(|p| (p.name.as_str(), p.value.as_str())),
            Utc::now(),
        )
        .await
        {
            warn!(error = %e, "could not store the device's line states");
        }
        if self.take_orphan(&device_id)
            && let Err(e) = self.recover_orphans(&device_id, inform).await
        {
            warn!(error = %e, "could not resolve tasks left by a previous run");
        }
        let bootstrap = inform
            .event
            .iter()
            .any(|e| e.event_code == EventCode::Bootstrap);
        let root = data_model_root(inform);
        // A factory reset put the device's parameter attributes back to their defaults.
        if bootstrap && let Err(e) = self.store().forget_attributes(&device_id).await {
            warn!(error = %e, "could not forget the attributes of a bootstrapped device");
        }
        if self.config.provision_cr_credentials
            && bootstrap
            && let Err(e) = self.queue_cr_credentials(&device_id, &root).await
        {
            warn!(error = %e, "could not queue connection-request credentials");
        }
        if context.rotate_credentials
            && let Err(e) = self
                .queue_management_server_credentials(&device_id, &root)
                .await
        {
            warn!(error = %e, "could not queue the device's own ACS credentials");
        }
        if bootstrap
            && let Err(e) = self
                .config
                .bootstrap
                .queue(
                    self.store(),
                    &device_id,
                    &inform.device_id.product_class,
                    &root,
                )
                .await
        {
            warn!(error = %e, "could not queue the bootstrap read");
        }
        // After the credentials above and before any task is served, so this session already
        // carries what the rules want (in rule order).
        let events: Vec<EventCode> = inform.event.iter().map(|e| e.event_code.clone()).collect();
        match self.provisioner.on_inform(&device_id, &events, &root).await {
            Ok(queued) => {
                for q in &queued {
                    info!(rule = %q.rule, item = q.item.as_str(), task = q.task.id, "provisioning queued a task");
                }
            }
            Err(e) => warn!(error = %e, "provisioning rules could not be applied"),
        }
        let reports_completion = inform
            .event
            .iter()
            .any(|e| matches!(e.event_code, EventCode::Method(_) | EventCode::Bootstrap));
        if reports_completion && let Err(e) = self.confirm_by_events(&device_id, inform).await {
            warn!(error = %e, "could not record task confirmations");
        }
        Ok(Opened {
            session: DeviceSession {
                session: begun.session,
                device_id,
                retry_later: Default::default(),
                reached_at: context.reached_at,
            },
            inform: begun.inform,
            reply: begun.reply,
        })
    }

    /// Resolves a device's tasks left `sent` by a crash, from its Inform: what ran is done and
    /// never sent again, the rest goes back to the queue.
    async fn recover_orphans(&self, device_id: &str, inform: &Inform) -> Result<(), StoreError> {
        let now = Utc::now();
        for task in self.store().sent_tasks_for_device(device_id).await? {
            let payload = Payload::parse(&task.payload);
            match payload.map(|p| p.recover(task.id, inform)) {
                Ok(Recovery::Ran(note)) => {
                    let result = crate::tasks::TaskResult::recovered(note, now);
                    self.store().complete_task(task.id, &result, now).await?;
                    self.ops.task_changed(task.id);
                    info!(task = task.id, note, "task resolved after a restart");
                }
                _ => {
                    self.store().requeue_task(task.id).await?;
                    self.ops.task_changed(task.id);
                    info!(task = task.id, "task requeued after a restart");
                }
            }
        }
        Ok(())
    }

    /// Queues fresh connection-request credentials for a device that has just bootstrapped (it
    /// forgot whatever the ACS set before); they are stored when the CPE has applied them.
    async fn queue_cr_credentials(&self, device_id: &str, root: &str) -> Result<(), StoreError> {
        let (username, password) = crate::tasks::random_connection_request_credentials();
        let spec = TaskSpec::SetConnectionRequestCredentials {
            root: root.to_owned(),
            username,
            password,
        };
        self.store()
            .enqueue_task(&storage::NewTask::for_spec(device_id, &spec))
            .await?;
        Ok(())
    }

    /// Queues random per-device ACS credentials for a device that bootstrapped with the shared
    /// pair, unless such a task is already waiting. They are stored as pending before the task
    /// (so a crash after the CPE applied them cannot lock it out), and the shared pair stops
    /// working for the device only once the CPE has applied them (see `store_applied`, or its
    /// first session with them).
    async fn queue_management_server_credentials(
        &self,
        device_id: &str,
        root: &str,
    ) -> Result<(), StoreError> {
        const KIND: &str = "set_management_server_credentials";
        if self
            .store()
            .unfinished_task_of_kind(device_id, KIND)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let (username, password) = crate::tasks::random_connection_request_credentials();
        self.store()
            .set_device_credential(
                device_id,
                &username,
                &crate::secret::Secret::new(password.expose()),
                CredentialOrigin::Pending,
            )
            .await?;
        let spec = TaskSpec::SetManagementServerCredentials {
            root: root.to_owned(),
            username,
            password,
        };
        self.store()
            .enqueue_task(&storage::NewTask::for_spec(device_id, &spec))
            .await?;
        Ok(())
    }

    /// Confirms tasks by what an Inform reports: `M Reboot`/`M ScheduleInform` with a CommandKey
    /// this ACS generated, and `0 BOOTSTRAP` after a FactoryReset.
    async fn confirm_by_events(&self, device_id: &str, inform: &Inform) -> Result<(), StoreError> {
        let mut ids: Vec<i64> = inform
            .event
            .iter()
            .filter(|e| {
                crate::tasks::CONFIRMING_EVENTS
                    .iter()
                    .any(|m| e.event_code.is_method(m))
            })
            .filter_map(|e| crate::tasks::task_id_of_command_key(&e.command_key))
            .collect();
        if inform
            .event
            .iter()
            .any(|e| e.event_code == EventCode::Bootstrap)
        {
            ids.extend(
                self.store()
                    .unconfirmed_tasks(device_id, "factory_reset")
                    .await?,
            );
        }
        if !ids.is_empty() {
            let confirmed = self
                .store()
                .confirm_tasks(device_id, &ids, Utc::now())
                .await?;
            for id in &confirmed {
                self.ops.task_changed(*id);
            }
            if !confirmed.is_empty() {
                info!(tasks = ?confirmed, "tasks confirmed by the Inform");
            }
        }
        Ok(())
    }
}

/// The device's data-model root (`Device.` or `InternetGatewayDevice.`), from its Inform.
pub(super) fn data_model_root(inform: &Inform) -> String {
    inform
        .parameter_list
        .iter()
        .find_map(|p| p.name.split_once('.').map(|(root, _)| format!("{root}.")))
        .unwrap_or_else(|| "Device.".to_owned())
}

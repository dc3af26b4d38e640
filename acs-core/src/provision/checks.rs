//! Verifying what the rules applied: the checks of a verifying Inform, the judgment of a
//! check's answer, and the re-push of what drifted (the pure parts are in `ensure`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::policy::later;
use super::rule::attribute_structs;
use super::{
    Decision, Item, ItemStatus, ProvisionError, Provisioner, Queued, Rule, Target, ensure, settle,
    task_outcome,
};
use crate::cwmp::{Body, ParameterValue};
use crate::storage::{DeviceRow, NewTask, ProvisionStateRow, ProvisionTaskRole, TaskState};
use crate::tasks::TaskSpec;

impl Provisioner {
    /// Objects are read before anything is added (only the device knows its instances); the
    /// answer ([`Provisioner::on_answer`]) adds what is missing. `true` when they exist, so the
    /// rule's other items may go ahead.
    pub(super) async fn evaluate_objects(
        &self,
        rule: &Rule,
        target: &Target,
        at: &Evaluation<'_>,
    ) -> Result<(Vec<Queued>, bool), ProvisionError> {
        let key = (rule.spec.name.clone(), Item::Objects.as_str().to_owned());
        let mut state = at.states.get(&key).cloned();
        if let Some(s) = &state
            && s.status == ItemStatus::Pending.as_str()
        {
            let task = match s.task_id {
                Some(id) => self.store.get_task(id).await?,
                None => None,
            };
            let outcome = task_outcome(task.as_ref(), None, at.device);
            match settle(s, &outcome, at.now, &self.policy) {
                Some(settled) => {
                    self.store.save_provision_state(&settled, None).await?;
                    state = Some(settled);
                }
                None => return Ok((Vec::new(), false)),
            }
        }
        let ready = |s: &Option<ProvisionStateRow>| {
            s.as_ref().is_some_and(|s| {
                s.target_hash == target.hash
                    && s.status == ItemStatus::Applied.as_str()
                    && !at.bootstrap
            })
        };
        if let Some(s) = &state
            && self.check_in_flight(s).await?
        {
            return Ok((Vec::new(), ready(&state)));
        }
        // The first read faulted (no such table on this model, say): a failure with its reason
        // and backoff, not a `checking` that never ends.
        if let Some(s) = &state
            && s.status == ItemStatus::Checking.as_str()
            && let Some(id) = s.check_task_id
            && let Some(task) = self.store.get_task(id).await?
            && matches!(task.state, TaskState::Fault | TaskState::Expired)
        {
            let outcome = task_outcome(Some(&task), None, at.device);
            if let Some(mut failed) = settle(s, &outcome, at.now, &self.policy) {
                failed.check_task_id = None;
                if let Some(detail) = &mut failed.detail {
                    *detail = format!("reading the objects failed: {detail}");
                }
                self.store.save_provision_state(&failed, None).await?;
                return Ok((Vec::new(), false));
            }
        }
        let fresh = || fresh_state(&at.device.id, &rule.spec.name, target, at.now);
        let Some(row) = ensure::objects_check(
            state.as_ref(),
            fresh,
            &target.hash,
            at.bootstrap,
            at.verifying,
            at.now,
            &self.policy,
        ) else {
            return Ok((Vec::new(), ready(&state)));
        };
        let ready = row.status == ItemStatus::Applied.as_str();
        let paths: Vec<String> = rule.spec.objects.iter().map(|o| o.path.clone()).collect();
        let queued = self
            .check(
                rule,
                Item::Objects,
                row,
                TaskSpec::GetParameterValues { names: paths },
                at.now,
            )
            .await?;
        Ok((queued, ready))
    }

    /// At a verifying Inform, an applied item is compared with the device: parameters whose
    /// Notification the rule turns on from what the device last reported, the rest (and
    /// attributes) by a read at most once per check interval.
    pub(super) async fn verify(
        &self,
        rule: &Rule,
        item: Item,
        state: ProvisionStateRow,
        at: &Evaluation<'_>,
    ) -> Result<Vec<Queued>, ProvisionError> {
        if state.status != ItemStatus::Applied.as_str() {
            return Ok(Vec::new());
        }
        match item {
            Item::Parameters => {
                let attributes_applied = at
                    .states
                    .get(&(rule.spec.name.clone(), Item::Attributes.as_str().to_owned()))
                    .is_some_and(|s| s.status == ItemStatus::Applied.as_str());
                let (notified, read): (Vec<&ParameterValue>, Vec<&ParameterValue>) = rule
                    .spec
                    .parameters
                    .iter()
                    .filter(|p| !ensure::unreadable(&p.name))
                    .partition(|p| attributes_applied && rule.notified(&p.name));
                if !notified.is_empty() {
                    let reported = self.reported_values(&at.device.id, &notified).await?;
                    let wanted: Vec<ParameterValue> = notified.into_iter().cloned().collect();
                    let drift = ensure::drifted_parameters(
                        &wanted,
                        reported.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                    );
                    if !drift.is_empty() {
                        return self
                            .repush(
                                rule,
                                item,
                                &state,
                                drift_tasks(&at.device.id, drift),
                                at.now,
                            )
                            .await;
                    }
                }
                if read.is_empty()
                    || !(at.force_check || ensure::check_due(&state, at.now, &self.policy))
                    || self.check_in_flight(&state).await?
                {
                    return Ok(Vec::new());
                }
                let names = read.iter().map(|p| p.name.clone()).collect();
                let mut row = state;
                row.checked_at = Some(at.now);
                self.check(
                    rule,
                    item,
                    row,
                    TaskSpec::GetParameterValues { names },
                    at.now,
                )
                .await
            }
            Item::Attributes => {
                if !(at.force_check || ensure::check_due(&state, at.now, &self.policy))
                    || self.check_in_flight(&state).await?
                {
                    return Ok(Vec::new());
                }
                let names = rule
                    .spec
                    .attributes
                    .iter()
                    .map(|a| a.name.clone())
                    .collect();
                let mut row = state;
                row.checked_at = Some(at.now);
                self.check(
                    rule,
                    item,
                    row,
                    TaskSpec::GetParameterAttributes { names },
                    at.now,
                )
                .await
            }
            _ => Ok(Vec::new()),
        }
    }

    /// What the device last reported for `params` (stored values).
    async fn reported_values(
        &self,
        device_id: &str,
        params: &[&ParameterValue],
    ) -> Result<Vec<(String, String)>, ProvisionError> {
        let mut out = Vec::with_capacity(params.len());
        for p in params {
            out.extend(
                self.store
                    .get_parameters(device_id, Some(&p.name))
                    .await?
                    .into_iter()
                    .filter(|r| r.name == p.name)
                    .map(|r| (r.name, r.value)),
            );
        }
        Ok(out)
    }

    /// Whether the item's last read is still queued or on its way.
    async fn check_in_flight(&self, state: &ProvisionStateRow) -> Result<bool, ProvisionError> {
        Ok(match state.check_task_id {
            Some(id) => self.store.get_task(id).await?.is_some_and(|t| {
                matches!(
                    t.state,
                    TaskState::Held | TaskState::Queued | TaskState::Sent
                )
            }),
            None => false,
        })
    }

    /// Queues a read of the device for an item, with its state.
    async fn check(
        &self,
        rule: &Rule,
        item: Item,
        row: ProvisionStateRow,
        read: TaskSpec,
        now: DateTime<Utc>,
    ) -> Result<Vec<Queued>, ProvisionError> {
        let mut new = NewTask::for_spec(&row.device_id, &read);
        // A read not done within the interval is stale: the next check replaces it.
        new.expires_at = Some(later(now, self.policy.check_every()));
        new.max_attempts = 1;
        let tasks = self
            .store
            .save_provision_tasks(&row, &[new], ProvisionTaskRole::Check)
            .await?;
        Ok(tasks
            .into_iter()
            .map(|task| Queued {
                rule: rule.spec.name.clone(),
                item,
                task,
            })
            .collect())
    }

    /// Pushes again what drifted, through the loop protection and backoff; records the drift
    /// (event and metric) when the item had been applied.
    async fn repush(
        &self,
        rule: &Rule,
        item: Item,
        state: &ProvisionStateRow,
        (drift, tasks): (Vec<ensure::Drift>, Vec<NewTask>),
        now: DateTime<Utc>,
    ) -> Result<Vec<Queued>, ProvisionError> {
        let mut state = state.clone();
        state.check_task_id = None;
        if ensure::is_drift(&state) {
            metrics::counter!(super::DRIFT_SERIES, "item" => item.as_str()).increment(1);
            let event = ensure::drift_event(&rule.spec.name, item, &drift);
            tracing::info!(device = %state.device_id, rule = %rule.spec.name, item = item.as_str(), "{event}");
            self.store
                .append_event(&state.device_id, &event, None, now)
                .await?;
        }
        if !rule.in_window(now) {
            // Found inside the window, answered outside it: the next check pushes.
            self.store.save_provision_state(&state, None).await?;
            return Ok(Vec::new());
        }
        match ensure::on_drift(&state, now, &self.policy) {
            Decision::Keep => {
                self.store.save_provision_state(&state, None).await?;
                Ok(Vec::new())
            }
            Decision::Record(row) => {
                tracing::warn!(
                    device = %row.device_id,
                    rule = %rule.spec.name,
                    item = item.as_str(),
                    "provisioning halted: the device keeps undoing it"
                );
                self.store.save_provision_state(&row, None).await?;
                Ok(Vec::new())
            }
            Decision::Push(row) => Ok(self
                .store
                .save_provision_tasks(&row, &tasks, ProvisionTaskRole::Push)
                .await?
                .into_iter()
                .map(|task| Queued {
                    rule: rule.spec.name.clone(),
                    item,
                    task,
                })
                .collect()),
        }
    }

    /// The last AddObject of an objects item is done: the item is applied, and the rule's other
    /// items go ahead in this same session (their parameters may live in the new instances,
    /// so what was applied before is verified now).
    async fn on_instance_added(
        &self,
        device_id: &str,
        task_id: i64,
    ) -> Result<Vec<Queued>, ProvisionError> {
        let _guard = self.lock(device_id).await;
        let states: HashMap<(String, String), ProvisionStateRow> = self
            .store
            .provision_states(device_id)
            .await?
            .into_iter()
            .map(|s| ((s.rule.clone(), s.item.clone()), s))
            .collect();
        let Some(state) = states.values().find(|s| {
            s.item == Item::Objects.as_str()
                && s.task_id == Some(task_id)
                && s.status == ItemStatus::Pending.as_str()
        }) else {
            return Ok(Vec::new());
        };
        let rule = match self.rule(&state.rule).await {
            Ok(rule) => rule,
            Err(ProvisionError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let Some(device) = self.store.get_device(device_id).await? else {
            return Ok(Vec::new());
        };
        let now = Utc::now();
        let applied = ensure::applied(state, now);
        self.store.save_provision_state(&applied, None).await?;
        let mut states = states.clone();
        states.insert((applied.rule.clone(), applied.item.clone()), applied);
        // The tables' paths name the data-model root (`Device.` or `InternetGatewayDevice.`).
        let root = rule
            .spec
            .objects
            .first()
            .and_then(|o| o.path.split_once('.'))
            .map_or_else(|| "Device.".to_owned(), |(r, _)| format!("{r}."));
        let at = Evaluation {
            device: &device,
            root: &root,
            now,
            bootstrap: false,
            verifying: rule.spec.events.iter().any(|e| e.verifies()),
            force_check: true,
            states: &states,
        };
        if !rule.in_window(now) {
            return Ok(Vec::new());
        }
        let mut queued = Vec::new();
        for target in self.targets(&rule).await? {
            if target.item != Item::Objects {
                queued.extend(self.evaluate(&rule, &target, &at).await?);
            }
        }
        Ok(queued)
    }

    /// Judges the device's answer to a check (a task of [`ProvisionTaskRole::Check`]), stored
    /// already: re-pushes what drifted, in this session. Called for every successful read; a
    /// read that is no check costs one indexed query.
    pub async fn on_answer(
        &self,
        device_id: &str,
        task_id: i64,
        answer: &Body,
    ) -> Result<Vec<Queued>, ProvisionError> {
        if matches!(answer, Body::AddObjectResponse(_)) {
            return self.on_instance_added(device_id, task_id).await;
        }
        if !matches!(
            answer,
            Body::GetParameterValuesResponse(_) | Body::GetParameterAttributesResponse(_)
        ) {
            return Ok(Vec::new());
        }
        let _guard = self.lock(device_id).await;
        let Some(state) = self
            .store
            .provision_states(device_id)
            .await?
            .into_iter()
            .find(|s| s.check_task_id == Some(task_id))
        else {
            return Ok(Vec::new());
        };
        let rule = match self.rule(&state.rule).await {
            Ok(rule) => rule,
            Err(ProvisionError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let now = Utc::now();
        let (drift, tasks): (Vec<ensure::Drift>, Vec<NewTask>) = match (state.item.as_str(), answer)
        {
            ("parameters", Body::GetParameterValuesResponse(r)) => {
                let drift = ensure::drifted_parameters(
                    &rule.spec.parameters,
                    r.parameter_list
                        .iter()
                        .map(|p| (p.name.as_str(), p.value.as_str())),
                );
                drift_tasks(device_id, drift)
            }
            ("attributes", Body::GetParameterAttributesResponse(r)) => {
                let drift = ensure::drifted_attributes(&rule.spec.attributes, &r.parameter_list);
                let (wanted, drift): (Vec<_>, Vec<_>) = drift.into_iter().unzip();
                let tasks = if wanted.is_empty() {
                    Vec::new()
                } else {
                    vec![NewTask::for_spec(
                        device_id,
                        &TaskSpec::SetParameterAttributes {
                            attributes: attribute_structs(&wanted),
                        },
                    )]
                };
                (drift, tasks)
            }
            ("objects", Body::GetParameterValuesResponse(r)) => {
                let missing = ensure::missing_instances(
                    &rule.spec.objects,
                    r.parameter_list.iter().map(|p| p.name.as_str()),
                );
                let mut drift = Vec::new();
                let mut tasks = Vec::new();
                for (object, count, d) in missing {
                    drift.push(d);
                    for _ in 0..count {
                        tasks.push(NewTask::for_spec(
                            device_id,
                            &TaskSpec::AddObject {
                                object: object.path.clone(),
                            },
                        ));
                    }
                }
                (drift, tasks)
            }
            _ => return Ok(Vec::new()),
        };
        if tasks.is_empty() {
            let row = if state.item == Item::Objects.as_str() {
                ensure::applied(&state, now)
            } else {
                ProvisionStateRow {
                    check_task_id: None,
                    ..state
                }
            };
            self.store.save_provision_state(&row, None).await?;
            return Ok(Vec::new());
        }
        let item = match state.item.as_str() {
            "objects" => Item::Objects,
            "attributes" => Item::Attributes,
            _ => Item::Parameters,
        };
        self.repush(&rule, item, &state, (drift, tasks), now).await
    }
}

/// What one evaluation of the rules at an Inform shares.
pub(super) struct Evaluation<'a> {
    pub(super) device: &'a DeviceRow,
    pub(super) root: &'a str,
    pub(super) now: DateTime<Utc>,
    pub(super) bootstrap: bool,
    /// The Inform carries an event at which the rule verifies.
    pub(super) verifying: bool,
    /// Verify applied items now, whatever the interval (instances were just added: what lived
    /// in them may be gone).
    pub(super) force_check: bool,
    pub(super) states: &'a HashMap<(String, String), ProvisionStateRow>,
}

/// A state for an item never decided on.
pub(super) fn fresh_state(
    device_id: &str,
    rule: &str,
    target: &Target,
    now: DateTime<Utc>,
) -> ProvisionStateRow {
    ProvisionStateRow {
        device_id: device_id.to_owned(),
        rule: rule.to_owned(),
        item: target.item.as_str().to_owned(),
        target_hash: target.hash.clone(),
        task_id: None,
        status: ItemStatus::Checking.as_str().to_owned(),
        failures: 0,
        next_attempt_at: None,
        window_start: None,
        window_pushes: 0,
        detail: None,
        updated_at: now,
        checked_at: None,
        check_task_id: None,
    }
}

/// The drift of parameters and the SetParameterValues of only those.
fn drift_tasks(
    device_id: &str,
    drift: Vec<(ParameterValue, ensure::Drift)>,
) -> (Vec<ensure::Drift>, Vec<NewTask>) {
    let (values, drift): (Vec<ParameterValue>, Vec<ensure::Drift>) = drift.into_iter().unzip();
    let tasks = if values.is_empty() {
        Vec::new()
    } else {
        vec![NewTask::for_spec(
            device_id,
            &TaskSpec::SetParameterValues { values },
        )]
    };
    (drift, tasks)
}

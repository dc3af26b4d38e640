//! The runtime that applies the rules at each Inform and manages them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::policy::later;
use super::rule::attribute_structs;
use super::{
    CONFIG_FILE_TYPE, Decision, FIRMWARE_FILE_TYPE, Item, ItemStatus, ProvisionError,
    ProvisionEvent, ProvisionPolicy, Rule, RuleSource, RuleSpec, Target, TaskOutcome, decide,
    ensure, invalid, settle, task_outcome, validate, version_from_image_name,
};
use crate::cwmp::{Body, EventCode, ParameterValue, Password};
use crate::files::FileStore;
use crate::storage::{
    DeviceRow, FileKind, FileRow, NewTask, ProvisionStateRow, ProvisionTaskRole, Store, StoreError,
    StoredRule, TaskRow, TaskState,
};
use crate::tasks::TaskSpec;

/// What provisioning queued at one Inform (`Debug` leaves out the task's payload: it can hold
/// credentials).
#[derive(Clone, PartialEq)]
pub struct Queued {
    /// The rule.
    pub rule: String,
    /// The item.
    pub item: Item,
    /// The task.
    pub task: TaskRow,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queued")
            .field("rule", &self.rule)
            .field("item", &self.item)
            .field("task", &self.task.id)
            .field("kind", &self.task.kind)
            .finish()
    }
}

/// Applies the rules at each Inform, and manages them.
#[derive(Debug)]
pub struct Provisioner {
    store: Store,
    files: FileStore,
    config_rules: Vec<Rule>,
    policy: ProvisionPolicy,
    /// Per-device serialisation of evaluations (sharded: a lock per device would grow without
    /// bound). Several servers on one database are not covered; see ARCHITECTURE.md.
    locks: Vec<tokio::sync::Mutex<()>>,
}

impl Provisioner {
    /// With the configuration file's rules (files already imported).
    pub fn new(
        store: Store,
        files: FileStore,
        config_rules: Vec<RuleSpec>,
        policy: ProvisionPolicy,
    ) -> Result<Provisioner, ProvisionError> {
        let mut rules = Vec::with_capacity(config_rules.len());
        for spec in config_rules {
            if rules.iter().any(|r: &Rule| r.spec.name == spec.name) {
                return Err(ProvisionError::Invalid(format!(
                    "two provisioning rules are named `{}`",
                    spec.name
                )));
            }
            rules.push(validate(spec, RuleSource::Config)?);
        }
        Ok(Provisioner {
            store,
            files,
            config_rules: rules,
            policy,
            locks: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
        })
    }

    /// Every rule, in the order they apply.
    pub async fn rules(&self) -> Result<Vec<Rule>, ProvisionError> {
        let mut rules = self.config_rules.clone();
        for stored in self.store.list_provision_rules().await? {
            let name = stored.name.clone();
            match stored_rule(stored) {
                Ok(rule) => rules.push(rule),
                // One unreadable rule (written by another version, say) must not stop the
                // others; it stays listed in the database for an operator to remove.
                Err(e) => tracing::warn!(rule = %name, error = %e, "provisioning rule skipped"),
            }
        }
        rules.sort_by(|a, b| (a.spec.order, &a.spec.name).cmp(&(b.spec.order, &b.spec.name)));
        Ok(rules)
    }

    /// One rule.
    pub async fn rule(&self, name: &str) -> Result<Rule, ProvisionError> {
        self.rules()
            .await?
            .into_iter()
            .find(|r| r.spec.name == name)
            .ok_or_else(|| ProvisionError::NotFound(name.to_owned()))
    }

    /// Validates and stores a rule. Its files must exist and be of the right kind; a firmware
    /// version is resolved (rule, file, image name) and stored with it.
    pub async fn add_rule(
        &self,
        spec: RuleSpec,
        created_by: Option<&str>,
    ) -> Result<Rule, ProvisionError> {
        let mut rule = validate(spec, RuleSource::Api)?;
        if self
            .config_rules
            .iter()
            .any(|r| r.spec.name == rule.spec.name)
        {
            return Err(ProvisionError::Conflict(format!(
                "a provisioning rule named `{}` is defined in the configuration file",
                rule.spec.name
            )));
        }
        let name = rule.spec.name.clone();
        let file = |id: Option<i64>, kind: FileKind, what: &'static str| {
            let name = name.clone();
            async move {
                let Some(id) = id else { return Ok(None) };
                match self.store.get_file(id).await? {
                    None => invalid(&name, format!("{what} file {id} does not exist")),
                    Some(f) if f.kind != kind => invalid(
                        &name,
                        format!(
                            "file {id} ({}) is a {} file, not a {}",
                            f.name,
                            f.kind.as_str(),
                            kind.as_str()
                        ),
                    ),
                    Some(f) => Ok(Some(f)),
                }
            }
        };
        file(
            rule.spec.template_file,
            FileKind::ConfigTemplate,
            "template",
        )
        .await?;
        // Only a file stored as `vars` is never served to devices: a CSV of secrets uploaded
        // as anything else is refused rather than silently left downloadable.
        file(rule.spec.vars_file, FileKind::Vars, "vars").await?;
        if let Some(fw) = file(rule.spec.firmware_file, FileKind::Firmware, "firmware").await? {
            let version = rule
                .spec
                .firmware_version
                .clone()
                .or(fw.version.clone())
                .or_else(|| version_from_image_name(&fw.name));
            match version {
                Some(v) => rule.spec.firmware_version = Some(v),
                None => {
                    return invalid(
                        &name,
                        format!(
                            "file {} ({}) has no version: give firmware_version",
                            fw.id, fw.name
                        ),
                    );
                }
            }
        }
        let definition =
            serde_json::to_value(&rule.spec).map_err(|e| ProvisionError::Invalid(e.to_string()))?;
        let stored = self
            .store
            .insert_provision_rule(&name, &definition, created_by)
            .await
            .map_err(|e| match e {
                StoreError::AlreadyExists(what) => {
                    ProvisionError::Conflict(format!("{what} already exists"))
                }
                e => e.into(),
            })?;
        rule.created_by = stored.created_by;
        rule.created_at = Some(stored.created_at);
        Ok(rule)
    }

    /// Removes an API rule and every device's state of it.
    pub async fn remove_rule(&self, name: &str) -> Result<(), ProvisionError> {
        if self.config_rules.iter().any(|r| r.spec.name == name) {
            return Err(ProvisionError::Conflict(format!(
                "the provisioning rule `{name}` is defined in the configuration file; remove it there"
            )));
        }
        match self.store.delete_provision_rule(name).await? {
            Some(_) => Ok(()),
            None => Err(ProvisionError::NotFound(name.to_owned())),
        }
    }

    /// The files the rules that apply to a device send it (templates and firmware; never a
    /// variables CSV, which is only read here): what it may fetch by name from
    /// `/files/d/<name>`. One query per rule that names a file.
    pub async fn files_assigned_to(&self, device_id: &str) -> Result<Vec<i64>, ProvisionError> {
        let now = Utc::now();
        let mut ids = Vec::new();
        for rule in self.rules().await? {
            let files: Vec<i64> = [rule.spec.template_file, rule.spec.firmware_file]
                .into_iter()
                .flatten()
                .filter(|id| !ids.contains(id))
                .collect();
            if !files.is_empty()
                && self
                    .store
                    .device_matches(device_id, rule.filter.as_ref(), now)
                    .await?
            {
                ids.extend(files);
            }
        }
        Ok(ids)
    }

    /// The rules using a stored file (a file in use must not be deleted).
    pub async fn rules_using_file(&self, file_id: i64) -> Result<Vec<String>, ProvisionError> {
        Ok(self
            .rules()
            .await?
            .into_iter()
            .filter(|r| {
                [r.spec.template_file, r.spec.vars_file, r.spec.firmware_file]
                    .contains(&Some(file_id))
            })
            .map(|r| r.spec.name)
            .collect())
    }

    /// Where each item stands for a device. A pushed item whose task has finished since the
    /// device's last matching event is settled (and stored) now, so the view is current even
    /// for rules that act only on BOOTSTRAP.
    pub async fn device_status(
        &self,
        device_id: &str,
    ) -> Result<Vec<ProvisionStateRow>, ProvisionError> {
        let _guard = self.lock(device_id).await;
        let states = self.store.provision_states(device_id).await?;
        let Some(device) = self.store.get_device(device_id).await? else {
            return Ok(Vec::new());
        };
        let mut rules: Option<Vec<Rule>> = None;
        let mut out = Vec::with_capacity(states.len());
        for state in states {
            if state.status != ItemStatus::Pending.as_str() {
                out.push(state);
                continue;
            }
            let rules = match &mut rules {
                Some(r) => r,
                None => rules.insert(self.rules().await?),
            };
            let version = rules
                .iter()
                .find(|r| r.spec.name == state.rule)
                .filter(|_| state.item == Item::Firmware.as_str())
                .and_then(|r| r.spec.firmware_version.clone());
            let task = match state.task_id {
                Some(id) => self.store.get_task(id).await?,
                None => None,
            };
            let outcome = task_outcome(task.as_ref(), version.as_deref(), &device);
            match settle(&state, &outcome, Utc::now(), &self.policy) {
                Some(settled) => {
                    self.store.save_provision_state(&settled, None).await?;
                    out.push(settled);
                }
                None => out.push(state),
            }
        }
        Ok(out)
    }

    /// Forgets a device's states (of one rule, or all).
    /// Items whose task is still unfinished are kept: forgetting them would push again while
    /// the first push is on its way.
    pub async fn reset(&self, device_id: &str, rule: Option<&str>) -> Result<u64, ProvisionError> {
        if let Some(name) = rule
            && !self.rules().await?.iter().any(|r| r.spec.name == name)
        {
            return Err(ProvisionError::NotFound(name.to_owned()));
        }
        let _guard = self.lock(device_id).await;
        Ok(self.store.reset_provision_states(device_id, rule).await?)
    }

    /// Applies the rules to a device that has just informed (its Inform already stored):
    /// queues what is missing, in rule order. `root` is the device's data-model root
    /// (`Device.` or `InternetGatewayDevice.`).
    pub async fn on_inform(
        &self,
        device_id: &str,
        events: &[EventCode],
        root: &str,
    ) -> Result<Vec<Queued>, ProvisionError> {
        let events: Vec<ProvisionEvent> = events.iter().filter_map(ProvisionEvent::of).collect();
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let rules: Vec<Rule> = self
            .rules()
            .await?
            .into_iter()
            .filter(|r| r.acts_on(&events))
            .collect();
        if rules.is_empty() {
            return Ok(Vec::new());
        }
        // One evaluation per device at a time: two overlapping Informs (a CPE retrying after a
        // slow answer) would otherwise both see "not pushed yet" and both push.
        let _guard = self.lock(device_id).await;
        let Some(device) = self.store.get_device(device_id).await? else {
            return Ok(Vec::new());
        };
        let now = Utc::now();
        let bootstrap = events.contains(&ProvisionEvent::Bootstrap);
        let states: HashMap<(String, String), ProvisionStateRow> = self
            .store
            .provision_states(device_id)
            .await?
            .into_iter()
            .map(|s| ((s.rule.clone(), s.item.clone()), s))
            .collect();
        let mut queued = Vec::new();
        for rule in &rules {
            // Outside its window the rule waits; a later Inform inside one does the work.
            if !rule.in_window(now) {
                continue;
            }
            if !self
                .store
                .device_matches(device_id, rule.filter.as_ref(), now)
                .await?
            {
                continue;
            }
            let at = Evaluation {
                device: &device,
                root,
                now,
                bootstrap,
                verifying: rule.verifies_at(&events),
                force_check: false,
                states: &states,
            };
            queued.extend(self.evaluate_rule(rule, &at).await?);
        }
        Ok(queued)
    }

    /// Every item of one rule, in order. A rule's objects come first: its other items (whose
    /// parameters may live in those objects) wait until they exist.
    async fn evaluate_rule(
        &self,
        rule: &Rule,
        at: &Evaluation<'_>,
    ) -> Result<Vec<Queued>, ProvisionError> {
        let mut queued = Vec::new();
        for target in self.targets(rule).await? {
            if target.item == Item::Objects {
                let (q, ready) = self.evaluate_objects(rule, &target, at).await?;
                queued.extend(q);
                if !ready {
                    break;
                }
                continue;
            }
            queued.extend(self.evaluate(rule, &target, at).await?);
        }
        Ok(queued)
    }

    /// One item of one rule at an Inform: settle, push, or check.
    async fn evaluate(
        &self,
        rule: &Rule,
        target: &Target,
        at: &Evaluation<'_>,
    ) -> Result<Vec<Queued>, ProvisionError> {
        let device = at.device;
        let key = (rule.spec.name.clone(), target.item.as_str().to_owned());
        let state = at.states.get(&key);
        let outcome = match state {
            Some(s) if s.status == ItemStatus::Pending.as_str() => {
                let task = match s.task_id {
                    Some(id) => self.store.get_task(id).await?,
                    None => None,
                };
                task_outcome(task.as_ref(), target.version.as_deref(), device)
            }
            _ => TaskOutcome::Missing,
        };
        let decision = decide(
            &device.id,
            &rule.spec.name,
            target,
            state,
            &outcome,
            device.software_version.as_deref(),
            at.bootstrap,
            at.now,
            &self.policy,
        );
        let current = match decision {
            Decision::Keep => state.cloned(),
            Decision::Record(row) => {
                if row.status == ItemStatus::Halted.as_str() {
                    tracing::warn!(
                        device = %device.id,
                        rule = %rule.spec.name,
                        item = target.item.as_str(),
                        "provisioning halted: pushed too often"
                    );
                }
                self.store.save_provision_state(&row, None).await?;
                Some(row)
            }
            Decision::Push(row) => {
                let pushed = self
                    .push(rule, target, row, device, at.root, at.now)
                    .await?;
                return Ok(pushed.into_iter().collect());
            }
        };
        match current {
            Some(state) if at.verifying => self.verify(rule, target.item, state, at).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Objects are read before anything is added (only the device knows its instances); the
    /// answer ([`Provisioner::on_answer`]) adds what is missing. `true` when they exist, so the
    /// rule's other items may go ahead.
    async fn evaluate_objects(
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
    async fn verify(
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

    /// Queues the task of a push decision with its state (or records why it cannot be built).
    async fn push(
        &self,
        rule: &Rule,
        target: &Target,
        mut row: ProvisionStateRow,
        device: &DeviceRow,
        root: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Queued>, ProvisionError> {
        if target.item == Item::ConnectionRequest
            && let Some(task) = self
                .store
                .unfinished_task_of_kind(&device.id, "set_connection_request_credentials")
                .await?
        {
            // Credentials are already on their way (the bootstrap default of
            // `cwmp.provision_connection_request_credentials`): that task is this push, so the
            // device is not given two sets in one session.
            row.task_id = Some(task.id);
            self.store.save_provision_state(&row, None).await?;
            return Ok(None);
        }
        let spec = match self.build(rule, target.item, device, root).await? {
            Ok(spec) => spec,
            // The target cannot be built for this device (a template variable is missing, a
            // file was deleted): a failure, with backoff.
            Err(why) => {
                row.status = ItemStatus::Failed.as_str().into();
                row.failures = row.failures.saturating_add(1);
                row.next_attempt_at = Some(later(now, self.policy.backoff_after(row.failures)));
                tracing::warn!(
                    device = %device.id,
                    rule = %rule.spec.name,
                    item = target.item.as_str(),
                    detail = %why,
                    "provisioning item cannot be pushed"
                );
                row.detail = Some(why);
                self.store.save_provision_state(&row, None).await?;
                return Ok(None);
            }
        };
        let new = NewTask::for_spec(&device.id, &spec);
        Ok(self
            .store
            .save_provision_state(&row, Some(&new))
            .await?
            .map(|task| Queued {
                rule: rule.spec.name.clone(),
                item: target.item,
                task,
            }))
    }

    /// The items of `rule` with their targets: cheap (file metadata only), computed at every
    /// matching Inform.
    async fn targets(&self, rule: &Rule) -> Result<Vec<Target>, ProvisionError> {
        let spec = &rule.spec;
        let mut out = Vec::new();
        if !spec.objects.is_empty() {
            let canonical = serde_json::to_string(&spec.objects).unwrap_or_default();
            out.push(Target {
                item: Item::Objects,
                hash: hash_of(&["objects", &canonical]),
                version: None,
            });
        }
        if !spec.parameters.is_empty() {
            let canonical = serde_json::to_string(&spec.parameters).unwrap_or_default();
            out.push(Target {
                item: Item::Parameters,
                hash: hash_of(&["parameters", &canonical]),
                version: None,
            });
        }
        if !spec.attributes.is_empty() {
            let canonical = serde_json::to_string(&spec.attributes).unwrap_or_default();
            out.push(Target {
                item: Item::Attributes,
                hash: hash_of(&["attributes", &canonical]),
                version: None,
            });
        }
        if spec.connection_request_credentials {
            out.push(Target {
                item: Item::ConnectionRequest,
                hash: hash_of(&["connection_request", "random"]),
                version: None,
            });
        }
        if let Some(template_id) = spec.template_file {
            let template = self.store.get_file(template_id).await?;
            let vars = match spec.vars_file {
                Some(id) => Some(self.store.get_file(id).await?),
                None => None,
            };
            // A deleted file gives a target of its own; the push then fails with the reason.
            let sha = |f: &Option<FileRow>| {
                f.as_ref()
                    .map_or("deleted", |f| f.sha256.as_str())
                    .to_owned()
            };
            let vars_sha = vars.as_ref().map_or(String::new(), sha);
            out.push(Target {
                item: Item::Configuration,
                hash: hash_of(&["configuration", &sha(&template), &vars_sha]),
                version: None,
            });
        }
        if let Some(firmware_id) = spec.firmware_file {
            let file = self.store.get_file(firmware_id).await?;
            let version = spec
                .firmware_version
                .clone()
                .or_else(|| file.as_ref().and_then(|f| f.version.clone()));
            out.push(Target {
                item: Item::Firmware,
                hash: hash_of(&[
                    "firmware",
                    file.as_ref().map_or("deleted", |f| f.sha256.as_str()),
                    version.as_deref().unwrap_or(""),
                ]),
                version,
            });
        }
        Ok(out)
    }

    /// The task that pushes `item` of `rule` to `device`, or why there can be none.
    async fn build(
        &self,
        rule: &Rule,
        item: Item,
        device: &DeviceRow,
        root: &str,
    ) -> Result<Result<TaskSpec, String>, ProvisionError> {
        let spec = &rule.spec;
        Ok(match item {
            Item::Parameters => Ok(TaskSpec::SetParameterValues {
                values: spec.parameters.clone(),
            }),
            Item::Attributes => Ok(TaskSpec::SetParameterAttributes {
                attributes: attribute_structs(&spec.attributes),
            }),
            // Added from a check's answer, never pushed blind.
            Item::Objects => Err("objects are added from what the device reports".into()),
            Item::ConnectionRequest => {
                let (username, password) = crate::tasks::random_connection_request_credentials();
                Ok(TaskSpec::SetConnectionRequestCredentials {
                    root: root.to_owned(),
                    username,
                    password,
                })
            }
            Item::Configuration => {
                let Some(id) = spec.template_file else {
                    return Ok(Err("the rule has no template".into()));
                };
                let Some(template) = self.store.get_file(id).await? else {
                    return Ok(Err(format!("the template file {id} was deleted")));
                };
                if let Some(vars) = spec.vars_file
                    && self.store.get_file(vars).await?.is_none()
                {
                    return Ok(Err(format!("the vars file {vars} was deleted")));
                }
                // Rendered now only to find a missing variable before the device does.
                match self
                    .files
                    .render_for_device(&template, device, spec.vars_file)
                    .await
                {
                    Ok(_) => Ok(download(CONFIG_FILE_TYPE, id, spec.vars_file)),
                    Err(e) => Err(format!("the template does not render: {e}")),
                }
            }
            Item::Firmware => {
                let Some(id) = spec.firmware_file else {
                    return Ok(Err("the rule has no firmware".into()));
                };
                match self.store.get_file(id).await? {
                    Some(f) => Ok(download(FIRMWARE_FILE_TYPE, f.id, None)),
                    None => Err(format!("the firmware file {id} was deleted")),
                }
            }
        })
    }

    async fn lock(&self, device_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        device_id.hash(&mut h);
        let shard = (h.finish() % self.locks.len() as u64) as usize;
        self.locks[shard].lock().await
    }
}

/// What one evaluation of the rules at an Inform shares.
struct Evaluation<'a> {
    device: &'a DeviceRow,
    root: &'a str,
    now: DateTime<Utc>,
    bootstrap: bool,
    /// The Inform carries an event at which the rule verifies.
    verifying: bool,
    /// Verify applied items now, whatever the interval (instances were just added: what lived
    /// in them may be gone).
    force_check: bool,
    states: &'a HashMap<(String, String), ProvisionStateRow>,
}

/// A state for an item never decided on.
fn fresh_state(
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

fn download(file_type: &str, file_id: i64, vars_file_id: Option<i64>) -> TaskSpec {
    TaskSpec::Download {
        file_type: file_type.to_owned(),
        url: String::new(),
        file_id: Some(file_id),
        vars_file_id,
        username: String::new(),
        password: Password::default(),
        file_size: 0,
        target_file_name: String::new(),
        delay_seconds: 0,
    }
}

fn stored_rule(stored: StoredRule) -> Result<Rule, ProvisionError> {
    let spec: RuleSpec =
        serde_json::from_value(stored.definition).map_err(|e| StoreError::Corrupt {
            table: "provision_rules",
            column: "definition",
            key: stored.name.clone(),
            reason: e.to_string(),
        })?;
    let mut rule = validate(spec, RuleSource::Api)?;
    rule.created_by = stored.created_by;
    rule.created_at = Some(stored.created_at);
    Ok(rule)
}

fn hash_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

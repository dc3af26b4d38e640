//! The runtime that applies the rules at each Inform and manages them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::checks::Evaluation;
use super::policy::later;
use super::rule::attribute_structs;
use super::{
    CONFIG_FILE_TYPE, Decision, FIRMWARE_FILE_TYPE, Item, ItemStatus, ProvisionError,
    ProvisionEvent, ProvisionPolicy, Rule, RuleSource, RuleSpec, Target, TaskOutcome, decide,
    invalid, settle, task_outcome, validate, version_from_image_name,
};
use crate::cwmp::{EventCode, Password};
use crate::files::FileStore;
use crate::storage::{
    DeviceRow, FileKind, FileRow, NewTask, ProvisionStateRow, Store, StoreError, StoredRule,
    TaskRow,
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
    pub(super) store: Store,
    pub(super) files: FileStore,
    pub(super) config_rules: Vec<Rule>,
    pub(super) policy: ProvisionPolicy,
    /// Per-device serialisation of evaluations (sharded: a lock per device would grow without
    /// bound). Several servers on one database are not covered; see ARCHITECTURE.md.
    pub(super) locks: Vec<tokio::sync::Mutex<()>>,
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
    pub(super) async fn evaluate(
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
    pub(super) async fn targets(&self, rule: &Rule) -> Result<Vec<Target>, ProvisionError> {
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

    pub(super) async fn lock(&self, device_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        device_id.hash(&mut h);
        let shard = (h.finish() % self.locks.len() as u64) as usize;
        self.locks[shard].lock().await
    }
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

//! Zero-touch provisioning: rules that bring a device to a wanted state when it informs.
//!
//! A rule names the devices it is for (a [`Filter`]), the events it acts on (`0 BOOTSTRAP`,
//! `1 BOOT`, `2 PERIODIC`; TR-069 §3.7.1.5) and up to four *items*, pushed in this order:
//! parameter values, connection-request credentials, a configuration template (`3 Vendor
//! Configuration File`), a firmware image (`1 Firmware Upgrade Image`, last because it reboots
//! the device). Rules come from the configuration file (`[[provision.rules]]`, read-only) and
//! from the API; they apply in ascending `order`, then by name.
//!
//! For each (device, rule, item) a state row records the *target* last decided on (a hash of
//! what would be pushed), the task that pushed it and the counters below. [`decide`] is the
//! whole policy and does no I/O:
//! - **Idempotent.** A target already applied is not pushed again, whatever the event, except
//!   after `0 BOOTSTRAP`, which says the device lost its configuration; a firmware image is
//!   pushed only while the device reports another SoftwareVersion.
//! - **One at a time.** While an item's task is unfinished nothing more is pushed for it.
//! - **Backoff.** After a failed push the same target waits `backoff × 2^(failures-1)` (capped)
//!   before it is tried again.
//! - **Loop protection.** At most `loop_limit` pushes of one target per `loop_window`; then the
//!   item is `halted` until the window has passed or an operator resets it. An image after
//!   which the device still reports another version is `mismatch` and never re-pushed (a
//!   changed target clears both).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cwmp::{EventCode, ParameterValue, Password};
use crate::files::{FileMeta, FileStore};
use crate::filter::Filter;
use crate::rollout::{self, RolloutState, VERSION_MISMATCH_FAULT};
use crate::storage::{
    DeviceRow, FileKind, FileRow, NewTask, ProvisionStateRow, Store, StoreError, StoredRule,
    TaskRow,
};
use crate::tasks::TaskSpec;

/// FileType of a configuration push.
pub const CONFIG_FILE_TYPE: &str = "3 Vendor Configuration File";
/// FileType of a firmware push.
pub const FIRMWARE_FILE_TYPE: &str = "1 Firmware Upgrade Image";

/// An Inform event a rule can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum ProvisionEvent {
    /// `0 BOOTSTRAP`: first contact, or after a factory reset.
    Bootstrap,
    /// `1 BOOT`: power-on or reboot.
    Boot,
    /// `2 PERIODIC`.
    Periodic,
}

impl ProvisionEvent {
    /// The name used in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionEvent::Bootstrap => "BOOTSTRAP",
            ProvisionEvent::Boot => "BOOT",
            ProvisionEvent::Periodic => "PERIODIC",
        }
    }

    fn of(code: &EventCode) -> Option<ProvisionEvent> {
        match code {
            EventCode::Bootstrap => Some(ProvisionEvent::Bootstrap),
            EventCode::Boot => Some(ProvisionEvent::Boot),
            EventCode::Periodic => Some(ProvisionEvent::Periodic),
            _ => None,
        }
    }
}

impl std::str::FromStr for ProvisionEvent {
    type Err = String;

    /// `BOOTSTRAP`, `0 BOOTSTRAP` or `bootstrap` (and the same for BOOT and PERIODIC).
    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase();
        let name = upper
            .split_once(' ')
            .map_or(upper.as_str(), |(_, n)| n.trim());
        match name {
            "BOOTSTRAP" => Ok(ProvisionEvent::Bootstrap),
            "BOOT" => Ok(ProvisionEvent::Boot),
            "PERIODIC" => Ok(ProvisionEvent::Periodic),
            _ => Err(format!(
                "unknown event {s:?}: use BOOTSTRAP, BOOT or PERIODIC"
            )),
        }
    }
}

impl TryFrom<String> for ProvisionEvent {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ProvisionEvent> for String {
    fn from(e: ProvisionEvent) -> String {
        e.as_str().to_owned()
    }
}

fn default_order() -> i32 {
    100
}

fn default_events() -> Vec<ProvisionEvent> {
    vec![ProvisionEvent::Bootstrap, ProvisionEvent::Boot]
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A rule as the API takes it and the database stores it. Files are stored files (ids).
/// `Debug` shows parameter names, never values (they can be passwords).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique name: 1-64 letters, digits, `.`, `-`, `_`.
    pub name: String,
    /// Rules apply in ascending order, then by name. Default 100.
    #[serde(default = "default_order")]
    pub order: i32,
    /// Devices the rule is for (the filter language); all devices when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Events that trigger it. Default BOOTSTRAP and BOOT.
    #[serde(default = "default_events")]
    pub events: Vec<ProvisionEvent>,
    /// Parameter values to ensure (one SetParameterValues).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ParameterValue>,
    /// Give each device its own random connection-request credentials.
    #[serde(default, skip_serializing_if = "is_false")]
    pub connection_request_credentials: bool,
    /// A stored configuration template (kind `config-template`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_file: Option<i64>,
    /// A stored CSV of per-device template variables (`serial` or `mac` column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars_file: Option<i64>,
    /// A stored firmware image (kind `firmware`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_file: Option<i64>,
    /// The SoftwareVersion the image installs; default the file's version, else derived from
    /// an MPP image name (`sip88xx.12-0-1MPP.loads` → `sip88xx.12-0-1MPP`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
}

/// Parameter names only, for `Debug`.
struct Names<'a>(&'a [ParameterValue]);

impl std::fmt::Debug for Names<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|p| &p.name))
            .finish()
    }
}

impl std::fmt::Debug for RuleSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSpec")
            .field("name", &self.name)
            .field("order", &self.order)
            .field("filter", &self.filter)
            .field("events", &self.events)
            .field("parameters", &Names(&self.parameters))
            .field(
                "connection_request_credentials",
                &self.connection_request_credentials,
            )
            .field("template_file", &self.template_file)
            .field("vars_file", &self.vars_file)
            .field("firmware_file", &self.firmware_file)
            .field("firmware_version", &self.firmware_version)
            .finish()
    }
}

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    /// `[[provision.rules]]` in the configuration file; changed only there.
    Config,
    /// Added through the API or CLI.
    Api,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The definition.
    pub spec: RuleSpec,
    /// Where it comes from.
    pub source: RuleSource,
    /// Who added it (API rules).
    pub created_by: Option<String>,
    /// When (API rules).
    pub created_at: Option<DateTime<Utc>>,
    filter: Option<Filter>,
}

impl Rule {
    fn acts_on(&self, events: &[ProvisionEvent]) -> bool {
        self.spec.events.iter().any(|e| events.contains(e))
    }
}

/// One thing a rule ensures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// Parameter values.
    Parameters,
    /// Connection-request credentials.
    ConnectionRequest,
    /// A configuration file rendered from a template.
    Configuration,
    /// A firmware image.
    Firmware,
}

impl Item {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Item::Parameters => "parameters",
            Item::ConnectionRequest => "connection_request",
            Item::Configuration => "configuration",
            Item::Firmware => "firmware",
        }
    }
}

/// Where one item stands for one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Pushed; its task is not finished.
    Pending,
    /// Done (for firmware: the device reports the version).
    Applied,
    /// The push failed; retried after `next_attempt_at`.
    Failed,
    /// The image installed but the device reports another version; not pushed again.
    Mismatch,
    /// Pushed too often within the loop window; not pushed again before it has passed.
    Halted,
}

impl ItemStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Pending => "pending",
            ItemStatus::Applied => "applied",
            ItemStatus::Failed => "failed",
            ItemStatus::Mismatch => "mismatch",
            ItemStatus::Halted => "halted",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<ItemStatus> {
        Some(match s {
            "pending" => ItemStatus::Pending,
            "applied" => ItemStatus::Applied,
            "failed" => ItemStatus::Failed,
            "mismatch" => ItemStatus::Mismatch,
            "halted" => ItemStatus::Halted,
            _ => return None,
        })
    }
}

/// Backoff and loop protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvisionPolicy {
    /// Wait after the first failure; doubled after each further one.
    pub backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
    /// Window of the loop protection.
    pub loop_window: Duration,
    /// Pushes of one target allowed per window (at least 1).
    pub loop_limit: u32,
}

impl Default for ProvisionPolicy {
    fn default() -> Self {
        ProvisionPolicy {
            backoff: Duration::from_secs(300),
            max_backoff: Duration::from_secs(24 * 3600),
            loop_window: Duration::from_secs(24 * 3600),
            loop_limit: 3,
        }
    }
}

impl ProvisionPolicy {
    fn backoff_after(&self, failures: i32) -> chrono::Duration {
        let shift = u32::try_from(failures.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let wait = self
            .backoff
            .saturating_mul(1u32 << shift.min(20))
            .min(self.max_backoff);
        chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
    }

    fn window(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.loop_window).unwrap_or(chrono::Duration::MAX)
    }
}

/// Why a provisioning operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The rule is malformed or refers to something unusable.
    #[error("{0}")]
    Invalid(String),
    /// No such rule.
    #[error("no provisioning rule named `{0}`")]
    NotFound(String),
    /// The name is taken, or the rule cannot be changed here.
    #[error("{0}")]
    Conflict(String),
    /// A file of a configuration-file rule could not be imported.
    #[error("{0}")]
    Import(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

fn invalid<T>(rule: &str, message: impl std::fmt::Display) -> Result<T, ProvisionError> {
    Err(ProvisionError::Invalid(format!("rule `{rule}`: {message}")))
}

/// Checks what can be checked without the database; returns the rule with its filter parsed.
pub fn validate(mut spec: RuleSpec, source: RuleSource) -> Result<Rule, ProvisionError> {
    let name = spec.name.clone();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(ProvisionError::Invalid(format!(
            "invalid rule name {name:?}: use 1-64 letters, digits, `.`, `-`, `_`"
        )));
    }
    if spec.events.is_empty() {
        return invalid(
            &name,
            "needs at least one event (BOOTSTRAP, BOOT, PERIODIC)",
        );
    }
    spec.events.sort();
    spec.events.dedup();
    let filter = match spec.filter.as_deref().map(str::trim) {
        None | Some("") => {
            spec.filter = None;
            None
        }
        Some(text) => Some(
            Filter::parse(text)
                .map_err(|e| ProvisionError::Invalid(format!("rule `{name}`: filter {e}")))?,
        ),
    };
    if spec.parameters.is_empty()
        && !spec.connection_request_credentials
        && spec.template_file.is_none()
        && spec.firmware_file.is_none()
    {
        return invalid(
            &name,
            "ensures nothing: give parameters, connection_request_credentials, a template or a firmware file",
        );
    }
    if !spec.parameters.is_empty() {
        let check = TaskSpec::SetParameterValues {
            values: spec.parameters.clone(),
        };
        check
            .validate()
            .map_err(|e| ProvisionError::Invalid(format!("rule `{name}`: parameters: {e}")))?;
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = spec.parameters.iter().find(|p| !seen.insert(&p.name)) {
            return invalid(&name, format!("parameter {} is given twice", dup.name));
        }
    }
    if spec.vars_file.is_some() && spec.template_file.is_none() {
        return invalid(&name, "a vars file needs a template file");
    }
    if spec.firmware_version.is_some() && spec.firmware_file.is_none() {
        return invalid(&name, "a firmware version needs a firmware file");
    }
    if let Some(v) = &spec.firmware_version
        && v.trim().is_empty()
    {
        return invalid(&name, "the firmware version is empty");
    }
    Ok(Rule {
        spec,
        source,
        created_by: None,
        created_at: None,
        filter,
    })
}

/// The SoftwareVersion an MPP image name announces: `sip88xx.12-0-1MPP.loads` →
/// `sip88xx.12-0-1MPP` (SPEC §9). `None` for other names.
pub fn version_from_image_name(name: &str) -> Option<String> {
    name.strip_suffix(".loads")
        .filter(|stem| stem.contains('.'))
        .map(str::to_owned)
}

/// What one item should be, for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The item.
    pub item: Item,
    /// Hash of everything that decides what is pushed.
    pub hash: String,
    /// For firmware: the version the image installs.
    pub version: Option<String>,
}

/// What [`decide`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do or store.
    Keep,
    /// Store this state; push nothing.
    Record(ProvisionStateRow),
    /// Push, then store this state (with the new task's id).
    Push(ProvisionStateRow),
}

/// The task's outcome, as far as provisioning is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Not sent, or sent and not answered yet.
    Unfinished,
    /// Accepted by the CPE (DownloadResponse status 1) and waiting, since then, for its
    /// TransferComplete; or, for firmware, installed and waiting for the device to report the
    /// version.
    AwaitingTransfer(DateTime<Utc>),
    /// Lost: the device can no longer finish it (it bootstrapped, or never reported back).
    /// Retried at once, within the loop protection.
    Lost(String),
    /// Finished well.
    Succeeded,
    /// Failed: fault code and text.
    Failed(Option<i32>, String),
    /// The task no longer exists.
    Missing,
}

fn since(task: &TaskRow) -> DateTime<Utc> {
    task.finished_at.or(task.sent_at).unwrap_or(task.created_at)
}

/// Classifies a pushed task (with the firmware version and the device, for firmware).
pub fn task_outcome(
    task: Option<&TaskRow>,
    version: Option<&str>,
    device: &DeviceRow,
) -> TaskOutcome {
    let Some(task) = task else {
        return TaskOutcome::Missing;
    };
    let o = rollout::outcome(task, version, Some(device));
    match o.state {
        RolloutState::Pending | RolloutState::Queued | RolloutState::Sent => {
            TaskOutcome::Unfinished
        }
        RolloutState::Transferring => TaskOutcome::AwaitingTransfer(since(task)),
        // Installed with a version to wait for: the device has not informed since.
        RolloutState::Installed if version.is_some() => TaskOutcome::AwaitingTransfer(since(task)),
        RolloutState::Installed | RolloutState::Verified => TaskOutcome::Succeeded,
        RolloutState::Cancelled => TaskOutcome::Failed(None, "the task was cancelled".into()),
        RolloutState::Failed => {
            let text = match (&o.meaning, &o.fault_string) {
                (Some(m), Some(s)) if !s.is_empty() => format!("{m}: {s}"),
                (Some(m), _) => m.clone(),
                (None, s) => s.clone().unwrap_or_default(),
            };
            TaskOutcome::Failed(o.fault_code, text)
        }
    }
}

/// The whole provisioning policy for one item: given the target, the stored state, how its
/// last task went and what the device reports, what to store and whether to push.
#[allow(clippy::too_many_arguments)]
pub fn decide(
    device_id: &str,
    rule: &str,
    target: &Target,
    state: Option<&ProvisionStateRow>,
    outcome: &TaskOutcome,
    reported_version: Option<&str>,
    bootstrap: bool,
    now: DateTime<Utc>,
    policy: &ProvisionPolicy,
) -> Decision {
    let fresh = || ProvisionStateRow {
        device_id: device_id.to_owned(),
        rule: rule.to_owned(),
        item: target.item.as_str().to_owned(),
        target_hash: target.hash.clone(),
        task_id: None,
        status: ItemStatus::Applied.as_str().to_owned(),
        failures: 0,
        next_attempt_at: None,
        window_start: None,
        window_pushes: 0,
        detail: None,
        updated_at: now,
    };
    let at_version = target.item == Item::Firmware
        && matches!(
            (reported_version, target.version.as_deref()),
            (Some(r), Some(v)) if rollout::version_matches(r, v)
        );
    // 1. Settle a pushed item from its task.
    let st = match state {
        Some(s) if ItemStatus::parse(&s.status) == Some(ItemStatus::Pending) => {
            let outcome = match outcome {
                // A factory reset discards a TransferComplete not yet delivered (TR-069
                // §3.7.1.5): that transfer will never be reported.
                TaskOutcome::AwaitingTransfer(_) if bootstrap && !at_version => TaskOutcome::Lost(
                    "the device bootstrapped before it reported the transfer".into(),
                ),
                TaskOutcome::AwaitingTransfer(since) if now - *since >= policy.window() => {
                    TaskOutcome::Lost(format!(
                        "no TransferComplete within {}s",
                        policy.loop_window.as_secs()
                    ))
                }
                TaskOutcome::AwaitingTransfer(_) if at_version => TaskOutcome::Succeeded,
                other => other.clone(),
            };
            match settle(s, &outcome, now, policy) {
                Some(s) => Some(s),
                None => return Decision::Keep,
            }
        }
        other => other.cloned(),
    };
    let settled = |st: Option<ProvisionStateRow>| match st {
        Some(s) if Some(&s) != state => Decision::Record(s),
        _ => Decision::Keep,
    };
    // 2. Firmware: nothing to do while the device runs the version.
    if at_version {
        let mut s = st.unwrap_or_else(fresh);
        if s.target_hash != target.hash || s.status != ItemStatus::Applied.as_str() {
            s.target_hash = target.hash.clone();
            s.status = ItemStatus::Applied.as_str().into();
            s.failures = 0;
            s.next_attempt_at = None;
            s.detail = None;
            s.updated_at = now;
        }
        return settled(Some(s));
    }
    // 3. Push, or not.
    let Some(s) = st else {
        return push(fresh(), now, policy);
    };
    if s.target_hash != target.hash {
        let mut s = s;
        s.target_hash = target.hash.clone();
        s.failures = 0;
        s.next_attempt_at = None;
        s.window_start = None;
        s.window_pushes = 0;
        return push(s, now, policy);
    }
    match ItemStatus::parse(&s.status) {
        // Firmware gets here only when the device reports another version (step 2), for
        // instance after a manual downgrade; loop protection bounds the re-pushes.
        Some(ItemStatus::Applied) if bootstrap || target.item == Item::Firmware => {
            push(s, now, policy)
        }
        Some(ItemStatus::Failed) if s.next_attempt_at.is_none_or(|t| now >= t) => {
            push(s, now, policy)
        }
        Some(ItemStatus::Halted) if s.window_start.is_none_or(|w| now - w >= policy.window()) => {
            push(s, now, policy)
        }
        // A state this version does not know: start over.
        None => push(s, now, policy),
        _ => settled(Some(s)),
    }
}

/// A `pending` item once its task has finished (`None` while it has not): applied, failed
/// (with its backoff) or, for an image after which the device reports another version,
/// mismatch.
pub fn settle(
    state: &ProvisionStateRow,
    outcome: &TaskOutcome,
    now: DateTime<Utc>,
    policy: &ProvisionPolicy,
) -> Option<ProvisionStateRow> {
    let mut s = state.clone();
    match outcome {
        TaskOutcome::Unfinished | TaskOutcome::AwaitingTransfer(_) => return None,
        TaskOutcome::Lost(why) => {
            s.status = ItemStatus::Failed.as_str().into();
            s.next_attempt_at = None;
            s.detail = Some(why.clone());
        }
        TaskOutcome::Succeeded => {
            s.status = ItemStatus::Applied.as_str().into();
            s.failures = 0;
            s.next_attempt_at = None;
            s.detail = None;
        }
        TaskOutcome::Failed(Some(code), text) if *code == VERSION_MISMATCH_FAULT => {
            s.status = ItemStatus::Mismatch.as_str().into();
            s.detail = Some(text.clone());
        }
        TaskOutcome::Failed(code, text) => {
            s.status = ItemStatus::Failed.as_str().into();
            s.failures = s.failures.saturating_add(1);
            s.next_attempt_at = Some(later(now, policy.backoff_after(s.failures)));
            s.detail = Some(match code {
                Some(c) => format!("fault {c}: {text}"),
                None => text.clone(),
            });
        }
        TaskOutcome::Missing => {
            s.status = ItemStatus::Failed.as_str().into();
            s.failures = s.failures.saturating_add(1);
            s.next_attempt_at = Some(later(now, policy.backoff_after(s.failures)));
            s.detail = Some("the task was deleted".into());
        }
    }
    s.updated_at = now;
    Some(s)
}

fn later(now: DateTime<Utc>, wait: chrono::Duration) -> DateTime<Utc> {
    now.checked_add_signed(wait)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn push(mut s: ProvisionStateRow, now: DateTime<Utc>, policy: &ProvisionPolicy) -> Decision {
    if s.window_start.is_none_or(|w| now - w >= policy.window()) {
        s.window_start = Some(now);
        s.window_pushes = 0;
    }
    s.updated_at = now;
    if s.window_pushes >= i32::try_from(policy.loop_limit.max(1)).unwrap_or(i32::MAX) {
        let halted = ItemStatus::Halted.as_str();
        if s.status == halted {
            return Decision::Keep;
        }
        s.status = halted.into();
        s.detail = Some(format!(
            "pushed {} times within {}s; halted to break a loop (reset it with `acs provision reset`)",
            s.window_pushes,
            policy.loop_window.as_secs()
        ));
        return Decision::Record(s);
    }
    s.window_pushes += 1;
    s.status = ItemStatus::Pending.as_str().into();
    s.task_id = None;
    s.detail = None;
    Decision::Push(s)
}

fn hash_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

/// A file-based rule as written in the configuration file: files are paths, imported into the
/// file store when the server starts. `Debug` shows parameter names, never values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRule {
    /// See [`RuleSpec::name`].
    pub name: String,
    /// See [`RuleSpec::order`].
    #[serde(default = "default_order")]
    pub order: i32,
    /// See [`RuleSpec::filter`].
    #[serde(default)]
    pub filter: Option<String>,
    /// See [`RuleSpec::events`].
    #[serde(default = "default_events")]
    pub events: Vec<ProvisionEvent>,
    /// See [`RuleSpec::parameters`] (`{ name, value, type }`, type default `xsd:string`).
    #[serde(default)]
    pub parameters: Vec<ParameterValue>,
    /// See [`RuleSpec::connection_request_credentials`].
    #[serde(default)]
    pub connection_request_credentials: bool,
    /// A flat-profile template on disk.
    #[serde(default)]
    pub template: Option<PathBuf>,
    /// A CSV of template variables on disk.
    #[serde(default)]
    pub vars: Option<PathBuf>,
    /// A firmware image on disk.
    #[serde(default)]
    pub firmware: Option<PathBuf>,
    /// See [`RuleSpec::firmware_version`].
    #[serde(default)]
    pub firmware_version: Option<String>,
}

impl std::fmt::Debug for ConfigRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigRule")
            .field("name", &self.name)
            .field("order", &self.order)
            .field("filter", &self.filter)
            .field("events", &self.events)
            .field("parameters", &Names(&self.parameters))
            .field(
                "connection_request_credentials",
                &self.connection_request_credentials,
            )
            .field("template", &self.template)
            .field("vars", &self.vars)
            .field("firmware", &self.firmware)
            .field("firmware_version", &self.firmware_version)
            .finish()
    }
}

impl ConfigRule {
    /// The rule with file ids in place of its paths.
    fn spec(
        &self,
        template_file: Option<i64>,
        vars_file: Option<i64>,
        firmware_file: Option<i64>,
        firmware_version: Option<String>,
    ) -> RuleSpec {
        RuleSpec {
            name: self.name.clone(),
            order: self.order,
            filter: self.filter.clone(),
            events: self.events.clone(),
            parameters: self.parameters.clone(),
            connection_request_credentials: self.connection_request_credentials,
            template_file,
            vars_file,
            firmware_file,
            firmware_version,
        }
    }

    /// Checks the rule without touching files (settings validation).
    pub fn validate(&self) -> Result<(), ProvisionError> {
        let placeholder = |p: &Option<PathBuf>| p.as_ref().map(|_| 0);
        let spec = self.spec(
            placeholder(&self.template),
            placeholder(&self.vars),
            placeholder(&self.firmware),
            self.firmware_version.clone(),
        );
        validate(spec, RuleSource::Config).map(|_| ())
    }
}

/// Brings the files of configuration-file rules into the file store (the same file with the
/// same content is reused, so a restart stores nothing new) and returns the rules with file
/// ids.
pub async fn import_config_rules(
    files: &FileStore,
    store: &Store,
    rules: &[ConfigRule],
) -> Result<Vec<RuleSpec>, ProvisionError> {
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        r.validate()?;
        let template = match &r.template {
            Some(p) => {
                Some(import_file(files, store, &r.name, p, FileKind::ConfigTemplate, None).await?)
            }
            None => None,
        };
        let vars = match &r.vars {
            Some(p) => Some(import_file(files, store, &r.name, p, FileKind::Vars, None).await?),
            None => None,
        };
        let firmware = match &r.firmware {
            Some(p) => Some(
                import_file(
                    files,
                    store,
                    &r.name,
                    p,
                    FileKind::Firmware,
                    r.firmware_version.clone(),
                )
                .await?,
            ),
            None => None,
        };
        let firmware_version = r
            .firmware_version
            .clone()
            .or_else(|| firmware.as_ref().and_then(|f| f.version.clone()));
        if let (Some(f), None) = (&firmware, &firmware_version) {
            return invalid(
                &r.name,
                format!("{} carries no version: give firmware_version", f.name),
            );
        }
        out.push(r.spec(
            template.as_ref().map(|f| f.id),
            vars.as_ref().map(|f| f.id),
            firmware.as_ref().map(|f| f.id),
            firmware_version,
        ));
    }
    Ok(out)
}

async fn import_file(
    files: &FileStore,
    store: &Store,
    rule: &str,
    path: &Path,
    kind: FileKind,
    version: Option<String>,
) -> Result<FileRow, ProvisionError> {
    let fail = |e: &dyn std::fmt::Display| {
        ProvisionError::Import(format!("rule `{rule}`: {}: {e}", path.display()))
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| fail(&"not a file name"))?
        .to_owned();
    let version = version.or_else(|| match kind {
        FileKind::Firmware => version_from_image_name(&name),
        _ => None,
    });
    let sha = {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut f = std::fs::File::open(&path)?;
            let mut h = Sha256::new();
            std::io::copy(&mut f, &mut h)?;
            Ok(hex::encode(h.finalize()))
        })
        .await
        .map_err(|e| fail(&e))?
        .map_err(|e| fail(&e))?
    };
    if let Some(existing) = store
        .list_files(Some(kind))
        .await?
        .into_iter()
        .find(|f| f.name == name && f.sha256 == sha && f.version == version)
    {
        return Ok(existing);
    }
    let file = tokio::fs::File::open(path).await.map_err(|e| fail(&e))?;
    let body = Box::pin(crate::files::read_chunks(file, 64 * 1024));
    files
        .upload(
            FileMeta {
                name,
                kind,
                product_class: None,
                version,
            },
            body,
        )
        .await
        .map_err(|e| fail(&e))
}

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
        let mut states: HashMap<(String, String), ProvisionStateRow> = self
            .store
            .provision_states(device_id)
            .await?
            .into_iter()
            .map(|s| ((s.rule.clone(), s.item.clone()), s))
            .collect();
        let mut queued = Vec::new();
        for rule in &rules {
            if !self
                .store
                .device_matches(device_id, rule.filter.as_ref(), now)
                .await?
            {
                continue;
            }
            for target in self.targets(rule).await? {
                let key = (rule.spec.name.clone(), target.item.as_str().to_owned());
                let state = states.remove(&key);
                let outcome = match state.as_ref() {
                    Some(s) if s.status == ItemStatus::Pending.as_str() => {
                        let task = match s.task_id {
                            Some(id) => self.store.get_task(id).await?,
                            None => None,
                        };
                        task_outcome(task.as_ref(), target.version.as_deref(), &device)
                    }
                    _ => TaskOutcome::Missing,
                };
                let decision = decide(
                    device_id,
                    &rule.spec.name,
                    &target,
                    state.as_ref(),
                    &outcome,
                    device.software_version.as_deref(),
                    bootstrap,
                    now,
                    &self.policy,
                );
                let row = match decision {
                    Decision::Keep => continue,
                    Decision::Record(row) => {
                        if row.status == ItemStatus::Halted.as_str() {
                            tracing::warn!(
                                device = device_id,
                                rule = %rule.spec.name,
                                item = target.item.as_str(),
                                "provisioning halted: pushed too often"
                            );
                        }
                        self.store.save_provision_state(&row, None).await?;
                        continue;
                    }
                    Decision::Push(row) => row,
                };
                if let Some(q) = self.push(rule, &target, row, &device, root, now).await? {
                    queued.push(q);
                }
            }
        }
        Ok(queued)
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
        if !spec.parameters.is_empty() {
            let canonical = serde_json::to_string(&spec.parameters).unwrap_or_default();
            out.push(Target {
                item: Item::Parameters,
                hash: hash_of(&["parameters", &canonical]),
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

#[cfg(test)]
mod tests;

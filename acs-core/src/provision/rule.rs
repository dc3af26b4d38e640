//! Rule definitions: the events and items a rule names, and the checks it passes before use.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{ProvisionError, invalid};
use crate::cwmp::{EventCode, ParameterValue, SetParameterAttributesStruct};
use crate::filter::Filter;
use crate::tasks::TaskSpec;

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
    /// `4 VALUE CHANGE`: a parameter with notification on changed.
    ValueChange,
}

impl ProvisionEvent {
    /// The name used in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            ProvisionEvent::Bootstrap => "BOOTSTRAP",
            ProvisionEvent::Boot => "BOOT",
            ProvisionEvent::Periodic => "PERIODIC",
            ProvisionEvent::ValueChange => "VALUE CHANGE",
        }
    }

    /// Events at which a rule verifies what it ensures instead of only pushing.
    pub fn verifies(self) -> bool {
        matches!(self, ProvisionEvent::Periodic | ProvisionEvent::ValueChange)
    }

    pub(super) fn of(code: &EventCode) -> Option<ProvisionEvent> {
        match code {
            EventCode::Bootstrap => Some(ProvisionEvent::Bootstrap),
            EventCode::Boot => Some(ProvisionEvent::Boot),
            EventCode::Periodic => Some(ProvisionEvent::Periodic),
            EventCode::ValueChange => Some(ProvisionEvent::ValueChange),
            _ => None,
        }
    }
}

impl std::str::FromStr for ProvisionEvent {
    type Err = String;

    /// `BOOTSTRAP`, `0 BOOTSTRAP` or `bootstrap` (and the same for BOOT, PERIODIC and
    /// `VALUE CHANGE`, also written `VALUE_CHANGE` or `value-change`).
    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.trim().to_ascii_uppercase().replace(['_', '-'], " ");
        // The TR-069 form carries its number first: `4 VALUE CHANGE`.
        let name = match upper.split_once(' ') {
            Some((code, rest)) if code.chars().all(|c| c.is_ascii_digit()) => rest.trim(),
            _ => upper.as_str(),
        };
        match name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str()
        {
            "BOOTSTRAP" => Ok(ProvisionEvent::Bootstrap),
            "BOOT" => Ok(ProvisionEvent::Boot),
            "PERIODIC" => Ok(ProvisionEvent::Periodic),
            "VALUE CHANGE" => Ok(ProvisionEvent::ValueChange),
            _ => Err(format!(
                "unknown event {s:?}: use BOOTSTRAP, BOOT, PERIODIC or VALUE CHANGE"
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

pub(super) fn default_order() -> i32 {
    100
}

pub(super) fn default_events() -> Vec<ProvisionEvent> {
    vec![ProvisionEvent::Bootstrap, ProvisionEvent::Boot]
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A multi-instance object the rule keeps populated: at least `instances` instances of the
/// table `path` (TR-069 §A.3.2.6 AddObject adds the missing ones). "Line 2 exists" on a phone
/// that numbers lines from 1 is `{ path = "Device.Services.VoiceService.1.VoiceProfile.1.Line.",
/// instances = 2 }`: the CPE, not the ACS, picks instance numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSpec {
    /// The table, ending in `.`.
    pub path: String,
    /// The fewest instances it may have (1-1000).
    pub instances: u32,
}

/// A parameter attribute the rule keeps (TR-069 §A.3.2.4 SetParameterAttributes): the
/// Notification of one parameter. With 1 (passive) or 2 (active), a change the device makes
/// itself reaches the ACS in an Inform (`4 VALUE CHANGE` for active), so the rule's own
/// parameters among these are verified from what the device reports, without reading them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    /// A full parameter name.
    pub name: String,
    /// 0 off, 1 passive, 2 active.
    pub notification: u8,
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
    /// Object instances to ensure, before the parameters (which may live in them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectSpec>,
    /// Parameter values to ensure (one SetParameterValues).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ParameterValue>,
    /// Notification attributes to ensure (one SetParameterAttributes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttributeSpec>,
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
    /// A maintenance window (`Mon-Fri 01:00-05:00 Europe/Oslo`): the rule pushes only at
    /// Informs inside it; a device that informs outside it gets the rule's work at its first
    /// Inform inside one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

/// Parameter names only, for `Debug`.
pub(super) struct Names<'a>(pub(super) &'a [ParameterValue]);

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
            .field("objects", &self.objects)
            .field("parameters", &Names(&self.parameters))
            .field("attributes", &self.attributes)
            .field(
                "connection_request_credentials",
                &self.connection_request_credentials,
            )
            .field("template_file", &self.template_file)
            .field("vars_file", &self.vars_file)
            .field("firmware_file", &self.firmware_file)
            .field("firmware_version", &self.firmware_version)
            .field("window", &self.window)
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
    pub(super) filter: Option<Filter>,
    pub(super) window: Option<crate::window::MaintenanceWindow>,
}

impl Rule {
    pub(super) fn acts_on(&self, events: &[ProvisionEvent]) -> bool {
        self.spec.events.iter().any(|e| events.contains(e))
    }

    /// Whether `events` (of an Inform) are ones at which this rule verifies its items.
    pub(super) fn verifies_at(&self, events: &[ProvisionEvent]) -> bool {
        self.spec
            .events
            .iter()
            .any(|e| e.verifies() && events.contains(e))
    }

    /// The rule's parameters whose Notification it turns on: the device reports their
    /// changes, so they need no reading.
    pub(super) fn notified(&self, name: &str) -> bool {
        self.spec
            .attributes
            .iter()
            .any(|a| a.name == name && a.notification > 0)
    }

    /// Whether the rule may push at `at` (always, without a window).
    pub fn in_window(&self, at: DateTime<Utc>) -> bool {
        self.window.as_ref().is_none_or(|w| w.contains(at))
    }
}

/// One thing a rule ensures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Item {
    /// Object instances.
    Objects,
    /// Parameter values.
    Parameters,
    /// Parameter attributes (Notification).
    Attributes,
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
            Item::Objects => "objects",
            Item::Parameters => "parameters",
            Item::Attributes => "attributes",
            Item::ConnectionRequest => "connection_request",
            Item::Configuration => "configuration",
            Item::Firmware => "firmware",
        }
    }
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
    let window = spec
        .window
        .as_deref()
        .map(str::parse::<crate::window::MaintenanceWindow>)
        .transpose()
        .map_err(|e| ProvisionError::Invalid(format!("rule `{name}`: {e}")))?;
    if spec.parameters.is_empty()
        && spec.objects.is_empty()
        && spec.attributes.is_empty()
        && !spec.connection_request_credentials
        && spec.template_file.is_none()
        && spec.firmware_file.is_none()
    {
        return invalid(
            &name,
            "ensures nothing: give parameters, objects, attributes, connection_request_credentials, a template or a firmware file",
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
    validate_objects(&name, &spec.objects)?;
    validate_attributes(&name, &spec.attributes)?;
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
        window,
    })
}

fn validate_objects(rule: &str, objects: &[ObjectSpec]) -> Result<(), ProvisionError> {
    let mut seen = std::collections::HashSet::new();
    for o in objects {
        TaskSpec::AddObject {
            object: o.path.clone(),
        }
        .validate()
        .map_err(|e| ProvisionError::Invalid(format!("rule `{rule}`: objects: {e}")))?;
        if !(1..=1000).contains(&o.instances) {
            return invalid(
                rule,
                format!(
                    "objects: {} wants {} instances; give 1-1000",
                    o.path, o.instances
                ),
            );
        }
        if !seen.insert(&o.path) {
            return invalid(rule, format!("object {} is given twice", o.path));
        }
    }
    Ok(())
}

fn validate_attributes(rule: &str, attributes: &[AttributeSpec]) -> Result<(), ProvisionError> {
    let mut seen = std::collections::HashSet::new();
    for a in attributes {
        if a.name.ends_with('.') {
            return invalid(
                rule,
                format!(
                    "attributes: {} is a partial path; name each parameter",
                    a.name
                ),
            );
        }
        if a.notification > 2 {
            return invalid(
                rule,
                format!(
                    "attributes: notification {} of {} is not 0 (off), 1 (passive) or 2 (active)",
                    a.notification, a.name
                ),
            );
        }
        if !seen.insert(&a.name) {
            return invalid(rule, format!("attribute of {} is given twice", a.name));
        }
    }
    let check = TaskSpec::SetParameterAttributes {
        attributes: attribute_structs(attributes),
    };
    if !attributes.is_empty() {
        check
            .validate()
            .map_err(|e| ProvisionError::Invalid(format!("rule `{rule}`: attributes: {e}")))?;
    }
    Ok(())
}

/// The SetParameterAttributes list of `attributes`: Notification only, AccessList untouched.
pub(super) fn attribute_structs(attributes: &[AttributeSpec]) -> Vec<SetParameterAttributesStruct> {
    attributes
        .iter()
        .map(|a| SetParameterAttributesStruct {
            name: a.name.clone(),
            notification_change: true,
            notification: a.notification,
            access_list_change: false,
            access_list: Vec::new(),
        })
        .collect()
}

/// The SoftwareVersion an MPP image name announces: `sip88xx.12-0-1MPP.loads` →
/// `sip88xx.12-0-1MPP` (SPEC §9). `None` for other names.
pub fn version_from_image_name(name: &str) -> Option<String> {
    name.strip_suffix(".loads")
        .filter(|stem| stem.contains('.'))
        .map(str::to_owned)
}

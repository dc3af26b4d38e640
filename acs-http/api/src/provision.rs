//! Zero-touch provisioning rules and where each device stands with them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::definition::SetValue;

/// A provisioning rule as written: for the devices matching `filter`, at each of `events`,
/// ensure the object instances, parameter values, notification attributes, connection-request
/// credentials, configuration and firmware it names. At least one of those is required. A rule
/// whose events include `PERIODIC` or `VALUE CHANGE` also verifies them and pushes again what
/// drifted.
// The server reads acs-core's `RuleSpec` (its defaults and messages are the API's); absent
// members stay absent on the wire so those defaults apply.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvisionRuleInput {
    /// Unique name: 1-64 letters, digits, `.`, `-`, `_`.
    pub name: String,
    /// Rules apply in ascending order, then by name (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<i32>,
    /// Devices the rule is for (filter language); all devices when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `BOOTSTRAP`, `BOOT`, `PERIODIC`, `VALUE CHANGE` (default BOOTSTRAP and BOOT).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// Object tables to keep at a number of instances (added before the parameters are set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects: Option<Vec<ProvisionObject>>,
    /// Parameter values to ensure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Vec<SetValue>>,
    /// Notification attributes to ensure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<ProvisionAttribute>>,
    /// Give each device its own random connection-request credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_request_credentials: Option<bool>,
    /// A stored file of type `config-template`, pushed as `3 Vendor Configuration File`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_file: Option<i64>,
    /// A stored CSV (`serial` or `mac` column) of per-device template variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vars_file: Option<i64>,
    /// A stored file of type `firmware`, pushed as `1 Firmware Upgrade Image` only while the
    /// device reports another SoftwareVersion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware_file: Option<i64>,
    /// The version the image installs (default: the file's version, else an MPP image name's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware_version: Option<String>,
    /// A maintenance window (`Mon-Fri 01:00-05:00 Europe/Oslo`): the rule pushes only at
    /// Informs inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
}

impl std::fmt::Debug for ProvisionRuleInput {
    // Parameter values can be passwords (a SIP password, say): names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Option<Vec<&str>> = self
            .parameters
            .as_ref()
            .map(|p| p.iter().map(|v| v.name.as_str()).collect());
        f.debug_struct("ProvisionRuleInput")
            .field("name", &self.name)
            .field("order", &self.order)
            .field("filter", &self.filter)
            .field("events", &self.events)
            .field("objects", &self.objects)
            .field("parameters", &names)
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

/// A provisioning rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvisionRule {
    /// Unique name.
    pub name: String,
    /// Position: rules apply in ascending order, then by name.
    pub order: i32,
    /// Devices the rule is for; absent = all.
    pub filter: Option<String>,
    /// Events it acts on.
    pub events: Vec<String>,
    /// Object tables it keeps populated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ProvisionObject>,
    /// Parameter values it ensures.
    pub parameters: Vec<SetValue>,
    /// Notification attributes it ensures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<ProvisionAttribute>,
    /// Whether it gives devices random connection-request credentials.
    pub connection_request_credentials: bool,
    /// Configuration template file.
    pub template_file: Option<i64>,
    /// Template variables file.
    pub vars_file: Option<i64>,
    /// Firmware file.
    pub firmware_file: Option<i64>,
    /// Version the firmware installs.
    pub firmware_version: Option<String>,
    /// Its maintenance window, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// `config` (the configuration file; change it there) or `api`.
    pub source: String,
    /// Token that added it.
    pub created_by: Option<String>,
    /// When it was added.
    pub created_at: Option<DateTime<Utc>>,
}

/// A table a rule keeps at a number of instances: "line 2 exists" on a phone that numbers its
/// lines from 1 is `{"path": "Device.Services.VoiceService.1.VoiceProfile.1.Line.",
/// "instances": 2}`. The device is read first; AddObject adds only what is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvisionObject {
    /// The table, ending in `.`.
    pub path: String,
    /// The fewest instances it may have (1-1000).
    pub instances: u32,
}

/// A Notification attribute a rule keeps on one parameter. With 1 (passive) or 2 (active) the
/// device reports the parameter's changes, so the rule verifies it without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvisionAttribute {
    /// A full parameter name.
    pub name: String,
    /// 0 off, 1 passive, 2 active.
    pub notification: u8,
}

/// Where one item of one rule stands for a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProvisionItem {
    /// The rule.
    pub rule: String,
    /// `objects`, `parameters`, `attributes`, `connection_request`, `configuration` or
    /// `firmware`.
    pub item: String,
    /// `checking` (the device is being read to learn what is missing), `pending` (pushed, task
    /// unfinished), `applied`, `failed` (retried after `next_attempt_at`), `mismatch` (the
    /// image installed but the device reports another version; not pushed again) or `halted`
    /// (pushed too often, or the device keeps undoing it: loop protection).
    pub status: String,
    /// The last task pushed for it.
    pub task_id: Option<i64>,
    /// Failed pushes in a row.
    pub failures: i32,
    /// No retry before this time.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why it failed or halted.
    pub detail: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the device was last read to verify it (rules acting on PERIODIC or VALUE CHANGE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<DateTime<Utc>>,
}

/// Query of `DELETE /devices/{id}/provisioning`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResetQuery {
    /// Only this rule's items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// How many items a reset forgot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResetResult {
    /// Items forgotten.
    pub reset: u64,
}

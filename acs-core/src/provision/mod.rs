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
//!
//! One seam per file: `rule` (what a rule says and its validation), `policy` ([`decide`]),
//! `ensure` (when a check is due, what its answer says drifted), `import` (configuration-file
//! rules and their files), `checks` (the I/O of verifying) and `service` ([`Provisioner`], the
//! I/O around the policy).
//!
//! [`Filter`]: crate::filter::Filter

mod checks;
pub(crate) mod ensure;
mod import;
mod policy;
mod rule;
mod service;

pub use ensure::{Drift, same_value};
pub use import::{ConfigRule, import_config_rules};
pub use policy::{
    Decision, ItemStatus, ProvisionPolicy, Target, TaskOutcome, decide, settle, task_outcome,
};
pub use rule::{
    AttributeSpec, Item, ObjectSpec, ProvisionEvent, Rule, RuleSource, RuleSpec, validate,
    version_from_image_name,
};
pub use service::{Provisioner, Queued};

use crate::storage::StoreError;

/// The Prometheus series of drift found and pushed again, by item.
pub const DRIFT_SERIES: &str = "acs_provision_drift_total";
/// Every item that can drift, so each series exists (at 0) from the start.
pub const DRIFT_ITEMS: [&str; 3] = ["objects", "parameters", "attributes"];

/// FileType of a configuration push.
pub const CONFIG_FILE_TYPE: &str = "3 Vendor Configuration File";
/// FileType of a firmware push.
pub const FIRMWARE_FILE_TYPE: &str = "1 Firmware Upgrade Image";

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

#[cfg(test)]
mod tests;

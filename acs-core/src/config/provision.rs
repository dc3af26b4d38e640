//! `[provision]`: configuration-file provisioning rules, backoff and loop protection.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `[provision]`: zero-touch provisioning (`crate::provision`): rules applied when devices
/// inform, and how failures and loops are handled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProvisionSettings {
    /// `[[provision.rules]]`: rules defined here (read-only through the API; files are paths,
    /// imported into the file store at start).
    pub rules: Vec<crate::provision::ConfigRule>,
    /// Wait after a failed push before the same target is tried again, doubled after each
    /// further failure. 0 retries at the next matching event. Default 300.
    pub backoff_secs: u64,
    /// Longest wait between retries. Default 86400.
    pub max_backoff_secs: u64,
    /// Loop protection: at most `loop_limit` pushes of one target to one device per this many
    /// seconds. Default 86400.
    pub loop_window_secs: u64,
    /// See `loop_window_secs`. Default 3.
    pub loop_limit: u32,
    /// A rule acting on PERIODIC or VALUE CHANGE reads a device to verify each applied item
    /// at most once per this many seconds (parameters with notification turned on by the rule
    /// are verified from Informs instead). Default 3600.
    pub check_interval_secs: u64,
}

impl Default for ProvisionSettings {
    fn default() -> Self {
        let p = crate::provision::ProvisionPolicy::default();
        Self {
            rules: Vec::new(),
            backoff_secs: p.backoff.as_secs(),
            max_backoff_secs: p.max_backoff.as_secs(),
            loop_window_secs: p.loop_window.as_secs(),
            loop_limit: p.loop_limit,
            check_interval_secs: p.check_interval.as_secs(),
        }
    }
}

impl ProvisionSettings {
    /// The backoff and loop-protection policy.
    pub fn policy(&self) -> crate::provision::ProvisionPolicy {
        crate::provision::ProvisionPolicy {
            backoff: Duration::from_secs(self.backoff_secs),
            max_backoff: Duration::from_secs(self.max_backoff_secs.max(self.backoff_secs)),
            loop_window: Duration::from_secs(self.loop_window_secs),
            loop_limit: self.loop_limit,
            check_interval: Duration::from_secs(self.check_interval_secs),
        }
    }

    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        if self.loop_limit == 0 {
            bad("provision.loop_limit", "must be at least 1".into());
        }
        const DAY: u64 = 86_400;
        for (key, value, max) in [
            ("provision.backoff_secs", self.backoff_secs, 30 * DAY),
            (
                "provision.max_backoff_secs",
                self.max_backoff_secs,
                30 * DAY,
            ),
            (
                "provision.loop_window_secs",
                self.loop_window_secs,
                366 * DAY,
            ),
            (
                "provision.check_interval_secs",
                self.check_interval_secs,
                366 * DAY,
            ),
        ] {
            if value > max {
                bad(key, format!("{value} is more than the maximum of {max}"));
            }
        }
        if self.loop_window_secs == 0 {
            bad("provision.loop_window_secs", "must be at least 1".into());
        }
        if self.check_interval_secs == 0 {
            // Every Inform reading every rule's parameters back is a load, not a check.
            bad("provision.check_interval_secs", "must be at least 1".into());
        }
        let mut names = std::collections::HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let key = format!("provision.rules[{i}]");
            if !names.insert(rule.name.as_str()) {
                bad(&key, format!("a second rule named `{}`", rule.name));
            }
            if let Err(e) = rule.validate() {
                bad(&key, e.to_string());
            }
            for (what, path) in [
                ("template", &rule.template),
                ("vars", &rule.vars),
                ("firmware", &rule.firmware),
            ] {
                if let Some(path) = path
                    && !path.is_file()
                {
                    bad(
                        &format!("{key}.{what}"),
                        format!("file {} does not exist", path.display()),
                    );
                }
            }
        }
    }
}

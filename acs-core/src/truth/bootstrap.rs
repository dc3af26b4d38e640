//! `[bootstrap]`: what the ACS reads from a device that has just bootstrapped (first contact or
//! factory reset), so the operator's views (MAC, line registration, intervals) are filled
//! without anyone asking. A short list of names per kind of device, never a walk of the tree.

use serde::{Deserialize, Serialize};

use crate::storage::{NewTask, Store, StoreError};
use crate::tasks::TaskSpec;

/// `[bootstrap]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapSettings {
    /// Queue a GetParameterValues of the matching profile's names on `0 BOOTSTRAP`. Default
    /// true.
    pub fetch: bool,
    /// `[[bootstrap.profiles]]`, first match wins. Setting any replaces the defaults.
    pub profiles: Vec<BootstrapProfile>,
}

/// Which devices a list of names is for, and the names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapProfile {
    /// A label for logs.
    pub name: String,
    /// ProductClass pattern (`*` matches any run of characters); absent matches any.
    #[serde(default)]
    pub product_class: Option<String>,
    /// Data-model root (`Device.` or `InternetGatewayDevice.`); absent matches any.
    #[serde(default)]
    pub root: Option<String>,
    /// Full names or partial paths (ending in `.`) to read.
    pub names: Vec<String>,
    /// The periodic inform interval such devices use when they report none: what presence
    /// ([`crate::presence`]) judges them by. Absent: `[presence] default_interval_secs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub periodic_inform_interval_secs: Option<u64>,
    /// Vendor parameters that hold a line's SIP registration state, beside TR-104's own
    /// `Line.{i}.Status` (always recognised): kept current, with active notification, like
    /// those ([`crate::truth::lines`]). Read them by listing them (or a partial path above
    /// them) in `names` too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registration: Vec<String>,
}

fn profile(name: &str, pc: Option<&str>, root: &str, names: &[&str]) -> BootstrapProfile {
    BootstrapProfile {
        name: name.to_owned(),
        product_class: pc.map(str::to_owned),
        root: Some(root.to_owned()),
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        periodic_inform_interval_secs: None,
        registration: Vec::new(),
    }
}

impl Default for BootstrapSettings {
    fn default() -> Self {
        BootstrapSettings {
            fetch: true,
            profiles: vec![
                // Cisco MPP (78xx/88xx 3PCC): the MAC, and every line's registration state
                // (`Line.{i}.Status`) with its number and SIP identity.
                profile(
                    "cisco-mpp",
                    Some("CP-*"),
                    "Device.",
                    &[
                        "Device.DeviceInfo.",
                        "Device.ManagementServer.PeriodicInformInterval",
                        "Device.Ethernet.Interface.1.MACAddress",
                        "Device.Services.VoiceService.1.VoiceProfile.1.Line.",
                    ],
                ),
                profile(
                    "tr-181",
                    None,
                    "Device.",
                    &[
                        "Device.DeviceInfo.",
                        "Device.ManagementServer.PeriodicInformInterval",
                    ],
                ),
                profile(
                    "tr-098",
                    None,
                    "InternetGatewayDevice.",
                    &[
                        "InternetGatewayDevice.DeviceInfo.",
                        "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
                        "InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.1.MACAddress",
                    ],
                ),
            ],
        }
    }
}

/// `*`-only glob, whole string.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl BootstrapSettings {
    /// Problems, each with its key.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, p) in self.profiles.iter().enumerate() {
            let spec = TaskSpec::GetParameterValues {
                names: p.names.clone(),
            };
            if let Err(e) = spec.validate() {
                out.push((format!("bootstrap.profiles[{i}].names"), e.reason));
            }
            if let Some(root) = &p.root
                && !root.ends_with('.')
            {
                out.push((
                    format!("bootstrap.profiles[{i}].root"),
                    format!("{root:?} must end in '.'"),
                ));
            }
        }
        out
    }

    /// Every profile's vendor registration parameters ([`BootstrapProfile::registration`]).
    pub fn registration_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .profiles
            .iter()
            .flat_map(|p| p.registration.iter().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The profile for a device, if fetching is on and one matches.
    pub fn profile_for(&self, product_class: &str, root: &str) -> Option<&BootstrapProfile> {
        if !self.fetch {
            return None;
        }
        self.profiles.iter().find(|p| {
            p.product_class
                .as_deref()
                .is_none_or(|g| glob(g, product_class))
                && p.root.as_deref().is_none_or(|r| r == root)
        })
    }

    /// Queues the bootstrap read for a device that has just bootstrapped; returns the task id.
    pub async fn queue(
        &self,
        store: &Store,
        device_id: &str,
        product_class: &str,
        root: &str,
    ) -> Result<Option<i64>, StoreError> {
        let Some(profile) = self.profile_for(product_class, root) else {
            return Ok(None);
        };
        let spec = TaskSpec::GetParameterValues {
            names: profile.names.clone(),
        };
        let task = store
            .enqueue_task(&NewTask::for_spec(device_id, &spec))
            .await?;
        Ok(Some(task.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_match_by_product_class_and_root() {
        let s = BootstrapSettings::default();
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        let name = |pc, root| s.profile_for(pc, root).map(|p| p.name.as_str());
        assert_eq!(name("CP-8851-3PCC", "Device."), Some("cisco-mpp"));
        assert_eq!(name("HG-2000", "Device."), Some("tr-181"));
        assert_eq!(name("HG-2000", "InternetGatewayDevice."), Some("tr-098"));
        let mpp = s.profile_for("CP-7841-3PCC", "Device.").unwrap();
        assert!(mpp.names.iter().any(|n| n.ends_with("MACAddress")));
        assert!(mpp.names.iter().any(|n| n.ends_with(".Line.")));
        assert!(!mpp.names.iter().any(|n| n == "Device."), "not a full walk");
        let off = BootstrapSettings {
            fetch: false,
            ..BootstrapSettings::default()
        };
        assert_eq!(off.profile_for("CP-8851-3PCC", "Device."), None);
    }

    #[test]
    fn globs() {
        assert!(glob("CP-*", "CP-8851-3PCC"));
        assert!(glob("CP-*-3PCC", "CP-8851-3PCC"));
        assert!(!glob("CP-*-3PCC", "CP-8851"));
        assert!(glob("*", ""));
        assert!(glob("HG-2000", "HG-2000"));
        assert!(!glob("HG-2000", "HG-20000"));
        assert!(!glob("a*a", "a"));
    }

    #[test]
    fn bad_names_are_named() {
        let s = BootstrapSettings {
            fetch: true,
            profiles: vec![profile("x", None, "Device.", &["Device..X"])],
        };
        assert_eq!(s.problems()[0].0, "bootstrap.profiles[0].names");
    }
}

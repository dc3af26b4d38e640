//! `[files]`: the base of the download URLs given to CPEs and the upload limit.

use serde::{Deserialize, Serialize};

use super::CwmpSettings;

/// `[files]`: firmware and other files served to CPEs (`/files/t/<token>/<name>` on the CWMP
/// listener).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesSettings {
    /// Base of the download URLs put into Download requests for stored files
    /// (`https://acs.example.net:7547`, no path): an address every CPE can reach, needed behind
    /// NAT or a proxy. Unset: `cwmp.public_url` if set, else the scheme and Host the CPE itself
    /// used for its Inform.
    pub base_url: Option<String>,
    /// Largest file accepted for upload, in bytes. Default 2 GiB (2147483648), more than any
    /// phone or gateway firmware image.
    pub max_bytes: u64,
}

impl Default for FilesSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            max_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

impl FilesSettings {
    /// The base URL for download URLs: `files.base_url`, else `cwmp.public_url`.
    pub fn effective_base_url(&self, cwmp: &CwmpSettings) -> Option<String> {
        self.base_url.clone().or_else(|| cwmp.public_url.clone())
    }

    /// Adds what is wrong with these settings to `bad` (key, message).
    pub(super) fn check(&self, bad: &mut impl FnMut(&str, String)) {
        if self.max_bytes == 0 {
            bad("files.max_bytes", "must be at least 1".into());
        }
        if let Some(url) = &self.base_url {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            match rest {
                Some(host) if !host.is_empty() && !host.trim_end_matches('/').contains('/') => {}
                _ => bad(
                    "files.base_url",
                    format!(
                        "{url:?} must be http:// or https:// and a host, without a path \
                         (e.g. https://acs.example.net:7547)"
                    ),
                ),
            }
        }
    }
}

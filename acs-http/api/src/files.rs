//! Files for CPEs, their transfers, and the configuration-template dry run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct File {
    /// Id.
    pub id: i64,
    /// Name (the last segment of its download URL).
    pub name: String,
    /// `firmware`, `config-template`, `ca`, `vars` (a variables CSV, never served to devices) or `other`.
    #[serde(rename = "type")]
    pub file_type: String,
    /// Only for devices of this product class.
    pub product_class: Option<String>,
    /// Version it carries.
    pub version: Option<String>,
    /// SHA-256 of the content (also its ETag).
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Upload time.
    pub created_at: DateTime<Utc>,
}

/// A list of files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileList {
    /// Newest first.
    pub files: Vec<File>,
}

/// One fetch of a file by a CPE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Transfer {
    /// The file, when one was found.
    pub file_id: Option<i64>,
    /// The task the download URL was made for.
    pub task_id: Option<i64>,
    /// Client address.
    pub remote_ip: Option<String>,
    /// HTTP status answered.
    pub status: i32,
    /// Bytes sent.
    pub bytes: i64,
    /// `ok`, `partial`, `not_modified`, `not_found`, `range_not_satisfiable`, …
    pub outcome: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A device's file transfers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TransferLog {
    /// Successful (200/206) and failed fetches, all time.
    pub ok: i64,
    /// Failed fetches.
    pub failed: i64,
    /// The latest fetches, newest first.
    pub transfers: Vec<Transfer>,
}

/// Query of `POST /files`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// File name: 1–255 of letters, digits, `.`, `-`, `_`, `+` (e.g. `sip88xx.12-0-3MPP.loads`).
    pub name: String,
    /// `firmware`, `config-template`, `ca`, `vars` (a variables CSV, never served to devices) or `other` (default `other`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
    /// Only for devices of this product class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_class: Option<String>,
    /// Version it carries (for firmware: what SoftwareVersion reads once installed). A
    /// firmware image named like an MPP image (`sip88xx.12-0-9MPP.loads`) gets the name
    /// without `.loads` when none is given. A `ca` file must be a PEM or DER X.509
    /// certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Query of `GET /files`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FileListQuery {
    /// Only files of this type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub file_type: Option<String>,
}

/// Query of `GET /devices/{id}/transfers`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// How many of the latest transfers, 1–1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// Body of `POST /config/render`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    /// The template: flat-profile XML with `{{ variables }}`.
    pub template: String,
    /// The device: id, serial number or MAC.
    pub device: String,
    /// A CSV with a `serial` or `mac` column; the device's row adds variables.
    pub vars_csv: Option<String>,
}

impl std::fmt::Debug for RenderRequest {
    // The variables CSV may hold passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderRequest")
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

/// A rendered template.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Rendered {
    /// The device it was rendered for.
    pub device_id: String,
    /// The variables the template uses.
    pub variables: Vec<String>,
    /// The file the device would get.
    pub rendered: String,
}

impl std::fmt::Debug for Rendered {
    // The rendered file holds the device's secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendered")
            .field("device_id", &self.device_id)
            .field("variables", &self.variables)
            .finish_non_exhaustive()
    }
}

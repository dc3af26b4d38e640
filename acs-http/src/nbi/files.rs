//! Files for CPEs (firmware images, configuration templates, CA certificates) and the per-device
//! transfer log.
//!
//! Uploads are the raw request body, streamed into the content-addressed store
//! ([`acs_core::files::FileStore`]); the API's 1 MiB body limit does not apply here, the file
//! store's own size limit does.

use std::sync::Arc;

use acs_core::files::{FileMeta, FileStoreError};
use acs_core::storage::{FileKind, FileRow, FileTransferRecord, TransferCounts};
use actix_web::HttpResponse;
use actix_web::web::{Data, Path, Payload, Query};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Operator;
use super::error::{ApiError, ErrorBody};
use crate::files::FileServer;

/// A stored file.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<FileRow> for File {
    fn from(f: FileRow) -> File {
        File {
            id: f.id,
            name: f.name,
            file_type: f.kind.as_str().to_owned(),
            product_class: f.product_class,
            version: f.version,
            sha256: f.sha256,
            size: f.size,
            created_at: f.created_at,
        }
    }
}

/// A list of files.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileList {
    /// Newest first.
    pub files: Vec<File>,
}

/// One fetch of a file by a CPE.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<FileTransferRecord> for Transfer {
    fn from(t: FileTransferRecord) -> Transfer {
        Transfer {
            file_id: t.file_id,
            task_id: t.task_id,
            remote_ip: t.remote_ip,
            status: t.status,
            bytes: t.bytes,
            outcome: t.outcome,
            at: t.at,
        }
    }
}

/// A device's file transfers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferLog {
    /// Successful (200/206) and failed fetches, all time.
    pub ok: i64,
    /// Failed fetches.
    pub failed: i64,
    /// The latest fetches, newest first.
    pub transfers: Vec<Transfer>,
}

fn parse_kind(s: &str) -> Result<FileKind, ApiError> {
    FileKind::parse(s).ok_or_else(|| {
        ApiError::invalid(format!(
            "unknown file type `{s}`: firmware, config-template, ca, vars or other"
        ))
    })
}

impl From<FileStoreError> for ApiError {
    fn from(e: FileStoreError) -> ApiError {
        match e {
            FileStoreError::TooLarge { .. } => ApiError::too_large(e.to_string()),
            FileStoreError::Empty | FileStoreError::Invalid(_) => ApiError::invalid(e.to_string()),
            FileStoreError::Interrupted(_) => ApiError::invalid(e.to_string()),
            FileStoreError::Storage(s) => s.into(),
            FileStoreError::Io { .. } => ApiError::internal(e),
        }
    }
}

/// Query of `POST /files`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// File name: 1–255 of letters, digits, `.`, `-`, `_`, `+` (e.g. `sip88xx.12-0-3MPP.loads`).
    name: String,
    /// `firmware`, `config-template`, `ca`, `vars` (a variables CSV, never served to devices) or `other` (default `other`).
    #[serde(rename = "type")]
    file_type: Option<String>,
    /// Only for devices of this product class.
    product_class: Option<String>,
    /// Version it carries (for firmware: what SoftwareVersion reads once installed). A
    /// firmware image named like an MPP image (`sip88xx.12-0-9MPP.loads`) gets the name
    /// without `.loads` when none is given. A `ca` file must be a PEM or DER X.509
    /// certificate.
    version: Option<String>,
}

/// Uploads a file: the request body is the content (any content type), streamed to disk.
#[utoipa::path(post, path = "/api/v1/files", tag = "files", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = File), (status = 400, body = ErrorBody),
        (status = 413, description = "Larger than the file store's limit", body = ErrorBody)))]
pub async fn upload_file(
    _op: Operator,
    server: Data<Arc<FileServer>>,
    q: Query<UploadQuery>,
    body: Payload,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let kind = parse_kind(q.file_type.as_deref().unwrap_or("other"))?;
    let meta = FileMeta {
        name: q.name,
        kind,
        product_class: q.product_class.filter(|p| !p.is_empty()),
        version: q.version.filter(|v| !v.is_empty()),
    };
    let file = server
        .files
        .upload(meta, body.map(|r| r.map_err(|e| e.to_string())))
        .await?;
    Ok(HttpResponse::Created().json(File::from(file)))
}

/// Query of `GET /files`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FileListQuery {
    /// Only files of this type.
    #[serde(rename = "type")]
    file_type: Option<String>,
}

/// Files, newest first.
#[utoipa::path(get, path = "/api/v1/files", tag = "files", params(FileListQuery),
    responses((status = 200, body = FileList), (status = 400, body = ErrorBody)))]
pub async fn list_files(
    server: Data<Arc<FileServer>>,
    q: Query<FileListQuery>,
) -> Result<HttpResponse, ApiError> {
    let kind = q.file_type.as_deref().map(parse_kind).transpose()?;
    let files = server.store.list_files(kind).await?;
    Ok(HttpResponse::Ok().json(FileList {
        files: files.into_iter().map(File::from).collect(),
    }))
}

/// One file.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files",
    params(("id" = i64, Path, description = "File id")),
    responses((status = 200, body = File), (status = 404, body = ErrorBody)))]
pub async fn get_file(
    server: Data<Arc<FileServer>>,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let file = server
        .store
        .get_file(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("file {id} not found")))?;
    Ok(HttpResponse::Ok().json(File::from(file)))
}

/// Deletes a file (its content too, unless another file has the same bytes). Download URLs
/// already handed out for it then answer 404.
#[utoipa::path(delete, path = "/api/v1/files/{id}", tag = "files",
    params(("id" = i64, Path, description = "File id")),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody),
        (status = 409, description = "A provisioning rule uses the file", body = ErrorBody)))]
pub async fn delete_file(
    _op: Operator,
    server: Data<Arc<FileServer>>,
    prov: Data<acs_core::provision::Provisioner>,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let users = prov.rules_using_file(id).await?;
    if !users.is_empty() {
        return Err(ApiError::conflict(format!(
            "file {id} is used by the provisioning rule(s) {}; remove or change them first",
            users.join(", ")
        )));
    }
    match server.files.delete(id).await? {
        Some(_) => Ok(HttpResponse::NoContent().finish()),
        None => Err(ApiError::not_found(format!("file {id} not found"))),
    }
}

/// Query of `GET /devices/{id}/transfers`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// How many of the latest transfers, 1–1000 (default 100).
    limit: Option<u64>,
}

/// A device's file downloads: counts and the latest transfers.
#[utoipa::path(get, path = "/api/v1/devices/{id}/transfers", tag = "files",
    params(("id" = String, Path, description = "Device id"), TransferQuery),
    responses((status = 200, body = TransferLog), (status = 404, body = ErrorBody)))]
pub async fn device_transfers(
    server: Data<Arc<FileServer>>,
    id: Path<String>,
    q: Query<TransferQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let limit = super::page_limit(q.limit)?;
    if server.store.get_device(&id).await?.is_none() {
        return Err(ApiError::not_found(format!("device `{id}` not found")));
    }
    let TransferCounts { ok, failed } = server.store.file_transfer_counts(&id).await?;
    let transfers = server.store.file_transfers_of_device(&id, limit).await?;
    Ok(HttpResponse::Ok().json(TransferLog {
        ok,
        failed,
        transfers: transfers.into_iter().map(Transfer::from).collect(),
    }))
}

/// Body of `POST /config/render`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    /// The template: flat-profile XML with `{{ variables }}`.
    pub template: String,
    /// The device: id, serial number or MAC.
    pub device: String,
    /// A CSV with a `serial` or `mac` column; the device's row adds variables.
    pub vars_csv: Option<String>,
}

/// A rendered template.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rendered {
    /// The device it was rendered for.
    pub device_id: String,
    /// The variables the template uses.
    pub variables: Vec<String>,
    /// The file the device would get.
    pub rendered: String,
}

/// Renders a configuration template for one device without pushing anything (a dry run).
/// Missing variables are a 400 naming every one of them. Operator: the result holds the
/// device's secrets (passwords from the variables CSV and the stored parameters).
#[utoipa::path(post, path = "/api/v1/config/render", tag = "files", request_body = RenderRequest,
    responses((status = 200, body = Rendered),
        (status = 403, description = "A viewer token", body = ErrorBody),
        (status = 400, description = "Invalid template, CSV, or missing variables", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "`ambiguous` device name", body = ErrorBody)))]
pub async fn render_config(
    _op: Operator,
    ops: Data<acs_core::ops::Operations>,
    body: actix_web::web::Json<RenderRequest>,
) -> Result<HttpResponse, ApiError> {
    use acs_core::template::{ConfigTemplate, VarsTable, device_variables};
    let req = body.into_inner();
    let template =
        ConfigTemplate::parse(&req.template).map_err(|e| ApiError::invalid(e.to_string()))?;
    let vars = req
        .vars_csv
        .as_deref()
        .map(VarsTable::from_csv)
        .transpose()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let device = ops.resolve_device(&req.device).await?;
    let params = ops.store().get_parameters(&device.id, None).await?;
    let row = vars
        .as_ref()
        .and_then(|v| v.row(&device.serial_number, device.mac.as_deref()));
    let rendered = template
        .render(&device_variables(&device, &params, row))
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(HttpResponse::Ok().json(Rendered {
        device_id: device.id,
        variables: template.variables().iter().cloned().collect(),
        rendered,
    }))
}

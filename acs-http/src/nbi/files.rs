//! Files for CPEs (firmware images, configuration templates, CA certificates) and the per-device
//! transfer log.
//!
//! Uploads are the raw request body, streamed into the content-addressed store
//! ([`acs_core::files::FileStore`]); the API's 1 MiB body limit does not apply here, the file
//! store's own size limit does.

use std::sync::Arc;

use acs_api::{
    File, FileList, FileListQuery, RenderRequest, Rendered, TransferLog, TransferQuery, UploadQuery,
};
use acs_core::files::{FileMeta, FileStoreError};
use acs_core::ops::Operations;
use acs_core::storage::{FileKind, TransferCounts};
use actix_web::HttpResponse;
use actix_web::web::{Data, Path, Payload, Query};
use futures::StreamExt;

use super::auth::Operator;
use super::dto;
use super::error::{ApiError, ErrorBody};
use crate::files::FileServer;

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
    Ok(HttpResponse::Created().json(dto::file(file)))
}

/// Files, newest first.
#[utoipa::path(get, path = "/api/v1/files", tag = "files", params(FileListQuery),
    responses((status = 200, body = FileList), (status = 400, body = ErrorBody)))]
pub async fn list_files(
    ops: Data<Operations>,
    q: Query<FileListQuery>,
) -> Result<HttpResponse, ApiError> {
    let kind = q.file_type.as_deref().map(parse_kind).transpose()?;
    let files = ops.files(kind).await?;
    Ok(HttpResponse::Ok().json(FileList {
        files: files.into_iter().map(dto::file).collect(),
    }))
}

/// One file.
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files",
    params(("id" = i64, Path, description = "File id")),
    responses((status = 200, body = File), (status = 404, body = ErrorBody)))]
pub async fn get_file(ops: Data<Operations>, id: Path<i64>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let file = ops
        .file(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("file {id} not found")))?;
    Ok(HttpResponse::Ok().json(dto::file(file)))
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

/// A device's file downloads: counts and the latest transfers.
#[utoipa::path(get, path = "/api/v1/devices/{id}/transfers", tag = "files",
    params(("id" = String, Path, description = "Device id"), TransferQuery),
    responses((status = 200, body = TransferLog), (status = 404, body = ErrorBody)))]
pub async fn device_transfers(
    ops: Data<Operations>,
    id: Path<String>,
    q: Query<TransferQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let limit = super::page_limit(q.limit)?;
    if ops.device(&id).await?.is_none() {
        return Err(ApiError::device_not_found(&id));
    }
    let TransferCounts { ok, failed } = ops.transfer_counts(&id).await?;
    let transfers = ops.transfers(&id, limit).await?;
    Ok(HttpResponse::Ok().json(TransferLog {
        ok,
        failed,
        transfers: transfers.into_iter().map(dto::transfer).collect(),
    }))
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
    ops: Data<Operations>,
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
    let params = ops.parameters(&device.id, None).await?;
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

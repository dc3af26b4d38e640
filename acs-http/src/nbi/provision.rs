//! Zero-touch provisioning rules (`/provision/rules`) and where each device stands with them
//! (`/devices/{id}/provisioning`).
//!
//! Rules can set parameter values an operator typed in (SIP passwords, say), so reading them
//! takes the operator role, like changing them takes admin.

use acs_api::{ProvisionItem, ProvisionRule, ProvisionRuleInput, ResetQuery, ResetResult};
use acs_core::ops::Operations;
use acs_core::provision::{ProvisionError, Provisioner, RuleSpec};
use actix_web::HttpResponse;
use actix_web::web::{Data, Json, Path, Query};

use super::auth::{Admin, Operator};
use super::dto;
use super::error::{ApiError, ErrorBody};

impl From<ProvisionError> for ApiError {
    fn from(e: ProvisionError) -> ApiError {
        match e {
            ProvisionError::Invalid(m) | ProvisionError::Import(m) => ApiError::invalid(m),
            ProvisionError::NotFound(_) => ApiError::not_found(e.to_string()),
            ProvisionError::Conflict(m) => ApiError::conflict(m),
            ProvisionError::Storage(s) => s.into(),
        }
    }
}

/// Every rule, in the order they apply.
#[utoipa::path(get, path = "/api/v1/provision/rules", tag = "provisioning",
    responses((status = 200, body = Vec<ProvisionRule>)))]
pub async fn list_rules(_op: Operator, prov: Data<Provisioner>) -> Result<HttpResponse, ApiError> {
    let rules: Vec<ProvisionRule> = prov.rules().await?.into_iter().map(dto::rule).collect();
    Ok(HttpResponse::Ok().json(rules))
}

/// One rule.
#[utoipa::path(get, path = "/api/v1/provision/rules/{name}", tag = "provisioning",
    params(("name" = String, Path, description = "Rule name")),
    responses((status = 200, body = ProvisionRule), (status = 404, body = ErrorBody)))]
pub async fn get_rule(
    _op: Operator,
    prov: Data<Provisioner>,
    name: Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(dto::rule(prov.rule(&name).await?)))
}

/// Adds a rule. It acts from the next matching Inform of each device; nothing is pushed now.
#[utoipa::path(post, path = "/api/v1/provision/rules", tag = "provisioning",
    request_body = ProvisionRuleInput,
    responses((status = 201, body = ProvisionRule),
        (status = 400, description = "Invalid rule, or a file that does not exist or is of the wrong type", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody)))]
pub async fn add_rule(
    admin: Admin,
    prov: Data<Provisioner>,
    body: Json<RuleSpec>,
) -> Result<HttpResponse, ApiError> {
    let rule = prov
        .add_rule(body.into_inner(), Some(&admin.0.name))
        .await?;
    tracing::info!(rule = %rule.spec.name, by = %admin.0.name, "provisioning rule added");
    Ok(HttpResponse::Created().json(dto::rule(rule)))
}

/// Removes a rule added through the API, and every device's record of it (adding it again
/// starts afresh). Tasks it already queued stay queued.
#[utoipa::path(delete, path = "/api/v1/provision/rules/{name}", tag = "provisioning",
    params(("name" = String, Path, description = "Rule name")),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody),
        (status = 409, description = "The rule is defined in the configuration file", body = ErrorBody)))]
pub async fn remove_rule(
    admin: Admin,
    prov: Data<Provisioner>,
    name: Path<String>,
) -> Result<HttpResponse, ApiError> {
    prov.remove_rule(&name).await?;
    tracing::info!(rule = %name, by = %admin.0.name, "provisioning rule removed");
    Ok(HttpResponse::NoContent().finish())
}

async fn existing_device(ops: &Operations, id: &str) -> Result<(), ApiError> {
    if ops.device(id).await?.is_none() {
        return Err(ApiError::device_not_found(id));
    }
    Ok(())
}

/// Where a device stands with each rule item that has acted on it.
#[utoipa::path(get, path = "/api/v1/devices/{id}/provisioning", tag = "provisioning",
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = Vec<ProvisionItem>), (status = 404, body = ErrorBody)))]
pub async fn device_status(
    prov: Data<Provisioner>,
    ops: Data<Operations>,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    existing_device(&ops, &id).await?;
    let items: Vec<ProvisionItem> = prov
        .device_status(&id)
        .await?
        .into_iter()
        .map(dto::provision_item)
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

/// Forgets a device's provisioning record (of one rule, or all): halted and failed items are
/// tried again, and everything is re-evaluated, at the device's next matching Inform. Items
/// whose task is still on its way are kept.
#[utoipa::path(delete, path = "/api/v1/devices/{id}/provisioning", tag = "provisioning",
    params(("id" = String, Path, description = "Device id"), ResetQuery),
    responses((status = 200, body = ResetResult),
        (status = 404, description = "No such device or rule", body = ErrorBody)))]
pub async fn reset_device(
    _op: Operator,
    prov: Data<Provisioner>,
    ops: Data<Operations>,
    id: Path<String>,
    q: Query<ResetQuery>,
) -> Result<HttpResponse, ApiError> {
    existing_device(&ops, &id).await?;
    let reset = prov.reset(&id, q.rule.as_deref()).await?;
    Ok(HttpResponse::Ok().json(ResetResult { reset }))
}

//! Zero-touch provisioning rules (`/provision/rules`) and where each device stands with them
//! (`/devices/{id}/provisioning`).
//!
//! Rules can set parameter values an operator typed in (SIP passwords, say), so reading them
//! takes the operator role, like changing them takes admin.

use acs_core::provision::{ProvisionError, Provisioner, Rule, RuleSpec};
use acs_core::storage::ProvisionStateRow;
use actix_web::HttpResponse;
use actix_web::web::{Data, Json, Path, Query};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Admin, Operator};
use super::dto::SetValue;
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

// Documentation mirror of `acs_core::provision::RuleSpec` (the handler reads that type).
/// A provisioning rule as written: for the devices matching `filter`, at each of `events`,
/// ensure the parameter values, connection-request credentials, configuration and firmware it
/// names. At least one of those is required.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProvisionRuleInput {
    /// Unique name: 1-64 letters, digits, `.`, `-`, `_`.
    pub name: String,
    /// Rules apply in ascending order, then by name (default 100).
    pub order: Option<i32>,
    /// Devices the rule is for (filter language); all devices when absent.
    pub filter: Option<String>,
    /// `BOOTSTRAP`, `BOOT`, `PERIODIC` (default BOOTSTRAP and BOOT).
    pub events: Option<Vec<String>>,
    /// Parameter values to ensure.
    pub parameters: Option<Vec<SetValue>>,
    /// Give each device its own random connection-request credentials.
    pub connection_request_credentials: Option<bool>,
    /// A stored file of type `config-template`, pushed as `3 Vendor Configuration File`.
    pub template_file: Option<i64>,
    /// A stored CSV (`serial` or `mac` column) of per-device template variables.
    pub vars_file: Option<i64>,
    /// A stored file of type `firmware`, pushed as `1 Firmware Upgrade Image` only while the
    /// device reports another SoftwareVersion.
    pub firmware_file: Option<i64>,
    /// The version the image installs (default: the file's version, else an MPP image name's).
    pub firmware_version: Option<String>,
}

/// A provisioning rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProvisionRule {
    /// Unique name.
    pub name: String,
    /// Position: rules apply in ascending order, then by name.
    pub order: i32,
    /// Devices the rule is for; absent = all.
    pub filter: Option<String>,
    /// Events it acts on.
    pub events: Vec<String>,
    /// Parameter values it ensures.
    pub parameters: Vec<SetValue>,
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
    /// `config` (the configuration file; change it there) or `api`.
    pub source: String,
    /// Token that added it.
    pub created_by: Option<String>,
    /// When it was added.
    pub created_at: Option<DateTime<Utc>>,
}

impl From<Rule> for ProvisionRule {
    fn from(r: Rule) -> Self {
        let s = r.spec;
        ProvisionRule {
            name: s.name,
            order: s.order,
            filter: s.filter,
            events: s.events.iter().map(|e| e.as_str().to_owned()).collect(),
            parameters: s
                .parameters
                .into_iter()
                .map(|p| SetValue {
                    name: p.name,
                    value: p.value,
                    value_type: Some(p.value_type.to_string()),
                })
                .collect(),
            connection_request_credentials: s.connection_request_credentials,
            template_file: s.template_file,
            vars_file: s.vars_file,
            firmware_file: s.firmware_file,
            firmware_version: s.firmware_version,
            source: match r.source {
                acs_core::provision::RuleSource::Config => "config",
                acs_core::provision::RuleSource::Api => "api",
            }
            .to_owned(),
            created_by: r.created_by,
            created_at: r.created_at,
        }
    }
}

/// Every rule, in the order they apply.
#[utoipa::path(get, path = "/api/v1/provision/rules", tag = "provisioning",
    responses((status = 200, body = Vec<ProvisionRule>)))]
pub async fn list_rules(_op: Operator, prov: Data<Provisioner>) -> Result<HttpResponse, ApiError> {
    let rules: Vec<ProvisionRule> = prov.rules().await?.into_iter().map(Into::into).collect();
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
    Ok(HttpResponse::Ok().json(ProvisionRule::from(prov.rule(&name).await?)))
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
    Ok(HttpResponse::Created().json(ProvisionRule::from(rule)))
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

/// Where one item of one rule stands for a device.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProvisionItem {
    /// The rule.
    pub rule: String,
    /// `parameters`, `connection_request`, `configuration` or `firmware`.
    pub item: String,
    /// `pending` (pushed, task unfinished), `applied`, `failed` (retried after
    /// `next_attempt_at`), `mismatch` (the image installed but the device reports another
    /// version; not pushed again) or `halted` (pushed too often: loop protection).
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
}

impl From<ProvisionStateRow> for ProvisionItem {
    fn from(r: ProvisionStateRow) -> Self {
        ProvisionItem {
            rule: r.rule,
            item: r.item,
            status: r.status,
            task_id: r.task_id,
            failures: r.failures,
            next_attempt_at: r.next_attempt_at,
            detail: r.detail,
            updated_at: r.updated_at,
        }
    }
}

async fn existing_device(ops: &acs_core::ops::Operations, id: &str) -> Result<(), ApiError> {
    if ops.store().get_device(id).await?.is_none() {
        return Err(ApiError::not_found(format!("device `{id}` not found")));
    }
    Ok(())
}

/// Where a device stands with each rule item that has acted on it.
#[utoipa::path(get, path = "/api/v1/devices/{id}/provisioning", tag = "provisioning",
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = Vec<ProvisionItem>), (status = 404, body = ErrorBody)))]
pub async fn device_status(
    prov: Data<Provisioner>,
    ops: Data<acs_core::ops::Operations>,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    existing_device(&ops, &id).await?;
    let items: Vec<ProvisionItem> = prov
        .device_status(&id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

/// Query of `DELETE /devices/{id}/provisioning`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResetQuery {
    /// Only this rule's items.
    rule: Option<String>,
}

/// How many items a reset forgot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResetResult {
    /// Items forgotten.
    pub reset: u64,
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
    ops: Data<acs_core::ops::Operations>,
    id: Path<String>,
    q: Query<ResetQuery>,
) -> Result<HttpResponse, ApiError> {
    existing_device(&ops, &id).await?;
    let reset = prov.reset(&id, q.rule.as_deref()).await?;
    Ok(HttpResponse::Ok().json(ResetResult { reset }))
}

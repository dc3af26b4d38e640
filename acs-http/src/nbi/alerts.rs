//! Alerts: recent webhook deliveries, and a test alert to check the path to a receiver.

use acs_api::{AlertList, AlertListQuery, AlertTestQuery, AlertTestQueued};
use acs_core::ops::{Operations, OutboxState};
use actix_web::web::{Data, Json, Query};

use super::auth::Admin;
use super::dto;
use super::error::{ApiError, ErrorBody};

/// Deliveries listed when the query names no limit.
const DEFAULT_ALERTS: u64 = 50;

/// Recent webhook deliveries, newest first: state, attempts, last error, event and key. Never
/// a webhook's URL or secret.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertListQuery),
    responses((status = 200, body = AlertList), (status = 400, body = ErrorBody)))]
pub async fn list_alerts(
    ops: Data<Operations>,
    q: Query<AlertListQuery>,
) -> Result<Json<AlertList>, ApiError> {
    let limit = match q.limit {
        None => DEFAULT_ALERTS,
        Some(n) if (1..=acs_core::ops::MAX_ALERTS_LISTED).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "limit must be 1 to {}, got {n}",
                acs_core::ops::MAX_ALERTS_LISTED
            )));
        }
    };
    let state = q.state.map(|s| match s {
        acs_api::DeliveryStateName::Pending => OutboxState::Pending,
        acs_api::DeliveryStateName::Delivered => OutboxState::Delivered,
        acs_api::DeliveryStateName::Failed => OutboxState::Failed,
    });
    let rows = ops.list_alerts(state, limit).await?;
    Ok(Json(AlertList {
        alerts: rows.into_iter().map(dto::alert_delivery).collect(),
    }))
}

/// Queues a `test` alert to every webhook, or to the one named by `webhook`. The worker
/// delivers it like any alert; `GET /alerts` shows how that went.
#[utoipa::path(post, path = "/api/v1/alerts/test", tag = "alerts", params(AlertTestQuery),
    responses((status = 202, body = AlertTestQueued),
        (status = 400, description = "No webhooks are configured", body = ErrorBody),
        (status = 404, description = "No webhook has that name", body = ErrorBody)))]
pub async fn test_alert(
    _admin: Admin,
    ops: Data<Operations>,
    q: Query<AlertTestQuery>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let webhooks = ops
        .test_alert(q.webhook.as_deref(), chrono::Utc::now())
        .await?;
    Ok(actix_web::HttpResponse::Accepted().json(AlertTestQueued { webhooks }))
}

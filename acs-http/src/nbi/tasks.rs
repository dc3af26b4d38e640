//! Tasks across devices, and faults (tasks that ended in `fault` and were not cleared).

use acs_api::{ClearFaults, Cleared, FaultList, FaultListQuery, Task, TaskList, TaskListQuery};
use acs_core::ops::{Operations, TaskQuery};
use acs_core::storage::TaskState;
use actix_web::HttpResponse;
use actix_web::web::{Bytes, Data, Json, Path, Query};

use super::auth::Operator;
use super::dto;
use super::error::{ApiError, ErrorBody};
use super::page_limit;

pub(super) fn parse_state(state: Option<&str>) -> Result<Option<TaskState>, ApiError> {
    state
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<TaskState>().map_err(|e| {
                ApiError::invalid(format!(
                    "{e} (expected held, queued, sent, done, fault, expired or cancelled)"
                ))
            })
        })
        .transpose()
}

/// Lists tasks by ascending id.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TaskListQuery),
    responses((status = 200, body = TaskList), (status = 400, body = ErrorBody)))]
pub async fn list_tasks(
    ops: Data<Operations>,
    q: Query<TaskListQuery>,
) -> Result<Json<TaskList>, ApiError> {
    let q = q.into_inner();
    let page = ops
        .list_tasks(&TaskQuery {
            device_id: q.device.filter(|d| !d.is_empty()),
            state: parse_state(q.state.as_deref())?,
            job_id: q.job,
            kind: q.kind.filter(|k| !k.is_empty()),
            limit: page_limit(q.limit)?,
            after: q.after,
        })
        .await?;
    Ok(Json(TaskList {
        tasks: page.tasks.into_iter().map(dto::task).collect(),
        next: page.next,
    }))
}

/// One task.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, body = Task), (status = 404, body = ErrorBody)))]
pub async fn get_task(ops: Data<Operations>, id: Path<i64>) -> Result<Json<Task>, ApiError> {
    let task = ops
        .task(*id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {id} not found")))?;
    Ok(Json(dto::task(task)))
}

/// Cancels a queued task.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/cancel", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 200, body = Task), (status = 404, body = ErrorBody),
        (status = 409, description = "The task is not queued", body = ErrorBody)))]
pub async fn cancel_task(
    _op: Operator,
    ops: Data<Operations>,
    id: Path<i64>,
) -> Result<Json<Task>, ApiError> {
    Ok(Json(dto::task(ops.cancel_task(*id).await?)))
}

/// Queues a new copy of a task that ended in `fault`, `expired` or `cancelled`.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/retry", tag = "tasks",
    params(("id" = i64, Path, description = "Task id")),
    responses((status = 201, description = "The new task", body = Task),
        (status = 404, body = ErrorBody),
        (status = 409, description = "The task is not fault, expired or cancelled", body = ErrorBody)))]
pub async fn retry_task(
    _op: Operator,
    ops: Data<Operations>,
    id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let task = ops.retry_task(*id).await?;
    Ok(HttpResponse::Created().json(dto::task(task)))
}

/// Uncleared faults.
#[utoipa::path(get, path = "/api/v1/faults", tag = "faults", params(FaultListQuery),
    responses((status = 200, body = FaultList), (status = 400, body = ErrorBody)))]
pub async fn list_faults(
    ops: Data<Operations>,
    q: Query<FaultListQuery>,
) -> Result<Json<FaultList>, ApiError> {
    let device = q.device.as_deref().filter(|d| !d.is_empty());
    let page = ops
        .list_faults(device, page_limit(q.limit)?, q.after)
        .await?;
    Ok(Json(FaultList {
        faults: page.tasks.into_iter().map(dto::task).collect(),
        next: page.next,
    }))
}

/// Clears one task's fault.
#[utoipa::path(delete, path = "/api/v1/faults/{task_id}", tag = "faults",
    params(("task_id" = i64, Path, description = "Task id")),
    responses((status = 204, description = "Cleared"),
        (status = 404, description = "No uncleared fault for this task", body = ErrorBody)))]
pub async fn clear_fault(
    _op: Operator,
    ops: Data<Operations>,
    task_id: Path<i64>,
) -> Result<HttpResponse, ApiError> {
    if ops.clear_faults(Some(*task_id), None).await? == 0 {
        return Err(ApiError::not_found(format!(
            "task {task_id} has no uncleared fault"
        )));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Clears all faults, or all of one device's.
#[utoipa::path(post, path = "/api/v1/faults/clear", tag = "faults",
    request_body(content = ClearFaults, description = "`{}` (or no body) clears every fault"),
    responses((status = 200, body = Cleared), (status = 404, body = ErrorBody)))]
pub async fn clear_faults(
    _op: Operator,
    ops: Data<Operations>,
    body: Bytes,
) -> Result<Json<Cleared>, ApiError> {
    // Raw bytes rather than `Json<…>` so that a bodyless POST means `{}`: "clear everything"
    // is the natural reading of `POST /faults/clear`.
    let req: ClearFaults = if body.iter().all(u8::is_ascii_whitespace) {
        ClearFaults::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?
    };
    let device = req.device.as_deref().filter(|d| !d.is_empty());
    if let Some(d) = device
        && ops.device(d).await?.is_none()
    {
        return Err(ApiError::device_not_found(d));
    }
    let cleared = ops.clear_faults(None, device).await?;
    Ok(Json(Cleared { cleared }))
}

//! Bulk jobs: one task definition over many devices, with per-device outcomes.

use acs_api::{CreateJob, Job, JobList, JobListQuery, JobTasksQuery, TaskList};
use acs_core::ops::{JobTarget, NewJob, Operations, TaskQuery};
use acs_core::tasks::TaskSpec;
use actix_web::HttpResponse;
use actix_web::web::{Data, Json, Path, Query};

use super::auth::Operator;
use super::dto;
use super::error::{ApiError, ErrorBody};
use super::tasks::parse_state;
use super::{page_limit, task_options};

/// Devices one job may name explicitly (a filter has no such limit).
const MAX_JOB_DEVICES: usize = 10_000;

/// Creates a job: a task for every device of a filter or a list.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = CreateJob,
    responses((status = 201, body = Job), (status = 400, body = ErrorBody),
        (status = 404, description = "A listed device does not exist", body = ErrorBody),
        (status = 409, description = "`ambiguous`: a listed serial/MAC names several devices",
            body = ErrorBody)))]
pub async fn create_job(
    op: Operator,
    ops: Data<Operations>,
    body: Json<CreateJob>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let spec: TaskSpec = serde_json::from_value(req.task)
        .map_err(|e| ApiError::invalid(format!("invalid task: {e}")))?;
    // Naming the target is mandatory: a job over "everything" must be asked for with an
    // explicit filter, never by forgetting a field.
    let target = match (req.filter, req.devices) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("give `filter` or `devices`, not both"));
        }
        (None, None) => return Err(ApiError::invalid("give `filter` or `devices`")),
        (Some(f), None) => {
            // Parsed here too so a bad filter gets its position whatever the service reports.
            acs_core::filter::Filter::parse(&f).map_err(|e| ApiError::invalid_filter(&e))?;
            JobTarget::Filter(f)
        }
        (None, Some(d)) => {
            if d.is_empty() || d.len() > MAX_JOB_DEVICES {
                return Err(ApiError::invalid(format!(
                    "`devices` must list 1 to {MAX_JOB_DEVICES} devices"
                )));
            }
            JobTarget::Devices(d)
        }
    };
    let job = ops
        .create_job(&NewJob {
            spec,
            target,
            connection_request: req.connection_request,
            options: task_options(req.expires_in, req.max_attempts)?,
            created_by: Some(op.0.name),
            concurrency: req.concurrency,
            max_failures: req.max_failures.map(dto::failure_limit),
            window: req
                .window
                .as_deref()
                .map(str::parse::<acs_core::window::MaintenanceWindow>)
                .transpose()
                .map_err(|e| ApiError::invalid(e.to_string()))?,
        })
        .await?;
    Ok(HttpResponse::Created().json(dto::job(job)))
}

/// Jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobListQuery),
    responses((status = 200, body = JobList), (status = 400, body = ErrorBody)))]
pub async fn list_jobs(
    ops: Data<Operations>,
    q: Query<JobListQuery>,
) -> Result<Json<JobList>, ApiError> {
    let jobs = ops.list_jobs(page_limit(q.limit)?, q.after).await?;
    Ok(Json(JobList {
        jobs: jobs.into_iter().map(dto::job).collect(),
    }))
}

/// One job with its progress.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
pub async fn get_job(ops: Data<Operations>, id: Path<i64>) -> Result<Json<Job>, ApiError> {
    Ok(Json(dto::job(ops.job(*id).await?)))
}

/// The job's per-device outcome: its tasks by ascending id.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/tasks", tag = "jobs",
    params(("id" = i64, Path, description = "Job id"), JobTasksQuery),
    responses((status = 200, body = TaskList), (status = 404, body = ErrorBody)))]
pub async fn job_tasks(
    ops: Data<Operations>,
    id: Path<i64>,
    q: Query<JobTasksQuery>,
) -> Result<Json<TaskList>, ApiError> {
    // 404 for an unknown job rather than an empty page.
    let mut progress = ops.job_progress(*id).await?;
    let page = ops
        .list_tasks(&TaskQuery {
            job_id: Some(*id),
            state: parse_state(q.state.as_deref())?,
            limit: page_limit(q.limit)?,
            after: q.after,
            ..TaskQuery::default()
        })
        .await?;
    Ok(Json(TaskList {
        tasks: page
            .tasks
            .into_iter()
            .map(|t| {
                let rollout = progress.outcomes.remove(&t.id).map(dto::rollout);
                let mut task = dto::task(t);
                task.rollout = rollout;
                task
            })
            .collect(),
        next: page.next,
    }))
}

/// Cancels a job: its queued tasks are cancelled, sent ones finish.
#[utoipa::path(post, path = "/api/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = i64, Path, description = "Job id")),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn cancel_job(
    _op: Operator,
    ops: Data<Operations>,
    id: Path<i64>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(dto::job(ops.cancel_job(*id).await?)))
}

//! Devices, their tags, parameters, events and tasks, and the bulk parameter query.

use std::time::Duration;

use acs_api::{
    BulkParametersQuery, ConnReq, Count, CountQuery, CreateTaskQuery, Device, DeviceList,
    DeviceListQuery, DeviceTaskList, EventList, EventsQuery, ParameterLine, ParameterList,
    ParametersQuery, ResolveQuery, Task, TaskDefinition,
};
use acs_core::filter::Filter;
use acs_core::ops::{DeviceSelection, Operations, ParameterCursor, ParameterQueryRow, TaskOptions};
use acs_core::storage::{DeviceQuery, DeviceRow, DeviceSort, SortDirection, SortField};
use acs_core::tasks::TaskSpec;
use actix_web::web::{Bytes, Data, Json, Path, Query};
use actix_web::{HttpResponse, http::StatusCode};
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};

use super::auth::{Admin, Operator};
use super::dto;
use super::error::{ApiError, ErrorBody};
use super::{page_limit, task_options};

/// Longest a task creation may hold the request open.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// Devices per database round trip of the bulk parameter query.
const PARAMETER_BATCH: usize = 200;

/// Names one bulk parameter query may ask for.
const MAX_NAMES: usize = 1000;

/// The filter of a query string; an absent or blank filter matches everything.
pub(super) fn parse_filter(filter: Option<&str>) -> Result<Option<Filter>, ApiError> {
    match filter.map(str::trim).filter(|f| !f.is_empty()) {
        None => Ok(None),
        Some(f) => Filter::parse(f)
            .map(Some)
            .map_err(|e| ApiError::invalid_filter(&e)),
    }
}

/// API sort names (docs/NBI.md) and the storage layer's names for them.
const SORT_NAMES: [(&str, &str); 9] = [
    ("id", "id"),
    ("serial_number", "serial"),
    ("product_class", "product_class"),
    ("oui", "oui"),
    ("manufacturer", "manufacturer"),
    ("mac", "mac"),
    ("software_version", "software_version"),
    ("last_inform", "last_inform"),
    ("first_seen", "first_seen"),
];

fn parse_sort(sort: Option<&str>) -> Result<DeviceSort, ApiError> {
    let Some(s) = sort.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(DeviceSort::default());
    };
    let (direction, name) = match s.strip_prefix('-') {
        Some(rest) => (SortDirection::Desc, rest),
        None => (SortDirection::Asc, s.strip_prefix('+').unwrap_or(s)),
    };
    let field = SORT_NAMES
        .iter()
        .find(|(api, _)| *api == name)
        .and_then(|(_, storage)| SortField::from_name(storage))
        .ok_or_else(|| {
            let names: Vec<&str> = SORT_NAMES
                .iter()
                .filter(|(_, storage)| SortField::from_name(storage).is_some())
                .map(|(api, _)| *api)
                .collect();
            ApiError::invalid(format!(
                "cannot sort by `{name}`; sort fields: {} (prefix `-` for descending)",
                names.join(", ")
            ))
        })?;
    Ok(DeviceSort { field, direction })
}

/// Attaches each device's tags. One query per device, run a few at a time: a page is at most
/// 1000 devices and the tag lookup is a primary-key range scan.
async fn with_tags(ops: &Operations, devices: Vec<DeviceRow>) -> Result<Vec<Device>, ApiError> {
    futures::stream::iter(devices)
        .map(|d| async move {
            let tags = ops.device_tags(&d.id).await?;
            Ok::<_, ApiError>(dto::device(d, tags))
        })
        .buffered(4)
        .try_collect()
        .await
}

async fn device_or_404(ops: &Operations, id: &str) -> Result<DeviceRow, ApiError> {
    ops.device(id)
        .await?
        .ok_or_else(|| ApiError::device_not_found(id))
}

/// Lists devices, keyset-paged.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", params(DeviceListQuery),
    responses((status = 200, body = DeviceList), (status = 400, body = ErrorBody)))]
pub async fn list_devices(
    ops: Data<Operations>,
    q: Query<DeviceListQuery>,
) -> Result<Json<DeviceList>, ApiError> {
    let filter = parse_filter(q.filter.as_deref())?;
    let page = ops
        .find_devices(&DeviceQuery {
            filter: filter.as_ref(),
            now: Utc::now(),
            sort: parse_sort(q.sort.as_deref())?,
            limit: page_limit(q.limit)?,
            after: q.after.clone().filter(|a| !a.is_empty()),
        })
        .await?;
    Ok(Json(DeviceList {
        devices: with_tags(&ops, page.devices).await?,
        next: page.next,
    }))
}

/// Counts devices matching a filter.
#[utoipa::path(get, path = "/api/v1/devices/count", tag = "devices", params(CountQuery),
    responses((status = 200, body = Count), (status = 400, body = ErrorBody)))]
pub async fn count_devices(
    ops: Data<Operations>,
    q: Query<CountQuery>,
) -> Result<Json<Count>, ApiError> {
    let filter = parse_filter(q.filter.as_deref())?;
    let count = ops.count_devices(filter.as_ref(), Utc::now()).await?;
    Ok(Json(Count { count }))
}

/// Finds a device by id, else serial number, else MAC.
#[utoipa::path(get, path = "/api/v1/devices/resolve", tag = "devices", params(ResolveQuery),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody),
        (status = 409, description = "`ambiguous`: several devices match", body = ErrorBody)))]
pub async fn resolve_device(
    ops: Data<Operations>,
    q: Query<ResolveQuery>,
) -> Result<Json<Device>, ApiError> {
    let d = ops.resolve_device(q.name.trim()).await?;
    let tags = ops.device_tags(&d.id).await?;
    Ok(Json(dto::device(d, tags)))
}

/// One device.
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices",
    params(("id" = String, Path, description = "Device id (percent-encoded)")),
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)))]
pub async fn get_device(ops: Data<Operations>, id: Path<String>) -> Result<Json<Device>, ApiError> {
    let d = device_or_404(&ops, &id).await?;
    let tags = ops.device_tags(&d.id).await?;
    Ok(Json(dto::device(d, tags)))
}

/// Deletes a device with its parameters, events, tags and tasks (admin).
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices",
    params(("id" = String, Path, description = "Device id")),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "Only an admin may delete devices", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_device(
    admin: Admin,
    ops: Data<Operations>,
    id: Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !ops.delete_device(&id).await? {
        return Err(ApiError::device_not_found(&id));
    }
    tracing::info!(device = %id, by = %admin.0.name, "device deleted through the API");
    Ok(HttpResponse::NoContent().finish())
}

fn check_tag(tag: &str) -> Result<(), ApiError> {
    if tag.is_empty() || tag.chars().count() > 128 || tag.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "a tag is 1 to 128 characters without control characters",
        ));
    }
    Ok(())
}

/// Tags a device (idempotent).
#[utoipa::path(put, path = "/api/v1/devices/{id}/tags/{tag}", tag = "devices",
    params(("id" = String, Path, description = "Device id"), ("tag" = String, Path)),
    responses((status = 204, description = "Tagged"), (status = 404, body = ErrorBody)))]
pub async fn add_tag(
    _op: Operator,
    ops: Data<Operations>,
    path: Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, tag) = path.into_inner();
    check_tag(&tag)?;
    ops.add_tag(&id, &tag).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a tag (404 when the device did not have it).
#[utoipa::path(delete, path = "/api/v1/devices/{id}/tags/{tag}", tag = "devices",
    params(("id" = String, Path, description = "Device id"), ("tag" = String, Path)),
    responses((status = 204, description = "Untagged"), (status = 404, body = ErrorBody)))]
pub async fn remove_tag(
    _op: Operator,
    ops: Data<Operations>,
    path: Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, tag) = path.into_inner();
    if !ops.remove_tag(&id, &tag).await? {
        device_or_404(&ops, &id).await?;
        return Err(ApiError::not_found(format!(
            "device `{id}` has no tag `{tag}`"
        )));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A device's stored parameter values.
#[utoipa::path(get, path = "/api/v1/devices/{id}/parameters", tag = "devices",
    params(("id" = String, Path, description = "Device id"), ParametersQuery),
    responses((status = 200, body = ParameterList), (status = 404, body = ErrorBody)))]
pub async fn device_parameters(
    ops: Data<Operations>,
    id: Path<String>,
    q: Query<ParametersQuery>,
) -> Result<Json<ParameterList>, ApiError> {
    device_or_404(&ops, &id).await?;
    let rows = ops.parameters(&id, q.prefix.as_deref()).await?;
    Ok(Json(ParameterList {
        parameters: rows.into_iter().map(dto::parameter).collect(),
    }))
}

/// A device's recent Inform events, newest first.
#[utoipa::path(get, path = "/api/v1/devices/{id}/events", tag = "devices",
    params(("id" = String, Path, description = "Device id"), EventsQuery),
    responses((status = 200, body = EventList), (status = 404, body = ErrorBody)))]
pub async fn device_events(
    ops: Data<Operations>,
    id: Path<String>,
    q: Query<EventsQuery>,
) -> Result<Json<EventList>, ApiError> {
    device_or_404(&ops, &id).await?;
    let rows = ops.events(&id, page_limit(q.limit)?).await?;
    Ok(Json(EventList {
        events: rows.into_iter().map(dto::event).collect(),
    }))
}

/// A device's tasks, oldest first.
#[utoipa::path(get, path = "/api/v1/devices/{id}/tasks", tag = "tasks",
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = DeviceTaskList), (status = 404, body = ErrorBody)))]
pub async fn device_tasks(
    ops: Data<Operations>,
    id: Path<String>,
) -> Result<Json<DeviceTaskList>, ApiError> {
    device_or_404(&ops, &id).await?;
    let rows = ops.device_tasks(&id).await?;
    Ok(Json(DeviceTaskList {
        tasks: rows.into_iter().map(dto::task).collect(),
    }))
}

/// Queues a task for a device; optionally wakes it and waits for the outcome.
#[utoipa::path(post, path = "/api/v1/devices/{id}/tasks", tag = "tasks",
    params(("id" = String, Path, description = "Device id"), CreateTaskQuery),
    request_body = TaskDefinition,
    responses((status = 200, description = "The task finished within `wait`", body = Task),
        (status = 202, description = "The task is queued or running", body = Task),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_task(
    _op: Operator,
    ops: Data<Operations>,
    id: Path<String>,
    q: Query<CreateTaskQuery>,
    body: Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let spec: TaskSpec = serde_json::from_value(body.into_inner())
        .map_err(|e| ApiError::invalid(format!("invalid task: {e}")))?;
    let options: TaskOptions = task_options(q.expires_in, q.max_attempts)?;
    let mut task = ops.create_task(&id, &spec, &options).await?;
    let connection_request = if q.connection_request {
        // The task is stored already: a failed wake-up is reported, not turned into an error
        // response, or a client would retry and queue the task twice.
        Some(match ops.connection_request_for_task(&task).await {
            Ok(stored) => dto::conn_req(stored),
            Err(e) => ConnReq {
                outcome: "error".into(),
                detail: e.to_string(),
                at: None,
            },
        })
    } else {
        None
    };
    if let Some(secs) = q.wait.filter(|s| *s > 0) {
        let wait = Duration::from_secs(secs).min(MAX_WAIT);
        task = ops.wait_for_task(task.id, wait).await?;
    }
    let status = if task.state.is_final() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut answer: Task = dto::task(task);
    // The task was read before its wake-up was stored unless the request waited for it.
    if connection_request.is_some() {
        answer.connection_request = connection_request;
    }
    Ok(HttpResponse::build(status).json(answer))
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The state of a streamed bulk parameter query.
struct Feed {
    cursor: ParameterCursor,
    /// The batch read before the response started.
    first: Option<Vec<ParameterQueryRow>>,
    /// Exhausted, or failed (an error item was already sent).
    finished: bool,
}

fn ndjson(rows: Vec<ParameterQueryRow>) -> Result<Bytes, std::io::Error> {
    let mut out = Vec::with_capacity(rows.len() * 128);
    for row in rows {
        serde_json::to_writer(&mut out, &dto::parameter_line(row))?;
        out.push(b'\n');
    }
    Ok(Bytes::from(out))
}

/// Stored values of some parameters over many devices, streamed as NDJSON: one line per device
/// and name in device-id order, `null`s when the device has no value.
#[utoipa::path(get, path = "/api/v1/parameters", tag = "devices", params(BulkParametersQuery),
    responses((status = 200, description = "One `ParameterLine` per line",
        content_type = "application/x-ndjson", body = ParameterLine),
        (status = 400, body = ErrorBody)))]
pub async fn bulk_parameters(
    ops: Data<Operations>,
    q: Query<BulkParametersQuery>,
) -> Result<HttpResponse, ApiError> {
    let names = split_list(&q.names);
    if names.is_empty() || names.len() > MAX_NAMES {
        return Err(ApiError::invalid(format!(
            "`names` must list 1 to {MAX_NAMES} parameter names, comma-separated"
        )));
    }
    let selection = match (q.filter.as_deref(), q.devices.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("give `filter` or `devices`, not both"));
        }
        (_, Some(devices)) => {
            // Sorted like the other selections, so output order never depends on how the
            // caller listed the devices.
            let mut ids = split_list(devices);
            ids.sort();
            ids.dedup();
            DeviceSelection::Devices(ids)
        }
        (filter, None) => match parse_filter(filter)? {
            Some(f) => DeviceSelection::Filter(f),
            None => DeviceSelection::All,
        },
    };
    let mut cursor = ops.query_parameters(selection, names, PARAMETER_BATCH);
    // The first batch is read before the status line goes out, so a database failure or a bad
    // selection still gets a proper error status; later failures can only cut the stream short
    // (the chunked body then ends without its terminator, which clients report).
    let first = cursor.next_batch().await?;
    let feed = Feed {
        finished: first.is_none(),
        cursor,
        first,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        if feed.finished {
            return None;
        }
        let batch = match feed.first.take() {
            Some(rows) => Ok(Some(rows)),
            None => feed.cursor.next_batch().await,
        };
        match batch {
            Ok(Some(rows)) => Some((ndjson(rows), feed)),
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "bulk parameter query failed mid-stream");
                feed.finished = true;
                Some((Err(std::io::Error::other(e.to_string())), feed))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(stream))
}

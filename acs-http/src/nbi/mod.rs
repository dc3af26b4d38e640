//! The northbound listener: health, metrics and the REST API under `/api/v1` (docs/NBI.md).
//!
//! Layout: [`auth`] (bearer tokens, roles), [`error`] (the JSON error type), [`dto`] (core types
//! into the JSON shapes, which are defined in the `acs-api` crate with the typed client), and
//! one module per resource family. Handlers reach the ACS through `Operations` only, never the
//! store. [`api`] wires them; [`ApiDoc`] is the OpenAPI document, checked in as
//! `schemas/openapi.json`.

pub mod alerts;
pub mod auth;
pub mod devices;
pub mod dto;
pub mod error;
pub mod files;
pub mod jobs;
pub mod provision;
pub mod tasks;

use std::sync::OnceLock;
use std::time::Duration;

use acs_core::ops::TaskOptions;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use error::ApiError;

/// Largest request body the API reads (task definitions and job requests are small; this
/// bounds what a client can make the server buffer).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Default page size.
pub const DEFAULT_PAGE: u64 = 100;

/// Largest page size.
pub const MAX_PAGE: u64 = 1000;

/// Liveness: answers as long as the process serves HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

/// Prometheus text exposition.
pub async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

/// `limit` of a listing: 1–[`MAX_PAGE`], [`DEFAULT_PAGE`] when absent. Out of range is an error
/// rather than clamped, so a script asking for 5000 learns it gets at most 1000 per page.
pub(crate) fn page_limit(limit: Option<u64>) -> Result<u64, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::invalid(format!(
            "limit must be 1 to {MAX_PAGE}, got {n}"
        ))),
    }
}

/// Task options from the API's `expires_in` (seconds) and `max_attempts`.
pub(crate) fn task_options(
    expires_in: Option<u64>,
    max_attempts: Option<i32>,
) -> Result<TaskOptions, ApiError> {
    if expires_in == Some(0) {
        return Err(ApiError::invalid("expires_in must be at least 1 second"));
    }
    if let Some(n) = max_attempts
        && !(1..=100).contains(&n)
    {
        return Err(ApiError::invalid(format!(
            "max_attempts must be 1 to 100, got {n}"
        )));
    }
    Ok(TaskOptions {
        expires_in: expires_in.map(Duration::from_secs),
        max_attempts,
    })
}

/// The bearer security scheme, named `bearer` in the document.
#[derive(Debug)]
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Adds the responses every authenticated operation shares (401; 403 for mutations), so the
/// handlers' annotations list only what is specific to them.
#[derive(Debug)]
struct AuthResponses;

impl utoipa::Modify for AuthResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (false, &mut item.get),
                (true, &mut item.put),
                (true, &mut item.post),
                (true, &mut item.delete),
            ];
            for (mutation, op) in operations {
                // An operation with its own (empty) security list is public.
                let Some(op) = op.as_mut().filter(|op| op.security.is_none()) else {
                    continue;
                };
                let responses = &mut op.responses.responses;
                responses
                    .entry("401".into())
                    .or_insert_with(|| error("No, unknown or revoked bearer token"));
                if mutation {
                    responses
                        .entry("403".into())
                        .or_insert_with(|| error("The token's role is too low"));
                }
            }
        }
    }
}

/// The OpenAPI document of `/api/v1`.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "acs northbound API",
        description = "Devices, tasks, bulk jobs and faults of the acs TR-069 ACS. See docs/NBI.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        openapi_json,
        devices::list_devices,
        devices::count_devices,
        devices::resolve_device,
        devices::get_device,
        devices::delete_device,
        devices::add_tag,
        devices::remove_tag,
        devices::device_parameters,
        devices::device_events,
        devices::device_tasks,
        devices::create_task,
        devices::bulk_parameters,
        tasks::list_tasks,
        tasks::get_task,
        tasks::cancel_task,
        tasks::retry_task,
        tasks::list_faults,
        tasks::clear_fault,
        tasks::clear_faults,
        jobs::create_job,
        jobs::list_jobs,
        jobs::get_job,
        jobs::job_tasks,
        jobs::cancel_job,
        files::upload_file,
        files::list_files,
        files::get_file,
        files::delete_file,
        files::device_transfers,
        files::render_config,
        provision::list_rules,
        provision::get_rule,
        provision::add_rule,
        provision::remove_rule,
        provision::device_status,
        provision::reset_device,
        alerts::list_alerts,
        alerts::test_alert,
    ),
    components(schemas(acs_api::TaskDefinition, acs_api::SetValue, acs_api::SetAttribute)),
    modifiers(&BearerScheme, &AuthResponses),
    security(("bearer" = [])),
    tags(
        (name = "devices", description = "Devices, tags, parameters, events"),
        (name = "tasks", description = "Per-device tasks"),
        (name = "jobs", description = "Bulk jobs over many devices"),
        (name = "faults", description = "Tasks that failed and were not cleared"),
        (name = "files", description = "Files for CPEs and their transfers"),
        (name = "provisioning", description = "Zero-touch provisioning rules and where each device stands"),
        (name = "alerts", description = "Webhook deliveries of alerts"),
        (name = "meta", description = "This document"),
    ),
)]
pub struct ApiDoc;

/// The OpenAPI document as served and checked in: pretty JSON with a trailing newline.
///
/// The version is fixed rather than the crate's so that a release bump does not make the
/// checked-in file stale; bump it when the API itself changes.
pub fn openapi_document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.version = "1".to_owned();
        let mut text = doc
            .to_pretty_json()
            .expect("the OpenAPI document serializes");
        text.push('\n');
        text
    })
}

/// The OpenAPI document of this API. Served without authentication: it holds nothing secret,
/// and tooling (generators, linters, the CLI's version check) should not need a token.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(openapi_document())
}

/// Unknown routes under `/api/v1`.
async fn no_route(req: HttpRequest) -> HttpResponse {
    ApiError::not_found(format!("no route for {} {}", req.method(), req.path())).error_response()
}

/// A known path with a method it does not serve.
async fn wrong_method(req: HttpRequest) -> HttpResponse {
    let mut res = HttpResponse::MethodNotAllowed();
    res.json(error::ErrorBody {
        error: "method_not_allowed".into(),
        message: format!("{} is not allowed on {}", req.method(), req.path()),
        position: None,
    })
}

/// Safety net: rewrites any error response that is not JSON yet (actix's own payload errors,
/// for instance) into the API's error shape, so a client never has to parse plain text.
async fn json_errors<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    // Handlers' errors arrive here as responses (actix renders them inside the route), so only
    // a failing inner middleware would take the `?`; none of ours does. The request must not be
    // cloned before the call: the router needs it uniquely owned to record path parameters.
    let res = next.call(req).await?.map_into_left_body();
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let text = actix_web::body::to_bytes(body)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut out = HttpResponse::build(status);
    for (name, value) in head.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.append_header((name.clone(), value.clone()));
        }
    }
    let out = out.json(error::ErrorBody {
        error: error::code_for(status).to_owned(),
        message,
        position: None,
    });
    Ok(ServiceResponse::new(req, out).map_into_right_body())
}

/// Registers the REST API routes under `/api/v1`.
pub fn api(cfg: &mut web::ServiceConfig) {
    use web::{delete, get, post, put, resource};
    // Registered outside the authenticated scope and before it, so it matches first.
    cfg.route("/api/v1/openapi.json", get().to(openapi_json));
    cfg.service(
        web::scope("/api/v1")
            .app_data(
                web::JsonConfig::default()
                    .limit(MAX_BODY_BYTES)
                    .content_type_required(false)
                    .error_handler(error::json_error),
            )
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .app_data(web::QueryConfig::default().error_handler(error::query_error))
            .app_data(web::PathConfig::default().error_handler(error::path_error))
            // Order: the last `wrap` runs first, so the JSON safety net also sees 401s.
            .wrap(from_fn(auth::authenticate))
            .wrap(from_fn(json_errors))
            .service(
                resource("/alerts")
                    .route(get().to(alerts::list_alerts))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/alerts/test")
                    .route(post().to(alerts::test_alert))
                    .default_service(web::to(wrong_method)),
            )
            // Literal segments before `{id}`, or `count` would be taken for a device id.
            .service(
                resource("/devices")
                    .route(get().to(devices::list_devices))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/devices/count")
                    .route(get().to(devices::count_devices))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/devices/resolve")
                    .route(get().to(devices::resolve_device))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/devices/{id}")
                    .route(get().to(devices::get_device))
                    .route(delete().to(devices::delete_device))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/devices/{id}/tags/{tag}")
                    .route(put().to(devices::add_tag))
                    .route(delete().to(devices::remove_tag))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/devices/{id}/parameters")
                    .route(get().to(devices::device_parameters))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/devices/{id}/events")
                    .route(get().to(devices::device_events))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/devices/{id}/tasks")
                    .route(get().to(devices::device_tasks))
                    .route(post().to(devices::create_task))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/devices/{id}/transfers")
                    .route(get().to(files::device_transfers))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/files")
                    .route(get().to(files::list_files))
                    .route(post().to(files::upload_file))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/files/{id}")
                    .route(get().to(files::get_file))
                    .route(delete().to(files::delete_file))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/provision/rules")
                    .route(get().to(provision::list_rules))
                    .route(post().to(provision::add_rule))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/provision/rules/{name}")
                    .route(get().to(provision::get_rule))
                    .route(delete().to(provision::remove_rule))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/devices/{id}/provisioning")
                    .route(get().to(provision::device_status))
                    .route(delete().to(provision::reset_device))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/config/render")
                    .route(post().to(files::render_config))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/parameters")
                    .route(get().to(devices::bulk_parameters))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/tasks")
                    .route(get().to(tasks::list_tasks))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/tasks/{id}")
                    .route(get().to(tasks::get_task))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/tasks/{id}/cancel")
                    .route(post().to(tasks::cancel_task))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/tasks/{id}/retry")
                    .route(post().to(tasks::retry_task))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/faults")
                    .route(get().to(tasks::list_faults))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/faults/clear")
                    .route(post().to(tasks::clear_faults))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/faults/{task_id}")
                    .route(delete().to(tasks::clear_fault))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/jobs")
                    .route(get().to(jobs::list_jobs))
                    .route(post().to(jobs::create_job))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/jobs/{id}")
                    .route(get().to(jobs::get_job))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/jobs/{id}/tasks")
                    .route(get().to(jobs::job_tasks))
                    .default_service(web::to(wrong_method)),
            )
            .service(
                resource("/jobs/{id}/cancel")
                    .route(post().to(jobs::cancel_job))
                    .default_service(web::to(wrong_method)),
            )
            .default_service(web::to(no_route)),
    );
}

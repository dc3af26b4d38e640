//! The API's error type and the handlers that turn actix's own extractor failures into it.
//!
//! Every failure a client can see is `{"error": CODE, "message": TEXT}` (docs/NBI.md): scripts
//! branch on `error`, people read `message`. Nothing here echoes request headers, so a token can
//! never end up in an error body.

use acs_core::ops::OpsError;
use acs_core::storage::StoreError;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

/// The JSON body of every error response (defined with the other wire types in `acs-api`).
pub use acs_api::ErrorBody;

/// An API failure: a status, a stable code and a message.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    position: Option<usize>,
    challenge: Option<&'static str>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            position: None,
            challenge: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 400 `invalid_filter` with the column.
    pub fn invalid_filter(e: &acs_core::filter::FilterError) -> ApiError {
        ApiError {
            position: Some(e.position),
            ..ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_filter",
                format!("invalid filter: {e}"),
            )
        }
    }

    /// 401 with a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3): `invalid_token` tells a
    /// client that retrying with the same token is pointless.
    pub fn unauthorized(message: impl Into<String>, invalid_token: bool) -> ApiError {
        ApiError {
            challenge: Some(if invalid_token {
                "Bearer realm=\"acs\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"acs\""
            }),
            ..ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
        }
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 404 for a device id: names the id as given, with what to try.
    pub fn device_not_found(id: &str) -> ApiError {
        let hint = if id.contains("%25") {
            "it looks percent-encoded twice: a device id goes in the path encoded once \
             (`%2D` in the id is written `%252D`)"
        } else if !id.contains('-') {
            "a device id is `OUI-ProductClass-Serial` (as `GET /api/v1/devices` lists it); \
             to find one by serial number or MAC use `GET /api/v1/devices/resolve?name=`"
        } else {
            "device ids are listed by `GET /api/v1/devices`; \
             `GET /api/v1/devices/resolve?name=` finds one by serial number or MAC"
        };
        ApiError::not_found(format!("device `{id}` not found: {hint}"))
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413 `payload_too_large`.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
    }

    /// 503 `unavailable`.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 500 `internal`. The detail goes to the log, not to the client: it may name tables,
    /// SQL or file paths that are none of the caller's business.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "API request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error (see the server log)",
        )
    }

    /// The code, for tests and logs.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.code.to_owned(),
            message: self.message.clone(),
            position: self.position,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(challenge) = self.challenge {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        res.json(self.body())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            // The database (not the request) is the problem, and retrying later may work,
            // which is what 503 tells a client.
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "API request: database unavailable");
                ApiError::unavailable("database unavailable")
            }
            StoreError::InvalidInput(m) => ApiError::invalid(m),
            StoreError::DeviceNotFound(id) => ApiError::device_not_found(&id),
            StoreError::TaskNotFound(_) => ApiError::not_found(e.to_string()),
            StoreError::TaskStateConflict { .. } => ApiError::conflict(e.to_string()),
            other => ApiError::internal(other),
        }
    }
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> ApiError {
        match e {
            OpsError::NotFound { .. } => ApiError::not_found(e.to_string()),
            OpsError::Ambiguous { .. } => {
                ApiError::new(StatusCode::CONFLICT, "ambiguous", e.to_string())
            }
            OpsError::Conflict(m) => ApiError::conflict(m),
            OpsError::InvalidTask(_) | OpsError::Invalid(_) => ApiError::invalid(e.to_string()),
            OpsError::InvalidFilter(f) => ApiError::invalid_filter(&f),
            OpsError::Storage(s) => s.into(),
        }
    }
}

/// The stable code for a status, for responses that did not come from an [`ApiError`].
pub fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        503 => "unavailable",
        s if s >= 500 => "internal",
        _ => "invalid_request",
    }
}

/// `web::JsonConfig` error handler.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match &err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => {
            ApiError::too_large(format!("request body is larger than {limit} bytes"))
        }
        JsonPayloadError::ContentType => {
            ApiError::invalid("the request body must be JSON (Content-Type: application/json)")
        }
        JsonPayloadError::Deserialize(e) => ApiError::invalid(format!("invalid JSON body: {e}")),
        other => ApiError::invalid(format!("invalid request body: {other}")),
    }
    .into()
}

/// `web::QueryConfig` error handler.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let detail = match &err {
        QueryPayloadError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    ApiError::invalid(format!("invalid query string: {detail}")).into()
}

/// `web::PathConfig` error handler.
pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    let detail = match &err {
        PathError::Deserialize(e) => e.to_string(),
        other => other.to_string(),
    };
    ApiError::invalid(format!("invalid path: {detail}")).into()
}

//! Bearer tokens on `/api/v1`: a middleware authenticates every request, extractors authorize.
//!
//! Authentication sits in one middleware on the whole scope so a route cannot be added without
//! it; the role a route needs is declared in its handler's signature ([`Operator`], [`Admin`]),
//! where a reviewer sees it next to what the handler does. Plain reads need no extractor: every
//! token is at least a viewer.
//!
//! The token itself is never stored in the request, logged or echoed; only its name and role
//! travel on as [`Caller`].

use std::future::{Ready, ready};

use acs_core::ops::Operations;
use acs_core::storage::Role;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};

use super::error::ApiError;

/// Who is calling: the verified token's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name (recorded as a job's creator).
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// The token from `Authorization: Bearer <token>`. The scheme is case-insensitive (RFC 7235).
fn bearer(req: &ServiceRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn caller(req: &ServiceRequest) -> Result<Caller, ApiError> {
    let Some(token) = bearer(req) else {
        return Err(ApiError::unauthorized(
            "missing bearer token (Authorization: Bearer <token>)",
            false,
        ));
    };
    let ops = req
        .app_data::<web::Data<Operations>>()
        .ok_or_else(|| ApiError::internal("Operations not registered"))?;
    match ops.verify_token(token, chrono::Utc::now()).await? {
        Some(info) => Ok(Caller {
            name: info.name,
            role: info.role,
        }),
        None => {
            // Deliberately no token (not even its prefix) in the log line.
            tracing::info!(path = %req.path(), peer = ?req.peer_addr(), "API request with an unknown or revoked token");
            Err(ApiError::unauthorized("unknown or revoked token", true))
        }
    }
}

/// Middleware: 401 unless the request carries a valid token; the [`Caller`] is stored in the
/// request's extensions for the role extractors.
pub async fn authenticate<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    match caller(&req).await {
        Ok(c) => {
            req.extensions_mut().insert(c);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Err(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
    }
}

fn require(req: &HttpRequest, role: Role) -> Result<Caller, ApiError> {
    let caller = req
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::unauthorized("missing bearer token", false))?;
    if caller.role < role {
        return Err(ApiError::forbidden(format!(
            "this needs the {role} role; token `{}` is {}",
            caller.name, caller.role
        )));
    }
    Ok(caller)
}

/// Extractor: the caller has at least the operator role (403 otherwise).
#[derive(Debug, Clone)]
pub struct Operator(pub Caller);

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(require(req, Role::Operator).map(Operator))
    }
}

/// Extractor: the caller is an admin (403 otherwise).
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(require(req, Role::Admin).map(Admin))
    }
}

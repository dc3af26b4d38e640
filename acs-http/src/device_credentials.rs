//! The CWMP endpoint's side of per-device ACS credentials: authenticating the request that
//! opens a session, binding the credentials to the device the Inform names, and the rotation
//! that gives a bootstrapping device credentials of its own.
//!
//! Architecture invariant: a device's credentials authenticate only that device. An Inform
//! whose DeviceId does not match the authenticated username's device is refused with 401
//! before anything about it is stored.

use crate::cpe_auth::{Binding, Principal, Verdict};
use crate::cwmp::CwmpState;
use crate::metrics as m;
use acs_core::auth::CpeAuthMode;
use acs_core::cwmp::{self, Body, Envelope, EventCode};
use acs_core::storage::{self, CredentialOrigin};
use acs_core::tasks::TaskSpec;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use std::net::IpAddr;
use std::time::SystemTime;
use tracing::warn;

/// Authenticates the request that opens a session: who it is (`None` with authentication
/// off), or the response refusing it.
pub(crate) async fn authenticate(
    state: &CwmpState,
    req: &HttpRequest,
    ip: Option<IpAddr>,
) -> Result<Option<Principal>, HttpResponse> {
    let (Some(source), true) = (ip, state.auth.mode() != CpeAuthMode::None) else {
        return Ok(None);
    };
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match state
        .auth
        .verify("POST", authorization, source, SystemTime::now())
        .await
    {
        Verdict::Allowed(principal) => Ok(principal),
        Verdict::Refused(response, reason) => {
            if reason.counts_as_failure() {
                m::auth_failure();
                warn!(source = %source, ?reason, "CPE authentication failed");
            }
            Err(response)
        }
    }
}

/// Binds the authenticated principal to the device the opening Inform names (call before
/// anything is stored). `Ok(true)` when the device should get credentials of its own.
pub(crate) async fn bind_inform(
    state: &CwmpState,
    principal: Option<&Principal>,
    envelope: &Envelope,
    ip: Option<IpAddr>,
) -> Result<bool, HttpResponse> {
    let (Some(principal), Body::Inform(inform)) = (principal, &envelope.body) else {
        return Ok(false);
    };
    let device_id = inform.device_id.device_key();
    match state
        .auth
        .bind(
            principal,
            &device_id,
            is_bootstrap(inform),
            ip,
            SystemTime::now(),
        )
        .await
    {
        Binding::Bound { rotate } => Ok(rotate),
        Binding::Refused(response, why) => {
            m::auth_failure();
            warn!(
                source = ?ip,
                username = %principal.username,
                device = %device_id,
                why,
                "Inform refused: credentials not valid for this device"
            );
            Err(response)
        }
        Binding::Unavailable(response) => Err(response),
    }
}

fn is_bootstrap(inform: &cwmp::Inform) -> bool {
    inform
        .event
        .iter()
        .any(|e| e.event_code == EventCode::Bootstrap)
}

/// Queues random per-device ACS credentials for a device that bootstrapped with the shared
/// pair, unless such a task is already waiting. They are stored as pending before the task
/// (so a crash after the CPE applied them cannot lock it out), and the shared pair stops
/// working for the device only once the CPE has applied them ([`store_applied`], or its first
/// session with them).
pub(crate) async fn queue_management_server_credentials(
    state: &CwmpState,
    device_id: &str,
    root: String,
) -> Result<(), storage::StoreError> {
    const KIND: &str = "set_management_server_credentials";
    if state
        .store
        .unfinished_task_of_kind(device_id, KIND)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let (username, password) = acs_core::tasks::random_connection_request_credentials();
    state
        .store
        .set_device_credential(
            device_id,
            &username,
            &acs_core::secret::Secret::new(password.expose()),
            CredentialOrigin::Pending,
        )
        .await?;
    let spec = TaskSpec::SetManagementServerCredentials {
        root,
        username,
        password,
    };
    state
        .store
        .enqueue_task(&storage::NewTask::for_spec(device_id, &spec))
        .await?;
    Ok(())
}

/// Stores credentials a CPE has just applied (its SetParameterValuesResponse arrived): from now
/// on connection requests, or the device's own sessions, use them.
pub(crate) async fn store_applied(
    state: &CwmpState,
    device_id: &str,
    spec: &TaskSpec,
) -> Result<(), storage::StoreError> {
    match spec {
        TaskSpec::SetConnectionRequestCredentials {
            username, password, ..
        } => {
            state
                .store
                .set_connection_request_credentials(
                    device_id,
                    Some(username),
                    Some(password.expose()),
                )
                .await
        }
        TaskSpec::SetManagementServerCredentials {
            username, password, ..
        } => {
            state
                .store
                .set_device_credential(
                    device_id,
                    username,
                    &acs_core::secret::Secret::new(password.expose()),
                    CredentialOrigin::Acs,
                )
                .await
        }
        _ => Ok(()),
    }
}

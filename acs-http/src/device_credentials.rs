//! The CWMP endpoint's side of per-device ACS credentials: authenticating the request that
//! opens a session and binding the credentials to the device the Inform names. The rotation
//! that gives a bootstrapping device credentials of its own is the driver's
//! ([`acs_core::driver`]); this side only decides that it is due.
//!
//! Architecture invariant: a device's credentials authenticate only that device. An Inform
//! whose DeviceId does not match the authenticated username's device is refused with 401
//! before anything about it is stored.

use crate::cpe_auth::{Binding, CpeAuth, Principal, Verdict};
use crate::metrics as m;
use acs_core::auth::CpeAuthMode;
use acs_core::cwmp::{self, Body, Envelope, EventCode};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use std::net::IpAddr;
use std::time::SystemTime;
use tracing::warn;

/// Authenticates the request that opens a session: who it is (`None` with authentication
/// off), or the response refusing it.
pub(crate) async fn authenticate(
    auth: &CpeAuth,
    req: &HttpRequest,
    ip: Option<IpAddr>,
) -> Result<Option<Principal>, HttpResponse> {
    let (Some(source), true) = (ip, auth.mode() != CpeAuthMode::None) else {
        return Ok(None);
    };
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth
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
    auth: &CpeAuth,
    principal: Option<&Principal>,
    envelope: &Envelope,
    ip: Option<IpAddr>,
) -> Result<bool, HttpResponse> {
    let (Some(principal), Body::Inform(inform)) = (principal, &envelope.body) else {
        return Ok(false);
    };
    let device_id = inform.device_id.device_key();
    match auth
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

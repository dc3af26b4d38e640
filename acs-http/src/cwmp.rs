//! The CWMP endpoint: HTTP around [`acs_core::driver`]: cookies, the live-session registry,
//! CPE authentication, mapping the driver's outcomes to responses, and metrics. What a session
//! stores and sends is the driver's business; nothing here decides it.
//!
//! Architecture invariant: the response to a message is built only from what the driver
//! returned, and the driver returns only after storing what the response depends on.

use crate::cpe_auth::{CpeAuth, Principal};
use crate::device_credentials;
use crate::edge::{self, client_ip};
use crate::metrics as m;
use crate::registry::{Admission, Live, Registry, Slot};
use acs_core::cwmp::{self, Body, Envelope, SoapFault};
use acs_core::driver::{DriveError, Driver, InformContext, Next, OpenError, Turn};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{Instrument, debug, info, info_span, warn};

/// Name of the session cookie.
pub const COOKIE: &str = "acs_session";

/// How the endpoint behaves over HTTP (the session policy is the driver's).
#[derive(Debug, Clone)]
pub struct CwmpConfig {
    /// Idle time after which a session is dropped.
    pub session_timeout: Duration,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// How long a body may take to arrive once the headers are in.
    pub body_timeout: Duration,
    /// Events kept per device.
    pub event_retention: usize,
    /// Proxies (addresses or networks) whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<acs_core::config::IpNetwork>,
    /// Whether the listener is TLS (cookie `Secure`, Basic allowed).
    pub tls: bool,
}

impl From<&acs_core::config::Settings> for CwmpConfig {
    fn from(settings: &acs_core::config::Settings) -> CwmpConfig {
        CwmpConfig {
            session_timeout: settings.cwmp.session_timeout(),
            max_body_bytes: settings.cwmp.max_body_bytes,
            body_timeout: settings.cwmp.body_timeout(),
            event_retention: settings.database.event_retention as usize,
            trusted_proxies: settings.cwmp.trusted_proxies.clone(),
            tls: settings.cwmp.tls.is_some(),
        }
    }
}

impl Default for CwmpConfig {
    /// The zero-configuration endpoint: `Settings::default()` says what that is.
    fn default() -> Self {
        CwmpConfig::from(&acs_core::config::Settings::default())
    }
}

/// Shared state of the endpoint.
#[derive(Debug)]
pub struct CwmpState {
    /// The session engine.
    pub driver: Arc<Driver>,
    /// Operations (task notifications, jobs), for the runners and the tests.
    pub ops: Arc<acs_core::ops::Operations>,
    /// Live sessions.
    pub registry: Registry,
    /// CPE authentication.
    pub auth: Arc<CpeAuth>,
    /// Behaviour.
    pub config: CwmpConfig,
}

impl CwmpState {
    /// Loads the devices whose tasks a previous run left `sent` (call once at start).
    pub async fn load_orphans(&self) -> Result<usize, acs_core::storage::StoreError> {
        self.driver.load_orphans().await
    }
}

/// A failed request: the response to send, and whether the session (if any) must close.
struct Failure {
    response: HttpResponse,
    reason: &'static str,
}

fn cwmp_response(env: &Envelope) -> HttpResponse {
    match cwmp::encode(env) {
        Ok(xml) => HttpResponse::Ok()
            .content_type("text/xml; charset=\"utf-8\"")
            .body(xml),
        Err(e) => {
            // Only a bug can get here: everything we write comes from validated types.
            warn!(error = %e, "could not encode an outgoing message");
            HttpResponse::InternalServerError().body(format!("internal error: {e}\n"))
        }
    }
}

fn internal_error(what: &str) -> HttpResponse {
    HttpResponse::InternalServerError().body(format!("internal error {what}\n"))
}

fn fault_response(
    namespace: &cwmp::CwmpNamespace,
    id: Option<String>,
    fault: SoapFault,
) -> HttpResponse {
    cwmp_response(&Envelope::new(namespace.clone(), id, Body::Fault(fault)))
}

fn internal_fault(namespace: &cwmp::CwmpNamespace, id: Option<String>, what: &str) -> HttpResponse {
    let fault = SoapFault::new(cwmp::CwmpFault {
        fault_code: cwmp::FaultCode::AcsInternalError,
        fault_string: format!("internal error: {what}"),
        set_parameter_values_faults: vec![],
    });
    fault_response(namespace, id, fault)
}

fn cookie_value(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE).map(|c| c.value().to_owned())
}

fn session_cookie(id: &str, tls: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly{}",
        if tls { "; Secure" } else { "" }
    )
}

fn new_session_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the headers alone decided about a request.
enum Admit {
    /// Continue this session; `rebind` when the request proved itself on a new connection.
    Continue { slot: Slot, rebind: Option<String> },
    /// Open a session, as whoever the headers authenticated (`None` with authentication off).
    Open(Option<Principal>),
}

/// Checks the request's own `Authorization` (`Ok(None)` with authentication off). The refusal
/// is logged and counted like any failed authentication by [`device_credentials::authenticate`].
async fn authenticate(
    state: &CwmpState,
    req: &HttpRequest,
) -> Result<Option<Principal>, HttpResponse> {
    let Some(source) = client_ip(req, &state.config.trusted_proxies) else {
        return Err(HttpResponse::BadRequest().body("the client address is unknown\n"));
    };
    device_credentials::authenticate(&state.auth, req, Some(source)).await
}

/// Decides from the headers whether the request may touch a session, open one, or is refused.
/// A session named only by its cookie is neither locked nor touched here.
/// `Err` is the refusal, answered before the body is read.
async fn admit(
    state: &CwmpState,
    req: &HttpRequest,
    connection: Option<SocketAddr>,
) -> Result<Admit, HttpResponse> {
    let auth_on = state.auth.mode() != acs_core::auth::CpeAuthMode::None;
    match state
        .registry
        .find(cookie_value(req).as_deref(), connection)
    {
        Some(Admission::OnConnection(slot)) => Ok(Admit::Continue { slot, rebind: None }),
        Some(Admission::CookieOnly {
            slot,
            id,
            identity,
            source,
        }) => {
            // A CPE may reconnect mid-session; with authentication on it answers the challenge
            // on the new connection, as it did on the first one.
            let proved = if auth_on {
                match authenticate(state, req).await {
                    Ok(Some(p)) if identity.as_deref() == Some(p.username.as_str()) => true,
                    Ok(_) => {
                        warn!(session = %id, "session cookie presented with another identity's credentials");
                        return Err(HttpResponse::Forbidden()
                            .body("the session belongs to another identity\n"));
                    }
                    Err(challenge) => return Err(challenge),
                }
            } else {
                source.is_some() && client_ip(req, &state.config.trusted_proxies) == source
            };
            if !proved {
                warn!(session = %id, client = ?client_ip(req, &state.config.trusted_proxies), "session cookie presented from another address");
                return Err(HttpResponse::Forbidden()
                    .body("the session cookie was issued to another address\n"));
            }
            Ok(Admit::Continue {
                slot,
                rebind: Some(id),
            })
        }
        None if auth_on => authenticate(state, req).await.map(Admit::Open),
        None => Ok(Admit::Open(None)),
    }
}

/// POST handler for every path of the CWMP listener.
pub async fn endpoint(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<CwmpState>,
) -> HttpResponse {
    let state = state.into_inner();
    let connection = req.peer_addr();
    let timeout = state.config.body_timeout;
    let admitted = match admit(&state, &req, connection).await {
        Ok(admitted) => admitted,
        Err(response) => return edge::refuse_unread(&req, payload, timeout, response).await,
    };
    let body = match edge::read_body(&req, &mut payload, state.config.max_body_bytes, timeout).await
    {
        Ok(body) => body,
        Err(e) => {
            warn!(?connection, error = %e, "request body refused");
            return e.response(payload);
        }
    };
    match admitted {
        Admit::Continue { slot, rebind } => {
            if let Some(id) = rebind {
                // Proved to be the session's CPE: its new connection is admitted from now on.
                state.registry.touch_connection(&id, connection);
            }
            continue_session(&state, &req, slot, body, connection).await
        }
        Admit::Open(principal) => open_session(&state, &req, principal, body, connection).await,
    }
}

/// Opens a session for a request that was admitted to another one: it was not authenticated as
/// a session opener yet, so it is now.
async fn reopen(
    state: &Arc<CwmpState>,
    req: &HttpRequest,
    body: web::Bytes,
    connection: Option<SocketAddr>,
) -> HttpResponse {
    match authenticate(state, req).await {
        Ok(principal) => open_session(state, req, principal, body, connection).await,
        Err(refusal) => refusal,
    }
}

/// Opens a session for a request whose credentials `admit` has already verified (once: the
/// Inform path does not look the credentials up or check the Digest response twice).
async fn open_session(
    state: &Arc<CwmpState>,
    req: &HttpRequest,
    principal: Option<Principal>,
    body: web::Bytes,
    connection: Option<SocketAddr>,
) -> HttpResponse {
    let ip = client_ip(req, &state.config.trusted_proxies);
    let identity = principal.as_ref().map(|p| p.username.clone());
    if body.is_empty() {
        // An empty POST that belongs to no session: nothing to do (TR-069 would have the CPE
        // open with an Inform; some send a stray empty POST after a restart of ours).
        debug!(?connection, "empty POST outside a session");
        return HttpResponse::NoContent().finish();
    }
    let envelope = match cwmp::decode(&body) {
        Ok(env) => env,
        Err(e) => {
            m::session_failed("decode");
            warn!(?ip, error = %e, "undecodable message opening a session");
            if let Some(fault) = cwmp::decode_fault(&body, &e) {
                return cwmp_response(&fault);
            }
            return HttpResponse::BadRequest().body(format!("malformed CWMP message: {e}\n"));
        }
    };
    let namespace = envelope.namespace.clone();
    let request_id = envelope.header.id.clone();
    if envelope.body.is_response() {
        // An answer to a request of a session that no longer exists (superseded or expired).
        warn!(
            ?ip,
            method = envelope.body.element_name(),
            "response outside any session"
        );
        return HttpResponse::BadRequest().body(format!(
            "{} belongs to no live session; start one with an Inform\n",
            envelope.body.element_name()
        ));
    }
    // Before anything about the Inform is stored: the credentials must be this device's.
    let rotate_credentials =
        match device_credentials::bind_inform(&state.auth, principal.as_ref(), &envelope, ip).await
        {
            Ok(rotate) => rotate,
            Err(response) => return response,
        };
    let context = InformContext {
        source: ip,
        reached_at: reached_at(state, req),
        rotate_credentials,
    };
    let opened = match state.driver.on_inform(envelope, context).await {
        Ok(opened) => opened,
        Err(OpenError::Protocol(violation)) => {
            m::session_failed("protocol");
            warn!(?ip, %violation, "CPE broke the protocol opening a session");
            return match violation.fault() {
                Some(fault) => fault_response(&namespace, request_id, fault),
                None => HttpResponse::BadRequest().body(format!("{violation}\n")),
            };
        }
        Err(OpenError::NotStored(e)) => {
            m::session_failed("storage");
            warn!(?ip, error = %e, "could not store the Inform");
            return internal_fault(
                &namespace,
                request_id,
                "the Inform could not be stored; retry later",
            );
        }
    };
    let device_id = opened.session.device_id().to_owned();
    let session_id = new_session_id();
    let span = info_span!("cwmp_session", device = %device_id, session = %session_id);
    async move {
        for event in &opened.inform.event {
            m::inform_event(&event.event_code);
        }
        m::session_started();
        info!(
            events = %opened.inform.event.iter().map(|e| e.event_code.to_string()).collect::<Vec<_>>().join(","),
            version = %opened.session.protocol().version(),
            "session started"
        );
        let live = Live {
            id: session_id.clone(),
            session: opened.session,
            last_seen: Instant::now(),
            request_sent: None,
            connection,
            closed: false,
            identity,
            source: ip,
        };
        let (_slot, superseded) = state.registry.insert(live);
        if let Some(old) = superseded {
            let mut old = old.0.lock().await;
            info!(old_session = %old.id, "a new Inform supersedes the device's previous session");
            close(state, &mut old, "superseded").await;
        }
        let mut response = cwmp_response(&opened.reply);
        if let Ok(value) = header::HeaderValue::from_str(&session_cookie(&session_id, state.config.tls)) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        response
    }
    .instrument(span)
    .await
}

/// `scheme://host[:port]` the CPE reached us at, the base of download URLs when `[files]
/// base_url` is not set: an address the CPE can reach.
fn reached_at(state: &CwmpState, req: &HttpRequest) -> String {
    let info = req.connection_info();
    // TLS ends below actix-web on this listener (see cwmp_service), so the app cannot see it;
    // the configuration can.
    let scheme = if state.config.tls {
        "https"
    } else {
        info.scheme()
    };
    format!("{scheme}://{}", info.host())
}

async fn continue_session(
    state: &Arc<CwmpState>,
    req: &HttpRequest,
    slot: Slot,
    body: web::Bytes,
    connection: Option<SocketAddr>,
) -> HttpResponse {
    let mut live = slot.lock().await;
    if live.closed {
        drop(live);
        // Superseded or expired while this request waited: treat it as sessionless.
        return reopen(state, req, body, connection).await;
    }
    let span = info_span!("cwmp_session", device = %live.session.device_id(), session = %live.id);
    async {
        live.last_seen = Instant::now();
        if live.connection != connection {
            live.connection = connection;
            state.registry.touch_connection(&live.id, connection);
        }
        let message = if body.is_empty() {
            None
        } else {
            match cwmp::decode(&body) {
                Ok(env) => Some(env),
                Err(e) => {
                    warn!(error = %e, "undecodable message in a session");
                    let response = match cwmp::decode_fault(&body, &e) {
                        Some(fault) => cwmp_response(&fault),
                        None => HttpResponse::BadRequest()
                            .body(format!("malformed CWMP message: {e}\n")),
                    };
                    return fail(
                        state,
                        &mut live,
                        Failure {
                            response,
                            reason: "decode",
                        },
                    )
                    .await;
                }
            }
        };
        if let Some(env) = &message
            && let Body::Inform(inform) = &env.body
        {
            // An Inform from another device found this session only through the TCP
            // connection (a proxy in front of the ACS pools connections across CPEs): that
            // session is not abandoned, the other device just gets its own.
            if inform.device_id.device_key() == live.session.device_id() {
                // The CPE started over on the same connection: the old session is abandoned.
                drop_session(state, &mut live, "new Inform").await;
            }
            drop(live);
            return reopen(state, req, body, connection).await;
        }
        let request_id = message.as_ref().and_then(|e| e.header.id.clone());
        let turn = state.driver.on_message(&mut live.session, message).await;
        match turn {
            Ok(Turn::Answer(reply)) => cwmp_response(&reply),
            Ok(Turn::Next { completed, next }) => {
                if let (Some(method), Some(sent)) = (completed, live.request_sent.take()) {
                    m::rpc_round_trip(method, sent.elapsed());
                }
                match next {
                    Next::Send(outgoing) => {
                        live.request_sent = Some(Instant::now());
                        HttpResponse::Ok()
                            .content_type("text/xml; charset=\"utf-8\"")
                            .body(outgoing.xml)
                    }
                    Next::Finish => {
                        finish(state, &mut live, "completed").await;
                        HttpResponse::NoContent().finish()
                    }
                }
            }
            Err(DriveError::Protocol(violation)) => {
                warn!(%violation, "CPE broke the protocol");
                let namespace = live.session.protocol().namespace().clone();
                let response = match violation.fault() {
                    Some(fault) => fault_response(&namespace, request_id, fault),
                    None => HttpResponse::BadRequest().body(format!("{violation}\n")),
                };
                fail(
                    state,
                    &mut live,
                    Failure {
                        response,
                        reason: "protocol",
                    },
                )
                .await
            }
            Err(DriveError::CpeRequestNotStored(e)) => {
                warn!(error = %e, "could not store a CPE request");
                let namespace = live.session.protocol().namespace().clone();
                let response = internal_fault(
                    &namespace,
                    request_id,
                    "the request could not be stored; retry later",
                );
                fail(
                    state,
                    &mut live,
                    Failure {
                        response,
                        reason: "storage",
                    },
                )
                .await
            }
            Err(DriveError::Storage { during, source }) => {
                warn!(error = %source, during, "storage failed in a session");
                let response = internal_error(during);
                fail(
                    state,
                    &mut live,
                    Failure {
                        response,
                        reason: "storage",
                    },
                )
                .await
            }
        }
    }
    .instrument(span)
    .await
}

/// Ends a session after a failure: requeue its outstanding task, forget it, respond.
async fn fail(state: &Arc<CwmpState>, live: &mut Live, failure: Failure) -> HttpResponse {
    m::session_failed(failure.reason);
    drop_session(state, live, failure.reason).await;
    failure.response
}

/// Closes a session that did not complete: its outstanding task goes back to the queue.
async fn drop_session(state: &Arc<CwmpState>, live: &mut Live, why: &str) {
    if let Err(e) = state.driver.abandon(&mut live.session).await {
        warn!(error = %e, "could not requeue the outstanding task");
    }
    info!(reason = why, "session closed");
    live.closed = true;
    state.registry.remove(&live.id, live.session.device_id());
    m::active_sessions(state.registry.len());
}

async fn finish(state: &Arc<CwmpState>, live: &mut Live, why: &str) {
    m::session_completed();
    info!(reason = why, "session ended");
    live.closed = true;
    state.registry.remove(&live.id, live.session.device_id());
    m::active_sessions(state.registry.len());
}

/// Closes a live session from outside a request (superseded or expired).
pub(crate) async fn close(state: &Arc<CwmpState>, live: &mut Live, why: &'static str) {
    m::session_failed(why);
    drop_session(state, live, why).await;
}

/// Drops every session idle at `now` for longer than the configured timeout; returns how many.
/// Driven by a periodic task in production and called directly by tests.
pub async fn expire_idle(state: &Arc<CwmpState>, now: Instant) -> usize {
    let mut expired = 0;
    for slot in state.registry.slots() {
        // A session busy with a request is not idle.
        let Ok(mut live) = slot.try_lock() else {
            continue;
        };
        if !live.closed && Registry::is_idle(&live, now, state.config.session_timeout) {
            let span =
                info_span!("cwmp_session", device = %live.session.device_id(), session = %live.id);
            close(state, &mut live, "expired").instrument(span).await;
            expired += 1;
        }
    }
    expired
}

//! The CWMP endpoint: drives `acs_core::session` with HTTP and storage.
//!
//! Architecture invariant: every state change is stored before the HTTP response that depends
//! on it is sent — the Inform before its InformResponse, a CPE request before its answer, a
//! task's `sent` state before the request, a task's result before the next request or the 204.

use crate::cpe_auth::{CpeAuth, Principal};
use crate::device_credentials;
use crate::edge;
use crate::metrics as m;
use crate::registry::{Admission, Live, Registry, Slot};
use acs_core::cwmp::{self, Body, Envelope, EventCode, SoapFault};
use acs_core::session::{Completion, Session, SessionConfig, Step};
use acs_core::storage::{self, Store, TaskRow};
use acs_core::tasks::{Payload, TaskSpec};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{Instrument, debug, info, info_span, warn};

/// In a Download's FileType, replaced by the device's OUI when the request is sent.
pub const OUI_PLACEHOLDER: &str = "{oui}";

/// Name of the session cookie.
pub const COOKIE: &str = "acs_session";

/// How the endpoint behaves.
#[derive(Debug, Clone)]
pub struct CwmpConfig {
    /// Session policy (version, HoldRequests).
    pub session: SessionConfig,
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
    /// Give every bootstrapping device fresh connection-request credentials.
    pub provision_cr_credentials: bool,
    /// What to read from a bootstrapping device.
    pub bootstrap: acs_core::truth::bootstrap::BootstrapSettings,
}

impl From<&acs_core::config::Settings> for CwmpConfig {
    fn from(settings: &acs_core::config::Settings) -> CwmpConfig {
        CwmpConfig {
            session: SessionConfig {
                hold_requests: settings.cwmp.hold_requests,
                ..SessionConfig::default()
            },
            session_timeout: settings.cwmp.session_timeout(),
            max_body_bytes: settings.cwmp.max_body_bytes,
            body_timeout: settings.cwmp.body_timeout(),
            event_retention: settings.database.event_retention as usize,
            trusted_proxies: settings.cwmp.trusted_proxies.clone(),
            tls: settings.cwmp.tls.is_some(),
            provision_cr_credentials: settings.cwmp.provision_connection_request_credentials,
            bootstrap: settings.bootstrap.clone(),
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
    /// Operations (task notifications, connection-request pacing).
    pub ops: Arc<acs_core::ops::Operations>,
    /// Storage.
    pub store: Store,
    /// Group-committing Inform writer.
    pub informs: storage::InformWriter,
    /// Live sessions.
    pub registry: Registry,
    /// CPE authentication.
    pub auth: CpeAuth,
    /// Behaviour.
    pub config: CwmpConfig,
    /// Devices with tasks left `sent` by a previous run, resolved at their next Inform.
    pub orphans: std::sync::Mutex<std::collections::HashSet<String>>,
    /// The file server, for token URLs of Downloads of stored files.
    pub files: Arc<crate::files::FileServer>,
    /// Zero-touch provisioning rules, applied at each Inform.
    pub provisioner: Arc<acs_core::provision::Provisioner>,
}

impl CwmpState {
    /// Loads the devices whose tasks a previous run left `sent` (call once at start).
    pub async fn load_orphans(&self) -> Result<usize, storage::StoreError> {
        let devices = self.store.devices_with_sent_tasks().await?;
        let n = devices.len();
        self.orphans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(devices);
        Ok(n)
    }

    fn take_orphan(&self, device_id: &str) -> bool {
        self.orphans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(device_id)
    }
}

/// Resolves a device's tasks left `sent` by a crash, from its Inform: what ran is done and never
/// sent again, the rest goes back to the queue.
async fn recover_orphans(
    state: &CwmpState,
    device_id: &str,
    inform: &cwmp::Inform,
) -> Result<(), storage::StoreError> {
    let now = Utc::now();
    for task in state.store.sent_tasks_for_device(device_id).await? {
        let payload = Payload::parse(&task.payload);
        match payload.map(|p| p.recover(task.id, inform)) {
            Ok(acs_core::tasks::Recovery::Ran(note)) => {
                let result =
                    serde_json::json!({ "recovered": note, "confirmed_at": now.to_rfc3339() });
                state.store.complete_task(task.id, &result, now).await?;
                state.ops.task_changed(task.id);
                info!(task = task.id, note, "task resolved after a restart");
            }
            _ => {
                state.store.requeue_task(task.id).await?;
                info!(task = task.id, "task requeued after a restart");
            }
        }
    }
    Ok(())
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

/// The client's address: the peer, or the last X-Forwarded-For hop when the peer is a trusted
/// proxy.
pub(crate) fn client_ip(
    req: &HttpRequest,
    trusted: &[acs_core::config::IpNetwork],
) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = req.peer_addr()?.ip();
    if !is_trusted(peer) {
        return Some(peer);
    }
    // The rightmost hop that is not one of our proxies is the client; hops further left were
    // written by the client itself and prove nothing.
    req.headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.rsplit(',')
                .map(str::trim)
                .find_map(|h| h.parse::<IpAddr>().ok().filter(|ip| !is_trusted(*ip)))
        })
        .or(Some(peer))
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
    device_credentials::authenticate(state, req, Some(source)).await
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
        match device_credentials::bind_inform(state, principal.as_ref(), &envelope, ip).await {
            Ok(rotate) => rotate,
            Err(response) => return response,
        };
    let has_work = if state.config.session.hold_requests {
        match &envelope.body {
            Body::Inform(i) => state
                .store
                .next_queued_task(&i.device_id.device_key(), Utc::now())
                .await
                .ok()
                .flatten()
                .is_some(),
            _ => false,
        }
    } else {
        false
    };
    let begun = match Session::begin(envelope, &state.config.session, has_work) {
        Ok(b) => b,
        Err(violation) => {
            m::session_failed("protocol");
            warn!(?ip, %violation, "CPE broke the protocol opening a session");
            return match violation.fault() {
                Some(fault) => fault_response(&namespace, request_id, fault),
                None => HttpResponse::BadRequest().body(format!("{violation}\n")),
            };
        }
    };
    let device_id = begun.session.device_key().to_owned();
    let session_id = new_session_id();
    let span = info_span!("cwmp_session", device = %device_id, session = %session_id);
    async move {
        let received_at = Utc::now();
        let record = storage::InformRecord::from_inform(&begun.inform, &device_id, ip, &namespace, received_at);
        if let Err(e) = state.informs.record(record).await {
            m::session_failed("storage");
            warn!(error = %e, "could not store the Inform");
            return internal_fault(&namespace, request_id, "the Inform could not be stored; retry later");
        }
        // The device is talking to us: connection requests for it may go out again.
        state.ops.session_started(&device_id);
        for event in &begun.inform.event {
            m::inform_event(&event.event_code);
        }
        if state.take_orphan(&device_id)
            && let Err(e) = recover_orphans(state, &device_id, &begun.inform).await
        {
            warn!(error = %e, "could not resolve tasks left by a previous run");
        }
        if state.config.provision_cr_credentials
            && begun.inform.event.iter().any(|e| e.event_code == EventCode::Bootstrap)
            && let Err(e) = queue_cr_credentials(state, &device_id, &begun.inform).await
        {
            warn!(error = %e, "could not queue connection-request credentials");
        }
        if rotate_credentials
            && let Err(e) = device_credentials::queue_management_server_credentials(
                state,
                &device_id,
                data_model_root(&begun.inform),
            )
            .await
        {
            warn!(error = %e, "could not queue the device's own ACS credentials");
        }
        if begun.inform.event.iter().any(|e| e.event_code == EventCode::Bootstrap)
            && let Err(e) = state
                .config
                .bootstrap
                .queue(&state.store, &device_id, &begun.inform.device_id.product_class, &data_model_root(&begun.inform))
                .await
        {
            warn!(error = %e, "could not queue the bootstrap read");
        }
        // After the credentials above and before any task is served, so this session already
        // carries what the rules want (in rule order).
        match state
            .provisioner
            .on_inform(&device_id, &begun.inform.event.iter().map(|e| e.event_code.clone()).collect::<Vec<_>>(), &data_model_root(&begun.inform))
            .await
        {
            Ok(queued) => {
                for q in &queued {
                    info!(rule = %q.rule, item = q.item.as_str(), task = q.task.id, "provisioning queued a task");
                }
            }
            Err(e) => warn!(error = %e, "provisioning rules could not be applied"),
        }
        let reports_completion = begun
            .inform
            .event
            .iter()
            .any(|e| matches!(e.event_code, EventCode::Method(_) | EventCode::Bootstrap));
        if reports_completion
            && let Err(e) = confirm_by_events(state, &device_id, &begun.inform).await
        {
            warn!(error = %e, "could not record task confirmations");
        }
        m::session_started();
        info!(
            events = %begun.inform.event.iter().map(|e| e.event_code.to_string()).collect::<Vec<_>>().join(","),
            version = %begun.session.version(),
            "session started"
        );
        let live = Live {
            id: session_id.clone(),
            session: begun.session,
            device_id: device_id.clone(),
            last_seen: Instant::now(),
            request_sent: None,
            connection,
            closed: false,
            retry_later: Default::default(),
            identity,
            source: ip,
            base_url: {
                let info = req.connection_info();
                // TLS ends below actix-web on this listener (see cwmp_service), so the app
                // cannot see it; the configuration can.
                let scheme = if state.config.tls {
                    "https"
                } else {
                    info.scheme()
                };
                format!("{scheme}://{}", info.host())
            },
        };
        let (_slot, superseded) = state.registry.insert(live);
        if let Some(old) = superseded {
            let mut old = old.0.lock().await;
            info!(old_session = %old.id, "a new Inform supersedes the device's previous session");
            close(state, &mut old, "superseded").await;
        }
        let mut response = cwmp_response(&begun.reply);
        if let Ok(value) = header::HeaderValue::from_str(&session_cookie(&session_id, state.config.tls)) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        response
    }
    .instrument(span)
    .await
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
    let span = info_span!("cwmp_session", device = %live.device_id, session = %live.id);
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
                        None => HttpResponse::BadRequest().body(format!("malformed CWMP message: {e}\n")),
                    };
                    return fail(state, &mut live, Failure { response, reason: "decode" }).await;
                }
            }
        };
        if let Some(env) = &message
            && let Body::Inform(inform) = &env.body {
                // An Inform from another device found this session only through the TCP
                // connection (a proxy in front of the ACS pools connections across CPEs): that
                // session is not abandoned, the other device just gets its own.
                if inform.device_id.device_key() == live.device_id {
                    // The CPE started over on the same connection: the old session is abandoned.
                    drop_session(state, &mut live, "new Inform").await;
                }
                drop(live);
                return reopen(state, req, body, connection).await;
            }
        let request_id = message.as_ref().and_then(|e| e.header.id.clone());
        let step = match live.session.handle(message) {
            Ok(step) => step,
            Err(violation) => {
                warn!(%violation, "CPE broke the protocol");
                let namespace = live.session.namespace().clone();
                let response = match violation.fault() {
                    Some(fault) => fault_response(&namespace, request_id, fault),
                    None => HttpResponse::BadRequest().body(format!("{violation}\n")),
                };
                return fail(state, &mut live, Failure { response, reason: "protocol" }).await;
            }
        };
        match step {
            Step::CpeRequest { request, reply } => {
                if let Err(e) = store_cpe_request(state, &live.device_id, &request).await {
                    warn!(error = %e, method = request.element_name(), "could not store a CPE request");
                    let namespace = live.session.namespace().clone();
                    let response = internal_fault(&namespace, request_id, "the request could not be stored; retry later");
                    return fail(state, &mut live, Failure { response, reason: "storage" }).await;
                }
                cwmp_response(&reply)
            }
            Step::Ready { completed } => {
                if let Some(done) = completed {
                    if let Some(sent) = live.request_sent.take() {
                        m::rpc_round_trip(done.method, sent.elapsed());
                    }
                    match store_completion(state, &live.device_id, &done).await {
                        Ok(true) => {
                            live.retry_later.insert(done.task_id);
                        }
                        Ok(false) => {}
                        Err(e) => {
                            warn!(error = %e, task = done.task_id, "could not store a task result");
                            return storage_failure(state, &mut live, "storing a result").await;
                        }
                    }
                }
                next_request(state, &mut live).await
            }
        }
    }
    .instrument(span)
    .await
}

/// Sends the device's next queued task, or ends the session with 204.
async fn next_request(state: &Arc<CwmpState>, live: &mut Live) -> HttpResponse {
    loop {
        let now = Utc::now();
        let task = match state.store.next_queued_task(&live.device_id, now).await {
            // The queue is in order per device: a task waiting for a retry holds the ones
            // behind it until the next session.
            Ok(Some(task)) if !live.retry_later.contains(&task.id) => task,
            Ok(_) => {
                live.session.finish();
                finish(state, live, "completed").await;
                return HttpResponse::NoContent().finish();
            }
            Err(e) => {
                warn!(error = %e, "could not read the task queue");
                return storage_failure(state, live, "reading the queue").await;
            }
        };
        // Everything that can make a task unsendable is checked before it is marked sent: a
        // payload that is no CWMP request, a method the CPE's version lacks, or a request the
        // schema forbids (say, "often" as an unsignedInt). Such a task fails without ever
        // reaching the CPE.
        let cwmp_id = task.next_cwmp_id();
        let body = match request_body(state, &task, live).await {
            Ok(body) => body,
            Err(e) => {
                warn!(error = %e, task = task.id, "could not read the task's file");
                return storage_failure(state, live, "reading a file").await;
            }
        };
        let ready = body.and_then(|body| {
            let prepared = live
                .session
                .prepare(task.id, cwmp_id, body)
                .ok_or_else(|| "the session is not in the ACS's turn".to_owned())?;
            let xml = cwmp::encode(&prepared.envelope)
                .map_err(|e| format!("cannot be written as CWMP: {e}"))?;
            Ok((prepared, xml))
        });
        let (prepared, xml) = match ready {
            Ok(ready) => ready,
            Err(reason) => {
                warn!(task = task.id, %reason, "task cannot be sent");
                let code = cwmp::FaultCode::AcsInvalidArguments.code() as i32;
                if let Err(e) = state
                    .store
                    .fail_unsent_task(task.id, code, &reason, now)
                    .await
                {
                    warn!(error = %e, task = task.id, "could not record the task's failure");
                    return storage_failure(state, live, "updating the queue").await;
                }
                state.ops.task_changed(task.id);
                continue;
            }
        };
        match state
            .store
            .mark_task_sent(task.id, &prepared.cwmp_id, now)
            .await
        {
            Ok(_) => {}
            // Another session of the same device got it first (it superseded ours).
            Err(storage::StoreError::TaskStateConflict { .. }) => continue,
            Err(e) => {
                warn!(error = %e, task = task.id, "could not mark the task sent");
                return storage_failure(state, live, "updating the queue").await;
            }
        }
        live.session.commit(&prepared);
        debug!(task = task.id, method = prepared.method, "request sent");
        live.request_sent = Some(Instant::now());
        return HttpResponse::Ok()
            .content_type("text/xml; charset=\"utf-8\"")
            .body(xml);
    }
}

/// How long a token URL handed out in a Download stays valid: long enough for a CPE that
/// delays or retries its transfer.
const DOWNLOAD_TOKEN_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The request a task stands for; one this session cannot carry is the task's fault, not the
/// session's (the inner `Err`). The outer `Err` is a storage failure.
async fn request_body(
    state: &CwmpState,
    task: &TaskRow,
    live: &Live,
) -> Result<Result<Body, String>, storage::StoreError> {
    let opened = match state.store.open_payload(&task.payload) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let payload = match Payload::parse(&opened) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    // Values the caller gave no type get one now, for this device; stored before sending.
    let payload =
        acs_core::truth::types::settle(&state.store, &live.device_id, task.id, payload).await?;
    let mut body = match payload.request(task.id) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    if let (
        Payload::Task(acs_core::tasks::QueuedTask {
            spec:
                acs_core::tasks::TaskSpec::Download {
                    file_id: Some(file_id),
                    ..
                },
            ..
        }),
        Body::Download(download),
    ) = (&payload, &mut body)
    {
        // A stored file: resolved now, not at creation, so the URL carries a fresh token for
        // this device and task, and a file deleted meanwhile fails the task unsent.
        let Some(file) = state.store.get_file(*file_id).await? else {
            return Ok(Err(format!(
                "file {file_id} no longer exists (deleted after the task was created)"
            )));
        };
        if download.file_size == 0 {
            download.file_size = u32::try_from(file.size).unwrap_or(0);
        }
        if download.target_file_name.is_empty() {
            download.target_file_name = file.name.clone();
        }
        let base = state
            .files
            .base_url()
            .unwrap_or_else(|| live.base_url.clone());
        download.url = format!(
            "{}{}",
            base.trim_end_matches('/'),
            state
                .files
                .download_path(&live.device_id, Some(task.id), &file, DOWNLOAD_TOKEN_TTL)
        );
    }
    // Vendor file types (`X <OUI> <name>`, TR-069 A.3.2.8) name the device's own OUI; a task
    // for many devices of several OUIs writes `{oui}` and gets each device's here.
    if let Body::Download(download) = &mut body
        && download.file_type.contains(OUI_PLACEHOLDER)
    {
        let oui = match state.store.get_device(&live.device_id).await? {
            Some(d) => d.oui_normalized,
            None => return Ok(Err("the device is no longer stored".into())),
        };
        download.file_type = download.file_type.replace(OUI_PLACEHOLDER, &oui);
    }
    let session = &live.session;
    if !session.supports(&body) {
        return Ok(Err(format!(
            "{} needs CWMP {}, the CPE speaks {}",
            body.element_name(),
            body.min_version(),
            session.version()
        )));
    }
    Ok(Ok(body))
}

async fn store_cpe_request(
    state: &CwmpState,
    device_id: &str,
    request: &Body,
) -> Result<(), storage::StoreError> {
    let now = Utc::now();
    match request {
        Body::TransferComplete(tc) => {
            let code = tc.fault_struct.fault_code.code() as i32;
            state
                .store
                .record_transfer_complete(
                    device_id,
                    &tc.command_key,
                    code,
                    &tc.fault_struct.fault_string,
                    now,
                )
                .await?;
            // A transfer this ACS asked for names its task in the CommandKey.
            if let Some(task_id) = acs_core::tasks::task_id_of_command_key(&tc.command_key) {
                let transfer = serde_json::json!({
                    "fault_code": code,
                    "fault_string": tc.fault_struct.fault_string,
                    "meaning": tc.fault_struct.fault_code.meaning(),
                    "start_time": tc.start_time.as_str(),
                    "complete_time": tc.complete_time.as_str(),
                });
                let fault = (!tc.fault_struct.is_success())
                    .then_some((code, tc.fault_struct.fault_string.as_str()));
                if state
                    .store
                    .record_task_transfer(device_id, task_id, transfer, fault, now)
                    .await?
                {
                    state.ops.task_changed(task_id);
                }
            }
            Ok(())
        }
        Body::AutonomousTransferComplete(atc) => {
            // No task asked for it, so no task can end in fault: the device's event log says
            // what happened, failure and meaning included.
            let fault = &atc.fault_struct;
            let code = if fault.is_success() {
                format!("AutonomousTransferComplete {}", atc.file_type)
            } else {
                format!(
                    "AutonomousTransferComplete fault {}: {} ({}; {})",
                    fault.fault_code.code(),
                    fault.fault_string,
                    fault.fault_code.meaning(),
                    atc.file_type
                )
            };
            state.store.append_event(device_id, &code, None, now).await
        }
        Body::RequestDownload(_)
        | Body::Kicked(_)
        | Body::DuStateChangeComplete(_)
        | Body::AutonomousDuStateChangeComplete(_) => {
            state
                .store
                .append_event(
                    device_id,
                    &format!("CPE {}", request.element_name()),
                    None,
                    now,
                )
                .await
        }
        _ => Ok(()),
    }
}

/// Stores an ACS request's outcome. `Ok(true)` when the task went back to the queue for a
/// later session (a fault worth retrying).
async fn store_completion(
    state: &CwmpState,
    device_id: &str,
    done: &Completion,
) -> Result<bool, storage::StoreError> {
    let now = Utc::now();
    match &done.result {
        Ok(body) => {
            let json = serde_json::to_value(body).unwrap_or(serde_json::Value::Null);
            let payload = match state.store.get_task(done.task_id).await? {
                Some(task) => Payload::parse(&state.store.open_payload(&task.payload)?).ok(),
                None => None,
            };
            // What the device now has is stored before the task says done (or takes its next
            // step), so whoever sees the result sees the tree it produced.
            let request = payload.as_ref().and_then(|p| p.request(done.task_id).ok());
            acs_core::truth::record::record_completion(
                &state.store,
                device_id,
                request.as_ref(),
                body,
                now,
            )
            .await?;
            if let Some(Payload::Task(task)) = &payload {
                // Applied: credentials the ACS set are stored now, and used from now on.
                device_credentials::store_applied(state, device_id, &task.spec).await?;
            }
            let next = payload.and_then(|p| p.next_step(body));
            match next {
                // A multi-step task goes back to the queue for its next RPC, in this session.
                Some(payload) => state
                    .store
                    .advance_task(done.task_id, &payload, &json)
                    .await
                    .map(|_| ())?,
                None => state
                    .store
                    .complete_task(done.task_id, &json, now)
                    .await
                    .map(|_| ())?,
            }
        }
        Err(fault) => {
            let detail = serde_json::to_value(&fault.detail).ok();
            let code = fault.detail.fault_code;
            let (number, text) = (code.code() as i32, fault.detail.fault_string.as_str());
            if code.is_retryable() {
                // Worth another try in a later session; the fault stays on record.
                let task = state
                    .store
                    .retry_task(done.task_id, number, text, detail.as_ref(), now)
                    .await?;
                state.ops.task_changed(done.task_id);
                return Ok(task.state == storage::TaskState::Queued);
            }
            state
                .store
                .fault_task(done.task_id, number, text, detail.as_ref(), now)
                .await?;
        }
    }
    // Stored: whoever waits for this task may look now.
    state.ops.task_changed(done.task_id);
    Ok(false)
}

/// The device's data-model root (`Device.` or `InternetGatewayDevice.`), from its Inform.
fn data_model_root(inform: &cwmp::Inform) -> String {
    inform
        .parameter_list
        .iter()
        .find_map(|p| p.name.split_once('.').map(|(root, _)| format!("{root}.")))
        .unwrap_or_else(|| "Device.".to_owned())
}

/// Queues fresh connection-request credentials for a device that has just bootstrapped (it
/// forgot whatever the ACS set before); they are stored when the CPE has applied them.
async fn queue_cr_credentials(
    state: &CwmpState,
    device_id: &str,
    inform: &cwmp::Inform,
) -> Result<(), storage::StoreError> {
    let root = data_model_root(inform);
    let (username, password) = acs_core::tasks::random_connection_request_credentials();
    let spec = TaskSpec::SetConnectionRequestCredentials {
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

/// Confirms tasks by what an Inform reports: `M Reboot`/`M ScheduleInform` with a CommandKey
/// this ACS generated, and `0 BOOTSTRAP` after a FactoryReset.
async fn confirm_by_events(
    state: &CwmpState,
    device_id: &str,
    inform: &cwmp::Inform,
) -> Result<(), storage::StoreError> {
    let now = Utc::now();
    let mut ids: Vec<i64> = inform
        .event
        .iter()
        .filter(|e| {
            acs_core::tasks::CONFIRMING_EVENTS
                .iter()
                .any(|m| e.event_code.is_method(m))
        })
        .filter_map(|e| acs_core::tasks::task_id_of_command_key(&e.command_key))
        .collect();
    if inform
        .event
        .iter()
        .any(|e| e.event_code == EventCode::Bootstrap)
    {
        ids.extend(
            state
                .store
                .unconfirmed_tasks(device_id, "factory_reset")
                .await?,
        );
    }
    if !ids.is_empty() {
        let confirmed = state.store.confirm_tasks(device_id, &ids, now).await?;
        if !confirmed.is_empty() {
            info!(tasks = ?confirmed, "tasks confirmed by the Inform");
        }
    }
    Ok(())
}

/// Ends a session after a failure: requeue its outstanding task, forget it, respond.
async fn fail(state: &Arc<CwmpState>, live: &mut Live, failure: Failure) -> HttpResponse {
    m::session_failed(failure.reason);
    drop_session(state, live, failure.reason).await;
    failure.response
}

/// Ends a session after a storage error: the CPE gets a 500 naming what failed and retries.
async fn storage_failure(state: &Arc<CwmpState>, live: &mut Live, what: &str) -> HttpResponse {
    fail(
        state,
        live,
        Failure {
            response: internal_error(what),
            reason: "storage",
        },
    )
    .await
}

/// Closes a session that did not complete: its outstanding task goes back to the queue.
async fn drop_session(state: &Arc<CwmpState>, live: &mut Live, why: &str) {
    if let Some(task) = live.session.outstanding_task() {
        match state.store.requeue_task(task).await {
            Ok(_) => state.ops.task_changed(task),
            Err(e) => warn!(error = %e, task, "could not requeue the outstanding task"),
        }
    }
    info!(reason = why, "session closed");
    live.closed = true;
    state.registry.remove(&live.id, &live.device_id);
    m::active_sessions(state.registry.len());
}

async fn finish(state: &Arc<CwmpState>, live: &mut Live, why: &str) {
    m::session_completed();
    info!(reason = why, "session ended");
    live.closed = true;
    state.registry.remove(&live.id, &live.device_id);
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
            let span = info_span!("cwmp_session", device = %live.device_id, session = %live.id);
            close(state, &mut live, "expired").instrument(span).await;
            expired += 1;
        }
    }
    expired
}

/// Events that matter for metrics labels; the rest are grouped.
pub(crate) fn event_label(code: &EventCode) -> String {
    match code {
        EventCode::Method(m) => format!("M {m}"),
        EventCode::Vendor(_) => "X".to_owned(),
        EventCode::Unknown(_) => "unknown".to_owned(),
        other => other.to_string(),
    }
}

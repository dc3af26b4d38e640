//! One CWMP session over HTTP, the CPE side: Inform, the device's own requests, then the ACS's
//! requests until it ends the session.

use std::time::{Duration, Instant};

use acs_core::auth::client::digest_authorization;
use acs_core::cwmp::{
    Body, CwmpDateTime, CwmpFault, Envelope, EventStruct, Inform, TransferComplete, decode, encode,
};
use base64::Engine as _;
use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue, SET_COOKIE,
    USER_AGENT, WWW_AUTHENTICATE,
};

use super::Shared;
use super::device::DeviceSlot;
use super::rpc::{self, Action};

/// More HTTP exchanges than this in one session means a loop: the session fails.
const MAX_EXCHANGES: usize = 10_000;

/// What happened in one session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionReport {
    /// The device's index.
    pub device_index: usize,
    /// The device's serial number.
    pub serial: String,
    /// The Inform's events.
    pub events: Vec<EventStruct>,
    /// The Inform's RetryCount.
    pub retry_count: u32,
    /// Every HTTP status received, in order (401 challenges included).
    pub http_statuses: Vec<u16>,
    /// Whether an InformResponse arrived (the session started).
    pub inform_accepted: bool,
    /// Whether the InformResponse carried HoldRequests=true.
    pub hold_requests: bool,
    /// The fault the ACS answered the Inform with.
    pub fault_to_inform: Option<CwmpFault>,
    /// The element names of the ACS's requests, in order (`GetParameterValues`, …).
    pub rpcs_received: Vec<String>,
    /// The element names of the device's answers to them (`Fault` for a fault).
    pub responses_sent: Vec<String>,
    /// The codes of the faults among those answers.
    pub faults_sent: Vec<u32>,
    /// TransferCompletes sent in this session.
    pub transfer_completes_sent: Vec<TransferComplete>,
    /// CommandKeys of TransferCompletes the ACS acknowledged.
    pub transfer_completes_acknowledged: Vec<String>,
    /// Fault codes the ACS answered TransferCompletes with (they stay pending).
    pub transfer_complete_faults: Vec<u32>,
    /// Whether the ACS ended the session with 204 No Content (an empty 200 also ends it).
    pub ended_with_204: bool,
    /// Why the session failed; `None` = it ended normally.
    pub error: Option<String>,
    /// From the first byte sent to the end.
    pub duration: Duration,
}

impl SessionReport {
    /// Whether the session ended normally (204 or an empty 200 from the ACS).
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
    }

    /// Whether the Inform carried this event code (`"1 BOOT"`, `"M Reboot"`).
    pub fn has_event(&self, code: &str) -> bool {
        self.events.iter().any(|e| e.event_code.to_string() == code)
    }

    /// The CommandKey of event `code` in the Inform.
    pub fn event_key(&self, code: &str) -> Option<&str> {
        self.events
            .iter()
            .find(|e| e.event_code.to_string() == code)
            .map(|e| e.command_key.as_str())
    }
}

/// Runs one session of `slot`; never panics on what the ACS sends. The caller holds the
/// device's session lock.
pub(crate) async fn run(
    shared: &Shared,
    slot: &DeviceSlot,
    extra: &[EventStruct],
) -> (SessionReport, Vec<Action>) {
    let started = Instant::now();
    let mut report = SessionReport {
        device_index: slot.index,
        serial: slot.serial.clone(),
        ..SessionReport::default()
    };
    let mut actions = Vec::new();
    if let Err(e) = converse(shared, slot, extra, &mut report, &mut actions).await {
        tracing::debug!(serial = %slot.serial, "session failed: {e}");
        report.error = Some(e);
    }
    report.duration = started.elapsed();
    (report, actions)
}

async fn converse(
    shared: &Shared,
    slot: &DeviceSlot,
    extra: &[EventStruct],
    report: &mut SessionReport,
    actions: &mut Vec<Action>,
) -> Result<(), String> {
    let ns = &shared.namespace;
    let (inform, user_agent, username, password) = {
        let mut st = slot.lock();
        st.update_uptime(shared);
        let events = st.inform_events(extra);
        report.events = events.clone();
        report.retry_count = st.retry_count;
        let inform = Inform {
            device_id: slot.id.clone(),
            event: events,
            max_envelopes: 1,
            current_time: CwmpDateTime::from_utc(chrono::Utc::now()),
            retry_count: st.retry_count,
            parameter_list: st
                .model
                .inform_parameters()
                .into_iter()
                .map(rpc::to_wire)
                .collect(),
        };
        let value = |s: &str| st.model.value(&shared.param(s)).unwrap_or_default();
        (
            inform,
            st.model.user_agent(),
            value("ManagementServer.Username"),
            value("ManagementServer.Password"),
        )
    };
    let mut http = Http {
        shared,
        user_agent: user_agent.and_then(|ua| HeaderValue::from_str(&ua).ok()),
        username,
        password,
        cookies: Vec::new(),
        auth: Auth::None,
    };

    let mut env = Envelope::new(
        ns.clone(),
        Some(shared.next_message_id()),
        Body::Inform(inform),
    );
    env.header.supported_cwmp_versions = shared
        .config
        .profile
        .supports
        .supported_cwmp_versions
        .clone();
    let reply = match http.post(Some(write(&env)?), report).await? {
        Reply::Envelope(e) => *e,
        Reply::End { .. } => {
            return Err("the ACS answered the Inform with no InformResponse".into());
        }
    };
    match &reply.body {
        Body::InformResponse(_) => {}
        Body::Fault(f) => {
            report.fault_to_inform = Some(f.detail.clone());
            return Err(format!(
                "the ACS answered the Inform with fault {} {:?}",
                f.detail.fault_code.code(),
                f.detail.fault_string
            ));
        }
        other => {
            return Err(format!(
                "expected InformResponse, got {}",
                other.element_name()
            ));
        }
    }
    report.inform_accepted = true;
    let mut hold = reply.header.hold_requests == Some(true);
    report.hold_requests = hold;
    slot.lock().events_delivered();

    // TransferCompletes sent in this session: each at most once.
    let mut sent: Vec<(&'static str, String)> = Vec::new();
    let mut answer: Option<Envelope> = None;
    let mut cpe_done = false;
    for _ in 0..MAX_EXCHANGES {
        let mut awaiting_tc = None;
        let body = if let Some(a) = answer.take() {
            report.responses_sent.push(a.body.element_name().to_owned());
            if let Body::Fault(f) = &a.body {
                report.faults_sent.push(f.detail.fault_code.code());
            }
            Some(write(&a)?)
        } else {
            let next = if hold {
                None
            } else {
                slot.lock()
                    .pending
                    .transfers
                    .iter()
                    .find(|t| {
                        !sent
                            .iter()
                            .any(|(m, k)| *m == t.method && *k == t.complete.command_key)
                    })
                    .cloned()
            };
            match next {
                Some(t) => {
                    sent.push((t.method, t.complete.command_key.clone()));
                    report.transfer_completes_sent.push(t.complete.clone());
                    let env = Envelope::new(
                        ns.clone(),
                        Some(shared.next_message_id()),
                        Body::TransferComplete(t.complete.clone()),
                    );
                    awaiting_tc = Some(t);
                    Some(write(&env)?)
                }
                None => {
                    cpe_done = true;
                    None
                }
            }
        };
        let env = match http.post(body, report).await? {
            Reply::End { no_content } => {
                report.ended_with_204 = no_content;
                return Ok(());
            }
            Reply::Envelope(e) => *e,
        };
        if let Some(t) = awaiting_tc {
            match &env.body {
                Body::TransferCompleteResponse => {
                    slot.lock().pending.transfers.retain(|p| {
                        !(p.method == t.method && p.complete.command_key == t.complete.command_key)
                    });
                    report
                        .transfer_completes_acknowledged
                        .push(t.complete.command_key.clone());
                    hold = env.header.hold_requests == Some(true);
                }
                Body::Fault(f) => {
                    report
                        .transfer_complete_faults
                        .push(f.detail.fault_code.code());
                    hold = false;
                }
                other => {
                    return Err(format!(
                        "expected TransferCompleteResponse, got {}",
                        other.element_name()
                    ));
                }
            }
            continue;
        }
        if !cpe_done || env.body.is_response() {
            return Err(format!(
                "unexpected {} from the ACS",
                env.body.element_name()
            ));
        }
        report
            .rpcs_received
            .push(env.body.element_name().to_owned());
        let (reply_body, action) = {
            let mut st = slot.lock();
            rpc::handle(&mut st.model, &env.body)
        };
        actions.extend(action);
        answer = Some(Envelope::new(ns.clone(), env.header.id.clone(), reply_body));
    }
    Err(format!("more than {MAX_EXCHANGES} messages in one session"))
}

fn write(env: &Envelope) -> Result<String, String> {
    encode(env).map_err(|e| format!("cannot encode {}: {e}", env.body.element_name()))
}

/// What the ACS answered a POST with.
enum Reply {
    /// 204, or 200 with an empty body.
    End {
        no_content: bool,
    },
    Envelope(Box<Envelope>),
}

enum Auth {
    None,
    Basic(String),
    Digest { challenge: String, nc: u32 },
}

/// The HTTP side of one session: cookies and credentials.
struct Http<'a> {
    shared: &'a Shared,
    user_agent: Option<HeaderValue>,
    username: String,
    password: String,
    cookies: Vec<(String, String)>,
    auth: Auth,
}

impl Http<'_> {
    /// POSTs an envelope (or the empty POST for `None`), answering up to two challenges.
    async fn post(
        &mut self,
        body: Option<String>,
        report: &mut SessionReport,
    ) -> Result<Reply, String> {
        let shared = self.shared;
        let mut challenges_answered = 0;
        loop {
            let mut req = shared.client.post(shared.acs_url.clone());
            req = match &body {
                Some(b) => req
                    .header(CONTENT_TYPE, "text/xml; charset=\"utf-8\"")
                    .header("SOAPAction", "")
                    .body(b.clone()),
                // The empty POST: no body, no Content-Type, no SOAPAction.
                None => req.header(CONTENT_LENGTH, "0"),
            };
            if let Some(ua) = &self.user_agent {
                req = req.header(USER_AGENT, ua.clone());
            }
            if !self.cookies.is_empty() {
                let jar = self
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                req = req.header(COOKIE, jar);
            }
            if let Some(authz) = self.authorization()? {
                req = req.header(AUTHORIZATION, authz);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| format!("POST {}: {}", shared.acs_url, error_chain(&e)))?;
            let status = resp.status();
            report.http_statuses.push(status.as_u16());
            self.store_cookies(resp.headers());
            if status == reqwest::StatusCode::UNAUTHORIZED {
                let challenges: Vec<String> = resp
                    .headers()
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect();
                // Read the body so the connection can be reused.
                let _ = resp.bytes().await;
                let stale = challenges.iter().any(|c| {
                    c.to_ascii_lowercase()
                        .replace(['"', ' '], "")
                        .contains("stale=true")
                });
                if challenges_answered >= 2 || (challenges_answered == 1 && !stale) {
                    return Err("the ACS rejected the credentials (401)".into());
                }
                if self.username.is_empty() {
                    return Err(
                        "the ACS demands authentication (401) but the device has no username"
                            .into(),
                    );
                }
                self.auth = choose_auth(&challenges, &self.username, &self.password)?;
                challenges_answered += 1;
                continue;
            }
            if status == reqwest::StatusCode::NO_CONTENT {
                return Ok(Reply::End { no_content: true });
            }
            if !status.is_success() {
                let _ = resp.bytes().await;
                return Err(format!("the ACS answered HTTP {status}"));
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| format!("reading the ACS's answer: {}", error_chain(&e)))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Reply::End { no_content: false });
            }
            return decode(&bytes)
                .map(|e| Reply::Envelope(Box::new(e)))
                .map_err(|e| format!("undecodable answer from the ACS: {e}"));
        }
    }

    fn authorization(&mut self) -> Result<Option<String>, String> {
        Ok(match &mut self.auth {
            Auth::None => None,
            Auth::Basic(h) => Some(h.clone()),
            Auth::Digest { challenge, nc } => {
                *nc += 1;
                let cnonce = format!("{:016x}", rand::random::<u64>());
                Some(
                    digest_authorization(
                        challenge,
                        "POST",
                        &self.shared.acs_uri,
                        &self.username,
                        &self.password,
                        &cnonce,
                        *nc,
                    )
                    .map_err(|e| format!("cannot answer the ACS's Digest challenge: {e}"))?,
                )
            }
        })
    }

    /// Keeps `name=value` of every Set-Cookie (attributes ignored; `Max-Age=0` deletes).
    fn store_cookies(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let Ok(s) = v.to_str() else { continue };
            let pair = s.split(';').next().unwrap_or("");
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let expired = s
                .split(';')
                .skip(1)
                .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            self.cookies.retain(|(k, _)| k != name);
            if !expired {
                self.cookies
                    .push((name.to_owned(), value.trim().to_owned()));
            }
        }
    }
}

/// Digest when offered (with an algorithm we implement), else Basic.
fn choose_auth(challenges: &[String], username: &str, password: &str) -> Result<Auth, String> {
    // Several headers (or several challenges in one): the first Digest we can answer.
    for c in challenges {
        if digest_authorization(c, "POST", "/", username, password, "probe", 1).is_ok() {
            return Ok(Auth::Digest {
                challenge: c.clone(),
                nc: 0,
            });
        }
    }
    if challenges
        .iter()
        .any(|c| c.to_ascii_lowercase().contains("basic"))
    {
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        return Ok(Auth::Basic(format!("Basic {token}")));
    }
    Err(format!("401 without a usable challenge: {challenges:?}"))
}

/// An error with its causes, `a: b: c`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

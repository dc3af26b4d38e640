//! A tiny ACS for the simulator's tests (hyper + the codec): CWMP sessions with cookies,
//! optional Digest/Basic authentication, a queue of requests to send, a file server and
//! `/healthz`. Everything it saw is logged for the tests to inspect.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use acs_core::auth::{AuthOutcome, DigestAlgorithm, DigestAuthenticator, verify_basic};
use acs_core::cwmp::{
    Body, CwmpFault, CwmpNamespace, CwmpVersion, Envelope, FaultCode, InformResponse, SoapFault,
    TransferComplete, decode, encode,
};
use acs_core::secret::Secret;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, SET_COOKIE, USER_AGENT, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(crate) enum FakeAuth {
    #[default]
    None,
    Digest {
        authenticator: DigestAuthenticator,
        username: String,
        password: String,
    },
    Basic {
        username: String,
        password: String,
    },
}

impl FakeAuth {
    pub fn digest(username: &str, password: &str) -> FakeAuth {
        FakeAuth::Digest {
            authenticator: DigestAuthenticator::new(
                "fake-acs",
                DigestAuthenticator::random_key(),
                Duration::from_secs(300),
                vec![DigestAlgorithm::Md5],
            )
            .unwrap(),
            username: username.into(),
            password: password.into(),
        }
    }
}

/// One POST as received.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    /// `None` for the empty POST.
    pub envelope: Option<Envelope>,
    pub authorization: Option<String>,
    pub cookie: Option<String>,
    pub content_type: Option<String>,
    pub soap_action: Option<String>,
    pub content_length: Option<String>,
    pub user_agent: Option<String>,
}

impl Logged {
    pub fn name(&self) -> &'static str {
        self.envelope
            .as_ref()
            .map_or("(empty)", |e| e.body.element_name())
    }
}

/// Pauses the handling of the empty POST until released (to hold a session open).
#[derive(Debug, Default)]
pub(crate) struct Pause {
    pub reached: Notify,
    pub release: Notify,
}

#[derive(Debug, Default)]
pub(crate) struct FakeState {
    pub auth: FakeAuth,
    /// ACS requests sent after the CPE's empty POST, in order.
    pub queue: VecDeque<Body>,
    /// Answer every Inform with this fault.
    pub inform_fault: Option<FaultCode>,
    /// Per coming Inform, before `inform_fault` applies: `Some` = answer with that fault.
    pub inform_plan: VecDeque<Option<FaultCode>>,
    /// Do not log envelopes (long benchmarks).
    pub quiet: bool,
    /// Put HoldRequests=true on InformResponses.
    pub hold_requests: bool,
    /// Answer the next authenticated non-Inform POST with a `stale=true` challenge.
    pub stale_once: bool,
    pub pause: Option<Arc<Pause>>,
    pub log: Vec<Logged>,
    /// Status and body served for `GET /files/<name>`; absent = 404.
    pub files: HashMap<String, (u16, Vec<u8>)>,
    pub file_gets: Vec<String>,
    /// Basic credentials `GET /files/` demands.
    pub file_auth: Option<(String, String)>,
    pub uploads: Vec<(String, Vec<u8>)>,
    pub transfer_completes: Vec<TransferComplete>,
    /// POSTs after an Inform that did not return the session cookie.
    pub cookie_missing: u32,
    /// Answers whose cwmp:ID differed from the request's.
    pub id_mismatches: u32,
    pub challenges_sent: u32,
    next_session: u64,
    next_id: u64,
    live: HashSet<String>,
    /// Per session cookie: the ID of the outstanding request.
    outstanding: HashMap<String, String>,
}

#[derive(Debug)]
pub(crate) struct FakeAcs {
    pub addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAcs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeAcs {
    pub async fn start() -> FakeAcs {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(FakeState::default()));
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let st = Arc::clone(&st);
                        async move { Ok::<_, Infallible>(handle(st, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeAcs { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/acs", self.addr)
    }

    pub fn file_url(&self, name: &str) -> String {
        format!("http://{}/files/{name}", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }
}

fn reply(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r
}

fn header(req: &Request<Incoming>, name: impl hyper::header::AsHeaderName) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn handle(state: Arc<Mutex<FakeState>>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    if method == Method::GET && path == "/healthz" {
        return reply(StatusCode::OK, Bytes::from_static(b"ok"));
    }
    if method == Method::GET
        && let Some(name) = path.strip_prefix("/files/")
    {
        let mut st = state.lock().unwrap();
        st.file_gets.push(name.to_owned());
        if let Some((user, pass)) = &st.file_auth {
            let lookup = |u: &str| (u == user).then(|| Secret::new(pass.clone()));
            if !verify_basic(header(&req, AUTHORIZATION).as_deref(), &lookup).is_authenticated() {
                let mut r = reply(StatusCode::UNAUTHORIZED, Bytes::new());
                r.headers_mut()
                    .insert(WWW_AUTHENTICATE, "Basic realm=\"files\"".parse().unwrap());
                return r;
            }
        }
        return match st.files.get(name) {
            Some((status, body)) => reply(
                StatusCode::from_u16(*status).unwrap(),
                Bytes::from(body.clone()),
            ),
            None => reply(StatusCode::NOT_FOUND, Bytes::new()),
        };
    }
    if method == Method::PUT
        && let Some(name) = path.strip_prefix("/upload/")
    {
        let name = name.to_owned();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        state.lock().unwrap().uploads.push((name, body.to_vec()));
        return reply(StatusCode::OK, Bytes::new());
    }
    if method != Method::POST || path != "/acs" {
        return reply(StatusCode::NOT_FOUND, Bytes::new());
    }
    let logged_headers = Logged {
        envelope: None,
        authorization: header(&req, AUTHORIZATION),
        cookie: header(&req, COOKIE),
        content_type: header(&req, CONTENT_TYPE),
        soap_action: header(&req, "SOAPAction"),
        content_length: header(&req, CONTENT_LENGTH),
        user_agent: header(&req, USER_AGENT),
    };
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let envelope = if body.is_empty() {
        None
    } else {
        match decode(&body) {
            Ok(e) => Some(e),
            Err(e) => return reply(StatusCode::BAD_REQUEST, Bytes::from(e.to_string())),
        }
    };
    let is_inform = matches!(envelope.as_ref().map(|e| &e.body), Some(Body::Inform(_)));
    let pause = {
        let mut st = state.lock().unwrap();
        // Authentication.
        let challenge = match &st.auth {
            FakeAuth::None => None,
            FakeAuth::Digest {
                authenticator,
                username,
                password,
            } => {
                let lookup = |u: &str| (u == username).then(|| Secret::new(password.clone()));
                let outcome = authenticator.verify(
                    "POST",
                    logged_headers.authorization.as_deref(),
                    SystemTime::now(),
                    &lookup,
                );
                let stale = match outcome {
                    AuthOutcome::Authenticated { .. } if st.stale_once && !is_inform => Some(true),
                    AuthOutcome::Authenticated { .. } => None,
                    AuthOutcome::Stale => Some(true),
                    AuthOutcome::Failed { .. } => Some(false),
                };
                stale.map(|s| authenticator.challenge(SystemTime::now(), s))
            }
            FakeAuth::Basic { username, password } => {
                let lookup = |u: &str| (u == username).then(|| Secret::new(password.clone()));
                (!verify_basic(logged_headers.authorization.as_deref(), &lookup).is_authenticated())
                    .then(|| vec!["Basic realm=\"fake-acs\"".to_owned()])
            }
        };
        if let Some(challenges) = challenge {
            if challenges.iter().any(|c| c.contains("stale=true")) {
                st.stale_once = false;
            }
            st.challenges_sent += 1;
            let mut r = reply(StatusCode::UNAUTHORIZED, Bytes::new());
            for c in challenges {
                r.headers_mut().append(WWW_AUTHENTICATE, c.parse().unwrap());
            }
            return r;
        }
        if !st.quiet {
            st.log.push(Logged {
                envelope: envelope.clone(),
                ..logged_headers.clone()
            });
        }
        if envelope.is_none() {
            st.pause.clone()
        } else {
            None
        }
    };
    if let Some(p) = pause {
        p.reached.notify_one();
        p.release.notified().await;
    }

    let mut st = state.lock().unwrap();
    let Some(env) = envelope else {
        return next_request(&mut st, &logged_headers, None);
    };
    let ns = env.namespace.clone();
    let answer = |id: Option<String>, body: Body| {
        let xml = encode(&Envelope::new(ns.clone(), id, body)).unwrap();
        let mut r = reply(StatusCode::OK, Bytes::from(xml));
        r.headers_mut()
            .insert(CONTENT_TYPE, "text/xml; charset=\"utf-8\"".parse().unwrap());
        r
    };
    match &env.body {
        Body::Inform(_) => {
            let fault = match st.inform_plan.pop_front() {
                Some(planned) => planned,
                None => st.inform_fault,
            };
            if let Some(code) = fault {
                return answer(
                    env.header.id.clone(),
                    Body::Fault(SoapFault::new(CwmpFault::new(code))),
                );
            }
            st.next_session += 1;
            let sid = format!("s{}", st.next_session);
            st.live.insert(sid.clone());
            let mut out = Envelope::new(
                ns.clone(),
                env.header.id.clone(),
                Body::InformResponse(InformResponse { max_envelopes: 1 }),
            );
            if st.hold_requests {
                out.header.hold_requests = Some(true);
            }
            let mut r = reply(StatusCode::OK, Bytes::from(encode(&out).unwrap()));
            r.headers_mut().insert(
                SET_COOKIE,
                format!("sid={sid}; Path=/; HttpOnly").parse().unwrap(),
            );
            r.headers_mut()
                .append(SET_COOKIE, "acs=1; Path=/".parse().unwrap());
            r
        }
        Body::TransferComplete(tc) => {
            check_cookie(&mut st, &logged_headers);
            st.transfer_completes.push(tc.clone());
            answer(env.header.id.clone(), Body::TransferCompleteResponse)
        }
        _ => next_request(&mut st, &logged_headers, Some(&env)),
    }
}

fn session_of(cookie: Option<&str>) -> Option<String> {
    cookie?
        .split(';')
        .find_map(|c| c.trim().strip_prefix("sid=").map(str::to_owned))
}

fn check_cookie(st: &mut FakeState, h: &Logged) -> Option<String> {
    let sid = session_of(h.cookie.as_deref()).filter(|s| st.live.contains(s));
    if sid.is_none() || !h.cookie.as_deref().unwrap_or("").contains("acs=1") {
        st.cookie_missing += 1;
    }
    sid
}

/// After the empty POST or an answer: the next queued request, or 204.
fn next_request(
    st: &mut FakeState,
    h: &Logged,
    answer: Option<&Envelope>,
) -> Response<Full<Bytes>> {
    let sid = check_cookie(st, h).unwrap_or_default();
    if let Some(a) = answer {
        let expected = st.outstanding.remove(&sid);
        if a.header.id != expected {
            st.id_mismatches += 1;
        }
    }
    match st.queue.pop_front() {
        Some(body) => {
            st.next_id += 1;
            let id = format!("acs-{}", st.next_id);
            st.outstanding.insert(sid, id.clone());
            let ns = CwmpNamespace::for_version(CwmpVersion::V1_2);
            let xml = encode(&Envelope::new(ns, Some(id), body)).unwrap();
            reply(StatusCode::OK, Bytes::from(xml))
        }
        None => {
            st.live.remove(&sid);
            reply(StatusCode::NO_CONTENT, Bytes::new())
        }
    }
}

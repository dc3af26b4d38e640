//! The CWMP session state machine (TR-069 §3.7.1.4 session procedures), without I/O.
//!
//! The HTTP layer feeds each POST in and gets back what to do. Anything that needs storage is
//! handed back to the driver as a [`Step`] so that it can persist first and send second:
//!
//! ```text
//!  Inform ──► begin() ──► InformResponse          (driver stores the Inform first)
//!  CPE request ──► Step::CpeRequest{request, reply} (driver stores request, then sends reply)
//!  empty POST / response ──► Step::Ready{completed} (driver stores the result, then asks the
//!                                                   queue: request(task, body) or finish())
//! ```
//!
//! Architecture invariant: the machine never decides to send an ACS request on its own. The
//! driver calls [`Session::prepare`] (which changes no state), encodes the request, marks the
//! task `sent` in storage, and only then [`Session::commit`]s and sends, so a request on the
//! wire always has a stored task behind it. [`Session::request`] is the two steps in one, for
//! callers with nothing to store in between (the machine's own tests).

use crate::{
    Body, CwmpFault, CwmpNamespace, CwmpVersion, Envelope, FaultCode, GetRpcMethodsResponse,
    Header, Inform, InformResponse, KickedResponse, SoapFault,
};

/// Policy for new sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The highest CWMP version the ACS offers in 1.4 negotiation.
    pub max_version: CwmpVersion,
    /// Set HoldRequests on the InformResponse and on every ACS request while the ACS has work,
    /// so queued work runs before the CPE's own requests (TR-069 §3.7.1.4).
    pub hold_requests: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_version: CwmpVersion::LATEST,
            hold_requests: false,
        }
    }
}

/// The RPCs this ACS implements for CPEs (the answer to a CPE's GetRPCMethods).
pub const ACS_METHODS: [&str; 8] = [
    "Inform",
    "GetRPCMethods",
    "TransferComplete",
    "AutonomousTransferComplete",
    "RequestDownload",
    "Kicked",
    "DUStateChangeComplete",
    "AutonomousDUStateChangeComplete",
];

/// Where the session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    /// The CPE may send requests; the ACS answers each until the CPE's empty POST.
    CpeRequests,
    /// The ACS has one request outstanding.
    AwaitingResponse {
        /// The cwmp:ID we sent.
        cwmp_id: String,
        /// The task behind it.
        task_id: i64,
        /// The request's element name.
        method: &'static str,
    },
    /// The CPE is done and nothing is outstanding: the driver picks the next request or ends.
    AcsTurn,
    /// 204 sent.
    Finished,
}

/// The answer to an ACS request.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The task the request came from.
    pub task_id: i64,
    /// The request's element name.
    pub method: &'static str,
    /// The response, or the CPE's fault.
    pub result: Result<Body, SoapFault>,
}

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq)]
// Both variants carry a whole message and a Step lives for one request: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// A CPE request: persist `request`, then send `reply`.
    CpeRequest {
        /// The CPE's request (TransferComplete, RequestDownload, …).
        request: Body,
        /// The answer to send once it is stored.
        reply: Envelope,
    },
    /// The ACS's turn: store `completed` (if any), then [`Session::prepare`] the next queued
    /// task, mark it sent, and [`Session::commit`] it, or [`Session::finish`].
    Ready {
        /// The answer to the previous ACS request.
        completed: Option<Completion>,
    },
}

/// A CPE broke the protocol. The driver answers with [`Violation::fault`] (or an HTTP error)
/// and closes the session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A session must open with an Inform.
    #[error("the session did not start with an Inform but with {0}")]
    NotInform(&'static str),
    /// An Inform in the middle of a session.
    #[error("Inform received in the middle of a session")]
    InformInSession,
    /// No common CWMP version (1.4 negotiation).
    #[error("no common CWMP version: the CPE supports {supported:?}, the ACS up to {ours}")]
    VersionIncompatible {
        /// The CPE's list.
        supported: String,
        /// Our highest.
        ours: CwmpVersion,
    },
    /// A response or fault arrived while no ACS request was outstanding.
    #[error("unexpected {0}: no ACS request is outstanding")]
    UnexpectedResponse(&'static str),
    /// The response's cwmp:ID does not match the request's.
    #[error("response carries cwmp:ID {got:?}, expected {expected:?}")]
    IdMismatch {
        /// Ours.
        expected: String,
        /// Theirs.
        got: String,
    },
    /// The response is for another method.
    #[error("expected the response to {expected}, got {got}")]
    WrongResponse {
        /// The request sent.
        expected: &'static str,
        /// What came back.
        got: &'static str,
    },
    /// A CPE request while the ACS had set HoldRequests.
    #[error("CPE sent {0} although the ACS set HoldRequests")]
    RequestWhileHeld(&'static str),
    /// A CPE request after its empty POST (TR-069 §3.7.1.4: it must send none).
    #[error("CPE sent {0} after signalling it had no more requests")]
    RequestAfterEmptyPost(&'static str),
    /// The CPE sent an empty POST instead of answering the ACS request.
    #[error("CPE sent an empty POST instead of the response to {0}")]
    MissingResponse(&'static str),
    /// A method the ACS does not implement.
    #[error("{0} is not a method the ACS implements")]
    UnsupportedMethod(&'static str),
    /// Anything after the session ended.
    #[error("message after the session ended")]
    SessionOver,
}

impl Violation {
    /// The SOAP fault to send for this violation, when the CPE sent a request that deserves an
    /// answer; `None` where an HTTP error is the only sensible reply.
    pub fn fault(&self) -> Option<SoapFault> {
        let code = match self {
            Violation::VersionIncompatible { .. } => FaultCode::AcsVersionIncompatible,
            Violation::UnsupportedMethod(_) => FaultCode::AcsMethodNotSupported,
            Violation::NotInform(_)
            | Violation::InformInSession
            | Violation::RequestWhileHeld(_)
            | Violation::RequestAfterEmptyPost(_) => FaultCode::AcsRequestDenied,
            Violation::UnexpectedResponse(_)
            | Violation::IdMismatch { .. }
            | Violation::WrongResponse { .. }
            | Violation::MissingResponse(_)
            | Violation::SessionOver => return None,
        };
        Some(SoapFault::new(CwmpFault {
            fault_code: code,
            fault_string: self.to_string(),
            set_parameter_values_faults: vec![],
        }))
    }
}

/// An ACS request built but not yet sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The envelope to write.
    pub envelope: Envelope,
    /// The task behind it.
    pub task_id: i64,
    /// Its cwmp:ID.
    pub cwmp_id: String,
    /// Its method.
    pub method: &'static str,
}

/// A session after its Inform.
#[derive(Debug, Clone)]
pub struct Session {
    namespace: CwmpNamespace,
    version: CwmpVersion,
    device_key: String,
    state: SessionState,
    holding: bool,
    config: SessionConfig,
}

/// What [`Session::begin`] produces.
#[derive(Debug, Clone)]
pub struct Begun {
    /// The new session.
    pub session: Session,
    /// The Inform to persist before `reply` is sent.
    pub inform: Inform,
    /// The header the CPE sent (SessionTimeout, versions).
    pub header: Header,
    /// The InformResponse.
    pub reply: Envelope,
}

impl Session {
    /// Starts a session from its first message, which must be an Inform (TR-069 §3.7.1.4).
    /// `has_work` says whether the queue has requests for this device (it decides HoldRequests).
    pub fn begin(
        envelope: Envelope,
        config: &SessionConfig,
        has_work: bool,
    ) -> Result<Begun, Violation> {
        let Envelope {
            namespace,
            header,
            body,
        } = envelope;
        let Body::Inform(inform) = body else {
            return Err(Violation::NotInform(body.element_name()));
        };
        // CWMP 1.4 negotiation: only a CPE that offered versions gets UseCWMPVersion.
        let (version, use_version) = match &header.supported_cwmp_versions {
            Some(supported) => match CwmpVersion::negotiate(supported, config.max_version) {
                Some(v) => (v, Some(v.as_str().to_owned())),
                None => {
                    return Err(Violation::VersionIncompatible {
                        supported: supported.clone(),
                        ours: config.max_version,
                    });
                }
            },
            None => (namespace.version().min(config.max_version), None),
        };
        let holding = config.hold_requests && has_work;
        let reply = Envelope {
            namespace: namespace.clone(),
            header: Header {
                id: header.id.clone(),
                hold_requests: holding.then_some(true),
                use_cwmp_version: use_version,
                ..Header::default()
            },
            body: Body::InformResponse(InformResponse { max_envelopes: 1 }),
        };
        let session = Session {
            namespace,
            version,
            device_key: inform.device_id.device_key(),
            state: SessionState::CpeRequests,
            holding,
            config: config.clone(),
        };
        Ok(Begun {
            session,
            inform,
            header,
            reply,
        })
    }

    /// The device this session belongs to.
    pub fn device_key(&self) -> &str {
        &self.device_key
    }

    /// The CWMP version in use.
    pub fn version(&self) -> CwmpVersion {
        self.version
    }

    /// The namespace every message of the session is written in.
    pub fn namespace(&self) -> &CwmpNamespace {
        &self.namespace
    }

    /// Where the session stands.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    /// The task whose request is outstanding, if any: what to requeue when the session dies.
    pub fn outstanding_task(&self) -> Option<i64> {
        match self.state {
            SessionState::AwaitingResponse { task_id, .. } => Some(task_id),
            _ => None,
        }
    }

    /// Handles a POST after the Inform: `None` for an empty POST.
    pub fn handle(&mut self, message: Option<Envelope>) -> Result<Step, Violation> {
        match (&self.state, message) {
            (SessionState::Finished, _) => Err(Violation::SessionOver),
            (SessionState::CpeRequests, None) => {
                self.state = SessionState::AcsTurn;
                Ok(Step::Ready { completed: None })
            }
            (SessionState::CpeRequests, Some(env)) => self.cpe_request(env),
            (SessionState::AwaitingResponse { method, .. }, None) => {
                Err(Violation::MissingResponse(method))
            }
            (
                SessionState::AwaitingResponse {
                    cwmp_id,
                    task_id,
                    method,
                },
                Some(env),
            ) => {
                if !env.body.is_response() {
                    return Err(match env.body {
                        Body::Inform(_) => Violation::InformInSession,
                        _ => Violation::RequestAfterEmptyPost(env.body.element_name()),
                    });
                }
                if let Some(got) = &env.header.id {
                    // Some CPEs send no header at all; an ID that is present must match.
                    if got != cwmp_id {
                        return Err(Violation::IdMismatch {
                            expected: cwmp_id.clone(),
                            got: got.clone(),
                        });
                    }
                }
                let got = env.body.element_name();
                let result = match env.body {
                    Body::Fault(fault) => Err(fault),
                    body if got.strip_suffix("Response") == Some(method) => Ok(body),
                    _ => {
                        return Err(Violation::WrongResponse {
                            expected: method,
                            got,
                        });
                    }
                };
                let completion = Completion {
                    task_id: *task_id,
                    method,
                    result,
                };
                self.state = SessionState::AcsTurn;
                Ok(Step::Ready {
                    completed: Some(completion),
                })
            }
            (SessionState::AcsTurn, Some(env)) => Err(if env.body.is_response() {
                Violation::UnexpectedResponse(env.body.element_name())
            } else if matches!(env.body, Body::Inform(_)) {
                Violation::InformInSession
            } else {
                Violation::RequestAfterEmptyPost(env.body.element_name())
            }),
            // The driver should have sent a request or ended; an empty POST here changes nothing.
            (SessionState::AcsTurn, None) => Ok(Step::Ready { completed: None }),
        }
    }

    fn cpe_request(&mut self, env: Envelope) -> Result<Step, Violation> {
        let name = env.body.element_name();
        if env.body.is_response() {
            return Err(Violation::UnexpectedResponse(name));
        }
        if self.holding {
            return Err(Violation::RequestWhileHeld(name));
        }
        let reply_body = match &env.body {
            Body::Inform(_) => return Err(Violation::InformInSession),
            Body::TransferComplete(_) => Body::TransferCompleteResponse,
            Body::AutonomousTransferComplete(_) => Body::AutonomousTransferCompleteResponse,
            Body::GetRpcMethods => Body::GetRpcMethodsResponse(GetRpcMethodsResponse {
                method_list: ACS_METHODS.map(String::from).to_vec(),
            }),
            Body::RequestDownload(_) => Body::RequestDownloadResponse,
            Body::Kicked(k) => Body::KickedResponse(KickedResponse {
                next_url: k.next.clone(),
            }),
            Body::DuStateChangeComplete(_) => Body::DuStateChangeCompleteResponse,
            Body::AutonomousDuStateChangeComplete(_) => {
                Body::AutonomousDuStateChangeCompleteResponse
            }
            _ => return Err(Violation::UnsupportedMethod(name)),
        };
        let reply = Envelope::new(self.namespace.clone(), env.header.id.clone(), reply_body);
        Ok(Step::CpeRequest {
            request: env.body,
            reply,
        })
    }

    /// Builds the next ACS request without changing state, so the driver can encode it and
    /// store the task as sent first. `None` outside the ACS's turn.
    pub fn prepare(&self, task_id: i64, cwmp_id: String, body: Body) -> Option<Prepared> {
        if self.state != SessionState::AcsTurn {
            return None;
        }
        let method = body.element_name();
        let envelope = Envelope {
            namespace: self.namespace.clone(),
            header: Header {
                id: Some(cwmp_id.clone()),
                hold_requests: self.holding.then_some(true),
                ..Header::default()
            },
            body,
        };
        Some(Prepared {
            envelope,
            task_id,
            cwmp_id,
            method,
        })
    }

    /// Records that a prepared request went out: the session now awaits its answer. Refused
    /// (`false`) outside the ACS's turn.
    pub fn commit(&mut self, prepared: &Prepared) -> bool {
        if self.state != SessionState::AcsTurn {
            return false;
        }
        self.state = SessionState::AwaitingResponse {
            cwmp_id: prepared.cwmp_id.clone(),
            task_id: prepared.task_id,
            method: prepared.method,
        };
        true
    }

    /// [`Session::prepare`] and [`Session::commit`] in one step, for callers with nothing to
    /// store in between.
    pub fn request(&mut self, task_id: i64, cwmp_id: String, body: Body) -> Option<Envelope> {
        let prepared = self.prepare(task_id, cwmp_id, body)?;
        self.commit(&prepared);
        Some(prepared.envelope)
    }

    /// The cwmp:ID for sending a task: names the task and its attempt, so it is unique across
    /// sessions (a requeued task gets a new ID) and a trace line leads straight to the task.
    pub fn cwmp_id(task_id: i64, attempt: i32) -> String {
        format!("acs-{task_id}-{attempt}")
    }

    /// Ends the session (the driver answers 204). Only in the ACS's turn.
    pub fn finish(&mut self) -> bool {
        if self.state == SessionState::AcsTurn {
            self.state = SessionState::Finished;
            true
        } else {
            false
        }
    }

    /// Whether `body` can be sent in this session's CWMP version.
    pub fn supports(&self, body: &Body) -> bool {
        body.min_version() <= self.version
    }

    /// The policy the session runs under.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        EventCode, EventStruct, GetParameterValues, GetParameterValuesResponse, TransferComplete,
        examples,
    };

    fn inform_env(header: Header) -> Envelope {
        let mut inform = examples::inform(0);
        inform.event = vec![EventStruct::new(EventCode::Periodic)];
        Envelope {
            namespace: CwmpNamespace::for_version(CwmpVersion::V1_2),
            header,
            body: Body::Inform(inform),
        }
    }

    fn begin(header: Header) -> Begun {
        Session::begin(inform_env(header), &SessionConfig::default(), false).expect("begin")
    }

    fn gpv() -> Body {
        Body::GetParameterValues(GetParameterValues {
            parameter_names: vec!["Device.".into()],
        })
    }

    #[test]
    fn inform_response_echoes_id_and_namespace() {
        let b = begin(Header {
            id: Some("abc".into()),
            ..Header::default()
        });
        assert_eq!(b.reply.header.id.as_deref(), Some("abc"));
        assert_eq!(
            b.reply.namespace,
            CwmpNamespace::for_version(CwmpVersion::V1_2)
        );
        assert_eq!(
            b.reply.body,
            Body::InformResponse(InformResponse { max_envelopes: 1 })
        );
        assert_eq!(
            b.reply.header.use_cwmp_version, None,
            "never sent to a CPE that did not offer versions"
        );
        assert_eq!(
            b.session.device_key(),
            "00562B-CP%2D8851%2D3PCC-FCH2233A0B1"
        );
    }

    #[test]
    fn version_negotiation() {
        let b = begin(Header {
            supported_cwmp_versions: Some("1.0,1.1,1.2,1.3,1.4".into()),
            ..Header::default()
        });
        assert_eq!(b.reply.header.use_cwmp_version.as_deref(), Some("1.4"));
        assert_eq!(b.session.version(), CwmpVersion::V1_4);
        let config = SessionConfig {
            max_version: CwmpVersion::V1_2,
            ..SessionConfig::default()
        };
        let err = Session::begin(
            inform_env(Header {
                supported_cwmp_versions: Some("1.3,1.4".into()),
                ..Header::default()
            }),
            &config,
            false,
        )
        .unwrap_err();
        assert!(matches!(err, Violation::VersionIncompatible { .. }));
        assert_eq!(
            err.fault().unwrap().detail.fault_code,
            FaultCode::AcsVersionIncompatible
        );
    }

    #[test]
    fn full_session_with_cpe_request_and_one_acs_request() {
        let mut s = begin(Header::default()).session;
        let tc = Body::TransferComplete(TransferComplete {
            command_key: "k".into(),
            fault_struct: crate::TransferFault::success(),
            start_time: Default::default(),
            complete_time: Default::default(),
        });
        let step = s
            .handle(Some(Envelope::new(
                s.namespace().clone(),
                Some("9".into()),
                tc.clone(),
            )))
            .unwrap();
        let Step::CpeRequest { request, reply } = step else {
            panic!("{step:?}")
        };
        assert_eq!(request, tc);
        assert_eq!(reply.body, Body::TransferCompleteResponse);
        assert_eq!(reply.header.id.as_deref(), Some("9"));

        assert_eq!(s.handle(None).unwrap(), Step::Ready { completed: None });
        let id = Session::cwmp_id(7, 1);
        let req = s.request(7, id.clone(), gpv()).unwrap();
        assert_eq!(req.header.id.as_deref(), Some(id.as_str()));
        assert_eq!(s.outstanding_task(), Some(7));

        let answer = Body::GetParameterValuesResponse(GetParameterValuesResponse {
            parameter_list: vec![],
        });
        let step = s
            .handle(Some(Envelope::new(
                s.namespace().clone(),
                Some(id),
                answer.clone(),
            )))
            .unwrap();
        assert_eq!(
            step,
            Step::Ready {
                completed: Some(Completion {
                    task_id: 7,
                    method: "GetParameterValues",
                    result: Ok(answer)
                })
            }
        );
        assert!(s.finish());
        assert_eq!(s.handle(None), Err(Violation::SessionOver));
    }

    #[test]
    fn faults_complete_the_request_and_bad_answers_are_violations() {
        let mut s = begin(Header::default()).session;
        s.handle(None).unwrap();
        let id = Session::cwmp_id(1, 1);
        s.request(1, id.clone(), gpv()).unwrap();
        let fault = SoapFault::new(CwmpFault::new(FaultCode::InvalidParameterName));
        let mut probe = s.clone();
        assert_eq!(
            probe.handle(Some(Envelope::new(
                s.namespace().clone(),
                Some("other".into()),
                Body::Fault(fault.clone())
            ))),
            Err(Violation::IdMismatch {
                expected: id.clone(),
                got: "other".into()
            })
        );
        let mut probe = s.clone();
        assert_eq!(
            probe.handle(Some(Envelope::new(
                s.namespace().clone(),
                None,
                Body::RebootResponse
            ))),
            Err(Violation::WrongResponse {
                expected: "GetParameterValues",
                got: "RebootResponse"
            })
        );
        let mut probe = s.clone();
        assert_eq!(
            probe.handle(None),
            Err(Violation::MissingResponse("GetParameterValues"))
        );
        // No header at all is tolerated.
        let step = s
            .handle(Some(Envelope::new(
                s.namespace().clone(),
                None,
                Body::Fault(fault.clone()),
            )))
            .unwrap();
        assert_eq!(
            step,
            Step::Ready {
                completed: Some(Completion {
                    task_id: 1,
                    method: "GetParameterValues",
                    result: Err(fault)
                })
            }
        );
    }

    #[test]
    fn hold_requests_is_set_and_enforced() {
        let config = SessionConfig {
            hold_requests: true,
            ..SessionConfig::default()
        };
        let b = Session::begin(inform_env(Header::default()), &config, true).unwrap();
        assert_eq!(b.reply.header.hold_requests, Some(true));
        let mut s = b.session;
        let err = s
            .handle(Some(Envelope::new(
                s.namespace().clone(),
                None,
                Body::GetRpcMethods,
            )))
            .unwrap_err();
        assert_eq!(err, Violation::RequestWhileHeld("GetRPCMethods"));
        assert!(err.fault().is_some());
        s.handle(None).unwrap();
        let req = s.request(1, Session::cwmp_id(1, 1), gpv()).unwrap();
        assert_eq!(req.header.hold_requests, Some(true));
        // Without work there is nothing to hold for.
        let b = Session::begin(inform_env(Header::default()), &config, false).unwrap();
        assert_eq!(b.reply.header.hold_requests, None);
    }

    #[test]
    fn protocol_violations() {
        let not_inform = Envelope::new(CwmpNamespace::default(), None, Body::GetRpcMethods);
        assert_eq!(
            Session::begin(not_inform, &SessionConfig::default(), false).unwrap_err(),
            Violation::NotInform("GetRPCMethods")
        );
        let mut s = begin(Header::default()).session;
        let ns = s.namespace().clone();
        assert_eq!(
            s.clone().handle(Some(inform_env(Header::default()))),
            Err(Violation::InformInSession)
        );
        assert_eq!(
            s.clone()
                .handle(Some(Envelope::new(ns.clone(), None, gpv()))),
            Err(Violation::UnsupportedMethod("GetParameterValues"))
        );
        assert_eq!(
            s.clone()
                .handle(Some(Envelope::new(ns.clone(), None, Body::RebootResponse))),
            Err(Violation::UnexpectedResponse("RebootResponse"))
        );
        s.handle(None).unwrap();
        assert_eq!(
            s.clone()
                .handle(Some(Envelope::new(ns.clone(), None, Body::GetRpcMethods))),
            Err(Violation::RequestAfterEmptyPost("GetRPCMethods"))
        );
        assert!(s.request(1, "x".into(), gpv()).is_some());
        assert!(
            s.request(2, "y".into(), gpv()).is_none(),
            "only one request outstanding"
        );
        assert!(!s.finish(), "cannot end while a request is outstanding");
    }

    #[test]
    fn get_rpc_methods_from_the_cpe_is_answered() {
        let mut s = begin(Header::default()).session;
        let ns = s.namespace().clone();
        let Step::CpeRequest { reply, .. } = s
            .handle(Some(Envelope::new(
                ns,
                Some("1".into()),
                Body::GetRpcMethods,
            )))
            .unwrap()
        else {
            panic!()
        };
        let Body::GetRpcMethodsResponse(r) = reply.body else {
            panic!()
        };
        assert!(r.method_list.iter().any(|m| m == "TransferComplete"));
    }
}

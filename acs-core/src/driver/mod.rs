//! The CWMP session engine: what happens in a session between the Inform and the 204, with no
//! HTTP in sight.
//!
//! The pure state machine ([`crate::session::Session`], TR-069 §3.7) says whose turn it is; the
//! driver gives it storage: it records the Inform, recovers tasks a crash left `sent`, queues
//! what a bootstrapping device needs (connection-request and ACS credentials, the bootstrap
//! read, the provisioning rules' tasks), confirms tasks by the Inform's events, stores each CPE
//! request and each answer to an ACS request, and picks the next request from the queue.
//!
//! The HTTP layer (acs-http's `cwmp.rs`) keeps only what is HTTP: cookies, the live-session
//! registry, CPE authentication, mapping [`DriveError`] to a response, and metrics.
//!
//! Architecture invariant: every state change is stored before the message that depends on it
//! is returned: the Inform before its InformResponse, a CPE request before its answer, a task's
//! `sent` state before the request, a task's result before the next request or [`Next::Finish`].
//!
//! Architecture invariant: whoever waits for a task ([`Operations::task_changed`]) is told by
//! the driver itself, after the change is stored; no caller has to remember.

mod inform;
mod request;
mod response;
#[cfg(test)]
mod tests;

use crate::cwmp::{Envelope, Inform};
use crate::ops::Operations;
use crate::provision::Provisioner;
use crate::session::{Session, SessionConfig, Step, Violation};
use crate::storage::{FileRow, InformWriter, Store, StoreError};
use crate::truth::bootstrap::BootstrapSettings;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

pub use request::{DOWNLOAD_TOKEN_TTL, OUI_PLACEHOLDER};

/// The Prometheus series of TransferCompletes that report a fault, by fault code.
pub const TRANSFER_FAULTS_SERIES: &str = "acs_transfer_faults_total";

/// Signs the URL a device fetches a stored file from: the file server's business, which lives
/// with HTTP; the driver only needs the URL.
pub trait DownloadSigner: Send + Sync + std::fmt::Debug {
    /// An absolute URL by which `device_id` may fetch `file` for `task_id`, valid for `ttl`.
    /// `reached_at` is `scheme://host[:port]` the device used to reach the ACS, the base when
    /// no download base URL is configured.
    fn download_url(
        &self,
        reached_at: &str,
        device_id: &str,
        task_id: i64,
        file: &FileRow,
        ttl: chrono::TimeDelta,
    ) -> String;
}

/// How sessions behave, from [`crate::config::Settings`].
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Session policy (version, HoldRequests).
    pub session: SessionConfig,
    /// Give every bootstrapping device fresh connection-request credentials.
    pub provision_cr_credentials: bool,
    /// What to read from a bootstrapping device.
    pub bootstrap: BootstrapSettings,
}

impl From<&crate::config::Settings> for DriverConfig {
    fn from(settings: &crate::config::Settings) -> DriverConfig {
        DriverConfig {
            session: SessionConfig {
                hold_requests: settings.cwmp.hold_requests,
                ..SessionConfig::default()
            },
            provision_cr_credentials: settings.cwmp.provision_connection_request_credentials,
            bootstrap: settings.bootstrap.clone(),
        }
    }
}

/// The session engine, shared by every session.
#[derive(Debug)]
pub struct Driver {
    ops: Arc<Operations>,
    informs: InformWriter,
    provisioner: Arc<Provisioner>,
    signer: Arc<dyn DownloadSigner>,
    config: DriverConfig,
    /// Devices with tasks left `sent` by a previous run, resolved at their next Inform.
    orphans: Mutex<HashSet<String>>,
}

/// One device's session as the driver tracks it: the state machine and what a session
/// remembers beside it.
#[derive(Debug)]
pub struct DeviceSession {
    session: Session,
    device_id: String,
    /// Tasks that faulted in this session and wait for a later one.
    retry_later: HashSet<i64>,
    /// `scheme://host[:port]` the CPE reached the ACS at.
    reached_at: String,
}

impl DeviceSession {
    /// Storage key of the device.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The protocol state machine.
    pub fn protocol(&self) -> &Session {
        &self.session
    }
}

/// What the HTTP layer knows about the request that opens a session.
#[derive(Debug, Clone, Default)]
pub struct InformContext {
    /// The client address (after trusted-proxy resolution).
    pub source: Option<IpAddr>,
    /// `scheme://host[:port]` the CPE reached the ACS at.
    pub reached_at: String,
    /// CPE authentication decided the device should get ACS credentials of its own.
    pub rotate_credentials: bool,
}

/// A session opened by an Inform.
#[derive(Debug)]
pub struct Opened {
    /// The session, to pass back with every later message.
    pub session: DeviceSession,
    /// The Inform (already stored).
    pub inform: Inform,
    /// The InformResponse to send.
    pub reply: Envelope,
}

/// The outgoing ACS request, written once.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The request.
    pub envelope: Envelope,
    /// Its XML, as sent.
    pub xml: String,
    /// The task it carries.
    pub task_id: i64,
    /// Its method.
    pub method: &'static str,
}

/// What the ACS does in its turn.
#[derive(Debug, Clone)]
// One lives for one request and is consumed at once: boxing the message buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Next {
    /// Send this request (its task is stored as `sent`).
    Send(Outgoing),
    /// Nothing left: end the session (HTTP 204).
    Finish,
}

/// What to answer a message of an open session with.
#[derive(Debug, Clone)]
// As for `Next`: built per request and consumed at once.
#[allow(clippy::large_enum_variant)]
pub enum Turn {
    /// The answer to a CPE request (stored).
    Answer(Envelope),
    /// The ACS's turn; `completed` names the method whose answer was just stored.
    Next {
        /// The method of the ACS request this message answered, if it answered one.
        completed: Option<&'static str>,
        /// What to send.
        next: Next,
    },
}

/// Why a session opening failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The first message broke the protocol.
    #[error(transparent)]
    Protocol(#[from] Violation),
    /// The Inform could not be stored; the CPE should retry later.
    #[error("the Inform could not be stored: {0}")]
    NotStored(#[source] StoreError),
}

/// Why a session cannot go on. The session is over: close it with [`Driver::abandon`].
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// The CPE broke the protocol.
    #[error(transparent)]
    Protocol(#[from] Violation),
    /// A CPE request could not be stored; it gets a fault so it retries later.
    #[error("the CPE's request could not be stored: {0}")]
    CpeRequestNotStored(#[source] StoreError),
    /// Storage failed while `during`.
    #[error("storage failed {during}: {source}")]
    Storage {
        /// What the driver was doing ("storing a result", "reading the queue", …).
        during: &'static str,
        /// The failure.
        #[source]
        source: StoreError,
    },
}

fn storage(during: &'static str) -> impl FnOnce(StoreError) -> DriveError {
    move |source| DriveError::Storage { during, source }
}

impl Driver {
    /// A driver over `ops`' store. `informs` group-commits Informs; `signer` makes download URLs.
    pub fn new(
        ops: Arc<Operations>,
        informs: InformWriter,
        provisioner: Arc<Provisioner>,
        signer: Arc<dyn DownloadSigner>,
        config: DriverConfig,
    ) -> Driver {
        Driver {
            ops,
            informs,
            provisioner,
            signer,
            config,
            orphans: Mutex::default(),
        }
    }

    fn store(&self) -> &Store {
        self.ops.store()
    }

    /// Loads the devices whose tasks a previous run left `sent` (call once at start); they are
    /// resolved at each device's next Inform.
    pub async fn load_orphans(&self) -> Result<usize, StoreError> {
        let devices = self.store().devices_with_sent_tasks().await?;
        let n = devices.len();
        self.orphans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(devices);
        Ok(n)
    }

    fn take_orphan(&self, device_id: &str) -> bool {
        self.orphans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(device_id)
    }

    /// Handles a message of an open session (`None`: an empty POST): a CPE request is stored
    /// and answered; an answer to the ACS's request is stored, then the next request is picked.
    pub async fn on_message(
        &self,
        session: &mut DeviceSession,
        message: Option<Envelope>,
    ) -> Result<Turn, DriveError> {
        match session.session.handle(message)? {
            Step::CpeRequest { request, reply } => {
                self.on_cpe_request(session, &request).await?;
                Ok(Turn::Answer(reply))
            }
            Step::Ready { completed } => {
                let method = completed.as_ref().map(|c| c.method);
                if let Some(done) = completed {
                    self.on_response(session, &done).await?;
                }
                Ok(Turn::Next {
                    completed: method,
                    next: self.next_request(session).await?,
                })
            }
        }
    }

    /// Closes a session that did not complete: its outstanding request's task goes back to
    /// the queue.
    pub async fn abandon(&self, session: &mut DeviceSession) -> Result<(), StoreError> {
        if let Some(task) = session.session.outstanding_task() {
            self.store().requeue_task(task).await?;
            self.ops.task_changed(task);
        }
        Ok(())
    }
}

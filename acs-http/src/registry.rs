//! Live CWMP sessions, found by cookie, then by TCP connection, then by device.
//!
//! A session lives in memory only: TR-069 sessions are short, and after an ACS restart the CPE
//! simply retries, while everything a session decided (task states, the Inform) is already in
//! the database. Architecture invariant: at most one live session per device; a new Inform from
//! a device supersedes its old session, whose outstanding task goes back to the queue.
//!
//! Architecture invariant: a cookie alone never admits a request into a session. The registry
//! maps only *admitted* TCP connections to their session (the one that opened it, and any the
//! session was re-admitted on); a cookie presented on another connection is reported as
//! [`Admission::CookieOnly`] with the identity and source the session was opened by, and the
//! endpoint decides before the session is locked or touched.

use acs_core::driver::DeviceSession;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One live session: the driver's session and what HTTP tracks beside it.
#[derive(Debug)]
pub struct Live {
    /// Random id, also the cookie value.
    pub id: String,
    /// The session as the driver tracks it (device, protocol state, retries).
    pub session: DeviceSession,
    /// When the last POST of the session arrived.
    pub last_seen: Instant,
    /// When the outstanding ACS request went out, for the round-trip metric.
    pub request_sent: Option<Instant>,
    /// The TCP connection the session last used.
    pub connection: Option<SocketAddr>,
    /// Set once the session is closed: a handler still holding the Arc must not use it.
    pub closed: bool,
    /// The username that authenticated the session; `None` when CPE authentication is off.
    pub identity: Option<String>,
    /// The client address that opened the session (after trusted-proxy resolution).
    pub source: Option<IpAddr>,
}

/// A session slot: the lock serialises the POSTs of one session.
pub type Slot = Arc<tokio::sync::Mutex<Live>>;

/// A session as the registry keeps it: the slot and who may use it, readable without locking
/// the slot (so a refused request never waits for, or touches, the session's state).
#[derive(Debug, Clone)]
struct Entry {
    slot: Slot,
    identity: Option<String>,
    source: Option<IpAddr>,
}

/// How a request relates to the live session it names.
#[derive(Debug)]
pub enum Admission {
    /// The request arrived on a connection admitted into the session: it continues it.
    OnConnection(Slot),
    /// Only the cookie names the session; the request must prove it comes from the same CPE
    /// (authenticate again as `identity`, or come from `source` when authentication is off).
    CookieOnly {
        /// The session.
        slot: Slot,
        /// The session's id, to admit the connection once the request has proved itself.
        id: String,
        /// Who authenticated the session.
        identity: Option<String>,
        /// Where the session was opened from.
        source: Option<IpAddr>,
    },
}

#[derive(Debug, Default)]
struct Maps {
    by_id: HashMap<String, Entry>,
    by_connection: HashMap<SocketAddr, String>,
    by_device: HashMap<String, String>,
}

/// The registry. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    maps: Arc<Mutex<Maps>>,
}

/// What [`Registry::insert`] displaced.
#[derive(Debug)]
pub struct Superseded(pub Slot);

impl Registry {
    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // A poisoned lock only means a panic elsewhere; the maps stay consistent because every
        // mutation below is a single-step insert/remove.
        self.maps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Finds a session by cookie, else by the TCP connection; says whether the request's
    /// connection is one the session admitted.
    pub fn find(&self, cookie: Option<&str>, connection: Option<SocketAddr>) -> Option<Admission> {
        let maps = self.maps();
        let on_connection = connection.and_then(|c| maps.by_connection.get(&c));
        if let Some((id, entry)) = cookie.and_then(|c| maps.by_id.get_key_value(c)) {
            if on_connection == Some(id) {
                return Some(Admission::OnConnection(entry.slot.clone()));
            }
            return Some(Admission::CookieOnly {
                slot: entry.slot.clone(),
                id: id.clone(),
                identity: entry.identity.clone(),
                source: entry.source,
            });
        }
        let entry = maps.by_id.get(on_connection?)?;
        Some(Admission::OnConnection(entry.slot.clone()))
    }

    /// The live session of a device.
    pub fn find_by_device(&self, device_id: &str) -> Option<Slot> {
        let maps = self.maps();
        maps.by_device
            .get(device_id)
            .and_then(|id| maps.by_id.get(id))
            .map(|e| e.slot.clone())
    }

    /// Adds a session; returns the device's previous session, which the caller must close.
    pub fn insert(&self, live: Live) -> (Slot, Option<Superseded>) {
        let id = live.id.clone();
        let device = live.session.device_id().to_owned();
        let connection = live.connection;
        let (identity, source) = (live.identity.clone(), live.source);
        let slot: Slot = Arc::new(tokio::sync::Mutex::new(live));
        let mut maps = self.maps();
        let previous = maps
            .by_device
            .insert(device, id.clone())
            .and_then(|old| maps.by_id.remove(&old))
            .map(|e| e.slot);
        if let Some(c) = connection {
            maps.by_connection.insert(c, id.clone());
        }
        maps.by_id.insert(
            id,
            Entry {
                slot: slot.clone(),
                identity,
                source,
            },
        );
        (slot, previous.map(Superseded))
    }

    /// Admits another TCP connection into a session (a CPE may reconnect mid-session); only
    /// after the request on it proved it comes from the session's CPE.
    pub fn touch_connection(&self, id: &str, connection: Option<SocketAddr>) {
        if let Some(c) = connection {
            self.maps().by_connection.insert(c, id.to_owned());
        }
    }

    /// Forgets a session.
    pub fn remove(&self, id: &str, device_id: &str) {
        let mut maps = self.maps();
        maps.by_id.remove(id);
        maps.by_connection.retain(|_, v| v != id);
        if maps.by_device.get(device_id).is_some_and(|v| v == id) {
            maps.by_device.remove(device_id);
        }
    }

    /// Live sessions right now.
    pub fn len(&self) -> usize {
        self.maps().by_id.len()
    }

    /// Whether no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All slots, for the expiry sweep.
    pub fn slots(&self) -> Vec<Slot> {
        self.maps().by_id.values().map(|e| e.slot.clone()).collect()
    }

    /// Whether a session has been idle longer than `timeout` at `now`.
    pub fn is_idle(live: &Live, now: Instant, timeout: Duration) -> bool {
        now.saturating_duration_since(live.last_seen) > timeout
    }
}

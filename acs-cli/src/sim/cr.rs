//! The connection-request listener shared by all devices: `GET /{serial}`, authenticated with
//! HTTP Digest against the device's ConnectionRequestUsername/Password (no authentication when
//! the password is empty).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use acs_core::auth::AuthOutcome;
use acs_core::secret::Secret;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Shared;

pub(crate) fn spawn(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                accepted = listener.accept() => {
                    let stream = match accepted {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            // Out of file descriptors and the like: do not spin.
                            tracing::warn!("connection-request listener: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let shared = Arc::clone(&shared);
                    let mut stop = shutdown.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |req| {
                            let response = handle(&shared, &req);
                            async move { Ok::<_, Infallible>(response) }
                        });
                        let conn = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service);
                        tokio::select! {
                            _ = conn => {}
                            _ = stop.changed() => {}
                        }
                    });
                }
            }
        }
    })
}

fn response(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// The control endpoint, for tests and demonstrations of line health from outside the
/// process: `POST /{serial}/lines/{n}/deregister` loses line `n`'s registration and
/// `…/register` regains it (see [`super::DeviceHandle::deregister_line`]). 200 when the state
/// changed, 204 when it already was so, 404 for an unknown phone or line. `None`: not a
/// control path.
fn control(shared: &Shared, path: &str) -> Option<Response<Full<Bytes>>> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let [serial, "lines", n, action] = parts.as_slice() else {
        return None;
    };
    let registered = match *action {
        "register" => true,
        "deregister" => false,
        _ => return Some(response(StatusCode::NOT_FOUND)),
    };
    let (Some(&index), Ok(n)) = (shared.by_serial.get(*serial), n.parse::<u32>()) else {
        return Some(response(StatusCode::NOT_FOUND));
    };
    let slot = &shared.devices[index];
    let changed = super::lines::set_registered(
        &mut slot.lock().model,
        &shared.config.profile.root,
        n,
        registered,
    );
    Some(match changed {
        Ok(true) => {
            slot.kick.notify_one();
            response(StatusCode::OK)
        }
        Ok(false) => response(StatusCode::NO_CONTENT),
        Err(_) => response(StatusCode::NOT_FOUND),
    })
}

fn handle(shared: &Shared, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let refused = |status| {
        shared.counters.crs_refused.fetch_add(1, Ordering::Relaxed);
        response(status)
    };
    if req.method() == Method::POST
        && let Some(r) = control(shared, req.uri().path())
    {
        return r;
    }
    if req.method() != Method::GET {
        let mut r = refused(StatusCode::METHOD_NOT_ALLOWED);
        r.headers_mut()
            .insert(ALLOW, "GET".parse().expect("static"));
        return r;
    }
    let serial = req.uri().path().trim_matches('/');
    let Some(&index) = shared.by_serial.get(serial) else {
        return refused(StatusCode::NOT_FOUND);
    };
    let slot = &shared.devices[index];
    let (username, password) = {
        let st = slot.lock();
        let value = |s: &str| st.model.value(&shared.param(s)).unwrap_or_default();
        (
            value("ManagementServer.ConnectionRequestUsername"),
            value("ManagementServer.ConnectionRequestPassword"),
        )
    };
    if !password.is_empty() {
        let authorization = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let lookup = |u: &str| (u == username).then(|| Secret::new(password.clone()));
        let stale = match shared
            .cr_auth
            .verify("GET", authorization, SystemTime::now(), &lookup)
        {
            AuthOutcome::Authenticated { .. } => None,
            AuthOutcome::Stale => Some(true),
            AuthOutcome::Failed { reason } => {
                tracing::debug!(%serial, "connection request refused: {reason}");
                Some(false)
            }
        };
        if let Some(stale) = stale {
            let mut r = refused(StatusCode::UNAUTHORIZED);
            for c in shared.cr_auth.challenge(SystemTime::now(), stale) {
                if let Ok(v) = c.parse() {
                    r.headers_mut().append(WWW_AUTHENTICATE, v);
                }
            }
            return r;
        }
    }
    if slot.busy.load(Ordering::SeqCst) {
        return refused(StatusCode::SERVICE_UNAVAILABLE);
    }
    slot.lock().pending.connection_request = true;
    shared.counters.crs.fetch_add(1, Ordering::Relaxed);
    slot.signal.send_modify(|_| {});
    slot.kick.notify_one();
    tracing::debug!(%serial, "connection request accepted");
    response(StatusCode::OK)
}

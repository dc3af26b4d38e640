//! The CWMP listener's connection stack, assembled from actix's parts: TCP, then TLS when
//! configured, then [`HeaderCaseIo`], then actix-http's HTTP/1 dispatcher running the app.
//!
//! `HttpServer` would build the same stack, but offers no place between the socket and the
//! dispatcher, which is where header names must be respelled (see `header_case`). HTTP/2 is not
//! offered: CWMP is HTTP/1.1 (TR-069 §3.4), and no CPE agent speaks anything else.

use std::net::TcpListener;
use std::time::Duration;

use actix_http::HttpService;
use actix_service::{ServiceFactoryExt, fn_service, map_config};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::rt::net::TcpStream;
use actix_web::{App, Error};

use crate::header_case::HeaderCaseIo;

/// How long a CPE may take over one request head before the connection is dropped: slow CPEs
/// on bad links need longer than actix's 5 s default.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Serving settings that the stack needs from the application.
pub struct Listener {
    pub socket: TcpListener,
    pub keep_alive: Duration,
    pub workers: Option<usize>,
    pub tls: Option<rustls::ServerConfig>,
}

/// Starts serving `app` on the listener; the returned server runs once awaited or spawned.
pub fn serve<F, T, B>(listener: Listener, app: F) -> std::io::Result<Server>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let mut builder = Server::build().disable_signals();
    if let Some(workers) = listener.workers {
        builder = builder.workers(workers);
    }
    let keep_alive = listener.keep_alive;
    let server = match listener.tls {
        None => builder.listen("cwmp", listener.socket, move || {
            let http = HttpService::build()
                .keep_alive(keep_alive)
                .client_request_timeout(REQUEST_HEAD_TIMEOUT)
                .on_connect_ext(note_responses_of)
                .h1(map_config(app(), |_| AppConfig::default()));
            fn_service(|io: TcpStream| async move {
                let peer = io.peer_addr().ok();
                // A CWMP session is a ping-pong of small messages: never hold one back.
                let _ = io.set_nodelay(true);
                Ok::<_, actix_http::error::DispatchError>((HeaderCaseIo::new(io), peer))
            })
            .and_then(http)
        })?,
        Some(tls) => {
            let mut acceptor = actix_tls::accept::rustls_0_23::Acceptor::new(tls);
            acceptor.set_handshake_timeout(Duration::from_secs(10));
            builder.listen("cwmps", listener.socket, move || {
                let http = HttpService::build()
                    .keep_alive(keep_alive)
                    .client_request_timeout(REQUEST_HEAD_TIMEOUT)
                    .secure()
                    .on_connect_ext(note_responses_of)
                    .h1(map_config(app(), |_| AppConfig::default()));
                fn_service(|io: TcpStream| async move {
                    let _ = io.set_nodelay(true);
                    Ok::<_, actix_http::error::DispatchError>(io)
                })
                .and_then(acceptor.clone().map_err(|e| {
                    tracing::debug!(error = ?e, "TLS handshake failed");
                    actix_http::error::DispatchError::Io(std::io::Error::other(
                        "TLS handshake failed",
                    ))
                }))
                .and_then(fn_service(
                    |tls: actix_tls::accept::rustls_0_23::TlsStream<TcpStream>| async move {
                        let peer = tls.get_ref().0.peer_addr().ok();
                        Ok::<_, actix_http::error::DispatchError>((HeaderCaseIo::new(tls), peer))
                    },
                ))
                .and_then(http)
            })?
        }
    };
    Ok(server.run())
}

/// Hands the connection's [`ResponseNotes`] to the request side (`edge::note_responses`).
fn note_responses_of<T>(io: &HeaderCaseIo<T>, extensions: &mut actix_http::Extensions) {
    extensions.insert(io.notes());
}

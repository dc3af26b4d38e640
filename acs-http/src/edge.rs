//! The edge of the CWMP listener: what is decided about a request before its body is read, and
//! reading the body within a size and a time limit.
//!
//! Architecture invariant: when CPE authentication is on, a request that neither authenticates
//! nor arrives on a connection admitted into a live session is answered before its body is
//! read. At most [`DRAIN_LIMIT`] declared bytes are read to keep the connection usable for the
//! CPE's Digest retry; anything larger, or of unknown length, is refused unread and the
//! connection closed, so an unauthenticated client costs the server no body memory.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use std::time::Duration;

/// A refused request declaring at most this many body bytes is read (and discarded) before the
/// refusal, so the CPE can retry with credentials on the same connection. Real Informs are a
/// few KiB.
pub const DRAIN_LIMIT: u64 = 64 * 1024;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More than the configured maximum.
    #[error("request body larger than {limit} bytes")]
    TooLarge {
        /// The maximum.
        limit: usize,
    },
    /// The body did not arrive within the configured time.
    #[error("request body not received within {}s", .0.as_secs())]
    Timeout(Duration),
    /// The client broke the framing or went away.
    #[error("request body could not be read: {0}")]
    Broken(String),
}

impl BodyError {
    /// The answer; the connection is closed, since the rest of the body is still on it.
    pub fn response(&self, payload: web::Payload) -> HttpResponse {
        let mut response = match self {
            BodyError::TooLarge { .. } => HttpResponse::PayloadTooLarge(),
            BodyError::Timeout(_) => HttpResponse::RequestTimeout(),
            BodyError::Broken(_) => HttpResponse::BadRequest(),
        };
        close_unread(response.body(format!("{self}\n")), payload)
    }
}

/// The declared `Content-Length`, `None` when absent or chunked.
fn declared_length(req: &HttpRequest) -> Option<u64> {
    if req.headers().contains_key(header::TRANSFER_ENCODING) {
        return None;
    }
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Whether the request carries a body at all (a chunked body counts even if it turns out empty).
fn has_body(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::TRANSFER_ENCODING) || declared_length(req).unwrap_or(0) > 0
}

/// Reads the whole body: at most `limit` bytes, all of it within `timeout`.
pub async fn read_body(
    req: &HttpRequest,
    payload: &mut web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<web::Bytes, BodyError> {
    let declared = declared_length(req);
    if declared.is_some_and(|n| n > limit as u64) {
        // Refused on the header alone: nothing of it is read.
        return Err(BodyError::TooLarge { limit });
    }
    let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit));
    let read = async {
        let mut body = web::BytesMut::with_capacity(capacity);
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| BodyError::Broken(e.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(BodyError::Timeout(timeout)))
}

/// Answers a request refused before its body was read. A small declared body is read and
/// dropped first so the connection stays usable (a CPE answers a 401 on the same connection);
/// anything else closes the connection with the body unread.
pub async fn refuse_unread(
    req: &HttpRequest,
    mut payload: web::Payload,
    timeout: Duration,
    response: HttpResponse,
) -> HttpResponse {
    if !has_body(req) {
        return response;
    }
    let small = declared_length(req).is_some_and(|n| n <= DRAIN_LIMIT);
    // The limit is the declared size, so reading can never go beyond DRAIN_LIMIT.
    if small
        && read_body(req, &mut payload, DRAIN_LIMIT as usize, timeout)
            .await
            .is_ok()
    {
        return response;
    }
    close_unread(response, payload)
}

/// Sends `response` and closes the connection without reading the rest of the body.
///
/// actix discards (reads to the end) a dropped chunked body to keep the connection alive, which
/// a chunked body that never ends would make endless. Holding the payload until the response is
/// written makes actix see it unread, so it closes the connection instead.
fn close_unread(response: HttpResponse, payload: web::Payload) -> HttpResponse {
    let mut response = response.map_body(|_, body| {
        actix_web::body::BoxBody::new(HoldingPayload {
            body,
            _payload: payload,
        })
    });
    response
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    response
}

/// A response body that keeps the request's payload alive until it has been written.
struct HoldingPayload {
    body: actix_web::body::BoxBody,
    _payload: web::Payload,
}

impl actix_web::body::MessageBody for HoldingPayload {
    type Error = <actix_web::body::BoxBody as actix_web::body::MessageBody>::Error;

    fn size(&self) -> actix_web::body::BodySize {
        self.body.size()
    }

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<web::Bytes, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_next(cx)
    }
}

/// Writes every response of the CWMP listener with title-case header names
/// (`Set-Cookie`, `Content-Type`), and notes for the connection's `HeaderCaseIo` which
/// responses answer HEAD (so it can tell where each one ends) before actix-http encodes them.
/// HTTP says names are case-insensitive, but some deployed CPE agents compare them byte for
/// byte. Handler and extractor errors reach this point as responses already (actix turns them
/// into one per route), so they are covered; the note is taken even when the inner service
/// fails, because actix still writes a response for that failure.
pub fn note_responses<S, B>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>>
+ use<S, B>
where
    S: actix_web::dev::Service<
            actix_web::dev::ServiceRequest,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
{
    let notes = req
        .conn_data::<crate::header_case::ResponseNotes>()
        .cloned();
    let head = req.method() == actix_web::http::Method::HEAD;
    let call = srv.call(req);
    async move {
        let result = call.await;
        if let Some(notes) = notes {
            notes.push(head);
        }
        let mut response = result?;
        response
            .response_mut()
            .head_mut()
            .set_camel_case_headers(true);
        Ok(response)
    }
}

/// Proxies (addresses or networks) whose X-Forwarded-For is believed, shared by the CWMP
/// endpoint and the file server.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<acs_core::config::IpNetwork>);

/// The client's address: the peer, or the last X-Forwarded-For hop when the peer is a trusted
/// proxy.
pub fn client_ip(
    req: &actix_web::HttpRequest,
    trusted: &[acs_core::config::IpNetwork],
) -> Option<std::net::IpAddr> {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
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
            v.rsplit(',').map(str::trim).find_map(|h| {
                h.parse::<std::net::IpAddr>()
                    .ok()
                    .filter(|ip| !is_trusted(*ip))
            })
        })
        .or(Some(peer))
}

//! The file server for CPEs: `GET`/`HEAD /files/t/{token}/{name}` and `/files/d/{name}` on the
//! CWMP listener.
//!
//! Every download is authorised for one device and a known set of files; nothing is served to
//! an unauthenticated client. A per-transfer token in the URL
//! ([`acs_core::files::TransferToken`]) opens the file of its own Download and, when that file
//! is an MPP release manifest (`.loads`), the files of the same release the manifest names
//! (SPEC §9), looked up among the stored files that suit the device's product class.
//! `/files/d/{name}` with a device's own credentials opens only the files assigned to it: by a
//! provisioning rule that applies to it, or by an unfinished Download task of its own (a job's
//! or a rollout's included), and the files of such a release. A variables CSV
//! ([`FileKind::Vars`]) is never served, under any name or token.
//!
//! HTTP behaviour (RFC 9110), which MPP phones and other CPEs rely on: `ETag` is the content's
//! SHA-256 and `If-None-Match` gets 304; one `Range` (`a-b`, `a-`, `-n`) gets 206 with
//! `Content-Range`, an unsatisfiable one 416 with `Content-Range: bytes */size`, several ranges
//! the whole file (allowed, and simpler for small CPE HTTP clients); `If-Range` with another
//! ETag gets the whole file. Bad or expired tokens get 403, unknown files 404. Every request is
//! recorded in the transfer log, so per-device download counts and failures are visible.

use std::io::SeekFrom;
use std::net::IpAddr;
use std::sync::Arc;

use acs_core::files::{FileStore, RenderError, TokenError, TransferToken};
use acs_core::storage::{DeviceRow, FileKind, FileRow, FileTransferRecord, Store};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tracing::warn;

/// Shared state of the file server.
pub struct FileServer {
    /// Content.
    pub files: FileStore,
    /// Metadata and the transfer log.
    pub store: Store,
    key: [u8; 32],
    /// `[files] base_url`: what CPEs are told to fetch from; `None` = the address each CPE
    /// reached the CWMP listener at.
    base_url: std::sync::RwLock<Option<String>>,
}

impl std::fmt::Debug for FileServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key signs download URLs: never printed.
        f.debug_struct("FileServer").finish_non_exhaustive()
    }
}

impl FileServer {
    /// A server over `files`, checking tokens with `key`.
    pub fn new(files: FileStore, store: Store, key: [u8; 32]) -> FileServer {
        FileServer {
            files,
            store,
            key,
            base_url: std::sync::RwLock::new(None),
        }
    }

    /// Sets the base of download URLs (`https://files.example.net:8443`), `None` to derive it
    /// from each CPE's own request.
    pub fn set_base_url(&self, base_url: Option<String>) {
        *self
            .base_url
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            base_url.map(|u| u.trim_end_matches('/').to_owned());
    }

    /// The configured base of download URLs.
    pub fn base_url(&self) -> Option<String> {
        self.base_url
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// A download URL path (`/files/t/<token>/<name>`) for `device_id` to fetch `file`,
    /// valid for `ttl`.
    pub fn download_path(
        &self,
        device_id: &str,
        task_id: Option<i64>,
        file: &FileRow,
        ttl: chrono::TimeDelta,
    ) -> String {
        let token = TransferToken {
            device_id: device_id.to_owned(),
            task_id,
            file_id: file.id,
            file_hash: TransferToken::hash_of(file),
            expires: (Utc::now() + ttl).timestamp(),
        };
        format!("/files/t/{}/{}", token.sign(&self.key), file.name)
    }
}

impl acs_core::driver::DownloadSigner for FileServer {
    fn download_url(
        &self,
        reached_at: &str,
        device_id: &str,
        task_id: i64,
        file: &FileRow,
        ttl: chrono::TimeDelta,
    ) -> String {
        let base = self.base_url().unwrap_or_else(|| reached_at.to_owned());
        format!(
            "{}{}",
            base.trim_end_matches('/'),
            self.download_path(device_id, Some(task_id), file, ttl)
        )
    }
}

impl FileServer {
    /// Renders a stored configuration template for `device`, with the variables CSV the
    /// Download task `task_id` carries (`vars_file_id`), if any.
    pub async fn render(
        &self,
        file: &FileRow,
        device: &DeviceRow,
        task_id: Option<i64>,
    ) -> Result<String, RenderError> {
        let vars_file_id = self.vars_file_of(task_id).await?;
        self.files
            .render_for_device(file, device, vars_file_id)
            .await
    }

    /// The variables CSV a configuration push attached to its Download task.
    async fn vars_file_of(&self, task_id: Option<i64>) -> Result<Option<i64>, RenderError> {
        let Some(task_id) = task_id else {
            return Ok(None);
        };
        let Some(task) = self
            .store
            .get_task(task_id)
            .await
            .map_err(|e| RenderError::Read(e.to_string()))?
        else {
            return Ok(None);
        };
        Ok(match acs_core::tasks::Payload::parse(&task.payload) {
            Ok(acs_core::tasks::Payload::Task(acs_core::tasks::QueuedTask {
                spec: acs_core::tasks::TaskSpec::Download { vars_file_id, .. },
                ..
            })) => vars_file_id,
            _ => None,
        })
    }
}

/// The byte range to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// All of it (no Range header, several ranges, or a Range we do not read).
    Full,
    /// `start..=end`.
    Partial(u64, u64),
    /// Nothing of it can be served.
    Unsatisfiable,
}

/// Interprets a `Range` header for a file of `size` bytes.
pub(crate) fn parse_range(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Full;
    };
    if spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        // Suffix: the last n bytes.
        match b.parse::<u64>() {
            Ok(0) => return RangeAnswer::Unsatisfiable,
            Ok(n) if size > 0 => (size.saturating_sub(n), size - 1),
            Ok(_) => return RangeAnswer::Unsatisfiable,
            Err(_) => return RangeAnswer::Full,
        }
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return RangeAnswer::Full;
        };
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            match b.parse::<u64>() {
                Ok(end) if end >= start => end.min(size.saturating_sub(1)),
                _ => return RangeAnswer::Full,
            }
        };
        if start >= size {
            return RangeAnswer::Unsatisfiable;
        }
        (start, end)
    };
    RangeAnswer::Partial(range.0, range.1)
}

fn etag_of(file: &FileRow) -> String {
    format!("\"{}\"", file.sha256)
}

fn header_str(req: &HttpRequest, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn storage_unavailable() -> HttpResponse {
    plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "storage unavailable; retry later",
    )
}

fn plain(status: StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(format!("{text}\n"))
}

async fn log(server: &FileServer, record: FileTransferRecord) {
    crate::metrics::file_served(&record.outcome, record.bytes);
    if let Err(e) = server.store.record_file_transfer(&record).await {
        warn!(error = %e, "could not record a file transfer");
    }
}

/// What a download sends.
enum Content {
    /// A template rendered for the device (kilobytes, in memory).
    Rendered(Vec<u8>),
    /// A stored file, positioned at the start of the range.
    Stored(tokio::fs::File),
}

fn transfer_record(req: &HttpRequest) -> FileTransferRecord {
    FileTransferRecord {
        file_id: None,
        device_id: None,
        task_id: None,
        remote_ip: req
            .peer_addr()
            .map(|a| a.ip())
            .map(|ip: IpAddr| ip.to_string()),
        status: 0,
        bytes: 0,
        outcome: String::new(),
        at: Utc::now(),
    }
}

/// `GET`/`HEAD /files/d/{name}`: for a CPE that fetches a file on its own rather than by a
/// Download (an MPP phone's upgrade rule pointing at the ACS), authorised by its ACS
/// credentials (`[cpe_auth]`, Digest or Basic as for CWMP). Refused when CPE authentication is
/// off: files are never open to anyone. A device is identified when the username is its device
/// id (per-device credentials); only then can a configuration template be rendered for it.
pub async fn download_authenticated(
    req: HttpRequest,
    path: web::Path<String>,
    server: web::Data<Arc<FileServer>>,
    auth: web::Data<crate::cpe_auth::CpeAuth>,
    proxies: web::Data<crate::edge::TrustedProxies>,
    provisioner: web::Data<acs_core::provision::Provisioner>,
) -> HttpResponse {
    let name = path.into_inner();
    let mut record = transfer_record(&req);
    if auth.mode() == acs_core::auth::CpeAuthMode::None {
        record.status = 403;
        record.outcome = "unauthorized".into();
        log(&server, record).await;
        return plain(
            StatusCode::FORBIDDEN,
            "downloads without a token URL need CPE authentication, which is off ([cpe_auth])",
        );
    }
    let source = crate::edge::client_ip(&req, &proxies.0)
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let username = match auth
        .check(
            req.method().as_str(),
            authorization,
            source,
            std::time::SystemTime::now(),
        )
        .await
    {
        // Credentials bound to a device name it; a shared pair names the device by username.
        crate::cpe_auth::Verdict::Allowed(principal) => {
            principal.map(|p| p.device_id.unwrap_or(p.username))
        }
        crate::cpe_auth::Verdict::Refused(response, reason) => {
            if reason.counts_as_failure() {
                crate::metrics::auth_failure();
                warn!(%source, ?reason, "file server: CPE authentication failed");
                record.status = i32::from(response.status().as_u16());
                record.outcome = "unauthorized".into();
                log(&server, record).await;
            }
            return response;
        }
    };
    let device = match username {
        Some(user) => match server.store.get_device(&user).await {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "file server: reading the device failed");
                return storage_unavailable();
            }
        },
        None => None,
    };
    let Some(device) = device else {
        // Shared credentials name no device, and files are assigned to devices.
        record.status = 403;
        record.outcome = "unauthorized".into();
        log(&server, record).await;
        return plain(
            StatusCode::FORBIDDEN,
            "downloads without a token URL need the device's own credentials (username = device id)",
        );
    };
    record.device_id = Some(device.id.clone());
    let file = match assigned_file(&server, &provisioner, &device, &name).await {
        Ok(Some(f)) => f,
        Ok(None) => return not_found(&server, record, &name).await,
        Err(e) => {
            warn!(error = %e, "file server: reading the device's assignments failed");
            return storage_unavailable();
        }
    };
    serve(&req, &server, file, Some(device), None, record).await
}

/// The file named `name` that `device` may fetch by name: one a rule that applies to it or
/// an unfinished Download of its own sends, or a file of such a release.
async fn assigned_file(
    server: &FileServer,
    provisioner: &acs_core::provision::Provisioner,
    device: &DeviceRow,
    name: &str,
) -> Result<Option<FileRow>, String> {
    let Some(file) = server
        .store
        .find_file_for_device(name, Some(&device.product_class))
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let mut assigned = server
        .store
        .files_of_pending_downloads(&device.id)
        .await
        .map_err(|e| e.to_string())?;
    assigned.extend(
        provisioner
            .files_assigned_to(&device.id)
            .await
            .map_err(|e| e.to_string())?,
    );
    if assigned.contains(&file.id) {
        return Ok(Some(file));
    }
    for id in assigned {
        let Some(release) = server.store.get_file(id).await.map_err(|e| e.to_string())? else {
            continue;
        };
        if server
            .files
            .release_names(&release)
            .await
            .map_err(|e| e.to_string())?
            .contains(name)
        {
            return Ok(Some(file));
        }
    }
    // Unassigned files are reported as absent: the answer tells nothing about what is stored.
    Ok(None)
}

/// `GET`/`HEAD /files/t/{token}/{name}`.
pub async fn download(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    server: web::Data<Arc<FileServer>>,
) -> HttpResponse {
    let (token, name) = path.into_inner();
    let mut record = transfer_record(&req);
    let token = match TransferToken::verify(&token, &server.key, Utc::now().timestamp()) {
        Ok(t) => t,
        Err(e) => {
            record.status = 403;
            record.outcome = match e {
                TokenError::Expired => "token_expired",
                TokenError::Invalid => "unauthorized",
            }
            .into();
            log(&server, record).await;
            return plain(StatusCode::FORBIDDEN, &e.to_string());
        }
    };
    record.device_id = Some(token.device_id.clone());
    record.task_id = token.task_id;
    let device = match server.store.get_device(&token.device_id).await {
        Ok(d) => d,
        Err(e) => {
            warn!(error = %e, "file server: reading the device failed");
            return storage_unavailable();
        }
    };
    let own = match server.store.get_file(token.file_id).await {
        Ok(Some(f)) if token.opens(&f) => f,
        // Deleted, or deleted and its id reused by other content.
        Ok(_) => return not_found(&server, record, &name).await,
        Err(e) => {
            warn!(error = %e, "file server: reading the file failed");
            return storage_unavailable();
        }
    };
    let file = if own.name == name {
        own
    } else {
        match release_file(&server, &own, &name, device.as_ref()).await {
            Ok(Release::File(f)) => f,
            Ok(Release::Missing) => return not_found(&server, record, &name).await,
            Ok(Release::NotListed) => {
                record.status = 403;
                record.outcome = "unauthorized".into();
                log(&server, record).await;
                return plain(
                    StatusCode::FORBIDDEN,
                    &format!("this transfer's token does not open {name}"),
                );
            }
            Err(e) => {
                warn!(error = %e, "file server: reading the release failed");
                return storage_unavailable();
            }
        }
    };
    serve(&req, &server, file, device, token.task_id, record).await
}

/// What a token made for one file says about another name.
enum Release {
    /// A file of the same release, stored.
    File(FileRow),
    /// Listed by the release but not stored.
    Missing,
    /// Not part of the token's transfer.
    NotListed,
}

/// The file `name` of the release whose manifest is `own`, for `device`.
async fn release_file(
    server: &FileServer,
    own: &FileRow,
    name: &str,
    device: Option<&DeviceRow>,
) -> Result<Release, String> {
    let listed = server
        .files
        .release_names(own)
        .await
        .map_err(|e| e.to_string())?;
    if !listed.contains(name) {
        return Ok(Release::NotListed);
    }
    let product_class = device
        .map(|d| d.product_class.as_str())
        .or(own.product_class.as_deref());
    Ok(
        match server
            .store
            .find_file_for_device(name, product_class)
            .await
            .map_err(|e| e.to_string())?
        {
            Some(f) => Release::File(f),
            None => Release::Missing,
        },
    )
}

async fn not_found(
    server: &FileServer,
    mut record: FileTransferRecord,
    name: &str,
) -> HttpResponse {
    record.status = 404;
    record.outcome = "not_found".into();
    log(server, record).await;
    plain(StatusCode::NOT_FOUND, &format!("no file named {name}"))
}

/// Answers an authorised request for `file` (for `device`, by the Download `task_id`).
async fn serve(
    req: &HttpRequest,
    server: &FileServer,
    file: FileRow,
    device: Option<DeviceRow>,
    task_id: Option<i64>,
    mut record: FileTransferRecord,
) -> HttpResponse {
    let name = file.name.clone();
    // The last line of defence: whatever route or token led here, a variables CSV holds every
    // phone's secrets and is only ever read by the server.
    if !file.kind.servable() {
        warn!(
            file = file.id,
            "file server: refused to serve a variables file"
        );
        return not_found(server, record, &name).await;
    }
    record.file_id = Some(file.id);
    // A template is rendered for the device asking, never served raw.
    let rendered = if file.kind == FileKind::ConfigTemplate {
        let rendering = match &device {
            Some(d) => server.render(&file, d, task_id).await,
            None => Err(RenderError::Template(
                acs_core::template::TemplateError::Render("the device is not registered".into()),
            )),
        };
        match rendering {
            Ok(text) => Some(text.into_bytes()),
            Err(e) => {
                warn!(error = %e, file = file.id, "file server: template not rendered");
                record.status = 404;
                record.outcome = format!("render_failed: {e}");
                log(server, record).await;
                return plain(StatusCode::NOT_FOUND, &format!("{name}: {e}"));
            }
        }
    } else {
        None
    };
    let (size, etag) = match &rendered {
        Some(bytes) => (
            bytes.len() as u64,
            format!("\"{}\"", acs_core::files::sha256_hex(bytes)),
        ),
        None => (u64::try_from(file.size).unwrap_or(0), etag_of(&file)),
    };

    if header_str(req, header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        record.status = 304;
        record.outcome = "not_modified".into();
        log(server, record).await;
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    let if_range_ok = header_str(req, header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let range = if if_range_ok {
        parse_range(header_str(req, header::RANGE), size)
    } else {
        RangeAnswer::Full
    };
    let (status, start, len) = match range {
        RangeAnswer::Full => (StatusCode::OK, 0, size),
        RangeAnswer::Partial(a, b) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        RangeAnswer::Unsatisfiable => {
            record.status = 416;
            record.outcome = "range_not_satisfiable".into();
            log(server, record).await;
            return HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .insert_header((header::ETAG, etag))
                .finish();
        }
    };
    // What is sent: a rendering in memory (kilobytes) or the stored file, read in place.
    let content = match rendered {
        Some(bytes) => Content::Rendered(bytes),
        None => {
            let mut content = match server.files.open(&file).await {
                Ok(f) => f,
                Err(e) => {
                    warn!(error = %e, file = file.id, "file server: content missing");
                    record.status = 500;
                    record.outcome = "content_missing".into();
                    log(server, record).await;
                    return plain(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "file content unavailable",
                    );
                }
            };
            if start > 0
                && let Err(e) = content.seek(SeekFrom::Start(start)).await
            {
                warn!(error = %e, "file server: seek failed");
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "file content unavailable",
                );
            }
            Content::Stored(content)
        }
    };
    record.status = i32::from(status.as_u16());
    record.bytes = if req.method() == Method::HEAD {
        0
    } else {
        i64::try_from(len).unwrap_or(i64::MAX)
    };
    record.outcome = if status == StatusCode::OK {
        "ok"
    } else {
        "partial"
    }
    .into();
    log(server, record).await;

    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((
            header::CONTENT_TYPE,
            match content {
                Content::Rendered(_) => "application/xml",
                Content::Stored(_) => "application/octet-stream",
            },
        ));
    if status == StatusCode::PARTIAL_CONTENT {
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{size}", start + len - 1),
        ));
    }
    // HEAD goes through the same path: actix sends the headers (with the real Content-Length)
    // and drops the body without reading it.
    let content = match content {
        Content::Rendered(bytes) => {
            let (start, len) = (start as usize, len as usize);
            return response.body(bytes[start..start + len].to_vec());
        }
        Content::Stored(file) => file,
    };
    // 64 KiB reads: the whole image is never in memory. The download counts as active until
    // its body is done or dropped (a CPE that hangs up).
    let active = crate::metrics::ActiveDownload::start();
    let body = acs_core::files::read_chunks(content.take(len), 64 * 1024).map(move |chunk| {
        let _ = &active;
        chunk.map(web::Bytes::from)
    });
    response.no_chunking(len).streaming(body.boxed_local())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let check = |h: Option<&str>, size: u64, want: RangeAnswer| {
            assert_eq!(parse_range(h, size), want, "{h:?} of {size}");
        };
        use RangeAnswer::*;
        check(None, 100, Full);
        check(Some("bytes=0-9"), 100, Partial(0, 9));
        check(Some("bytes=90-"), 100, Partial(90, 99));
        check(Some("bytes=90-500"), 100, Partial(90, 99));
        check(Some("bytes=-10"), 100, Partial(90, 99));
        check(Some("bytes=-500"), 100, Partial(0, 99));
        check(Some("bytes=100-"), 100, Unsatisfiable);
        check(Some("bytes=-0"), 100, Unsatisfiable);
        check(Some("bytes=0-1,5-6"), 100, Full);
        check(Some("bytes=9-3"), 100, Full);
        check(Some("items=0-1"), 100, Full);
        check(Some("bytes=x-1"), 100, Full);
        check(Some("bytes=0-0"), 1, Partial(0, 0));
    }
}

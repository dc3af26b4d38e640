//! A typed client of `/api/v1`: one method per operation, taking and returning the types of
//! this crate.
//!
//! It does transport and decoding only; wording for people (hints, retries, exit codes) is the
//! caller's, which is why every failure is a [`ClientError`] a caller can match on.

use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    AlertList, AlertListQuery, AlertTestQuery, AlertTestQueued, BulkParametersQuery, ClearFaults,
    Cleared, Count, CountQuery, CreateJob, CreateTaskQuery, Device, DeviceList, DeviceListQuery,
    DeviceTaskList, ErrorBody, EventList, EventsQuery, FaultList, FaultListQuery, File, FileList,
    FileListQuery, Job, JobList, JobListQuery, JobTasksQuery, ParameterLine, ParameterList,
    ParametersQuery, ProvisionItem, ProvisionRule, ProvisionRuleInput, RenderRequest, Rendered,
    ResetQuery, ResetResult, ResolveQuery, Task, TaskDefinition, TaskList, TaskListQuery,
    TransferLog, TransferQuery, UploadQuery,
};

/// An error answer of the API: its status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    /// HTTP status.
    pub status: u16,
    /// The `{"error", "message"}` body; for an answer that is not one (a proxy's page), `error`
    /// is empty and `message` says what came.
    pub body: ErrorBody,
}

impl ApiFailure {
    /// Reads an error answer, JSON or not.
    pub fn from_body(status: StatusCode, body: &[u8]) -> ApiFailure {
        let body = serde_json::from_slice::<ErrorBody>(body).unwrap_or_else(|_| {
            let raw = String::from_utf8_lossy(body);
            let raw = raw.trim();
            let message = if raw.is_empty() {
                format!(
                    "the server answered {}",
                    status.canonical_reason().map_or_else(
                        || status.as_u16().to_string(),
                        |r| format!("{} {r}", status.as_u16())
                    )
                )
            } else {
                format!(
                    "the server answered {}: {}",
                    status.as_u16(),
                    truncate(raw, 300)
                )
            };
            ErrorBody {
                error: String::new(),
                message,
                position: None,
            }
        });
        ApiFailure {
            status: status.as_u16(),
            body,
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with an error status.
    #[error("{}", .0.body.message)]
    Api(ApiFailure),
    /// No answer: connection refused, timeout, TLS, a body cut short.
    #[error("talking to the ACS at {server}: {source}")]
    Transport {
        /// The server's URL (a caller may want to say which one it could not reach).
        server: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not the expected JSON.
    #[error("{what}: {source}")]
    Decode {
        /// Which answer (or which line of a streamed one).
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A streamed answer broke off with an error item.
    #[error("{}", .0.message)]
    Aborted(ErrorBody),
    /// A query that cannot be written as a query string (a bug of the caller's types).
    #[error("cannot encode the query: {0}")]
    Query(#[from] serde_urlencoded::ser::Error),
}

impl ClientError {
    /// The API's error answer, if that is what it is.
    pub fn api(&self) -> Option<&ApiFailure> {
        match self {
            ClientError::Api(a) => Some(a),
            _ => None,
        }
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<u16> {
        self.api().map(|a| a.status)
    }
}

/// A client of one server's `/api/v1`, with one bearer token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl std::fmt::Debug for Client {
    // Never the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

type Answer<T> = Result<T, ClientError>;

impl Client {
    /// A client of the NBI at `server` (`http://host:7557`, or with a path prefix a reverse
    /// proxy adds: `https://host/acs`), sending `token`. `http` carries the caller's timeouts
    /// and TLS settings.
    pub fn new(http: reqwest::Client, server: Url, token: impl Into<String>) -> Client {
        let mut base = server;
        // Keep a path prefix (a reverse proxy's /acs) and append api/v1 to it.
        if !base.path().ends_with('/') {
            let p = format!("{}/", base.path());
            base.set_path(&p);
        }
        Client {
            http,
            base,
            token: token.into(),
        }
    }

    /// The server URL, without a trailing `/`.
    pub fn server(&self) -> String {
        let mut s = self.base.to_string();
        if s.ends_with('/') {
            s.pop();
        }
        s
    }

    /// `<server>/api/v1/<segments…>`; each segment is percent-encoded, so a device id with `/`
    /// or `%` stays one segment.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(["api", "v1"]);
            path.extend(segments);
        }
        url
    }

    fn url_with<Q: Serialize>(&self, segments: &[&str], query: &Q) -> Answer<Url> {
        let mut url = self.url(segments);
        let q = serde_urlencoded::to_string(query)?;
        if !q.is_empty() {
            url.set_query(Some(&q));
        }
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.http.request(method, url).bearer_auth(&self.token)
    }

    /// Sends a request; an error status becomes [`ClientError::Api`].
    fn transport(&self, source: reqwest::Error) -> ClientError {
        ClientError::Transport {
            server: self.server(),
            source,
        }
    }

    async fn send(&self, req: RequestBuilder) -> Answer<Response> {
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(ClientError::Api(ApiFailure::from_body(status, &body)))
    }

    async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Answer<T> {
        let resp = self.send(req).await?;
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes).map_err(|source| ClientError::Decode {
            what: "the server's answer is not the expected JSON".into(),
            source,
        })
    }

    async fn get<T: DeserializeOwned>(&self, url: Url) -> Answer<T> {
        self.json(self.request(Method::GET, url)).await
    }

    async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        url: Url,
        body: &B,
    ) -> Answer<T> {
        self.json(self.request(Method::POST, url).json(body)).await
    }

    async fn no_content(&self, method: Method, url: Url) -> Answer<()> {
        self.send(self.request(method, url)).await.map(drop)
    }

    // --- devices ---------------------------------------------------------------------------

    /// `GET /devices`: a page of devices.
    pub async fn list_devices(&self, q: &DeviceListQuery) -> Answer<DeviceList> {
        self.get(self.url_with(&["devices"], q)?).await
    }

    /// `GET /devices/count`.
    pub async fn count_devices(&self, q: &CountQuery) -> Answer<Count> {
        self.get(self.url_with(&["devices", "count"], q)?).await
    }

    /// `GET /devices/resolve`: a device by id, else serial number, else MAC.
    pub async fn resolve_device(&self, name: &str) -> Answer<Device> {
        let q = ResolveQuery {
            name: name.to_owned(),
        };
        self.get(self.url_with(&["devices", "resolve"], &q)?).await
    }

    /// `GET /devices/{id}`.
    pub async fn device(&self, id: &str) -> Answer<Device> {
        self.get(self.url(&["devices", id])).await
    }

    /// `DELETE /devices/{id}`.
    pub async fn delete_device(&self, id: &str) -> Answer<()> {
        self.no_content(Method::DELETE, self.url(&["devices", id]))
            .await
    }

    /// `PUT /devices/{id}/tags/{tag}`.
    pub async fn add_tag(&self, id: &str, tag: &str) -> Answer<()> {
        self.no_content(Method::PUT, self.url(&["devices", id, "tags", tag]))
            .await
    }

    /// `DELETE /devices/{id}/tags/{tag}`.
    pub async fn remove_tag(&self, id: &str, tag: &str) -> Answer<()> {
        self.no_content(Method::DELETE, self.url(&["devices", id, "tags", tag]))
            .await
    }

    /// `GET /devices/{id}/parameters`.
    pub async fn device_parameters(&self, id: &str, q: &ParametersQuery) -> Answer<ParameterList> {
        self.get(self.url_with(&["devices", id, "parameters"], q)?)
            .await
    }

    /// `GET /devices/{id}/events`.
    pub async fn device_events(&self, id: &str, q: &EventsQuery) -> Answer<EventList> {
        self.get(self.url_with(&["devices", id, "events"], q)?)
            .await
    }

    /// `GET /devices/{id}/tasks`.
    pub async fn device_tasks(&self, id: &str) -> Answer<DeviceTaskList> {
        self.get(self.url(&["devices", id, "tasks"])).await
    }

    /// `POST /devices/{id}/tasks`: queues a task (and, as asked, wakes the device and waits).
    pub async fn create_task(
        &self,
        id: &str,
        q: &CreateTaskQuery,
        task: &TaskDefinition,
    ) -> Answer<Task> {
        self.post(self.url_with(&["devices", id, "tasks"], q)?, task)
            .await
    }

    /// `GET /parameters`: stored values over many devices, streamed.
    pub async fn bulk_parameters(&self, q: &BulkParametersQuery) -> Answer<ParameterLines> {
        let resp = self
            .send(self.request(Method::GET, self.url_with(&["parameters"], q)?))
            .await?;
        Ok(ParameterLines {
            server: self.server(),
            resp,
            buf: Vec::new(),
            line_no: 0,
            done: false,
        })
    }

    // --- tasks and faults ------------------------------------------------------------------

    /// `GET /tasks`: a page of tasks.
    pub async fn list_tasks(&self, q: &TaskListQuery) -> Answer<TaskList> {
        self.get(self.url_with(&["tasks"], q)?).await
    }

    /// `GET /tasks/{id}`.
    pub async fn task(&self, id: i64) -> Answer<Task> {
        self.get(self.url(&["tasks", &id.to_string()])).await
    }

    /// `POST /tasks/{id}/cancel`.
    pub async fn cancel_task(&self, id: i64) -> Answer<Task> {
        self.json(self.request(
            Method::POST,
            self.url(&["tasks", &id.to_string(), "cancel"]),
        ))
        .await
    }

    /// `POST /tasks/{id}/retry`: the new task.
    pub async fn retry_task(&self, id: i64) -> Answer<Task> {
        self.json(self.request(Method::POST, self.url(&["tasks", &id.to_string(), "retry"])))
            .await
    }

    /// `GET /faults`: a page of uncleared faults.
    pub async fn list_faults(&self, q: &FaultListQuery) -> Answer<FaultList> {
        self.get(self.url_with(&["faults"], q)?).await
    }

    /// `DELETE /faults/{task_id}`.
    pub async fn clear_fault(&self, task_id: i64) -> Answer<()> {
        self.no_content(Method::DELETE, self.url(&["faults", &task_id.to_string()]))
            .await
    }

    /// `POST /faults/clear`.
    pub async fn clear_faults(&self, body: &ClearFaults) -> Answer<Cleared> {
        self.post(self.url(&["faults", "clear"]), body).await
    }

    // --- alerts ----------------------------------------------------------------------------

    /// `GET /alerts`: recent webhook deliveries, newest first.
    pub async fn list_alerts(&self, q: &AlertListQuery) -> Answer<AlertList> {
        self.get(self.url_with(&["alerts"], q)?).await
    }

    /// `POST /alerts/test`: queues a test alert to every webhook, or to one.
    pub async fn test_alert(&self, q: &AlertTestQuery) -> Answer<AlertTestQueued> {
        self.json(self.request(Method::POST, self.url_with(&["alerts", "test"], q)?))
            .await
    }

    // --- jobs ------------------------------------------------------------------------------

    /// `POST /jobs`.
    pub async fn create_job(&self, job: &CreateJob) -> Answer<Job> {
        self.post(self.url(&["jobs"]), job).await
    }

    /// `GET /jobs`: jobs, newest first.
    pub async fn list_jobs(&self, q: &JobListQuery) -> Answer<JobList> {
        self.get(self.url_with(&["jobs"], q)?).await
    }

    /// `GET /jobs/{id}`.
    pub async fn job(&self, id: i64) -> Answer<Job> {
        self.get(self.url(&["jobs", &id.to_string()])).await
    }

    /// `GET /jobs/{id}/tasks`: a page of the job's tasks with their rollout state.
    pub async fn job_tasks(&self, id: i64, q: &JobTasksQuery) -> Answer<TaskList> {
        self.get(self.url_with(&["jobs", &id.to_string(), "tasks"], q)?)
            .await
    }

    /// `POST /jobs/{id}/cancel`.
    pub async fn cancel_job(&self, id: i64) -> Answer<Job> {
        self.json(self.request(Method::POST, self.url(&["jobs", &id.to_string(), "cancel"])))
            .await
    }

    // --- files -----------------------------------------------------------------------------

    /// `POST /files`: stores `body` (streamed) as a file.
    pub async fn upload_file(&self, q: &UploadQuery, body: reqwest::Body) -> Answer<File> {
        let req = self
            .request(Method::POST, self.url_with(&["files"], q)?)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        self.json(req).await
    }

    /// `GET /files`.
    pub async fn list_files(&self, q: &FileListQuery) -> Answer<FileList> {
        self.get(self.url_with(&["files"], q)?).await
    }

    /// `GET /files/{id}`.
    pub async fn file(&self, id: i64) -> Answer<File> {
        self.get(self.url(&["files", &id.to_string()])).await
    }

    /// `DELETE /files/{id}`.
    pub async fn delete_file(&self, id: i64) -> Answer<()> {
        self.no_content(Method::DELETE, self.url(&["files", &id.to_string()]))
            .await
    }

    /// `GET /devices/{id}/transfers`.
    pub async fn device_transfers(&self, id: &str, q: &TransferQuery) -> Answer<TransferLog> {
        self.get(self.url_with(&["devices", id, "transfers"], q)?)
            .await
    }

    /// `POST /config/render`: a dry run of a configuration template for one device.
    pub async fn render_config(&self, req: &RenderRequest) -> Answer<Rendered> {
        self.post(self.url(&["config", "render"]), req).await
    }

    // --- provisioning ----------------------------------------------------------------------

    /// `GET /provision/rules`.
    pub async fn list_rules(&self) -> Answer<Vec<ProvisionRule>> {
        self.get(self.url(&["provision", "rules"])).await
    }

    /// `GET /provision/rules/{name}`.
    pub async fn rule(&self, name: &str) -> Answer<ProvisionRule> {
        self.get(self.url(&["provision", "rules", name])).await
    }

    /// `POST /provision/rules`.
    pub async fn add_rule(&self, rule: &ProvisionRuleInput) -> Answer<ProvisionRule> {
        self.post(self.url(&["provision", "rules"]), rule).await
    }

    /// `DELETE /provision/rules/{name}`.
    pub async fn remove_rule(&self, name: &str) -> Answer<()> {
        self.no_content(Method::DELETE, self.url(&["provision", "rules", name]))
            .await
    }

    /// `GET /devices/{id}/provisioning`.
    pub async fn device_provisioning(&self, id: &str) -> Answer<Vec<ProvisionItem>> {
        self.get(self.url(&["devices", id, "provisioning"])).await
    }

    /// `DELETE /devices/{id}/provisioning`.
    pub async fn reset_provisioning(&self, id: &str, q: &ResetQuery) -> Answer<ResetResult> {
        self.json(self.request(
            Method::DELETE,
            self.url_with(&["devices", id, "provisioning"], q)?,
        ))
        .await
    }
}

/// The streamed answer of the bulk parameter query, read as it arrives.
#[derive(Debug)]
pub struct ParameterLines {
    server: String,
    resp: Response,
    buf: Vec<u8>,
    line_no: u64,
    done: bool,
}

impl ParameterLines {
    /// The lines that one network chunk completed (possibly none), or `None` at the end. A
    /// caller that writes each batch out before asking for the next uses memory for one
    /// chunk, however many devices there are.
    pub async fn next_batch(&mut self) -> Answer<Option<Vec<ParameterLine>>> {
        if self.done {
            return Ok(None);
        }
        let mut lines = Vec::new();
        let chunk = self
            .resp
            .chunk()
            .await
            .map_err(|source| ClientError::Transport {
                server: self.server.clone(),
                source,
            })?;
        match chunk {
            Some(chunk) => {
                self.buf.extend_from_slice(&chunk);
                let mut start = 0;
                while let Some(i) = self.buf[start..].iter().position(|&b| b == b'\n') {
                    self.line_no += 1;
                    if let Some(line) = parse_line(&self.buf[start..start + i], self.line_no)? {
                        lines.push(line);
                    }
                    start += i + 1;
                }
                self.buf.drain(..start);
            }
            None => {
                self.done = true;
                let rest = std::mem::take(&mut self.buf);
                match parse_line(&rest, self.line_no + 1)? {
                    Some(line) => lines.push(line),
                    None => return Ok(None),
                }
            }
        }
        Ok(Some(lines))
    }
}

/// One line of the NDJSON answer; `None` for a blank line.
fn parse_line(line: &[u8], line_no: u64) -> Answer<Option<ParameterLine>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<ParameterLine>(line) {
        Ok(l) => Ok(Some(l)),
        // A failure after the answer started may arrive as an error item in the stream.
        Err(source) => match serde_json::from_slice::<ErrorBody>(line) {
            Ok(e) => Err(ClientError::Aborted(e)),
            Err(_) => Err(ClientError::Decode {
                what: format!("line {line_no} of the server's answer is not a parameter line"),
                source,
            }),
        },
    }
}

//! Helpers for the end-to-end suites: a running ACS on port 0 and a raw CWMP client.
//!
//! Storage is a temporary SQLite file by default. When `ACS_TEST_DATABASE_URL` names a
//! PostgreSQL server (e.g. `postgres://postgres@127.0.0.1:5432/postgres`), every app gets a
//! fresh database there instead, so the same suites run on both backends.

use acs_core::config::Settings;
use acs_core::cwmp::{
    self, Body, CwmpNamespace, CwmpVersion, Envelope, EventCode, EventStruct, Header,
};
use acs_core::storage::{Store, StoreOptions};
use acs_http::{Application, CwmpState};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that switches the suites to PostgreSQL.
pub const PG_ENV: &str = "ACS_TEST_DATABASE_URL";

/// Installs the TLS crypto provider once (the binary does it in `main`).
pub fn init() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if std::env::var_os("ACS_TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(std::env::var("ACS_TEST_LOG").unwrap_or_default())
            .with_test_writer()
            .try_init();
    }
}

fn unique_name() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "acs_test_{}_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Where a test database lives; dropped with the app.
#[derive(Debug)]
pub enum TestDb {
    /// A temporary SQLite file.
    Sqlite(tempfile::TempDir),
    /// A database created on the PostgreSQL server.
    Postgres {
        /// URL of the server's admin database.
        admin_url: String,
        /// The database created.
        name: String,
    },
}

impl TestDb {
    /// Creates a fresh database and returns its URL.
    pub async fn create() -> (TestDb, String) {
        match std::env::var(PG_ENV) {
            Ok(admin_url) if !admin_url.is_empty() => {
                use sea_orm::ConnectionTrait;
                let name = unique_name();
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("connect to the PostgreSQL admin database");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                let db = TestDb::Postgres { admin_url, name };
                let url = db.url();
                (db, url)
            }
            _ => {
                let db = TestDb::Sqlite(tempfile::tempdir().expect("temp dir"));
                let url = db.url();
                (db, url)
            }
        }
    }

    /// The database's URL (as [`TestDb::create`] returned it).
    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => format!("sqlite://{}/acs.db?mode=rwc", dir.path().display()),
            TestDb::Postgres { admin_url, name } => {
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url.as_str(), |(b, _)| b);
                format!("{base}/{name}")
            }
        }
    }

    /// Drops a PostgreSQL test database (best effort; SQLite files go with the temp dir).
    pub async fn drop_database(&self) {
        if let TestDb::Postgres { admin_url, name } = self {
            use sea_orm::ConnectionTrait;
            if let Ok(admin) = sea_orm::Database::connect(admin_url).await {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                let _ = admin.close().await;
            }
        }
    }
}

/// A running ACS.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT/` of the CWMP listener.
    pub cwmp_url: String,
    /// `http://127.0.0.1:PORT` of the NBI listener.
    pub nbi_url: String,
    /// The endpoint state (registry, store).
    pub state: Arc<CwmpState>,
    /// Storage, for assertions.
    pub store: Store,
    /// The file server (to mint download URLs).
    pub files: Arc<acs_http::files::FileServer>,
    files_dir: std::path::PathBuf,
    db: Option<TestDb>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A fresh directory for a test server's files (removed with the temp dir by the OS; small).
fn test_files_dir() -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "acs-test-files-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The production defaults on port 0 with a fresh data directory, plus the suites' choices.
pub fn test_settings() -> Settings {
    let mut settings = Settings::default();
    settings.data_dir = test_files_dir();
    settings.cwmp.listen = "127.0.0.1:0".parse().expect("addr");
    settings.nbi.listen = "127.0.0.1:0".parse().expect("addr");
    // Off so each suite sees only the requests it queued; the credentials and truth suites
    // turn them on.
    settings.cwmp.provision_connection_request_credentials = false;
    settings.bootstrap.fetch = false;
    // Jobs move on quickly, files stay small, and two workers per listener keep the many
    // servers of a test run within the machine's threads.
    settings.jobs.interval_ms = 100;
    settings.files.max_bytes = 64 * 1024 * 1024;
    settings.cwmp.workers = Some(2);
    settings.nbi.workers = Some(2);
    settings
}

/// Starts an ACS with the test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts an ACS after `configure` has adjusted the settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    init();
    let (db, url) = TestDb::create().await;
    let store = Store::connect(&url, StoreOptions::default())
        .await
        .expect("connect store");
    let mut settings = test_settings();
    configure(&mut settings);
    start(&settings, store, Some(db)).await
}

/// Starts an ACS on an existing store (e.g. to simulate a restart on the same database), the
/// way `acs serve` does: [`Application::build`] and nothing else.
pub async fn start(settings: &Settings, store: Store, db: Option<TestDb>) -> TestApp {
    let app = Application::build(settings, store.clone())
        .await
        .expect("build app");
    let cwmp_url = format!("http://{}/", app.cwmp_addr());
    let nbi_url = format!("http://{}", app.nbi_addr());
    let state = app.cwmp_state();
    let files = app.file_server();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        cwmp_url,
        nbi_url,
        state,
        store,
        files,
        files_dir: settings.data_dir.clone(),
        db,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    /// Stores a file for CPEs (as `POST /api/v1/files` would) and returns its id.
    pub async fn upload(
        &self,
        kind: acs_core::storage::FileKind,
        name: &str,
        version: Option<&str>,
        data: &[u8],
    ) -> i64 {
        let body = futures::stream::iter(vec![Ok::<_, String>(data.to_vec())]);
        self.files
            .files
            .upload(
                acs_core::files::FileMeta {
                    name: name.into(),
                    kind,
                    product_class: None,
                    version: version.map(str::to_owned),
                },
                body,
            )
            .await
            .expect("upload")
            .id
    }

    /// Stops the servers and returns the database, with a freshly connected store, so a new
    /// app can start on it as a restarted process would.
    ///
    /// The old store is closed rather than handed on: its pool holds connections opened on
    /// the stopped server's worker runtimes, and a PostgreSQL connection used after its
    /// runtime shut down fails ("A Tokio 1.x context was found, but it is being shutdown").
    pub async fn stop(mut self) -> (Store, Option<TestDb>) {
        self.shut_down().await;
        let db = self.db.take();
        let Some(url) = db.as_ref().map(TestDb::url) else {
            // Started on a caller's store without a TestDb: the caller owns the store.
            return (self.store.clone(), db);
        };
        let _ = self.store.clone().close().await;
        let store = Store::connect(&url, StoreOptions::default())
            .await
            .expect("reconnect store");
        (store, db)
    }

    async fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Stops and removes the database.
    pub async fn cleanup(mut self) {
        self.shut_down().await;
        let _ = std::fs::remove_dir_all(&self.files_dir);
        if let Some(db) = self.db.take() {
            db.drop_database().await;
        }
    }
}

/// An HTTP response, decoded when it carries an envelope.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body text.
    pub text: String,
}

impl Reply {
    /// The decoded envelope; panics with the body when it is not one.
    pub fn envelope(&self) -> Envelope {
        cwmp::decode(self.text.as_bytes())
            .unwrap_or_else(|e| panic!("status {}: {e}\n{}", self.status, self.text))
    }

    /// The `acs_session` cookie set on this response.
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                v.split(';')
                    .next()
                    .filter(|c| c.starts_with("acs_session="))
                    .map(str::to_owned)
            })
    }
}

/// A hand-driven CPE: raw POSTs with explicit cookie handling, for protocol-level tests.
#[derive(Debug, Clone)]
pub struct RawCpe {
    /// The HTTP client; its pool keeps one connection alive between requests.
    pub client: reqwest::Client,
    /// Where to POST.
    pub url: String,
    /// The cookie to send, once the ACS set one.
    pub cookie: Option<String>,
    /// An Authorization header to send.
    pub authorization: Option<String>,
}

impl RawCpe {
    /// A CPE with its own connection pool.
    pub fn new(url: &str) -> Self {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .expect("client");
        RawCpe {
            client,
            url: url.to_owned(),
            cookie: None,
            authorization: None,
        }
    }

    /// Another CPE over the same connection pool (so, sequentially, the same TCP connection)
    /// with its own cookie: what a pooling proxy in front of the ACS does.
    pub fn sharing(&self) -> RawCpe {
        RawCpe {
            client: self.client.clone(),
            url: self.url.clone(),
            cookie: None,
            authorization: None,
        }
    }

    /// POSTs raw bytes (empty = the empty POST), remembering a session cookie.
    pub async fn post(&mut self, body: impl Into<Vec<u8>>) -> Reply {
        let body = body.into();
        let mut req = self.client.post(&self.url);
        if !body.is_empty() {
            req = req
                .header("Content-Type", "text/xml; charset=\"utf-8\"")
                .header("SOAPAction", "");
        }
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        if let Some(a) = &self.authorization {
            req = req.header("Authorization", a);
        }
        let resp = req.body(body).send().await.expect("POST");
        let reply = Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            text: resp.text().await.expect("body"),
        };
        if let Some(c) = reply.session_cookie() {
            self.cookie = Some(c);
        }
        reply
    }

    /// POSTs an envelope.
    pub async fn send(&mut self, env: &Envelope) -> Reply {
        self.post(cwmp::encode(env).expect("encode")).await
    }
}

/// An Inform from a simple MPP-like device with the given serial and events.
pub fn inform(serial: &str, events: &[EventCode], id: &str) -> Envelope {
    let mut inform = cwmp::examples::inform(0);
    inform.device_id.serial_number = serial.to_owned();
    inform.event = events.iter().cloned().map(EventStruct::new).collect();
    Envelope {
        namespace: CwmpNamespace::for_version(CwmpVersion::V1_2),
        header: Header {
            id: Some(id.to_owned()),
            ..Header::default()
        },
        body: Body::Inform(inform),
    }
}

/// The device key of [`inform`]'s device.
pub fn device_key(serial: &str) -> String {
    let Body::Inform(i) = inform(serial, &[], "0").body else {
        unreachable!()
    };
    i.device_id.device_key()
}

/// Percent-encodes one URL path segment or query value (device ids contain `%`, filters
/// contain spaces and quotes): everything but unreserved characters is escaped.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Validates `spec` and queues it for `device` straight in storage; returns the task id.
pub async fn queue_task(app: &TestApp, device: &str, spec: acs_core::tasks::TaskSpec) -> i64 {
    spec.validate().expect("valid task");
    app.store
        .enqueue_task(&acs_core::storage::NewTask::for_spec(device, &spec))
        .await
        .expect("enqueue task")
        .id
}

/// Creates an API token with `role` named `name` and returns the token itself.
pub async fn api_token(app: &TestApp, name: &str, role: acs_core::storage::Role) -> String {
    let (_, secret) = app
        .store
        .create_token(name, role, chrono::Utc::now())
        .await
        .expect("create token");
    secret.expose().to_owned()
}

/// A northbound API client: one base URL and an optional bearer token.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Api {
    // The token stays out of test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// An API response.
#[derive(Debug)]
pub struct ApiReply {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body text.
    pub text: String,
}

impl ApiReply {
    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("status {}: {e}: {}", self.status, self.text))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Api {
    /// A client for `app`'s NBI with `token` (none: unauthenticated).
    pub fn new(app: &TestApp, token: Option<&str>) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: app.nbi_url.clone(),
            token: token.map(str::to_owned),
        }
    }

    /// Sends `method path` (path from `/api/v1/…` on) with a raw body and content type.
    pub async fn raw(&self, method: &str, path: &str, body: Option<(Vec<u8>, &str)>) -> ApiReply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some((bytes, content_type)) = body {
            req = req.header("Content-Type", content_type).body(bytes);
        }
        let resp = req.send().await.expect("API request");
        ApiReply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            text: resp.text().await.expect("API body"),
        }
    }

    /// Sends `method path` with an optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> ApiReply {
        let body = body.map(|b| (b.to_string().into_bytes(), "application/json"));
        self.raw(method, path, body).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> ApiReply {
        self.call("GET", path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> ApiReply {
        self.call("POST", path, Some(body)).await
    }
}

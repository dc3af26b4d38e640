//! The northbound REST API (`/api/v1`, docs/NBI.md) over real HTTP: roles, errors, devices,
//! tasks run through CPE sessions, faults, bulk jobs, the NDJSON parameter query and the
//! checked-in OpenAPI document.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use acs_core::cwmp::{self, Body, Envelope, EventCode};
use acs_core::storage::Role;
use acs_tests::{Api, ApiReply, RawCpe, TestApp, device_key, enc, inform, spawn_app};
use serde_json::{Value, json};

/// Everything a test needs: the app and a client per role.
struct Fixture {
    app: TestApp,
    anon: Api,
    viewer: Api,
    operator: Api,
    admin: Api,
}

async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let viewer = acs_tests::api_token(&app, "viewer", Role::Viewer).await;
    let operator = acs_tests::api_token(&app, "ops", Role::Operator).await;
    let admin = acs_tests::api_token(&app, "root", Role::Admin).await;
    Fixture {
        anon: Api::new(&app, None),
        viewer: Api::new(&app, Some(&viewer)),
        operator: Api::new(&app, Some(&operator)),
        admin: Api::new(&app, Some(&admin)),
        app,
    }
}

/// One request and what must come back: the status and, for an error, the `error` code (every
/// error must be the JSON error shape).
async fn check(
    api: &Api,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
    error: Option<&str>,
) -> ApiReply {
    let r = api.call(method, path, body.as_ref()).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.text);
    if status >= 400 {
        let j = r.json();
        assert_eq!(j["error"].as_str(), error, "{method} {path}: {}", r.text);
        assert!(j["message"].is_string(), "{method} {path}: {}", r.text);
    }
    r
}

/// A request for [`check`]: client, method, path, body, status, error code.
type Case<'a> = (
    &'a Api,
    &'a str,
    String,
    Option<Value>,
    u16,
    Option<&'a str>,
);

/// A generous deadline for things that happen in the background (the job runner): tests poll
/// for a state instead of sleeping a guessed time.
struct Deadline(Instant);

impl Deadline {
    fn new() -> Deadline {
        Deadline(Instant::now() + Duration::from_secs(30))
    }

    async fn wait(&self, what: &str) {
        assert!(Instant::now() < self.0, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Path of a device resource.
fn dev(id: &str) -> String {
    format!("/api/v1/devices/{}", enc(id))
}

/// First contact of a device (BOOTSTRAP + BOOT), with an optional ConnectionRequestURL and
/// product class; returns its id.
async fn register_with(app: &TestApp, serial: &str, cr_url: Option<&str>, class: &str) -> String {
    let mut env = inform(serial, &[EventCode::Bootstrap, EventCode::Boot], "1");
    let Body::Inform(i) = &mut env.body else {
        unreachable!()
    };
    if !class.is_empty() {
        i.device_id.product_class = class.to_owned();
    }
    if let Some(url) = cr_url {
        for p in &mut i.parameter_list {
            if p.name.ends_with("ConnectionRequestURL") {
                p.value = url.to_owned();
            }
        }
    }
    let id = i.device_id.device_key();
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(cpe.send(&env).await.status, 200);
    assert_eq!(cpe.post(Vec::new()).await.status, 204);
    id
}

async fn register(app: &TestApp, serial: &str) -> String {
    let id = register_with(app, serial, None, "").await;
    assert_eq!(id, device_key(serial));
    id
}

/// Answers a GetParameterValues with `v2` for every name asked.
fn answer_ok(request: &Body) -> Body {
    let Body::GetParameterValues(gpv) = request else {
        panic!("unexpected request {}", request.element_name())
    };
    Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
        parameter_list: gpv
            .parameter_names
            .iter()
            .map(|n| cwmp::ParameterValue::string(n.clone(), "v2"))
            .collect(),
    })
}

/// Answers anything with fault 9005 (invalid parameter name: not worth retrying).
fn answer_fault(_: &Body) -> Body {
    Body::Fault(cwmp::SoapFault::new(cwmp::CwmpFault::new(
        cwmp::FaultCode::InvalidParameterName,
    )))
}

/// One periodic session of `serial`: every request the ACS sends is answered with
/// `answer(request)` until the ACS ends the session. Returns the requests' names.
async fn session(app: &TestApp, serial: &str, answer: fn(&Body) -> Body) -> Vec<String> {
    let mut cpe = RawCpe::new(&app.cwmp_url);
    assert_eq!(
        cpe.send(&inform(serial, &[EventCode::Periodic], "1"))
            .await
            .status,
        200
    );
    let mut names = Vec::new();
    let mut reply = cpe.post(Vec::new()).await;
    while reply.status == 200 {
        let request = reply.envelope();
        names.push(request.body.element_name().to_owned());
        let env = Envelope::new(
            request.namespace.clone(),
            request.header.id.clone(),
            answer(&request.body),
        );
        reply = cpe.send(&env).await;
    }
    assert_eq!(reply.status, 204, "{}", reply.text);
    names
}

fn gpv(name: &str) -> Value {
    json!({"kind": "get_parameter_values", "names": [name]})
}

/// A connection-request target on loopback that accepts every request and counts them.
async fn cr_listener() -> (String, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cr", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, hits)
}

/// Who may do what, and what errors look like: one row per request.
#[rustfmt::skip]
fn cases<'a>(f: &'a Fixture, id: &str) -> Vec<Case<'a>> {
    let d = dev(id);
    let tag = format!("{d}/tags/lab");
    let tasks = format!("{d}/tasks");
    let job = json!({"task": {"kind": "reboot"}, "devices": [id]});
    let reboot = || Some(json!({"kind": "reboot"}));
    let nobody_tasks = format!("{}/tasks", dev("no-such-device"));
    vec![
        // Viewer: reads only.
        (&f.viewer, "GET", d.clone(), None, 200, None),
        (&f.viewer, "PUT", tag.clone(), None, 403, Some("forbidden")),
        (&f.viewer, "POST", tasks.clone(), reboot(), 403, Some("forbidden")),
        (&f.viewer, "POST", "/api/v1/jobs".into(), Some(job.clone()), 403, Some("forbidden")),
        (&f.viewer, "POST", "/api/v1/faults/clear".into(), Some(json!({})), 403, Some("forbidden")),
        (&f.viewer, "DELETE", d.clone(), None, 403, Some("forbidden")),
        // Operator: mutations, but no device deletion.
        (&f.operator, "PUT", tag.clone(), None, 204, None),
        (&f.operator, "DELETE", d.clone(), None, 403, Some("forbidden")),
        // Errors are JSON whatever produced them.
        (&f.viewer, "GET", "/api/v1/no/such/route".into(), None, 404, Some("not_found")),
        (&f.viewer, "POST", "/api/v1/devices".into(), Some(json!({})), 405, Some("method_not_allowed")),
        (&f.viewer, "GET", "/api/v1/devices?limit=abc".into(), None, 400, Some("invalid_request")),
        (&f.viewer, "GET", "/api/v1/devices?limit=0".into(), None, 400, Some("invalid_request")),
        (&f.viewer, "GET", "/api/v1/devices?limit=1001".into(), None, 400, Some("invalid_request")),
        (&f.viewer, "GET", "/api/v1/devices?filtr=x".into(), None, 400, Some("invalid_request")),
        (&f.viewer, "GET", "/api/v1/devices?sort=color".into(), None, 400, Some("invalid_request")),
        (&f.viewer, "GET", "/api/v1/devices?sort=-last_inform".into(), None, 200, None),
        (&f.viewer, "GET", "/api/v1/devices?sort=-mac".into(), None, 200, None),
        (&f.viewer, "GET", "/api/v1/devices?sort=oui".into(), None, 200, None),
        (&f.viewer, "GET", "/api/v1/devices?sort=manufacturer".into(), None, 200, None),
        (&f.viewer, "GET", "/api/v1/devices?after=garbage".into(), None, 400, Some("invalid_request")),
        (&f.viewer, "GET", "/api/v1/tasks/abc".into(), None, 400, Some("invalid_request")),
        (&f.viewer, "GET", "/api/v1/tasks?state=sleeping".into(), None, 400, Some("invalid_request")),
        (&f.viewer, "GET", "/api/v1/tasks/999999".into(), None, 404, Some("not_found")),
        (&f.viewer, "GET", dev("no-such-device"), None, 404, Some("not_found")),
        (&f.operator, "POST", tasks.clone(), Some(json!({"kind": "launch_rockets"})), 400, Some("invalid_request")),
        (&f.operator, "POST", tasks.clone(), Some(gpv_names(&[])), 400, Some("invalid_request")),
        (&f.operator, "POST", tasks.clone() + "?max_attempts=0", reboot(), 400, Some("invalid_request")),
        (&f.operator, "POST", tasks.clone() + "?wait=soon", reboot(), 400, Some("invalid_request")),
        (&f.operator, "POST", nobody_tasks, reboot(), 404, Some("not_found")),
        (&f.operator, "POST", "/api/v1/jobs".into(), Some(json!({"task": {"kind": "reboot"}})), 400, Some("invalid_request")),
        (&f.operator, "POST", "/api/v1/jobs".into(), Some(json!({"task": {"kind": "reboot"}, "filter": "serial ="})), 400, Some("invalid_filter")),
        (&f.operator, "POST", "/api/v1/jobs".into(), Some(json!({"task": {"kind": "reboot"}, "filter": "serial = NOBODY"})), 400, Some("invalid_request")),
        // Admin: everything.
        (&f.admin, "DELETE", d.clone(), None, 204, None),
        (&f.admin, "GET", d.clone(), None, 404, Some("not_found")),
        (&f.admin, "DELETE", d, None, 404, Some("not_found")),
    ]
}

fn gpv_names(names: &[&str]) -> Value {
    json!({"kind": "get_parameter_values", "names": names})
}

#[tokio::test]
async fn roles_and_error_shapes() {
    let f = fixture().await;
    let id = register(&f.app, "AUTHZ1").await;
    let d = dev(&id);
    let bogus = Api::new(&f.app, Some(&format!("acs_AAAAAAAA_{}", "B".repeat(32))));

    // Unauthenticated or unknown: 401 with a Bearer challenge, on every kind of route.
    for (api, method, path) in [
        (&f.anon, "GET", "/api/v1/devices"),
        (&f.anon, "DELETE", d.as_str()),
        (&f.anon, "GET", "/api/v1/no/such/route"),
        (&bogus, "GET", "/api/v1/devices"),
    ] {
        let r = check(api, method, path, None, 401, Some("unauthorized")).await;
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{challenge}");
    }

    for (api, method, path, body, status, error) in cases(&f, &id) {
        check(api, method, &path, body, status, error).await;
    }

    // The invalid task's message says what is wrong.
    let id = register(&f.app, "AUTHZ2").await;
    let tasks = format!("{}/tasks", dev(&id));
    let r = check(
        &f.operator,
        "POST",
        &tasks,
        Some(gpv_names(&[])),
        400,
        Some("invalid_request"),
    )
    .await;
    assert!(
        r.json()["message"].as_str().unwrap().contains("names"),
        "{}",
        r.text
    );

    // Bodies that are not JSON, or too large.
    let r = f
        .operator
        .raw(
            "POST",
            &tasks,
            Some((b"{not json".to_vec(), "application/json")),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_request")),
        "{}",
        r.text
    );
    let r = f
        .operator
        .raw(
            "POST",
            &tasks,
            Some((b"kind=reboot".to_vec(), "text/plain")),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("invalid_request")),
        "{}",
        r.text
    );
    let huge = format!(
        r#"{{"kind":"get_parameter_values","names":["{}"]}}"#,
        "x".repeat(2 << 20)
    );
    let r = f
        .operator
        .raw(
            "POST",
            &tasks,
            Some((huge.clone().into_bytes(), "application/json")),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (413, Some("payload_too_large")),
        "{}",
        r.text
    );
    let r = f
        .operator
        .raw(
            "POST",
            "/api/v1/faults/clear",
            Some((huge.into_bytes(), "application/json")),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (413, Some("payload_too_large")),
        "{}",
        r.text
    );

    // Health, metrics and the OpenAPI document need no token.
    for path in ["/healthz", "/metrics", "/api/v1/openapi.json"] {
        assert_eq!(f.anon.get(path).await.status, 200, "{path}");
    }
    f.app.cleanup().await;
}

#[tokio::test]
async fn device_listing_filters_sorts_pages_and_resolves() {
    let f = fixture().await;
    let mut ids = Vec::new();
    for n in 1..=5 {
        ids.push(register(&f.app, &format!("PAGE{n}")).await);
    }
    for id in [&ids[1], &ids[3]] {
        check(
            &f.operator,
            "PUT",
            &format!("{}/tags/lab", dev(id)),
            None,
            204,
            None,
        )
        .await;
    }

    // Keyset paging by id: every device once, in order, `next` null on the last page.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/api/v1/devices?limit=2".to_owned();
        if let Some(a) = &after {
            path += &format!("&after={}", enc(a));
        }
        let page = check(&f.viewer, "GET", &path, None, 200, None).await.json();
        let devices = page["devices"].as_array().unwrap();
        assert!(devices.len() <= 2);
        seen.extend(devices.iter().map(|d| d["id"].as_str().unwrap().to_owned()));
        pages += 1;
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!((seen, pages), (sorted, 3));

    // Descending by serial number, paged.
    let first = check(
        &f.viewer,
        "GET",
        "/api/v1/devices?sort=-serial_number&limit=2",
        None,
        200,
        None,
    )
    .await
    .json();
    let serials = |page: &Value| -> Vec<String> {
        page["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["serial_number"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(serials(&first), ["PAGE5", "PAGE4"]);
    let second = check(
        &f.viewer,
        "GET",
        &format!(
            "/api/v1/devices?sort=-serial_number&limit=2&after={}",
            enc(first["next"].as_str().unwrap())
        ),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(serials(&second), ["PAGE3", "PAGE2"]);

    // Filters, and their errors with the column.
    let lab = check(
        &f.viewer,
        "GET",
        &format!("/api/v1/devices?filter={}", enc("tag = lab")),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(serials(&lab), ["PAGE2", "PAGE4"]);
    assert_eq!(lab["devices"][0]["tags"], json!(["lab"]));
    let count = check(
        &f.viewer,
        "GET",
        &format!(
            "/api/v1/devices/count?filter={}",
            enc("tag = lab or serial = PAGE5")
        ),
        None,
        200,
        None,
    )
    .await;
    assert_eq!(count.json(), json!({"count": 3}));
    let r = check(
        &f.viewer,
        "GET",
        &format!("/api/v1/devices?filter={}", enc("serial = PAGE1 and")),
        None,
        400,
        Some("invalid_filter"),
    )
    .await;
    assert!(
        r.json()["position"].as_u64().is_some_and(|p| p > 1),
        "{}",
        r.text
    );

    // Resolve: by id, by serial, ambiguous, unknown.
    for name in [ids[2].as_str(), "PAGE3"] {
        let d = check(
            &f.viewer,
            "GET",
            &format!("/api/v1/devices/resolve?name={}", enc(name)),
            None,
            200,
            None,
        )
        .await
        .json();
        assert_eq!(d["id"], ids[2].as_str());
    }
    register_with(&f.app, "TWIN", None, "CLASS-A").await;
    register_with(&f.app, "TWIN", None, "CLASS-B").await;
    let r = check(
        &f.viewer,
        "GET",
        "/api/v1/devices/resolve?name=TWIN",
        None,
        409,
        Some("ambiguous"),
    )
    .await;
    assert!(
        r.json()["message"].as_str().unwrap().contains("CLASS"),
        "{}",
        r.text
    );
    check(
        &f.viewer,
        "GET",
        "/api/v1/devices/resolve?name=NOPE",
        None,
        404,
        Some("not_found"),
    )
    .await;
    f.app.cleanup().await;
}

#[tokio::test]
async fn device_details_parameters_events_and_tags() {
    let f = fixture().await;
    let id = register(&f.app, "SHOW1").await;
    session(&f.app, "SHOW1", answer_ok).await;
    let d = dev(&id);

    check(
        &f.operator,
        "PUT",
        &format!("{d}/tags/zeta"),
        None,
        204,
        None,
    )
    .await;
    check(
        &f.operator,
        "PUT",
        &format!("{d}/tags/{}", enc("alpha beta")),
        None,
        204,
        None,
    )
    .await;
    check(
        &f.operator,
        "PUT",
        &format!("{d}/tags/zeta"),
        None,
        204,
        None,
    )
    .await;
    let show = check(&f.viewer, "GET", &d, None, 200, None).await;
    let device = show.json();
    assert_eq!(device["id"], id.as_str());
    assert_eq!(device["serial_number"], "SHOW1");
    assert_eq!(device["tags"], json!(["alpha beta", "zeta"]));
    assert_eq!(device["software_version"], "sip88xx.12-0-2MPP-1");
    assert!(
        device["last_inform"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
    );
    assert!(
        !show.text.to_ascii_lowercase().contains("password"),
        "{}",
        show.text
    );

    check(
        &f.operator,
        "DELETE",
        &format!("{d}/tags/zeta"),
        None,
        204,
        None,
    )
    .await;
    check(
        &f.operator,
        "DELETE",
        &format!("{d}/tags/zeta"),
        None,
        404,
        Some("not_found"),
    )
    .await;
    check(
        &f.operator,
        "PUT",
        &format!("{}/tags/x", dev("nobody")),
        None,
        404,
        Some("not_found"),
    )
    .await;

    let params = check(
        &f.viewer,
        "GET",
        &format!("{d}/parameters?prefix={}", enc("Device.DeviceInfo.")),
        None,
        200,
        None,
    )
    .await
    .json();
    let params = params["parameters"].as_array().unwrap();
    assert!(params.iter().all(|p| {
        p["name"]
            .as_str()
            .unwrap()
            .starts_with("Device.DeviceInfo.")
    }));
    let sw = params
        .iter()
        .find(|p| p["name"] == "Device.DeviceInfo.SoftwareVersion")
        .expect("software version stored");
    assert_eq!(sw["value"], "sip88xx.12-0-2MPP-1");
    assert_eq!(sw["type"], "xsd:string");
    assert!(
        sw["updated_at"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        "{sw}"
    );
    let all = check(
        &f.viewer,
        "GET",
        &format!("{d}/parameters"),
        None,
        200,
        None,
    )
    .await
    .json();
    assert!(all["parameters"].as_array().unwrap().len() > params.len());

    let events = check(&f.viewer, "GET", &format!("{d}/events"), None, 200, None)
        .await
        .json();
    let codes: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes.first(),
        Some(&"2 PERIODIC"),
        "newest first: {codes:?}"
    );
    assert!(codes.contains(&"0 BOOTSTRAP"), "{codes:?}");
    let one = check(
        &f.viewer,
        "GET",
        &format!("{d}/events?limit=1"),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(one["events"].as_array().unwrap().len(), 1);
    check(
        &f.viewer,
        "GET",
        &format!("{}/events", dev("nobody")),
        None,
        404,
        Some("not_found"),
    )
    .await;
    f.app.cleanup().await;
}

#[tokio::test]
async fn a_task_runs_through_a_session_and_wait_reports_it() {
    let f = fixture().await;
    let (cr_url, hits) = cr_listener().await;
    let id = register_with(&f.app, "RUN1", Some(&cr_url), "").await;
    let tasks = format!("{}/tasks", dev(&id));

    // Nobody picks it up within a second: 202, still queued.
    let r = check(
        &f.operator,
        "POST",
        &format!("{tasks}?wait=1"),
        Some(json!({"kind": "reboot"})),
        202,
        None,
    )
    .await;
    let queued = r.json();
    assert_eq!(
        (queued["state"].as_str(), queued["kind"].as_str()),
        (Some("queued"), Some("reboot"))
    );
    assert!(queued.get("connection_request").is_none(), "{queued}");
    let cancelled = check(
        &f.operator,
        "POST",
        &format!("/api/v1/tasks/{}/cancel", queued["id"]),
        None,
        200,
        None,
    )
    .await;
    assert_eq!(cancelled.json()["state"], "cancelled");

    // Created with a connection request and a long wait: the request is held until the CPE's
    // session has run the task.
    let operator = f.operator.clone();
    let path = format!("{tasks}?connection_request=true&wait=120");
    let pending = tokio::spawn(async move {
        operator
            .post(&path, &gpv("Device.DeviceInfo.SoftwareVersion"))
            .await
    });
    let deadline = Deadline::new();
    loop {
        let list = check(&f.viewer, "GET", &tasks, None, 200, None)
            .await
            .json();
        if list["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["state"] == "queued")
        {
            break;
        }
        deadline.wait("the task to be queued").await;
    }
    assert_eq!(
        session(&f.app, "RUN1", answer_ok).await,
        ["GetParameterValues"]
    );
    let r = pending.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text);
    let task = r.json();
    assert_eq!(task["state"], "done", "{task}");
    assert_eq!(task["device_id"], id.as_str());
    assert_eq!(task["definition"], gpv("Device.DeviceInfo.SoftwareVersion"));
    assert_eq!(task["connection_request"]["outcome"], "accepted", "{task}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(
        task["finished_at"].is_string() && task["fault"].is_null(),
        "{task}"
    );

    // The same task, read back.
    let again = check(
        &f.viewer,
        "GET",
        &format!("/api/v1/tasks/{}", task["id"]),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(
        (again["state"].as_str(), again["attempts"].as_i64()),
        (Some("done"), Some(1))
    );
    let list = check(
        &f.viewer,
        "GET",
        &format!("/api/v1/tasks?device={}&state=done", enc(&id)),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(list["tasks"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["tasks"][0]["id"], task["id"]);

    // Passwords never come back.
    let r = check(
        &f.operator,
        "POST",
        &tasks,
        Some(
            json!({"kind": "download", "file_type": "1 Firmware Upgrade Image",
            "url": "https://files.example.net/fw.bin", "username": "u", "password": "hunter2"}),
        ),
        202,
        None,
    )
    .await;
    assert_eq!(r.json()["definition"]["password"], "<redacted>");
    let listed = check(&f.viewer, "GET", &tasks, None, 200, None).await;
    assert!(!listed.text.contains("hunter2"), "{}", listed.text);
    f.app.cleanup().await;
}

#[tokio::test]
async fn cancel_retry_and_faults() {
    let f = fixture().await;
    let id = register(&f.app, "FAULT1").await;
    let other = register(&f.app, "FAULT2").await;
    let tasks = format!("{}/tasks", dev(&id));

    // Cancel once, not twice; a cancelled task can be retried as a new task.
    let t = check(
        &f.operator,
        "POST",
        &tasks,
        Some(json!({"kind": "reboot"})),
        202,
        None,
    )
    .await
    .json();
    let cancel = format!("/api/v1/tasks/{}/cancel", t["id"]);
    assert_eq!(
        check(&f.operator, "POST", &cancel, None, 200, None)
            .await
            .json()["state"],
        "cancelled"
    );
    check(&f.operator, "POST", &cancel, None, 409, Some("conflict")).await;
    let copy = check(
        &f.operator,
        "POST",
        &format!("/api/v1/tasks/{}/retry", t["id"]),
        None,
        201,
        None,
    )
    .await
    .json();
    assert_ne!(copy["id"], t["id"]);
    assert_eq!(
        (copy["state"].as_str(), copy["kind"].as_str()),
        (Some("queued"), Some("reboot"))
    );
    check(
        &f.operator,
        "POST",
        &format!("/api/v1/tasks/{}/retry", copy["id"]),
        None,
        409,
        Some("conflict"),
    )
    .await;
    check(
        &f.operator,
        "POST",
        &format!("/api/v1/tasks/{}/cancel", copy["id"]),
        None,
        200,
        None,
    )
    .await;

    // A task the CPE refuses ends in fault and shows up as a fault.
    let faulty = check(
        &f.operator,
        "POST",
        &tasks,
        Some(gpv("Device.Nope.")),
        202,
        None,
    )
    .await
    .json();
    assert_eq!(
        session(&f.app, "FAULT1", answer_fault).await,
        ["GetParameterValues"]
    );
    let faulted = check(
        &f.viewer,
        "GET",
        &format!("/api/v1/tasks/{}", faulty["id"]),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(faulted["state"], "fault");
    assert_eq!(faulted["fault"]["code"], 9005, "{faulted}");
    let faults = check(&f.viewer, "GET", "/api/v1/faults", None, 200, None)
        .await
        .json();
    assert_eq!(faults["faults"].as_array().unwrap().len(), 1, "{faults}");
    assert_eq!(faults["faults"][0]["id"], faulty["id"]);

    // Retrying it queues a copy and clears the fault.
    let retried = check(
        &f.operator,
        "POST",
        &format!("/api/v1/tasks/{}/retry", faulty["id"]),
        None,
        201,
        None,
    )
    .await
    .json();
    assert_eq!(retried["state"], "queued");
    assert_eq!(retried["definition"], gpv("Device.Nope."));
    let faults = check(&f.viewer, "GET", "/api/v1/faults", None, 200, None)
        .await
        .json();
    assert_eq!(faults["faults"], json!([]), "{faults}");

    // Fault the copy, and one on another device; clear one by id, then the rest by device.
    session(&f.app, "FAULT1", answer_fault).await;
    check(
        &f.operator,
        "POST",
        &format!("{}/tasks", dev(&other)),
        Some(gpv("Device.Nope.")),
        202,
        None,
    )
    .await;
    session(&f.app, "FAULT2", answer_fault).await;
    let mine = check(
        &f.viewer,
        "GET",
        &format!("/api/v1/faults?device={}", enc(&id)),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(mine["faults"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["faults"][0]["id"], retried["id"]);
    let clear = format!("/api/v1/faults/{}", retried["id"]);
    check(&f.operator, "DELETE", &clear, None, 204, None).await;
    check(&f.operator, "DELETE", &clear, None, 409, Some("conflict")).await;
    check(
        &f.operator,
        "DELETE",
        "/api/v1/faults/999999",
        None,
        404,
        Some("not_found"),
    )
    .await;
    let all = check(&f.viewer, "GET", "/api/v1/faults", None, 200, None)
        .await
        .json();
    assert_eq!(all["faults"].as_array().unwrap().len(), 1, "{all}");
    check(
        &f.operator,
        "POST",
        "/api/v1/faults/clear",
        Some(json!({"device": "nobody"})),
        404,
        Some("not_found"),
    )
    .await;
    let cleared = check(
        &f.operator,
        "POST",
        "/api/v1/faults/clear",
        Some(json!({"device": other})),
        200,
        None,
    )
    .await;
    assert_eq!(cleared.json(), json!({"cleared": 1}));
    let cleared = check(
        &f.operator,
        "POST",
        "/api/v1/faults/clear",
        Some(json!({})),
        200,
        None,
    )
    .await;
    assert_eq!(cleared.json(), json!({"cleared": 0}));
    f.app.cleanup().await;
}

#[tokio::test]
async fn a_bulk_job_over_a_filter_reports_each_device() {
    let f = fixture().await;
    let mut ids = Vec::new();
    for serial in ["BULK1", "BULK2", "BULK3"] {
        let id = register(&f.app, serial).await;
        check(
            &f.operator,
            "PUT",
            &format!("{}/tags/bulk", dev(&id)),
            None,
            204,
            None,
        )
        .await;
        ids.push(id);
    }
    register(&f.app, "LONER").await;

    let job = check(
        &f.operator,
        "POST",
        "/api/v1/jobs",
        Some(
            json!({"task": gpv("Device.DeviceInfo.SoftwareVersion"), "filter": "tag = bulk",
            "max_attempts": 2}),
        ),
        201,
        None,
    )
    .await
    .json();
    assert_eq!(
        (job["total"].as_i64(), job["state"].as_str()),
        (Some(3), Some("running")),
        "{job}"
    );
    assert_eq!(job["counts"]["queued"], 3);
    assert_eq!(job["filter"], "tag = bulk");
    assert_eq!(job["created_by"], "ops");
    let job_path = format!("/api/v1/jobs/{}", job["id"]);

    // Two devices answer, one refuses; the device outside the filter has nothing to do.
    assert_eq!(
        session(&f.app, "BULK1", answer_ok).await,
        ["GetParameterValues"]
    );
    assert_eq!(
        session(&f.app, "BULK2", answer_ok).await,
        ["GetParameterValues"]
    );
    assert_eq!(
        session(&f.app, "BULK3", answer_fault).await,
        ["GetParameterValues"]
    );
    assert!(session(&f.app, "LONER", answer_ok).await.is_empty());

    let deadline = Deadline::new();
    let finished = loop {
        let j = check(&f.viewer, "GET", &job_path, None, 200, None)
            .await
            .json();
        if j["state"] == "finished" {
            break j;
        }
        deadline.wait("the job to finish").await;
    };
    assert_eq!(
        finished["counts"],
        json!({"held": 0, "queued": 0, "sent": 0, "done": 2, "fault": 1, "expired": 0, "cancelled": 0})
    );
    assert!(finished["finished_at"].is_string());

    // Per-device outcome, filtered and paged.
    let outcome = check(
        &f.viewer,
        "GET",
        &format!("{job_path}/tasks"),
        None,
        200,
        None,
    )
    .await
    .json();
    let mut by_device: Vec<(String, String)> = outcome["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["device_id"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    by_device.sort();
    let expected: Vec<(String, String)> = ids
        .iter()
        .zip(["done", "done", "fault"])
        .map(|(i, s)| (i.clone(), s.to_owned()))
        .collect();
    assert_eq!(by_device, expected);
    let faulted = check(
        &f.viewer,
        "GET",
        &format!("{job_path}/tasks?state=fault"),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(faulted["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(faulted["tasks"][0]["device_id"], ids[2].as_str());
    assert_eq!(faulted["tasks"][0]["job_id"], job["id"]);
    let page = check(
        &f.viewer,
        "GET",
        &format!("{job_path}/tasks?limit=2"),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(page["tasks"].as_array().unwrap().len(), 2);
    let rest = check(
        &f.viewer,
        "GET",
        &format!("{job_path}/tasks?limit=2&after={}", page["next"]),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(rest["tasks"].as_array().unwrap().len(), 1, "{rest}");

    // A job over named devices (serial numbers resolve), then cancelled.
    let second = check(
        &f.operator,
        "POST",
        "/api/v1/jobs",
        Some(json!({"task": {"kind": "reboot"}, "devices": ["BULK1", ids[1]]})),
        201,
        None,
    )
    .await
    .json();
    assert_eq!(
        (second["total"].as_i64(), second["filter"].is_null()),
        (Some(2), true)
    );
    let cancelled = check(
        &f.operator,
        "POST",
        &format!("/api/v1/jobs/{}/cancel", second["id"]),
        None,
        200,
        None,
    )
    .await
    .json();
    assert_eq!(cancelled["state"], "cancelled");
    assert_eq!(cancelled["counts"]["cancelled"], 2);
    check(
        &f.operator,
        "POST",
        &format!("/api/v1/jobs/{}/cancel", second["id"]),
        None,
        409,
        Some("conflict"),
    )
    .await;
    check(
        &f.operator,
        "POST",
        "/api/v1/jobs",
        Some(json!({"task": {"kind": "reboot"}, "devices": ["NOBODY"]})),
        404,
        Some("not_found"),
    )
    .await;

    let jobs = check(&f.viewer, "GET", "/api/v1/jobs", None, 200, None)
        .await
        .json();
    let listed: Vec<&Value> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["id"])
        .collect();
    assert_eq!(listed, [&second["id"], &job["id"]], "newest first");
    check(
        &f.viewer,
        "GET",
        "/api/v1/jobs/999999",
        None,
        404,
        Some("not_found"),
    )
    .await;
    check(
        &f.viewer,
        "GET",
        "/api/v1/jobs/999999/tasks",
        None,
        404,
        Some("not_found"),
    )
    .await;
    f.app.cleanup().await;
}

#[tokio::test]
async fn bulk_parameter_query_streams_every_device_and_name() {
    let f = fixture().await;
    let mut ids = Vec::new();
    for serial in ["NDJ2", "NDJ1", "NDJ3"] {
        ids.push(register(&f.app, serial).await);
    }
    register(&f.app, "OTHER").await;
    ids.sort();
    let names = "Device.DeviceInfo.SoftwareVersion,Device.Nope.X";
    let lines = |r: &ApiReply| -> Vec<Value> {
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
        r.text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };

    let r = f
        .viewer
        .get(&format!(
            "/api/v1/parameters?names={}&filter={}",
            enc(names),
            enc(r#"serial ~ "NDJ*""#)
        ))
        .await;
    let got = lines(&r);
    let mut expected = Vec::new();
    for id in &ids {
        expected.push(
            json!({"device_id": id, "name": "Device.DeviceInfo.SoftwareVersion",
            "value": "sip88xx.12-0-2MPP-1", "type": "xsd:string"}),
        );
        expected.push(
            json!({"device_id": id, "name": "Device.Nope.X", "value": null,
            "type": null, "updated_at": null}),
        );
    }
    assert_eq!(got.len(), expected.len(), "{}", r.text);
    for (g, e) in got.iter().zip(&expected) {
        for (k, v) in e.as_object().unwrap() {
            assert_eq!(&g[k], v, "{k} in {g}");
        }
    }
    assert!(got[0]["updated_at"].is_string(), "{}", got[0]);

    // Named devices; everything.
    let r = f
        .viewer
        .get(&format!(
            "/api/v1/parameters?names=Device.DeviceInfo.SoftwareVersion&devices={}",
            enc(&format!("{},{}", ids[2], ids[0]))
        ))
        .await;
    let got: Vec<String> = lines(&r)
        .iter()
        .map(|l| l["device_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, [ids[0].clone(), ids[2].clone()], "device-id order");
    let r = f
        .viewer
        .get("/api/v1/parameters?names=Device.DeviceInfo.SoftwareVersion")
        .await;
    assert_eq!(lines(&r).len(), 4);

    check(
        &f.viewer,
        "GET",
        "/api/v1/parameters",
        None,
        400,
        Some("invalid_request"),
    )
    .await;
    check(
        &f.viewer,
        "GET",
        "/api/v1/parameters?names=,",
        None,
        400,
        Some("invalid_request"),
    )
    .await;
    check(
        &f.viewer,
        "GET",
        &format!("/api/v1/parameters?names=A&filter={}", enc("serial ~")),
        None,
        400,
        Some("invalid_filter"),
    )
    .await;
    check(
        &f.viewer,
        "GET",
        "/api/v1/parameters?names=A&filter=tag%3Dx&devices=a",
        None,
        400,
        Some("invalid_request"),
    )
    .await;
    f.app.cleanup().await;
}

fn openapi_file() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/openapi.json")
}

#[tokio::test]
async fn openapi_document_matches_the_checked_in_file() {
    let app = spawn_app().await;
    let served = Api::new(&app, None).get("/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("application/json"));
    let doc = served.json();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(openapi_file(), &served.text).expect("write schemas/openapi.json");
    }
    let checked_in = std::fs::read_to_string(openapi_file()).unwrap_or_default();
    assert!(
        checked_in == served.text,
        "schemas/openapi.json differs from the served document; regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p acs-tests --test e2e api::openapi` and commit it"
    );
    app.cleanup().await;
}

/// Every path and method of the OpenAPI document is routed (the document and the router are
/// written separately, so this catches one drifting from the other).
#[tokio::test]
async fn every_documented_route_is_served() {
    let f = fixture().await;
    let doc = f.anon.get("/api/v1/openapi.json").await.json();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20, "{}", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        // Placeholders: numbers for numeric ids, words for the rest.
        let mut concrete = path.clone();
        for p in item
            .as_object()
            .unwrap()
            .values()
            .filter_map(|op| op["parameters"].as_array())
            .flatten()
            .filter(|p| p["in"] == "path")
        {
            let name = p["name"].as_str().unwrap();
            let value = if p["schema"]["type"] == "integer" {
                "999999"
            } else {
                "x"
            };
            concrete = concrete.replace(&format!("{{{name}}}"), value);
        }
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let r = f
                .admin
                .call(&method.to_ascii_uppercase(), &concrete, None)
                .await;
            let routed = !(r.status == 405 || (r.status == 404 && r.text.contains("no route")));
            assert!(
                routed,
                "{method} {path} ({concrete}) is documented but not routed: {}",
                r.text
            );
            if r.status >= 400 {
                assert!(
                    r.json()["error"].is_string(),
                    "{method} {concrete}: {}",
                    r.text
                );
            }
        }
    }
    assert!(operations >= 25, "{operations}");
    f.app.cleanup().await;
}

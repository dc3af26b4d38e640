//! The file server for CPEs: per-transfer tokens, ranges, validators, status codes, and the
//! per-device transfer log.

use acs_core::cwmp::EventCode;
use acs_core::storage::{FileKind, FileRow};
use acs_tests::{RawCpe, TestApp, device_key, inform, spawn_app};
use reqwest::StatusCode;

async fn registered(app: &TestApp, serial: &str) -> String {
    let mut cpe = RawCpe::new(&app.cwmp_url);
    let reply = cpe
        .send(&inform(serial, &[EventCode::Bootstrap], "1"))
        .await;
    assert_eq!(reply.status, 200);
    device_key(serial)
}

#[tokio::test]
async fn downloads_need_a_token_and_speak_http_properly() {
    let app = spawn_app().await;
    let device = registered(&app, "FILES1").await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    app.upload(FileKind::Firmware, "kern88xx.12-0-3MPP.sbn", None, &data)
        .await;
    let loads = app
        .upload(
            FileKind::Firmware,
            "sip88xx.12-0-3MPP.loads",
            None,
            b"LOADS sip88xx.12-0-3MPP\nkern88xx.12-0-3MPP.sbn\nrootfs88xx.12-0-3MPP.img\n",
        )
        .await;
    app.upload(
        FileKind::Firmware,
        "rootfs88xx.12-0-3MPP.img",
        None,
        b"rootfs",
    )
    .await;
    let phone = app
        .upload(
            FileKind::ConfigTemplate,
            "phone.xml",
            None,
            b"<device><flat-profile><User_ID_1_>{{ serial }}</User_ID_1_></flat-profile></device>",
        )
        .await;
    let needs_vars = app
        .upload(
            FileKind::ConfigTemplate,
            "needs-vars.xml",
            None,
            b"<flat-profile><Station_Name>{{ station }}</Station_Name></flat-profile>",
        )
        .await;
    let base = app.cwmp_url.trim_end_matches('/').to_owned();
    let row = |id: i64| {
        let store = app.store.clone();
        async move { store.get_file(id).await.unwrap().expect("stored") }
    };
    let loads = row(loads).await;
    let path = app
        .files
        .download_path(&device, Some(7), &loads, chrono::TimeDelta::hours(1));
    // The image is fetched under the token of the release's .loads file, which names it.
    let url = format!("{base}{path}").replace("sip88xx.12-0-3MPP.loads", "kern88xx.12-0-3MPP.sbn");
    let http = reqwest::Client::new();

    let full = http.get(&url).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    let etag = full.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(full.headers()["content-length"], "200000");
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert_eq!(full.bytes().await.unwrap().as_ref(), data.as_slice());

    // The rest of the release sits next to the .loads file, under the same token.
    let sibling = url.replace("kern88xx.12-0-3MPP.sbn", "rootfs88xx.12-0-3MPP.img");
    let r = http.get(&sibling).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"rootfs");

    // Resuming an interrupted download.
    let r = http
        .get(&url)
        .header("range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 100000-199999/200000");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[100_000..]);
    let r = http
        .get(&url)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[199_990..]);
    let r = http
        .get(&url)
        .header("range", "bytes=300000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()["content-range"], "bytes */200000");
    // A range against a changed file gets the whole (new) file.
    let r = http
        .get(&url)
        .header("range", "bytes=0-9")
        .header("if-range", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = http.head(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], "200000");

    // Refusals.
    let no_token = format!("{base}/files/t/x/sip88xx.12-0-3MPP.loads");
    assert_eq!(
        http.get(&no_token).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let mut forged = path.clone();
    forged.replace_range(9..10, if &path[9..10] == "1" { "2" } else { "1" });
    assert_eq!(
        http.get(format!("{base}{forged}"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    let expired = app
        .files
        .download_path(&device, None, &loads, chrono::TimeDelta::hours(-1));
    let r = http.get(format!("{base}{expired}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("expired"));
    // A name the release does not list: the token opens nothing else.
    let missing = url.replace("kern88xx.12-0-3MPP.sbn", "nothing.bin");
    assert_eq!(
        http.get(&missing).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // A template is rendered for the device asking, never served raw.
    let own_url = |file: acs_core::storage::FileRow| {
        format!(
            "{base}{}",
            app.files
                .download_path(&device, None, &file, chrono::TimeDelta::hours(1))
        )
    };
    let template = own_url(row(phone).await);
    let r = http.get(&template).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.text().await.unwrap(),
        "<device><flat-profile><User_ID_1_>FILES1</User_ID_1_></flat-profile></device>"
    );
    let unrenderable = own_url(row(needs_vars).await);
    let r = http.get(&unrenderable).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("missing variables: station")
    );
    // POST on the CWMP listener is still the CWMP endpoint.
    let r = http.post(&app.cwmp_url).body("").send().await.unwrap();
    assert_ne!(r.status(), StatusCode::NOT_FOUND);

    // Per-device counts: the device's successful and failed fetches (token failures name no
    // device).
    let counts = app.store.file_transfer_counts(&device).await.unwrap();
    assert_eq!(counts.ok, 8, "{counts:?}");
    assert_eq!(counts.failed, 3, "{counts:?}");
    let log = app
        .store
        .file_transfers_of_device(&device, 100)
        .await
        .unwrap();
    assert!(
        log.iter()
            .any(|t| t.task_id == Some(7) && t.outcome == "ok")
    );
    assert!(log[0].outcome.contains("missing variables"), "{:?}", log[0]);
    app.cleanup().await;
}

#[tokio::test]
async fn files_are_managed_through_the_api() {
    use acs_core::storage::Role;
    use acs_tests::{Api, api_token, enc};
    let app = spawn_app().await;
    let device = registered(&app, "FILES2").await;
    let operator = Api::new(&app, Some(&api_token(&app, "ops", Role::Operator).await));
    let viewer = Api::new(&app, Some(&api_token(&app, "view", Role::Viewer).await));
    let image: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let octets = "application/octet-stream";

    let r = viewer
        .raw(
            "POST",
            "/api/v1/files?name=a.loads",
            Some((b"x".to_vec(), octets)),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    for (query, status) in [
        ("name=a.loads&type=movie", 400),
        ("name=..%2Fa", 400),
        ("type=firmware", 400),
    ] {
        let r = operator
            .raw(
                "POST",
                &format!("/api/v1/files?{query}"),
                Some((b"x".to_vec(), octets)),
            )
            .await;
        assert_eq!(r.status, status, "{query}: {}", r.text);
        assert!(r.json()["message"].as_str().is_some());
    }
    let r = operator
        .raw(
            "POST",
            "/api/v1/files?name=empty.bin",
            Some((vec![], octets)),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);

    // Larger than the API's 1 MiB body limit: uploads stream past it.
    let r = operator
        .raw(
            "POST",
            "/api/v1/files?name=sip88xx.12-0-3MPP.loads&type=firmware&product_class=CP-8851-3PCC&version=sip88xx.12-0-3MPP",
            Some((image.clone(), octets)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let file = r.json();
    assert_eq!(file["size"], 3_000_000);
    assert_eq!(file["type"], "firmware");
    assert_eq!(file["version"], "sip88xx.12-0-3MPP");
    let id = file["id"].as_i64().unwrap();

    // A rendering holds the device's secrets: a viewer may not ask for one.
    let render = serde_json::json!({"template": "<flat-profile><A>{{ serial }}</A></flat-profile>", "device": device});
    assert_eq!(
        viewer.post("/api/v1/config/render", &render).await.status,
        403
    );
    assert_eq!(
        operator.post("/api/v1/config/render", &render).await.status,
        200
    );
    let listed = viewer.get("/api/v1/files?type=firmware").await.json();
    assert_eq!(listed["files"].as_array().unwrap().len(), 1);
    assert_eq!(
        viewer.get("/api/v1/files?type=ca").await.json()["files"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        viewer.get(&format!("/api/v1/files/{id}")).await.json()["sha256"],
        file["sha256"]
    );

    // The device downloads it; the API shows the transfer.
    let row = app.store.get_file(id).await.unwrap().expect("stored");
    let path = app
        .files
        .download_path(&device, None, &row, chrono::TimeDelta::minutes(5));
    let url = format!("{}{path}", app.cwmp_url.trim_end_matches('/'));
    let got = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(got.as_ref(), image.as_slice());
    let log = viewer
        .get(&format!("/api/v1/devices/{}/transfers", enc(&device)))
        .await
        .json();
    assert_eq!(
        (log["ok"].as_i64(), log["failed"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(log["transfers"][0]["bytes"], 3_000_000);
    assert_eq!(
        viewer.get("/api/v1/devices/nobody/transfers").await.status,
        404
    );

    assert_eq!(
        viewer
            .raw("DELETE", &format!("/api/v1/files/{id}"), None)
            .await
            .status,
        403
    );
    assert_eq!(
        operator
            .raw("DELETE", &format!("/api/v1/files/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        operator
            .raw("DELETE", &format!("/api/v1/files/{id}"), None)
            .await
            .status,
        404
    );
    assert_eq!(
        reqwest::get(&url).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    app.cleanup().await;
}

/// Queues a Download of the stored file `file_id` for `device` (not sent: no session runs).
async fn pending_download(app: &TestApp, device: &str, file_id: i64) -> i64 {
    use acs_core::storage::NewTask;
    use acs_core::tasks::TaskSpec;
    let spec = TaskSpec::Download {
        file_type: "1 Firmware Upgrade Image".into(),
        url: String::new(),
        file_id: Some(file_id),
        vars_file_id: None,
        username: String::new(),
        password: Default::default(),
        file_size: 0,
        target_file_name: String::new(),
        delay_seconds: 0,
    };
    spec.validate().expect("valid task");
    app.store
        .enqueue_task(&NewTask::for_spec(device, &spec))
        .await
        .unwrap()
        .id
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn without_a_token_a_download_needs_the_cpes_own_credentials() {
    use acs_core::auth::CpeAuthMode;
    use acs_core::secret::Secret;
    let http = reqwest::Client::new();
    let url = |app: &TestApp, name: &str| format!("{}files/d/{name}", app.cwmp_url);

    // With CPE authentication off (the default) nothing is served without a token.
    let open = spawn_app().await;
    open.upload(
        FileKind::Firmware,
        "sip88xx.12-0-3MPP.loads",
        None,
        b"image",
    )
    .await;
    let r = http
        .get(url(&open, "sip88xx.12-0-3MPP.loads"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    open.cleanup().await;

    let device = device_key("CRED1");
    let per_device = device.clone();
    let app = acs_tests::spawn_app_with(move |c| {
        c.cpe_auth.mode = Some(CpeAuthMode::Basic);
        c.cpe_auth.allow_insecure_basic = true;
        c.cpe_auth.username = Some("phones".into());
        c.cpe_auth.password = Some(Secret::new("shared-pw"));
        c.cpe_auth.devices.insert(
            per_device.clone(),
            acs_core::config::DeviceCredentials {
                username: per_device,
                password: Secret::new("own-pw"),
            },
        );
    })
    .await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.authorization = Some(basic(&device, "own-pw"));
    let reply = cpe
        .send(&inform("CRED1", &[EventCode::Bootstrap], "1"))
        .await;
    assert_eq!(reply.status, 200);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let firmware = app
        .upload(FileKind::Firmware, "sip88xx.12-0-3MPP.loads", None, &data)
        .await;
    let template = app
        .upload(
            FileKind::ConfigTemplate,
            "phone.xml",
            None,
            b"<device><flat-profile><User_ID_1_>{{ serial }}</User_ID_1_></flat-profile></device>",
        )
        .await;
    let get = |name: &str, auth: Option<String>| {
        let mut req = http.get(url(&app, name));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req
    };

    let r = get("sip88xx.12-0-3MPP.loads", None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = get("sip88xx.12-0-3MPP.loads", Some(basic("phones", "wrong")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Shared credentials name no device, and files are only served to the devices they are
    // assigned to.
    let r = get(
        "sip88xx.12-0-3MPP.loads",
        Some(basic("phones", "shared-pw")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Nothing is assigned to the device yet: its own credentials open nothing either.
    for name in ["sip88xx.12-0-3MPP.loads", "phone.xml"] {
        let r = get(name, Some(basic(&device, "own-pw")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{name}");
    }
    // A pending Download of its own assigns the image, served with ranges like token
    // downloads; a provisioning rule that applies to it assigns the template.
    pending_download(&app, &device, firmware).await;
    let admin = acs_tests::Api::new(
        &app,
        Some(&acs_tests::api_token(&app, "prov", acs_core::storage::Role::Admin).await),
    );
    let rule = serde_json::json!({"name": "cfg", "filter": "serial = \"CRED1\"", "template_file": template});
    assert_eq!(
        admin.post("/api/v1/provision/rules", &rule).await.status,
        201
    );
    let r = get("sip88xx.12-0-3MPP.loads", Some(basic(&device, "own-pw")))
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[100..200]);
    let r = get("phone.xml", Some(basic(&device, "own-pw")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.text().await.unwrap(),
        "<device><flat-profile><User_ID_1_>CRED1</User_ID_1_></flat-profile></device>"
    );
    let r = get("nothing.bin", Some(basic(&device, "own-pw")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The device's transfer log has its own downloads.
    let log = app
        .store
        .file_transfers_of_device(&device, 10)
        .await
        .unwrap();
    let outcomes: Vec<&str> = log.iter().map(|t| t.outcome.as_str()).collect();
    assert!(outcomes.contains(&"ok"), "{outcomes:?}");
    assert!(outcomes.contains(&"not_found"), "{outcomes:?}");
    app.cleanup().await;
}

/// Stores a file restricted to `product_class`.
async fn upload_for(
    app: &TestApp,
    kind: FileKind,
    name: &str,
    pc: Option<&str>,
    data: &[u8],
) -> FileRow {
    let body = futures::stream::iter(vec![Ok::<_, String>(data.to_vec())]);
    let meta = acs_core::files::FileMeta {
        name: name.into(),
        kind,
        product_class: pc.map(str::to_owned),
        version: None,
    };
    app.files.files.upload(meta, body).await.expect("upload")
}

/// An app whose CPEs authenticate with their own Basic credentials (`<device id>` / `pw`),
/// with the devices registered.
async fn app_with_devices(serials: &[&str]) -> (TestApp, Vec<String>) {
    use acs_core::auth::CpeAuthMode;
    use acs_core::secret::Secret;
    let ids: Vec<String> = serials.iter().map(|s| device_key(s)).collect();
    let creds = ids.clone();
    let app = acs_tests::spawn_app_with(move |c| {
        c.cpe_auth.mode = Some(CpeAuthMode::Basic);
        c.cpe_auth.allow_insecure_basic = true;
        c.cpe_auth.devices = creds
            .into_iter()
            .map(|id| {
                let credentials = acs_core::config::DeviceCredentials {
                    username: id.clone(),
                    password: Secret::new("pw"),
                };
                (id, credentials)
            })
            .collect();
    })
    .await;
    for (serial, id) in serials.iter().zip(&ids) {
        let mut cpe = RawCpe::new(&app.cwmp_url);
        cpe.authorization = Some(basic(id, "pw"));
        let reply = cpe
            .send(&inform(serial, &[EventCode::Bootstrap], "1"))
            .await;
        assert_eq!(reply.status, 200);
    }
    (app, ids)
}

/// Status and body of a GET of `path` on the CWMP listener (a raw path: nothing is
/// normalised by the client), with `auth` as the Authorization header.
async fn fetch(app: &TestApp, path: &str, auth: Option<&str>) -> (u16, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app
        .cwmp_url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let status = std::str::from_utf8(&response[9..12])
        .unwrap()
        .parse()
        .unwrap();
    (status, response)
}

#[tokio::test]
async fn a_token_opens_only_the_files_of_its_own_transfer() {
    let (app, ids) = app_with_devices(&["TOK1", "TOK2"]).await;
    let (one, two) = (&ids[0], &ids[1]);
    let pc = Some("CP-8851-3PCC");
    let loads = upload_for(
        &app,
        FileKind::Firmware,
        "sip88xx.2-0.loads",
        pc,
        b"sip88xx.2-0\nkern88xx.2-0.sbn rootfs88xx.2-0.sbn phones.vars-9.csv\n",
    )
    .await;
    upload_for(&app, FileKind::Firmware, "kern88xx.2-0.sbn", pc, b"kernel").await;
    // The listed rootfs exists only for another product class: not this device's release.
    upload_for(
        &app,
        FileKind::Firmware,
        "rootfs88xx.2-0.sbn",
        Some("CP-7841-3PCC"),
        b"7841",
    )
    .await;
    upload_for(
        &app,
        FileKind::Vars,
        "phones.vars-9.csv",
        None,
        b"serial,pw\nTOK1,s3cret\n",
    )
    .await;
    // Files for every product class (no restriction) are not anyone's transfer either.
    let wildcard = upload_for(&app, FileKind::Firmware, "any.img", None, b"wild").await;
    let other = upload_for(&app, FileKind::Other, "ca-bundle.pem", pc, b"certs").await;
    let template = upload_for(
        &app,
        FileKind::ConfigTemplate,
        "two.xml",
        None,
        b"<flat-profile><User_ID_1_>{{ serial }}</User_ID_1_></flat-profile>",
    )
    .await;
    let path = |device: &str, file: &acs_core::storage::FileRow| {
        app.files
            .download_path(device, None, file, chrono::TimeDelta::hours(1))
    };
    let swap = |path: &str, name: &str| format!("{}/{name}", &path[..path.rfind('/').unwrap()]);

    // The release: the manifest, and what it lists that is stored for this product class.
    let release = path(one, &loads);
    assert_eq!(fetch(&app, &release, None).await.0, 200);
    assert_eq!(
        fetch(&app, &swap(&release, "kern88xx.2-0.sbn"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        fetch(&app, &swap(&release, "rootfs88xx.2-0.sbn"), None)
            .await
            .0,
        404
    );
    assert_eq!(
        fetch(&app, &swap(&release, "phones.vars-9.csv"), None)
            .await
            .0,
        404
    );
    // Guessed names: stored files the manifest does not list, name variants, nothing.
    for guess in [
        "any.img",
        "ca-bundle.pem",
        "two.xml",
        "KERN88XX.2-0.SBN",
        "kern88xx.2-0.sbn.",
        "kern88xx.2-0",
        "nothing.bin",
    ] {
        let (status, body) = fetch(&app, &swap(&release, guess), None).await;
        assert_eq!(status, 403, "{guess}: {}", String::from_utf8_lossy(&body));
    }
    // A token for any other file opens that file only: no release, no wildcard, no template.
    let own = path(one, &other);
    assert_eq!(fetch(&app, &own, None).await.0, 200);
    for name in [
        "kern88xx.2-0.sbn",
        "any.img",
        "two.xml",
        "sip88xx.2-0.loads",
    ] {
        assert_eq!(fetch(&app, &swap(&own, name), None).await.0, 403, "{name}");
    }
    assert_eq!(fetch(&app, &path(one, &wildcard), None).await.0, 200);
    // Another device's transfer: the template pushed to TOK2 is rendered under its token,
    // and TOK1's tokens do not open it.
    let (status, body) = fetch(&app, &path(two, &template), None).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("<User_ID_1_>TOK2<"));
    assert_eq!(fetch(&app, &swap(&release, "two.xml"), None).await.0, 403);
    // A token whose file was deleted opens nothing, not even a new upload of the same name.
    let stale = path(one, &wildcard);
    app.files.files.delete(wildcard.id).await.unwrap();
    upload_for(&app, FileKind::Firmware, "any.img", None, b"new").await;
    assert_eq!(fetch(&app, &stale, None).await.0, 404);

    // By name with device credentials: only what is assigned to the device asking.
    let d = |name: &str| format!("/files/d/{name}");
    let auth_one = basic(one, "pw");
    let auth_two = basic(two, "pw");
    for name in [
        "sip88xx.2-0.loads",
        "kern88xx.2-0.sbn",
        "any.img",
        "two.xml",
    ] {
        assert_eq!(
            fetch(&app, &d(name), Some(&auth_one)).await.0,
            404,
            "{name}"
        );
    }
    pending_download(&app, one, loads.id).await;
    assert_eq!(
        fetch(&app, &d("sip88xx.2-0.loads"), Some(&auth_one))
            .await
            .0,
        200
    );
    assert_eq!(
        fetch(&app, &d("kern88xx.2-0.sbn"), Some(&auth_one)).await.0,
        200
    );
    for name in [
        "rootfs88xx.2-0.sbn",
        "phones.vars-9.csv",
        "any.img",
        "two.xml",
    ] {
        assert_eq!(
            fetch(&app, &d(name), Some(&auth_one)).await.0,
            404,
            "{name}"
        );
    }
    // TOK1's Download is not TOK2's.
    assert_eq!(
        fetch(&app, &d("sip88xx.2-0.loads"), Some(&auth_two))
            .await
            .0,
        404
    );
    // A rule assigns by its filter: a product-class rule matching TOK2 only by serial.
    let admin = acs_tests::Api::new(
        &app,
        Some(&acs_tests::api_token(&app, "prov", acs_core::storage::Role::Admin).await),
    );
    let rule = serde_json::json!({
        "name": "tok2", "filter": "product_class = \"CP-8851-3PCC\" and serial = \"TOK2\"",
        "template_file": template.id,
    });
    assert_eq!(
        admin.post("/api/v1/provision/rules", &rule).await.status,
        201
    );
    let (status, body) = fetch(&app, &d("two.xml"), Some(&auth_two)).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("<User_ID_1_>TOK2<"));
    assert_eq!(fetch(&app, &d("two.xml"), Some(&auth_one)).await.0, 404);
    app.cleanup().await;
}

#[tokio::test]
async fn a_variables_csv_is_never_served_under_any_name() {
    let (app, ids) = app_with_devices(&["VARS1"]).await;
    let device = &ids[0];
    let secret = "sup3r-s3cret-pw";
    let vars = upload_for(
        &app,
        FileKind::Vars,
        "phone.vars-1.csv",
        None,
        format!("serial,password\nVARS1,{secret}\n").as_bytes(),
    )
    .await;
    let template = upload_for(
        &app,
        FileKind::ConfigTemplate,
        "phone.xml",
        None,
        b"<flat-profile><Password_1_>{{ password }}</Password_1_></flat-profile>",
    )
    .await;
    // The push the way `acs config push --vars` makes it: the server reads the CSV to render.
    let task = {
        use acs_core::storage::NewTask;
        use acs_core::tasks::TaskSpec;
        let spec = TaskSpec::Download {
            file_type: "3 Vendor Configuration File".into(),
            url: String::new(),
            file_id: Some(template.id),
            vars_file_id: Some(vars.id),
            username: String::new(),
            password: Default::default(),
            file_size: 0,
            target_file_name: String::new(),
            delay_seconds: 0,
        };
        let new = NewTask::for_spec(device, &spec);
        app.store.enqueue_task(&new).await.unwrap().id
    };
    // Assigned every way there is: a Download of the CSV itself and a rule naming it.
    pending_download(&app, device, vars.id).await;
    let admin = acs_tests::Api::new(
        &app,
        Some(&acs_tests::api_token(&app, "prov", acs_core::storage::Role::Admin).await),
    );
    let rule = serde_json::json!({"name": "r", "template_file": template.id, "vars_file": vars.id});
    assert_eq!(
        admin.post("/api/v1/provision/rules", &rule).await.status,
        201
    );
    let push = app
        .files
        .download_path(device, Some(task), &template, chrono::TimeDelta::hours(1));
    let (status, body) = fetch(&app, &push, None).await;
    assert_eq!(status, 200);
    assert!(
        String::from_utf8_lossy(&body).contains(secret),
        "rendered for its device"
    );

    let dir = &push[..push.rfind('/').unwrap()];
    let own_token = app
        .files
        .download_path(device, None, &vars, chrono::TimeDelta::hours(1));
    let auth = basic(device, "pw");
    let variants = [
        "phone.vars-1.csv",
        "PHONE.VARS-1.CSV",
        "Phone.vars-1.csv",
        "phone.vars-1.csv.",
        "phone.vars-1.csv/",
        "phone.vars-1.csv%00",
        "phone.vars-1.csv%20",
        "%70hone.vars-1.csv",
        "phone%2Evars-1.csv",
        "phone%2evars-1%2Ecsv",
        "phone.vars-1.csv?x=1",
        "phone.vars-1.csv;x",
        "./phone.vars-1.csv",
        "x/../phone.vars-1.csv",
        "x%2F..%2Fphone.vars-1.csv",
        "%2E%2E/phone.vars-1.csv",
        "..%2Fphone.vars-1.csv",
        "phone.vars-1.csv%2F",
        "%2570hone.vars-1.csv",
    ];
    for variant in variants {
        for path in [
            format!("{dir}/{variant}"),
            format!("/files/d/{variant}"),
            format!("{own_token}/../{variant}"),
            format!("/files/t/{variant}"),
        ] {
            // Paths that reach no file route get the CWMP endpoint's empty 204, never content.
            for auth in [None, Some(auth.as_str())] {
                let (status, body) = fetch(&app, &path, auth).await;
                assert!(
                    !matches!(status, 200 | 206)
                        && !String::from_utf8_lossy(&body).contains(secret),
                    "{path} answered {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
    }
    // A token made for the CSV itself (a Download of it by mistake) opens nothing.
    let (status, body) = fetch(&app, &own_token, None).await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    app.cleanup().await;
}

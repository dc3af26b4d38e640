//! The file server for CPEs: per-transfer tokens, ranges, validators, status codes, and the
//! per-device transfer log.

use acs_core::cwmp::EventCode;
use acs_core::storage::FileKind;
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
    app.upload(FileKind::Firmware, "sip88xx.12-0-3MPP.loads", None, &data)
        .await;
    app.upload(
        FileKind::Firmware,
        "rootfs88xx.12-0-3MPP.img",
        None,
        b"rootfs",
    )
    .await;
    app.upload(
        FileKind::ConfigTemplate,
        "phone.xml",
        None,
        b"<device><flat-profile><User_ID_1_>{{ serial }}</User_ID_1_></flat-profile></device>",
    )
    .await;
    app.upload(
        FileKind::ConfigTemplate,
        "needs-vars.xml",
        None,
        b"<flat-profile><Station_Name>{{ station }}</Station_Name></flat-profile>",
    )
    .await;
    let base = app.cwmp_url.trim_end_matches('/').to_owned();
    let path = app.files.download_path(
        &device,
        Some(7),
        "sip88xx.12-0-3MPP.loads",
        chrono::TimeDelta::hours(1),
    );
    let url = format!("{base}{path}");
    let http = reqwest::Client::new();

    let full = http.get(&url).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    let etag = full.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(full.headers()["content-length"], "200000");
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert_eq!(full.bytes().await.unwrap().as_ref(), data.as_slice());

    // The rest of the release sits next to the .loads file, under the same token.
    let sibling = url.replace("sip88xx.12-0-3MPP.loads", "rootfs88xx.12-0-3MPP.img");
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
    let expired = app.files.download_path(
        &device,
        None,
        "sip88xx.12-0-3MPP.loads",
        chrono::TimeDelta::hours(-1),
    );
    let r = http.get(format!("{base}{expired}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("expired"));
    let missing = url.replace("sip88xx.12-0-3MPP.loads", "nothing.bin");
    assert_eq!(
        http.get(&missing).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // A template is rendered for the device asking, never served raw.
    let template = url.replace("sip88xx.12-0-3MPP.loads", "phone.xml");
    let r = http.get(&template).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.text().await.unwrap(),
        "<device><flat-profile><User_ID_1_>FILES1</User_ID_1_></flat-profile></device>"
    );
    let unrenderable = url.replace("sip88xx.12-0-3MPP.loads", "needs-vars.xml");
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
    let path = app.files.download_path(
        &device,
        None,
        "sip88xx.12-0-3MPP.loads",
        chrono::TimeDelta::minutes(5),
    );
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
        c.cpe_auth.mode = CpeAuthMode::Basic;
        c.cpe_auth.allow_insecure_basic = true;
        c.cpe_auth.credentials = vec![
            ("phones".into(), Secret::new("shared-pw")),
            (per_device, Secret::new("own-pw")),
        ];
    })
    .await;
    let mut cpe = RawCpe::new(&app.cwmp_url);
    cpe.authorization = Some(basic(&device, "own-pw"));
    let reply = cpe
        .send(&inform("CRED1", &[EventCode::Bootstrap], "1"))
        .await;
    assert_eq!(reply.status, 200);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    app.upload(FileKind::Firmware, "sip88xx.12-0-3MPP.loads", None, &data)
        .await;
    app.upload(
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

    // The shared credentials open the stored files, with ranges like token downloads.
    let r = get(
        "sip88xx.12-0-3MPP.loads",
        Some(basic("phones", "shared-pw")),
    )
    .header("Range", "bytes=100-199")
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &data[100..200]);
    // A template is rendered per device: only a device's own credentials say which one.
    let r = get("phone.xml", Some(basic("phones", "shared-pw")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
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

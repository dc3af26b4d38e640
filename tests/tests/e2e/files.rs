//! The file server for CPEs: per-transfer tokens, ranges, validators, status codes, and the
//! per-device transfer log.

use acs_core::cwmp::EventCode;
use acs_core::files::FileMeta;
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

async fn upload(app: &TestApp, name: &str, kind: FileKind, data: &[u8]) -> i64 {
    let body = futures::stream::iter(vec![Ok::<_, String>(data.to_vec())]);
    app.files
        .files
        .upload(
            FileMeta {
                name: name.into(),
                kind,
                product_class: None,
                version: None,
            },
            body,
        )
        .await
        .expect("upload")
        .id
}

#[tokio::test]
async fn downloads_need_a_token_and_speak_http_properly() {
    let app = spawn_app().await;
    let device = registered(&app, "FILES1").await;
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    upload(&app, "sip88xx.12-0-3MPP.loads", FileKind::Firmware, &data).await;
    upload(
        &app,
        "rootfs88xx.12-0-3MPP.img",
        FileKind::Firmware,
        b"rootfs",
    )
    .await;
    upload(
        &app,
        "phone.xml",
        FileKind::ConfigTemplate,
        b"<flat-profile/>",
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
    let template = url.replace("sip88xx.12-0-3MPP.loads", "phone.xml");
    assert_eq!(
        http.get(&template).send().await.unwrap().status(),
        StatusCode::NOT_FOUND,
        "templates are rendered per device, never served raw"
    );
    // POST on the CWMP listener is still the CWMP endpoint.
    let r = http.post(&app.cwmp_url).body("").send().await.unwrap();
    assert_ne!(r.status(), StatusCode::NOT_FOUND);

    // Per-device counts: the device's successful and failed fetches (token failures name no
    // device).
    let counts = app.store.file_transfer_counts(&device).await.unwrap();
    assert_eq!(counts.ok, 6, "{counts:?}");
    assert_eq!(counts.failed, 4, "{counts:?}");
    let log = app
        .store
        .file_transfers_of_device(&device, 100)
        .await
        .unwrap();
    assert!(
        log.iter()
            .any(|t| t.task_id == Some(7) && t.outcome == "ok")
    );
    assert_eq!(log[0].outcome, "not_found");
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

//! The stored state never lies, as the operator sees it (issue 11): a failed firmware Download
//! shows in `acs faults list`, `acs jobs show N` and `acs jobs show N --tasks` with its code and
//! meaning; a device whose connection request failed says so in `acs get --live`; a firmware
//! file uploaded with `acs files upload` knows its version; a CA push refuses what is not a
//! certificate.
//!
//! Runs the real binary against a real `acs serve` on port 0 (as `nbi.rs` does), with simulated
//! MPP phones. Nothing waits for a fixed time except where stated.

use std::path::Path;

use serde_json::Value;

mod common;
use common::{Acs, fails, phones, stderr};

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_failed_download_shows_in_every_view_and_uploaded_firmware_knows_its_version() {
    let acs = Acs::start();
    let (rt, sim) = phones(&acs, 2, "TF");
    let dir = tempfile::tempdir().unwrap();
    let serial = |i: usize| {
        sim.device(i)
            .value("Device.DeviceInfo.SerialNumber")
            .unwrap()
    };
    let (tf0, tf1) = (serial(0), serial(1));

    // Uploaded with `acs files upload`, the image gets the version `firmware push FILE` gives
    // it, so a rollout by --file reaches `verified`.
    let image = write(dir.path(), "sip88xx.12-0-9MPP.loads", &[7u8; 50_000]);
    let file = acs.json(&["files", "upload", "--type", "firmware", &image]);
    assert_eq!(file["version"], "sip88xx.12-0-9MPP", "{file}");
    let id = file["id"].to_string();
    let out = acs.run(&[
        "firmware",
        "push",
        "--file",
        &id,
        "-d",
        &tf0,
        "--wait=300",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["rollout_state"], "verified", "{report}");

    // An image the phone cannot use: its TransferComplete carries 9018.
    let broken = write(dir.path(), "broken.bin", &[1u8; 1000]);
    let file = acs.json(&["files", "upload", "--type", "firmware", &broken]);
    assert_eq!(file["version"], Value::Null, "no version to guess: {file}");
    let out = acs.run(&[
        "firmware",
        "push",
        "--file",
        &file["id"].to_string(),
        "-d",
        &tf1,
        "--max-failures",
        "0",
        "--wait=300",
        "--format",
        "json",
    ]);
    fails(&out, 3, "stopped");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["rollout_state"], "failed", "{report}");
    assert_eq!(report[0]["fault_code"], 9018, "{report}");
    let job = stderr(&out)
        .lines()
        .find_map(|l| {
            l.strip_prefix("rollout ")?
                .split(':')
                .next()?
                .parse::<i64>()
                .ok()
        })
        .expect("the rollout's id on stderr")
        .to_string();
    let meaning = acs_core::cwmp::FaultCode::from_code(9018).meaning();

    // The hint names `acs jobs show N`: counts, stop reason and the failed phone.
    let shown = acs.json(&["jobs", "show", &job]);
    assert_eq!(shown["state"], "stopped", "{shown}");
    assert_eq!(
        (shown["failed"].as_i64(), shown["verified"].as_i64()),
        (Some(1), Some(0))
    );
    assert!(
        shown["stop_reason"].as_str().unwrap().contains("1 of 1"),
        "{shown}"
    );
    let failed = shown["failed_devices"][0].as_str().unwrap();
    assert!(
        failed.contains("fault 9018") && failed.contains(meaning) && failed.contains(&tf1),
        "{failed}"
    );
    let table = acs.run(&["jobs", "show", &job]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("9018"));

    let tasks = acs.json(&["jobs", "show", &job, "--tasks"]);
    assert_eq!(tasks[0]["state"], "fault", "{tasks}");
    assert_eq!(tasks[0]["rollout"], "failed", "{tasks}");
    assert_eq!(tasks[0]["fault_code"], 9018, "{tasks}");
    assert_eq!(tasks[0]["meaning"], meaning, "{tasks}");

    let faults = acs.json(&["faults", "list"]);
    let fault = faults
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == tasks[0]["task_id"])
        .unwrap_or_else(|| panic!("the failed Download is a fault: {faults}"));
    assert_eq!(
        (&fault["fault_code"], fault["meaning"].as_str()),
        (&Value::from(9018), Some(meaning)),
        "{fault}"
    );
    assert!(
        !fault["fault_string"].as_str().unwrap().is_empty(),
        "{fault}"
    );

    // A CA push takes certificates only, and says why not.
    let junk = write(dir.path(), "lab-ca.pem", b"hello, not a certificate");
    fails(
        &acs.run(&["ca", "push", &junk, "-d", &tf0]),
        2,
        "not a CA certificate",
    );
    fails(
        &acs.run(&["ca", "push", "--file", &id, "-d", &tf0]),
        2,
        "not a CA certificate",
    );
    // The server refuses it too, whoever uploads it.
    fails(
        &acs.run(&["files", "upload", "--type", "ca", &junk]),
        1,
        "refused as a CA file",
    );
    assert_eq!(
        acs.json(&["files", "list", "--type", "ca"]),
        Value::Array(vec![])
    );
    rt.block_on(sim.shutdown());
}

#[test]
fn get_live_names_the_connection_request_outcome_of_a_device_that_never_came() {
    use acs_core::cwmp::{self, Body, EventCode, EventStruct};
    let acs = Acs::start();
    // A device whose ConnectionRequestURL is a loopback port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cr_url = format!("http://{}/cr", closed.local_addr().unwrap());
    drop(closed);
    let mut inform = cwmp::examples::inform(0);
    inform.device_id.serial_number = "CRDEAD".into();
    inform.event = vec![EventStruct::new(EventCode::Bootstrap)];
    for p in &mut inform.parameter_list {
        if p.name.ends_with("ConnectionRequestURL") {
            p.value = cr_url.clone();
        }
    }
    let env = cwmp::Envelope::new(
        cwmp::CwmpNamespace::for_version(cwmp::CwmpVersion::V1_2),
        Some("1".into()),
        Body::Inform(inform),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = reqwest::Client::new();
        let resp = http
            .post(&acs.cwmp)
            .body(cwmp::encode(&env).unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    });

    // The wake-up is refused within milliseconds of the job runner's next pass (every second);
    // the 10 s are for the answer that never comes.
    let out = acs.run(&[
        "get",
        "--live",
        "-d",
        "CRDEAD",
        "Device.DeviceInfo.SoftwareVersion",
        "--timeout",
        "10",
    ]);
    fails(&out, 3, "connection request unreachable");
    assert!(
        stderr(&out).contains("no answer within 10 s"),
        "{}",
        stderr(&out)
    );
    let tasks = acs.json(&["tasks", "list"]);
    // The Bootstrap also queued the ACS's own tasks (credentials, the bootstrap read): the
    // live get is the one with a job.
    let job = tasks
        .as_array()
        .and_then(|t| t.iter().find(|t| t["job_id"].is_number()))
        .map(|t| t["job_id"].to_string())
        .unwrap_or_else(|| panic!("no task of a job in {tasks}"));
    let listed = acs.json(&["jobs", "show", &job, "--tasks"]);
    assert_eq!(listed[0]["connection_request"], "unreachable", "{listed}");
}

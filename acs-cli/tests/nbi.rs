//! The operator and script commands (`acs devices`, `acs get`, `acs set`, `acs reboot`,
//! `acs tasks`, `acs faults`, `acs jobs`) run as the real binary against a real `acs serve`
//! started on port 0 in a temporary directory. The CLI runs in the same directory and is never
//! given a token: it must find `./acs-data/admin.token` by itself.
//!
//! CPEs are played by the test: an Inform posted to the CWMP port registers a device, and a
//! session answers whatever the ACS asks. Nothing here waits for a fixed time: where the test
//! depends on the server having done something, it loops on the condition.

use acs_core::cwmp::{
    self, Body, CwmpFault, CwmpNamespace, CwmpVersion, Envelope, EventCode, EventStruct, FaultCode,
    Header, ParameterValue, SoapFault,
};
use serde_json::Value;
use std::process::Output;

mod common;
use common::{Acs, binary, fails, ok, phones, simulated, stderr, stdout};

// ---------------------------------------------------------------------------------------------
// A CPE played by the test
// ---------------------------------------------------------------------------------------------

/// A simulated device: identity and the MAC its Informs carry.
#[derive(Debug, Clone)]
struct Cpe {
    serial: &'static str,
    product_class: &'static str,
    mac: &'static str,
}

impl Cpe {
    const fn new(serial: &'static str, product_class: &'static str, mac: &'static str) -> Self {
        Cpe {
            serial,
            product_class,
            mac,
        }
    }

    fn inform(&self, event: EventCode) -> Envelope {
        let mut inform = cwmp::examples::inform(0);
        inform.device_id.serial_number = self.serial.to_owned();
        inform.device_id.product_class = self.product_class.to_owned();
        inform.event = vec![EventStruct::new(event)];
        inform.parameter_list.push(ParameterValue::string(
            "Device.Ethernet.Interface.1.MACAddress",
            self.mac,
        ));
        Envelope {
            namespace: CwmpNamespace::for_version(CwmpVersion::V1_2),
            header: Header {
                id: Some("1".into()),
                ..Header::default()
            },
            body: Body::Inform(inform),
        }
    }

    fn id(&self) -> String {
        let Body::Inform(i) = self.inform(EventCode::Boot).body else {
            unreachable!()
        };
        i.device_id.device_key()
    }

    /// One CWMP session: Inform, then answer every request with `answer` until the ACS ends the
    /// session. Returns the requests the ACS sent.
    fn session(&self, acs: &Acs, answer: impl Fn(&Body) -> Body) -> Vec<Body> {
        self.session_from(acs, self.inform(EventCode::Periodic), answer)
    }

    /// [`Cpe::session`] opened with `inform`.
    fn session_from(
        &self,
        acs: &Acs,
        inform: Envelope,
        answer: impl Fn(&Body) -> Body,
    ) -> Vec<Body> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let http = reqwest::Client::new();
            let mut cookie: Option<String> = None;
            let post = |body: Vec<u8>, cookie: Option<String>| {
                let mut req = http.post(&acs.cwmp).body(body);
                if let Some(c) = cookie {
                    req = req.header("Cookie", c);
                }
                req.header("Content-Type", "text/xml; charset=\"utf-8\"")
                    .send()
            };
            let resp = post(cwmp::encode(&inform).unwrap().into_bytes(), None)
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "InformResponse");
            if let Some(c) = resp
                .headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|v| {
                    v.split(';')
                        .next()
                        .filter(|c| c.starts_with("acs_session="))
                })
            {
                cookie = Some(c.to_owned());
            }
            let _ = resp.text().await.unwrap();
            let mut requests = Vec::new();
            let mut next = Vec::new();
            loop {
                let resp = post(next, cookie.clone()).await.unwrap();
                if resp.status() == 204 {
                    return requests;
                }
                assert_eq!(resp.status(), 200);
                let env = cwmp::decode(&resp.bytes().await.unwrap()).expect("a CWMP request");
                let reply = answer(&env.body);
                requests.push(env.body);
                next = cwmp::encode(&Envelope::new(env.namespace, env.header.id, reply))
                    .unwrap()
                    .into_bytes();
            }
        })
    }

    /// Registers the device (an Inform, nothing asked).
    fn register(&self, acs: &Acs) {
        let asked = self.session(acs, |b| panic!("unexpected request {b:?}"));
        assert!(asked.is_empty());
    }
}

/// Answers like a device that knows every parameter and faults on SetParameterValues.
fn answer(body: &Body) -> Body {
    match body {
        Body::GetParameterValues(g) => {
            Body::GetParameterValuesResponse(cwmp::GetParameterValuesResponse {
                parameter_list: g
                    .parameter_names
                    .iter()
                    .map(|n| ParameterValue::string(n.clone(), "fresh"))
                    .collect(),
            })
        }
        Body::Reboot(_) => Body::RebootResponse,
        Body::SetParameterValues(_) => Body::Fault(SoapFault::new(CwmpFault::new(
            FaultCode::InvalidParameterName,
        ))),
        other => panic!("unexpected request {other:?}"),
    }
}

/// Between sessions of a device polling for work (a courtesy to the server, not a wait for
/// anything).
fn pause() {
    std::thread::sleep(std::time::Duration::from_millis(20));
}

const A: Cpe = Cpe::new("SN-A", "CP-8851-3PCC", "00:11:22:33:44:0A");
const B: Cpe = Cpe::new("SN-B", "CP-8851-3PCC", "00:11:22:33:44:0B");
const C: Cpe = Cpe::new("DUP", "X-1", "00:11:22:33:44:0C");
const D: Cpe = Cpe::new("DUP", "X-2", "00:11:22:33:44:0D");

/// The `key` member of every row (the rows themselves when `key` is empty).
fn ids(rows: &Value, key: &str) -> Vec<String> {
    rows.as_array()
        .unwrap_or_else(|| panic!("not an array: {rows}"))
        .iter()
        .map(|r| if key.is_empty() { r } else { &r[key] })
        .map(|v| v.as_str().unwrap_or_else(|| panic!("{v}")).to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn devices_and_the_bulk_parameter_query() {
    let acs = Acs::start();
    for cpe in [&A, &B, &C, &D] {
        cpe.register(&acs);
    }
    let mut all = vec![A.id(), B.id(), C.id(), D.id()];
    all.sort();

    // The token comes from ./acs-data/admin.token; every format has the same rows.
    let list = acs.json(&["devices", "list"]);
    let mut got = ids(&list, "id");
    got.sort();
    assert_eq!(got, all);
    assert!(list[0]["product_class"].is_string(), "{list}");
    let nd = acs.run(&["devices", "list", "--format", "ndjson"]);
    assert!(ok(&nd), "{}", stderr(&nd));
    let lines: Vec<Value> = stdout(&nd)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(Value::Array(lines), list);
    let csv = acs.run(&["devices", "list", "--format", "csv"]);
    let text = stdout(&csv);
    let mut rows = text.lines();
    assert_eq!(
        rows.next().unwrap(),
        "id,serial_number,product_class,manufacturer,oui,mac,software_version,remote_ip,\
         status,last_inform,tags"
    );
    assert_eq!(rows.count(), 4);
    // A pipe gets ndjson by default.
    let default = acs.run(&["devices", "list"]);
    assert_eq!(stdout(&default), stdout(&nd));

    // Filter, sort, limit (the limit spans fewer rows than the server's page).
    let f = acs.json(&["devices", "list", "-f", "product_class = CP-8851-3PCC"]);
    assert_eq!(ids(&f, "serial_number"), ["SN-A", "SN-B"]);
    let sorted = acs.json(&[
        "devices",
        "list",
        "--sort",
        "-serial_number",
        "--limit",
        "2",
    ]);
    assert_eq!(ids(&sorted, "serial_number"), ["SN-B", "SN-A"]);

    // A device by id, serial, MAC; an ambiguous serial and an unknown name are errors.
    for name in [A.id().as_str(), "SN-A", "00:11:22:33:44:0A"] {
        let d = acs.json(&["devices", "show", name]);
        assert_eq!(d["id"], A.id(), "{name}");
        assert_eq!(d["mac"], "00:11:22:33:44:0A");
    }
    let amb = acs.run(&["devices", "show", "DUP"]);
    fails(&amb, 1, "ambiguous");
    assert!(stderr(&amb).contains(&C.id()) && stderr(&amb).contains(&D.id()));
    fails(
        &acs.run(&["devices", "show", "NOPE"]),
        1,
        "no device `NOPE`",
    );

    // A malformed filter: exit 1, the position shown.
    let bad = acs.run(&["devices", "list", "-f", "serial = SN-A and ("]);
    fails(&bad, 1, "column");
    fails(
        &acs.run(&["get", "-f", "serial ==", "Device.X"]),
        1,
        "column",
    );

    // get: one row per device and name, in every selection.
    let sw = "Device.DeviceInfo.SoftwareVersion";
    let pi = "Device.ManagementServer.PeriodicInformInterval";
    let out = acs.run(&[
        "get",
        "-d",
        "SN-B",
        "-d",
        "00:11:22:33:44:0A",
        sw,
        pi,
        "--format",
        "csv",
    ]);
    assert!(ok(&out), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "device_id,name,value,type,updated_at");
    assert_eq!(lines.len(), 5, "{text}");
    let a_pi = lines
        .iter()
        .find(|l| l.starts_with(&A.id()) && l.contains(pi))
        .unwrap();
    assert!(a_pi.contains(",3600,xsd:unsignedInt,"), "{a_pi}");
    let rows = acs.json(&["get", "-f", "product_class = CP-8851-3PCC", sw]);
    assert_eq!(ids(&rows, "device_id"), [A.id(), B.id()]);
    assert_eq!(rows[0]["value"], "sip88xx.12-0-2MPP-1");
    assert_eq!(rows[0]["type"], "xsd:string");
    let nd = acs.run(&["get", "--all", sw, "Device.Nope", "--format", "ndjson"]);
    let rows: Vec<Value> = stdout(&nd)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 8);
    let nope = rows.iter().find(|r| r["name"] == "Device.Nope").unwrap();
    assert!(nope["value"].is_null() && nope["type"].is_null(), "{nope}");
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5);

    // A reader that goes away: the CLI ends quietly.
    let mut child = acs.spawn(&["get", "--all", sw, "--format", "csv"]);
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");

    // Tags.
    assert!(ok(&acs.run(&["devices", "tag", "SN-A", "lab", "floor2"])));
    assert_eq!(
        ids(&acs.json(&["devices", "list", "-f", "tag = lab"]), "id"),
        [A.id()]
    );
    let shown = acs.json(&["devices", "show", "SN-A"]);
    let mut tags = ids(&shown["tags"], "");
    tags.sort();
    assert_eq!(tags, ["floor2", "lab"]);
    assert!(ok(&acs.run(&["devices", "tag", "SN-A", "lab", "--remove"])));
    fails(
        &acs.run(&["devices", "tag", "SN-A", "lab", "--remove"]),
        1,
        "no tag `lab`",
    );
    fails(&acs.run(&["devices", "tag", "SN-A"]), 2, "no tag given");
    // By filter: every match, after saying how many (refused without a terminal or --yes).
    let rack = [
        "devices",
        "tag",
        "-f",
        "product_class = CP-8851-3PCC",
        "rack1",
    ];
    fails(&acs.run(&rack), 2, "on 2 devices");
    assert!(ok(&acs.run(&[&rack[..], &["--yes"]].concat())));
    let mut racked = ids(&acs.json(&["devices", "list", "-f", "tag = rack1"]), "id");
    racked.sort();
    let mut expected = vec![A.id(), B.id()];
    expected.sort();
    assert_eq!(racked, expected);
    let unrack = [&rack[..], &["--remove", "--yes"]].concat();
    assert!(ok(&acs.run(&unrack)));
    assert!(
        ok(&acs.run(&unrack)),
        "a filter's devices need not all have the tag"
    );
    assert_eq!(
        acs.json(&["devices", "list", "-f", "tag = rack1"]),
        serde_json::json!([])
    );

    // Events.
    let ev = acs.json(&["events", "SN-A"]);
    assert!(
        ev.as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_code"] == "2 PERIODIC"),
        "{ev}"
    );

    // Delete: refused without --yes when nobody can be asked; done with it.
    fails(
        &acs.run(&["devices", "delete", "00:11:22:33:44:0D"]),
        2,
        "--yes",
    );
    let del = acs.run(&["devices", "delete", "00:11:22:33:44:0D", "--yes"]);
    assert!(ok(&del), "{}", stderr(&del));
    assert_eq!(acs.json(&["devices", "list"]).as_array().unwrap().len(), 3);
    // Now the serial is unique.
    assert_eq!(acs.json(&["devices", "show", "DUP"])["id"], C.id());
}

#[test]
fn device_supplied_control_characters_are_escaped_in_table_and_csv() {
    let acs = Acs::start();
    // C1 controls and DEL are XML characters, so a CPE can store them: U+009B is the 8-bit
    // CSI that starts a terminal escape sequence (here: clear the screen, then red).
    let hostile = "12-0\u{9b}2J\u{9b}31mOK\u{7f}";
    let mut inform = A.inform(EventCode::Boot);
    let Body::Inform(i) = &mut inform.body else {
        unreachable!()
    };
    for p in &mut i.parameter_list {
        if p.name == "Device.DeviceInfo.SoftwareVersion" {
            p.value = hostile.to_owned();
        }
    }
    assert!(A.session_from(&acs, inform, |b| panic!("{b:?}")).is_empty());
    let escaped = "12-0\\u{9b}2J\\u{9b}31mOK\\x7f";
    let sw = "Device.DeviceInfo.SoftwareVersion";
    for args in [
        &["devices", "list"][..],
        &["devices", "show", "SN-A"],
        &["get", "-d", "SN-A", sw],
    ] {
        for format in ["table", "csv"] {
            let out = acs.run(&[args, &["--format", format]].concat());
            assert!(ok(&out), "{args:?}: {}", stderr(&out));
            let text = stdout(&out);
            assert!(
                !text.chars().any(|c| c.is_control() && c != '\n'),
                "{args:?} {format}: {text:?}"
            );
            if format == "table" && args[1] == "list" {
                // A listing's cells are cut to one line at 80 columns: what shows is escaped.
                assert!(text.contains("12-0\\u"), "{args:?} {format}: {text}");
            } else {
                assert!(text.contains(escaped), "{args:?} {format}: {text}");
            }
        }
    }
    // JSON carries the value itself, for scripts.
    let d = acs.json(&["devices", "show", "SN-A"]);
    assert_eq!(d["software_version"], hostile);
}

#[test]
fn tokens_connection_and_usage_errors() {
    let acs = Acs::start();
    A.register(&acs);

    // A wrong token: the server's message and a hint.
    let out = acs.run(&["devices", "list", "--token", "acs_notatoken"]);
    fails(&out, 1, "error: ");
    assert!(stderr(&out).contains("--token"), "{}", stderr(&out));
    let out = acs.run(&["devices", "list"]).status.success();
    assert!(out);
    // The token from the environment also works.
    let token = std::fs::read_to_string(acs.data_dir().join("admin.token")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = binary()
        .current_dir(elsewhere.path())
        .args(["devices", "list", "--server", &acs.nbi, "--format", "json"])
        .env("ACS_TOKEN", token.trim())
        .output()
        .unwrap();
    assert!(ok(&out), "{}", stderr(&out));
    // … and --data-dir finds admin.token elsewhere.
    let out = acs.run_in(
        elsewhere.path(),
        &[
            "devices",
            "list",
            "--data-dir",
            acs.data_dir().to_str().unwrap(),
        ],
    );
    assert!(ok(&out), "{}", stderr(&out));
    // No token anywhere.
    fails(
        &acs.run_in(elsewhere.path(), &["devices", "list"]),
        1,
        "no API token",
    );

    // A viewer token may read but not delete: 403 with a hint.
    let created = binary()
        .current_dir(acs.dir.path())
        .args(["token", "create", "--role", "viewer", "--name", "ro"])
        .output()
        .unwrap();
    assert!(ok(&created), "{}", stderr(&created));
    let viewer = stdout(&created).trim().to_owned();
    assert!(ok(
        &acs.run(&["devices", "show", "SN-A", "--token", &viewer])
    ));
    let out = acs.run(&["devices", "delete", "SN-A", "--yes", "--token", &viewer]);
    fails(&out, 1, "role");

    // Nobody listening.
    let out = binary()
        .current_dir(acs.dir.path())
        .args(["devices", "list"])
        .env("ACS_SERVER", "http://127.0.0.1:9")
        .output()
        .unwrap();
    fails(&out, 1, "cannot connect to the ACS at http://127.0.0.1:9");

    // Usage errors: exit 2.
    for args in [
        &["get", "Device.X"][..],
        &["get", "-d", "SN-A", "--all", "Device.X"],
        &["get", "-d", "SN-A"],
        &["get", "-d", "SN-A", "--timeout", "5", "Device.X"],
        &["set", "-d", "SN-A", "Device.X"],
        &["set", "-d", "SN-A", "Device.X=maybe:boolean"],
        &["devices", "list", "--format", "xml"],
        &["devices", "list", "--limit", "0"],
        &["tasks", "list", "--state", "lost"],
        &["tasks", "show", "abc"],
        &["reboot", "-d", "SN-A", "-d", "SN-B"],
        &["factory-reset", "-d", "x", "-d", "y"],
    ] {
        let out = acs.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("panicked"));
    }
    // The confirmation refusal says what to do.
    fails(
        &acs.run(&["reboot", "-d", "SN-A", "-d", "SN-B"]),
        2,
        "--yes",
    );
}

#[test]
fn tasks_faults_and_jobs() {
    let acs = Acs::start();
    A.register(&acs);
    B.register(&acs);

    // One device: a task, queued for the next Inform.
    let task = acs.json(&["reboot", "-d", "SN-A", "--no-connection-request"]);
    assert_eq!(
        (task["kind"].as_str(), task["state"].as_str()),
        (Some("reboot"), Some("queued"))
    );
    let id = task["id"].as_i64().unwrap().to_string();
    let listed = acs.json(&["tasks", "list", "-d", "SN-A"]);
    assert_eq!(ids(&listed, "state"), ["queued"]);
    assert_eq!(listed[0]["id"].to_string(), id);
    assert_eq!(acs.json(&["tasks", "show", &id])["device_id"], A.id());
    fails(&acs.run(&["tasks", "show", "999999"]), 1, "no task 999999");
    let cancelled = acs.json(&["tasks", "cancel", &id]);
    assert_eq!(cancelled["state"], "cancelled");
    fails(&acs.run(&["tasks", "cancel", &id]), 1, "error: ");
    let retried = acs.json(&["tasks", "retry", &id]);
    assert_eq!(retried["state"], "queued");
    assert_ne!(retried["id"].to_string(), id);
    let csv = acs.run(&["tasks", "list", "--state", "queued", "--format", "csv"]);
    assert_eq!(stdout(&csv).lines().count(), 2, "{}", stdout(&csv));

    // The device comes back: it reboots, and the task is done.
    let asked = A.session(&acs, answer);
    assert!(matches!(asked[..], [Body::Reboot(_)]), "{asked:?}");
    assert_eq!(
        acs.json(&["tasks", "show", &retried["id"].to_string()])["state"],
        "done"
    );

    // set: the type comes from the stored parameter.
    let pi = "Device.ManagementServer.PeriodicInformInterval";
    let task = acs.json(&[
        "set",
        "-d",
        "SN-B",
        &format!("{pi}=300"),
        "--no-connection-request",
    ]);
    assert_eq!(
        task["definition"]["values"],
        serde_json::json!([{"name": pi, "value": "300", "type": "xsd:unsignedInt"}])
    );
    let task2 = acs.json(&[
        "set",
        "-d",
        "SN-A",
        "Device.X.Y=on:xsd:string",
        "--no-connection-request",
    ]);
    assert_eq!(task2["definition"]["values"][0]["type"], "xsd:string");
    acs.run(&["tasks", "cancel", &task2["id"].to_string()]);
    // Many devices: asked first, with the count (refused here: no terminal, no --yes).
    fails(
        &acs.run(&[
            "set",
            "-f",
            "product_class = CP-8851-3PCC",
            "Device.X.Y=on",
            "--no-connection-request",
        ]),
        2,
        "on 2 devices matching",
    );
    // A value that does not fit the stored type is refused by the ACS before anything is sent.
    fails(
        &acs.run(&["set", "-d", "SN-B", &format!("{pi}=soon")]),
        1,
        "xsd:unsignedInt",
    );

    // The device faults on it: a fault to list and clear.
    B.session(&acs, answer);
    let faults = acs.json(&["faults", "list"]);
    assert_eq!(ids(&faults, "device_id"), [B.id()]);
    assert_eq!(faults[0]["fault_code"], 9005);
    assert_eq!(
        acs.json(&["faults", "list", "-d", "SN-A"]),
        serde_json::json!([])
    );
    let shown = acs.json(&["tasks", "show", &task["id"].to_string()]);
    assert_eq!(shown["state"], "fault");
    // Every device's faults: asked first, with the count.
    fails(&acs.run(&["faults", "clear"]), 2, "faults on every device");
    let cleared = acs.run(&["faults", "clear", "-d", "SN-B"]);
    assert!(ok(&cleared), "{}", stderr(&cleared));
    assert!(
        stderr(&cleared).contains("cleared 1"),
        "{}",
        stderr(&cleared)
    );
    assert_eq!(acs.json(&["faults", "list"]), serde_json::json!([]));

    // Several devices: a job, after confirmation.
    let job = acs.json(&[
        "reboot",
        "-f",
        "product_class = CP-8851-3PCC",
        "--yes",
        "--no-connection-request",
    ]);
    assert_eq!(job["total"], 2);
    assert_eq!(job["kind"], "reboot");
    let jid = job["id"].to_string();
    let jobs = acs.json(&["jobs", "list"]);
    assert_eq!(jobs[0]["id"].to_string(), jid);
    let per_device = acs.json(&["jobs", "show", &jid, "--tasks"]);
    let mut devs = ids(&per_device, "device_id");
    devs.sort();
    assert_eq!(devs, [A.id(), B.id()]);
    assert_eq!(ids(&per_device, "state"), ["queued", "queued"]);
    assert_eq!(
        acs.json(&["tasks", "list", "--job", &jid])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A filter matching nothing does nothing.
    let none = acs.run(&["reboot", "-f", "serial = nobody", "--yes"]);
    assert!(ok(&none), "{}", stderr(&none));
    assert!(stderr(&none).contains("nothing to do"));
}

#[test]
fn waiting_for_devices() {
    let acs = Acs::start();
    A.register(&acs);
    B.register(&acs);
    let sw = "Device.DeviceInfo.SoftwareVersion";

    // get --live: fresh values from A; B faults, which is exit code 3.
    let cli = acs.spawn(&[
        "get",
        "--live",
        "--no-connection-request",
        "-d",
        "SN-A",
        "-d",
        "SN-B",
        sw,
        "--format",
        "json",
    ]);
    // The job exists once the CLI has created it; until then the devices have nothing to do.
    let fault = |b: &Body| match b {
        // Not a fault worth retrying: the task ends with it.
        Body::GetParameterValues(_) => Body::Fault(SoapFault::new(CwmpFault::new(
            FaultCode::InvalidParameterName,
        ))),
        other => answer(other),
    };
    for (cpe, answer) in [
        (&A, &answer as &dyn Fn(&Body) -> Body),
        (&B, &fault as &dyn Fn(&Body) -> Body),
    ] {
        while cpe.session(&acs, answer).is_empty() {
            pause();
        }
    }
    let out = cli.wait_with_output().unwrap();
    fails(&out, 3, "SN-B CP-8851-3PCC: fault 9005");
    assert!(stderr(&out).contains("fault 9005"), "{}", stderr(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&rows, "device_id"), [A.id(), B.id()]);
    assert_eq!(rows[0]["value"], "fresh");
    assert_eq!(
        rows[1]["value"], "sip88xx.12-0-2MPP-1",
        "B keeps its stored value"
    );

    // --live over a filter that matches nothing: nothing to refresh, only the header.
    let out = acs.run(&[
        "get",
        "--live",
        "-f",
        "serial = nobody",
        sw,
        "--format",
        "csv",
    ]);
    assert!(ok(&out), "{}", stderr(&out));
    assert_eq!(stdout(&out), "device_id,name,value,type,updated_at\n");

    // reboot --wait on one device: the answer arrives while the CLI waits.
    let cli = acs.spawn(&[
        "reboot",
        "-d",
        "SN-A",
        "--no-connection-request",
        "--wait",
        "120",
        "--format",
        "json",
    ]);
    while A.session(&acs, answer).is_empty() {
        pause();
    }
    let out = cli.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let task: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(task["state"], "done");
}

#[test]
fn files_and_config_templates() {
    let acs = Acs::start();
    A.register(&acs);
    let dir = tempfile::tempdir().unwrap();
    // Bigger than the API's 1 MiB JSON limit: uploads stream.
    let image = dir.path().join("sip88xx.12-0-3MPP.loads");
    std::fs::write(&image, vec![0x5a; 2 * 1024 * 1024 + 7]).unwrap();
    let uploaded = acs.json(&[
        "files",
        "upload",
        image.to_str().unwrap(),
        "--type",
        "firmware",
        "--product-class",
        "CP-8851-3PCC",
        "--version",
        "sip88xx.12-0-3MPP",
    ]);
    assert_eq!(uploaded["name"], "sip88xx.12-0-3MPP.loads");
    assert_eq!(uploaded["size"], 2 * 1024 * 1024 + 7);
    assert_eq!(uploaded["type"], "firmware");
    let id = uploaded["id"].as_i64().unwrap().to_string();
    let listed = acs.json(&["files", "list", "--type", "firmware"]);
    assert_eq!(ids(&listed, "name"), ["sip88xx.12-0-3MPP.loads"]);
    assert_eq!(
        acs.json(&["files", "show", &id])["sha256"],
        uploaded["sha256"]
    );

    fails(
        &acs.run(&["files", "upload", "/nonexistent/x.bin"]),
        1,
        "/nonexistent/x.bin",
    );
    fails(
        &acs.run(&[
            "files",
            "upload",
            image.to_str().unwrap(),
            "--type",
            "movie",
        ]),
        2,
        "movie",
    );
    fails(&acs.run(&["files", "show", "999999"]), 1, "no file 999999");

    // A dry run of a template for one device, with its CSV row.
    let template = dir.path().join("phone.xml");
    std::fs::write(
        &template,
        "<device><flat-profile><Station_Name>{{ station }}</Station_Name>\
         <User_ID_1_>{{ serial }}</User_ID_1_></flat-profile></device>",
    )
    .unwrap();
    let vars = dir.path().join("vars.csv");
    std::fs::write(&vars, format!("serial,station\n{},Front desk\n", A.serial)).unwrap();
    let out = acs.run(&[
        "config",
        "render",
        template.to_str().unwrap(),
        "-d",
        A.serial,
        "--vars",
        vars.to_str().unwrap(),
    ]);
    assert!(ok(&out), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "<device><flat-profile><Station_Name>Front desk</Station_Name><User_ID_1_>{}\
             </User_ID_1_></flat-profile></device>\n",
            A.serial
        )
    );
    fails(
        &acs.run(&[
            "config",
            "render",
            template.to_str().unwrap(),
            "-d",
            A.serial,
        ]),
        1,
        "missing variables: station",
    );

    // Deleting asks first (refused without a terminal), naming what goes.
    fails(&acs.run(&["files", "delete", &id]), 2, "--yes");
    let out = acs.run(&["files", "delete", &id, "--yes"]);
    assert!(ok(&out), "{}", stderr(&out));
    fails(&acs.run(&["files", "delete", &id]), 1, "no file");
}

/// A push's `--format json` report, and each device's `rollout_state` in it.
fn rollout_states(out: &Output) -> (Value, Vec<String>) {
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let states = report
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rollout_state"].as_str().unwrap().to_owned())
        .collect();
    (report, states)
}

/// A self-signed P-256 CA certificate (`openssl req -x509`, valid until 2126): a CA push
/// refuses anything that is not a certificate.
const LAB_CA: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBizCCATGgAwIBAgIUKmS3NPybkwWOTARSDal6UFzjvcswCgYIKoZIzj0EAwIw\n\
GjEYMBYGA1UEAwwPYWNzIHRlc3QgbGFiIENBMCAXDTI2MTIwNTA5MDYyOFoYDzIx\n\
MjYxMTExMDkwNjI4WjAaMRgwFgYDVQQDDA9hY3MgdGVzdCBsYWIgQ0EwWTATBgcq\n\
hkjOPQIBBggqhkjOPQMBBwNCAARQH4+chNC69pVwC9oiwJ1QC2Wwg1UShkFG+w4N\n\
MFMmfgAIs2uNCPMruKWAYw+NC8bDJbEPAaK08WOVX26ink1xo1MwUTAdBgNVHQ4E\n\
FgQUZpmmL5dXBoGGmYfHa2NjHuSROnMwHwYDVR0jBBgwFoAUZpmmL5dXBoGGmYfH\n\
a2NjHuSROnMwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEApjS3\n\
qgZ4aDpVlDo1LLTpON0P7hyqax2Km36LYl+A1dMCIBEEb3p2VtHnr76VJ54WSUwG\n\
htHVCgpR7NgsDEWAM5FH\n\
-----END CERTIFICATE-----\n\
";

#[test]
fn a_firmware_rollout_from_the_command_line() {
    let acs = Acs::start();
    let (rt, sim) = phones(&acs, 3, "FW");
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("sip88xx.12-0-9MPP.loads");
    std::fs::write(&image, vec![7u8; 300_000]).unwrap();

    // More than one device needs --yes when nobody can be asked.
    fails(
        &acs.run(&[
            "firmware",
            "push",
            image.to_str().unwrap(),
            "-f",
            "serial ~ \"FW*\"",
        ]),
        2,
        "--yes",
    );
    let out = acs.run(&[
        "firmware",
        "push",
        image.to_str().unwrap(),
        "-f",
        "serial ~ \"FW*\"",
        "--concurrency",
        "2",
        "--max-failures",
        "50%",
        "--wait=300",
        "--yes",
        "--format",
        "json",
    ]);
    assert!(ok(&out), "{}\n{}", stderr(&out), stdout(&out));
    let (report, states) = rollout_states(&out);
    assert_eq!(states, ["verified", "verified", "verified"], "{report}");
    for i in 0..3 {
        assert_eq!(
            sim.device(i)
                .value("Device.DeviceInfo.SoftwareVersion")
                .as_deref(),
            Some("sip88xx.12-0-9MPP")
        );
    }
    assert!(stderr(&out).contains("verified 3"), "{}", stderr(&out));
    fails(
        &acs.run(&[
            "firmware",
            "push",
            "--file",
            "1",
            "-d",
            "FW0",
            "--max-failures",
            "x",
        ]),
        2,
        "--max-failures",
    );

    // A custom CA certificate goes the same way, with the vendor FileType carrying each
    // phone's own OUI (the simulated MPP accepts `X 00562B Custom CA`).
    let ca = dir.path().join("lab-ca.pem");
    std::fs::write(&ca, LAB_CA).unwrap();
    let serial = sim
        .device(0)
        .value("Device.DeviceInfo.SerialNumber")
        .unwrap();
    let out = acs.run(&[
        "ca",
        "push",
        ca.to_str().unwrap(),
        "-d",
        &serial,
        "--wait=300",
        "--format",
        "json",
    ]);
    assert!(ok(&out), "{}\n{}", stderr(&out), stdout(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["rollout_state"], "installed", "{report}");
    assert_eq!(
        acs.json(&["files", "list", "--type", "ca"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    fails(
        &acs.run(&[
            "ca",
            "push",
            ca.to_str().unwrap(),
            "-d",
            &serial,
            "--file-type",
            "Custom",
        ]),
        2,
        "X <OUI>",
    );
    rt.block_on(sim.shutdown());
}

#[test]
fn a_configuration_push_renders_per_device() {
    let acs = Acs::start();
    let (rt, sim) = phones(&acs, 2, "CFG");
    let serials: Vec<String> = (0..2)
        .map(|i| {
            sim.device(i)
                .value("Device.DeviceInfo.SerialNumber")
                .unwrap()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("desk.xml");
    std::fs::write(
        &template,
        "<device><flat-profile><Station_Name ua=\"na\">{{ station }}</Station_Name>\
         </flat-profile></device>",
    )
    .unwrap();
    // One phone has no row: nothing is pushed, and the phone and variable are named.
    let partial = dir.path().join("partial.csv");
    std::fs::write(&partial, format!("serial,station\n{},Lobby\n", serials[0])).unwrap();
    let out = acs.run(&[
        "config",
        "push",
        template.to_str().unwrap(),
        "-f",
        "serial ~ \"CFG*\"",
        "--vars",
        partial.to_str().unwrap(),
        "--yes",
    ]);
    fails(&out, 1, "missing variables: station");
    assert!(stderr(&out).contains(&serials[1]), "{}", stderr(&out));
    assert_eq!(acs.json(&["jobs", "list"]).as_array().unwrap().len(), 0);

    let vars = dir.path().join("desks.csv");
    std::fs::write(
        &vars,
        format!(
            "serial,station\n{},Lobby & front\n{},Kitchen\n",
            serials[0], serials[1]
        ),
    )
    .unwrap();
    let out = acs.run(&[
        "config",
        "push",
        template.to_str().unwrap(),
        "-f",
        "serial ~ \"CFG*\"",
        "--vars",
        vars.to_str().unwrap(),
        "--yes",
        "--wait=300",
        "--format",
        "json",
    ]);
    assert!(ok(&out), "{}\n{}", stderr(&out), stdout(&out));
    let (report, states) = rollout_states(&out);
    assert_eq!(states, ["installed", "installed"], "{report}");
    for (i, station) in [(0, "Lobby & front"), (1, "Kitchen")] {
        assert_eq!(
            sim.device(i)
                .flat_profile()
                .get("Station_Name")
                .map(String::as_str),
            Some(station),
            "phone {i}"
        );
    }
    rt.block_on(sim.shutdown());
}

#[test]
fn provisioning_rules_from_the_config_file_and_the_command_line() {
    const INTERVAL: &str = "Device.ManagementServer.PeriodicInformInterval";
    let acs = Acs::start_with(|dir| {
        std::fs::write(
            dir.join("mpp.xml"),
            "<device><flat-profile><Station_Name>Desk {{ serial }}</Station_Name>\
             </flat-profile></device>",
        )
        .unwrap();
        std::fs::write(dir.join("sip88xx.12-0-7MPP.loads"), vec![9u8; 20_000]).unwrap();
        std::fs::write(
            dir.join("acs.toml"),
            r#"
[[provision.rules]]
name = "mpp"
filter = 'serial ~ "ZTC*"'
events = ["BOOTSTRAP"]
template = "mpp.xml"
firmware = "sip88xx.12-0-7MPP.loads"
parameters = [
  { name = "Device.ManagementServer.PeriodicInformInterval", value = "1800", type = "xsd:unsignedInt" },
]
"#,
        )
        .unwrap();
    });

    // A second rule from the command line; it applies after `mpp` (order 200 > 100), so its
    // interval is the one the phone keeps.
    let out = acs.run(&[
        "provision",
        "add",
        "extra",
        "-f",
        "serial ~ \"ZTC*\"",
        "--event",
        "BOOTSTRAP",
        "--order",
        "200",
        "--set",
        &format!("{INTERVAL}=1200:unsignedInt"),
        "--format",
        "json",
    ]);
    assert!(ok(&out), "{}", stderr(&out));
    let listed = acs.run(&["provision", "list", "--format", "json"]);
    assert!(ok(&listed), "{}", stderr(&listed));
    let rules: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<(&str, &str)> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["source"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("mpp", "config"), ("extra", "api")]);
    assert!(
        rules[0]["ensures"]
            .as_str()
            .unwrap()
            .contains("(sip88xx.12-0-7MPP)"),
        "the version comes from the image name: {rules}"
    );

    // A new phone bootstraps and comes up configured and upgraded with nobody doing anything.
    let (rt, sim) = phones(&acs, 1, "ZTC");
    let serial = sim.device(0).serial().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let items = loop {
        let out = acs.run(&["provision", "status", &serial, "--format", "json"]);
        assert!(ok(&out), "{}", stderr(&out));
        let items: Value = serde_json::from_slice(&out.stdout).unwrap();
        let done = items
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "applied");
        if done && items.as_array().unwrap().len() == 4 {
            break items;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not provisioned: {items}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let kinds: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["rule"].as_str().unwrap(),
                i["item"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "extra/parameters",
            "mpp/configuration",
            "mpp/firmware",
            "mpp/parameters"
        ]
    );
    // The fleet view: the same items, each with its device, for every device a filter finds.
    let fleet = acs.json(&["provision", "status", "-f", &format!("serial = {serial}")]);
    let fleet = fleet.as_array().unwrap();
    assert_eq!(fleet.len(), 4, "{fleet:?}");
    assert!(
        fleet
            .iter()
            .all(|i| i["device_id"].as_str().unwrap().ends_with(&serial))
    );
    assert_eq!(fleet[0]["rule"], "extra");
    fails(&acs.run(&["provision", "status"]), 2, "DEVICE");
    let phone = sim.device(0);
    assert_eq!(
        phone.value("Device.DeviceInfo.SoftwareVersion").as_deref(),
        Some("sip88xx.12-0-7MPP")
    );
    assert_eq!(phone.value(INTERVAL).as_deref(), Some("1200"));
    assert_eq!(
        phone.flat_profile().get("Station_Name").cloned(),
        Some(format!("Desk {serial}"))
    );

    fails(
        &acs.run(&["provision", "remove", "mpp", "--yes"]),
        1,
        "configuration file",
    );
    fails(&acs.run(&["provision", "remove", "extra"]), 2, "--yes");
    let out = acs.run(&["provision", "remove", "extra", "--yes"]);
    assert!(ok(&out), "{}", stderr(&out));
    fails(
        &acs.run(&["provision", "remove", "extra"]),
        1,
        "no provisioning rule",
    );
    fails(
        &acs.run(&[
            "provision",
            "add",
            "x",
            "--event",
            "WHENEVER",
            "--set",
            "A.B=1",
        ]),
        2,
        "unknown event",
    );
    fails(
        &acs.run(&["provision", "add", "nothing"]),
        2,
        "ensures nothing",
    );
    // A rule that ensures a second line and a notification, and verifies them.
    let lines = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";
    let out = acs.run(&[
        "provision",
        "add",
        "lines",
        "-f",
        "serial ~ \"NOPE*\"",
        "--event",
        "PERIODIC",
        "--event",
        "4 VALUE CHANGE",
        "--object",
        &format!("{lines}=2"),
        "--notify",
        &format!("{lines}2.Status=2"),
        "--format",
        "json",
    ]);
    assert!(ok(&out), "{}", stderr(&out));
    let rule: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rule["events"],
        serde_json::json!(["PERIODIC", "VALUE CHANGE"])
    );
    let ensures = rule["ensures"].as_str().unwrap();
    assert!(ensures.contains(&format!("{lines} ≥2 instances")), "{rule}");
    assert!(
        ensures.contains(&format!("notify {lines}2.Status=2")),
        "{rule}"
    );
    fails(
        &acs.run(&["provision", "add", "o", "--object", lines]),
        2,
        "write TABLE.=N",
    );
    fails(
        &acs.run(&[
            "provision",
            "add",
            "o",
            "--notify",
            &format!("{lines}1.Status=7"),
        ]),
        2,
        "not 0 (off)",
    );
    fails(
        &acs.run(&["provision", "add", "o", "--object", &format!("{lines}=0")]),
        2,
        "give 1-1000",
    );
    let out = acs.run(&["provision", "remove", "lines", "--yes"]);
    assert!(ok(&out), "{}", stderr(&out));
    let image = acs.dir.path().join("gateway.bin");
    std::fs::write(&image, b"image").unwrap();
    let image = image.to_str().unwrap();
    fails(
        &acs.run(&["provision", "add", "z", "--firmware", image]),
        2,
        "--firmware-version",
    );
    fails(
        &acs.run(&[
            "provision",
            "add",
            "mpp",
            "--firmware",
            image,
            "--firmware-version",
            "1",
        ]),
        1,
        "already exists",
    );
    let files = acs.run(&["files", "list", "--format", "json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&files.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2,
        "refused rules uploaded nothing"
    );
    fails(
        &acs.run(&["provision", "add", "y", "--firmware", "/nonexistent.loads"]),
        2,
        "no such file",
    );
    let out = acs.run(&["provision", "reset", &serial, "--rule", "mpp"]);
    assert!(ok(&out), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 provisioning item(s)"),
        "{}",
        stderr(&out)
    );
    rt.block_on(sim.shutdown());
}

/// `[nbi.tls]`: the commands reach an HTTPS API whose certificate they are told to trust
/// (`--ca-cert` or `$ACS_CA_CERT`), and refuse one they are not, saying why.
#[test]
fn the_commands_over_https() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let acs = Acs::start_with(|dir| {
        std::fs::write(dir.join("cert.pem"), cert.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
        std::fs::write(
            dir.join("acs.toml"),
            "[nbi.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n",
        )
        .unwrap();
    });
    let https = acs.nbi.replace("http://127.0.0.1", "https://localhost");
    let run = |args: &[&str], ca_env: Option<&str>| {
        let mut command = binary();
        command
            .current_dir(acs.dir.path())
            .args(args)
            .args(["--server", &https]);
        if let Some(ca) = ca_env {
            command.env("ACS_CA_CERT", ca);
        }
        command.output().unwrap()
    };
    let out = run(
        &[
            "devices",
            "list",
            "--ca-cert",
            "cert.pem",
            "--format",
            "json",
        ],
        None,
    );
    assert!(ok(&out), "{}", stderr(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed.is_array(), "{listed}");
    let out = run(&["devices", "list", "--format", "json"], Some("cert.pem"));
    assert!(ok(&out), "{}", stderr(&out));
    // Not told to trust it: refused, with the reason.
    fails(&run(&["devices", "list"], None), 1, "certificate");
    // Not a certificate at all.
    fails(
        &run(&["devices", "list", "--ca-cert", "acs.toml"], None),
        1,
        "no PEM certificate",
    );
}

/// `--wait` survives a restart of the ACS: it says first which task it follows, rides out the
/// outage with backoff, and ends with the task's outcome once the server is back.
#[test]
fn waiting_survives_a_restart_of_the_acs() {
    use std::io::{BufRead as _, Read as _};
    let mut acs = Acs::start();
    A.register(&acs);
    let mut cli = acs.spawn(&[
        "reboot",
        "-d",
        "SN-A",
        "--no-connection-request",
        "--wait",
        "120",
        "--format",
        "json",
    ]);
    let mut err = std::io::BufReader::new(cli.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(
        line.contains("SN-A CP-8851-3PCC: task ") && line.contains("acs tasks show"),
        "the id comes first: {line}"
    );
    acs.stop();
    line.clear();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("lost the ACS"), "{line}");
    acs.restart();
    while A.session(&acs, answer).is_empty() {
        pause();
    }
    let out = cli.wait_with_output().unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(out.status.success(), "{rest}");
    assert!(rest.contains("answers again"), "{rest}");
    let task: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(task["state"], "done");
}

/// Every CWMP method the ACS sends has a command, run here against simulated devices: the
/// stored tree, a live refresh, attributes, objects, GetRPCMethods on MPP phones; Upload and
/// ScheduleInform on a gateway (MPP phones do not support them, and say so).
#[test]
fn every_rpc_has_a_command() {
    let acs = Acs::start();
    let (rt, mpp) = phones(&acs, 2, "RPC");
    let (rt2, gw) = simulated(&acs, 1, "GW", "tr098-gateway");
    let phone = mpp.device(0).serial().to_owned();
    let gateway = gw.device(0).serial().to_owned();
    let json = |args: &[&str]| -> Value {
        let out = acs.run(&[args, &["--format", "json"]].concat());
        assert!(ok(&out), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let done = |device: &str, args: &[&str]| -> Value {
        let task = json(&[args, &["-d", device, "--wait", "60"]].concat());
        assert_eq!(task["state"], "done", "{args:?}: {task}");
        task
    };

    // The stored tree as the Informs left it: values, writability not yet known.
    let version = |params: &Value| -> Value {
        params
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Device.DeviceInfo.SoftwareVersion")
            .cloned()
            .unwrap_or_else(|| panic!("{params}"))
    };
    let before = version(&json(&["params", &phone, "Device.DeviceInfo."]));
    assert_eq!(before["value"], "sip88xx.12-0-2MPP-1");
    assert_eq!(before["writable"], Value::Null);
    // A live refresh reads names (with writability) and values.
    let refreshed = done(&phone, &["refresh", "Device.DeviceInfo."]);
    assert_eq!(
        refreshed["result"]["response"]["method"],
        "GetParameterValuesResponse"
    );
    let after = version(&json(&["params", &phone, "Device.DeviceInfo."]));
    assert_eq!(after["writable"], false, "{after}");
    let methods = done(&phone, &["rpc-methods"]);
    assert!(
        methods["result"]["response"]["method_list"]
            .as_array()
            .unwrap()
            .contains(&Value::from("AddObject")),
        "{methods}"
    );
    let line = "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.Status";
    done(&phone, &["attrs", "set", &format!("{line}=2")]);
    let attrs = done(&phone, &["attrs", "get", line]);
    assert_eq!(
        attrs["result"]["response"]["parameter_list"][0]["notification"], 2,
        "{attrs}"
    );
    let table = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";
    let added = done(&phone, &["object", "add", table]);
    let instance = added["result"]["response"]["instance_number"]
        .as_u64()
        .unwrap();
    done(
        &phone,
        &["object", "delete", &format!("{table}{instance}.")],
    );
    // Not an MPP method: the device says so, and the command ends with exit 3 and the fault.
    let unsupported = acs.run(&["schedule-inform", "-d", &phone, "--wait", "60"]);
    fails(&unsupported, 3, "9000");

    done(&gateway, &["schedule-inform", "--delay", "5"]);
    // Where the gateway puts its log: a file server that takes one PUT.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/log", server.local_addr().unwrap());
    let received = std::thread::spawn(move || {
        use std::io::{BufRead as _, Read as _, Write as _};
        let (stream, _) = server.accept().unwrap();
        let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
        let (mut line, mut length, mut head) = (String::new(), 0usize, String::new());
        while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
            line.clear();
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (&stream)
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        head
    });
    let upload = done(
        &gateway,
        &["upload", "--type", "2 Vendor Log File", "--url", &url],
    );
    assert!(received.join().unwrap().starts_with("PUT /log"));

    // A download in a window an hour away stays queued, can be seen, and cancelled.
    let scheduled = done(
        &gateway,
        &[
            "schedule-download",
            "--url",
            "http://127.0.0.1:9/fw.bin",
            "--time-window",
            "3600-7200",
        ],
    );
    assert_eq!(scheduled["kind"], "schedule_download");
    let key = format!("acs-{}", scheduled["id"]);
    let queued = done(&gateway, &["queued-transfers"]);
    let list = &queued["result"]["response"]["transfer_list"];
    assert_eq!(list[0]["command_key"], key.as_str(), "{queued}");
    assert_eq!(list[0]["state"], 1);
    done(&gateway, &["cancel-transfer", &key]);
    let queued = done(&gateway, &["queued-transfers"]);
    assert_eq!(
        queued["result"]["response"]["transfer_list"],
        serde_json::json!([])
    );
    // Nothing left to cancel: the device's fault, exit 3.
    fails(
        &acs.run(&["cancel-transfer", "-d", &gateway, &key, "--wait", "60"]),
        3,
        "9021",
    );
    assert_eq!(upload["result"]["response"]["method"], "UploadResponse");

    // A maintenance window: a job (even for one device) that waits for it. Three days ahead,
    // so it is closed now.
    use chrono::Datelike as _;
    let day = (chrono::Utc::now() + chrono::TimeDelta::days(3)).weekday();
    let window = format!("{day} 01:00-05:00 Europe/Oslo");
    let job = json(&[
        "reboot",
        "-d",
        &phone,
        "--window",
        &window,
        "--no-connection-request",
    ]);
    assert_eq!(job["window"], window.as_str(), "{job}");
    assert!(job["window_opens_at"].is_string(), "{job}");
    assert_eq!(job["held"], 1, "{job}");
    fails(
        &acs.run(&["reboot", "-d", &phone, "--window", "nightly"]),
        1,
        "write it like",
    );

    // Several devices: asked first, with the count.
    fails(
        &acs.run(&["rpc-methods", "-f", "serial ~ RPC*"]),
        2,
        "2 devices",
    );
    fails(
        &acs.run(&["attrs", "set", "-d", &phone, "Device.X=loud"]),
        2,
        "notification",
    );
    rt.block_on(mpp.shutdown());
    rt2.block_on(gw.shutdown());
}

/// A webhook receiver on a thread: answers every POST 200 and hands its body to the test.
fn webhook_receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let (head_end, len) = loop {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break (0, 0);
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    break (i + 4, len);
                }
            };
            while head_end > 0 && buf.len() < head_end + len {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if head_end > 0 {
                let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
                let _ = tx.send(body);
            }
        }
    });
    (url, rx)
}

#[test]
fn alerts_test_and_list() {
    let (url, bodies) = webhook_receiver();
    let acs = Acs::start_with(|dir| {
        std::fs::write(
            dir.join("acs.toml"),
            format!(
                "[alerts]\npoll_interval_secs = 1\n\n[[alerts.webhooks]]\nname = \"pager\"\n\
                 url = \"{url}\"\nsecret = \"cli-hook-secret\"\nevents = [\"task.fault\"]\n"
            ),
        )
        .unwrap();
    });
    fails(
        &acs.run(&["alerts", "test", "--webhook", "nobody"]),
        1,
        "nobody",
    );
    let queued = acs.json(&["alerts", "test"]);
    assert_eq!(queued, serde_json::json!([{"webhook": "pager"}]));
    let body = bodies
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the server delivers the test alert");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["event"], "test");
    // Delivered is recorded right after the answer; loop until the row says so.
    let list = loop {
        let list = acs.json(&["alerts", "list", "--state", "delivered"]);
        if list.as_array().is_some_and(|a| !a.is_empty()) {
            break list;
        }
        pause();
    };
    assert_eq!(list[0]["event"], "test");
    assert_eq!(list[0]["webhook"], "pager");
    assert_eq!(list[0]["key"], body["id"]);
    assert_eq!(list[0]["attempts"], 1);
    let table = acs.run(&["alerts", "list"]);
    assert!(ok(&table), "{}", stderr(&table));
    let text = stdout(&table);
    assert!(
        text.contains("pager") && text.contains("delivered"),
        "{text}"
    );
    assert!(!text.contains("cli-hook-secret"));
    assert_eq!(
        acs.json(&["alerts", "list", "--state", "failed"]),
        serde_json::json!([])
    );
    fails(&acs.run(&["alerts", "list", "--state", "lost"]), 2, "lost");
}

//! Every type reads back what it writes, in the shape the server sends.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::*;

/// `json` (a body as the server sends it) reads as `T`, and `T` writes exactly `json` again.
fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(json: Value) -> T {
    let typed: T = serde_json::from_value(json.clone())
        .unwrap_or_else(|e| panic!("{}: {e}\n{json:#}", std::any::type_name::<T>()));
    let written = serde_json::to_value(&typed).unwrap();
    assert_eq!(written, json, "{}", std::any::type_name::<T>());
    let again: T = serde_json::from_value(written).unwrap();
    assert_eq!(again, typed);
    typed
}

/// A query string reads back what it writes.
fn check_query<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(q: T) {
    let text = serde_urlencoded::to_string(&q).unwrap();
    let back: T = serde_urlencoded::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(back, q, "{text}");
}

const AT: &str = "2026-01-02T03:04:05Z";

fn device() -> Value {
    json!({
        "id": "000E08-CP%2D8851-FCH1", "manufacturer": "Cisco", "oui": "000E08",
        "product_class": "CP-8851", "serial_number": "FCH1", "mac": "AA:BB:CC:DD:EE:FF",
        "software_version": "sip88xx.12-0-1MPP", "hardware_version": null,
        "provisioning_code": null, "connection_request_url": "http://10.0.0.2:7547/cr",
        "remote_ip": "10.0.0.2", "cwmp_version": "urn:dslforum-org:cwmp-1-2",
        "first_seen": AT, "last_inform": AT, "last_boot": AT, "last_bootstrap": null,
        "periodic_inform_interval": 3600, "last_events": ["2 PERIODIC"], "status": "late", "tags": ["lab"]
    })
}

fn task() -> Value {
    json!({
        "id": 7, "device_id": "D", "kind": "download",
        "definition": {"kind": "download", "file_type": "1 Firmware Upgrade Image",
                       "file_id": 3, "password": REDACTED},
        "state": "fault", "attempts": 1, "max_attempts": 3, "created_at": AT,
        "sent_at": AT, "finished_at": AT, "expires_at": null,
        "result": {"response": {"method": "DownloadResponse", "status": 1, "start_time": AT, "complete_time": AT}},
        "fault": {"code": 9010, "string": "rejected", "meaning": "File transfer failure",
                  "detail": {"FaultStruct": []}},
        "job_id": 2,
        "connection_request": {"outcome": "unreachable", "detail": "refused", "at": AT},
        "rollout": {"state": "failed", "fault_code": 9010, "fault_string": "rejected",
                    "meaning": "File transfer failure"}
    })
}

fn job(max_failures: Value) -> Value {
    json!({
        "id": 2, "definition": {"kind": "reboot"}, "filter": "tag = lab",
        "connection_request": true, "state": "stopped", "total": 10,
        "counts": {"held": 1, "queued": 2, "sent": 0, "done": 3, "fault": 4, "expired": 0,
                   "cancelled": 0},
        "rollout": {"pending": 1, "queued": 2, "sent": 0, "transferring": 0, "installed": 0,
                    "verified": 3, "failed": 4, "cancelled": 0},
        "concurrency": 5, "max_failures": max_failures, "stop_reason": "too many failures",
        "created_by": "admin", "created_at": AT, "finished_at": null
    })
}

#[test]
fn devices_and_their_data_round_trip() {
    let d: Device = check(device());
    assert_eq!(d.tags, ["lab"]);
    check::<DeviceList>(json!({"devices": [device()], "next": "cursor"}));
    check::<DeviceList>(json!({"devices": [], "next": null}));
    check::<Count>(json!({"count": 12}));
    check::<ParameterList>(json!({"parameters": [{
        "name": "Device.X", "value": "1", "type": "xsd:unsignedInt", "writable": true,
        "notification": 2, "access_list": ["Subscriber"], "updated_at": AT}]}));
    check::<ParameterLine>(json!({"device_id": "D", "name": "Device.X", "value": null,
        "type": null, "updated_at": null}));
    check::<EventList>(
        json!({"events": [{"event_code": "1 BOOT", "command_key": null,
        "received_at": AT}]}),
    );
}

#[test]
fn tasks_and_faults_round_trip() {
    let t: Task = check(task());
    assert_eq!(t.state, TaskStateName::Fault);
    assert_eq!(t.rollout.map(|r| r.state), Some(RolloutStateName::Failed));
    // The optional members a plain task listing leaves out stay out.
    let mut plain = task();
    let o = plain.as_object_mut().unwrap();
    o.remove("connection_request");
    o.remove("rollout");
    o.insert("fault".into(), Value::Null);
    check::<Task>(plain.clone());
    check::<TaskList>(json!({"tasks": [plain.clone()], "next": 8}));
    check::<DeviceTaskList>(json!({"tasks": [plain.clone()]}));
    check::<FaultList>(json!({"faults": [plain], "next": null}));
    check::<Cleared>(json!({"cleared": 3}));
    check::<ClearFaults>(json!({"device": "D"}));
    check::<ClearFaults>(json!({}));
    for s in TaskStateName::ALL {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}

#[test]
fn jobs_round_trip() {
    let j: Job = check(job(json!("5%")));
    assert_eq!(j.max_failures, Some(FailureLimit::Percent(5)));
    assert!(!j.is_rollout());
    assert_eq!(j.kind(), Some("reboot"));
    assert_eq!(j.task(), Some(TaskDefinition::Reboot {}));
    assert_eq!(j.counts.finished(), 7);
    check::<Job>(job(json!(3)));
    check::<JobList>(json!({"jobs": [job(Value::Null)]}));
    let create = check::<CreateJob>(json!({
        "task": {"kind": "get_parameter_values", "names": ["Device."]},
        "devices": ["A", "B"], "connection_request": true, "expires_in": 60,
        "max_attempts": 2, "concurrency": 1, "max_failures": "10%"
    }));
    assert_eq!(
        create.task,
        serde_json::to_value(TaskDefinition::GetParameterValues {
            names: vec!["Device.".into()]
        })
        .unwrap()
    );
    assert!(serde_json::from_value::<FailureLimit>(json!("101%")).is_err());
}

#[test]
fn files_provisioning_and_errors_round_trip() {
    let file = json!({"id": 3, "name": "sip88xx.12-0-1MPP.loads", "type": "firmware",
        "product_class": null, "version": "sip88xx.12-0-1MPP", "sha256": "ab", "size": 10,
        "created_at": AT});
    check::<File>(file.clone());
    check::<FileList>(json!({"files": [file]}));
    check::<TransferLog>(json!({"ok": 1, "failed": 0, "transfers": [{"file_id": 3,
        "task_id": 7, "remote_ip": "10.0.0.2", "status": 200, "bytes": 10, "outcome": "ok",
        "at": AT}]}));
    check::<RenderRequest>(json!({"template": "<flat-profile/>", "device": "D",
        "vars_csv": null}));
    check::<Rendered>(json!({"device_id": "D", "variables": ["sip_password"],
        "rendered": "<flat-profile/>"}));
    check::<ProvisionRule>(json!({"name": "r", "order": 100, "filter": null,
        "events": ["BOOTSTRAP"], "parameters": [{"name": "Device.X", "value": "1",
        "type": "xsd:string"}], "connection_request_credentials": false,
        "template_file": 1, "vars_file": null, "firmware_file": null,
        "firmware_version": null, "source": "api", "created_by": "admin",
        "created_at": AT}));
    check::<ProvisionRuleInput>(json!({"name": "r", "parameters": [{"name": "Device.X",
        "value": "1"}], "firmware_file": 2}));
    check::<ProvisionRuleInput>(json!({"name": "r", "events": ["PERIODIC", "VALUE CHANGE"],
        "objects": [{"path": "Device.L.", "instances": 2}],
        "attributes": [{"name": "Device.L.1.S", "notification": 2}]}));
    check::<Vec<ProvisionItem>>(json!([{"rule": "r", "item": "firmware",
        "status": "failed", "task_id": 7, "failures": 1, "next_attempt_at": AT,
        "detail": "9010", "updated_at": AT}, {"rule": "r", "item": "objects",
        "status": "checking", "task_id": null, "failures": 0, "next_attempt_at": null,
        "detail": null, "updated_at": AT, "checked_at": AT}]));
    check::<ResetResult>(json!({"reset": 2}));
    check::<ErrorBody>(json!({"error": "invalid_filter", "message": "bad", "position": 3}));
    check::<ErrorBody>(json!({"error": "not_found", "message": "no"}));
}

#[test]
fn task_definitions_round_trip() {
    for d in [
        json!({"kind": "get_parameter_values", "names": ["Device."]}),
        json!({"kind": "set_parameter_values", "values": [
            {"name": "Device.X", "value": "1", "type": "xsd:unsignedInt"},
            {"name": "Device.Y", "value": "a"}]}),
        json!({"kind": "get_parameter_names", "path": "Device.", "next_level": true}),
        json!({"kind": "set_parameter_attributes", "attributes": [{"name": "Device.X",
            "notification_change": true, "notification": 2, "access_list_change": false,
            "access_list": []}]}),
        json!({"kind": "reboot"}),
        json!({"kind": "download", "file_type": "1 Firmware Upgrade Image", "url": "",
            "file_id": 3, "username": "", "password": "", "file_size": 0,
            "target_file_name": "", "delay_seconds": 0}),
        json!({"kind": "set_connection_request_credentials", "root": "Device.",
            "username": "u", "password": "p"}),
        json!({"kind": "refresh", "path": "Device.DeviceInfo."}),
    ] {
        let typed = check::<TaskDefinition>(d.clone());
        assert_eq!(d["kind"], typed.kind());
    }
}

#[test]
fn queries_round_trip() {
    check_query(DeviceListQuery {
        filter: Some("tag = a & b".into()),
        sort: Some("-last_inform".into()),
        limit: Some(10),
        after: Some("x,y".into()),
    });
    check_query(DeviceListQuery::default());
    check_query(CreateTaskQuery {
        connection_request: true,
        wait: Some(30),
        expires_in: None,
        max_attempts: Some(2),
    });
    check_query(TaskListQuery {
        device: Some("D".into()),
        state: Some("fault".into()),
        job: Some(2),
        kind: None,
        limit: Some(5),
        after: Some(9),
    });
    check_query(BulkParametersQuery {
        names: "Device.A,Device.B".into(),
        filter: None,
        devices: Some("A,B".into()),
    });
    check_query(UploadQuery {
        name: "x.loads".into(),
        file_type: Some("firmware".into()),
        product_class: None,
        version: Some("1".into()),
    });
    check_query(JobTasksQuery {
        state: Some("queued".into()),
        limit: None,
        after: Some(1),
    });
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let d = TaskDefinition::SetConnectionRequestCredentials {
        root: "Device.".into(),
        username: "u".into(),
        password: "hunter2".into(),
    };
    assert!(!format!("{d:?}").contains("hunter2"));
    let job = CreateJob::new(
        &TaskDefinition::Download {
            file_type: "1".into(),
            url: "http://x/y".into(),
            file_id: None,
            vars_file_id: None,
            username: "u".into(),
            password: "hunter2".into(),
            file_size: 0,
            target_file_name: String::new(),
            delay_seconds: 0,
        },
        JobDevices::Filter("tag = a".into()),
    );
    assert!(!format!("{job:?}").contains("hunter2"));
    let rule = ProvisionRuleInput {
        name: "r".into(),
        parameters: Some(vec![SetValue {
            name: "Device.SIP.Password".into(),
            value: "hunter2".into(),
            value_type: None,
        }]),
        ..ProvisionRuleInput::default()
    };
    assert!(!format!("{rule:?}").contains("hunter2"));
}

/// A task's result in the shape the server sends: the answer tagged by its element name.
#[test]
fn task_results() {
    let read: TaskResult = check(json!({
        "response": {"method": "GetParameterValuesResponse", "parameter_list": [
            {"name": "Device.DeviceInfo.UpTime", "value": "42", "type": "xsd:unsignedInt"}]},
        "confirmed_at": AT,
    }));
    assert!(matches!(
        read.response,
        Some(RpcResponse::GetParameterValues { .. })
    ));
    check::<TaskResult>(json!({"response": {"method": "RebootResponse"}, "recovered": "M Reboot"}));
    check::<TaskResult>(json!({
        "response": {"method": "DownloadResponse", "status": 1,
            "start_time": "0001-01-01T00:00:00Z", "complete_time": "0001-01-01T00:00:00Z"},
        "transfer_complete": {"fault_code": 9010, "fault_string": "bad", "meaning": "Download failure",
            "start_time": "a", "complete_time": "b"},
    }));
    check::<TaskResult>(
        json!({"response": {"method": "AddObjectResponse", "instance_number": 2, "status": 0}}),
    );
    // An answer a newer server knows is still a result this client reads.
    let newer: TaskResult =
        serde_json::from_value(json!({"response": {"method": "FutureResponse", "x": 1}})).unwrap();
    assert_eq!(newer.response, Some(RpcResponse::Unknown));
}

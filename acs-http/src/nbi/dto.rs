//! Core types into the API's wire types (crate `acs-api`, docs/NBI.md "Shapes").
//!
//! Core types are storage and engine types: they carry secrets (connection-request passwords,
//! Download credentials) and change with the schema. Every response is built here, once, so
//! the secrets are dropped or redacted in one place. Free functions rather than `From` impls:
//! both sides are foreign to this crate.

use acs_api::{
    ConnReq, Counts, Device, Event, File, Job, JobStateName, Parameter, ParameterLine,
    ProvisionAttribute, ProvisionItem, ProvisionObject, ProvisionRule, Rollout, RolloutCounts,
    RolloutStateName, SetValue, Task, TaskFault, TaskStateName, Transfer, redact,
};
use acs_core::ops::{FailureLimit, JobState, JobStatus, ParameterQueryRow};
use acs_core::provision::{Rule, RuleSource};
use acs_core::rollout::{DeviceOutcome, RolloutState};
use acs_core::storage::{
    ConnReqRecord, DeviceRow, EventRow, FileRow, FileTransferRecord, ParameterRow,
    ProvisionStateRow, TaskRow, TaskState,
};
use serde_json::Value as Json;

/// The API form of a stored device; the credentials are dropped here, once.
pub fn device(d: DeviceRow, tags: Vec<String>) -> Device {
    Device {
        id: d.id,
        manufacturer: d.manufacturer,
        oui: d.oui,
        product_class: d.product_class,
        serial_number: d.serial_number,
        mac: d.mac,
        software_version: d.software_version,
        hardware_version: d.hardware_version,
        provisioning_code: d.provisioning_code,
        connection_request_url: d.connection_request_url,
        remote_ip: d.remote_ip,
        cwmp_version: d.cwmp_version,
        first_seen: d.first_seen,
        last_inform: d.last_inform,
        last_boot: d.last_boot,
        last_bootstrap: d.last_bootstrap,
        periodic_inform_interval: d.periodic_inform_interval,
        last_events: d.last_events,
        status: match d.presence {
            acs_core::presence::Presence::Online => acs_api::PresenceName::Online,
            acs_core::presence::Presence::Late => acs_api::PresenceName::Late,
            acs_core::presence::Presence::Offline => acs_api::PresenceName::Offline,
        },
        tags,
    }
}

/// A stored parameter value.
pub fn parameter(p: ParameterRow) -> Parameter {
    Parameter {
        name: p.name,
        value: p.value,
        xsd_type: p.xsd_type,
        writable: p.writable,
        notification: p.notification,
        access_list: p.access_list,
        updated_at: p.updated_at,
    }
}

/// One line of the bulk parameter query.
pub fn parameter_line(r: ParameterQueryRow) -> ParameterLine {
    ParameterLine {
        device_id: r.device_id,
        name: r.name,
        value: r.value,
        xsd_type: r.xsd_type,
        updated_at: r.updated_at,
    }
}

/// An Inform event.
pub fn event(e: EventRow) -> Event {
    Event {
        event_code: e.event_code,
        command_key: e.command_key,
        received_at: e.received_at,
    }
}

fn task_state(s: TaskState) -> TaskStateName {
    match s {
        TaskState::Held => TaskStateName::Held,
        TaskState::Queued => TaskStateName::Queued,
        TaskState::Sent => TaskStateName::Sent,
        TaskState::Done => TaskStateName::Done,
        TaskState::Fault => TaskStateName::Fault,
        TaskState::Expired => TaskStateName::Expired,
        TaskState::Cancelled => TaskStateName::Cancelled,
    }
}

/// A stored connection request.
pub fn conn_req(r: ConnReqRecord) -> ConnReq {
    ConnReq {
        outcome: r.outcome,
        detail: r.detail,
        at: Some(r.at),
    }
}

/// A task, its definition and result redacted.
pub fn task(t: TaskRow) -> Task {
    let fault = (t.fault_code.is_some() || t.fault_string.is_some()).then_some(TaskFault {
        code: t.fault_code,
        string: t.fault_string,
        meaning: t.fault_code.map(|c| {
            acs_core::cwmp::FaultCode::from_code(u32::try_from(c).unwrap_or_default())
                .meaning()
                .to_owned()
        }),
        detail: t.fault_detail,
    });
    Task {
        id: t.id,
        definition: definition_of(&t.payload),
        device_id: t.device_id,
        kind: t.kind,
        state: task_state(t.state),
        attempts: t.attempts,
        max_attempts: t.max_attempts,
        created_at: t.created_at,
        sent_at: t.sent_at,
        finished_at: t.finished_at,
        expires_at: t.expires_at,
        result: t.result.map(task_result),
        fault,
        job_id: t.job_id,
        connection_request: t.connection_request.map(conn_req),
        rollout: None,
    }
}

/// A task's result as the API shows it: field by field, a `…Password` parameter's value
/// redacted (a read of a secret is as secret as the write).
pub fn task_result(r: acs_core::tasks::TaskResult) -> acs_api::TaskResult {
    use acs_api::RpcResponse as Api;
    use acs_core::tasks::Response as Core;
    let transfers = |list: Vec<acs_core::tasks::QueuedTransferRead>| {
        list.into_iter()
            .map(|t| acs_api::QueuedTransfer {
                command_key: t.command_key,
                state: t.state,
                is_download: t.is_download,
                file_type: t.file_type,
                file_size: t.file_size,
                target_file_name: t.target_file_name,
            })
            .collect()
    };
    let response = r.response.map(|response| match response {
        Core::GetRpcMethods { method_list } => Api::GetRpcMethods { method_list },
        Core::SetParameterValues { status } => Api::SetParameterValues { status },
        Core::GetParameterValues { parameter_list } => Api::GetParameterValues {
            parameter_list: parameter_list
                .into_iter()
                .map(|p| acs_api::ValueRead {
                    value: if p.name.to_ascii_lowercase().ends_with("password")
                        && !p.value.is_empty()
                    {
                        acs_api::REDACTED.to_owned()
                    } else {
                        p.value
                    },
                    name: p.name,
                    value_type: p.value_type,
                })
                .collect(),
        },
        Core::GetParameterNames { parameter_list } => Api::GetParameterNames {
            parameter_list: parameter_list
                .into_iter()
                .map(|p| acs_api::NameRead {
                    name: p.name,
                    writable: p.writable,
                })
                .collect(),
        },
        Core::SetParameterAttributes => Api::SetParameterAttributes,
        Core::GetParameterAttributes { parameter_list } => Api::GetParameterAttributes {
            parameter_list: parameter_list
                .into_iter()
                .map(|p| acs_api::AttributesRead {
                    name: p.name,
                    notification: p.notification,
                    access_list: p.access_list,
                })
                .collect(),
        },
        Core::AddObject {
            instance_number,
            status,
        } => Api::AddObject {
            instance_number,
            status,
        },
        Core::DeleteObject { status } => Api::DeleteObject { status },
        Core::Download(t) => Api::Download {
            status: t.status,
            start_time: t.start_time,
            complete_time: t.complete_time,
        },
        Core::Upload(t) => Api::Upload {
            status: t.status,
            start_time: t.start_time,
            complete_time: t.complete_time,
        },
        Core::Reboot => Api::Reboot,
        Core::FactoryReset => Api::FactoryReset,
        Core::ScheduleInform => Api::ScheduleInform,
        Core::ScheduleDownload => Api::ScheduleDownload,
        Core::CancelTransfer => Api::CancelTransfer,
        Core::ChangeDuState => Api::ChangeDuState,
        Core::GetQueuedTransfers { transfer_list } => Api::GetQueuedTransfers {
            transfer_list: transfers(transfer_list),
        },
        Core::GetAllQueuedTransfers { transfer_list } => Api::GetAllQueuedTransfers {
            transfer_list: transfers(transfer_list),
        },
        Core::Unknown => Api::Unknown,
    });
    acs_api::TaskResult {
        response,
        transfer_complete: r.transfer_complete.map(|t| acs_api::TransferComplete {
            fault_code: t.fault_code,
            fault_string: t.fault_string,
            meaning: t.meaning,
            start_time: t.start_time,
            complete_time: t.complete_time,
        }),
        confirmed_at: r.confirmed_at,
        recovered: r.recovered,
    }
}

/// The definition part of a stored task payload, with secrets redacted. A payload is either
/// `{"spec": TaskSpec, "step": n}` (tasks from the API) or a raw CWMP request body (tasks
/// queued by internal callers); both may hold passwords.
pub fn definition_of(payload: &Json) -> Json {
    let mut def = payload
        .get("spec")
        .cloned()
        .unwrap_or_else(|| payload.clone());
    redact(&mut def);
    def
}

/// The API's failure limit as the core takes it.
pub fn failure_limit(l: acs_api::FailureLimit) -> FailureLimit {
    match l {
        acs_api::FailureLimit::Count(n) => FailureLimit::Count(n),
        acs_api::FailureLimit::Percent(p) => FailureLimit::Percent(p),
    }
}

fn failure_limit_out(l: FailureLimit) -> acs_api::FailureLimit {
    match l {
        FailureLimit::Count(n) => acs_api::FailureLimit::Count(n),
        FailureLimit::Percent(p) => acs_api::FailureLimit::Percent(p),
    }
}

fn rollout_state(s: RolloutState) -> RolloutStateName {
    match s {
        RolloutState::Pending => RolloutStateName::Pending,
        RolloutState::Queued => RolloutStateName::Queued,
        RolloutState::Sent => RolloutStateName::Sent,
        RolloutState::Transferring => RolloutStateName::Transferring,
        RolloutState::Installed => RolloutStateName::Installed,
        RolloutState::Verified => RolloutStateName::Verified,
        RolloutState::Failed => RolloutStateName::Failed,
        RolloutState::Cancelled => RolloutStateName::Cancelled,
    }
}

/// A device's place in a rollout.
pub fn rollout(o: DeviceOutcome) -> Rollout {
    Rollout {
        state: rollout_state(o.state),
        fault_code: o.fault_code,
        fault_string: o.fault_string,
        meaning: o.meaning,
    }
}

/// A job with its progress, its definition redacted.
pub fn job(s: JobStatus) -> Job {
    let j = s.job;
    let mut definition = serde_json::to_value(&j.spec).unwrap_or(Json::Null);
    redact(&mut definition);
    let c = s.counts;
    let r = s.rollout;
    Job {
        id: j.id,
        definition,
        filter: j.filter,
        connection_request: j.connection_request,
        state: match j.state {
            JobState::Running => JobStateName::Running,
            JobState::Finished => JobStateName::Finished,
            JobState::Cancelled => JobStateName::Cancelled,
            JobState::Stopped => JobStateName::Stopped,
        },
        total: j.total,
        counts: Counts {
            held: c.held,
            queued: c.queued,
            sent: c.sent,
            done: c.done,
            fault: c.fault,
            expired: c.expired,
            cancelled: c.cancelled,
        },
        rollout: RolloutCounts {
            pending: r.pending,
            queued: r.queued,
            sent: r.sent,
            transferring: r.transferring,
            installed: r.installed,
            verified: r.verified,
            failed: r.failed,
            cancelled: r.cancelled,
        },
        concurrency: j.concurrency,
        max_failures: j.max_failures.map(failure_limit_out),
        stop_reason: j.stop_reason,
        window: j.window.as_ref().map(ToString::to_string),
        window_opens_at: s.window_opens_at,
        created_by: j.created_by,
        created_at: j.created_at,
        finished_at: j.finished_at,
    }
}

/// A stored file.
pub fn file(f: FileRow) -> File {
    File {
        id: f.id,
        name: f.name,
        file_type: f.kind.as_str().to_owned(),
        product_class: f.product_class,
        version: f.version,
        sha256: f.sha256,
        size: f.size,
        created_at: f.created_at,
    }
}

/// One fetch of a file by a CPE.
pub fn transfer(t: FileTransferRecord) -> Transfer {
    Transfer {
        file_id: t.file_id,
        task_id: t.task_id,
        remote_ip: t.remote_ip,
        status: t.status,
        bytes: t.bytes,
        outcome: t.outcome,
        at: t.at,
    }
}

/// A provisioning rule.
pub fn rule(r: Rule) -> ProvisionRule {
    let s = r.spec;
    ProvisionRule {
        name: s.name,
        order: s.order,
        filter: s.filter,
        events: s.events.iter().map(|e| e.as_str().to_owned()).collect(),
        objects: s
            .objects
            .into_iter()
            .map(|o| ProvisionObject {
                path: o.path,
                instances: o.instances,
            })
            .collect(),
        attributes: s
            .attributes
            .into_iter()
            .map(|a| ProvisionAttribute {
                name: a.name,
                notification: a.notification,
            })
            .collect(),
        parameters: s
            .parameters
            .into_iter()
            .map(|p| SetValue {
                name: p.name,
                value: p.value,
                value_type: Some(p.value_type.to_string()),
            })
            .collect(),
        connection_request_credentials: s.connection_request_credentials,
        template_file: s.template_file,
        vars_file: s.vars_file,
        firmware_file: s.firmware_file,
        firmware_version: s.firmware_version,
        window: s.window,
        source: match r.source {
            RuleSource::Config => "config",
            RuleSource::Api => "api",
        }
        .to_owned(),
        created_by: r.created_by,
        created_at: r.created_at,
    }
}

/// Where one rule item stands for a device.
pub fn provision_item(r: ProvisionStateRow) -> ProvisionItem {
    ProvisionItem {
        rule: r.rule,
        item: r.item,
        status: r.status,
        task_id: r.task_id,
        failures: r.failures,
        next_attempt_at: r.next_attempt_at,
        detail: r.detail,
        updated_at: r.updated_at,
        checked_at: r.checked_at,
    }
}

/// One webhook delivery; the body is parsed back so it is shown as JSON, not as a string.
pub fn alert_delivery(r: acs_core::ops::OutboxRow) -> acs_api::AlertDelivery {
    use acs_api::DeliveryStateName as N;
    use acs_core::ops::OutboxState as S;
    let state = match r.state {
        S::Pending => N::Pending,
        S::Delivered => N::Delivered,
        S::Failed => N::Failed,
    };
    acs_api::AlertDelivery {
        id: r.id,
        webhook: r.webhook,
        event: r.event,
        key: r.idempotency_key,
        state,
        attempts: r.attempts,
        next_attempt_at: (state == N::Pending).then_some(r.next_attempt_at),
        last_error: r.last_error,
        created_at: r.created_at,
        delivered_at: r.delivered_at,
        body: serde_json::from_str(&r.body).unwrap_or(Json::String(r.body)),
    }
}

#[cfg(test)]
mod tests {
    use acs_api::{CreateJob, REDACTED, SetAttribute, SetValue, TaskDefinition};
    use acs_core::tasks::TaskSpec;

    use super::*;

    /// What clients build and the document shows is what the server reads.
    #[test]
    fn every_documented_definition_is_a_task_spec() {
        let s = |x: &str| x.to_owned();
        let samples = vec![
            TaskDefinition::GetParameterValues {
                names: vec![s("Device.DeviceInfo.")],
            },
            TaskDefinition::SetParameterValues {
                values: vec![
                    SetValue {
                        name: s("Device.X.Y"),
                        value: s("1"),
                        value_type: Some(s("xsd:unsignedInt")),
                    },
                    SetValue {
                        name: s("Device.X.Z"),
                        value: s("a"),
                        value_type: None,
                    },
                ],
            },
            TaskDefinition::GetParameterNames {
                path: s("Device."),
                next_level: true,
            },
            TaskDefinition::GetParameterAttributes {
                names: vec![s("Device.X")],
            },
            TaskDefinition::SetParameterAttributes {
                attributes: vec![SetAttribute {
                    name: s("Device.X"),
                    notification_change: true,
                    notification: 2,
                    access_list_change: false,
                    access_list: vec![],
                }],
            },
            TaskDefinition::AddObject {
                object: s("Device.T."),
            },
            TaskDefinition::DeleteObject {
                object: s("Device.T.1."),
            },
            TaskDefinition::Reboot {},
            TaskDefinition::FactoryReset {},
            TaskDefinition::Download {
                file_type: s("1 Firmware Upgrade Image"),
                url: s("https://f.example.net/x"),
                file_id: None,
                vars_file_id: None,
                username: s("u"),
                password: s("p"),
                file_size: 1,
                target_file_name: s("x"),
                delay_seconds: 0,
            },
            TaskDefinition::download_of_file("3 Vendor Configuration File", 1, Some(2)),
            TaskDefinition::Upload {
                file_type: s("2 Vendor Log File"),
                url: s("https://f.example.net/x"),
                username: s("u"),
                password: s("p"),
                delay_seconds: 0,
            },
            TaskDefinition::ScheduleInform { delay_seconds: 5 },
            TaskDefinition::GetRpcMethods {},
            TaskDefinition::ScheduleDownload {
                file_type: "1 Firmware Upgrade Image".into(),
                url: "http://files.example/fw.bin".into(),
                username: String::new(),
                password: "hunter2".into(),
                file_size: 0,
                target_file_name: String::new(),
                time_windows: vec![acs_api::TimeWindow {
                    window_start: 0,
                    window_end: 3600,
                    window_mode: "1 At Any Time".into(),
                    user_message: String::new(),
                    max_retries: -1,
                }],
            },
            TaskDefinition::GetQueuedTransfers {},
            TaskDefinition::CancelTransfer {
                command_key: "acs-7".into(),
            },
            TaskDefinition::SetConnectionRequestCredentials {
                root: s("Device."),
                username: s("u"),
                password: s("p"),
            },
            TaskDefinition::Refresh {
                path: s("Device.DeviceInfo."),
            },
        ];
        for d in samples {
            let json = serde_json::to_value(&d).unwrap();
            let spec: TaskSpec =
                serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{json}: {e}"));
            spec.validate().unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(json["kind"], spec.kind());
            assert_eq!(d.kind(), spec.kind());
            // And what the server stores reads back as the client's type.
            let stored = serde_json::to_value(&spec).unwrap();
            serde_json::from_value::<TaskDefinition>(stored.clone())
                .unwrap_or_else(|e| panic!("{stored}: {e}"));
        }
    }

    #[test]
    fn passwords_are_redacted_wherever_they_are() {
        let mut v = serde_json::json!({
            "kind": "download", "password": "hunter2", "username": "u",
            "nested": [{"Download": {"Password": "x"}}],
            "values": [
                {"name": "Device.ManagementServer.ConnectionRequestPassword", "value": "s3"},
                {"name": "Device.ManagementServer.ConnectionRequestUsername", "value": "u"}
            ],
            "empty": {"password": ""}
        });
        redact(&mut v);
        let text = v.to_string();
        assert!(!text.contains("hunter2") && !text.contains("\"x\"") && !text.contains("s3"));
        assert_eq!(v["password"], REDACTED);
        assert_eq!(v["values"][1]["value"], "u");
        assert_eq!(v["empty"]["password"], "");
        let job: CreateJob = serde_json::from_value(serde_json::json!({
            "task": {"kind": "download", "file_type": "1", "url": "http://x/y", "password": "hunter2"},
            "filter": "tag = a"
        }))
        .unwrap();
        assert!(!format!("{job:?}").contains("hunter2"));
    }

    #[test]
    fn a_password_read_is_redacted_in_the_task_result() {
        use acs_core::tasks::{Response, TaskResult, ValueRead};
        let read = |name: &str, value: &str| ValueRead {
            name: name.into(),
            value: value.into(),
            value_type: "xsd:string".into(),
        };
        let result = task_result(TaskResult {
            response: Some(Response::GetParameterValues {
                parameter_list: vec![
                    read(
                        "Device.ManagementServer.ConnectionRequestPassword",
                        "s3cret",
                    ),
                    read("Device.ManagementServer.ConnectionRequestUsername", "cr"),
                    read("Device.Users.User.1.Password", ""),
                ],
            }),
            ..TaskResult::default()
        });
        let Some(acs_api::RpcResponse::GetParameterValues { parameter_list }) = result.response
        else {
            panic!("the answer keeps its kind");
        };
        let values: Vec<&str> = parameter_list.iter().map(|p| p.value.as_str()).collect();
        assert_eq!(values, [REDACTED, "cr", ""]);
    }
}

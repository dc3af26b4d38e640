//! How the CLI tells what became of a task or a job: one line per failed device with the
//! fault code, TR-069 meaning and the CPE's string, the connection request's outcome when the
//! device never came, and `acs jobs show N` with a rollout's counts, stop reason and failed
//! devices.

use acs_api::{Job, JobTasksQuery, RolloutStateName, Task, TaskStateName};
use serde::Serialize;

use crate::cmd::client::{Cli as _, Client, pages};
use crate::cmd::output::{self, Column, Format, at, col, escape_controls};

/// `acs jobs show N`: the job, its rollout counts, why it stopped and which devices failed.
const JOB_SHOW: &[Column] = &[
    col("id"),
    at("kind", "definition.kind"),
    col("state"),
    col("total"),
    at("queued", "counts.queued"),
    at("sent", "counts.sent"),
    at("done", "counts.done"),
    at("fault", "counts.fault"),
    at("expired", "counts.expired"),
    at("cancelled", "counts.cancelled"),
    at("held", "counts.held"),
    col("window"),
    col("window_opens_at"),
    col("stop_reason"),
    col("failed_devices"),
    col("filter"),
    col("definition"),
    col("connection_request"),
    col("created_by"),
    col("created_at"),
    col("finished_at"),
];

/// The same for a rollout (a Download job): devices by rollout state rather than task state,
/// since a Download whose device came back with another version is `done` yet failed.
const ROLLOUT_SHOW: &[Column] = &[
    col("id"),
    at("kind", "definition.kind"),
    col("state"),
    col("total"),
    at("pending", "rollout.pending"),
    at("queued", "rollout.queued"),
    at("sent", "rollout.sent"),
    at("transferring", "rollout.transferring"),
    at("installed", "rollout.installed"),
    at("verified", "rollout.verified"),
    at("failed", "rollout.failed"),
    at("cancelled", "rollout.cancelled"),
    col("concurrency"),
    col("max_failures"),
    col("window"),
    col("window_opens_at"),
    col("stop_reason"),
    col("failed_devices"),
    col("filter"),
    col("definition"),
    col("connection_request"),
    col("created_by"),
    col("created_at"),
    col("finished_at"),
];

/// Columns of `acs jobs show N --tasks`: each device's task, its fault with the meaning, its
/// rollout state and the last connection request's outcome.
pub const JOB_TASKS: &[Column] = &[
    at("task_id", "id"),
    col("device_id"),
    col("state"),
    at("rollout", "rollout.state"),
    col("attempts"),
    col("finished_at"),
    at("fault_code", "fault.code"),
    at("meaning", "fault.meaning"),
    at("fault_string", "fault.string"),
    at("connection_request", "connection_request.outcome"),
];

/// Whether the device of this job task failed: its rollout state for a rollout (so a wrong
/// version after the install counts), its task state otherwise.
fn failed(task: &Task) -> bool {
    match &task.rollout {
        Some(r) => r.state == RolloutStateName::Failed,
        None => matches!(task.state, TaskStateName::Fault | TaskStateName::Expired),
    }
}

/// `DEVICE: fault 9010 File transfer failure: image rejected (task N)`, `DEVICE: expired before
/// the device took it (task N; connection request unreachable: …)`, …
pub fn describe_failure(task: &Task) -> String {
    let rollout = task.rollout.as_ref().filter(|r| r.fault_code.is_some());
    let what = match (task.state, rollout) {
        // The rollout's verdict is the more precise one (8850: another version).
        (_, Some(r)) => fault_text(
            r.fault_code,
            r.meaning.as_deref(),
            r.fault_string.as_deref(),
        ),
        (TaskStateName::Fault, None) => match &task.fault {
            Some(f) => fault_text(f.code, f.meaning.as_deref(), f.string.as_deref()),
            None => fault_text(None, None, None),
        },
        (TaskStateName::Expired, None) => "expired before the device took it".to_owned(),
        (other, None) => other.to_string(),
    };
    format!(
        "{}: {what} (task {}{})",
        crate::cmd::output::friendly_device(&task.device_id),
        task.id,
        connection_request_note(task)
    )
}

fn fault_text(code: Option<i32>, meaning: Option<&str>, string: Option<&str>) -> String {
    // What a device reported reaches a terminal: control characters are escaped.
    let code = code.map(|c| c.to_string()).unwrap_or_default();
    let meaning = meaning.map(escape_controls).unwrap_or_default();
    let string = string.map(escape_controls).unwrap_or_default();
    let mut out = "fault".to_owned();
    for part in [&code, &meaning] {
        if !part.is_empty() {
            out.push(' ');
            out.push_str(part);
        }
    }
    if !string.is_empty() {
        out.push_str(if out == "fault" { " " } else { ": " });
        out.push_str(&string);
    }
    out
}

/// `; connection request unreachable: the CPE is unreachable: …` when the last wake-up of the
/// task's device was not accepted: the likeliest reason a device never came.
pub fn connection_request_note(task: &Task) -> String {
    match &task.connection_request {
        Some(cr) if !cr.accepted() => format!("; connection request {}: {}", cr.outcome, cr.detail),
        _ => String::new(),
    }
}

/// A job as `acs jobs show N` prints it.
#[derive(Serialize)]
struct JobShow {
    #[serde(flatten)]
    job: Job,
    /// One line per failed device, when any failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    failed_devices: Option<Vec<String>>,
}

/// Prints `acs jobs show N`: the job with `failed_devices` (one line per failed device) when
/// any failed.
pub async fn show_job(client: &Client, format: Format, job: Job) -> anyhow::Result<()> {
    let rollout = job.is_rollout();
    let failures = if rollout {
        job.rollout.failed
    } else {
        job.counts.fault + job.counts.expired
    };
    let mut failed_devices = None;
    if failures > 0 {
        let mut lines = Vec::new();
        let id = job.id;
        pages(
            None,
            |after, limit| async move {
                let q = JobTasksQuery {
                    limit: Some(limit),
                    after,
                    ..JobTasksQuery::default()
                };
                let page = client.job_tasks(id, &q).await.cli()?;
                Ok((page.tasks, page.next))
            },
            |t: Task| {
                if failed(&t) {
                    lines.push(describe_failure(&t));
                }
                Ok(())
            },
        )
        .await?;
        failed_devices = Some(lines);
    }
    let columns = if rollout { ROLLOUT_SHOW } else { JOB_SHOW };
    output::show(
        format,
        columns,
        &JobShow {
            job,
            failed_devices,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A task as the server sends it, with `extra` members.
    fn task(extra: Value) -> Task {
        let mut t = json!({"id": 1, "device_id": "D", "kind": "reboot",
            "definition": {"kind": "reboot"}, "state": "fault", "attempts": 1,
            "max_attempts": 3, "created_at": "2026-01-01T00:00:00Z", "sent_at": null,
            "finished_at": null, "expires_at": null, "result": null, "fault": null,
            "job_id": null});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        serde_json::from_value(t).unwrap()
    }

    #[test]
    fn failures_name_the_code_its_meaning_and_the_wake_up() {
        let t = task(json!({"id": 7, "device_id": "D", "state": "fault",
            "fault": {"code": 9010, "meaning": "File transfer failure", "string": "rejected",
                      "detail": null}}));
        assert_eq!(
            describe_failure(&t),
            "D: fault 9010 File transfer failure: rejected (task 7)"
        );
        let t = task(json!({"id": 8, "device_id": "E", "state": "expired",
            "connection_request": {"outcome": "unreachable", "detail": "refused", "at": null}}));
        assert_eq!(
            describe_failure(&t),
            "E: expired before the device took it (task 8; connection request unreachable: \
             refused)"
        );
        let t = task(json!({"id": 9, "device_id": "F", "state": "done",
            "rollout": {"state": "failed", "fault_code": 8850,
                        "meaning": "Installed version differs", "fault_string": "reports 1"}}));
        assert!(failed(&t));
        assert_eq!(
            describe_failure(&t),
            "F: fault 8850 Installed version differs: reports 1 (task 9)"
        );
        let attempts = task(json!({"id": 1, "device_id": "G", "state": "fault",
            "fault": {"code": null, "string": "attempts exhausted", "meaning": null,
                      "detail": null}}));
        assert_eq!(
            describe_failure(&attempts),
            "G: fault attempts exhausted (task 1)"
        );
    }
}

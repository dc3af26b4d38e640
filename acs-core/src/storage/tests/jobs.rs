//! Bulk jobs, task listings, faults and the operations service over them, on SQLite and (with
//! `ACS_TEST_DATABASE_URL`) PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::{PG_ENV, TestDb, inform, migrated, run_on, t};
use crate::connreq::{ConnReqClient, ConnReqConfig};
use crate::ops::{
    DeviceSelection, FailureLimit, JobState, JobTarget, NewJob, Operations, OpsError, TaskOptions,
    TaskQuery,
};
use crate::storage::{Store, TaskState};
use crate::tasks::TaskSpec;

backend_tests!(
    job_lifecycle_counts_and_cancel,
    job_targets_are_checked_before_anything_is_stored,
    job_runner_expires_and_finishes,
    faults_list_clear_and_retry,
    devices_resolve_by_id_serial_and_mac,
    task_waits_end_on_change_or_timeout,
    bulk_parameter_query_covers_every_device_and_name,
    rollout_releases_held_tasks_and_stops_on_failures,
);

async fn ops_with(store: Store, devices: &[&str]) -> Arc<Operations> {
    let store = migrated(store).await;
    for (i, d) in devices.iter().enumerate() {
        store
            .record_inform(&inform(d, t(i as i64), &["1 BOOT"]), 10)
            .await
            .expect("inform");
    }
    let client = ConnReqClient::new(ConnReqConfig::default()).expect("client");
    Arc::new(Operations::new(store, client))
}

fn gpv() -> TaskSpec {
    TaskSpec::GetParameterValues {
        names: vec!["InternetGatewayDevice.DeviceInfo.".into()],
    }
}

fn job(target: JobTarget) -> NewJob {
    NewJob {
        spec: gpv(),
        target,
        connection_request: false,
        options: TaskOptions::default(),
        created_by: Some("test".into()),
        concurrency: None,
        max_failures: None,
        window: None,
    }
}

/// Sends and completes (or faults) a job's task for `device` the way a session would.
async fn answer(ops: &Operations, task_id: i64, fault: Option<i32>) {
    let store = ops.store();
    store
        .mark_task_sent(task_id, "x", Utc::now())
        .await
        .expect("sent");
    match fault {
        None => store
            .complete_task(task_id, &crate::tasks::TaskResult::default(), Utc::now())
            .await
            .map(|_| ())
            .expect("done"),
        Some(code) => store
            .fault_task(task_id, code, "Invalid parameter name", None, Utc::now())
            .await
            .map(|_| ())
            .expect("fault"),
    }
    ops.task_changed(task_id);
}

async fn job_lifecycle_counts_and_cancel(store: Store) {
    let ops = ops_with(store, &["d1", "d2", "d3"]).await;
    // Devices by id and by serial; a duplicate is queued once.
    let created = ops
        .create_job(&job(JobTarget::Devices(vec![
            "d1".into(),
            "SN-d2".into(),
            "d3".into(),
            "d1".into(),
        ])))
        .await
        .expect("job");
    let id = created.job.id;
    assert_eq!(created.job.total, 3);
    assert_eq!(created.counts.queued, 3);
    assert_eq!(created.job.state, JobState::Running);
    assert_eq!(created.job.spec, gpv());

    let tasks = ops
        .list_tasks(&TaskQuery {
            job_id: Some(id),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("tasks")
        .tasks;
    let devices: Vec<_> = tasks.iter().map(|t| t.device_id.as_str()).collect();
    assert_eq!(devices, ["d1", "d2", "d3"]);
    answer(&ops, tasks[0].id, None).await;
    answer(&ops, tasks[1].id, Some(9005)).await;

    let status = ops.job(id).await.expect("job");
    assert_eq!(
        (
            status.counts.done,
            status.counts.fault,
            status.counts.queued
        ),
        (1, 1, 1)
    );
    // Paging through the job's tasks, one at a time.
    let first = ops
        .list_tasks(&TaskQuery {
            job_id: Some(id),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("page");
    assert_eq!(first.next, Some(tasks[0].id));
    let faulted = ops
        .list_tasks(&TaskQuery {
            job_id: Some(id),
            state: Some(TaskState::Fault),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("faulted");
    assert_eq!(faulted.tasks.len(), 1);
    assert_eq!(faulted.tasks[0].device_id, "d2");

    let cancelled = ops.cancel_job(id).await.expect("cancel");
    assert_eq!(cancelled.job.state, JobState::Cancelled);
    assert_eq!(cancelled.counts.cancelled, 1);
    assert_eq!(
        cancelled.counts.done, 1,
        "finished tasks keep their outcome"
    );
    assert!(matches!(
        ops.cancel_job(id).await,
        Err(OpsError::Conflict(_))
    ));
    assert!(matches!(
        ops.job(id + 1000).await,
        Err(OpsError::NotFound { what: "job", .. })
    ));
    let listed = ops.list_jobs(10, None).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].job.id, id);
}

async fn job_targets_are_checked_before_anything_is_stored(store: Store) {
    let ops = ops_with(store, &["d1", "d2"]).await;
    let err = ops
        .create_job(&job(JobTarget::Devices(vec!["d1".into(), "nope".into()])))
        .await
        .unwrap_err();
    assert!(
        matches!(err, OpsError::NotFound { what: "device", .. }),
        "{err}"
    );
    let err = ops
        .create_job(&job(JobTarget::Filter("serial = ".into())))
        .await
        .unwrap_err();
    assert!(matches!(err, OpsError::InvalidFilter(_)), "{err}");
    let err = ops
        .create_job(&job(JobTarget::Filter("serial = \"none\"".into())))
        .await
        .unwrap_err();
    assert!(matches!(err, OpsError::Invalid(_)), "{err}");
    let mut bad = job(JobTarget::Devices(vec!["d1".into()]));
    bad.spec = TaskSpec::GetParameterValues { names: vec![] };
    assert!(matches!(
        ops.create_job(&bad).await,
        Err(OpsError::InvalidTask(_))
    ));
    assert!(ops.list_jobs(10, None).await.expect("list").is_empty());
    let all = ops
        .list_tasks(&TaskQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("tasks");
    assert!(all.tasks.is_empty(), "a refused job stores no task");

    let by_filter = ops
        .create_job(&job(JobTarget::Filter("serial ~ \"SN-*\"".into())))
        .await
        .expect("filter job");
    assert_eq!(by_filter.job.total, 2);
    assert_eq!(by_filter.job.filter.as_deref(), Some("serial ~ \"SN-*\""));
}

async fn job_runner_expires_and_finishes(store: Store) {
    let ops = ops_with(store, &["d1", "d2"]).await;
    let mut new = job(JobTarget::Devices(vec!["d1".into(), "d2".into()]));
    new.options = TaskOptions {
        expires_in: Some(Duration::ZERO),
        max_attempts: Some(2),
    };
    let created = ops.create_job(&new).await.expect("job");
    ops.run_jobs_once().await.expect("runner");
    let status = ops.job(created.job.id).await.expect("job");
    assert_eq!(status.counts.expired, 2);
    // The pass that saw no pending task ends the job; the next one at the latest.
    ops.run_jobs_once().await.expect("runner");
    let status = ops.job(created.job.id).await.expect("job");
    assert_eq!(status.job.state, JobState::Finished);
    assert!(status.job.finished_at.is_some());

    let bad = TaskOptions {
        expires_in: None,
        max_attempts: Some(0),
    };
    assert!(matches!(
        ops.create_task("d1", &gpv(), &bad).await,
        Err(OpsError::Invalid(_))
    ));
}

async fn faults_list_clear_and_retry(store: Store) {
    let ops = ops_with(store, &["d1", "d2"]).await;
    let created = ops
        .create_job(&job(JobTarget::Devices(vec!["d1".into(), "d2".into()])))
        .await
        .expect("job");
    let tasks = ops
        .list_tasks(&TaskQuery {
            job_id: Some(created.job.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("tasks")
        .tasks;
    answer(&ops, tasks[0].id, Some(9005)).await;
    answer(&ops, tasks[1].id, Some(9002)).await;
    ops.run_jobs_once().await.expect("runner");
    assert_eq!(
        ops.job(created.job.id).await.expect("job").job.state,
        JobState::Finished
    );

    let faults = ops.list_faults(None, 10, None).await.expect("faults").tasks;
    assert_eq!(faults.len(), 2);
    assert_eq!(faults[0].fault_code, Some(9005));
    let d2 = ops.list_faults(Some("d2"), 10, None).await.expect("faults");
    assert_eq!(d2.tasks.len(), 1);

    assert_eq!(
        ops.clear_faults(Some(tasks[1].id), None)
            .await
            .expect("clear"),
        1
    );
    assert!(matches!(
        ops.clear_faults(Some(tasks[1].id), None).await,
        Err(OpsError::Conflict(_))
    ));
    assert!(matches!(
        ops.clear_faults(Some(999_999), None).await,
        Err(OpsError::NotFound { what: "task", .. })
    ));

    // A retry is a new task in the same job, and it reopens the job.
    let again = ops.retry_task(tasks[0].id).await.expect("retry");
    assert_ne!(again.id, tasks[0].id);
    assert_eq!(again.state, TaskState::Queued);
    assert_eq!(again.job_id, Some(created.job.id));
    assert!(
        ops.list_faults(None, 10, None)
            .await
            .expect("faults")
            .tasks
            .is_empty()
    );
    let status = ops.job(created.job.id).await.expect("job");
    assert_eq!(status.job.state, JobState::Running);
    assert_eq!(status.counts.queued, 1);
    assert!(matches!(
        ops.retry_task(again.id).await,
        Err(OpsError::Conflict(_))
    ));
    let cancelled = ops.cancel_task(again.id).await.expect("cancel");
    assert_eq!(cancelled.state, TaskState::Cancelled);
    assert!(matches!(
        ops.cancel_task(again.id).await,
        Err(OpsError::Conflict(_))
    ));
    assert_eq!(ops.clear_faults(None, None).await.expect("clear all"), 0);
}

async fn devices_resolve_by_id_serial_and_mac(store: Store) {
    let ops = ops_with(store, &["d1", "d2"]).await;
    assert_eq!(ops.resolve_device("d1").await.expect("id").id, "d1");
    assert_eq!(ops.resolve_device("SN-d2").await.expect("serial").id, "d2");
    // Both test devices report the same MAC.
    match ops.resolve_device("00:A0:BC:01:02:03").await {
        Err(OpsError::Ambiguous { candidates, .. }) => assert_eq!(candidates.len(), 2),
        other => panic!("expected ambiguous, got {other:?}"),
    }
    ops.store().delete_device("d2").await.expect("delete");
    assert_eq!(
        ops.resolve_device("00a0bc010203").await.expect("mac").id,
        "d1"
    );
    assert!(matches!(
        ops.resolve_device("nobody").await,
        Err(OpsError::NotFound { what: "device", .. })
    ));
    assert!(matches!(
        ops.resolve_device(" ").await,
        Err(OpsError::Invalid(_))
    ));
}

async fn task_waits_end_on_change_or_timeout(store: Store) {
    let ops = ops_with(store, &["d1"]).await;
    let task = ops
        .create_task("d1", &TaskSpec::Reboot {}, &TaskOptions::default())
        .await
        .expect("task");
    assert_eq!(task.kind, "reboot");
    let unchanged = ops
        .wait_for_task(task.id, Duration::ZERO)
        .await
        .expect("wait");
    assert_eq!(unchanged.state, TaskState::Queued);

    // The waiter is woken by the notification, long before its deadline.
    let waiter = {
        let ops = ops.clone();
        tokio::spawn(async move { ops.wait_for_task(task.id, Duration::from_secs(600)).await })
    };
    answer(&ops, task.id, None).await;
    let done = waiter.await.expect("join").expect("wait");
    assert_eq!(done.state, TaskState::Done);
    assert!(matches!(
        ops.wait_for_task(task.id + 1000, Duration::ZERO).await,
        Err(OpsError::NotFound { what: "task", .. })
    ));
    assert!(matches!(
        ops.create_task("ghost", &TaskSpec::Reboot {}, &TaskOptions::default())
            .await,
        Err(OpsError::NotFound { what: "device", .. })
    ));
}

async fn bulk_parameter_query_covers_every_device_and_name(store: Store) {
    let ops = ops_with(store, &["d1", "d2", "d3"]).await;
    let names = vec![
        "InternetGatewayDevice.DeviceInfo.SoftwareVersion".to_owned(),
        "InternetGatewayDevice.Missing".to_owned(),
    ];
    for (selection, expected) in [
        (DeviceSelection::All, vec!["d1", "d2", "d3"]),
        (
            DeviceSelection::Filter(crate::filter::Filter::parse("serial != \"SN-d2\"").unwrap()),
            vec!["d1", "d3"],
        ),
        (
            DeviceSelection::Devices(vec!["d3".into(), "d1".into()]),
            vec!["d3", "d1"],
        ),
    ] {
        let mut cursor = ops.query_parameters(selection, names.clone(), 2);
        let mut rows = Vec::new();
        let mut batches = 0;
        while let Some(batch) = cursor.next_batch().await.expect("batch") {
            batches += 1;
            rows.extend(batch);
        }
        assert_eq!(batches, expected.len().div_ceil(2));
        let devices: Vec<_> = rows
            .iter()
            .step_by(2)
            .map(|r| r.device_id.as_str())
            .collect();
        assert_eq!(devices, expected);
        for pair in rows.chunks(2) {
            assert_eq!(pair[0].value.as_deref(), Some("1.0"));
            assert_eq!(pair[0].xsd_type.as_deref(), Some("xsd:string"));
            assert!(pair[0].updated_at.is_some());
            assert_eq!(pair[1].name, names[1]);
            assert_eq!(pair[1].value, None, "a missing value is a row with null");
        }
    }
}

async fn rollout_releases_held_tasks_and_stops_on_failures(store: Store) {
    let ops = ops_with(store, &["r1", "r2", "r3", "r4", "r5", "r6"]).await;
    let mut new = job(JobTarget::Filter("serial ~ \"SN-r*\"".into()));
    new.concurrency = Some(2);
    new.max_failures = Some(FailureLimit::Count(1));
    let created = ops.create_job(&new).await.expect("job");
    let id = created.job.id;
    assert_eq!((created.counts.held, created.counts.queued), (6, 0));
    assert_eq!(created.job.concurrency, Some(2));
    assert_eq!(created.job.max_failures, Some(FailureLimit::Count(1)));
    // A held task is never handed to its device.
    assert!(
        ops.store()
            .next_queued_task("r1", Utc::now())
            .await
            .unwrap()
            .is_none()
    );

    // The runner releases up to the limit, lowest ids first, and no more on a second pass.
    ops.run_jobs_once().await.expect("runner");
    ops.run_jobs_once().await.expect("runner");
    let status = ops.job(id).await.expect("job");
    assert_eq!((status.counts.held, status.counts.queued), (4, 2));
    assert_eq!(status.rollout.in_flight(), 2);
    let queued = ops
        .list_tasks(&TaskQuery {
            job_id: Some(id),
            state: Some(TaskState::Queued),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .tasks;
    assert_eq!(queued.len(), 2);
    // One done, one fault: one failure is tolerated, two slots open again.
    answer(&ops, queued[0].id, None).await;
    answer(&ops, queued[1].id, Some(9005)).await;
    ops.run_jobs_once().await.expect("runner");
    let status = ops.job(id).await.expect("job");
    assert_eq!(status.job.state, JobState::Running);
    assert_eq!((status.counts.held, status.counts.queued), (2, 2));
    assert_eq!(status.rollout.failed, 1);

    // A second failure exceeds the limit: the job stops, held and queued tasks are cancelled.
    let queued = ops
        .list_tasks(&TaskQuery {
            job_id: Some(id),
            state: Some(TaskState::Queued),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .tasks;
    answer(&ops, queued[0].id, Some(9005)).await;
    ops.run_jobs_once().await.expect("runner");
    let status = ops.job(id).await.expect("job");
    assert_eq!(status.job.state, JobState::Stopped);
    assert!(
        status
            .job
            .stop_reason
            .as_deref()
            .is_some_and(|r| r.contains("2 of 6")),
        "{:?}",
        status.job.stop_reason
    );
    assert_eq!(
        (
            status.counts.held,
            status.counts.queued,
            status.counts.cancelled
        ),
        (0, 0, 3)
    );
    assert!(status.job.finished_at.is_some());
    // Stopped is final: the runner leaves it alone, cancel is refused.
    ops.run_jobs_once().await.expect("runner");
    assert_eq!(ops.job(id).await.unwrap().job.state, JobState::Stopped);
    assert!(matches!(
        ops.cancel_job(id).await,
        Err(OpsError::Conflict(_))
    ));
}

#[test]
fn failure_limits_parse_and_scale() {
    assert_eq!("10".parse(), Ok(FailureLimit::Count(10)));
    assert_eq!(" 5% ".parse(), Ok(FailureLimit::Percent(5)));
    assert!("101%".parse::<FailureLimit>().is_err());
    assert!("five".parse::<FailureLimit>().is_err());
    assert!("-1".parse::<FailureLimit>().is_err());
    assert_eq!(FailureLimit::Percent(5).allowed(500), 25);
    assert_eq!(FailureLimit::Percent(5).allowed(10), 0);
    assert_eq!(FailureLimit::Count(3).allowed(1), 3);
    let json: FailureLimit = serde_json::from_str("\"5%\"").unwrap();
    assert_eq!(json, FailureLimit::Percent(5));
    let json: FailureLimit = serde_json::from_str("4").unwrap();
    assert_eq!(serde_json::to_string(&json).unwrap(), "4");
    assert_eq!(
        serde_json::to_string(&FailureLimit::Percent(5)).unwrap(),
        "\"5%\""
    );
}

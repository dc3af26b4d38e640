//! The counts behind the fleet gauges and the line table, on SQLite and (with
//! `ACS_TEST_DATABASE_URL`) PostgreSQL.

use super::{PG_ENV, TestDb, inform, migrated, run_on, t};
use crate::storage::{NewTask, Store, TOP_PRODUCT_CLASSES};
use crate::truth::lines::LineEvent;

backend_tests!(
    the_census_counts_classes_tasks_and_jobs,
    line_states_are_stored_with_an_event_per_change_that_matters,
);

async fn the_census_counts_classes_tasks_and_jobs(store: Store) {
    let store = migrated(store).await;
    // More product classes than the gauge names: the rarest fold into `other`.
    let classes = TOP_PRODUCT_CLASSES + 3;
    let mut records = Vec::new();
    for c in 0..classes {
        // Class 0 has the most devices, so it is surely among the named ones.
        for d in 0..(if c == 0 { 3 } else { 1 }) {
            let mut r = inform(&format!("dev-{c}-{d}"), t(0), &["1 BOOT"]);
            r.product_class = format!("PC-{c:02}");
            records.push(r);
        }
    }
    store.record_informs(&records, 10).await.unwrap();
    store
        .enqueue_task(&NewTask::new("dev-0-0", "reboot", serde_json::json!({})))
        .await
        .unwrap();
    store
        .enqueue_task(&NewTask::new("dev-0-1", "reboot", serde_json::json!({})))
        .await
        .unwrap();
    let census = store.census().await.unwrap();
    assert_eq!(census.product_classes.len(), TOP_PRODUCT_CLASSES + 1);
    assert_eq!(census.product_classes[0], ("PC-00".to_owned(), 3));
    assert_eq!(
        census.product_classes.last().unwrap(),
        &("other".to_owned(), 3)
    );
    let total: u64 = census.product_classes.iter().map(|c| c.1).sum();
    assert_eq!(total, classes as u64 + 2);
    assert_eq!(
        census.tasks,
        vec![("reboot".to_owned(), "queued".to_owned(), 2)]
    );
    assert!(census.jobs.iter().all(|j| j.1 == 0), "{:?}", census.jobs);
    assert!(census.jobs.iter().any(|j| j.0 == "stopped"));
    assert!(census.job_tasks.iter().all(|j| j.1 == 0));
}

async fn line_states_are_stored_with_an_event_per_change_that_matters(store: Store) {
    let store = migrated(store).await;
    store
        .record_informs(&[inform("phone", t(0), &["0 BOOTSTRAP"])], 10)
        .await
        .unwrap();
    let l1 = "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.".to_owned();
    let l2 = "Device.Services.VoiceService.1.VoiceProfile.1.Line.2.".to_owned();
    let record = |lines: Vec<(String, &'static str)>| {
        let store = store.clone();
        async move {
            let lines: Vec<(String, String)> =
                lines.into_iter().map(|(l, s)| (l, s.to_owned())).collect();
            store
                .record_line_states("phone", &lines, t(1))
                .await
                .unwrap()
        }
    };
    assert!(
        record(vec![(l1.clone(), "Registering"), (l2.clone(), "Disabled")])
            .await
            .is_empty()
    );
    assert!(record(vec![(l1.clone(), "Up")]).await.is_empty());
    assert_eq!(
        record(vec![(l1.clone(), "Error")]).await,
        vec![LineEvent::Unregistered {
            line: l1.clone(),
            status: "Error".into()
        }]
    );
    // The same state again writes nothing and tells nothing.
    assert!(record(vec![(l1.clone(), "Error")]).await.is_empty());
    assert_eq!(
        record(vec![(l1.clone(), "Up")]).await,
        vec![LineEvent::Registered { line: l1.clone() }]
    );
    let lines = store.device_lines("phone").await.unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        (lines[0].status.as_str(), lines[1].status.as_str()),
        ("Up", "Disabled")
    );
    let mut counts = store.count_lines_by_status().await.unwrap();
    counts.sort();
    assert_eq!(
        counts,
        vec![("Disabled".to_owned(), 1), ("Up".to_owned(), 1)]
    );
    let events: Vec<String> = store
        .list_events("phone", 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_code)
        .filter(|c| c.starts_with("line "))
        .collect();
    assert_eq!(
        events,
        vec![
            format!("line registered: {l1}"),
            format!("line unregistered: {l1} is Error")
        ]
    );
}

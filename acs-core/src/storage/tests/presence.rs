//! Presence on SQLite and (with `ACS_TEST_DATABASE_URL`) PostgreSQL: the Inform path puts a
//! device online and due, the sweep moves it to late and offline at the right moments, with an
//! event each, and an Inform brings it back.

use super::{PG_ENV, TestDb, inform, migrated, run_on, t};
use crate::presence::{Presence, PresencePolicy};
use crate::storage::Store;

backend_tests!(
    presence_follows_the_periodic_interval,
    the_sweep_reads_only_due_devices,
    an_interval_read_later_is_the_one_judged_by,
);

fn policy() -> PresencePolicy {
    PresencePolicy {
        default_interval_secs: 1000,
        ..PresencePolicy::default()
    }
}

async fn presence(store: &Store, id: &str) -> Presence {
    store
        .get_device(id)
        .await
        .unwrap()
        .expect("device")
        .presence
}

async fn event_codes(store: &Store, id: &str) -> Vec<String> {
    let mut events = store.list_events(id, 100).await.unwrap();
    events.sort_by_key(|e| e.id);
    events.into_iter().map(|e| e.event_code).collect()
}

async fn presence_follows_the_periodic_interval(store: Store) {
    let store = migrated(store).await;
    store.install_presence_policy(policy());
    // `a` reports a 300 s interval; `b` reports none and is judged by the default (1000 s).
    store
        .record_inform(&inform("a", t(0), &["1 BOOT"]), 100)
        .await
        .unwrap();
    let mut b = inform("b", t(0), &["1 BOOT"]);
    b.parameters
        .retain(|p| !p.name.ends_with("PeriodicInformInterval"));
    store.record_inform(&b, 100).await.unwrap();
    assert_eq!(presence(&store, "a").await, Presence::Online);

    let sweep = |at| {
        let store = store.clone();
        async move {
            let (changes, _) = store.sweep_presence(at, 1000).await.unwrap();
            let mut v: Vec<(String, Presence)> =
                changes.into_iter().map(|c| (c.device_id, c.to)).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
    };
    // Late after 1.5 intervals: 450 s for `a`, 1500 s for `b`.
    assert!(sweep(t(449)).await.is_empty());
    assert_eq!(sweep(t(450)).await, [("a".into(), Presence::Late)]);
    assert!(sweep(t(450)).await.is_empty(), "a change is made once");
    assert_eq!(presence(&store, "a").await, Presence::Late);
    assert_eq!(
        sweep(t(1500)).await,
        [
            ("a".into(), Presence::Offline),
            ("b".into(), Presence::Late)
        ]
    );
    let codes = event_codes(&store, "a").await;
    assert_eq!(
        codes[codes.len() - 2..],
        ["presence late", "presence offline"]
    );
    let late = store
        .list_events("a", 100)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event_code == "presence late")
        .unwrap();
    // Recorded at the moment it happened, not when the sweep noticed.
    assert_eq!(late.received_at.timestamp(), t(450).timestamp());

    // An Inform brings `a` back, and says so.
    store
        .record_inform(&inform("a", t(2000), &["2 PERIODIC"]), 100)
        .await
        .unwrap();
    assert_eq!(presence(&store, "a").await, Presence::Online);
    let codes = event_codes(&store, "a").await;
    assert!(codes.contains(&"presence online".to_owned()), "{codes:?}");
    // A device long silent goes straight to offline.
    assert_eq!(
        sweep(t(9000)).await,
        [
            ("a".into(), Presence::Offline),
            ("b".into(), Presence::Offline)
        ]
    );
    let counts = store.count_by_presence().await.unwrap();
    assert_eq!(
        counts,
        [
            (Presence::Online, 0),
            (Presence::Late, 0),
            (Presence::Offline, 2)
        ]
    );
}

async fn the_sweep_reads_only_due_devices(store: Store) {
    let store = migrated(store).await;
    store.install_presence_policy(policy());
    let informs: Vec<_> = (0..50)
        .map(|i| inform(&format!("d{i:02}"), t(i * 10), &["2 PERIODIC"]))
        .collect();
    store.record_informs(&informs, 100).await.unwrap();
    // Interval 300 s: d00 is late at 450 s, d05 at 500 s; d06 onward are not due yet.
    let (changes, read) = store.sweep_presence(t(500), 1000).await.unwrap();
    assert_eq!(read, 6, "only the due rows are read");
    assert_eq!(changes.len(), 6);
    // In batches: the limit bounds one pass, the next pass takes the rest.
    let (first, read) = store.sweep_presence(t(700), 10).await.unwrap();
    assert_eq!((first.len(), read), (10, 10));
    let (rest, _) = store.sweep_presence(t(700), 10).await.unwrap();
    // Due by 700 s: the 6 late ones are not yet offline (900 s); d06..d25 turn late.
    assert_eq!(first.len() + rest.len(), 20);
}

async fn an_interval_read_later_is_the_one_judged_by(store: Store) {
    let store = migrated(store).await;
    store.install_presence_policy(policy());
    let mut quiet = inform("q", t(0), &["0 BOOTSTRAP"]);
    quiet
        .parameters
        .retain(|p| !p.name.ends_with("PeriodicInformInterval"));
    store.record_inform(&quiet, 100).await.unwrap();
    // Judged by the default (1000 s) until the bootstrap read reports 100 s.
    assert!(store.learn_periodic_interval("q", 100).await.unwrap());
    assert!(
        !store.learn_periodic_interval("q", 100).await.unwrap(),
        "unchanged"
    );
    let device = store.get_device("q").await.unwrap().unwrap();
    assert_eq!(device.periodic_inform_interval, Some(100));
    let (changes, _) = store.sweep_presence(t(150), 100).await.unwrap();
    assert_eq!(changes.len(), 1, "late after 1.5 × 100 s, not 1.5 × 1000 s");
    assert_eq!(changes[0].to, Presence::Late);
}

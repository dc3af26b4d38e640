//! Device filters compiled to SQL, keyset paging, counting and id walks,
//! on both backends (run through `backend_tests!` in `tests.rs`).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};

use super::{migrated, param, t};
use crate::filter::Filter;
use crate::storage::{
    DeviceQuery, DeviceRow, DeviceSort, InformRecord, ParameterRecord, SortDirection, SortField,
    Store, StoreError,
};

const SW: &str = "Device.DeviceInfo.SoftwareVersion";
const LIT: &str = "Device.X_TEST.Literal";

fn dev_inform(
    id: &str,
    product_class: &str,
    serial: &str,
    at: DateTime<Utc>,
    params: Vec<ParameterRecord>,
) -> InformRecord {
    InformRecord {
        device_id: id.to_owned(),
        manufacturer: "Acme".into(),
        oui: "00a0bc".into(),
        product_class: product_class.into(),
        serial_number: serial.into(),
        remote_ip: Some("192.0.2.10".into()),
        cwmp_version: "urn:dslforum-org:cwmp-1-2".into(),
        events: Vec::new(),
        parameters: params,
        received_at: at,
        is_bootstrap: false,
        is_boot: false,
    }
}

/// The reference time; device `dNN` last informed `NN` × 10 minutes before.
fn now() -> DateTime<Utc> {
    t(100_000)
}

/// 20 devices:
///
/// | id      | product_class  | serial | SoftwareVersion param | tags        |
/// |---------|----------------|--------|-----------------------|-------------|
/// | d01-d06 | CP-8851-3PCC   | SNnn   | sip88xx.11-3-1        | lab (odd)   |
/// | d07-d10 | CP-8851-3PCC   | SNnn   | sip88xx.12-0-1        | lab (d07,8) |
/// | d11-d15 | CP-7841-3PCC   | SNnn   | sip78xx.11-3-1        | prod        |
/// | d16-d19 | HG-1           | SNnn   | (none)                |             |
/// | d20     | CP-8851-3PCC   | X1     | sip88xx.11-3-1        | lab         |
///
/// `d16..d19` carry the `_`/`%`/`\`/case literal values of [`LIT`].
async fn seed(store: &Store) {
    for n in 1..=20u32 {
        let id = format!("d{n:02}");
        let (pc, sw) = match n {
            1..=6 | 20 => ("CP-8851-3PCC", Some("sip88xx.11-3-1")),
            7..=10 => ("CP-8851-3PCC", Some("sip88xx.12-0-1")),
            11..=15 => ("CP-7841-3PCC", Some("sip78xx.11-3-1")),
            _ => ("HG-1", None),
        };
        let serial = if n == 20 {
            "X1".to_owned()
        } else {
            format!("SN{n:02}")
        };
        let mut params = vec![param("Device.DeviceInfo.HardwareVersion", "HW1")];
        if let Some(sw) = sw {
            params.push(param(SW, sw));
        }
        let lit = match n {
            16 => Some("a_b"),
            17 => Some("axb"),
            18 => Some("a%b"),
            19 => Some("a\\b"),
            15 => Some("A_B"),
            14 => Some("a[1]"),
            _ => None,
        };
        if let Some(v) = lit {
            params.push(param(LIT, v));
        }
        let at = now() - Duration::minutes(10 * i64::from(n));
        store
            .record_inform(&dev_inform(&id, pc, &serial, at, params), 16)
            .await
            .expect("inform");
        let tag = match n {
            1 | 3 | 5 | 7 | 8 | 20 => Some("lab"),
            11..=15 => Some("prod"),
            _ => None,
        };
        if let Some(tag) = tag {
            store.add_tag(&id, tag).await.expect("tag");
        }
    }
}

async fn ids(store: &Store, filter: &str) -> Vec<String> {
    ids_at(store, filter, now()).await
}

async fn ids_at(store: &Store, filter: &str, now: DateTime<Utc>) -> Vec<String> {
    let f = Filter::parse(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let page = store
        .find_devices(&DeviceQuery {
            filter: Some(&f),
            now,
            sort: DeviceSort::default(),
            limit: 10_000,
            after: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    assert!(page.next.is_none());
    let count = store
        .count_devices_matching(Some(&f), now)
        .await
        .expect("count");
    assert_eq!(count, page.devices.len() as u64, "count of {filter}");
    page.devices.into_iter().map(|d| d.id).collect()
}

fn set(ns: impl IntoIterator<Item = u32>) -> Vec<String> {
    ns.into_iter().map(|n| format!("d{n:02}")).collect()
}

async fn expect(store: &Store, filter: &str, want: impl IntoIterator<Item = u32>) {
    assert_eq!(ids(store, filter).await, set(want), "filter: {filter}");
}

pub(crate) async fn filter_required_examples(store: Store) {
    let store = migrated(store).await;
    seed(&store).await;
    expect(
        &store,
        r#"product_class = "CP-8851-3PCC""#,
        (1..=10).chain([20]),
    )
    .await;
    expect(
        &store,
        r#"Device.DeviceInfo.SoftwareVersion ~ "sip88xx.11*""#,
        (1..=6).chain([20]),
    )
    .await;
    expect(
        &store,
        r#"tag = lab and not serial = "X1""#,
        [1, 3, 5, 7, 8],
    )
    .await;
}

pub(crate) async fn filter_boolean_logic(store: Store) {
    let store = migrated(store).await;
    seed(&store).await;
    expect(
        &store,
        "tag = lab or tag = prod",
        [1, 3, 5, 7, 8, 11, 12, 13, 14, 15, 20],
    )
    .await;
    expect(
        &store,
        "tag = prod and serial = SN12 or serial = SN02",
        [2, 12],
    )
    .await;
    expect(
        &store,
        "tag = prod and (serial = SN12 or serial = SN02)",
        [12],
    )
    .await;
    expect(
        &store,
        "not (tag = lab or tag = prod)",
        [2, 4, 6, 9, 10, 16, 17, 18, 19],
    )
    .await;
    expect(
        &store,
        "not tag = lab and product_class = CP-8851-3PCC",
        [2, 4, 6, 9, 10],
    )
    .await;
    expect(
        &store,
        "tag != lab and product_class = CP-8851-3PCC",
        [2, 4, 6, 9, 10],
    )
    .await;
    expect(&store, "tag ~ \"pr*\"", 11..=15).await;
    expect(&store, "not not tag = prod", 11..=15).await;
    // Identity fields.
    expect(&store, "serial = X1", [20]).await;
    expect(&store, "id = d07 or id = d08", [7, 8]).await;
    expect(&store, "oui = 00a0bc and serial = SN01", [1]).await;
    expect(
        &store,
        "manufacturer ~ Ac?e and product_class = HG-1",
        16..=19,
    )
    .await;
    expect(&store, "serial > SN17", [18, 19, 20]).await;
    expect(&store, "serial < SN03", [1, 2]).await;
    // software_version is derived from the parameter; HG-1 devices have none.
    expect(&store, "software_version ~ \"sip78*\"", 11..=15).await;
    expect(
        &store,
        "software_version != sip78xx.11-3-1 and tag = lab",
        [1, 3, 5, 7, 8, 20],
    )
    .await;
    expect(&store, "software_version != sip88xx.11-3-1", 7..=15).await;
    expect(
        &store,
        "not software_version = sip88xx.11-3-1",
        (7..=19).collect::<Vec<_>>(),
    )
    .await;
    expect(&store, "remote_ip = 192.0.2.10 and serial = SN05", [5]).await;
    expect(&store, "mac = x", []).await;
    expect(&store, "not mac = x and id = d01", [1]).await;
}

pub(crate) async fn filter_parameters(store: Store) {
    let store = migrated(store).await;
    seed(&store).await;
    // `!=` on a parameter: has it, and it differs.
    expect(&store, &format!("{SW} != sip88xx.11-3-1"), 7..=15).await;
    expect(
        &store,
        &format!("not {SW} = sip88xx.11-3-1"),
        (7..=19).collect::<Vec<_>>(),
    )
    .await;
    expect(&store, &format!("{SW} = sip88xx.12-0-1"), 7..=10).await;
    expect(&store, &format!("{SW} < sip80"), 11..=15).await;
    expect(&store, &format!("{SW} > sip88xx.11-9"), 7..=10).await;
    expect(&store, "Device.Missing.Param = 1", []).await;
    expect(&store, "Device.DeviceInfo.HardwareVersion = HW1", 1..=20).await;
    // `_`, `%` and `\` in the data are literals, `?`/`*` are the wildcards,
    // matching is case-sensitive.
    expect(&store, &format!("{LIT} ~ a_b"), [16]).await;
    expect(&store, &format!("{LIT} = a_b"), [16]).await;
    expect(&store, &format!("{LIT} ~ a?b"), [16, 17, 18, 19]).await;
    expect(&store, &format!("{LIT} ~ \"a%*\""), [18]).await;
    expect(&store, &format!("{LIT} ~ \"a\\\\*\""), [19]).await;
    expect(&store, &format!("{LIT} ~ \"A*\""), [15]).await;
    expect(&store, &format!("{LIT} ~ \"*[1]\""), [14]).await;
    expect(&store, &format!("{LIT} ~ \"a[*\""), [14]).await;
    expect(&store, &format!("{LIT} ~ \"*\""), 14..=19).await;
    expect(&store, &format!("{LIT} ~ \"%\""), []).await;

    // Values longer than the PostgreSQL index prefix (256 characters).
    let long_a = format!("{}A-tail", "x".repeat(300));
    let long_b = format!("{}B-tail", "x".repeat(300));
    let exactly = "y".repeat(256);
    store
        .upsert_parameters("d01", &[param("Device.Long", &long_a)], t(1))
        .await
        .expect("long a");
    store
        .upsert_parameters("d02", &[param("Device.Long", &long_b)], t(1))
        .await
        .expect("long b");
    store
        .upsert_parameters("d03", &[param("Device.Long", &format!("{exactly}z"))], t(1))
        .await
        .expect("long c");
    store
        .upsert_parameters("d04", &[param("Device.Long", &exactly)], t(1))
        .await
        .expect("exactly 256");
    expect(&store, &format!("Device.Long = \"{long_a}\""), [1]).await;
    expect(&store, &format!("Device.Long = \"{exactly}\""), [4]).await;
    expect(
        &store,
        &format!("Device.Long = \"{}\"", "x".repeat(300)),
        [],
    )
    .await;
    expect(
        &store,
        &format!("Device.Long ~ \"{}*\"", "x".repeat(280)),
        [1, 2],
    )
    .await;
    expect(
        &store,
        &format!("Device.Long ~ \"{}B*\"", "x".repeat(300)),
        [2],
    )
    .await;
    expect(&store, "Device.Long ~ \"*A-tail\"", [1]).await;
    expect(&store, &format!("Device.Long != \"{long_a}\""), [2, 3, 4]).await;
    expect(&store, &format!("Device.Long > \"{exactly}\""), [3]).await;
}

pub(crate) async fn filter_times(store: Store) {
    let store = migrated(store).await;
    seed(&store).await;
    // dNN informed NN × 10 minutes before now().
    expect(&store, "last_inform > -1h", 1..=5).await;
    expect(&store, "last_inform > -61m", 1..=6).await;
    expect(&store, "last_inform < -150m", 16..=20).await;
    expect(
        &store,
        "last_inform > -3600s and last_inform < -30m",
        [4, 5],
    )
    .await;
    expect(&store, "first_seen > -1h", 1..=5).await;
    // Relative to the injected now: an hour later, only d01..d04 remain
    // within 1h40m.
    let later = now() + Duration::hours(1);
    assert_eq!(
        ids_at(&store, "last_inform > -100m", later).await,
        set(1..=3)
    );
    // Absolute times.
    let at = (now() - Duration::minutes(25)).to_rfc3339();
    expect(&store, &format!("last_inform > \"{at}\""), [1, 2]).await;
    expect(
        &store,
        &format!("not last_inform > \"{at}\" and tag = lab"),
        [3, 5, 7, 8, 20],
    )
    .await;
    let d03 = store.get_device("d03").await.expect("get").expect("d03");
    let exact = d03.last_inform.to_rfc3339();
    expect(&store, &format!("last_inform = \"{exact}\""), [3]).await;
    expect(
        &store,
        &format!("last_inform != \"{exact}\" and tag = lab"),
        [1, 5, 7, 8, 20],
    )
    .await;
    // Nullable time columns: nobody booted, so `!=` matches nobody and
    // `not … =` everybody.
    expect(&store, "last_boot > -100w", []).await;
    expect(&store, "last_boot != -1h", []).await;
    expect(&store, "not last_boot = -1h", 1..=20).await;
}

fn key(field: SortField, d: &DeviceRow) -> String {
    match field {
        SortField::Id => String::new(),
        SortField::Serial => d.serial_number.clone(),
        SortField::ProductClass => d.product_class.clone(),
        SortField::LastInform => d.last_inform.to_rfc3339(),
        SortField::FirstSeen => d.first_seen.to_rfc3339(),
        SortField::SoftwareVersion => d.software_version.clone().unwrap_or_default(),
        SortField::Oui => d.oui.clone(),
        SortField::Manufacturer => d.manufacturer.clone(),
        SortField::Mac => d.mac.clone().unwrap_or_default(),
    }
}

pub(crate) async fn filter_keyset_paging(store: Store) {
    let store = migrated(store).await;
    seed(&store).await;
    // Five more devices (25 in all), two with the same inform time as
    // others so the time sorts have ties.
    for n in 21..=25u32 {
        let at = if n <= 22 {
            now() - Duration::minutes(30)
        } else {
            now() - Duration::minutes(10 * i64::from(n))
        };
        store
            .record_inform(
                &dev_inform(
                    &format!("d{n:02}"),
                    "CP-7841-3PCC",
                    &format!("SN{n:02}"),
                    at,
                    vec![param(SW, "sip78xx.11-3-1")],
                ),
                16,
            )
            .await
            .expect("inform");
    }
    let mut all = Vec::new();
    for n in 1..=25u32 {
        all.push(
            store
                .get_device(&format!("d{n:02}"))
                .await
                .expect("get")
                .expect("device"),
        );
    }
    let lab = Filter::parse("tag = lab or product_class = CP-7841-3PCC").expect("parse");
    for field in [
        SortField::Id,
        SortField::Serial,
        SortField::ProductClass,
        SortField::LastInform,
        SortField::FirstSeen,
        SortField::SoftwareVersion,
        SortField::Oui,
        SortField::Manufacturer,
        SortField::Mac,
    ] {
        for direction in [SortDirection::Asc, SortDirection::Desc] {
            for filter in [None, Some(&lab)] {
                let sort = DeviceSort { field, direction };
                let mut want: Vec<&DeviceRow> = all.iter().collect();
                if filter.is_some() {
                    let tagged: BTreeSet<&str> = ["d01", "d03", "d05", "d07", "d08", "d20"].into();
                    want.retain(|d| {
                        tagged.contains(d.id.as_str()) || d.product_class == "CP-7841-3PCC"
                    });
                }
                want.sort_by(|a, b| {
                    let (ka, kb) = (key(field, a), key(field, b));
                    let o = ka.cmp(&kb).then_with(|| a.id.cmp(&b.id));
                    if direction == SortDirection::Desc {
                        o.reverse()
                    } else {
                        o
                    }
                });
                let want: Vec<&str> = want.iter().map(|d| d.id.as_str()).collect();

                let mut got: Vec<String> = Vec::new();
                let mut after = None;
                let mut pages = 0;
                loop {
                    let page = store
                        .find_devices(&DeviceQuery {
                            filter,
                            now: now(),
                            sort,
                            limit: 10,
                            after: after.take(),
                        })
                        .await
                        .expect("page");
                    pages += 1;
                    assert!(page.devices.len() <= 10);
                    got.extend(page.devices.into_iter().map(|d| d.id));
                    match page.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                    assert!(pages < 10, "runaway paging");
                }
                assert_eq!(got, want, "{sort:?} filtered: {}", filter.is_some());
                if filter.is_none() {
                    assert_eq!(pages, 3, "{sort:?}");
                }
            }
        }
    }

    // A cursor only fits its own sort; garbage is refused.
    let first = store
        .find_devices(&DeviceQuery {
            filter: None,
            now: now(),
            sort: DeviceSort::default(),
            limit: 10,
            after: None,
        })
        .await
        .expect("page");
    let next = first.next.expect("more pages");
    for (sort, cursor) in [
        (
            DeviceSort {
                field: SortField::Serial,
                direction: SortDirection::Asc,
            },
            next.clone(),
        ),
        (DeviceSort::default(), "not-a-cursor!".to_owned()),
        (DeviceSort::default(), "e30".to_owned()),
    ] {
        let res = store
            .find_devices(&DeviceQuery {
                filter: None,
                now: now(),
                sort,
                limit: 10,
                after: Some(cursor),
            })
            .await;
        assert!(matches!(res, Err(StoreError::InvalidInput(_))), "{res:?}");
    }
    // The page size is capped, and 0 means 1.
    let one = store
        .find_devices(&DeviceQuery {
            filter: None,
            now: now(),
            sort: DeviceSort::default(),
            limit: 0,
            after: None,
        })
        .await
        .expect("page");
    assert_eq!(one.devices.len(), 1);
}

pub(crate) async fn filter_id_batches_and_errors(store: Store) {
    let store = migrated(store).await;
    seed(&store).await;
    let f = Filter::parse("not tag = prod").expect("parse");
    let mut walk = store.stream_device_ids(Some(&f), now(), 4);
    let mut batches = Vec::new();
    while let Some(b) = walk.next_batch().await.expect("batch") {
        assert!(!b.is_empty() && b.len() <= 4);
        batches.push(b);
    }
    assert_eq!(batches.len(), 4);
    let flat: Vec<String> = batches.concat();
    assert_eq!(flat, set((1..=10).chain(16..=20)));
    assert!(walk.next_batch().await.expect("after end").is_none());

    // An exact multiple of the batch size ends with an empty fetch.
    let mut walk = store.stream_device_ids(None, now(), 5);
    let mut n = 0;
    while let Some(b) = walk.next_batch().await.expect("batch") {
        n += b.len();
    }
    assert_eq!(n, 20);
    assert_eq!(
        store
            .count_devices_matching(None, now())
            .await
            .expect("count"),
        20
    );

    // Malformed filters never reach the database; the error names the column.
    for (input, col) in [
        ("product_class =", 16),
        ("tag = lab and not", 18),
        ("(tag = lab", 11),
        ("serial = \"X1", 10),
        ("last_inform > soon", 15),
        ("colour = red", 1),
    ] {
        let e = Filter::parse(input).expect_err(input);
        assert_eq!(e.position, col, "{input}: {e}");
        assert!(e.to_string().starts_with(&format!("at column {col}: ")));
    }
}

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;
use crate::cwmp::ParameterValue;
use crate::rollout::VERSION_MISMATCH_FAULT;
use crate::storage::ProvisionStateRow;

const LINES: &str = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";

fn now() -> DateTime<Utc> {
    "2026-11-21T12:00:00Z".parse().expect("time")
}

fn policy() -> ProvisionPolicy {
    ProvisionPolicy {
        backoff: Duration::from_secs(300),
        max_backoff: Duration::from_secs(3600),
        loop_window: Duration::from_secs(86_400),
        loop_limit: 3,
        check_interval: Duration::from_secs(3600),
    }
}

fn target(item: Item, hash: &str) -> Target {
    Target {
        item,
        hash: hash.into(),
        version: (item == Item::Firmware).then(|| "sip88xx.12-0-1MPP".to_owned()),
    }
}

fn state(status: ItemStatus, hash: &str) -> ProvisionStateRow {
    ProvisionStateRow {
        device_id: "D".into(),
        rule: "r".into(),
        item: "parameters".into(),
        target_hash: hash.into(),
        task_id: Some(7),
        status: status.as_str().into(),
        failures: 0,
        next_attempt_at: None,
        window_start: Some(now() - chrono::Duration::hours(1)),
        window_pushes: 1,
        detail: None,
        updated_at: now() - chrono::Duration::hours(1),
        checked_at: None,
        check_task_id: None,
    }
}

/// What a decision should be: `keep`, `record <status>` or `push`.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    Keep,
    Record(ItemStatus),
    Push,
}

struct Case<'a> {
    item: Item,
    hash: &'a str,
    state: Option<ProvisionStateRow>,
    outcome: TaskOutcome,
    reported: Option<&'a str>,
    bootstrap: bool,
}

impl Default for Case<'_> {
    fn default() -> Self {
        Case {
            item: Item::Parameters,
            hash: "h1",
            state: None,
            outcome: TaskOutcome::Missing,
            reported: Some("sip88xx.11-3-7MPP"),
            bootstrap: false,
        }
    }
}

/// Runs `decide` on the case and checks the kind of decision; returns the stored row, if any.
fn check(case: Case<'_>, want: Want) -> Option<ProvisionStateRow> {
    let d = decide(
        "D",
        "r",
        &target(case.item, case.hash),
        case.state.as_ref(),
        &case.outcome,
        case.reported,
        case.bootstrap,
        now(),
        &policy(),
    );
    let (got, row) = match d {
        Decision::Keep => (Want::Keep, None),
        Decision::Record(r) => (
            Want::Record(ItemStatus::parse(&r.status).expect("known status")),
            Some(r),
        ),
        Decision::Push(r) => {
            assert_eq!(r.status, "pending", "a push is stored as pending");
            (Want::Push, Some(r))
        }
    };
    assert_eq!(got, want, "{row:?}");
    if let Some(r) = &row {
        assert_eq!(r.target_hash, case.hash, "the row names the current target");
        assert_eq!(r.updated_at, now());
    }
    row
}

#[test]
fn a_new_target_is_pushed_once_and_then_left_alone() {
    let row = check(Case::default(), Want::Push).expect("row");
    assert_eq!(row.window_pushes, 1);
    assert_eq!(
        row.task_id, None,
        "the task id is filled in when it is queued"
    );

    // Its task is still running: nothing, not even a write.
    let pending = state(ItemStatus::Pending, "h1");
    check(
        Case {
            state: Some(pending.clone()),
            outcome: TaskOutcome::Unfinished,
            ..Case::default()
        },
        Want::Keep,
    );
    // It finished: recorded as applied, nothing pushed.
    let applied = check(
        Case {
            state: Some(pending),
            outcome: TaskOutcome::Succeeded,
            ..Case::default()
        },
        Want::Record(ItemStatus::Applied),
    )
    .expect("row");
    // Later BOOT and PERIODIC Informs: nothing at all.
    check(
        Case {
            state: Some(applied),
            ..Case::default()
        },
        Want::Keep,
    );
}

#[test]
fn bootstrap_repushes_configuration_but_not_firmware_at_its_version() {
    check(
        Case {
            state: Some(state(ItemStatus::Applied, "h1")),
            bootstrap: true,
            ..Case::default()
        },
        Want::Push,
    );
    let mut fw = state(ItemStatus::Applied, "h1");
    fw.item = "firmware".into();
    check(
        Case {
            item: Item::Firmware,
            state: Some(fw),
            reported: Some("sip88xx.12-0-1MPP"),
            bootstrap: true,
            ..Case::default()
        },
        Want::Keep,
    );
}

#[test]
fn a_changed_target_is_pushed_with_fresh_counters() {
    let mut old = state(ItemStatus::Halted, "h0");
    old.window_pushes = 3;
    old.failures = 4;
    let row = check(
        Case {
            state: Some(old),
            ..Case::default()
        },
        Want::Push,
    )
    .expect("row");
    assert_eq!((row.window_pushes, row.failures), (1, 0));
    assert_eq!(row.window_start, Some(now()));
}

#[test]
fn failures_back_off_exponentially_up_to_the_cap() {
    let failed = check(
        Case {
            state: Some(state(ItemStatus::Pending, "h1")),
            outcome: TaskOutcome::Failed(Some(9002), "Internal error".into()),
            ..Case::default()
        },
        Want::Record(ItemStatus::Failed),
    )
    .expect("row");
    assert_eq!(failed.failures, 1);
    assert_eq!(
        failed.next_attempt_at,
        Some(now() + chrono::Duration::seconds(300))
    );
    assert_eq!(failed.detail.as_deref(), Some("fault 9002: Internal error"));

    // Within the backoff: nothing.
    check(
        Case {
            state: Some(failed.clone()),
            ..Case::default()
        },
        Want::Keep,
    );
    // After it: pushed again.
    let mut due = failed;
    due.next_attempt_at = Some(now() - chrono::Duration::seconds(1));
    check(
        Case {
            state: Some(due),
            ..Case::default()
        },
        Want::Push,
    );

    // The second failure in a row waits twice as long; the tenth waits the cap.
    for (failures_before, wait) in [(1, 600), (9, 3600)] {
        let mut pending = state(ItemStatus::Pending, "h1");
        pending.failures = failures_before;
        let row = check(
            Case {
                state: Some(pending),
                outcome: TaskOutcome::Missing,
                ..Case::default()
            },
            Want::Record(ItemStatus::Failed),
        )
        .expect("row");
        assert_eq!(
            row.next_attempt_at,
            Some(now() + chrono::Duration::seconds(wait))
        );
    }
}

#[test]
fn too_many_pushes_in_the_window_halt_the_item_until_the_window_passes() {
    // A device that bootstraps again and again (its configuration makes it reset itself).
    let mut looping = state(ItemStatus::Applied, "h1");
    looping.window_pushes = 3;
    let halted = check(
        Case {
            state: Some(looping),
            bootstrap: true,
            ..Case::default()
        },
        Want::Record(ItemStatus::Halted),
    )
    .expect("row");
    assert!(
        halted
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("loop"),
        "{halted:?}"
    );
    // Halted stays halted (and is not rewritten) within the window.
    check(
        Case {
            state: Some(halted.clone()),
            bootstrap: true,
            ..Case::default()
        },
        Want::Keep,
    );
    // A day later it is tried again.
    let mut old = halted;
    old.window_start = Some(now() - chrono::Duration::hours(25));
    let row = check(
        Case {
            state: Some(old),
            ..Case::default()
        },
        Want::Push,
    )
    .expect("row");
    assert_eq!(row.window_pushes, 1);
}

#[test]
fn firmware_is_pushed_only_while_the_version_differs() {
    // Already running it: recorded, never pushed.
    check(
        Case {
            item: Item::Firmware,
            reported: Some("sip88xx.12-0-1MPP"),
            ..Case::default()
        },
        Want::Record(ItemStatus::Applied),
    );
    // Another version: pushed.
    check(
        Case {
            item: Item::Firmware,
            ..Case::default()
        },
        Want::Push,
    );
    // Pushed and still transferring, even if the version already shows: wait for the task.
    check(
        Case {
            item: Item::Firmware,
            state: Some(state(ItemStatus::Pending, "h1")),
            outcome: TaskOutcome::Unfinished,
            reported: Some("sip88xx.12-0-1MPP"),
            ..Case::default()
        },
        Want::Keep,
    );
    // Installed, but the device came back with another version: never pushed again.
    let mismatch = check(
        Case {
            item: Item::Firmware,
            state: Some(state(ItemStatus::Pending, "h1")),
            outcome: TaskOutcome::Failed(Some(VERSION_MISMATCH_FAULT), "other version".into()),
            ..Case::default()
        },
        Want::Record(ItemStatus::Mismatch),
    )
    .expect("row");
    check(
        Case {
            item: Item::Firmware,
            state: Some(mismatch),
            bootstrap: true,
            ..Case::default()
        },
        Want::Keep,
    );
    // Applied once, then downgraded by hand: pushed again (within the loop limit).
    check(
        Case {
            item: Item::Firmware,
            state: Some(state(ItemStatus::Applied, "h1")),
            ..Case::default()
        },
        Want::Push,
    );
}

#[test]
fn rules_are_validated_up_front() {
    let base = || RuleSpec {
        name: "mpp".into(),
        order: 100,
        filter: Some("product_class ~ \"CP-88*\"".into()),
        events: vec![
            ProvisionEvent::Boot,
            ProvisionEvent::Bootstrap,
            ProvisionEvent::Boot,
        ],
        objects: vec![ObjectSpec {
            path: LINES.into(),
            instances: 2,
        }],
        parameters: vec![ParameterValue {
            name: "Device.ManagementServer.PeriodicInformInterval".into(),
            value: "3600".into(),
            value_type: crate::cwmp::ValueType::UnsignedInt,
        }],
        attributes: vec![AttributeSpec {
            name: "Device.ManagementServer.PeriodicInformInterval".into(),
            notification: 2,
        }],
        connection_request_credentials: false,
        template_file: None,
        vars_file: None,
        firmware_file: None,
        firmware_version: None,
        window: None,
    };
    let rule = validate(base(), RuleSource::Api).expect("valid");
    assert_eq!(
        rule.spec.events,
        vec![ProvisionEvent::Bootstrap, ProvisionEvent::Boot],
        "sorted, without duplicates"
    );
    let bad = |f: &dyn Fn(&mut RuleSpec), want: &str| {
        let mut spec = base();
        f(&mut spec);
        let e = validate(spec, RuleSource::Api).expect_err(want).to_string();
        assert!(e.contains(want), "{e:?} should say {want:?}");
    };
    bad(&|s| s.name = "a b".into(), "invalid rule name");
    bad(&|s| s.events.clear(), "at least one event");
    bad(
        &|s| s.filter = Some("product_class =".into()),
        "filter at column",
    );
    bad(
        &|s| {
            s.parameters.clear();
            s.objects.clear();
            s.attributes.clear();
        },
        "ensures nothing",
    );
    bad(&|s| s.objects[0].instances = 0, "give 1-1000");
    bad(&|s| s.objects[0].path = "Device.Lines".into(), "objects");
    bad(&|s| s.objects.push(s.objects[0].clone()), "given twice");
    bad(&|s| s.attributes[0].notification = 3, "not 0 (off)");
    bad(&|s| s.attributes[0].name = "Device.".into(), "partial path");
    bad(
        &|s| s.attributes.push(s.attributes[0].clone()),
        "given twice",
    );
    bad(
        &|s| s.parameters[0].value = "often".into(),
        "not a valid xsd:unsignedInt",
    );
    bad(
        &|s| s.parameters.push(s.parameters[0].clone()),
        "given twice",
    );
    bad(&|s| s.vars_file = Some(1), "needs a template");
    bad(
        &|s| s.firmware_version = Some("1".into()),
        "needs a firmware file",
    );
}

#[test]
fn events_and_image_versions_parse_the_ways_operators_write_them() {
    for s in ["BOOTSTRAP", "0 BOOTSTRAP", "bootstrap"] {
        assert_eq!(s.parse::<ProvisionEvent>(), Ok(ProvisionEvent::Bootstrap));
    }
    assert_eq!(
        "2 PERIODIC".parse::<ProvisionEvent>(),
        Ok(ProvisionEvent::Periodic)
    );
    for s in [
        "VALUE CHANGE",
        "4 VALUE CHANGE",
        "value_change",
        "Value-Change",
    ] {
        assert_eq!(s.parse::<ProvisionEvent>(), Ok(ProvisionEvent::ValueChange));
    }
    for s in ["CONNECTION REQUEST", "4", "", "VALUE"] {
        assert!(s.parse::<ProvisionEvent>().is_err(), "{s}");
    }
    assert_eq!(
        version_from_image_name("sip88xx.12-0-1MPP-4.loads").as_deref(),
        Some("sip88xx.12-0-1MPP-4")
    );
    assert_eq!(version_from_image_name("firmware.bin"), None);
    assert_eq!(version_from_image_name(".loads"), None);
}

#[test]
fn a_transfer_the_device_can_no_longer_report_is_pushed_again() {
    let awaiting = TaskOutcome::AwaitingTransfer(now() - chrono::Duration::minutes(5));
    // Still waiting for the TransferComplete: nothing.
    check(
        Case {
            item: Item::Configuration,
            state: Some(state(ItemStatus::Pending, "h1")),
            outcome: awaiting.clone(),
            ..Case::default()
        },
        Want::Keep,
    );
    // A factory reset in between discards the TransferComplete: pushed again at once.
    check(
        Case {
            item: Item::Configuration,
            state: Some(state(ItemStatus::Pending, "h1")),
            outcome: awaiting,
            bootstrap: true,
            ..Case::default()
        },
        Want::Push,
    );
    // Never reported within the window: lost as well.
    let row = check(
        Case {
            item: Item::Configuration,
            state: Some(state(ItemStatus::Pending, "h1")),
            outcome: TaskOutcome::AwaitingTransfer(now() - chrono::Duration::hours(25)),
            ..Case::default()
        },
        Want::Push,
    )
    .expect("row");
    assert_eq!(
        row.window_pushes, 2,
        "it counts against the loop protection"
    );
    // Firmware whose TransferComplete is outstanding but whose version already shows: done.
    check(
        Case {
            item: Item::Firmware,
            state: Some(state(ItemStatus::Pending, "h1")),
            outcome: TaskOutcome::AwaitingTransfer(now()),
            reported: Some("sip88xx.12-0-1MPP"),
            bootstrap: true,
            ..Case::default()
        },
        Want::Record(ItemStatus::Applied),
    );
}

#[test]
fn debug_output_shows_parameter_names_but_never_values() {
    let spec = RuleSpec {
        name: "sip".into(),
        order: 1,
        filter: None,
        events: vec![ProvisionEvent::Bootstrap],
        objects: vec![],
        attributes: vec![],
        parameters: vec![ParameterValue::string(
            "Device.Services.VoiceService.1.X_Password",
            "hunter2",
        )],
        connection_request_credentials: false,
        template_file: None,
        vars_file: None,
        firmware_file: None,
        firmware_version: None,
        window: None,
    };
    let text = format!("{spec:?} {spec:#?}");
    assert!(text.contains("X_Password"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[test]
fn a_rule_pushes_only_inside_its_window() {
    let spec = |window: Option<&str>| RuleSpec {
        name: "night".into(),
        order: 1,
        filter: None,
        events: vec![ProvisionEvent::Boot],
        objects: vec![],
        attributes: vec![],
        parameters: vec![ParameterValue::string("Device.X.Y", "1")],
        connection_request_credentials: false,
        template_file: None,
        vars_file: None,
        firmware_file: None,
        firmware_version: None,
        window: window.map(str::to_owned),
    };
    let rule = validate(spec(Some("Mon 01:00-05:00 Europe/Oslo")), RuleSource::Api).unwrap();
    let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(
        rule.in_window(at("2026-12-07T01:30:00Z")),
        "Mon 02:30 in Oslo"
    );
    assert!(!rule.in_window(at("2026-12-08T01:30:00Z")), "Tuesday");
    assert!(
        validate(spec(None), RuleSource::Api)
            .unwrap()
            .in_window(at("2026-12-08T01:30:00Z"))
    );
    let err = validate(spec(Some("nightly")), RuleSource::Api).unwrap_err();
    assert!(err.to_string().contains("write it like"), "{err}");
}

fn value(name: &str, value: &str, value_type: crate::cwmp::ValueType) -> ParameterValue {
    ParameterValue {
        name: name.into(),
        value: value.into(),
        value_type,
    }
}

#[test]
fn values_compare_by_their_type_and_passwords_are_never_compared() {
    use crate::cwmp::ValueType as T;
    let same = |w: ParameterValue, got: &str| same_value(&w, got);
    assert!(same(value("A.B", "true", T::Boolean), "1"));
    assert!(same(value("A.B", "0", T::Boolean), "False"));
    assert!(!same(value("A.B", "true", T::Boolean), "0"));
    assert!(same(value("A.N", "3600", T::UnsignedInt), "03600"));
    assert!(!same(value("A.N", "3600", T::UnsignedInt), "60"));
    assert!(same(
        value("A.T", "2026-01-01T00:00:00Z", T::DateTime),
        "2026-01-01T01:00:00+01:00"
    ));
    assert!(!same(value("A.S", "Lobby", T::String), "lobby"));
    assert!(!same(value("A.S", "Lobby", T::String), "Lobby "));

    let wanted = [
        value("D.Line.1.DirectoryNumber", "1001", T::String),
        value("D.Line.1.SIP.AuthPassword", "s3cret", T::String),
        value("D.Line.1.Enable", "true", T::Boolean),
        value("D.Line.1.CallerIDName", "Desk", T::String),
    ];
    let drift = ensure::drifted_parameters(
        &wanted,
        [
            ("D.Line.1.DirectoryNumber", "1002"),
            // What a CPE reads back for a password: never drift.
            ("D.Line.1.SIP.AuthPassword", ""),
            ("D.Line.1.Enable", "1"),
            // D.Line.1.CallerIDName was not read: not drift either.
        ],
    );
    let names: Vec<&str> = drift.iter().map(|(p, _)| p.name.as_str()).collect();
    assert_eq!(names, ["D.Line.1.DirectoryNumber"]);
    assert_eq!(drift[0].0.value, "1001", "the wanted value is pushed");
    assert_eq!(drift[0].1.found, "1002");
    let event = ensure::drift_event("lines", Item::Parameters, &[drift[0].1.clone()]);
    assert_eq!(
        event,
        r#"provision drift: rule lines parameters: D.Line.1.DirectoryNumber is "1002", wanted "1001""#
    );
}

#[test]
fn attributes_and_object_instances_are_compared_with_the_answer() {
    use crate::cwmp::ParameterAttribute;
    let wanted = [
        AttributeSpec {
            name: "D.Line.1.Status".into(),
            notification: 2,
        },
        AttributeSpec {
            name: "D.Line.2.Status".into(),
            notification: 2,
        },
    ];
    let got = [
        ParameterAttribute {
            name: "D.Line.1.Status".into(),
            notification: 2,
            access_list: vec![],
        },
        ParameterAttribute {
            name: "D.Line.2.Status".into(),
            notification: 0,
            access_list: vec![],
        },
    ];
    let drift = ensure::drifted_attributes(&wanted, &got);
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].0.name, "D.Line.2.Status");
    assert_eq!(drift[0].1.found, "notification 0");

    let objects = [ObjectSpec {
        path: LINES.into(),
        instances: 3,
    }];
    let names = [
        format!("{LINES}1.Enable"),
        format!("{LINES}1.Status"),
        format!("{LINES}4.Enable"),
        // Not an instance of the table.
        format!("{LINES}Count"),
        "Device.Other.1.Enable".to_owned(),
    ];
    let missing = ensure::missing_instances(&objects, names.iter().map(String::as_str));
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].1, 1, "instances 1 and 4 exist: one more makes 3");
    let enough = ensure::missing_instances(
        &[ObjectSpec {
            path: LINES.into(),
            instances: 2,
        }],
        names.iter().map(String::as_str),
    );
    assert!(enough.is_empty());
}

#[test]
fn checks_are_due_once_per_interval_and_objects_are_read_before_anything_is_added() {
    let p = policy();
    let mut applied = state(ItemStatus::Applied, "h");
    // Applied an hour ago and never checked: due (the interval is an hour).
    assert!(ensure::check_due(&applied, now(), &p));
    applied.checked_at = Some(now() - chrono::Duration::minutes(59));
    assert!(!ensure::check_due(&applied, now(), &p));
    applied.checked_at = Some(now() - chrono::Duration::minutes(60));
    assert!(ensure::check_due(&applied, now(), &p));
    assert!(!ensure::check_due(
        &state(ItemStatus::Pending, "h"),
        now(),
        &p
    ));

    let fresh = || ProvisionStateRow {
        item: "objects".into(),
        task_id: None,
        window_start: None,
        window_pushes: 0,
        ..state(ItemStatus::Checking, "h")
    };
    let check = |s: Option<&ProvisionStateRow>, hash: &str, bootstrap: bool, verifying: bool| {
        ensure::objects_check(s, fresh, hash, bootstrap, verifying, now(), &p)
    };
    // Never decided on: read first.
    let first = check(None, "h", false, false).expect("a check");
    assert_eq!(first.status, "checking");
    assert_eq!(first.checked_at, Some(now()));
    // Applied: read again only at a verifying event, once per interval, or after BOOTSTRAP.
    let mut applied = ProvisionStateRow {
        item: "objects".into(),
        ..state(ItemStatus::Applied, "h")
    };
    assert!(check(Some(&applied), "h", false, false).is_none());
    let again = check(Some(&applied), "h", false, true).expect("due");
    assert_eq!(again.status, "applied", "a routine check leaves it applied");
    applied.checked_at = Some(now() - chrono::Duration::minutes(5));
    assert!(check(Some(&applied), "h", false, true).is_none());
    assert_eq!(
        check(Some(&applied), "h", true, false).map(|s| s.status),
        Some("checking".into())
    );
    // A changed target starts over.
    let changed = check(Some(&applied), "other", false, false).expect("changed");
    assert_eq!(
        (changed.target_hash.as_str(), changed.window_pushes),
        ("other", 0)
    );
    // Its AddObjects are on their way: nothing.
    let pending = ProvisionStateRow {
        item: "objects".into(),
        ..state(ItemStatus::Pending, "h")
    };
    assert!(check(Some(&pending), "h", true, true).is_none());
    // A failure waits for its backoff.
    let mut failed = ProvisionStateRow {
        item: "objects".into(),
        ..state(ItemStatus::Failed, "h")
    };
    failed.next_attempt_at = Some(now() + chrono::Duration::minutes(1));
    assert!(check(Some(&failed), "h", false, true).is_none());
    failed.next_attempt_at = Some(now());
    assert!(check(Some(&failed), "h", false, true).is_some());
}

#[test]
fn drift_is_pushed_again_within_the_loop_protection_and_backoff() {
    let p = policy();
    let mut s = state(ItemStatus::Applied, "h");
    s.window_pushes = 1;
    // Drift of an applied item: pushed, counted against the loop protection.
    let Decision::Push(pushed) = ensure::on_drift(&s, now(), &p) else {
        panic!("drift is pushed");
    };
    assert_eq!(
        (pushed.status.as_str(), pushed.window_pushes),
        ("pending", 2)
    );
    // A device that keeps undoing it is halted at the limit, not pushed at every check.
    s.window_pushes = 3;
    match ensure::on_drift(&s, now(), &p) {
        Decision::Record(r) => assert_eq!(r.status, "halted"),
        other => panic!("{other:?}"),
    }
    let halted = state(ItemStatus::Halted, "h");
    let halted = ProvisionStateRow {
        window_pushes: 3,
        ..halted
    };
    assert_eq!(ensure::on_drift(&halted, now(), &p), Decision::Keep);
    // A device that refused the value waits for its backoff.
    let mut failed = state(ItemStatus::Failed, "h");
    failed.next_attempt_at = Some(now() + chrono::Duration::minutes(5));
    assert_eq!(ensure::on_drift(&failed, now(), &p), Decision::Keep);
    // Its push is on its way: nothing more.
    assert_eq!(
        ensure::on_drift(&state(ItemStatus::Pending, "h"), now(), &p),
        Decision::Keep
    );
    assert!(ensure::is_drift(&state(ItemStatus::Applied, "h")));
    assert!(!ensure::is_drift(&state(ItemStatus::Checking, "h")));
}

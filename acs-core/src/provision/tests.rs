use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;
use crate::cwmp::ParameterValue;
use crate::rollout::VERSION_MISMATCH_FAULT;
use crate::storage::ProvisionStateRow;

fn now() -> DateTime<Utc> {
    "2026-11-21T12:00:00Z".parse().expect("time")
}

fn policy() -> ProvisionPolicy {
    ProvisionPolicy {
        backoff: Duration::from_secs(300),
        max_backoff: Duration::from_secs(3600),
        loop_window: Duration::from_secs(86_400),
        loop_limit: 3,
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
        parameters: vec![ParameterValue {
            name: "Device.ManagementServer.PeriodicInformInterval".into(),
            value: "3600".into(),
            value_type: crate::cwmp::ValueType::UnsignedInt,
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
    bad(&|s| s.parameters.clear(), "ensures nothing");
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
    assert!("VALUE CHANGE".parse::<ProvisionEvent>().is_err());
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

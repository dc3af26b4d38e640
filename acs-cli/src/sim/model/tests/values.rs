//! GetParameterValues, GetParameterNames and SetParameterValues.

use super::*;

#[test]
fn get_values_partial_paths_and_whole_tree() {
    let m = device(CISCO);
    let check = |query: &[&str], want: Result<&[&str], u32>| match (m.get_values(query), want) {
        (Ok(got), Ok(want)) => assert_eq!(names(&got), want, "{query:?}"),
        (Err(f), Err(code)) => assert_eq!(f.code, code, "{query:?}"),
        (got, want) => panic!("{query:?}: got {got:?}, want {want:?}"),
    };
    check(
        &["Device.DeviceInfo.SerialNumber"],
        Ok(&["Device.DeviceInfo.SerialNumber"]),
    );
    check(
        &["Device.IP.Interface.1.IPv4Address."],
        Ok(&[
            "Device.IP.Interface.1.IPv4Address.1.Enable",
            "Device.IP.Interface.1.IPv4Address.1.Status",
            "Device.IP.Interface.1.IPv4Address.1.IPAddress",
            "Device.IP.Interface.1.IPv4Address.1.SubnetMask",
            "Device.IP.Interface.1.IPv4Address.1.AddressingType",
        ]),
    );
    check(
        &["Device.Time.", "Device.RootDataModelVersion"],
        Ok(&[
            "Device.Time.Enable",
            "Device.Time.Status",
            "Device.Time.NTPServer1",
            "Device.Time.CurrentLocalTime",
            "Device.Time.LocalTimeZone",
            "Device.RootDataModelVersion",
        ]),
    );
    check(&["Device.DeviceInfo.Nope"], Err(9005));
    check(&["Device.DeviceInfo"], Err(9005)); // an object without the trailing dot
    check(&["Device.Nope."], Err(9005));
    check(&["Device.Time.", "Device.Nope"], Err(9005)); // one bad name fails the call
    check(
        &["Device.Services.VoiceService.1.VoiceProfile.1.Line.3."],
        Err(9005),
    );

    let all = m.get_values(&[""]).unwrap();
    assert_eq!(names(&m.get_values(&["Device."]).unwrap()), names(&all));
    assert_eq!(all[0].name, "Device.RootDataModelVersion");
    assert_eq!(all[1].name, "Device.DeviceInfo.Manufacturer");
    // Instances are contiguous and in order: Line.1 before Line.2.
    let lines: Vec<&str> = names(&all)
        .into_iter()
        .filter(|n| n.starts_with(LINE))
        .collect();
    assert_eq!(lines.len(), 32);
    assert!(
        lines[..16]
            .iter()
            .all(|n| n.starts_with(&format!("{LINE}1.")))
    );
    assert_eq!(lines[16], format!("{LINE}2.Enable"));
    // Secrets read back empty, though kept.
    assert_eq!(get(&m, &format!("{LINE}1.SIP.AuthPassword")), "");
    assert!(all.iter().all(|v| v.name.starts_with("Device.")));
}

#[test]
fn get_names_next_level_and_full_tree() {
    let m = device(CISCO);
    let check = |path: &str, next: bool, want: Result<&[(&str, bool)], u32>| match (
        m.get_names(path, next),
        want,
    ) {
        (Ok(got), Ok(want)) => {
            let got: Vec<(&str, bool)> =
                got.iter().map(|i| (i.name.as_str(), i.writable)).collect();
            assert_eq!(got, want, "{path:?} {next}")
        }
        (Err(f), Err(code)) => assert_eq!(f.code, code, "{path:?} {next}"),
        (got, want) => panic!("{path:?} {next}: got {got:?}, want {want:?}"),
    };
    check("", true, Ok(&[("Device.", false)]));
    check(
        "Device.",
        true,
        Ok(&[
            ("Device.RootDataModelVersion", false),
            ("Device.DeviceInfo.", false),
            ("Device.ManagementServer.", false),
            ("Device.Ethernet.", false),
            ("Device.IP.", false),
            ("Device.Time.", false),
            ("Device.Services.", false),
        ]),
    );
    check(
        "Device.IP.Interface.1.",
        true,
        Ok(&[
            ("Device.IP.Interface.1.Enable", true),
            ("Device.IP.Interface.1.Status", false),
            ("Device.IP.Interface.1.Name", false),
            ("Device.IP.Interface.1.LowerLayers", true),
            ("Device.IP.Interface.1.Type", false),
            ("Device.IP.Interface.1.IPv4AddressNumberOfEntries", false),
            ("Device.IP.Interface.1.IPv4Address.", false),
        ]),
    );
    check(
        "Device.IP.Interface.1.IPv4Address.",
        false,
        Ok(&[
            ("Device.IP.Interface.1.IPv4Address.", false),
            ("Device.IP.Interface.1.IPv4Address.1.", false),
            ("Device.IP.Interface.1.IPv4Address.1.Enable", true),
            ("Device.IP.Interface.1.IPv4Address.1.Status", false),
            ("Device.IP.Interface.1.IPv4Address.1.IPAddress", true),
            ("Device.IP.Interface.1.IPv4Address.1.SubnetMask", true),
            ("Device.IP.Interface.1.IPv4Address.1.AddressingType", false),
        ]),
    );
    // Tables accept AddObject, their instances DeleteObject.
    check(
        "Device.Services.VoiceService.1.VoiceProfile.1.Line.",
        true,
        Ok(&[(&format!("{LINE}1."), true), (&format!("{LINE}2."), true)]),
    );
    check(
        "Device.DeviceInfo.SerialNumber",
        false,
        Ok(&[("Device.DeviceInfo.SerialNumber", false)]),
    );
    check(
        "Device.ManagementServer.URL",
        false,
        Ok(&[("Device.ManagementServer.URL", true)]),
    );
    check("Device.DeviceInfo.SerialNumber", true, Err(9003));
    check("Device.DeviceInfo.Nope", false, Err(9005));
    check("Device.Nope.", true, Err(9005));
    check("Device.DeviceInfo", true, Err(9005));

    // The whole tree: the root first, every object before its children, every parameter once.
    let all = m.get_names("", false).unwrap();
    assert_eq!(all[0].name, "Device.");
    let params: Vec<&str> = all
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| !n.ends_with('.'))
        .collect();
    assert_eq!(params, names(&m.get_values(&[""]).unwrap()));
    let mut seen = HashSet::new();
    for i in &all {
        assert!(seen.insert(i.name.as_str()), "{} twice", i.name);
        if let Some(parent) = i
            .name
            .trim_end_matches('.')
            .rsplit_once('.')
            .map(|(p, _)| format!("{p}."))
        {
            assert!(
                seen.contains(parent.as_str()),
                "{} before its parent",
                i.name
            );
        }
    }
    assert_eq!(
        names_of(&m.get_names("Device.", false).unwrap()),
        names_of(&all)
    );
}

#[test]
fn set_values_applies_and_sets_parameter_key() {
    let mut m = device(CISCO);
    let line1 = format!("{LINE}1.");
    let params = [
        (format!("{line1}DirectoryNumber"), "1001", "xsd:string"),
        (format!("{line1}SIP.AuthPassword"), "s3cret", "xsd:string"),
        (
            "Device.ManagementServer.PeriodicInformInterval".to_owned(),
            "300",
            "xsd:unsignedInt",
        ),
        (
            "Device.ManagementServer.PeriodicInformEnable".to_owned(),
            "0",
            "boolean",
        ),
        ("Device.Time.NTPServer1".to_owned(), "ntp.test", ""),
    ];
    assert_eq!(m.set_values(&params, "key-1"), Ok(0));
    assert_eq!(get(&m, &format!("{line1}DirectoryNumber")), "1001");
    assert_eq!(
        get(&m, "Device.ManagementServer.PeriodicInformInterval"),
        "300"
    );
    assert_eq!(get(&m, "Device.ManagementServer.PeriodicInformEnable"), "0");
    assert_eq!(get(&m, "Device.Time.NTPServer1"), "ntp.test");
    assert_eq!(
        get(&m, &format!("{line1}SIP.AuthPassword")),
        "",
        "secret reads back empty"
    );
    assert_eq!(
        m.value(&format!("{line1}SIP.AuthPassword")).unwrap(),
        "s3cret"
    );
    assert_eq!(get(&m, "Device.ManagementServer.ParameterKey"), "key-1");
    // ACS-made changes are not value changes.
    assert!(!m.value_change_pending());
    // An empty list just sets the key.
    assert_eq!(m.set_values::<&str, &str, &str>(&[], "key-2"), Ok(0));
    assert_eq!(get(&m, "Device.ManagementServer.ParameterKey"), "key-2");
    // Every boolean spelling is accepted.
    for v in ["1", "true", "false", "0"] {
        m.set_values(&[("Device.Time.Enable", v, "xsd:boolean")], "")
            .unwrap();
        assert_eq!(get(&m, "Device.Time.Enable"), v);
    }
}

/// Each fault 9005–9008 alone, then all together: the call fails with 9003 listing exactly
/// the failing parameters, and nothing (not even the valid entries or the key) is applied.
#[test]
fn set_values_is_atomic_with_per_parameter_faults() {
    let fresh = device(CISCO);
    let good = ("Device.Time.NTPServer1", "ntp.changed", "xsd:string");
    let long = "x".repeat(65);
    let cases: &[(&str, (&str, &str, &str), u32)] = &[
        (
            "unknown",
            ("Device.Time.NTPServer9", "x", "xsd:string"),
            9005,
        ),
        ("object path", ("Device.Time.", "x", "xsd:string"), 9005),
        (
            "type mismatch",
            (
                "Device.ManagementServer.PeriodicInformInterval",
                "300",
                "xsd:string",
            ),
            9006,
        ),
        (
            "unknown type",
            (
                "Device.ManagementServer.PeriodicInformInterval",
                "300",
                "xsd:integer",
            ),
            9006,
        ),
        (
            "bad unsignedInt",
            (
                "Device.ManagementServer.PeriodicInformInterval",
                "abc",
                "xsd:unsignedInt",
            ),
            9007,
        ),
        (
            "bad boolean",
            (
                "Device.ManagementServer.PeriodicInformEnable",
                "maybe",
                "xsd:boolean",
            ),
            9007,
        ),
        (
            "bad dateTime",
            (
                "Device.ManagementServer.PeriodicInformTime",
                "noon",
                "xsd:dateTime",
            ),
            9007,
        ),
        (
            "outside enum",
            (
                "Device.Services.VoiceService.1.VoiceProfile.1.Enable",
                "On",
                "xsd:string",
            ),
            9007,
        ),
        (
            "too long",
            (
                "Device.DeviceInfo.ProvisioningCode",
                long.as_str(),
                "xsd:string",
            ),
            9007,
        ),
        (
            "read-only",
            ("Device.DeviceInfo.SerialNumber", "X", "xsd:string"),
            9008,
        ),
        (
            "read-only key",
            ("Device.ManagementServer.ParameterKey", "X", "xsd:string"),
            9008,
        ),
    ];
    for (what, bad, want) in cases {
        let mut m = fresh.clone();
        let fault = m.set_values(&[good, *bad], "k").expect_err(what);
        assert_eq!(fault.code, 9003, "{what}");
        assert_eq!(fault.parameter_faults.len(), 1, "{what}");
        assert_eq!(fault.parameter_faults[0].name, bad.0, "{what}");
        assert_eq!(
            fault.parameter_faults[0].code, *want,
            "{what}: {}",
            fault.parameter_faults[0].message
        );
        assert_eq!(
            m.get_values(&[""]).unwrap(),
            fresh.get_values(&[""]).unwrap(),
            "{what}: something was applied"
        );
    }
    // All at once (each name once): one fault per bad parameter, in request order.
    let mut m = fresh.clone();
    let mut seen = HashSet::new();
    let unique: Vec<_> = cases.iter().filter(|c| seen.insert(c.1.0)).collect();
    let mut all = vec![good];
    all.extend(unique.iter().map(|c| c.1));
    let fault = m.set_values(&all, "k").unwrap_err();
    let got: Vec<(&str, u32)> = fault
        .parameter_faults
        .iter()
        .map(|f| (f.name.as_str(), f.code))
        .collect();
    assert_eq!(got, unique.iter().map(|c| (c.1.0, c.2)).collect::<Vec<_>>());
    assert_eq!(
        m.get_values(&[""]).unwrap(),
        fresh.get_values(&[""]).unwrap()
    );
    // Whole-request problems: 9003 with no per-parameter list.
    let mut m = fresh.clone();
    let dup = m.set_values(&[good, good], "k").unwrap_err();
    assert_eq!((dup.code, dup.parameter_faults.len()), (9003, 0));
    assert_eq!(code(m.set_values(&[good], &"k".repeat(33))), 9003);
    assert_eq!(
        m.get_values(&[""]).unwrap(),
        fresh.get_values(&[""]).unwrap()
    );
}

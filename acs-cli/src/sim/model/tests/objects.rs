//! AddObject, DeleteObject and FactoryReset.

use super::*;

#[test]
fn add_and_delete_objects() {
    let mut m = device(CISCO);
    let count = "Device.Services.VoiceService.1.VoiceProfile.1.NumberOfLines";
    assert_eq!(get(&m, count), "2");
    assert_eq!(m.add_object(LINE, "add-1"), Ok((3, 0)));
    assert_eq!(get(&m, count), "3");
    assert_eq!(get(&m, "Device.ManagementServer.ParameterKey"), "add-1");
    // The new instance is built from the template, placed after Line.2 and before the next
    // sibling of the table.
    assert_eq!(get(&m, &format!("{LINE}3.Enable")), "Disabled");
    let all = m.get_values(&[""]).unwrap();
    let names = names(&all);
    let first3 = names
        .iter()
        .position(|n| n.starts_with(&format!("{LINE}3.")))
        .unwrap();
    assert_eq!(
        names[first3 - 1],
        format!("{LINE}2.CallingFeatures.DoNotDisturbEnable")
    );
    assert_eq!(names.len(), m.profile().parameters.len() + 16);
    let gpn = m.get_names(LINE, true).unwrap();
    assert_eq!(
        names_of(&gpn),
        [
            format!("{LINE}1."),
            format!("{LINE}2."),
            format!("{LINE}3.")
        ]
    );
    // It behaves like any other instance.
    m.set_values(
        &[(format!("{LINE}3.DirectoryNumber"), "1003", "xsd:string")],
        "",
    )
    .unwrap();
    assert_eq!(get(&m, &format!("{LINE}3.DirectoryNumber")), "1003");
    m.set_attributes(&[SetAttributes {
        name: format!("{LINE}3."),
        notification_change: true,
        notification: 1,
        ..Default::default()
    }])
    .unwrap();
    assert!(
        m.get_attributes(&[format!("{LINE}3.")])
            .unwrap()
            .iter()
            .all(|a| a.notification == 1)
    );

    // Delete a listed instance and an added one; numbers are never reused.
    assert_eq!(m.delete_object(&format!("{LINE}2."), "del-2"), Ok(0));
    assert_eq!(get(&m, count), "2");
    assert_eq!(code(m.get_values(&[format!("{LINE}2.Enable")])), 9005);
    assert_eq!(
        code(m.delete_object(&format!("{LINE}2."), "")),
        9005,
        "already gone"
    );
    assert_eq!(m.delete_object(&format!("{LINE}3."), ""), Ok(0));
    assert_eq!(m.add_object(LINE, ""), Ok((4, 0)));
    assert_eq!(get(&m, count), "2");
    assert_eq!(
        names_of(&m.get_names(LINE, true).unwrap()),
        [format!("{LINE}1."), format!("{LINE}4.")]
    );
    assert_eq!(
        get(&m, &format!("{LINE}4.DirectoryNumber")),
        "",
        "fresh from the template"
    );

    // Refusals.
    let before = m.get_values(&[""]).unwrap();
    for (what, result) in [
        ("not a table", code(m.add_object("Device.DeviceInfo.", ""))),
        (
            "instance, not table",
            code(m.add_object(&format!("{LINE}1."), "")),
        ),
        ("no dot", code(m.add_object(LINE.trim_end_matches('.'), ""))),
        ("unknown", code(m.add_object("Device.Nope.", ""))),
        ("delete table", code(m.delete_object(LINE, ""))),
        (
            "delete non-table",
            code(m.delete_object("Device.IP.Interface.1.", "")),
        ),
        (
            "delete parameter",
            code(m.delete_object(&format!("{LINE}1.Enable"), "")),
        ),
        (
            "delete never existed",
            code(m.delete_object(&format!("{LINE}9."), "")),
        ),
        (
            "delete leading zero",
            code(m.delete_object(&format!("{LINE}01."), "")),
        ),
    ] {
        assert_eq!(result, 9005, "{what}");
    }
    assert_eq!(code(m.add_object(LINE, &"k".repeat(33))), 9003);
    assert_eq!(m.get_values(&[""]).unwrap(), before);
    // max_instances (10 lines).
    let mut added = 0;
    while m.add_object(LINE, "").is_ok() {
        added += 1;
    }
    assert_eq!(added, 8);
    assert_eq!(code(m.add_object(LINE, "")), 9004);
    assert_eq!(get(&m, count), "10");
}

#[test]
fn empty_tables_are_objects_and_accept_add_object() {
    let mut m = device(GW);
    // Forwarding has no instances: GPN shows the (writable) table object, GPV gives nothing.
    let gpn = m
        .get_names("InternetGatewayDevice.Layer3Forwarding.", true)
        .unwrap();
    assert_eq!(
        gpn.iter()
            .map(|i| (i.name.as_str(), i.writable))
            .collect::<Vec<_>>(),
        [
            (
                "InternetGatewayDevice.Layer3Forwarding.DefaultConnectionService",
                true
            ),
            (
                "InternetGatewayDevice.Layer3Forwarding.ForwardNumberOfEntries",
                false
            ),
            (FWD, true),
        ]
    );
    assert_eq!(m.get_values(&[FWD]).unwrap(), vec![]);
    assert_eq!(m.get_names(FWD, false).unwrap().len(), 1);
    assert_eq!(m.add_object(FWD, "f"), Ok((1, 0)));
    assert_eq!(
        get(
            &m,
            "InternetGatewayDevice.Layer3Forwarding.ForwardNumberOfEntries"
        ),
        "1"
    );
    assert_eq!(get(&m, &format!("{FWD}1.ForwardingMetric")), "-1");
    let names = m
        .get_names("InternetGatewayDevice.Layer3Forwarding.", false)
        .unwrap();
    assert_eq!(names[3].name, FWD);
    assert_eq!(names[4].name, format!("{FWD}1."));
    assert_eq!(names[5].name, format!("{FWD}1.Enable"));
    // PortMapping: one listed instance, numbering continues at 2.
    assert_eq!(m.add_object(PM, "p"), Ok((2, 0)));
    let count = "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.PortMappingNumberOfEntries";
    assert_eq!(get(&m, count), "2");
    m.delete_object(&format!("{PM}1."), "").unwrap();
    m.delete_object(&format!("{PM}2."), "").unwrap();
    assert_eq!(get(&m, count), "0");
    assert_eq!(m.get_values(&[PM]).unwrap(), vec![]);
    assert_eq!(
        m.get_names(PM, false).unwrap(),
        vec![ParamInfo {
            name: PM.to_owned(),
            writable: true
        }]
    );
    assert_eq!(m.add_object(PM, ""), Ok((3, 0)));
}

#[test]
fn factory_reset_restores_defaults() {
    let fresh = device(GW);
    let mut m = fresh.clone();
    m.set_values(
        &[(
            "InternetGatewayDevice.Time.NTPServer1",
            "ntp.changed",
            "xsd:string",
        )],
        "k",
    )
    .unwrap();
    m.add_object(PM, "").unwrap();
    m.add_object(FWD, "").unwrap();
    m.delete_object(&format!("{PM}1."), "").unwrap();
    m.set_attributes(&[SetAttributes {
        name: "InternetGatewayDevice.".into(),
        notification_change: true,
        notification: 1,
        access_list_change: true,
        access_list: vec![SUBSCRIBER.into()],
    }])
    .unwrap();
    m.set_internal("InternetGatewayDevice.DeviceInfo.UpTime", "100")
        .unwrap();
    assert!(m.value_change_pending());
    m.factory_reset();
    assert_eq!(
        m.get_values(&[""]).unwrap(),
        fresh.get_values(&[""]).unwrap()
    );
    assert_eq!(
        m.get_attributes(&[""]).unwrap(),
        fresh.get_attributes(&[""]).unwrap()
    );
    assert_eq!(
        m.get_names("", false).unwrap(),
        fresh.get_names("", false).unwrap()
    );
    assert!(!m.value_change_pending());
    assert_eq!(
        m.add_object(PM, ""),
        Ok((2, 0)),
        "instance numbering restarts"
    );
}

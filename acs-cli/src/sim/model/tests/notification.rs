//! Attributes (Notification, AccessList) and the value changes an Inform reports.

use super::*;

#[test]
fn attributes() {
    let mut m = device(CISCO);
    let attr = |m: &DataModel, name: &str| {
        let a = m.get_attributes(&[name]).unwrap();
        assert_eq!(a.len(), 1);
        (a[0].notification, a[0].access_list.clone())
    };
    // Profile defaults: forceEnabled / forceDefaultEnabled start active.
    assert_eq!(attr(&m, "Device.DeviceInfo.SoftwareVersion").0, 2);
    assert_eq!(
        attr(&m, "Device.ManagementServer.ConnectionRequestURL").0,
        2
    );
    assert_eq!(attr(&m, "Device.Time.NTPServer1"), (0, vec![]));

    let set = |name: &str, n: Option<u8>, acl: Option<&[&str]>| SetAttributes {
        name: name.to_owned(),
        notification_change: n.is_some(),
        notification: n.unwrap_or(0),
        access_list_change: acl.is_some(),
        access_list: acl.unwrap_or(&[]).iter().map(|s| s.to_string()).collect(),
    };
    m.set_attributes(&[set("Device.Time.NTPServer1", Some(1), Some(&[SUBSCRIBER]))])
        .unwrap();
    assert_eq!(
        attr(&m, "Device.Time.NTPServer1"),
        (1, vec![SUBSCRIBER.to_owned()])
    );
    // Partial path: every parameter below; canDeny ones are skipped for Active.
    m.set_attributes(&[set("Device.Time.", Some(2), None)])
        .unwrap();
    let got = m.get_attributes(&["Device.Time."]).unwrap();
    let got: Vec<(&str, u8)> = got
        .iter()
        .map(|a| (a.name.as_str(), a.notification))
        .collect();
    assert_eq!(
        got,
        [
            ("Device.Time.Enable", 2),
            ("Device.Time.Status", 2),
            ("Device.Time.NTPServer1", 2),
            ("Device.Time.CurrentLocalTime", 0),
            ("Device.Time.LocalTimeZone", 2)
        ]
    );
    assert_eq!(
        attr(&m, "Device.Time.NTPServer1").1,
        vec![SUBSCRIBER.to_owned()],
        "access list kept"
    );
    m.set_attributes(&[set("Device.Time.NTPServer1", None, Some(&[]))])
        .unwrap();
    assert_eq!(attr(&m, "Device.Time.NTPServer1"), (2, vec![]));
    // "" covers everything.
    assert_eq!(m.get_attributes(&[""]).unwrap().len(), m.parameter_count());

    // Refusals, each leaving everything unchanged.
    let before = m.get_attributes(&[""]).unwrap();
    let cases: &[(&str, SetAttributes, u32)] = &[
        ("unknown", set("Device.Time.Nope", Some(1), None), 9005),
        ("unknown object", set("Device.Nope.", Some(1), None), 9005),
        (
            "canDeny active",
            set("Device.DeviceInfo.UpTime", Some(2), None),
            9009,
        ),
        (
            "forceEnabled off",
            set("Device.DeviceInfo.SoftwareVersion", Some(0), None),
            9009,
        ),
        (
            "lightweight",
            set("Device.Time.Enable", Some(3), None),
            9009,
        ),
        (
            "out of range",
            set("Device.Time.Enable", Some(7), None),
            9003,
        ),
        (
            "access list",
            set("Device.Time.Enable", None, Some(&["Everyone"])),
            9003,
        ),
    ];
    for (what, bad, want) in cases {
        let good = set("Device.Time.Enable", Some(0), None);
        assert_eq!(
            code(m.set_attributes(&[good, bad.clone()])),
            *want,
            "{what}"
        );
        assert_eq!(
            m.get_attributes(&[""]).unwrap(),
            before,
            "{what}: something was applied"
        );
    }
    assert_eq!(code(m.get_attributes(&["Device.Nope"])), 9005);
    // Passive is fine on a canDeny parameter.
    m.set_attributes(&[set("Device.DeviceInfo.UpTime", Some(1), None)])
        .unwrap();
    assert_eq!(attr(&m, "Device.DeviceInfo.UpTime").0, 1);
}

#[test]
fn inform_parameters_and_value_changes() {
    let mut m = device(GW);
    let forced = names(&m.inform_parameters())
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    assert_eq!(
        forced,
        [
            "InternetGatewayDevice.DeviceSummary",
            "InternetGatewayDevice.DeviceInfo.HardwareVersion",
            "InternetGatewayDevice.DeviceInfo.SoftwareVersion",
            "InternetGatewayDevice.DeviceInfo.SpecVersion",
            "InternetGatewayDevice.DeviceInfo.ProvisioningCode",
            "InternetGatewayDevice.ManagementServer.ParameterKey",
            "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
            "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress",
        ]
    );
    // Without notification, a device-side change is not reported.
    assert_eq!(
        m.set_internal("InternetGatewayDevice.DeviceInfo.UpTime", "60"),
        Ok(true)
    );
    assert_eq!(
        m.set_internal("InternetGatewayDevice.DeviceInfo.UpTime", "60"),
        Ok(false),
        "unchanged"
    );
    assert!(!m.value_change_pending());
    // Passive notification: reported in the next Inform, no session of its own.
    let ntp = "InternetGatewayDevice.Time.NTPServer1";
    m.set_attributes(&[SetAttributes {
        name: ntp.into(),
        notification_change: true,
        notification: 1,
        ..Default::default()
    }])
    .unwrap();
    m.set_internal(ntp, "ntp.isp.test").unwrap();
    assert!(m.value_change_pending());
    assert!(!m.active_value_change_pending());
    let inform = m.inform_parameters();
    assert_eq!(inform.len(), forced.len() + 1);
    assert_eq!(
        inform.last().unwrap(),
        &ParamValue {
            name: ntp.into(),
            ty: XsdType::String,
            value: "ntp.isp.test".into()
        }
    );
    // Active (default on the external IP, a forced parameter): not listed twice.
    let ext = "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress";
    m.set_internal(ext, "10.9.9.9").unwrap();
    assert!(m.active_value_change_pending());
    let inform = m.inform_parameters();
    assert_eq!(inform.len(), forced.len() + 1);
    assert!(
        inform
            .iter()
            .any(|p| p.name == ext && p.value == "10.9.9.9")
    );
    // A failed Inform keeps them; a successful one clears them.
    assert!(m.take_value_changes());
    assert!(!m.value_change_pending());
    assert_eq!(m.inform_parameters().len(), forced.len());
    // ACS changes never count.
    m.set_values(&[(ntp, "ntp.acs.test", "xsd:string")], "")
        .unwrap();
    assert!(!m.value_change_pending());
    // set_internal validates but ignores writability.
    assert_eq!(
        code(m.set_internal("InternetGatewayDevice.Nope", "1")),
        9005
    );
    assert_eq!(
        code(m.set_internal("InternetGatewayDevice.DeviceInfo.UpTime", "-1")),
        9007
    );
    assert_eq!(
        m.set_internal("InternetGatewayDevice.DeviceInfo.SoftwareVersion", "3.3.0"),
        Ok(true)
    );
    assert!(
        m.active_value_change_pending(),
        "SoftwareVersion is forceEnabled"
    );
}

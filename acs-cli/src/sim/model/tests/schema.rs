//! Compiling profiles: value types, templates, tree order, what devices share, faults.

use super::*;

#[test]
fn check_value_by_type() {
    use XsdType::*;
    let check =
        |ty: XsdType, v: &str, ok: bool| assert_eq!(check_value(ty, v).is_ok(), ok, "{ty} {v:?}");
    for (ty, v, ok) in [
        (String, "", true),
        (String, "anything <&>", true),
        (Int, "-2147483648", true),
        (Int, "2147483648", false),
        (Int, "1.5", false),
        (UnsignedInt, "4294967295", true),
        (UnsignedInt, "-1", false),
        (UnsignedInt, "abc", false),
        (UnsignedInt, "", false),
        (Long, "-9223372036854775808", true),
        (UnsignedLong, "18446744073709551615", true),
        (UnsignedLong, "18446744073709551616", false),
        (Boolean, "0", true),
        (Boolean, "1", true),
        (Boolean, "true", true),
        (Boolean, "false", true),
        (Boolean, "maybe", false),
        (Boolean, "TRUE", false),
        (DateTime, "0001-01-01T00:00:00Z", true),
        (DateTime, "2025-06-30T23:59:59.123+02:00", true),
        (DateTime, "2025-06-30T23:59:59", true),
        (DateTime, "2025-13-01T00:00:00Z", false),
        (DateTime, "2025-06-30 23:59:59Z", false),
        (DateTime, "2025-06-30T23:59:59+2", false),
        (DateTime, "yesterday", false),
        (Base64Binary, "aGVsbG8=", true),
        (Base64Binary, "aGVsbG8", false),
        (HexBinary, "00ff", true),
        (HexBinary, "0g", false),
        (Decimal, "-1.25", true),
        (Decimal, "1.", true),
        (Decimal, ".5", true),
        (Decimal, "1.2.3", false),
        (Decimal, ".", false),
    ] {
        check(ty, v, ok);
    }
}

#[test]
fn every_default_parses_as_its_declared_type() {
    for name in Profile::builtin_names() {
        let m = device(name);
        let p = m.profile().clone();
        assert_eq!(m.parameter_count(), p.parameters.len(), "{name}");
        for spec in &p.parameters {
            let value = m.value(&spec.name).unwrap();
            assert!(!value.contains('{'), "{name}: {} = {value:?}", spec.name);
            check_value(spec.ty, &value).unwrap_or_else(|e| panic!("{name}: {}: {e}", spec.name));
        }
        // The whole tree reports every parameter, each with its declared type.
        let all = m.get_values(&[""]).unwrap();
        assert_eq!(all.len(), p.parameters.len(), "{name}");
        for v in &all {
            let spec = p.parameters.iter().find(|s| s.name == v.name).unwrap();
            assert_eq!(v.ty, spec.ty, "{}", v.name);
        }
        // Forced-inform parameters (SPEC §3) are present.
        let inform = names(&m.inform_parameters())
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>();
        assert_eq!(inform, p.inform_parameters, "{name}");
    }
}

#[test]
fn templates_are_instantiated_per_device() {
    let m = device(CISCO);
    let check = |name: &str, want: &str| assert_eq!(m.value(name).as_deref(), Some(want), "{name}");
    let mac = mac_from_serial("00562B", "SIM000042");
    check("Device.DeviceInfo.SerialNumber", "SIM000042");
    check("Device.DeviceInfo.ManufacturerOUI", "00562B");
    check("Device.DeviceInfo.Manufacturer", "Cisco Systems, Inc.");
    check("Device.DeviceInfo.ModelName", "CP-8851-3PCC");
    check("Device.DeviceInfo.ProductClass", "CP-8851-3PCC");
    check("Device.DeviceInfo.SoftwareVersion", "sip88xx.12-0-2MPP-1");
    check("Device.Ethernet.Interface.1.MACAddress", &mac);
    check("Device.IP.Interface.1.IPv4Address.1.IPAddress", "10.1.2.3");
    check(
        "Device.ManagementServer.ConnectionRequestURL",
        "http://10.1.2.3:7547/cr",
    );
    check("Device.ManagementServer.URL", "http://acs.test:7547/");
    let ua = m.user_agent().unwrap();
    assert_eq!(
        ua,
        format!(
            "Cisco-CP-8851-3PCC/12.0.2 ({})",
            mac.replace(':', "").to_lowercase()
        )
    );
    let gw = device(GW);
    assert_eq!(
        gw.value("InternetGatewayDevice.ManagementServer.Username")
            .unwrap(),
        "001A2B-HG-2000-SIM000042"
    );
    assert_eq!(
        gw.value("InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.ExternalIPAddress").unwrap(),
        "10.1.2.3"
    );
}

#[test]
fn macs_are_distinct_and_well_formed() {
    assert!(mac_from_serial("00562B", "SIM000001").starts_with("00:56:2B:"));
    assert!(mac_from_serial("bogus", "X").starts_with("02:00:00:"));
    let macs: HashSet<String> = (0..10_000)
        .map(|i| mac_from_serial("001A2B", &format!("SIM{i:06}")))
        .collect();
    assert_eq!(macs.len(), 10_000);
    for m in macs.iter().take(10) {
        assert_eq!(m.len(), 17);
        assert!(
            m.split(':')
                .all(|b| b.len() == 2 && u8::from_str_radix(b, 16).is_ok())
        );
    }
}

#[test]
fn secrets_and_defaults_are_stored_compactly() {
    let mut m = device(CISCO);
    let before = m.heap_bytes();
    // Setting a value back to its default stores nothing.
    m.set_values(&[("Device.Time.NTPServer1", "ntp.other", "xsd:string")], "")
        .unwrap();
    assert!(m.heap_bytes() > before);
    let default = device(CISCO).value("Device.Time.NTPServer1").unwrap();
    m.set_values(
        &[("Device.Time.NTPServer1", default.as_str(), "xsd:string")],
        "",
    )
    .unwrap();
    assert_eq!(m.heap_bytes(), before);
    assert_eq!(std::mem::size_of::<Row>(), 24);
}

#[test]
fn devices_share_one_schema() {
    let p = Profile::builtin(GW).unwrap();
    let schema = Schema::new(&p).unwrap();
    let a = DataModel::new(
        Arc::clone(&schema),
        DeviceVars::new(&p, "A1", "10.0.0.1", "http://10.0.0.1/", ""),
    );
    let mut b = DataModel::new(
        Arc::clone(&schema),
        DeviceVars::new(&p, "A2", "10.0.0.2", "http://10.0.0.2/", ""),
    );
    b.set_values(
        &[("InternetGatewayDevice.Time.NTPServer1", "x", "xsd:string")],
        "",
    )
    .unwrap();
    assert_eq!(
        a.value("InternetGatewayDevice.Time.NTPServer1").unwrap(),
        "pool.ntp.org"
    );
    assert_eq!(
        a.value("InternetGatewayDevice.DeviceInfo.SerialNumber")
            .unwrap(),
        "A1"
    );
    assert_eq!(
        b.value("InternetGatewayDevice.DeviceInfo.SerialNumber")
            .unwrap(),
        "A2"
    );
    assert_eq!(Arc::strong_count(&schema), 3);
    assert_eq!(schema.table_paths().collect::<Vec<_>>(), [PM, FWD]);
}

/// A profile that lists parameters out of tree order still reports a proper tree: siblings
/// in order of first appearance, instances by number, objects before their children.
#[test]
fn tree_order_from_a_scrambled_profile() {
    let p = |name: &str| serde_json::json!({"name": name, "type": "string", "writable": true, "value": ""});
    let json = serde_json::json!({
        "name": "t", "manufacturer": "M", "oui": "0A0B0C", "product_class": "P", "root": "Device.",
        "software_version": "1", "hardware_version": "1", "rpc_methods": [], "inform_parameters": [],
        "parameters": [p("Device.B.X"), p("Device.A.T.2.V"), p("Device.A.Z"), p("Device.B.W"),
                       p("Device.A.T.10.V"), p("Device.C"), p("Device.A.T.2.U"), p("Device.A.T.10.U")],
        "tables": [{"table": "Device.A.T.", "template": [p("V"), p("U")]}],
    });
    let profile = Profile::from_json(&json.to_string()).unwrap();
    let mut m = DataModel::from_profile(&profile, &DeviceVars::sample(&profile)).unwrap();
    assert_eq!(m.add_object("Device.A.T.", ""), Ok((11, 0)));
    let tree = m.get_names("", false).unwrap();
    assert_eq!(
        names_of(&tree),
        [
            "Device.",
            "Device.B.",
            "Device.B.X",
            "Device.B.W",
            "Device.A.",
            "Device.A.T.",
            "Device.A.T.2.",
            "Device.A.T.2.V",
            "Device.A.T.2.U",
            "Device.A.T.10.",
            "Device.A.T.10.V",
            "Device.A.T.10.U",
            "Device.A.T.11.",
            "Device.A.T.11.V",
            "Device.A.T.11.U",
            "Device.A.Z",
            "Device.C",
        ]
    );
}

#[test]
fn models_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<DataModel>();
    send_sync::<Arc<Schema>>();
    send_sync::<CpeFault>();
}

#[test]
fn fault_messages() {
    let f = CpeFault::new(FaultCode::InvalidParameterName, "Device.X");
    assert_eq!(
        (f.code, f.message.as_str()),
        (9005, "Invalid parameter name: Device.X")
    );
    assert_eq!(CpeFault::method_not_supported("Upload").code, 9000);
    assert_eq!(
        f.to_string(),
        "CWMP fault 9005: Invalid parameter name: Device.X"
    );
}

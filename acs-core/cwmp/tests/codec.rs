//! The codec against real traffic, field quirks, hostile input and its own output.

use acs_cwmp::{
    self as cwmp, Body, CwmpNamespace, CwmpVersion, DecodeError, Envelope, EventCode, ValueType,
    examples,
};
use std::path::{Path, PathBuf};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/cwmp/samples")
}

/// Every envelope in the shared samples: the `.xml` files and the bodies of the raw HTTP logs.
fn samples() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("samples dir")
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.path());
        for e in entries {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "xml") {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            } else if p.extension().is_some_and(|x| x == "txt") {
                let raw = std::fs::read(&p).unwrap();
                let split = raw
                    .windows(2)
                    .position(|w| w == b"\n\n")
                    .map_or(raw.len(), |i| i + 2);
                let body = raw[split..].trim_ascii();
                if !body.is_empty() {
                    out.push((p.display().to_string(), body.to_vec()));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&samples_dir(), &mut out);
    out
}

#[test]
fn every_sample_decodes() {
    let all = samples();
    assert!(
        all.len() >= 60,
        "expected the shared samples, found {}",
        all.len()
    );
    let mut informs = 0;
    for (name, bytes) in &all {
        let env = cwmp::decode(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            env.namespace.as_str().starts_with(CwmpNamespace::PREFIX),
            "{name}"
        );
        if let Body::Inform(inform) = &env.body {
            informs += 1;
            assert!(!inform.device_id.serial_number.is_empty(), "{name}");
            assert!(!inform.event.is_empty(), "{name}");
        }
    }
    assert!(informs >= 15, "only {informs} informs");
}

#[test]
fn schema_breaking_samples_decode_with_their_content() {
    let read = |rel: &str| cwmp::decode(&std::fs::read(samples_dir().join(rel)).unwrap()).unwrap();

    // genieacs-sim: elements out of order, arrayType counts that disagree with the content.
    let env = read("genieacs-sim/transfer_complete.xml");
    let Body::TransferComplete(tc) = env.body else {
        panic!("{:?}", env.body)
    };
    assert_eq!(tc.command_key, "dl1");
    assert!(tc.fault_struct.is_success());
    assert_eq!(tc.start_time.as_str(), "2026-11-21T09:41:15.542Z");
    assert_eq!(env.header.id.as_deref(), Some("mp9l6vah"));

    // orange: zero-padded arrayType.
    let env = read("orange-tr069agent/inform_0_bootstrap_1_boot.xml");
    let Body::Inform(inform) = env.body else {
        panic!()
    };
    assert_eq!(inform.event[0].event_code, EventCode::Bootstrap);
    assert_eq!(inform.event[1].event_code, EventCode::Boot);
    assert_eq!(inform.parameter_list.len(), 7);

    // Sagemcom: xsi:type="SOAP-ENC:Array" on arrays, cwmp-1-0.
    let env = read("real/cwmp_ex__sagemcom_router_periodic.xml");
    assert_eq!(env.namespace.version(), CwmpVersion::V1_0);
    let Body::Inform(inform) = env.body else {
        panic!()
    };
    assert_eq!(
        inform.device_id.device_key(),
        "40F201-Router-LK14183DP340340"
    );
    assert_eq!(inform.parameter_list.len(), 8);
    assert_eq!(inform.current_time.as_str(), "2016-01-31T13:28:09+01:00");
}

/// Builds an Inform envelope text from pieces, so each quirk is one substitution.
fn inform_xml(
    envelope_attrs: &str,
    header: &str,
    device_id: &str,
    event: &str,
    time: &str,
    params: &str,
) -> String {
    format!(
        r#"<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="urn:dslforum-org:cwmp-1-2"{envelope_attrs}>
{header}<soap:Body><cwmp:Inform>
<DeviceId>{device_id}</DeviceId>
<Event soapenc:arrayType="cwmp:EventStruct[1]">{event}</Event>
<MaxEnvelopes>1</MaxEnvelopes><CurrentTime>{time}</CurrentTime><RetryCount>0</RetryCount>
<ParameterList soapenc:arrayType="cwmp:ParameterValueStruct[1]">{params}</ParameterList>
</cwmp:Inform></soap:Body></soap:Envelope>"#
    )
}

const DEVICE_ID: &str = "<Manufacturer>Cisco</Manufacturer><OUI>00562B</OUI><ProductClass>CP-8851-3PCC</ProductClass><SerialNumber>FCH1</SerialNumber>";
const EVENT: &str =
    "<EventStruct><EventCode>2 PERIODIC</EventCode><CommandKey></CommandKey></EventStruct>";
const HEADER: &str = r#"<soap:Header><cwmp:ID soap:mustUnderstand="1">42</cwmp:ID></soap:Header>"#;
const PARAM: &str = r#"<ParameterValueStruct><Name>Device.DeviceInfo.SoftwareVersion</Name><Value xsi:type="xsd:string">sip88xx.12-0-2MPP-1</Value></ParameterValueStruct>"#;
const TIME: &str = "2026-11-21T09:41:15Z";

fn default_inform() -> String {
    inform_xml("", HEADER, DEVICE_ID, EVENT, TIME, PARAM)
}

/// One quirk: the input, and what must hold of the decoded Inform.
fn check(label: &str, xml: &str, expect: impl Fn(&Envelope, &cwmp::Inform)) {
    let env = cwmp::decode(xml.as_bytes()).unwrap_or_else(|e| panic!("{label}: {e}\n{xml}"));
    let Body::Inform(inform) = &env.body else {
        panic!("{label}: not an Inform: {:?}", env.body)
    };
    expect(&env, inform);
}

#[test]
fn field_quirks_are_read() {
    check("baseline", &default_inform(), |env, i| {
        assert_eq!(env.header.id.as_deref(), Some("42"));
        assert_eq!(env.namespace.version(), CwmpVersion::V1_2);
        assert_eq!(i.parameter_list[0].value, "sip88xx.12-0-2MPP-1");
    });
    check(
        "single quotes",
        &default_inform().replace('"', "'"),
        |env, i| {
            assert_eq!(env.header.id.as_deref(), Some("42"));
            assert_eq!(i.parameter_list[0].value_type, ValueType::String);
        },
    );
    let default_ns = r#"<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><Inform xmlns="urn:dslforum-org:cwmp-1-1"><DeviceId xmlns=""><Manufacturer>M</Manufacturer><OUI>00562B</OUI><ProductClass/><SerialNumber>S</SerialNumber></DeviceId><Event xmlns=""/><MaxEnvelopes xmlns="">1</MaxEnvelopes><CurrentTime xmlns="">2026-01-01T00:00:00</CurrentTime><RetryCount xmlns="">3</RetryCount><ParameterList xmlns=""/></Inform></Body></Envelope>"#;
    check(
        "default namespaces, no Header, empty arrays",
        default_ns,
        |env, i| {
            assert_eq!(env.namespace.as_str(), "urn:dslforum-org:cwmp-1-1");
            assert_eq!(env.header, cwmp::Header::default());
            assert!(i.event.is_empty() && i.parameter_list.is_empty());
            assert_eq!(i.retry_count, 3);
            assert!(
                i.current_time.to_utc().is_some(),
                "zone-less time is read as UTC"
            );
        },
    );
    check(
        "no header, encodingStyle on Envelope and Body",
        &inform_xml(
            r#" soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/""#,
            "",
            DEVICE_ID,
            EVENT,
            TIME,
            PARAM,
        )
        .replace(
            "<soap:Body>",
            r#"<soap:Body soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">"#,
        ),
        |env, _| assert_eq!(env.header.id, None),
    );
    check(
        "SOAP-ENC:Array type and wrong arrayType counts",
        &default_inform()
            .replace(
                r#"soapenc:arrayType="cwmp:EventStruct[1]""#,
                r#"xsi:type="soapenc:Array" soapenc:arrayType="cwmp:EventStruct[7]""#,
            )
            .replace("ParameterValueStruct[1]", "ParameterValueStruct[0005]"),
        |_, i| assert_eq!((i.event.len(), i.parameter_list.len()), (1, 1)),
    );
    check(
        "unknown value types are kept raw",
        &inform_xml(
            "",
            HEADER,
            DEVICE_ID,
            EVENT,
            TIME,
            &PARAM.replace("xsd:string", "xsd:string(64)"),
        ),
        |_, i| {
            assert_eq!(
                i.parameter_list[0].value_type,
                ValueType::Other("xsd:string(64)".into())
            )
        },
    );
    check(
        "misspelt type",
        &inform_xml(
            "",
            HEADER,
            DEVICE_ID,
            EVENT,
            TIME,
            &PARAM.replace("xsd:string", "xsd:unsigendInt"),
        ),
        |_, i| {
            assert_eq!(
                i.parameter_list[0].value_type.to_string(),
                "xsd:unsigendInt"
            )
        },
    );
    check(
        "lowercase OUI",
        &inform_xml(
            "",
            HEADER,
            &DEVICE_ID.replace("00562B", "00562b"),
            EVENT,
            TIME,
            PARAM,
        ),
        |_, i| {
            assert_eq!(i.device_id.oui, "00562b");
            assert_eq!(i.device_id.normalized_oui(), "00562B");
            assert!(i.device_id.device_key().starts_with("00562B-"));
        },
    );
    for time in [
        "2026-11-21T09:41:15",
        "yesterday at noon",
        "",
        "2026-11-21 09:41",
    ] {
        check(
            "odd CurrentTime",
            &inform_xml("", HEADER, DEVICE_ID, EVENT, time, PARAM),
            |_, i| {
                assert_eq!(i.current_time.as_str(), time);
            },
        );
    }
    check(
        "duplicated parameters",
        &inform_xml(
            "",
            HEADER,
            DEVICE_ID,
            EVENT,
            TIME,
            &format!("{PARAM}{PARAM}"),
        ),
        |_, i| {
            assert_eq!(i.parameter_list.len(), 2);
        },
    );
    check(
        "CDATA and entity references",
        &inform_xml(
            "",
            HEADER,
            DEVICE_ID,
            EVENT,
            TIME,
            &PARAM.replace(
                "sip88xx.12-0-2MPP-1",
                "<![CDATA[a<b]]> &amp; &#x41;&#66; &lt;&gt;&quot;&apos;",
            ),
        ),
        |_, i| assert_eq!(i.parameter_list[0].value, "a<b & AB <>\"'"),
    );
    check(
        "UTF-8 BOM",
        &format!("\u{FEFF}{}", default_inform()),
        |env, _| assert_eq!(env.header.id.as_deref(), Some("42")),
    );
    check(
        "unknown extra elements and headers",
        &inform_xml(
            "",
            r#"<soap:Header><cwmp:ID soap:mustUnderstand="1">42</cwmp:ID><cwmp:NoMoreRequests>1</cwmp:NoMoreRequests><x:Vendor xmlns:x="urn:x">?</x:Vendor><cwmp:SessionTimeout>60</cwmp:SessionTimeout><cwmp:SupportedCWMPVersions>1.0,1.4</cwmp:SupportedCWMPVersions></soap:Header>"#,
            &format!("{DEVICE_ID}<Extra>1</Extra>"),
            EVENT,
            TIME,
            PARAM,
        )
        .replace("<MaxEnvelopes>", "<X_Vendor><Deep>1</Deep></X_Vendor><MaxEnvelopes>"),
        |env, _| {
            assert_eq!(env.header.no_more_requests, Some(true));
            assert_eq!(env.header.session_timeout, Some(60));
            assert_eq!(env.header.supported_cwmp_versions.as_deref(), Some("1.0,1.4"));
        },
    );
    check(
        "non-standard cwmp-1-4 namespace is kept",
        &default_inform().replace("cwmp-1-2", "cwmp-1-4"),
        |env, _| {
            assert_eq!(env.namespace.as_str(), "urn:dslforum-org:cwmp-1-4");
            assert_eq!(env.namespace.version(), CwmpVersion::V1_4);
        },
    );
    check(
        "whitespace around names and numbers",
        &default_inform()
            .replace("<RetryCount>0", "<RetryCount> 0 ")
            .replace("<Name>", "<Name>\n  "),
        |_, i| {
            assert_eq!(
                i.parameter_list[0].name,
                "Device.DeviceInfo.SoftwareVersion"
            );
        },
    );
    let latin1: Vec<u8> = default_inform()
        .replacen(
            "<?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
            1,
        )
        .replace("sip88xx.12-0-2MPP-1", "caf\u{e9}")
        .chars()
        .map(|c| c as u32 as u8)
        .collect();
    let env = cwmp::decode(&latin1).expect("latin-1");
    let Body::Inform(i) = env.body else { panic!() };
    assert_eq!(i.parameter_list[0].value, "café");
}

#[test]
fn missing_required_elements_are_named() {
    let cases = [
        ("<SerialNumber>FCH1</SerialNumber>", "", "SerialNumber"),
        ("<RetryCount>0</RetryCount>", "", "RetryCount"),
        ("<Name>Device.DeviceInfo.SoftwareVersion</Name>", "", "Name"),
        ("<EventCode>2 PERIODIC</EventCode>", "", "EventCode"),
    ];
    for (from, to, element) in cases {
        let xml = default_inform().replace(from, to);
        match cwmp::decode(xml.as_bytes()) {
            Err(DecodeError::MissingElement {
                element: e,
                position,
                ..
            }) => {
                assert_eq!(e, element);
                assert!(position.line >= 2, "{position:?}");
            }
            other => panic!("{element}: {other:?}"),
        }
    }
    let err = cwmp::decode(
        default_inform()
            .replace("<RetryCount>0", "<RetryCount>lots")
            .as_bytes(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, DecodeError::InvalidValue { element, .. } if element == "RetryCount"),
        "{err:?}"
    );
    assert!(err.to_string().contains("line"), "{err}");
    let err = cwmp::decode(b"<a/>").unwrap_err();
    assert!(matches!(err, DecodeError::NotEnvelope { .. }));
    let err = cwmp::decode(br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"#).unwrap_err();
    assert!(matches!(err, DecodeError::EmptyBody { .. }));
    let err = cwmp::decode(br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Nope/></s:Body></s:Envelope>"#).unwrap_err();
    assert!(matches!(err, DecodeError::UnknownMethod { ref name, .. } if name == "Nope"));
}

#[test]
fn xml_errors_name_line_and_column() {
    let err = cwmp::decode(b"<a>\n  <b>\n</a>").unwrap_err();
    let pos = err.position().expect("position");
    assert_eq!(pos.line, 3, "{err}");
    let err = cwmp::decode(b"<a>\xff</a>").unwrap_err();
    assert!(
        matches!(err, DecodeError::Encoding { position } if position.column == 4),
        "{err:?}"
    );
}

#[test]
fn billion_laughs_is_refused_without_expansion() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]>\n<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><cwmp:Inform xmlns:cwmp=\"urn:dslforum-org:cwmp-1-0\">&lol9;</cwmp:Inform></soap:Body></soap:Envelope>");
    let err = cwmp::decode(doc.as_bytes()).unwrap_err();
    assert!(
        matches!(err, DecodeError::Dtd { position } if position.line == 2),
        "{err:?}"
    );
    // An entity used without a DTD is refused as well, never looked up.
    let err = cwmp::decode(default_inform().replace("sip88xx", "&lol9;").as_bytes()).unwrap_err();
    assert!(err.to_string().contains("unknown entity"), "{err}");
    // External entities (XXE) likewise.
    let xxe = format!(
        "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
        default_inform().replace("<?xml version=\"1.0\"?>", "")
    );
    assert!(matches!(
        cwmp::decode(xxe.as_bytes()),
        Err(DecodeError::Dtd { .. })
    ));
}

#[test]
fn deep_nesting_is_capped() {
    let depth = 200_000;
    let doc = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    let err = cwmp::decode(doc.as_bytes()).unwrap_err();
    assert!(
        matches!(err, DecodeError::TooDeep { limit: 64, .. }),
        "{err:?}"
    );
    // And inside a real envelope.
    let doc = default_inform().replace(
        "<DeviceId>",
        &format!("<DeviceId>{}{}", "<x>".repeat(depth), "</x>".repeat(depth)),
    );
    assert!(matches!(
        cwmp::decode(doc.as_bytes()),
        Err(DecodeError::TooDeep { .. })
    ));
}

#[test]
fn body_size_is_capped() {
    let limits = cwmp::Limits {
        max_bytes: 1024,
        ..cwmp::Limits::default()
    };
    let big = default_inform().replace(PARAM, &PARAM.repeat(20));
    let err = cwmp::decode_with_limits(big.as_bytes(), &limits).unwrap_err();
    assert!(
        matches!(err, DecodeError::TooLarge { limit: 1024, .. }),
        "{err:?}"
    );
}

#[test]
fn every_example_round_trips_and_is_written_in_its_namespace() {
    let all = examples::all_envelopes();
    assert!(all.len() > 120, "{}", all.len());
    for (name, env) in all {
        let xml = cwmp::encode(&env).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            xml.contains(&format!("xmlns:cwmp=\"{}\"", env.namespace)),
            "{name}"
        );
        let back = cwmp::decode(xml.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}\n{xml}"));
        assert_eq!(back, env, "{name}\n{xml}");
    }
}

#[test]
fn replies_echo_non_standard_namespaces() {
    let ns = CwmpNamespace::parse("urn:dslforum-org:cwmp-1-4").unwrap();
    let env = Envelope::new(
        ns.clone(),
        Some("7".into()),
        Body::InformResponse(cwmp::InformResponse { max_envelopes: 1 }),
    );
    let xml = cwmp::encode(&env).unwrap();
    assert!(xml.contains("xmlns:cwmp=\"urn:dslforum-org:cwmp-1-4\""));
    assert_eq!(cwmp::decode(xml.as_bytes()).unwrap().namespace, ns);
}

#[test]
fn encoder_refuses_what_the_schema_forbids() {
    let ns10 = CwmpNamespace::for_version(CwmpVersion::V1_0);
    let (_, sd) = examples::all_bodies()
        .into_iter()
        .find(|(n, _)| *n == "ScheduleDownload")
        .unwrap();
    assert!(matches!(
        cwmp::encode(&Envelope::new(ns10.clone(), None, sd)),
        Err(cwmp::EncodeError::NotInVersion { .. })
    ));
    let bad_key = Body::Reboot(cwmp::Reboot {
        command_key: "k".repeat(33),
    });
    assert!(matches!(
        cwmp::encode(&Envelope::new(ns10.clone(), None, bad_key)),
        Err(cwmp::EncodeError::Invalid {
            field: "CommandKey",
            ..
        })
    ));
    let bad_value = Body::SetParameterValues(cwmp::SetParameterValues {
        parameter_list: vec![cwmp::ParameterValue::new(
            "Device.X",
            "abc",
            ValueType::UnsignedInt,
        )],
        parameter_key: String::new(),
    });
    assert!(matches!(
        cwmp::encode(&Envelope::new(ns10.clone(), None, bad_value)),
        Err(cwmp::EncodeError::Invalid { field: "Value", .. })
    ));
    let control = Body::SetParameterValues(cwmp::SetParameterValues {
        parameter_list: vec![cwmp::ParameterValue::string("Device.X", "a\u{1}b")],
        parameter_key: String::new(),
    });
    assert!(cwmp::encode(&Envelope::new(ns10, None, control)).is_err());
}

/// The characters XML 1.0's `Char` production leaves out, sampled at every edge.
const FORBIDDEN: [u32; 12] = [
    0x0, 0x1, 0x8, 0xB, 0xC, 0xE, 0x1B, 0x1F, 0xFFFE, 0xFFFF, 0xD800, 0xDFFF,
];

#[test]
fn characters_xml_forbids_are_refused_with_fault_8003() {
    for cp in FORBIDDEN {
        let mut variants = vec![
            format!("&#{cp};"),
            format!("&#x{cp:x};"),
            format!("&#x{cp:04X};"),
        ];
        // Surrogates cannot be written raw in UTF-8; the others can.
        if let Some(c) = char::from_u32(cp) {
            variants.push(c.to_string());
        }
        for bad in variants {
            let param = PARAM.replace("sip88xx.12-0-2MPP-1", &format!("v{bad}1"));
            let xml = inform_xml("", HEADER, DEVICE_ID, EVENT, TIME, &param);
            let err = cwmp::decode(xml.as_bytes()).expect_err(&format!("{bad:?} accepted"));
            assert!(
                matches!(err, DecodeError::ForbiddenChar { code_point, .. } if code_point == cp),
                "{bad:?}: {err}"
            );
            let fault = cwmp::decode_fault(xml.as_bytes(), &err).expect("a fault");
            assert_eq!(fault.namespace.as_str(), "urn:dslforum-org:cwmp-1-2");
            let Body::Fault(f) = &fault.body else {
                panic!("{fault:?}")
            };
            assert_eq!(f.detail.fault_code.code(), 8003, "{bad:?}");
            // The fault itself is writable: its text names the code point, not the raw byte.
            let written = cwmp::encode(&fault).expect("the fault encodes");
            assert!(written.contains(&format!("U+{cp:04X}")), "{written}");
        }
    }
    // In a name, an attribute and the header too, not only in values.
    for xml in [
        default_inform().replace("<SerialNumber>FCH1", "<SerialNumber>FC\u{0}H1"),
        default_inform().replace("<Name>Device.", "<Name>&#x7;Device."),
        default_inform().replace("mustUnderstand=\"1\"", "mustUnderstand=\"&#1;\""),
        default_inform().replace(">42<", ">4\u{1b}2<"),
    ] {
        let err = cwmp::decode(xml.as_bytes()).expect_err("accepted");
        assert!(matches!(err, DecodeError::ForbiddenChar { .. }), "{err}");
    }
    // Other decode errors stay HTTP errors: no fault for a message that is not XML.
    let err = cwmp::decode(b"<a>").unwrap_err();
    assert!(cwmp::decode_fault(b"<a>", &err).is_none());
    // Without a cwmp namespace in sight, the fault is written in cwmp-1-0.
    let err = cwmp::decode(b"<a>\0</a>").unwrap_err();
    let fault = cwmp::decode_fault(b"<a>\0</a>", &err).unwrap();
    assert_eq!(fault.namespace.as_str(), "urn:dslforum-org:cwmp-1-0");
}

mod properties {
    use super::*;
    use acs_cwmp::*;
    use proptest::prelude::*;
    use proptest::strategy::Union;

    /// Identifier-like text: what the reader trims, so no surrounding whitespace; includes
    /// markup characters to exercise escaping.
    fn token(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!(
            "([A-Za-z0-9._:/&<>\"'=?%-]([A-Za-z0-9 ._&<>\"'é€-]{{0,{}}}[A-Za-z0-9.&<>])?)?",
            max.saturating_sub(2).min(30)
        ))
        .unwrap()
    }

    /// Free text for values: anything XML 1.0 can carry, whitespace and CR included.
    fn free_text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("[\\PC \t\n\r]{0,40}").unwrap()
    }

    fn time() -> impl Strategy<Value = CwmpDateTime> {
        (
            1u32..9999,
            1u32..=12,
            1u32..=28,
            0u32..24,
            0u32..60,
            0u32..60,
            proptest::option::of(0u32..1000),
            0usize..4,
        )
            .prop_map(|(y, mo, d, h, mi, s, frac, zone)| {
                let frac = frac.map(|f| format!(".{f:03}")).unwrap_or_default();
                let zone = ["", "Z", "+01:00", "-05:30"][zone];
                CwmpDateTime::from_raw(format!(
                    "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{zone}"
                ))
            })
    }

    fn value() -> impl Strategy<Value = ParameterValue> {
        let typed = prop_oneof![
            free_text().prop_map(|v| (v, ValueType::String)),
            any::<i32>().prop_map(|v| (v.to_string(), ValueType::Int)),
            any::<u32>().prop_map(|v| (v.to_string(), ValueType::UnsignedInt)),
            any::<i64>().prop_map(|v| (v.to_string(), ValueType::Long)),
            any::<u64>().prop_map(|v| (v.to_string(), ValueType::UnsignedLong)),
            prop::sample::select(vec!["true", "false", "0", "1"])
                .prop_map(|v| (v.to_string(), ValueType::Boolean)),
            time().prop_map(|t| (t.as_str().to_owned(), ValueType::DateTime)),
            "[A-Za-z0-9+/]{0,12}={0,2}".prop_map(|v| (v, ValueType::Base64Binary)),
            "([0-9a-fA-F]{2}){0,8}".prop_map(|v| (v, ValueType::HexBinary)),
            "-?[0-9]{1,6}\\.[0-9]{1,4}".prop_map(|v| (v, ValueType::Decimal)),
        ];
        (token(200), typed).prop_map(|(name, (value, value_type))| ParameterValue {
            name,
            value,
            value_type,
        })
    }

    fn fault_code() -> impl Strategy<Value = FaultCode> {
        prop_oneof![8000u32..=8899, 9000u32..=9899].prop_map(FaultCode::from_code)
    }

    fn transfer_fault() -> impl Strategy<Value = TransferFault> {
        (prop_oneof![Just(0u32), 9000u32..=9899], token(60)).prop_map(|(c, s)| TransferFault {
            fault_code: FaultCode::from_code(c),
            fault_string: s,
        })
    }

    fn file_type() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "1 Firmware Upgrade Image",
            "2 Web Content",
            "3 Vendor Configuration File",
            "X 00562B Custom CA",
            "3 Vendor Configuration File 2",
        ])
        .prop_map(str::to_owned)
    }

    fn event() -> impl Strategy<Value = EventStruct> {
        let code = prop_oneof![
            (0u32..=13).prop_map(|n| EventCode::parse(&format!("{n} X"))),
            "[A-Za-z_]{1,12}".prop_map(EventCode::Method),
            "[0-9A-F]{6} [A-Za-z][A-Za-z ]{0,10}[A-Za-z]".prop_map(EventCode::Vendor),
            (14u32..999).prop_map(|n| EventCode::Unknown(format!("{n} FUTURE"))),
        ];
        (code, token(32)).prop_map(|(event_code, command_key)| EventStruct {
            event_code,
            command_key,
        })
    }

    fn uuid() -> impl Strategy<Value = String> {
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    }

    fn du_result(autonomous: bool) -> impl Strategy<Value = DuOpResult> {
        (
            uuid(),
            token(60),
            token(32),
            prop::sample::select(vec!["Installed", "Uninstalled", "Failed"]),
            any::<bool>(),
            token(60),
            time(),
            time(),
            transfer_fault(),
            prop::sample::select(vec!["Install", "Update", "Uninstall"]),
        )
            .prop_map(
                move |(uuid, r, v, state, resolved, eu, st, ct, f, op)| DuOpResult {
                    uuid,
                    deployment_unit_ref: r,
                    version: v,
                    current_state: state.into(),
                    resolved,
                    execution_unit_ref_list: eu,
                    start_time: st,
                    complete_time: ct,
                    fault: DuFault {
                        fault_code: f.fault_code,
                        fault_string: f.fault_string,
                    },
                    operation_performed: autonomous.then(|| op.to_owned()),
                },
            )
    }

    fn opt(s: impl Strategy<Value = String>) -> impl Strategy<Value = Option<String>> {
        proptest::option::of(s)
    }

    fn names() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec(token(200), 0..6)
    }

    /// Every message kind, with arbitrary content within the schema's rules.
    fn body() -> impl Strategy<Value = Body> {
        let b = |s: BoxedStrategy<Body>| s;
        Union::new(vec![
            b((
                (token(64), "[0-9A-F]{6}", token(64), token(64)),
                prop::collection::vec(event(), 0..5),
                any::<u32>(),
                time(),
                any::<u32>(),
                prop::collection::vec(value(), 0..8),
            )
                .prop_map(
                    |(
                        (m, o, p, s),
                        event,
                        max_envelopes,
                        current_time,
                        retry_count,
                        parameter_list,
                    )| {
                        Body::Inform(Inform {
                            device_id: DeviceId {
                                manufacturer: m,
                                oui: o,
                                product_class: p,
                                serial_number: s,
                            },
                            event,
                            max_envelopes,
                            current_time,
                            retry_count,
                            parameter_list,
                        })
                    },
                )
                .boxed()),
            b(any::<u32>()
                .prop_map(|n| Body::InformResponse(InformResponse { max_envelopes: n }))
                .boxed()),
            b((token(32), transfer_fault(), time(), time())
                .prop_map(|(command_key, fault_struct, start_time, complete_time)| {
                    Body::TransferComplete(TransferComplete {
                        command_key,
                        fault_struct,
                        start_time,
                        complete_time,
                    })
                })
                .boxed()),
            b((
                (token(200), token(200), any::<bool>(), file_type()),
                (any::<u32>(), token(200), transfer_fault(), time(), time()),
            )
                .prop_map(|((a, t, d, ft), (fs, tf, f, st, ct))| {
                    Body::AutonomousTransferComplete(AutonomousTransferComplete {
                        announce_url: a,
                        transfer_url: t,
                        is_download: d,
                        file_type: ft,
                        file_size: fs,
                        target_file_name: tf,
                        fault_struct: f,
                        start_time: st,
                        complete_time: ct,
                    })
                })
                .boxed()),
            b((
                file_type(),
                prop::collection::vec((token(64), token(200)), 0..16),
            )
                .prop_map(|(file_type, args)| {
                    Body::RequestDownload(RequestDownload {
                        file_type,
                        file_type_arg: args
                            .into_iter()
                            .map(|(name, value)| FileTypeArg { name, value })
                            .collect(),
                    })
                })
                .boxed()),
            b((token(32), token(64), token(200), token(200))
                .prop_map(|(command, referer, arg, next)| {
                    Body::Kicked(Kicked {
                        command,
                        referer,
                        arg,
                        next,
                    })
                })
                .boxed()),
            b(token(200)
                .prop_map(|next_url| Body::KickedResponse(KickedResponse { next_url }))
                .boxed()),
            b((
                prop::collection::vec(du_result(false), 1..3),
                opt(token(32)),
            )
                .prop_map(|(results, command_key)| {
                    Body::DuStateChangeComplete(DuStateChangeComplete {
                        results,
                        command_key,
                    })
                })
                .boxed()),
            b(prop::collection::vec(du_result(true), 1..3)
                .prop_map(|results| {
                    Body::AutonomousDuStateChangeComplete(AutonomousDuStateChangeComplete {
                        results,
                    })
                })
                .boxed()),
            b(prop::collection::vec(token(64), 0..8)
                .prop_map(|method_list| {
                    Body::GetRpcMethodsResponse(GetRpcMethodsResponse { method_list })
                })
                .boxed()),
            b((prop::collection::vec(value(), 0..8), token(32))
                .prop_map(|(parameter_list, parameter_key)| {
                    Body::SetParameterValues(SetParameterValues {
                        parameter_list,
                        parameter_key,
                    })
                })
                .boxed()),
            b((0..=1i32)
                .prop_map(|status| {
                    Body::SetParameterValuesResponse(SetParameterValuesResponse { status })
                })
                .boxed()),
            b(names()
                .prop_map(|parameter_names| {
                    Body::GetParameterValues(GetParameterValues { parameter_names })
                })
                .boxed()),
            b(prop::collection::vec(value(), 0..8)
                .prop_map(|parameter_list| {
                    Body::GetParameterValuesResponse(GetParameterValuesResponse { parameter_list })
                })
                .boxed()),
            b((token(200), any::<bool>())
                .prop_map(|(parameter_path, next_level)| {
                    Body::GetParameterNames(GetParameterNames {
                        parameter_path,
                        next_level,
                    })
                })
                .boxed()),
            b(prop::collection::vec((token(200), any::<bool>()), 0..8)
                .prop_map(|l| {
                    Body::GetParameterNamesResponse(GetParameterNamesResponse {
                        parameter_list: l
                            .into_iter()
                            .map(|(name, writable)| ParameterInfo { name, writable })
                            .collect(),
                    })
                })
                .boxed()),
            b(prop::collection::vec(
                (
                    token(200),
                    any::<bool>(),
                    0u8..=6,
                    any::<bool>(),
                    prop::collection::vec(token(64), 0..3),
                ),
                1..5,
            )
            .prop_map(|l| {
                Body::SetParameterAttributes(SetParameterAttributes {
                    parameter_list: l
                        .into_iter()
                        .map(|(name, nc, n, ac, al)| SetParameterAttributesStruct {
                            name,
                            notification_change: nc,
                            notification: n,
                            access_list_change: ac,
                            access_list: al,
                        })
                        .collect(),
                })
            })
            .boxed()),
            b(names()
                .prop_map(|parameter_names| {
                    Body::GetParameterAttributes(GetParameterAttributes { parameter_names })
                })
                .boxed()),
            b(prop::collection::vec(
                (token(200), 0u8..=6, prop::collection::vec(token(64), 0..3)),
                0..5,
            )
            .prop_map(|l| {
                Body::GetParameterAttributesResponse(GetParameterAttributesResponse {
                    parameter_list: l
                        .into_iter()
                        .map(|(name, notification, access_list)| ParameterAttribute {
                            name,
                            notification,
                            access_list,
                        })
                        .collect(),
                })
            })
            .boxed()),
            b((token(200), token(32))
                .prop_map(|(object_name, parameter_key)| {
                    Body::AddObject(AddObject {
                        object_name,
                        parameter_key,
                    })
                })
                .boxed()),
            b((1..=u32::MAX, 0..=1i32)
                .prop_map(|(instance_number, status)| {
                    Body::AddObjectResponse(AddObjectResponse {
                        instance_number,
                        status,
                    })
                })
                .boxed()),
            b((token(200), token(32))
                .prop_map(|(object_name, parameter_key)| {
                    Body::DeleteObject(DeleteObject {
                        object_name,
                        parameter_key,
                    })
                })
                .boxed()),
            b((0..=1i32)
                .prop_map(|status| Body::DeleteObjectResponse(DeleteObjectResponse { status }))
                .boxed()),
            b((
                (token(32), file_type(), token(200), token(200), token(200)),
                (
                    any::<u32>(),
                    token(200),
                    any::<u32>(),
                    token(200),
                    token(200),
                ),
            )
                .prop_map(|((ck, ft, url, u, p), (fs, tf, ds, su, fu))| {
                    Body::Download(Download {
                        command_key: ck,
                        file_type: ft,
                        url,
                        username: u,
                        password: p.into(),
                        file_size: fs,
                        target_file_name: tf,
                        delay_seconds: ds,
                        success_url: su,
                        failure_url: fu,
                    })
                })
                .boxed()),
            b((0..=1i32, time(), time(), any::<bool>())
                .prop_map(|(status, start_time, complete_time, upload)| {
                    let r = TransferResponse {
                        status,
                        start_time,
                        complete_time,
                    };
                    if upload {
                        Body::UploadResponse(r)
                    } else {
                        Body::DownloadResponse(r)
                    }
                })
                .boxed()),
            b(token(32)
                .prop_map(|command_key| Body::Reboot(Reboot { command_key }))
                .boxed()),
            b(prop::collection::vec((token(32), 1..=3i32), 0..16)
                .prop_map(|l| {
                    Body::GetQueuedTransfersResponse(GetQueuedTransfersResponse {
                        transfer_list: l
                            .into_iter()
                            .map(|(command_key, state)| QueuedTransfer { command_key, state })
                            .collect(),
                    })
                })
                .boxed()),
            b((1..=u32::MAX, token(32))
                .prop_map(|(delay_seconds, command_key)| {
                    Body::ScheduleInform(ScheduleInform {
                        delay_seconds,
                        command_key,
                    })
                })
                .boxed()),
            b((
                token(32),
                file_type(),
                token(200),
                token(200),
                token(200),
                any::<u32>(),
            )
                .prop_map(
                    |(command_key, file_type, url, username, password, delay_seconds)| {
                        Body::Upload(Upload {
                            command_key,
                            file_type,
                            url,
                            username,
                            password: password.into(),
                            delay_seconds,
                        })
                    },
                )
                .boxed()),
            b(prop::collection::vec(
                (
                    token(32),
                    1..=3i32,
                    any::<bool>(),
                    file_type(),
                    any::<u32>(),
                    token(200),
                ),
                0..16,
            )
            .prop_map(|l| {
                Body::GetAllQueuedTransfersResponse(GetAllQueuedTransfersResponse {
                    transfer_list: l
                        .into_iter()
                        .map(
                            |(
                                command_key,
                                state,
                                is_download,
                                file_type,
                                file_size,
                                target_file_name,
                            )| AllQueuedTransfer {
                                command_key,
                                state,
                                is_download,
                                file_type,
                                file_size,
                                target_file_name,
                            },
                        )
                        .collect(),
                })
            })
            .boxed()),
            b((
                (
                    token(32),
                    file_type(),
                    token(200),
                    token(200),
                    token(200),
                    any::<u32>(),
                    token(200),
                ),
                prop::collection::vec(
                    (
                        any::<u32>(),
                        any::<u32>(),
                        prop::sample::select(vec![
                            "1 At Any Time",
                            "2 Immediately",
                            "4 Confirmation Needed",
                        ]),
                        token(200),
                        any::<i32>(),
                    ),
                    1..=2,
                ),
            )
                .prop_map(|((ck, ft, url, u, p, fs, tf), windows)| {
                    Body::ScheduleDownload(ScheduleDownload {
                        command_key: ck,
                        file_type: ft,
                        url,
                        username: u,
                        password: p.into(),
                        file_size: fs,
                        target_file_name: tf,
                        time_window_list: windows
                            .into_iter()
                            .map(
                                |(window_start, window_end, mode, user_message, max_retries)| {
                                    TimeWindow {
                                        window_start,
                                        window_end,
                                        window_mode: mode.into(),
                                        user_message,
                                        max_retries,
                                    }
                                },
                            )
                            .collect(),
                    })
                })
                .boxed()),
            b(token(32)
                .prop_map(|command_key| Body::CancelTransfer(CancelTransfer { command_key }))
                .boxed()),
            b((
                prop::collection::vec(
                    prop_oneof![
                        (
                            token(200),
                            opt(uuid()),
                            opt(token(60)),
                            opt(token(60)),
                            opt(token(60))
                        )
                            .prop_map(
                                |(url, uuid, username, password, execution_env_ref)| {
                                    DuOperation::Install {
                                        url,
                                        uuid,
                                        username,
                                        password: password.map(Password::from),
                                        execution_env_ref,
                                    }
                                }
                            ),
                        (
                            opt(uuid()),
                            opt(token(32)),
                            opt(token(200)),
                            opt(token(60)),
                            opt(token(60))
                        )
                            .prop_map(
                                |(uuid, version, url, username, password)| DuOperation::Update {
                                    uuid,
                                    version,
                                    url,
                                    username,
                                    password: password.map(Password::from)
                                }
                            ),
                        (uuid(), opt(token(32)), opt(token(60))).prop_map(
                            |(uuid, version, execution_env_ref)| DuOperation::Uninstall {
                                uuid,
                                version,
                                execution_env_ref
                            }
                        ),
                    ],
                    1..4,
                ),
                opt(token(32)),
            )
                .prop_map(|(operations, command_key)| {
                    Body::ChangeDuState(ChangeDuState {
                        operations,
                        command_key,
                    })
                })
                .boxed()),
            b((
                fault_code(),
                token(200),
                prop::collection::vec((token(200), fault_code(), token(100)), 0..4),
            )
                .prop_map(|(code, s, params)| {
                    Body::Fault(SoapFault::new(CwmpFault {
                        fault_code: code,
                        fault_string: s,
                        set_parameter_values_faults: params
                            .into_iter()
                            .map(|(parameter_name, fault_code, fault_string)| {
                                SetParameterValuesFault {
                                    parameter_name,
                                    fault_code,
                                    fault_string,
                                }
                            })
                            .collect(),
                    }))
                })
                .boxed()),
            b(prop::sample::select(vec![
                Body::TransferCompleteResponse,
                Body::AutonomousTransferCompleteResponse,
                Body::RequestDownloadResponse,
                Body::DuStateChangeCompleteResponse,
                Body::AutonomousDuStateChangeCompleteResponse,
                Body::GetRpcMethods,
                Body::SetParameterAttributesResponse,
                Body::RebootResponse,
                Body::GetQueuedTransfers,
                Body::ScheduleInformResponse,
                Body::FactoryReset,
                Body::FactoryResetResponse,
                Body::GetAllQueuedTransfers,
                Body::ScheduleDownloadResponse,
                Body::CancelTransferResponse,
                Body::ChangeDuStateResponse,
            ])
            .boxed()),
        ])
    }

    fn envelope() -> impl Strategy<Value = Envelope> {
        (
            body(),
            0usize..5,
            opt(token(60)),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<u32>()),
            opt(token(40)),
            opt(token(10)),
        )
            .prop_map(|(body, ns, id, hold, timeout, supported, use_version)| {
                let namespaces = [
                    "urn:dslforum-org:cwmp-1-0",
                    "urn:dslforum-org:cwmp-1-1",
                    "urn:dslforum-org:cwmp-1-2",
                    "urn:dslforum-org:cwmp-1-3",
                    "urn:dslforum-org:cwmp-1-4",
                ];
                let mut namespace = CwmpNamespace::parse(namespaces[ns]).unwrap();
                if namespace.version() < body.min_version() {
                    namespace = CwmpNamespace::for_version(body.min_version());
                }
                let modern = namespace.version() >= CwmpVersion::V1_2;
                Envelope {
                    namespace,
                    header: Header {
                        id,
                        hold_requests: hold,
                        no_more_requests: None,
                        session_timeout: timeout.filter(|_| modern),
                        supported_cwmp_versions: supported.filter(|_| modern),
                        use_cwmp_version: use_version.filter(|_| modern),
                    },
                    body,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn write_then_read_gives_back_the_value(env in envelope()) {
            let xml = cwmp::encode(&env).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            let back = cwmp::decode(xml.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
            prop_assert_eq!(back, env, "{}", xml);
        }

        #[test]
        fn a_value_is_refused_exactly_when_it_holds_a_character_outside_xml_char(
            value in "[a-z]{0,5}", c in any::<char>(), tail in "[a-z]{0,5}", as_ref in any::<bool>(),
        ) {
            let allowed = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..);
            let written = match c {
                _ if as_ref => format!("&#x{:X};", u32::from(c)),
                '<' => "&lt;".to_owned(),
                '&' => "&amp;".to_owned(),
                // A raw CR is normalised to LF by XML's end-of-line handling.
                '\r' => "&#13;".to_owned(),
                _ => c.to_string(),
            };
            let param = super::PARAM.replace("sip88xx.12-0-2MPP-1", &format!("v{value}{written}{tail}1"));
            let xml = super::inform_xml("", super::HEADER, super::DEVICE_ID, super::EVENT, super::TIME, &param);
            match cwmp::decode(xml.as_bytes()) {
                Ok(env) => {
                    prop_assert!(allowed, "U+{:04X} accepted", u32::from(c));
                    let Body::Inform(inform) = env.body else { panic!("not an Inform") };
                    prop_assert_eq!(&inform.parameter_list[0].value, &format!("v{value}{c}{tail}1"));
                }
                Err(DecodeError::ForbiddenChar { code_point, .. }) => {
                    prop_assert!(!allowed);
                    prop_assert_eq!(code_point, u32::from(c));
                }
                Err(e) => prop_assert!(false, "U+{:04X}: {}", u32::from(c), e),
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let _ = cwmp::decode(&bytes);
        }

        #[test]
        fn arbitrary_xmlish_text_never_panics(text in "(<[a-zA-Z:]{0,8}( [a-z:]{1,6}=['\"][^<]{0,8}['\"])?/?>|</[a-zA-Z:]{0,8}>|&[a-z#0-9]{0,5};?|<!\\[CDATA\\[|]]>|<!DOCTYPE|<\\?xml|[^<&]{0,10}){0,60}") {
            let _ = cwmp::decode(text.as_bytes());
        }

        #[test]
        fn mutated_samples_never_panic(
            sample in 0usize..1000,
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>(), 1usize..8), 1..8),
        ) {
            static SAMPLES: std::sync::OnceLock<Vec<(String, Vec<u8>)>> = std::sync::OnceLock::new();
            let all = SAMPLES.get_or_init(super::samples);
            let (_, original) = &all[sample % all.len()];
            let mut bytes = original.clone();
            for (at, kind, byte, len) in edits {
                if bytes.is_empty() { break; }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => { bytes.drain(i..(i + len).min(bytes.len())); }
                    2 => bytes.insert(i, byte),
                    _ => { let chunk: Vec<u8> = bytes[i..(i + len).min(bytes.len())].to_vec(); bytes.splice(i..i, chunk); }
                }
            }
            let _ = cwmp::decode(&bytes);
        }
    }
}

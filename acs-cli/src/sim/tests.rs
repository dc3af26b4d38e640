//! The simulator against the in-crate fake ACS. No test sleeps: every wait is on an explicit
//! signal (a session finishing, a connection request accepted, the fake ACS reaching a point).

use std::sync::Arc;
use std::time::Duration;

use acs_core::auth::client::digest_authorization;
use acs_core::cwmp::*;

use super::fake_acs::{FakeAcs, FakeAuth, Pause};
use super::*;

const MPP: &str = "cisco-mpp";
const GW: &str = "tr098-gateway";
const SW: &str = "Device.DeviceInfo.SoftwareVersion";
const CR_USER: &str = "Device.ManagementServer.ConnectionRequestUsername";
const CR_PASS: &str = "Device.ManagementServer.ConnectionRequestPassword";

fn config(acs: &FakeAcs, profile: &str, devices: usize) -> SimConfig {
    let mut c = SimConfig::new(acs.url(), devices, Profile::builtin(profile).unwrap());
    c.periodic = false;
    c.retry_base = Duration::from_millis(1);
    c.reboot_delay = Duration::from_millis(1);
    c.http_timeout = Duration::from_secs(10);
    c
}

async fn start(profile: &str) -> (FakeAcs, Simulator) {
    let acs = FakeAcs::start().await;
    let sim = Simulator::start(config(&acs, profile, 1)).await.unwrap();
    (acs, sim)
}

fn codes(r: &SessionReport) -> Vec<String> {
    event_codes(&r.events)
}

fn event_codes(events: &[EventStruct]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            if e.command_key.is_empty() {
                e.event_code.to_string()
            } else {
                format!("{}/{}", e.event_code, e.command_key)
            }
        })
        .collect()
}

async fn bootstrap(sim: &Simulator) {
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
}

fn firmware_download(url: String, key: &str) -> Body {
    Body::Download(Download {
        command_key: key.into(),
        file_type: "1 Firmware Upgrade Image".into(),
        url,
        username: String::new(),
        password: Password::default(),
        file_size: 0,
        target_file_name: String::new(),
        delay_seconds: 0,
        success_url: String::new(),
        failure_url: String::new(),
    })
}

fn informs(acs: &FakeAcs) -> Vec<Inform> {
    acs.state()
        .log
        .iter()
        .filter_map(|l| match l.envelope.as_ref().map(|e| &e.body) {
            Some(Body::Inform(i)) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn param<'a>(inform: &'a Inform, name: &str) -> Option<&'a str> {
    inform
        .parameter_list
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

#[tokio::test]
async fn bootstrap_session_with_digest_and_cookies() {
    let acs = FakeAcs::start().await;
    acs.state().auth = FakeAuth::digest("cpe", "s3cret");
    let mut c = config(&acs, MPP, 1);
    c.username = Some("cpe".into());
    c.password = Some("s3cret".into());
    let sim = Simulator::start(c).await.unwrap();
    let dev = sim.device(0);
    assert_eq!(dev.serial(), "FCH000000");
    assert_eq!(dev.device_id(), "00562B-CP%2D8851%2D3PCC-FCH000000");
    assert_eq!(
        dev.cr_url(),
        format!("http://127.0.0.1:{}/FCH000000", sim.cr_addr().port())
    );
    assert_eq!(
        event_codes(&dev.pending_events()),
        ["0 BOOTSTRAP", "1 BOOT"]
    );

    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert!(r.ended_with_204 && r.inform_accepted);
    assert_eq!(codes(&r), ["0 BOOTSTRAP", "1 BOOT"]);
    assert_eq!(r.http_statuses, [401, 200, 204]);
    assert_eq!(r.retry_count, 0);

    {
        let st = acs.state();
        assert_eq!(st.cookie_missing, 0);
        assert_eq!(st.challenges_sent, 1);
        let names: Vec<_> = st.log.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["Inform", "(empty)"]);
        let (inform, empty) = (&st.log[0], &st.log[1]);
        assert_eq!(
            inform.content_type.as_deref(),
            Some("text/xml; charset=\"utf-8\"")
        );
        assert_eq!(inform.soap_action.as_deref(), Some(""));
        assert!(
            inform
                .user_agent
                .as_deref()
                .unwrap()
                .starts_with("Cisco-CP-8851-3PCC/")
        );
        let env = inform.envelope.as_ref().unwrap();
        assert_eq!(env.namespace.as_str(), "urn:dslforum-org:cwmp-1-2");
        let Body::Inform(i) = &env.body else { panic!() };
        assert_eq!(i.device_id.serial_number, "FCH000000");
        assert_eq!(i.device_id.oui, "00562B");
        assert_eq!(
            param(i, "Device.ManagementServer.ConnectionRequestURL"),
            Some(dev.cr_url())
        );
        assert_eq!(param(i, SW), Some("sip88xx.12-0-2MPP-1"));
        // The empty POST: no body headers, the session cookie, the nonce reused with nc 2.
        assert_eq!(empty.content_type, None);
        assert_eq!(empty.soap_action, None);
        assert_eq!(empty.content_length.as_deref(), Some("0"));
        assert!(empty.cookie.as_deref().unwrap().contains("sid=s1"));
        let a1 = inform.authorization.as_deref().unwrap();
        let a2 = empty.authorization.as_deref().unwrap();
        assert!(
            a1.contains("nc=00000001") && a2.contains("nc=00000002"),
            "{a1} / {a2}"
        );
        let nonce = |a: &str| {
            a.split("nonce=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        };
        assert_eq!(nonce(a1), nonce(a2));
        let cnonce = |a: &str| {
            a.split("cnonce=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        };
        assert_ne!(cnonce(a1), cnonce(a2));
    }

    // Nothing pending any more: the next session is a plain periodic one.
    assert!(dev.pending_events().is_empty());
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(codes(&r), ["2 PERIODIC"]);
    assert_eq!(acs.state().cookie_missing, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_fail_the_session() {
    let acs = FakeAcs::start().await;
    acs.state().auth = FakeAuth::digest("cpe", "right");
    let mut c = config(&acs, MPP, 1);
    c.username = Some("cpe".into());
    c.password = Some("wrong".into());
    let sim = Simulator::start(c).await.unwrap();
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(!r.succeeded());
    assert_eq!(r.http_statuses, [401, 401]);
    assert!(r.error.as_deref().unwrap().contains("rejected"), "{r:?}");
    assert_eq!(sim.device(0).retry_count(), 1);
    // The bootstrap is still owed.
    assert_eq!(
        event_codes(&sim.device(0).pending_events()),
        ["0 BOOTSTRAP", "1 BOOT"]
    );
}

#[tokio::test]
async fn basic_challenge_and_stale_nonce_are_answered() {
    let acs = FakeAcs::start().await;
    acs.state().auth = FakeAuth::Basic {
        username: "u".into(),
        password: "p".into(),
    };
    let mut c = config(&acs, MPP, 1);
    c.username = Some("u".into());
    c.password = Some("p".into());
    let sim = Simulator::start(c).await.unwrap();
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(r.http_statuses, [401, 200, 204]);
    assert!(
        acs.state().log[1]
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Basic ")
    );

    // Digest with a stale=true challenge in the middle of the session.
    {
        let mut st = acs.state();
        st.auth = FakeAuth::digest("u", "p");
        st.stale_once = true;
        st.queue.push_back(Body::GetRpcMethods);
    }
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(r.http_statuses, [401, 200, 401, 200, 204], "{r:?}");
    assert_eq!(r.rpcs_received, ["GetRPCMethods"]);
}

#[tokio::test]
async fn rpcs_are_answered_with_the_request_id() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    {
        let mut st = acs.state();
        st.queue
            .push_back(Body::GetParameterValues(GetParameterValues {
                parameter_names: vec!["Device.DeviceInfo.".into()],
            }));
        st.queue
            .push_back(Body::SetParameterValues(SetParameterValues {
                parameter_list: vec![
                    ParameterValue::string("Device.DeviceInfo.ProvisioningCode", "prov-1"),
                    ParameterValue::new(
                        "Device.ManagementServer.PeriodicInformInterval",
                        "600",
                        ValueType::UnsignedInt,
                    ),
                ],
                parameter_key: "pk-1".into(),
            }));
        st.queue
            .push_back(Body::SetParameterValues(SetParameterValues {
                parameter_list: vec![
                    ParameterValue::string("Device.DeviceInfo.ProvisioningCode", "prov-2"),
                    ParameterValue::string("Device.DeviceInfo.Manufacturer", "x"),
                ],
                parameter_key: "pk-2".into(),
            }));
        st.queue.push_back(Body::Upload(Upload {
            command_key: "u".into(),
            file_type: "2 Vendor Log File".into(),
            url: "http://127.0.0.1:1/x".into(),
            username: String::new(),
            password: Password::default(),
            delay_seconds: 0,
        }));
    }
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(
        r.rpcs_received,
        [
            "GetParameterValues",
            "SetParameterValues",
            "SetParameterValues",
            "Upload"
        ]
    );
    assert_eq!(
        r.responses_sent,
        [
            "GetParameterValuesResponse",
            "SetParameterValuesResponse",
            "Fault",
            "Fault"
        ]
    );
    assert_eq!(r.faults_sent, [9003, 9000]);
    let dev = sim.device(0);
    assert_eq!(
        dev.value("Device.DeviceInfo.ProvisioningCode").as_deref(),
        Some("prov-1")
    );
    assert_eq!(
        dev.value("Device.ManagementServer.ParameterKey").as_deref(),
        Some("pk-1")
    );
    let st = acs.state();
    assert_eq!(st.id_mismatches, 0);
    let answers: Vec<&Envelope> = st
        .log
        .iter()
        .rev()
        .take(4)
        .filter_map(|l| l.envelope.as_ref())
        .collect();
    let Body::Fault(f) = &answers[1].body else {
        panic!("{:?}", answers[1])
    };
    assert_eq!(f.detail.set_parameter_values_faults.len(), 1);
    assert_eq!(
        f.detail.set_parameter_values_faults[0].parameter_name,
        "Device.DeviceInfo.Manufacturer"
    );
    assert_eq!(
        f.detail.set_parameter_values_faults[0].fault_code.code(),
        9008
    );
    for a in &answers {
        assert_eq!(a.namespace.as_str(), "urn:dslforum-org:cwmp-1-2");
    }
    for l in &st.log {
        assert_eq!(l.soap_action.is_some(), l.envelope.is_some(), "{l:?}");
        assert_eq!(l.content_type.is_some(), l.envelope.is_some(), "{l:?}");
    }
}

#[tokio::test]
async fn firmware_download_installs_and_reports_transfer_complete() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    let name = "sip88xx.12-0-3MPP-5.loads";
    {
        let mut st = acs.state();
        st.files.insert(name.into(), (200, vec![0x5a; 100_000]));
        st.queue
            .push_back(firmware_download(acs.file_url(name), "fw-1"));
    }
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(r.rpcs_received, ["Download"]);
    {
        let st = acs.state();
        let Some(Body::DownloadResponse(d)) =
            st.log.last().unwrap().envelope.as_ref().map(|e| &e.body)
        else {
            panic!("{:?}", st.log.last())
        };
        assert_eq!(d.status, 1);
        assert_eq!(st.file_gets, [name]);
    }
    // The image is installed and the phone rebooted.
    let dev = sim.device(0);
    assert_eq!(dev.value(SW).as_deref(), Some("sip88xx.12-0-3MPP-5"));
    let pending = dev.pending_transfer_completes();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].fault_struct.is_success());

    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(
        codes(&r),
        [
            "1 BOOT",
            "4 VALUE CHANGE",
            "7 TRANSFER COMPLETE",
            "M Download/fw-1"
        ]
    );
    assert_eq!(r.transfer_completes_acknowledged, ["fw-1"]);
    let inform = informs(&acs).pop().unwrap();
    assert_eq!(param(&inform, SW), Some("sip88xx.12-0-3MPP-5"));
    {
        let st = acs.state();
        assert_eq!(st.transfer_completes.len(), 1);
        let tc = &st.transfer_completes[0];
        assert_eq!(tc.command_key, "fw-1");
        assert_eq!(tc.fault_struct.fault_code.code(), 0);
        assert!(tc.start_time.to_utc().is_some() && tc.complete_time.to_utc().is_some());
        let names: Vec<_> = st.log.iter().rev().take(3).map(|l| l.name()).collect();
        assert_eq!(names, ["(empty)", "TransferComplete", "Inform"]);
    }
    assert!(dev.pending_transfer_completes().is_empty());
    assert!(dev.pending_events().is_empty());
}

#[tokio::test]
async fn failed_downloads_report_transfer_faults() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cases = [
        ("broken.loads", Some(500), 9010),
        ("sip88xx.9-9-9.loads", None, 9016),
        ("secret.loads", Some(401), 9012),
        ("forbidden.loads", Some(403), 9012),
        ("unreachable", None, 9015),
    ];
    for (i, (name, status, want)) in cases.into_iter().enumerate() {
        let url = if name == "unreachable" {
            format!("http://{closed}/x.loads")
        } else {
            acs.file_url(name)
        };
        {
            let mut st = acs.state();
            if let Some(s) = status {
                st.files.insert(name.into(), (s, b"no".to_vec()));
            }
            st.queue.push_back(firmware_download(url, &format!("k{i}")));
        }
        let r = sim.run_session(0, vec![]).await.unwrap();
        assert!(r.succeeded(), "{name}: {r:?}");
        let pending = sim.device(0).pending_transfer_completes();
        assert_eq!(pending.len(), 1, "{name}");
        assert_eq!(
            pending[0].fault_struct.fault_code.code(),
            want,
            "{name}: {pending:?}"
        );
        assert_eq!(
            sim.device(0).value(SW).as_deref(),
            Some("sip88xx.12-0-2MPP-1")
        );
        // Reported in the next session; no reboot after a failure.
        let r = sim.run_session(0, vec![]).await.unwrap();
        assert_eq!(
            codes(&r),
            ["7 TRANSFER COMPLETE".to_owned(), format!("M Download/k{i}")],
            "{name}"
        );
        assert_eq!(
            r.transfer_completes_sent[0].fault_struct.fault_code.code(),
            want
        );
        assert!(sim.device(0).pending_transfer_completes().is_empty());
    }
}

#[tokio::test]
async fn download_answers_the_file_servers_challenge() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    let name = "sip88xx.12-0-5MPP-1.loads";
    {
        let mut st = acs.state();
        st.files.insert(name.into(), (200, b"image".to_vec()));
        st.file_auth = Some(("fw".into(), "pw".into()));
    }
    for (password, want) in [("bad", 9012), ("pw", 0)] {
        let Body::Download(mut d) = firmware_download(acs.file_url(name), password) else {
            unreachable!()
        };
        d.username = "fw".into();
        d.password = Password::new(password);
        acs.state().queue.push_back(Body::Download(d));
        assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
        let pending = sim.device(0).pending_transfer_completes();
        assert_eq!(
            pending[0].fault_struct.fault_code.code(),
            want,
            "{pending:?}"
        );
        let r = sim.run_session(0, vec![]).await.unwrap();
        assert_eq!(r.transfer_completes_acknowledged, [password]);
    }
    assert_eq!(
        sim.device(0).value(SW).as_deref(),
        Some("sip88xx.12-0-5MPP-1")
    );
}

fn config_download(url: String, key: &str) -> Body {
    let Body::Download(mut d) = firmware_download(url, key) else {
        unreachable!()
    };
    d.file_type = "3 Vendor Configuration File".into();
    Body::Download(d)
}

const LINE1: &str = "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.";
const VP: &str = "Device.Services.VoiceService.1.VoiceProfile.1.";

/// Every parameter value of the device (secrets included, UpTime excluded), to show what changed.
fn snapshot(sim: &Simulator) -> Vec<(String, String)> {
    sim.device(0).with_model(|m| {
        m.get_values(&["Device."])
            .unwrap()
            .into_iter()
            .filter(|v| v.name != "Device.DeviceInfo.UpTime")
            // Real values: passwords read back empty.
            .map(|v| {
                let real = m.value(&v.name).unwrap_or_default();
                (v.name, real)
            })
            .collect()
    })
}

/// Runs the session that fetches the file the ACS queued, then the one that reports it;
/// returns the fault code of the TransferComplete and the second session's events.
async fn transfer_round(sim: &Simulator, key: &str) -> (u32, Vec<String>) {
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(r.rpcs_received, ["Download"]);
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(r.transfer_completes_acknowledged, [key], "{r:?}");
    let code = r.transfer_completes_sent[0].fault_struct.fault_code.code();
    (code, codes(&r))
}

#[tokio::test]
async fn firmware_the_phone_does_not_take_fails_with_9018() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    let before = snapshot(&sim);
    // A 78xx image on an 8851, a name that is no MPP load, a load without a version.
    for (i, name) in [
        "sip78xx.14-1-1MPP-1.loads",
        "image.bin",
        "sip88xx.loads",
        "sip88xx.-x.loads",
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("bad-{i}");
        {
            let mut st = acs.state();
            st.files.insert(name.into(), (200, b"image".to_vec()));
            st.queue
                .push_back(firmware_download(acs.file_url(name), &key));
        }
        let (code, events) = transfer_round(&sim, &key).await;
        assert_eq!(code, 9018, "{name}");
        // No reboot, nothing installed.
        assert_eq!(
            events,
            [
                "7 TRANSFER COMPLETE".to_owned(),
                format!("M Download/{key}")
            ],
            "{name}"
        );
        assert_eq!(snapshot(&sim), before, "{name}");
    }
    let tc = acs.state().transfer_completes.last().cloned().unwrap();
    assert!(
        tc.fault_struct
            .fault_string
            .contains("sip88xx.<version>.loads"),
        "{tc:?}"
    );

    // TargetFileName names the image when the URL does not.
    let Body::Download(mut d) = firmware_download(acs.file_url("fw"), "named") else {
        unreachable!()
    };
    d.target_file_name = "sip88xx.12-0-9MPP-2.loads".into();
    {
        let mut st = acs.state();
        st.files.insert("fw".into(), (200, b"image".to_vec()));
        st.queue.push_back(Body::Download(d));
    }
    let (code, events) = transfer_round(&sim, "named").await;
    assert_eq!(code, 0);
    assert_eq!(
        events,
        [
            "1 BOOT",
            "4 VALUE CHANGE",
            "7 TRANSFER COMPLETE",
            "M Download/named"
        ]
    );
    let inform = informs(&acs).pop().unwrap();
    assert_eq!(param(&inform, SW), Some("sip88xx.12-0-9MPP-2"));
}

#[tokio::test]
async fn configuration_file_is_applied() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    let dev = sim.device(0);
    let before = snapshot(&sim);
    let config = r#"<?xml version="1.0" encoding="UTF-8"?>
<device>
  <flat-profile>
    <Station_Name ua="na">Lobby</Station_Name>
    <Line_Enable_1_ ua="na">No</Line_Enable_1_>
    <User_ID_1_>4001</User_ID_1_>
    <Auth_ID_1_>auth4001</Auth_ID_1_>
    <Password_1_ ua="na">s3cret</Password_1_>
    <Display_Name_2_>Front &amp; Back</Display_Name_2_>
    <Proxy_1_>sip.example.com:5061</Proxy_1_>
    <Proxy_2_>other.example.com</Proxy_2_>
    <Periodic_Inform_Interval>3600</Periodic_Inform_Interval>
    <Register_Expires_1_>soon</Register_Expires_1_>
    <Line_Enable_3_>Yes</Line_Enable_3_>
    <Primary_DNS/>
  </flat-profile>
</device>
"#;
    {
        let mut st = acs.state();
        st.files
            .insert("phone.xml".into(), (200, config.as_bytes().to_vec()));
        st.queue
            .push_back(config_download(acs.file_url("phone.xml"), "cfg-1"));
    }
    let (code, events) = transfer_round(&sim, "cfg-1").await;
    assert_eq!(code, 0);
    // A configuration file does not reboot the phone.
    assert_eq!(events, ["7 TRANSFER COMPLETE", "M Download/cfg-1"]);

    let v = |name: &str| dev.value(name).unwrap();
    assert_eq!(v(&format!("{LINE1}Enable")), "Disabled");
    assert_eq!(v(&format!("{LINE1}DirectoryNumber")), "4001");
    assert_eq!(v(&format!("{LINE1}SIP.AuthUserName")), "auth4001");
    assert_eq!(v(&format!("{LINE1}SIP.AuthPassword")), "s3cret");
    assert_eq!(
        v(&format!("{VP}Line.2.CallingFeatures.CallerIDName")),
        "Front & Back"
    );
    assert_eq!(v(&format!("{VP}SIP.ProxyServer")), "sip.example.com");
    assert_eq!(v(&format!("{VP}SIP.ProxyServerPort")), "5061");
    assert_eq!(v("Device.ManagementServer.PeriodicInformInterval"), "3600");
    // Refused by the parameter (unsignedInt): skipped, unchanged, not stored.
    assert_eq!(v(&format!("{VP}SIP.RegisterExpires")), "3600");
    // No data-model counterpart: kept in the flat-profile store.
    let store = dev.flat_profile();
    let want: Vec<(&str, &str)> = vec![
        ("Line_Enable_3_", "Yes"),
        ("Primary_DNS", ""),
        ("Proxy_2_", "other.example.com"),
        ("Station_Name", "Lobby"),
    ];
    assert_eq!(
        store
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        want
    );
    // Exactly the mapped parameters changed.
    let changed: Vec<String> = snapshot(&sim)
        .into_iter()
        .zip(before)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.0)
        .collect();
    assert_eq!(changed.len(), 8, "{changed:?}");

    // The ACS reads the new values.
    acs.state()
        .queue
        .push_back(Body::GetParameterValues(GetParameterValues {
            parameter_names: vec![format!("{LINE1}Enable")],
        }));
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    let answer = acs
        .state()
        .log
        .iter()
        .rev()
        .find_map(|l| match l.envelope.as_ref().map(|e| &e.body) {
            Some(Body::GetParameterValuesResponse(r)) => Some(r.parameter_list.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(answer[0].value, "Disabled");

    // A factory reset forgets the configuration.
    acs.state().queue.push_back(Body::FactoryReset);
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    assert!(dev.flat_profile().is_empty());
    assert_eq!(v(&format!("{LINE1}Enable")), "Enabled");
}

#[tokio::test]
async fn malformed_configuration_faults_and_changes_nothing() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    let before = snapshot(&sim);
    let cases: [(&str, &[u8], u32); 7] = [
        ("plain.txt", b"Station_Name=Lobby\n", 9018),
        (
            "cut.xml",
            b"<flat-profile><Line_Enable_1_>No</Line_Enable_1_><Station_Name>Lo",
            9018,
        ),
        (
            "dtd.xml",
            b"<!DOCTYPE d [<!ENTITY x 'y'>]><flat-profile><Station_Name>&x;</Station_Name></flat-profile>",
            9018,
        ),
        (
            "nested.xml",
            b"<flat-profile><Line_Enable_1_>No</Line_Enable_1_><Proxy_1_><a/></Proxy_1_></flat-profile>",
            9018,
        ),
        ("other.xml", b"<config><Line_Enable_1_>No</Line_Enable_1_></config>", 9018),
        ("binary.xml", b"<flat-profile>\xff\xfe</flat-profile>", 9018),
        // Not on the file server.
        ("missing.xml", b"", 9016),
    ];
    for (i, (name, body, want)) in cases.into_iter().enumerate() {
        let key = format!("cfg-{i}");
        {
            let mut st = acs.state();
            if name != "missing.xml" {
                st.files.insert(name.into(), (200, body.to_vec()));
            }
            st.queue
                .push_back(config_download(acs.file_url(name), &key));
        }
        let (code, events) = transfer_round(&sim, &key).await;
        assert_eq!(code, want, "{name}");
        assert_eq!(
            events,
            [
                "7 TRANSFER COMPLETE".to_owned(),
                format!("M Download/{key}")
            ],
            "{name}"
        );
        assert_eq!(snapshot(&sim), before, "{name}");
        assert!(sim.device(0).flat_profile().is_empty(), "{name}");
    }
    let tc = acs.state().transfer_completes[2].clone();
    assert!(tc.fault_struct.fault_string.contains("DOCTYPE"), "{tc:?}");

    // The file server wants credentials the ACS did not give: 9012.
    {
        let mut st = acs.state();
        st.files
            .insert("auth.xml".into(), (200, b"<flat-profile/>".to_vec()));
        st.file_auth = Some(("fw".into(), "pw".into()));
        st.queue
            .push_back(config_download(acs.file_url("auth.xml"), "cfg-auth"));
    }
    let (code, _) = transfer_round(&sim, "cfg-auth").await;
    assert_eq!(code, 9012);
}

#[tokio::test]
async fn transfer_complete_survives_failed_sessions_and_hold_requests() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    let name = "sip88xx.12-0-4MPP-1.loads";
    {
        let mut st = acs.state();
        st.files.insert(name.into(), (200, b"image".to_vec()));
        st.queue
            .push_back(firmware_download(acs.file_url(name), "fw-2"));
    }
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());

    // The ACS refuses the Inform (8005): failed, RetryCount grows, nothing is lost.
    acs.state().inform_fault = Some(FaultCode::AcsRetryRequest);
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(!r.succeeded());
    assert_eq!(r.fault_to_inform.as_ref().unwrap().fault_code.code(), 8005);
    assert_eq!(sim.device(0).retry_count(), 1);
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(r.retry_count, 1);
    assert_eq!(sim.device(0).retry_count(), 2);

    // HoldRequests: the session goes on with the empty POST, the TransferComplete waits.
    {
        let mut st = acs.state();
        st.inform_fault = None;
        st.hold_requests = true;
    }
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded() && r.hold_requests, "{r:?}");
    assert_eq!(r.retry_count, 2);
    assert!(r.has_event("1 BOOT") && r.has_event("7 TRANSFER COMPLETE"));
    assert_eq!(r.event_key("M Download"), Some("fw-2"));
    assert!(r.transfer_completes_sent.is_empty());
    assert_eq!(sim.device(0).pending_transfer_completes().len(), 1);
    assert_eq!(sim.device(0).retry_count(), 0);

    acs.state().hold_requests = false;
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(codes(&r), ["7 TRANSFER COMPLETE", "M Download/fw-2"]);
    assert_eq!(r.transfer_completes_acknowledged, ["fw-2"]);
    assert!(sim.device(0).pending_transfer_completes().is_empty());
}

#[tokio::test]
async fn reboot_and_factory_reset() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    acs.state().queue.push_back(Body::Reboot(Reboot {
        command_key: "rb-7".into(),
    }));
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(r.rpcs_received, ["Reboot"]);
    assert_eq!(r.responses_sent, ["RebootResponse"]);
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(codes(&r), ["1 BOOT", "M Reboot/rb-7"]);

    {
        let mut st = acs.state();
        st.queue
            .push_back(Body::SetParameterValues(SetParameterValues {
                parameter_list: vec![ParameterValue::string(
                    "Device.DeviceInfo.ProvisioningCode",
                    "gone-after-reset",
                )],
                parameter_key: String::new(),
            }));
        st.queue.push_back(Body::FactoryReset);
    }
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(
        r.responses_sent,
        ["SetParameterValuesResponse", "FactoryResetResponse"]
    );
    let dev = sim.device(0);
    assert_eq!(
        dev.value("Device.DeviceInfo.ProvisioningCode").as_deref(),
        Some("")
    );
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(codes(&r), ["0 BOOTSTRAP", "1 BOOT"]);
    // The ConnectionRequestURL survives the reset.
    let inform = informs(&acs).pop().unwrap();
    assert_eq!(
        param(&inform, "Device.ManagementServer.ConnectionRequestURL"),
        Some(dev.cr_url())
    );
}

#[tokio::test]
async fn value_change_and_caller_events() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    let dev = sim.device(0);
    // Passive notification on a parameter, then the device changes it.
    acs.state()
        .queue
        .push_back(Body::SetParameterAttributes(SetParameterAttributes {
            parameter_list: vec![SetParameterAttributesStruct {
                name: "Device.ManagementServer.PeriodicInformInterval".into(),
                notification_change: true,
                notification: 1,
                access_list_change: false,
                access_list: vec![],
            }],
        }));
    assert!(sim.run_session(0, vec![]).await.unwrap().succeeded());
    assert!(
        dev.set_value("Device.ManagementServer.PeriodicInformInterval", "77")
            .unwrap()
    );
    let r = sim
        .run_session(0, vec![EventStruct::new(EventCode::Periodic)])
        .await
        .unwrap();
    assert_eq!(codes(&r), ["2 PERIODIC", "4 VALUE CHANGE"]);
    let inform = informs(&acs).pop().unwrap();
    assert_eq!(
        param(&inform, "Device.ManagementServer.PeriodicInformInterval"),
        Some("77")
    );
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(codes(&r), ["2 PERIODIC"]);
}

#[tokio::test]
async fn gateway_upload_and_schedule_inform() {
    let (acs, sim) = start(GW).await;
    bootstrap(&sim).await;
    assert_eq!(sim.device(0).serial(), "HG000000");
    {
        let mut st = acs.state();
        st.queue.push_back(Body::Upload(Upload {
            command_key: "up-1".into(),
            file_type: "1 Vendor Configuration File".into(),
            url: format!("http://{}/upload/cfg.txt", acs.addr),
            username: String::new(),
            password: Password::default(),
            delay_seconds: 0,
        }));
        st.queue.push_back(Body::ScheduleInform(ScheduleInform {
            delay_seconds: 30,
            command_key: "si-1".into(),
        }));
    }
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(
        r.responses_sent,
        ["UploadResponse", "ScheduleInformResponse"]
    );
    {
        let st = acs.state();
        assert_eq!(st.uploads.len(), 1);
        let text = String::from_utf8(st.uploads[0].1.clone()).unwrap();
        assert!(
            text.contains("InternetGatewayDevice.DeviceInfo.SerialNumber=HG000000"),
            "{text}"
        );
    }
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(
        codes(&r),
        [
            "3 SCHEDULED",
            "7 TRANSFER COMPLETE",
            "M ScheduleInform/si-1",
            "M Upload/up-1"
        ]
    );
    assert_eq!(r.transfer_completes_acknowledged, ["up-1"]);
    // The gateway speaks CWMP 1.4 negotiation.
    let st = acs.state();
    let inform = st.log.iter().rev().find(|l| l.name() == "Inform").unwrap();
    assert_eq!(
        inform
            .envelope
            .as_ref()
            .unwrap()
            .header
            .supported_cwmp_versions
            .as_deref(),
        Some("1.0,1.1,1.2,1.3,1.4")
    );
}

/// GET `url` with Digest credentials (answering the challenge), or none.
async fn connection_request(url: &str, creds: Option<(&str, &str)>) -> reqwest::StatusCode {
    let client = reqwest::Client::new();
    let first = client.get(url).send().await.unwrap();
    let Some((user, pass)) = creds else {
        return first.status();
    };
    if first.status() != reqwest::StatusCode::UNAUTHORIZED {
        return first.status();
    }
    let challenge = first
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let path = reqwest::Url::parse(url).unwrap().path().to_owned();
    let authz = digest_authorization(&challenge, "GET", &path, user, pass, "c1", 1).unwrap();
    client
        .get(url)
        .header("authorization", authz)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn connection_requests_with_digest() {
    let (acs, sim) = start(MPP).await;
    bootstrap(&sim).await;
    let dev = sim.device(0);
    let url = dev.cr_url().to_owned();
    dev.set_value(CR_USER, "cr-user").unwrap();
    dev.set_value(CR_PASS, "cr-pass").unwrap();

    assert_eq!(connection_request(&url, None).await, 401);
    assert_eq!(
        connection_request(&url, Some(("cr-user", "nope"))).await,
        401
    );
    assert_eq!(
        connection_request(&url, Some(("other", "cr-pass"))).await,
        401
    );
    assert!(dev.pending_events().is_empty());
    let unknown = format!("http://{}/FCH999999", sim.cr_addr());
    assert_eq!(connection_request(&unknown, None).await, 404);
    let client = reqwest::Client::new();
    assert_eq!(client.post(&url).send().await.unwrap().status(), 405);

    assert_eq!(
        connection_request(&url, Some(("cr-user", "cr-pass"))).await,
        200
    );
    sim.wait_for_connection_request(0).await.unwrap();
    // Several requests before the session: one session.
    assert_eq!(
        connection_request(&url, Some(("cr-user", "cr-pass"))).await,
        200
    );
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(r.succeeded());
    assert_eq!(codes(&r), ["6 CONNECTION REQUEST"]);
    assert!(dev.pending_events().is_empty());
    let stats = sim.stats();
    assert_eq!(stats.connection_requests, 2);
    assert!(stats.connection_requests_refused >= 5, "{stats:?}");

    // Busy while a session is in progress: hold the session open at the empty POST.
    let pause = Arc::new(Pause::default());
    acs.state().pause = Some(Arc::clone(&pause));
    let session = sim.run_session(0, vec![]);
    let probe = async {
        pause.reached.notified().await;
        assert!(dev.is_busy());
        let status = connection_request(&url, Some(("cr-user", "cr-pass"))).await;
        pause.release.notify_one();
        status
    };
    let (r, status) = tokio::join!(session, probe);
    assert!(r.unwrap().succeeded());
    assert_eq!(status, 503);
    assert!(dev.pending_events().is_empty());
    let _ = acs;
}

#[tokio::test]
async fn connection_request_without_password_needs_no_auth() {
    let (acs, sim) = start(MPP).await;
    let dev = sim.device(0);
    assert_eq!(dev.value(CR_PASS).as_deref(), Some(""));
    assert_eq!(connection_request(dev.cr_url(), None).await, 200);
    sim.wait_for_connection_request(0).await.unwrap();
    // Even before first contact the session carries the bootstrap too.
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert_eq!(codes(&r), ["0 BOOTSTRAP", "1 BOOT", "6 CONNECTION REQUEST"]);
    // A failed CR session does not retry the connection request event.
    assert_eq!(connection_request(dev.cr_url(), None).await, 200);
    acs.state().inform_fault = Some(FaultCode::AcsInternalError);
    let r = sim.run_session(0, vec![]).await.unwrap();
    assert!(!r.succeeded() && r.has_event("6 CONNECTION REQUEST"));
    assert!(dev.pending_events().is_empty());
}

#[tokio::test]
async fn background_mode_bootstraps_and_follows_triggers() {
    let acs = FakeAcs::start().await;
    let sim = Simulator::start(config(&acs, MPP, 3)).await.unwrap();
    sim.run();
    for i in 0..3 {
        let r = sim.wait_for_session(i, 1).await.unwrap();
        assert_eq!(codes(&r), ["0 BOOTSTRAP", "1 BOOT"], "device {i}");
    }
    let dev = sim.device(1);
    // A connection request starts a session; the ACS reboots the device in it.
    acs.state().queue.push_back(Body::Reboot(Reboot {
        command_key: "bg".into(),
    }));
    assert_eq!(connection_request(dev.cr_url(), None).await, 200);
    let r = sim.wait_for_session(1, 2).await.unwrap();
    assert_eq!(codes(&r), ["6 CONNECTION REQUEST"]);
    assert_eq!(r.rpcs_received, ["Reboot"]);
    let r = sim.wait_for_session(1, 3).await.unwrap();
    assert_eq!(codes(&r), ["1 BOOT", "M Reboot/bg"]);

    // A failed connection-request session is not retried (nothing else is pending).
    acs.state()
        .inform_plan
        .push_back(Some(FaultCode::AcsRetryRequest));
    assert_eq!(connection_request(dev.cr_url(), None).await, 200);
    let r = sim.wait_for_session(1, 4).await.unwrap();
    assert!(!r.succeeded());
    assert_eq!(codes(&r), ["6 CONNECTION REQUEST"]);
    assert!(dev.pending_events().is_empty());
    assert_eq!(connection_request(dev.cr_url(), None).await, 200);
    let r = sim.wait_for_session(1, 5).await.unwrap();
    assert!(r.succeeded());
    assert_eq!(r.retry_count, 1);

    // The BOOT session after a reboot is retried with backoff until the ACS takes it.
    {
        let mut st = acs.state();
        st.queue.push_back(Body::Reboot(Reboot {
            command_key: "bg2".into(),
        }));
        let fault = Some(FaultCode::AcsRetryRequest);
        st.inform_plan.extend([None, fault, fault]);
    }
    assert_eq!(connection_request(dev.cr_url(), None).await, 200);
    let r = sim.wait_for_session(1, 6).await.unwrap();
    assert_eq!(r.rpcs_received, ["Reboot"]);
    let r = sim.wait_for_session(1, 7).await.unwrap();
    assert!(!r.succeeded());
    assert_eq!(
        (codes(&r), r.retry_count),
        (vec!["1 BOOT".to_owned(), "M Reboot/bg2".to_owned()], 0)
    );
    let r = sim.wait_for_session(1, 8).await.unwrap();
    assert!(!r.succeeded());
    assert_eq!(r.retry_count, 1);
    let r = sim.wait_for_session(1, 9).await.unwrap();
    assert!(r.succeeded(), "{r:?}");
    assert_eq!(
        (codes(&r), r.retry_count),
        (vec!["1 BOOT".to_owned(), "M Reboot/bg2".to_owned()], 2)
    );
    // The other devices stayed idle.
    assert_eq!((sim.device(0).sessions(), sim.device(2).sessions()), (1, 1));
    sim.shutdown().await;
}

#[tokio::test]
async fn bench_runs_against_the_fake_acs() {
    let acs = FakeAcs::start().await;
    let report = bench::run(bench::BenchConfig {
        sim: config(&acs, MPP, 4),
        duration: Duration::from_millis(300),
        concurrency: 2,
        healthz_url: Some(format!("http://{}/healthz", acs.addr)),
        healthz_duration: Duration::from_millis(100),
    })
    .await
    .unwrap();
    assert_eq!(report.bootstrap_ok, 4);
    assert!(report.all_ok(), "{report:?}");
    assert_eq!(report.errors.len(), 0);
    let h = report.healthz.unwrap();
    assert_eq!(h.errors, 0);
    // Every measured session was a periodic one.
    let informs = informs(&acs);
    assert!(
        informs[4..]
            .iter()
            .all(|i| i.event.len() == 1 && i.event[0].event_code == EventCode::Periodic)
    );
}

/// Figures against the fake ACS: `cargo test -p acs-cli --release -- --ignored --nocapture bench_figures`.
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn bench_figures() {
    let acs = FakeAcs::start().await;
    acs.state().quiet = true;
    let devices = 1000;
    let report = bench::run(bench::BenchConfig {
        sim: config(&acs, MPP, devices),
        duration: Duration::from_secs(5),
        concurrency: 50,
        healthz_url: Some(format!("http://{}/healthz", acs.addr)),
        healthz_duration: Duration::from_secs(3),
    })
    .await
    .unwrap();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert!(report.all_ok());
}

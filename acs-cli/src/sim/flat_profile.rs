//! Cisco MPP configuration files for the simulator: the flat-profile XML an ACS pushes with
//! Download FileType `3 Vendor Configuration File` (SPEC.md §9, "Configuration").
//!
//! ```xml
//! <device>
//!   <flat-profile>
//!     <Station_Name ua="na">Lobby</Station_Name>
//!     <Line_Enable_1_>Yes</Line_Enable_1_>
//!     <Proxy_1_>sip.example.com:5060</Proxy_1_>
//!   </flat-profile>
//! </device>
//! ```
//!
//! The root is `<flat-profile>`, or `<device>` holding one. Every child of `<flat-profile>` is
//! one setting: element name = the web UI label with `_` for spaces and `_<n>_` for per-line
//! settings, text = the value (an empty element sets an empty value), the `ua` attribute (user
//! access) is ignored. Anything else is a malformed file and [`parse`] refuses it: not UTF-8,
//! not well-formed, a DOCTYPE (never expanded), entities other than the five predefined ones,
//! characters XML 1.0 forbids, another root, elements nested inside a setting, text between
//! settings, more than [`MAX_BYTES`]. The XML is read with the CWMP codec's
//! [`SafeReader`](acs_core::cwmp::SafeReader), so the policy is the codec's.
//!
//! # How settings reach the data model
//!
//! SPEC.md §9 names no vendor subtree for the flat profile, and the `cisco-mpp` profile has
//! none, so the simulator keeps the phone's settings in two places:
//!
//! - Settings with a TR-181 / TR-104 counterpart in the table below are written to that
//!   parameter ([`mapping`]), when the device's data model has it (`Line_Enable_3_` on a
//!   two-line phone has none). `Yes`/`No` become `true`/`false` (or `Enabled`/`Disabled` for
//!   a line's Enable); `Proxy_1_` `host:port` sets ProxyServer and ProxyServerPort. A value the
//!   parameter refuses (not a number, too long) is skipped and logged; the rest of the file
//!   still applies, as a phone ignores a bad setting.
//! - Every other setting is kept in the device's flat-profile store
//!   ([`super::DeviceHandle::flat_profile`]), by element name, so tests can see it.
//!
//! | element | parameter (under `Device.`) |
//! |---|---|
//! | `Enable_TR-069` | `ManagementServer.EnableCWMP` |
//! | `ACS_URL` | `ManagementServer.URL` |
//! | `ACS_Username`, `ACS_Password` | `ManagementServer.Username`, `.Password` |
//! | `Connection_Request_Username`, `Connection_Request_Password` | `ManagementServer.ConnectionRequestUsername`, `.ConnectionRequestPassword` |
//! | `Periodic_Inform_Enable`, `Periodic_Inform_Interval` | `ManagementServer.PeriodicInformEnable`, `.PeriodicInformInterval` |
//! | `Primary_NTP_Server` | `Time.NTPServer1` |
//! | `Line_Enable_<n>_` | `Services.VoiceService.1.VoiceProfile.1.Line.<n>.Enable` |
//! | `User_ID_<n>_` | `….Line.<n>.DirectoryNumber` |
//! | `Auth_ID_<n>_`, `Password_<n>_` | `….Line.<n>.SIP.AuthUserName`, `.SIP.AuthPassword` |
//! | `Display_Name_<n>_` | `….Line.<n>.CallingFeatures.CallerIDName` |
//! | `Proxy_1_`, `Outbound_Proxy_1_` | `Services.VoiceService.1.VoiceProfile.1.SIP.ProxyServer` (+ `ProxyServerPort`), `.SIP.OutboundProxy` |
//! | `Register_Expires_1_` | `….VoiceProfile.1.SIP.RegisterExpires` |
//! | `Dial_Plan_1_` | `….VoiceProfile.1.DigitMap` |
//!
//! TR-104 v1 has one SIP proxy per voice profile, so only line 1's proxy settings map; the
//! other lines' stay in the store.

use acs_core::cwmp::{Limits, SafeEvent, SafeReader};

/// The largest configuration file the simulated phone accepts.
pub(crate) const MAX_BYTES: usize = 1024 * 1024;

/// Nesting the reader accepts: `<device><flat-profile><setting>` needs 3; anything deeper is
/// refused as a nested setting at depth 4, so the cap only bounds what hostile input costs.
const MAX_DEPTH: usize = 8;

/// The settings of one flat-profile file, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FlatProfile {
    pub settings: Vec<(String, String)>,
}

/// Why a file is not a flat profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Cisco flat profile: {0}")]
pub(crate) struct FlatProfileError(String);

fn malformed(message: impl Into<String>) -> FlatProfileError {
    FlatProfileError(message.into())
}

/// Parses a flat-profile file (see the module documentation for what is refused).
pub(crate) fn parse(bytes: &[u8]) -> Result<FlatProfile, FlatProfileError> {
    if bytes.len() > MAX_BYTES {
        return Err(malformed(format!(
            "{} bytes, more than {MAX_BYTES}",
            bytes.len()
        )));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let src = std::str::from_utf8(bytes).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
    // The codec's reader and policy: DOCTYPE refused (never expanded), only the predefined
    // entities, characters, nesting, one root and well-formedness checked before we see events.
    let limits = Limits {
        max_bytes: MAX_BYTES,
        max_depth: MAX_DEPTH,
    };
    let mut reader = SafeReader::new(src, &limits).map_err(|e| malformed(e.to_string()))?;

    let mut at = At::Start;
    // Where `</device>` / `</flat-profile>` lead back to.
    let mut in_device = false;
    let mut seen_flat_profile = false;
    let mut out = FlatProfile::default();
    let mut current: Option<(String, String)> = None;
    loop {
        let event = reader.read_event().map_err(|e| malformed(e.to_string()))?;
        match event {
            SafeEvent::Start(ref e) | SafeEvent::Empty(ref e) => {
                let empty = matches!(event, SafeEvent::Empty(_));
                // Attributes (`ua`) are ignored; the reader has checked they are well-formed.
                let name = e.name().as_ref().to_owned();
                match at {
                    At::Start if name == "device" && !empty => {
                        at = At::Device;
                        in_device = true;
                    }
                    At::Start | At::Device if name == "flat-profile" => {
                        if seen_flat_profile {
                            return Err(malformed("more than one <flat-profile>"));
                        }
                        seen_flat_profile = true;
                        at = if empty {
                            after_flat_profile(in_device)
                        } else {
                            At::FlatProfile
                        };
                    }
                    At::Start => {
                        return Err(malformed(format!(
                            "the root is <{name}>, not <flat-profile> or <device>"
                        )));
                    }
                    At::Device => {
                        return Err(malformed(format!(
                            "<{name}> inside <device>; expected <flat-profile>"
                        )));
                    }
                    At::FlatProfile if empty => out.settings.push((name, String::new())),
                    At::FlatProfile => {
                        current = Some((name, String::new()));
                        at = At::Setting;
                    }
                    At::Setting => {
                        let parent = current.as_ref().map_or("", |(n, _)| n.as_str());
                        return Err(malformed(format!(
                            "<{name}> nested inside the setting <{parent}>"
                        )));
                    }
                    // The reader refuses a second root before we see it.
                    At::Done => return Err(malformed(format!("<{name}> after the root element"))),
                }
            }
            SafeEvent::End(_) => match at {
                At::Setting => {
                    if let Some(setting) = current.take() {
                        out.settings.push(setting);
                    }
                    at = At::FlatProfile;
                }
                At::FlatProfile => at = after_flat_profile(in_device),
                At::Device => {
                    in_device = false;
                    at = At::Done;
                }
                // The reader refuses any other end tag.
                At::Start | At::Done => return Err(malformed("unexpected end tag")),
            },
            // Text, CDATA and resolved references, only ever inside the root element.
            SafeEvent::Text(text) => match (at, current.as_mut()) {
                (At::Setting, Some((_, value))) => value.push_str(&text),
                _ if text.trim().is_empty() => {}
                _ => {
                    return Err(malformed(format!(
                        "text {:?} outside a setting (at {})",
                        shorten(&text),
                        reader.position()
                    )));
                }
            },
            SafeEvent::Eof => break,
        }
    }
    match at {
        At::Done if seen_flat_profile => Ok(out),
        At::Done => Err(malformed("<device> holds no <flat-profile>")),
        At::Start => Err(malformed("no root element")),
        _ => Err(malformed("the file ends before its elements are closed")),
    }
}

/// Where the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the root element.
    Start,
    /// Inside `<device>`, outside `<flat-profile>`.
    Device,
    /// Inside `<flat-profile>`, between settings.
    FlatProfile,
    /// Inside a setting element.
    Setting,
    /// After the root element.
    Done,
}

fn after_flat_profile(in_device: bool) -> At {
    if in_device { At::Device } else { At::Done }
}

fn shorten(s: &str) -> String {
    let t = s.trim();
    match t.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_owned(),
    }
}

/// How a setting's text becomes the parameter's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// As is.
    Text,
    /// `Yes`/`No` (also `true`/`false`, `1`/`0`) → `true`/`false`.
    YesNo,
    /// `Yes`/`No` → `Enabled`/`Disabled` (TR-104 Line.Enable).
    LineEnable,
    /// `host[:port]` → ProxyServer and, with a port, ProxyServerPort.
    Proxy,
}

const VOICE_PROFILE: &str = "Services.VoiceService.1.VoiceProfile.1.";

/// Device-wide settings: element, parameter under the root.
const DEVICE_SETTINGS: &[(&str, &str, Conv)] = &[
    ("Enable_TR-069", "ManagementServer.EnableCWMP", Conv::YesNo),
    ("ACS_URL", "ManagementServer.URL", Conv::Text),
    ("ACS_Username", "ManagementServer.Username", Conv::Text),
    ("ACS_Password", "ManagementServer.Password", Conv::Text),
    (
        "Connection_Request_Username",
        "ManagementServer.ConnectionRequestUsername",
        Conv::Text,
    ),
    (
        "Connection_Request_Password",
        "ManagementServer.ConnectionRequestPassword",
        Conv::Text,
    ),
    (
        "Periodic_Inform_Enable",
        "ManagementServer.PeriodicInformEnable",
        Conv::YesNo,
    ),
    (
        "Periodic_Inform_Interval",
        "ManagementServer.PeriodicInformInterval",
        Conv::Text,
    ),
    ("Primary_NTP_Server", "Time.NTPServer1", Conv::Text),
];

/// Per-line settings `<prefix><n>_`: prefix, parameter under `<root>…Line.<n>.`.
const LINE_SETTINGS: &[(&str, &str, Conv)] = &[
    ("Line_Enable_", "Enable", Conv::LineEnable),
    ("User_ID_", "DirectoryNumber", Conv::Text),
    ("Auth_ID_", "SIP.AuthUserName", Conv::Text),
    ("Password_", "SIP.AuthPassword", Conv::Text),
    ("Display_Name_", "CallingFeatures.CallerIDName", Conv::Text),
];

/// Line 1's settings that TR-104 v1 keeps per voice profile: element, parameter under
/// `<root>Services.VoiceService.1.VoiceProfile.1.`.
const PROFILE_SETTINGS: &[(&str, &str, Conv)] = &[
    ("Proxy_1_", "SIP.ProxyServer", Conv::Proxy),
    ("Outbound_Proxy_1_", "SIP.OutboundProxy", Conv::Text),
    ("Register_Expires_1_", "SIP.RegisterExpires", Conv::Text),
    ("Dial_Plan_1_", "DigitMap", Conv::Text),
];

/// The parameter writes (names relative to the data-model root, values converted) a setting
/// maps to: `None` when it has no counterpart, `Some(Err)` when it has one but the value does
/// not convert. The caller still checks that the parameters exist and accept the values.
pub(crate) fn mapping(element: &str, value: &str) -> Option<Result<Vec<(String, String)>, String>> {
    let (param, conv) =
        if let Some((_, p, c)) = DEVICE_SETTINGS.iter().find(|(e, _, _)| *e == element) {
            ((*p).to_owned(), *c)
        } else if let Some((_, p, c)) = PROFILE_SETTINGS.iter().find(|(e, _, _)| *e == element) {
            (format!("{VOICE_PROFILE}{p}"), *c)
        } else {
            LINE_SETTINGS.iter().find_map(|(prefix, p, c)| {
                let n = element.strip_prefix(prefix)?.strip_suffix('_')?;
                let line: u32 = n.parse().ok().filter(|l| *l > 0 && !n.starts_with('0'))?;
                Some((format!("{VOICE_PROFILE}Line.{line}.{p}"), *c))
            })?
        };
    Some(convert(conv, &param, value))
}

fn convert(conv: Conv, param: &str, value: &str) -> Result<Vec<(String, String)>, String> {
    let yes_no = || match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => Err(format!("{value:?} is not Yes or No")),
    };
    Ok(match conv {
        Conv::Text => vec![(param.to_owned(), value.to_owned())],
        Conv::YesNo => vec![(param.to_owned(), yes_no()?.to_string())],
        Conv::LineEnable => {
            let v = if yes_no()? { "Enabled" } else { "Disabled" };
            vec![(param.to_owned(), v.to_owned())]
        }
        Conv::Proxy => {
            let value = value.trim();
            // `host:port`, `[v6]:port`; a bare IPv6 address has more than one colon.
            let split = value.rsplit_once(':').filter(|(host, port)| {
                !host.is_empty()
                    && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')))
                    && port.parse::<u16>().is_ok()
            });
            match split {
                Some((host, port)) => vec![
                    (param.to_owned(), host.to_owned()),
                    (format!("{param}Port"), port.to_owned()),
                ],
                None => vec![(param.to_owned(), value.to_owned())],
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Vec<(String, String)> {
        parse(src.as_bytes())
            .unwrap_or_else(|e| panic!("{e}: {src}"))
            .settings
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn parses_both_roots_and_every_value_form() {
        let want = pairs(&[
            ("Station_Name", "Lobby & Hall"),
            ("Line_Enable_1_", "Yes"),
            ("Proxy_2_", ""),
            ("Dial_Plan_1_", "(<9:>xx.|[2-8]xxx)"),
            ("Primary_DNS", "192.0.2.53"),
        ]);
        let body = r#"
            <!-- pushed by the ACS -->
            <Station_Name ua="na">Lobby &amp; Hall</Station_Name>
            <Line_Enable_1_ ua='rw'>Yes</Line_Enable_1_>
            <Proxy_2_ />
            <Dial_Plan_1_><![CDATA[(<9:>xx.|[2-8]xxx)]]></Dial_Plan_1_>
            <Primary_DNS>&#49;92.0.2.53</Primary_DNS>
        "#;
        assert_eq!(
            ok(&format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device><flat-profile>{body}</flat-profile></device>"
            )),
            want
        );
        assert_eq!(
            ok(&format!("\u{feff}<flat-profile>{body}</flat-profile>\n")),
            want
        );
        assert_eq!(ok("<flat-profile/>"), []);
        assert_eq!(ok("<device><flat-profile></flat-profile></device>"), []);
    }

    #[test]
    fn refuses_malformed_files() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "no root element"),
            (b"   ", "no root element"),
            (b"Station_Name=Lobby", "text outside the root element"),
            (
                b"<flat-profile><A>1</B></flat-profile>",
                "not a Cisco flat profile",
            ),
            (b"<flat-profile><A>1</A>", "ends before"),
            (
                b"<flat-profile><A>1<B>2</B></A></flat-profile>",
                "nested inside the setting <A>",
            ),
            (
                b"<flat-profile>x<A>1</A></flat-profile>",
                "outside a setting",
            ),
            (b"<config><A>1</A></config>", "the root is <config>"),
            (b"<device><other/></device>", "inside <device>"),
            (b"<device></device>", "holds no <flat-profile>"),
            (
                b"<flat-profile/><flat-profile/>",
                "more than one root element",
            ),
            (
                b"<device><flat-profile/><flat-profile/></device>",
                "more than one",
            ),
            (
                b"<!DOCTYPE d [<!ENTITY x 'y'>]><flat-profile><A>&x;</A></flat-profile>",
                "DOCTYPE",
            ),
            (
                b"<flat-profile><A>&x;</A></flat-profile>",
                "unknown entity &x;",
            ),
            (
                b"<flat-profile><A>&#0;</A></flat-profile>",
                "U+0000 is not allowed",
            ),
            (
                b"<flat-profile><A b=\"1\" b=\"2\">1</A></flat-profile>",
                "<A>",
            ),
            (b"<flat-profile><A b=1>1</A></flat-profile>", "<A>"),
            (b"<flat-profile><A>\xff</A></flat-profile>", "not UTF-8"),
            (
                b"<flat-profile><A>1</A></flat-profile><B/>",
                "more than one root element",
            ),
        ];
        for (src, want) in cases {
            let e = parse(src).expect_err(&String::from_utf8_lossy(src));
            assert!(
                e.to_string().contains(want),
                "{}: {e}",
                String::from_utf8_lossy(src)
            );
        }
        let big = format!(
            "<flat-profile><A>{}</A></flat-profile>",
            "x".repeat(MAX_BYTES)
        );
        assert!(
            parse(big.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("more than")
        );
    }

    #[test]
    fn hostile_input_never_panics() {
        // Truncations and byte flips of a valid file: errors, never panics.
        let good = "<device><flat-profile><Station_Name ua=\"na\">Lobby &amp; co</Station_Name><Line_Enable_1_>Yes</Line_Enable_1_><![CDATA[x]]></flat-profile></device>";
        for i in 0..good.len() {
            let _ = parse(&good.as_bytes()[..i]);
            for b in [b'<', b'>', b'&', b'/', b'"', 0, 0xff, b']'] {
                let mut v = good.as_bytes().to_vec();
                v[i] = b;
                let _ = parse(&v);
            }
        }
        let deep = "<a>".repeat(10_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn settings_map_to_tr181_and_tr104_parameters() {
        let one = |e: &str, v: &str| mapping(e, v).map(|r| r.unwrap());
        assert_eq!(
            one("Line_Enable_2_", "No"),
            Some(pairs(&[(
                "Services.VoiceService.1.VoiceProfile.1.Line.2.Enable",
                "Disabled"
            )]))
        );
        assert_eq!(
            one("Periodic_Inform_Enable", "yes"),
            Some(pairs(&[("ManagementServer.PeriodicInformEnable", "true")]))
        );
        assert_eq!(
            one("User_ID_1_", "4001"),
            Some(pairs(&[(
                "Services.VoiceService.1.VoiceProfile.1.Line.1.DirectoryNumber",
                "4001"
            )]))
        );
        assert_eq!(
            one("Proxy_1_", "sip.example.com:5061"),
            Some(pairs(&[
                (
                    "Services.VoiceService.1.VoiceProfile.1.SIP.ProxyServer",
                    "sip.example.com"
                ),
                (
                    "Services.VoiceService.1.VoiceProfile.1.SIP.ProxyServerPort",
                    "5061"
                ),
            ]))
        );
        assert_eq!(
            one("Proxy_1_", "2001:db8::1"),
            Some(pairs(&[(
                "Services.VoiceService.1.VoiceProfile.1.SIP.ProxyServer",
                "2001:db8::1"
            )]))
        );
        assert_eq!(
            one("Proxy_1_", "[2001:db8::1]:5060").unwrap()[0].1,
            "[2001:db8::1]"
        );
        for unmapped in [
            "Station_Name",
            "Proxy_2_",
            "Line_Enable_0_",
            "Line_Enable_01_",
            "Line_Enable_x_",
            "Line_Enable_1",
            "Profile_Rule",
            "Primary_DNS",
        ] {
            assert!(mapping(unmapped, "v").is_none(), "{unmapped}");
        }
        assert!(mapping("Line_Enable_1_", "Maybe").unwrap().is_err());
    }
}

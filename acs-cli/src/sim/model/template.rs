//! Per-device variables and the `{var}` value templates profiles render with them.

use crate::sim::profile::Profile;

/// The per-device values that profile templates refer to. Profile-wide ones (`{oui}`,
/// `{product_class}`, `{manufacturer}`, `{model_name}`, `{software_version}`,
/// `{hardware_version}`) come from the profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceVars {
    /// `{serial}`
    pub serial: String,
    /// `{mac}` as `AA:BB:CC:DD:EE:FF`; `{mac_plain}` is the same without colons, lower case.
    pub mac: String,
    /// `{ip}`
    pub ip: String,
    /// `{cr_url}`: the connection request URL the simulator listens on.
    pub cr_url: String,
    /// `{acs_url}`: the ACS URL the device starts with (ManagementServer.URL).
    pub acs_url: String,
}

impl DeviceVars {
    /// Variables for one device, its MAC derived from the profile's OUI and the serial.
    pub fn new(
        profile: &Profile,
        serial: impl Into<String>,
        ip: impl Into<String>,
        cr_url: impl Into<String>,
        acs_url: impl Into<String>,
    ) -> DeviceVars {
        let serial = serial.into();
        DeviceVars {
            mac: mac_from_serial(&profile.oui, &serial),
            serial,
            ip: ip.into(),
            cr_url: cr_url.into(),
            acs_url: acs_url.into(),
        }
    }

    /// Placeholder values (documentation addresses), used to validate profiles.
    pub fn sample(profile: &Profile) -> DeviceVars {
        DeviceVars::new(
            profile,
            "SIM000001",
            "192.0.2.10",
            "http://192.0.2.10:7547/",
            "http://acs.example.com:7547/",
        )
    }
}

/// A MAC address for a simulated device: the first three bytes are the OUI (6 hex digits; a
/// locally administered `02:00:00` if it is not one), the last three a function of the serial.
/// Serials that differ only in a trailing number (`SIM000001`, `SIM000002`, …) get distinct MACs
/// for up to 2^24 devices.
pub fn mac_from_serial(oui: &str, serial: &str) -> String {
    let oui_bytes = match u32::from_str_radix(oui, 16) {
        Ok(v) if oui.len() == 6 => v,
        _ => 0x02_00_00,
    };
    let digits = serial.bytes().rev().take_while(u8::is_ascii_digit).count();
    let (prefix, number) = serial.split_at(serial.len() - digits);
    // The last 9 digits at most, so the number fits; the prefix is hashed (FNV-1a).
    let number: u64 = number[number.len().saturating_sub(9)..]
        .parse()
        .unwrap_or(0);
    let hash = prefix.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let low = (hash.wrapping_add(number) & 0xFF_FFFF) as u32;
    let b = |v: u32, shift: u32| (v >> shift) & 0xFF;
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        b(oui_bytes, 16),
        b(oui_bytes, 8),
        b(oui_bytes, 0),
        b(low, 16),
        b(low, 8),
        b(low, 0)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Serial,
    Mac,
    MacPlain,
    Oui,
    ProductClass,
    Manufacturer,
    ModelName,
    SoftwareVersion,
    HardwareVersion,
    Ip,
    CrUrl,
    AcsUrl,
    Instance,
}

const VARS: [(&str, Var); 13] = [
    ("serial", Var::Serial),
    ("mac", Var::Mac),
    ("mac_plain", Var::MacPlain),
    ("oui", Var::Oui),
    ("product_class", Var::ProductClass),
    ("manufacturer", Var::Manufacturer),
    ("model_name", Var::ModelName),
    ("software_version", Var::SoftwareVersion),
    ("hardware_version", Var::HardwareVersion),
    ("ip", Var::Ip),
    ("cr_url", Var::CrUrl),
    ("acs_url", Var::AcsUrl),
    ("instance", Var::Instance),
];

#[derive(Debug, Clone)]
enum Piece {
    Lit(Box<str>),
    Var(Var),
}

/// A value template: literal text with `{var}` placeholders; `{{` and `}}` are literal braces.
#[derive(Debug, Clone)]
pub(super) struct Template(Box<[Piece]>);

impl Template {
    pub(super) fn parse(s: &str, allow_instance: bool) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("unterminated {{ in {s:?}")),
                        }
                    }
                    let var = VARS
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, v)| *v)
                        .ok_or_else(|| format!("unknown template variable {{{name}}} in {s:?}"))?;
                    if var == Var::Instance && !allow_instance {
                        return Err(format!(
                            "{{instance}} is only available in table templates ({s:?})"
                        ));
                    }
                    if !lit.is_empty() {
                        pieces.push(Piece::Lit(std::mem::take(&mut lit).into()));
                    }
                    pieces.push(Piece::Var(var));
                }
                '}' => {
                    return Err(format!(
                        "unmatched }} in {s:?} (write }}}} for a literal brace)"
                    ));
                }
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit.into()));
        }
        Ok(Template(pieces.into()))
    }

    /// The text, if the template has no variables.
    fn literal(&self) -> Option<&str> {
        match &*self.0 {
            [] => Some(""),
            [Piece::Lit(s)] => Some(s),
            _ => None,
        }
    }

    pub(super) fn render(&self, profile: &Profile, vars: &DeviceVars, instance: u32) -> String {
        if let Some(s) = self.literal() {
            return s.to_owned();
        }
        let mut out = String::new();
        for piece in &*self.0 {
            match piece {
                Piece::Lit(s) => out.push_str(s),
                Piece::Var(v) => match v {
                    Var::Serial => out.push_str(&vars.serial),
                    Var::Mac => out.push_str(&vars.mac),
                    Var::MacPlain => out.extend(
                        vars.mac
                            .chars()
                            .filter(|c| *c != ':')
                            .map(|c| c.to_ascii_lowercase()),
                    ),
                    Var::Oui => out.push_str(&profile.oui),
                    Var::ProductClass => out.push_str(&profile.product_class),
                    Var::Manufacturer => out.push_str(&profile.manufacturer),
                    Var::ModelName => out.push_str(profile.model_name()),
                    Var::SoftwareVersion => out.push_str(&profile.software_version),
                    Var::HardwareVersion => out.push_str(&profile.hardware_version),
                    Var::Ip => out.push_str(&vars.ip),
                    Var::CrUrl => out.push_str(&vars.cr_url),
                    Var::AcsUrl => out.push_str(&vars.acs_url),
                    Var::Instance => out.push_str(&instance.to_string()),
                },
            }
        }
        out
    }
}

//! The simulated CPE's data model engine: pure, no I/O.
//!
//! A [`Schema`] is compiled once per [`Profile`] and shared (`Arc`) by every device of that kind;
//! a [`DataModel`] is one device. It stores only what differs per device: one small row per
//! parameter (definition index, instance number, the value only once it differs from the
//! profile default, Notification and AccessList), plus the device's template variables.
//! Defaults are rendered from the shared templates on read.
//!
//! The operations follow TR-069 Annex A: GetParameterValues/Names/Attributes, atomic
//! SetParameterValues with per-parameter faults, SetParameterAttributes, AddObject/DeleteObject
//! on the tables the profile declares, FactoryReset, and the Inform parameter list with
//! value-change tracking. Order is stable: the tree order of the profile (siblings in the order
//! they first appear in the profile, instances by number).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use super::profile::{ActiveNotify, ParameterSpec, Profile, ProfileError, XsdType};

// ---------------------------------------------------------------------------------------------
// Faults

/// The CPE fault codes this model produces (TR-069 A.5.1); `code()` gives the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum FaultCode {
    MethodNotSupported = 9000,
    RequestDenied = 9001,
    InternalError = 9002,
    InvalidArguments = 9003,
    ResourcesExceeded = 9004,
    InvalidParameterName = 9005,
    InvalidParameterType = 9006,
    InvalidParameterValue = 9007,
    NotWritable = 9008,
    NotificationRejected = 9009,
}

impl FaultCode {
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The standard FaultString.
    pub fn message(self) -> &'static str {
        match self {
            FaultCode::MethodNotSupported => "Method not supported",
            FaultCode::RequestDenied => "Request denied",
            FaultCode::InternalError => "Internal error",
            FaultCode::InvalidArguments => "Invalid arguments",
            FaultCode::ResourcesExceeded => "Resources exceeded",
            FaultCode::InvalidParameterName => "Invalid parameter name",
            FaultCode::InvalidParameterType => "Invalid parameter type",
            FaultCode::InvalidParameterValue => "Invalid parameter value",
            FaultCode::NotWritable => "Attempt to set a non-writable parameter",
            FaultCode::NotificationRejected => "Notification request rejected",
        }
    }
}

/// One SetParameterValuesFault entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterFault {
    pub name: String,
    pub code: u32,
    pub message: String,
}

/// A CPE fault (SOAP Fault detail `cwmp:Fault`). For SetParameterValues the code is 9003 with
/// one [`ParameterFault`] per failing parameter; other operations leave the list empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CWMP fault {code}: {message}")]
pub struct CpeFault {
    pub code: u32,
    pub message: String,
    pub parameter_faults: Vec<ParameterFault>,
}

impl CpeFault {
    /// A fault with the standard FaultString followed by `detail` (when not empty).
    pub fn new(code: FaultCode, detail: impl AsRef<str>) -> CpeFault {
        let detail = detail.as_ref();
        let message = if detail.is_empty() {
            code.message().to_owned()
        } else {
            format!("{}: {detail}", code.message())
        };
        CpeFault {
            code: code.code(),
            message,
            parameter_faults: Vec::new(),
        }
    }

    /// 9000 for an RPC the profile does not list.
    pub fn method_not_supported(method: &str) -> CpeFault {
        CpeFault::new(FaultCode::MethodNotSupported, method)
    }

    fn invalid_name(name: impl AsRef<str>) -> CpeFault {
        CpeFault::new(FaultCode::InvalidParameterName, name)
    }

    fn invalid_arguments(detail: impl AsRef<str>) -> CpeFault {
        CpeFault::new(FaultCode::InvalidArguments, detail)
    }
}

// ---------------------------------------------------------------------------------------------
// Values

/// Checks that `value` is a valid lexical value of `ty` (TR-069 A.2.1 / XML Schema):
/// int/unsignedInt/long/unsignedLong in range, boolean `0`/`1`/`true`/`false`, dateTime
/// `YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]`, base64, even-length hex, decimal. Strings are free.
pub fn check_value(ty: XsdType, value: &str) -> Result<(), String> {
    let ok = match ty {
        XsdType::String => true,
        XsdType::Int => value.parse::<i32>().is_ok(),
        XsdType::UnsignedInt => value.parse::<u32>().is_ok(),
        XsdType::Long => value.parse::<i64>().is_ok(),
        XsdType::UnsignedLong => value.parse::<u64>().is_ok(),
        XsdType::Boolean => matches!(value, "0" | "1" | "true" | "false"),
        XsdType::DateTime => is_date_time(value),
        XsdType::Base64Binary => is_base64(value),
        XsdType::HexBinary => {
            value.len().is_multiple_of(2) && value.bytes().all(|b| b.is_ascii_hexdigit())
        }
        XsdType::Decimal => is_decimal(value),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{value:?} is not a valid {ty}"))
    }
}

fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 19 || !s.is_ascii() {
        return false;
    }
    let digits = |from: usize, to: usize| b[from..to].iter().all(u8::is_ascii_digit);
    let shape = digits(0, 4)
        && b[4] == b'-'
        && digits(5, 7)
        && b[7] == b'-'
        && digits(8, 10)
        && b[10] == b'T'
        && digits(11, 13)
        && b[13] == b':'
        && digits(14, 16)
        && b[16] == b':'
        && digits(17, 19);
    if !shape {
        return false;
    }
    let num = |from: usize, to: usize| s[from..to].parse::<u32>().unwrap_or(u32::MAX);
    let (month, day, hour, minute, second) =
        (num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &fraction[n..];
    }
    match rest.as_bytes() {
        [] | [b'Z'] => true,
        [b'+' | b'-', _, _, b':', _, _] => {
            rest[1..3].parse::<u32>().is_ok_and(|h| h <= 14)
                && rest[4..6].parse::<u32>().is_ok_and(|m| m <= 59)
        }
        _ => false,
    }
}

fn is_base64(s: &str) -> bool {
    let b: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    pad <= 2
        && b[..b.len() - pad]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

fn is_decimal(s: &str) -> bool {
    // XML Schema: (+|-)?([0-9]+(.[0-9]*)?|.[0-9]+)
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    (!int.is_empty() || !frac.is_empty())
        && int.bytes().all(|c| c.is_ascii_digit())
        && frac.bytes().all(|c| c.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------------
// Device variables and templates

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
struct Template(Box<[Piece]>);

impl Template {
    fn parse(s: &str, allow_instance: bool) -> Result<Template, String> {
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

    fn render(&self, profile: &Profile, vars: &DeviceVars, instance: u32) -> String {
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

// ---------------------------------------------------------------------------------------------
// Schema (shared by all devices of one profile)

/// Index into `Schema::defs` (a profile has at most 65,535 parameters and template parameters).
type DefId = u16;

/// One parameter definition: a static parameter of the profile (full name) or a table template
/// parameter (name relative to the instance).
#[derive(Debug)]
struct Def {
    name: Box<str>,
    ty: XsdType,
    writable: bool,
    secret: bool,
    notification: u8,
    active_notify: ActiveNotify,
    enumeration: Option<Box<[Box<str>]>>,
    max_length: Option<u32>,
    default: Template,
    /// The table this parameter belongs to (template parameters, and static parameters of the
    /// instances a profile lists).
    table: Option<u16>,
    /// For static parameters inside a table: their instance number; otherwise 0.
    inst: u32,
    /// Sort key: rows sort by (major, instance, minor).
    major: u32,
    minor: u32,
}

impl Def {
    fn check(&self, value: &str) -> Result<(), String> {
        check_value(self.ty, value)?;
        if let Some(max) = self.max_length
            && value.chars().count() > max as usize
        {
            return Err(format!("longer than {max} characters"));
        }
        if let Some(allowed) = &self.enumeration
            && !allowed.iter().any(|a| **a == *value)
        {
            let list: Vec<&str> = allowed.iter().map(|a| &**a).collect();
            return Err(format!("{value:?} is not one of {}", list.join(", ")));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Table {
    path: Box<str>,
    template: std::ops::Range<DefId>,
    count: Option<DefId>,
    max: Option<u32>,
    first_free: u32,
    major: u32,
}

/// A compiled profile, shared by every device of that kind.
#[derive(Debug)]
pub struct Schema {
    profile: Profile,
    defs: Vec<Def>,
    /// `defs[..n_static]` are `profile.parameters`, in profile order.
    n_static: usize,
    tables: Vec<Table>,
    by_name: HashMap<Box<str>, DefId>,
    /// The static definitions in tree order: a fresh device's rows.
    initial: Vec<DefId>,
    inform: Vec<DefId>,
    parameter_key: Option<DefId>,
    user_agent: Option<Template>,
}

fn is_number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn segments(name: &str) -> impl Iterator<Item = &str> {
    name.strip_suffix('.').unwrap_or(name).split('.')
}

fn pattern_segment(s: &str) -> &str {
    if s == "{i}" || is_number(s).is_some() {
        "{i}"
    } else {
        s
    }
}

/// Sibling ranks: each path pattern (instance numbers as `{i}`) numbered in order of first
/// appearance in the profile.
#[derive(Debug, Default)]
struct Ranks(HashMap<String, u32>);

impl Ranks {
    fn add(&mut self, name: &str) {
        let mut pattern = String::new();
        for seg in segments(name) {
            if !pattern.is_empty() {
                pattern.push('.');
            }
            pattern.push_str(pattern_segment(seg));
            let next = self.0.len() as u32;
            self.0.entry(pattern.clone()).or_insert(next);
        }
    }

    /// Tree order: parents before children, siblings by rank, instances by number.
    fn order(&self, a: &str, b: &str) -> Ordering {
        let (sa, sb): (Vec<&str>, Vec<&str>) = (segments(a).collect(), segments(b).collect());
        let mut pattern = String::new();
        for (x, y) in sa.iter().zip(&sb) {
            if x != y {
                return match (is_number(x), is_number(y)) {
                    (Some(p), Some(q)) => p.cmp(&q),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => {
                        let rank = |s: &str| {
                            self.0
                                .get(&format!("{pattern}{s}"))
                                .copied()
                                .unwrap_or(u32::MAX)
                        };
                        rank(x).cmp(&rank(y)).then_with(|| x.cmp(y))
                    }
                };
            }
            pattern.push_str(pattern_segment(x));
            pattern.push('.');
        }
        sa.len().cmp(&sb.len())
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name.split('.').all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

impl Schema {
    /// Validates and compiles a profile.
    pub fn new(profile: &Profile) -> Result<Arc<Schema>, ProfileError> {
        let bad = |m: String| Err(profile.invalid(m));
        if profile.name.is_empty()
            || profile.manufacturer.is_empty()
            || profile.product_class.is_empty()
        {
            return bad("name, manufacturer and product_class must not be empty".into());
        }
        if profile.root != "Device." && profile.root != "InternetGatewayDevice." {
            return bad(format!(
                "root must be \"Device.\" or \"InternetGatewayDevice.\", not {:?}",
                profile.root
            ));
        }
        if profile.oui.len() != 6
            || !profile
                .oui
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            return bad(format!(
                "oui must be 6 upper-case hex digits, not {:?}",
                profile.oui
            ));
        }
        let sample = DeviceVars::sample(profile);
        let root = profile.root.as_str();
        let total = profile.parameters.len()
            + profile
                .tables
                .iter()
                .map(|t| t.template.len())
                .sum::<usize>();
        if total > usize::from(DefId::MAX) {
            return bad(format!(
                "{total} parameters and template parameters: at most {} are supported",
                DefId::MAX
            ));
        }

        // Tables.
        for (i, t) in profile.tables.iter().enumerate() {
            let Some(inner) = t.table.strip_suffix('.') else {
                return bad(format!("table path {:?} must end with \".\"", t.table));
            };
            if !t.table.starts_with(root) || !valid_name(inner) {
                return bad(format!(
                    "table path {:?} is not a valid path under {root}",
                    t.table
                ));
            }
            if t.template.is_empty() {
                return bad(format!("table {} has an empty template", t.table));
            }
            for (j, u) in profile.tables.iter().enumerate() {
                if i != j && t.table.starts_with(u.table.as_str()) {
                    return bad(format!(
                        "table {} is nested in table {}: nested tables are not supported",
                        t.table, u.table
                    ));
                }
            }
        }

        let mut defs: Vec<Def> = Vec::new();
        let mut by_name: HashMap<Box<str>, DefId> = HashMap::new();
        let compile = |spec: &ParameterSpec,
                       allow_instance: bool,
                       shown: &str|
         -> Result<Def, ProfileError> {
            let invalid = |m: String| profile.invalid(format!("parameter {shown}: {m}"));
            let default = Template::parse(&spec.value, allow_instance).map_err(invalid)?;
            let notification = spec.initial_notification();
            if notification > 2 {
                return Err(invalid(format!(
                    "notification must be 0, 1 or 2, not {notification}"
                )));
            }
            if spec.active_notify == ActiveNotify::ForceEnabled && notification != 2 {
                return Err(invalid("forceEnabled requires notification 2".into()));
            }
            if spec.active_notify == ActiveNotify::CanDeny && notification == 2 {
                return Err(invalid(
                    "canDeny parameters cannot start with active notification".into(),
                ));
            }
            let def = Def {
                name: spec.name.as_str().into(),
                ty: spec.ty,
                writable: spec.writable,
                secret: spec.secret,
                notification,
                active_notify: spec.active_notify,
                enumeration: spec
                    .enumeration
                    .as_ref()
                    .map(|e| e.iter().map(|s| s.as_str().into()).collect()),
                max_length: spec.max_length,
                default,
                table: None,
                inst: 0,
                major: 0,
                minor: 0,
            };
            let value = def.default.render(profile, &sample, 1);
            def.check(&value)
                .map_err(|m| invalid(format!("default value: {m}")))?;
            Ok(def)
        };

        // Static parameters.
        for spec in &profile.parameters {
            let name = spec.name.as_str();
            if !name.starts_with(root) || !valid_name(name) {
                return bad(format!(
                    "parameter name {name:?} is invalid or outside the root {root}"
                ));
            }
            let mut def = compile(spec, false, name)?;
            if let Some((t, table)) = profile
                .tables
                .iter()
                .enumerate()
                .find(|(_, t)| name.starts_with(t.table.as_str()))
            {
                let rest = &name[table.table.len()..];
                let Some((inst, rel)) = rest
                    .split_once('.')
                    .and_then(|(n, rel)| Some((is_number(n)?, rel)))
                else {
                    return bad(format!(
                        "parameter {name} is inside table {} but not in a numbered instance",
                        table.table
                    ));
                };
                let Some(tspec) = table.template.iter().find(|s| s.name == rel) else {
                    return bad(format!(
                        "parameter {name}: {rel} is not in the template of table {}",
                        table.table
                    ));
                };
                if tspec.ty != spec.ty || tspec.writable != spec.writable {
                    return bad(format!(
                        "parameter {name}: type or writability differs from the template of {}",
                        table.table
                    ));
                }
                def.table = Some(t as u16);
                def.inst = inst;
            }
            if by_name.insert(name.into(), defs.len() as DefId).is_some() {
                return bad(format!("duplicate parameter {name}"));
            }
            defs.push(def);
        }
        let n_static = defs.len();

        // A name cannot be both a parameter and an object.
        let mut objects: HashSet<&str> = HashSet::new();
        for name in profile
            .parameters
            .iter()
            .map(|p| p.name.as_str())
            .chain(profile.tables.iter().map(|t| t.table.as_str()))
        {
            for (i, _) in name.match_indices('.') {
                objects.insert(&name[..=i]);
            }
        }
        for p in &profile.parameters {
            if objects.contains(format!("{}.", p.name).as_str()) {
                return bad(format!("{} is both a parameter and an object", p.name));
            }
        }

        // Table templates.
        let mut tables = Vec::new();
        for (t, spec) in profile.tables.iter().enumerate() {
            let start = defs.len() as DefId;
            let mut rel_objects: HashSet<String> = HashSet::new();
            for p in &spec.template {
                for (i, _) in p.name.match_indices('.') {
                    rel_objects.insert(p.name[..=i].to_owned());
                }
            }
            for p in &spec.template {
                let shown = format!("{}{{i}}.{}", spec.table, p.name);
                if !valid_name(&p.name) || rel_objects.contains(&format!("{}.", p.name)) {
                    return bad(format!("template parameter name {shown:?} is not valid"));
                }
                if defs[start as usize..].iter().any(|d| *d.name == *p.name) {
                    return bad(format!("duplicate template parameter {shown}"));
                }
                let mut def = compile(p, true, &shown)?;
                def.table = Some(t as u16);
                def.minor = (defs.len() - usize::from(start)) as u32;
                defs.push(def);
            }
            let end = defs.len() as DefId;
            let static_insts: HashSet<u32> = defs[..n_static]
                .iter()
                .filter(|d| d.table == Some(t as u16))
                .map(|d| d.inst)
                .collect();
            for inst in &static_insts {
                let listed = defs[..n_static]
                    .iter()
                    .filter(|d| d.table == Some(t as u16) && d.inst == *inst)
                    .count();
                if listed != spec.template.len() {
                    return bad(format!(
                        "instance {}{inst}. lists {listed} of the {} template parameters: list all or none",
                        spec.table,
                        spec.template.len()
                    ));
                }
            }
            let count = match &spec.count_parameter {
                None => None,
                Some(c) => {
                    let idx = by_name.get(c.as_str()).copied();
                    let Some(idx) = idx.filter(|&i| {
                        defs[i as usize].ty == XsdType::UnsignedInt
                            && defs[i as usize].table.is_none()
                    }) else {
                        return bad(format!(
                            "count_parameter {c} of table {} must be an unsignedInt parameter outside tables",
                            spec.table
                        ));
                    };
                    let value = defs[idx as usize].default.render(profile, &sample, 0);
                    if value != static_insts.len().to_string() {
                        return bad(format!(
                            "{c} is {value} but the profile lists {} instances of {}",
                            static_insts.len(),
                            spec.table
                        ));
                    }
                    Some(idx)
                }
            };
            if let Some(max) = spec.max_instances
                && (static_insts.len() as u32) > max
            {
                return bad(format!(
                    "table {} lists more instances than max_instances",
                    spec.table
                ));
            }
            tables.push(Table {
                path: spec.table.as_str().into(),
                template: start..end,
                count,
                max: spec.max_instances,
                first_free: static_insts.iter().max().map_or(1, |m| m + 1),
                major: 0,
            });
        }
        // Static instance parameters sort by their position in the template.
        for i in 0..n_static {
            if let Some(t) = defs[i].table {
                let table = &tables[usize::from(t)];
                let rel = defs[i].name[table.path.len()..]
                    .split_once('.')
                    .map_or("", |(_, r)| r)
                    .to_owned();
                let template =
                    &defs[usize::from(table.template.start)..usize::from(table.template.end)];
                defs[i].minor = template.iter().position(|d| *d.name == *rel).unwrap_or(0) as u32;
            }
        }

        // Tree order: items are the static parameters outside tables and the tables.
        let mut ranks = Ranks::default();
        profile.parameters.iter().for_each(|p| ranks.add(&p.name));
        for t in &profile.tables {
            ranks.add(&t.table);
            t.template
                .iter()
                .for_each(|p| ranks.add(&format!("{}{{i}}.{}", t.table, p.name)));
        }
        enum Item {
            Def(usize),
            Table(usize),
        }
        let mut items: Vec<(&str, Item)> = (0..n_static)
            .filter(|&i| defs[i].table.is_none())
            .map(|i| (profile.parameters[i].name.as_str(), Item::Def(i)))
            .chain(
                profile
                    .tables
                    .iter()
                    .enumerate()
                    .map(|(t, s)| (s.table.as_str(), Item::Table(t))),
            )
            .collect();
        items.sort_by(|a, b| ranks.order(a.0, b.0));
        for (major, (_, item)) in items.iter().enumerate() {
            match item {
                Item::Def(i) => defs[*i].major = major as u32,
                Item::Table(t) => tables[*t].major = major as u32,
            }
        }
        for d in defs.iter_mut() {
            if let Some(t) = d.table {
                d.major = tables[t as usize].major;
            }
        }
        let mut initial: Vec<DefId> = (0..n_static as DefId).collect();
        initial.sort_by_key(|&i| {
            (
                defs[i as usize].major,
                defs[i as usize].inst,
                defs[i as usize].minor,
            )
        });

        let mut inform = Vec::new();
        for name in &profile.inform_parameters {
            match by_name.get(name.as_str()) {
                Some(&i) => inform.push(i),
                None => {
                    return bad(format!(
                        "inform parameter {name} is not a parameter of the profile"
                    ));
                }
            }
        }
        let user_agent = match &profile.user_agent {
            Some(ua) => Some(
                Template::parse(ua, false)
                    .map_err(|m| profile.invalid(format!("user_agent: {m}")))?,
            ),
            None => None,
        };
        Ok(Arc::new(Schema {
            parameter_key: by_name
                .get(format!("{root}ManagementServer.ParameterKey").as_str())
                .copied(),
            profile: profile.clone(),
            defs,
            n_static,
            tables,
            by_name,
            initial,
            inform,
            user_agent,
        }))
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The paths that accept AddObject.
    pub fn table_paths(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(|t| &*t.path)
    }
}

// ---------------------------------------------------------------------------------------------
// Per-device model

/// A (name, type, value) triple of a ParameterValueStruct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamValue {
    pub name: String,
    pub ty: XsdType,
    pub value: String,
}

/// A ParameterInfoStruct; object names end in ".".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    pub name: String,
    pub writable: bool,
}

/// A ParameterAttributeStruct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamAttributes {
    pub name: String,
    pub notification: u8,
    pub access_list: Vec<String>,
}

/// A SetParameterAttributesStruct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetAttributes {
    pub name: String,
    pub notification_change: bool,
    pub notification: u8,
    pub access_list_change: bool,
    pub access_list: Vec<String>,
}

/// The only AccessList entry TR-069 defines.
pub const SUBSCRIBER: &str = "Subscriber";

const FLAG_SUBSCRIBER: u8 = 1;
const FLAG_CHANGED: u8 = 2;

/// One parameter of one device: 24 bytes, plus the value once it differs from the default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    /// The value, once it differs from the rendered default.
    value: Option<Box<str>>,
    inst: u32,
    def: DefId,
    notification: u8,
    flags: u8,
}

/// One simulated device's parameter tree.
#[derive(Debug, Clone)]
pub struct DataModel {
    schema: Arc<Schema>,
    vars: DeviceVars,
    /// Sorted by (major, inst, minor): tree order.
    rows: Vec<Row>,
    next_instance: Box<[u32]>,
}

impl DataModel {
    /// A fresh device of a compiled profile (cheap: share `schema` between devices).
    pub fn new(schema: Arc<Schema>, vars: DeviceVars) -> DataModel {
        let rows = Self::initial_rows(&schema);
        let next_instance = schema.tables.iter().map(|t| t.first_free).collect();
        DataModel {
            schema,
            vars,
            rows,
            next_instance,
        }
    }

    /// Compiles the profile and instantiates one device. For many devices, compile once with
    /// [`Schema::new`] and use [`DataModel::new`].
    pub fn from_profile(profile: &Profile, vars: &DeviceVars) -> Result<DataModel, ProfileError> {
        Ok(DataModel::new(Schema::new(profile)?, vars.clone()))
    }

    fn initial_rows(schema: &Schema) -> Vec<Row> {
        schema
            .initial
            .iter()
            .map(|&d| {
                let def = &schema.defs[d as usize];
                Row {
                    def: d,
                    inst: def.inst,
                    value: None,
                    notification: def.notification,
                    flags: 0,
                }
            })
            .collect()
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    pub fn profile(&self) -> &Profile {
        &self.schema.profile
    }

    pub fn vars(&self) -> &DeviceVars {
        &self.vars
    }

    /// The number of parameters (leaves) the device has now.
    pub fn parameter_count(&self) -> usize {
        self.rows.len()
    }

    /// The profile's User-Agent template rendered for this device.
    pub fn user_agent(&self) -> Option<String> {
        self.schema
            .user_agent
            .as_ref()
            .map(|t| t.render(&self.schema.profile, &self.vars, 0))
    }

    /// Approximate heap and inline bytes this device uses, not counting the shared schema.
    pub fn heap_bytes(&self) -> usize {
        let v = &self.vars;
        std::mem::size_of::<Self>()
            + self.rows.capacity() * std::mem::size_of::<Row>()
            + self
                .rows
                .iter()
                .map(|r| r.value.as_ref().map_or(0, |s| s.len()))
                .sum::<usize>()
            + [&v.serial, &v.mac, &v.ip, &v.cr_url, &v.acs_url]
                .iter()
                .map(|s| s.capacity())
                .sum::<usize>()
            + self.next_instance.len() * 4
    }

    // ----- internals

    fn def(&self, row: &Row) -> &Def {
        &self.schema.defs[row.def as usize]
    }

    fn key(&self, row: &Row) -> (u32, u32, u32) {
        let d = self.def(row);
        (d.major, row.inst, d.minor)
    }

    fn row_name(&self, row: &Row) -> Cow<'_, str> {
        let d = self.def(row);
        if (row.def as usize) < self.schema.n_static {
            Cow::Borrowed(&d.name)
        } else {
            let t = &self.schema.tables[d.table.unwrap_or_default() as usize];
            Cow::Owned(format!("{}{}.{}", t.path, row.inst, d.name))
        }
    }

    fn default_value(&self, row: &Row) -> String {
        self.def(row)
            .default
            .render(&self.schema.profile, &self.vars, row.inst)
    }

    fn real_value(&self, row: &Row) -> String {
        match &row.value {
            Some(v) => v.to_string(),
            None => self.default_value(row),
        }
    }

    fn param_value(&self, row: &Row) -> ParamValue {
        let d = self.def(row);
        let value = if d.secret {
            String::new()
        } else {
            self.real_value(row)
        };
        ParamValue {
            name: self.row_name(row).into_owned(),
            ty: d.ty,
            value,
        }
    }

    fn store(&mut self, idx: usize, value: &str) {
        let default = self.default_value(&self.rows[idx]);
        self.rows[idx].value = if value == default {
            None
        } else {
            Some(value.into())
        };
    }

    /// The row of a full parameter name.
    fn find(&self, name: &str) -> Option<usize> {
        if let Some(&d) = self.schema.by_name.get(name) {
            return self.rows.iter().position(|r| r.def == d);
        }
        for (t, table) in self.schema.tables.iter().enumerate() {
            let Some(rest) = name.strip_prefix(&*table.path) else {
                continue;
            };
            let (n, rel) = rest.split_once('.')?;
            let inst = is_number(n)?;
            let range = table.template.clone();
            let d = range
                .clone()
                .find(|&d| *self.schema.defs[d as usize].name == *rel)?;
            debug_assert_eq!(self.schema.defs[d as usize].table, Some(t as u16));
            return self.rows.iter().position(|r| r.def == d && r.inst == inst);
        }
        None
    }

    fn object_exists(&self, path: &str) -> bool {
        path == self.schema.profile.root
            || self.schema.tables.iter().any(|t| t.path.starts_with(path))
            || self.rows.iter().any(|r| self.row_name(r).starts_with(path))
    }

    /// Rows named by a GetParameterValues/Attributes name: "" = all, a path ending in "." = all
    /// below it, otherwise one parameter. `None` if it names nothing.
    fn resolve(&self, name: &str) -> Option<Vec<usize>> {
        if name.is_empty() {
            Some((0..self.rows.len()).collect())
        } else if name.ends_with('.') {
            if !self.object_exists(name) {
                return None;
            }
            Some(
                (0..self.rows.len())
                    .filter(|&i| self.row_name(&self.rows[i]).starts_with(name))
                    .collect(),
            )
        } else {
            self.find(name).map(|i| vec![i])
        }
    }

    fn set_parameter_key(&mut self, key: &str) {
        if let Some(d) = self.schema.parameter_key
            && let Some(i) = self.rows.iter().position(|r| r.def == d)
        {
            self.store(i, key);
        }
    }

    fn check_key(key: &str) -> Result<(), CpeFault> {
        if key.chars().count() > 32 {
            return Err(CpeFault::invalid_arguments(
                "ParameterKey longer than 32 characters",
            ));
        }
        Ok(())
    }

    fn instance_count(&self, table: u16) -> u32 {
        let mut count = 0;
        let mut last = None;
        for r in &self.rows {
            if self.def(r).table == Some(table) && last != Some(r.inst) {
                count += 1;
                last = Some(r.inst);
            }
        }
        count
    }

    fn update_count(&mut self, table: u16) {
        if let Some(c) = self.schema.tables[table as usize].count
            && let Some(i) = self.rows.iter().position(|r| r.def == c)
        {
            let n = self.instance_count(table).to_string();
            self.store(i, &n);
        }
    }

    /// Whether an object path (ending in ".") accepts AddObject (a table) or DeleteObject (an
    /// instance of one): GetParameterNames reports that as the object's Writable.
    fn object_writable(&self, path: &str) -> bool {
        self.schema.tables.iter().any(|t| {
            *t.path == *path
                || path
                    .strip_prefix(&*t.path)
                    .and_then(|r| r.strip_suffix('.'))
                    .is_some_and(|n| is_number(n).is_some())
        })
    }

    /// The whole tree in order: every object (name ending ".") before its children.
    fn tree(&self) -> Vec<ParamInfo> {
        enum Entry {
            Row(usize),
            EmptyTable(usize),
        }
        let mut entries: Vec<((u32, u32, u32), Entry)> = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (self.key(r), Entry::Row(i)))
            .collect();
        for (t, table) in self.schema.tables.iter().enumerate() {
            if self.instance_count(t as u16) == 0 {
                entries.push(((table.major, 0, 0), Entry::EmptyTable(t)));
            }
        }
        entries.sort_by_key(|e| e.0);
        let mut out = Vec::with_capacity(entries.len() * 3 / 2);
        let mut prev = String::new();
        for (_, entry) in entries {
            let name: Cow<'_, str> = match entry {
                Entry::Row(i) => self.row_name(&self.rows[i]),
                Entry::EmptyTable(t) => Cow::Borrowed(&*self.schema.tables[t].path),
            };
            for (i, _) in name.match_indices('.') {
                let object = &name[..=i];
                if !prev.starts_with(object) {
                    out.push(ParamInfo {
                        name: object.to_owned(),
                        writable: self.object_writable(object),
                    });
                }
            }
            if let Entry::Row(i) = entry {
                out.push(ParamInfo {
                    name: name.to_string(),
                    writable: self.def(&self.rows[i]).writable,
                });
            }
            prev = name.into_owned();
        }
        out
    }

    // ----- RPCs

    /// GetParameterValues: full names, partial paths ending in "." (every parameter below, in
    /// order) and "" (the whole tree). Any unknown name fails the call with 9005. Secret
    /// parameters (passwords) read back empty.
    pub fn get_values<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<ParamValue>, CpeFault> {
        let mut out = Vec::new();
        for name in names {
            let name = name.as_ref();
            let rows = self
                .resolve(name)
                .ok_or_else(|| CpeFault::invalid_name(name))?;
            out.extend(rows.into_iter().map(|i| self.param_value(&self.rows[i])));
        }
        Ok(out)
    }

    /// GetParameterNames. `""` with NextLevel lists only the root object; `""` without it the
    /// whole tree (root object included). A partial path without NextLevel lists the object
    /// itself and everything below it; with NextLevel only its direct children. A full
    /// parameter name lists just that parameter, and is 9003 with NextLevel. Objects end in
    /// "."; an object's Writable says whether it accepts AddObject (a table) or DeleteObject (an
    /// instance). Unknown paths: 9005.
    pub fn get_names(&self, path: &str, next_level: bool) -> Result<Vec<ParamInfo>, CpeFault> {
        if path.is_empty() {
            if next_level {
                return Ok(vec![ParamInfo {
                    name: self.schema.profile.root.clone(),
                    writable: false,
                }]);
            }
            return Ok(self.tree());
        }
        if !path.ends_with('.') {
            let i = self
                .find(path)
                .ok_or_else(|| CpeFault::invalid_name(path))?;
            if next_level {
                return Err(CpeFault::invalid_arguments(
                    "NextLevel is true for a parameter name",
                ));
            }
            return Ok(vec![ParamInfo {
                name: path.to_owned(),
                writable: self.def(&self.rows[i]).writable,
            }]);
        }
        let tree = self.tree();
        if !tree.iter().any(|e| e.name == path) {
            return Err(CpeFault::invalid_name(path));
        }
        Ok(tree
            .into_iter()
            .filter(|e| {
                let Some(rest) = e.name.strip_prefix(path) else {
                    return false;
                };
                if !next_level {
                    return true;
                }
                !rest.is_empty() && rest.find('.').is_none_or(|i| i == rest.len() - 1)
            })
            .collect())
    }

    /// SetParameterValues, atomic: every entry is checked first and nothing is applied unless
    /// all pass. Entries are (name, value, xsi:type); the type may carry a prefix (`xsd:int`)
    /// or be empty (not checked). Per-parameter faults: 9005 unknown name, 9008 not writable,
    /// 9006 type differs from the parameter's, 9007 value invalid for the type (or outside the
    /// parameter's enumeration / length), reported together under 9003. A name given twice, or
    /// a ParameterKey over 32 characters, is 9003 without per-parameter faults. On success the
    /// ParameterKey is stored and the status is 0 (applied). Changes made by the ACS do not
    /// count as value changes for notification.
    pub fn set_values<N, V, T>(
        &mut self,
        params: &[(N, V, T)],
        parameter_key: &str,
    ) -> Result<u8, CpeFault>
    where
        N: AsRef<str>,
        V: AsRef<str>,
        T: AsRef<str>,
    {
        Self::check_key(parameter_key)?;
        let mut seen = HashSet::new();
        let mut faults = Vec::new();
        let mut plan = Vec::with_capacity(params.len());
        for (name, value, ty) in params {
            let (name, value, ty) = (name.as_ref(), value.as_ref(), ty.as_ref());
            if !seen.insert(name) {
                return Err(CpeFault::invalid_arguments(format!(
                    "{name} appears more than once"
                )));
            }
            match self.check_set(name, value, ty) {
                Ok(i) => plan.push((i, value)),
                Err((code, detail)) => {
                    let message = format!("{}: {detail}", code.message());
                    faults.push(ParameterFault {
                        name: name.to_owned(),
                        code: code.code(),
                        message,
                    });
                }
            }
        }
        if !faults.is_empty() {
            let mut fault = CpeFault::new(FaultCode::InvalidArguments, "");
            fault.parameter_faults = faults;
            return Err(fault);
        }
        for (i, value) in plan {
            self.store(i, value);
        }
        self.set_parameter_key(parameter_key);
        Ok(0)
    }

    fn check_set(&self, name: &str, value: &str, ty: &str) -> Result<usize, (FaultCode, String)> {
        let i = self
            .find(name)
            .ok_or((FaultCode::InvalidParameterName, name.to_owned()))?;
        let def = self.def(&self.rows[i]);
        if !def.writable {
            return Err((FaultCode::NotWritable, name.to_owned()));
        }
        if !ty.is_empty() && XsdType::parse(ty) != Some(def.ty) {
            return Err((
                FaultCode::InvalidParameterType,
                format!("{name} is {}, not {ty}", def.ty.xsd_name()),
            ));
        }
        def.check(value)
            .map_err(|m| (FaultCode::InvalidParameterValue, m))?;
        Ok(i)
    }

    /// GetParameterAttributes; names as for [`DataModel::get_values`].
    pub fn get_attributes<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<Vec<ParamAttributes>, CpeFault> {
        let mut out = Vec::new();
        for name in names {
            let name = name.as_ref();
            for i in self
                .resolve(name)
                .ok_or_else(|| CpeFault::invalid_name(name))?
            {
                let r = &self.rows[i];
                out.push(ParamAttributes {
                    name: self.row_name(r).into_owned(),
                    notification: r.notification,
                    access_list: if r.flags & FLAG_SUBSCRIBER != 0 {
                        vec![SUBSCRIBER.to_owned()]
                    } else {
                        Vec::new()
                    },
                });
            }
        }
        Ok(out)
    }

    /// SetParameterAttributes, all or nothing. Names as for GetParameterValues. Notification
    /// 0–2; 3–6 (lightweight, CWMP 1.4) are refused with 9009, larger values with 9003. A
    /// parameter that denies Active notification (`canDeny`), or forces it (`forceEnabled`), makes
    /// a request naming it fully fail with 9009; through a partial path it is skipped. The only
    /// AccessList entry accepted is "Subscriber" (else 9003). Unknown names: 9005.
    pub fn set_attributes(&mut self, attrs: &[SetAttributes]) -> Result<(), CpeFault> {
        let mut plan: Vec<(Vec<usize>, &SetAttributes)> = Vec::with_capacity(attrs.len());
        for a in attrs {
            if a.notification_change {
                match a.notification {
                    0..=2 => {}
                    3..=6 => {
                        return Err(CpeFault::new(
                            FaultCode::NotificationRejected,
                            "lightweight notification is not supported",
                        ));
                    }
                    n => return Err(CpeFault::invalid_arguments(format!("Notification {n}"))),
                }
            }
            if a.access_list_change
                && let Some(bad) = a.access_list.iter().find(|e| *e != SUBSCRIBER)
            {
                return Err(CpeFault::invalid_arguments(format!(
                    "AccessList entry {bad:?}"
                )));
            }
            let mut rows = self
                .resolve(&a.name)
                .ok_or_else(|| CpeFault::invalid_name(&a.name))?;
            if a.notification_change {
                let full = !a.name.is_empty() && !a.name.ends_with('.');
                let denied = |r: &Row| match self.def(r).active_notify {
                    ActiveNotify::CanDeny => a.notification == 2,
                    ActiveNotify::ForceEnabled => a.notification != 2,
                    ActiveNotify::Normal | ActiveNotify::ForceDefaultEnabled => false,
                };
                if full && rows.iter().any(|&i| denied(&self.rows[i])) {
                    return Err(CpeFault::new(FaultCode::NotificationRejected, &a.name));
                }
                rows.retain(|&i| !denied(&self.rows[i]));
            }
            plan.push((rows, a));
        }
        for (rows, a) in plan {
            for i in rows {
                let r = &mut self.rows[i];
                if a.notification_change {
                    r.notification = a.notification;
                    if a.notification == 0 {
                        r.flags &= !FLAG_CHANGED;
                    }
                }
                if a.access_list_change {
                    if a.access_list.is_empty() {
                        r.flags &= !FLAG_SUBSCRIBER;
                    } else {
                        r.flags |= FLAG_SUBSCRIBER;
                    }
                }
            }
        }
        Ok(())
    }

    /// AddObject on a table the profile declares (path ending in "."): creates the next instance
    /// from the template and returns (instance number, status 0). Instance numbers only grow and
    /// are never reused (until a factory reset). 9005 for any other path, 9004 past the table's
    /// `max_instances`, 9003 for a ParameterKey over 32 characters.
    pub fn add_object(
        &mut self,
        table_path: &str,
        parameter_key: &str,
    ) -> Result<(u32, u8), CpeFault> {
        Self::check_key(parameter_key)?;
        let t = self
            .schema
            .tables
            .iter()
            .position(|t| *t.path == *table_path)
            .ok_or_else(|| {
                CpeFault::invalid_name(format!("{table_path} does not accept AddObject"))
            })?;
        let table = &self.schema.tables[t];
        if table
            .max
            .is_some_and(|max| self.instance_count(t as u16) >= max)
        {
            return Err(CpeFault::new(
                FaultCode::ResourcesExceeded,
                format!("{table_path} is full"),
            ));
        }
        let inst = self.next_instance[t];
        self.next_instance[t] = inst.checked_add(1).ok_or_else(|| {
            CpeFault::new(FaultCode::ResourcesExceeded, "instance numbers exhausted")
        })?;
        let pos = self
            .rows
            .partition_point(|r| self.key(r) < (table.major, inst, 0));
        let new_rows: Vec<Row> = table
            .template
            .clone()
            .map(|d| Row {
                def: d,
                inst,
                value: None,
                notification: self.schema.defs[d as usize].notification,
                flags: 0,
            })
            .collect();
        self.rows.splice(pos..pos, new_rows);
        self.update_count(t as u16);
        self.set_parameter_key(parameter_key);
        Ok((inst, 0))
    }

    /// DeleteObject of an instance (`<table><n>.`) of a declared table; returns status 0.
    /// 9005 if the path is not an existing instance of such a table.
    pub fn delete_object(
        &mut self,
        instance_path: &str,
        parameter_key: &str,
    ) -> Result<u8, CpeFault> {
        Self::check_key(parameter_key)?;
        let found = self
            .schema
            .tables
            .iter()
            .enumerate()
            .find_map(|(t, table)| {
                let n = instance_path
                    .strip_prefix(&*table.path)?
                    .strip_suffix('.')?;
                Some((t as u16, is_number(n)?))
            });
        let Some((t, inst)) = found else {
            return Err(CpeFault::invalid_name(format!(
                "{instance_path} is not a deletable instance"
            )));
        };
        let before = self.rows.len();
        let schema = Arc::clone(&self.schema);
        self.rows
            .retain(|r| !(schema.defs[r.def as usize].table == Some(t) && r.inst == inst));
        if self.rows.len() == before {
            return Err(CpeFault::invalid_name(instance_path));
        }
        self.update_count(t);
        self.set_parameter_key(parameter_key);
        Ok(0)
    }

    /// FactoryReset: back to the profile's defaults for this device's variables (values,
    /// attributes, instances and instance numbering); pending value changes are dropped. The
    /// simulator then reboots with `0 BOOTSTRAP`.
    pub fn factory_reset(&mut self) {
        self.rows = Self::initial_rows(&self.schema);
        self.next_instance = self.schema.tables.iter().map(|t| t.first_free).collect();
    }

    /// The Inform ParameterList: the profile's forced-inform parameters, then every parameter
    /// with Notification 1 or 2 whose value changed (through [`DataModel::set_internal`]) since
    /// the last [`DataModel::clear_value_changes`].
    pub fn inform_parameters(&self) -> Vec<ParamValue> {
        let mut out = Vec::new();
        let mut forced = HashSet::new();
        for &d in &self.schema.inform {
            if let Some(r) = self.rows.iter().find(|r| r.def == d) {
                forced.insert((r.def, r.inst));
                out.push(self.param_value(r));
            }
        }
        for r in &self.rows {
            if r.flags & FLAG_CHANGED != 0
                && r.notification > 0
                && !forced.contains(&(r.def, r.inst))
            {
                out.push(self.param_value(r));
            }
        }
        out
    }

    /// Whether the next Inform carries `4 VALUE CHANGE` (a parameter with passive or active
    /// notification changed).
    pub fn value_change_pending(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.flags & FLAG_CHANGED != 0 && r.notification > 0)
    }

    /// Whether a parameter with active notification changed: the CPE should start a session.
    pub fn active_value_change_pending(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.flags & FLAG_CHANGED != 0 && r.notification == 2)
    }

    /// Forgets pending value changes; call once an Inform carrying them has been answered.
    pub fn clear_value_changes(&mut self) {
        for r in &mut self.rows {
            r.flags &= !FLAG_CHANGED;
        }
    }

    /// [`DataModel::value_change_pending`], then [`DataModel::clear_value_changes`].
    pub fn take_value_changes(&mut self) -> bool {
        let pending = self.value_change_pending();
        self.clear_value_changes();
        pending
    }

    /// The real value of a parameter (secrets included), for the simulator itself.
    pub fn value(&self, name: &str) -> Option<String> {
        self.find(name).map(|i| self.real_value(&self.rows[i]))
    }

    /// A change made by the device itself (uptime, new firmware version, new IP address or
    /// connection request URL): no writability check, but the value must be valid (9005,
    /// 9007). Returns whether the value changed; a change of a parameter with Notification 1 or
    /// 2 is reported in the next Inform.
    pub fn set_internal(&mut self, name: &str, value: &str) -> Result<bool, CpeFault> {
        let i = self
            .find(name)
            .ok_or_else(|| CpeFault::invalid_name(name))?;
        let row = &self.rows[i];
        self.def(row)
            .check(value)
            .map_err(|m| CpeFault::new(FaultCode::InvalidParameterValue, m))?;
        if self.real_value(row) == value {
            return Ok(false);
        }
        self.store(i, value);
        let row = &mut self.rows[i];
        if row.notification > 0 {
            row.flags |= FLAG_CHANGED;
        }
        Ok(true)
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}) = {:?}", self.name, self.ty, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CISCO: &str = "cisco-mpp";
    const GW: &str = "tr098-gateway";
    const LINE: &str = "Device.Services.VoiceService.1.VoiceProfile.1.Line.";
    const PM: &str =
        "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.PortMapping.";
    const FWD: &str = "InternetGatewayDevice.Layer3Forwarding.Forwarding.";

    fn device(profile: &str) -> DataModel {
        let p = Profile::builtin(profile).unwrap();
        let vars = DeviceVars::new(
            &p,
            "SIM000042",
            "10.1.2.3",
            "http://10.1.2.3:7547/cr",
            "http://acs.test:7547/",
        );
        DataModel::from_profile(&p, &vars).unwrap()
    }

    fn names(v: &[ParamValue]) -> Vec<&str> {
        v.iter().map(|p| p.name.as_str()).collect()
    }

    fn get(m: &DataModel, name: &str) -> String {
        let v = m.get_values(&[name]).unwrap();
        assert_eq!(v.len(), 1, "{name}");
        v[0].value.clone()
    }

    fn code<T: fmt::Debug>(r: Result<T, CpeFault>) -> u32 {
        r.expect_err("expected a fault").code
    }

    #[test]
    fn check_value_by_type() {
        use XsdType::*;
        let check = |ty: XsdType, v: &str, ok: bool| {
            assert_eq!(check_value(ty, v).is_ok(), ok, "{ty} {v:?}")
        };
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
                check_value(spec.ty, &value)
                    .unwrap_or_else(|e| panic!("{name}: {}: {e}", spec.name));
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
        let check =
            |name: &str, want: &str| assert_eq!(m.value(name).as_deref(), Some(want), "{name}");
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

    fn names_of(v: &[ParamInfo]) -> Vec<&str> {
        v.iter().map(|i| i.name.as_str()).collect()
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
}

//! Simulated CPE profiles: one JSON file describes one kind of device (identity, supported RPCs,
//! forced-inform parameters, the parameter tree with per-device value templates, and the
//! multi-instance tables that accept AddObject). The format is documented in
//! `schemas/profiles/README.md`; [`super::model`] turns a profile into per-device data models.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The profiles compiled into the binary, by name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "cisco-mpp",
        include_str!("../../../schemas/profiles/cisco-mpp.json"),
    ),
    (
        "tr098-gateway",
        include_str!("../../../schemas/profiles/tr098-gateway.json"),
    ),
];

/// Errors loading or validating a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read profile {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("profile is not valid JSON for the profile format: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no built-in profile named {0:?} (built-in: {list})", list = builtin_list())]
    UnknownBuiltin(String),
    #[error("profile {profile:?}: {message}")]
    Invalid { profile: String, message: String },
}

fn builtin_list() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A TR-069 parameter type (the XML Schema type carried in `xsi:type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum XsdType {
    String,
    Int,
    UnsignedInt,
    Long,
    UnsignedLong,
    Boolean,
    DateTime,
    #[serde(alias = "base64")]
    Base64Binary,
    HexBinary,
    Decimal,
}

impl XsdType {
    pub const ALL: [XsdType; 10] = [
        XsdType::String,
        XsdType::Int,
        XsdType::UnsignedInt,
        XsdType::Long,
        XsdType::UnsignedLong,
        XsdType::Boolean,
        XsdType::DateTime,
        XsdType::Base64Binary,
        XsdType::HexBinary,
        XsdType::Decimal,
    ];

    /// The type name without prefix: `unsignedInt`.
    pub fn name(self) -> &'static str {
        match self {
            XsdType::String => "string",
            XsdType::Int => "int",
            XsdType::UnsignedInt => "unsignedInt",
            XsdType::Long => "long",
            XsdType::UnsignedLong => "unsignedLong",
            XsdType::Boolean => "boolean",
            XsdType::DateTime => "dateTime",
            XsdType::Base64Binary => "base64Binary",
            XsdType::HexBinary => "hexBinary",
            XsdType::Decimal => "decimal",
        }
    }

    /// The `xsi:type` value: `xsd:unsignedInt`.
    pub fn xsd_name(self) -> &'static str {
        match self {
            XsdType::String => "xsd:string",
            XsdType::Int => "xsd:int",
            XsdType::UnsignedInt => "xsd:unsignedInt",
            XsdType::Long => "xsd:long",
            XsdType::UnsignedLong => "xsd:unsignedLong",
            XsdType::Boolean => "xsd:boolean",
            XsdType::DateTime => "xsd:dateTime",
            XsdType::Base64Binary => "xsd:base64Binary",
            XsdType::HexBinary => "xsd:hexBinary",
            XsdType::Decimal => "xsd:decimal",
        }
    }

    /// Parses a type name with or without a namespace prefix (`xsd:int`, `xs:int`, `int`);
    /// `base64` is accepted for `base64Binary`. Case-sensitive, as in XML Schema.
    pub fn parse(s: &str) -> Option<XsdType> {
        let local = s.rsplit_once(':').map_or(s, |(_, l)| l);
        if local == "base64" {
            return Some(XsdType::Base64Binary);
        }
        XsdType::ALL.into_iter().find(|t| t.name() == local)
    }
}

impl fmt::Display for XsdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// TR-106 `activeNotify`: how the parameter's Notification attribute may be set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActiveNotify {
    /// Any notification value may be set; default 0 (off) unless `notification` says otherwise.
    #[default]
    Normal,
    /// The CPE refuses Active notification (fault 9009), e.g. UpTime and counters.
    CanDeny,
    /// Active notification is always on (default 2); setting anything else is refused (9009).
    ForceEnabled,
    /// Active notification is on by default (2) but may be changed.
    ForceDefaultEnabled,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// One parameter: a full name in `parameters`, a name relative to the instance in a table's
/// `template`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: XsdType,
    pub writable: bool,
    /// The default value; may contain `{var}` templates (see the README).
    pub value: String,
    /// Reads back as an empty string (passwords), though the value is kept.
    #[serde(default, skip_serializing_if = "is_default")]
    pub secret: bool,
    /// The initial Notification attribute (0 off, 1 passive, 2 active); default 0, or 2 for
    /// `forceEnabled` / `forceDefaultEnabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<u8>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub active_notify: ActiveNotify,
    /// Allowed values (enumerated strings); others are refused with 9007.
    #[serde(default, rename = "enum", skip_serializing_if = "Option::is_none")]
    pub enumeration: Option<Vec<String>>,
    /// Maximum length of a string value; longer values are refused with 9007.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
}

impl ParameterSpec {
    /// The Notification attribute a fresh (or factory-reset) device starts with.
    pub fn initial_notification(&self) -> u8 {
        match (self.notification, self.active_notify) {
            (Some(n), _) => n,
            (None, ActiveNotify::ForceEnabled | ActiveNotify::ForceDefaultEnabled) => 2,
            (None, _) => 0,
        }
    }
}

/// A multi-instance object that accepts AddObject/DeleteObject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// The table path ending in "." (no instance number), e.g.
    /// `Device.Services.VoiceService.1.VoiceProfile.1.Line.`.
    pub table: String,
    /// The parameters of one instance, names relative to `<table><n>.`; `{instance}` is
    /// available in values. Instances listed in `parameters` must use these names.
    pub template: Vec<ParameterSpec>,
    /// An unsignedInt parameter kept equal to the number of instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_parameter: Option<String>,
    /// AddObject beyond this many instances fails with 9004.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
}

/// Protocol-level capabilities of the device, beyond its parameter tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Supports {
    /// The cwmp namespace the device uses in its Inform.
    pub cwmp_namespace: String,
    /// Sent as the `cwmp:SupportedCWMPVersions` header when set (CWMP 1.4 negotiation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supported_cwmp_versions: Option<String>,
    /// FileType values Download accepts (others fail with 9010 in the simulator).
    pub download_file_types: Vec<String>,
    /// FileType values Upload accepts.
    pub upload_file_types: Vec<String>,
    /// Event codes the device can send (informational; the simulator decides when).
    pub events: Vec<String>,
    pub udp_connection_request: bool,
    pub xmpp_connection_request: bool,
    /// Firmware image families the device installs: `sip88xx` accepts
    /// `sip88xx.<version>.loads` and reports SoftwareVersion `sip88xx.<version>`; other names
    /// fail with 9018. Empty: any `<name>.<version>.loads` sets the version, other names
    /// install without changing it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub firmware_image_families: Vec<String>,
    /// How `3 Vendor Configuration File` downloads are read: `cisco-flat-profile` parses and
    /// applies them (malformed files fail with 9018); absent: fetched and not applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_config_format: Option<String>,
}

impl Default for Supports {
    fn default() -> Self {
        Supports {
            cwmp_namespace: "urn:dslforum-org:cwmp-1-2".to_owned(),
            supported_cwmp_versions: None,
            download_file_types: vec!["1 Firmware Upgrade Image".to_owned()],
            upload_file_types: Vec::new(),
            events: Vec::new(),
            udp_connection_request: false,
            xmpp_connection_request: false,
            firmware_image_families: Vec::new(),
            vendor_config_format: None,
        }
    }
}

/// One kind of simulated CPE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub manufacturer: String,
    pub oui: String,
    pub product_class: String,
    /// Defaults to `product_class`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// `Device.` or `InternetGatewayDevice.`.
    pub root: String,
    pub software_version: String,
    pub hardware_version: String,
    /// HTTP User-Agent template (same `{var}`s as values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The simulator's default serial-number prefix (see [`Profile::serial_prefix`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_prefix: Option<String>,
    /// The CPE RPCs the device answers (GetRPCMethods); others get fault 9000.
    pub rpc_methods: Vec<String>,
    #[serde(default)]
    pub supports: Supports,
    /// Forced-inform parameters, in Inform order.
    pub inform_parameters: Vec<String>,
    pub parameters: Vec<ParameterSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableSpec>,
}

impl Profile {
    /// Parses and validates a profile.
    pub fn from_json(text: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = serde_json::from_str(text)?;
        profile.validate()?;
        Ok(profile)
    }

    /// Reads, parses and validates a profile file.
    pub fn load(path: impl AsRef<Path>) -> Result<Profile, ProfileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Profile::from_json(&text)
    }

    /// One of the profiles compiled into the binary (see [`Profile::builtin_names`]).
    pub fn builtin(name: &str) -> Result<Profile, ProfileError> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ProfileError::UnknownBuiltin(name.to_owned()))?;
        Profile::from_json(text)
    }

    /// The names accepted by [`Profile::builtin`].
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(n, _)| *n)
    }

    /// Checks everything [`super::model::Schema::new`] needs: names, types, default values
    /// (rendered with sample device variables), templates, tables and forced-inform names.
    pub fn validate(&self) -> Result<(), ProfileError> {
        if let Some(f) = &self.supports.vendor_config_format
            && f != super::transfer::CISCO_FLAT_PROFILE
        {
            return Err(self.invalid(format!(
                "supports.vendor_config_format {f:?} is not {:?}",
                super::transfer::CISCO_FLAT_PROFILE
            )));
        }
        if let Some(f) = self
            .supports
            .firmware_image_families
            .iter()
            .find(|f| f.is_empty() || f.contains('.') || f.contains('/'))
        {
            return Err(self.invalid(format!(
                "supports.firmware_image_families: {f:?} is not a file name prefix without dots"
            )));
        }
        super::model::Schema::new(self).map(|_| ())
    }

    /// `model_name`, or the product class when unset.
    pub fn model_name(&self) -> &str {
        self.model_name.as_deref().unwrap_or(&self.product_class)
    }

    /// The prefix of simulated serial numbers: `serial_prefix` when set, else a vendor-like
    /// prefix for the built-in profiles (`FCH` for Cisco, `HG` for the gateway), else `SIM`.
    pub fn serial_prefix(&self) -> &str {
        match (&self.serial_prefix, self.name.as_str()) {
            (Some(p), _) => p,
            (None, "cisco-mpp") => "FCH",
            (None, "tr098-gateway") => "HG",
            (None, _) => "SIM",
        }
    }

    /// Whether the device implements this CPE RPC (else the simulator answers 9000).
    pub fn supports_rpc(&self, method: &str) -> bool {
        self.rpc_methods.iter().any(|m| m == method)
    }

    pub(crate) fn invalid(&self, message: impl Into<String>) -> ProfileError {
        ProfileError::Invalid {
            profile: self.name.clone(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_and_have_expected_identity() {
        let names: Vec<_> = Profile::builtin_names().collect();
        assert_eq!(names, ["cisco-mpp", "tr098-gateway"]);
        let check = |name: &str, root: &str, oui: &str, pc: &str, upload: bool| {
            let p = Profile::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.name, name);
            assert_eq!(p.root, root, "{name}");
            assert_eq!(p.oui, oui, "{name}");
            assert_eq!(p.product_class, pc, "{name}");
            assert_eq!(p.supports_rpc("Upload"), upload, "{name}");
            assert_eq!(p.supports_rpc("ScheduleInform"), upload, "{name}");
            for m in [
                "GetRPCMethods",
                "GetParameterValues",
                "SetParameterValues",
                "AddObject",
                "Download",
                "FactoryReset",
            ] {
                assert!(p.supports_rpc(m), "{name} lacks {m}");
            }
            assert!(
                (60..=120).contains(&p.parameters.len()),
                "{name}: {} parameters",
                p.parameters.len()
            );
            p
        };
        let cisco = check("cisco-mpp", "Device.", "00562B", "CP-8851-3PCC", false);
        assert_eq!(cisco.manufacturer, "Cisco Systems, Inc.");
        assert_eq!(cisco.software_version, "sip88xx.12-0-2MPP-1");
        assert_eq!(cisco.model_name(), "CP-8851-3PCC");
        check(
            "tr098-gateway",
            "InternetGatewayDevice.",
            "001A2B",
            "HG-2000",
            true,
        );
        assert!(matches!(
            Profile::builtin("nope"),
            Err(ProfileError::UnknownBuiltin(_))
        ));
    }

    #[test]
    fn builtin_json_round_trips_through_serde() {
        for name in Profile::builtin_names() {
            let p = Profile::builtin(name).unwrap();
            let again = Profile::from_json(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(p, again, "{name}");
        }
    }

    #[test]
    fn load_reads_files_and_reports_errors() {
        let dir = std::env::temp_dir().join(format!("simmodel-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("p.json");
        let p = Profile::builtin("tr098-gateway").unwrap();
        std::fs::write(&good, serde_json::to_string_pretty(&p).unwrap()).unwrap();
        assert_eq!(Profile::load(&good).unwrap(), p);
        assert!(matches!(
            Profile::load(dir.join("missing.json")),
            Err(ProfileError::Io { .. })
        ));
        std::fs::write(&good, r#"{"name": "x", "bogus": 1}"#).unwrap();
        assert!(matches!(Profile::load(&good), Err(ProfileError::Json(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn xsd_type_names() {
        for t in XsdType::ALL {
            assert_eq!(XsdType::parse(t.name()), Some(t));
            assert_eq!(XsdType::parse(t.xsd_name()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
        }
        assert_eq!(XsdType::parse("xs:base64"), Some(XsdType::Base64Binary));
        assert_eq!(XsdType::parse("xsd:UnsignedInt"), None);
        assert_eq!(XsdType::parse("xsd:string(64)"), None);
    }

    /// A broken profile is refused with a message naming the problem.
    #[test]
    fn validation_rejects_broken_profiles() {
        let base = Profile::builtin("tr098-gateway").unwrap();
        let check = |what: &str, edit: &dyn Fn(&mut Profile), expect: &str| {
            let mut p = base.clone();
            edit(&mut p);
            match p.validate() {
                Err(ProfileError::Invalid { message, .. }) => {
                    assert!(
                        message.contains(expect),
                        "{what}: message {message:?} lacks {expect:?}"
                    )
                }
                other => panic!("{what}: expected Invalid, got {other:?}"),
            }
        };
        check("root", &|p| p.root = "Foo.".into(), "root");
        check(
            "outside root",
            &|p| p.parameters[0].name = "Device.X".into(),
            "outside the root",
        );
        check(
            "duplicate",
            &|p| p.parameters[1].name = p.parameters[0].name.clone(),
            "duplicate",
        );
        check(
            "bad value",
            &|p| p.parameters[1].value = "many".into(),
            "LANDeviceNumberOfEntries",
        );
        check(
            "unknown var",
            &|p| p.parameters[0].value = "{nope}".into(),
            "{nope}",
        );
        check(
            "instance var outside table",
            &|p| p.parameters[0].value = "{instance}".into(),
            "{instance}",
        );
        check(
            "inform missing",
            &|p| {
                p.inform_parameters
                    .push("InternetGatewayDevice.Nope".into())
            },
            "Nope",
        );
        check(
            "object and parameter",
            &|p| {
                let mut extra = p.parameters[0].clone();
                extra.name = format!("{}.Sub", p.parameters[0].name);
                p.parameters.push(extra);
            },
            "both a parameter and an object",
        );
        check(
            "table template mismatch",
            &|p| p.tables[0].template.retain(|t| t.name != "RemoteHost"),
            "RemoteHost",
        );
        check(
            "incomplete instance",
            &|p| {
                p.parameters
                    .retain(|x| !x.name.ends_with("PortMapping.1.RemoteHost"))
            },
            "list all or none",
        );
        check(
            "count parameter",
            &|p| p.tables[1].count_parameter = Some("InternetGatewayDevice.Nope".into()),
            "count_parameter",
        );
        check(
            "count value",
            &|p| {
                let n = p
                    .parameters
                    .iter_mut()
                    .find(|x| x.name.ends_with("PortMappingNumberOfEntries"))
                    .unwrap();
                n.value = "3".into();
            },
            "instances",
        );
        check(
            "table path",
            &|p| {
                p.tables[0].table.pop();
            },
            "must end",
        );
        check(
            "nested table",
            &|p| {
                let mut t = p.tables[0].clone();
                t.table = format!("{}1.Sub.", p.tables[0].table);
                p.tables.push(t);
            },
            "nested",
        );
        check(
            "bad enum default",
            &|p| {
                let x = p
                    .parameters
                    .iter_mut()
                    .find(|x| x.name.ends_with("WANIPConnection.1.ConnectionType"))
                    .unwrap();
                x.value = "PPPoE".into();
            },
            "ConnectionType",
        );
        check("bad oui", &|p| p.oui = "XYZ".into(), "oui");
        check(
            "notification",
            &|p| p.parameters[0].notification = Some(7),
            "notification",
        );
    }
}

//! DHCP discovery of the ACS: the option values a DHCP server hands to CPEs so they find the ACS
//! on their own, and ready-to-paste server configuration (pure, no I/O).
//!
//! SPEC.md §8 ("Discovery by DHCP", after TR-069 §3.1): a CPE that can be told its ACS puts
//! [`VENDOR_CLASS`] (`dslforum.org`) in DHCPv4 option 60 (DHCPv6: option 16 with enterprise
//! 3561). The server answers with sub-options, each a TLV whose value is at most
//! [`MAX_VALUE_LEN`] bytes:
//!
//! | value | option 43 | option 125 | DHCPv6 option 17 | lands in |
//! |---|---|---|---|---|
//! | ACS URL | 1 | 11 | 11 | `ManagementServer.URL` |
//! | provisioning code | 2 | 12 | 12 | `DeviceInfo.ProvisioningCode` |
//! | CWMP retry minimum wait interval | 3 | 13 | 13 | `ManagementServer.CWMPRetryMinimumWaitInterval` |
//! | CWMP retry interval multiplier | 4 | 14 | 14 | `ManagementServer.CWMPRetryIntervalMultiplier` |
//!
//! - **Option 43** (encapsulated vendor-specific options, RFC 2132 §8.4): the value is the
//!   sub-options back to back, one-byte code and one-byte length each. SPEC.md §8 gives the
//!   worked example this module's tests check: `http://acs.example.com:7547/` is
//!   `01 1c 68 74 74 70 …`.
//! - **Option 125** (V-I vendor-specific information, RFC 3925 §4): enterprise number 3561 (four
//!   bytes), a one-byte data length, then the sub-options with one-byte codes and lengths.
//!   TR-069 numbers them 11–14 here because TR-111 already uses 1–6 of enterprise 3561 for the
//!   device and gateway identity; SPEC.md §8 records that the option 125 numbering differs and
//!   is not verified in this repository, so check it against your CPE's documentation.
//! - **DHCPv6 option 17** (vendor-specific information, RFC 3315 §22.17): enterprise number 3561
//!   (four bytes), then sub-options with **two-byte** codes and lengths, numbered 11–14 like
//!   option 125: TR-069 (Amendment 5, §3.1) gives both enterprise-3561 forms one column, for the
//!   same reason (TR-111's codes 1–6 under 3561). SPEC.md does not record the DHCPv6 numbering
//!   either; check it against the CPE's documentation.
//!
//! The retry values travel as decimal text, like the ACS URL and the provisioning code.
//! [`AcsDiscovery::encode`] gives an option's *value* (what follows the option's own code and
//! length), which is what `vendor-encapsulated-options 01:1c:…` (ISC), `dhcp-option=43,01:1c:…`
//! (dnsmasq) or a Kea `csv-format: false` option take.

use std::fmt;

/// The vendor class a TR-069 CPE sends in DHCPv4 option 60 / DHCPv6 option 16 (SPEC.md §8).
pub const VENDOR_CLASS: &str = "dslforum.org";

/// The IANA enterprise number of the Broadband Forum (formerly DSL Forum), used by option 125 and
/// DHCPv6 option 17 (SPEC.md §8).
pub const ENTERPRISE_NUMBER: u32 = 3561;

/// The largest sub-option value: its length is one byte (SPEC.md §8).
pub const MAX_VALUE_LEN: usize = 255;

/// `DeviceInfo.ProvisioningCode` is `string(64)` in TR-181; longer codes fit in DHCP but a CPE
/// may refuse or truncate them.
pub const PROVISIONING_CODE_MAX_LEN: usize = 64;

/// A DHCPv4 option's value is at most 255 bytes; longer ones must be split (RFC 3396), which
/// ISC dhcpd and Kea do but not every CPE reassembles.
pub const DHCPV4_OPTION_MAX_LEN: usize = 255;

/// Which DHCP option carries the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DhcpOption {
    /// DHCPv4 option 43, encapsulated vendor-specific options (matched on option 60).
    V4VendorSpecific,
    /// DHCPv4 option 125, V-I vendor-specific information, enterprise 3561.
    V4VendorIdentifying,
    /// DHCPv6 option 17, vendor-specific information, enterprise 3561.
    V6VendorSpecific,
}

impl DhcpOption {
    /// Every option, in the order they are documented.
    pub const ALL: [DhcpOption; 3] = [
        DhcpOption::V4VendorSpecific,
        DhcpOption::V4VendorIdentifying,
        DhcpOption::V6VendorSpecific,
    ];

    /// The option code (43, 125 or 17).
    pub fn code(self) -> u16 {
        match self {
            DhcpOption::V4VendorSpecific => 43,
            DhcpOption::V4VendorIdentifying => 125,
            DhcpOption::V6VendorSpecific => 17,
        }
    }

    /// A short name: `43`, `125`, `v6-17`.
    pub fn label(self) -> &'static str {
        match self {
            DhcpOption::V4VendorSpecific => "43",
            DhcpOption::V4VendorIdentifying => "125",
            DhcpOption::V6VendorSpecific => "v6-17",
        }
    }

    /// Parses a [`DhcpOption::label`] (also `v4-43`, `v4-125`, `17`, `6-17`).
    pub fn parse(s: &str) -> Option<DhcpOption> {
        match s.trim().to_ascii_lowercase().as_str() {
            "43" | "v4-43" => Some(DhcpOption::V4VendorSpecific),
            "125" | "v4-125" => Some(DhcpOption::V4VendorIdentifying),
            "v6-17" | "17" | "6-17" | "dhcpv6-17" => Some(DhcpOption::V6VendorSpecific),
            _ => None,
        }
    }

    /// Whether this is a DHCPv6 option.
    pub fn is_v6(self) -> bool {
        self == DhcpOption::V6VendorSpecific
    }

    /// The sub-option code of `field` in this option (see the module table).
    pub fn sub_option_code(self, field: Field) -> u16 {
        let base = match field {
            Field::AcsUrl => 1,
            Field::ProvisioningCode => 2,
            Field::RetryMinimumWaitInterval => 3,
            Field::RetryIntervalMultiplier => 4,
        };
        match self {
            DhcpOption::V4VendorIdentifying | DhcpOption::V6VendorSpecific => base + 10,
            DhcpOption::V4VendorSpecific => base,
        }
    }
}

impl fmt::Display for DhcpOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DhcpOption::V4VendorSpecific => "DHCPv4 option 43",
            DhcpOption::V4VendorIdentifying => "DHCPv4 option 125",
            DhcpOption::V6VendorSpecific => "DHCPv6 option 17",
        })
    }
}

/// One value a DHCP server can give a TR-069 CPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    AcsUrl,
    ProvisioningCode,
    RetryMinimumWaitInterval,
    RetryIntervalMultiplier,
}

impl Field {
    /// The name used in server configuration (`acs-url`, …).
    pub fn config_name(self) -> &'static str {
        match self {
            Field::AcsUrl => "acs-url",
            Field::ProvisioningCode => "provisioning-code",
            Field::RetryMinimumWaitInterval => "retry-minimum-wait-interval",
            Field::RetryIntervalMultiplier => "retry-interval-multiplier",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::AcsUrl => "the ACS URL",
            Field::ProvisioningCode => "the provisioning code",
            Field::RetryMinimumWaitInterval => "the CWMP retry minimum wait interval",
            Field::RetryIntervalMultiplier => "the CWMP retry interval multiplier",
        })
    }
}

/// Why the values cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DhcpError {
    #[error("invalid ACS URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("{field} is {len} bytes; a DHCP sub-option value holds at most 255")]
    TooLong { field: Field, len: usize },
    #[error("{field} is empty")]
    Empty { field: Field },
    #[error("{field} contains a control character (at byte {at})")]
    ControlCharacter { field: Field, at: usize },
    #[error("{field} must be between {min} and {max}, not {value}")]
    OutOfRange {
        field: Field,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error(
        "the option 125 data for enterprise 3561 would be {len} bytes; its length field allows at most 255"
    )]
    VendorDataTooLong { len: usize },
}

/// What a DHCP server tells TR-069 CPEs: the ACS URL and optional extras, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsDiscovery {
    url: String,
    provisioning_code: Option<String>,
    retry_minimum_wait_interval: Option<u32>,
    retry_interval_multiplier: Option<u32>,
}

impl AcsDiscovery {
    /// The ACS URL: an absolute `http://` or `https://` URL with a host, at most
    /// [`MAX_VALUE_LEN`] bytes, no spaces or control characters. It is encoded exactly as given.
    pub fn new(url: &str) -> Result<AcsDiscovery, DhcpError> {
        let invalid = |reason: &str| DhcpError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if url.is_empty() {
            return Err(DhcpError::Empty {
                field: Field::AcsUrl,
            });
        }
        if let Some(at) = url.bytes().position(|b| b.is_ascii_whitespace()) {
            return Err(invalid(&format!("contains white space at byte {at}")));
        }
        check_text(Field::AcsUrl, url)?;
        let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid(&format!(
                "the scheme must be http or https, not {}",
                parsed.scheme()
            )));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("it has no host"));
        }
        Ok(AcsDiscovery {
            url: url.to_owned(),
            provisioning_code: None,
            retry_minimum_wait_interval: None,
            retry_interval_multiplier: None,
        })
    }

    /// Adds sub-option 2 (`DeviceInfo.ProvisioningCode`): 1–255 bytes, no control characters.
    /// See [`PROVISIONING_CODE_MAX_LEN`] for the data model's own limit.
    pub fn with_provisioning_code(mut self, code: &str) -> Result<AcsDiscovery, DhcpError> {
        if code.is_empty() {
            return Err(DhcpError::Empty {
                field: Field::ProvisioningCode,
            });
        }
        check_text(Field::ProvisioningCode, code)?;
        self.provisioning_code = Some(code.to_owned());
        Ok(self)
    }

    /// Adds sub-option 3 (`ManagementServer.CWMPRetryMinimumWaitInterval`, 1–65535 seconds).
    pub fn with_retry_minimum_wait_interval(
        mut self,
        seconds: u32,
    ) -> Result<AcsDiscovery, DhcpError> {
        check_range(Field::RetryMinimumWaitInterval, seconds, 1, 65535)?;
        self.retry_minimum_wait_interval = Some(seconds);
        Ok(self)
    }

    /// Adds sub-option 4 (`ManagementServer.CWMPRetryIntervalMultiplier`, 1000–65535, in
    /// thousandths: 2000 = 2.0).
    pub fn with_retry_interval_multiplier(
        mut self,
        multiplier: u32,
    ) -> Result<AcsDiscovery, DhcpError> {
        check_range(Field::RetryIntervalMultiplier, multiplier, 1000, 65535)?;
        self.retry_interval_multiplier = Some(multiplier);
        Ok(self)
    }

    /// The ACS URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The provisioning code, if any.
    pub fn provisioning_code(&self) -> Option<&str> {
        self.provisioning_code.as_deref()
    }

    /// The values to send, in sub-option order, as the text that is encoded.
    pub fn values(&self) -> Vec<(Field, String)> {
        let mut out = vec![(Field::AcsUrl, self.url.clone())];
        if let Some(c) = &self.provisioning_code {
            out.push((Field::ProvisioningCode, c.clone()));
        }
        if let Some(v) = self.retry_minimum_wait_interval {
            out.push((Field::RetryMinimumWaitInterval, v.to_string()));
        }
        if let Some(v) = self.retry_interval_multiplier {
            out.push((Field::RetryIntervalMultiplier, v.to_string()));
        }
        out
    }

    /// The value of `option` (without the option's own code and length; see the module
    /// documentation for the layouts).
    pub fn encode(&self, option: DhcpOption) -> Result<Vec<u8>, DhcpError> {
        let values = self.values();
        match option {
            DhcpOption::V4VendorSpecific => Ok(tlv8(option, &values)),
            DhcpOption::V4VendorIdentifying => {
                let data = tlv8(option, &values);
                let len = u8::try_from(data.len())
                    .map_err(|_| DhcpError::VendorDataTooLong { len: data.len() })?;
                let mut out = Vec::with_capacity(5 + data.len());
                out.extend_from_slice(&ENTERPRISE_NUMBER.to_be_bytes());
                out.push(len);
                out.extend_from_slice(&data);
                Ok(out)
            }
            DhcpOption::V6VendorSpecific => {
                let mut out = ENTERPRISE_NUMBER.to_be_bytes().to_vec();
                for (field, value) in &values {
                    out.extend_from_slice(&option.sub_option_code(*field).to_be_bytes());
                    // At most 255 bytes (checked when set), so the two-byte length fits.
                    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
                    out.extend_from_slice(value.as_bytes());
                }
                Ok(out)
            }
        }
    }

    /// Things worth telling the operator that do not stop the encoding: a provisioning code
    /// longer than TR-181 allows, a DHCPv4 option that needs RFC 3396 splitting.
    pub fn warnings(&self, option: DhcpOption) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(code) = &self.provisioning_code
            && code.len() > PROVISIONING_CODE_MAX_LEN
        {
            out.push(format!(
                "the provisioning code is {} bytes; DeviceInfo.ProvisioningCode holds at most {PROVISIONING_CODE_MAX_LEN}, so a CPE may refuse or truncate it",
                code.len()
            ));
        }
        if !option.is_v6()
            && let Ok(value) = self.encode(option)
            && value.len() > DHCPV4_OPTION_MAX_LEN
        {
            out.push(format!(
                "the {option} value is {} bytes; the server must split it (RFC 3396) and not every CPE reassembles split options",
                value.len()
            ));
        }
        out
    }

    /// An ISC dhcpd configuration fragment (`dhcpd.conf`, or `dhcpd6.conf` for DHCPv6) that
    /// sends `option` to TR-069 CPEs.
    pub fn isc(&self, option: DhcpOption) -> Result<String, DhcpError> {
        self.encode(option)?;
        let values = self.values();
        let mut s = String::new();
        let define = |s: &mut String, space: &str| {
            for (field, _) in &values {
                s.push_str(&format!(
                    "option {space}.{} code {} = text;\n",
                    field.config_name(),
                    option.sub_option_code(*field)
                ));
            }
        };
        let assign = |s: &mut String, space: &str, indent: &str| {
            for (field, value) in &values {
                s.push_str(&format!(
                    "{indent}option {space}.{} {};\n",
                    field.config_name(),
                    isc_string(value)
                ));
            }
        };
        match option {
            DhcpOption::V4VendorSpecific => {
                s.push_str(&format!(
                    "# ISC dhcpd (dhcpd.conf): TR-069 ACS discovery in option 43 for clients whose\n\
                     # option 60 (vendor-class-identifier) contains \"{VENDOR_CLASS}\".\n\
                     option space cwmp code width 1 length width 1;\n"
                ));
                define(&mut s, "cwmp");
                s.push_str(&format!(
                    "\nclass \"tr069-cpe\" {{\n    \
                     # Without regex support: match if substring(option vendor-class-identifier, 0, 12) = \"{VENDOR_CLASS}\";\n    \
                     match if option vendor-class-identifier ~= \"{VENDOR_CLASS}\";\n    \
                     vendor-option-space cwmp;\n"
                ));
                assign(&mut s, "cwmp", "    ");
                s.push_str("}\n");
            }
            DhcpOption::V4VendorIdentifying => {
                s.push_str(&format!(
                    "# ISC dhcpd (dhcpd.conf): TR-069 ACS discovery in option 125 (enterprise {ENTERPRISE_NUMBER})\n\
                     # for clients whose option 60 (vendor-class-identifier) contains \"{VENDOR_CLASS}\".\n\
                     option space cwmp-vi code width 1 length width 1;\n"
                ));
                define(&mut s, "cwmp-vi");
                // dhcpd's option 125 (`vivso`) is built from the `vendor` option space, whose
                // codes are enterprise numbers; `vivso` itself is an option, not a space.
                s.push_str(&format!(
                    "option vendor.cwmp-vi code {ENTERPRISE_NUMBER} = encapsulate cwmp-vi;\n\n\
                     class \"tr069-cpe-vi\" {{\n    \
                     match if option vendor-class-identifier ~= \"{VENDOR_CLASS}\";\n"
                ));
                assign(&mut s, "cwmp-vi", "    ");
                s.push_str("}\n");
            }
            DhcpOption::V6VendorSpecific => {
                s.push_str(&format!(
                    "# ISC dhcpd -6 (dhcpd6.conf): TR-069 ACS discovery in DHCPv6 option 17 (enterprise {ENTERPRISE_NUMBER}).\n\
                     # Enterprise-scoped: clients that do not speak TR-069 ignore it. Put the\n\
                     # assignments in a subnet6 or host scope to narrow it down.\n\
                     option space cwmp6 code width 2 length width 2;\n"
                ));
                define(&mut s, "cwmp6");
                s.push_str(&format!(
                    "option vsio.cwmp6 code {ENTERPRISE_NUMBER} = encapsulate cwmp6;\n\n"
                ));
                assign(&mut s, "cwmp6", "");
            }
        }
        Ok(s)
    }

    /// A Kea configuration fragment (JSON: merge its `option-def` and `client-classes` into
    /// your `Dhcp4` or `Dhcp6` object) that sends `option` to TR-069 CPEs.
    pub fn kea(&self, option: DhcpOption) -> Result<String, DhcpError> {
        self.encode(option)?;
        let values = self.values();
        let (root, space, test, carrier) = match option {
            DhcpOption::V4VendorSpecific => (
                "Dhcp4",
                "vendor-encapsulated-options-space".to_owned(),
                format!("substring(option[60].hex,0,12) == '{VENDOR_CLASS}'"),
                serde_json::json!({"name": "vendor-encapsulated-options"}),
            ),
            DhcpOption::V4VendorIdentifying => (
                "Dhcp4",
                format!("vendor-{ENTERPRISE_NUMBER}"),
                format!("substring(option[60].hex,0,12) == '{VENDOR_CLASS}'"),
                serde_json::json!({"name": "vivso-suboptions", "data": ENTERPRISE_NUMBER.to_string()}),
            ),
            DhcpOption::V6VendorSpecific => (
                "Dhcp6",
                format!("vendor-{ENTERPRISE_NUMBER}"),
                format!("vendor-class[{ENTERPRISE_NUMBER}].exists"),
                serde_json::json!({"name": "vendor-opts", "data": ENTERPRISE_NUMBER.to_string()}),
            ),
        };
        let defs: Vec<_> = values
            .iter()
            .map(|(field, _)| {
                serde_json::json!({
                    "name": field.config_name(),
                    "code": option.sub_option_code(*field),
                    "space": space,
                    "type": "string",
                })
            })
            .collect();
        let mut data = vec![carrier];
        data.extend(values.iter().map(|(field, value)| {
            serde_json::json!({
                "name": field.config_name(),
                "space": space,
                // Kea reads option data as comma-separated values unless escaped.
                "data": value.replace(',', "\\,"),
            })
        }));
        let doc = serde_json::json!({
            root: {
                "option-def": defs,
                "client-classes": [{
                    "name": "tr069-cpe",
                    "test": test,
                    "option-data": data,
                }],
            }
        });
        let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
        out.push('\n');
        Ok(out)
    }

    /// dnsmasq configuration lines that send `option` to TR-069 CPEs.
    pub fn dnsmasq(&self, option: DhcpOption) -> Result<String, DhcpError> {
        let value = self.encode(option)?;
        let values = self.values();
        let mut s = String::new();
        match option {
            DhcpOption::V4VendorSpecific => {
                s.push_str(&format!(
                    "# dnsmasq: TR-069 ACS discovery in option 43 for clients whose option 60 contains \"{VENDOR_CLASS}\".\n"
                ));
                for (field, text) in &values {
                    s.push_str(&format!(
                        "dhcp-option=vendor:{VENDOR_CLASS},{},{}\n",
                        option.sub_option_code(*field),
                        dnsmasq_string(text)
                    ));
                }
                s.push_str(&format!(
                    "# The same as raw bytes, instead of the lines above:\n\
                     # dhcp-vendorclass=set:tr069-cpe,{VENDOR_CLASS}\n\
                     # dhcp-option=tag:tr069-cpe,43,{}\n",
                    hex(&value, ":")
                ));
            }
            DhcpOption::V4VendorIdentifying => {
                s.push_str(&format!(
                    "# dnsmasq: TR-069 ACS discovery in option 125 (enterprise {ENTERPRISE_NUMBER}) for clients whose option 60 contains \"{VENDOR_CLASS}\".\n\
                     dhcp-vendorclass=set:tr069-cpe,{VENDOR_CLASS}\n"
                ));
                for (field, text) in &values {
                    s.push_str(&format!(
                        "dhcp-option=tag:tr069-cpe,vi-encap:{ENTERPRISE_NUMBER},{},{}\n",
                        option.sub_option_code(*field),
                        dnsmasq_string(text)
                    ));
                }
            }
            DhcpOption::V6VendorSpecific => {
                s.push_str(&format!(
                    "# dnsmasq: TR-069 ACS discovery in DHCPv6 option 17 (enterprise {ENTERPRISE_NUMBER}) for clients whose\n\
                     # option 16 carries enterprise {ENTERPRISE_NUMBER} and \"{VENDOR_CLASS}\".\n\
                     dhcp-vendorclass=set:tr069-cpe6,enterprise:{ENTERPRISE_NUMBER},{VENDOR_CLASS}\n\
                     dhcp-option=tag:tr069-cpe6,option6:17,{}\n",
                    hex(&value, ":")
                ));
            }
        }
        Ok(s)
    }
}

fn check_text(field: Field, value: &str) -> Result<(), DhcpError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(DhcpError::TooLong {
            field,
            len: value.len(),
        });
    }
    if let Some(at) = value.bytes().position(|b| b.is_ascii_control()) {
        return Err(DhcpError::ControlCharacter { field, at });
    }
    Ok(())
}

fn check_range(field: Field, value: u32, min: u32, max: u32) -> Result<(), DhcpError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(DhcpError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

/// Sub-options with one-byte codes and lengths (values are at most 255 bytes, checked when set).
fn tlv8(option: DhcpOption, values: &[(Field, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (field, value) in values {
        out.push(option.sub_option_code(*field) as u8);
        out.push(value.len() as u8);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Lower-case hex bytes joined by `separator` (`":"` → `01:1c:68`).
pub fn hex(bytes: &[u8], separator: &str) -> String {
    let mut out = String::with_capacity(bytes.len() * (2 + separator.len()));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// A double-quoted ISC dhcpd string (`"` and `\` escaped).
fn isc_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A double-quoted dnsmasq value (`"` and `\` escaped), so it is never read as hex or an
/// address.
fn dnsmasq_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://acs.example.com:7547/";

    /// SPEC.md §8's worked example, byte for byte.
    const URL_TLV: [u8; 30] = [
        0x01, 0x1c, 0x68, 0x74, 0x74, 0x70, 0x3a, 0x2f, 0x2f, 0x61, 0x63, 0x73, 0x2e, 0x65, 0x78,
        0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x3a, 0x37, 0x35, 0x34, 0x37, 0x2f,
    ];
    const CODE_TLV: [u8; 11] = [
        0x02, 0x09, 0x63, 0x69, 0x73, 0x63, 0x6f, 0x2d, 0x6d, 0x70, 0x70,
    ];

    fn with_code() -> AcsDiscovery {
        AcsDiscovery::new(URL)
            .unwrap()
            .with_provisioning_code("cisco-mpp")
            .unwrap()
    }

    #[test]
    fn option_43_matches_the_spec_example() {
        let d = AcsDiscovery::new(URL).unwrap();
        assert_eq!(d.encode(DhcpOption::V4VendorSpecific).unwrap(), URL_TLV);
        assert_eq!(
            hex(&d.encode(DhcpOption::V4VendorSpecific).unwrap(), " "),
            "01 1c 68 74 74 70 3a 2f 2f 61 63 73 2e 65 78 61 6d 70 6c 65 2e 63 6f 6d 3a 37 35 34 37 2f"
        );
        let mut want = URL_TLV.to_vec();
        want.extend_from_slice(&CODE_TLV);
        assert_eq!(
            with_code().encode(DhcpOption::V4VendorSpecific).unwrap(),
            want
        );
    }

    #[test]
    fn retry_values_are_decimal_text_sub_options_3_and_4() {
        let d = AcsDiscovery::new("https://a.b/")
            .unwrap()
            .with_retry_minimum_wait_interval(10)
            .unwrap()
            .with_retry_interval_multiplier(2500)
            .unwrap();
        let mut want = vec![0x01, 0x0c];
        want.extend_from_slice(b"https://a.b/");
        want.extend_from_slice(&[0x03, 0x02, b'1', b'0', 0x04, 0x04]);
        want.extend_from_slice(b"2500");
        assert_eq!(d.encode(DhcpOption::V4VendorSpecific).unwrap(), want);
        for (v, ok) in [(0, false), (1, true), (65535, true), (65536, false)] {
            assert_eq!(
                AcsDiscovery::new(URL)
                    .unwrap()
                    .with_retry_minimum_wait_interval(v)
                    .is_ok(),
                ok,
                "{v}"
            );
        }
        for (v, ok) in [(999, false), (1000, true), (65535, true), (65536, false)] {
            assert_eq!(
                AcsDiscovery::new(URL)
                    .unwrap()
                    .with_retry_interval_multiplier(v)
                    .is_ok(),
                ok,
                "{v}"
            );
        }
    }

    #[test]
    fn option_125_has_the_enterprise_and_a_data_length() {
        let v = with_code().encode(DhcpOption::V4VendorIdentifying).unwrap();
        // 3561 = 0x0de9; data = (2 + 28) + (2 + 9) = 41 = 0x29.
        assert_eq!(&v[..5], &[0x00, 0x00, 0x0d, 0xe9, 0x29]);
        assert_eq!(v.len(), 5 + 41);
        assert_eq!(&v[5..7], &[11, 0x1c]);
        assert_eq!(&v[7..35], URL.as_bytes());
        assert_eq!(&v[35..37], &[12, 0x09]);
        assert_eq!(&v[37..], b"cisco-mpp");
    }

    #[test]
    fn option_125_data_over_255_bytes_is_refused() {
        // Two sub-options of 200 bytes each: 404 bytes of vendor data.
        let url = format!("http://h/{}", "a".repeat(191));
        let d = AcsDiscovery::new(&url)
            .unwrap()
            .with_provisioning_code(&"p".repeat(200))
            .unwrap();
        assert_eq!(
            d.encode(DhcpOption::V4VendorIdentifying),
            Err(DhcpError::VendorDataTooLong { len: 404 })
        );
        // Option 43 encodes it (the server splits it) and says so.
        assert_eq!(d.encode(DhcpOption::V4VendorSpecific).unwrap().len(), 404);
        let w = d.warnings(DhcpOption::V4VendorSpecific);
        assert!(w.iter().any(|w| w.contains("RFC 3396")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("at most 64")), "{w:?}");
        assert!(d.isc(DhcpOption::V4VendorIdentifying).is_err());
        // DHCPv6 lengths are two bytes: no limit short of 65535.
        assert!(d.warnings(DhcpOption::V6VendorSpecific).len() == 1);
    }

    #[test]
    fn dhcpv6_option_17_uses_two_byte_codes_and_lengths() {
        let v = with_code().encode(DhcpOption::V6VendorSpecific).unwrap();
        let mut want = vec![0x00, 0x00, 0x0d, 0xe9, 0x00, 0x0b, 0x00, 0x1c];
        want.extend_from_slice(URL.as_bytes());
        want.extend_from_slice(&[0x00, 0x0c, 0x00, 0x09]);
        want.extend_from_slice(b"cisco-mpp");
        assert_eq!(v, want);
    }

    #[test]
    fn values_up_to_255_bytes_fit_and_256_do_not() {
        let prefix = "http://h/";
        let url255 = format!("{prefix}{}", "a".repeat(255 - prefix.len()));
        let url256 = format!("{prefix}{}", "a".repeat(256 - prefix.len()));
        let d = AcsDiscovery::new(&url255).unwrap();
        let v = d.encode(DhcpOption::V4VendorSpecific).unwrap();
        assert_eq!(&v[..2], &[0x01, 0xff]);
        assert_eq!(v.len(), 257);
        assert_eq!(
            AcsDiscovery::new(&url256),
            Err(DhcpError::TooLong {
                field: Field::AcsUrl,
                len: 256
            })
        );
        let d = AcsDiscovery::new(URL).unwrap();
        assert!(d.clone().with_provisioning_code(&"c".repeat(255)).is_ok());
        let e = d.with_provisioning_code(&"c".repeat(256)).unwrap_err();
        assert_eq!(
            e,
            DhcpError::TooLong {
                field: Field::ProvisioningCode,
                len: 256
            }
        );
        assert_eq!(
            e.to_string(),
            "the provisioning code is 256 bytes; a DHCP sub-option value holds at most 255"
        );
    }

    #[test]
    fn urls_are_checked() {
        for bad in [
            "",
            "acs.example.com",
            "ftp://acs.example.com/",
            "http://",
            "http://acs example.com/",
            " http://acs.example.com/",
            "http://acs.example.com/\n",
            "http://acs.example.com/\u{7f}",
            "mailto:x@y",
        ] {
            assert!(AcsDiscovery::new(bad).is_err(), "{bad:?}");
        }
        for good in [
            URL,
            "https://acs.example.com/cwmp",
            "http://[2001:db8::1]:7547/",
            "http://192.0.2.1:7547/acs?x=1,2",
        ] {
            assert_eq!(AcsDiscovery::new(good).unwrap().url(), good);
        }
        assert!(matches!(
            AcsDiscovery::new(URL).unwrap().with_provisioning_code(""),
            Err(DhcpError::Empty { .. })
        ));
        assert!(matches!(
            AcsDiscovery::new(URL)
                .unwrap()
                .with_provisioning_code("a\tb"),
            Err(DhcpError::ControlCharacter { at: 1, .. })
        ));
    }

    #[test]
    fn options_parse_and_number_their_sub_options() {
        for o in DhcpOption::ALL {
            assert_eq!(DhcpOption::parse(o.label()), Some(o));
        }
        assert_eq!(DhcpOption::parse("44"), None);
        assert_eq!(
            DhcpOption::V4VendorIdentifying.sub_option_code(Field::AcsUrl),
            11
        );
        assert_eq!(
            DhcpOption::V6VendorSpecific.sub_option_code(Field::RetryIntervalMultiplier),
            14
        );
    }

    #[test]
    fn isc_snippets() {
        let d = with_code();
        let s = d.isc(DhcpOption::V4VendorSpecific).unwrap();
        for want in [
            "option space cwmp code width 1 length width 1;",
            "option cwmp.acs-url code 1 = text;",
            "option cwmp.provisioning-code code 2 = text;",
            "match if option vendor-class-identifier ~= \"dslforum.org\";",
            "vendor-option-space cwmp;",
            "    option cwmp.acs-url \"http://acs.example.com:7547/\";",
            "    option cwmp.provisioning-code \"cisco-mpp\";",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
        let s = d.isc(DhcpOption::V4VendorIdentifying).unwrap();
        assert!(s.contains("option cwmp-vi.acs-url code 11 = text;"), "{s}");
        assert!(s.contains("option cwmp-vi.provisioning-code code 12 = text;"));
        // `vendor` is dhcpd's option space for option 125 (`vivso` is the option: dhcpd -t
        // refuses `option vivso.…` with "no option space named vivso").
        assert!(s.contains("option vendor.cwmp-vi code 3561 = encapsulate cwmp-vi;"));
        assert!(!s.contains("vivso."), "{s}");
        let s = d.isc(DhcpOption::V6VendorSpecific).unwrap();
        assert!(
            s.contains("option space cwmp6 code width 2 length width 2;"),
            "{s}"
        );
        assert!(s.contains("option vsio.cwmp6 code 3561 = encapsulate cwmp6;"));
        assert!(s.contains("option cwmp6.acs-url \"http://acs.example.com:7547/\";"));
        // Quotes and backslashes cannot break out of the string.
        let q = AcsDiscovery::new(URL)
            .unwrap()
            .with_provisioning_code("a\"b\\c")
            .unwrap();
        assert!(
            q.isc(DhcpOption::V4VendorSpecific)
                .unwrap()
                .contains(r#"option cwmp.provisioning-code "a\"b\\c";"#)
        );
    }

    #[test]
    fn kea_snippets_are_json() {
        let d = with_code();
        let v: serde_json::Value =
            serde_json::from_str(&d.kea(DhcpOption::V4VendorSpecific).unwrap()).unwrap();
        let dhcp4 = &v["Dhcp4"];
        assert_eq!(dhcp4["option-def"][0]["code"], 1);
        assert_eq!(
            dhcp4["option-def"][0]["space"],
            "vendor-encapsulated-options-space"
        );
        assert_eq!(dhcp4["option-def"][1]["name"], "provisioning-code");
        let class = &dhcp4["client-classes"][0];
        assert_eq!(
            class["test"],
            "substring(option[60].hex,0,12) == 'dslforum.org'"
        );
        assert_eq!(
            class["option-data"][0]["name"],
            "vendor-encapsulated-options"
        );
        assert_eq!(class["option-data"][1]["data"], URL);
        assert_eq!(class["option-data"][2]["data"], "cisco-mpp");

        let v: serde_json::Value =
            serde_json::from_str(&d.kea(DhcpOption::V4VendorIdentifying).unwrap()).unwrap();
        let dhcp4 = &v["Dhcp4"];
        assert_eq!(dhcp4["option-def"][0]["code"], 11);
        assert_eq!(dhcp4["option-def"][0]["space"], "vendor-3561");
        let data = &dhcp4["client-classes"][0]["option-data"];
        assert_eq!(data[0]["name"], "vivso-suboptions");
        assert_eq!(data[0]["data"], "3561");

        let v: serde_json::Value =
            serde_json::from_str(&d.kea(DhcpOption::V6VendorSpecific).unwrap()).unwrap();
        let dhcp6 = &v["Dhcp6"];
        assert_eq!(dhcp6["option-def"][0]["code"], 11);
        let class = &dhcp6["client-classes"][0];
        assert_eq!(class["test"], "vendor-class[3561].exists");
        assert_eq!(class["option-data"][0]["name"], "vendor-opts");

        // Commas are escaped for Kea's CSV reading.
        let c = AcsDiscovery::new("http://h/a,b").unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&c.kea(DhcpOption::V4VendorSpecific).unwrap()).unwrap();
        assert_eq!(
            v["Dhcp4"]["client-classes"][0]["option-data"][1]["data"],
            "http://h/a\\,b"
        );
    }

    #[test]
    fn dnsmasq_snippets() {
        let d = with_code();
        let s = d.dnsmasq(DhcpOption::V4VendorSpecific).unwrap();
        assert!(
            s.contains("dhcp-option=vendor:dslforum.org,1,\"http://acs.example.com:7547/\"\n"),
            "{s}"
        );
        assert!(s.contains("dhcp-option=vendor:dslforum.org,2,\"cisco-mpp\"\n"));
        assert!(s.contains("\n# dhcp-vendorclass=set:tr069-cpe,dslforum.org\n"));
        assert!(s.contains(&format!(
            "\n# dhcp-option=tag:tr069-cpe,43,{}\n",
            hex(&d.encode(DhcpOption::V4VendorSpecific).unwrap(), ":")
        )));
        let s = d.dnsmasq(DhcpOption::V4VendorIdentifying).unwrap();
        assert!(
            s.contains("dhcp-vendorclass=set:tr069-cpe,dslforum.org\n"),
            "{s}"
        );
        assert!(s.contains(
            "dhcp-option=tag:tr069-cpe,vi-encap:3561,11,\"http://acs.example.com:7547/\"\n"
        ));
        assert!(s.contains("vi-encap:3561,12,\"cisco-mpp\""));
        let s = d.dnsmasq(DhcpOption::V6VendorSpecific).unwrap();
        assert!(
            s.contains("dhcp-vendorclass=set:tr069-cpe6,enterprise:3561,dslforum.org\n"),
            "{s}"
        );
        assert!(s.contains("dhcp-option=tag:tr069-cpe6,option6:17,00:00:0d:e9:00:0b:00:1c:68:74"));
    }
}

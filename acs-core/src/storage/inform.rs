//! Pure helpers for turning an Inform's parameter list into device columns.

use std::collections::BTreeMap;

use crate::storage::model::ParameterRecord;

/// The data-model roots whose well-known parameters we recognise.
const ROOTS: [&str; 2] = ["Device.", "InternetGatewayDevice."];

/// Device columns derived from well-known parameters. `None` means "not in
/// this Inform": the stored value is kept.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Derived {
    pub software_version: Option<String>,
    pub hardware_version: Option<String>,
    pub provisioning_code: Option<String>,
    pub connection_request_url: Option<String>,
    pub periodic_inform_interval: Option<i64>,
    pub mac: Option<String>,
}

/// The part of `name` after a known root, e.g. `DeviceInfo.SoftwareVersion`.
fn strip_root(name: &str) -> Option<&str> {
    ROOTS.iter().find_map(|r| name.strip_prefix(r))
}

impl Derived {
    /// Scans the (deduplicated) parameters. For the fixed paths the last
    /// occurrence wins (like the parameter upsert). For the MAC, a parameter
    /// that holds the device's own MAC (`crate::truth::record::mac_of`, the
    /// same rule as for values stored later, so the two never disagree) wins;
    /// else the first parameter whose name ends in `MACAddress` and whose
    /// value is a valid MAC: Informs typically carry the WAN connection's
    /// `MACAddress` only.
    pub(crate) fn from_params<'a>(
        params: impl IntoIterator<Item = &'a ParameterRecord> + Clone,
    ) -> Self {
        let mut d = Derived {
            mac: crate::truth::record::mac_of(
                params
                    .clone()
                    .into_iter()
                    .map(|p| (p.name.as_str(), p.value.as_str())),
            ),
            ..Derived::default()
        };
        for p in params {
            if d.mac.is_none() && p.name.ends_with("MACAddress") {
                d.mac = normalize_mac(&p.value);
            }
            let Some(rest) = strip_root(&p.name) else {
                continue;
            };
            match rest {
                "DeviceInfo.SoftwareVersion" => d.software_version = Some(p.value.clone()),
                "DeviceInfo.HardwareVersion" => d.hardware_version = Some(p.value.clone()),
                "DeviceInfo.ProvisioningCode" => d.provisioning_code = Some(p.value.clone()),
                "ManagementServer.ConnectionRequestURL" => {
                    d.connection_request_url = Some(p.value.clone())
                }
                "ManagementServer.PeriodicInformInterval" => {
                    // An unparsable value is ignored rather than failing the
                    // Inform; the raw text is still stored as a parameter.
                    if let Ok(v) = p.value.trim().parse::<i64>() {
                        d.periodic_inform_interval = Some(v);
                    }
                }
                _ => {}
            }
        }
        d
    }
}

/// Normalises a MAC address to upper-case `AA:BB:CC:DD:EE:FF`. Accepts
/// `:`, `-`, `.` separators or none; rejects anything that is not 12 hex
/// digits, and the all-zero address some CPEs report for unused interfaces.
pub fn normalize_mac(raw: &str) -> Option<String> {
    let hex: Vec<u8> = raw
        .trim()
        .bytes()
        .filter(|b| !matches!(b, b':' | b'-' | b'.'))
        .collect();
    if hex.len() != 12 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    if hex.iter().all(|&b| b == b'0') {
        return None;
    }
    let mut out = String::with_capacity(17);
    for (i, pair) in hex.chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        for &b in pair {
            out.push(b.to_ascii_uppercase() as char);
        }
    }
    Some(out)
}

/// Upper-cased, trimmed OUI used for identity.
pub(crate) fn normalize_oui(oui: &str) -> String {
    oui.trim().to_ascii_uppercase()
}

/// Deduplicates by name, the last occurrence winning, sorted by name (a
/// deterministic row order keeps concurrent PostgreSQL upserts on one device
/// from deadlocking).
pub(crate) fn dedup_params(params: &[ParameterRecord]) -> Vec<&ParameterRecord> {
    let mut by_name: BTreeMap<&str, &ParameterRecord> = BTreeMap::new();
    for p in params {
        by_name.insert(p.name.as_str(), p);
    }
    by_name.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: &str) -> ParameterRecord {
        ParameterRecord::new(name, value, "xsd:string")
    }

    #[test]
    fn the_devices_own_mac_wins_over_a_wan_connections() {
        let wan = p(
            "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.MACAddress",
            "00:1a:2b:3c:4d:01",
        );
        let lan = p(
            "InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.1.MACAddress",
            "00:1a:2b:3c:4d:02",
        );
        for params in [[wan.clone(), lan.clone()], [lan, wan]] {
            assert_eq!(
                Derived::from_params(&params).mac.as_deref(),
                Some("00:1A:2B:3C:4D:02")
            );
        }
    }

    #[test]
    fn derives_from_both_roots() {
        let params = [
            p("InternetGatewayDevice.DeviceInfo.SoftwareVersion", "1.0"),
            p("InternetGatewayDevice.DeviceInfo.HardwareVersion", "hw"),
            p("InternetGatewayDevice.DeviceInfo.ProvisioningCode", "pc"),
            p(
                "InternetGatewayDevice.ManagementServer.ConnectionRequestURL",
                "http://1.2.3.4:7547/",
            ),
            p(
                "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
                " 300 ",
            ),
            p(
                "InternetGatewayDevice.WANDevice.1.WANConnectionDevice.1.WANIPConnection.1.MACAddress",
                "00-1a-2b-3c-4d-5e",
            ),
        ];
        let d = Derived::from_params(&params);
        assert_eq!(d.software_version.as_deref(), Some("1.0"));
        assert_eq!(d.hardware_version.as_deref(), Some("hw"));
        assert_eq!(d.provisioning_code.as_deref(), Some("pc"));
        assert_eq!(
            d.connection_request_url.as_deref(),
            Some("http://1.2.3.4:7547/")
        );
        assert_eq!(d.periodic_inform_interval, Some(300));
        assert_eq!(d.mac.as_deref(), Some("00:1A:2B:3C:4D:5E"));

        let d = Derived::from_params(&[
            p("Device.DeviceInfo.SoftwareVersion", "2.0"),
            p("Device.ManagementServer.PeriodicInformInterval", "bogus"),
            p(
                "Device.Ethernet.Interface.1.MACAddress",
                "00:00:00:00:00:00",
            ),
            p("Device.Ethernet.Interface.2.MACAddress", "001a2b3c4d5f"),
            p("Other.DeviceInfo.SoftwareVersion", "x"),
        ]);
        assert_eq!(d.software_version.as_deref(), Some("2.0"));
        assert_eq!(d.periodic_inform_interval, None);
        assert_eq!(d.mac.as_deref(), Some("00:1A:2B:3C:4D:5F"));
    }

    #[test]
    fn mac_normalisation() {
        assert_eq!(
            normalize_mac("aa:bb:cc:dd:ee:ff").as_deref(),
            Some("AA:BB:CC:DD:EE:FF")
        );
        assert_eq!(
            normalize_mac("aabb.ccdd.eeff").as_deref(),
            Some("AA:BB:CC:DD:EE:FF")
        );
        assert_eq!(normalize_mac(""), None);
        assert_eq!(normalize_mac("zz:bb:cc:dd:ee:ff"), None);
        assert_eq!(normalize_mac("aa:bb:cc:dd:ee"), None);
        assert_eq!(normalize_mac("ä:bb:cc:dd:ee:ff:0"), None);
    }

    #[test]
    fn dedup_last_wins_sorted() {
        let params = [p("b", "1"), p("a", "1"), p("b", "2")];
        let d = dedup_params(&params);
        let v: Vec<_> = d
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(v, [("a", "1"), ("b", "2")]);
    }
}

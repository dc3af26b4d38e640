//! Devices, their parameters and events, and the queries that list them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A device (never its connection-request credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Device {
    /// The device id (`OUI-ProductClass-Serial`, escaped).
    pub id: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// OUI as reported.
    pub oui: String,
    /// Product class.
    pub product_class: String,
    /// Serial number.
    pub serial_number: String,
    /// MAC address (`AA:BB:CC:DD:EE:FF`).
    pub mac: Option<String>,
    /// Software version.
    pub software_version: Option<String>,
    /// Hardware version.
    pub hardware_version: Option<String>,
    /// Provisioning code.
    pub provisioning_code: Option<String>,
    /// ConnectionRequestURL.
    pub connection_request_url: Option<String>,
    /// Peer address of the last session.
    pub remote_ip: Option<String>,
    /// The cwmp namespace of the last Inform.
    pub cwmp_version: String,
    /// First Inform.
    pub first_seen: DateTime<Utc>,
    /// Last Inform.
    pub last_inform: DateTime<Utc>,
    /// Last Inform with `1 BOOT`.
    pub last_boot: Option<DateTime<Utc>>,
    /// Last Inform with `0 BOOTSTRAP`.
    pub last_bootstrap: Option<DateTime<Utc>>,
    /// PeriodicInformInterval in seconds.
    pub periodic_inform_interval: Option<i64>,
    /// Event codes of the last Inform.
    pub last_events: Vec<String>,
    /// Presence: `online`, `late` (missed its periodic Inform) or `offline`.
    #[serde(default)]
    pub status: PresenceName,
    /// Tags, sorted.
    pub tags: Vec<String>,
}

/// Where a device stands, from its last Inform and its periodic inform interval: `late` after
/// `[presence] late_after` intervals without an Inform, `offline` after `offline_after`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceName {
    /// Informing as expected.
    #[default]
    Online,
    /// Missed its periodic Inform.
    Late,
    /// Missed several.
    Offline,
}

impl PresenceName {
    /// The name, as in filters (`status = offline`).
    pub const fn as_str(self) -> &'static str {
        match self {
            PresenceName::Online => "online",
            PresenceName::Late => "late",
            PresenceName::Offline => "offline",
        }
    }
}

/// A page of devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceList {
    /// The devices.
    pub devices: Vec<Device>,
    /// Pass as `after` for the next page (same filter and sort); `null` on the last page.
    pub next: Option<String>,
}

/// A count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Count {
    /// Matching devices.
    pub count: u64,
}

/// A stored parameter value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Parameter {
    /// Full name.
    pub name: String,
    /// Value as text.
    pub value: String,
    /// xsd type as reported (`xsd:string`, …); empty for a name known only from
    /// GetParameterNames or AddObject (not read yet).
    #[serde(rename = "type")]
    pub xsd_type: String,
    /// Writability, when known.
    pub writable: Option<bool>,
    /// Notification attribute (0 off, 1 passive, 2 active, …), when known.
    pub notification: Option<i32>,
    /// AccessList (`Subscriber`, …), when known.
    pub access_list: Option<Vec<String>>,
    /// When the value last changed.
    pub updated_at: DateTime<Utc>,
}

/// A device's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParameterList {
    /// By name.
    pub parameters: Vec<Parameter>,
}

/// One line of the bulk parameter query (NDJSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParameterLine {
    /// Device id.
    pub device_id: String,
    /// Parameter name as asked.
    pub name: String,
    /// Stored value; `null` when the device has none.
    pub value: Option<String>,
    /// Stored type; `null` when the device has no value.
    #[serde(rename = "type")]
    pub xsd_type: Option<String>,
    /// When the value last changed; `null` when the device has no value.
    pub updated_at: Option<DateTime<Utc>>,
}

/// An Inform event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// `2 PERIODIC`, `M Reboot`, …
    pub event_code: String,
    /// The CommandKey that came with it.
    pub command_key: Option<String>,
    /// When the Inform arrived.
    pub received_at: DateTime<Utc>,
}

/// A device's recent events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventList {
    /// Newest first.
    pub events: Vec<Event>,
}

/// Query of `GET /devices`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeviceListQuery {
    /// A filter (docs/FILTERS.md), e.g. `product_class = "CP-8851-3PCC" and tag = lab`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `id`, `serial_number`, `product_class`, `oui`, `manufacturer`, `mac`,
    /// `software_version`, `last_inform`, `first_seen`; `-` in front for descending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// The `next` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Query of `GET /devices/count`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CountQuery {
    /// A filter; all devices when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// Query of `GET /devices/resolve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResolveQuery {
    /// A device id, serial number or MAC address.
    pub name: String,
}

/// Query of `GET /devices/{id}/parameters`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ParametersQuery {
    /// Only names starting with this (e.g. `Device.DeviceInfo.`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// Query of `GET /devices/{id}/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// How many, 1–1000 (default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// Query of `GET /parameters`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BulkParametersQuery {
    /// Comma-separated parameter names (full names).
    pub names: String,
    /// Devices matching this filter (exclusive with `devices`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Comma-separated device ids (exclusive with `filter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<String>,
}

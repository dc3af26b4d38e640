//! What an ACS request's successful answer changes in the stored tree. The request is needed
//! too: a SetParameterValuesResponse says only "0" or "1", the values are in the request.

use chrono::{DateTime, Utc};

use crate::cwmp::{Body, ParameterValue};
use crate::storage::{AttributeRecord, ParameterRecord, Store, StoreError, normalize_mac};
use crate::truth::datamodel::DataModel;

/// Stores what `response` (a success) to `request` says about the device. Without the request
/// (a payload that no longer parses) only self-contained answers are stored.
pub async fn record_completion(
    store: &Store,
    device_id: &str,
    request: Option<&Body>,
    response: &Body,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    match (request, response) {
        (_, Body::GetParameterValuesResponse(r)) => {
            store_values(store, device_id, &r.parameter_list, None, at).await?;
        }
        // Status 1 means applied later (after a reboot): the device has committed to them,
        // and its next report corrects anything it did not keep.
        (Some(Body::SetParameterValues(req)), Body::SetParameterValuesResponse(r))
            if matches!(r.status, 0 | 1) =>
        {
            let values: Vec<ParameterValue> = req
                .parameter_list
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    // What a GetParameterValues would read back (TR-069 §A.3.2.1), so a
                    // password never lands in the parameter table.
                    if p.name.ends_with("Password") {
                        p.value.clear();
                    }
                    p
                })
                .collect();
            // The CPE accepted the write, so these are writable.
            store_values(store, device_id, &values, Some(true), at).await?;
        }
        (Some(Body::GetParameterNames(req)), Body::GetParameterNamesResponse(r)) => {
            let names: Vec<(String, bool)> = r
                .parameter_list
                .iter()
                .map(|p| (p.name.clone(), p.writable))
                .collect();
            // Without NextLevel, the answer for a partial path is the whole subtree: whatever
            // else is stored below it is gone from the device.
            let path = req.parameter_path.as_str();
            let complete =
                (!req.next_level && (path.is_empty() || path.ends_with('.'))).then_some(path);
            store
                .store_parameter_names(device_id, &names, complete, at)
                .await?;
        }
        (Some(Body::AddObject(req)), Body::AddObjectResponse(r)) => {
            let instance = format!("{}{}.", req.object_name, r.instance_number);
            store
                .store_object_instance(device_id, &instance, at)
                .await?;
        }
        (Some(Body::DeleteObject(req)), Body::DeleteObjectResponse(_)) => {
            store
                .delete_parameter_subtree(device_id, &req.object_name)
                .await?;
        }
        (Some(Body::SetParameterAttributes(req)), Body::SetParameterAttributesResponse) => {
            let records: Vec<AttributeRecord> = req
                .parameter_list
                .iter()
                .map(|a| AttributeRecord {
                    name: a.name.clone(),
                    notification: a.notification_change.then_some(i32::from(a.notification)),
                    access_list: a.access_list_change.then(|| a.access_list.clone()),
                })
                .collect();
            store
                .store_parameter_attributes(device_id, &records, at)
                .await?;
        }
        (_, Body::GetParameterAttributesResponse(r)) => {
            let records: Vec<AttributeRecord> = r
                .parameter_list
                .iter()
                .map(|a| AttributeRecord {
                    name: a.name.clone(),
                    notification: Some(i32::from(a.notification)),
                    access_list: Some(a.access_list.clone()),
                })
                .collect();
            store
                .store_parameter_attributes(device_id, &records, at)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

async fn store_values(
    store: &Store,
    device_id: &str,
    values: &[ParameterValue],
    writable: Option<bool>,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let records: Vec<ParameterRecord> = values
        .iter()
        .map(|p| ParameterRecord {
            writable,
            ..ParameterRecord::from_value(p)
        })
        .collect();
    store.upsert_parameters(device_id, &records, at).await?;
    crate::truth::lines::record(
        store,
        device_id,
        values.iter().map(|p| (p.name.as_str(), p.value.as_str())),
        at,
    )
    .await?;
    if let Some(mac) = mac_of(values.iter().map(|p| (p.name.as_str(), p.value.as_str()))) {
        store.learn_device_mac(device_id, &mac).await?;
    }
    // What presence judges the device by (an MPP phone reports it only when asked).
    if let Some(secs) = values
        .iter()
        .filter(|p| p.name.ends_with(".ManagementServer.PeriodicInformInterval"))
        .find_map(|p| p.value.trim().parse::<i64>().ok().filter(|s| *s > 0))
    {
        store.learn_periodic_interval(device_id, secs).await?;
    }
    Ok(())
}

/// The device's MAC among reported parameters: the valid, non-zero value of the most preferred
/// MAC parameter ([`DataModel::mac_rank`]), normalised to `AA:BB:CC:DD:EE:FF`.
pub fn mac_of<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let model = DataModel::builtin();
    params
        .into_iter()
        .filter_map(|(name, value)| {
            let rank = model.mac_rank(name)?;
            let mac = normalize_mac(value)?;
            (mac != "00:00:00:00:00:00").then_some((rank, name, mac))
        })
        // Lowest rank, then the lowest instance (Interface.1 before Interface.2).
        .min_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)))
        .map(|(_, _, mac)| mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parameters() {
        let mac = |params: &[(&str, &str)]| mac_of(params.iter().copied());
        assert_eq!(
            mac(&[("Device.Ethernet.Interface.1.MACAddress", "00562b0a0b0c")]).as_deref(),
            Some("00:56:2B:0A:0B:0C")
        );
        assert_eq!(
            mac(&[(
                "InternetGatewayDevice.LANDevice.1.LANEthernetInterfaceConfig.2.MACAddress",
                "aa:bb:cc:dd:ee:ff"
            )])
            .as_deref(),
            Some("AA:BB:CC:DD:EE:FF")
        );
        assert_eq!(
            mac(&[("Device.LAN.MACAddress", "AA-BB-CC-DD-EE-01")]).as_deref(),
            normalize_mac("AA-BB-CC-DD-EE-01").as_deref()
        );
        // A neighbour's MAC (a LAN host, a Wi-Fi station) is not the device's.
        assert_eq!(
            mac(&[(
                "InternetGatewayDevice.LANDevice.1.Hosts.Host.1.MACAddress",
                "aa:bb:cc:dd:ee:ff"
            )]),
            None
        );
        assert_eq!(
            mac(&[(
                "Device.WiFi.AccessPoint.1.AssociatedDevice.1.MACAddress",
                "aa:bb:cc:dd:ee:ff"
            )]),
            None
        );
        // Invalid or all-zero values teach nothing; the preferred parameter wins.
        assert_eq!(mac(&[("Device.Ethernet.Interface.1.MACAddress", "")]), None);
        assert_eq!(
            mac(&[(
                "Device.Ethernet.Interface.1.MACAddress",
                "00:00:00:00:00:00"
            )]),
            None
        );
        assert_eq!(
            mac(&[
                ("Device.LAN.MACAddress", "aa:bb:cc:dd:ee:02"),
                (
                    "Device.Ethernet.Interface.2.MACAddress",
                    "aa:bb:cc:dd:ee:03"
                ),
                (
                    "Device.Ethernet.Interface.1.MACAddress",
                    "aa:bb:cc:dd:ee:01"
                ),
            ])
            .as_deref(),
            Some("AA:BB:CC:DD:EE:01")
        );
    }
}

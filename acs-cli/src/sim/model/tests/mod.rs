//! Unit tests of the data model, and the devices and helpers they share.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use super::state::Row;
use super::*;
use crate::sim::profile::{Profile, XsdType};

mod notification;
mod objects;
mod schema;
mod values;

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

fn names_of(v: &[ParamInfo]) -> Vec<&str> {
    v.iter().map(|i| i.name.as_str()).collect()
}

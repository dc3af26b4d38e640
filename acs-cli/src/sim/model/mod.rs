//! The simulated CPE's data model engine: pure, no I/O.
//!
//! A [`Schema`] is compiled once per [`Profile`](super::Profile) and shared (`Arc`) by every
//! device of that kind; a [`DataModel`] is one device. It stores only what differs per device:
//! one small row per parameter (definition index, instance number, the value only once it
//! differs from the profile default, Notification and AccessList), plus the device's template
//! variables. Defaults are rendered from the shared templates on read.
//!
//! The operations follow TR-069 Annex A: GetParameterValues/Names/Attributes, atomic
//! SetParameterValues with per-parameter faults, SetParameterAttributes, AddObject/DeleteObject
//! on the tables the profile declares, FactoryReset, and the Inform parameter list with
//! value-change tracking. Order is stable: the tree order of the profile (siblings in the order
//! they first appear in the profile, instances by number).

mod fault;
mod methods;
mod schema;
mod state;
mod template;
mod value;

#[cfg(test)]
mod tests;

pub use fault::{CpeFault, FaultCode, ParameterFault};
pub use methods::{ParamAttributes, ParamInfo, SUBSCRIBER, SetAttributes};
pub use schema::Schema;
pub use state::{DataModel, ParamValue};
pub use template::{DeviceVars, mac_from_serial};
pub use value::check_value;

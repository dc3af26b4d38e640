//! "The stored state never lies": what each answer of a CPE changes in the stored parameter
//! tree, how a SetParameterValues gets its types without the operator typing them, and what is
//! read from a device when it bootstraps.
//!
//! - [`datamodel`]: parameter types and writability from TR-181/TR-098/TR-104 and the device
//!   profiles, and which parameters hold a device's MAC.
//! - [`types`]: stored type, else data model, else the CPE's own answer.
//! - [`record`]: storing a successful answer (values, names, instances, attributes, MAC).
//! - [`bootstrap`]: the `[bootstrap]` read.
//! - [`lines`]: registration state of voice lines, and which of its changes are events.

pub mod bootstrap;
pub mod datamodel;
pub mod lines;
pub mod record;
pub mod types;

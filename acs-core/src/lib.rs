//! The core of `acs`, a TR-069 (CWMP) Auto-Configuration Server: everything that is neither
//! HTTP serving nor the command line.
//!
//! - [`cwmp`]: the SOAP codec (pure, no I/O): the `acs-cwmp` crate, re-exported.
//! - [`driver`]: the CWMP session engine: what a session stores and sends, between the
//!   Inform and the 204 (no HTTP).
//! - [`dhcp`]: DHCP discovery of the ACS: option 43/125 and DHCPv6 option 17 values and server
//!   snippets (pure, no I/O).
//! - [`auth`]: HTTP Basic and Digest authentication of CPEs (pure, clock passed in).
//! - [`connreq`]: connection requests (ACS → CPE), paced and fanned out.
//! - [`config`]: the server's settings (defaults, TOML file, `ACS_…` environment, flags).
//! - [`secret`]: a string that never prints.
//! - [`storage`]: sea-orm persistence behind [`storage::Store`] (SQLite WAL or PostgreSQL).
//! - [`tasks`]: task definitions: validation, the CWMP requests they become, how they complete.
//! - [`files`]: the content-addressed file store for firmware, templates and certificates.
//! - [`filter`]: the device filter language (parsed here, compiled to SQL by storage).
//! - [`ops`]: operations for the NBI: tasks with connection requests and waits, bulk jobs,
//!   faults, bulk parameter queries.
//! - [`presence`]: online, late or offline, from the last Inform and the periodic interval.
//! - [`rollout`]: where each device of a firmware rollout stands (derived, never stored).
//! - [`session`]: the CWMP session state machine (pure; [`driver`] gives it storage), from
//!   `acs-cwmp`.
//! - [`window`]: maintenance windows (`Mon-Fri 01:00-05:00 Europe/Oslo`), DST-aware.
//! - [`truth`]: what CPE answers change in the stored tree; value types; the bootstrap read.

pub mod alerts;
pub mod auth;
pub mod config;
pub mod connreq;
pub mod dhcp;
pub mod driver;
pub mod filekind;
pub mod files;
pub mod filter;
pub mod ops;
pub mod presence;
pub mod provision;
pub mod rollout;
pub mod secret;
pub mod storage;
pub mod tasks;
pub mod template;
pub mod truth;
pub mod vault;
pub mod window;

pub use acs_cwmp as cwmp;
pub use acs_cwmp::session;

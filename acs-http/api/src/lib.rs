//! The acs northbound API (`/api/v1`, docs/NBI.md) as types: every request and response body,
//! every query string, with their OpenAPI schemas; and [`Client`], a typed client of it.
//!
//! The server (acs-http) serves these types and builds `schemas/openapi.json` from them; the
//! `acs` commands call the API through [`Client`]. A field renamed here is renamed for both,
//! and a client reading a field that no longer exists does not compile.
//!
//! This crate depends on nothing of acs-core. Core types are storage and engine types: they
//! carry secrets (connection-request passwords, Download credentials) and change with the
//! schema; the API promises a stable shape without secrets. acs-http converts its core types
//! into these, so a change below the API changes the wire only where that conversion is edited.

mod alerts;
pub mod client;
mod definition;
mod devices;
mod error;
mod files;
mod jobs;
mod provision;
mod results;
mod tasks;

#[cfg(test)]
mod tests;

pub use alerts::{
    AlertDelivery, AlertList, AlertListQuery, AlertTestQuery, AlertTestQueued, DeliveryStateName,
};
pub use client::{ApiFailure, Client, ClientError, ParameterLines};
pub use definition::{REDACTED, SetAttribute, SetValue, TaskDefinition, TimeWindow, redact};
pub use devices::{
    BulkParametersQuery, Count, CountQuery, Device, DeviceList, DeviceListQuery, Event, EventList,
    EventsQuery, Parameter, ParameterLine, ParameterList, ParametersQuery, PresenceName,
    ResolveQuery,
};
pub use error::ErrorBody;
pub use files::{
    File, FileList, FileListQuery, RenderRequest, Rendered, Transfer, TransferLog, TransferQuery,
    UploadQuery,
};
pub use jobs::{
    Counts, CreateJob, FailureLimit, Job, JobDevices, JobList, JobListQuery, JobStateName,
    JobTasksQuery, Rollout, RolloutCounts, RolloutStateName,
};
pub use provision::{
    ProvisionAttribute, ProvisionItem, ProvisionObject, ProvisionRule, ProvisionRuleInput,
    ResetQuery, ResetResult,
};
pub use results::{
    AttributesRead, NameRead, QueuedTransfer, RpcResponse, TaskResult, TransferComplete, ValueRead,
};
pub use tasks::{
    ClearFaults, Cleared, ConnReq, CreateTaskQuery, DeviceTaskList, FaultList, FaultListQuery,
    Task, TaskFault, TaskList, TaskListQuery, TaskStateName,
};

//! The end-to-end suites: one test binary, run against SQLite by default and against
//! PostgreSQL when `ACS_TEST_DATABASE_URL` is set.

mod alerts;
mod api;
mod auth;
mod device_credentials;
mod durability;
mod edge;
mod ensure;
mod files;
mod lines;
mod operations;
mod outcomes;
mod packaging;
mod presence;
mod provision;
mod roles;
mod rollout;
mod sessions;
mod simulated;
mod tasks;
mod transport;
mod truth;
mod typed_client;
mod windows;

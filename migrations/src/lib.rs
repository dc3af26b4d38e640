//! Database migrations for acs (SQLite and PostgreSQL).
//!
//! Every migration is written with the sea-query schema builders so the same
//! code produces correct DDL for both backends; backend-specific DDL is used
//! only where the backends genuinely differ (see the `device_parameters`
//! value index in [`m20261121_000001_initial_schema`]).

/// Re-exported so `acs db status` can read migration states without its own dependency.
pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

pub mod m20261121_000001_initial_schema;
pub mod m20261121_000002_api_tokens;
pub mod m20261121_000003_jobs;
pub mod m20261121_000004_files;
pub mod m20261121_000005_rollouts;
pub mod m20261121_000006_provisioning;
pub mod m20261205_000007_device_credentials;
pub mod m20261205_000008_parameter_truth;
pub mod m20261205_000009_task_outcomes;
pub mod m20261205_000011_transfer_files;
pub mod m20261206_000012_presence;
pub mod m20261206_000013_job_windows;
pub mod m20261206_000014_provision_checks;
pub mod m20261206_000015_device_lines;

pub mod m20261206_000016_alert_outbox;

/// The ordered list of all acs migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_initial_schema::Migration),
            Box::new(m20261121_000002_api_tokens::Migration),
            Box::new(m20261121_000003_jobs::Migration),
            Box::new(m20261121_000004_files::Migration),
            Box::new(m20261121_000005_rollouts::Migration),
            Box::new(m20261121_000006_provisioning::Migration),
            Box::new(m20261205_000007_device_credentials::Migration),
            Box::new(m20261205_000008_parameter_truth::Migration),
            Box::new(m20261205_000009_task_outcomes::Migration),
            Box::new(m20261205_000011_transfer_files::Migration),
            Box::new(m20261206_000012_presence::Migration),
            Box::new(m20261206_000013_job_windows::Migration),
            Box::new(m20261206_000014_provision_checks::Migration),
            Box::new(m20261206_000015_device_lines::Migration),
            Box::new(m20261206_000016_alert_outbox::Migration),
        ]
    }
}

//! Rollout limits on `jobs`: how many devices may be transferring at once, how many failures
//! stop the job, and why a job stopped.
//!
//! Devices a rate-limited job has not released yet are ordinary task rows in state `held`
//! (inserted with the job, in the same transaction), so a job still exists with all its tasks
//! or not at all, its progress is still counted from its tasks, and releasing a device is one
//! `held -> queued` update the runner can repeat after a restart without sending anything
//! twice.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum Jobs {
    Table,
    Concurrency,
    MaxFailures,
    StopReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            integer_null(Jobs::Concurrency),
            text_null(Jobs::MaxFailures),
            text_null(Jobs::StopReason),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Jobs::StopReason, Jobs::MaxFailures, Jobs::Concurrency] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

//! `jobs` (one task definition over many devices) and cleared faults.
//!
//! A job's progress is never stored: it is counted from its tasks (`idx_tasks_job_id`), so it
//! cannot drift from what the tasks say, whatever crashes in between. `tasks.fault_cleared_at`
//! lets an operator dismiss a fault without deleting the task's history.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum Jobs {
    Table,
    Id,
    Definition,
    Filter,
    ConnectionRequest,
    State,
    Total,
    CreatedBy,
    CreatedAt,
    FinishedAt,
}

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum Tasks {
    Table,
    State,
    Id,
    FaultClearedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Jobs::Id))
                    .col(json_binary(Jobs::Definition))
                    .col(text_null(Jobs::Filter))
                    .col(boolean(Jobs::ConnectionRequest))
                    .col(text(Jobs::State))
                    .col(big_integer(Jobs::Total))
                    .col(text_null(Jobs::CreatedBy))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_jobs_state")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(timestamp_with_time_zone_null(Tasks::FaultClearedAt))
                    .to_owned(),
            )
            .await?;
        // Fault listings and the expiry sweep select by state across all devices.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_tasks_state_id")
                    .table(Tasks::Table)
                    .col(Tasks::State)
                    .col(Tasks::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_tasks_state_id")
                    .table(Tasks::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .drop_column(Tasks::FaultClearedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Jobs::Table).if_exists().to_owned())
            .await
    }
}

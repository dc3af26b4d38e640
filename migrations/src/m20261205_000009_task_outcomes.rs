//! The last connection request made for a task: what the CPE (or the network) answered, so a
//! task waiting in the queue says why its device has not come yet (`auth_failed`,
//! `unreachable`, `timeout`, …) instead of looking merely slow.
//!
//! Kept on the task row rather than in a log table: each task needs only its latest wake-up,
//! and the NBI reads it with the task, without a join.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum Tasks {
    Table,
    ConnreqOutcome,
    ConnreqDetail,
    ConnreqAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            text_null(Tasks::ConnreqOutcome),
            text_null(Tasks::ConnreqDetail),
            timestamp_with_time_zone_null(Tasks::ConnreqAt),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Tasks::ConnreqAt,
            Tasks::ConnreqDetail,
            Tasks::ConnreqOutcome,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

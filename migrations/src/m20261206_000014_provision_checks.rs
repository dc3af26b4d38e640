//! Provisioning that ensures: each (device, rule, item) remembers when the device was last read
//! to verify the item still holds (`checked_at`) and the read's task (`check_task_id`), so a
//! drifted value is found at most once per check interval and re-pushed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261121_000006_provisioning::ProvisionStates;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
enum Check {
    CheckedAt,
    CheckTaskId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(ProvisionStates::Table)
                    .add_column(timestamp_with_time_zone_null(Check::CheckedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ProvisionStates::Table)
                    .add_column(big_integer_null(Check::CheckTaskId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Check::CheckTaskId, Check::CheckedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ProvisionStates::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

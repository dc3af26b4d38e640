//! Zero-touch provisioning: `provision_rules` (rules added through the API; rules from the
//! configuration file live only in memory) and `provision_states`: for each device, rule and
//! item (parameters, connection-request credentials, configuration, firmware) what was last
//! pushed (a hash of the target), the task that pushed it, and the counters behind backoff and
//! loop protection.
//!
//! A state row is written in the same transaction as the task it records, so a push is never
//! stored without its task nor the other way round, and nothing is pushed twice for the same
//! target after a crash.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum ProvisionRules {
    Table,
    Name,
    Definition,
    CreatedBy,
    CreatedAt,
}

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum ProvisionStates {
    Table,
    DeviceId,
    Rule,
    Item,
    TargetHash,
    TaskId,
    Status,
    Failures,
    NextAttemptAt,
    WindowStart,
    WindowPushes,
    Detail,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, DeriveIden)]
enum Devices {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProvisionRules::Table)
                    .if_not_exists()
                    .col(text(ProvisionRules::Name).primary_key())
                    .col(json_binary(ProvisionRules::Definition))
                    .col(text_null(ProvisionRules::CreatedBy))
                    .col(timestamp_with_time_zone(ProvisionRules::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProvisionStates::Table)
                    .if_not_exists()
                    .col(text(ProvisionStates::DeviceId))
                    .col(text(ProvisionStates::Rule))
                    .col(text(ProvisionStates::Item))
                    .col(text(ProvisionStates::TargetHash))
                    .col(big_integer_null(ProvisionStates::TaskId))
                    .col(text(ProvisionStates::Status))
                    .col(integer(ProvisionStates::Failures))
                    .col(timestamp_with_time_zone_null(
                        ProvisionStates::NextAttemptAt,
                    ))
                    .col(timestamp_with_time_zone_null(ProvisionStates::WindowStart))
                    .col(integer(ProvisionStates::WindowPushes))
                    .col(text_null(ProvisionStates::Detail))
                    .col(timestamp_with_time_zone(ProvisionStates::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(ProvisionStates::DeviceId)
                            .col(ProvisionStates::Rule)
                            .col(ProvisionStates::Item),
                    )
                    .foreign_key(
                        &mut ForeignKey::create()
                            .from(ProvisionStates::Table, ProvisionStates::DeviceId)
                            .to(Devices::Table, Devices::Id)
                            .on_delete(ForeignKeyAction::Cascade)
                            .on_update(ForeignKeyAction::Cascade)
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProvisionStates::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ProvisionRules::Table).to_owned())
            .await?;
        Ok(())
    }
}

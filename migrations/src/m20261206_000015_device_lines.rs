//! The registration state of each voice line of a device (TR-104 `Line.{i}.Status`, or a
//! vendor parameter a device profile names): kept current from Informs (`4 VALUE CHANGE`
//! with active notification) and reads, so `line_status` filters and per-state counts need no
//! scan of the parameter table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261121_000001_initial_schema::Devices;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum DeviceLines {
    Table,
    DeviceId,
    Line,
    Status,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeviceLines::Table)
                    .if_not_exists()
                    .col(text(DeviceLines::DeviceId))
                    .col(text(DeviceLines::Line))
                    .col(text(DeviceLines::Status))
                    .col(timestamp_with_time_zone(DeviceLines::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(DeviceLines::DeviceId)
                            .col(DeviceLines::Line),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeviceLines::Table, DeviceLines::DeviceId)
                            .to(Devices::Table, Devices::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_device_lines_status")
                    .table(DeviceLines::Table)
                    .col(DeviceLines::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeviceLines::Table).to_owned())
            .await
    }
}

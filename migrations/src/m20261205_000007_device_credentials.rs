//! `device_credentials`: per-device ACS credentials (the device's `ManagementServer.Username`
//! and `.Password`), bound to the device identity `OUI-ProductClass-SerialNumber`.
//!
//! No foreign key to `devices`: an operator may enrol credentials before the device's first
//! Inform. `username` is unique so the CWMP endpoint finds the row of a claimed username with
//! one index lookup. `password` is sealed (see `acs_core::vault`), never plain text.
//!
//! Connection-request passwords already stored in plain text in `devices` are sealed by the
//! server at start-up (it holds the key; a migration does not), see `Store::seal_legacy_secrets`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum DeviceCredentials {
    Table,
    DeviceId,
    Username,
    Password,
    Origin,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeviceCredentials::Table)
                    .if_not_exists()
                    .col(text(DeviceCredentials::DeviceId).primary_key())
                    .col(text(DeviceCredentials::Username).unique_key())
                    .col(text(DeviceCredentials::Password))
                    .col(text(DeviceCredentials::Origin))
                    .col(timestamp_with_time_zone(DeviceCredentials::CreatedAt))
                    .col(timestamp_with_time_zone(DeviceCredentials::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(DeviceCredentials::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

//! Presence: whether each device is `online`, `late` or `offline`, and when that must next be
//! looked at (`presence_due`, indexed), so the sweep reads only the devices whose state may have
//! changed and never scans the fleet.
//!
//! Existing devices start `online`, due at their last Inform: the first sweep after the upgrade
//! places each of them where its last Inform says, and records an event for those that are late
//! or offline already.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::m20261121_000001_initial_schema::Devices;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
enum Presence {
    Presence,
    PresenceDue,
}

const INDEX: &str = "idx_devices_presence_due";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let mut presence = string(Presence::Presence);
        presence.default("online");
        for col in [
            presence,
            timestamp_with_time_zone_null(Presence::PresenceDue),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(Devices::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        let due_now = Query::update()
            .table(Devices::Table)
            .value(Presence::PresenceDue, Expr::col(Devices::LastInform))
            .to_owned();
        manager.get_connection().execute(&due_now).await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Devices::Table)
                    .col(Presence::PresenceDue)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Devices::Table).to_owned())
            .await?;
        for col in [Presence::PresenceDue, Presence::Presence] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Devices::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

//! The alert outbox: one row per (alert, webhook), stored before anything is sent, so an alert
//! survives a receiver that is down and a restart of the ACS (delivery is at least once, the
//! receiver deduplicates by `idempotency_key`).
//!
//! The worker reads only due rows through the index on `(state, next_attempt_at)`; the unique
//! index on `(webhook, idempotency_key)` makes raising the same alert twice a no-op.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum AlertOutbox {
    Table,
    Id,
    Webhook,
    Event,
    IdempotencyKey,
    Body,
    Attempts,
    NextAttemptAt,
    State,
    LastError,
    CreatedAt,
    DeliveredAt,
}

const DUE: &str = "idx_alert_outbox_due";
const KEY: &str = "idx_alert_outbox_key";
const CREATED: &str = "idx_alert_outbox_created";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AlertOutbox::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AlertOutbox::Id))
                    .col(text(AlertOutbox::Webhook))
                    .col(text(AlertOutbox::Event))
                    .col(text(AlertOutbox::IdempotencyKey))
                    // The exact bytes that are signed and sent, so a retry sends the same body.
                    .col(text(AlertOutbox::Body))
                    .col(integer(AlertOutbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(AlertOutbox::NextAttemptAt))
                    .col(text(AlertOutbox::State))
                    .col(text_null(AlertOutbox::LastError))
                    .col(timestamp_with_time_zone(AlertOutbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(AlertOutbox::DeliveredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(DUE)
                    .table(AlertOutbox::Table)
                    .col(AlertOutbox::State)
                    .col(AlertOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(KEY)
                    .table(AlertOutbox::Table)
                    .col(AlertOutbox::Webhook)
                    .col(AlertOutbox::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(CREATED)
                    .table(AlertOutbox::Table)
                    .col(AlertOutbox::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AlertOutbox::Table).to_owned())
            .await
    }
}

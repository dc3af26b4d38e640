//! `api_tokens`: bearer tokens for the northbound interface.
//!
//! Only an argon2id hash of each token is stored. `prefix` (the first eight
//! characters of the token's random part) is indexed so that verifying a
//! token is one index lookup followed by one argon2 verification, never a
//! scan of every hash.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum ApiTokens {
    Table,
    Id,
    Name,
    Role,
    Prefix,
    Hash,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ApiTokens::Id))
                    .col(text(ApiTokens::Name).unique_key())
                    .col(text(ApiTokens::Role))
                    .col(text(ApiTokens::Prefix))
                    .col(text(ApiTokens::Hash))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_api_tokens_prefix")
                    .table(ApiTokens::Table)
                    .col(ApiTokens::Prefix)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiTokens::Table).if_exists().to_owned())
            .await
    }
}

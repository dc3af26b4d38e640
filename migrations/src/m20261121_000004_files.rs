//! `files`: firmware images, configuration templates, CA certificates and other files the ACS
//! serves to CPEs, and `file_transfers`: every CPE fetch of one, for per-device counts and
//! failures.
//!
//! Content lives on disk under the data directory, addressed by SHA-256; the table holds the
//! metadata. Two uploads of the same bytes share one blob.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum Files {
    Table,
    Id,
    Name,
    FileType,
    ProductClass,
    Version,
    Sha256,
    Size,
    CreatedAt,
}

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum FileTransfers {
    Table,
    Id,
    FileId,
    DeviceId,
    TaskId,
    RemoteIp,
    Status,
    Bytes,
    Outcome,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Files::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Files::Id))
                    .col(text(Files::Name))
                    .col(text(Files::FileType))
                    .col(text_null(Files::ProductClass))
                    .col(text_null(Files::Version))
                    .col(text(Files::Sha256))
                    .col(big_integer(Files::Size))
                    .col(timestamp_with_time_zone(Files::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_files_sha256")
                    .table(Files::Table)
                    .col(Files::Sha256)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FileTransfers::Table)
                    .if_not_exists()
                    .col(big_pk_auto(FileTransfers::Id))
                    .col(big_integer_null(FileTransfers::FileId))
                    .col(text_null(FileTransfers::DeviceId))
                    .col(big_integer_null(FileTransfers::TaskId))
                    .col(text_null(FileTransfers::RemoteIp))
                    .col(integer(FileTransfers::Status))
                    .col(big_integer(FileTransfers::Bytes))
                    .col(text(FileTransfers::Outcome))
                    .col(timestamp_with_time_zone(FileTransfers::At))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_file_transfers_device_id", FileTransfers::DeviceId),
            ("idx_file_transfers_file_id", FileTransfers::FileId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .if_not_exists()
                        .name(name)
                        .table(FileTransfers::Table)
                        .col(col)
                        .col(FileTransfers::Id)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [FileTransfers::Table.into_iden(), Files::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

//! A job's maintenance window (`Mon-Fri 01:00-05:00 Europe/Oslo`): its tasks reach devices only
//! while the window is open. Stored as written; the core reads it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::m20261121_000003_jobs::Jobs;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
enum Window {
    MaintenanceWindow,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(text_null(Window::MaintenanceWindow))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Window::MaintenanceWindow)
                    .to_owned(),
            )
            .await
    }
}

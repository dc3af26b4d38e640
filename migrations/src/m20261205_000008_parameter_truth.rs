//! What the CPE reported about each parameter's attributes: its Notification setting and its
//! AccessList (TR-069 §A.3.2.4/§A.3.2.5), stored from SetParameterAttributes the CPE accepted
//! and from GetParameterAttributesResponse. `NULL` means "never learned", which is different
//! from notification 0 / an empty access list.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum DeviceParameters {
    Table,
    Notification,
    AccessList,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            integer_null(DeviceParameters::Notification),
            text_null(DeviceParameters::AccessList),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(DeviceParameters::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [DeviceParameters::AccessList, DeviceParameters::Notification] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DeviceParameters::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

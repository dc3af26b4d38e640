//! Initial schema: devices and their tags, parameters, events and task queue.
//!
//! Sized for a million devices: every lookup the Inform path makes is a
//! primary-key or index lookup, and every child table has an index whose
//! leading column is `device_id`, so `ON DELETE CASCADE` from `devices` never
//! scans a child table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// `devices`: one row per CPE, keyed by the caller-computed device id.
#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum Devices {
    Table,
    Id,
    Manufacturer,
    Oui,
    OuiNormalized,
    ProductClass,
    SerialNumber,
    Mac,
    SoftwareVersion,
    HardwareVersion,
    ProvisioningCode,
    ConnectionRequestUrl,
    ConnectionRequestUsername,
    ConnectionRequestPassword,
    RemoteIp,
    CwmpVersion,
    FirstSeen,
    LastInform,
    LastBoot,
    LastBootstrap,
    PeriodicInformInterval,
    LastEvents,
    CreatedAt,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum DeviceTags {
    Table,
    DeviceId,
    Tag,
}

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum DeviceParameters {
    Table,
    DeviceId,
    Name,
    Value,
    XsdType,
    Writable,
    UpdatedAt,
}

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum DeviceEvents {
    Table,
    Id,
    DeviceId,
    EventCode,
    CommandKey,
    ReceivedAt,
}

#[derive(Debug, Clone, Copy, DeriveIden)]
pub enum Tasks {
    Table,
    Id,
    DeviceId,
    Kind,
    Payload,
    State,
    CwmpId,
    CommandKey,
    Attempts,
    MaxAttempts,
    CreatedAt,
    SentAt,
    FinishedAt,
    ExpiresAt,
    Result,
    FaultCode,
    FaultString,
    FaultDetail,
    JobId,
}

/// Number of characters of `device_parameters.value` covered by the
/// PostgreSQL value index. A B-tree entry must fit in about a third of a page
/// (~2700 bytes); parameter values such as certificates are longer, and
/// indexing the whole column would make such an upsert fail. 256 characters
/// are at most 1024 bytes in UTF-8.
pub const PG_VALUE_INDEX_CHARS: u32 = 256;

fn cascade_to_devices<T: IntoIden + 'static, C: IntoIden + 'static>(
    table: T,
    column: C,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Devices::Table, Devices::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .take()
}

fn index<T: IntoIden + 'static>(name: &str, table: T) -> IndexCreateStatement {
    Index::create()
        .if_not_exists()
        .name(name)
        .table(table)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Devices::Table)
                    .if_not_exists()
                    .col(text(Devices::Id).primary_key())
                    .col(text(Devices::Manufacturer))
                    .col(text(Devices::Oui))
                    .col(text(Devices::OuiNormalized))
                    .col(text(Devices::ProductClass))
                    .col(text(Devices::SerialNumber))
                    .col(text_null(Devices::Mac))
                    .col(text_null(Devices::SoftwareVersion))
                    .col(text_null(Devices::HardwareVersion))
                    .col(text_null(Devices::ProvisioningCode))
                    .col(text_null(Devices::ConnectionRequestUrl))
                    .col(text_null(Devices::ConnectionRequestUsername))
                    .col(text_null(Devices::ConnectionRequestPassword))
                    .col(text_null(Devices::RemoteIp))
                    .col(text(Devices::CwmpVersion))
                    .col(timestamp_with_time_zone(Devices::FirstSeen))
                    .col(timestamp_with_time_zone(Devices::LastInform))
                    .col(timestamp_with_time_zone_null(Devices::LastBoot))
                    .col(timestamp_with_time_zone_null(Devices::LastBootstrap))
                    .col(big_integer_null(Devices::PeriodicInformInterval))
                    .col(json_binary(Devices::LastEvents))
                    .col(timestamp_with_time_zone(Devices::CreatedAt))
                    .col(timestamp_with_time_zone(Devices::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_devices_serial_number", Devices::SerialNumber),
            ("idx_devices_mac", Devices::Mac),
            ("idx_devices_product_class", Devices::ProductClass),
            ("idx_devices_last_inform", Devices::LastInform),
            ("idx_devices_oui_normalized", Devices::OuiNormalized),
        ] {
            manager
                .create_index(index(name, Devices::Table).col(col).to_owned())
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(DeviceTags::Table)
                    .if_not_exists()
                    .col(text(DeviceTags::DeviceId))
                    .col(text(DeviceTags::Tag))
                    .primary_key(
                        Index::create()
                            .col(DeviceTags::DeviceId)
                            .col(DeviceTags::Tag),
                    )
                    .foreign_key(&mut cascade_to_devices(
                        DeviceTags::Table,
                        DeviceTags::DeviceId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("idx_device_tags_tag", DeviceTags::Table)
                    .col(DeviceTags::Tag)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeviceParameters::Table)
                    .if_not_exists()
                    .col(text(DeviceParameters::DeviceId))
                    .col(text(DeviceParameters::Name))
                    .col(text(DeviceParameters::Value))
                    .col(text(DeviceParameters::XsdType))
                    .col(boolean_null(DeviceParameters::Writable))
                    .col(timestamp_with_time_zone(DeviceParameters::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(DeviceParameters::DeviceId)
                            .col(DeviceParameters::Name),
                    )
                    .foreign_key(&mut cascade_to_devices(
                        DeviceParameters::Table,
                        DeviceParameters::DeviceId,
                    ))
                    .to_owned(),
            )
            .await?;
        // (name, value) index for parameter filters such as
        // `Device.DeviceInfo.SoftwareVersion ~ "sip88xx*"`.
        let mut value_index = index("idx_device_parameters_name_value", DeviceParameters::Table);
        value_index.col(DeviceParameters::Name);
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                // PostgreSQL: index a bounded prefix of the value (see
                // PG_VALUE_INDEX_CHARS) with `text_pattern_ops`, so both
                // `left(value, 256) = $1` and `left(value, 256) LIKE 'p%'`
                // can use the index whatever the database collation is.
                value_index.col(
                    IndexColumn::from(Expr::cust(format!(
                        "left(\"value\", {PG_VALUE_INDEX_CHARS})"
                    )))
                    .with_operator_class("text_pattern_ops"),
                );
            }
            _ => {
                // SQLite has no index entry size limit: index the value itself.
                value_index.col(DeviceParameters::Value);
            }
        }
        manager.create_index(value_index).await?;

        manager
            .create_table(
                Table::create()
                    .table(DeviceEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(DeviceEvents::Id))
                    .col(text(DeviceEvents::DeviceId))
                    .col(text(DeviceEvents::EventCode))
                    .col(text_null(DeviceEvents::CommandKey))
                    .col(timestamp_with_time_zone(DeviceEvents::ReceivedAt))
                    .foreign_key(&mut cascade_to_devices(
                        DeviceEvents::Table,
                        DeviceEvents::DeviceId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("idx_device_events_device_id_id", DeviceEvents::Table)
                    .col(DeviceEvents::DeviceId)
                    .col(DeviceEvents::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Tasks::Id))
                    .col(text(Tasks::DeviceId))
                    .col(text(Tasks::Kind))
                    .col(json_binary(Tasks::Payload))
                    .col(text(Tasks::State))
                    .col(text_null(Tasks::CwmpId))
                    .col(text_null(Tasks::CommandKey))
                    .col(integer(Tasks::Attempts).default(0))
                    .col(integer(Tasks::MaxAttempts))
                    .col(timestamp_with_time_zone(Tasks::CreatedAt))
                    .col(timestamp_with_time_zone_null(Tasks::SentAt))
                    .col(timestamp_with_time_zone_null(Tasks::FinishedAt))
                    .col(timestamp_with_time_zone_null(Tasks::ExpiresAt))
                    .col(json_binary_null(Tasks::Result))
                    .col(integer_null(Tasks::FaultCode))
                    .col(text_null(Tasks::FaultString))
                    .col(json_binary_null(Tasks::FaultDetail))
                    .col(big_integer_null(Tasks::JobId))
                    .foreign_key(&mut cascade_to_devices(Tasks::Table, Tasks::DeviceId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("idx_tasks_device_id_state_id", Tasks::Table)
                    .col(Tasks::DeviceId)
                    .col(Tasks::State)
                    .col(Tasks::Id)
                    .to_owned(),
            )
            .await?;
        // A job (bulk operation) looks up its tasks by job id.
        manager
            .create_index(
                index("idx_tasks_job_id", Tasks::Table)
                    .col(Tasks::JobId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Tasks::Table.into_iden(),
            DeviceEvents::Table.into_iden(),
            DeviceParameters::Table.into_iden(),
            DeviceTags::Table.into_iden(),
            Devices::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DDL the builders produce, checked by eye once and kept stable.
    #[test]
    fn pg_value_index_is_an_expression_index() {
        let sql = index("idx", DeviceParameters::Table)
            .col(DeviceParameters::Name)
            .col(
                IndexColumn::from(Expr::cust(format!(
                    "left(\"value\", {PG_VALUE_INDEX_CHARS})"
                )))
                .with_operator_class("text_pattern_ops"),
            )
            .to_string(PostgresQueryBuilder);
        assert_eq!(
            sql,
            "CREATE INDEX IF NOT EXISTS \"idx\" ON \"device_parameters\" (\"name\", (left(\"value\", 256)) text_pattern_ops)"
        );
    }
}

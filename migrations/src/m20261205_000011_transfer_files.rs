//! Variables CSVs get their own file type, `vars`, which the file server never sends to a
//! device (they hold every phone's secrets and are only read to render templates).
//!
//! Before this migration they were stored as `other` and could be fetched like any file. This
//! marks as `vars` the `other` files that are variables CSVs: those a provisioning rule names
//! as its `vars_file`, those an unfinished Download task names as its `vars_file_id`, and
//! those `acs config push --vars` uploaded (named `<template>.vars-<id>.csv`). No schema
//! change: `file_type` is free text.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, JsonValue, TryGetable};

use crate::m20261121_000001_initial_schema::Tasks;
use crate::m20261121_000004_files::Files;
use crate::m20261121_000006_provisioning::ProvisionRules;

#[derive(Debug, DeriveMigrationName)]
pub struct Migration;

/// The JSON values of `column` in the rows `select` returns.
async fn json_column(
    db: &SchemaManagerConnection<'_>,
    select: SelectStatement,
    column: &str,
) -> Result<Vec<JsonValue>, DbErr> {
    let rows = db.query_all(&select).await?;
    rows.iter()
        .map(|row| JsonValue::try_get(row, "", column).map_err(DbErr::from))
        .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let rules = json_column(
            db,
            Query::select()
                .column(ProvisionRules::Definition)
                .from(ProvisionRules::Table)
                .to_owned(),
            "definition",
        )
        .await?;
        let tasks = json_column(
            db,
            Query::select()
                .column(Tasks::Payload)
                .from(Tasks::Table)
                .and_where(Expr::col(Tasks::State).is_in(["queued", "sent", "held"]))
                .to_owned(),
            "payload",
        )
        .await?;
        let ids: Vec<i64> = rules
            .iter()
            .filter_map(|d| d.get("vars_file")?.as_i64())
            .chain(
                tasks
                    .iter()
                    .filter_map(|p| p.get("spec")?.get("vars_file_id")?.as_i64()),
            )
            .collect();
        let update = Query::update()
            .table(Files::Table)
            .value(Files::FileType, "vars")
            .and_where(Expr::col(Files::FileType).eq("other"))
            .cond_where(
                Cond::any()
                    .add(Expr::col(Files::Id).is_in(ids))
                    .add(Expr::col(Files::Name).like("%.vars-%.csv")),
            )
            .to_owned();
        db.execute(&update).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Back to the only type older versions know; they serve it again, as they did.
        let update = Query::update()
            .table(Files::Table)
            .value(Files::FileType, "other")
            .and_where(Expr::col(Files::FileType).eq("vars"))
            .to_owned();
        manager.get_connection().execute(&update).await?;
        Ok(())
    }
}

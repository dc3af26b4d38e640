//! Writes that keep the stored parameter tree equal to what the CPE has: names and writability
//! from GetParameterNames, instances from AddObject/DeleteObject, attributes from
//! Set/GetParameterAttributes, and the device's MAC learned from stored parameters.
//!
//! Rows created from names alone (GetParameterNames, AddObject) have an empty value and an
//! empty type: "not read yet". They are never mistaken for a stored type (see
//! [`crate::truth::types`]), and the next GetParameterValues fills them in.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr, EntityName, IdenStatic};

use crate::storage::entity::{device, device_parameter};
use crate::storage::{Store, StoreError, chunks, ts};

/// One attribute change to store: what a SetParameterAttributes the CPE accepted changed, or
/// what a GetParameterAttributesResponse reported. `None` leaves the stored attribute alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeRecord {
    /// A full name, or a partial path ending in `.` (applies to every stored name below it).
    pub name: String,
    /// The Notification attribute.
    pub notification: Option<i32>,
    /// The AccessList.
    pub access_list: Option<Vec<String>>,
}

fn like_prefix(prefix: &str) -> LikeExpr {
    let escaped = prefix
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("{escaped}%")).escape('\\')
}

impl Store {
    /// Stores what a GetParameterNamesResponse listed: each name with its writability. Names
    /// not stored yet get a row with an empty value and type; stored values are kept. When
    /// `complete_under` is a partial path (a GetParameterNames that was not `NextLevel`), the
    /// response is the device's whole subtree there, so stored names below it that the CPE no
    /// longer has are removed.
    pub async fn store_parameter_names(
        &self,
        device_id: &str,
        names: &[(String, bool)],
        complete_under: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        upsert_names(&txn, device_id, names, at).await?;
        if let Some(prefix) = complete_under {
            let listed: HashSet<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
            let stale: Vec<String> = stored_names_under(&txn, device_id, prefix)
                .await?
                .into_iter()
                .filter(|n| !listed.contains(n.as_str()))
                .collect();
            delete_names(&txn, device_id, &stale).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Stores a new object instance (`….Line.3.`) after a successful AddObject.
    pub async fn store_object_instance(
        &self,
        device_id: &str,
        instance: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // The ACS created it, so the ACS may delete it: writable.
        self.store_parameter_names(device_id, &[(instance.to_owned(), true)], None, at)
            .await
    }

    /// Removes an object instance and everything below it after a successful DeleteObject.
    /// Returns how many rows went.
    pub async fn delete_parameter_subtree(
        &self,
        device_id: &str,
        prefix: &str,
    ) -> Result<u64, StoreError> {
        if !prefix.ends_with('.') {
            return Err(StoreError::InvalidInput(format!(
                "{prefix:?} is not an object path"
            )));
        }
        let txn = self.begin_write().await?;
        // LIKE is case-insensitive on SQLite: the exact test is done on the names read.
        let doomed: Vec<String> = stored_names_under(&txn, device_id, prefix).await?;
        delete_names(&txn, device_id, &doomed).await?;
        txn.commit().await?;
        Ok(doomed.len() as u64)
    }

    /// Forgets every stored attribute of a device (after a factory reset, `0 BOOTSTRAP`, its
    /// notification and access lists are the defaults again, whatever was set before).
    pub async fn forget_attributes(&self, device_id: &str) -> Result<(), StoreError> {
        use device_parameter::Column as C;
        let upd = Query::update()
            .table(device_parameter::Entity)
            .value(C::Notification, Expr::val(None::<i32>))
            .value(C::AccessList, Expr::val(None::<String>))
            .and_where(Expr::col(C::DeviceId).eq(device_id))
            .and_where(
                Expr::col(C::Notification)
                    .is_not_null()
                    .or(Expr::col(C::AccessList).is_not_null()),
            )
            .to_owned();
        self.write.execute(&upd).await?;
        Ok(())
    }

    /// Stores attribute changes (notification, access list).
    pub async fn store_parameter_attributes(
        &self,
        device_id: &str,
        records: &[AttributeRecord],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        use device_parameter::Column as C;
        let txn = self.begin_write().await?;
        for r in records {
            if r.notification.is_none() && r.access_list.is_none() {
                continue;
            }
            let access = r.access_list.as_ref().map(|l| l.join(","));
            if r.name.ends_with('.') {
                let targets = stored_names_under(&txn, device_id, &r.name).await?;
                for chunk in targets.chunks(500) {
                    let mut upd = Query::update();
                    upd.table(device_parameter::Entity)
                        .value(C::UpdatedAt, Expr::val(ts(at)))
                        .and_where(Expr::col(C::DeviceId).eq(device_id))
                        .and_where(Expr::col(C::Name).is_in(chunk.iter().map(String::as_str)));
                    if let Some(n) = r.notification {
                        upd.value(C::Notification, Expr::val(n));
                    }
                    if let Some(a) = &access {
                        upd.value(C::AccessList, Expr::val(a.as_str()));
                    }
                    txn.execute(&upd).await?;
                }
                continue;
            }
            let mut ins = Query::insert();
            let mut on_conflict = OnConflict::columns([C::DeviceId, C::Name]);
            if r.notification.is_some() {
                on_conflict.update_column(C::Notification);
            }
            if access.is_some() {
                on_conflict.update_column(C::AccessList);
            }
            on_conflict.update_column(C::UpdatedAt);
            ins.into_table(device_parameter::Entity)
                .columns([
                    C::DeviceId,
                    C::Name,
                    C::Value,
                    C::XsdType,
                    C::Notification,
                    C::AccessList,
                    C::UpdatedAt,
                ])
                .values([
                    Expr::val(device_id),
                    Expr::val(r.name.as_str()),
                    Expr::val(""),
                    Expr::val(""),
                    Expr::val(r.notification),
                    Expr::val(access.clone()),
                    Expr::val(ts(at)),
                ])
                .map_err(|e| StoreError::InvalidInput(e.to_string()))?
                .on_conflict(on_conflict);
            txn.execute(&ins)
                .await
                .map_err(|e| not_found_on_fk(e, device_id))?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// Sets the device's MAC address (already normalised) when it differs from the stored one.
    /// Returns whether it changed.
    pub async fn learn_device_mac(&self, device_id: &str, mac: &str) -> Result<bool, StoreError> {
        use device::Column as C;
        let mut upd = Query::update();
        upd.table(device::Entity)
            .value(C::Mac, Expr::val(mac))
            .and_where(Expr::col(C::Id).eq(device_id))
            .and_where(Expr::col(C::Mac).is_null().or(Expr::col(C::Mac).ne(mac)));
        let res = self.write.execute(&upd).await?;
        Ok(res.rows_affected() > 0)
    }

    /// `queued` task's payload replaced (compare-and-set on the state): what the ACS decided
    /// just before sending (resolved value types) is stored before the request goes out.
    pub async fn update_queued_payload(
        &self,
        task_id: i64,
        payload: &serde_json::Value,
    ) -> Result<(), StoreError> {
        use crate::storage::entity::task::Column as C;
        let mut upd = Query::update();
        upd.value(C::Payload, payload.clone());
        self.transition(task_id, crate::storage::TaskState::Queued, upd)
            .await
            .map(|_| ())
    }
}

fn not_found_on_fk(err: DbErr, device_id: &str) -> StoreError {
    if matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))
    ) {
        StoreError::DeviceNotFound(device_id.to_owned())
    } else {
        StoreError::Db(err)
    }
}

async fn upsert_names<C: ConnectionTrait>(
    db: &C,
    device_id: &str,
    names: &[(String, bool)],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use device_parameter::Column as Col;
    let table = device_parameter::Entity.table_name();
    let writable = Col::Writable.as_str();
    let backend = db.get_database_backend();
    for chunk in chunks(backend, names, 6, |(n, _)| device_id.len() + n.len() + 9) {
        let mut on_conflict = OnConflict::columns([Col::DeviceId, Col::Name]);
        // Only a changed writability rewrites the row, so `updated_at` stays "last changed".
        on_conflict
            .update_columns([Col::Writable, Col::UpdatedAt])
            .action_and_where(Expr::cust(format!(
                "\"{table}\".\"{writable}\" IS NULL OR \"{table}\".\"{writable}\" <> \"excluded\".\"{writable}\""
            )));
        let mut ins = Query::insert();
        ins.into_table(device_parameter::Entity)
            .columns([
                Col::DeviceId,
                Col::Name,
                Col::Value,
                Col::XsdType,
                Col::Writable,
                Col::UpdatedAt,
            ])
            .on_conflict(on_conflict);
        for (name, w) in chunk {
            ins.values([
                Expr::val(device_id),
                Expr::val(name.as_str()),
                Expr::val(""),
                Expr::val(""),
                Expr::val(*w),
                Expr::val(ts(at)),
            ])
            .map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        }
        db.execute(&ins)
            .await
            .map_err(|e| not_found_on_fk(e, device_id))?;
    }
    Ok(())
}

/// The stored names that start with `prefix` (exactly, case-sensitive).
async fn stored_names_under<C: ConnectionTrait>(
    db: &C,
    device_id: &str,
    prefix: &str,
) -> Result<Vec<String>, StoreError> {
    use device_parameter::Column as Col;
    let mut q = Query::select();
    q.column(Col::Name)
        .from(device_parameter::Entity)
        .and_where(Expr::col(Col::DeviceId).eq(device_id));
    if !prefix.is_empty() {
        q.and_where(Expr::col(Col::Name).like(like_prefix(prefix)));
    }
    let rows = db.query_all(&q).await?;
    let mut names = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("", Col::Name.as_str())?;
        if name.starts_with(prefix) {
            names.push(name);
        }
    }
    Ok(names)
}

async fn delete_names<C: ConnectionTrait>(
    db: &C,
    device_id: &str,
    names: &[String],
) -> Result<(), StoreError> {
    use device_parameter::Column as Col;
    for chunk in names.chunks(500) {
        let mut del = Query::delete();
        del.from_table(device_parameter::Entity)
            .and_where(Expr::col(Col::DeviceId).eq(device_id))
            .and_where(Expr::col(Col::Name).is_in(chunk.iter().map(String::as_str)));
        db.execute(&del).await?;
    }
    Ok(())
}

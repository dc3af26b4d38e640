//! Devices, parameters, events and tags; the Inform write path.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, OnConflict, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityName, EntityTrait, FromQueryResult, IdenStatic,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use serde_json::Value as Json;

use crate::presence::{Presence, PresencePolicy};
use crate::storage::entity::{device, device_event, device_parameter, device_tag};
use crate::storage::inform::{Derived, dedup_params, normalize_mac, normalize_oui};
use crate::storage::model::{
    DeviceRow, EventRecord, EventRow, InformRecord, ParameterRecord, ParameterRow,
};
use crate::storage::{Store, StoreError, chunks, ts};

/// Columns written by the device upsert (bind parameters per row).
const DEVICE_COLUMNS: [device::Column; 23] = [
    device::Column::Id,
    device::Column::Manufacturer,
    device::Column::Oui,
    device::Column::OuiNormalized,
    device::Column::ProductClass,
    device::Column::SerialNumber,
    device::Column::Mac,
    device::Column::SoftwareVersion,
    device::Column::HardwareVersion,
    device::Column::ProvisioningCode,
    device::Column::ConnectionRequestUrl,
    device::Column::RemoteIp,
    device::Column::CwmpVersion,
    device::Column::FirstSeen,
    device::Column::LastInform,
    device::Column::LastBoot,
    device::Column::LastBootstrap,
    device::Column::PeriodicInformInterval,
    device::Column::LastEvents,
    device::Column::CreatedAt,
    device::Column::UpdatedAt,
    // Always inserted as NULL for a new device; on conflict cleared only on
    // bootstrap (see `device_on_conflict`).
    device::Column::ConnectionRequestUsername,
    device::Column::ConnectionRequestPassword,
];

const PARAM_COLUMNS: [device_parameter::Column; 6] = [
    device_parameter::Column::DeviceId,
    device_parameter::Column::Name,
    device_parameter::Column::Value,
    device_parameter::Column::XsdType,
    device_parameter::Column::Writable,
    device_parameter::Column::UpdatedAt,
];

const EVENT_COLUMNS: [device_event::Column; 4] = [
    device_event::Column::DeviceId,
    device_event::Column::EventCode,
    device_event::Column::CommandKey,
    device_event::Column::ReceivedAt,
];

/// `COALESCE(excluded.col, devices.col)`: a value absent from this Inform
/// keeps the stored one. Same syntax on SQLite and PostgreSQL.
fn keep_if_null(table: &str, col: &str) -> Expr {
    Expr::cust(format!(
        "COALESCE(\"excluded\".\"{col}\", \"{table}\".\"{col}\")"
    ))
}

/// Upsert rules for `devices`. One fixed statement shape for every Inform
/// (flags are expressed through NULLs), so a batch of Informs with different
/// flags fits in one multi-row statement and the prepared statement is reused.
///
/// * `first_seen`, `created_at`: never updated.
/// * identity columns, `cwmp_version`, `last_inform`, `last_events`,
///   `updated_at`: overwritten.
/// * derived columns, `remote_ip`, `last_boot`, `last_bootstrap`: kept when
///   the new value is NULL (not reported / flag not set).
/// * connection-request credentials: cleared when this Inform is a
///   bootstrap (its `last_bootstrap` is non-NULL) — the CPE has forgotten
///   what the ACS set — and kept otherwise.
fn device_on_conflict() -> OnConflict {
    use device::Column as C;
    let mut oc = OnConflict::column(C::Id);
    oc.update_columns([
        C::Manufacturer,
        C::Oui,
        C::OuiNormalized,
        C::ProductClass,
        C::SerialNumber,
        C::CwmpVersion,
        C::LastInform,
        C::LastEvents,
        C::UpdatedAt,
    ]);
    let table = device::Entity.table_name();
    for col in [
        C::Mac,
        C::SoftwareVersion,
        C::HardwareVersion,
        C::ProvisioningCode,
        C::ConnectionRequestUrl,
        C::RemoteIp,
        C::LastBoot,
        C::LastBootstrap,
        C::PeriodicInformInterval,
    ] {
        oc.value(col, keep_if_null(table, col.as_str()));
    }
    for col in [C::ConnectionRequestUsername, C::ConnectionRequestPassword] {
        let name = col.as_str();
        oc.value(
            col,
            Expr::cust(format!(
                "CASE WHEN \"excluded\".\"last_bootstrap\" IS NULL \
                 THEN \"{table}\".\"{name}\" ELSE NULL END"
            )),
        );
    }
    oc
}

/// Upsert rules for `device_parameters`.
///
/// The row is only rewritten when value, type or (known) writability
/// changed, so `updated_at` is "last changed" and a periodic Inform that
/// re-reports the same values writes nothing to the table or its indexes —
/// at a million devices this is most of the parameter write volume.
/// Unknown writability (`NULL`) keeps the stored flag.
fn param_on_conflict() -> OnConflict {
    use device_parameter::Column as C;
    let mut oc = OnConflict::columns([C::DeviceId, C::Name]);
    oc.update_columns([C::Value, C::XsdType, C::UpdatedAt])
        .value(
            C::Writable,
            keep_if_null(device_parameter::Entity.table_name(), C::Writable.as_str()),
        )
        .action_and_where(Expr::cust(
            "\"device_parameters\".\"value\" <> \"excluded\".\"value\" \
             OR \"device_parameters\".\"xsd_type\" <> \"excluded\".\"xsd_type\" \
             OR (\"excluded\".\"writable\" IS NOT NULL AND (\"device_parameters\".\"writable\" IS NULL \
                 OR \"device_parameters\".\"writable\" <> \"excluded\".\"writable\"))",
        ));
    oc
}

/// Maps a foreign-key violation on a child table to `DeviceNotFound`.
fn fk_to_not_found(err: DbErr, device_id: &str) -> StoreError {
    if matches!(
        err.sql_err(),
        Some(SqlErr::ForeignKeyConstraintViolation(_))
    ) {
        StoreError::DeviceNotFound(device_id.to_owned())
    } else {
        StoreError::Db(err)
    }
}

fn check_device_id(id: &str) -> Result<(), StoreError> {
    if id.is_empty() {
        return Err(StoreError::InvalidInput("empty device id".into()));
    }
    Ok(())
}

impl TryFrom<device::Model> for DeviceRow {
    type Error = StoreError;

    fn try_from(m: device::Model) -> Result<Self, StoreError> {
        let last_events = match &m.last_events {
            Json::Array(items) => items
                .iter()
                .map(|v| match v {
                    Json::String(s) => Ok(s.clone()),
                    other => Err(other.to_string()),
                })
                .collect::<Result<Vec<_>, _>>(),
            Json::Null => Ok(Vec::new()),
            other => Err(other.to_string()),
        }
        .map_err(|bad| StoreError::Corrupt {
            table: "devices",
            column: "last_events",
            key: m.id.clone(),
            reason: format!("expected an array of strings, found {bad}"),
        })?;
        Ok(DeviceRow {
            id: m.id,
            manufacturer: m.manufacturer,
            oui: m.oui,
            oui_normalized: m.oui_normalized,
            product_class: m.product_class,
            serial_number: m.serial_number,
            mac: m.mac,
            software_version: m.software_version,
            hardware_version: m.hardware_version,
            provisioning_code: m.provisioning_code,
            connection_request_url: m.connection_request_url,
            connection_request_username: m.connection_request_username,
            connection_request_password: m
                .connection_request_password
                .map(crate::secret::Secret::from),
            remote_ip: m.remote_ip,
            cwmp_version: m.cwmp_version,
            first_seen: m.first_seen,
            last_inform: m.last_inform,
            last_boot: m.last_boot,
            last_bootstrap: m.last_bootstrap,
            periodic_inform_interval: m.periodic_inform_interval,
            last_events,
            // A state a later version wrote is shown as online until the next sweep places
            // the device again.
            presence: Presence::parse(&m.presence).unwrap_or(Presence::Online),
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl From<device_parameter::Model> for ParameterRow {
    fn from(m: device_parameter::Model) -> Self {
        ParameterRow {
            name: m.name,
            value: m.value,
            xsd_type: m.xsd_type,
            writable: m.writable,
            notification: m.notification,
            access_list: m.access_list.map(|s| {
                s.split(',')
                    .filter(|e| !e.is_empty())
                    .map(str::to_owned)
                    .collect()
            }),
            updated_at: m.updated_at,
        }
    }
}

impl From<device_event::Model> for EventRow {
    fn from(m: device_event::Model) -> Self {
        EventRow {
            id: m.id,
            device_id: m.device_id,
            event_code: m.event_code,
            command_key: m.command_key,
            received_at: m.received_at,
        }
    }
}

/// Bulk upsert of `(device_id, parameter)` rows in chunks that respect the
/// bind-parameter limit.
async fn upsert_param_rows<C: ConnectionTrait>(
    db: &C,
    rows: &[(&str, &ParameterRecord, DateTime<Utc>)],
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let size = |(id, p, _): &(&str, &ParameterRecord, DateTime<Utc>)| {
        id.len() + p.name.len() + p.value.len() + p.xsd_type.len() + 9
    };
    for chunk in chunks(backend, rows, PARAM_COLUMNS.len(), size) {
        let mut ins = Query::insert();
        ins.into_table(device_parameter::Entity)
            .columns(PARAM_COLUMNS)
            .on_conflict(param_on_conflict());
        for (device_id, p, at) in chunk {
            ins.values([
                Expr::val(*device_id),
                Expr::val(p.name.as_str()),
                Expr::val(p.value.as_str()),
                Expr::val(p.xsd_type.as_str()),
                Expr::val(p.writable),
                Expr::val(ts(*at)),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        }
        db.execute(&ins).await?;
    }
    Ok(())
}

/// Deletes a device's events except the `retention` newest. Uses the
/// `(device_id, id)` index: one seek to find the cut-off id, one range
/// delete below it.
async fn prune_events<C: ConnectionTrait>(
    db: &C,
    device_id: &str,
    retention: usize,
) -> Result<(), DbErr> {
    use device_event::Column as C;
    let mut del = Query::delete();
    del.from_table(device_event::Entity)
        .and_where(Expr::col(C::DeviceId).eq(device_id));
    if retention > 0 {
        let cutoff = Query::select()
            .column(C::Id)
            .from(device_event::Entity)
            .and_where(Expr::col(C::DeviceId).eq(device_id))
            .order_by(C::Id, Order::Desc)
            .limit(1)
            .offset(retention as u64 - 1)
            .to_owned();
        // NULL (fewer than `retention` events) makes the comparison false.
        del.and_where(Expr::col(C::Id).lt(cutoff));
    }
    db.execute(&del).await?;
    Ok(())
}

impl Store {
    /// Records one Inform in a single write transaction: upserts the device,
    /// (on bootstrap) forgets its parameters and connection-request
    /// credentials, upserts the reported parameters, appends the events and
    /// prunes events beyond the `event_retention` newest.
    ///
    /// Returns the device as stored after the Inform.
    pub async fn record_inform(
        &self,
        inform: &InformRecord,
        event_retention: usize,
    ) -> Result<DeviceRow, StoreError> {
        let txn = self.begin_write().await?.storing_informs();
        let policy = self.presence_policy();
        let mut rows = match record_group(
            &txn,
            &[inform],
            event_retention,
            &policy,
            &self.alert_routing().webhooks,
        )
        .await
        {
            Ok(rows) => rows,
            Err(e) => {
                // Explicitly, so the write lock is released now rather than on the next use.
                let _ = txn.rollback().await;
                return Err(e);
            }
        };
        txn.commit().await?;
        rows.pop()
            .ok_or_else(|| StoreError::Internal("device upsert returned no row".into()))
    }

    /// Records many Informs in one write transaction (for a group-commit
    /// writer). Equivalent to calling [`Store::record_inform`] for each in
    /// order, but with multi-row statements and a single commit, which costs
    /// a fraction of the per-Inform CPU on SQLite. Returns the device rows in
    /// input order. If any Inform fails, none is recorded: a group-commit
    /// writer should fall back to [`Store::record_inform`] one by one to
    /// isolate the bad one. (Inputs are validated before anything is written,
    /// so in practice only database errors fail a batch.)
    pub async fn record_informs(
        &self,
        informs: &[InformRecord],
        event_retention: usize,
    ) -> Result<Vec<DeviceRow>, StoreError> {
        if informs.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.begin_write().await?.storing_informs();
        match record_batch(
            &txn,
            informs,
            event_retention,
            &self.presence_policy(),
            &self.alert_routing().webhooks,
        )
        .await
        {
            Ok(out) => {
                txn.commit().await?;
                Ok(out)
            }
            Err(e) => {
                // Explicitly, so the write lock is released now rather than on the next use.
                let _ = txn.rollback().await;
                Err(e)
            }
        }
    }

    /// The device with this id.
    pub async fn get_device(&self, id: &str) -> Result<Option<DeviceRow>, StoreError> {
        device::Entity::find_by_id(id)
            .one(&self.read)
            .await?
            .map(DeviceRow::try_from)
            .transpose()
    }

    /// Devices with this serial number (index `idx_devices_serial_number`).
    pub async fn find_devices_by_serial(&self, serial: &str) -> Result<Vec<DeviceRow>, StoreError> {
        device::Entity::find()
            .filter(device::Column::SerialNumber.eq(serial))
            .order_by_asc(device::Column::Id)
            .all(&self.read)
            .await?
            .into_iter()
            .map(DeviceRow::try_from)
            .collect()
    }

    /// Devices with this MAC address, in any common notation (normalised
    /// like stored MACs; index `idx_devices_mac`).
    pub async fn find_devices_by_mac(&self, mac: &str) -> Result<Vec<DeviceRow>, StoreError> {
        let mac = normalize_mac(mac).unwrap_or_else(|| mac.trim().to_ascii_uppercase());
        device::Entity::find()
            .filter(device::Column::Mac.eq(mac))
            .order_by_asc(device::Column::Id)
            .all(&self.read)
            .await?
            .into_iter()
            .map(DeviceRow::try_from)
            .collect()
    }

    /// Deletes a device and (by cascade) its tags, parameters, events and
    /// tasks. Returns whether it existed.
    pub async fn delete_device(&self, id: &str) -> Result<bool, StoreError> {
        let res = device::Entity::delete_by_id(id).exec(&self.write).await?;
        Ok(res.rows_affected > 0)
    }

    /// Number of devices. This counts the whole table (an index scan):
    /// meant for dashboards and the CLI, not the Inform path.
    pub async fn count_devices(&self) -> Result<u64, StoreError> {
        Ok(device::Entity::find().count(&self.read).await?)
    }

    /// Upserts parameter values for an existing device (e.g. from a
    /// GetParameterValues response), deduplicated by name (last wins) and
    /// chunked under the bind-parameter limit, in one transaction. Unchanged
    /// values are not rewritten (see [`ParameterRow::updated_at`]).
    pub async fn upsert_parameters(
        &self,
        device_id: &str,
        params: &[ParameterRecord],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        check_device_id(device_id)?;
        let rows: Vec<(&str, &ParameterRecord, DateTime<Utc>)> = dedup_params(params)
            .into_iter()
            .map(|p| (device_id, p, at))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let txn = self.begin_write().await?;
        upsert_param_rows(&txn, &rows)
            .await
            .map_err(|e| fk_to_not_found(e, device_id))?;
        txn.commit().await?;
        Ok(())
    }

    /// A device's parameters, optionally only those whose name starts with
    /// `prefix` (e.g. `"Device.DeviceInfo."`), ordered by name (byte order).
    pub async fn get_parameters(
        &self,
        device_id: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<ParameterRow>, StoreError> {
        use device_parameter::Column as C;
        let mut q = device_parameter::Entity::find().filter(C::DeviceId.eq(device_id));
        if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
            // LIKE narrows the primary-key range scan; it is case-insensitive
            // on SQLite, so the exact, case-sensitive test is done below.
            let escaped = prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            q = q
                .filter(Expr::col(C::Name).like(LikeExpr::new(format!("{escaped}%")).escape('\\')));
        }
        let mut rows: Vec<ParameterRow> = q
            .order_by_asc(C::Name)
            .all(&self.read)
            .await?
            .into_iter()
            .filter(|m| prefix.is_none_or(|p| m.name.starts_with(p)))
            .map(ParameterRow::from)
            .collect();
        // Byte order whatever the database collation is.
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(rows)
    }

    /// Stores the connection-request credentials the ACS configured on the
    /// device (`None` clears them), so connection requests can authenticate.
    /// The password is stored sealed; [`Store::open_secret`] opens a
    /// `DeviceRow`'s.
    pub async fn set_connection_request_credentials(
        &self,
        device_id: &str,
        username: Option<&str>,
        password: Option<&str>,
    ) -> Result<(), StoreError> {
        use device::Column as C;
        let password = password.map(|p| self.seal_secret(p)).transpose()?;
        let res = device::Entity::update_many()
            .col_expr(C::ConnectionRequestUsername, Expr::val(username))
            .col_expr(C::ConnectionRequestPassword, Expr::val(password))
            .filter(C::Id.eq(device_id))
            .exec(&self.write)
            .await?;
        if res.rows_affected == 0 {
            return Err(StoreError::DeviceNotFound(device_id.to_owned()));
        }
        Ok(())
    }

    /// A device's most recent events, newest first.
    pub async fn list_events(
        &self,
        device_id: &str,
        limit: u64,
    ) -> Result<Vec<EventRow>, StoreError> {
        use device_event::Column as C;
        Ok(device_event::Entity::find()
            .filter(C::DeviceId.eq(device_id))
            .order_by_desc(C::Id)
            .limit(limit)
            .all(&self.read)
            .await?
            .into_iter()
            .map(EventRow::from)
            .collect())
    }

    /// Tags a device (idempotent).
    pub async fn add_tag(&self, device_id: &str, tag: &str) -> Result<(), StoreError> {
        if tag.is_empty() {
            return Err(StoreError::InvalidInput("empty tag".into()));
        }
        let ins = Query::insert()
            .into_table(device_tag::Entity)
            .columns([device_tag::Column::DeviceId, device_tag::Column::Tag])
            .values([Expr::val(device_id), Expr::val(tag)])?
            .on_conflict(
                OnConflict::columns([device_tag::Column::DeviceId, device_tag::Column::Tag])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        self.write
            .execute(&ins)
            .await
            .map_err(|e| fk_to_not_found(e, device_id))?;
        Ok(())
    }

    /// Removes a tag; returns whether the device had it.
    pub async fn remove_tag(&self, device_id: &str, tag: &str) -> Result<bool, StoreError> {
        let res = device_tag::Entity::delete_many()
            .filter(device_tag::Column::DeviceId.eq(device_id))
            .filter(device_tag::Column::Tag.eq(tag))
            .exec(&self.write)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// A device's tags, sorted.
    pub async fn list_tags(&self, device_id: &str) -> Result<Vec<String>, StoreError> {
        let mut tags: Vec<String> = device_tag::Entity::find()
            .filter(device_tag::Column::DeviceId.eq(device_id))
            .all(&self.read)
            .await?
            .into_iter()
            .map(|m| m.tag)
            .collect();
        tags.sort();
        Ok(tags)
    }
}

/// Estimated bound data of one device upsert row (for [`chunks`]).
fn inform_row_size(i: &InformRecord) -> usize {
    // Identity strings plus an allowance for the derived values, timestamps
    // and the event list.
    i.device_id.len()
        + i.manufacturer.len()
        + 2 * i.oui.len()
        + i.product_class.len()
        + i.serial_number.len()
        + i.cwmp_version.len()
        + i.remote_ip.as_ref().map_or(0, String::len)
        + i.events.iter().map(|e| e.code.len() + 4).sum::<usize>()
        + 256
}

/// Records Informs in order inside `txn`, in groups of distinct devices.
async fn record_batch<C: ConnectionTrait>(
    txn: &C,
    informs: &[InformRecord],
    event_retention: usize,
    policy: &PresencePolicy,
    webhooks: &[crate::alerts::Webhook],
) -> Result<Vec<DeviceRow>, StoreError> {
    let mut out = Vec::with_capacity(informs.len());
    // A multi-row upsert may not touch the same row twice (PostgreSQL
    // rejects it), so a device that appears again starts a new group.
    let mut group: Vec<&InformRecord> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for inform in informs {
        if !seen.insert(inform.device_id.as_str()) {
            out.extend(record_group(txn, &group, event_retention, policy, webhooks).await?);
            group.clear();
            seen.clear();
            seen.insert(inform.device_id.as_str());
        }
        group.push(inform);
    }
    out.extend(record_group(txn, &group, event_retention, policy, webhooks).await?);
    Ok(out)
}

/// Records Informs for *distinct* devices inside `txn` with multi-row
/// statements. Returns the device rows in input order.
async fn record_group<C>(
    txn: &C,
    informs: &[&InformRecord],
    event_retention: usize,
    policy: &PresencePolicy,
    webhooks: &[crate::alerts::Webhook],
) -> Result<Vec<DeviceRow>, StoreError>
where
    C: ConnectionTrait,
{
    if informs.is_empty() {
        return Ok(Vec::new());
    }
    for i in informs {
        check_device_id(&i.device_id)?;
    }
    // Deterministic order: concurrent PostgreSQL transactions lock device
    // rows in the same order, so they cannot deadlock on each other.
    let mut sorted: Vec<&InformRecord> = informs.to_vec();
    sorted.sort_by(|a, b| a.device_id.cmp(&b.device_id));

    // 1. Bootstrap: the CPE was factory reset; what we knew is stale.
    let bootstrapped: Vec<&str> = sorted
        .iter()
        .filter(|i| i.is_bootstrap)
        .map(|i| i.device_id.as_str())
        .collect();
    let backend = txn.get_database_backend();
    for chunk in chunks(backend, &bootstrapped, 1, |id| id.len()) {
        let del = Query::delete()
            .from_table(device_parameter::Entity)
            .and_where(Expr::col(device_parameter::Column::DeviceId).is_in(chunk.iter().copied()))
            .to_owned();
        txn.execute(&del).await?;
    }

    // 2. Devices, returning the stored rows.
    let mut by_id: HashMap<String, DeviceRow> = HashMap::with_capacity(sorted.len());
    for chunk in chunks(backend, &sorted, DEVICE_COLUMNS.len(), |i| {
        inform_row_size(i)
    }) {
        let mut ins = Query::insert();
        ins.into_table(device::Entity)
            .columns(DEVICE_COLUMNS)
            .on_conflict(device_on_conflict())
            .returning_all();
        for i in chunk {
            let d = Derived::from_params(&i.parameters);
            let at = ts(i.received_at);
            let events: Vec<Json> = i
                .events
                .iter()
                .map(|e| Json::String(e.code.clone()))
                .collect();
            ins.values([
                Expr::val(i.device_id.as_str()),
                Expr::val(i.manufacturer.as_str()),
                Expr::val(i.oui.as_str()),
                Expr::val(normalize_oui(&i.oui)),
                Expr::val(i.product_class.as_str()),
                Expr::val(i.serial_number.as_str()),
                Expr::val(d.mac),
                Expr::val(d.software_version),
                Expr::val(d.hardware_version),
                Expr::val(d.provisioning_code),
                Expr::val(d.connection_request_url),
                Expr::val(i.remote_ip.clone()),
                Expr::val(i.cwmp_version.as_str()),
                Expr::val(at),
                Expr::val(at),
                Expr::val(i.is_boot.then_some(at)),
                Expr::val(i.is_bootstrap.then_some(at)),
                Expr::val(d.periodic_inform_interval),
                Expr::val(Json::Array(events)),
                Expr::val(at),
                Expr::val(at),
                Expr::val(None::<String>),
                Expr::val(None::<String>),
            ])?;
        }
        let models = device::Model::find_by_statement(backend.build(&ins))
            .all(txn)
            .await?;
        for m in models {
            let row = DeviceRow::try_from(m)?;
            by_id.insert(row.id.clone(), row);
        }
    }

    // 2b. Presence: a device that informed is online, due to be looked at when it would be
    // late; one that was late or offline is back, which is recorded as its own event.
    let mut due: Vec<(&str, Option<DateTime<Utc>>)> = Vec::with_capacity(sorted.len());
    let mut back: Vec<(&str, DateTime<Utc>)> = Vec::new();
    for i in &sorted {
        let Some(row) = by_id.get_mut(&i.device_id) else {
            continue;
        };
        let interval = policy.interval_secs(row.periodic_inform_interval, &row.product_class);
        let standing = policy.at(row.last_inform, interval, row.last_inform);
        if row.presence != Presence::Online {
            back.push((i.device_id.as_str(), ts(i.received_at)));
        }
        if row.presence == Presence::Offline {
            // Alerted only from offline: `device.offline` was raised for it, `late` was not.
            let alert = crate::alerts::Alert::DeviceOnline {
                device_id: i.device_id.clone(),
            };
            super::alerts::enqueue(txn, webhooks, &alert, ts(i.received_at)).await?;
        }
        row.presence = Presence::Online;
        due.push((i.device_id.as_str(), standing.due.map(ts)));
    }
    for chunk in chunks(backend, &due, 3, |(id, _)| 2 * id.len() + 8) {
        let mut case = sea_orm::sea_query::CaseStatement::new();
        for (id, at) in chunk {
            case = case.case(Expr::col(device::Column::Id).eq(*id), Expr::val(*at));
        }
        let upd = Query::update()
            .table(device::Entity)
            .value(device::Column::Presence, Presence::Online.as_str())
            .value(
                device::Column::PresenceDue,
                case.finally(Expr::col(device::Column::PresenceDue)),
            )
            .and_where(Expr::col(device::Column::Id).is_in(chunk.iter().map(|(id, _)| *id)))
            .to_owned();
        txn.execute(&upd).await?;
    }
    for chunk in chunks(backend, &back, 4, |(id, _)| id.len() + 16) {
        let mut ins = Query::insert();
        ins.into_table(device_event::Entity).columns(EVENT_COLUMNS);
        for (id, at) in chunk {
            ins.values([
                Expr::val(*id),
                Expr::val(Presence::Online.event_code()),
                Expr::val(None::<String>),
                Expr::val(*at),
            ])?;
        }
        txn.execute(&ins).await?;
    }

    // 3. Parameters (each Inform's rows stamped with its own received_at).
    let params: Vec<(&str, &ParameterRecord, DateTime<Utc>)> = sorted
        .iter()
        .flat_map(|i| {
            dedup_params(&i.parameters)
                .into_iter()
                .map(move |p| (i.device_id.as_str(), p, i.received_at))
        })
        .collect();
    upsert_param_rows(txn, &params).await?;

    // 4. Events, then retention.
    let events: Vec<(&InformRecord, &EventRecord)> = sorted
        .iter()
        .flat_map(|i| i.events.iter().map(move |e| (*i, e)))
        .collect();
    let event_size = |(i, e): &(&InformRecord, &EventRecord)| {
        i.device_id.len() + e.code.len() + e.command_key.as_ref().map_or(0, String::len) + 8
    };
    for chunk in chunks(backend, &events, EVENT_COLUMNS.len(), event_size) {
        let mut ins = Query::insert();
        ins.into_table(device_event::Entity).columns(EVENT_COLUMNS);
        for (i, e) in chunk {
            ins.values([
                Expr::val(i.device_id.as_str()),
                Expr::val(e.code.as_str()),
                Expr::val(e.command_key.clone()),
                Expr::val(ts(i.received_at)),
            ])?;
        }
        txn.execute(&ins).await?;
    }
    for i in sorted.iter().filter(|i| !i.events.is_empty()) {
        prune_events(txn, &i.device_id, event_retention).await?;
    }

    informs
        .iter()
        .map(|i| {
            by_id.get(&i.device_id).cloned().ok_or_else(|| {
                StoreError::Internal(format!("device upsert returned no row for {}", i.device_id))
            })
        })
        .collect()
}

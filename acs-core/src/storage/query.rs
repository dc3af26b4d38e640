//! Device search: [`Filter`]s compiled to SQL, keyset-paged listing,
//! counting, and batched id walks for bulk operations.
//!
//! Nothing here loads all devices: a filter becomes a `WHERE` clause over
//! `devices`, tags and parameters become correlated `EXISTS` subqueries, and
//! pages are fetched with a keyset (`(sort key, id) > cursor`), never
//! `OFFSET`.
//!
//! # Compilation
//!
//! * identity/text fields: `devices.<col> <op> ?`. Nullable columns
//!   (`mac`, `software_version`, …, `last_boot`, `last_bootstrap`) are
//!   guarded with `col IS NOT NULL AND …`, so a comparison is never SQL
//!   `NULL` and `not` is an exact complement: `software_version != "1"`
//!   matches devices that *have* a software version other than `1`, and
//!   `not software_version = "1"` also matches devices without one.
//! * `tag = x` / `tag ~ x*`: `EXISTS (SELECT 1 FROM device_tags t WHERE
//!   t.device_id = devices.id AND t.tag … ?)`; `tag != x` is `NOT EXISTS
//!   (… t.tag = ?)` ("does not have the tag").
//! * parameters: `EXISTS (SELECT 1 FROM device_parameters p WHERE
//!   p.device_id = devices.id AND p.name = ? AND <value test>)`. `!=` means
//!   "has the parameter and its value differs". On PostgreSQL the value test
//!   includes `left(p.value, 256)` so the `(name, left(value, 256))`
//!   expression index can serve it: `=` compares the 256-character prefix
//!   (plus the full value when the operand has 256 characters or more, as
//!   two values can share a prefix); `~` adds `left(p.value, 256) LIKE
//!   '<literal prefix>%'` in front of the full `LIKE`.
//! * `~` (glob, case-sensitive on both backends): PostgreSQL `LIKE … ESCAPE
//!   '\'` with `%`, `_` and `\` in the glob escaped by `\`
//!   ([`crate::filter::glob_to_like`]); SQLite `GLOB` (SQLite's `LIKE` is
//!   case-insensitive and cannot use a binary-collated index), with `[`
//!   escaped as `[[]`.
//! * `<`/`>` on text compare bytewise on both backends (PostgreSQL `~<~` /
//!   `~>~`, SQLite's default BINARY collation).
//! * relative times are resolved against the `now` passed in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{
    Alias, BinOper, Condition, Expr, ExprTrait, LikeExpr, Order, Query, SelectStatement,
};
use sea_orm::{DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::filter::{
    self, DeviceField, Field, Filter, Op, TimeField, TimeValue, Value, glob_literal_prefix,
};
use crate::storage::entity::device;
use crate::storage::model::DeviceRow;
use crate::storage::{Store, StoreError, ts};

/// Largest page [`Store::find_devices`] returns.
pub const MAX_PAGE_SIZE: u64 = 10_000;

/// Characters of `device_parameters.value` in the PostgreSQL value index.
const PG_PREFIX_CHARS: usize =
    migration::m20261121_000001_initial_schema::PG_VALUE_INDEX_CHARS as usize;

/// What devices are listed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    /// Device id.
    Id,
    /// Serial number.
    Serial,
    /// Product class.
    ProductClass,
    /// Last Inform time.
    LastInform,
    /// First Inform time.
    FirstSeen,
    /// Software version (devices without one sort as the empty string).
    SoftwareVersion,
    /// OUI as reported.
    Oui,
    /// Manufacturer.
    Manufacturer,
    /// MAC address (devices without one sort as the empty string).
    Mac,
}

impl SortField {
    /// The name used in cursors and APIs.
    pub fn name(self) -> &'static str {
        match self {
            SortField::Id => "id",
            SortField::Serial => "serial",
            SortField::ProductClass => "product_class",
            SortField::LastInform => "last_inform",
            SortField::FirstSeen => "first_seen",
            SortField::SoftwareVersion => "software_version",
            SortField::Oui => "oui",
            SortField::Manufacturer => "manufacturer",
            SortField::Mac => "mac",
        }
    }

    /// Parses [`SortField::name`].
    pub fn from_name(s: &str) -> Option<SortField> {
        [
            SortField::Id,
            SortField::Serial,
            SortField::ProductClass,
            SortField::LastInform,
            SortField::FirstSeen,
            SortField::SoftwareVersion,
            SortField::Oui,
            SortField::Manufacturer,
            SortField::Mac,
        ]
        .into_iter()
        .find(|f| f.name() == s)
    }

    fn is_time(self) -> bool {
        matches!(self, SortField::LastInform | SortField::FirstSeen)
    }

    /// The SQL sort key.
    fn key(self) -> Expr {
        match self {
            SortField::Id => dcol("id"),
            SortField::Serial => dcol("serial_number"),
            SortField::ProductClass => dcol("product_class"),
            SortField::LastInform => dcol("last_inform"),
            SortField::FirstSeen => dcol("first_seen"),
            SortField::SoftwareVersion => {
                Expr::cust("COALESCE(\"devices\".\"software_version\", '')")
            }
            SortField::Oui => dcol("oui"),
            SortField::Manufacturer => dcol("manufacturer"),
            SortField::Mac => Expr::cust("COALESCE(\"devices\".\"mac\", '')"),
        }
    }

    /// The row's sort key as cursor text.
    fn key_of(self, d: &DeviceRow) -> String {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
        match self {
            SortField::Id => d.id.clone(),
            SortField::Serial => d.serial_number.clone(),
            SortField::ProductClass => d.product_class.clone(),
            SortField::LastInform => time(&d.last_inform),
            SortField::FirstSeen => time(&d.first_seen),
            SortField::SoftwareVersion => d.software_version.clone().unwrap_or_default(),
            SortField::Oui => d.oui.clone(),
            SortField::Manufacturer => d.manufacturer.clone(),
            SortField::Mac => d.mac.clone().unwrap_or_default(),
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortDirection {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// Sort order of a device listing; ties are broken by id in the same
/// direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceSort {
    /// The key.
    pub field: SortField,
    /// The direction.
    pub direction: SortDirection,
}

impl Default for DeviceSort {
    fn default() -> Self {
        DeviceSort {
            field: SortField::Id,
            direction: SortDirection::Asc,
        }
    }
}

/// A device listing request for [`Store::find_devices`].
#[derive(Debug, Clone)]
pub struct DeviceQuery<'a> {
    /// Only devices matching this filter (all when `None`).
    pub filter: Option<&'a Filter>,
    /// What relative times (`-1h`) are relative to.
    pub now: DateTime<Utc>,
    /// Order.
    pub sort: DeviceSort,
    /// Page size, 1 to [`MAX_PAGE_SIZE`] (clamped).
    pub limit: u64,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

/// One page of devices.
#[derive(Debug, Clone)]
pub struct DevicePage {
    /// The devices, in the requested order.
    pub devices: Vec<DeviceRow>,
    /// Cursor for the next page; `None` on the last page.
    pub next: Option<String>,
}

fn dcol(name: &str) -> Expr {
    Expr::col((Alias::new("devices"), Alias::new(name)))
}

fn acol(table: &str, name: &str) -> Expr {
    Expr::col((Alias::new(table), Alias::new(name)))
}

/// `lhs <op> value` for text, with the backend's glob and bytewise order.
fn text_cmp(lhs: Expr, op: Op, value: &str, backend: DbBackend) -> Expr {
    let pg = backend == DbBackend::Postgres;
    match op {
        Op::Eq => lhs.eq(value),
        Op::Ne => lhs.ne(value),
        Op::Lt if pg => lhs.binary(BinOper::Custom("~<~"), value),
        Op::Gt if pg => lhs.binary(BinOper::Custom("~>~"), value),
        Op::Lt => lhs.lt(value),
        Op::Gt => lhs.gt(value),
        Op::Glob if pg => lhs.like(LikeExpr::new(filter::glob_to_like(value)).escape('\\')),
        Op::Glob => lhs.binary(BinOper::Custom("GLOB"), filter::glob_to_sqlite_glob(value)),
    }
}

/// `EXISTS (SELECT 1 FROM <table> <alias> WHERE <alias>.device_id = devices.id AND …)`.
fn exists_in(table: &str, alias: &str, conds: Vec<Expr>) -> Expr {
    let mut sel: SelectStatement = Query::select();
    sel.expr(Expr::cust("1"))
        .from_as(Alias::new(table), Alias::new(alias))
        .and_where(acol(alias, "device_id").equals((Alias::new("devices"), Alias::new("id"))));
    for c in conds {
        sel.and_where(c);
    }
    Expr::exists(sel)
}

fn first_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn parameter_value_test(op: Op, value: &str, backend: DbBackend) -> Vec<Expr> {
    let full = || text_cmp(acol("p", "value"), op, value, backend);
    if backend != DbBackend::Postgres {
        return vec![full()];
    }
    let left = || Expr::cust(format!("left(\"p\".\"value\", {PG_PREFIX_CHARS})"));
    match op {
        Op::Eq => {
            let mut v = vec![left().eq(first_chars(value, PG_PREFIX_CHARS))];
            if value.chars().count() >= PG_PREFIX_CHARS {
                v.push(full());
            }
            v
        }
        Op::Glob => {
            let prefix = first_chars(glob_literal_prefix(value), PG_PREFIX_CHARS);
            let mut v = Vec::new();
            if !prefix.is_empty() {
                let pat = format!("{}%", filter::glob_to_like(prefix));
                v.push(left().like(LikeExpr::new(pat).escape('\\')));
            }
            v.push(full());
            v
        }
        Op::Ne | Op::Lt | Op::Gt => vec![full()],
    }
}

fn compile(expr: &filter::Expr, backend: DbBackend, now: DateTime<Utc>) -> Condition {
    match expr {
        filter::Expr::And(xs) => xs
            .iter()
            .fold(Condition::all(), |c, x| c.add(compile(x, backend, now))),
        filter::Expr::Or(xs) => xs
            .iter()
            .fold(Condition::any(), |c, x| c.add(compile(x, backend, now))),
        filter::Expr::Not(x) => compile(x, backend, now).not(),
        filter::Expr::Cmp { field, op, value } => {
            Condition::all().add(compile_cmp(field, *op, value, backend, now))
        }
    }
}

fn guard_null(col: Expr, nullable: bool, test: Expr) -> Expr {
    if nullable {
        col.is_not_null().and(test)
    } else {
        test
    }
}

fn compile_cmp(
    field: &Field,
    op: Op,
    value: &Value,
    backend: DbBackend,
    now: DateTime<Utc>,
) -> Expr {
    let text = match value {
        Value::Text(s) => s.as_str(),
        Value::Time(_) => "",
    };
    match field {
        Field::Device(d) => {
            let col = dcol(d.column());
            // The stored OUI is normalised upper case.
            let v = if *d == DeviceField::Oui {
                text.trim().to_ascii_uppercase()
            } else {
                text.to_owned()
            };
            guard_null(col.clone(), d.nullable(), text_cmp(col, op, &v, backend))
        }
        Field::Time(t) => {
            let at = match value {
                Value::Time(tv) => ts(tv.resolve(now)),
                // The parser only produces times for time fields.
                Value::Text(_) => ts(TimeValue::Relative(0).resolve(now)),
            };
            let col = dcol(t.name());
            let test = match op {
                Op::Eq => col.clone().eq(at),
                Op::Ne => col.clone().ne(at),
                Op::Lt => col.clone().lt(at),
                Op::Gt | Op::Glob => col.clone().gt(at),
            };
            guard_null(col, TimeField::nullable(*t), test)
        }
        Field::Tag => match op {
            Op::Ne => exists_in("device_tags", "t", vec![acol("t", "tag").eq(text)]).not(),
            op => exists_in(
                "device_tags",
                "t",
                vec![text_cmp(acol("t", "tag"), op, text, backend)],
            ),
        },
        // Any enabled line: a disabled line is no registration to lose.
        Field::LineStatus => exists_in(
            "device_lines",
            "l",
            vec![
                acol("l", "status").ne(crate::truth::lines::DISABLED),
                text_cmp(acol("l", "status"), op, text, backend),
            ],
        ),
        Field::Parameter(name) => {
            let mut conds = vec![acol("p", "name").eq(name.as_str())];
            conds.extend(parameter_value_test(op, text, backend));
            exists_in("device_parameters", "p", conds)
        }
    }
}

/// Compiles a filter to a condition over `devices` (relative times resolved
/// against `now`) for `backend`.
pub fn filter_condition(filter: &Filter, backend: DbBackend, now: DateTime<Utc>) -> Condition {
    compile(&filter.expr, backend, now)
}

/// A decoded cursor: sort field, direction, key, id.
fn encode_cursor(sort: DeviceSort, key: &str, id: &str) -> String {
    let dir = match sort.direction {
        SortDirection::Asc => "asc",
        SortDirection::Desc => "desc",
    };
    let json = serde_json::json!([sort.field.name(), dir, key, id]);
    URL_SAFE_NO_PAD.encode(json.to_string())
}

fn decode_cursor(sort: DeviceSort, cursor: &str) -> Result<(String, String), StoreError> {
    let bad = || StoreError::InvalidInput("invalid page cursor".into());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let (field, dir, key, id): (String, String, String, String) =
        serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let want_dir = match sort.direction {
        SortDirection::Asc => "asc",
        SortDirection::Desc => "desc",
    };
    if field != sort.field.name() || dir != want_dir {
        return Err(StoreError::InvalidInput(
            "page cursor belongs to a different sort order".into(),
        ));
    }
    Ok((key, id))
}

/// `(key, id) > (k, i)` (or `<` descending), written out so both backends
/// can use an index on the key.
fn keyset(sort: DeviceSort, key: &str, id: &str) -> Result<Condition, StoreError> {
    let desc = sort.direction == SortDirection::Desc;
    let after = |l: Expr, r: sea_orm::Value| if desc { l.lt(r) } else { l.gt(r) };
    if sort.field == SortField::Id {
        return Ok(Condition::all().add(after(dcol("id"), id.into())));
    }
    let k: sea_orm::Value = if sort.field.is_time() {
        let t = DateTime::parse_from_rfc3339(key)
            .map_err(|_| StoreError::InvalidInput("invalid page cursor".into()))?;
        ts(t.with_timezone(&Utc)).into()
    } else {
        key.into()
    };
    Ok(Condition::any()
        .add(after(sort.field.key(), k.clone()))
        .add(
            Condition::all()
                .add(sort.field.key().eq(k))
                .add(after(dcol("id"), id.into())),
        ))
}

/// Batches of matching device ids in id order, from
/// [`Store::stream_device_ids`]. Each batch is one keyset query, so a walk
/// over millions of devices holds one batch in memory at a time and sees
/// devices added behind the cursor while it runs.
#[derive(Debug, Clone)]
pub struct DeviceIdBatches {
    store: Store,
    cond: Option<Condition>,
    after: Option<String>,
    batch: u64,
    done: bool,
}

impl DeviceIdBatches {
    /// The next batch (never empty), or `None` when the walk is over.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<String>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let mut q = device::Entity::find()
            .select_only()
            .column(device::Column::Id)
            .order_by_asc(device::Column::Id)
            .limit(self.batch);
        if let Some(c) = &self.cond {
            q = q.filter(c.clone());
        }
        if let Some(a) = &self.after {
            q = q.filter(dcol("id").gt(a.as_str()));
        }
        let ids: Vec<String> = q.into_tuple().all(&self.store.read).await?;
        if (ids.len() as u64) < self.batch {
            self.done = true;
        }
        if ids.is_empty() {
            return Ok(None);
        }
        self.after = ids.last().cloned();
        Ok(Some(ids))
    }
}

impl Store {
    /// One page of devices matching `q.filter`, in `q.sort` order. Pass the
    /// returned `next` as `q.after` (with the same filter and sort) for the
    /// next page; paging is stable under concurrent inserts and never scans
    /// skipped rows.
    pub async fn find_devices(&self, q: &DeviceQuery<'_>) -> Result<DevicePage, StoreError> {
        let backend = self.db_backend();
        let limit = q.limit.clamp(1, MAX_PAGE_SIZE);
        let order = match q.sort.direction {
            SortDirection::Asc => Order::Asc,
            SortDirection::Desc => Order::Desc,
        };
        let mut sel = device::Entity::find();
        if let Some(f) = q.filter {
            sel = sel.filter(filter_condition(f, backend, q.now));
        }
        if let Some(cursor) = &q.after {
            let (key, id) = decode_cursor(q.sort, cursor)?;
            sel = sel.filter(keyset(q.sort, &key, &id)?);
        }
        if q.sort.field != SortField::Id {
            sel = sel.order_by(q.sort.field.key(), order.clone());
        }
        let mut devices = sel
            .order_by(dcol("id"), order)
            .limit(limit + 1)
            .all(&self.read)
            .await?
            .into_iter()
            .map(DeviceRow::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if devices.len() as u64 > limit {
            devices.truncate(limit as usize);
            devices
                .last()
                .map(|d| encode_cursor(q.sort, &q.sort.field.key_of(d), &d.id))
        } else {
            None
        };
        Ok(DevicePage { devices, next })
    }

    /// Number of devices matching `filter` (all devices when `None`).
    pub async fn count_devices_matching(
        &self,
        filter: Option<&Filter>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut sel = device::Entity::find();
        if let Some(f) = filter {
            sel = sel.filter(filter_condition(f, self.db_backend(), now));
        }
        Ok(sel.count(&self.read).await?)
    }

    /// Walks the ids of all devices matching `filter` in id order, `batch`
    /// (at least 1) at a time; see [`DeviceIdBatches`]. The filter is
    /// compiled once, so relative times stay anchored at `now`.
    pub fn stream_device_ids(
        &self,
        filter: Option<&Filter>,
        now: DateTime<Utc>,
        batch: u64,
    ) -> DeviceIdBatches {
        DeviceIdBatches {
            store: self.clone(),
            cond: filter.map(|f| filter_condition(f, self.db_backend(), now)),
            after: None,
            batch: batch.clamp(1, MAX_PAGE_SIZE),
            done: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::QueryTrait;

    use super::*;

    fn sql(filter: &str, backend: DbBackend) -> String {
        let f = Filter::parse(filter).expect("parse");
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).expect("time");
        device::Entity::find()
            .select_only()
            .column(device::Column::Id)
            .filter(filter_condition(&f, backend, now))
            .build(backend)
            .to_string()
    }

    /// The SQL shapes the module docs promise.
    #[test]
    fn compiled_sql() {
        let pg = sql(
            r#"Device.A.B ~ "a_b*" and not tag = lab"#,
            DbBackend::Postgres,
        );
        assert_eq!(
            pg,
            r#"SELECT "devices"."id" FROM "devices" WHERE EXISTS(SELECT 1 FROM "device_parameters" AS "p" WHERE "p"."device_id" = "devices"."id" AND "p"."name" = 'Device.A.B' AND (left("p"."value", 256)) LIKE E'a\\_b%' ESCAPE E'\\' AND "p"."value" LIKE E'a\\_b%' ESCAPE E'\\') AND (NOT EXISTS(SELECT 1 FROM "device_tags" AS "t" WHERE "t"."device_id" = "devices"."id" AND "t"."tag" = 'lab'))"#
        );
        let lite = sql(r#"Device.A.B ~ "a[b*" or serial < x"#, DbBackend::Sqlite);
        assert_eq!(
            lite,
            r#"SELECT "devices"."id" FROM "devices" WHERE EXISTS(SELECT 1 FROM "device_parameters" AS "p" WHERE "p"."device_id" = "devices"."id" AND "p"."name" = 'Device.A.B' AND ("p"."value" GLOB 'a[[]b*')) OR "devices"."serial_number" < 'x'"#
        );
        let pg = sql(
            "software_version > 2 and last_inform > -1h",
            DbBackend::Postgres,
        );
        assert!(pg.contains(r#""devices"."software_version" IS NOT NULL AND ("devices"."software_version" ~>~ '2')"#), "{pg}");
        assert!(
            pg.contains(r#""devices"."last_inform" > '2027-01-15 07:00:00.000000 +00:00'"#),
            "{pg}"
        );
    }
}

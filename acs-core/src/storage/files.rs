//! File metadata and the log of CPE transfers of files.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::storage::entity::{file, file_transfer};
use crate::storage::{Store, StoreError, ts};

/// What a stored file is for; decides the CWMP FileType it is pushed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// A firmware image (`1 Firmware Upgrade Image`).
    Firmware,
    /// A configuration template, rendered per device (`3 Vendor Configuration File`).
    ConfigTemplate,
    /// A CA certificate bundle.
    Ca,
    /// A CSV of per-device template variables (`acs config push --vars`, a rule's
    /// `vars_file`): every phone's secrets. Read by the server to render a template, never
    /// served to any device.
    Vars,
    /// Anything else.
    Other,
}

impl FileKind {
    /// The stored and command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Firmware => "firmware",
            FileKind::ConfigTemplate => "config-template",
            FileKind::Ca => "ca",
            FileKind::Vars => "vars",
            FileKind::Other => "other",
        }
    }

    /// Parses the stored and command-line name.
    pub fn parse(s: &str) -> Option<FileKind> {
        Some(match s {
            "firmware" => FileKind::Firmware,
            "config-template" => FileKind::ConfigTemplate,
            "ca" => FileKind::Ca,
            "vars" => FileKind::Vars,
            "other" => FileKind::Other,
            _ => return None,
        })
    }

    /// Whether a device may ever be sent a file of this kind.
    pub fn servable(self) -> bool {
        self != FileKind::Vars
    }
}

/// A file to record (its content is already in the blob store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// File name as uploaded (what a CPE sees as the last URL segment).
    pub name: String,
    /// What it is for.
    pub kind: FileKind,
    /// Only for this product class, when set.
    pub product_class: Option<String>,
    /// Firmware version it carries, when known.
    pub version: Option<String>,
    /// Content address.
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// Id.
    pub id: i64,
    /// File name.
    pub name: String,
    /// What it is for.
    pub kind: FileKind,
    /// Product class restriction.
    pub product_class: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Content address (lower-case hex SHA-256).
    pub sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Upload time.
    pub created_at: DateTime<Utc>,
}

impl TryFrom<file::Model> for FileRow {
    type Error = StoreError;

    fn try_from(m: file::Model) -> Result<Self, StoreError> {
        let kind = FileKind::parse(&m.file_type).ok_or_else(|| StoreError::Corrupt {
            table: "files",
            column: "file_type",
            key: m.id.to_string(),
            reason: format!("unknown file type `{}`", m.file_type),
        })?;
        Ok(FileRow {
            id: m.id,
            name: m.name,
            kind,
            product_class: m.product_class,
            version: m.version,
            sha256: m.sha256,
            size: m.size,
            created_at: m.created_at,
        })
    }
}

/// One CPE fetch of a file, as the file server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTransferRecord {
    /// The file, when the request named one that exists.
    pub file_id: Option<i64>,
    /// The device, when the request was authorised for one.
    pub device_id: Option<String>,
    /// The task the transfer token was issued for.
    pub task_id: Option<i64>,
    /// Client address.
    pub remote_ip: Option<String>,
    /// HTTP status answered.
    pub status: i32,
    /// Bytes sent.
    pub bytes: i64,
    /// `ok`, `partial`, `unauthorized`, `not_found`, `range_not_satisfiable`, `aborted`.
    pub outcome: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Transfer counts of one device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferCounts {
    /// Requests answered 200, 206 or 304.
    pub ok: i64,
    /// Requests refused or failed.
    pub failed: i64,
}

impl Store {
    /// Records a file's metadata.
    pub async fn insert_file(&self, new: &NewFile) -> Result<FileRow, StoreError> {
        let ins = Query::insert()
            .into_table(file::Entity)
            .columns([
                file::Column::Name,
                file::Column::FileType,
                file::Column::ProductClass,
                file::Column::Version,
                file::Column::Sha256,
                file::Column::Size,
                file::Column::CreatedAt,
            ])
            .values([
                Expr::val(new.name.as_str()),
                Expr::val(new.kind.as_str()),
                Expr::val(new.product_class.clone()),
                Expr::val(new.version.clone()),
                Expr::val(new.sha256.as_str()),
                Expr::val(new.size),
                Expr::val(ts(Utc::now())),
            ])?
            .returning_all()
            .to_owned();
        let stmt = self.db_backend().build(&ins);
        file::Model::find_by_statement(stmt)
            .one(&self.write)
            .await?
            .ok_or_else(|| StoreError::Internal("file insert returned no row".into()))
            .and_then(FileRow::try_from)
    }

    /// The file with this id.
    pub async fn get_file(&self, id: i64) -> Result<Option<FileRow>, StoreError> {
        file::Entity::find_by_id(id)
            .one(&self.read)
            .await?
            .map(FileRow::try_from)
            .transpose()
    }

    /// Files, newest first, optionally of one kind.
    pub async fn list_files(&self, kind: Option<FileKind>) -> Result<Vec<FileRow>, StoreError> {
        let mut q = file::Entity::find();
        if let Some(k) = kind {
            q = q.filter(file::Column::FileType.eq(k.as_str()));
        }
        q.order_by_desc(file::Column::Id)
            .all(&self.read)
            .await?
            .into_iter()
            .map(FileRow::try_from)
            .collect()
    }

    /// The newest file with this name that suits a device of `product_class`: one restricted
    /// to that product class first, else one without restriction. Variables CSVs are never
    /// found: this is the lookup of files to send to devices.
    pub async fn find_file_for_device(
        &self,
        name: &str,
        product_class: Option<&str>,
    ) -> Result<Option<FileRow>, StoreError> {
        let rows = file::Entity::find()
            .filter(file::Column::Name.eq(name))
            .filter(file::Column::FileType.ne(FileKind::Vars.as_str()))
            .order_by_desc(file::Column::Id)
            .all(&self.read)
            .await?
            .into_iter()
            .map(FileRow::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let exact = rows
            .iter()
            .find(|f| f.product_class.is_some() && f.product_class.as_deref() == product_class);
        Ok(exact
            .or_else(|| rows.iter().find(|f| f.product_class.is_none()))
            .cloned())
    }

    /// The stored files a device's unfinished Download tasks (its own, a job's or a
    /// rollout's, held ones included) send.
    pub async fn files_of_pending_downloads(
        &self,
        device_id: &str,
    ) -> Result<Vec<i64>, StoreError> {
        use crate::storage::entity::task;
        use crate::tasks::{Payload, QueuedTask, TaskSpec};
        let payloads: Vec<serde_json::Value> = task::Entity::find()
            .select_only()
            .column(task::Column::Payload)
            .filter(task::Column::DeviceId.eq(device_id))
            .filter(task::Column::State.is_in(["queued", "sent", "held"]))
            .into_tuple()
            .all(&self.read)
            .await?;
        Ok(payloads
            .iter()
            .filter_map(|p| match Payload::parse(p) {
                Ok(Payload::Task(QueuedTask {
                    spec: TaskSpec::Download { file_id, .. },
                    ..
                })) => file_id,
                _ => None,
            })
            .collect())
    }

    /// Deletes a file's metadata; returns it, and whether other files still use its content.
    pub async fn delete_file(&self, id: i64) -> Result<Option<(FileRow, bool)>, StoreError> {
        let Some(row) = self.get_file(id).await? else {
            return Ok(None);
        };
        file::Entity::delete_by_id(id).exec(&self.write).await?;
        let shared = file::Entity::find()
            .filter(file::Column::Sha256.eq(row.sha256.as_str()))
            .count(&self.write)
            .await?
            > 0;
        Ok(Some((row, shared)))
    }

    /// Appends to the transfer log.
    pub async fn record_file_transfer(&self, r: &FileTransferRecord) -> Result<(), StoreError> {
        let ins = Query::insert()
            .into_table(file_transfer::Entity)
            .columns([
                file_transfer::Column::FileId,
                file_transfer::Column::DeviceId,
                file_transfer::Column::TaskId,
                file_transfer::Column::RemoteIp,
                file_transfer::Column::Status,
                file_transfer::Column::Bytes,
                file_transfer::Column::Outcome,
                file_transfer::Column::At,
            ])
            .values([
                Expr::val(r.file_id),
                Expr::val(r.device_id.clone()),
                Expr::val(r.task_id),
                Expr::val(r.remote_ip.clone()),
                Expr::val(r.status),
                Expr::val(r.bytes),
                Expr::val(r.outcome.as_str()),
                Expr::val(ts(r.at)),
            ])?
            .to_owned();
        self.write.execute(&ins).await?;
        Ok(())
    }

    /// A device's transfers, newest first.
    pub async fn file_transfers_of_device(
        &self,
        device_id: &str,
        limit: u64,
    ) -> Result<Vec<FileTransferRecord>, StoreError> {
        Ok(file_transfer::Entity::find()
            .filter(file_transfer::Column::DeviceId.eq(device_id))
            .order_by_desc(file_transfer::Column::Id)
            .limit(limit.clamp(1, 1000))
            .all(&self.read)
            .await?
            .into_iter()
            .map(|m| FileTransferRecord {
                file_id: m.file_id,
                device_id: m.device_id,
                task_id: m.task_id,
                remote_ip: m.remote_ip,
                status: m.status,
                bytes: m.bytes,
                outcome: m.outcome,
                at: m.at,
            })
            .collect())
    }

    /// How many of a device's transfers succeeded and failed.
    pub async fn file_transfer_counts(
        &self,
        device_id: &str,
    ) -> Result<TransferCounts, StoreError> {
        // A 304 is a success: the device already has the file.
        let ok_outcomes = ["ok", "partial", "not_modified"];
        let ok = file_transfer::Entity::find()
            .filter(file_transfer::Column::DeviceId.eq(device_id))
            .filter(file_transfer::Column::Outcome.is_in(ok_outcomes))
            .count(&self.read)
            .await? as i64;
        let all = file_transfer::Entity::find()
            .filter(file_transfer::Column::DeviceId.eq(device_id))
            .count(&self.read)
            .await? as i64;
        Ok(TransferCounts {
            ok,
            failed: all - ok,
        })
    }
}

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "file_transfers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub file_id: Option<i64>,
    pub device_id: Option<String>,
    pub task_id: Option<i64>,
    pub remote_ip: Option<String>,
    pub status: i32,
    pub bytes: i64,
    pub outcome: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

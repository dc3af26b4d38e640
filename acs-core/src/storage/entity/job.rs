use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub definition: Json,
    pub filter: Option<String>,
    pub connection_request: bool,
    pub state: String,
    pub total: i64,
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    pub concurrency: Option<i32>,
    pub max_failures: Option<String>,
    pub stop_reason: Option<String>,
    pub maintenance_window: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

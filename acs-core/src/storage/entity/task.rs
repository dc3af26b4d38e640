use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub device_id: String,
    pub kind: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    pub state: String,
    pub cwmp_id: Option<String>,
    pub command_key: Option<String>,
    pub attempts: i32,
    pub max_attempts: i32,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub result: Option<Json>,
    pub fault_code: Option<i32>,
    pub fault_string: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub fault_detail: Option<Json>,
    pub job_id: Option<i64>,
    pub fault_cleared_at: Option<DateTimeUtc>,
    pub connreq_outcome: Option<String>,
    pub connreq_detail: Option<String>,
    pub connreq_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

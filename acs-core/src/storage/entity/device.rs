use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "devices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub manufacturer: String,
    pub oui: String,
    pub oui_normalized: String,
    pub product_class: String,
    pub serial_number: String,
    pub mac: Option<String>,
    pub software_version: Option<String>,
    pub hardware_version: Option<String>,
    pub provisioning_code: Option<String>,
    pub connection_request_url: Option<String>,
    pub connection_request_username: Option<String>,
    pub connection_request_password: Option<String>,
    pub remote_ip: Option<String>,
    pub cwmp_version: String,
    pub first_seen: DateTimeUtc,
    pub last_inform: DateTimeUtc,
    pub last_boot: Option<DateTimeUtc>,
    pub last_bootstrap: Option<DateTimeUtc>,
    pub periodic_inform_interval: Option<i64>,
    #[sea_orm(column_type = "JsonBinary")]
    pub last_events: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub presence: String,
    pub presence_due: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

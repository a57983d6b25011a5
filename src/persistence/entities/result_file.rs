//! `result_file`: a file seen in the results inbox, its claim and its outcome.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "result_file")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub path: String,
    pub fingerprint: String,
    pub size: i64,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub exam_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub report_key: Option<String>,
    pub destination: Option<String>,
    pub claims: i32,
    pub claimed_by: Option<Uuid>,
    pub claimed_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub received_at: DateTimeUtc,
    pub decided_at: Option<DateTimeUtc>,
    pub moved_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

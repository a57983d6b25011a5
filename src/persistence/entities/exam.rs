//! `exam`: an ordered exam, its lifecycle stamps and, once finished, its result.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "exam")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub patient_id: Uuid,
    pub exam_type: i32,
    pub status: String,
    pub ordered_by: Uuid,
    pub ordered_at: DateTimeUtc,
    pub started_by: Option<Uuid>,
    pub started_at: Option<DateTimeUtc>,
    pub token_id: Option<Uuid>,
    pub finished_by: Option<Uuid>,
    pub finished_at: Option<DateTimeUtc>,
    pub revoked_by: Option<Uuid>,
    pub revoked_at: Option<DateTimeUtc>,
    pub revoke_reason: Option<String>,
    pub result_status: Option<String>,
    pub result_summary: Option<String>,
    /// The result's named values as a JSON object.
    pub result_values: Option<String>,
    pub result_digest: Option<String>,
    pub version: i32,
    /// Where the report file lies in the result store. Defaulted so that snapshots written
    /// before the column existed still read.
    #[serde(default)]
    pub report_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

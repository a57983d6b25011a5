//! `ecg_trend_point`: one value of a Holter trend, in UTC, keyed by patient, trend and instant.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ecg_trend_point")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub patient_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub trend_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub at: DateTimeUtc,
    pub units: String,
    pub label: String,
    /// `DATE_TIME_HL7` as the file wrote it (device-local).
    pub date_time_hl7: String,
    pub min_value: Option<i32>,
    pub avg_value: Option<i32>,
    pub max_value: Option<i32>,
    pub valid: bool,
    pub uploaded_by: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

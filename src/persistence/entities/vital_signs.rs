//! `vital_signs`: one observation set as recorded, with the NEWS2 result and flags computed then.
//! Rows are never updated except to mark them entered in error.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "vital_signs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub patient_id: Uuid,
    pub recorded_at: DateTimeUtc,
    pub recorded_by: Uuid,
    pub heart_rate: Option<f64>,
    pub systolic_bp: Option<f64>,
    pub diastolic_bp: Option<f64>,
    pub respiratory_rate: Option<f64>,
    pub temperature_c: Option<f64>,
    pub spo2: Option<f64>,
    pub on_oxygen: Option<bool>,
    pub consciousness: Option<String>,
    pub pain_score: Option<i16>,
    pub weight_kg: Option<f64>,
    pub note: Option<String>,
    /// The SpO2 scale the score was computed on (the patient's setting at the time).
    pub spo2_scale: i16,
    pub news2_score: i16,
    pub news2_risk: String,
    pub news2_complete: bool,
    pub flagged: bool,
    /// The flags as a JSON array, kept as recorded.
    pub flags: String,
    /// `final` or `entered_in_error`.
    pub status: String,
    pub error_reason: Option<String>,
    pub error_marked_by: Option<Uuid>,
    pub error_marked_at: Option<DateTimeUtc>,
    /// The record this one corrects.
    pub replaces: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `ecg`: one recording's metadata and the insights computed when it was stored (JSON text).
//! Rows are never updated except to mark them deleted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ecg")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub patient_id: Uuid,
    pub recorded_at: DateTimeUtc,
    pub recorded_by: Uuid,
    pub sampling_rate_hz: i32,
    pub lead_count: i16,
    pub samples_per_lead: i32,
    pub total_samples: i32,
    #[sea_orm(column_type = "Text")]
    pub insights: String,
    pub created_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! `patient`: a registered patient; `deleted_at` marks a soft delete.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "patient")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub mrn: String,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: Date,
    pub sex: String,
    pub diagnosis: String,
    pub icd10_code: Option<String>,
    pub ward: String,
    pub bed: Option<String>,
    pub status: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub preferred_contact: String,
    /// The NEWS2 SpO2 scale, 1 or 2.
    #[serde(default = "scale_one")]
    pub spo2_scale: i16,
    #[serde(default)]
    pub last_systemic_therapy_on: Option<Date>,
    /// First name, last name and MRN, lower-cased, for search.
    pub search_text: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Snapshots written before the SpO2 scale existed were all on Scale 1.
fn scale_one() -> i16 {
    1
}

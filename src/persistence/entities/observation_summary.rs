//! `observation_summary`: the read model of the ward overview, one row per patient with
//! observations, rewritten in the transaction of every vital-signs write that changes it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "observation_summary")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub patient_id: Uuid,
    pub vital_signs_id: Uuid,
    pub recorded_at: DateTimeUtc,
    pub news2_score: i16,
    pub news2_risk: String,
    pub news2_complete: bool,
    pub any_single_red: bool,
    pub next_due_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

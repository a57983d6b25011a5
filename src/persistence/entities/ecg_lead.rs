//! `ecg_lead`: one lead of a recording, its samples encoded by the domain's signal codec.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ecg_lead")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ecg_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i16,
    pub name: String,
    pub number_of_samples: i32,
    #[sea_orm(column_type = "Blob")]
    pub signal: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

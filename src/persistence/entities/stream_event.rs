//! `stream_event`: the change feed the live streams follow (on PostgreSQL also the writing
//! transaction, `tx`, which only the feed's own queries read).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stream_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub topic: String,
    pub patient_id: Uuid,
    pub resource_id: Option<Uuid>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! Failed-login counters in `login_throttle`, shared by every replica through the database.

use sea_orm::{EntityTrait, sea_query::OnConflict};

use super::entities::login_throttle::{self, Column, Entity};
use super::repository::Repository;
use super::{Executor, StoreResult};
use crate::domain::throttle::ThrottleState;

pub struct ThrottleRepository;

impl Repository for ThrottleRepository {
    type Entity = Entity;
    type Model = login_throttle::Model;
}

impl ThrottleRepository {
    pub async fn get<C: Executor>(db: &C, key: &str) -> StoreResult<Option<ThrottleState>> {
        Ok(Self::find_row(db, key.to_owned())
            .await?
            .map(|row| ThrottleState {
                failures: u32::try_from(row.failures).unwrap_or(0),
                window_started_at: row.window_started_at,
                locked_until: row.locked_until,
            }))
    }

    pub async fn put<C: Executor>(db: &C, key: &str, state: ThrottleState) -> StoreResult<()> {
        let row = login_throttle::Model {
            throttle_key: key.to_owned(),
            failures: i32::try_from(state.failures).unwrap_or(i32::MAX),
            window_started_at: state.window_started_at,
            locked_until: state.locked_until,
        };
        let active: login_throttle::ActiveModel = row.into();
        Entity::insert(active)
            .on_conflict(
                OnConflict::column(Column::ThrottleKey)
                    .update_columns([
                        Column::Failures,
                        Column::WindowStartedAt,
                        Column::LockedUntil,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        Ok(())
    }

    pub async fn clear<C: Executor>(db: &C, key: &str) -> StoreResult<()> {
        Entity::delete_by_id(key.to_owned()).exec(db).await?;
        Ok(())
    }
}

//! Failed-login counters in `login_throttle`, shared by every replica through the database.

use chrono::{DateTime, Utc};
use sea_orm::{EntityTrait, QuerySelect, sea_query::OnConflict};

use super::entities::login_throttle::{self, Column, Entity};
use super::repository::Repository;
use super::{Executor, StoreResult};
use crate::domain::throttle::{ThrottlePolicy, ThrottleState};

pub struct ThrottleRepository;

impl Repository for ThrottleRepository {
    type Entity = Entity;
    type Model = login_throttle::Model;
}

impl ThrottleRepository {
    /// The counter, locked until the transaction ends. A missing counter is created empty first,
    /// so that there is a row to lock: `FOR UPDATE` on PostgreSQL then serialises concurrent
    /// attempts on one key (SQLite's write transaction already holds the only write lock).
    pub async fn get_for_update<C: Executor>(
        db: &C,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ThrottleState>> {
        let empty: login_throttle::ActiveModel = login_throttle::Model {
            throttle_key: key.to_owned(),
            failures: 0,
            window_started_at: now,
            locked_until: None,
        }
        .into();
        Entity::insert(empty)
            .on_conflict_do_nothing_on([Column::ThrottleKey])
            .exec_without_returning(db)
            .await?;
        let rows = Entity::find_by_id(key.to_owned())
            .lock_exclusive()
            .all(db)
            .await?;
        Ok(rows.into_iter().next().map(|row| ThrottleState {
            failures: u32::try_from(row.failures).unwrap_or(0),
            window_started_at: row.window_started_at,
            locked_until: row.locked_until,
        }))
    }

    /// Takes back one counted failure (an attempt that turned out to succeed).
    pub async fn forgive_one<C: Executor>(
        db: &C,
        key: &str,
        policy: &ThrottlePolicy,
    ) -> StoreResult<()> {
        if let Some(state) = Self::get_for_update(db, key, Utc::now()).await? {
            Self::put(db, key, state.forgiving_one(policy)).await?;
        }
        Ok(())
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

//! Staff accounts in `app_user`, as domain `User`s.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::entities::app_user::{self, Column, Entity};
use super::repository::{Repository, uuid_keyed_page};
use super::{Executor, StoreResult, stored};
use crate::domain::page::{Page, PageRequest};
use crate::domain::user::{FullName, Role, User, Username};

pub struct UserRepository;

impl Repository for UserRepository {
    type Entity = Entity;
    type Model = app_user::Model;
}

/// A user as stored, with the password hash that only authentication may see.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// Filters for the account list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub active: Option<bool>,
}

fn to_domain(row: &app_user::Model) -> StoreResult<User> {
    Ok(User {
        id: row.id,
        username: stored("username", Username::parse(&row.username))?,
        full_name: stored("full_name", FullName::parse(&row.full_name))?,
        role: stored("role", row.role.parse())?,
        active: row.active,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_row(user: &User, password_hash: String) -> app_user::Model {
    app_user::Model {
        id: user.id,
        username: user.username.as_str().to_owned(),
        full_name: user.full_name.as_str().to_owned(),
        role: user.role.as_str().to_owned(),
        password_hash,
        active: user.active,
        version: user.version,
        created_at: user.created_at,
        updated_at: user.updated_at,
    }
}

impl UserRepository {
    pub async fn insert<C: Executor>(
        db: &C,
        user: &User,
        password_hash: String,
    ) -> StoreResult<()> {
        Self::insert_row(db, to_row(user, password_hash)).await?;
        Ok(())
    }

    pub async fn find<C: Executor>(db: &C, id: Uuid) -> StoreResult<Option<User>> {
        Self::find_row(db, id)
            .await?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    pub async fn find_credentials<C: Executor>(
        db: &C,
        username: &str,
    ) -> StoreResult<Option<Credentials>> {
        let row = Self::find_unique_where(db, Column::Username.eq(username)).await?;
        row.map(|row| {
            Ok(Credentials {
                user: to_domain(&row)?,
                password_hash: row.password_hash,
            })
        })
        .transpose()
    }

    /// Writes `user` (whose version is already the new one) if the stored version is still
    /// `expected_version`. A `None` hash keeps the stored password.
    pub async fn update<C: Executor>(
        db: &C,
        user: &User,
        expected_version: i32,
        password_hash: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut update = Entity::update_many()
            .col_expr(Column::FullName, user.full_name.as_str().into())
            .col_expr(Column::Role, user.role.as_str().into())
            .col_expr(Column::Active, user.active.into())
            .col_expr(Column::Version, user.version.into())
            .col_expr(Column::UpdatedAt, now.into());
        if let Some(hash) = password_hash {
            update = update.col_expr(Column::PasswordHash, hash.into());
        }
        let result = update
            .filter(Column::Id.eq(user.id))
            .filter(Column::Version.eq(expected_version))
            .exec(db)
            .await?;
        if result.rows_affected == 0 {
            return Err(super::StoreError::VersionMismatch);
        }
        Ok(())
    }

    /// Counts active administrators and locks their rows until the transaction ends (`FOR
    /// UPDATE` on PostgreSQL; SQLite's single writer already serialises), so two concurrent
    /// demotions cannot both see "another admin remains" and leave none.
    pub async fn lock_active_admins<C: Executor>(db: &C) -> StoreResult<u64> {
        let ids: Vec<Uuid> = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Role.eq(Role::Admin.as_str()))
            .filter(Column::Active.eq(true))
            .lock_exclusive()
            .into_tuple()
            .all(db)
            .await?;
        Ok(ids.len() as u64)
    }

    pub async fn count_active_admins<C: Executor>(db: &C) -> StoreResult<u64> {
        Self::count_where(
            db,
            Condition::all()
                .add(Column::Role.eq(Role::Admin.as_str()))
                .add(Column::Active.eq(true))
                .into(),
        )
        .await
    }

    pub async fn list<C: Executor>(
        db: &C,
        filter: &UserFilter,
        page: PageRequest,
    ) -> StoreResult<Page<User>> {
        let mut condition = Condition::all();
        if let Some(role) = filter.role {
            condition = condition.add(Column::Role.eq(role.as_str()));
        }
        if let Some(active) = filter.active {
            condition = condition.add(Column::Active.eq(active));
        }
        let query = Entity::find().filter(condition);
        uuid_keyed_page(db, query, Column::Id, page, |r| r.id, to_domain).await
    }
}

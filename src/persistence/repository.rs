//! The generic repository: the operations every aggregate's table shares, written once over any
//! SeaORM entity. Per-aggregate repositories pick their entity and add their own queries.

use std::future::Future;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, IntoActiveModel, PaginatorTrait,
    PrimaryKeyTrait, QueryFilter, QueryOrder, QuerySelect, Select, sea_query::SimpleExpr,
};

use super::{Executor, StoreError, StoreResult};
use crate::domain::page::{Cursor, Page, PageRequest};

pub trait Repository {
    type Entity: EntityTrait<Model = Self::Model>;
    type Model: FromQueryResult
        + IntoActiveModel<<Self::Entity as EntityTrait>::ActiveModel>
        + Send
        + Sync
        + Clone;

    /// The row with this primary key, if any.
    fn find_row<C: Executor>(
        db: &C,
        id: <<Self::Entity as EntityTrait>::PrimaryKey as PrimaryKeyTrait>::ValueType,
    ) -> impl Future<Output = StoreResult<Option<Self::Model>>> + Send {
        // `all` rather than `one`: a key matches at most one row anyway, and `one` adds a bound
        // `LIMIT ?`, which makes SQLite re-prepare the statement on every execution.
        async move {
            Ok(Self::Entity::find_by_id(id)
                .all(db)
                .await?
                .into_iter()
                .next())
        }
    }

    /// The row matching `condition`, which must pin a primary or unique key (see `find_row`).
    fn find_unique_where<C: Executor>(
        db: &C,
        condition: SimpleExpr,
    ) -> impl Future<Output = StoreResult<Option<Self::Model>>> + Send {
        async move {
            Ok(Self::Entity::find()
                .filter(condition)
                .all(db)
                .await?
                .into_iter()
                .next())
        }
    }

    /// The rows whose `column` holds one of `ids`, in no particular order, in one query.
    fn find_rows_in<C: Executor, K: ColumnTrait + Send>(
        db: &C,
        column: K,
        ids: &[uuid::Uuid],
    ) -> impl Future<Output = StoreResult<Vec<Self::Model>>> + Send {
        async move {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            Ok(Self::Entity::find()
                .filter(column.is_in(ids.iter().copied()))
                .all(db)
                .await?)
        }
    }

    /// Inserts one row and returns it as stored.
    fn insert_row<C: Executor>(
        db: &C,
        row: Self::Model,
    ) -> impl Future<Output = StoreResult<Self::Model>> + Send
    where
        <Self::Entity as EntityTrait>::ActiveModel: ActiveModelTrait<Entity = Self::Entity> + Send,
    {
        async move {
            let active: <Self::Entity as EntityTrait>::ActiveModel =
                row.clone().into_active_model();
            Self::Entity::insert(active)
                .exec_without_returning(db)
                .await?;
            Ok(row)
        }
    }

    /// Writes every column of `row` where `condition` (which should pin the primary key and,
    /// for optimistic locking, the version read) still holds; `VersionMismatch` when it does not.
    fn update_row_where<C: Executor>(
        db: &C,
        row: Self::Model,
        condition: SimpleExpr,
    ) -> impl Future<Output = StoreResult<Self::Model>> + Send
    where
        <Self::Entity as EntityTrait>::ActiveModel: ActiveModelTrait<Entity = Self::Entity> + Send,
    {
        async move {
            let active: <Self::Entity as EntityTrait>::ActiveModel =
                row.clone().into_active_model().reset_all();
            let result = Self::Entity::update_many()
                .set(active)
                .filter(condition)
                .exec(db)
                .await?;
            match result.rows_affected {
                0 => Err(StoreError::VersionMismatch),
                _ => Ok(row),
            }
        }
    }

    /// The number of rows matching `condition`.
    fn count_where<C: Executor>(
        db: &C,
        condition: SimpleExpr,
    ) -> impl Future<Output = StoreResult<u64>> + Send {
        async move { Ok(Self::Entity::find().filter(condition).count(db).await?) }
    }
}

/// Rows of one page of `query` in `order` (with the total for offset pages): starts after the
/// cursor condition `after`, skips the offset, and reads one row more than the page to know
/// whether another follows.
pub(crate) async fn page_rows<E, C>(
    db: &C,
    query: Select<E>,
    order: E::Column,
    descending: bool,
    after: Option<SimpleExpr>,
    page: &PageRequest,
) -> StoreResult<(Vec<E::Model>, Option<u64>)>
where
    E: EntityTrait,
    E::Model: Sync,
    C: Executor,
{
    let total = match page.offset {
        Some(_) => Some(query.clone().count(db).await?),
        None => None,
    };
    let mut query = query;
    if let Some(after) = after {
        query = query.filter(after);
    }
    let query = if descending {
        query.order_by_desc(order)
    } else {
        query.order_by_asc(order)
    };
    let rows = query
        .offset(page.offset)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Turns the rows of `page_rows` into a page, with the cursor of the last row when more follow.
pub(crate) fn finish_page<R, T>(
    mut rows: Vec<R>,
    total: Option<u64>,
    page: PageRequest,
    key: impl Fn(&R) -> String,
    convert: impl Fn(&R) -> StoreResult<T>,
) -> StoreResult<Page<T>> {
    let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|r| Cursor::new(key(r)))
    } else {
        None
    };
    let items = rows.iter().map(convert).collect::<StoreResult<Vec<T>>>()?;
    Ok(Page {
        items,
        next_cursor,
        total,
        request: page,
    })
}

/// One page of a list keyed and ordered by a UUID primary key (ascending), its cursor being the
/// last id in simple hex form.
pub(crate) async fn uuid_keyed_page<E, C, T>(
    db: &C,
    query: Select<E>,
    id_column: E::Column,
    page: PageRequest,
    id_of: impl Fn(&E::Model) -> uuid::Uuid,
    convert: impl Fn(&E::Model) -> StoreResult<T>,
) -> StoreResult<Page<T>>
where
    E: EntityTrait,
    E::Model: Sync,
    E::Column: sea_orm::ColumnTrait,
    C: Executor,
{
    use sea_orm::ColumnTrait as _;
    let after = match &page.after {
        Some(key) => Some(
            id_column.gt(uuid::Uuid::parse_str(key)
                .map_err(|_| StoreError::Corrupt(format!("cursor key {key}")))?),
        ),
        None => None,
    };
    let (rows, total) = page_rows(db, query, id_column, false, after, &page).await?;
    finish_page(
        rows,
        total,
        page,
        |r| id_of(r).simple().to_string(),
        convert,
    )
}

/// The cursor key of lists ordered newest first by a time with the id breaking ties: the time in
/// microseconds, `-`, the id in simple hex (`KeyShape::TimeUuid`).
pub(crate) fn time_uuid_key(at: chrono::DateTime<chrono::Utc>, id: uuid::Uuid) -> String {
    format!("{}-{}", at.timestamp_micros(), id.simple())
}

/// The rows after a `time_uuid_key` cursor in newest-first order: earlier in time, or at the
/// same time with a smaller id.
pub(crate) fn before_time_uuid<C: sea_orm::ColumnTrait>(
    key: &str,
    time: C,
    id: C,
) -> StoreResult<sea_orm::Condition> {
    use sea_orm::Condition;
    let bad = || StoreError::Corrupt(format!("cursor key {key}"));
    let (micros, uuid) = key.split_once('-').ok_or_else(bad)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    let uuid = uuid::Uuid::parse_str(uuid).map_err(|_| bad())?;
    Ok(Condition::any()
        .add(time.lt(at))
        .add(Condition::all().add(time.eq(at)).add(id.lt(uuid))))
}

/// One page of `query` newest first by `time`, the id breaking ties, with a `time_uuid_key`
/// cursor (and the total for offset pages).
pub(crate) async fn time_uuid_page<E, C, T>(
    db: &C,
    query: Select<E>,
    (time, id): (E::Column, E::Column),
    page: PageRequest,
    key: impl Fn(&E::Model) -> String,
    convert: impl Fn(&E::Model) -> StoreResult<T>,
) -> StoreResult<Page<T>>
where
    E: EntityTrait,
    E::Model: Sync,
    E::Column: sea_orm::ColumnTrait,
    C: Executor,
{
    let total = match page.offset {
        Some(_) => Some(query.clone().count(db).await?),
        None => None,
    };
    let mut query = query;
    if let Some(after) = &page.after {
        query = query.filter(before_time_uuid(after, time, id)?);
    }
    let rows = query
        .order_by_desc(time)
        .order_by_desc(id)
        .offset(page.offset)
        .limit(page.limit + 1)
        .all(db)
        .await?;
    finish_page(rows, total, page, key, convert)
}

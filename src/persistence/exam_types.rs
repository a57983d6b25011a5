//! The exam catalog in `exam_type`.

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};

use super::entities::exam_type::{self, Column, Entity};
use super::repository::Repository;
use super::{Executor, StoreResult, stored};
use crate::domain::exam::{ExamType, ExamTypeCode};

pub struct ExamTypeRepository;

impl Repository for ExamTypeRepository {
    type Entity = Entity;
    type Model = exam_type::Model;
}

fn to_row(t: &ExamType) -> exam_type::Model {
    exam_type::Model {
        code: t.code.value(),
        name: t.name.clone(),
        modality: t.modality.as_str().to_owned(),
        active: t.active,
        version: t.version,
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

fn to_domain(row: &exam_type::Model) -> StoreResult<ExamType> {
    Ok(ExamType {
        code: stored("code", ExamTypeCode::parse(i64::from(row.code)))?,
        name: row.name.clone(),
        modality: stored("modality", row.modality.parse())?,
        active: row.active,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

impl ExamTypeRepository {
    pub async fn insert<C: Executor>(db: &C, t: &ExamType) -> StoreResult<()> {
        Self::insert_row(db, to_row(t)).await.map(drop)
    }

    pub async fn find<C: Executor>(db: &C, code: ExamTypeCode) -> StoreResult<Option<ExamType>> {
        Self::find_row(db, code.value())
            .await?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    /// Writes the entry if it is still at `expected_version` (its version goes up by one).
    pub async fn update<C: Executor>(
        db: &C,
        t: &ExamType,
        expected_version: i32,
    ) -> StoreResult<()> {
        let mut row = to_row(t);
        row.version = expected_version + 1;
        Self::update_row_where(
            db,
            row,
            Condition::all()
                .add(Column::Code.eq(t.code.value()))
                .add(Column::Version.eq(expected_version))
                .into(),
        )
        .await
        .map(drop)
    }

    /// The catalog in code order, optionally only the active entries.
    pub async fn list<C: Executor>(db: &C, active_only: bool) -> StoreResult<Vec<ExamType>> {
        let mut q = Entity::find();
        if active_only {
            q = q.filter(Column::Active.eq(true));
        }
        q.order_by_asc(Column::Code)
            .all(db)
            .await?
            .iter()
            .map(to_domain)
            .collect()
    }
}

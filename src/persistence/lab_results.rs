//! Laboratory results in `lab_result`.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::entities::lab_result::{self, Column, Entity};
use super::repository::Repository;
use super::{Executor, StoreResult, stored};
use crate::domain::lab::{LabCode, LabResult};

pub struct LabResultRepository;

impl Repository for LabResultRepository {
    type Entity = Entity;
    type Model = lab_result::Model;
}

fn to_domain(row: &lab_result::Model) -> StoreResult<LabResult> {
    Ok(LabResult {
        id: row.id,
        patient_id: row.patient_id,
        code: stored("code", row.code.parse())?,
        value: row.value,
        measured_at: row.measured_at,
        recorded_by: row.recorded_by,
        created_at: row.created_at,
    })
}

impl LabResultRepository {
    pub async fn insert<C: Executor>(db: &C, r: &LabResult) -> StoreResult<()> {
        Self::insert_row(
            db,
            lab_result::Model {
                id: r.id,
                patient_id: r.patient_id,
                code: r.code.as_str().to_owned(),
                value: r.value,
                measured_at: r.measured_at,
                recorded_by: r.recorded_by,
                created_at: r.created_at,
            },
        )
        .await
        .map(drop)
    }

    /// The patient's results, newest measurement first, at most `limit`, optionally of one code.
    pub async fn list<C: Executor>(
        db: &C,
        patient_id: Uuid,
        code: Option<LabCode>,
        limit: u64,
    ) -> StoreResult<Vec<LabResult>> {
        let mut q = Entity::find().filter(Column::PatientId.eq(patient_id));
        if let Some(code) = code {
            q = q.filter(Column::Code.eq(code.as_str()));
        }
        q.order_by_desc(Column::MeasuredAt)
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(db)
            .await?
            .iter()
            .map(to_domain)
            .collect()
    }

    /// The most recent measurement of `code` taken at or before `at`, for each of these
    /// patients that has one.
    pub async fn latest_of<C: Executor>(
        db: &C,
        patient_ids: &[Uuid],
        code: LabCode,
        at: DateTime<Utc>,
    ) -> StoreResult<std::collections::HashMap<Uuid, (DateTime<Utc>, f64)>> {
        let mut latest = std::collections::HashMap::new();
        if patient_ids.is_empty() {
            return Ok(latest);
        }
        let backend = db.get_database_backend();
        let marks = super::bulk::marks(backend, 1, patient_ids.len() + 2);
        let n = patient_ids.len();
        let mut values: Vec<sea_orm::Value> = patient_ids.iter().map(|id| (*id).into()).collect();
        values.push(code.as_str().into());
        values.push(at.into());
        let packed: Vec<(Uuid, String, f64)> = super::bulk::packed(
            db,
            super::bulk::PackedRow {
                sqlite: "lower(hex(patient_id)), measured_at, value",
                postgres: "patient_id, measured_at, value",
            },
            &format!(
                "FROM lab_result WHERE patient_id IN ({}) AND code = {} AND measured_at <= {}",
                marks[..n].join(", "),
                marks[n],
                marks[n + 1]
            ),
            values,
        )
        .await?;
        let mut rows = packed
            .into_iter()
            .map(|(patient, measured_at, value)| {
                Ok((patient, super::stored_time(&measured_at)?, value))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        // Newest first per patient: the first seen is the latest.
        rows.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        for (patient, measured_at, value) in rows {
            latest.entry(patient).or_insert((measured_at, value));
        }
        Ok(latest)
    }

    /// The most recent measurement of `code` taken at or before `at`.
    pub async fn latest<C: Executor>(
        db: &C,
        patient_id: Uuid,
        code: LabCode,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<(DateTime<Utc>, f64)>> {
        let rows = Entity::find()
            .select_only()
            .column(Column::MeasuredAt)
            .column(Column::Value)
            .filter(Column::PatientId.eq(patient_id))
            .filter(Column::Code.eq(code.as_str()))
            .filter(Column::MeasuredAt.lte(at))
            .order_by_desc(Column::MeasuredAt)
            .limit(1)
            .into_tuple::<(DateTime<Utc>, f64)>()
            .all(db)
            .await?;
        Ok(rows.first().copied())
    }
}

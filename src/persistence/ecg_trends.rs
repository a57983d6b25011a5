//! Holter trend points in `ecg_trend_point`: appended per upload (a point already stored is
//! skipped, so a file uploaded twice adds nothing) and read by patient, trend and time.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::bulk;
use super::entities::ecg_trend_point::{self, Column, Entity};
use super::repository::Repository;
use super::{Executor, StoreResult};
use crate::domain::holter::{StoredTrendPoint, TrendImport};

pub struct EcgTrendRepository;

impl Repository for EcgTrendRepository {
    type Entity = Entity;
    type Model = ecg_trend_point::Model;
}

/// The columns of `ecg_trend_point` in the order `insert` writes them.
const COLUMNS: [&str; 12] = [
    "patient_id",
    "trend_type",
    "at",
    "units",
    "label",
    "date_time_hl7",
    "min_value",
    "avg_value",
    "max_value",
    "valid",
    "uploaded_by",
    "created_at",
];

/// Which points to read.
#[derive(Debug, Clone, Default)]
pub struct TrendFilter {
    /// Only these trends; empty means every trend.
    pub trend_types: Vec<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

fn to_domain(row: ecg_trend_point::Model) -> StoredTrendPoint {
    StoredTrendPoint {
        trend_type: row.trend_type,
        units: row.units,
        label: row.label,
        date_time_hl7: row.date_time_hl7,
        at: row.at,
        min_value: row.min_value,
        avg_value: row.avg_value,
        max_value: row.max_value,
        valid: row.valid,
    }
}

impl EcgTrendRepository {
    /// Stores every point of `import` for the patient, skipping points already stored; returns
    /// how many rows were added.
    pub async fn insert<C: Executor>(
        db: &C,
        patient_id: Uuid,
        import: &TrendImport,
        uploaded_by: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let rows = import
            .points
            .iter()
            .map(|p| {
                let trend = &import.trends[p.trend];
                vec![
                    patient_id.into(),
                    trend.trend_type.clone().into(),
                    p.at.into(),
                    trend.units.clone().into(),
                    trend.label.clone().into(),
                    p.date_time_hl7.clone().into(),
                    p.min_value.into(),
                    p.avg_value.into(),
                    p.max_value.into(),
                    p.valid.into(),
                    uploaded_by.into(),
                    now.into(),
                ]
            })
            .collect();
        bulk::append_values_skipping_duplicates(db, "ecg_trend_point", &COLUMNS, rows).await
    }

    /// The patient's points in the filter, by trend then time, at most `limit`.
    pub async fn points<C: Executor>(
        db: &C,
        patient_id: Uuid,
        filter: &TrendFilter,
        limit: u64,
    ) -> StoreResult<Vec<StoredTrendPoint>> {
        let mut q = Entity::find().filter(Column::PatientId.eq(patient_id));
        if !filter.trend_types.is_empty() {
            q = q.filter(Column::TrendType.is_in(filter.trend_types.iter().map(String::as_str)));
        }
        if let Some(from) = filter.from {
            q = q.filter(Column::At.gte(from));
        }
        if let Some(to) = filter.to {
            q = q.filter(Column::At.lt(to));
        }
        Ok(q.order_by_asc(Column::TrendType)
            .order_by_asc(Column::At)
            .limit(limit)
            .all(db)
            .await?
            .into_iter()
            .map(to_domain)
            .collect())
    }
}

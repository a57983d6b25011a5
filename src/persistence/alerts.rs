//! Alerts in `alert`. At most one unresolved alert of a kind per patient is enforced by a partial
//! unique index; writers also hold the patient's row lock, so they never trip over it.

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::entities::alert::{self, Column, Entity};
use super::entities::patient;
use super::repository::{Repository, time_uuid_key, time_uuid_page};
use super::{Executor, StoreResult, stored};
use crate::domain::alert::{Alert, AlertKind, AlertStatus, Severity};
use crate::domain::page::{Page, PageRequest};

pub struct AlertRepository;

impl Repository for AlertRepository {
    type Entity = Entity;
    type Model = alert::Model;
}

/// Filters of the alert list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub ward: Option<String>,
    pub patient_id: Option<Uuid>,
    pub severity: Option<Severity>,
}

fn to_row(a: &Alert) -> alert::Model {
    alert::Model {
        id: a.id,
        patient_id: a.patient_id,
        kind: a.kind.as_str().to_owned(),
        severity: a.severity.as_str().to_owned(),
        status: a.status.as_str().to_owned(),
        detail: a.detail.clone(),
        vital_signs_id: a.vital_signs_id,
        raised_at: a.raised_at,
        acknowledged_at: a.acknowledged.map(|(at, _)| at),
        acknowledged_by: a.acknowledged.map(|(_, by)| by),
        resolved_at: a.resolved.map(|(at, _)| at),
        resolved_by: a.resolved.map(|(_, by)| by),
        version: a.version,
    }
}

fn to_domain(row: &alert::Model) -> StoreResult<Alert> {
    Ok(Alert {
        id: row.id,
        patient_id: row.patient_id,
        kind: stored("kind", row.kind.parse())?,
        severity: stored("severity", row.severity.parse())?,
        status: stored("status", row.status.parse())?,
        detail: row.detail.clone(),
        vital_signs_id: row.vital_signs_id,
        raised_at: row.raised_at,
        acknowledged: row.acknowledged_at.zip(row.acknowledged_by),
        resolved: row.resolved_at.zip(row.resolved_by),
        version: row.version,
    })
}

fn cursor_key(row: &alert::Model) -> String {
    time_uuid_key(row.raised_at, row.id)
}

impl AlertRepository {
    pub async fn insert<C: Executor>(db: &C, a: &Alert) -> StoreResult<()> {
        Self::insert_row(db, to_row(a)).await.map(drop)
    }

    pub async fn find<C: Executor>(db: &C, id: Uuid) -> StoreResult<Option<Alert>> {
        Self::find_row(db, id)
            .await?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    /// These alerts, in no particular order (missing ids are left out).
    pub async fn find_many<C: Executor>(db: &C, ids: &[Uuid]) -> StoreResult<Vec<Alert>> {
        Self::find_rows_in(db, Column::Id, ids)
            .await?
            .iter()
            .map(to_domain)
            .collect()
    }

    /// The kinds of the open or acknowledged alerts of these patients.
    pub async fn unresolved_kinds_of<C: Executor>(
        db: &C,
        patient_ids: &[Uuid],
    ) -> StoreResult<Vec<(Uuid, AlertKind)>> {
        let rows: Vec<(Uuid, String)> = super::bulk::packed_in(
            db,
            super::bulk::PackedRow {
                sqlite: "lower(hex(patient_id)), kind",
                postgres: "patient_id, kind",
            },
            "alert",
            "patient_id",
            patient_ids,
            "AND status <> 'resolved'",
        )
        .await?;
        rows.into_iter()
            .map(|(p, k)| Ok((p, stored("kind", k.parse())?)))
            .collect()
    }

    /// Inserts alerts in one statement.
    pub async fn insert_many<C: Executor>(db: &C, alerts: &[Alert]) -> StoreResult<()> {
        use sea_orm::IntoActiveModel;
        for chunk in alerts.chunks(500) {
            Entity::insert_many(chunk.iter().map(|a| to_row(a).into_active_model()))
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }

    /// The open or acknowledged alerts of these patients.
    pub async fn unresolved_of<C: Executor>(
        db: &C,
        patient_ids: &[Uuid],
    ) -> StoreResult<Vec<Alert>> {
        if patient_ids.is_empty() {
            return Ok(Vec::new());
        }
        Entity::find()
            .filter(Column::PatientId.is_in(patient_ids.iter().copied()))
            .filter(Column::Status.ne("resolved"))
            .all(db)
            .await?
            .iter()
            .map(to_domain)
            .collect()
    }

    /// Writes the alert's new status if it is still at `expected_version`.
    pub async fn update<C: Executor>(db: &C, a: &Alert, expected_version: i32) -> StoreResult<()> {
        let mut row = to_row(a);
        row.version = expected_version + 1;
        Self::update_row_where(
            db,
            row,
            Condition::all()
                .add(Column::Id.eq(a.id))
                .add(Column::Version.eq(expected_version))
                .into(),
        )
        .await
        .map(drop)
    }

    /// Alerts, newest first, one page.
    pub async fn list<C: Executor>(
        db: &C,
        filter: &AlertFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Alert>> {
        let mut c = Condition::all();
        if let Some(s) = filter.status {
            c = c.add(Column::Status.eq(s.as_str()));
        }
        if let Some(p) = filter.patient_id {
            c = c.add(Column::PatientId.eq(p));
        }
        if let Some(s) = filter.severity {
            c = c.add(Column::Severity.eq(s.as_str()));
        }
        // Only alerts of live patients: a deleted patient leaves every read. The ward is the
        // patient's current ward, so a transfer moves the alerts with them.
        {
            use sea_orm::sea_query::Query;
            let mut patients = Query::select()
                .column(patient::Column::Id)
                .from(patient::Entity)
                .and_where(patient::Column::DeletedAt.is_null())
                .to_owned();
            if let Some(ward) = &filter.ward {
                patients.and_where(patient::Column::Ward.eq(ward.as_str()));
            }
            c = c.add(Column::PatientId.in_subquery(patients));
        }
        time_uuid_page(
            db,
            Entity::find().filter(c),
            (Column::RaisedAt, Column::Id),
            page,
            cursor_key,
            to_domain,
        )
        .await
    }
}

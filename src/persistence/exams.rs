//! Exams in `exam`. Every lifecycle step is a conditional update on the status and version
//! read, so of two concurrent transitions exactly one changes the row.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::entities::exam::{self, Column, Entity};
use super::entities::patient;
use super::repository::{Repository, time_uuid_key, time_uuid_page};
use super::{Executor, StoreError, StoreResult, stored};
use crate::domain::exam::{
    Exam, ExamResult, ExamStatus, ExamTypeCode, ResultStatus, Revocation, Stamp,
};
use crate::domain::page::{Page, PageRequest};

pub struct ExamRepository;

impl Repository for ExamRepository {
    type Entity = Entity;
    type Model = exam::Model;
}

/// Filters of the exam list.
#[derive(Debug, Clone, Default)]
pub struct ExamFilter {
    pub patient_id: Option<Uuid>,
    pub mrn: Option<String>,
    pub status: Option<ExamStatus>,
    pub exam_type: Option<ExamTypeCode>,
    /// Ordered at or after.
    pub from: Option<DateTime<Utc>>,
    /// Ordered before.
    pub to: Option<DateTime<Utc>>,
}

fn to_row(e: &Exam) -> StoreResult<exam::Model> {
    let values = match &e.result {
        Some(r) => Some(
            serde_json::to_string(&r.values).map_err(|err| StoreError::Corrupt(err.to_string()))?,
        ),
        None => None,
    };
    Ok(exam::Model {
        id: e.id,
        patient_id: e.patient_id,
        exam_type: e.exam_type.value(),
        status: e.status.as_str().to_owned(),
        ordered_by: e.ordered.by,
        ordered_at: e.ordered.at,
        started_by: e.started.map(|s| s.by),
        started_at: e.started.map(|s| s.at),
        token_id: e.token_id,
        finished_by: e.finished_by,
        finished_at: e.finished_at,
        revoked_by: e.revoked.as_ref().map(|r| r.by),
        revoked_at: e.revoked.as_ref().map(|r| r.at),
        revoke_reason: e.revoked.as_ref().map(|r| r.reason.clone()),
        result_status: e.result.as_ref().map(|r| r.status.as_str().to_owned()),
        result_summary: e.result.as_ref().map(|r| r.summary.clone()),
        result_values: values,
        result_digest: e.result_digest.clone(),
        version: e.version,
        report_key: e.report_key.clone(),
    })
}

fn to_domain(row: &exam::Model) -> StoreResult<Exam> {
    let result = match (&row.result_status, &row.result_summary) {
        (Some(status), Some(summary)) => {
            let values: BTreeMap<String, f64> = match &row.result_values {
                Some(v) => stored(
                    "result_values",
                    serde_json::from_str(v).map_err(|e| e.to_string()),
                )?,
                None => BTreeMap::new(),
            };
            Some(ExamResult {
                status: stored("result_status", status.parse::<ResultStatus>())?,
                summary: summary.clone(),
                values,
            })
        }
        _ => None,
    };
    let revoked = match (row.revoked_at, row.revoked_by, &row.revoke_reason) {
        (Some(at), Some(by), Some(reason)) => Some(Revocation {
            at,
            by,
            reason: reason.clone(),
        }),
        _ => None,
    };
    Ok(Exam {
        id: row.id,
        patient_id: row.patient_id,
        exam_type: stored("exam_type", ExamTypeCode::parse(i64::from(row.exam_type)))?,
        status: stored("status", row.status.parse())?,
        ordered: Stamp {
            at: row.ordered_at,
            by: row.ordered_by,
        },
        started: row
            .started_at
            .zip(row.started_by)
            .map(|(at, by)| Stamp { at, by }),
        token_id: row.token_id,
        finished_at: row.finished_at,
        finished_by: row.finished_by,
        revoked,
        result,
        result_digest: row.result_digest.clone(),
        report_key: row.report_key.clone(),
        version: row.version,
    })
}

fn cursor_key(row: &exam::Model) -> String {
    time_uuid_key(row.ordered_at, row.id)
}

impl ExamRepository {
    pub async fn insert<C: Executor>(db: &C, e: &Exam) -> StoreResult<()> {
        Self::insert_row(db, to_row(e)?).await.map(drop)
    }

    pub async fn find<C: Executor>(db: &C, id: Uuid) -> StoreResult<Option<Exam>> {
        Self::find_row(db, id)
            .await?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    /// The exam as an opaque text, to answer a replayed order exactly as the first time.
    pub fn snapshot(e: &Exam) -> StoreResult<String> {
        serde_json::to_string(&to_row(e)?).map_err(|err| StoreError::Corrupt(err.to_string()))
    }

    pub fn from_snapshot(snapshot: &str) -> StoreResult<Exam> {
        let row: exam::Model = serde_json::from_str(snapshot)
            .map_err(|e| StoreError::Corrupt(format!("snapshot: {e}")))?;
        to_domain(&row)
    }

    /// Writes `next` only if the row is still in `from`'s status and version; `VersionMismatch`
    /// when another transition got there first.
    pub async fn transition<C: Executor>(db: &C, from: &Exam, next: &Exam) -> StoreResult<()> {
        Self::update_row_where(
            db,
            to_row(next)?,
            Condition::all()
                .add(Column::Id.eq(from.id))
                .add(Column::Status.eq(from.status.as_str()))
                .add(Column::Version.eq(from.version))
                .into(),
        )
        .await
        .map(drop)
    }

    /// Exams of live patients, newest order first, one page.
    pub async fn list<C: Executor>(
        db: &C,
        filter: &ExamFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Exam>> {
        use sea_orm::sea_query::Query;
        let mut c = Condition::all();
        if let Some(p) = filter.patient_id {
            c = c.add(Column::PatientId.eq(p));
        }
        if let Some(s) = filter.status {
            c = c.add(Column::Status.eq(s.as_str()));
        }
        if let Some(t) = filter.exam_type {
            c = c.add(Column::ExamType.eq(t.value()));
        }
        if let Some(from) = filter.from {
            c = c.add(Column::OrderedAt.gte(from));
        }
        if let Some(to) = filter.to {
            c = c.add(Column::OrderedAt.lt(to));
        }
        let mut patients = Query::select()
            .column(patient::Column::Id)
            .from(patient::Entity)
            .and_where(patient::Column::DeletedAt.is_null())
            .to_owned();
        if let Some(mrn) = &filter.mrn {
            patients.and_where(patient::Column::Mrn.eq(mrn.as_str()));
        }
        c = c.add(Column::PatientId.in_subquery(patients));
        time_uuid_page(
            db,
            Entity::find().filter(c),
            (Column::OrderedAt, Column::Id),
            page,
            cursor_key,
            to_domain,
        )
        .await
    }
}

//! Observation sets in `vital_signs` and the overview's read model in `observation_summary`.
//!
//! The NEWS2 breakdown is recomputed from the stored values and the stored scale on every read
//! (the rules are deterministic); the total, risk and flags are stored so that lists can filter
//! on them and the overview can read them without scoring.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::bulk;
use super::entities::observation_summary;
use super::entities::vital_signs::{self, Column, Entity};
use super::repository::{Repository, before_time_uuid, finish_page, time_uuid_key};
use super::{Executor, StoreError, StoreResult, stored, stored_time};
use crate::domain::news2::{ClinicalRisk, News2Score};
use crate::domain::observation::{ErrorReason, ObservationNote, RecordStatus, VitalSignsRecord};
use crate::domain::page::{Page, PageRequest};
use crate::domain::vitals::{Flag, NormalRange, RawVitalSigns, Spo2Scale, VitalSigns};
use crate::domain::ward::ObservationSummary;

pub struct VitalSignsRepository;

impl Repository for VitalSignsRepository {
    type Entity = Entity;
    type Model = vital_signs::Model;
}

/// Filters of a patient's chart.
#[derive(Debug, Clone, Default)]
pub struct VitalSignsFilter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub flagged_only: bool,
    /// Also list records entered in error (they are hidden by default).
    pub include_entered_in_error: bool,
}

/// A flag as stored in the `flags` JSON column.
#[derive(Serialize, Deserialize)]
struct StoredFlag {
    parameter: String,
    level: String,
    value: f64,
    low: f64,
    high: f64,
}

/// Overview lines per upsert statement: 9 parameters each stays under SQLite's 32,766.
const SUMMARIES_PER_UPSERT: usize = 2000;

/// The columns of `vital_signs` in `value_row`'s order.
const VITAL_SIGNS_COLUMNS: [&str; 27] = [
    "id",
    "patient_id",
    "recorded_at",
    "recorded_by",
    "heart_rate",
    "systolic_bp",
    "diastolic_bp",
    "respiratory_rate",
    "temperature_c",
    "spo2",
    "on_oxygen",
    "consciousness",
    "pain_score",
    "weight_kg",
    "note",
    "spo2_scale",
    "news2_score",
    "news2_risk",
    "news2_complete",
    "flagged",
    "flags",
    "status",
    "error_reason",
    "error_marked_by",
    "error_marked_at",
    "replaces",
    "created_at",
];

/// SQL for "the set has a NEWS2 Chart 1 parameter" (`News2Assessment::has_parameters`): only
/// such sets are the patient's NEWS2 observations.
const HAS_NEWS2_PARAMETER: &str = "(respiratory_rate IS NOT NULL OR spo2 IS NOT NULL \
     OR on_oxygen IS NOT NULL OR systolic_bp IS NOT NULL OR heart_rate IS NOT NULL \
     OR consciousness IS NOT NULL OR temperature_c IS NOT NULL)";

fn value_row(m: vital_signs::Model) -> Vec<sea_orm::Value> {
    vec![
        m.id.into(),
        m.patient_id.into(),
        m.recorded_at.into(),
        m.recorded_by.into(),
        m.heart_rate.into(),
        m.systolic_bp.into(),
        m.diastolic_bp.into(),
        m.respiratory_rate.into(),
        m.temperature_c.into(),
        m.spo2.into(),
        m.on_oxygen.into(),
        m.consciousness.into(),
        m.pain_score.into(),
        m.weight_kg.into(),
        m.note.into(),
        m.spo2_scale.into(),
        m.news2_score.into(),
        m.news2_risk.into(),
        m.news2_complete.into(),
        m.flagged.into(),
        m.flags.into(),
        m.status.into(),
        m.error_reason.into(),
        m.error_marked_by.into(),
        m.error_marked_at.into(),
        m.replaces.into(),
        m.created_at.into(),
    ]
}

fn to_row(r: &VitalSignsRecord) -> StoreResult<vital_signs::Model> {
    let v = &r.vitals;
    let flags: Vec<StoredFlag> = r
        .flags
        .iter()
        .map(|f| StoredFlag {
            parameter: f.parameter.as_str().to_owned(),
            level: f.level.as_str().to_owned(),
            value: f.value,
            low: f.range.low,
            high: f.range.high,
        })
        .collect();
    let (error_reason, error_marked_by, error_marked_at) = match &r.status {
        RecordStatus::Final => (None, None, None),
        RecordStatus::EnteredInError { reason, by, at } => {
            (Some(reason.as_str().to_owned()), Some(*by), Some(*at))
        }
    };
    Ok(vital_signs::Model {
        id: r.id,
        patient_id: r.patient_id,
        recorded_at: r.recorded_at,
        recorded_by: r.recorded_by,
        heart_rate: v.heart_rate(),
        systolic_bp: v.systolic_bp(),
        diastolic_bp: v.diastolic_bp(),
        respiratory_rate: v.respiratory_rate(),
        temperature_c: v.temperature_c(),
        spo2: v.spo2(),
        on_oxygen: v.on_oxygen(),
        consciousness: v.consciousness().map(|c| c.as_str().to_owned()),
        pain_score: v.pain_score().map(i16::from),
        weight_kg: v.weight_kg(),
        note: r.note.as_ref().map(|n| n.as_str().to_owned()),
        spo2_scale: i16::from(r.spo2_scale.as_u8()),
        news2_score: i16::from(r.news2.score),
        news2_risk: r.news2.risk.as_str().to_owned(),
        news2_complete: r.news2.complete,
        flagged: r.is_flagged(),
        flags: serde_json::to_string(&flags)
            .map_err(|e| StoreError::Corrupt(format!("flags: {e}")))?,
        status: r.status.as_str().to_owned(),
        error_reason,
        error_marked_by,
        error_marked_at,
        replaces: r.replaces,
        created_at: r.created_at,
    })
}

fn to_domain(row: &vital_signs::Model) -> StoreResult<VitalSignsRecord> {
    let vitals = VitalSigns::parse(RawVitalSigns {
        heart_rate: row.heart_rate,
        systolic_bp: row.systolic_bp,
        diastolic_bp: row.diastolic_bp,
        respiratory_rate: row.respiratory_rate,
        temperature_c: row.temperature_c,
        spo2: row.spo2,
        pain_score: row.pain_score.map(f64::from),
        weight_kg: row.weight_kg,
        on_oxygen: row.on_oxygen,
        consciousness: row.consciousness.clone(),
    })
    .map_err(|e| StoreError::Corrupt(format!("vital_signs {}: {e}", row.id)))?;
    let spo2_scale = stored(
        "spo2_scale",
        u8::try_from(row.spo2_scale)
            .ok()
            .and_then(|v| Spo2Scale::try_from(v).ok())
            .ok_or_else(|| format!("{} is not a scale", row.spo2_scale)),
    )?;
    let news2 = News2Score::assess(&vitals, spo2_scale);
    let stored_flags: Vec<StoredFlag> =
        serde_json::from_str(&row.flags).map_err(|e| StoreError::Corrupt(format!("flags: {e}")))?;
    let flags = stored_flags
        .into_iter()
        .map(|f| {
            Ok(Flag {
                parameter: stored("flags.parameter", f.parameter.parse())?,
                level: stored("flags.level", f.level.parse())?,
                range: NormalRange {
                    low: f.low,
                    high: f.high,
                },
                value: f.value,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let status = match row.status.as_str() {
        "final" => RecordStatus::Final,
        "entered_in_error" => RecordStatus::EnteredInError {
            reason: stored(
                "error_reason",
                ErrorReason::parse(row.error_reason.as_deref().unwrap_or_default()),
            )?,
            by: row
                .error_marked_by
                .ok_or_else(|| StoreError::Corrupt("error_marked_by missing".into()))?,
            at: row
                .error_marked_at
                .ok_or_else(|| StoreError::Corrupt("error_marked_at missing".into()))?,
        },
        other => return Err(StoreError::Corrupt(format!("status {other}"))),
    };
    Ok(VitalSignsRecord {
        id: row.id,
        patient_id: row.patient_id,
        recorded_at: row.recorded_at,
        recorded_by: row.recorded_by,
        note: row
            .note
            .as_deref()
            .map(|n| stored("note", ObservationNote::parse(n)))
            .transpose()?,
        vitals,
        spo2_scale,
        news2,
        flags,
        status,
        replaces: row.replaces,
        created_at: row.created_at,
    })
}

/// The cursor key of a record: its time in microseconds and its id.
fn cursor_key(row: &vital_signs::Model) -> String {
    time_uuid_key(row.recorded_at, row.id)
}

fn summary_to_domain(row: &observation_summary::Model) -> StoreResult<ObservationSummary> {
    Ok(ObservationSummary {
        patient_id: row.patient_id,
        vital_signs_id: row.vital_signs_id,
        recorded_at: row.recorded_at,
        news2_score: stored(
            "news2_score",
            u8::try_from(row.news2_score).map_err(|e| e.to_string()),
        )?,
        risk: stored("news2_risk", row.news2_risk.parse::<ClinicalRisk>())?,
        complete: row.news2_complete,
        any_single_red: row.any_single_red,
        next_due_at: row.next_due_at,
    })
}

impl VitalSignsRepository {
    /// Inserts records with multi-row statements (see `bulk::append_values`).
    pub async fn insert_many<C: Executor>(db: &C, records: &[VitalSignsRecord]) -> StoreResult<()> {
        let rows = records
            .iter()
            .map(|r| to_row(r).map(value_row))
            .collect::<StoreResult<Vec<_>>>()?;
        bulk::append_values(db, "vital_signs", &VITAL_SIGNS_COLUMNS, rows).await
    }

    pub async fn find<C: Executor>(db: &C, id: Uuid) -> StoreResult<Option<VitalSignsRecord>> {
        Self::find_row(db, id)
            .await?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    /// These sets, in no particular order (missing ids are left out).
    pub async fn find_many<C: Executor>(
        db: &C,
        ids: &[Uuid],
    ) -> StoreResult<Vec<VitalSignsRecord>> {
        Self::find_rows_in(db, Column::Id, ids)
            .await?
            .iter()
            .map(to_domain)
            .collect()
    }

    /// A patient's chart, newest first (time, then id), one page.
    pub async fn list<C: Executor>(
        db: &C,
        patient_id: Uuid,
        filter: &VitalSignsFilter,
        page: PageRequest,
    ) -> StoreResult<Page<VitalSignsRecord>> {
        let mut c = Condition::all().add(Column::PatientId.eq(patient_id));
        if let Some(from) = filter.from {
            c = c.add(Column::RecordedAt.gte(from));
        }
        if let Some(to) = filter.to {
            c = c.add(Column::RecordedAt.lt(to));
        }
        if filter.flagged_only {
            c = c.add(Column::Flagged.eq(true));
        }
        if !filter.include_entered_in_error {
            c = c.add(Column::Status.eq("final"));
        }
        let total = match page.offset {
            Some(_) => {
                use sea_orm::PaginatorTrait;
                Some(Entity::find().filter(c.clone()).count(db).await?)
            }
            None => None,
        };
        if let Some(key) = &page.after {
            c = c.add(before_time_uuid(key, Column::RecordedAt, Column::Id)?);
        }
        let rows = Entity::find()
            .filter(c)
            .order_by_desc(Column::RecordedAt)
            .order_by_desc(Column::Id)
            .offset(page.offset)
            .limit(page.limit + 1)
            .all(db)
            .await?;
        finish_page(rows, total, page, cursor_key, to_domain)
    }

    /// The patient's standing records taken at or after `from`, oldest first.
    pub async fn since<C: Executor>(
        db: &C,
        patient_id: Uuid,
        from: DateTime<Utc>,
    ) -> StoreResult<Vec<VitalSignsRecord>> {
        Entity::find()
            .filter(Column::PatientId.eq(patient_id))
            .filter(Column::Status.eq("final"))
            .filter(Column::RecordedAt.gte(from))
            .order_by_asc(Column::RecordedAt)
            .order_by_asc(Column::Id)
            .all(db)
            .await?
            .iter()
            .map(to_domain)
            .collect()
    }

    /// The patient's latest standing NEWS2 observation (a record with a Chart 1 parameter), if
    /// any.
    pub async fn latest<C: Executor>(
        db: &C,
        patient_id: Uuid,
    ) -> StoreResult<Option<VitalSignsRecord>> {
        Entity::find()
            .filter(Column::PatientId.eq(patient_id))
            .filter(Column::Status.eq("final"))
            .filter(Expr::cust(HAS_NEWS2_PARAMETER))
            .order_by_desc(Column::RecordedAt)
            .order_by_desc(Column::Id)
            .limit(1)
            .all(db)
            .await?
            .first()
            .map(to_domain)
            .transpose()
    }

    /// For each of these patients, the NEWS2 total of the standing observation (a record with a
    /// Chart 1 parameter) taken last before `at` (patients with none are left out), in one
    /// statement: a correlated subquery per patient walks the chart index backwards from `at`
    /// and stops at the first such row.
    pub async fn scores_before<C: Executor>(
        db: &C,
        patient_ids: &[Uuid],
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<(Uuid, u8)>> {
        use sea_orm::FromQueryResult;

        #[derive(Debug, FromQueryResult)]
        struct Previous {
            id: Uuid,
            score: Option<i16>,
        }
        if patient_ids.is_empty() {
            return Ok(Vec::new());
        }
        let backend = db.get_database_backend();
        let pg = backend == sea_orm::DbBackend::Postgres;
        let mark = |n: usize| if pg { format!("${n}") } else { "?".to_owned() };
        let ids: Vec<String> = (2..=patient_ids.len() + 1).map(mark).collect();
        let sql = format!(
            "SELECT p.id AS id, (SELECT v.news2_score FROM vital_signs v WHERE v.patient_id = p.id \
             AND v.status = 'final' AND {HAS_NEWS2_PARAMETER} AND v.recorded_at < {} \
             ORDER BY v.recorded_at DESC, v.id DESC LIMIT 1) AS score FROM patient p \
             WHERE p.id IN ({})",
            mark(1),
            ids.join(", ")
        );
        let mut values: Vec<sea_orm::Value> = vec![at.into()];
        values.extend(patient_ids.iter().map(|id| sea_orm::Value::from(*id)));
        Previous::find_by_statement(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| p.score.map(|s| (p.id, s)))
        .map(|(id, s)| {
            Ok((
                id,
                stored("news2_score", u8::try_from(s).map_err(|e| e.to_string()))?,
            ))
        })
        .collect()
    }

    /// Marks a standing record entered in error; `VersionMismatch` when it no longer stands.
    pub async fn mark_entered_in_error<C: Executor>(
        db: &C,
        id: Uuid,
        reason: &ErrorReason,
        by: Uuid,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = Entity::update_many()
            .set(vital_signs::ActiveModel {
                status: Set("entered_in_error".to_owned()),
                error_reason: Set(Some(reason.as_str().to_owned())),
                error_marked_by: Set(Some(by)),
                error_marked_at: Set(Some(at)),
                ..Default::default()
            })
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq("final"))
            .exec(db)
            .await?;
        match result.rows_affected {
            0 => Err(StoreError::VersionMismatch),
            _ => Ok(()),
        }
    }

    /// Rewrites the patient's overview line from its latest standing record (or removes it).
    pub async fn refresh_summary<C: Executor>(
        db: &C,
        patient_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ObservationSummary>> {
        use observation_summary::{Column as S, Entity as Summary};
        let Some(latest) = Self::latest(db, patient_id).await? else {
            Summary::delete_many()
                .filter(S::PatientId.eq(patient_id))
                .exec(db)
                .await?;
            return Ok(None);
        };
        let summary = ObservationSummary {
            patient_id,
            vital_signs_id: latest.id,
            recorded_at: latest.recorded_at,
            news2_score: latest.news2.score,
            risk: latest.news2.risk,
            complete: latest.news2.complete,
            any_single_red: latest.news2.any_single_red,
            next_due_at: crate::domain::vitals::next_due(
                latest.recorded_at,
                &latest.news2.monitoring,
            ),
        };
        // Unconditionally: after an entry in error the latest standing set may be older.
        Self::upsert_summaries(db, std::slice::from_ref(&summary), now, false).await?;
        Ok(Some(summary))
    }

    /// The standing NEWS2 observations (sets with a Chart 1 parameter) of these patients taken
    /// in `[from, to]`: patient, time, NEWS2 score and temperature, by patient then time.
    ///
    /// The database packs the rows into one JSON array (`json_group_array` / `json_agg`): a
    /// densely observed ward puts tens of thousands of sets in the window, and handed over one
    /// by one each row would cost a trip between the driver's thread and ours.
    pub async fn recent_points<C: Executor>(
        db: &C,
        patient_ids: &[Uuid],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<(Uuid, DateTime<Utc>, i16, Option<f64>)>> {
        if patient_ids.is_empty() {
            return Ok(Vec::new());
        }
        let backend = db.get_database_backend();
        let n = patient_ids.len();
        let marks = bulk::marks(backend, 1, n + 2);
        let sql = format!(
            "FROM vital_signs WHERE patient_id IN ({}) AND status = 'final' \
             AND {HAS_NEWS2_PARAMETER} AND recorded_at >= {} AND recorded_at <= {}",
            marks[..n].join(", "),
            marks[n],
            marks[n + 1]
        );
        let mut values: Vec<sea_orm::Value> = patient_ids.iter().map(|id| (*id).into()).collect();
        values.push(from.into());
        values.push(to.into());
        let rows: Vec<(Uuid, String, i16, Option<f64>)> = bulk::packed(
            db,
            bulk::PackedRow {
                sqlite: "lower(hex(patient_id)), recorded_at, news2_score, temperature_c",
                postgres: "patient_id, recorded_at, news2_score, temperature_c",
            },
            &sql,
            values,
        )
        .await?;
        let mut points = rows
            .into_iter()
            .map(|(patient, at, score, temperature)| {
                Ok((patient, stored_time(&at)?, score, temperature))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        points.sort_by_key(|(patient, at, _, _)| (*patient, *at));
        Ok(points)
    }

    /// When each of these patients' latest standing set was taken and its NEWS2 total, from
    /// the overview's read model (patients never charted are left out).
    pub async fn latest_scores<C: Executor>(
        db: &C,
        patient_ids: &[Uuid],
    ) -> StoreResult<Vec<(Uuid, DateTime<Utc>, u8)>> {
        let rows: Vec<(Uuid, String, i16)> = bulk::packed_in(
            db,
            bulk::PackedRow {
                sqlite: "lower(hex(patient_id)), recorded_at, news2_score",
                postgres: "patient_id, recorded_at, news2_score",
            },
            "observation_summary",
            "patient_id",
            patient_ids,
            "",
        )
        .await?;
        rows.into_iter()
            .map(|(patient, at, score)| {
                let score = stored(
                    "news2_score",
                    u8::try_from(score).map_err(|e| e.to_string()),
                )?;
                Ok((patient, stored_time(&at)?, score))
            })
            .collect()
    }

    /// Writes the overview lines of these patients in one statement; with `only_if_newer`, each
    /// only where it is at least as recent as the line it replaces (a set entered late never
    /// hides a newer one).
    pub async fn upsert_summaries<C: Executor>(
        db: &C,
        summaries: &[ObservationSummary],
        now: DateTime<Utc>,
        only_if_newer: bool,
    ) -> StoreResult<()> {
        use observation_summary::{Column as S, Entity as Summary};
        use sea_orm::sea_query::{Alias, ExprTrait};
        for chunk in summaries.chunks(SUMMARIES_PER_UPSERT) {
            let rows = chunk.iter().map(|s| {
                observation_summary::Model {
                    patient_id: s.patient_id,
                    vital_signs_id: s.vital_signs_id,
                    recorded_at: s.recorded_at,
                    news2_score: i16::from(s.news2_score),
                    news2_risk: s.risk.as_str().to_owned(),
                    news2_complete: s.complete,
                    any_single_red: s.any_single_red,
                    next_due_at: s.next_due_at,
                    updated_at: now,
                }
                .into_active_model()
            });
            Summary::insert_many(rows)
                .on_conflict(
                    OnConflict::column(S::PatientId)
                        .update_columns([
                            S::VitalSignsId,
                            S::RecordedAt,
                            S::News2Score,
                            S::News2Risk,
                            S::News2Complete,
                            S::AnySingleRed,
                            S::NextDueAt,
                            S::UpdatedAt,
                        ])
                        .action_and_where_option(only_if_newer.then(|| {
                            Expr::col((Summary, S::RecordedAt))
                                .lte(Expr::col((Alias::new("excluded"), S::RecordedAt)))
                        }))
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }

    /// The overview lines of these patients.
    pub async fn summaries<C: Executor>(
        db: &C,
        patient_ids: &[Uuid],
    ) -> StoreResult<Vec<ObservationSummary>> {
        use observation_summary::{Column as S, Entity as Summary};
        if patient_ids.is_empty() {
            return Ok(Vec::new());
        }
        Summary::find()
            .filter(S::PatientId.is_in(patient_ids.iter().copied()))
            .all(db)
            .await?
            .iter()
            .map(summary_to_domain)
            .collect()
    }
}

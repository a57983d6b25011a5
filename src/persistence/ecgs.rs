//! ECG recordings in `ecg` (metadata and the insights computed when stored, as JSON text) and
//! `ecg_lead` (each lead's samples as one binary value of the domain's signal codec).
//! Soft-deleted recordings are invisible to every read.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entities::ecg::{self, Column, Entity};
use super::entities::ecg_lead;
use super::repository::{Repository, before_time_uuid, finish_page, time_uuid_key};
use super::{Executor, StoreError, StoreResult, stored};
use crate::domain::ecg::{
    EcgInsights, EcgRecord, HeartRate, Hrv, LeadInsights, LeadName, LeadShape, LeadStatistics,
    Pause, Rhythm, SamplingRate, SignalQuality, decode_signal,
};
use crate::domain::page::{Page, PageRequest};

pub struct EcgRepository;

impl Repository for EcgRepository {
    type Entity = Entity;
    type Model = ecg::Model;
}

/// The insights as stored in the `insights` JSON column: the domain's figures, field for field.
#[derive(Serialize, Deserialize)]
struct StoredInsights {
    leads: Vec<StoredLeadInsights>,
    rhythm: Option<StoredRhythm>,
}

#[derive(Serialize, Deserialize)]
struct StoredLeadInsights {
    name: String,
    zero_crossings: usize,
    min: i32,
    max: i32,
    mean: f64,
    flat_line: bool,
    clipping: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredRhythm {
    lead: usize,
    r_peaks: Vec<usize>,
    rr_intervals_ms: Vec<f64>,
    /// mean, min, max.
    heart_rate_bpm: Option<(f64, f64, f64)>,
    /// SDNN, RMSSD, pNN50.
    hrv: Option<(f64, f64, f64)>,
    bradycardia: bool,
    tachycardia: bool,
    /// (at_sample, duration_ms).
    pauses: Vec<(usize, f64)>,
}

fn insights_to_json(insights: &EcgInsights) -> StoreResult<String> {
    let stored = StoredInsights {
        leads: insights
            .leads
            .iter()
            .map(|l| StoredLeadInsights {
                name: l.name.as_str().to_owned(),
                zero_crossings: l.number_of_zero_crossings,
                min: l.statistics.min,
                max: l.statistics.max,
                mean: l.statistics.mean,
                flat_line: l.quality.flat_line,
                clipping: l.quality.clipping,
            })
            .collect(),
        rhythm: insights.rhythm.as_ref().map(|r| StoredRhythm {
            lead: r.lead,
            r_peaks: r.r_peaks.clone(),
            rr_intervals_ms: r.rr_intervals_ms.clone(),
            heart_rate_bpm: r.heart_rate_bpm.map(|h| (h.mean, h.min, h.max)),
            hrv: r.hrv.map(|h| (h.sdnn_ms, h.rmssd_ms, h.pnn50)),
            bradycardia: r.bradycardia,
            tachycardia: r.tachycardia,
            pauses: r
                .pauses
                .iter()
                .map(|p| (p.at_sample, p.duration_ms))
                .collect(),
        }),
    };
    serde_json::to_string(&stored).map_err(|e| StoreError::Corrupt(format!("insights: {e}")))
}

fn insights_from_json(text: &str) -> StoreResult<EcgInsights> {
    let stored: StoredInsights =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("insights: {e}")))?;
    Ok(EcgInsights {
        leads: stored
            .leads
            .into_iter()
            .map(|l| {
                Ok(LeadInsights {
                    name: stored_name(&l.name)?,
                    number_of_zero_crossings: l.zero_crossings,
                    statistics: LeadStatistics {
                        min: l.min,
                        max: l.max,
                        mean: l.mean,
                    },
                    quality: SignalQuality {
                        flat_line: l.flat_line,
                        clipping: l.clipping,
                    },
                })
            })
            .collect::<StoreResult<Vec<_>>>()?,
        rhythm: stored.rhythm.map(|r| Rhythm {
            lead: r.lead,
            r_peaks: r.r_peaks,
            rr_intervals_ms: r.rr_intervals_ms,
            heart_rate_bpm: r
                .heart_rate_bpm
                .map(|(mean, min, max)| HeartRate { mean, min, max }),
            hrv: r.hrv.map(|(sdnn_ms, rmssd_ms, pnn50)| Hrv {
                sdnn_ms,
                rmssd_ms,
                pnn50,
            }),
            bradycardia: r.bradycardia,
            tachycardia: r.tachycardia,
            pauses: r
                .pauses
                .into_iter()
                .map(|(at_sample, duration_ms)| Pause {
                    at_sample,
                    duration_ms,
                })
                .collect(),
        }),
    })
}

fn stored_name(name: &str) -> StoreResult<LeadName> {
    stored("ecg_lead.name", LeadName::parse(name))
}

fn count(column: &str, n: usize) -> StoreResult<i32> {
    i32::try_from(n).map_err(|_| StoreError::Corrupt(format!("{column}: {n} is too large")))
}

fn to_row(r: &EcgRecord) -> StoreResult<ecg::Model> {
    Ok(ecg::Model {
        id: r.id,
        patient_id: r.patient_id,
        recorded_at: r.recorded_at,
        recorded_by: r.recorded_by,
        sampling_rate_hz: count("sampling_rate_hz", r.sampling_rate.hz() as usize)?,
        lead_count: i16::try_from(r.lead_count())
            .map_err(|_| StoreError::Corrupt("lead_count".into()))?,
        samples_per_lead: count("samples_per_lead", r.samples_per_lead())?,
        total_samples: count("total_samples", r.total_samples())?,
        insights: insights_to_json(&r.insights)?,
        created_at: r.created_at,
        deleted_at: None,
    })
}

/// The recording of an `ecg` row and its leads' rows (in position order).
fn to_domain(row: &ecg::Model, leads: &[ecg_lead::Model]) -> StoreResult<EcgRecord> {
    let sampling_rate = stored(
        "sampling_rate_hz",
        SamplingRate::parse(Some(i64::from(row.sampling_rate_hz))),
    )?;
    let leads = leads
        .iter()
        .map(|l| {
            Ok(LeadShape {
                name: stored_name(&l.name)?,
                number_of_samples: usize::try_from(l.number_of_samples)
                    .map_err(|_| StoreError::Corrupt("ecg_lead.number_of_samples".into()))?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(EcgRecord {
        id: row.id,
        patient_id: row.patient_id,
        recorded_at: row.recorded_at,
        recorded_by: row.recorded_by,
        sampling_rate,
        leads,
        insights: insights_from_json(&row.insights)?,
        created_at: row.created_at,
    })
}

fn live() -> Condition {
    Condition::all().add(Column::DeletedAt.is_null())
}

/// The lead rows of these recordings without their samples, grouped by recording, in order.
async fn lead_shapes<C: Executor>(
    db: &C,
    ids: &[Uuid],
) -> StoreResult<std::collections::HashMap<Uuid, Vec<ecg_lead::Model>>> {
    use ecg_lead::Column as L;
    let mut by_ecg: std::collections::HashMap<Uuid, Vec<ecg_lead::Model>> = Default::default();
    if ids.is_empty() {
        return Ok(by_ecg);
    }
    let rows = ecg_lead::Entity::find()
        .select_only()
        .column(L::EcgId)
        .column(L::Position)
        .column(L::Name)
        .column(L::NumberOfSamples)
        .filter(L::EcgId.is_in(ids.iter().copied()))
        .order_by_asc(L::EcgId)
        .order_by_asc(L::Position)
        .into_tuple::<(Uuid, i16, String, i32)>()
        .all(db)
        .await?;
    for (ecg_id, position, name, number_of_samples) in rows {
        by_ecg.entry(ecg_id).or_default().push(ecg_lead::Model {
            ecg_id,
            position,
            name,
            number_of_samples,
            signal: Vec::new(),
        });
    }
    Ok(by_ecg)
}

impl EcgRepository {
    /// Stores a recording and its leads' encoded samples (`signals[i]` is lead `i`'s codec
    /// output).
    pub async fn insert<C: Executor>(
        db: &C,
        record: &EcgRecord,
        signals: Vec<Vec<u8>>,
    ) -> StoreResult<()> {
        if signals.len() != record.leads.len() {
            return Err(StoreError::Corrupt(format!(
                "{} signals for {} leads",
                signals.len(),
                record.leads.len()
            )));
        }
        Self::insert_row(db, to_row(record)?).await?;
        let mut rows = Vec::with_capacity(signals.len());
        for (position, (lead, signal)) in record.leads.iter().zip(signals).enumerate() {
            rows.push(
                ecg_lead::Model {
                    ecg_id: record.id,
                    position: i16::try_from(position)
                        .map_err(|_| StoreError::Corrupt("ecg_lead.position".into()))?,
                    name: lead.name.as_str().to_owned(),
                    number_of_samples: count("number_of_samples", lead.number_of_samples)?,
                    signal,
                }
                .into_active_model(),
            );
        }
        ecg_lead::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
        Ok(())
    }

    /// The recording unless missing or deleted.
    pub async fn find<C: Executor>(db: &C, id: Uuid) -> StoreResult<Option<EcgRecord>> {
        let Some(row) = Self::find_unique_where(db, live().add(Column::Id.eq(id)).into()).await?
        else {
            return Ok(None);
        };
        let mut leads = lead_shapes(db, &[id]).await?;
        to_domain(&row, &leads.remove(&id).unwrap_or_default()).map(Some)
    }

    /// Every lead's samples of a recording, in lead order, decoded bit-exact.
    pub async fn signals<C: Executor>(db: &C, id: Uuid) -> StoreResult<Vec<Vec<i32>>> {
        use ecg_lead::Column as L;
        let rows = ecg_lead::Entity::find()
            .select_only()
            .column(L::Position)
            .column(L::Signal)
            .filter(L::EcgId.eq(id))
            .order_by_asc(L::Position)
            .into_tuple::<(i16, Vec<u8>)>()
            .all(db)
            .await?;
        rows.iter()
            .map(|(position, bytes)| {
                decode_signal(bytes)
                    .map_err(|e| StoreError::Corrupt(format!("ecg_lead {id} lead {position}: {e}")))
            })
            .collect()
    }

    /// A patient's live recordings, newest first (time, then id), one page.
    pub async fn list<C: Executor>(
        db: &C,
        patient_id: Uuid,
        page: PageRequest,
    ) -> StoreResult<Page<EcgRecord>> {
        let mut c = live().add(Column::PatientId.eq(patient_id));
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
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let leads = lead_shapes(db, &ids).await?;
        finish_page(
            rows,
            total,
            page,
            |r| time_uuid_key(r.recorded_at, r.id),
            |r| to_domain(r, leads.get(&r.id).map_or(&[], Vec::as_slice)),
        )
    }

    /// Marks a live recording deleted; `NotFound` when it is missing or already deleted.
    pub async fn soft_delete<C: Executor>(db: &C, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        let result = Entity::update_many()
            .col_expr(Column::DeletedAt, now.into())
            .filter(live().add(Column::Id.eq(id)))
            .exec(db)
            .await?;
        match result.rows_affected {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ecg::{Ecg, RawLead};

    #[test]
    fn stored_insights_read_back_equal() {
        // Complexes every 0.8 s at 500 Hz on lead II, so the rhythm has peaks, HRV and no pause.
        let beating: Vec<i64> = (0..4800)
            .map(|i| (1200 - 120 * ((i % 400) as i64 - 200).abs()).max(0) + (i % 7) as i64 - 3)
            .collect();
        let ecg = Ecg::parse(
            Some(500),
            vec![
                RawLead {
                    name: "I".to_owned(),
                    number_of_samples: None,
                    signal: vec![1, 0, -1, 0, 1, 0, 0, 1],
                },
                RawLead {
                    name: "II".to_owned(),
                    number_of_samples: None,
                    signal: beating,
                },
            ],
        )
        .unwrap();
        let insights = EcgInsights::compute(&ecg);
        assert!(insights.rhythm.as_ref().is_some_and(|r| r.hrv.is_some()));
        let text = insights_to_json(&insights).unwrap();
        assert_eq!(insights_from_json(&text).unwrap(), insights);
        assert!(insights_from_json("{}").is_err());
    }
}

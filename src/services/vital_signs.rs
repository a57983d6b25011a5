//! Vital-sign use cases: chart a set (alone, in an all-or-nothing batch, or from a CSV import),
//! correct one, read the chart and its insights. Every write scores the set, flags it, raises
//! the alerts it calls for and refreshes the ward overview, in one transaction.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::ServiceError;
use super::access::{Actor, Permit, ReadVitalSigns, RecordVitalSigns};
use super::audit::AuditLog;
use super::error::BatchItemError;
use super::vital_signs_commit::ChartQueue;
use crate::config::ClinicalRules;
use crate::domain::FieldErrors;
use crate::domain::alert::{
    Alert, AlertContext, AlertKind, AlertStatus, Neutropenia, alerts_for, describe, to_open,
};
use crate::domain::audit::{AuditAction, AuditOutcome, NewAuditEvent, ResourceType};
use crate::domain::lab::LabCode;
use crate::domain::news2::{ClinicalRisk, News2Assessment};
use crate::domain::observation::{
    CLOCK_SKEW, ErrorReason, NewObservation, RecordStatus, VitalSignsRecord, stored_precision,
};
use crate::domain::page::{Page, PageRequest};
use crate::domain::patient::{ClinicalState, PatientStatus};
use crate::domain::stream::{StreamEvent, StreamTopic};
use crate::domain::vitals::{Parameter, ParameterSummary, next_due, overdue};
use crate::domain::ward::ObservationSummary;
use crate::persistence::alerts::AlertRepository;
use crate::persistence::audit::{AuditRepository, MAX_ROWS_PER_STATEMENT};
use crate::persistence::lab_results::LabResultRepository;
use crate::persistence::patients::PatientRepository;
use crate::persistence::stream_events::StreamEventRepository;
use crate::persistence::vital_signs::{VitalSignsFilter, VitalSignsRepository};
use crate::persistence::{Database, Executor, StoreError};

/// The most sets one batch request may chart.
pub const MAX_BATCH_RECORDS: usize = 1000;

/// How far back the fever rule looks: long enough for ESMO's two hours of sustained fever.
const FEVER_LOOKBACK: Duration = Duration::hours(3);

/// A set to chart for a patient.
#[derive(Debug, Clone)]
pub struct Charting {
    pub patient_id: Uuid,
    pub observation: NewObservation,
}

/// A charted set and the alerts it raised.
#[derive(Debug, Clone)]
pub struct Charted {
    pub record: VitalSignsRecord,
    pub alerts: Vec<Alert>,
}

/// Insights of a patient's chart over a window.
#[derive(Debug, Clone)]
pub struct ChartInsights {
    pub patient_id: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub parameters: Vec<ParameterSummary>,
    pub latest_news2: Option<(DateTime<Utc>, News2Assessment)>,
    pub news2_series: Vec<(DateTime<Utc>, Uuid, u8, ClinicalRisk)>,
    pub records: usize,
    pub flagged_records: usize,
    pub next_due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
}

#[derive(Clone)]
pub struct VitalSignsService {
    db: Database,
    audit: AuditLog,
    rules: ClinicalRules,
    queue: ChartQueue,
}

fn record_event(actor: &Actor, action: AuditAction, kind: ResourceType, id: Uuid) -> NewAuditEvent {
    actor.event(action, kind, Some(id.to_string()), AuditOutcome::Success)
}

/// How far back the context of new sets is read in one query: the fever lookback, the only rule
/// that looks at more than the previous set. The previous set before that window comes from the
/// overview's read model (the patient's latest set) when it is older than the window, so a
/// densely observed patient costs only the window's rows, not hours of them.
const CONTEXT_LOOKBACK: Duration = FEVER_LOOKBACK;

/// What the registry knows about a patient's recent chart when new sets arrive.
#[derive(Default)]
struct ChartContext {
    /// Standing sets from the lookback before the earliest new set onwards: time, score,
    /// temperature. Sorted by time.
    recent: Vec<(DateTime<Utc>, u8, Option<f64>)>,
    /// The score of the standing set just before that window.
    score_before_window: Option<u8>,
    latest_anc: Option<(DateTime<Utc>, f64)>,
    unresolved: Vec<AlertKind>,
    /// When the patient's latest standing set was taken, from the overview's read model: sets
    /// after the batch's time span are not read, only whether one exists.
    latest_existing: Option<DateTime<Utc>>,
}

impl ChartContext {
    /// The contexts of every patient of a batch, in a handful of set-wide queries whatever the
    /// number of patients; only a patient with no set inside the lookback costs one more.
    async fn load_all<C: Executor>(
        db: &C,
        earliest: &BTreeMap<Uuid, DateTime<Utc>>,
        latest_new: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<HashMap<Uuid, ChartContext>, ServiceError> {
        let ids: Vec<Uuid> = earliest.keys().copied().collect();
        let Some(window_start) = earliest.values().min().map(|t| *t - CONTEXT_LOOKBACK) else {
            return Ok(HashMap::new());
        };
        let mut contexts: HashMap<Uuid, ChartContext> = ids
            .iter()
            .map(|id| (*id, ChartContext::default()))
            .collect();
        let mut latest_scores = HashMap::new();
        for (patient, at, score) in VitalSignsRepository::latest_scores(db, &ids).await? {
            if let Some(c) = contexts.get_mut(&patient) {
                c.latest_existing = Some(at);
                latest_scores.insert(patient, score);
            }
        }
        // The read model says when each patient's latest set was taken: one taken before the
        // window means nothing of that chart lies in it, and the window is not read for them.
        let charted_in_window: Vec<Uuid> = contexts
            .iter()
            .filter(|(_, c)| c.latest_existing.is_some_and(|t| t >= window_start))
            .map(|(id, _)| *id)
            .collect();
        for (patient, at, score, temperature) in
            VitalSignsRepository::recent_points(db, &charted_in_window, window_start, latest_new)
                .await?
        {
            let score = u8::try_from(score)
                .map_err(|_| ServiceError::internal(format!("stored NEWS2 {score}")))?;
            if let Some(c) = contexts.get_mut(&patient) {
                c.recent.push((at, score, temperature));
            }
        }
        // A count may be dated up to the clock skew ahead (as a set may): it is still the
        // latest one, not one to ignore until the clocks catch up.
        let mut anc =
            LabResultRepository::latest_of(db, &ids, LabCode::Anc, now + CLOCK_SKEW).await?;
        for (patient, kind) in AlertRepository::unresolved_kinds_of(db, &ids).await? {
            if let Some(c) = contexts.get_mut(&patient) {
                c.unresolved.push(kind);
            }
        }
        // Sets entered late, behind newer ones, with none of the window before them: the set
        // just before the window is looked up, for all such patients in one statement.
        let mut late = Vec::new();
        for (patient, c) in contexts.iter_mut() {
            c.latest_anc = anc.remove(patient);
            let first_new = earliest[patient];
            if !c.recent.iter().any(|(t, _, _)| *t < first_new) {
                c.score_before_window = match c.latest_existing {
                    // No standing set at all.
                    None => None,
                    // The latest set is older than the window: it is the one just before it.
                    Some(t) if t < window_start => latest_scores.get(patient).copied(),
                    Some(_) => {
                        late.push(*patient);
                        None
                    }
                };
            }
        }
        for (patient, score) in VitalSignsRepository::scores_before(db, &late, window_start).await?
        {
            if let Some(c) = contexts.get_mut(&patient) {
                c.score_before_window = Some(score);
            }
        }
        Ok(contexts)
    }

    /// The score of the standing set taken last before `at`.
    fn previous_score(&self, at: DateTime<Utc>) -> Option<u8> {
        self.recent
            .iter()
            .rev()
            .find(|(t, _, _)| *t < at)
            .map(|(_, s, _)| *s)
            // Every set in `recent` is inside the window, so none before `at` there means the
            // previous one is the last before the window.
            .or(self.score_before_window)
    }

    fn is_latest(&self, at: DateTime<Utc>) -> bool {
        self.latest_existing.is_none_or(|t| t <= at) && self.recent.iter().all(|(t, _, _)| *t <= at)
    }

    fn temperatures(&self, at: DateTime<Utc>) -> Vec<(DateTime<Utc>, f64)> {
        let from = at - FEVER_LOOKBACK;
        self.recent
            .iter()
            .filter(|(t, _, _)| (from..=at).contains(t))
            .filter_map(|(t, _, temp)| temp.map(|c| (*t, c)))
            .collect()
    }

    fn add(&mut self, record: &VitalSignsRecord) {
        let entry = (
            record.recorded_at,
            record.news2.score,
            record.vitals.temperature_c(),
        );
        let at = self.recent.partition_point(|(t, _, _)| *t <= entry.0);
        self.recent.insert(at, entry);
    }
}

impl VitalSignsService {
    pub fn new(db: Database, audit: AuditLog, rules: ClinicalRules) -> Self {
        let queue = ChartQueue::start(db.clone(), rules);
        Self {
            db,
            audit,
            rules,
            queue,
        }
    }

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    pub(crate) fn rules(&self) -> ClinicalRules {
        self.rules
    }

    /// Charts one set for the patient in the path.
    pub async fn record(
        &self,
        permit: &Permit<RecordVitalSigns>,
        charting: Charting,
    ) -> Result<Charted, ServiceError> {
        let mut charted = self
            .record_all(permit.actor(), vec![charting])
            .await
            .map_err(|e| match e {
                // A batch of one reports its only failure as the request's own.
                ServiceError::BatchRefused(mut items) if items.len() == 1 => {
                    let item = items.remove(0);
                    match item.status {
                        404 => ServiceError::NotFound("patient"),
                        409 => ServiceError::Conflict(item.reason),
                        _ => ServiceError::Invalid(item.errors),
                    }
                }
                other => other,
            })?;
        Ok(charted.remove(0))
    }

    /// Charts every set or none: refused items are all reported.
    pub async fn record_batch(
        &self,
        permit: &Permit<RecordVitalSigns>,
        chartings: Vec<Charting>,
    ) -> Result<Vec<Charted>, ServiceError> {
        if chartings.is_empty() || chartings.len() > MAX_BATCH_RECORDS {
            return Err(ServiceError::invalid(
                "records",
                &format!("must hold 1 to {MAX_BATCH_RECORDS} records"),
            ));
        }
        self.record_all(permit.actor(), chartings).await
    }

    /// Corrects a standing set: the replacement is charted and the old set marked entered in
    /// error, in one transaction. Without a replacement the set is only marked.
    pub async fn correct(
        &self,
        permit: &Permit<RecordVitalSigns>,
        id: Uuid,
        reason: ErrorReason,
        replacement: Option<NewObservation>,
    ) -> Result<(VitalSignsRecord, Option<Charted>), ServiceError> {
        let actor = permit.actor();
        let now = stored_precision(Utc::now());
        let txn = self.db.begin().await?;
        let old = VitalSignsRepository::find(&txn, id)
            .await?
            .ok_or(ServiceError::NotFound("vital signs record"))?;
        let patient = PatientRepository::lock(&txn, old.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("vital signs record"))?;
        match VitalSignsRepository::mark_entered_in_error(&txn, id, &reason, actor.user_id, now)
            .await
        {
            Err(StoreError::VersionMismatch) => {
                return Err(ServiceError::Conflict(
                    "this record was already entered in error".to_owned(),
                ));
            }
            other => other?,
        }
        // The overview line follows the standing sets at once, before any replacement is
        // judged: a replacement dated before the set it corrects must not be taken for a set
        // entered late behind it (and so raise no alert), nor leave that set as the latest.
        VitalSignsRepository::refresh_summary(&txn, patient.id, now).await?;
        let mut events = vec![{
            let mut e = record_event(actor, AuditAction::Update, ResourceType::VitalSigns, id);
            e.reason = Some("entered in error".to_owned());
            e
        }];
        let charted = match replacement {
            Some(observation) => {
                let mut charted = chart_patients(
                    &txn,
                    self.rules,
                    vec![Item {
                        index: 0,
                        request: 0,
                        actor,
                        patient: &ClinicalState::from(&patient),
                        observation,
                    }],
                    Some(id),
                    now,
                    &mut events,
                )
                .await?;
                Some(charted.remove(0))
            }
            None => None,
        };
        let feed = StreamEvent::new(StreamTopic::VitalSigns, patient.id, Some(id), now);
        StreamEventRepository::append(&txn, &[feed]).await?;
        append_events(&txn, &events).await?;
        txn.commit().await?;
        let old = VitalSignsRecord {
            status: RecordStatus::EnteredInError {
                reason,
                by: actor.user_id,
                at: now,
            },
            ..old
        };
        Ok((old, charted))
    }

    pub async fn get(
        &self,
        permit: &Permit<ReadVitalSigns>,
        id: Uuid,
    ) -> Result<VitalSignsRecord, ServiceError> {
        let record = VitalSignsRepository::find(self.db.reader(), id)
            .await?
            .ok_or(ServiceError::NotFound("vital signs record"))?;
        // A deleted patient's chart is gone from every read, as the patient is.
        PatientRepository::find(self.db.reader(), record.patient_id)
            .await?
            .ok_or(ServiceError::NotFound("vital signs record"))?;
        self.audit
            .record(record_event(
                permit.actor(),
                AuditAction::Read,
                ResourceType::VitalSigns,
                id,
            ))
            .await?;
        Ok(record)
    }

    pub async fn list(
        &self,
        permit: &Permit<ReadVitalSigns>,
        patient_id: Uuid,
        filter: &VitalSignsFilter,
        page: PageRequest,
    ) -> Result<Page<VitalSignsRecord>, ServiceError> {
        PatientRepository::find(self.db.reader(), patient_id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        let result = VitalSignsRepository::list(self.db.reader(), patient_id, filter, page).await?;
        self.audit
            .record(record_event(
                permit.actor(),
                AuditAction::List,
                ResourceType::VitalSigns,
                patient_id,
            ))
            .await?;
        Ok(result)
    }

    /// Per-parameter summaries, the NEWS2 series and when observations are next due.
    pub async fn insights(
        &self,
        permit: &Permit<ReadVitalSigns>,
        patient_id: Uuid,
        window: Duration,
    ) -> Result<ChartInsights, ServiceError> {
        let now = stored_precision(Utc::now());
        PatientRepository::find(self.db.reader(), patient_id)
            .await?
            .ok_or(ServiceError::NotFound("patient"))?;
        let from = now - window;
        let records = VitalSignsRepository::since(self.db.reader(), patient_id, from).await?;
        // The latest NEWS2 observation (a set with a Chart 1 parameter) gives the latest score
        // and the due time, even when it is older than the window.
        let latest = match records.iter().rev().find(|r| r.news2.has_parameters()) {
            Some(r) => Some(r.clone()),
            None => VitalSignsRepository::latest(self.db.reader(), patient_id).await?,
        };
        let parameters = [
            Parameter::RespiratoryRate,
            Parameter::Spo2,
            Parameter::SystolicBp,
            Parameter::DiastolicBp,
            Parameter::HeartRate,
            Parameter::TemperatureC,
            Parameter::PainScore,
            Parameter::WeightKg,
        ]
        .into_iter()
        .filter_map(|p| {
            let series: Vec<(DateTime<Utc>, f64)> = records
                .iter()
                .filter_map(|r| r.vitals.value(p).map(|v| (r.recorded_at, v)))
                .collect();
            ParameterSummary::over(p, &series)
        })
        .collect();
        let insights = ChartInsights {
            patient_id,
            from,
            to: now,
            parameters,
            news2_series: records
                .iter()
                .filter(|r| r.news2.has_parameters())
                .map(|r| (r.recorded_at, r.id, r.news2.score, r.news2.risk))
                .collect(),
            records: records.len(),
            flagged_records: records.iter().filter(|r| r.is_flagged()).count(),
            next_due_at: latest
                .as_ref()
                .map(|r| next_due(r.recorded_at, &r.news2.monitoring)),
            // No observations on record: the patient is due now.
            overdue: latest
                .as_ref()
                .is_none_or(|r| overdue(r.recorded_at, &r.news2.monitoring, now)),
            latest_news2: latest.map(|r| (r.recorded_at, r.news2)),
        };
        self.audit
            .record(record_event(
                permit.actor(),
                AuditAction::Read,
                ResourceType::VitalSigns,
                patient_id,
            ))
            .await?;
        Ok(insights)
    }

    /// Charts sets for possibly many patients in one transaction: `BatchRefused` listing every
    /// refused item when any is, else every set with its alerts, in the order given.
    pub(crate) async fn record_all(
        &self,
        actor: &Actor,
        chartings: Vec<Charting>,
    ) -> Result<Vec<Charted>, ServiceError> {
        self.queue.chart(actor, chartings).await
    }
}

/// Charts `chartings` inside `txn`: checks every patient, then scores, alerts and stores.
pub(crate) async fn chart_in<C: Executor>(
    txn: &C,
    actor: &Actor,
    rules: ClinicalRules,
    chartings: Vec<Charting>,
    now: DateTime<Utc>,
) -> Result<Vec<Charted>, ServiceError> {
    match chart_requests(txn, rules, vec![(actor, chartings)], now).await {
        Ok(mut charted) => Ok(charted.remove(0)),
        Err(ChartFailure::Refused(mut refused)) => {
            Err(ServiceError::BatchRefused(refused.remove(0).1))
        }
        Err(ChartFailure::Failed(error)) => Err(error),
    }
}

/// Why `chart_requests` failed.
pub(crate) enum ChartFailure {
    /// Requests (by position) refused for their patients, with their refused items (indexed
    /// within the request). Checked before anything is written: nothing of any request was.
    Refused(Vec<(usize, Vec<BatchItemError>)>),
    /// Anything else: part of the work may have been written.
    Failed(ServiceError),
}

impl<E: Into<ServiceError>> From<E> for ChartFailure {
    fn from(error: E) -> Self {
        ChartFailure::Failed(error.into())
    }
}

/// Charts the sets of several requests (each by its own actor) inside `txn` as one batch:
/// every patient checked, then each patient's sets, whichever request brought them, scored and
/// alerted in time order and stored. Answers each request's sets in its order.
pub(crate) async fn chart_requests<C: Executor>(
    txn: &C,
    rules: ClinicalRules,
    requests: Vec<(&Actor, Vec<Charting>)>,
    now: DateTime<Utc>,
) -> Result<Vec<Vec<Charted>>, ChartFailure> {
    let mut ids: Vec<Uuid> = requests
        .iter()
        .flat_map(|(_, chartings)| chartings.iter().map(|c| c.patient_id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let patients: HashMap<Uuid, ClinicalState> = PatientRepository::lock_clinical_states(txn, &ids)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut refused = Vec::new();
    let mut items = Vec::new();
    // Where each request's sets start in `items`.
    let mut starts = Vec::with_capacity(requests.len());
    for (request, (actor, chartings)) in requests.into_iter().enumerate() {
        let mut failures = Vec::new();
        starts.push(items.len());
        for (index, c) in chartings.into_iter().enumerate() {
            match patients.get(&c.patient_id) {
                None => failures.push(BatchItemError {
                    index,
                    status: 404,
                    reason: "patient not found".to_owned(),
                    errors: FieldErrors::default(),
                }),
                Some(p) if p.status != PatientStatus::Admitted => {
                    let mut errors = FieldErrors::default();
                    errors.push("patient_id", "the patient is not admitted");
                    failures.push(BatchItemError {
                        index,
                        status: 409,
                        reason: "vital signs are charted for admitted patients only".to_owned(),
                        errors,
                    });
                }
                Some(p) => items.push(Item {
                    index: items.len(),
                    request,
                    actor,
                    patient: p,
                    observation: c.observation,
                }),
            }
        }
        if !failures.is_empty() {
            refused.push((request, failures));
        }
    }
    if !refused.is_empty() {
        return Err(ChartFailure::Refused(refused));
    }
    let mut events = Vec::with_capacity(items.len() + 1);
    let charted = chart_patients(txn, rules, items, None, now, &mut events).await?;
    append_events(txn, &events).await?;
    // `charted` is in item order: each request's sets are the run from its start.
    let mut charted = charted.into_iter();
    let mut answers = Vec::with_capacity(starts.len());
    let ends: Vec<usize> = starts.iter().skip(1).copied().chain([usize::MAX]).collect();
    for (start, end) in starts.iter().zip(ends) {
        let count = end.saturating_sub(*start);
        answers.push(charted.by_ref().take(count).collect());
    }
    Ok(answers)
}

/// A checked set to chart: its position among all sets, the request that brought it (in order
/// of arrival), who charted it and for whom.
struct Item<'a> {
    index: usize,
    request: usize,
    actor: &'a Actor,
    patient: &'a ClinicalState,
    observation: NewObservation,
}

/// Scores, alerts and stores checked sets; returns them in input order (the items' indexes are
/// their positions, 0 to n - 1).
async fn chart_patients<C: Executor>(
    txn: &C,
    rules: ClinicalRules,
    items: Vec<Item<'_>>,
    replaces: Option<Uuid>,
    now: DateTime<Utc>,
    events: &mut Vec<NewAuditEvent>,
) -> Result<Vec<Charted>, ServiceError> {
    let count = items.len();
    // Per patient, request by request in order of arrival and each request's sets in time
    // order, so each set is judged against the ones before it exactly as if every request had
    // been charted on its own, one after another: a set behind one an earlier request charted
    // is entered late, whether or not the two requests share a transaction.
    let mut by_patient: BTreeMap<Uuid, Vec<Item>> = BTreeMap::new();
    for item in items {
        by_patient.entry(item.patient.id).or_default().push(item);
    }
    let mut earliest = BTreeMap::new();
    for (patient_id, sets) in by_patient.iter_mut() {
        sets.sort_by_key(|i| (i.request, i.observation.recorded_at, i.index));
        if let Some(first) = sets.iter().map(|i| i.observation.recorded_at).min() {
            earliest.insert(*patient_id, first);
        }
    }
    let latest_new = by_patient
        .values()
        .flatten()
        .map(|i| i.observation.recorded_at)
        .max()
        .unwrap_or(now);
    let mut contexts = ChartContext::load_all(txn, &earliest, latest_new, now).await?;
    let mut records: Vec<VitalSignsRecord> = Vec::with_capacity(count);
    // Beside each record: its input index and the alerts it raised.
    let mut placed: Vec<(usize, Vec<Alert>)> = Vec::with_capacity(count);
    let mut new_alerts = Vec::new();
    let mut summaries = Vec::with_capacity(by_patient.len());
    for (patient_id, sets) in by_patient {
        let mut context = contexts.remove(&patient_id).unwrap_or_default();
        let first_record = records.len();
        for Item {
            index,
            actor,
            patient,
            observation,
            ..
        } in sets
        {
            let record = VitalSignsRecord::score(
                Uuid::now_v7(),
                patient_id,
                actor.user_id,
                observation,
                patient.clinical.spo2_scale,
                replaces,
                now,
            );
            let mut alerts = Vec::new();
            // Alerts describe the patient now: a set entered late, behind a newer one, is
            // scored and flagged but raises none. A set without any NEWS2 parameter (a
            // weight, a pain score) is no observation of the patient's state: it neither
            // raises alerts nor joins the context later sets are judged against.
            let observed = record.news2.has_parameters();
            if observed && context.is_latest(record.recorded_at) {
                let previous_score = context.previous_score(record.recorded_at);
                context.add(&record);
                let temperatures = context.temperatures(record.recorded_at);
                let neutrophils = Neutropenia::assess(
                    context.latest_anc,
                    patient.clinical.last_systemic_therapy_on,
                    now.date_naive(),
                    rules.systemic_therapy_window_days,
                );
                let ctx = AlertContext {
                    assessment: &record.news2,
                    previous_score,
                    vitals: &record.vitals,
                    temperatures: &temperatures,
                    neutrophils,
                    fever_definition: rules.fever_definition,
                };
                for kind in to_open(&alerts_for(&ctx), &context.unresolved) {
                    context.unresolved.push(kind);
                    alerts.push(Alert {
                        id: Uuid::now_v7(),
                        patient_id,
                        kind,
                        severity: kind.severity(),
                        status: AlertStatus::Open,
                        detail: describe(kind, &ctx),
                        vital_signs_id: Some(record.id),
                        raised_at: now,
                        acknowledged: None,
                        resolved: None,
                        version: 1,
                    });
                }
            } else if observed {
                context.add(&record);
            }
            events.push(record_event(
                actor,
                AuditAction::Create,
                ResourceType::VitalSigns,
                record.id,
            ));
            for alert in &alerts {
                events.push(record_event(
                    actor,
                    AuditAction::Create,
                    ResourceType::Alert,
                    alert.id,
                ));
            }
            new_alerts.extend(alerts.iter().cloned());
            records.push(record);
            placed.push((index, alerts));
        }
        // The newest NEWS2 observation of this patient's (the last of equal times); the upsert
        // keeps a newer line already there.
        if let Some(r) = records[first_record..]
            .iter()
            .filter(|r| r.news2.has_parameters())
            .max_by_key(|r| r.recorded_at)
        {
            summaries.push(ObservationSummary {
                patient_id,
                vital_signs_id: r.id,
                recorded_at: r.recorded_at,
                news2_score: r.news2.score,
                risk: r.news2.risk,
                complete: r.news2.complete,
                any_single_red: r.news2.any_single_red,
                next_due_at: next_due(r.recorded_at, &r.news2.monitoring),
            });
        }
    }
    VitalSignsRepository::insert_many(txn, &records).await?;
    AlertRepository::insert_many(txn, &new_alerts).await?;
    // Live ward streams follow the change feed, written with the sets it announces.
    let feed: Vec<StreamEvent> = records
        .iter()
        .map(|r| StreamEvent::new(StreamTopic::VitalSigns, r.patient_id, Some(r.id), now))
        .chain(
            new_alerts
                .iter()
                .map(|a| StreamEvent::new(StreamTopic::Alerts, a.patient_id, Some(a.id), now)),
        )
        .collect();
    StreamEventRepository::append(txn, &feed).await?;
    VitalSignsRepository::upsert_summaries(txn, &summaries, now, true).await?;
    // Each set into its slot, not sorted: a stable sort moved every (large) record through each
    // of its merge passes, on the writer's path (about 1 % of a group's profile).
    let mut out: Vec<Option<Charted>> = std::iter::repeat_with(|| None).take(count).collect();
    for (record, (index, alerts)) in records.into_iter().zip(placed) {
        if let Some(slot) = out.get_mut(index) {
            *slot = Some(Charted { record, alerts });
        }
    }
    out.into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ServiceError::internal("a charted set lost its place in the answer"))
}

/// Appends audit events inside the caller's transaction, so they commit with the change.
pub(crate) async fn append_events<C: Executor>(
    txn: &C,
    events: &[NewAuditEvent],
) -> Result<(), ServiceError> {
    for chunk in events.chunks(MAX_ROWS_PER_STATEMENT) {
        AuditRepository::append_many(txn, chunk).await?;
    }
    Ok(())
}

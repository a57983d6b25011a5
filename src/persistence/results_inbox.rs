//! The results inbox in `result_file`: one row per file seen under `completed/`. Inserting the
//! row is a worker's claim on the file (the unique path and fingerprint let one insert win);
//! the claim is a lease, as for notifications, so a worker that dies half-way leaves the file to
//! be claimed again when the lease ends. A row whose file was moved is done for good.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, ExprTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::entities::patient;
use super::entities::result_file::{self, Column, Entity};
use super::repository::{Repository, time_uuid_key, time_uuid_page};
use super::result_store::StoredFile;
use super::{Executor, StoreError, StoreResult, stored};
use crate::domain::page::{Page, PageRequest};
use crate::domain::results_inbox::{Decision, InboxEntry, OutcomeFilter};

pub struct InboxRepository;

impl Repository for InboxRepository {
    type Entity = Entity;
    type Model = result_file::Model;
}

/// Filters of the inbox list.
#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    pub outcome: Option<OutcomeFilter>,
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received before.
    pub to: Option<DateTime<Utc>>,
}

fn to_domain(row: &result_file::Model) -> StoreResult<InboxEntry> {
    Ok(InboxEntry {
        id: row.id,
        path: row.path.clone(),
        fingerprint: row.fingerprint.clone(),
        size: row.size,
        outcome: row
            .outcome
            .as_deref()
            .map(|o| stored("outcome", o.parse()))
            .transpose()?,
        reason: row.reason.clone(),
        exam_id: row.exam_id,
        patient_id: row.patient_id,
        report_key: row.report_key.clone(),
        destination: row.destination.clone(),
        claims: row.claims,
        last_error: row.last_error.clone(),
        received_at: row.received_at,
        decided_at: row.decided_at,
        moved_at: row.moved_at,
    })
}

fn cursor_key(row: &result_file::Model) -> String {
    time_uuid_key(row.received_at, row.id)
}

/// Rows not yet done whose lease (if any) ended before `now`.
fn claimable(now: DateTime<Utc>) -> Condition {
    Condition::all().add(Column::MovedAt.is_null()).add(
        Condition::any()
            .add(Column::ClaimedUntil.is_null())
            .add(Column::ClaimedUntil.lt(now)),
    )
}

impl InboxRepository {
    pub async fn find<C: Executor>(db: &C, id: Uuid) -> StoreResult<Option<InboxEntry>> {
        Self::find_row(db, id)
            .await?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    /// Claims `file` for `claim` until `until`: a new row for a file never seen, or the row of
    /// one left half-way whose lease ended. None when another worker holds it or it is done.
    pub async fn claim_file<C: Executor>(
        db: &C,
        file: &StoredFile,
        claim: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<InboxEntry>> {
        let row = result_file::Model {
            id: Uuid::now_v7(),
            path: file.path.clone(),
            fingerprint: file.fingerprint.clone(),
            size: i64::try_from(file.size).unwrap_or(i64::MAX),
            outcome: None,
            reason: None,
            exam_id: None,
            patient_id: None,
            report_key: None,
            destination: None,
            claims: 1,
            claimed_by: Some(claim),
            claimed_until: Some(until),
            last_error: None,
            received_at: now,
            decided_at: None,
            moved_at: None,
            updated_at: now,
        };
        match Self::insert_row(db, row).await {
            Ok(row) => return to_domain(&row).map(Some),
            Err(StoreError::Duplicate(_)) => {}
            Err(e) => return Err(e),
        }
        let taken = Entity::update_many()
            .col_expr(Column::ClaimedBy, Expr::value(claim))
            .col_expr(Column::ClaimedUntil, Expr::value(until))
            .col_expr(Column::Claims, Expr::col(Column::Claims).add(1))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::Path.eq(file.path.as_str()))
            .filter(Column::Fingerprint.eq(file.fingerprint.as_str()))
            .filter(claimable(now))
            .exec(db)
            .await?;
        if taken.rows_affected == 0 {
            return Ok(None);
        }
        Entity::find()
            .filter(Column::Path.eq(file.path.as_str()))
            .filter(Column::Fingerprint.eq(file.fingerprint.as_str()))
            .filter(Column::ClaimedBy.eq(claim))
            .all(db)
            .await?
            .first()
            .map(to_domain)
            .transpose()
    }

    /// Claims up to `limit` rows left half-way (not moved) whose lease ended: files a worker
    /// died on, whether or not they are still in the inbox. The condition is repeated on the
    /// outer update so that on PostgreSQL a row another worker claimed meanwhile is skipped.
    pub async fn claim_abandoned<C: Executor>(
        db: &C,
        claim: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<InboxEntry>> {
        let candidates = Query::select()
            .column(Column::Id)
            .from(Entity)
            .cond_where(claimable(now))
            .order_by(Column::ReceivedAt, sea_orm::Order::Asc)
            .limit(limit)
            .to_owned();
        Entity::update_many()
            .col_expr(Column::ClaimedBy, Expr::value(claim))
            .col_expr(Column::ClaimedUntil, Expr::value(until))
            .col_expr(Column::Claims, Expr::col(Column::Claims).add(1))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(claimable(now))
            .filter(Column::Id.in_subquery(candidates))
            .exec(db)
            .await?;
        Self::claimed(db, claim).await
    }

    async fn claimed<C: Executor>(db: &C, claim: Uuid) -> StoreResult<Vec<InboxEntry>> {
        Entity::find()
            .filter(Column::ClaimedBy.eq(claim))
            .filter(Column::MovedAt.is_null())
            .order_by_asc(Column::ReceivedAt)
            .all(db)
            .await?
            .iter()
            .map(to_domain)
            .collect()
    }

    /// Records the outcome decided under `claim` and where the file goes; false when the
    /// lease was lost, in which case nothing is written (and the caller rolls back).
    pub async fn decide<C: Executor>(
        db: &C,
        id: Uuid,
        claim: Uuid,
        decision: &Decision,
        destination: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = Entity::update_many()
            .col_expr(Column::Outcome, Expr::value(decision.outcome.as_str()))
            .col_expr(Column::Reason, Expr::value(decision.reason.as_str()))
            .col_expr(Column::ExamId, Expr::value(decision.exam_id))
            .col_expr(Column::PatientId, Expr::value(decision.patient_id))
            .col_expr(Column::ReportKey, Expr::value(decision.report_key.clone()))
            .col_expr(
                Column::Destination,
                Expr::value(destination.map(str::to_owned)),
            )
            .col_expr(Column::DecidedAt, Expr::value(now))
            .col_expr(Column::LastError, Expr::value(Option::<String>::None))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(Column::ClaimedBy.eq(claim))
            .filter(Column::Outcome.is_null())
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// The file left the inbox: the row is done and its lease released.
    pub async fn mark_moved<C: Executor>(
        db: &C,
        id: Uuid,
        claim: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = Entity::update_many()
            .col_expr(Column::MovedAt, Expr::value(now))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .col_expr(Column::ClaimedBy, Expr::value(Option::<Uuid>::None))
            .col_expr(
                Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(Column::Id.eq(id))
            .filter(Column::ClaimedBy.eq(claim))
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// A failure on our side: the error is kept for the list, and the row may be claimed again
    /// from `retry_at`.
    pub async fn record_failure<C: Executor>(
        db: &C,
        id: Uuid,
        claim: Uuid,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = Entity::update_many()
            .col_expr(Column::LastError, Expr::value(error))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .col_expr(Column::ClaimedBy, Expr::value(Option::<Uuid>::None))
            .col_expr(Column::ClaimedUntil, Expr::value(retry_at))
            .filter(Column::Id.eq(id))
            .filter(Column::ClaimedBy.eq(claim))
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Inbox entries, newest first, one page; entries of deleted patients are left out.
    pub async fn list<C: Executor>(
        db: &C,
        filter: &InboxFilter,
        page: PageRequest,
    ) -> StoreResult<Page<InboxEntry>> {
        let mut c = Condition::all();
        match filter.outcome {
            Some(OutcomeFilter::Pending) => c = c.add(Column::Outcome.is_null()),
            Some(OutcomeFilter::Decided(o)) => c = c.add(Column::Outcome.eq(o.as_str())),
            None => {}
        }
        if let Some(from) = filter.from {
            c = c.add(Column::ReceivedAt.gte(from));
        }
        if let Some(to) = filter.to {
            c = c.add(Column::ReceivedAt.lt(to));
        }
        let deleted = Query::select()
            .column(patient::Column::Id)
            .from(patient::Entity)
            .and_where(patient::Column::DeletedAt.is_not_null())
            .to_owned();
        c = c.add(
            Condition::any()
                .add(Column::PatientId.is_null())
                .add(Column::PatientId.not_in_subquery(deleted)),
        );
        time_uuid_page(
            db,
            Entity::find().filter(c),
            (Column::ReceivedAt, Column::Id),
            page,
            cursor_key,
            to_domain,
        )
        .await
    }
}

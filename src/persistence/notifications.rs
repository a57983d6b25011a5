//! The notification outbox in `notification`. Delivery workers claim due rows with a
//! conditional update (a lease), so several replicas never send the same notification twice
//! at once, and a worker that dies leaves its rows to be claimed again when the lease ends.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::entities::notification::{self, Column, Entity};
use super::entities::patient;
use super::repository::{Repository, time_uuid_key, time_uuid_page};
use super::{Executor, StoreResult, stored};
use crate::domain::notification::{Channel, Notification, NotificationStatus};
use crate::domain::page::{Page, PageRequest};

pub struct NotificationRepository;

impl Repository for NotificationRepository {
    type Entity = Entity;
    type Model = notification::Model;
}

/// Filters of the notification list.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    pub status: Option<NotificationStatus>,
    pub channel: Option<Channel>,
    pub patient_id: Option<Uuid>,
    pub exam_id: Option<Uuid>,
}

fn to_row(n: &Notification) -> notification::Model {
    notification::Model {
        id: n.id,
        patient_id: n.patient_id,
        exam_id: n.exam_id,
        kind: n.kind.as_str().to_owned(),
        channel: n.channel.as_str().to_owned(),
        recipient: n.recipient.clone(),
        status: n.status.as_str().to_owned(),
        attempts: n.attempts,
        next_attempt_at: n.next_attempt_at,
        claimed_by: None,
        claimed_until: None,
        last_error: n.last_error.clone(),
        created_at: n.created_at,
        updated_at: n.updated_at,
        sent_at: n.sent_at,
    }
}

fn to_domain(row: &notification::Model) -> StoreResult<Notification> {
    Ok(Notification {
        id: row.id,
        patient_id: row.patient_id,
        exam_id: row.exam_id,
        kind: stored("kind", row.kind.parse())?,
        channel: stored("channel", row.channel.parse())?,
        recipient: row.recipient.clone(),
        status: stored("status", row.status.parse())?,
        attempts: row.attempts,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        sent_at: row.sent_at,
    })
}

fn cursor_key(row: &notification::Model) -> String {
    time_uuid_key(row.created_at, row.id)
}

/// Rows due for delivery at `now` and not leased by a live worker.
fn due(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(Column::Status.eq(NotificationStatus::Pending.as_str()))
        .add(Column::NextAttemptAt.lte(now))
        .add(
            Condition::any()
                .add(Column::ClaimedUntil.is_null())
                .add(Column::ClaimedUntil.lt(now)),
        )
}

impl NotificationRepository {
    pub async fn insert<C: Executor>(db: &C, n: &Notification) -> StoreResult<()> {
        Self::insert_row(db, to_row(n)).await.map(drop)
    }

    pub async fn find<C: Executor>(db: &C, id: Uuid) -> StoreResult<Option<Notification>> {
        Self::find_row(db, id)
            .await?
            .as_ref()
            .map(to_domain)
            .transpose()
    }

    /// Leases up to `limit` due notifications to `claim` until `until`, and returns them. The
    /// due condition is repeated on the outer update so that on PostgreSQL a row another
    /// worker claimed meanwhile is re-checked and skipped, not claimed twice.
    pub async fn claim_due<C: Executor>(
        db: &C,
        claim: Uuid,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<Vec<Notification>> {
        let candidates = Query::select()
            .column(Column::Id)
            .from(Entity)
            .cond_where(due(now))
            .order_by(Column::NextAttemptAt, sea_orm::Order::Asc)
            .limit(limit)
            .to_owned();
        Entity::update_many()
            .col_expr(Column::ClaimedBy, Expr::value(claim))
            .col_expr(Column::ClaimedUntil, Expr::value(until))
            .filter(due(now))
            .filter(Column::Id.in_subquery(candidates))
            .exec(db)
            .await?;
        Entity::find()
            .filter(Column::ClaimedBy.eq(claim))
            .filter(Column::Status.eq(NotificationStatus::Pending.as_str()))
            .order_by_asc(Column::NextAttemptAt)
            .all(db)
            .await?
            .iter()
            .map(to_domain)
            .collect()
    }

    /// Records the outcome of an attempt made under `claim`; false when the lease was lost
    /// (another worker took the row over), in which case nothing is written.
    pub async fn record_attempt<C: Executor>(
        db: &C,
        claim: Uuid,
        n: &Notification,
    ) -> StoreResult<bool> {
        let result = Entity::update_many()
            .col_expr(Column::Status, Expr::value(n.status.as_str()))
            .col_expr(Column::Attempts, Expr::value(n.attempts))
            .col_expr(Column::NextAttemptAt, Expr::value(n.next_attempt_at))
            .col_expr(Column::LastError, Expr::value(n.last_error.clone()))
            .col_expr(Column::UpdatedAt, Expr::value(n.updated_at))
            .col_expr(Column::SentAt, Expr::value(n.sent_at))
            .col_expr(Column::ClaimedBy, Expr::value(Option::<Uuid>::None))
            .col_expr(
                Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(Column::Id.eq(n.id))
            .filter(Column::ClaimedBy.eq(claim))
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Puts a failed notification back in the queue, due at `now`, with a fresh round of
    /// attempts; false when it is not failed (any more).
    pub async fn requeue_failed<C: Executor>(
        db: &C,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = Entity::update_many()
            .col_expr(
                Column::Status,
                Expr::value(NotificationStatus::Pending.as_str()),
            )
            .col_expr(Column::Attempts, Expr::value(0))
            .col_expr(Column::NextAttemptAt, Expr::value(now))
            .col_expr(Column::UpdatedAt, Expr::value(now))
            .filter(Column::Id.eq(id))
            .filter(Column::Status.eq(NotificationStatus::Failed.as_str()))
            .exec(db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Notifications of live patients, newest first, one page.
    pub async fn list<C: Executor>(
        db: &C,
        filter: &NotificationFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Notification>> {
        let mut c = Condition::all();
        if let Some(s) = filter.status {
            c = c.add(Column::Status.eq(s.as_str()));
        }
        if let Some(ch) = filter.channel {
            c = c.add(Column::Channel.eq(ch.as_str()));
        }
        if let Some(p) = filter.patient_id {
            c = c.add(Column::PatientId.eq(p));
        }
        if let Some(e) = filter.exam_id {
            c = c.add(Column::ExamId.eq(e));
        }
        let patients = Query::select()
            .column(patient::Column::Id)
            .from(patient::Entity)
            .and_where(patient::Column::DeletedAt.is_null())
            .to_owned();
        c = c.add(Column::PatientId.in_subquery(patients));
        time_uuid_page(
            db,
            Entity::find().filter(c),
            (Column::CreatedAt, Column::Id),
            page,
            cursor_key,
            to_domain,
        )
        .await
    }
}

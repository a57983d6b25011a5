//! The audit log in `audit_event`: append (one or many rows) and read with filters, newest first.

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use super::entities::audit_event::{self, Column, Entity};
use super::repository::{Repository, finish_page, page_rows};
use super::{Executor, StoreError, StoreResult, stored};
use crate::domain::audit::{AuditEvent, AuditFilter, NewAuditEvent};
use crate::domain::page::{Page, PageRequest};

pub struct AuditRepository;

/// The most events `append_many` writes in one statement.
pub const MAX_ROWS_PER_STATEMENT: usize = 64;

impl Repository for AuditRepository {
    type Entity = Entity;
    type Model = audit_event::Model;
}

fn to_row(e: &NewAuditEvent) -> audit_event::ActiveModel {
    use sea_orm::ActiveValue::{NotSet, Set};
    audit_event::ActiveModel {
        id: NotSet,
        occurred_at: Set(e.occurred_at),
        actor_id: Set(e.actor_id),
        actor_username: Set(e.actor_username.clone()),
        actor_role: Set(e.actor_role.map(|r| r.as_str().to_owned())),
        action: Set(e.action.as_str().to_owned()),
        resource_type: Set(e.resource_type.as_str().to_owned()),
        resource_id: Set(e.resource_id.clone()),
        request_id: Set(e.request_id.clone()),
        client_addr: Set(e.client_addr.clone()),
        outcome: Set(e.outcome.as_str().to_owned()),
        reason: Set(e.reason.clone()),
    }
}

fn to_domain(row: &audit_event::Model) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: row.id,
        event: NewAuditEvent {
            occurred_at: row.occurred_at,
            actor_id: row.actor_id,
            actor_username: row.actor_username.clone(),
            actor_role: row
                .actor_role
                .as_deref()
                .map(|r| stored("actor_role", r.parse()))
                .transpose()?,
            action: stored("action", row.action.parse())?,
            resource_type: stored("resource_type", row.resource_type.parse())?,
            resource_id: row.resource_id.clone(),
            request_id: row.request_id.clone(),
            client_addr: row.client_addr.clone(),
            outcome: stored("outcome", row.outcome.parse())?,
            reason: row.reason.clone(),
        },
    })
}

impl AuditRepository {
    pub async fn append<C: Executor>(db: &C, event: &NewAuditEvent) -> StoreResult<()> {
        Entity::insert(to_row(event))
            .exec_without_returning(db)
            .await?;
        Ok(())
    }

    /// Appends events in one statement. Outside a transaction that statement is its own atomic
    /// commit. At most `MAX_ROWS_PER_STATEMENT` events: the prepared form of each row count is
    /// cached per connection, and 64 of them fit the cache.
    pub async fn append_many<C: Executor>(db: &C, events: &[NewAuditEvent]) -> StoreResult<()> {
        debug_assert!(events.len() <= MAX_ROWS_PER_STATEMENT);
        if events.is_empty() {
            return Ok(());
        }
        Entity::insert_many(events.iter().map(to_row).collect::<Vec<_>>())
            .exec_without_returning(db)
            .await?;
        Ok(())
    }

    pub async fn list<C: Executor>(
        db: &C,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        let mut c = Condition::all();
        if let Some(v) = filter.actor_id {
            c = c.add(Column::ActorId.eq(v));
        }
        if let Some(v) = filter.action {
            c = c.add(Column::Action.eq(v.as_str()));
        }
        if let Some(v) = filter.resource_type {
            c = c.add(Column::ResourceType.eq(v.as_str()));
        }
        if let Some(v) = &filter.resource_id {
            c = c.add(Column::ResourceId.eq(v.as_str()));
        }
        if let Some(v) = filter.outcome {
            c = c.add(Column::Outcome.eq(v.as_str()));
        }
        if let Some(v) = filter.from {
            c = c.add(Column::OccurredAt.gte(v));
        }
        if let Some(v) = filter.to {
            c = c.add(Column::OccurredAt.lt(v));
        }
        let after = match &page.after {
            Some(key) => Some(
                Column::Id.lt(key
                    .parse::<i64>()
                    .map_err(|_| StoreError::Corrupt(format!("cursor key {key}")))?),
            ),
            None => None,
        };
        let query = Entity::find().filter(c);
        let (rows, total) = page_rows(db, query, Column::Id, true, after, &page).await?;
        finish_page(rows, total, page, |r| r.id.to_string(), to_domain)
    }
}

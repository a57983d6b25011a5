//! The audit log in `audit_event`: append (one or many rows) and read with filters, newest first.

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};

use super::bulk::{self, BulkTable, Cell};
use super::entities::audit_event::{self, Column, Entity};
use super::repository::{Repository, finish_page, page_rows};
use super::{Executor, StoreError, StoreResult, stored};
use crate::domain::audit::{AuditEvent, AuditFilter, NewAuditEvent};
use crate::domain::page::{Page, PageRequest};

pub struct AuditRepository;

impl Repository for AuditRepository {
    type Entity = Entity;
    type Model = audit_event::Model;
}

/// The most events `append_many` writes in one statement (one JSON parameter of a few hundred
/// kilobytes at most).
pub const MAX_ROWS_PER_STATEMENT: usize = 4096;

/// `audit_event` as bulk appends write it (the id is the database's).
const AUDIT_TABLE: BulkTable = BulkTable {
    table: "audit_event",
    columns: &[
        ("occurred_at", Cell::Timestamp),
        ("actor_id", Cell::Uuid),
        ("actor_username", Cell::Text),
        ("actor_role", Cell::Text),
        ("action", Cell::Text),
        ("resource_type", Cell::Text),
        ("resource_id", Cell::Text),
        ("request_id", Cell::Text),
        ("client_addr", Cell::Text),
        ("outcome", Cell::Text),
        ("reason", Cell::Text),
    ],
};

/// An event as the JSON array `AUDIT_TABLE` unpacks, borrowing its text rather than copying it
/// into a `serde_json::Value` first: every audited read passes through here.
type JsonRow<'a> = (
    String,
    Option<String>,
    &'a Option<String>,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'a Option<String>,
    &'a Option<String>,
    &'a Option<String>,
    &'static str,
    &'a Option<String>,
);

fn to_json_row(e: &NewAuditEvent) -> JsonRow<'_> {
    (
        bulk::time(e.occurred_at),
        e.actor_id.map(bulk::uuid),
        &e.actor_username,
        e.actor_role.map(|r| r.as_str()),
        e.action.as_str(),
        e.resource_type.as_str(),
        &e.resource_id,
        &e.request_id,
        &e.client_addr,
        e.outcome.as_str(),
        &e.reason,
    )
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
        AUDIT_TABLE.append(db, &[to_json_row(event)]).await
    }

    /// Appends events in one statement, in order. Outside a transaction that statement is its
    /// own atomic commit. At most `MAX_ROWS_PER_STATEMENT` events.
    pub async fn append_many<C: Executor>(db: &C, events: &[NewAuditEvent]) -> StoreResult<()> {
        debug_assert!(events.len() <= MAX_ROWS_PER_STATEMENT);
        let rows: Vec<JsonRow<'_>> = events.iter().map(to_json_row).collect();
        AUDIT_TABLE.append(db, &rows).await
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

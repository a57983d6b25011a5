//! The audit log in `audit_event`: append (one or many rows) and read with filters, newest first.

use chrono::SecondsFormat;
use sea_orm::{ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, Statement};

use super::entities::audit_event::{self, Column, Entity};
use super::repository::{Repository, finish_page, page_rows};
use super::{Executor, StoreError, StoreResult, stored};
use crate::domain::audit::{AuditEvent, AuditFilter, NewAuditEvent};
use crate::domain::page::{Page, PageRequest};

pub struct AuditRepository;

/// The most events `append_many` writes in one statement (one JSON parameter of a few hundred
/// kilobytes at most).
pub const MAX_ROWS_PER_STATEMENT: usize = 4096;

/// Appends the rows of a JSON array of arrays, one statement whatever the row count: the SQL text
/// never changes, so it is prepared once per connection, and the database unpacks the rows
/// itself instead of the driver binding eleven parameters per row. Rows keep the array's order.
const SQLITE_APPEND: &str = "INSERT INTO audit_event (occurred_at, actor_id, actor_username, \
    actor_role, action, resource_type, resource_id, request_id, client_addr, outcome, reason) \
    SELECT value->>0, unhex(value->>1), value->>2, value->>3, value->>4, value->>5, value->>6, \
    value->>7, value->>8, value->>9, value->>10 FROM json_each(?) ORDER BY key";
const POSTGRES_APPEND: &str = "INSERT INTO audit_event (occurred_at, actor_id, actor_username, \
    actor_role, action, resource_type, resource_id, request_id, client_addr, outcome, reason) \
    SELECT (e->>0)::timestamptz, (e->>1)::uuid, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, \
    e->>8, e->>9, e->>10 FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS t(e, n) \
    ORDER BY n";

/// One event as the JSON row the append statements unpack, in their column order. The time is
/// written exactly as the driver writes it elsewhere (RFC 3339, UTC offset), so rows appended
/// here sort and read back like every other timestamp; the actor as simple hex, which SQLite
/// turns into the same 16-byte blob the driver binds for a UUID.
type JsonRow<'a> = (
    String,
    Option<String>,
    Option<&'a str>,
    Option<&'static str>,
    &'static str,
    &'static str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    &'static str,
    Option<&'a str>,
);

fn to_json_row(e: &NewAuditEvent) -> JsonRow<'_> {
    (
        e.occurred_at.to_rfc3339_opts(SecondsFormat::AutoSi, false),
        e.actor_id.map(|id| id.simple().to_string()),
        e.actor_username.as_deref(),
        e.actor_role.map(|r| r.as_str()),
        e.action.as_str(),
        e.resource_type.as_str(),
        e.resource_id.as_deref(),
        e.request_id.as_deref(),
        e.client_addr.as_deref(),
        e.outcome.as_str(),
        e.reason.as_deref(),
    )
}

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

    /// Appends events in one statement, in order. Outside a transaction that statement is its
    /// own atomic commit. At most `MAX_ROWS_PER_STATEMENT` events.
    pub async fn append_many<C: Executor>(db: &C, events: &[NewAuditEvent]) -> StoreResult<()> {
        debug_assert!(events.len() <= MAX_ROWS_PER_STATEMENT);
        if events.is_empty() {
            return Ok(());
        }
        let rows: Vec<JsonRow<'_>> = events.iter().map(to_json_row).collect();
        let json = serde_json::to_string(&rows)
            .map_err(|e| StoreError::Corrupt(format!("audit rows as JSON: {e}")))?;
        let backend = db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => POSTGRES_APPEND,
            _ => SQLITE_APPEND,
        };
        db.execute_raw(Statement::from_sql_and_values(backend, sql, [json.into()]))
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

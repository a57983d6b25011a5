//! The change feed in `stream_event`: appended in the transaction of each change, read in commit
//! order from a cursor by every replica that serves a live stream, pruned by age.
//!
//! Commit order differs by database. SQLite has one writer at a time, so `seq` order is commit
//! order and a reader may take every row up to the highest `seq` it can see. On PostgreSQL a
//! `seq` is handed out before its transaction commits, so a row with a lower `seq` can appear
//! after a higher one; readers therefore only take rows of transactions older than the oldest
//! one still running (`pg_snapshot_xmin`), which can no longer change, and keep their place as
//! (transaction, seq).

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Statement};
use uuid::Uuid;

use super::bulk::{self, BulkTable, Cell};
use super::entities::stream_event::{self, Column, Entity};
use super::repository::Repository;
use super::{Executor, StoreError, StoreResult};
use crate::domain::stream::{StreamEvent, StreamTopic};

pub struct StreamEventRepository;

impl Repository for StreamEventRepository {
    type Entity = Entity;
    type Model = stream_event::Model;
}

const STREAM_EVENT_TABLE: BulkTable = BulkTable {
    table: "stream_event",
    columns: &[
        ("topic", Cell::Text),
        ("patient_id", Cell::Uuid),
        ("resource_id", Cell::Uuid),
        ("occurred_at", Cell::Timestamp),
    ],
};

/// The most events one statement appends.
const MAX_ROWS_PER_STATEMENT: usize = 4096;

/// A reader's place in the feed: everything at or before it has been read. `tx` is the
/// PostgreSQL transaction horizon (always 0 on SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedCursor {
    tx: u64,
    seq: i64,
}

/// Which events a reader wants.
#[derive(Debug, Clone)]
pub enum FeedFilter {
    /// Events of one patient.
    Patient {
        topics: Vec<StreamTopic>,
        patient_id: Uuid,
    },
    /// Events of the patients currently on a ward.
    Ward {
        topics: Vec<StreamTopic>,
        ward: String,
    },
}

#[derive(Debug, FromQueryResult)]
struct FeedRow {
    seq: i64,
    tx: Option<String>,
    topic: String,
    patient_id: Uuid,
    resource_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
}

#[derive(Debug, FromQueryResult)]
struct Horizon {
    horizon: String,
}

impl StreamEventRepository {
    /// Appends events in the caller's transaction, so they commit (or not) with the change.
    pub async fn append<C: Executor>(db: &C, events: &[StreamEvent]) -> StoreResult<()> {
        for chunk in events.chunks(MAX_ROWS_PER_STATEMENT) {
            // Tuples serialize as the JSON arrays `STREAM_EVENT_TABLE` unpacks, without a
            // `serde_json::Value` tree per row.
            let rows: Vec<_> = chunk
                .iter()
                .map(|e| {
                    (
                        e.topic.as_str(),
                        bulk::uuid(e.patient_id),
                        e.resource_id.map(bulk::uuid),
                        bulk::time(e.occurred_at),
                    )
                })
                .collect();
            STREAM_EVENT_TABLE.append(db, &rows).await?;
        }
        Ok(())
    }

    /// The place after every event committed so far: a reader starting here sees only later
    /// changes (and, on PostgreSQL, possibly a few that were committing at this moment).
    pub async fn head<C: Executor>(db: &C) -> StoreResult<FeedCursor> {
        let horizon = Self::horizon(db).await?;
        Ok(match db.get_database_backend() {
            DbBackend::Postgres => FeedCursor {
                tx: horizon,
                seq: 0,
            },
            _ => FeedCursor {
                tx: 0,
                seq: horizon as i64,
            },
        })
    }

    /// Up to `limit` events after `cursor` that match `filter`, in commit order, with the place
    /// to continue from.
    pub async fn after<C: Executor>(
        db: &C,
        cursor: FeedCursor,
        filter: &FeedFilter,
        limit: u64,
    ) -> StoreResult<(Vec<StreamEvent>, FeedCursor)> {
        let backend = db.get_database_backend();
        let horizon = Self::horizon(db).await?;
        let pg = backend == DbBackend::Postgres;
        let mut values: Vec<sea_orm::Value> = Vec::new();
        let param = |v: sea_orm::Value, values: &mut Vec<sea_orm::Value>| {
            values.push(v);
            if pg {
                format!("${}", values.len())
            } else {
                "?".to_owned()
            }
        };
        let mut sql = String::from(
            "SELECT e.seq, {tx} AS tx, e.topic, e.patient_id, e.resource_id, e.occurred_at \
             FROM stream_event e WHERE ",
        );
        if pg {
            sql = sql.replace("{tx}", "e.tx::text");
            let h = param(horizon.to_string().into(), &mut values);
            let c = param(cursor.tx.to_string().into(), &mut values);
            let s = param(cursor.seq.into(), &mut values);
            sql.push_str(&format!(
                "e.tx < {h}::text::xid8 AND (e.tx > {c}::text::xid8 OR \
                 (e.tx = {c}::text::xid8 AND e.seq > {s}))"
            ));
        } else {
            sql = sql.replace("{tx}", "NULL");
            let s = param(cursor.seq.into(), &mut values);
            let h = param((horizon as i64).into(), &mut values);
            sql.push_str(&format!("e.seq > {s} AND e.seq <= {h}"));
        }
        let topics = match filter {
            FeedFilter::Patient { topics, .. } | FeedFilter::Ward { topics, .. } => topics,
        };
        let marks: Vec<String> = topics
            .iter()
            .map(|t| param(t.as_str().into(), &mut values))
            .collect();
        sql.push_str(&format!(" AND e.topic IN ({})", marks.join(", ")));
        match filter {
            FeedFilter::Patient { patient_id, .. } => {
                let p = param((*patient_id).into(), &mut values);
                sql.push_str(&format!(" AND e.patient_id = {p}"));
            }
            FeedFilter::Ward { ward, .. } => {
                let w = param(ward.clone().into(), &mut values);
                sql.push_str(&format!(
                    " AND e.patient_id IN (SELECT id FROM patient WHERE ward = {w} AND deleted_at IS NULL)"
                ));
            }
        }
        let l = param((limit as i64).into(), &mut values);
        sql.push_str(if pg {
            " ORDER BY e.tx, e.seq LIMIT "
        } else {
            " ORDER BY e.seq LIMIT "
        });
        sql.push_str(&l);
        let rows = FeedRow::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(db)
            .await?;
        let next = match rows.last() {
            // A full page: continue after its last row.
            Some(last) if rows.len() as u64 >= limit => FeedCursor {
                tx: match &last.tx {
                    Some(tx) => parse_tx(tx)?,
                    None => 0,
                },
                seq: last.seq,
            },
            // Everything below the horizon has been read.
            _ if pg => FeedCursor {
                tx: horizon.max(cursor.tx),
                seq: if horizon > cursor.tx { 0 } else { cursor.seq },
            },
            _ => FeedCursor {
                tx: 0,
                seq: (horizon as i64).max(cursor.seq),
            },
        };
        let events = rows
            .into_iter()
            .map(|r| {
                let topic = StreamTopic::parse(&r.topic)
                    .ok_or_else(|| StoreError::Corrupt(format!("stream topic {}", r.topic)))?;
                Ok(StreamEvent::new(
                    topic,
                    r.patient_id,
                    r.resource_id,
                    r.occurred_at,
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((events, next))
    }

    /// Deletes events older than `before`; returns how many. Streams only follow recent changes.
    pub async fn prune<C: Executor>(db: &C, before: DateTime<Utc>) -> StoreResult<u64> {
        Ok(Entity::delete_many()
            .filter(Column::OccurredAt.lt(before))
            .exec(db)
            .await?
            .rows_affected)
    }

    /// PostgreSQL: the oldest transaction still running (all older ones are settled).
    /// SQLite: the highest `seq` committed.
    async fn horizon<C: Executor>(db: &C) -> StoreResult<u64> {
        let backend = db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => {
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon"
            }
            _ => "SELECT CAST(COALESCE(MAX(seq), 0) AS TEXT) AS horizon FROM stream_event",
        };
        let row = Horizon::find_by_statement(Statement::from_string(backend, sql))
            .one(db)
            .await?
            .ok_or_else(|| StoreError::Corrupt("no feed horizon".to_owned()))?;
        parse_tx(&row.horizon)
    }
}

fn parse_tx(text: &str) -> StoreResult<u64> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("feed position {text}")))
}

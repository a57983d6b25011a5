//! The change feed behind the live streams: one row per change a stream can show (a Holter
//! upload, a charted set of vital signs, an alert raised or moved on), written in the same
//! transaction as the change, so every server replica sharing the database can follow it.
//!
//! On PostgreSQL each row also records the writing transaction (`tx`, a `xid8`): sequence
//! numbers are handed out before commit, so a reader that only remembered the highest `seq` it
//! saw could step over a row whose transaction commits later. Readers instead take rows of
//! transactions older than every one still running, which can no longer change. SQLite has one
//! writer at a time, so its `seq` order is commit order and needs no such column.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StreamEvent {
    Table,
    Seq,
    Topic,
    PatientId,
    ResourceId,
    OccurredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StreamEvent::Table)
                    .col(big_pk_auto(StreamEvent::Seq))
                    .col(string_len(StreamEvent::Topic, 32))
                    .col(uuid(StreamEvent::PatientId))
                    .col(uuid_null(StreamEvent::ResourceId))
                    .col(timestamp_with_time_zone(StreamEvent::OccurredAt))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(
                "ALTER TABLE stream_event ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id()",
            )
            .await?;
            db.execute_unprepared("CREATE INDEX idx_stream_event_tx_seq ON stream_event (tx, seq)")
                .await?;
        }
        // Pruning by age.
        manager
            .create_index(
                Index::create()
                    .name("idx_stream_event_occurred_at")
                    .table(StreamEvent::Table)
                    .col(StreamEvent::OccurredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StreamEvent::Table).to_owned())
            .await
    }
}

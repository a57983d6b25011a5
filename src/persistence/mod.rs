//! Persistence layer: connections, the generic repository, and one repository per aggregate that
//! maps SeaORM rows to domain values. Nothing above this layer sees SeaORM.

pub mod alerts;
pub mod audit;
pub mod bulk;
pub mod ecg_trends;
pub mod ecgs;
pub mod entities;
pub mod exam_types;
pub mod exams;
pub mod idempotency;
pub mod lab_results;
pub mod notifications;
pub mod patients;
pub mod repository;
pub mod result_store;
pub mod results_inbox;
pub mod sessions;
pub mod stream_events;
pub mod throttle;
pub mod users;
pub mod vital_signs;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

pub use sea_orm::ConnectionTrait as Executor;

/// Why a storage operation failed, in terms the services can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such record")]
    NotFound,
    /// A unique constraint refused the write; the text names the constraint for logs.
    #[error("unique constraint violated: {0}")]
    Duplicate(String),
    /// A conditional update found another version than the one it expected.
    #[error("the record was changed by someone else")]
    VersionMismatch,
    /// A stored row no longer parses into a domain value.
    #[error("stored row is not valid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(DbErr),
    /// The result store (a directory or S3-compatible storage) failed.
    #[error("result store: {0}")]
    Objects(String),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => StoreError::Duplicate(detail),
            _ => match err {
                DbErr::RecordNotFound(_) => StoreError::NotFound,
                DbErr::RecordNotUpdated => StoreError::VersionMismatch,
                other => StoreError::Database(other),
            },
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Pool sizes and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections for reads (SQLite) or for everything (PostgreSQL).
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    pub busy_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// The database handles. On SQLite, one writer connection serialises writes inside the process
/// (so they never fight for the lock), while a pool of readers serves reads concurrently from
/// the WAL. On PostgreSQL both are the same pool.
#[derive(Clone, Debug)]
pub struct Database {
    reader: DatabaseConnection,
    writer: DatabaseConnection,
    /// A SQLite file with its own reader pool (not PostgreSQL, not in memory).
    sqlite_file: bool,
}

impl Database {
    pub async fn connect(url: &str, settings: PoolSettings) -> Result<Self, DbErr> {
        if url.starts_with("sqlite:") {
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let writer = Self::sqlite_pool(url, 1, settings).await?;
            // An in-memory database exists once per connection, so it cannot have readers.
            let reader = if in_memory {
                writer.clone()
            } else {
                Self::sqlite_pool(url, settings.max_connections, settings).await?
            };
            Ok(Self {
                reader,
                writer,
                sqlite_file: !in_memory,
            })
        } else {
            let mut options = ConnectOptions::new(url);
            options
                .max_connections(settings.max_connections)
                .min_connections(1)
                .acquire_timeout(settings.acquire_timeout)
                // A ping before every checkout is a network round trip per query; only
                // connections idle long enough to have been dropped by a proxy are tested.
                .test_before_acquire_if_idle_for(Duration::from_secs(30))
                .sqlx_logging(false);
            let pool = sea_orm::Database::connect(options).await?;
            Ok(Self {
                reader: pool.clone(),
                writer: pool,
                sqlite_file: false,
            })
        }
    }

    async fn sqlite_pool(
        url: &str,
        connections: u32,
        settings: PoolSettings,
    ) -> Result<DatabaseConnection, DbErr> {
        let busy_timeout = settings.busy_timeout;
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(connections)
            .min_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            // A local file cannot drop a connection: pinging it before every checkout would
            // only add a round trip to the connection's worker thread per query.
            .test_before_acquire(false)
            .sqlx_logging(false)
            // Set on every connection the pool opens, not once on whichever one a query gets.
            .map_sqlx_sqlite_opts(move |o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(busy_timeout)
                    .foreign_keys(true)
                    // Checkpoints normally run beside the writer (`spawn_checkpointer`); this is
                    // only the backstop should they fall behind.
                    .pragma("wal_autocheckpoint", "20000")
                    // 16 MiB of page cache per connection (the default is 2 MiB): a large
                    // import's transaction then stays in memory instead of spilling dirty
                    // pages into the log again and again before it commits.
                    .pragma("cache_size", "-16384")
            });
        sea_orm::Database::connect(options).await
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.writer, None).await
    }

    pub fn backend(&self) -> DbBackend {
        self.writer.get_database_backend()
    }

    /// The handle for reads outside a transaction.
    pub fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// The handle for single-statement writes that need no transaction of their own (each is
    /// atomic); on SQLite it is the one writer connection.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes cannot fail half-way with
    /// SQLITE_BUSY_SNAPSHOT.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        let sqlite_transaction_mode =
            (self.backend() == DbBackend::Sqlite).then_some(SqliteTransactionMode::Immediate);
        self.writer
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode,
                ..Default::default()
            })
            .await
    }

    /// On SQLite, copies the write-ahead log back into the database every `every`, from a reader
    /// connection. Left to the writer, a checkpoint would run inside some commit and stall every
    /// request waiting on it; a passive checkpoint beside it never blocks the writer.
    pub fn spawn_checkpointer(&self, every: Duration) {
        if !self.sqlite_file {
            return;
        }
        let reader = self.reader.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(error) = reader
                    .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                    .await
                {
                    tracing::warn!(%error, "WAL checkpoint failed");
                }
            }
        });
    }

    /// Checks that both handles reach the database.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.reader.ping().await?;
        self.writer.ping().await
    }

    pub async fn close(self) -> Result<(), DbErr> {
        self.reader.close_by_ref().await?;
        self.writer.close_by_ref().await
    }
}

/// Parses a stored text column into a domain value, flagging rows that no longer parse.
pub(crate) fn stored<T>(column: &str, parsed: Result<T, String>) -> StoreResult<T> {
    parsed.map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

/// A time as either database writes it into JSON (SQLite's stored text, `YYYY-MM-DD HH:MM:SS.f+00:00`;
/// PostgreSQL's RFC 3339).
pub(crate) fn stored_time(text: &str) -> StoreResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {text}: {e}")))
}

/// The SQL of a query whose shape never changes, built by SeaORM once per backend and then only
/// given fresh values. The hottest reads (a chart opened by id) would otherwise build, render and
/// drop the same statement tree on every request: a twentieth of the read's CPU on SQLite.
pub(crate) struct BuiltSql {
    // SQLite, PostgreSQL, MySQL: the placeholders differ.
    by_backend: [std::sync::OnceLock<(String, usize)>; 3],
}

impl BuiltSql {
    pub(crate) const fn new() -> Self {
        Self {
            by_backend: [const { std::sync::OnceLock::new() }; 3],
        }
    }

    /// `build` renders the query with placeholder values; `values` replace them, in order, and
    /// must be as many.
    pub(crate) fn statement<const N: usize>(
        &self,
        backend: DbBackend,
        build: impl FnOnce(DbBackend) -> sea_orm::Statement,
        values: [sea_orm::Value; N],
    ) -> sea_orm::Statement {
        let slot = match backend {
            DbBackend::Sqlite => 0,
            DbBackend::Postgres => 1,
            _ => 2,
        };
        let (sql, count) = self.by_backend[slot].get_or_init(|| {
            let built = build(backend);
            let count = built.values.as_ref().map_or(0, |v| v.0.len());
            (built.sql, count)
        });
        assert_eq!(*count, N, "a built statement takes {count} values, not {N}");
        sea_orm::Statement::from_sql_and_values(backend, sql.as_str(), values)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ColumnTrait, DbBackend, EntityTrait, QueryFilter, QueryTrait};
    use uuid::Uuid;

    use super::BuiltSql;
    use super::entities::patient::{Column, Entity};

    #[test]
    fn a_built_statement_is_the_query_builders_own_with_the_new_values() {
        let built = BuiltSql::new();
        let id = Uuid::now_v7();
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            let build = |b| Entity::find().filter(Column::Id.eq(Uuid::nil())).build(b);
            let fresh = Entity::find().filter(Column::Id.eq(id)).build(backend);
            // Twice: the second comes from the cache.
            for _ in 0..2 {
                let reused = built.statement(backend, build, [id.into()]);
                assert_eq!(reused.sql, fresh.sql);
                assert_eq!(reused.values, fresh.values);
            }
        }
    }

    /// `.cargo/config.toml` builds the bundled SQLite with these options; a build that loses
    /// them (another SQLite linked, the variable not read) writes every batch's statement
    /// journal to a temporary file again.
    #[tokio::test]
    async fn the_bundled_sqlite_has_the_compile_options_the_writer_relies_on() {
        use sea_orm::ConnectionTrait;
        let db = super::Database::connect("sqlite::memory:", Default::default())
            .await
            .unwrap();
        let options: Vec<String> = db
            .reader()
            .query_all_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA compile_options",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect();
        for expected in ["DEFAULT_MEMSTATUS=0", "STMTJRNL_SPILL=4194304"] {
            assert!(
                options.iter().any(|o| o == expected),
                "{expected} missing from {options:?}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "takes 1 values, not 0")]
    fn a_built_statement_refuses_the_wrong_number_of_values() {
        let built = BuiltSql::new();
        built.statement(
            DbBackend::Sqlite,
            |b| Entity::find().filter(Column::Id.eq(Uuid::nil())).build(b),
            [],
        );
    }
}

//! Bulk appends and packed reads. Appends, two ways: narrow rows (audit events) as one statement
//! with one parameter, a JSON array of rows that the database unpacks itself (`jsonb_each` on
//! SQLite, `jsonb_array_elements` on PostgreSQL), prepared once per connection whatever the row
//! count; wide rows (charted vital signs) as multi-row `VALUES` of a fixed shape, because
//! unpacking a cell from JSON in SQL costs more the more cells a row has. Reads of many small
//! rows come back packed by the database into one JSON array in one row: handed over one by one,
//! each row would cost a trip between the driver's thread and ours.

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{DbBackend, Statement};
use uuid::Uuid;

use super::{Executor, StoreError, StoreResult};

/// How a JSON cell becomes a column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Uuid,
    Text,
    Timestamp,
    Double,
    SmallInt,
    Bool,
}

/// A table's columns in the order the JSON rows list them.
pub struct BulkTable {
    pub table: &'static str,
    pub columns: &'static [(&'static str, Cell)],
}

impl BulkTable {
    fn sql(&self, backend: DbBackend) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        let cells: Vec<String> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, cell))| match backend {
                DbBackend::Postgres => match cell {
                    Cell::Uuid => format!("(e->>{i})::uuid"),
                    Cell::Text => format!("e->>{i}"),
                    Cell::Timestamp => format!("(e->>{i})::timestamptz"),
                    Cell::Double => format!("(e->>{i})::double precision"),
                    Cell::SmallInt => format!("(e->>{i})::smallint"),
                    Cell::Bool => format!("(e->>{i})::boolean"),
                },
                // SQLite stores a UUID as the 16-byte blob the driver binds, a time as the
                // driver's RFC 3339 text, and JSON true/false as 1/0.
                _ => match cell {
                    Cell::Uuid => format!("unhex(value->>{i})"),
                    _ => format!("value->>{i}"),
                },
            })
            .collect();
        match backend {
            DbBackend::Postgres => format!(
                "INSERT INTO {} ({}) SELECT {} FROM jsonb_array_elements($1::text::jsonb) \
                 WITH ORDINALITY AS t(e, n) ORDER BY n",
                self.table,
                names.join(", "),
                cells.join(", ")
            ),
            // `jsonb_each`, not `json_each`: both parse the parameter once, but `json_each`
            // hands each row back as JSON text that every `->>` then parses again, where
            // `jsonb_each` hands it back in the parsed (binary) form the lookups read directly.
            _ => format!(
                "INSERT INTO {} ({}) SELECT {} FROM jsonb_each(?) ORDER BY key",
                self.table,
                names.join(", "),
                cells.join(", ")
            ),
        }
    }

    /// Appends `rows` (each serialized as a JSON array in column order) in one statement, in
    /// order.
    pub async fn append<C: Executor, R: serde::Serialize>(
        &self,
        db: &C,
        rows: &[R],
    ) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let json = serde_json::to_string(rows)
            .map_err(|e| StoreError::Corrupt(format!("{} rows as JSON: {e}", self.table)))?;
        let backend = db.get_database_backend();
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            self.sql(backend),
            [json.into()],
        ))
        .await?;
        Ok(())
    }
}

/// Rows per multi-row `VALUES` statement: full chunks share one SQL text, prepared once.
const VALUES_ROWS: usize = 64;

/// Appends `rows` (each the values of `columns`, in order) with multi-row `INSERT ... VALUES`
/// statements of `VALUES_ROWS` rows, written once per shape rather than built per call: for
/// wide rows this beats unpacking JSON in SQL, whose per-cell lookups grow with the width.
pub async fn append_values<C: Executor>(
    db: &C,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<sea_orm::Value>>,
) -> StoreResult<()> {
    insert_values(db, table, columns, rows, "").await.map(drop)
}

/// As `append_values`, skipping rows whose key is already stored; returns how many were added.
pub async fn append_values_skipping_duplicates<C: Executor>(
    db: &C,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<sea_orm::Value>>,
) -> StoreResult<u64> {
    insert_values(db, table, columns, rows, " ON CONFLICT DO NOTHING").await
}

async fn insert_values<C: Executor>(
    db: &C,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<sea_orm::Value>>,
    suffix: &str,
) -> StoreResult<u64> {
    let backend = db.get_database_backend();
    let width = columns.len();
    let sql_for = |n: usize| {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut p = 0;
        for r in 0..n {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                p += 1;
                match backend {
                    DbBackend::Postgres => sql.push_str(&format!("${p}")),
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        sql.push_str(suffix);
        sql
    };
    let full = sql_for(VALUES_ROWS);
    let mut rows = rows.into_iter().peekable();
    let mut inserted = 0;
    while rows.peek().is_some() {
        let chunk: Vec<Vec<sea_orm::Value>> = rows.by_ref().take(VALUES_ROWS).collect();
        let n = chunk.len();
        let sql = if n == VALUES_ROWS {
            full.clone()
        } else {
            sql_for(n)
        };
        let values: Vec<sea_orm::Value> = chunk.into_iter().flatten().collect();
        inserted += db
            .execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?
            .rows_affected();
    }
    Ok(inserted)
}

/// The placeholders of `count` parameters numbered from `first` (1-based): `$n` on PostgreSQL,
/// `?` on SQLite.
pub fn marks(backend: DbBackend, first: usize, count: usize) -> Vec<String> {
    (first..first + count)
        .map(|n| match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        })
        .collect()
}

/// The cells of one packed row, in each dialect: `sqlite` for `json_array(...)`, `postgres` for
/// `json_build_array(...)` (UUIDs differ: SQLite stores blobs, so `lower(hex(id))` there).
pub struct PackedRow<'a> {
    pub sqlite: &'a str,
    pub postgres: &'a str,
}

/// Runs `SELECT <every row of `cells` packed into one JSON array> <from>` and deserializes the
/// rows (each a JSON array of the cells, in order). `from` is the rest of the statement (`FROM
/// ... WHERE ...`), with placeholders from `marks`.
pub async fn packed<C: Executor, T: serde::de::DeserializeOwned>(
    db: &C,
    cells: PackedRow<'_>,
    from: &str,
    values: Vec<sea_orm::Value>,
) -> StoreResult<Vec<T>> {
    use sea_orm::FromQueryResult;

    #[derive(Debug, FromQueryResult)]
    struct Packed {
        rows: Option<String>,
    }
    let backend = db.get_database_backend();
    let select = match backend {
        DbBackend::Postgres => format!(
            "SELECT COALESCE(json_agg(json_build_array({})), '[]')::text AS rows {from}",
            cells.postgres
        ),
        _ => format!(
            "SELECT json_group_array(json_array({})) AS rows {from}",
            cells.sqlite
        ),
    };
    let packed = Packed::find_by_statement(Statement::from_sql_and_values(backend, select, values))
        .one(db)
        .await?
        .and_then(|p| p.rows)
        .unwrap_or_else(|| "[]".to_owned());
    serde_json::from_str(&packed).map_err(|e| StoreError::Corrupt(format!("packed rows: {e}")))
}

/// `packed` over the rows of `table` whose `column` is one of `ids` and that meet `condition`
/// (SQL without parameters, or empty).
pub async fn packed_in<C: Executor, T: serde::de::DeserializeOwned>(
    db: &C,
    cells: PackedRow<'_>,
    table: &str,
    column: &str,
    ids: &[Uuid],
    condition: &str,
) -> StoreResult<Vec<T>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = marks(db.get_database_backend(), 1, ids.len()).join(", ");
    let from = format!("FROM {table} WHERE {column} IN ({marks}) {condition}");
    packed(
        db,
        cells,
        &from,
        ids.iter().map(|id| (*id).into()).collect(),
    )
    .await
}

/// A time as both databases read it back: RFC 3339 with the UTC offset, as the driver writes.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A UUID as simple hex (SQLite unhexes it into its blob; PostgreSQL parses it).
pub fn uuid(id: Uuid) -> String {
    id.simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: BulkTable = BulkTable {
        table: "t",
        columns: &[
            ("id", Cell::Uuid),
            ("at", Cell::Timestamp),
            ("ok", Cell::Bool),
        ],
    };

    #[test]
    fn the_statement_unpacks_cells_by_type() {
        assert_eq!(
            T.sql(DbBackend::Sqlite),
            "INSERT INTO t (id, at, ok) SELECT unhex(value->>0), value->>1, value->>2 \
             FROM jsonb_each(?) ORDER BY key"
        );
        assert_eq!(
            T.sql(DbBackend::Postgres),
            "INSERT INTO t (id, at, ok) SELECT (e->>0)::uuid, (e->>1)::timestamptz, \
             (e->>2)::boolean FROM jsonb_array_elements($1::text::jsonb) WITH ORDINALITY AS \
             t(e, n) ORDER BY n"
        );
    }

    #[test]
    fn placeholders_are_numbered_on_postgres_only() {
        assert_eq!(marks(DbBackend::Postgres, 3, 2), ["$3", "$4"]);
        assert_eq!(marks(DbBackend::Sqlite, 3, 2), ["?", "?"]);
        assert!(marks(DbBackend::Sqlite, 1, 0).is_empty());
    }

    #[test]
    fn times_and_ids_are_written_as_the_driver_writes_them() {
        let at = DateTime::parse_from_rfc3339("2026-11-24T08:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(time(at), "2026-11-24T08:00:00.500+00:00");
        assert_eq!(uuid(Uuid::nil()), "00000000000000000000000000000000");
    }
}

//! Performance floor for `bench/run.sh`.
//!
//! Three routes, each the least work that can answer them:
//! - `GET /hello`          -> "Hello, World!"
//! - `GET /json`           -> a small JSON object
//! - `GET /patients/{id}`  -> HS256 bearer check + `SELECT * FROM patient WHERE id = ?`
//!   on the SQLite file the main server created, returned as JSON; or, given a PostgreSQL URL,
//!   the same read on the main server's PostgreSQL database, with the row's JSON built by
//!   PostgreSQL itself (`row_to_json`), the least work a Rust server can do for it.
//!
//! The main server's `GET /api/v1/patients/{id}` is judged against the third route
//! measured in the same run (see shared/PERF-NOTES.md), so this must stay lean:
//! no middleware, no logging, one query per request.
//!
//! Configuration (environment):
//! - `JWT_SECRET`   (required) the same secret the main server signs with.
//! - `FLOOR_DB`     path to the SQLite file, a `sqlite://PATH?...` URL, or a
//!   `postgres://...` URL. Falls back to `DATABASE_URL`.
//! - `FLOOR_BIND`   listen address, default `127.0.0.1:18090`.
//! - `FLOOR_POOL`   reader pool size, default 8 (the pool size the note's floor uses).

use std::{env, str::FromStr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::{Map, Value, json};
use sqlx::{
    Column, Row, TypeInfo, ValueRef,
    postgres::{PgPool, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow},
};

/// Claims the main server issues; only these two are checked besides `exp`.
const ISSUER: &str = "oncology-registry";
const AUDIENCE: &str = "oncology-registry-api";

/// How `patient.id` is stored. SeaORM/sqlx may store a UUID as TEXT or as a
/// 16-byte BLOB depending on the column type the migration chose, so the floor
/// detects it once instead of guessing (a string bound against a BLOB column
/// silently matches nothing).
#[derive(Clone, Copy, Debug)]
enum IdMode {
    Text,
    Blob,
    Integer,
}

/// The database the floor reads.
enum Store {
    Sqlite { pool: SqlitePool, id_mode: IdMode },
    Postgres(PgPool),
}

struct AppState {
    store: Store,
    key: DecodingKey,
    validation: Validation,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = env::var("JWT_SECRET").map_err(|_| "JWT_SECRET must be set")?;
    let db = env::var("FLOOR_DB")
        .or_else(|_| env::var("DATABASE_URL"))
        .map_err(|_| "FLOOR_DB (or DATABASE_URL) must name the SQLite file")?;
    let bind = env::var("FLOOR_BIND").unwrap_or_else(|_| "127.0.0.1:18090".into());
    let pool_size: u32 = env::var("FLOOR_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);

    let (store, described) = if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        let pool = PgPoolOptions::new()
            .min_connections(pool_size)
            .max_connections(pool_size)
            .connect(&db)
            .await?;
        (Store::Postgres(pool), "postgres".to_owned())
    } else {
        // Accept a plain path or the main server's URL form (sqlite://PATH?mode=rwc).
        let path = db
            .strip_prefix("sqlite://")
            .or_else(|| db.strip_prefix("sqlite:"))
            .unwrap_or(&db);
        let path = path.split('?').next().unwrap_or(path);

        // WAL so readers never block on the (absent) writer; busy_timeout in case the
        // main server is still checkpointing when we start. No create: the file must
        // be the one the main server migrated and seeded.
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .min_connections(pool_size)
            .max_connections(pool_size)
            .connect_with(opts)
            .await?;
        let id_mode = detect_id_mode(&pool).await?;
        let described = format!("{path}, id {id_mode:?}");
        (Store::Sqlite { pool, id_mode }, described)
    };

    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);

    let state = Arc::new(AppState {
        store,
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
    });

    let app = Router::new()
        .route("/hello", get(|| async { "Hello, World!" }))
        .route(
            "/json",
            get(|| async { Json(json!({"status": "ok", "service": "floor", "version": 1})) }),
        )
        .route("/patients/{id}", get(get_patient))
        .with_state(state);

    let listener = tokio::net::TcpListener::bind(&bind).await?;
    eprintln!("floor listening on {bind} (db {described}, pool {pool_size})");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

/// Looks at one stored id. An empty table (floor started before seeding) falls
/// back to TEXT, which is what a UUID-as-string schema uses.
async fn detect_id_mode(pool: &SqlitePool) -> Result<IdMode, sqlx::Error> {
    let kind: Option<String> = sqlx::query_scalar("SELECT typeof(id) FROM patient LIMIT 1")
        .fetch_optional(pool)
        .await?;
    Ok(match kind.as_deref() {
        Some("blob") => IdMode::Blob,
        Some("integer") => IdMode::Integer,
        _ => IdMode::Text,
    })
}

async fn get_patient(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    // 1. Bearer token: signature, exp, iss, aud. Claims themselves are not needed.
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    if decode::<serde::de::IgnoredAny>(token, &state.key, &state.validation).is_err() {
        return StatusCode::UNAUTHORIZED.into_response();
    }

    // 2. Point read by primary key, bound the way ids are stored.
    let (pool, id_mode) = match &state.store {
        Store::Sqlite { pool, id_mode } => (pool, *id_mode),
        Store::Postgres(pool) => return get_patient_pg(pool, id).await,
    };
    let query = sqlx::query("SELECT * FROM patient WHERE id = ?");
    let query = match id_mode {
        IdMode::Text => query.bind(id),
        IdMode::Integer => match id.parse::<i64>() {
            Ok(n) => query.bind(n),
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        },
        IdMode::Blob => match uuid_bytes(&id) {
            Some(bytes) => query.bind(bytes.to_vec()),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    match query.fetch_optional(pool).await {
        Ok(Some(row)) => Json(row_to_json(&row)).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The PostgreSQL read: one statement (prepared once per connection by sqlx), the row turned
/// into JSON text by the database, sent on as it is. A malformed id is a 404 before the query,
/// where the cast to `uuid` would fail.
async fn get_patient_pg(pool: &PgPool, id: String) -> Response {
    if uuid_bytes(&id).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let json: Result<Option<String>, _> =
        sqlx::query_scalar("SELECT row_to_json(p)::text FROM patient p WHERE p.id = $1::uuid")
            .bind(id)
            .fetch_optional(pool)
            .await;
    match json {
        Ok(Some(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Every column by its stored SQLite class, so the floor needs no knowledge of
/// the patient schema (it follows the migrations without edits).
fn row_to_json(row: &SqliteRow) -> Value {
    let mut obj = Map::with_capacity(row.columns().len());
    for (i, col) in row.columns().iter().enumerate() {
        let value = match row.try_get_raw(i) {
            Ok(raw) if raw.is_null() => Value::Null,
            Ok(raw) => match raw.type_info().name() {
                "INTEGER" => row
                    .try_get_unchecked::<i64, _>(i)
                    .map(Value::from)
                    .unwrap_or(Value::Null),
                "REAL" => row
                    .try_get_unchecked::<f64, _>(i)
                    .map(Value::from)
                    .unwrap_or(Value::Null),
                "BLOB" => row
                    .try_get_unchecked::<Vec<u8>, _>(i)
                    .map(|b| Value::String(blob_to_string(&b)))
                    .unwrap_or(Value::Null),
                _ => row
                    .try_get_unchecked::<String, _>(i)
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            },
            Err(_) => Value::Null,
        };
        obj.insert(col.name().to_owned(), value);
    }
    Value::Object(obj)
}

/// 16-byte blobs are UUIDs in this schema; anything else is shown as hex.
fn blob_to_string(b: &[u8]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    if b.len() == 16 {
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    } else {
        hex
    }
}

/// Parses the canonical (or dash-less) UUID text form into its 16 bytes.
fn uuid_bytes(s: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = s.bytes().filter(|&c| c != b'-').collect();
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Stops on Ctrl-C or SIGTERM so bench/run.sh can end it with a plain `kill`.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

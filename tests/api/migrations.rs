//! The migrations on a fresh database: up creates the schema, down removes all of it, and the
//! cycle can be repeated.

use migration::{Migrator, MigratorTrait, SchemaManager};
use oncology_registry::app::AppState;
use oncology_registry::persistence::Database;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::helpers::{fresh_database, test_settings};

const TABLES: [&str; 18] = [
    "patient",
    "app_user",
    "audit_event",
    "refresh_token",
    "login_throttle",
    "idempotency_key",
    "vital_signs",
    "lab_result",
    "alert",
    "observation_summary",
    "ecg",
    "ecg_lead",
    "ecg_trend_point",
    "stream_event",
    "exam_type",
    "exam",
    "notification",
    "result_file",
];

async fn tables_present(conn: &DatabaseConnection) -> Vec<&'static str> {
    let manager = SchemaManager::new(conn);
    let mut present = Vec::new();
    for table in TABLES {
        if manager.has_table(table).await.expect("has_table") {
            present.push(table);
        }
    }
    present
}

/// The number of append-only guards (triggers) on `audit_event`.
async fn audit_guards(conn: &DatabaseConnection) -> i64 {
    let sql = match conn.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = to_regclass('audit_event') AND NOT tgisinternal"
        }
        _ => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'"
        }
    };
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_leaving_nothing_pending() {
    let (url, cleanup) = fresh_database().await;
    let conn = sea_orm::Database::connect(&url).await.unwrap();
    assert!(tables_present(&conn).await.is_empty());
    let all = Migrator::migrations().len();
    assert_eq!(
        Migrator::get_pending_migrations(&conn).await.unwrap().len(),
        all
    );

    // Up, through the application's own handle.
    let db = Database::connect(&url, Default::default()).await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(tables_present(&conn).await, TABLES);
    assert!(
        Migrator::get_pending_migrations(&conn)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        Migrator::get_applied_migrations(&conn).await.unwrap().len(),
        all
    );
    let guards = audit_guards(&conn).await;
    assert!(guards >= 2, "append-only guards missing: {guards}");

    // Up again changes nothing.
    db.migrate().await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    assert_eq!(tables_present(&conn).await, TABLES);
    assert_eq!(
        Migrator::get_applied_migrations(&conn).await.unwrap().len(),
        all
    );
    assert_eq!(audit_guards(&conn).await, guards);
    db.close().await.unwrap();

    // Down removes every table (and, on PostgreSQL, the trigger function).
    Migrator::down(&conn, None).await.unwrap();
    assert!(
        tables_present(&conn).await.is_empty(),
        "left behind: {:?}",
        tables_present(&conn).await
    );
    assert_eq!(
        Migrator::get_pending_migrations(&conn).await.unwrap().len(),
        all
    );
    assert!(
        Migrator::get_applied_migrations(&conn)
            .await
            .unwrap()
            .is_empty()
    );
    if conn.get_database_backend() == DbBackend::Postgres {
        let row = conn
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT COUNT(*) FROM pg_proc WHERE proname = 'audit_event_append_only'".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 0);
    }

    // And up again works, guards included.
    Migrator::up(&conn, None).await.unwrap();
    assert_eq!(tables_present(&conn).await, TABLES);
    assert!(
        Migrator::get_pending_migrations(&conn)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(audit_guards(&conn).await, guards);

    conn.close().await.unwrap();
    cleanup();
}

#[tokio::test]
async fn the_application_starts_on_a_database_that_went_down_and_up() {
    let (url, cleanup) = fresh_database().await;
    let conn = sea_orm::Database::connect(&url).await.unwrap();
    Migrator::up(&conn, None).await.unwrap();
    Migrator::down(&conn, None).await.unwrap();
    assert!(tables_present(&conn).await.is_empty());
    conn.close().await.unwrap();

    // Start-up applies what is pending, and the schema works end to end.
    let state = AppState::build(&test_settings(&url))
        .await
        .expect("application starts");
    let new = oncology_registry::domain::user::NewUser::parse(
        "ward.admin",
        "Ward Admin",
        "admin",
        "a-long-enough-password",
    )
    .unwrap();
    let user = state.services.users.create_as_operator(new).await.unwrap();
    assert_eq!(user.version, 1);
    let count = state
        .db
        .reader()
        .query_one_raw(Statement::from_string(
            state.db.backend(),
            "SELECT COUNT(*) FROM audit_event WHERE action = 'create' AND resource_type = 'user'"
                .to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(count, 1);
    assert!(
        Migrator::get_pending_migrations(state.db.reader())
            .await
            .unwrap()
            .is_empty()
    );
    state.db.clone().close().await.unwrap();
    cleanup();
}

//! The audit log: what gets written (and what does not), how administrators read it, and that
//! nobody can rewrite it.

use axum::http::StatusCode;
use fake::Fake;
use fake::faker::internet::en::{IPv4, Username};
use futures::future::join_all;
use oncology_registry::domain::user::Role;
use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, patient_body, username_of};

/// Every audit row about `resource_id`, oldest first, as (action, outcome, actor_role, request_id).
async fn rows_for(
    app: &TestApp,
    resource_id: &str,
) -> Vec<(String, String, Option<String>, Option<String>)> {
    app.query(&format!(
        "SELECT action, outcome, actor_role, request_id FROM audit_event WHERE resource_id = '{resource_id}' ORDER BY id"
    ))
    .await
    .iter()
    .map(|r| {
        (
            r.try_get("", "action").unwrap(),
            r.try_get("", "outcome").unwrap(),
            r.try_get("", "actor_role").unwrap(),
            r.try_get("", "request_id").unwrap(),
        )
    })
    .collect()
}

async fn patient_creates(app: &TestApp) -> i64 {
    app.count(
        "SELECT COUNT(*) FROM audit_event WHERE action = 'create' AND resource_type = 'patient'",
    )
    .await
}

async fn my_id(app: &TestApp, token: &str) -> String {
    let r = app.get("/api/v1/auth/me").bearer(token).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

fn items(r: &crate::helpers::TestResponse) -> &Vec<Value> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().unwrap()
}

#[tokio::test]
async fn registering_a_patient_writes_one_create_event_with_the_request_id() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    let physician_id = my_id(&app, &physician).await;
    let request_id = format!("ward-{}", Uuid::new_v4().simple());

    let r = app
        .post("/api/v1/patients")
        .bearer(&physician)
        .header("x-request-id", &request_id)
        .client_addr("192.0.2.17:5555")
        .json(patient_body())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();

    let rows = app
        .query(&format!(
            "SELECT actor_username, actor_role, action, resource_type, outcome, request_id, client_addr, reason \
             FROM audit_event WHERE action = 'create' AND resource_id = '{id}'"
        ))
        .await;
    assert_eq!(rows.len(), 1, "exactly one create event");
    let row = &rows[0];
    let text = |c: &str| row.try_get::<Option<String>>("", c).unwrap();
    assert_eq!(
        text("actor_username").as_deref(),
        Some(username_of(Role::Physician).as_str())
    );
    assert_eq!(text("actor_role").as_deref(), Some("physician"));
    assert_eq!(text("resource_type").as_deref(), Some("patient"));
    assert_eq!(text("outcome").as_deref(), Some("success"));
    assert_eq!(text("request_id").as_deref(), Some(request_id.as_str()));
    assert_eq!(text("client_addr").as_deref(), Some("192.0.2.17"));
    assert_eq!(text("reason"), None);

    // The same event through the API, with the actor's id.
    let admin = app.token(Role::Admin).await;
    let r = app
        .get(&format!(
            "/api/v1/audit-events?resource_id={id}&action=create"
        ))
        .bearer(&admin)
        .send()
        .await;
    let events = items(&r);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor_id"], physician_id);
    assert_eq!(events[0]["request_id"], request_id);
}

#[tokio::test]
async fn a_refused_registration_writes_no_create_event() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    let existing = app.create_patient(&physician, patient_body()).await;
    assert_eq!(patient_creates(&app).await, 1);

    let mut invalid = patient_body();
    invalid["birth_date"] = json!("2999-01-01");
    let r = app
        .post("/api/v1/patients")
        .bearer(&physician)
        .json(invalid)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);

    let mut duplicate = patient_body();
    duplicate["mrn"] = existing["mrn"].clone();
    let r = app
        .post("/api/v1/patients")
        .bearer(&physician)
        .json(duplicate)
        .send()
        .await;
    r.problem(StatusCode::CONFLICT);

    let technician = app.token(Role::Technician).await;
    let r = app
        .post("/api/v1/patients")
        .bearer(&technician)
        .json(patient_body())
        .send()
        .await;
    r.problem(StatusCode::FORBIDDEN);

    assert_eq!(patient_creates(&app).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, 1);
}

#[tokio::test]
async fn reading_a_patient_writes_a_read_event() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    let id = app.create_patient(&physician, patient_body()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let nurse = app.token(Role::Nurse).await;

    let r = app
        .get(&format!("/api/v1/patients/{id}"))
        .bearer(&nurse)
        .header("x-request-id", "read-1")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let rows = rows_for(&app, &id).await;
    let kinds: Vec<(&str, &str, Option<&str>)> = rows
        .iter()
        .map(|(a, o, r, _)| (a.as_str(), o.as_str(), r.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("create", "success", Some("physician")),
            ("read", "success", Some("nurse"))
        ]
    );
    assert_eq!(rows[1].3.as_deref(), Some("read-1"));
    // Without an x-request-id header the server's generated one is recorded.
    assert!(
        Uuid::parse_str(rows[0].3.as_deref().unwrap()).is_ok(),
        "{rows:?}"
    );

    // A read of a patient that does not exist is not recorded as a read of it.
    let missing = Uuid::new_v4().to_string();
    app.get(&format!("/api/v1/patients/{missing}"))
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    assert!(rows_for(&app, &missing).await.is_empty());
}

#[tokio::test]
async fn a_failed_login_writes_a_login_failure_event() {
    let app = TestApp::spawn().await;
    let attempted: String = Username().fake();
    let addr: String = IPv4().fake();

    let r = app
        .post("/api/v1/auth/login")
        .client_addr(&format!("{addr}:40000"))
        .json(json!({"username": attempted, "password": "not the password at all"}))
        .send()
        .await;
    r.problem(StatusCode::UNAUTHORIZED);
    let wrong = app
        .login_as(&username_of(Role::Nurse), "wrong-password-for-tests")
        .await;
    wrong.problem(StatusCode::UNAUTHORIZED);

    let rows = app
        .query(
            "SELECT actor_id, actor_username, client_addr, resource_type, reason FROM audit_event \
             WHERE action = 'login' AND outcome = 'failure' ORDER BY id",
        )
        .await;
    assert_eq!(rows.len(), 2);
    let name = |i: usize| {
        rows[i]
            .try_get::<Option<String>>("", "actor_username")
            .unwrap()
    };
    assert_eq!(name(0).as_deref(), Some(attempted.as_str()));
    assert_eq!(name(1).as_deref(), Some(username_of(Role::Nurse).as_str()));
    assert_eq!(
        rows[0]
            .try_get::<Option<String>>("", "client_addr")
            .unwrap()
            .as_deref(),
        Some(addr.as_str())
    );
    assert_eq!(
        rows[0].try_get::<String>("", "resource_type").unwrap(),
        "session"
    );
    // The attempted password is never recorded.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE reason LIKE '%not the password%' OR reason LIKE '%wrong-password%'")
            .await,
        0
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'login' AND outcome = 'success'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_refused_authorization_writes_a_denied_event() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let r = app
        .get("/api/v1/patients")
        .bearer(&admin)
        .header("x-request-id", "peek")
        .send()
        .await;
    r.problem(StatusCode::FORBIDDEN);

    let rows = app
        .query("SELECT actor_username, actor_role, outcome, request_id, reason FROM audit_event WHERE action = 'authorize'")
        .await;
    assert_eq!(rows.len(), 1);
    let text = |c: &str| rows[0].try_get::<Option<String>>("", c).unwrap();
    assert_eq!(
        text("actor_username").as_deref(),
        Some(username_of(Role::Admin).as_str())
    );
    assert_eq!(text("actor_role").as_deref(), Some("admin"));
    assert_eq!(text("outcome").as_deref(), Some("denied"));
    assert_eq!(text("request_id").as_deref(), Some("peek"));
    assert!(
        text("reason").unwrap().contains("read_patient"),
        "{:?}",
        text("reason")
    );
    // Refused, so no list of patients was recorded.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE action = 'list'")
            .await,
        0
    );
}

#[tokio::test]
async fn administrators_read_the_log_newest_first_with_filters() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let physician = app.token(Role::Physician).await;
    let physician_id = my_id(&app, &physician).await;
    let nurse = app.token(Role::Nurse).await;
    let a = app.create_patient(&physician, patient_body()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = app.create_patient(&nurse, patient_body()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        let r = app
            .get(&format!("/api/v1/patients/{a}"))
            .bearer(&nurse)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    app.login_as(&username_of(Role::Technician), "definitely-wrong-password")
        .await;
    let stored = app.count("SELECT COUNT(*) FROM audit_event").await;

    let all = app
        .get("/api/v1/audit-events?limit=200")
        .bearer(&admin)
        .send()
        .await;
    let events = items(&all);
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "not newest first: {ids:?}"
    );
    assert_eq!(ids.len() as i64, stored, "every event listed");
    assert_eq!(events[0]["action"], "login");
    assert_eq!(events[0]["outcome"], "failure");

    let reads = app
        .get(&format!("/api/v1/audit-events?action=read&resource_id={a}"))
        .bearer(&admin)
        .send()
        .await;
    let reads = items(&reads);
    assert_eq!(reads.len(), 3);
    assert!(reads.iter().all(|e| e["action"] == "read"
        && e["resource_id"] == a.as_str()
        && e["actor_role"] == "nurse"));

    let creates = app
        .get("/api/v1/audit-events?action=create&resource_type=patient")
        .bearer(&admin)
        .send()
        .await;
    let creates = items(&creates);
    let created: Vec<&str> = creates
        .iter()
        .map(|e| e["resource_id"].as_str().unwrap())
        .collect();
    assert_eq!(created, [b.as_str(), a.as_str()]);

    let users = app
        .get("/api/v1/audit-events?resource_type=user&offset=0")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(users.body["total"], 4, "the four seeded accounts");
    assert!(
        items(&users)
            .iter()
            .all(|e| e["resource_type"] == "user" && e["actor_username"] == "operator")
    );

    let failures = app
        .get("/api/v1/audit-events?outcome=failure")
        .bearer(&admin)
        .send()
        .await;
    let failures = items(&failures);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["actor_username"], username_of(Role::Technician));

    let by_physician = app
        .get(&format!(
            "/api/v1/audit-events?actor_id={physician_id}&offset=0"
        ))
        .bearer(&admin)
        .send()
        .await;
    let mine = items(&by_physician);
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|e| e["actor_id"] == physician_id.as_str()));
    assert_eq!(
        by_physician.body["total"].as_i64().unwrap(),
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE actor_username = '{}'",
            username_of(Role::Physician)
        ))
        .await
    );

    // Reading the log is itself audited.
    assert!(
        app.count(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'list' AND resource_type = 'audit_log'"
        )
        .await
            >= 5
    );

    // Cursor pages walk the same events.
    let mut walked = Vec::new();
    let mut path = "/api/v1/audit-events?action=read&limit=2".to_owned();
    loop {
        let page = app.get(&path).bearer(&admin).send().await;
        walked.extend(items(&page).iter().map(|e| e["id"].as_i64().unwrap()));
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/audit-events?action=read&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(walked.len(), 3);
    assert!(walked.windows(2).all(|w| w[0] > w[1]));
}

#[tokio::test]
async fn invalid_audit_filters_are_422_and_clinical_roles_get_403() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    for (query, field) in [
        ("action=explode", "action"),
        ("outcome=maybe", "outcome"),
        ("resource_type=chart", "resource_type"),
        ("actor_id=not-a-uuid", "actor_id"),
        ("limit=500", "limit"),
    ] {
        let r = app
            .get(&format!("/api/v1/audit-events?{query}"))
            .bearer(&admin)
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.error_fields(), [field], "{query}: {}", r.body);
    }

    let before = app
        .count("SELECT COUNT(*) FROM audit_event WHERE outcome = 'denied'")
        .await;
    for role in [Role::Physician, Role::Nurse, Role::Technician] {
        let token = app.token(role).await;
        app.get("/api/v1/audit-events")
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE outcome = 'denied'")
            .await,
        before + 3
    );
    app.get("/api/v1/audit-events")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_audit_table_refuses_updates_and_deletes() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    app.create_patient(&physician, patient_body()).await;
    let snapshot = "SELECT id, action, outcome FROM audit_event ORDER BY id";
    let describe = |rows: Vec<sea_orm::QueryResult>| -> Vec<(i64, String, String)> {
        rows.iter()
            .map(|r| {
                (
                    r.try_get("", "id").unwrap(),
                    r.try_get("", "action").unwrap(),
                    r.try_get("", "outcome").unwrap(),
                )
            })
            .collect()
    };
    let before = describe(app.query(snapshot).await);
    assert!(before.len() >= 6, "{before:?}");

    let conn = app.db().reader();
    let update = conn
        .execute_unprepared("UPDATE audit_event SET outcome = 'x'")
        .await;
    assert!(update.is_err(), "UPDATE was allowed: {update:?}");
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = conn.execute_unprepared("DELETE FROM audit_event").await;
    assert!(delete.is_err(), "DELETE was allowed: {delete:?}");
    let one = conn
        .execute_unprepared(&format!(
            "DELETE FROM audit_event WHERE id = {}",
            before[0].0
        ))
        .await;
    assert!(one.is_err(), "deleting one row was allowed");
    if conn.get_database_backend() == DbBackend::Postgres {
        let truncate = conn.execute_unprepared("TRUNCATE audit_event").await;
        assert!(truncate.is_err(), "TRUNCATE was allowed");
    }

    assert_eq!(describe(app.query(snapshot).await), before);
    // Appending still works.
    app.get("/api/v1/patients").bearer(&physician).send().await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event").await,
        before.len() as i64 + 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_reads_leave_fifty_read_events() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    let nurse = app.token(Role::Nurse).await;
    let id = app.create_patient(&physician, patient_body()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/patients/{id}");

    let responses = join_all((0..50).map(|i| {
        let token = if i % 2 == 0 { &physician } else { &nurse };
        app.get(&path)
            .bearer(token)
            .header("x-request-id", &format!("burst-{i}"))
            .send()
    }))
    .await;
    for r in &responses {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["id"], id.as_str());
    }

    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'read' AND resource_id = '{id}'"
        ))
        .await,
        50
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(DISTINCT request_id) FROM audit_event WHERE action = 'read' AND resource_id = '{id}' AND request_id LIKE 'burst-%'"
        ))
        .await,
        50,
        "each request's own event"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'read' AND resource_id = '{id}' AND actor_role = 'nurse'"
        ))
        .await,
        25
    );
}

/// A read is answered only once its audit event is stored: when the log cannot take events, the
/// chart does not leave the server, and the reads after the log is back are served and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_whose_audit_events_cannot_be_stored_are_refused() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    let body = patient_body();
    let mrn = body["mrn"].as_str().unwrap().to_owned();
    let id = app.create_patient(&physician, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/patients/{id}");
    let writer = app.db().writer();

    writer
        .execute_unprepared("ALTER TABLE audit_event RENAME TO audit_event_away")
        .await
        .unwrap();
    let refused = join_all((0..20).map(|_| app.get(&path).bearer(&physician).send())).await;
    for r in &refused {
        let problem = r.problem(StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!r.body.to_string().contains(&mrn), "{problem}");
        assert!(
            !r.body.to_string().contains("audit_event"),
            "the cause is logged, not shown: {problem}"
        );
    }
    writer
        .execute_unprepared("ALTER TABLE audit_event_away RENAME TO audit_event")
        .await
        .unwrap();

    let served = join_all((0..20).map(|_| app.get(&path).bearer(&physician).send())).await;
    for r in &served {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["mrn"], mrn.as_str());
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'read' AND resource_id = '{id}'"
        ))
        .await,
        20,
        "only the reads that were served are in the log"
    );
}

#[tokio::test]
async fn a_list_audits_a_read_of_every_patient_it_shows() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = app
            .post("/api/v1/patients")
            .bearer(&nurse)
            .json(patient_body())
            .send()
            .await;
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let r = app
        .get("/api/v1/patients?limit=2")
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let shown: Vec<String> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown, ids[..2]);
    for id in &ids[..2] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM audit_event WHERE action = 'read' AND resource_id = '{id}'"
            ))
            .await,
            1,
            "{id}"
        );
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'read' AND resource_id = '{}'",
            ids[2]
        ))
        .await,
        0
    );
}

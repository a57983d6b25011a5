//! Patients through the API: lifecycle, validation, roles, preconditions, idempotency, batches,
//! pagination.

use std::collections::HashSet;

use axum::http::StatusCode;
use oncology_registry::domain::user::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, patient_body};

fn id(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_whole_patient_lifecycle() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;

    // Register.
    let body = patient_body();
    let r = app
        .post("/api/v1/patients")
        .bearer(&nurse)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let pid = id(&r.body);
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/patients/{pid}").as_str())
    );
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.body["mrn"], body["mrn"]);
    assert_eq!(r.body["status"], "admitted");
    assert_eq!(r.body["version"], 1);
    assert_eq!(
        r.body["_links"]["self"]["href"],
        format!("/api/v1/patients/{pid}")
    );

    // Read.
    let r = app
        .get(&format!("/api/v1/patients/{pid}"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), Some("\"1\""));
    assert_eq!(r.body["first_name"], body["first_name"]);

    // Change without, with a stale, and with the current If-Match.
    let path = format!("/api/v1/patients/{pid}");
    let change = json!({"ward": "ONC-2", "bed": null});
    app.patch(&path)
        .bearer(&nurse)
        .json(change.clone())
        .send()
        .await
        .problem(StatusCode::PRECONDITION_REQUIRED);
    app.patch(&path)
        .bearer(&nurse)
        .header("if-match", "\"7\"")
        .json(change.clone())
        .send()
        .await
        .problem(StatusCode::PRECONDITION_FAILED);
    let r = app
        .patch(&path)
        .bearer(&nurse)
        .header("if-match", "\"1\"")
        .json(change)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ward"], "ONC-2");
    assert_eq!(r.body["bed"], Value::Null);
    assert_eq!(r.body["mrn"], body["mrn"]);
    assert_eq!(r.header("etag"), Some("\"2\""));

    // Discharge.
    let r = app
        .patch(&path)
        .bearer(&physician)
        .header("if-match", "\"2\"")
        .json(json!({"status": "discharged"}))
        .send()
        .await;
    assert_eq!(r.body["status"], "discharged");
    let listed = app
        .get("/api/v1/patients?status=discharged")
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    // Delete: the stale version is refused, then it goes, from every read, but is kept.
    app.delete(&path)
        .bearer(&physician)
        .send()
        .await
        .problem(StatusCode::PRECONDITION_REQUIRED);
    app.delete(&path)
        .bearer(&physician)
        .header("if-match", "\"2\"")
        .send()
        .await
        .problem(StatusCode::PRECONDITION_FAILED);
    let r = app
        .delete(&path)
        .bearer(&physician)
        .header("if-match", "\"3\"")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.get(&path)
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    let listed = app.get("/api/v1/patients").bearer(&nurse).send().await;
    assert!(listed.body["items"].as_array().unwrap().is_empty());
    app.patch(&path)
        .bearer(&nurse)
        .header("if-match", "*")
        .json(json!({"ward": "ONC-3"}))
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM patient WHERE mrn = '{}' AND deleted_at IS NOT NULL",
            body["mrn"].as_str().unwrap()
        ))
        .await,
        1
    );
}

#[tokio::test]
async fn a_duplicate_mrn_is_a_conflict() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let body = patient_body();
    app.create_patient(&nurse, body.clone()).await;
    let mut again = patient_body();
    again["mrn"] = body["mrn"].clone();
    let r = app
        .post("/api/v1/patients")
        .bearer(&nurse)
        .json(again)
        .send()
        .await;
    r.problem(StatusCode::CONFLICT);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains(body["mrn"].as_str().unwrap())
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, 1);
}

#[tokio::test]
async fn every_validation_rule_names_its_field() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Duration::days(2)).to_string();
    let cases: Vec<(&str, Value)> = vec![
        ("mrn", json!("MRN 1")),
        ("mrn", json!("")),
        ("mrn", json!("M".repeat(33))),
        ("first_name", json!("")),
        ("first_name", json!("   ")),
        ("last_name", json!("x".repeat(101))),
        ("birth_date", json!(tomorrow)),
        ("birth_date", json!("1899-12-31")),
        ("birth_date", json!("1960-02-30")),
        ("sex", json!("f")),
        ("diagnosis", json!("")),
        ("icd10_code", json!("50.9")),
        ("ward", json!("")),
        ("bed", json!("")),
        ("status", json!("transferred")),
        ("phone", json!("01632 960123")),
        ("phone", json!("+0123456789")),
        ("email", json!("not-an-email")),
        ("preferred_contact", json!("pager")),
    ];
    for (field, value) in cases {
        let mut body = patient_body();
        body[field] = value.clone();
        let r = app
            .post("/api/v1/patients")
            .bearer(&nurse)
            .json(body)
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.error_fields(), [field], "{field} = {value}");
    }
    // Several bad fields are reported together.
    let mut body = patient_body();
    body["mrn"] = json!("bad mrn");
    body["email"] = json!("nope");
    let r = app
        .post("/api/v1/patients")
        .bearer(&nurse)
        .json(body)
        .send()
        .await;
    assert_eq!(r.error_fields(), ["mrn", "email"]);
    // A required field missing.
    let mut body = patient_body();
    body.as_object_mut().unwrap().remove("last_name");
    app.post("/api/v1/patients")
        .bearer(&nurse)
        .json(body)
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, 0);
}

#[tokio::test]
async fn updates_refuse_bad_values_nulls_and_server_owned_fields() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let p = app.create_patient(&nurse, patient_body()).await;
    let path = format!("/api/v1/patients/{}", id(&p));
    for (body, field) in [
        (json!({"mrn": null}), "mrn"),
        (json!({"phone": "123"}), "phone"),
        (json!({"version": 9}), "version"),
        (json!({"id": "00000000-0000-0000-0000-000000000000"}), "id"),
        (json!({"created_at": "2020-01-01T00:00:00Z"}), "created_at"),
        (json!({}), "body"),
    ] {
        let r = app
            .patch(&path)
            .bearer(&nurse)
            .header("if-match", "\"1\"")
            .json(body.clone())
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.error_fields(), [field], "{body}");
    }
    let r = app.get(&path).bearer(&nurse).send().await;
    assert_eq!(r.body["version"], 1);
    // Taking another patient's MRN is a conflict.
    let other = app.create_patient(&nurse, patient_body()).await;
    let r = app
        .patch(&path)
        .bearer(&nurse)
        .header("if-match", "\"1\"")
        .json(json!({"mrn": other["mrn"]}))
        .send()
        .await;
    r.problem(StatusCode::CONFLICT);
}

#[tokio::test]
async fn malformed_ids_and_unknown_patients() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    app.get("/api/v1/patients/not-a-uuid")
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    app.get(&format!("/api/v1/patients/{}", uuid::Uuid::now_v7()))
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
}

/// Who may do what with patients: every role against every operation.
#[tokio::test]
async fn the_role_matrix_is_enforced() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    for (role, create, read, update, delete) in [
        (Role::Admin, false, false, false, false),
        (Role::Physician, true, true, true, true),
        (Role::Nurse, true, true, true, false),
        (Role::Technician, false, true, false, false),
    ] {
        let token = app.token(role).await;
        let expect =
            |allowed: bool, ok: StatusCode| if allowed { ok } else { StatusCode::FORBIDDEN };
        let existing = app.create_patient(&physician, patient_body()).await;
        let path = format!("/api/v1/patients/{}", id(&existing));

        let r = app
            .post("/api/v1/patients")
            .bearer(&token)
            .json(patient_body())
            .send()
            .await;
        assert_eq!(
            r.status,
            expect(create, StatusCode::CREATED),
            "{role} create"
        );
        let r = app.get(&path).bearer(&token).send().await;
        assert_eq!(r.status, expect(read, StatusCode::OK), "{role} read");
        if !read {
            // Administrators never see charts, not even in the error.
            assert!(r.body.get("mrn").is_none());
        }
        let r = app.get("/api/v1/patients").bearer(&token).send().await;
        assert_eq!(r.status, expect(read, StatusCode::OK), "{role} list");
        let r = app
            .patch(&path)
            .bearer(&token)
            .header("if-match", "*")
            .json(json!({"bed": "3"}))
            .send()
            .await;
        assert_eq!(r.status, expect(update, StatusCode::OK), "{role} update");
        let r = app
            .delete(&path)
            .bearer(&token)
            .header("if-match", "*")
            .send()
            .await;
        assert_eq!(
            r.status,
            expect(delete, StatusCode::NO_CONTENT),
            "{role} delete"
        );
        let batch = json!({"operations": [{"op": "create", "patient": patient_body()}]});
        let r = app
            .post("/api/v1/patients/batch")
            .bearer(&token)
            .json(batch)
            .send()
            .await;
        assert_eq!(r.status, expect(update, StatusCode::OK), "{role} batch");
    }
    // Without a token nothing is reachable.
    app.get("/api/v1/patients")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    app.post("/api/v1/patients")
        .json(patient_body())
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_idempotency_key_makes_retries_safe() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let body = patient_body();
    let send = |b: Value, key: &'static str| {
        app.post("/api/v1/patients")
            .bearer(&nurse)
            .header("idempotency-key", key)
            .json(b)
            .send()
    };
    let first = send(body.clone(), "retry-1").await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.header("idempotent-replayed"), None);
    let retry = send(body.clone(), "retry-1").await;
    assert_eq!(retry.status, StatusCode::CREATED);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body["id"], first.body["id"]);
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, 1);

    // The same key with another body is refused and creates nothing.
    let mut other = patient_body();
    other["first_name"] = json!("Someone Else");
    let r = send(other, "retry-1").await;
    r.problem(StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, 1);

    // Keys are per user: a physician's identical key is independent.
    let physician = app.token(Role::Physician).await;
    let r = app
        .post("/api/v1/patients")
        .bearer(&physician)
        .header("idempotency-key", "retry-1")
        .json(patient_body())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_patient() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let body = patient_body();
    let requests = (0..8).map(|_| {
        app.post("/api/v1/patients")
            .bearer(&nurse)
            .header("idempotency-key", "burst")
            .json(body.clone())
            .send()
    });
    let responses = futures::future::join_all(requests).await;
    let ids: HashSet<_> = responses
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.body["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, 1);
}

#[tokio::test]
async fn lists_filter_by_status_ward_and_text() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let mut a = patient_body();
    a["last_name"] = json!("Hodgkin");
    a["ward"] = json!("HAEM-1");
    let mut b = patient_body();
    b["last_name"] = json!("Curie");
    b["status"] = json!("discharged");
    let mut c = patient_body();
    c["mrn"] = json!("ZX-100%");
    c["mrn"] = json!("ZX-100");
    for p in [a, b, c] {
        app.create_patient(&nurse, p).await;
    }
    let names = |r: &crate::helpers::TestResponse| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["last_name"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app
        .get("/api/v1/patients?ward=HAEM-1")
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(names(&r), ["Hodgkin"]);
    let r = app
        .get("/api/v1/patients?status=discharged")
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(names(&r), ["Curie"]);
    let r = app
        .get("/api/v1/patients?q=hODg")
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(names(&r), ["Hodgkin"]);
    let r = app
        .get("/api/v1/patients?q=zx-1")
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["items"][0]["mrn"], "ZX-100");
    // LIKE wildcards in the search are taken literally.
    let r = app
        .get("/api/v1/patients?q=%25")
        .bearer(&nurse)
        .send()
        .await;
    assert!(r.body["items"].as_array().unwrap().is_empty());
    let r = app
        .get("/api/v1/patients?status=transferred")
        .bearer(&nurse)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    for bad in [
        "limit=0",
        "limit=201",
        "offset=-1",
        "cursor=zzz",
        "offset=0&cursor=abc",
    ] {
        let r = app
            .get(&format!("/api/v1/patients?{bad}"))
            .bearer(&nurse)
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn offset_pages_report_the_total_and_link_onwards() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    for _ in 0..5 {
        app.create_patient(&nurse, patient_body()).await;
    }
    let r = app
        .get("/api/v1/patients?limit=2&offset=2&ward=ONC-1")
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["total"], 5);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        r.body["next_cursor"],
        r.body["items"][1]["id"].as_str().unwrap().replace('-', "")
    );
    assert_eq!(
        r.body["_links"]["next"]["href"],
        "/api/v1/patients?ward=ONC-1&limit=2&offset=4"
    );
    assert_eq!(
        r.body["_links"]["prev"]["href"],
        "/api/v1/patients?ward=ONC-1&limit=2&offset=0"
    );
    // The last offset page has no next.
    let last = app
        .get("/api/v1/patients?limit=2&offset=4")
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(last.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(last.body["next_cursor"], Value::Null);
    assert!(last.body["_links"].get("next").is_none());
    // A cursor and an offset together skip that many rows after the cursor.
    let all = app
        .get("/api/v1/patients?limit=5")
        .bearer(&nurse)
        .send()
        .await;
    let ids: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let cursor = ids[0].replace('-', "");
    let r = app
        .get(&format!(
            "/api/v1/patients?limit=2&cursor={cursor}&offset=1"
        ))
        .bearer(&nurse)
        .send()
        .await;
    let got: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids[2..4]);
}

#[tokio::test]
async fn cursor_pages_neither_skip_nor_repeat_while_patients_are_registered() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let mut existing = HashSet::new();
    for _ in 0..7 {
        existing.insert(id(&app.create_patient(&nurse, patient_body()).await));
    }
    let mut seen = Vec::new();
    let mut next = "/api/v1/patients?limit=3".to_owned();
    loop {
        let r = app.get(&next).bearer(&nurse).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.get("total").is_none());
        seen.extend(r.body["items"].as_array().unwrap().iter().map(id));
        // Someone registers a patient between every page.
        app.create_patient(&nurse, patient_body()).await;
        match r.body["_links"]["next"]["href"].as_str() {
            Some(href) => {
                assert!(r.body["next_cursor"].as_str().is_some());
                next = href.to_owned();
            }
            None => break,
        }
        assert!(seen.len() < 100, "pagination does not end");
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a row was repeated");
    assert!(
        existing.is_subset(&unique),
        "a row that existed before was skipped"
    );
}

#[tokio::test]
async fn a_batch_applies_everything_or_nothing() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    let kept = app.create_patient(&physician, patient_body()).await;
    let gone = app.create_patient(&physician, patient_body()).await;
    let new = patient_body();
    let batch = json!({"operations": [
        {"op": "create", "patient": new},
        {"op": "update", "id": kept["id"], "version": 1, "changes": {"status": "discharged"}},
        {"op": "delete", "id": gone["id"], "version": 1},
    ]});
    let r = app
        .post("/api/v1/patients/batch")
        .bearer(&physician)
        .json(batch)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(
        results
            .iter()
            .map(|x| x["status"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [201, 200, 204]
    );
    assert_eq!(results[0]["patient"]["mrn"], new["mrn"]);
    assert_eq!(results[1]["patient"]["status"], "discharged");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM patient WHERE deleted_at IS NULL")
            .await,
        2
    );

    // Second batch: one good create, one stale update, one unknown delete: all refused.
    let before = app.count("SELECT COUNT(*) FROM patient").await;
    let audit_before = app
        .count("SELECT COUNT(*) FROM audit_event WHERE action <> 'read'")
        .await;
    let batch = json!({"operations": [
        {"op": "create", "patient": patient_body()},
        {"op": "update", "id": kept["id"], "version": 1, "changes": {"ward": "ONC-9"}},
        {"op": "delete", "id": uuid::Uuid::now_v7(), "version": 1},
    ]});
    let r = app
        .post("/api/v1/patients/batch")
        .bearer(&physician)
        .json(batch)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let failures = r.body["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2);
    assert_eq!(
        (
            failures[0]["index"].as_u64(),
            failures[0]["status"].as_u64()
        ),
        (Some(1), Some(412))
    );
    assert_eq!(
        (
            failures[1]["index"].as_u64(),
            failures[1]["status"].as_u64()
        ),
        (Some(2), Some(404))
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, before);
    let r = app
        .get(&format!("/api/v1/patients/{}", id(&kept)))
        .bearer(&physician)
        .send()
        .await;
    assert_eq!(r.body["ward"], "ONC-1");
    // Nothing of the refused batch reached the audit log either.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE action <> 'read'")
            .await,
        audit_before
    );
}

#[tokio::test]
async fn a_batch_with_invalid_items_lists_them_all() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let mut bad = patient_body();
    bad["mrn"] = json!("no spaces");
    let batch = json!({"operations": [
        {"op": "create", "patient": patient_body()},
        {"op": "create", "patient": bad},
        {"op": "update", "id": uuid::Uuid::now_v7(), "version": 1, "changes": {"phone": "12"}},
    ]});
    let r = app
        .post("/api/v1/patients/batch")
        .bearer(&nurse)
        .json(batch)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_fields(),
        ["operations[1].patient.mrn", "operations[2].changes.phone"]
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, 0);

    // A nurse may not slip a delete into a batch.
    let p = app.create_patient(&nurse, patient_body()).await;
    let batch = json!({"operations": [
        {"op": "create", "patient": patient_body()},
        {"op": "delete", "id": p["id"], "version": 1},
    ]});
    let r = app
        .post("/api/v1/patients/batch")
        .bearer(&nurse)
        .json(batch)
        .send()
        .await;
    r.problem(StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, 1);

    let r = app
        .post("/api/v1/patients/batch")
        .bearer(&nurse)
        .json(json!({"operations": []}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_refused_batch_answers_with_the_status_its_failures_share() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    let unknown = json!({"operations": [
        {"op": "delete", "id": uuid::Uuid::now_v7(), "version": 1},
        {"op": "update", "id": uuid::Uuid::now_v7(), "version": 1, "changes": {"bed": "2"}},
    ]});
    let r = app
        .post("/api/v1/patients/batch")
        .bearer(&physician)
        .json(unknown)
        .send()
        .await;
    r.problem(StatusCode::NOT_FOUND);
    assert_eq!(r.body["failures"].as_array().unwrap().len(), 2);

    // JSON does not tell 1 from 1.0; a fraction or an unknown field is refused.
    let p = app.create_patient(&physician, patient_body()).await;
    let r = app
        .post("/api/v1/patients/batch")
        .bearer(&physician)
        .json(json!({"operations": [{"op": "update", "id": p["id"], "version": 1.0, "changes": {"bed": "2"}}]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for op in [
        json!({"op": "delete", "id": p["id"], "version": 2.5}),
        json!({"op": "delete", "id": p["id"], "version": 2, "force": true}),
        json!({"op": "explode", "id": p["id"]}),
    ] {
        let r = app
            .post("/api/v1/patients/batch")
            .bearer(&physician)
            .json(json!({"operations": [op]}))
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM patient WHERE deleted_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn control_characters_in_searches_and_keys_are_refused_not_crashed_on() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    for query in ["q=ab%00cd", "ward=ONC%00"] {
        let r = app
            .get(&format!("/api/v1/patients?{query}"))
            .bearer(&nurse)
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = app
        .post("/api/v1/auth/login")
        .json(json!({"username": "nurse\u{0}", "password": "whatever-password"}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post("/api/v1/patients")
        .bearer(&nurse)
        .header("idempotency-key", "two words")
        .json(patient_body())
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["Idempotency-Key"]);
}

#[tokio::test]
async fn a_replay_answers_exactly_the_first_response_even_after_changes() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    let body = patient_body();
    let send = || {
        app.post("/api/v1/patients")
            .bearer(&physician)
            .header("idempotency-key", "admission-7")
            .json(body.clone())
            .send()
    };
    let first = send().await;
    assert_eq!(first.status, StatusCode::CREATED);
    let path = format!("/api/v1/patients/{}", id(&first.body));
    let r = app
        .patch(&path)
        .bearer(&physician)
        .header("if-match", "\"1\"")
        .json(json!({"ward": "ONC-3"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let replay = send().await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body, first.body);
    assert_eq!(replay.header("etag"), Some("\"1\""));

    app.delete(&path)
        .bearer(&physician)
        .header("if-match", "*")
        .send()
        .await;
    let replay = send().await;
    assert_eq!(replay.status, StatusCode::CREATED);
    assert_eq!(replay.body, first.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, 1);
}

#[tokio::test]
async fn search_folds_case_beyond_ascii_and_spans_first_and_last_name() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let mut body = patient_body();
    body["first_name"] = json!("Åsa");
    body["last_name"] = json!("Östlund");
    app.create_patient(&nurse, body).await;
    app.create_patient(&nurse, patient_body()).await;
    for q in ["östl", "ÖSTL", "åsa östlund", "%C3%85SA"] {
        let r = app
            .get(&format!("/api/v1/patients?q={}", q.replace(' ', "%20")))
            .bearer(&nurse)
            .send()
            .await;
        let names: Vec<&str> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["last_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Östlund"], "q={q}");
    }
}

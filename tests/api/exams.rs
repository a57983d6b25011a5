//! Exams through the API: the catalog, the lifecycle and its invalid transitions, concurrent
//! starts, exam and result tokens (forged, expired, wrong key or audience, mismatched, access
//! tokens in their place and the reverse), revoked exams, idempotent orders and results, the
//! neutrophil count fed to the febrile neutropenia rule, and the roles.

use axum::http::StatusCode;
use chrono::{Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use oncology_registry::domain::user::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    EXAM_TOKEN_SECRET, RESULT_TOKEN_ISSUER, RESULT_TOKEN_SECRET, TestApp, TestResponse,
    patient_body,
};
use crate::vital_signs::{admitted_patient, chart, normal_set};

pub const CBC: i64 = 1001;
const CT: i64 = 2001;

/// The staff an exam passes through.
pub struct Ward {
    pub physician: String,
    pub nurse: String,
    pub technician: String,
    pub admin: String,
}

impl Ward {
    pub async fn sign_in(app: &TestApp) -> Self {
        Self {
            physician: app.token(Role::Physician).await,
            nurse: app.token(Role::Nurse).await,
            technician: app.token(Role::Technician).await,
            admin: app.token(Role::Admin).await,
        }
    }
}

pub async fn order(app: &TestApp, token: &str, patient: &str, exam_type: i64) -> Value {
    let r = app
        .post(&format!("/api/v1/patients/{patient}/exams"))
        .bearer(token)
        .json(json!({"exam_type": exam_type}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

/// Asks to start exam `id` as being of `exam_type`.
pub async fn try_start(app: &TestApp, token: &str, id: &str, exam_type: i64) -> TestResponse {
    app.post(&format!("/api/v1/exams/{id}/start"))
        .bearer(token)
        .json(json!({"exam_type": exam_type}))
        .send()
        .await
}

async fn try_revoke(app: &TestApp, token: &str, id: &str, reason: &str) -> TestResponse {
    app.post(&format!("/api/v1/exams/{id}/revoke"))
        .bearer(token)
        .json(json!({"reason": reason}))
        .send()
        .await
}

/// Starts the exam as a technician; returns the exam token.
pub async fn start(app: &TestApp, token: &str, exam: &Value) -> String {
    let r = try_start(app, token, id_of(exam), exam["exam_type"].as_i64().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["exam"]["status"], "started");
    r.body["exam_token"].as_str().unwrap().to_owned()
}

fn sign(key: &[u8], typ: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = typ.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_secret(key)).unwrap()
}

/// The claims of a result token as the exam execution system issues it.
pub fn result_claims(exam_id: &str, anc: Option<f64>) -> Value {
    let now = Utc::now().timestamp();
    let mut result = json!({"status": "abnormal", "summary": "Neutropenia grade 3"});
    if let Some(anc) = anc {
        result["values"] = json!({"anc": anc, "wbc": 1.9});
    }
    json!({"iss": RESULT_TOKEN_ISSUER, "exam_id": exam_id, "iat": now - 60, "exp": now + 3600,
           "result": result})
}

pub fn result_token(exam_id: &str, anc: Option<f64>) -> String {
    sign(RESULT_TOKEN_SECRET, None, &result_claims(exam_id, anc))
}

/// Exam token claims as the registry issues them, to forge variants of.
fn exam_claims(exam: &Value) -> Value {
    let now = Utc::now().timestamp();
    json!({"iss": "oncology-registry", "aud": "oncology-registry-exam-results",
           "exam_id": exam["id"], "patient_id": exam["patient_id"], "exam_type": exam["exam_type"],
           "iat": now, "nbf": now, "exp": now + 3600, "jti": Uuid::new_v4()})
}

async fn communicate(app: &TestApp, token: &str, exam_token: &str, result: &str) -> TestResponse {
    app.post("/api/v1/exams/communicate")
        .bearer(token)
        .json(json!({"exam_token": exam_token, "result_token": result}))
        .send()
        .await
}

pub async fn get_exam(app: &TestApp, token: &str, id: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/exams/{id}"))
        .bearer(token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn id_of(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

// Catalog
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_default_catalog_holds_a_blood_count_reporting_anc_and_admins_keep_it() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let r = app
        .get("/api/v1/exam-types")
        .bearer(&ward.nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert!(items.len() >= 6);
    let cbc = items.iter().find(|t| t["code"] == CBC).unwrap();
    assert_eq!(cbc["modality"], "laboratory");
    assert!(cbc["name"].as_str().unwrap().contains("ANC"));
    assert_eq!(cbc["active"], true);

    let new = json!({"code": 2004, "name": "MRI pelvis with contrast", "modality": "mri"});
    let r = app
        .post("/api/v1/exam-types")
        .bearer(&ward.physician)
        .json(new.clone())
        .send()
        .await;
    r.problem(StatusCode::FORBIDDEN);
    let r = app
        .post("/api/v1/exam-types")
        .bearer(&ward.admin)
        .json(new.clone())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.header("location"), Some("/api/v1/exam-types/2004"));
    let r = app
        .post("/api/v1/exam-types")
        .bearer(&ward.admin)
        .json(new)
        .send()
        .await;
    r.problem(StatusCode::CONFLICT);
    let r = app
        .post("/api/v1/exam-types")
        .bearer(&ward.admin)
        .json(json!({"code": 0, "name": " ", "modality": "xray"}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["code", "name", "modality"]);

    let r = app
        .patch("/api/v1/exam-types/2004")
        .bearer(&ward.admin)
        .json(json!({"name": "MRI pelvis", "active": false}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            r.body["name"].as_str(),
            r.body["active"].as_bool(),
            r.body["version"].as_i64()
        ),
        (Some("MRI pelvis"), Some(false), Some(2))
    );
    let r = app
        .get("/api/v1/exam-types?active=true")
        .bearer(&ward.technician)
        .send()
        .await;
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["code"] != 2004)
    );
    app.get("/api/v1/exam-types/9999")
        .bearer(&ward.admin)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);

    // An inactive type cannot be ordered (409); an unknown one is invalid (422).
    let patient = admitted_patient(&app, &ward.physician).await;
    for (code, status) in [
        (2004, StatusCode::CONFLICT),
        (777, StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        app.post(&format!("/api/v1/patients/{patient}/exams"))
            .bearer(&ward.physician)
            .json(json!({"exam_type": code}))
            .send()
            .await
            .problem(status);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM exam").await, 0);
}

// Lifecycle
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_exam_goes_from_order_to_result_feeding_the_neutrophil_count_and_a_notification() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let patient = admitted_patient(&app, &ward.physician).await;

    let r = app
        .post(&format!("/api/v1/patients/{patient}/exams"))
        .bearer(&ward.physician)
        .json(json!({"exam_type": CBC}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let exam = r.body;
    let id = id_of(&exam).to_owned();
    assert_eq!(
        r.headers["location"],
        format!("/api/v1/exams/{id}").as_str()
    );
    assert_eq!(exam["status"], "registered");
    assert_eq!(exam["patient_id"], patient.as_str());
    assert!(exam["ordered"]["by"].is_string());

    let exam_token = start(&app, &ward.technician, &exam).await;
    assert_eq!(exam_token.split('.').count(), 3);
    let started = get_exam(&app, &ward.nurse, &id).await;
    assert_eq!(started["status"], "started");
    assert!(started["started"]["at"].is_string());

    let r = communicate(
        &app,
        &ward.technician,
        &exam_token,
        &result_token(&id, Some(0.3)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "finished");
    assert_eq!(r.body["result"]["status"], "abnormal");
    assert_eq!(r.body["result"]["values"]["anc"], 0.3);
    assert_eq!(r.body["version"], 3);
    assert!(r.header("idempotent-replayed").is_none());

    // The neutrophil count is a lab result of the patient now, so fever raises the alert.
    let labs = app
        .get(&format!("/api/v1/patients/{patient}/lab-results"))
        .bearer(&ward.nurse)
        .send()
        .await;
    assert_eq!(labs.body["items"][0]["code"], "anc");
    assert_eq!(labs.body["items"][0]["value"], 0.3);
    let mut febrile = normal_set();
    febrile["temperature_c"] = json!(38.6);
    let charted = chart(&app, &ward.nurse, &patient, febrile).await;
    assert!(
        charted["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "febrile_neutropenia"),
        "{charted}"
    );

    // The notification was enqueued with the result, by SMS as the patient prefers.
    assert_eq!(app.count("SELECT COUNT(*) FROM notification").await, 1);
    let n = wait_for_notification(&app, &ward.nurse, &id, "sent").await;
    assert_eq!(
        (n["channel"].as_str(), n["recipient"].as_str()),
        (Some("sms"), Some("+447700900123"))
    );
    assert_eq!(n["attempts"], 1);

    // Every step is audited.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE resource_type = 'exam' AND resource_id = '{id}' \
             AND action IN ('create', 'update')"
        ))
        .await,
        3
    );
}

/// Polls the notification list until the exam's notification has `status`.
pub async fn wait_for_notification(app: &TestApp, token: &str, exam: &str, status: &str) -> Value {
    for _ in 0..100 {
        let r = app
            .get(&format!("/api/v1/notifications?exam_id={exam}"))
            .bearer(token)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        if let Some(n) = r.body["items"].as_array().and_then(|a| a.first())
            && n["status"] == status
        {
            return n.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the notification of exam {exam} never became {status}");
}

#[tokio::test]
async fn every_transition_the_lifecycle_does_not_allow_is_refused_with_409_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let patient = admitted_patient(&app, &ward.physician).await;
    let (tech, doc) = (ward.technician.as_str(), ward.physician.as_str());

    // Started twice.
    let exam = order(&app, doc, &patient, CT).await;
    let id = id_of(&exam);
    let exam_token = start(&app, tech, &exam).await;
    try_start(&app, tech, id, CT)
        .await
        .problem(StatusCode::CONFLICT);
    // Finished, then revoked or started again.
    let r = communicate(&app, tech, &exam_token, &result_token(id, None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    try_revoke(&app, doc, id, "Ordered in error")
        .await
        .problem(StatusCode::CONFLICT);
    try_start(&app, tech, id, CT)
        .await
        .problem(StatusCode::CONFLICT);

    // Revoked, then revoked again or started.
    let other = order(&app, doc, &patient, CBC).await;
    let r = try_revoke(&app, doc, id_of(&other), "Ordered in error").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["revoked"]["reason"], "Ordered in error");
    try_revoke(&app, doc, id_of(&other), "Again")
        .await
        .problem(StatusCode::CONFLICT);
    try_start(&app, tech, id_of(&other), CBC)
        .await
        .problem(StatusCode::CONFLICT);

    // A registered exam cannot be finished, even with a token of the right key.
    let registered = order(&app, doc, &patient, CBC).await;
    let reg = id_of(&registered);
    let forged_in_key = sign(
        EXAM_TOKEN_SECRET,
        Some("exam+jwt"),
        &exam_claims(&registered),
    );
    communicate(&app, tech, &forged_in_key, &result_token(reg, None))
        .await
        .problem(StatusCode::CONFLICT);
    // Starting as another type than ordered is refused; so is a revocation without reason.
    let r = try_start(&app, tech, reg, CT).await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["exam_type"]);
    try_revoke(&app, doc, reg, "")
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        get_exam(&app, &ward.nurse, reg).await["status"],
        "registered"
    );
    try_start(&app, tech, &Uuid::now_v7().to_string(), CT)
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn of_two_concurrent_starts_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let patient = admitted_patient(&app, &ward.physician).await;
    for _ in 0..3 {
        let exam = order(&app, &ward.physician, &patient, CT).await;
        let send = || try_start(&app, &ward.technician, id_of(&exam), CT);
        let (a, b) = tokio::join!(send(), send());
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "{} / {}",
            a.body,
            b.body
        );
        let exam = get_exam(&app, &ward.nurse, id_of(&exam)).await;
        assert_eq!(exam["version"], 2);
    }
}

// Tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_tokens_are_named_and_change_nothing() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let patient = admitted_patient(&app, &ward.physician).await;
    let exam = order(&app, &ward.physician, &patient, CBC).await;
    let id = id_of(&exam).to_owned();
    let exam_token = start(&app, &ward.technician, &exam).await;
    let good_result = result_token(&id, Some(0.3));

    let mut expired = exam_claims(&exam);
    expired["exp"] = json!(Utc::now().timestamp() - 600);
    let mut wrong_audience = exam_claims(&exam);
    wrong_audience["aud"] = json!("oncology-registry-api");
    let mut other_patient = exam_claims(&exam);
    other_patient["patient_id"] = json!(Uuid::now_v7());
    let mut other_type = exam_claims(&exam);
    other_type["exam_type"] = json!(CT);
    let mut expired_result = result_claims(&id, Some(0.3));
    expired_result["exp"] = json!(Utc::now().timestamp() - 600);
    let mut other_issuer = result_claims(&id, Some(0.3));
    other_issuer["iss"] = json!("someone-else");
    let mut bad_result = result_claims(&id, Some(0.3));
    bad_result["result"]["status"] = json!("done");
    let access = ward.technician.clone();

    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "forged exam token",
            sign(
                b"another-key-another-key-another-key-0",
                Some("exam+jwt"),
                &exam_claims(&exam),
            ),
            good_result.clone(),
            "exam_token",
        ),
        (
            "expired exam token",
            sign(EXAM_TOKEN_SECRET, Some("exam+jwt"), &expired),
            good_result.clone(),
            "exam_token",
        ),
        (
            "wrong audience",
            sign(EXAM_TOKEN_SECRET, Some("exam+jwt"), &wrong_audience),
            good_result.clone(),
            "exam_token",
        ),
        (
            "no exam typ",
            sign(EXAM_TOKEN_SECRET, None, &exam_claims(&exam)),
            good_result.clone(),
            "exam_token",
        ),
        (
            "access token as exam token",
            access.clone(),
            good_result.clone(),
            "exam_token",
        ),
        (
            "garbage",
            "not-a-token".to_owned(),
            good_result.clone(),
            "exam_token",
        ),
        (
            "result token of the wrong key",
            exam_token.clone(),
            sign(EXAM_TOKEN_SECRET, None, &result_claims(&id, Some(0.3))),
            "result_token",
        ),
        (
            "expired result token",
            exam_token.clone(),
            sign(RESULT_TOKEN_SECRET, None, &expired_result),
            "result_token",
        ),
        (
            "result token of another issuer",
            exam_token.clone(),
            sign(RESULT_TOKEN_SECRET, None, &other_issuer),
            "result_token",
        ),
        (
            "invalid result",
            exam_token.clone(),
            sign(RESULT_TOKEN_SECRET, None, &bad_result),
            "result_token.result.status",
        ),
        (
            "implausible anc",
            exam_token.clone(),
            result_token(&id, Some(1500.0)),
            "result_token.result.values.anc:value",
        ),
        (
            "tokens of two exams",
            exam_token.clone(),
            result_token(&Uuid::now_v7().to_string(), None),
            "result_token",
        ),
        (
            "exam token of another patient",
            sign(EXAM_TOKEN_SECRET, Some("exam+jwt"), &other_patient),
            good_result.clone(),
            "result_token",
        ),
        (
            "exam token of another type",
            sign(EXAM_TOKEN_SECRET, Some("exam+jwt"), &other_type),
            good_result.clone(),
            "result_token",
        ),
        (
            "exam token not the one issued",
            sign(EXAM_TOKEN_SECRET, Some("exam+jwt"), &exam_claims(&exam)),
            good_result.clone(),
            "result_token",
        ),
    ];
    for (case, exam_token, result, field) in cases {
        let r = communicate(&app, &ward.technician, &exam_token, &result).await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.error_fields().iter().any(|f| f == field),
            "{case}: {}",
            r.body
        );
    }
    let r = communicate(&app, &ward.technician, &access, &good_result).await;
    assert!(
        r.body
            .to_string()
            .contains("is an access token, not an exam token"),
        "{}",
        r.body
    );

    // Addressed to another exam in the path.
    let other = order(&app, &ward.physician, &patient, CBC).await;
    app.post(&format!("/api/v1/exams/{}/result", id_of(&other)))
        .bearer(&ward.technician)
        .json(json!({"exam_token": exam_token, "result_token": good_result}))
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);

    // The exam token is no access token.
    app.get("/api/v1/exams")
        .bearer(&exam_token)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);

    // Nothing changed; the genuine tokens still finish the exam, through its own path too.
    assert_eq!(get_exam(&app, &ward.nurse, &id).await["status"], "started");
    assert_eq!(app.count("SELECT COUNT(*) FROM lab_result").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM notification").await, 0);
    let r = app
        .post(&format!("/api/v1/exams/{id}/result"))
        .bearer(&ward.physician)
        .json(json!({"exam_token": exam_token, "result_token": good_result}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "finished");
}

#[tokio::test]
async fn a_result_is_applied_once_and_replayed_idempotently() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let patient = admitted_patient(&app, &ward.physician).await;
    let exam = order(&app, &ward.physician, &patient, CBC).await;
    let id = id_of(&exam).to_owned();
    let exam_token = start(&app, &ward.technician, &exam).await;
    let result = result_token(&id, Some(0.4));

    let first = communicate(&app, &ward.technician, &exam_token, &result).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = communicate(&app, &ward.physician, &exam_token, &result).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["version"], first.body["version"]);
    assert_eq!(again.body["finished"], first.body["finished"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM lab_result").await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM notification").await, 1);

    // Another result for a finished exam is a conflict, not an overwrite.
    communicate(
        &app,
        &ward.technician,
        &exam_token,
        &result_token(&id, Some(2.0)),
    )
    .await
    .problem(StatusCode::CONFLICT);
    assert_eq!(
        get_exam(&app, &ward.nurse, &id).await["result"]["values"]["anc"],
        0.4
    );
}

#[tokio::test]
async fn a_revoked_exam_takes_no_result() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let patient = admitted_patient(&app, &ward.physician).await;
    let exam = order(&app, &ward.physician, &patient, CBC).await;
    let id = id_of(&exam).to_owned();
    let exam_token = start(&app, &ward.technician, &exam).await;
    let r = try_revoke(&app, &ward.physician, &id, "Sample haemolysed; reordered").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "revoked");
    let r = communicate(
        &app,
        &ward.technician,
        &exam_token,
        &result_token(&id, Some(0.3)),
    )
    .await;
    r.problem(StatusCode::CONFLICT);
    assert!(r.body["detail"].as_str().unwrap().contains("revoked"));
    let exam = get_exam(&app, &ward.nurse, &id).await;
    assert_eq!(
        (exam["status"].as_str(), &exam["result"]),
        (Some("revoked"), &Value::Null)
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM lab_result").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM notification").await, 0);
}

// Orders
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn orders_are_idempotent_and_only_for_admitted_patients() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let patient = admitted_patient(&app, &ward.physician).await;
    let path = format!("/api/v1/patients/{patient}/exams");
    let send = |body: Value| {
        app.post(&path)
            .bearer(&ward.physician)
            .header("idempotency-key", "order-cbc-1")
            .json(body)
            .send()
    };
    let first = send(json!({"exam_type": CBC})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = send(json!({"exam_type": CBC})).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["id"], first.body["id"]);
    send(json!({"exam_type": CT}))
        .await
        .problem(StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT COUNT(*) FROM exam").await, 1);
    app.post(&path)
        .bearer(&ward.physician)
        .header("idempotency-key", "bad key with spaces")
        .json(json!({"exam_type": CBC}))
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);

    // A discharged patient gets no new exams; an unknown one is 404.
    let r = app
        .patch(&format!("/api/v1/patients/{patient}"))
        .bearer(&ward.physician)
        .header("if-match", "*")
        .json(json!({"status": "discharged"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.post(&path)
        .bearer(&ward.physician)
        .json(json!({"exam_type": CBC}))
        .send()
        .await
        .problem(StatusCode::CONFLICT);
    app.post(&format!("/api/v1/patients/{}/exams", Uuid::now_v7()))
        .bearer(&ward.physician)
        .json(json!({"exam_type": CBC}))
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM exam").await, 1);
}

#[tokio::test]
async fn exams_are_listed_newest_first_by_filters_and_cursor() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let body = patient_body();
    let mrn = body["mrn"].as_str().unwrap().to_owned();
    let patient = id_of(&app.create_patient(&ward.physician, body).await).to_owned();
    let other = admitted_patient(&app, &ward.physician).await;
    let mut ids = Vec::new();
    for code in [CBC, CT, CBC] {
        ids.push(id_of(&order(&app, &ward.physician, &patient, code).await).to_owned());
    }
    order(&app, &ward.physician, &other, CBC).await;
    start(
        &app,
        &ward.technician,
        &get_exam(&app, &ward.nurse, &ids[1]).await,
    )
    .await;

    let page = |query: String| {
        let app = &app;
        let token = ward.technician.clone();
        async move {
            let r = app.get(&query).bearer(&token).send().await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
            r.body
        }
    };
    let listed = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| id_of(e).to_owned())
            .collect()
    };
    let first = page(format!("/api/v1/patients/{patient}/exams?limit=2")).await;
    assert_eq!(listed(&first), [ids[2].clone(), ids[1].clone()]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = page(format!(
        "/api/v1/patients/{patient}/exams?limit=2&cursor={cursor}"
    ))
    .await;
    assert_eq!(listed(&second), [ids[0].clone()]);
    assert_eq!(second["next_cursor"], Value::Null);

    assert_eq!(
        listed(&page(format!("/api/v1/exams?mrn={mrn}")).await).len(),
        3
    );
    assert_eq!(
        listed(&page("/api/v1/exams?status=started".to_owned()).await),
        [ids[1].clone()]
    );
    assert_eq!(
        listed(
            &page(format!(
                "/api/v1/exams?patient_id={patient}&exam_type={CBC}"
            ))
            .await
        )
        .len(),
        2
    );
    assert_eq!(listed(&page("/api/v1/exams".to_owned()).await).len(), 4);
    let from = (Utc::now() + Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    assert_eq!(
        listed(&page(format!("/api/v1/exams?from={from}")).await).len(),
        0
    );
    let offset = page("/api/v1/exams?limit=1&offset=1".to_owned()).await;
    assert_eq!(offset["total"], 4);

    for bad in [
        "status=done",
        "exam_type=0",
        "cursor=x",
        "mrn=a%20b",
        "limit=0",
    ] {
        app.get(&format!("/api/v1/exams?{bad}"))
            .bearer(&ward.nurse)
            .send()
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
    app.get(&format!("/api/v1/patients/{}/exams", Uuid::now_v7()))
        .bearer(&ward.nurse)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    app.get(&format!("/api/v1/exams/{}", Uuid::now_v7()))
        .bearer(&ward.nurse)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
}

// Roles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn each_role_does_only_its_part() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let patient = admitted_patient(&app, &ward.physician).await;
    let exam = order(&app, &ward.physician, &patient, CBC).await;
    let id = id_of(&exam).to_owned();
    let orders = format!("/api/v1/patients/{patient}/exams");

    // Administrators never see patient data; only physicians order and revoke.
    for token in [&ward.admin, &ward.nurse, &ward.technician] {
        app.post(&orders)
            .bearer(token)
            .json(json!({"exam_type": CBC}))
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
        try_revoke(&app, token, &id, "no")
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    for path in [
        "/api/v1/exams".to_owned(),
        format!("/api/v1/exams/{id}"),
        orders.clone(),
    ] {
        app.get(&path)
            .bearer(&ward.admin)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
        for token in [&ward.physician, &ward.nurse, &ward.technician] {
            assert_eq!(
                app.get(&path).bearer(token).send().await.status,
                StatusCode::OK
            );
        }
    }
    // Only technicians start exams.
    for token in [&ward.admin, &ward.physician, &ward.nurse] {
        try_start(&app, token, &id, CBC)
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    let exam_token = start(&app, &ward.technician, &exam).await;
    // Technicians and physicians hand in results; nurses and administrators do not.
    for token in [&ward.admin, &ward.nurse] {
        communicate(&app, token, &exam_token, &result_token(&id, None))
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    app.get("/api/v1/notifications")
        .bearer(&ward.technician)
        .send()
        .await
        .problem(StatusCode::FORBIDDEN);
    app.get("/api/v1/notifications")
        .bearer(&ward.admin)
        .send()
        .await
        .problem(StatusCode::FORBIDDEN);
    app.get("/api/v1/exams")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert_eq!(get_exam(&app, &ward.nurse, &id).await["status"], "started");
    assert!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE outcome = 'denied'")
            .await
            >= 10
    );
}

//! Vital signs through the API: charting with NEWS2, flags and alerts, refusal of impossible
//! values with nothing stored, roles, corrections, batches, insights and the ward overview.

use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use oncology_registry::domain::user::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse, patient_body};

/// A healthy adult: NEWS2 0, nothing flagged.
pub fn normal_set() -> Value {
    json!({
        "heart_rate": 72, "systolic_bp": 122, "diastolic_bp": 78, "respiratory_rate": 16,
        "temperature_c": 36.8, "spo2": 98, "on_oxygen": false, "consciousness": "alert"
    })
}

/// A deteriorating patient: RR 26 (3), SpO2 90 (3), oxygen (2), systolic 88 (3), pulse 135
/// (3), voice (3), 39.5 °C (2) = 19, high risk.
pub fn sick_set() -> Value {
    json!({
        "heart_rate": 135, "systolic_bp": 88, "diastolic_bp": 50, "respiratory_rate": 26,
        "temperature_c": 39.5, "spo2": 90, "on_oxygen": true, "consciousness": "voice"
    })
}

pub async fn admitted_patient(app: &TestApp, token: &str) -> String {
    app.create_patient(token, patient_body()).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The set, taken at `at`.
pub fn at_time(mut set: Value, at: DateTime<Utc>) -> Value {
    set["recorded_at"] = json!(at.to_rfc3339_opts(SecondsFormat::Secs, true));
    set
}

/// Enters a charted set in error with no replacement; answers the correction's body.
pub async fn enter_in_error(app: &TestApp, token: &str, set: &Value) -> Value {
    let r = app
        .post(&format!(
            "/api/v1/vital-signs/{}/correction",
            set["id"].as_str().unwrap()
        ))
        .bearer(token)
        .json(json!({"reason": "charted on the wrong patient"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

pub async fn chart(app: &TestApp, token: &str, patient: &str, set: Value) -> Value {
    let r = app
        .post(&format!("/api/v1/patients/{patient}/vital-signs"))
        .bearer(token)
        .json(set)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

#[tokio::test]
async fn a_normal_set_scores_zero_and_raises_nothing() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;

    let r = app
        .post(&format!("/api/v1/patients/{patient}/vital-signs"))
        .bearer(&nurse)
        .json(normal_set())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/vital-signs/{id}").as_str())
    );
    let news2 = &r.body["news2"];
    assert_eq!(news2["score"], 0);
    assert_eq!(news2["risk"], "low");
    assert_eq!(news2["complete"], true);
    assert_eq!(news2["missing"], json!([]));
    assert_eq!(news2["spo2_scale"], 1);
    assert_eq!(news2["monitoring"]["frequency"], "twelve_hourly");
    assert_eq!(news2["monitoring"]["interval_minutes"], 720);
    assert_eq!(news2["parameters"].as_array().unwrap().len(), 7);
    assert_eq!(r.body["flags"], json!([]));
    assert_eq!(r.body["alerts"], json!([]));
    assert_eq!(r.body["status"], "final");
    assert_eq!(r.body["observations"]["heart_rate"], 72.0);

    // Read back.
    let r = app
        .get(&format!("/api/v1/vital-signs/{id}"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["news2"]["score"], 0);
    assert!(r.body.get("alerts").is_none());
}

#[tokio::test]
async fn a_deteriorating_patient_is_scored_flagged_and_alerted_once() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    chart(&app, &nurse, &patient, normal_set()).await;

    let body = chart(&app, &nurse, &patient, sick_set()).await;
    assert_eq!(body["news2"]["score"], 19);
    assert_eq!(body["news2"]["risk"], "high");
    assert_eq!(body["news2"]["any_single_red"], true);
    assert_eq!(body["news2"]["monitoring"]["frequency"], "continuous");
    let flags: Vec<(String, String)> = body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["parameter"].as_str().unwrap().to_owned(),
                f["level"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        flags.contains(&("heart_rate".into(), "critical_high".into())),
        "{flags:?}"
    );
    assert!(
        flags.contains(&("systolic_bp".into(), "critical_low".into())),
        "{flags:?}"
    );
    let hr_flag = body["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["parameter"] == "heart_rate")
        .unwrap();
    assert_eq!(hr_flag["range"], json!({"low": 60.0, "high": 100.0}));

    let mut kinds: Vec<&str> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["news2_high", "news2_rise", "qsofa"]);
    let high = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "news2_high")
        .unwrap();
    assert_eq!(high["severity"], "critical");
    assert_eq!(high["status"], "open");

    // The same state again raises nothing new: those alerts are still open.
    let again = chart(&app, &nurse, &patient, sick_set()).await;
    assert_eq!(again["alerts"], json!([]));
    assert_eq!(app.count("SELECT COUNT(*) FROM alert").await, 3);
}

#[tokio::test]
async fn impossible_values_are_refused_naming_each_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let r = app
        .post(&format!("/api/v1/patients/{patient}/vital-signs"))
        .bearer(&nurse)
        .json(json!({
            "heart_rate": 350, "spo2": 101, "temperature_c": 101.3,
            "systolic_bp": 80, "diastolic_bp": 90, "consciousness": "sleepy"
        }))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = r.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "consciousness",
            "diastolic_bp",
            "heart_rate",
            "spo2",
            "temperature_c"
        ]
    );
    let detail = r.body.to_string();
    assert!(detail.contains("Fahrenheit"), "{detail}");
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 0);

    // An empty set, a set in the future, and an unknown field.
    for body in [
        json!({}),
        json!({"heart_rate": 80, "recorded_at": "2999-01-01T00:00:00Z"}),
        json!({"heart_rate": 80, "heartrate": 80}),
    ] {
        let r = app
            .post(&format!("/api/v1/patients/{patient}/vital-signs"))
            .bearer(&nurse)
            .json(body.clone())
            .send()
            .await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY || r.status == StatusCode::BAD_REQUEST,
            "{body}: {} {}",
            r.status,
            r.body
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 0);
}

#[tokio::test]
async fn only_nurses_and_physicians_chart_and_read_and_only_for_admitted_patients() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let technician = app.token(Role::Technician).await;
    let admin = app.token(Role::Admin).await;
    let patient = admitted_patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{patient}/vital-signs");

    chart(&app, &physician, &patient, normal_set()).await;
    for token in [&technician, &admin] {
        let r = app
            .post(&path)
            .bearer(token)
            .json(normal_set())
            .send()
            .await;
        r.problem(StatusCode::FORBIDDEN);
        let r = app.get(&path).bearer(token).send().await;
        r.problem(StatusCode::FORBIDDEN);
    }
    let r = app.post(&path).json(normal_set()).send().await;
    r.problem(StatusCode::UNAUTHORIZED);

    // Unknown patient: 404; discharged patient: 409.
    let r = app
        .post(&format!(
            "/api/v1/patients/{}/vital-signs",
            uuid::Uuid::now_v7()
        ))
        .bearer(&nurse)
        .json(normal_set())
        .send()
        .await;
    r.problem(StatusCode::NOT_FOUND);
    app.discharge(&nurse, &patient).await;
    let r = app
        .post(&path)
        .bearer(&nurse)
        .json(normal_set())
        .send()
        .await;
    r.problem(StatusCode::CONFLICT);
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 1);
}

#[tokio::test]
async fn the_chart_lists_newest_first_with_filters_and_cursor() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let times = [
        "2026-11-20T08:00:00Z",
        "2026-11-20T12:00:00Z",
        "2026-11-20T16:00:00Z",
        "2026-11-20T20:00:00Z",
    ];
    for (i, at) in times.iter().enumerate() {
        let mut set = if i == 2 { sick_set() } else { normal_set() };
        set["recorded_at"] = json!(at);
        chart(&app, &nurse, &patient, set).await;
    }
    let path = format!("/api/v1/patients/{patient}/vital-signs");
    let r = app
        .get(&format!("{path}?limit=3"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["recorded_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [
            "2026-11-20T20:00:00Z",
            "2026-11-20T16:00:00Z",
            "2026-11-20T12:00:00Z"
        ]
    );
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!("{path}?limit=3&cursor={cursor}"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["recorded_at"], "2026-11-20T08:00:00Z");
    assert!(r.body["next_cursor"].is_null());

    let r = app
        .get(&format!("{path}?flagged=true"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["news2"]["score"], 19);

    let r = app
        .get(&format!(
            "{path}?from=2026-11-20T10:00:00Z&to=2026-11-20T17:00:00Z"
        ))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);

    let r = app
        .get(&format!("{path}?cursor=nonsense"))
        .bearer(&nurse)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn a_correction_enters_the_old_set_in_error_and_charts_the_new_one() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let wrong = chart(&app, &nurse, &patient, sick_set()).await;
    let wrong_id = wrong["id"].as_str().unwrap();

    let r = app
        .post(&format!("/api/v1/vital-signs/{wrong_id}/correction"))
        .bearer(&nurse)
        .json(json!({"reason": "charted on the wrong patient", "replacement": normal_set()}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["entered_in_error"]["status"], "entered_in_error");
    assert_eq!(
        r.body["entered_in_error"]["error_reason"],
        "charted on the wrong patient"
    );
    assert_eq!(r.body["replacement"]["replaces"], wrong_id);
    assert_eq!(r.body["replacement"]["news2"]["score"], 0);

    // The wrong set stays on the chart, marked, and is hidden from the default list.
    let r = app
        .get(&format!("/api/v1/vital-signs/{wrong_id}"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["status"], "entered_in_error");
    let list = format!("/api/v1/patients/{patient}/vital-signs");
    let r = app.get(&list).bearer(&nurse).send().await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = app
        .get(&format!("{list}?include_entered_in_error=true"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);

    // Twice is a conflict; a reason is required.
    let r = app
        .post(&format!("/api/v1/vital-signs/{wrong_id}/correction"))
        .bearer(&nurse)
        .json(json!({"reason": "again"}))
        .send()
        .await;
    r.problem(StatusCode::CONFLICT);
    let r = app
        .post(&format!("/api/v1/vital-signs/{wrong_id}/correction"))
        .bearer(&nurse)
        .json(json!({"reason": ""}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 2);
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_and_lists_every_refused_set() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let a = admitted_patient(&app, &nurse).await;
    let b = admitted_patient(&app, &nurse).await;
    let item = |patient: &str, set: Value| {
        let mut set = set;
        set["patient_id"] = json!(patient);
        set
    };

    let r = app
        .post("/api/v1/vital-signs/batch")
        .bearer(&nurse)
        .json(json!({"records": [
            item(&a, normal_set()),
            item(&b, json!({"heart_rate": 400})),
            item(&a, sick_set()),
            item(&b, json!({"spo2": 120})),
        ]}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let failures = r.body["failures"].as_array().unwrap();
    let indexes: Vec<u64> = failures
        .iter()
        .map(|f| f["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [1, 3]);
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 0);

    // An unknown patient refuses the batch too.
    let r = app
        .post("/api/v1/vital-signs/batch")
        .bearer(&nurse)
        .json(json!({"records": [
            item(&a, normal_set()),
            item(&uuid::Uuid::now_v7().to_string(), normal_set()),
        ]}))
        .send()
        .await;
    r.problem(StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 0);

    let r = app
        .post("/api/v1/vital-signs/batch")
        .bearer(&nurse)
        .json(json!({"records": [
            item(&a, normal_set()),
            item(&b, normal_set()),
            item(&a, sick_set()),
        ]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let records = r.body["records"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    assert_eq!(records[2]["news2_score"], 19);
    assert_eq!(records[2]["risk"], "high");
    // Answered in the order given, though charted patient by patient.
    let patients: Vec<&str> = records
        .iter()
        .map(|r| r["patient_id"].as_str().unwrap())
        .collect();
    assert_eq!(patients, [a.as_str(), b.as_str(), a.as_str()]);
    assert_eq!(records[0]["news2_score"], 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 3);

    let r = app
        .post("/api/v1/vital-signs/batch")
        .bearer(&nurse)
        .json(json!({"records": []}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn spo2_scale_two_is_a_physician_setting_and_changes_the_score() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let patient = admitted_patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{patient}/clinical-settings");

    let r = app
        .patch(&path)
        .bearer(&nurse)
        .header("if-match", "*")
        .json(json!({"spo2_scale": 2}))
        .send()
        .await;
    r.problem(StatusCode::FORBIDDEN);
    let r = app
        .patch(&path)
        .bearer(&physician)
        .json(json!({"spo2_scale": 2}))
        .send()
        .await;
    r.problem(StatusCode::PRECONDITION_REQUIRED);
    let r = app
        .patch(&path)
        .bearer(&physician)
        .header("if-match", "*")
        .json(json!({"spo2_scale": 3}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);

    // A body must be a JSON object: serde would read `[2, null]` as the fields in order.
    let r = app
        .patch(&path)
        .bearer(&physician)
        .header("if-match", "*")
        .json(json!([2, null]))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["body"]);

    // SpO2 90% on air: 3 points on Scale 1, 0 on Scale 2.
    let set = json!({"spo2": 90, "on_oxygen": false});
    let before = chart(&app, &nurse, &patient, set.clone()).await;
    let spo2_points = |body: &Value| {
        body["news2"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["parameter"] == "spo2")
            .unwrap()["points"]
            .clone()
    };
    assert_eq!(spo2_points(&before), 3);
    assert_eq!(before["news2"]["complete"], false);

    let r = app
        .patch(&path)
        .bearer(&physician)
        .header("if-match", "\"1\"")
        .json(json!({"spo2_scale": 2, "last_systemic_therapy_on": "2026-11-01"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["spo2_scale"], 2);
    assert_eq!(r.body["last_systemic_therapy_on"], "2026-11-01");
    assert_eq!(r.header("etag"), Some("\"2\""));

    let after = chart(&app, &nurse, &patient, set).await;
    assert_eq!(spo2_points(&after), 0);
    assert_eq!(after["news2"]["spo2_scale"], 2);
    // The earlier set keeps the scale it was scored on.
    let r = app
        .get(&format!(
            "/api/v1/vital-signs/{}",
            before["id"].as_str().unwrap()
        ))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(spo2_points(&r.body), 3);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE reason LIKE 'clinical settings%'")
            .await,
        1
    );
}

async fn mrn_of(app: &TestApp, token: &str, patient: &str) -> String {
    let r = app
        .get(&format!("/api/v1/patients/{patient}"))
        .bearer(token)
        .send()
        .await;
    r.body["mrn"].as_str().unwrap().to_owned()
}

/// Posts `body` as a file to the CSV import (`query` such as `"?dry_run=true"`, or empty).
async fn import(
    app: &TestApp,
    token: &str,
    query: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> TestResponse {
    app.post(&format!("/api/v1/vital-signs/import{query}"))
        .bearer(token)
        .raw(content_type, body)
        .send()
        .await
}

#[tokio::test]
async fn a_csv_import_charts_good_lines_and_reports_every_refused_line() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let a = admitted_patient(&app, &nurse).await;
    let mrn = mrn_of(&app, &nurse, &a).await;
    let csv = format!(
        "mrn,recorded_at,heart_rate,respiratory_rate,spo2,on_oxygen,systolic_bp,temperature_c,consciousness,note\n\
         {mrn},2026-11-20T08:00:00Z,72,16,98,false,122,36.8,alert,\n\
         {mrn},2026-11-20T12:00:00Z,400,16,98,false,122,36.8,alert,\n\
         MRN-NOBODY,2026-11-20T12:00:00Z,72,16,98,false,122,36.8,alert,\n\
         {mrn},2026-11-20T16:00:00Z,135,26,90,true,88,39.5,voice,\"sick, very\"\n\
         {mrn},not-a-time,fast,16,98,maybe,122,36.8,alert,\n"
    );

    // A dry run reports and stores nothing.
    let r = import(&app, &nurse, "?dry_run=true", "text/csv", csv.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["dry_run"], true);
    assert_eq!(r.body["rows"], 5);
    assert_eq!(r.body["accepted"], 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM alert").await, 0);

    let r = import(&app, &nurse, "", "text/csv; charset=utf-8", csv).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["accepted"], 2);
    let refused = r.body["refused"].as_array().unwrap();
    let lines: Vec<u64> = refused
        .iter()
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 6]);
    assert_eq!(refused[0]["errors"][0]["field"], "heart_rate");
    assert_eq!(refused[1]["reason"], "no patient has this MRN");
    let mut bad: Vec<&str> = refused[2]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    bad.sort_unstable();
    assert_eq!(bad, ["heart_rate", "on_oxygen", "recorded_at"]);
    assert!(r.body["alerts_raised"].as_u64().unwrap() >= 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 2);

    let chart = app
        .get(&format!("/api/v1/patients/{a}/vital-signs"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(chart.body["items"][0]["note"], "sick, very");
    assert_eq!(chart.body["items"][0]["news2"]["score"], 19);
}

#[tokio::test]
async fn a_csv_line_that_does_not_fit_the_header_is_refused_alone() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let a = admitted_patient(&app, &nurse).await;
    let mrn = mrn_of(&app, &nurse, &a).await;
    let mut csv = format!(
        "mrn,recorded_at,heart_rate,note\n\
         {mrn},2026-11-20T08:00:00Z,72,\n\
         {mrn},2026-11-20T09:00:00Z,74,sick, very\n\
         {mrn},2026-11-20T10:00:00Z\n\
         {mrn},2026-11-20T11:00:00Z,76,\n\
         {mrn},2026-11-20T11:30:00Z,77,caf"
    )
    .into_bytes();
    // A note in Latin-1 ("café"): the line is not UTF-8. Then a good line.
    csv.extend_from_slice(b"\xe9\n");
    csv.extend_from_slice(format!("{mrn},2026-11-20T12:00:00Z,78,\n").as_bytes());

    let r = import(&app, &nurse, "", "text/csv", csv).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["rows"], 6);
    assert_eq!(r.body["accepted"], 3);
    let refused = r.body["refused"].as_array().unwrap();
    let lines: Vec<(u64, &str)> = refused
        .iter()
        .map(|l| (l["line"].as_u64().unwrap(), l["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        lines,
        [
            (3, "wrong number of fields"),
            (4, "wrong number of fields"),
            (6, "not UTF-8 text"),
        ]
    );
    assert_eq!(refused[0]["errors"][0]["field"], "line");
    assert_eq!(
        refused[0]["errors"][0]["message"],
        "has 5 fields; the header has 4"
    );
    assert_eq!(
        refused[1]["errors"][0]["message"],
        "has 2 fields; the header has 4"
    );
    let chart = app
        .get(&format!("/api/v1/patients/{a}/vital-signs"))
        .bearer(&nurse)
        .send()
        .await;
    let rates: Vec<f64> = chart.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["observations"]["heart_rate"].as_f64().unwrap())
        .collect();
    assert_eq!(rates, [78.0, 76.0, 72.0]);
}

#[tokio::test]
async fn a_csv_file_that_is_not_what_the_registry_reads_is_refused_whole() {
    let app = TestApp::spawn_with(|s| s.import_max_bytes = 200).await;
    let nurse = app.token(Role::Nurse).await;
    let technician = app.token(Role::Technician).await;
    let a = admitted_patient(&app, &nurse).await;
    let mrn = mrn_of(&app, &nurse, &a).await;
    let cases = [
        (
            "text/csv",
            "mrn,pulse\nX,80\n".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "text/csv",
            "heart_rate\n80\n".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "text/csv",
            "mrn,heart_rate\n".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/json",
            format!("mrn,heart_rate\n{mrn},80\n"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "text/csv",
            format!("mrn,heart_rate\n{}", format!("{mrn},80\n").repeat(20)),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (content_type, body, status) in cases {
        let r = import(&app, &nurse, "", content_type, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{body}"
        );
    }
    let r = import(
        &app,
        &technician,
        "",
        "text/csv",
        format!("mrn,heart_rate\n{mrn},80\n"),
    )
    .await;
    r.problem(StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 0);
}

#[tokio::test]
async fn each_charts_last_score_before_a_time_is_read_for_many_patients_at_once() {
    use chrono::Duration;
    use oncology_registry::persistence::vital_signs::VitalSignsRepository;

    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let hours_ago = |set: Value, h: i64| at_time(set, Utc::now() - Duration::hours(h));
    // Two sets before the cut (the later one is the answer), one after it.
    let a = admitted_patient(&app, &nurse).await;
    chart(&app, &nurse, &a, hours_ago(normal_set(), 30)).await;
    let before = chart(&app, &nurse, &a, hours_ago(sick_set(), 20)).await;
    chart(&app, &nurse, &a, hours_ago(normal_set(), 2)).await;
    // Only a set after the cut: nothing before it.
    let b = admitted_patient(&app, &nurse).await;
    chart(&app, &nurse, &b, hours_ago(sick_set(), 1)).await;
    // A set before the cut that was entered in error does not stand.
    let c = admitted_patient(&app, &nurse).await;
    let kept = chart(&app, &nurse, &c, hours_ago(normal_set(), 40)).await;
    let wrong = chart(&app, &nurse, &c, hours_ago(sick_set(), 12)).await;
    enter_in_error(&app, &nurse, &wrong).await;

    let ids: Vec<uuid::Uuid> = [&a, &b, &c]
        .iter()
        .map(|id| id.parse().unwrap())
        .chain([uuid::Uuid::now_v7()])
        .collect();
    let mut scores = VitalSignsRepository::scores_before(
        app.db().reader(),
        &ids,
        Utc::now() - Duration::hours(10),
    )
    .await
    .unwrap();
    scores.sort();
    let mut expected = vec![
        (ids[0], before["news2"]["score"].as_u64().unwrap() as u8),
        (ids[2], kept["news2"]["score"].as_u64().unwrap() as u8),
    ];
    expected.sort();
    assert_eq!(scores, expected);
    // The sick set scores high, the kept normal one zero: the cut picked the right rows.
    assert!(expected.iter().any(|(_, s)| *s > 10) && expected.iter().any(|(_, s)| *s == 0));
}

/// The time of the `n`th of a chunk's worth of sets a minute apart, the last an hour ago.
fn chunk_minute(n: usize) -> String {
    use chrono::Duration;
    use oncology_registry::services::vital_signs_import::CHUNK_ROWS;
    let first = Utc::now() - Duration::minutes(CHUNK_ROWS as i64 + 60);
    (first + Duration::minutes(n as i64)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn an_import_longer_than_one_chunk_judges_each_set_against_the_one_before_across_chunks() {
    use oncology_registry::services::vital_signs_import::CHUNK_ROWS;

    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let mrn = mrn_of(&app, &nurse, &patient).await;
    // A full chunk of NEWS2 0 a minute apart, then a set scoring 4 (RR 22: 2, SpO2 95: 1,
    // pulse 95: 1): a rise of 4 only if the first set of the second chunk is judged against
    // the last one of the first.
    let at = chunk_minute;
    let mut csv = String::from(
        "mrn,recorded_at,heart_rate,respiratory_rate,spo2,on_oxygen,systolic_bp,temperature_c,consciousness\n",
    );
    for n in 0..CHUNK_ROWS {
        csv.push_str(&format!("{mrn},{},72,16,98,false,122,36.8,alert\n", at(n)));
    }
    csv.push_str(&format!(
        "{mrn},{},95,22,95,false,122,36.8,alert\n",
        at(CHUNK_ROWS)
    ));

    let r = import(&app, &nurse, "", "text/csv", csv).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["rows"], CHUNK_ROWS as u64 + 1);
    assert_eq!(r.body["accepted"], CHUNK_ROWS as u64 + 1);
    assert_eq!(r.body["alerts_raised"], 1);
    let kinds: Vec<String> = app
        .query("SELECT kind FROM alert")
        .await
        .iter()
        .map(|row| row.try_get::<String>("", "kind").unwrap())
        .collect();
    assert_eq!(kinds, ["news2_rise"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM vital_signs").await,
        CHUNK_ROWS as i64 + 1
    );
}

/// A file that reads as `data`, then fails as a disk or a spool can.
struct BreaksAfter(std::io::Cursor<Vec<u8>>);

impl std::io::Read for BreaksAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(buf)? {
            0 => Err(std::io::Error::other("the spooled file could not be read")),
            n => Ok(n),
        }
    }
}

#[tokio::test]
async fn a_file_that_breaks_after_a_charted_chunk_charts_nothing() {
    use oncology_registry::services::ServiceError;
    use oncology_registry::services::access::{RecordVitalSigns, RequestContext};
    use oncology_registry::services::vital_signs_import::CHUNK_ROWS;

    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let mrn = mrn_of(&app, &nurse, &patient).await;
    // More than a full chunk, charted before the reader reaches the end, where it fails.
    let mut csv = String::from("mrn,recorded_at,heart_rate\n");
    for n in 0..=CHUNK_ROWS {
        csv.push_str(&format!("{mrn},{},72\n", chunk_minute(n)));
    }
    let services = &app.state.services;
    let actor = services
        .tokens
        .verify_access(&nurse, RequestContext::default())
        .unwrap();
    let permit = services
        .access
        .authorize::<RecordVitalSigns>(actor)
        .await
        .unwrap();
    let file = BreaksAfter(std::io::Cursor::new(csv.into_bytes()));
    let error = services
        .vital_signs
        .import_csv(&permit, file, false)
        .await
        .unwrap_err();
    // The server's fault, not the file's: an internal error (its cause logged, never sent).
    assert!(
        matches!(&error, ServiceError::Internal(cause) if cause.contains("could not be read")),
        "{error}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM vital_signs").await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM observation_summary").await,
        0
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM stream_event").await, 0);
}

/// A request of `sets` for `patients` (a batch when there are several, else a single set).
async fn chart_request(
    app: &TestApp,
    token: &str,
    sets: Vec<(String, Value)>,
) -> (StatusCode, Value) {
    let r = if let [(patient, set)] = sets.as_slice() {
        app.post(&format!("/api/v1/patients/{patient}/vital-signs"))
            .bearer(token)
            .json(set.clone())
            .send()
            .await
    } else {
        let records: Vec<Value> = sets
            .into_iter()
            .map(|(patient, mut set)| {
                set["patient_id"] = json!(patient);
                set
            })
            .collect();
        app.post("/api/v1/vital-signs/batch")
            .bearer(token)
            .json(json!({ "records": records }))
            .send()
            .await
    };
    (r.status, r.body)
}

/// Sends every request at once, so that they queue for the writer together, each by the next
/// of `tokens` in turn; answers in order.
async fn chart_together(
    app: &TestApp,
    tokens: &[&str],
    requests: &[Vec<(String, Value)>],
) -> Vec<(StatusCode, Value)> {
    futures::future::join_all(
        requests
            .iter()
            .enumerate()
            .map(|(n, sets)| chart_request(app, tokens[n % tokens.len()], sets.clone())),
    )
    .await
}

async fn admitted_patients(app: &TestApp, token: &str, n: usize) -> Vec<String> {
    let mut patients = Vec::with_capacity(n);
    for _ in 0..n {
        patients.push(admitted_patient(app, token).await);
    }
    patients
}

/// Exactly `charted` sets are stored, each with its audit event and its change-feed entry.
async fn assert_stored(app: &TestApp, charted: usize) {
    assert_eq!(
        app.count("SELECT COUNT(*) FROM vital_signs").await,
        charted as i64
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'create' \
             AND resource_type = 'vital_signs'"
        )
        .await,
        charted as i64
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM stream_event WHERE topic = 'vital_signs'")
            .await,
        charted as i64
    );
}

#[tokio::test]
async fn concurrent_chartings_each_stand_or_fall_alone() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let admitted = admitted_patients(&app, &nurse, 4).await;
    let discharged = admitted_patient(&app, &nurse).await;
    app.discharge(&nurse, &discharged).await;

    // Requests arriving together are committed together; the refused ones must not take the
    // others with them, nor leave anything behind.
    let mut requests = Vec::new();
    for n in 0..40 {
        let patient = admitted[n % admitted.len()].clone();
        let sets = match n % 5 {
            0 => vec![(discharged.clone(), normal_set())],
            1 => vec![
                (patient.clone(), normal_set()),
                (discharged.clone(), normal_set()),
            ],
            2 => vec![(patient.clone(), normal_set()), (patient, sick_set())],
            _ => vec![(patient, normal_set())],
        };
        requests.push(sets);
    }
    let expected: Vec<(StatusCode, usize)> = requests
        .iter()
        .map(|sets| {
            if sets.iter().any(|(p, _)| *p == discharged) {
                (StatusCode::CONFLICT, 0)
            } else {
                (StatusCode::CREATED, sets.len())
            }
        })
        .collect();
    // Nurse and physician in turn: each set is theirs, though charted in one batch.
    let physician = app.token(Role::Physician).await;
    let mut users = Vec::new();
    for token in [&nurse, &physician] {
        let me = app.get("/api/v1/auth/me").bearer(token).send().await;
        users.push(me.body["id"].as_str().unwrap().to_owned());
    }
    let answers = chart_together(&app, &[&nurse, &physician], &requests).await;
    let mut charted = 0;
    for (n, ((status, body), (want, sets))) in answers.iter().zip(&expected).enumerate() {
        assert_eq!(status, want, "{body}");
        if *want == StatusCode::CREATED {
            let records: Vec<&Value> = match body["records"].as_array() {
                Some(records) => records.iter().collect(),
                None => vec![body],
            };
            assert_eq!(records.len(), *sets, "{body}");
            for record in records {
                let id = record["id"].as_str().unwrap();
                let poster = app.uuid_literal(&users[n % 2]);
                let audited_by = app
                    .count(&format!(
                        "SELECT COUNT(*) FROM audit_event WHERE action = 'create' \
                         AND resource_id = '{id}' AND actor_id = {poster}"
                    ))
                    .await;
                assert_eq!(
                    audited_by, 1,
                    "set {id} is audited as charted by its poster"
                );
                let stored = app
                    .count(&format!(
                        "SELECT COUNT(*) FROM vital_signs WHERE id = {} AND recorded_by = {poster}",
                        app.uuid_literal(id)
                    ))
                    .await;
                assert_eq!(stored, 1, "set {id} was answered as charted, by its poster");
            }
            charted += sets;
        }
    }
    assert_eq!(charted, 8 * 2 + 16);
    assert_stored(&app, charted).await;
    // One alert per patient and kind, however the sick sets were grouped.
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM (SELECT patient_id, kind FROM alert \
             GROUP BY patient_id, kind HAVING COUNT(*) > 1) t"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_charting_that_fails_while_it_is_written_fails_alone() {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patients = admitted_patients(&app, &nurse, 3).await;
    // A fault the checks before writing cannot see: the database refuses one kind of set.
    let writer = app.db().writer();
    let faults: &[&str] = match app.db().backend() {
        sea_orm::DbBackend::Postgres => &[
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.note = 'poison' THEN RAISE EXCEPTION 'poisoned set'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON vital_signs \
             FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
        ],
        _ => &["CREATE TRIGGER refuse_poison BEFORE INSERT ON vital_signs \
                WHEN NEW.note = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned set'); END"],
    };
    for sql in faults {
        writer.execute_unprepared(sql).await.unwrap();
    }
    let poison = || {
        let mut set = normal_set();
        set["note"] = json!("poison");
        set
    };
    let mut requests = Vec::new();
    for n in 0..30 {
        let patient = patients[n % patients.len()].clone();
        requests.push(match n % 6 {
            0 => vec![(patient, poison())],
            1 => vec![(patient.clone(), normal_set()), (patient, poison())],
            2 => vec![(patient.clone(), normal_set()), (patient, sick_set())],
            _ => vec![(patient, normal_set())],
        });
    }
    let answers = chart_together(&app, &[&nurse], &requests).await;
    let mut charted = 0;
    for ((status, body), sets) in answers.iter().zip(&requests) {
        if sets.iter().any(|(_, s)| s["note"] == "poison") {
            assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
            assert!(
                !body.to_string().contains("poisoned"),
                "the cause is logged, not shown: {body}"
            );
        } else {
            assert_eq!(*status, StatusCode::CREATED, "{body}");
            charted += sets.len();
        }
    }
    assert_eq!(charted, 5 * 2 + 15);
    assert_stored(&app, charted).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM vital_signs WHERE note = 'poison'")
            .await,
        0
    );
}

#[tokio::test]
async fn sets_charted_together_are_judged_in_order_of_arrival() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let now = Utc::now();
    chart(
        &app,
        &nurse,
        &patient,
        at_time(normal_set(), now - chrono::Duration::hours(2)),
    )
    .await;
    // The newer normal set arrives first, then a deteriorated one taken an hour before it:
    // both queue for the writer and are charted in one transaction. The late set is scored and
    // flagged, but it is behind a newer set, so (as when charted on its own after it) it
    // raises no alert and the ward sees the newer set.
    let newer = at_time(normal_set(), now - chrono::Duration::minutes(1));
    let late = at_time(sick_set(), now - chrono::Duration::hours(1));
    let answers = chart_together(
        &app,
        &[&nurse],
        &[
            vec![(patient.clone(), newer)],
            vec![(patient.clone(), late)],
        ],
    )
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
    }
    let (newer, late) = (&answers[0].1, &answers[1].1);
    assert_eq!(late["news2"]["score"], 19, "{late}");
    assert!(!late["flags"].as_array().unwrap().is_empty(), "{late}");
    assert_eq!(late["alerts"], json!([]), "{late}");
    assert_eq!(newer["alerts"], json!([]), "{newer}");
    assert_eq!(app.count("SELECT COUNT(*) FROM alert").await, 0);
    let summary = app
        .count(&format!(
            "SELECT CAST(news2_score AS BIGINT) FROM observation_summary WHERE patient_id = {}",
            app.uuid_literal(&patient)
        ))
        .await;
    assert_eq!(summary, 0, "the ward sees the newer set");
}

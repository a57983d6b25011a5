//! The ward screens through the API: the ward overview (who, how sick, what is overdue, which
//! alerts stand, sickest first) and a patient's chart insights.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use oncology_registry::domain::user::Role;
use serde_json::{Value, json};

use crate::alerts::kinds;
use crate::helpers::{TestApp, patient_body};
use crate::vital_signs::{admitted_patient, at_time, chart, enter_in_error, normal_set, sick_set};

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("a time: {value}")))
        .unwrap()
        .with_timezone(&Utc)
}

fn with(mut set: Value, field: &str, value: Value) -> Value {
    set[field] = value;
    set
}

/// Oxygen (2) + RR 21 (2) + pulse 95 (1) = NEWS2 5: medium.
fn medium_set() -> Value {
    let set = with(normal_set(), "on_oxygen", json!(true));
    let set = with(set, "respiratory_rate", json!(21));
    with(set, "heart_rate", json!(95))
}

/// Pulse 135 alone scores 3: NEWS2 3 with a single red, low-medium.
fn single_red_set() -> Value {
    with(normal_set(), "heart_rate", json!(135))
}

/// Registers a patient on `ward` with this family name.
async fn patient_named(app: &TestApp, token: &str, last_name: &str, ward: &str) -> String {
    let mut body = patient_body();
    body["last_name"] = json!(last_name);
    body["ward"] = json!(ward);
    app.create_patient(token, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn overview(app: &TestApp, token: &str, ward: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/wards/{ward}/overview"))
        .bearer(token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn line<'a>(overview: &'a Value, patient: &str) -> &'a Value {
    overview["patients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["patient_id"] == patient)
        .unwrap_or_else(|| panic!("{patient} not on the overview: {overview}"))
}

fn last_names(overview: &Value) -> Vec<String> {
    overview["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["last_name"].as_str().unwrap().to_owned())
        .collect()
}

fn alert_kinds(line: &Value) -> Vec<String> {
    line["open_alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts the overview line's due time is its latest set plus `interval`.
#[track_caller]
fn assert_due_after(line: &Value, interval: Duration) {
    let recorded_at = time(&line["latest"]["recorded_at"]);
    assert_eq!(time(&line["next_due_at"]) - recorded_at, interval, "{line}");
}

// ---------------------------------------------------------------------------------------------
// Ward overview
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_ward_overview_lists_the_wards_admitted_patients_sickest_first() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let now = Utc::now();

    let adams = patient_named(&app, &nurse, "Adams", "ONC-1").await;
    let baker = patient_named(&app, &nurse, "Baker", "ONC-1").await;
    let clark = patient_named(&app, &nurse, "Clark", "ONC-1").await;
    let davis = patient_named(&app, &nurse, "Davis", "ONC-1").await;
    let evans = patient_named(&app, &nurse, "Evans", "ONC-1").await;
    let green = patient_named(&app, &nurse, "Green", "ONC-1").await;
    let fox = patient_named(&app, &nurse, "Fox", "ONC-1").await;
    let elsewhere = patient_named(&app, &nurse, "Aaron", "ONC-2").await;
    let discharged = patient_named(&app, &nurse, "Abbott", "ONC-1").await;
    let deleted = patient_named(&app, &nurse, "Abel", "ONC-1").await;

    // Adams: nothing charted.
    let baker_set = chart(&app, &nurse, &baker, sick_set()).await;
    chart(&app, &nurse, &clark, medium_set()).await;
    chart(&app, &nurse, &davis, single_red_set()).await;
    // Evans: score 0 thirteen hours ago, past the 12-hourly due time.
    let evans_set = chart(
        &app,
        &nurse,
        &evans,
        at_time(normal_set(), now - Duration::hours(13)),
    )
    .await;
    chart(&app, &nurse, &fox, normal_set()).await;
    chart(&app, &nurse, &green, normal_set()).await;
    for p in [&elsewhere, &discharged, &deleted] {
        chart(&app, &nurse, p, sick_set()).await;
    }
    app.discharge(&nurse, &discharged).await;
    let r = app
        .delete(&format!("/api/v1/patients/{deleted}"))
        .bearer(&physician)
        .header("if-match", "*")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);

    let body = overview(&app, &nurse, "ONC-1").await;
    assert_eq!(body["ward"], "ONC-1");
    let generated_at = time(&body["generated_at"]);
    assert!(generated_at >= now && generated_at <= Utc::now(), "{body}");
    assert_eq!(
        last_names(&body),
        ["Baker", "Clark", "Davis", "Evans", "Fox", "Green", "Adams"]
    );

    // Baker: high, both alerts, the critical one first; due in 15 minutes.
    let b = line(&body, &baker);
    assert_eq!(b["latest"]["vital_signs_id"], baker_set["id"]);
    assert_eq!(b["latest"]["news2_score"], 19);
    assert_eq!(b["latest"]["risk"], "high");
    assert_eq!(b["latest"]["complete"], true);
    assert_eq!(b["latest"]["any_single_red"], true);
    assert_due_after(b, Duration::minutes(15));
    assert_eq!(b["overdue"], false);
    assert_eq!(alert_kinds(b), ["news2_high", "qsofa"]);
    assert_eq!(b["open_alerts"][0]["severity"], "critical");
    assert_eq!(b["open_alerts"][0]["status"], "open");
    assert_eq!(b["open_alerts"][0]["patient_id"], baker.as_str());
    assert_eq!(b["open_alerts"][0]["vital_signs_id"], baker_set["id"]);
    let high_id = baker_set["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "news2_high")
        .unwrap()["id"]
        .clone();
    assert_eq!(b["open_alerts"][0]["id"], high_id);
    assert_eq!(b["mrn"].as_str().unwrap().len(), 16);
    assert_eq!(b["bed"], "7");
    assert_eq!(
        b["_links"]["patient"]["href"],
        format!("/api/v1/patients/{baker}")
    );
    assert_eq!(
        b["_links"]["insights"]["href"],
        format!("/api/v1/patients/{baker}/vital-signs/insights")
    );

    let c = line(&body, &clark);
    assert_eq!(c["latest"]["news2_score"], 5);
    assert_eq!(c["latest"]["risk"], "medium");
    assert_eq!(c["latest"]["any_single_red"], false);
    assert_due_after(c, Duration::hours(1));
    assert_eq!(alert_kinds(c), ["news2_medium"]);

    let d = line(&body, &davis);
    assert_eq!(d["latest"]["news2_score"], 3);
    assert_eq!(d["latest"]["risk"], "low_medium");
    assert_eq!(d["latest"]["any_single_red"], true);
    assert_due_after(d, Duration::hours(1));
    assert_eq!(alert_kinds(d), ["single_red_score"]);

    let e = line(&body, &evans);
    assert_eq!(e["latest"]["vital_signs_id"], evans_set["id"]);
    assert_eq!(e["latest"]["news2_score"], 0);
    assert_eq!(e["latest"]["risk"], "low");
    assert_eq!(
        time(&e["latest"]["recorded_at"]),
        time(&json!(rfc3339(now - Duration::hours(13))))
    );
    assert_eq!(
        time(&e["next_due_at"]),
        time(&json!(rfc3339(now - Duration::hours(1))))
    );
    assert_eq!(e["overdue"], true);
    assert_eq!(e["open_alerts"], json!([]));

    let f = line(&body, &fox);
    assert_due_after(f, Duration::hours(12));
    assert_eq!(f["overdue"], false);
    assert_eq!(f["open_alerts"], json!([]));

    let a = line(&body, &adams);
    assert!(a["latest"].is_null());
    assert!(a["next_due_at"].is_null());
    assert_eq!(a["overdue"], true);
    assert_eq!(a["open_alerts"], json!([]));

    // The other ward sees only its own patient.
    let other = overview(&app, &physician, "ONC-2").await;
    assert_eq!(last_names(&other), ["Aaron"]);
    assert_eq!(line(&other, &elsewhere)["latest"]["news2_score"], 19);
    // A ward with nobody on it is empty, not missing.
    let empty = overview(&app, &nurse, "ONC-9").await;
    assert_eq!(empty["ward"], "ONC-9");
    assert_eq!(empty["patients"], json!([]));
}

#[tokio::test]
async fn among_equal_scores_the_worst_alert_then_the_score_decide_before_the_name() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let now = Utc::now();
    // Both score 1 (38.5 °C) and neither is overdue; only Young is neutropenic and alerted.
    let young = patient_named(&app, &nurse, "Young", "ONC-1").await;
    let ahmed = patient_named(&app, &nurse, "Ahmed", "ONC-1").await;
    let r = app
        .post(&format!("/api/v1/patients/{young}/lab-results"))
        .bearer(&nurse)
        .json(
            json!({"code": "anc", "value": 0.2, "measured_at": rfc3339(now - Duration::hours(2))}),
        )
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let febrile = with(normal_set(), "temperature_c", json!(38.5));
    let y = chart(&app, &nurse, &young, febrile.clone()).await;
    assert_eq!(y["alerts"][0]["kind"], "febrile_neutropenia");
    let a = chart(&app, &nurse, &ahmed, febrile).await;
    assert_eq!(a["alerts"], json!([]));
    // Two high patients: the higher score first whatever the names.
    let zed = patient_named(&app, &nurse, "Zed", "ONC-1").await;
    let bell = patient_named(&app, &nurse, "Bell", "ONC-1").await;
    chart(&app, &nurse, &zed, sick_set()).await;
    // Pulse 135 (3) + oxygen (2) + RR 21 (2) = 7: high, the lowest high.
    let seven = with(single_red_set(), "on_oxygen", json!(true));
    let seven = with(seven, "respiratory_rate", json!(21));
    let b = chart(&app, &nurse, &bell, seven).await;
    assert_eq!(b["news2"]["score"], 7);

    let body = overview(&app, &nurse, "ONC-1").await;
    assert_eq!(last_names(&body), ["Zed", "Bell", "Young", "Ahmed"]);
    assert_eq!(alert_kinds(line(&body, &young)), ["febrile_neutropenia"]);
    assert_eq!(line(&body, &young)["overdue"], false);
    assert_eq!(line(&body, &ahmed)["overdue"], false);
}

#[tokio::test]
async fn the_overview_shows_acknowledged_alerts_but_not_resolved_ones() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    chart(&app, &nurse, &patient, normal_set()).await;
    let sick = chart(&app, &nurse, &patient, sick_set()).await;
    let id_of = |kind: &str| {
        sick["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == kind)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let body = overview(&app, &nurse, "ONC-1").await;
    // Most severe first: critical, urgent, warning.
    assert_eq!(
        alert_kinds(line(&body, &patient)),
        ["news2_high", "qsofa", "news2_rise"]
    );

    let r = app
        .post(&format!(
            "/api/v1/alerts/{}/acknowledge",
            id_of("news2_high")
        ))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .post(&format!("/api/v1/alerts/{}/resolve", id_of("qsofa")))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let body = overview(&app, &nurse, "ONC-1").await;
    let l = line(&body, &patient);
    assert_eq!(alert_kinds(l), ["news2_high", "news2_rise"]);
    assert_eq!(l["open_alerts"][0]["status"], "acknowledged");
    assert_eq!(l["open_alerts"][0]["version"], 2);
    assert_eq!(l["open_alerts"][1]["status"], "open");
}

#[tokio::test]
async fn entering_the_latest_set_in_error_puts_the_one_before_back_on_the_overview() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let now = Utc::now();
    let earlier = chart(
        &app,
        &nurse,
        &patient,
        at_time(normal_set(), now - Duration::hours(2)),
    )
    .await;
    let wrong = chart(&app, &nurse, &patient, sick_set()).await;
    let body = overview(&app, &nurse, "ONC-1").await;
    assert_eq!(
        line(&body, &patient)["latest"]["vital_signs_id"],
        wrong["id"]
    );

    let body = enter_in_error(&app, &nurse, &wrong).await;
    assert!(body["replacement"].is_null());

    let body = overview(&app, &nurse, "ONC-1").await;
    let l = line(&body, &patient);
    assert_eq!(l["latest"]["vital_signs_id"], earlier["id"]);
    assert_eq!(l["latest"]["news2_score"], 0);
    assert_eq!(l["latest"]["risk"], "low");
    assert_due_after(l, Duration::hours(12));
    assert_eq!(
        time(&l["next_due_at"]),
        time(&json!(rfc3339(now + Duration::hours(10))))
    );
    assert_eq!(l["overdue"], false);

    // With the only set entered in error, nothing is charted: due now.
    let other = admitted_patient(&app, &nurse).await;
    let only = chart(&app, &nurse, &other, normal_set()).await;
    enter_in_error(&app, &nurse, &only).await;
    let body = overview(&app, &nurse, "ONC-1").await;
    let l = line(&body, &other);
    assert!(l["latest"].is_null(), "{l}");
    assert_eq!(l["overdue"], true);
}

#[tokio::test]
async fn a_replacement_dated_before_the_set_it_corrects_takes_its_place_and_raises_its_alerts() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let now = Utc::now();
    // Charted at 10 minutes ago with the wrong values; the right ones were taken 2 minutes
    // before that.
    let wrong = chart(
        &app,
        &nurse,
        &patient,
        at_time(normal_set(), now - Duration::minutes(10)),
    )
    .await;
    let r = app
        .post(&format!(
            "/api/v1/vital-signs/{}/correction",
            wrong["id"].as_str().unwrap()
        ))
        .bearer(&nurse)
        .json(json!({
            "reason": "values of another patient",
            "replacement": at_time(sick_set(), now - Duration::minutes(12)),
        }))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let replacement = &r.body["replacement"];
    assert_eq!(replacement["news2"]["score"], 19);
    // The replacement is the patient's latest standing set, so it is judged as the patient
    // now: not as a set entered late behind the one it corrects.
    let raised = kinds(&replacement["alerts"]);
    assert!(raised.contains(&"news2_high".to_owned()), "{raised:?}");
    assert!(raised.contains(&"qsofa".to_owned()), "{raised:?}");

    let body = overview(&app, &nurse, "ONC-1").await;
    let l = line(&body, &patient);
    assert_eq!(l["latest"]["vital_signs_id"], replacement["id"]);
    assert_eq!(l["latest"]["news2_score"], 19);
    assert_eq!(l["latest"]["risk"], "high");
    assert!(alert_kinds(l).contains(&"news2_high".to_owned()), "{l}");
}

#[tokio::test]
async fn a_set_without_any_news2_parameter_never_stands_as_the_latest_news2() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let now = Utc::now();
    let sick = chart(
        &app,
        &nurse,
        &patient,
        at_time(sick_set(), now - Duration::minutes(20)),
    )
    .await;
    // A weight and a pain score: charted and kept, but no observation of NEWS2.
    let weight = chart(
        &app,
        &nurse,
        &patient,
        at_time(
            json!({"weight_kg": 58.2, "pain_score": 3}),
            now - Duration::minutes(10),
        ),
    )
    .await;
    assert_eq!(weight["news2"]["complete"], false);
    assert_eq!(weight["alerts"], json!([]));

    // The ward still sees the deteriorating patient, due for continuous monitoring.
    let body = overview(&app, &nurse, "ONC-1").await;
    let l = line(&body, &patient);
    assert_eq!(l["latest"]["vital_signs_id"], sick["id"]);
    assert_eq!(l["latest"]["news2_score"], 19);
    assert_eq!(l["latest"]["risk"], "high");
    assert_eq!(l["overdue"], true, "{l}");

    let r = app
        .get(&format!("/api/v1/patients/{patient}/vital-signs/insights"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["records"], 2);
    assert_eq!(r.body["latest_news2"]["score"], 19);
    assert_eq!(
        time(&r.body["latest_news2"]["recorded_at"]),
        time(&sick["recorded_at"])
    );
    let series = r.body["news2_series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(r.body["overdue"], true);

    // The next full set is compared with 19, not with the weight's 0: RR 21 (2) is no rise.
    let next = chart(
        &app,
        &nurse,
        &patient,
        with(normal_set(), "respiratory_rate", json!(21)),
    )
    .await;
    assert_eq!(next["news2"]["score"], 2);
    assert_eq!(next["alerts"], json!([]), "{next}");
    let body = overview(&app, &nurse, "ONC-1").await;
    assert_eq!(
        line(&body, &patient)["latest"]["vital_signs_id"],
        next["id"]
    );
}

#[tokio::test]
async fn a_transferred_patient_moves_to_the_new_wards_overview() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    chart(&app, &nurse, &patient, sick_set()).await;
    let r = app
        .patch(&format!("/api/v1/patients/{patient}"))
        .bearer(&nurse)
        .header("if-match", "*")
        .json(json!({"ward": "ICU", "bed": "2"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(overview(&app, &nurse, "ONC-1").await["patients"], json!([]));
    let icu = overview(&app, &nurse, "ICU").await;
    let l = line(&icu, &patient);
    assert_eq!(l["bed"], "2");
    assert_eq!(l["latest"]["news2_score"], 19);
    assert_eq!(alert_kinds(l), ["news2_high", "qsofa"]);
}

#[tokio::test]
async fn only_nurses_and_physicians_see_the_ward_overview() {
    let app = TestApp::spawn().await;
    let physician = app.token(Role::Physician).await;
    let technician = app.token(Role::Technician).await;
    let admin = app.token(Role::Admin).await;
    for token in [&technician, &admin] {
        app.get("/api/v1/wards/ONC-1/overview")
            .bearer(token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    app.get("/api/v1/wards/ONC-1/overview")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    overview(&app, &physician, "ONC-1").await;

    // A ward name longer than 32 characters is no ward.
    let r = app
        .get(&format!("/api/v1/wards/{}/overview", "W".repeat(33)))
        .bearer(&physician)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["ward"]);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_event WHERE resource_type = 'ward' AND action = 'read'"
        )
        .await,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// Insights
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn insights_summarise_the_standing_sets_of_the_window() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let now = Utc::now();
    let at = |hours: i64| now - Duration::hours(hours);

    // Outside the 24 h window: pulse 50 (NEWS2 1).
    chart(
        &app,
        &nurse,
        &patient,
        at_time(with(normal_set(), "heart_rate", json!(50)), at(30)),
    )
    .await;
    // Inside: 70 (0), 80 with 38.5 °C (1, flagged), 120 (2, flagged; entered in error), 96 (1).
    let b = chart(
        &app,
        &nurse,
        &patient,
        at_time(with(normal_set(), "heart_rate", json!(70)), at(6)),
    )
    .await;
    let c = chart(
        &app,
        &nurse,
        &patient,
        at_time(
            with(
                with(normal_set(), "heart_rate", json!(80)),
                "temperature_c",
                json!(38.5),
            ),
            at(4),
        ),
    )
    .await;
    assert_eq!(c["flags"][0]["parameter"], "temperature_c");
    let wrong = chart(
        &app,
        &nurse,
        &patient,
        at_time(with(normal_set(), "heart_rate", json!(120)), at(2)),
    )
    .await;
    assert_eq!(wrong["flags"][0]["parameter"], "heart_rate");
    let e = chart(
        &app,
        &nurse,
        &patient,
        at_time(
            with(
                with(normal_set(), "heart_rate", json!(96)),
                "pain_score",
                json!(4),
            ),
            at(1),
        ),
    )
    .await;
    assert_eq!(e["flags"], json!([]));
    let r = app
        .post(&format!(
            "/api/v1/vital-signs/{}/correction",
            wrong["id"].as_str().unwrap()
        ))
        .bearer(&nurse)
        .json(json!({"reason": "pulse of the neighbouring bed"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let r = app
        .get(&format!(
            "/api/v1/patients/{patient}/vital-signs/insights?window=24h"
        ))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = &r.body;
    assert_eq!(body["patient_id"], patient.as_str());
    assert_eq!(body["window"], "24h");
    let (from, to) = (time(&body["from"]), time(&body["to"]));
    assert_eq!(to - from, Duration::hours(24));
    assert!(to >= now && to <= Utc::now(), "{body}");
    assert_eq!(body["records"], 3);
    assert_eq!(body["flagged_records"], 1);

    let parameters: Vec<&str> = body["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["parameter"].as_str().unwrap())
        .collect();
    assert_eq!(
        parameters,
        [
            "respiratory_rate",
            "spo2",
            "systolic_bp",
            "diastolic_bp",
            "heart_rate",
            "temperature_c",
            "pain_score"
        ]
    );
    let parameter = |name: &str| {
        body["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["parameter"] == name)
            .unwrap()
            .clone()
    };
    let hr = parameter("heart_rate");
    assert_eq!(hr["count"], 3);
    assert_eq!(hr["min"], 70.0);
    assert_eq!(hr["max"], 96.0);
    assert_eq!(hr["mean"], 82.0);
    assert_eq!(hr["latest"], 96.0);
    assert_eq!(time(&hr["latest_at"]), time(&json!(rfc3339(at(1)))));
    // Least squares over (0 h, 70), (2 h, 80), (5 h, 96): 66 / (114 / 9) per hour.
    let slope = hr["slope_per_hour"].as_f64().unwrap();
    assert!((slope - 594.0 / 114.0).abs() < 1e-9, "{slope}");
    assert_eq!(hr["trend"], "rising");
    let temp = parameter("temperature_c");
    assert_eq!(temp["count"], 3);
    assert_eq!(temp["min"], 36.8);
    assert_eq!(temp["max"], 38.5);
    assert_eq!(temp["latest"], 36.8);
    assert!((temp["mean"].as_f64().unwrap() - 37.366_666_666_666_67).abs() < 1e-9);
    let pain = parameter("pain_score");
    assert_eq!(pain["count"], 1);
    assert_eq!(pain["latest"], 4.0);
    assert!(pain["slope_per_hour"].is_null());
    assert_eq!(pain["trend"], "stable");
    let rr = parameter("respiratory_rate");
    assert_eq!(rr["min"], 16.0);
    assert_eq!(rr["max"], 16.0);
    assert_eq!(rr["slope_per_hour"], 0.0);
    assert_eq!(rr["trend"], "stable");

    let series: Vec<(String, u64)> = body["news2_series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["vital_signs_id"].as_str().unwrap().to_owned(),
                p["score"].as_u64().unwrap(),
            )
        })
        .collect();
    let id = |set: &Value| set["id"].as_str().unwrap().to_owned();
    assert_eq!(series, [(id(&b), 0), (id(&c), 1), (id(&e), 1)]);
    assert_eq!(body["news2_series"][0]["risk"], "low");

    let latest = &body["latest_news2"];
    assert_eq!(time(&latest["recorded_at"]), time(&json!(rfc3339(at(1)))));
    assert_eq!(latest["score"], 1);
    assert_eq!(latest["risk"], "low");
    assert_eq!(latest["monitoring"]["frequency"], "four_to_six_hourly");
    assert_eq!(latest["monitoring"]["interval_minutes"], 240);
    assert_eq!(latest["parameters"].as_array().unwrap().len(), 7);
    assert_eq!(
        time(&body["next_due_at"]),
        time(&json!(rfc3339(now + Duration::hours(3))))
    );
    assert_eq!(body["overdue"], false);

    // 48 h reaches the set from 30 h ago too.
    let r = app
        .get(&format!(
            "/api/v1/patients/{patient}/vital-signs/insights?window=2d"
        ))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["window"], "2d");
    assert_eq!(r.body["records"], 4);
    let hr = r.body["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["parameter"] == "heart_rate")
        .unwrap()
        .clone();
    assert_eq!(hr["count"], 4);
    assert_eq!(hr["min"], 50.0);
    assert_eq!(hr["mean"], 74.0);
}

#[tokio::test]
async fn insights_keep_the_latest_news2_and_due_time_when_the_window_is_empty() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let now = Utc::now();
    let old = chart(
        &app,
        &nurse,
        &patient,
        at_time(normal_set(), now - Duration::hours(13)),
    )
    .await;

    let r = app
        .get(&format!(
            "/api/v1/patients/{patient}/vital-signs/insights?window=1h"
        ))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = &r.body;
    assert_eq!(body["window"], "1h");
    assert_eq!(time(&body["to"]) - time(&body["from"]), Duration::hours(1));
    assert_eq!(body["records"], 0);
    assert_eq!(body["flagged_records"], 0);
    assert_eq!(body["parameters"], json!([]));
    assert_eq!(body["news2_series"], json!([]));
    assert_eq!(body["latest_news2"]["score"], 0);
    assert_eq!(
        body["latest_news2"]["monitoring"]["frequency"],
        "twelve_hourly"
    );
    assert_eq!(
        time(&body["latest_news2"]["recorded_at"]),
        time(&old["recorded_at"])
    );
    assert_eq!(
        time(&body["next_due_at"]),
        time(&json!(rfc3339(now - Duration::hours(1))))
    );
    assert_eq!(body["overdue"], true);

    // Nothing charted at all: no NEWS2, nothing due but overdue all the same.
    let fresh = admitted_patient(&app, &nurse).await;
    let r = app
        .get(&format!("/api/v1/patients/{fresh}/vital-signs/insights"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["window"], "24h");
    assert_eq!(
        time(&r.body["to"]) - time(&r.body["from"]),
        Duration::hours(24)
    );
    assert_eq!(r.body["records"], 0);
    assert!(r.body["latest_news2"].is_null());
    assert!(r.body["next_due_at"].is_null());
    assert_eq!(r.body["overdue"], true);
}

// Regression: a window beyond chrono's range once panicked (500) instead of answering 422.
#[tokio::test]
async fn insights_refuse_a_window_outside_one_hour_to_thirty_days() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{patient}/vital-signs/insights");
    for good in ["1h", "720h", "30d", "7d"] {
        let r = app
            .get(&format!("{path}?window={good}"))
            .bearer(&nurse)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{good}: {}", r.body);
        assert_eq!(r.body["window"], good);
    }
    for bad in [
        "0h",
        "721h",
        "31d",
        "24",
        "h",
        "",
        "24m",
        "-1h",
        "1.5h",
        "1000d",
        // Large enough to overflow a duration: still a refusal, not a server error.
        "9999999999999999h",
        "999999999999999d",
    ] {
        let r = app
            .get(&format!("{path}?window={bad}"))
            .bearer(&nurse)
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.error_fields(), ["window"], "{bad}: {}", r.body);
    }
    let r = app
        .get(&format!("{path}?span=24h"))
        .bearer(&nurse)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn only_nurses_and_physicians_read_insights_and_only_of_known_patients() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let technician = app.token(Role::Technician).await;
    let admin = app.token(Role::Admin).await;
    let patient = admitted_patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{patient}/vital-signs/insights");
    for token in [&technician, &admin] {
        app.get(&path)
            .bearer(token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    app.get(&path)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    let r = app.get(&path).bearer(&physician).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    app.get(&format!(
        "/api/v1/patients/{}/vital-signs/insights",
        uuid::Uuid::now_v7()
    ))
    .bearer(&nurse)
    .send()
    .await
    .problem(StatusCode::NOT_FOUND);
    app.get("/api/v1/patients/not-a-uuid/vital-signs/insights")
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);

    // A deleted patient's insights are gone with the patient.
    chart(&app, &nurse, &patient, normal_set()).await;
    let r = app
        .delete(&format!("/api/v1/patients/{patient}"))
        .bearer(&physician)
        .header("if-match", "*")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    app.get(&path)
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
}

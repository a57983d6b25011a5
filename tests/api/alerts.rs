//! Alerts through the API: the acknowledge/resolve lifecycle, the ward's alert list with its
//! filters and cursor, febrile neutropenia from fever and neutrophil counts, late-entered sets,
//! and the laboratory results the neutropenia rule reads.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use oncology_registry::domain::user::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, patient_body};
use crate::vital_signs::{admitted_patient, at_time, chart, enter_in_error, normal_set, sick_set};

/// RFC 3339 at whole seconds, as a client would send it.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Oxygen (2) + RR 21 (2) + pulse 95 (1) = NEWS2 5: medium, no single red, qSOFA 0.
fn medium_set() -> Value {
    let mut set = normal_set();
    set["on_oxygen"] = json!(true);
    set["respiratory_rate"] = json!(21);
    set["heart_rate"] = json!(95);
    set
}

/// A normal set with this temperature (38.1-39.0 °C scores 1: NEWS2 1, low).
fn febrile_set(celsius: f64) -> Value {
    let mut set = normal_set();
    set["temperature_c"] = json!(celsius);
    set
}

pub fn kinds(alerts: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = alerts
        .as_array()
        .expect("an array of alerts")
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

fn alert_of<'a>(alerts: &'a Value, kind: &str) -> &'a Value {
    alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} alert in {alerts}"))
}

fn ids(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn user_id(app: &TestApp, token: &str) -> String {
    let r = app.get("/api/v1/auth/me").bearer(token).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/alerts{query}"))
        .bearer(token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.body);
    r.body
}

async fn record_anc(app: &TestApp, token: &str, patient: &str, value: f64, at: DateTime<Utc>) {
    let r = app
        .post(&format!("/api/v1/patients/{patient}/lab-results"))
        .bearer(token)
        .json(json!({"code": "anc", "value": value, "measured_at": rfc3339(at)}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn set_last_therapy(app: &TestApp, patient: &str, on: NaiveDate) {
    let physician = app.token(Role::Physician).await;
    let r = app
        .patch(&format!("/api/v1/patients/{patient}/clinical-settings"))
        .bearer(&physician)
        .header("if-match", "*")
        .json(json!({"last_systemic_therapy_on": on.to_string()}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["last_systemic_therapy_on"], on.to_string());
}

async fn patient_on(app: &TestApp, token: &str, ward: &str) -> String {
    let mut body = patient_body();
    body["ward"] = json!(ward);
    app.create_patient(token, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_alert_is_acknowledged_then_resolved_recording_who_and_each_step_only_once() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let nurse_id = user_id(&app, &nurse).await;
    let physician_id = user_id(&app, &physician).await;
    let patient = admitted_patient(&app, &nurse).await;
    chart(&app, &nurse, &patient, normal_set()).await;
    let sick = chart(&app, &nurse, &patient, sick_set()).await;
    assert_eq!(
        kinds(&sick["alerts"]),
        ["news2_high", "news2_rise", "qsofa"]
    );

    let high = alert_of(&sick["alerts"], "news2_high");
    assert_eq!(high["patient_id"], patient.as_str());
    assert_eq!(high["severity"], "critical");
    assert_eq!(high["status"], "open");
    assert_eq!(high["detail"], "NEWS2 19 (high)");
    assert_eq!(high["vital_signs_id"], sick["id"]);
    assert_eq!(high["version"], 1);
    assert!(high["acknowledged"].is_null());
    assert!(high["resolved"].is_null());
    let high_id = high["id"].as_str().unwrap().to_owned();
    assert_eq!(
        high["_links"]["acknowledge"]["href"],
        format!("/api/v1/alerts/{high_id}/acknowledge")
    );
    assert_eq!(
        alert_of(&sick["alerts"], "news2_rise")["detail"],
        "NEWS2 rose from 0 to 19"
    );
    assert_eq!(
        alert_of(&sick["alerts"], "news2_rise")["severity"],
        "warning"
    );
    assert_eq!(
        alert_of(&sick["alerts"], "qsofa")["detail"],
        "qSOFA 3: screen for sepsis"
    );
    assert_eq!(alert_of(&sick["alerts"], "qsofa")["severity"], "urgent");

    // Acknowledge: open -> acknowledged, by the nurse.
    let ack = app
        .post(&format!("/api/v1/alerts/{high_id}/acknowledge"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.body);
    assert_eq!(ack.body["id"], high_id.as_str());
    assert_eq!(ack.body["status"], "acknowledged");
    assert_eq!(ack.body["acknowledged"]["by"], nurse_id.as_str());
    assert!(ack.body["acknowledged"]["at"].is_string());
    assert!(ack.body["resolved"].is_null());
    assert_eq!(ack.body["version"], 2);

    // Twice is a conflict, and changes nothing.
    let again = app
        .post(&format!("/api/v1/alerts/{high_id}/acknowledge"))
        .bearer(&physician)
        .send()
        .await;
    again.problem(StatusCode::CONFLICT);

    // Resolve: acknowledged -> resolved, by the physician; the acknowledgement stays.
    let resolved = app
        .post(&format!("/api/v1/alerts/{high_id}/resolve"))
        .bearer(&physician)
        .send()
        .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
    assert_eq!(resolved.body["status"], "resolved");
    assert_eq!(resolved.body["resolved"]["by"], physician_id.as_str());
    assert_eq!(resolved.body["acknowledged"]["by"], nurse_id.as_str());
    assert_eq!(resolved.body["version"], 3);

    // Resolved is final.
    for action in ["resolve", "acknowledge"] {
        let r = app
            .post(&format!("/api/v1/alerts/{high_id}/{action}"))
            .bearer(&nurse)
            .send()
            .await;
        r.problem(StatusCode::CONFLICT);
    }

    // An open alert can be resolved without an acknowledgement.
    let qsofa_id = alert_of(&sick["alerts"], "qsofa")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(&format!("/api/v1/alerts/{qsofa_id}/resolve"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "resolved");
    assert!(r.body["acknowledged"].is_null());
    assert_eq!(r.body["resolved"]["by"], nurse_id.as_str());
    assert_eq!(r.body["version"], 2);

    // What is stored matches what was answered.
    let stored = list(&app, &nurse, &format!("?patient_id={patient}")).await;
    let high = alert_of(&stored["items"], "news2_high");
    assert_eq!(high["status"], "resolved");
    assert_eq!(high["version"], 3);
    assert_eq!(high["acknowledged"]["by"], nurse_id.as_str());
    assert_eq!(high["resolved"]["by"], physician_id.as_str());
    assert_eq!(alert_of(&stored["items"], "news2_rise")["status"], "open");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_event \
             WHERE resource_type = 'alert' AND action = 'update' AND outcome = 'success'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn once_resolved_the_same_kind_is_raised_again_but_never_while_one_stands() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let first = chart(&app, &nurse, &patient, sick_set()).await;
    assert_eq!(kinds(&first["alerts"]), ["news2_high", "qsofa"]);

    // Acknowledged still stands: nothing new.
    let high_id = alert_of(&first["alerts"], "news2_high")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(&format!("/api/v1/alerts/{high_id}/acknowledge"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second = chart(&app, &nurse, &patient, sick_set()).await;
    assert_eq!(second["alerts"], json!([]));

    // A medium score while the high alert stands is covered by it.
    let medium = chart(&app, &nurse, &patient, medium_set()).await;
    assert_eq!(medium["news2"]["score"], 5);
    assert_eq!(medium["news2"]["risk"], "medium");
    assert_eq!(medium["alerts"], json!([]));
    assert_eq!(app.count("SELECT COUNT(*) FROM alert").await, 2);

    // Resolved: the next high set raises a new high alert (qSOFA still stands).
    let r = app
        .post(&format!("/api/v1/alerts/{high_id}/resolve"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let third = chart(&app, &nurse, &patient, sick_set()).await;
    // 5 -> 19 is also a rise.
    assert_eq!(kinds(&third["alerts"]), ["news2_high", "news2_rise"]);
    let new_high = alert_of(&third["alerts"], "news2_high");
    assert_ne!(new_high["id"], high_id.as_str());
    assert_eq!(new_high["status"], "open");
    assert_eq!(new_high["vital_signs_id"], third["id"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM alert").await, 4);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM alert WHERE kind = 'news2_high'")
            .await,
        2
    );
}

#[tokio::test]
async fn a_medium_alert_opens_while_only_a_lower_single_red_alert_stands() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let mut red = normal_set();
    red["heart_rate"] = json!(135);
    let red = chart(&app, &nurse, &patient, red).await;
    assert_eq!(red["news2"]["score"], 3);
    assert_eq!(red["news2"]["risk"], "low_medium");
    assert_eq!(kinds(&red["alerts"]), ["single_red_score"]);
    assert_eq!(
        red["alerts"][0]["detail"],
        "NEWS2 parameter scoring 3: heart_rate"
    );
    assert_eq!(red["alerts"][0]["severity"], "urgent");

    // 3 -> 5: the medium band opens (a higher band than the single red) and it is a rise.
    let medium = chart(&app, &nurse, &patient, medium_set()).await;
    assert_eq!(kinds(&medium["alerts"]), ["news2_medium", "news2_rise"]);
    let alert = alert_of(&medium["alerts"], "news2_medium");
    assert_eq!(alert["detail"], "NEWS2 5 (medium)");
    assert_eq!(alert["severity"], "urgent");
    assert_eq!(
        alert_of(&medium["alerts"], "news2_rise")["detail"],
        "NEWS2 rose from 3 to 5"
    );
    // The single red alert still stands beside it.
    let body = list(&app, &nurse, &format!("?patient_id={patient}&status=open")).await;
    assert_eq!(
        kinds(&body["items"]),
        ["news2_medium", "news2_rise", "single_red_score"]
    );
}

#[tokio::test]
async fn acknowledging_or_resolving_an_unknown_or_malformed_alert_is_refused() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    for action in ["acknowledge", "resolve"] {
        let r = app
            .post(&format!("/api/v1/alerts/{}/{action}", uuid::Uuid::now_v7()))
            .bearer(&nurse)
            .send()
            .await;
        r.problem(StatusCode::NOT_FOUND);
        let r = app
            .post(&format!("/api/v1/alerts/not-a-uuid/{action}"))
            .bearer(&nurse)
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn only_nurses_and_physicians_read_and_handle_alerts() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let technician = app.token(Role::Technician).await;
    let admin = app.token(Role::Admin).await;
    let patient = admitted_patient(&app, &nurse).await;
    let sick = chart(&app, &nurse, &patient, sick_set()).await;
    let id = alert_of(&sick["alerts"], "news2_high")["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for token in [&technician, &admin] {
        app.get("/api/v1/alerts")
            .bearer(token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
        for action in ["acknowledge", "resolve"] {
            app.post(&format!("/api/v1/alerts/{id}/{action}"))
                .bearer(token)
                .send()
                .await
                .problem(StatusCode::FORBIDDEN);
        }
    }
    app.get("/api/v1/alerts")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    for action in ["acknowledge", "resolve"] {
        app.post(&format!("/api/v1/alerts/{id}/{action}"))
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED);
    }
    let r = app.get("/api/v1/alerts").bearer("not-a-token").send().await;
    r.problem(StatusCode::UNAUTHORIZED);

    // None of the refused calls moved the alert.
    let body = list(&app, &physician, "").await;
    assert_eq!(alert_of(&body["items"], "news2_high")["status"], "open");
    assert_eq!(alert_of(&body["items"], "news2_high")["version"], 1);
    let r = app
        .post(&format!("/api/v1/alerts/{id}/acknowledge"))
        .bearer(&physician)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

// ---------------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_alert_list_filters_by_status_severity_patient_and_current_ward() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let onc1 = patient_on(&app, &nurse, "ONC-1").await;
    let onc2 = patient_on(&app, &nurse, "ONC-2").await;
    // ONC-1: news2_high (critical) and qsofa (urgent).
    let sick = chart(&app, &nurse, &onc1, sick_set()).await;
    // ONC-2: news2_medium (urgent) and news2_rise (warning).
    chart(&app, &nurse, &onc2, normal_set()).await;
    let medium = chart(&app, &nurse, &onc2, medium_set()).await;
    assert_eq!(kinds(&medium["alerts"]), ["news2_medium", "news2_rise"]);
    let high_id = alert_of(&sick["alerts"], "news2_high")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post(&format!("/api/v1/alerts/{high_id}/acknowledge"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let all = list(&app, &nurse, "").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 4);
    assert!(all["next_cursor"].is_null());
    // Newest first: ONC-2's alerts were raised after ONC-1's.
    let patients: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["patient_id"].as_str().unwrap())
        .collect();
    assert_eq!(patients, [&onc2, &onc2, &onc1, &onc1]);

    let by_patient = format!("?patient_id={onc1}");
    let by_unknown_patient = format!("?patient_id={}", uuid::Uuid::now_v7());
    for (query, expected) in [
        ("?status=open", vec!["news2_medium", "news2_rise", "qsofa"]),
        ("?status=acknowledged", vec!["news2_high"]),
        ("?status=resolved", vec![]),
        ("?severity=critical", vec!["news2_high"]),
        ("?severity=urgent", vec!["news2_medium", "qsofa"]),
        ("?severity=warning", vec!["news2_rise"]),
        (by_patient.as_str(), vec!["news2_high", "qsofa"]),
        (by_unknown_patient.as_str(), vec![]),
        ("?ward=ONC-1", vec!["news2_high", "qsofa"]),
        ("?ward=ONC-2", vec!["news2_medium", "news2_rise"]),
        ("?ward=ONC-9", vec![]),
        ("?ward=ONC-1&status=open", vec!["qsofa"]),
        (
            "?ward=ONC-2&severity=urgent&status=open",
            vec!["news2_medium"],
        ),
    ] {
        let body = list(&app, &nurse, query).await;
        assert_eq!(kinds(&body["items"]), expected, "{query}");
    }

    // The ward is the patient's current ward: a transfer takes the alerts along.
    let r = app
        .patch(&format!("/api/v1/patients/{onc2}"))
        .bearer(&nurse)
        .header("if-match", "*")
        .json(json!({"ward": "ONC-1"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = list(&app, &nurse, "?ward=ONC-1").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 4);
    let body = list(&app, &nurse, "?ward=ONC-2").await;
    assert_eq!(body["items"], json!([]));
}

#[tokio::test]
async fn bad_alert_list_queries_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    for (query, field) in [
        ("status=closed", "status"),
        ("severity=high", "severity"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=nonsense", "cursor"),
        ("patient_id=42", "patient_id"),
    ] {
        let r = app
            .get(&format!("/api/v1/alerts?{query}"))
            .bearer(&nurse)
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.error_fields(), [field], "{query}: {}", r.body);
    }
    let r = app
        .get("/api/v1/alerts?colour=red")
        .bearer(&nurse)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
}

// Regression: alerts raised together share a time; SQLite once kept nanoseconds that the
// microsecond cursor could not express, and pages skipped alerts. Times are now kept to the
// microsecond everywhere.
#[tokio::test]
async fn the_alert_list_pages_by_cursor_without_losing_or_repeating_alerts_raised_together() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let a = admitted_patient(&app, &nurse).await;
    let b = admitted_patient(&app, &nurse).await;
    // Three alerts raised by one set share their raised_at; two more by another set.
    chart(&app, &nurse, &a, normal_set()).await;
    chart(&app, &nurse, &a, sick_set()).await;
    chart(&app, &nurse, &b, normal_set()).await;
    chart(&app, &nurse, &b, medium_set()).await;

    let all = list(&app, &nurse, "?limit=200").await;
    let expected = ids(&all["items"]);
    assert_eq!(expected.len(), 5);

    for limit in [1, 2] {
        let mut seen = Vec::new();
        let mut body = list(&app, &nurse, &format!("?limit={limit}")).await;
        let mut pages = 1;
        loop {
            let items = ids(&body["items"]);
            assert!(items.len() <= limit, "{body}");
            seen.extend(items);
            let Some(cursor) = body["next_cursor"].as_str().map(str::to_owned) else {
                assert!(body["_links"].get("next").is_none(), "{body}");
                break;
            };
            // The next link and the cursor lead to the same page.
            let next = body["_links"]["next"]["href"].as_str().unwrap().to_owned();
            assert_eq!(
                next,
                format!("/api/v1/alerts?limit={limit}&cursor={cursor}")
            );
            body = list(&app, &nurse, &format!("?limit={limit}&cursor={cursor}")).await;
            pages += 1;
            assert!(pages <= 10, "paging does not end");
        }
        assert_eq!(seen, expected, "limit {limit}");
    }

    // A filter is kept in the links.
    let body = list(&app, &nurse, &format!("?patient_id={a}&limit=1")).await;
    let next = body["_links"]["next"]["href"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("/api/v1/alerts?patient_id={a}&limit=1&cursor=")),
        "{next}"
    );
    let r = app.get(next).bearer(&nurse).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["patient_id"], a.as_str());
}

// Regression: a deleted patient disappears from every read, the alert list included.
#[tokio::test]
async fn a_deleted_patients_alerts_leave_the_alert_list() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let kept = admitted_patient(&app, &nurse).await;
    let deleted = admitted_patient(&app, &nurse).await;
    chart(&app, &nurse, &kept, sick_set()).await;
    let sick = chart(&app, &nurse, &deleted, sick_set()).await;
    let id = alert_of(&sick["alerts"], "news2_high")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .delete(&format!("/api/v1/patients/{deleted}"))
        .bearer(&physician)
        .header("if-match", "*")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);

    // The alert itself is gone for the ward: it cannot be acted on ...
    app.post(&format!("/api/v1/alerts/{id}/acknowledge"))
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    // ... and so it must not be listed either.
    let body = list(&app, &nurse, "").await;
    let patients: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["patient_id"].as_str().unwrap())
        .collect();
    assert_eq!(patients, [&kept, &kept], "{body}");
    let body = list(&app, &nurse, &format!("?patient_id={deleted}")).await;
    assert_eq!(body["items"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// Late entries
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_set_entered_late_behind_a_newer_one_is_scored_but_raises_no_alert() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &patient, 0.2, Utc::now() - Duration::hours(6)).await;
    let now = Utc::now();
    chart(
        &app,
        &nurse,
        &patient,
        at_time(normal_set(), now - Duration::minutes(10)),
    )
    .await;

    let late = chart(
        &app,
        &nurse,
        &patient,
        at_time(sick_set(), now - Duration::hours(2)),
    )
    .await;
    assert_eq!(late["news2"]["score"], 19);
    assert_eq!(late["news2"]["risk"], "high");
    assert!(!late["flags"].as_array().unwrap().is_empty());
    assert_eq!(late["alerts"], json!([]));
    assert_eq!(app.count("SELECT COUNT(*) FROM alert").await, 0);

    // The same set as the latest one does alert, febrile neutropenia included (39.5 °C).
    let current = chart(&app, &nurse, &patient, sick_set()).await;
    assert_eq!(
        kinds(&current["alerts"]),
        ["febrile_neutropenia", "news2_high", "news2_rise", "qsofa"]
    );
}

// ---------------------------------------------------------------------------------------------
// Febrile neutropenia
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn fever_with_a_low_neutrophil_count_raises_a_critical_febrile_neutropenia_alert() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &patient, 0.4, Utc::now() - Duration::hours(3)).await;

    let body = chart(&app, &nurse, &patient, febrile_set(38.5)).await;
    assert_eq!(body["news2"]["score"], 1);
    assert_eq!(kinds(&body["alerts"]), ["febrile_neutropenia"]);
    let alert = &body["alerts"][0];
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["status"], "open");
    assert_eq!(
        alert["detail"],
        "fever (idsa) in a patient who is neutropenic"
    );
    assert_eq!(alert["vital_signs_id"], body["id"]);

    // Still febrile: the open alert stands, no second one.
    let again = chart(&app, &nurse, &patient, febrile_set(38.6)).await;
    assert_eq!(again["alerts"], json!([]));
    let id = alert["id"].as_str().unwrap();
    let r = app
        .post(&format!("/api/v1/alerts/{id}/resolve"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let after = chart(&app, &nurse, &patient, febrile_set(38.6)).await;
    assert_eq!(kinds(&after["alerts"]), ["febrile_neutropenia"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM alert WHERE kind = 'febrile_neutropenia'")
            .await,
        2
    );
}

#[tokio::test]
async fn fever_with_a_normal_neutrophil_count_raises_nothing() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &patient, 1.2, Utc::now() - Duration::hours(3)).await;
    let body = chart(&app, &nurse, &patient, febrile_set(38.5)).await;
    assert_eq!(body["alerts"], json!([]));

    // Exactly 0.5 is not neutropenic either.
    let other = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &other, 0.5, Utc::now() - Duration::hours(3)).await;
    let body = chart(&app, &nurse, &other, febrile_set(38.5)).await;
    assert_eq!(body["alerts"], json!([]));
    assert_eq!(app.count("SELECT COUNT(*) FROM alert").await, 0);
}

#[tokio::test]
async fn the_latest_neutrophil_count_decides() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let recovered = admitted_patient(&app, &nurse).await;
    // Entered out of order: the later measurement wins, not the later entry.
    record_anc(
        &app,
        &nurse,
        &recovered,
        1.5,
        Utc::now() - Duration::hours(2),
    )
    .await;
    record_anc(
        &app,
        &nurse,
        &recovered,
        0.3,
        Utc::now() - Duration::days(2),
    )
    .await;
    let body = chart(&app, &nurse, &recovered, febrile_set(38.5)).await;
    assert_eq!(body["alerts"], json!([]));

    let fallen = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &fallen, 0.3, Utc::now() - Duration::hours(2)).await;
    record_anc(&app, &nurse, &fallen, 1.5, Utc::now() - Duration::days(2)).await;
    let body = chart(&app, &nurse, &fallen, febrile_set(38.5)).await;
    assert_eq!(kinds(&body["alerts"]), ["febrile_neutropenia"]);

    // A count from a laboratory clock a few minutes ahead (accepted within the skew) is the
    // latest one at once, not ignored until the clocks catch up.
    let ahead = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &ahead, 1.5, Utc::now() - Duration::days(2)).await;
    record_anc(&app, &nurse, &ahead, 0.2, Utc::now() + Duration::minutes(4)).await;
    let body = chart(&app, &nurse, &ahead, febrile_set(38.5)).await;
    assert_eq!(kinds(&body["alerts"]), ["febrile_neutropenia"]);
}

#[tokio::test]
async fn fever_without_a_count_but_after_recent_systemic_therapy_raises_the_alert() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let today = Utc::now().date_naive();
    set_last_therapy(&app, &patient, today - Duration::days(5)).await;

    let body = chart(&app, &nurse, &patient, febrile_set(38.5)).await;
    assert_eq!(kinds(&body["alerts"]), ["febrile_neutropenia"]);
    assert_eq!(
        body["alerts"][0]["detail"],
        "fever (idsa) in a patient who is possibly neutropenic"
    );
}

#[tokio::test]
async fn fever_without_a_count_or_recent_therapy_raises_nothing() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let never_treated = admitted_patient(&app, &nurse).await;
    let body = chart(&app, &nurse, &never_treated, febrile_set(38.5)).await;
    assert_eq!(body["alerts"], json!([]));

    // Therapy 31 days ago is outside the default 30-day window.
    let long_ago = admitted_patient(&app, &nurse).await;
    set_last_therapy(
        &app,
        &long_ago,
        Utc::now().date_naive() - Duration::days(31),
    )
    .await;
    let body = chart(&app, &nurse, &long_ago, febrile_set(38.5)).await;
    assert_eq!(body["alerts"], json!([]));
    assert_eq!(app.count("SELECT COUNT(*) FROM alert").await, 0);
}

#[tokio::test]
async fn a_normal_count_drawn_before_the_last_therapy_does_not_rule_neutropenia_out() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let now = Utc::now();
    let therapy = now.date_naive() - Duration::days(5);

    // Pre-treatment bloods, drawn before the therapy day and on it: possibly neutropenic now.
    for drawn in [now - Duration::days(10), now - Duration::days(5)] {
        let patient = admitted_patient(&app, &nurse).await;
        record_anc(&app, &nurse, &patient, 2.0, drawn).await;
        set_last_therapy(&app, &patient, therapy).await;
        let body = chart(&app, &nurse, &patient, febrile_set(38.5)).await;
        assert_eq!(kinds(&body["alerts"]), ["febrile_neutropenia"], "{drawn}");
        assert_eq!(
            body["alerts"][0]["detail"],
            "fever (idsa) in a patient who is possibly neutropenic"
        );
    }

    // Drawn after the therapy: the normal count stands.
    let patient = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &patient, 2.0, now - Duration::days(2)).await;
    set_last_therapy(&app, &patient, therapy).await;
    let body = chart(&app, &nurse, &patient, febrile_set(38.5)).await;
    assert_eq!(body["alerts"], json!([]));
}

#[tokio::test]
async fn a_single_reading_below_38_3_is_not_fever_by_itself() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &patient, 0.1, Utc::now() - Duration::hours(3)).await;
    let body = chart(&app, &nurse, &patient, febrile_set(38.2)).await;
    assert_eq!(body["alerts"], json!([]));
    // 38.3 is: IDSA's single-reading threshold is inclusive.
    let body = chart(&app, &nurse, &patient, febrile_set(38.3)).await;
    assert_eq!(kinds(&body["alerts"]), ["febrile_neutropenia"]);
}

#[tokio::test]
async fn a_temperature_of_38_1_sustained_for_an_hour_is_fever() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &patient, 0.4, Utc::now() - Duration::hours(4)).await;
    let now = Utc::now();

    let first = chart(
        &app,
        &nurse,
        &patient,
        at_time(febrile_set(38.1), now - Duration::minutes(120)),
    )
    .await;
    assert_eq!(first["alerts"], json!([]));
    let second = chart(
        &app,
        &nurse,
        &patient,
        at_time(febrile_set(38.1), now - Duration::minutes(60)),
    )
    .await;
    assert_eq!(kinds(&second["alerts"]), ["febrile_neutropenia"]);
    assert_eq!(second["alerts"][0]["vital_signs_id"], second["id"]);
}

#[tokio::test]
async fn a_temperature_of_38_1_for_59_minutes_is_not_yet_fever() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &patient, 0.4, Utc::now() - Duration::hours(4)).await;
    let now = Utc::now();

    let first = chart(
        &app,
        &nurse,
        &patient,
        at_time(febrile_set(38.1), now - Duration::minutes(120)),
    )
    .await;
    assert_eq!(first["alerts"], json!([]));
    let second = chart(
        &app,
        &nurse,
        &patient,
        at_time(febrile_set(38.1), now - Duration::minutes(61)),
    )
    .await;
    assert_eq!(second["alerts"], json!([]));
    assert_eq!(app.count("SELECT COUNT(*) FROM alert").await, 0);
}

#[tokio::test]
async fn a_normal_reading_in_between_breaks_a_sustained_fever() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &patient, 0.4, Utc::now() - Duration::hours(4)).await;
    let now = Utc::now();
    for (minutes_ago, celsius) in [(120, 38.1), (90, 37.5), (60, 38.1)] {
        let body = chart(
            &app,
            &nurse,
            &patient,
            at_time(febrile_set(celsius), now - Duration::minutes(minutes_ago)),
        )
        .await;
        assert_eq!(body["alerts"], json!([]), "{minutes_ago} minutes ago");
    }
    // A set entered in error does not count towards a run either.
    let patient = admitted_patient(&app, &nurse).await;
    record_anc(&app, &nurse, &patient, 0.4, Utc::now() - Duration::hours(4)).await;
    let wrong = chart(
        &app,
        &nurse,
        &patient,
        at_time(febrile_set(38.1), now - Duration::minutes(120)),
    )
    .await;
    enter_in_error(&app, &nurse, &wrong).await;
    let body = chart(
        &app,
        &nurse,
        &patient,
        at_time(febrile_set(38.1), now - Duration::minutes(60)),
    )
    .await;
    assert_eq!(body["alerts"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// Laboratory results
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_neutrophil_count_is_recorded_and_listed_newest_measurement_first() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let nurse_id = user_id(&app, &nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let now = Utc::now();
    let three_days = rfc3339(now - Duration::days(3));

    let r = app
        .post(&format!("/api/v1/patients/{patient}/lab-results"))
        .bearer(&nurse)
        .json(json!({"code": "anc", "value": 1.2, "measured_at": three_days}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["patient_id"], patient.as_str());
    assert_eq!(r.body["code"], "anc");
    assert_eq!(r.body["value"], 1.2);
    assert_eq!(r.body["unit"], "10^9/L");
    assert_eq!(r.body["measured_at"], three_days.as_str());
    assert_eq!(r.body["recorded_by"], nurse_id.as_str());
    assert!(r.body["id"].is_string());
    // Physicians record too; the edges of the plausible range are accepted.
    for (value, days) in [(0.4, 1), (0.0, 2), (100.0, 4)] {
        let r = app
            .post(&format!("/api/v1/patients/{patient}/lab-results"))
            .bearer(&physician)
            .json(json!({
                "code": "anc", "value": value,
                "measured_at": rfc3339(now - Duration::days(days))
            }))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{value}: {}", r.body);
    }

    let path = format!("/api/v1/patients/{patient}/lab-results");
    let r = app.get(&path).bearer(&nurse).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let values: Vec<f64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [0.4, 0.0, 1.2, 100.0]);
    let r = app
        .get(&format!("{path}?code=anc&limit=2"))
        .bearer(&physician)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let values: Vec<f64> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, [0.4, 0.0]);

    // Another patient's list is empty.
    let other = admitted_patient(&app, &nurse).await;
    let r = app
        .get(&format!("/api/v1/patients/{other}/lab-results"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body, json!({"items": []}));
}

#[tokio::test]
async fn impossible_lab_results_are_refused_naming_each_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let now = Utc::now();
    let past = rfc3339(now - Duration::hours(1));
    let future = rfc3339(now + Duration::hours(1));
    for (body, fields) in [
        (
            json!({"code": "crp", "value": 0.4, "measured_at": past}),
            vec!["code"],
        ),
        (
            json!({"code": "anc", "value": 100.1, "measured_at": past}),
            vec!["value"],
        ),
        (
            json!({"code": "anc", "value": -0.1, "measured_at": past}),
            vec!["value"],
        ),
        (
            json!({"code": "anc", "value": 1500, "measured_at": past}),
            vec!["value"],
        ),
        (json!({"code": "anc", "measured_at": past}), vec!["value"]),
        (json!({"code": "anc", "value": 0.4}), vec!["measured_at"]),
        (
            json!({"code": "anc", "value": 0.4, "measured_at": future}),
            vec!["measured_at"],
        ),
        (json!({"code": "crp"}), vec!["code", "value", "measured_at"]),
        (
            json!({"code": "anc", "value": "0.4", "measured_at": past}),
            vec!["value"],
        ),
        (
            json!({"code": "anc", "value": 0.4, "measured_at": "yesterday"}),
            vec!["measured_at"],
        ),
    ] {
        let r = app
            .post(&format!("/api/v1/patients/{patient}/lab-results"))
            .bearer(&nurse)
            .json(body.clone())
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.error_fields(), fields, "{body}: {}", r.body);
    }
    let r = app
        .post(&format!("/api/v1/patients/{patient}/lab-results"))
        .bearer(&nurse)
        .json(json!({"code": "anc", "value": 0.4, "measured_at": past, "unit": "10^9/L"}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let detail = r.body.to_string();
    assert!(detail.contains("unit"), "{detail}");
    let r = app
        .post(&format!("/api/v1/patients/{patient}/lab-results"))
        .bearer(&nurse)
        .json(json!({"code": "anc", "value": 1500, "measured_at": past}))
        .send()
        .await;
    assert!(r.body.to_string().contains("cells/"), "{}", r.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM lab_result").await, 0);

    // Bad list queries.
    for (query, field) in [
        ("code=crp", "code"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
    ] {
        let r = app
            .get(&format!("/api/v1/patients/{patient}/lab-results?{query}"))
            .bearer(&nurse)
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.error_fields(), [field], "{query}: {}", r.body);
    }
}

#[tokio::test]
async fn only_nurses_and_physicians_record_and_read_lab_results_and_only_for_known_patients() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let technician = app.token(Role::Technician).await;
    let admin = app.token(Role::Admin).await;
    let patient = admitted_patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{patient}/lab-results");
    let body = json!({"code": "anc", "value": 0.4, "measured_at": rfc3339(Utc::now())});

    for token in [&technician, &admin] {
        app.post(&path)
            .bearer(token)
            .json(body.clone())
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
        app.get(&path)
            .bearer(token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    app.post(&path)
        .json(body.clone())
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    app.get(&path)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("SELECT COUNT(*) FROM lab_result").await, 0);

    let unknown = format!("/api/v1/patients/{}/lab-results", uuid::Uuid::now_v7());
    app.post(&unknown)
        .bearer(&nurse)
        .json(body.clone())
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    app.get(&unknown)
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    app.post("/api/v1/patients/not-a-uuid/lab-results")
        .bearer(&nurse)
        .json(body.clone())
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("SELECT COUNT(*) FROM lab_result").await, 0);

    let r = app.post(&path).bearer(&nurse).json(body).send().await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM lab_result").await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE resource_type = 'lab_result' AND action = 'create'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_rise_is_measured_from_the_previous_set_also_when_it_is_hours_old() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let hours_ago = |h: i64| (chrono::Utc::now() - chrono::Duration::hours(h)).to_rfc3339();
    // Eleven hours ago (older than any lookback window), then five: the baseline is the later.
    let mut old = normal_set();
    old["recorded_at"] = json!(hours_ago(11));
    chart(&app, &nurse, &patient, old).await;
    let mut mid = normal_set();
    mid["recorded_at"] = json!(hours_ago(5));
    mid["heart_rate"] = json!(95); // scores 1: no rise yet
    chart(&app, &nurse, &patient, mid).await;
    let sick = chart(&app, &nurse, &patient, sick_set()).await;
    assert_eq!(
        alert_of(&sick["alerts"], "news2_rise")["detail"],
        "NEWS2 rose from 1 to 19"
    );

    // A set entered late, behind the newest, raises nothing.
    let mut late = sick_set();
    late["recorded_at"] = json!(hours_ago(1));
    let late = chart(&app, &nurse, &patient, late).await;
    assert_eq!(late["alerts"], json!([]));
}

//! Holter trend uploads and reads: the real 24-hour export, quirks, refusals with the line,
//! repeated uploads, smoothing, roles.

use axum::http::StatusCode;
use oncology_registry::domain::user::Role;
use serde_json::Value;

use crate::helpers::{TestApp, patient_body};

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/holter-trends/synthetic-24h.xml"
);

fn sample() -> Vec<u8> {
    std::fs::read(SAMPLE).unwrap_or_else(|e| {
        panic!("{SAMPLE}: {e}; the shared test data is described in shared/data/README.md")
    })
}

async fn patient(app: &TestApp, token: &str) -> String {
    app.create_patient(token, patient_body()).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn points_of<'a>(body: &'a Value, trend: &str) -> Vec<&'a Value> {
    body["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["trend_type"] == trend)
        .collect()
}

#[tokio::test]
async fn the_24_hour_export_is_stored_once_and_read_back_in_utc() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4 * 1024 * 1024).await;
    let nurse = app.token(Role::Nurse).await;
    let id = patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{id}/ecg-trends");

    let r = app
        .post(&format!("{path}?timezone=Europe/Rome"))
        .bearer(&nurse)
        .raw("application/xml", sample())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["inserted_rows"], 5472);
    let trends = r.body["trends"].as_array().unwrap();
    assert_eq!(trends.len(), 19);
    let hr = trends
        .iter()
        .find(|t| t["trend_type"] == "TREND_HR")
        .unwrap();
    assert_eq!(hr["units"], "BPM");
    assert_eq!(r.body["sample"].as_array().unwrap().len(), 5);

    // The same file again stores nothing new.
    let again = app
        .post(&format!("{path}?timezone=Europe/Rome"))
        .bearer(&nurse)
        .raw("application/xml", sample())
        .send()
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.body["inserted_rows"], 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM ecg_trend_point").await,
        5472
    );

    let r = app
        .get(&format!("{path}?trend_type=TREND_HR"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let hr = points_of(&r.body, "TREND_HR");
    assert_eq!(hr.len(), 288);
    // Device-local (Rome, UTC+1 in winter) becomes UTC.
    let first = hr[0];
    let local = first["date_time_hl7"].as_str().unwrap();
    let iso = first["date_time_iso"].as_str().unwrap();
    let local_hour: u32 = local[8..10].parse().unwrap();
    let utc_hour: u32 = iso[11..13].parse().unwrap();
    assert_eq!((local_hour + 24 - 1) % 24, utc_hour, "{local} -> {iso}");
    // The recording gap (0/0/0 heart rate) is stored as missing, never as 0.
    let gaps = hr.iter().filter(|p| p["avg_value"].is_null()).count();
    assert!(
        gaps >= 3,
        "expected the 15-minute gap, found {gaps} missing values"
    );
    assert!(hr.iter().all(|p| p["avg_value"] != 0.0));
}

#[tokio::test]
async fn smoothing_averages_within_runs_and_keeps_gaps() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4 * 1024 * 1024).await;
    let nurse = app.token(Role::Nurse).await;
    let id = patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{id}/ecg-trends");
    let r = app
        .post(&path)
        .bearer(&nurse)
        .raw("application/xml", sample())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let raw = app
        .get(&format!("{path}?trend_type=TREND_HR"))
        .bearer(&nurse)
        .send()
        .await;
    let smooth = app
        .get(&format!(
            "{path}?trend_type=TREND_HR&smoothing=moving_average:3"
        ))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(smooth.status, StatusCode::OK, "{}", smooth.body);
    let raw = points_of(&raw.body, "TREND_HR");
    let smooth = points_of(&smooth.body, "TREND_HR");
    assert_eq!(raw.len(), smooth.len());
    // An interior point with both neighbours present is the mean of the three.
    let i = (1..raw.len() - 1)
        .find(|&i| (i - 1..=i + 1).all(|j| !raw[j]["avg_value"].is_null()))
        .unwrap();
    let mean = (i - 1..=i + 1)
        .map(|j| raw[j]["avg_value"].as_f64().unwrap())
        .sum::<f64>()
        / 3.0;
    assert!((smooth[i]["avg_value"].as_f64().unwrap() - mean).abs() < 1e-9);
    // Missing values stay missing: smoothing never invents them.
    for (r, s) in raw.iter().zip(&smooth) {
        assert_eq!(r["avg_value"].is_null(), s["avg_value"].is_null());
    }

    for bad in ["median:4", "mean:3", "median:99"] {
        let r = app
            .get(&format!("{path}?smoothing={bad}"))
            .bearer(&nurse)
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn a_malformed_file_is_refused_with_its_line_and_nothing_is_stored() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4 * 1024 * 1024).await;
    let nurse = app.token(Role::Nurse).await;
    let id = patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{id}/ecg-trends");
    let text = String::from_utf8(sample()).unwrap();
    // Break one timestamp deep in the file.
    let broken = text.replacen("DATE_TIME_HL7=\"2", "DATE_TIME_HL7=\"X", 1);
    let r = app
        .post(&path)
        .bearer(&nurse)
        .raw("application/xml", broken)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let message = r.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("line "), "{message}");
    assert_eq!(r.body["errors"][0]["field"], "file");

    for (content_type, body, status) in [
        (
            "application/xml",
            "<HOLTER_STATISTICS><TRENDS>".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "application/json",
            text.clone(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let r = app
            .post(&path)
            .bearer(&nurse)
            .raw(content_type, body)
            .send()
            .await;
        r.problem(status);
    }
    let r = app
        .post(&format!("{path}?timezone=Mars/Olympus"))
        .bearer(&nurse)
        .raw("application/xml", text)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["timezone"]);
    assert_eq!(app.count("SELECT COUNT(*) FROM ecg_trend_point").await, 0);
}

#[tokio::test]
async fn admins_and_strangers_cannot_reach_trends_and_unknown_patients_are_404() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4 * 1024 * 1024).await;
    let nurse = app.token(Role::Nurse).await;
    let technician = app.token(Role::Technician).await;
    let admin = app.token(Role::Admin).await;
    let id = patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{id}/ecg-trends");
    let r = app
        .post(&path)
        .bearer(&technician)
        .raw("application/xml", sample())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    app.post(&path)
        .bearer(&admin)
        .raw("application/xml", sample())
        .send()
        .await
        .problem(StatusCode::FORBIDDEN);
    app.get(&path)
        .bearer(&admin)
        .send()
        .await
        .problem(StatusCode::FORBIDDEN);
    app.get(&path)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    app.get(&format!(
        "/api/v1/patients/{}/ecg-trends",
        uuid::Uuid::now_v7()
    ))
    .bearer(&nurse)
    .send()
    .await
    .problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_browser_form_upload_of_the_file_field_is_taken_like_the_raw_body() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4 * 1024 * 1024).await;
    let nurse = app.token(Role::Nurse).await;
    let id = patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{id}/ecg-trends");
    let boundary = "----oncology-registry-test";
    let form = |name: &str| {
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
             filename=\"trends.xml\"\r\nContent-Type: application/xml\r\n\r\n"
        )
        .into_bytes();
        body.extend(sample());
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        body
    };
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let r = app
        .post(&path)
        .bearer(&nurse)
        .raw(&content_type, form("file"))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["inserted_rows"], 5472);

    // A form without a `file` field names what is missing; nothing more is stored.
    let r = app
        .post(&path)
        .bearer(&nurse)
        .raw(&content_type, form("document"))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["file"]);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM ecg_trend_point").await,
        5472
    );
}

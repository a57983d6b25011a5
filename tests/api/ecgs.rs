//! ECG recordings through the API: a real 12-lead recording stored and read back bit-exact, its
//! insights, refusal of bad uploads with nothing stored, roles, 404s, the list and deletion.

use axum::http::StatusCode;
use oncology_registry::domain::ecg::{decode_format_16, zero_crossings};
use oncology_registry::domain::user::Role;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{TestApp, patient_body};

const PTB_S0010_DAT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/ptb-s0010/s0010_re.dat"
);
const PTB_LEADS: [&str; 12] = [
    "i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6",
];

/// The 12 standard leads of PTB record s0010 (1000 Hz, 38,400 samples each).
fn ptb_s0010() -> Vec<Vec<i32>> {
    let bytes = std::fs::read(PTB_S0010_DAT).expect("the PTB recording s0010_re.dat");
    let signals = decode_format_16(&bytes, PTB_LEADS.len());
    assert_eq!(signals.len(), 12);
    assert!(signals.iter().all(|s| s.len() == 38_400));
    signals
}

fn upload_of(sampling_rate_hz: u32, names: &[&str], signals: &[Vec<i32>]) -> Value {
    json!({
        "recorded_at": "2026-11-20T07:30:00Z",
        "sampling_rate_hz": sampling_rate_hz,
        "leads": names.iter().zip(signals).map(|(name, signal)| json!({
            "name": name, "number_of_samples": signal.len(), "signal": signal
        })).collect::<Vec<_>>()
    })
}

/// The two leads of the issue: 2 and 5 zero crossings.
fn small_upload() -> Value {
    json!({"leads": [
        {"name": "I", "number_of_samples": 8, "signal": [1, 0, -1, 0, 1, 0, 0, 1]},
        {"name": "II", "signal": [1, -2, 0, 3, -4, 0, 0, 5, 6, -7]}
    ]})
}

async fn admitted_patient(app: &TestApp, token: &str) -> String {
    app.create_patient(token, patient_body()).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn upload(app: &TestApp, token: &str, patient: &str, body: Value) -> Value {
    let r = app
        .post(&format!("/api/v1/patients/{patient}/ecgs"))
        .bearer(token)
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn ecg_rows(app: &TestApp) -> (i64, i64) {
    (
        app.count("SELECT COUNT(*) FROM ecg").await,
        app.count("SELECT COUNT(*) FROM ecg_lead").await,
    )
}

#[tokio::test]
async fn a_12_lead_recording_is_stored_compactly_and_read_back_bit_exact() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let signals = ptb_s0010();

    let r = app
        .post(&format!("/api/v1/patients/{patient}/ecgs"))
        .bearer(&nurse)
        .json(upload_of(1000, &PTB_LEADS, &signals))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/ecgs/{id}").as_str())
    );
    assert_eq!(r.body["patient_id"], patient.as_str());
    assert_eq!(r.body["sampling_rate_hz"], 1000);
    assert_eq!(r.body["lead_count"], 12);
    assert_eq!(r.body["samples_per_lead"], 38_400);
    assert_eq!(r.body["total_samples"], 12 * 38_400);
    assert_eq!(r.body["duration_s"], 38.4);
    assert_eq!(r.body["recorded_at"], "2026-11-20T07:30:00Z");
    let names: Vec<&str> = r.body["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, PTB_LEADS);
    assert!(r.body["leads"][0].get("signal").is_none());
    assert_eq!(r.body["insights"]["ecg_id"], id.as_str());

    // One row per lead, each far smaller than its samples as JSON text.
    assert_eq!(ecg_rows(&app).await, (1, 12));
    let sizes = app
        .query("SELECT LENGTH(signal) FROM ecg_lead ORDER BY position")
        .await;
    for row in &sizes {
        let bytes = row.try_get_by_index::<i32>(0).unwrap();
        assert!(bytes > 0 && bytes < 38_400 * 3, "{bytes} bytes");
    }

    // Metadata alone, then with every sample exactly as uploaded.
    let r = app
        .get(&format!("/api/v1/ecgs/{id}"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["leads"][3].get("signal").is_none());
    assert!(r.body.get("insights").is_none());
    assert_eq!(r.body["leads"][3]["number_of_samples"], 38_400);
    let r = app
        .get(&format!("/api/v1/ecgs/{id}?include=signals"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for (i, expected) in signals.iter().enumerate() {
        let got: Vec<i32> = serde_json::from_value(r.body["leads"][i]["signal"].clone()).unwrap();
        assert_eq!(&got, expected, "lead {}", PTB_LEADS[i]);
    }
    let r = app
        .get(&format!("/api/v1/ecgs/{id}?include=everything"))
        .bearer(&nurse)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["include"]);

    // Create and reads are audited.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE resource_type = 'ecg' AND resource_id = '{id}' AND action = 'create'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE resource_type = 'ecg' AND resource_id = '{id}' AND action = 'read'"
        ))
        .await,
        2
    );
}

#[tokio::test]
async fn insights_are_stored_with_the_recording_and_served_from_there() {
    let app = TestApp::spawn().await;
    let technician = app.token(Role::Technician).await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let signals = ptb_s0010();

    let created = upload(
        &app,
        &technician,
        &patient,
        upload_of(1000, &PTB_LEADS, &signals),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let r = app
        .get(&format!("/api/v1/ecgs/{id}/insights"))
        .bearer(&technician)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let insights = &r.body;
    assert_eq!(insights["ecg_id"], id);
    assert_eq!(insights, &created["insights"]);

    let leads = insights["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 12);
    for (i, lead) in leads.iter().enumerate() {
        assert_eq!(lead["name"], PTB_LEADS[i]);
        assert_eq!(
            lead["number_of_zero_crossings"],
            zero_crossings(&signals[i]),
            "lead {}",
            PTB_LEADS[i]
        );
        assert_eq!(lead["min"], *signals[i].iter().min().unwrap());
        assert_eq!(lead["max"], *signals[i].iter().max().unwrap());
        assert_eq!(lead["quality"]["flat_line"], false);
    }
    let rhythm = &insights["rhythm"];
    let hr = rhythm["heart_rate_bpm"]["mean"].as_f64().unwrap();
    assert!((40.0..=120.0).contains(&hr), "heart rate {hr}");
    let peaks = rhythm["r_peaks"].as_array().unwrap().len();
    assert_eq!(
        rhythm["rr_intervals_ms"].as_array().unwrap().len(),
        peaks - 1
    );
    assert!(rhythm["hrv"]["sdnn_ms"].as_f64().unwrap() >= 0.0);
    let lead = rhythm["lead_index"].as_u64().unwrap() as usize;
    assert_eq!(rhythm["lead"], PTB_LEADS[lead]);

    // The stored row is what answers: change it behind the service's back and the answer
    // follows, so nothing is recomputed on a read.
    let row = format!("WHERE id = {}", app.uuid_literal(id));
    let stored = app.query(&format!("SELECT insights FROM ecg {row}")).await;
    let text: String = stored[0].try_get_by_index(0).unwrap();
    let marked = text.replacen(
        &format!("\"zero_crossings\":{}", zero_crossings(&signals[0])),
        "\"zero_crossings\":424242",
        1,
    );
    assert_ne!(marked, text);
    app.db()
        .writer()
        .execute_unprepared(&format!(
            "UPDATE ecg SET insights = '{}' {row}",
            marked.replace('\'', "''")
        ))
        .await
        .unwrap();
    let r = app
        .get(&format!("/api/v1/ecgs/{id}/insights"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["leads"][0]["number_of_zero_crossings"], 424242);

    // The two-lead example, defaulting to 500 Hz.
    let small = upload(&app, &nurse, &patient, small_upload()).await;
    assert_eq!(small["sampling_rate_hz"], 500);
    let crossings: Vec<&Value> = small["insights"]["leads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["number_of_zero_crossings"])
        .collect();
    assert_eq!(crossings, [&json!(2), &json!(5)]);
    let r = app
        .get(&format!(
            "/api/v1/ecgs/{}/insights",
            small["id"].as_str().unwrap()
        ))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["leads"][0]["number_of_zero_crossings"], 2);
    assert_eq!(r.body["leads"][1]["number_of_zero_crossings"], 5);
    assert_eq!(r.body["leads"][0]["mean"], 0.25);
}

#[tokio::test]
async fn bad_uploads_are_refused_naming_the_field_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let patient = admitted_patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{patient}/ecgs");
    let lead = |name: &str| json!({"name": name, "signal": [1, 2, 3]});

    let seventeen: Vec<Value> = (0..17).map(|i| lead(&format!("L{i}"))).collect();
    let cases: Vec<(Value, &[&str])> = vec![
        (json!({"leads": seventeen}), &["leads"]),
        (json!({"leads": []}), &["leads"]),
        (
            json!({"leads": [lead("V1"), lead("II"), lead("v1")]}),
            &["leads[2].name"],
        ),
        (
            json!({"leads": [lead("I"), lead("  ")]}),
            &["leads[1].name"],
        ),
        (
            json!({"leads": [{"name": "I", "number_of_samples": 4, "signal": [1, 2, 3]}]}),
            &["leads[0].number_of_samples"],
        ),
        (
            json!({"leads": [lead("I"), {"name": "II", "signal": [0, 2147483648_i64]}]}),
            &["leads[1].signal"],
        ),
        (
            json!({"leads": [{"name": "I", "signal": [-2147483649_i64]}]}),
            &["leads[0].signal"],
        ),
        (
            json!({"leads": [{"name": "I", "signal": []}]}),
            &["leads[0].signal"],
        ),
        (
            json!({"sampling_rate_hz": 49, "leads": [lead("I")]}),
            &["sampling_rate_hz"],
        ),
        (
            json!({"sampling_rate_hz": 2001, "leads": [lead("I")]}),
            &["sampling_rate_hz"],
        ),
        (
            json!({"recorded_at": "2099-01-01T00:00:00Z", "leads": [lead("I")]}),
            &["recorded_at"],
        ),
    ];
    for (body, fields) in cases {
        let r = app
            .post(&path)
            .bearer(&nurse)
            .json(body.clone())
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.error_fields(), fields, "{body}: {}", r.body);
    }
    // Several problems at once are all reported.
    let r = app
        .post(&path)
        .bearer(&nurse)
        .json(json!({"sampling_rate_hz": 0, "leads": [
            {"name": "I", "number_of_samples": 2, "signal": [1]}, {"name": "i", "signal": []}
        ]}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.error_fields(),
        [
            "sampling_rate_hz",
            "leads[0].number_of_samples",
            "leads[1].name",
            "leads[1].signal"
        ]
    );
    // Samples that are not integers (or beyond 64 bits), and unknown fields.
    for (body, field) in [
        (
            json!({"leads": [lead("I"), {"name": "II", "signal": [1, 1.5]}]}),
            "leads[1].signal",
        ),
        (
            json!({"leads": [{"name": "I", "signal": [1e30]}]}),
            "leads[0].signal",
        ),
        (
            json!({"leads": [{"name": "I", "signal": "1,2"}]}),
            "leads[0].signal",
        ),
        (
            json!({"leads": [{"name": "I", "signal": [1]}], "gain": 200}),
            "gain",
        ),
    ] {
        let r = app
            .post(&path)
            .bearer(&nurse)
            .json(body.clone())
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.body.to_string().contains(field), "{body}: {}", r.body);
    }
    assert_eq!(ecg_rows(&app).await, (0, 0));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE resource_type = 'ecg'")
            .await,
        0
    );
}

#[tokio::test]
async fn roles_patients_and_missing_recordings() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let admin = app.token(Role::Admin).await;
    let technician = app.token(Role::Technician).await;
    let physician = app.token(Role::Physician).await;
    let patient = admitted_patient(&app, &nurse).await;
    let path = format!("/api/v1/patients/{patient}/ecgs");

    // Administrators never see patient data; no token, no entry.
    let r = app
        .post(&path)
        .bearer(&admin)
        .json(small_upload())
        .send()
        .await;
    r.problem(StatusCode::FORBIDDEN);
    let r = app.post(&path).json(small_upload()).send().await;
    r.problem(StatusCode::UNAUTHORIZED);
    for role_token in [&technician, &physician, &nurse] {
        upload(&app, role_token, &patient, small_upload()).await;
    }
    let id = upload(&app, &technician, &patient, small_upload()).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/api/v1/ecgs/{id}"),
        format!("/api/v1/ecgs/{id}/insights"),
        path.clone(),
    ] {
        app.get(&path)
            .bearer(&admin)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
        app.get(&path)
            .send()
            .await
            .problem(StatusCode::UNAUTHORIZED);
        let r = app.get(&path).bearer(&technician).send().await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    // Only physicians delete.
    for token in [&nurse, &technician, &admin] {
        app.delete(&format!("/api/v1/ecgs/{id}"))
            .bearer(token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
    }

    // Unknown patient or recording: 404; a malformed id: 422.
    let unknown = uuid::Uuid::now_v7();
    let r = app
        .post(&format!("/api/v1/patients/{unknown}/ecgs"))
        .bearer(&nurse)
        .json(small_upload())
        .send()
        .await;
    r.problem(StatusCode::NOT_FOUND);
    for path in [
        format!("/api/v1/ecgs/{unknown}"),
        format!("/api/v1/ecgs/{unknown}/insights"),
        format!("/api/v1/patients/{unknown}/ecgs"),
    ] {
        app.get(&path)
            .bearer(&nurse)
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
    }
    app.delete(&format!("/api/v1/ecgs/{unknown}"))
        .bearer(&physician)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    app.get("/api/v1/ecgs/not-a-uuid")
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);

    // A discharged patient gets no new recording (as for vital signs), but keeps the old ones.
    app.discharge(&nurse, &patient).await;
    let r = app
        .post(&path)
        .bearer(&nurse)
        .json(small_upload())
        .send()
        .await;
    r.problem(StatusCode::CONFLICT);
    assert_eq!(ecg_rows(&app).await, (4, 8));
    let r = app
        .get(&format!("/api/v1/ecgs/{id}"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // A deleted patient's recordings are gone from every read.
    let r = app
        .delete(&format!("/api/v1/patients/{patient}"))
        .bearer(&physician)
        .header("if-match", "*")
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    for path in [
        format!("/api/v1/ecgs/{id}"),
        format!("/api/v1/ecgs/{id}?include=signals"),
        format!("/api/v1/ecgs/{id}/insights"),
        path.clone(),
    ] {
        app.get(&path)
            .bearer(&nurse)
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
    }
    app.delete(&format!("/api/v1/ecgs/{id}"))
        .bearer(&physician)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_list_pages_newest_first_and_deleted_recordings_disappear() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let patient = admitted_patient(&app, &nurse).await;
    let other = admitted_patient(&app, &nurse).await;
    let times = [
        "2026-11-20T08:00:00Z",
        "2026-11-22T08:00:00Z",
        "2026-11-21T08:00:00Z",
        "2026-11-22T08:00:00Z",
        "2026-11-19T08:00:00Z",
    ];
    let mut ids = Vec::new();
    for at in times {
        let mut body = small_upload();
        body["recorded_at"] = json!(at);
        ids.push(
            upload(&app, &nurse, &patient, body).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    upload(&app, &nurse, &other, small_upload()).await;

    // Newest first, the id breaking the tie between the two at the same time.
    let mut expected: Vec<(&str, String)> = times.iter().copied().zip(ids.clone()).collect();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();

    let mut seen = Vec::new();
    let mut next = format!("/api/v1/patients/{patient}/ecgs?limit=2");
    loop {
        let r = app.get(&next).bearer(&nurse).send().await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let items = r.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        for item in items {
            assert!(item["leads"][0].get("signal").is_none());
            assert!(item.get("insights").is_none());
            assert_eq!(item["lead_count"], 2);
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        match r.body["_links"]["next"]["href"].as_str() {
            Some(href) => next = href.to_owned(),
            None => {
                assert!(r.body["next_cursor"].is_null());
                break;
            }
        }
    }
    assert_eq!(seen, expected);
    let r = app
        .get(&format!("/api/v1/patients/{patient}/ecgs?offset=1&limit=2"))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(r.body["total"], 5);
    assert_eq!(r.body["items"][0]["id"], expected[1].as_str());
    app.get(&format!("/api/v1/patients/{patient}/ecgs?cursor=nonsense"))
        .bearer(&nurse)
        .send()
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);

    // Soft delete: gone from reads and the list, kept in the table, audited.
    let gone = &expected[0];
    let r = app
        .delete(&format!("/api/v1/ecgs/{gone}"))
        .bearer(&physician)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    for path in [
        format!("/api/v1/ecgs/{gone}"),
        format!("/api/v1/ecgs/{gone}/insights"),
    ] {
        app.get(&path)
            .bearer(&nurse)
            .send()
            .await
            .problem(StatusCode::NOT_FOUND);
    }
    app.delete(&format!("/api/v1/ecgs/{gone}"))
        .bearer(&physician)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    let r = app
        .get(&format!("/api/v1/patients/{patient}/ecgs"))
        .bearer(&nurse)
        .send()
        .await;
    let listed: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        expected[1..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(ecg_rows(&app).await, (6, 12));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE resource_type = 'ecg' AND action = 'delete' AND resource_id = '{gone}'"
        ))
        .await,
        1
    );
    assert!(
        app.count(
            "SELECT COUNT(*) FROM audit_event WHERE resource_type = 'ecg' AND action = 'list'"
        )
        .await
            >= 4
    );
}

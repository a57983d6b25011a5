//! The results inbox through the real worker and store: each outcome with its file in the
//! right folder (processed/YYYY_MM, stuck, denied, deleted), report files, a bad file not
//! stopping the next, two replicas racing over one inbox without handling a file twice, a crash
//! half-way redone after the lease, the inbox list with its filters and roles, and a report
//! file handed in with a result through the API as a form.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::StatusCode;
use base64::Engine as _;
use chrono::Utc;
use oncology_registry::domain::results_inbox::InboxEntry;
use oncology_registry::persistence::result_store::{ResultStore, ResultsLocation, StoredFile};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::exams::{CBC, Ward, get_exam, order, result_token, start};
use crate::helpers::{TestApp, TestResponse};
use crate::vital_signs::admitted_patient;

/// An application whose inbox worker sleeps `poll` between passes and leases files for `lease`.
async fn inbox_app(poll: Duration, lease: Duration) -> TestApp {
    TestApp::spawn_with(|s| {
        s.results.poll = poll;
        s.results.lease = lease;
    })
    .await
}

/// An application whose background worker stays asleep: the test drives passes itself.
async fn quiet_app() -> TestApp {
    inbox_app(Duration::from_secs(3600), Duration::from_secs(120)).await
}

/// A started exam of a fresh admitted patient: the exam and its exam token.
async fn started_exam(app: &TestApp, ward: &Ward) -> (Value, String) {
    let patient = admitted_patient(app, &ward.physician).await;
    let exam = order(app, &ward.physician, &patient, CBC).await;
    let token = start(app, &ward.technician, &exam).await;
    (exam, token)
}

fn id_of(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn document(exam_token: &str, result_token: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"exam_token": exam_token, "result_token": result_token})).unwrap()
}

/// Drops a file in `completed/` as the exam execution system must: written beside the inbox,
/// then renamed into it, so no worker ever reads half a file.
fn drop_file(app: &TestApp, name: &str, bytes: &[u8]) {
    let root = app.results.path();
    let staging = root.join(format!(".staging-{}", Uuid::new_v4()));
    std::fs::write(&staging, bytes).unwrap();
    std::fs::rename(&staging, root.join("completed").join(name)).unwrap();
}

fn month() -> String {
    Utc::now().format("%Y_%m").to_string()
}

fn at(app: &TestApp, relative: &str) -> PathBuf {
    app.results.path().join(relative)
}

async fn wait_for(path: &Path) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}

async fn pass(app: &TestApp) -> usize {
    app.state.services.results_inbox.run_once().await.unwrap()
}

async fn inbox(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/exam-results/inbox{query}"))
        .bearer(token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// The inbox entry of the file that arrived as `completed/{name}`.
async fn entry(app: &TestApp, token: &str, name: &str) -> Value {
    let list = inbox(app, token, "?limit=200").await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"] == format!("completed/{name}"))
        .unwrap_or_else(|| panic!("no entry for {name}: {list}"))
        .clone()
}

/// How many notifications exam `id` caused.
async fn notifications(app: &TestApp, token: &str, id: &str) -> usize {
    let r = app
        .get(&format!("/api/v1/notifications?exam_id={id}"))
        .bearer(token)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_good_file_finishes_the_exam_stores_its_report_and_is_filed_under_the_month() {
    let app = inbox_app(Duration::from_millis(50), Duration::from_secs(120)).await;
    let ward = Ward::sign_in(&app).await;
    let (exam, exam_token) = started_exam(&app, &ward).await;
    let report = b"%PDF-1.7 complete blood count report";
    let body = json!({
        "exam_token": exam_token,
        "result_token": result_token(id_of(&exam), Some(0.4)),
        "report": base64::engine::general_purpose::STANDARD.encode(report),
    });
    drop_file(&app, "cbc-0001.json", &serde_json::to_vec(&body).unwrap());

    // The background worker picks it up on its own.
    let processed = at(&app, &format!("processed/{}/cbc-0001.json", month()));
    wait_for(&processed).await;
    assert!(!at(&app, "completed/cbc-0001.json").exists());

    let finished = get_exam(&app, &ward.physician, id_of(&exam)).await;
    assert_eq!(finished["status"], "finished");
    assert_eq!(finished["finished"]["by"], Value::Null);
    assert_eq!(finished["result"]["values"]["anc"], 0.4);
    let key = format!("reports/{}", id_of(&exam));
    assert_eq!(finished["report_key"], key.as_str());
    assert_eq!(std::fs::read(at(&app, &key)).unwrap(), report);

    let e = entry(&app, &ward.technician, "cbc-0001.json").await;
    assert_eq!(e["outcome"], "processed", "{e}");
    assert_eq!(e["exam_id"], exam["id"]);
    assert_eq!(e["patient_id"], exam["patient_id"]);
    assert_eq!(e["report_key"], key.as_str());
    assert_eq!(
        e["destination"],
        format!("processed/{}/cbc-0001.json", month())
    );
    assert_eq!(e["claims"], 1);
    assert!(e["moved_at"].is_string());
    assert_eq!(
        e["_links"]["exam"]["href"],
        format!("/api/v1/exams/{}", id_of(&exam))
    );
    // The patient is told, once.
    assert_eq!(notifications(&app, &ward.physician, id_of(&exam)).await, 1);
}

#[tokio::test]
async fn each_refused_file_goes_to_the_folder_of_its_outcome_and_a_bad_file_stops_nothing() {
    let app = quiet_app().await;
    let ward = Ward::sign_in(&app).await;

    // Unreadable: not JSON, a document without its tokens, a token that does not verify.
    drop_file(&app, "a-not-json.json", b"\x00\x01 this is not json");
    drop_file(&app, "b-no-tokens.json", br#"{"exam_token": "x"}"#);
    let (forged, forged_token) = started_exam(&app, &ward).await;
    drop_file(
        &app,
        "c-forged.json",
        &document(&forged_token, "eyJhbGciOiJIUzI1NiJ9.e30.forged"),
    );
    // Verifies, but the result token is for another exam than the exam token.
    let (mismatched, mismatched_token) = started_exam(&app, &ward).await;
    let (other, _) = started_exam(&app, &ward).await;
    drop_file(
        &app,
        "d-mismatch.json",
        &document(&mismatched_token, &result_token(id_of(&other), None)),
    );
    // Verifies and agrees, but the patient was discharged meanwhile.
    let (discharged, _, _) = dropped_result(&app, &ward, "e-discharged.json").await;
    let r = app
        .patch(&format!(
            "/api/v1/patients/{}",
            discharged["patient_id"].as_str().unwrap()
        ))
        .bearer(&ward.physician)
        .header("if-match", "*")
        .json(json!({"status": "discharged"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The exam was revoked.
    let (revoked, _, _) = dropped_result(&app, &ward, "f-revoked.json").await;
    let r = app
        .post(&format!("/api/v1/exams/{}/revoke", id_of(&revoked)))
        .bearer(&ward.physician)
        .json(json!({"reason": "Ordered twice"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A good file after all the bad ones.
    let (good, _, _) = dropped_result(&app, &ward, "g-good.json").await;

    assert!(pass(&app).await >= 1);
    // Whatever the startup pass took, nothing is left and nothing more to do.
    assert_eq!(pass(&app).await, 0);
    assert_eq!(std::fs::read_dir(at(&app, "completed")).unwrap().count(), 0);
    let expect = [
        ("a-not-json.json", "stuck", "not a JSON document"),
        ("b-no-tokens.json", "stuck", "result_token"),
        ("c-forged.json", "stuck", "does not verify"),
        ("d-mismatch.json", "denied", "another exam"),
        ("e-discharged.json", "denied", "no longer admitted"),
        ("f-revoked.json", "deleted", "revoked"),
        ("g-good.json", "processed", "applied"),
    ];
    for (name, outcome, reason) in expect {
        let folder = if outcome == "processed" {
            format!("processed/{}", month())
        } else {
            outcome.to_owned()
        };
        assert!(
            at(&app, &format!("{folder}/{name}")).exists(),
            "{name} is not in {folder}/"
        );
        let e = entry(&app, &ward.physician, name).await;
        assert_eq!(e["outcome"], outcome, "{e}");
        assert!(
            e["reason"].as_str().unwrap().contains(reason),
            "{name}: {}",
            e["reason"]
        );
        assert_eq!(e["destination"], format!("{folder}/{name}"));
    }
    // Tokens that verified name their exam and patient; nothing else changed.
    let e = entry(&app, &ward.physician, "f-revoked.json").await;
    assert_eq!(e["exam_id"], revoked["id"]);
    for (exam, status) in [
        (&forged, "started"),
        (&mismatched, "started"),
        (&discharged, "started"),
        (&revoked, "revoked"),
        (&good, "finished"),
    ] {
        assert_eq!(
            get_exam(&app, &ward.physician, id_of(exam)).await["status"],
            status
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM notification").await, 1);

    // The same name dropped again later is a new file, and the earlier one is not overwritten.
    drop_file(&app, "a-not-json.json", b"still not json");
    pass(&app).await;
    let stuck: Vec<String> = std::fs::read_dir(at(&app, "stuck"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(stuck.len(), 4, "{stuck:?}");
    assert!(stuck.iter().any(|n| n.ends_with("-a-not-json.json")));
}

#[tokio::test]
async fn two_replicas_racing_over_one_inbox_handle_each_file_once() {
    let app = quiet_app().await;
    let ward = Ward::sign_in(&app).await;
    let (replica, _) = app
        .replica_state(|s| s.results.poll = Duration::from_secs(3600))
        .await;
    const FILES: usize = 12;
    let mut exams = Vec::new();
    for i in 0..FILES {
        let (exam, token) = started_exam(&app, &ward).await;
        drop_file(
            &app,
            &format!("race-{i:02}.json"),
            &document(&token, &result_token(id_of(&exam), Some(1.2))),
        );
        exams.push(exam);
    }
    let (ours, theirs) = (
        &app.state.services.results_inbox,
        &replica.services.results_inbox,
    );
    let mut handled = 0;
    loop {
        let (a, b) = tokio::join!(ours.run_once(), theirs.run_once());
        let n = a.unwrap() + b.unwrap();
        if n == 0 {
            break;
        }
        handled += n;
    }
    assert!(handled <= FILES, "{handled} handlings of {FILES} files");
    for i in 0..FILES {
        assert!(at(&app, &format!("processed/{}/race-{i:02}.json", month())).exists());
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM result_file WHERE outcome = 'processed' AND claims = 1")
            .await,
        i64::try_from(FILES).unwrap()
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM result_file").await,
        i64::try_from(FILES).unwrap()
    );
    // Each exam was finished once, and its patient told once.
    for exam in &exams {
        assert_eq!(notifications(&app, &ward.physician, id_of(exam)).await, 1);
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM audit_event WHERE resource_id = '{}' AND reason = 'finished'",
                id_of(exam)
            ))
            .await,
            1
        );
    }
}

/// The file as the worker lists it.
async fn listed(app: &TestApp, name: &str) -> StoredFile {
    let store =
        ResultStore::open(&ResultsLocation::Directory(app.results.path().to_owned())).unwrap();
    store
        .head(&format!("completed/{name}"))
        .await
        .unwrap()
        .unwrap()
}

/// A started exam whose good result file was dropped as `name`: the exam, its exam token and
/// the result token.
async fn dropped_result(app: &TestApp, ward: &Ward, name: &str) -> (Value, String, String) {
    let (exam, token) = started_exam(app, ward).await;
    let result = result_token(id_of(&exam), None);
    drop_file(app, name, &document(&token, &result));
    (exam, token, result)
}

/// Claims the file `name` as a worker would (under a claim of its own).
async fn claimed(app: &TestApp, name: &str) -> (InboxEntry, Uuid) {
    let claim = Uuid::new_v4();
    let entry = app
        .state
        .services
        .results_inbox
        .claim(&listed(app, name).await, claim)
        .await
        .unwrap()
        .expect("claimed");
    (entry, claim)
}

/// Claims the file `name` and decides its outcome, without moving it; returns its destination.
async fn claimed_and_decided(app: &TestApp, name: &str) -> String {
    let (entry, claim) = claimed(app, name).await;
    app.state
        .services
        .results_inbox
        .decide(&entry, claim)
        .await
        .unwrap()
        .expect("still leased")
}

#[tokio::test]
async fn a_crash_half_way_is_redone_by_whoever_claims_the_file_after_the_lease() {
    let lease = Duration::from_millis(300);
    let app = inbox_app(Duration::from_secs(3600), lease).await;
    let ward = Ward::sign_in(&app).await;

    // 1. Claimed, the result applied and the outcome recorded, then the worker died before
    //    moving the file.
    let (exam, _, _) = dropped_result(&app, &ward, "crash-1.json").await;
    let to = claimed_and_decided(&app, "crash-1.json").await;
    assert_eq!(to, format!("processed/{}/crash-1.json", month()));
    assert_eq!(
        get_exam(&app, &ward.physician, id_of(&exam)).await["status"],
        "finished"
    );
    // While the lease holds, nobody else touches it.
    pass(&app).await;
    assert!(at(&app, "completed/crash-1.json").exists());

    // 2. Claimed and the result applied through the intake, then the worker died before
    //    recording anything.
    let (exam2, token2, result2) = dropped_result(&app, &ward, "crash-2.json").await;
    claimed(&app, "crash-2.json").await;
    app.state
        .services
        .exams
        .apply_result(None, None, &token2, &result2)
        .await
        .unwrap();

    // 3. Decided and moved, then the worker died before recording the move.
    let (exam3, _, _) = dropped_result(&app, &ward, "crash-3.json").await;
    let to3 = claimed_and_decided(&app, "crash-3.json").await;
    std::fs::create_dir_all(at(&app, &to3).parent().unwrap()).unwrap();
    std::fs::rename(at(&app, "completed/crash-3.json"), at(&app, &to3)).unwrap();

    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    pass(&app).await;
    assert_eq!(pass(&app).await, 0);
    for (name, exam) in [
        ("crash-1.json", &exam),
        ("crash-2.json", &exam2),
        ("crash-3.json", &exam3),
    ] {
        assert!(!at(&app, &format!("completed/{name}")).exists());
        assert!(at(&app, &format!("processed/{}/{name}", month())).exists());
        let e = entry(&app, &ward.physician, name).await;
        assert_eq!(e["outcome"], "processed", "{e}");
        assert_eq!(e["claims"], 2, "{e}");
        assert!(e["moved_at"].is_string(), "{e}");
        // Finished once, told once, whatever was redone.
        assert_eq!(notifications(&app, &ward.physician, id_of(exam)).await, 1);
    }
    let e = entry(&app, &ward.physician, "crash-2.json").await;
    assert_eq!(e["reason"], "the result had already been applied");
}

#[tokio::test]
async fn the_inbox_list_is_for_physicians_and_technicians_with_filters_and_pages() {
    let app = quiet_app().await;
    let ward = Ward::sign_in(&app).await;
    drop_file(&app, "x-1.json", b"not json");
    drop_file(&app, "x-2.json", b"not json either");
    let (exam, token) = started_exam(&app, &ward).await;
    drop_file(
        &app,
        "x-3.json",
        &document(&token, &result_token(id_of(&exam), None)),
    );
    pass(&app).await;

    for token in [&ward.nurse, &ward.admin] {
        app.get("/api/v1/exam-results/inbox")
            .bearer(token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
    }
    app.get("/api/v1/exam-results/inbox")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    let r = app
        .get("/api/v1/exam-results/inbox?outcome=lost")
        .bearer(&ward.physician)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["outcome"]);

    let stuck = inbox(&app, &ward.technician, "?outcome=stuck").await;
    assert_eq!(stuck["items"].as_array().unwrap().len(), 2);
    let processed = inbox(&app, &ward.physician, "?outcome=processed").await;
    assert_eq!(processed["items"].as_array().unwrap().len(), 1);
    assert_eq!(processed["items"][0]["exam_id"], exam["id"]);
    let pending = inbox(&app, &ward.physician, "?outcome=pending").await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 0);
    let future = inbox(&app, &ward.physician, "?from=2999-01-01T00:00:00Z").await;
    assert_eq!(future["items"].as_array().unwrap().len(), 0);
    let past = inbox(&app, &ward.physician, "?to=2999-01-01T00:00:00Z").await;
    assert_eq!(past["items"].as_array().unwrap().len(), 3);

    // Cursor pages, newest first, each file once.
    let mut seen = Vec::new();
    let mut page = inbox(&app, &ward.physician, "?limit=2").await;
    loop {
        for item in page["items"].as_array().unwrap() {
            seen.push(item["file"].as_str().unwrap().to_owned());
        }
        let Some(next) = page["_links"]["next"]["href"].as_str() else {
            break;
        };
        let query = next.split_once('?').map(|(_, q)| format!("?{q}")).unwrap();
        page = inbox(&app, &ward.physician, &query).await;
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "completed/x-1.json",
            "completed/x-2.json",
            "completed/x-3.json"
        ]
    );
}

/// A `multipart/form-data` body of text fields and an optional file field `report`.
fn form(fields: &[(&str, &str)], report: Option<&[u8]>) -> (String, Vec<u8>) {
    let boundary = "----inbox-test-boundary-7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some(report) = report {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"report\"; filename=\"report.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(report);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_form(
    app: &TestApp,
    path: &str,
    bearer: &str,
    fields: &[(&str, &str)],
    report: Option<&[u8]>,
) -> TestResponse {
    let (content_type, body) = form(fields, report);
    app.post(path)
        .bearer(bearer)
        .raw(&content_type, body)
        .send()
        .await
}

#[tokio::test]
async fn a_report_file_comes_with_a_result_through_the_api_as_a_form() {
    let app = quiet_app().await;
    let ward = Ward::sign_in(&app).await;
    let (exam, token) = started_exam(&app, &ward).await;
    let path = format!("/api/v1/exams/{}/result", id_of(&exam));
    let result = result_token(id_of(&exam), Some(0.8));

    // A form without its tokens, or with a field it does not have, changes nothing.
    let r = post_form(
        &app,
        &path,
        &ward.technician,
        &[("exam_token", &token)],
        Some(b"x"),
    )
    .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["result_token"]);
    let extra = [
        ("exam_token", token.as_str()),
        ("result_token", &result),
        ("note", "x"),
    ];
    post_form(&app, &path, &ward.technician, &extra, None)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    // Tokens that do not verify: no report is stored.
    let forged = [
        ("exam_token", token.as_str()),
        ("result_token", "not-a-token"),
    ];
    post_form(
        &app,
        &path,
        &ward.technician,
        &forged,
        Some(b"forged report"),
    )
    .await
    .problem(StatusCode::UNPROCESSABLE_ENTITY);
    let key = format!("reports/{}", id_of(&exam));
    assert!(!at(&app, &key).exists());
    // Nurses do not hand in results.
    let tokens = [("exam_token", token.as_str()), ("result_token", &result)];
    post_form(&app, &path, &ward.nurse, &tokens, Some(b"r"))
        .await
        .problem(StatusCode::FORBIDDEN);

    let report = b"%PDF-1.7 echocardiogram report \x00\xff binary";
    let r = post_form(&app, &path, &ward.technician, &tokens, Some(report)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "finished");
    assert_eq!(r.body["report_key"], key.as_str());
    assert_eq!(std::fs::read(at(&app, &key)).unwrap(), report);

    // The same result again (as JSON) is a replay, and keeps the report.
    let r = app
        .post(&path)
        .bearer(&ward.physician)
        .json(json!({"exam_token": token, "result_token": result}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("idempotent-replayed"), Some("true"));
    assert_eq!(r.body["report_key"], key.as_str());
    app.post(&path)
        .bearer(&ward.physician)
        .raw("text/plain", "hello")
        .send()
        .await
        .problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

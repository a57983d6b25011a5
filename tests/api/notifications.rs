//! Patient notifications through the API: channel selection (manual contact when there is
//! none), webhook delivery against a local gateway with retries and backoff, giving up and
//! retrying by hand, and two workers racing over one outbox without sending anything twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use oncology_registry::config::NotifySender;
use oncology_registry::domain::notification::{Notification, NotificationKind, RetryPolicy};
use oncology_registry::persistence::notifications::NotificationRepository;
use oncology_registry::persistence::patients::PatientRepository;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::exams::{CBC, Ward, order, result_token, start, wait_for_notification};
use crate::helpers::{TestApp, patient_body};

/// A stand-in for the hospital's SMS/e-mail gateway: answers 503 to the first `failures`
/// requests, then 200, and keeps every body it was sent.
#[derive(Clone, Default)]
struct Gateway {
    failures: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Value>>>,
}

impl Gateway {
    async fn spawn(failures: usize) -> (Self, String) {
        let gateway = Self {
            failures: Arc::new(AtomicUsize::new(failures)),
            ..Default::default()
        };
        let state = gateway.clone();
        let app = axum::Router::new().route(
            "/notify",
            axum::routing::post(
                |axum::extract::State(g): axum::extract::State<Gateway>,
                 axum::Json(body): axum::Json<Value>| async move {
                    g.received.lock().unwrap().push(body);
                    let failing = g
                        .failures
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if failing {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::OK
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app.with_state(state)).await.unwrap();
        });
        (gateway, url)
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

async fn app_with_gateway(url: &str, retry: RetryPolicy, poll: Duration) -> TestApp {
    let url = url.to_owned();
    TestApp::spawn_with(move |s| {
        s.notify.sender = NotifySender::Webhook(url);
        s.notify.retry = retry;
        s.notify.poll = poll;
    })
    .await
}

fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(200),
        max_attempts,
    }
}

/// Orders, starts and finishes a blood count for `patient`; returns the exam id.
async fn finished_exam(app: &TestApp, ward: &Ward, patient: &str) -> String {
    let exam = order(app, &ward.physician, patient, CBC).await;
    let id = exam["id"].as_str().unwrap().to_owned();
    let exam_token = start(app, &ward.technician, &exam).await;
    let r = app
        .post("/api/v1/exams/communicate")
        .bearer(&ward.technician)
        .json(json!({"exam_token": exam_token, "result_token": result_token(&id, Some(0.3))}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    id
}

async fn patient_with(app: &TestApp, token: &str, contacts: Value) -> String {
    let mut body = patient_body();
    for (k, v) in contacts.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.create_patient(token, body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_channel_follows_the_preference_and_falls_back_to_manual_contact() {
    let app = TestApp::spawn().await;
    let ward = Ward::sign_in(&app).await;
    let cases = [
        (
            json!({"preferred_contact": "email"}),
            "email",
            "patient@example.org",
            "sent",
        ),
        (
            json!({"preferred_contact": "email", "email": null}),
            "sms",
            "+447700900123",
            "sent",
        ),
        (
            json!({"preferred_contact": "sms", "phone": null, "email": null}),
            "manual",
            "",
            "manual_contact_required",
        ),
    ];
    for (contacts, channel, recipient, status) in cases {
        let patient = patient_with(&app, &ward.physician, contacts).await;
        let exam = finished_exam(&app, &ward, &patient).await;
        let n = wait_for_notification(&app, &ward.nurse, &exam, status).await;
        assert_eq!(n["channel"], channel);
        assert_eq!(n["recipient"].as_str().unwrap_or(""), recipient);
    }
    let r = app
        .get("/api/v1/notifications?status=manual_contact_required")
        .bearer(&ward.physician)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["attempts"], 0);
    let r = app
        .get("/api/v1/notifications?channel=email&limit=1")
        .bearer(&ward.nurse)
        .send()
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    for bad in ["status=lost", "channel=pager", "cursor=1"] {
        app.get(&format!("/api/v1/notifications?{bad}"))
            .bearer(&ward.nurse)
            .send()
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
}

#[tokio::test]
async fn the_webhook_is_retried_with_backoff_until_the_gateway_accepts() {
    let (gateway, url) = Gateway::spawn(2).await;
    let app = app_with_gateway(&url, quick_retries(5), Duration::from_millis(20)).await;
    let ward = Ward::sign_in(&app).await;
    let patient = patient_with(&app, &ward.physician, json!({})).await;
    let exam = finished_exam(&app, &ward, &patient).await;

    let n = wait_for_notification(&app, &ward.nurse, &exam, "sent").await;
    assert_eq!(n["attempts"], 3);
    assert_eq!(n["last_error"], Value::Null);
    let received = gateway.received();
    assert_eq!(received.len(), 3);
    let body = &received[2];
    assert_eq!(body["notification_id"], n["id"]);
    assert_eq!(
        (body["channel"].as_str(), body["recipient"].as_str()),
        (Some("sms"), Some("+447700900123"))
    );
    // The message says a result is ready, and nothing about it.
    let message = body["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("result"));
    for word in ["neutro", "anc", "abnormal", "0.3", "grade"] {
        assert!(
            !body.to_string().to_lowercase().contains(word),
            "{word}: {body}"
        );
    }
}

#[tokio::test]
async fn a_gateway_that_keeps_failing_is_given_up_and_the_ward_can_retry() {
    let (gateway, url) = Gateway::spawn(usize::MAX).await;
    let app = app_with_gateway(&url, quick_retries(2), Duration::from_millis(20)).await;
    let ward = Ward::sign_in(&app).await;
    let patient = patient_with(&app, &ward.physician, json!({})).await;
    let exam = finished_exam(&app, &ward, &patient).await;

    let n = wait_for_notification(&app, &ward.nurse, &exam, "failed").await;
    assert_eq!(n["attempts"], 2);
    assert!(n["last_error"].as_str().unwrap().contains("503"), "{n}");
    assert_eq!(gateway.received().len(), 2);
    let id = n["id"].as_str().unwrap();
    let retry = format!("/api/v1/notifications/{id}/retry");
    assert!(n["_links"]["retry"]["href"] == retry.as_str());

    app.post(&retry)
        .bearer(&ward.technician)
        .send()
        .await
        .problem(StatusCode::FORBIDDEN);
    gateway.failures.store(0, Ordering::SeqCst);
    let r = app.post(&retry).bearer(&ward.nurse).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    let n = wait_for_notification(&app, &ward.nurse, &exam, "sent").await;
    assert_eq!(n["attempts"], 1);
    app.post(&retry)
        .bearer(&ward.nurse)
        .send()
        .await
        .problem(StatusCode::CONFLICT);
    app.post(&format!("/api/v1/notifications/{}/retry", Uuid::now_v7()))
        .bearer(&ward.nurse)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn two_workers_racing_over_the_outbox_send_each_notification_once() {
    let (gateway, url) = Gateway::spawn(0).await;
    // The background worker sleeps; the two below race alone.
    let app = app_with_gateway(&url, quick_retries(3), Duration::from_secs(3600)).await;
    let ward = Ward::sign_in(&app).await;
    let patient_id = patient_with(&app, &ward.physician, json!({})).await;
    let patient = PatientRepository::find(app.db().reader(), patient_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    const COUNT: usize = 40;
    for _ in 0..COUNT {
        let n = Notification::new(
            &patient,
            None,
            NotificationKind::ResultReady,
            chrono::Utc::now(),
        );
        NotificationRepository::insert(app.db().writer(), &n)
            .await
            .unwrap();
    }
    let service = &app.state.services.notifications;
    loop {
        let (a, b) = tokio::join!(service.deliver_due(), service.deliver_due());
        if a.unwrap() + b.unwrap() == 0 {
            break;
        }
    }
    let mut sends: HashMap<String, usize> = HashMap::new();
    for body in gateway.received() {
        *sends
            .entry(body["notification_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(sends.len(), COUNT);
    assert!(sends.values().all(|n| *n == 1), "{sends:?}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notification WHERE status = 'sent' AND attempts = 1")
            .await,
        i64::try_from(COUNT).unwrap()
    );
}

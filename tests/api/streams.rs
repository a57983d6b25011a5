//! Live streams over WebSocket: trend replay and follow (also across replicas), the ward stream
//! of vital signs and alerts, authentication through subprotocol and query, bad requests with
//! their close codes, roles.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use futures::{SinkExt, StreamExt};
use oncology_registry::domain::user::Role;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::helpers::{TestApp, patient_body};
use crate::vital_signs::{chart, normal_set, sick_set};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/holter-trends/synthetic-24h.xml"
);

/// How the test hands over its access token.
enum Auth<'a> {
    Header(&'a str),
    Subprotocol(&'a str),
    Query(&'a str),
    None,
}

async fn connect(addr: SocketAddr, path: &str, auth: Auth<'_>) -> Result<Ws, WsError> {
    let url = match auth {
        Auth::Query(token) => format!("ws://{addr}/api/v1{path}?access_token={token}"),
        _ => format!("ws://{addr}/api/v1{path}"),
    };
    let mut request = url.into_client_request().unwrap();
    match auth {
        Auth::Header(token) => {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        Auth::Subprotocol(token) => {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                format!("bearer, {token}").parse().unwrap(),
            );
        }
        Auth::Query(_) | Auth::None => {}
    }
    connect_async(request).await.map(|(ws, response)| {
        if let Some(p) = response.headers().get("sec-websocket-protocol") {
            // The server names the protocol, never echoes the token.
            assert_eq!(p, "bearer");
        }
        ws
    })
}

/// The next message as JSON (pings skipped); panics on close or after 10 s.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("the stream is open")
            .expect("a valid frame");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// Reads until the close frame and returns its code.
async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a close within 10 s");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Message::Close(None))) | None => return 1005,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("stream failed: {e}"),
        }
    }
}

async fn send_json(ws: &mut Ws, value: Value) {
    ws.send(Message::text(value.to_string())).await.unwrap();
}

/// Points until `end`, with the `end` message.
async fn points_until_end(ws: &mut Ws) -> (Vec<Value>, Value) {
    let mut points = Vec::new();
    loop {
        let m = next_json(ws).await;
        match m["type"].as_str() {
            Some("point") => points.push(m),
            Some("end") => return (points, m),
            _ => panic!("unexpected message {m}"),
        }
    }
}

async fn upload(app: &TestApp, token: &str, patient: &str) {
    let r = app
        .post(&format!(
            "/api/v1/patients/{patient}/ecg-trends?timezone=Europe/Rome"
        ))
        .bearer(token)
        .raw("application/xml", std::fs::read(SAMPLE).unwrap())
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn patient(app: &TestApp, token: &str) -> String {
    app.create_patient(token, patient_body()).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn trend_app() -> impl std::future::Future<Output = TestApp> {
    TestApp::spawn_with(|s| s.max_body_bytes = 4 * 1024 * 1024)
}

#[tokio::test]
async fn a_window_is_replayed_in_time_order_as_the_rest_read_gives_it_then_ends() {
    let app = trend_app().await;
    let nurse = app.token(Role::Nurse).await;
    let id = patient(&app, &nurse).await;
    upload(&app, &nurse, &id).await;
    let addr = app.serve().await;

    let mut ws = connect(addr, "/ws/ecg-trends", Auth::Subprotocol(&nurse))
        .await
        .unwrap();
    send_json(
        &mut ws,
        json!({"patient_id": id, "start_time": "2030-01-07T12:49:01Z", "duration_seconds": 7200,
               "trend_types": ["TREND_HR", "TREND_RR"], "smoothing": "median:3"}),
    )
    .await;
    let (points, end) = points_until_end(&mut ws).await;
    assert_eq!(end["replayed"], points.len());
    assert_eq!(end["following"], false);
    assert_eq!(close_code(&mut ws).await, 1000);

    // Two hours of two five-minute trends.
    assert_eq!(points.len(), 2 * 24);
    let times: Vec<&str> = points
        .iter()
        .map(|p| p["date_time_iso"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
    assert_eq!(times[0], "2030-01-07T12:49:01Z");

    // The same values as the REST read with the same smoothing.
    let rest = app
        .get(&format!(
            "/api/v1/patients/{id}/ecg-trends?trend_type=TREND_HR&from=2030-01-07T12:49:01Z&to=2030-01-07T14:49:01Z&smoothing=median:3"
        ))
        .bearer(&nurse)
        .send()
        .await;
    let rest_points = rest.body["points"].as_array().unwrap();
    let streamed_hr: Vec<&Value> = points
        .iter()
        .filter(|p| p["trend_type"] == "TREND_HR")
        .collect();
    assert_eq!(streamed_hr.len(), rest_points.len());
    for (s, r) in streamed_hr.iter().zip(rest_points) {
        for field in [
            "date_time_iso",
            "date_time_hl7",
            "min_value",
            "avg_value",
            "max_value",
            "valid",
            "units",
        ] {
            assert_eq!(s[field], r[field], "{field}");
        }
    }
}

#[tokio::test]
async fn a_follower_receives_points_uploaded_later_through_another_replica() {
    let app = trend_app().await;
    let nurse = app.token(Role::Nurse).await;
    let id = patient(&app, &nurse).await;
    let addr = app.serve().await;
    let replica = app.replica().await;

    let mut ws = connect(addr, "/ws/ecg-trends", Auth::Header(&nurse))
        .await
        .unwrap();
    send_json(
        &mut ws,
        json!({"patient_id": id, "start_time": "2030-01-07T12:49:01Z", "duration_seconds": 3600,
               "trend_types": ["TREND_HR"], "follow": true}),
    )
    .await;
    let (replayed, end) = points_until_end(&mut ws).await;
    assert!(replayed.is_empty());
    assert_eq!(end["following"], true);

    // The upload goes through the other replica, over plain HTTP.
    let client = reqwest_free_upload(replica, &nurse, &id).await;
    assert_eq!(client, 201);

    let mut followed = Vec::new();
    while followed.len() < 12 {
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "point", "{m}");
        followed.push(m);
    }
    assert!(followed.iter().all(|p| p["trend_type"] == "TREND_HR"));
    assert_eq!(followed[0]["date_time_iso"], "2030-01-07T12:49:01Z");
    assert_eq!(followed[11]["date_time_iso"], "2030-01-07T13:44:01Z");

    // A second upload of the same file adds nothing, so nothing more is sent; stop ends it.
    upload(&app, &nurse, &id).await;
    send_json(&mut ws, json!({"type": "stop"})).await;
    let end = next_json(&mut ws).await;
    assert_eq!(end["type"], "end");
    assert_eq!(end["replayed"], 12, "each point once");
    assert_eq!(close_code(&mut ws).await, 1000);
}

/// Uploads the sample through a server at `addr` with a raw HTTP/1.1 request; returns the status.
async fn reqwest_free_upload(addr: SocketAddr, token: &str, patient: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = std::fs::read(SAMPLE).unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/patients/{patient}/ecg-trends?timezone=Europe/Rome HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_token_may_come_as_a_query_parameter_and_is_required() {
    let app = trend_app().await;
    let technician = app.token(Role::Technician).await;
    let nurse = app.token(Role::Nurse).await;
    let id = patient(&app, &nurse).await;
    upload(&app, &nurse, &id).await;
    let addr = app.serve().await;

    let mut ws = connect(addr, "/ws/ecg-trends", Auth::Query(&technician))
        .await
        .unwrap();
    send_json(
        &mut ws,
        json!({"patient_id": id, "start_time": "2030-01-07T12:49:01Z", "duration_seconds": 300}),
    )
    .await;
    let (points, _) = points_until_end(&mut ws).await;
    assert_eq!(points.len(), 19, "one point of each of the 19 trends");

    let status = |e: WsError| match e {
        WsError::Http(response) => response.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    };
    let refused = connect(addr, "/ws/ecg-trends", Auth::None)
        .await
        .unwrap_err();
    assert_eq!(status(refused), 401);
    let refused = connect(addr, "/ws/ecg-trends", Auth::Query("not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(status(refused), 401);
    let admin = app.token(Role::Admin).await;
    let refused = connect(addr, "/ws/ecg-trends", Auth::Subprotocol(&admin))
        .await
        .unwrap_err();
    assert_eq!(status(refused), 403, "administrators never see charts");
}

#[tokio::test]
async fn the_query_token_is_not_accepted_outside_websocket_upgrades() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let r = app
        .get(&format!("/api/v1/patients?access_token={nurse}"))
        .send()
        .await;
    r.problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_plain_http_request_is_told_to_upgrade() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    for path in ["/api/v1/ws/ecg-trends", "/api/v1/ws/wards/ONC-1"] {
        let r = app.get(path).bearer(&nurse).send().await;
        r.problem(StatusCode::UPGRADE_REQUIRED);
        assert_eq!(r.header("upgrade"), Some("websocket"));
    }
}

#[tokio::test]
async fn bad_requests_get_an_error_message_and_a_close_code_naming_the_status() {
    let app = trend_app().await;
    let nurse = app.token(Role::Nurse).await;
    let id = patient(&app, &nurse).await;
    let addr = app.serve().await;

    let cases = [
        (
            json!({"patient_id": id, "duration_seconds": 0, "smoothing": "median:4"}),
            422,
            vec!["start_time", "duration_seconds", "smoothing"],
        ),
        (
            json!({"patient_id": id, "start_time": "2030-01-07T12:49:01Z", "duration_seconds": 60, "extra": 1}),
            422,
            vec!["request"],
        ),
        (
            json!({"patient_id": uuid::Uuid::now_v7(), "start_time": "2030-01-07T12:49:01Z", "duration_seconds": 60}),
            404,
            vec![],
        ),
    ];
    for (request, status, fields) in cases {
        let mut ws = connect(addr, "/ws/ecg-trends", Auth::Header(&nurse))
            .await
            .unwrap();
        send_json(&mut ws, request).await;
        let error = next_json(&mut ws).await;
        assert_eq!(error["type"], "error");
        assert_eq!(error["status"], status, "{error}");
        let named: Vec<&str> = error["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e["field"].as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(named, fields);
        assert_eq!(close_code(&mut ws).await, 4000 + status);
    }

    // Not JSON text at all.
    let mut ws = connect(addr, "/ws/ecg-trends", Auth::Header(&nurse))
        .await
        .unwrap();
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(close_code(&mut ws).await, u16::from(CloseCode::Unsupported));
}

#[tokio::test]
async fn a_follow_stream_ends_when_its_access_token_expires() {
    let app = TestApp::spawn_with(|s| s.access_token_ttl = chrono::Duration::seconds(2)).await;
    let nurse = app.token(Role::Nurse).await;
    let id = patient(&app, &nurse).await;
    let addr = app.serve().await;
    let mut ws = connect(addr, "/ws/ecg-trends", Auth::Header(&nurse))
        .await
        .unwrap();
    send_json(
        &mut ws,
        json!({"patient_id": id, "start_time": "2030-01-07T12:49:01Z", "duration_seconds": 60, "follow": true}),
    )
    .await;
    let (_, end) = points_until_end(&mut ws).await;
    assert_eq!(end["following"], true);
    let error = next_json(&mut ws).await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["status"], 401);
    assert_eq!(close_code(&mut ws).await, 4401);
}

#[tokio::test]
async fn the_ward_stream_shows_charted_sets_and_their_alerts_for_its_ward_only() {
    let app = TestApp::spawn().await;
    let nurse = app.token(Role::Nurse).await;
    let physician = app.token(Role::Physician).await;
    let on_ward = |ward: &str| {
        let mut body = patient_body();
        body["ward"] = json!(ward);
        body
    };
    let here = app.create_patient(&nurse, on_ward("ONC-STREAM")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let elsewhere = app.create_patient(&nurse, on_ward("ONC-OTHER")).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let addr = app.serve().await;
    let mut ws = connect(addr, "/ws/wards/ONC-STREAM", Auth::Subprotocol(&physician))
        .await
        .unwrap();
    let subscribed = next_json(&mut ws).await;
    assert_eq!(
        subscribed,
        json!({"type": "subscribed", "ward": "ONC-STREAM"})
    );

    chart(&app, &nurse, &elsewhere, sick_set()).await;
    chart(&app, &nurse, &here, normal_set()).await;
    let sick = chart(&app, &nurse, &here, sick_set()).await;
    let alert_ids: Vec<&str> = sick["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(alert_ids.len(), 3);

    // The normal set, the sick set, then its three alerts: nothing of the other ward.
    let first = next_json(&mut ws).await;
    assert_eq!(first["type"], "vital_signs");
    assert_eq!(first["patient_id"], here.as_str());
    assert_eq!(first["news2"]["score"], 0);
    let second = next_json(&mut ws).await;
    assert_eq!(second["type"], "vital_signs");
    assert_eq!(second["id"], sick["id"]);
    assert_eq!(second["news2"]["score"], 19);
    assert_eq!(second["news2"]["risk"], "high");
    let mut streamed_alerts = Vec::new();
    for _ in 0..3 {
        let m = next_json(&mut ws).await;
        assert_eq!(m["type"], "alert", "{m}");
        assert_eq!(m["patient_id"], here.as_str());
        assert_eq!(m["status"], "open");
        streamed_alerts.push(m["id"].as_str().unwrap().to_owned());
    }
    streamed_alerts.sort();
    let mut expected: Vec<String> = alert_ids.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(streamed_alerts, expected);

    // An acknowledgement is a change too.
    let ack = app
        .post(&format!("/api/v1/alerts/{}/acknowledge", alert_ids[0]))
        .bearer(&nurse)
        .send()
        .await;
    assert_eq!(ack.status, StatusCode::OK, "{}", ack.body);
    let m = next_json(&mut ws).await;
    assert_eq!(m["type"], "alert");
    assert_eq!(m["id"], alert_ids[0]);
    assert_eq!(m["status"], "acknowledged");

    // Each streamed record is an audited read.
    let reads = app
        .count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'read' AND resource_id = '{}'",
            sick["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(reads, 1);

    send_json(&mut ws, json!({"type": "stop"})).await;
    assert_eq!(close_code(&mut ws).await, 1000);
}

#[tokio::test]
async fn the_ward_stream_is_for_nurses_and_physicians_with_a_valid_ward() {
    let app = TestApp::spawn().await;
    let addr = app.serve().await;
    for role in [Role::Technician, Role::Admin] {
        let token = app.token(role).await;
        match connect(addr, "/ws/wards/ONC-1", Auth::Header(&token)).await {
            Err(WsError::Http(r)) => assert_eq!(r.status().as_u16(), 403, "{role}"),
            other => panic!("{role}: expected 403, got {:?}", other.map(|_| ())),
        }
    }
    let nurse = app.token(Role::Nurse).await;
    match connect(addr, "/ws/wards/%20", Auth::Header(&nurse)).await {
        Err(WsError::Http(r)) => assert_eq!(r.status().as_u16(), 422),
        other => panic!("expected 422, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn the_change_feed_never_steps_over_a_change_that_commits_late() {
    use oncology_registry::domain::stream::{StreamEvent, StreamTopic};
    use oncology_registry::persistence::stream_events::{FeedFilter, StreamEventRepository};
    use sea_orm::{DbBackend, TransactionTrait};

    let app = TestApp::spawn().await;
    let db = app.db();
    let patient_id = uuid::Uuid::now_v7();
    let filter = FeedFilter::Patient {
        topics: vec![StreamTopic::VitalSigns],
        patient_id,
    };
    let event = |n: u128| {
        StreamEvent::new(
            StreamTopic::VitalSigns,
            patient_id,
            Some(uuid::Uuid::from_u128(n)),
            chrono::Utc::now(),
        )
    };
    let ids = |events: &[StreamEvent]| -> Vec<u128> {
        events
            .iter()
            .map(|e| e.resource_id.unwrap().as_u128())
            .collect()
    };
    let start = StreamEventRepository::head(db.reader()).await.unwrap();

    if db.backend() == DbBackend::Postgres {
        // The slow transaction takes its sequence number first and commits last.
        let slow = db.writer().begin().await.unwrap();
        StreamEventRepository::append(&slow, &[event(1)])
            .await
            .unwrap();
        let fast = db.writer().begin().await.unwrap();
        StreamEventRepository::append(&fast, &[event(2)])
            .await
            .unwrap();
        fast.commit().await.unwrap();
        let (seen, cursor) = StreamEventRepository::after(db.reader(), start, &filter, 100)
            .await
            .unwrap();
        assert!(seen.is_empty(), "held back while an older writer runs");
        slow.commit().await.unwrap();
        // Transactions of other databases on the cluster (other tests) hold the horizon too:
        // the events arrive once those end, never out of order and never lost.
        let mut seen = Vec::new();
        let mut cursor = cursor;
        for _ in 0..200 {
            let (more, next) = StreamEventRepository::after(db.reader(), cursor, &filter, 100)
                .await
                .unwrap();
            seen.extend(more);
            cursor = next;
            if seen.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(ids(&seen), [1, 2], "both, in commit-safe order");
        let (seen, _) = StreamEventRepository::after(db.reader(), cursor, &filter, 100)
            .await
            .unwrap();
        assert!(seen.is_empty(), "each once");
    } else {
        for n in [1, 2, 3] {
            let txn = db.begin().await.unwrap();
            StreamEventRepository::append(&txn, &[event(n)])
                .await
                .unwrap();
            txn.commit().await.unwrap();
        }
        // Pages of two: the cursor continues exactly after the page.
        let (seen, cursor) = StreamEventRepository::after(db.reader(), start, &filter, 2)
            .await
            .unwrap();
        assert_eq!(ids(&seen), [1, 2]);
        let (seen, cursor) = StreamEventRepository::after(db.reader(), cursor, &filter, 2)
            .await
            .unwrap();
        assert_eq!(ids(&seen), [3]);
        let (seen, _) = StreamEventRepository::after(db.reader(), cursor, &filter, 2)
            .await
            .unwrap();
        assert!(seen.is_empty(), "each once");
    }

    // Another patient's events are not this filter's.
    let other = StreamEvent::new(
        StreamTopic::VitalSigns,
        uuid::Uuid::now_v7(),
        None,
        chrono::Utc::now(),
    );
    let txn = db.begin().await.unwrap();
    StreamEventRepository::append(&txn, &[other]).await.unwrap();
    txn.commit().await.unwrap();
    let (seen, _) = StreamEventRepository::after(db.reader(), start, &filter, 100)
        .await
        .unwrap();
    assert_eq!(
        seen.len(),
        if db.backend() == DbBackend::Postgres {
            2
        } else {
            3
        }
    );
}

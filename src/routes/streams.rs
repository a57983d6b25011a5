//! Live streams over WebSocket: a patient's Holter trend points (replayed, then optionally
//! followed) and a ward's newly charted vital signs and alerts.
//!
//! Browsers cannot set headers on a WebSocket, so the access token may also come as the entry
//! after `bearer` in `Sec-WebSocket-Protocol` or as the `access_token` query parameter (see
//! `extract::require_access_token`); either way it is checked before the upgrade, like every
//! other route's, and never logged.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::alerts::AlertResponse;
use super::ecg_trends::TrendPointDto;
use super::extract::{Authorized, Path, WEBSOCKET_TOKEN_PROTOCOL};
use super::vital_signs::VitalSignsResponse;
use crate::app::AppState;
use crate::domain::patient::Ward;
use crate::domain::stream::{TrendStreamFields, TrendStreamRequest};
use crate::error::{ApiError, FieldProblem, Problem};
use crate::services::ServiceError;
use crate::services::access::{ReadAlerts, ReadEcgs, ReadVitalSigns};
use crate::services::streams::{TrendFollower, WardChange, WardFollower};

/// How long the server waits for a trend stream's request after the upgrade.
const REQUEST_WAIT: Duration = Duration::from_secs(30);

/// A client that has not taken a message for this long is too slow: the stream closes rather
/// than buffer for it.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest message a client may send (a request is a few hundred bytes).
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;

/// What the server buffers for one client before it waits for the client to read: the
/// backpressure bound per stream.
const WRITE_BUFFER: usize = 64 * 1024;
const MAX_WRITE_BUFFER: usize = 1024 * 1024;

/// Messages are flushed at least this often while a replay is sent.
const FLUSH_EVERY: usize = 256;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trend_stream))
        .routes(routes!(ward_stream))
}

/// What a client sends to start a trend stream.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"patient_id": "0192f0c1-8c2e-7b7e-9a55-2f1f3f4a5b6c",
    "start_time": "2025-03-01T07:00:00Z", "duration_seconds": 86400,
    "trend_types": ["TREND_HR"], "smoothing": "median:5", "follow": true}))]
pub struct TrendStreamMessage {
    pub patient_id: Option<Uuid>,
    /// The window's start (RFC 3339).
    pub start_time: Option<DateTime<Utc>>,
    /// The window's length, 1 s to 7 days.
    pub duration_seconds: Option<i64>,
    /// Only these trends (default: all).
    pub trend_types: Option<Vec<String>>,
    /// `none`, `moving_average:N` or `median:N` (N odd, 1-51), as in the REST read.
    pub smoothing: Option<String>,
    /// Keep streaming points of the window uploaded later.
    pub follow: Option<bool>,
}

/// An error sent on a stream before it closes.
#[derive(Debug, Serialize)]
struct StreamError {
    status: u16,
    title: String,
    detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldProblem>,
}

impl From<Problem> for StreamError {
    fn from(p: Problem) -> Self {
        Self {
            status: p.status,
            title: p.title,
            detail: p.detail,
            errors: p.errors,
        }
    }
}

/// What the server sends, tagged by `type`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Outgoing {
    /// A trend point, shaped like the REST read's points.
    Point(TrendPointDto),
    /// The replay is complete; with `following`, later points come after it.
    End {
        replayed: usize,
        following: bool,
    },
    /// A ward stream is open.
    Subscribed {
        ward: String,
    },
    VitalSigns(Box<VitalSignsResponse>),
    Alert(Box<AlertResponse>),
    Error(StreamError),
}

/// Why a stream ended early: the close code and reason to send (none when the client is gone).
struct Ended(Option<(u16, &'static str)>);

type Sink = SplitSink<WebSocket, Message>;

/// Sends one message, waiting while the client's buffer is full (backpressure) but not forever.
async fn feed(sink: &mut Sink, message: &Outgoing) -> Result<(), Ended> {
    let text = serde_json::to_string(message).map_err(|_| Ended(Some((1011, "internal error"))))?;
    match tokio::time::timeout(SEND_TIMEOUT, sink.feed(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Ended(None)),
        Err(_) => Err(Ended(Some((1008, "client too slow")))),
    }
}

async fn flush(sink: &mut Sink) -> Result<(), Ended> {
    match tokio::time::timeout(SEND_TIMEOUT, sink.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Ended(None)),
        Err(_) => Err(Ended(Some((1008, "client too slow")))),
    }
}

async fn send(sink: &mut Sink, message: &Outgoing) -> Result<(), Ended> {
    feed(sink, message).await?;
    flush(sink).await
}

/// Sends an error as a message, and closes with `4000 + status` (the HTTP status it would have
/// had), or 1011 for an internal error.
async fn fail(sink: &mut Sink, error: ApiError) -> Ended {
    let problem = error.problem();
    let code = match problem.status {
        500.. => 1011,
        s => 4000 + s,
    };
    error.log_cause();
    let _ = send(sink, &Outgoing::Error(problem.into())).await;
    close(sink, code, "").await;
    Ended(None)
}

async fn close(sink: &mut Sink, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
}

/// The upgrade, configured with this stream's bounds; a plain HTTP request gets 426.
fn upgrade(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<WebSocketUpgrade, ApiError> {
    let ws = ws.map_err(|rejection| {
        ApiError::from_status(StatusCode::UPGRADE_REQUIRED).with_detail(format!(
            "this is a WebSocket endpoint; connect with a WebSocket client ({})",
            rejection.body_text()
        ))
    })?;
    Ok(ws
        .protocols([WEBSOCKET_TOKEN_PROTOCOL])
        .max_message_size(MAX_CLIENT_MESSAGE)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER))
}

fn upgrade_required(error: ApiError) -> Response {
    let mut response = error.into_response();
    if response.status() == StatusCode::UPGRADE_REQUIRED {
        response.headers_mut().insert(
            header::UPGRADE,
            header::HeaderValue::from_static("websocket"),
        );
    }
    response
}

/// Streams a patient's Holter trend points over WebSocket (nurses, physicians, technicians).
///
/// Authenticate with `Authorization: Bearer`, or (from a browser) with the subprotocols
/// `["bearer", "<access token>"]` or the `access_token` query parameter.
///
/// After the upgrade the client sends one request, e.g.
/// `{"patient_id": "…", "start_time": "2025-03-01T07:00:00Z", "duration_seconds": 86400,
/// "trend_types": ["TREND_HR"], "smoothing": "median:5", "follow": true}`
/// (`trend_types`, `smoothing` and `follow` optional; the window is at most 7 days). The server
/// answers with the window's points in time order, each as
/// `{"type": "point", "trend_type", "units", "date_time_hl7", "min_value", "avg_value",
/// "max_value", "valid", "date_time_iso"}` (the REST read's point), then
/// `{"type": "end", "replayed": n, "following": bool}`. Without `follow` it then closes (1000).
/// With `follow` it keeps sending points of the window as they are uploaded, through any server
/// replica, until the client closes, sends `{"type": "stop"}` (answered by a final `end`), or the
/// access token expires. Smoothing of a followed point uses the window as stored at that moment.
///
/// A bad request is answered with `{"type": "error", "status", "title", "detail", "errors"?}`
/// and closed with code 4000 + the HTTP status (4422 invalid request, 4404 unknown patient,
/// 4408 no request within 30 s, 4401 token expired), 1003 for a binary message, 1011 for a
/// server error. A client that does not read for 30 s is closed with 1008.
#[utoipa::path(get, path = "/ws/ecg-trends", tag = "streams", security(("bearer" = [])),
    params(("access_token" = Option<String>, Query,
        description = "The access token, for browsers that cannot send headers on a WebSocket (upgrades only)")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read ECG data", body = Problem, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket upgrade request", body = Problem, content_type = "application/problem+json"),
    ))]
async fn trend_stream(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadEcgs>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match upgrade(ws) {
        Ok(ws) => ws,
        Err(error) => return upgrade_required(error),
    };
    ws.on_upgrade(move |socket| async move {
        let (mut sink, mut stream) = socket.split();
        if let Err(Ended(Some((code, reason)))) =
            run_trend_stream(&state, permit, &mut sink, &mut stream).await
        {
            close(&mut sink, code, reason).await;
        }
    })
}

async fn run_trend_stream(
    state: &AppState,
    permit: crate::services::Permit<ReadEcgs>,
    sink: &mut Sink,
    stream: &mut SplitStream<WebSocket>,
) -> Result<(), Ended> {
    let text = match tokio::time::timeout(REQUEST_WAIT, next_text(stream)).await {
        Err(_) => {
            let error = ApiError::from_status(StatusCode::REQUEST_TIMEOUT)
                .with_detail("send the stream request within 30 seconds of connecting");
            return Err(fail(sink, error).await);
        }
        Ok(Incoming::Text(text)) => text,
        Ok(Incoming::Binary) => return Err(Ended(Some((1003, "send the request as JSON text")))),
        Ok(Incoming::Gone) => return Err(Ended(None)),
    };
    let request = match parse_request(&text) {
        Ok(r) => r,
        Err(error) => return Err(fail(sink, error).await),
    };
    let following = request.follow;
    let (replay, mut follower) = match state.services.streams.open_trends(permit, request).await {
        Ok(opened) => opened,
        Err(error) => return Err(fail(sink, error.into()).await),
    };
    let replayed = replay.len();
    for (i, reading) in replay.into_iter().enumerate() {
        feed(sink, &Outgoing::Point(reading.into())).await?;
        if i % FLUSH_EVERY == FLUSH_EVERY - 1 {
            flush(sink).await?;
        }
    }
    let end = Outgoing::End {
        replayed,
        following,
    };
    send(sink, &end).await?;
    if !following {
        close(sink, 1000, "").await;
        return Ok(());
    }
    let followed = follow(state, &mut follower, sink, stream).await?;
    let end = Outgoing::End {
        replayed: followed,
        following: false,
    };
    send(sink, &end).await?;
    close(sink, 1000, "").await;
    Ok(())
}

/// Follows a ward over WebSocket (nurses, physicians): every set of vital signs charted and every
/// alert raised, acknowledged or resolved for a patient on the ward, as it commits through any
/// server replica.
///
/// Authenticate as for `/ws/ecg-trends`. The server first sends
/// `{"type": "subscribed", "ward": "ONC-1"}`, then `{"type": "vital_signs", …}` (shaped like
/// `GET /vital-signs/{id}`) and `{"type": "alert", …}` (shaped like the alert list's items) in
/// commit order, until the client closes or the access token expires (error, then close 4401).
/// Messages from the client are ignored, except `{"type": "stop"}`, which closes the stream.
#[utoipa::path(get, path = "/ws/wards/{ward}", tag = "streams", security(("bearer" = [])),
    params(("ward" = String, Path, description = "Ward, e.g. ONC-1", min_length = 1, max_length = 32,
            pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"),
        ("access_token" = Option<String>, Query,
        description = "The access token, for browsers that cannot send headers on a WebSocket (upgrades only)")),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read vital signs or alerts", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid ward", body = Problem, content_type = "application/problem+json"),
        (status = 426, description = "Not a WebSocket upgrade request", body = Problem, content_type = "application/problem+json"),
    ))]
async fn ward_stream(
    State(state): State<AppState>,
    Authorized(vital_signs): Authorized<ReadVitalSigns>,
    Authorized(alerts): Authorized<ReadAlerts>,
    Path(ward): Path<String>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ward = match Ward::parse(&ward) {
        Ok(ward) => ward,
        Err(m) => return ApiError::invalid_field("ward", m).into_response(),
    };
    let ws = match upgrade(ws) {
        Ok(ws) => ws,
        Err(error) => return upgrade_required(error),
    };
    ws.on_upgrade(move |socket| async move {
        let (mut sink, mut stream) = socket.split();
        let ward = ward.as_str().to_owned();
        let follower = state
            .services
            .streams
            .follow_ward(vital_signs, alerts, ward.clone())
            .await;
        let outcome = match follower {
            Ok(mut follower) => {
                run_ward_stream(&state, &mut follower, ward, &mut sink, &mut stream).await
            }
            Err(error) => Err(fail(&mut sink, error.into()).await),
        };
        if let Err(Ended(Some((code, reason)))) = outcome {
            close(&mut sink, code, reason).await;
        }
    })
}

async fn run_ward_stream(
    state: &AppState,
    follower: &mut WardFollower,
    ward: String,
    sink: &mut Sink,
    stream: &mut SplitStream<WebSocket>,
) -> Result<(), Ended> {
    send(sink, &Outgoing::Subscribed { ward }).await?;
    follow(state, follower, sink, stream).await?;
    close(sink, 1000, "").await;
    Ok(())
}

/// A stream past its replay: polled for new messages until its access token expires.
trait Follower {
    fn expires_at(&self) -> DateTime<Utc>;
    async fn messages(&mut self) -> Result<Vec<Outgoing>, ServiceError>;
}

impl Follower for TrendFollower {
    fn expires_at(&self) -> DateTime<Utc> {
        TrendFollower::expires_at(self)
    }

    async fn messages(&mut self) -> Result<Vec<Outgoing>, ServiceError> {
        let points = self.poll().await?;
        Ok(points
            .into_iter()
            .map(|r| Outgoing::Point(r.into()))
            .collect())
    }
}

impl Follower for WardFollower {
    fn expires_at(&self) -> DateTime<Utc> {
        WardFollower::expires_at(self)
    }

    async fn messages(&mut self) -> Result<Vec<Outgoing>, ServiceError> {
        let changes = self.poll().await?;
        Ok(changes
            .into_iter()
            .map(|change| match change {
                WardChange::VitalSigns(r) => {
                    Outgoing::VitalSigns(Box::new(VitalSignsResponse::new(*r, None)))
                }
                WardChange::Alert(a) => Outgoing::Alert(Box::new(a.into())),
            })
            .collect())
    }
}

/// Sends what the follower finds every poll interval until the client stops (`{"type":
/// "stop"}`) or leaves, or the access token expires; returns how many messages it sent.
async fn follow(
    state: &AppState,
    follower: &mut impl Follower,
    sink: &mut Sink,
    stream: &mut SplitStream<WebSocket>,
) -> Result<usize, Ended> {
    let mut tick = tokio::time::interval(state.stream_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let expiry = until(follower.expires_at());
    tokio::pin!(expiry);
    let mut sent = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let messages = match follower.messages().await {
                    Ok(messages) => messages,
                    Err(error) => return Err(fail(sink, error.into()).await),
                };
                sent += messages.len();
                for message in &messages {
                    feed(sink, message).await?;
                }
                flush(sink).await?;
            }
            incoming = next_text(stream) => match incoming {
                Incoming::Gone => return Err(Ended(None)),
                Incoming::Binary => return Err(Ended(Some((1003, "send JSON text")))),
                Incoming::Text(text) if is_stop(&text) => return Ok(sent),
                Incoming::Text(_) => {}
            },
            () = &mut expiry => {
                let error = ApiError::unauthenticated("the access token expired; reconnect with a new one");
                return Err(fail(sink, error).await);
            }
        }
    }
}

/// What the client sent next.
enum Incoming {
    Text(String),
    Binary,
    /// Closed, or the connection broke.
    Gone,
}

/// The client's next data message (pings are answered by the protocol layer).
async fn next_text(stream: &mut SplitStream<WebSocket>) -> Incoming {
    loop {
        match stream.next().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Incoming::Gone,
            Some(Ok(Message::Text(text))) => return Incoming::Text(text.as_str().to_owned()),
            Some(Ok(Message::Binary(_))) => return Incoming::Binary,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
        }
    }
}

fn is_stop(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Control {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Control>(text).is_ok_and(|c| c.kind == "stop")
}

/// Completes at `at` (at once when it has passed).
async fn until(at: DateTime<Utc>) {
    let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::sleep(wait).await;
}

fn parse_request(text: &str) -> Result<TrendStreamRequest, ApiError> {
    let message: TrendStreamMessage = serde_json::from_str(text).map_err(|e| {
        ApiError::invalid_field("request", format!("not a valid stream request: {e}"))
    })?;
    TrendStreamRequest::parse(TrendStreamFields {
        patient_id: message.patient_id,
        start_time: message.start_time,
        duration_seconds: message.duration_seconds,
        trend_types: message.trend_types.as_deref(),
        smoothing: message.smoothing.as_deref(),
        follow: message.follow,
    })
    .map_err(ApiError::validation)
}

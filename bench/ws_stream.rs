//! Load client for the trend stream (`bench/ecg.sh` runs it against the release server): replays
//! a patient's whole window over one WebSocket, `ROUNDS` times, and prints points per second.
//!
//! Usage: ws_stream ADDR TOKEN PATIENT_ID START_TIME DURATION_SECONDS [ROUNDS]

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: ws_stream ADDR TOKEN PATIENT_ID START_TIME DURATION_SECONDS [ROUNDS]");
        std::process::exit(2);
    }
    let (addr, token, patient, start, duration) =
        (&args[1], &args[2], &args[3], &args[4], &args[5]);
    let rounds: usize = args.get(6).map_or(20, |r| r.parse().expect("ROUNDS"));
    let request = serde_json::json!({
        "patient_id": patient, "start_time": start,
        "duration_seconds": duration.parse::<i64>().expect("DURATION_SECONDS"),
    })
    .to_string();
    let mut totals = Vec::with_capacity(rounds);
    let mut first = Vec::with_capacity(rounds);
    let mut points = 0;
    for _ in 0..rounds {
        let mut req = format!("ws://{addr}/api/v1/ws/ecg-trends")
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = connect_async(req).await.expect("connect");
        let began = Instant::now();
        ws.send(Message::text(request.clone())).await.unwrap();
        let mut n = 0;
        let mut first_at = None;
        while let Some(message) = ws.next().await {
            let Message::Text(text) = message.expect("frame") else {
                continue;
            };
            if text.starts_with(r#"{"type":"point""#) {
                n += 1;
                first_at.get_or_insert_with(|| began.elapsed());
            } else if text.starts_with(r#"{"type":"end""#) {
                break;
            } else {
                panic!("unexpected message: {text}");
            }
        }
        totals.push(began.elapsed());
        first.push(first_at.unwrap_or_default());
        points = n;
        let _ = ws.close(None).await;
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (total, first) = (median(&mut totals), median(&mut first));
    println!(
        "BENCH_STREAM points={points} rounds={rounds} median_ms={:.1} first_point_ms={:.1} points_per_s={:.0}",
        total.as_secs_f64() * 1e3,
        first.as_secs_f64() * 1e3,
        points as f64 / total.as_secs_f64()
    );
}

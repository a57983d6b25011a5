//! Health probes: liveness, readiness (the database answers) and a trivial ping.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Json;
use crate::app::AppState;
use crate::error::{ApiError, Problem};

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    pub status: &'static str,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(ping))
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "The process is running", body = Health)))]
async fn live() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The service can serve requests: its database answers.
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database is unreachable", body = Problem, content_type = "application/problem+json"),
    ))]
async fn ready(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    match state.db.ping().await {
        Ok(()) => Ok(Json(Health { status: "ok" })),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "Not ready",
                "the database is unreachable",
            ))
        }
    }
}

/// Answers `pong`; for load balancers and latency checks.
#[utoipa::path(get, path = "/health/ping", tag = "health",
    responses((status = 200, description = "Pong", body = Health, example = json!({"status": "pong"}))))]
async fn ping() -> Json<Health> {
    Json(Health { status: "pong" })
}

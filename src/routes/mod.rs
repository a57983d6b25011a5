//! Route layer: HTTP handlers, request/response DTOs and their OpenAPI annotations. Handlers turn
//! DTOs into domain values, call one service method, and turn the result back into a DTO.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod docs;
pub mod ecg_trends;
pub mod ecgs;
pub mod exam_types;
pub mod exams;
pub mod extract;
pub mod health;
pub mod lab_results;
pub mod links;
pub mod notifications;
pub mod patients;
pub mod results_inbox;
pub mod streams;
pub mod users;
pub mod vital_signs;
pub mod wards;

use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

pub const API_PREFIX: &str = "/api/v1";

/// Routes anyone may call: health, sign-in and refresh.
pub fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .nest(API_PREFIX, auth::public_router())
}

/// Routes that need a valid access token; the caller wraps them in the token check.
pub fn protected_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().nest(
        API_PREFIX,
        OpenApiRouter::new()
            .merge(auth::protected_router())
            .merge(users::router())
            .merge(patients::router())
            .merge(vital_signs::router())
            .merge(ecgs::router())
            .merge(lab_results::router())
            .merge(alerts::router())
            .merge(wards::router())
            .merge(ecg_trends::router())
            .merge(streams::router())
            .merge(exam_types::router())
            .merge(exams::router())
            .merge(notifications::router())
            .merge(results_inbox::router())
            .merge(audit::router()),
    )
}

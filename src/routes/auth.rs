//! Sign-in, token refresh, sign-out and the caller's own profile.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use validator::Validate;

use super::extract::{Authorized, Json, ValidJson};
use super::users::UserResponse;
use crate::app::AppState;
use crate::error::{ApiError, Problem};
use crate::services::RequestContext;
use crate::services::access::ReadOwnProfile;
use crate::services::auth::TokenPair;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"username": "n.nightingale", "password": "correct horse battery staple"}))]
pub struct LoginRequest {
    #[validate(
        length(min = 1, max = 64),
        custom(function = "crate::routes::extract::plain_text")
    )]
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub username: String,
    #[validate(length(min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "3q2-7wV8c0mXb1y9Qx4n6t5r2s7u8v9w0x1y2z3a4b5"}))]
pub struct RefreshRequest {
    // Generous, so that any token a client mixes up is refused as a token (401), not as shape.
    #[validate(length(min = 1, max = 4096))]
    #[schema(min_length = 1, max_length = 4096)]
    pub refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9...",
    "token_type": "Bearer",
    "expires_in": 900,
    "refresh_token": "3q2-7wV8c0mXb1y9Qx4n6t5r2s7u8v9w0x1y2z3a4b5"
}))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single use: each refresh returns a new one, and reusing an old one revokes the session.
    pub refresh_token: String,
}

impl From<TokenPair> for TokenResponse {
    fn from(p: TokenPair) -> Self {
        Self {
            access_token: p.access_token,
            token_type: "Bearer",
            expires_in: p.expires_in,
            refresh_token: p.refresh_token,
        }
    }
}

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
}

pub fn protected_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(me))
}

/// Signs in with username and password.
///
/// Unknown usernames and wrong passwords get the same answer. Repeated failures are throttled
/// per account and per client address (429 with `Retry-After`).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
async fn login(
    State(state): State<AppState>,
    context: RequestContext,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let pair = state
        .services
        .auth
        .login(&body.username, &body.password, &context)
        .await?;
    Ok(Json(pair.into()))
}

/// Trades a refresh token for a new access token and a new refresh token.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Invalid, expired, revoked or reused refresh token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
    ))]
async fn refresh(
    State(state): State<AppState>,
    context: RequestContext,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let pair = state
        .services
        .auth
        .refresh(&body.refresh_token, &context)
        .await?;
    Ok(Json(pair.into()))
}

/// Signs out: revokes the session the refresh token belongs to.
///
/// The access token stays valid until it expires (minutes); discard it.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", request_body = RefreshRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
    ))]
async fn logout(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadOwnProfile>,
    ValidJson(body): ValidJson<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .services
        .auth
        .logout(&permit, &body.refresh_token)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user's own account.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Your account", body = UserResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
    ))]
async fn me(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadOwnProfile>,
) -> Result<Json<UserResponse>, ApiError> {
    Ok(Json(state.services.auth.me(&permit).await?.into()))
}

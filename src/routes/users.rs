//! Staff accounts, for administrators: open, list, read and change.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use validator::Validate;

use super::extract::{Authorized, Json, Path, ValidJson, ValidQuery, page_request};
use super::links::{Links, api, filter_query, links, page_links};
use super::patients::{ListResponse, precondition};
use crate::app::AppState;
use crate::domain::FieldErrors;
use crate::domain::page::KeyShape;
use crate::domain::user::{FullName, NewUser, Password, Role, User, UserChanges};
use crate::error::{ApiError, Problem};
use crate::persistence::users::UserFilter;
use crate::services::Precondition;
use crate::services::access::ManageUsers;

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleDto {
    Admin,
    Physician,
    Nurse,
    Technician,
}

impl From<RoleDto> for Role {
    fn from(r: RoleDto) -> Self {
        match r {
            RoleDto::Admin => Role::Admin,
            RoleDto::Physician => Role::Physician,
            RoleDto::Nurse => Role::Nurse,
            RoleDto::Technician => Role::Technician,
        }
    }
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Admin => RoleDto::Admin,
            Role::Physician => RoleDto::Physician,
            Role::Nurse => RoleDto::Nurse,
            Role::Technician => RoleDto::Technician,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c", "username": "n.nightingale",
    "full_name": "Florence Nightingale", "role": "nurse", "active": true, "version": 1,
    "created_at": "2026-11-24T08:00:00Z", "updated_at": "2026-11-24T08:00:00Z",
    "_links": {"self": {"href": "/api/v1/users/0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c"}}
}))]
pub struct UserResponse {
    pub id: Uuid,
    pub username: String,
    pub full_name: String,
    pub role: RoleDto,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        Self {
            links: links([
                ("self", api(&format!("/users/{}", u.id))),
                ("collection", api("/users")),
            ]),
            id: u.id,
            username: u.username.as_str().to_owned(),
            full_name: u.full_name.as_str().to_owned(),
            role: u.role.into(),
            active: u.active,
            version: u.version,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "username": "n.nightingale", "full_name": "Florence Nightingale",
    "role": "nurse", "password": "correct horse battery staple"
}))]
pub struct CreateUserRequest {
    /// 3-64 lowercase letters, digits, `.`, `_`, `-`.
    #[validate(length(max = 64))]
    #[schema(min_length = 3, max_length = 64, pattern = "^[a-z0-9._-]{3,64}$")]
    pub username: String,
    #[validate(length(max = 128))]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub full_name: String,
    pub role: RoleDto,
    /// 12-128 characters.
    #[validate(length(max = 128))]
    #[schema(min_length = 12, max_length = 128, pattern = "^[\\s\\S]*\\S[\\s\\S]*$")]
    pub password: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, example = json!({"role": "physician", "active": true}))]
pub struct UpdateUserRequest {
    #[validate(length(max = 128))]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub full_name: Option<String>,
    pub role: Option<RoleDto>,
    /// A new password (12-128 characters); ends the user's sessions.
    #[validate(length(max = 128))]
    #[schema(min_length = 12, max_length = 128, pattern = "^[\\s\\S]*\\S[\\s\\S]*$")]
    pub password: Option<String>,
    /// `false` deactivates the account: no more sign-ins or refreshes.
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    pub role: Option<RoleDto>,
    pub active: Option<bool>,
    /// Page size, 1-200 (default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Rows to skip (after `cursor` when both are given); the page then also reports `total`.
    #[validate(range(max = 1000000))]
    #[param(minimum = 0, maximum = 1000000)]
    pub offset: Option<u64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = "^[0-9a-f]{32}$")]
    pub cursor: Option<String>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, update_user))
}

/// Opens a staff account (administrators).
#[utoipa::path(post, path = "/users", tag = "users", security(("bearer" = [])), request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = UserResponse, headers(("Location" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Username taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_user(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ManageUsers>,
    ValidJson(body): ValidJson<CreateUserRequest>,
) -> Result<Response, ApiError> {
    let new = NewUser::parse(
        &body.username,
        &body.full_name,
        Role::from(body.role).as_str(),
        &body.password,
    )
    .map_err(ApiError::validation)?;
    let user = state.services.users.create(&permit, new).await?;
    let location = api(&format!("/users/{}", user.id));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(UserResponse::from(user)),
    )
        .into_response())
}

/// Lists staff accounts (administrators).
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])), params(UserListQuery),
    responses(
        (status = 200, description = "A page of accounts", body = ListResponse<UserResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_users(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ManageUsers>,
    ValidQuery(q): ValidQuery<UserListQuery>,
) -> Result<Json<ListResponse<UserResponse>>, ApiError> {
    let page = page_request(KeyShape::Uuid, q.limit, q.offset, q.cursor.as_deref())?;
    let filter = UserFilter {
        role: q.role.map(Into::into),
        active: q.active,
    };
    let page = state.services.users.list(&permit, &filter, page).await?;
    let query = filter_query(&[
        ("role", filter.role.map(|r| r.as_str().to_owned())),
        ("active", filter.active.map(|a| a.to_string())),
    ]);
    let links = page_links("/users", &query, &page);
    Ok(Json(ListResponse::new(page.map(UserResponse::from), links)))
}

/// Reads one staff account (administrators).
#[utoipa::path(get, path = "/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = UserResponse, headers(("ETag" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_user(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ManageUsers>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = state.services.users.get(&permit, id).await?;
    let etag = format!("\"{}\"", user.version);
    Ok(([(header::ETAG, etag)], Json(UserResponse::from(user))).into_response())
}

/// Changes a staff account: full name, role, password reset, (de)activation (administrators).
///
/// `If-Match` is optional here; when sent, a stale version is refused with 412. Administrators
/// cannot change their own role or deactivate themselves, and the last active administrator
/// cannot be removed.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Account id"),
           ("If-Match" = Option<String>, Header, description = "ETag of the version read")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "Changed", body = UserResponse, headers(("ETag" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Would remove the last administrator", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_user(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ManageUsers>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<UpdateUserRequest>,
) -> Result<Response, ApiError> {
    let precondition = if headers.contains_key(header::IF_MATCH) {
        precondition(&headers)?
    } else {
        Precondition::Any
    };
    let mut errors = FieldErrors::default();
    let changes = UserChanges {
        full_name: body
            .full_name
            .as_deref()
            .and_then(|v| errors.check("full_name", FullName::parse(v))),
        role: body.role.map(Into::into),
        password: body
            .password
            .as_deref()
            .and_then(|v| errors.check("password", Password::parse(v))),
        active: body.active,
    };
    if errors.is_empty() && changes.is_empty() {
        errors.push("body", "must change at least one field");
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let user = state
        .services
        .users
        .update(&permit, id, changes, precondition)
        .await?;
    let etag = format!("\"{}\"", user.version);
    Ok(([(header::ETAG, etag)], Json(UserResponse::from(user))).into_response())
}

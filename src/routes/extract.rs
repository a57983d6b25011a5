//! Extractors that speak problem+json: JSON bodies, queries, paths, and the signed-in caller
//! with a permit for one operation.

use std::net::{IpAddr, SocketAddr};

use axum::extract::State;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use validator::Validate;

use crate::app::AppState;
use crate::domain::FieldErrors;
use crate::error::ApiError;
use crate::services::access::Permission;
use crate::services::{Actor, Permit, RequestContext};

/// The request's media type (without parameters), lower-cased, if it names one.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// `axum::Json` whose rejections are problem+json, and which takes only a JSON object: serde
/// would otherwise fill a struct from an array of its fields in order (`[2, null]`), a shape no
/// client means and the API does not document.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = media_type(req.headers()).is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        });
        if !json {
            return Err(ApiError::from_status(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::from_status(e.status()))?;
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{') {
            // Valid JSON of the wrong shape is a data error (422); broken JSON stays a 400.
            if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
                return Err(ApiError::invalid_field("body", "must be a JSON object"));
            }
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Self(value))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A JSON body that also passes its `validator` rules (request shape: lengths, ranges).
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        value.validate().map_err(validation_errors)?;
        Ok(Self(value))
    }
}

/// A validator rule for free text from a client: no control characters (NUL included, which
/// PostgreSQL refuses in text and would otherwise turn into a 500).
pub fn plain_text(value: &str) -> Result<(), validator::ValidationError> {
    if value.chars().any(char::is_control) {
        let mut e = validator::ValidationError::new("plain_text");
        e.message = Some("must not contain control characters".into());
        return Err(e);
    }
    Ok(())
}

/// `axum::extract::Query` whose rejections are problem+json.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// A query that also passes its `validator` rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(value) = Query::<T>::from_request_parts(parts, state).await?;
        value.validate().map_err(validation_errors)?;
        Ok(Self(value))
    }
}

/// An optional query value parsed into its domain type, or a 422 naming `field`.
pub fn parse_optional<T>(field: &str, value: Option<&str>) -> Result<Option<T>, ApiError>
where
    T: std::str::FromStr<Err = String>,
{
    value
        .map(str::parse::<T>)
        .transpose()
        .map_err(|m| ApiError::invalid_field(field, m))
}

/// `axum::extract::Path` whose rejections are problem+json.
#[derive(Debug, Clone, Copy, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// validator's errors as field problems (keys are field names; nested ones are prefixed).
pub fn validation_errors(errors: validator::ValidationErrors) -> ApiError {
    fn collect(prefix: &str, errors: &validator::ValidationErrors, out: &mut FieldErrors) {
        for (field, kind) in errors.errors() {
            let name = if prefix.is_empty() {
                field.to_string()
            } else {
                format!("{prefix}.{field}")
            };
            match kind {
                validator::ValidationErrorsKind::Field(list) => {
                    for e in list {
                        let message = e
                            .message
                            .as_ref()
                            .map_or_else(|| describe(e), ToString::to_string);
                        out.push(name.clone(), message);
                    }
                }
                validator::ValidationErrorsKind::Struct(inner) => collect(&name, inner, out),
                validator::ValidationErrorsKind::List(items) => {
                    for (i, inner) in items {
                        collect(&format!("{name}[{i}]"), inner, out);
                    }
                }
            }
        }
    }
    fn describe(e: &validator::ValidationError) -> String {
        let param = |k: &str| e.params.get(k).map(ToString::to_string);
        match e.code.as_ref() {
            "length" => match (param("min"), param("max")) {
                (Some(min), Some(max)) => format!("must be {min} to {max} characters"),
                (None, Some(max)) => format!("must be at most {max} characters"),
                (Some(min), None) => format!("must be at least {min} characters"),
                _ => "has an invalid length".to_owned(),
            },
            "range" => match (param("min"), param("max")) {
                (Some(min), Some(max)) => format!("must be between {min} and {max}"),
                _ => "is out of range".to_owned(),
            },
            code => format!("is not valid ({code})"),
        }
    }
    let mut out = FieldErrors::default();
    collect("", &errors, &mut out);
    out.0.sort_by(|a, b| a.field.cmp(&b.field));
    ApiError::validation(out)
}

/// Where the request came from: its id (set by the request-id layer) and the client's address.
/// The address is the TCP peer's, unless the peer is one of `trusted_proxies`: then it is the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy. Without this, every
/// request behind a reverse proxy would share the proxy's address, and so its login throttle.
pub fn request_context(parts: &Parts, trusted_proxies: &[IpAddr]) -> RequestContext {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let client = match peer {
        Some(peer) if trusted_proxies.contains(&peer) => parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .filter_map(|hop| hop.parse::<IpAddr>().ok())
            .find(|hop| !trusted_proxies.contains(hop))
            .or(Some(peer)),
        other => other,
    };
    RequestContext {
        request_id: parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(64).collect()),
        client_addr: client.map(|ip| ip.to_string()),
    }
}

impl<S> FromRequestParts<S> for RequestContext
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(request_context(
            parts,
            &AppState::from_ref(state).trusted_proxies,
        ))
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The subprotocol a browser names before its access token in `Sec-WebSocket-Protocol`
/// (`new WebSocket(url, ["bearer", token])`); the server answers with it, never with the token.
pub const WEBSOCKET_TOKEN_PROTOCOL: &str = "bearer";

/// The access token of a WebSocket upgrade, which browsers cannot send in a header of their own:
/// the entry after `bearer` in `Sec-WebSocket-Protocol`, or the `access_token` query parameter.
/// Only upgrades may carry a token this way: in any other request's URL it would end up in
/// browser histories and proxy logs.
fn websocket_token(parts: &Parts) -> Option<&str> {
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return None;
    }
    let from_protocols = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .skip_while(|p| !p.eq_ignore_ascii_case(WEBSOCKET_TOKEN_PROTOCOL))
        .nth(1);
    from_protocols.or_else(|| {
        parts.uri.query()?.split('&').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            // JWTs are base64url with dots: nothing in them needs percent-decoding.
            (name == "access_token").then_some(value)
        })
    })
}

/// Middleware for every protected route: no valid access token, no entry (deny by default).
/// The verified caller is left in the request for `Authorized` to pick up; verifying the JWT
/// needs no database round trip.
pub async fn require_access_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let context = request_context(&parts, &state.trusted_proxies);
    let token = bearer_token(&parts.headers).or_else(|| websocket_token(&parts));
    let actor = match token {
        None => Err(ApiError::unauthenticated(
            "send an access token: Authorization: Bearer <token>",
        )),
        Some(token) => state
            .services
            .tokens
            .verify_access(token, context)
            .map_err(ApiError::from),
    };
    match actor {
        Ok(actor) => {
            parts.extensions.insert(actor);
            request = Request::from_parts(parts, body);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}

/// The signed-in caller, with a permit for operation `P` from the permission table. A handler
/// that takes it cannot run unless the table allows the caller's role.
pub struct Authorized<P>(pub Permit<P>);

impl<S, P> FromRequestParts<S> for Authorized<P>
where
    S: Send + Sync,
    AppState: FromRef<S>,
    P: Permission,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let actor = parts.extensions.get::<Actor>().cloned().ok_or_else(|| {
            ApiError::unauthenticated("send an access token: Authorization: Bearer <token>")
        })?;
        let state = AppState::from_ref(state);
        let permit = state.services.access.authorize::<P>(actor).await?;
        Ok(Self(permit))
    }
}

/// The page a list request asks for (`limit`, `offset` or `cursor`), or 422 naming the field.
pub fn page_request(
    shape: crate::domain::page::KeyShape,
    limit: Option<u64>,
    offset: Option<u64>,
    cursor: Option<&str>,
) -> Result<crate::domain::page::PageRequest, ApiError> {
    crate::domain::page::PageRequest::parse(shape, limit, offset, cursor)
        .map_err(|(field, message)| ApiError::invalid_field(field, message))
}

//! The application: its state (database and services) and its router, with every resource's
//! routes merged and the cross-cutting layers applied once. The binary and the tests both build
//! the application here.

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::{NotifySender, Settings};
use crate::error::{ApiError, PROBLEM_JSON};
use crate::persistence::Database;
use crate::persistence::result_store::ResultStore;
use crate::routes::docs::{ApiDoc, finish_document};
use crate::routes::extract::require_access_token;
use crate::routes::{protected_routes, public_routes};
use crate::services::access::AccessControl;
use crate::services::audit::AuditLog;
use crate::services::auth::AuthService;
use crate::services::exam_tokens::ExamTokens;
use crate::services::exams::ExamService;
use crate::services::notifications::{NotificationSender, NotificationService};
use crate::services::passwords::PasswordHasher;
use crate::services::patients::PatientService;
use crate::services::results_inbox::ResultsInbox;
use crate::services::tokens::TokenIssuer;
use crate::services::users::UserService;
use crate::services::{ServiceError, Services};

/// What every handler can reach. Cloned for every request by axum, so it is one `Arc`: the
/// database handles and services inside are far too costly to copy per request.
#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    pub db: Database,
    pub services: Services,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The largest CSV import accepted.
    pub import_max_bytes: usize,
    /// How often following streams look for changes.
    pub stream_poll: std::time::Duration,
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("bootstrap administrator: {0}")]
    Bootstrap(#[from] ServiceError),
    #[error("result store: {0}")]
    ResultStore(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Serve(std::io::Error),
}

impl AppState {
    /// Connects, applies pending migrations, starts the audit writer and the background workers
    /// (notification delivery, results inbox) and creates the bootstrap administrator if
    /// configured and needed.
    pub async fn build(settings: &Settings) -> Result<Self, StartupError> {
        let db = Database::connect(&settings.database_url, settings.pool).await?;
        db.migrate().await?;
        db.spawn_checkpointer(std::time::Duration::from_millis(500));
        let state = Self::with_database(db, settings)?;
        state
            .services
            .notifications
            .spawn_worker(settings.notify.poll);
        state
            .services
            .results_inbox
            .spawn_worker(settings.results.poll);
        state
            .services
            .streams
            .spawn_pruner(std::time::Duration::from_secs(600));
        if let Some(admin) = settings.bootstrap_admin.clone() {
            let username = admin.username.clone();
            if state.services.users.bootstrap_admin(admin).await?.is_some() {
                tracing::info!(%username, "created the bootstrap administrator");
            }
        }
        Ok(state)
    }

    /// The services over an already migrated database.
    pub fn with_database(db: Database, settings: &Settings) -> Result<Self, StartupError> {
        let passwords = PasswordHasher::new(settings.hash_cost);
        let tokens = TokenIssuer::new(
            &settings.jwt_secret.0,
            settings.access_token_ttl,
            settings.refresh_token_ttl,
        );
        let audit = AuditLog::start(db.clone());
        let access = AccessControl::new(db.clone(), audit.clone());
        let results = ResultStore::open(&settings.results.location)
            .map_err(|e| StartupError::ResultStore(e.to_string()))?;
        let exams = ExamService::new(
            db.clone(),
            audit.clone(),
            ExamTokens::new(
                &settings.exams.exam_token_secret.0,
                settings.exams.exam_token_ttl,
                &settings.exams.result_token_secret.0,
                &settings.exams.result_token_issuer,
            ),
            results.clone(),
        );
        let services = Services {
            auth: AuthService::new(db.clone(), passwords.clone(), tokens.clone()),
            users: UserService::new(db.clone(), passwords),
            patients: PatientService::new(db.clone(), audit.clone(), access.clone()),
            vital_signs: crate::services::vital_signs::VitalSignsService::new(
                db.clone(),
                audit.clone(),
                settings.clinical,
            ),
            lab_results: crate::services::lab_results::LabResultService::new(
                db.clone(),
                audit.clone(),
            ),
            alerts: crate::services::alerts::AlertService::new(db.clone(), audit.clone()),
            wards: crate::services::wards::WardService::new(db.clone(), audit.clone()),
            ecg_trends: crate::services::ecg_trends::EcgTrendService::new(
                db.clone(),
                audit.clone(),
                settings.ward_timezone,
            ),
            ecgs: crate::services::ecgs::EcgService::new(db.clone(), audit.clone()),
            streams: crate::services::streams::StreamService::new(db.clone(), audit.clone()),
            exam_types: crate::services::exam_types::ExamTypeService::new(db.clone()),
            results_inbox: ResultsInbox::new(
                db.clone(),
                audit.clone(),
                results,
                exams.clone(),
                settings.results.lease,
            ),
            exams,
            notifications: NotificationService::new(
                db.clone(),
                audit.clone(),
                match &settings.notify.sender {
                    NotifySender::Log => NotificationSender::Log,
                    NotifySender::Webhook(url) => NotificationSender::webhook(url.clone())?,
                },
                settings.notify.retry,
            ),
            access,
            audit,
            tokens,
        };
        Ok(Self(Arc::new(App {
            db,
            services,
            trusted_proxies: settings.trusted_proxies.clone(),
            import_max_bytes: settings.import_max_bytes,
            stream_poll: settings.stream_poll,
        })))
    }
}

fn documented(
    protect: impl FnOnce(OpenApiRouter<AppState>) -> OpenApiRouter<AppState>,
) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(public_routes())
        .merge(protect(protected_routes()))
}

/// The OpenAPI document, built from the same route definitions the server serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    finish_document(documented(|r| r).into_openapi())
}

/// The complete HTTP application.
pub fn router(state: AppState, settings: &Settings) -> Router {
    let guard = state.clone();
    let (api, doc) = documented(move |r| {
        r.route_layer(middleware::from_fn_with_state(guard, require_access_token))
    })
    .split_for_parts();
    let doc = finish_document(doc);
    let request_id = HeaderName::from_static("x-request-id");
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .fallback(|| async { ApiError::from_status(StatusCode::NOT_FOUND) })
        .method_not_allowed_fallback(|| async { ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED) })
        .with_state(state)
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, settings.request_timeout))
        .layer(CatchPanicLayer::custom(|_| ApiError::internal("handler panicked").into_response()))
        .layer(middleware::from_fn(http_conventions))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // The path only: query strings can hold patient names.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
// Swagger UI runs scripts and styles of its own, served from this origin.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        script-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/// Every response: security headers, and any error that is not yet problem+json (from routing,
/// limits, timeouts or panics) rewritten as one.
async fn http_conventions(request: Request, next: Next) -> Response {
    let docs = request.uri().path().starts_with("/docs");
    let mut response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if (status.is_client_error() || status.is_server_error()) && !is_problem {
        let mut problem = ApiError::from_status(status).into_response();
        for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
            if let Some(value) = response.headers().get(&name) {
                problem.headers_mut().insert(name, value.clone());
            }
        }
        response = problem;
    }
    let headers = response.headers_mut();
    let csp = if docs { DOCS_CSP } else { API_CSP };
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, csp),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Runs the server until SIGTERM or Ctrl-C, then lets in-flight requests finish.
pub async fn serve(settings: Settings) -> Result<(), StartupError> {
    if settings.jwt_secret_generated {
        tracing::warn!(
            "JWT_SECRET is not set: using a random secret for this run only. Every token becomes \
             invalid at restart and replicas will not accept each other's tokens. Set JWT_SECRET \
             (at least 32 bytes) in production."
        );
    }
    for (generated, name) in [
        (
            settings.exams.exam_token_secret_generated,
            "EXAM_TOKEN_SECRET",
        ),
        (
            settings.exams.result_token_secret_generated,
            "RESULT_TOKEN_SECRET",
        ),
    ] {
        if generated {
            tracing::warn!(
                "{name} is not set: using a random key for this run only. Exam tokens printed \
                 before a restart (or by another replica) will not verify, and no result token \
                 of the exam execution system will. Set {name} (at least 32 bytes) in production."
            );
        }
    }
    let state = AppState::build(&settings).await?;
    let db = state.db.clone();
    let app = router(state, &settings);
    let listener = tokio::net::TcpListener::bind(settings.bind_addr)
        .await
        .map_err(|source| StartupError::Bind {
            addr: settings.bind_addr,
            source,
        })?;
    tracing::info!(addr = %settings.bind_addr, "serving; API docs at /docs");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(StartupError::Serve)?;
    tracing::info!("shut down; closing the database");
    let _ = db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

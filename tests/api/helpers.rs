//! The test harness: boots the real application on a fresh database (a SQLite file, or a new
//! PostgreSQL database when `TEST_DATABASE_URL` names a server), with one account per role, and
//! drives the real router without a socket.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use oncology_registry::app::{self, AppState};
use oncology_registry::config::{
    ExamSettings, LogFormat, NotifySender, NotifySettings, RESULTS_LEASE, ResultsSettings, Secret,
    Settings,
};
use oncology_registry::domain::user::{NewUser, Role};
use oncology_registry::persistence::result_store::ResultsLocation;
use oncology_registry::persistence::{Database, PoolSettings};
use oncology_registry::services::passwords::HashCost;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tower::ServiceExt;
use uuid::Uuid;

pub const JWT_SECRET: &[u8] = b"test-secret-test-secret-test-secret-0123";
pub const EXAM_TOKEN_SECRET: &[u8] = b"exam-token-secret-for-tests-0123456789";
pub const RESULT_TOKEN_SECRET: &[u8] = b"result-token-secret-for-tests-012345678";
pub const RESULT_TOKEN_ISSUER: &str = "test-lab-system";

/// Cheap argon2 for tests only; the server refuses anything below OWASP's minimum.
const TEST_HASH_COST: HashCost = HashCost {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

pub fn password_of(role: Role) -> String {
    format!("{}-password-for-tests", role.as_str())
}

pub fn username_of(role: Role) -> String {
    format!("test-{}", role.as_str())
}

/// Where the test database lives, and how to get rid of it.
enum Store {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    /// The result store's directory (the results inbox and report files), this app's own.
    pub results: tempfile::TempDir,
    store: Store,
}

/// A response with its body parsed as JSON (or `Null` when empty or not JSON).
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status, and returns its body.
    #[track_caller]
    pub fn problem(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["status"], status.as_u16());
        assert!(self.body["type"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(self.body["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(self.body["detail"].as_str().is_some());
        &self.body
    }

    /// The `field` names of a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub fn test_settings(database_url: &str) -> Settings {
    Settings {
        database_url: database_url.to_owned(),
        pool: PoolSettings {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(10),
        },
        bind_addr: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Secret(JWT_SECRET.to_vec()),
        jwt_secret_generated: false,
        access_token_ttl: chrono::Duration::minutes(15),
        refresh_token_ttl: chrono::Duration::days(1),
        bootstrap_admin: None,
        log_level: "warn".to_owned(),
        log_format: LogFormat::Human,
        request_timeout: Duration::from_secs(30),
        max_body_bytes: 64 * 1024,
        hash_cost: TEST_HASH_COST,
        trusted_proxies: Vec::new(),
        import_max_bytes: 8 * 1024 * 1024,
        clinical: Default::default(),
        ward_timezone: chrono_tz::UTC,
        stream_poll: Duration::from_millis(50),
        exams: ExamSettings {
            exam_token_secret: Secret(EXAM_TOKEN_SECRET.to_vec()),
            exam_token_secret_generated: false,
            exam_token_ttl: chrono::Duration::days(30),
            result_token_secret: Secret(RESULT_TOKEN_SECRET.to_vec()),
            result_token_secret_generated: false,
            result_token_issuer: RESULT_TOKEN_ISSUER.to_owned(),
        },
        notify: NotifySettings {
            sender: NotifySender::Log,
            poll: Duration::from_millis(100),
            retry: Default::default(),
        },
        // `TestApp` gives each application a directory of its own; this one is for the tests
        // that only start an application, and never drop a file in it.
        results: ResultsSettings {
            location: ResultsLocation::Directory(
                std::env::temp_dir().join("oncology-registry-test-results"),
            ),
            poll: Duration::from_millis(100),
            lease: RESULTS_LEASE,
        },
    }
}

async fn serve_router(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// A fresh, empty database URL on the configured engine.
pub async fn fresh_database() -> (String, impl FnOnce() + Send) {
    let store = new_store().await;
    let url = store_url(&store);
    (url, move || drop_store(store))
}

async fn new_store() -> Store {
    match std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(admin_url) => {
            let name = format!("onc_test_{}", Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE {name}"),
                ))
                .await
                .expect("create test database");
            admin.close().await.ok();
            Store::Postgres { admin_url, name }
        }
        None => Store::Sqlite(tempfile::tempdir().expect("temporary directory")),
    }
}

fn store_url(store: &Store) -> String {
    match store {
        Store::Sqlite(dir) => format!("sqlite://{}/registry.db?mode=rwc", dir.path().display()),
        Store::Postgres { admin_url, name } => {
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b);
            format!("{base}/{name}")
        }
    }
}

fn drop_store(store: Store) {
    if let Store::Postgres { admin_url, name } = store {
        // Drop runs outside any runtime the test may still be shutting down: use our own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_raw(Statement::from_string(
                            admin.get_database_backend(),
                            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        ))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join()
        .ok();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let store = std::mem::replace(&mut self.store, Store::Sqlite(tempfile::tempdir().unwrap()));
        drop_store(store);
    }
}

impl TestApp {
    /// The application on a fresh database, with one active account per role.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like `spawn`, with the settings adjusted first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let store = new_store().await;
        let database_url = store_url(&store);
        let mut settings = test_settings(&database_url);
        let results = tempfile::tempdir().expect("temporary directory");
        settings.results.location = ResultsLocation::Directory(results.path().to_owned());
        adjust(&mut settings);
        let state = AppState::build(&settings)
            .await
            .expect("application starts");
        for role in Role::ALL {
            let new = NewUser::parse(
                &username_of(role),
                &format!("Test {role}"),
                role.as_str(),
                &password_of(role),
            )
            .unwrap();
            state
                .services
                .users
                .create_as_operator(new)
                .await
                .expect("seed user");
        }
        let router = app::router(state.clone(), &settings);
        Self {
            router,
            state,
            results,
            store,
        }
    }

    pub fn db(&self) -> &Database {
        &self.state.db
    }

    /// Serves the application on a local port (for WebSocket clients, which need a real
    /// connection); the server lives as long as the test's runtime.
    pub async fn serve(&self) -> SocketAddr {
        serve_router(self.router.clone()).await
    }

    /// A second server replica over the same database, with its own state and pools, served on
    /// a port of its own: what another pod sharing the production database would be.
    pub async fn replica(&self) -> SocketAddr {
        let (state, settings) = self.replica_state(|_| {}).await;
        serve_router(app::router(state, &settings)).await
    }

    /// The state of a second replica over the same database and result store, with the
    /// settings adjusted first (it runs its own background workers).
    pub async fn replica_state(&self, adjust: impl FnOnce(&mut Settings)) -> (AppState, Settings) {
        let mut settings = test_settings(&store_url(&self.store));
        settings.max_body_bytes = 4 * 1024 * 1024;
        settings.results.location = ResultsLocation::Directory(self.results.path().to_owned());
        adjust(&mut settings);
        let state = AppState::build(&settings).await.expect("replica starts");
        (state, settings)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        RequestBuilder {
            app: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            client: "10.1.2.3:40000".parse().unwrap(),
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::PATCH, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::DELETE, path)
    }

    /// Signs in and returns the whole token response.
    pub async fn login_as(&self, username: &str, password: &str) -> TestResponse {
        self.post("/api/v1/auth/login")
            .json(json!({"username": username, "password": password}))
            .send()
            .await
    }

    /// An access token for the seeded account of `role`.
    pub async fn token(&self, role: Role) -> String {
        let r = self.login_as(&username_of(role), &password_of(role)).await;
        assert_eq!(r.status, StatusCode::OK, "login as {role}: {}", r.body);
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    /// Registers a patient as a physician and returns the response body.
    pub async fn create_patient(&self, token: &str, body: Value) -> Value {
        let r = self
            .post("/api/v1/patients")
            .bearer(token)
            .json(body)
            .send()
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    /// Rows of `sql` as JSON, for assertions on what was really stored.
    pub async fn query(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        let conn = self.db().reader();
        conn.query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("query")
    }

    /// Discharges the patient (whatever its version).
    pub async fn discharge(&self, token: &str, patient: &str) {
        let r = self
            .patch(&format!("/api/v1/patients/{patient}"))
            .bearer(token)
            .header("if-match", "*")
            .json(serde_json::json!({"status": "discharged"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }

    /// A UUID as a SQL literal of the engine in use (SQLite stores the 16 bytes).
    pub fn uuid_literal(&self, id: &str) -> String {
        match self.db().backend() {
            sea_orm::DbBackend::Postgres => format!("'{id}'"),
            _ => format!("X'{}'", id.replace('-', "")),
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let rows = self.query(sql).await;
        rows[0].try_get_by_index::<i64>(0).expect("a count")
    }
}

pub struct RequestBuilder<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    client: SocketAddr,
}

impl RequestBuilder<'_> {
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(serde_json::to_vec(&body).unwrap());
        self.header("content-type", "application/json")
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self.header("content-type", content_type)
    }

    pub fn client_addr(mut self, addr: &str) -> Self {
        self.client = addr.parse().unwrap();
        self
    }

    pub async fn send(self) -> TestResponse {
        let mut builder = Request::builder().method(self.method).uri(&self.path);
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        let mut request = builder
            .body(self.body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(self.client));
        let response = self.app.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

/// A valid patient body, with a unique MRN and fake but realistic names.
pub fn patient_body() -> Value {
    use fake::Fake;
    use fake::faker::name::en::{FirstName, LastName};
    let first: String = FirstName().fake();
    let last: String = LastName().fake();
    json!({
        "mrn": format!("MRN-{}", &Uuid::new_v4().simple().to_string()[..12]),
        "first_name": first,
        "last_name": last,
        "birth_date": "1961-03-14",
        "sex": "female",
        "diagnosis": "Non-small cell lung cancer",
        "icd10_code": "C34.9",
        "ward": "ONC-1",
        "bed": "7",
        "phone": "+447700900123",
        "email": "patient@example.org",
        "preferred_contact": "sms"
    })
}

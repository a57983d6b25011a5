//! Health probes, docs, and the conventions every response follows (problem+json, request ids,
//! security headers, limits).

use axum::http::StatusCode;
use oncology_registry::domain::user::Role;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_probes_answer_without_a_token() {
    let app = TestApp::spawn().await;
    for (path, status) in [
        ("/health/live", "ok"),
        ("/health/ready", "ok"),
        ("/health/ping", "pong"),
    ] {
        let r = app.get(path).send().await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.body["status"], status, "{path}");
    }
}

#[tokio::test]
async fn readiness_fails_with_503_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.db().clone().close().await.unwrap();
    let r = app.get("/health/ready").send().await;
    r.problem(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.get("/health/live").send().await.status, StatusCode::OK);
}

#[tokio::test]
async fn swagger_ui_and_the_openapi_document_are_served() {
    let app = TestApp::spawn().await;
    let docs = app.get("/docs/").send().await;
    assert_eq!(docs.status, StatusCode::OK);
    let bare = app.get("/docs").send().await;
    assert!(
        bare.status.is_success() || bare.status.is_redirection(),
        "{}",
        bare.status
    );
    let doc = app.get("/openapi.json").send().await;
    assert_eq!(doc.status, StatusCode::OK);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc.body["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let paths = doc.body["paths"].as_object().unwrap();
    for path in [
        "/health/live",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/patients",
        "/api/v1/patients/{id}",
        "/api/v1/patients/batch",
        "/api/v1/audit-events",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
    // Every operation with a body documents the problems the shared extractors give.
    for (path, method) in [
        ("/api/v1/patients", "post"),
        ("/api/v1/patients/{id}", "patch"),
        ("/api/v1/auth/login", "post"),
    ] {
        let responses = &doc.body["paths"][path][method]["responses"];
        for status in ["400", "413", "415", "422"] {
            assert!(
                responses.get(status).is_some(),
                "{method} {path} lacks {status}"
            );
        }
    }
    assert!(
        doc.body["paths"]["/health/live"]["get"]["responses"]
            .get("415")
            .is_none()
    );
    // The document served is the one the CLI prints.
    let printed: serde_json::Value =
        serde_json::from_str(&oncology_registry::commands::openapi_json()).unwrap();
    assert_eq!(printed["paths"], doc.body["paths"]);
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = TestApp::spawn().await;
    let r = app.get("/health/live").send().await;
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    let generated = r.header("x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok());
    let echoed = app
        .get("/health/live")
        .header("x-request-id", "ward-42")
        .send()
        .await;
    assert_eq!(echoed.header("x-request-id"), Some("ward-42"));
    // The docs page may run its own scripts, the API may not.
    let docs = app.get("/docs/").send().await;
    assert!(
        docs.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_json() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/nothing-here")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    let r = app
        .request(axum::http::Method::PUT, "/health/live")
        .send()
        .await;
    r.problem(StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.header("allow").unwrap().contains("GET"));
}

#[tokio::test]
async fn malformed_bodies_are_problem_json_and_change_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Nurse).await;
    let before = app.count("SELECT COUNT(*) FROM patient").await;

    let r = app
        .post("/api/v1/patients")
        .bearer(&token)
        .raw("application/json", "{\"mrn\": ")
        .send()
        .await;
    r.problem(StatusCode::BAD_REQUEST);

    let r = app
        .post("/api/v1/patients")
        .bearer(&token)
        .raw("text/plain", "mrn=1")
        .send()
        .await;
    r.problem(StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let big = json!({"mrn": "X", "diagnosis": "x".repeat(100 * 1024)});
    let r = app
        .post("/api/v1/patients")
        .bearer(&token)
        .json(big)
        .send()
        .await;
    r.problem(StatusCode::PAYLOAD_TOO_LARGE);

    let mut body = crate::helpers::patient_body();
    body["id"] = json!("00000000-0000-0000-0000-000000000001");
    let r = app
        .post("/api/v1/patients")
        .bearer(&token)
        .json(body)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["id"]);

    let mut body = crate::helpers::patient_body();
    body["version"] = json!(7);
    let r = app
        .post("/api/v1/patients")
        .bearer(&token)
        .json(body)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(app.count("SELECT COUNT(*) FROM patient").await, before);
}

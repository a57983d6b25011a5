//! Sign-in, refresh rotation and reuse detection, sign-out, deactivation, throttling, and the
//! tokens that must be refused.

use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oncology_registry::domain::user::Role;
use serde_json::json;

use crate::helpers::{JWT_SECRET, TestApp, password_of, username_of};

#[tokio::test]
async fn signing_in_returns_a_bearer_token_pair_that_opens_the_api() {
    let app = TestApp::spawn().await;
    let r = app
        .login_as(&username_of(Role::Nurse), &password_of(Role::Nurse))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    let access = r.body["access_token"].as_str().unwrap();
    assert_eq!(access.split('.').count(), 3);
    assert!(r.body["refresh_token"].as_str().unwrap().len() >= 40);

    let me = app.get("/api/v1/auth/me").bearer(access).send().await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], username_of(Role::Nurse));
    assert_eq!(me.body["role"], "nurse");
    assert!(me.body.get("password_hash").is_none());
}

#[tokio::test]
async fn unknown_users_and_wrong_passwords_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let wrong = app
        .login_as(&username_of(Role::Nurse), "not-the-password-at-all")
        .await;
    let unknown = app.login_as("nobody-here", "not-the-password-at-all").await;
    wrong.problem(StatusCode::UNAUTHORIZED);
    unknown.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert!(wrong.body.get("access_token").is_none());
}

#[tokio::test]
async fn login_input_is_validated() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/api/v1/auth/login")
        .json(json!({"username": "x"}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post("/api/v1/auth/login")
        .json(json!({"username": "x", "password": "y".repeat(129)}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["password"]);
}

#[tokio::test]
async fn a_refresh_token_works_once_and_reuse_revokes_the_whole_chain() {
    let app = TestApp::spawn().await;
    let first = app
        .login_as(&username_of(Role::Physician), &password_of(Role::Physician))
        .await;
    let r1 = first.body["refresh_token"].as_str().unwrap().to_owned();

    let second = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": r1}))
        .send()
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let r2 = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    let access = second.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/auth/me")
            .bearer(access)
            .send()
            .await
            .status,
        StatusCode::OK
    );

    // A stolen copy of r1 is replayed: refused, and the legitimate r2 dies with it.
    let replay = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": r1}))
        .send()
        .await;
    replay.problem(StatusCode::UNAUTHORIZED);
    let after = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": r2}))
        .send()
        .await;
    after.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE action = 'refresh_token_reuse'")
            .await,
        1
    );

    // Another session of the same user is untouched.
    let other = app
        .login_as(&username_of(Role::Physician), &password_of(Role::Physician))
        .await;
    let r = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": other.body["refresh_token"]}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let app = TestApp::spawn().await;
    let login = app
        .login_as(&username_of(Role::Nurse), &password_of(Role::Nurse))
        .await;
    let access = login.body["access_token"].as_str().unwrap();
    let refresh = login.body["refresh_token"].as_str().unwrap();

    let unauthenticated = app
        .post("/api/v1/auth/logout")
        .json(json!({"refresh_token": refresh}))
        .send()
        .await;
    unauthenticated.problem(StatusCode::UNAUTHORIZED);

    let out = app
        .post("/api/v1/auth/logout")
        .bearer(access)
        .json(json!({"refresh_token": refresh}))
        .send()
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let r = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": refresh}))
        .send()
        .await;
    r.problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token_and_vice_versa() {
    let app = TestApp::spawn().await;
    let login = app
        .login_as(&username_of(Role::Nurse), &password_of(Role::Nurse))
        .await;
    let access = login.body["access_token"].as_str().unwrap();
    let refresh = login.body["refresh_token"].as_str().unwrap();
    app.get("/api/v1/auth/me")
        .bearer(refresh)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    let r = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": access}))
        .send()
        .await;
    r.problem(StatusCode::UNAUTHORIZED);
}

fn claims(overrides: serde_json::Value) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({
        "sub": uuid::Uuid::now_v7(), "preferred_username": "test-physician", "role": "physician",
        "iss": "oncology-registry", "aud": "oncology-registry-api",
        "iat": now, "nbf": now, "exp": now + 600, "jti": uuid::Uuid::new_v4(),
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn sign(alg: Algorithm, typ: &str, secret: &[u8], claims: &serde_json::Value) -> String {
    let mut header = Header::new(alg);
    header.typ = Some(typ.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[tokio::test]
async fn forged_expired_and_misdirected_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let good = sign(Algorithm::HS256, "at+jwt", JWT_SECRET, &claims(json!({})));
    // The control: a well-formed token signed with the server's key is accepted.
    assert_eq!(
        app.get("/api/v1/patients")
            .bearer(&good)
            .send()
            .await
            .status,
        StatusCode::OK
    );

    let refused = [
        (
            "another key",
            sign(
                Algorithm::HS256,
                "at+jwt",
                b"someone-else-entirely-0123456789abcdef",
                &claims(json!({})),
            ),
        ),
        (
            "expired",
            sign(
                Algorithm::HS256,
                "at+jwt",
                JWT_SECRET,
                &claims(json!({"exp": now - 120, "iat": now - 1000, "nbf": now - 1000})),
            ),
        ),
        (
            "not yet valid",
            sign(
                Algorithm::HS256,
                "at+jwt",
                JWT_SECRET,
                &claims(json!({"nbf": now + 3600})),
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::HS256,
                "at+jwt",
                JWT_SECRET,
                &claims(json!({"aud": "billing"})),
            ),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::HS256,
                "at+jwt",
                JWT_SECRET,
                &claims(json!({"iss": "evil"})),
            ),
        ),
        (
            "no expiry",
            sign(
                Algorithm::HS256,
                "at+jwt",
                JWT_SECRET,
                &claims(json!({"exp": null})),
            ),
        ),
        (
            "another algorithm",
            sign(Algorithm::HS512, "at+jwt", JWT_SECRET, &claims(json!({}))),
        ),
        (
            "not an access token",
            sign(Algorithm::HS256, "JWT", JWT_SECRET, &claims(json!({}))),
        ),
        (
            "unknown role",
            sign(
                Algorithm::HS256,
                "at+jwt",
                JWT_SECRET,
                &claims(json!({"role": "superuser"})),
            ),
        ),
        ("alg none", {
            let header = base64_url(br#"{"alg":"none","typ":"at+jwt"}"#);
            let body = base64_url(claims(json!({})).to_string().as_bytes());
            format!("{header}.{body}.")
        }),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (why, token) in refused {
        let r = app.get("/api/v1/patients").bearer(&token).send().await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{why}");
    }
    app.get("/api/v1/patients")
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    app.get("/api/v1/patients")
        .header("authorization", &format!("Basic {good}"))
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn repeated_failures_lock_the_account_briefly_with_retry_after() {
    let app = TestApp::spawn().await;
    let user = username_of(Role::Technician);
    for attempt in 0..5 {
        let r = app.login_as(&user, "wrong-password-guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // Locked now: even the right password waits, from any address.
    let r = app
        .post("/api/v1/auth/login")
        .client_addr("10.9.9.9:1234")
        .json(json!({"username": user, "password": password_of(Role::Technician)}))
        .send()
        .await;
    r.problem(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Other accounts are not affected.
    let other = app
        .login_as(&username_of(Role::Nurse), &password_of(Role::Nurse))
        .await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test]
async fn the_account_lock_expires_and_a_success_clears_the_count() {
    let app = TestApp::spawn().await;
    let user = username_of(Role::Technician);
    for _ in 0..5 {
        app.login_as(&user, "wrong-password-guess").await;
    }
    assert_eq!(
        app.login_as(&user, &password_of(Role::Technician))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The first lock-out lasts 2 s: short enough that an attacker cannot keep a nurse out.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        app.login_as(&user, &password_of(Role::Technician))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM login_throttle WHERE throttle_key = 'account:test-technician'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_client_address_that_keeps_failing_is_throttled_across_accounts() {
    let app = TestApp::spawn().await;
    for i in 0..30 {
        let r = app
            .post("/api/v1/auth/login")
            .client_addr("192.0.2.66:5000")
            .json(json!({"username": format!("guess-{i}"), "password": "wrong-password-guess"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = app
        .post("/api/v1/auth/login")
        .client_addr("192.0.2.66:5000")
        .json(json!({"username": username_of(Role::Nurse), "password": password_of(Role::Nurse)}))
        .send()
        .await;
    r.problem(StatusCode::TOO_MANY_REQUESTS);
    // The same nurse from the ward's own workstation is not locked out.
    let r = app
        .post("/api/v1/auth/login")
        .client_addr("10.0.0.8:5000")
        .json(json!({"username": username_of(Role::Nurse), "password": password_of(Role::Nurse)}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_deactivated_user_can_neither_sign_in_nor_refresh() {
    let app = TestApp::spawn().await;
    let nurse = app
        .login_as(&username_of(Role::Nurse), &password_of(Role::Nurse))
        .await;
    let refresh = nurse.body["refresh_token"].as_str().unwrap().to_owned();
    let nurse_id = app
        .get("/api/v1/auth/me")
        .bearer(nurse.body["access_token"].as_str().unwrap())
        .send()
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = app.token(Role::Admin).await;
    let r = app
        .patch(&format!("/api/v1/users/{nurse_id}"))
        .bearer(&admin)
        .json(json!({"active": false}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);

    app.login_as(&username_of(Role::Nurse), &password_of(Role::Nurse))
        .await
        .problem(StatusCode::UNAUTHORIZED);
    app.post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": refresh}))
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn parallel_guesses_are_each_counted_before_they_are_verified() {
    let app = TestApp::spawn().await;
    let user = username_of(Role::Technician);
    let guesses = (0..12).map(|i| {
        app.post("/api/v1/auth/login")
            .client_addr(&format!("10.7.0.{i}:4000"))
            .json(json!({"username": user, "password": format!("wrong-guess-number-{i}")}))
            .send()
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.status)
        .collect();
    // None of them got in; once the fifth was counted the rest were turned away unverified.
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let counted = app
        .count("SELECT CAST(failures AS BIGINT) FROM login_throttle WHERE throttle_key = 'account:test-technician'")
        .await;
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count() as i64;
    assert_eq!(counted + refused, 12);
    assert!(counted >= 5);
    let r = app.login_as(&user, &password_of(Role::Technician)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_throttled_not_the_proxy() {
    let app = TestApp::spawn_with(|s| s.trusted_proxies = vec!["10.1.2.3".parse().unwrap()]).await;
    // An attacker behind the proxy fails 30 times...
    for i in 0..30 {
        let r = app
            .post("/api/v1/auth/login")
            .header("x-forwarded-for", "203.0.113.9, 10.1.2.3")
            .json(json!({"username": format!("guess-{i}"), "password": "wrong-password-guess"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let blocked = app
        .post("/api/v1/auth/login")
        .header("x-forwarded-for", "203.0.113.9")
        .json(json!({"username": username_of(Role::Nurse), "password": password_of(Role::Nurse)}))
        .send()
        .await;
    blocked.problem(StatusCode::TOO_MANY_REQUESTS);
    // ...while a nurse behind the same proxy signs in, recorded with her own address.
    let nurse = app
        .post("/api/v1/auth/login")
        .header("x-forwarded-for", "198.51.100.20")
        .json(json!({"username": username_of(Role::Nurse), "password": password_of(Role::Nurse)}))
        .send()
        .await;
    assert_eq!(nurse.status, StatusCode::OK);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_event WHERE action = 'login' AND outcome = 'success' AND client_addr = '198.51.100.20'").await,
        1
    );
    // An untrusted peer cannot choose its address with the header.
    let direct = app
        .post("/api/v1/auth/login")
        .client_addr("192.0.2.50:1000")
        .header("x-forwarded-for", "198.51.100.20")
        .json(json!({"username": username_of(Role::Nurse), "password": password_of(Role::Nurse)}))
        .send()
        .await;
    assert_eq!(direct.status, StatusCode::OK);
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'login' AND client_addr = '192.0.2.50'"
        )
        .await,
        1
    );
}

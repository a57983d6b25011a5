//! Account administration under /api/v1/users: administrators only, validated, versioned, and
//! never able to leave the registry without an active administrator.

use std::collections::HashSet;

use axum::http::StatusCode;
use fake::Fake;
use fake::faker::internet::en::{Password, Username};
use fake::faker::name::en::Name;
use oncology_registry::domain::user::Role;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, password_of, username_of};

const CLINICAL_ROLES: [Role; 3] = [Role::Physician, Role::Nurse, Role::Technician];

/// A made-up but valid username, unique within the test.
fn fake_username() -> String {
    let base: String = Username().fake();
    let suffix = &Uuid::new_v4().simple().to_string()[..8];
    let clean: String = base
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        .take(40)
        .collect();
    format!("{clean}.{suffix}")
}

fn fake_password() -> String {
    Password(16..40).fake()
}

fn fake_full_name() -> String {
    Name().fake()
}

/// A valid account-creation body for `role`.
fn account_body(role: &str) -> Value {
    json!({
        "username": fake_username(),
        "full_name": fake_full_name(),
        "role": role,
        "password": fake_password(),
    })
}

/// Opens an account through the API as `admin`; returns the response body and the password.
async fn open_account(app: &TestApp, admin: &str, role: &str) -> (Value, String) {
    let body = account_body(role);
    let password = body["password"].as_str().unwrap().to_owned();
    let r = app
        .post("/api/v1/users")
        .bearer(admin)
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (r.body, password)
}

/// The id of the signed-in caller.
async fn my_id(app: &TestApp, token: &str) -> String {
    let r = app.get("/api/v1/auth/me").bearer(token).send().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

fn user_path(id: &str) -> String {
    format!("/api/v1/users/{id}")
}

#[tokio::test]
async fn an_admin_opens_an_account_that_can_then_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let body = account_body("nurse");
    let r = app
        .post("/api/v1/users")
        .bearer(&admin)
        .json(body.clone())
        .send()
        .await;

    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap();
    assert!(Uuid::parse_str(id).is_ok());
    assert_eq!(r.header("location"), Some(user_path(id).as_str()));
    assert_eq!(r.body["username"], body["username"]);
    assert_eq!(r.body["full_name"], body["full_name"]);
    assert_eq!(r.body["role"], "nurse");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["_links"]["self"]["href"], user_path(id));
    assert!(r.body.get("password").is_none() && r.body.get("password_hash").is_none());

    // Stored hashed, never in clear.
    let rows = app
        .query(&format!(
            "SELECT password_hash FROM app_user WHERE username = '{}'",
            body["username"].as_str().unwrap()
        ))
        .await;
    let hash: String = rows[0].try_get("", "password_hash").unwrap();
    assert!(hash.starts_with("$argon2"), "{hash}");
    assert!(!hash.contains(body["password"].as_str().unwrap()));

    // The Location answers with the same account.
    let read = app
        .get(r.header("location").unwrap())
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["username"], body["username"]);
    assert_eq!(read.header("etag"), Some("\"1\""));

    let login = app
        .login_as(
            body["username"].as_str().unwrap(),
            body["password"].as_str().unwrap(),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let me = app
        .get("/api/v1/auth/me")
        .bearer(login.body["access_token"].as_str().unwrap())
        .send()
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["id"], id);
    assert_eq!(me.body["role"], "nurse");
}

#[tokio::test]
async fn a_taken_username_is_refused_with_409_and_opens_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let (first, _) = open_account(&app, &admin, "physician").await;
    let before = app.count("SELECT COUNT(*) FROM app_user").await;

    let mut again = account_body("nurse");
    again["username"] = first["username"].clone();
    app.post("/api/v1/users")
        .bearer(&admin)
        .json(again)
        .send()
        .await
        .problem(StatusCode::CONFLICT);

    // Surrounding blanks do not make another name: they are refused outright.
    let mut padded = account_body("nurse");
    padded["username"] = json!(format!("  {}  ", first["username"].as_str().unwrap()));
    let r = app
        .post("/api/v1/users")
        .bearer(&admin)
        .json(padded)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["username"]);

    // A seeded account's name is taken too.
    let mut seeded = account_body("nurse");
    seeded["username"] = json!(username_of(Role::Technician));
    app.post("/api/v1/users")
        .bearer(&admin)
        .json(seeded)
        .send()
        .await
        .problem(StatusCode::CONFLICT);

    assert_eq!(app.count("SELECT COUNT(*) FROM app_user").await, before);
}

#[tokio::test]
async fn invalid_account_fields_are_refused_with_422_naming_each_field() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let before = app.count("SELECT COUNT(*) FROM app_user").await;

    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            {
                let mut b = account_body("nurse");
                b["username"] = json!("Not Valid!");
                b
            },
            vec!["username"],
        ),
        (
            {
                let mut b = account_body("nurse");
                b["username"] = json!("ab");
                b
            },
            vec!["username"],
        ),
        (
            {
                let mut b = account_body("nurse");
                b["password"] = json!(Password(4..12).fake::<String>());
                b
            },
            vec!["password"],
        ),
        (
            {
                let mut b = account_body("nurse");
                b["password"] = json!("x".repeat(11));
                b
            },
            vec!["password"],
        ),
        (
            {
                let mut b = account_body("nurse");
                b["full_name"] = json!("   ");
                b
            },
            vec!["full_name"],
        ),
        (account_body("janitor"), vec!["role"]),
        (
            {
                let mut b = account_body("nurse");
                b["nickname"] = json!("flo");
                b
            },
            vec!["nickname"],
        ),
        (
            {
                let mut b = account_body("nurse");
                b["username"] = json!("UPPER");
                b["password"] = json!("short");
                b
            },
            vec!["password", "username"],
        ),
    ];
    for (body, fields) in cases {
        let r = app
            .post("/api/v1/users")
            .bearer(&admin)
            .json(body.clone())
            .send()
            .await;
        r.problem(StatusCode::UNPROCESSABLE_ENTITY);
        let mut got = r.error_fields();
        got.sort();
        assert_eq!(got, fields, "body {body}: {}", r.body);
    }

    // A missing field is named too.
    let r = app
        .post("/api/v1/users")
        .bearer(&admin)
        .json(json!({"username": fake_username(), "full_name": fake_full_name(), "role": "nurse"}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("password"),
        "{}",
        r.body
    );

    assert_eq!(app.count("SELECT COUNT(*) FROM app_user").await, before);
}

#[tokio::test]
async fn clinical_roles_get_403_on_every_account_route() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let (target, _) = open_account(&app, &admin, "nurse").await;
    let target_id = target["id"].as_str().unwrap();
    let users_before = app.count("SELECT COUNT(*) FROM app_user").await;

    for role in CLINICAL_ROLES {
        let token = app.token(role).await;
        let r = app
            .post("/api/v1/users")
            .bearer(&token)
            .json(account_body("admin"))
            .send()
            .await;
        r.problem(StatusCode::FORBIDDEN);
        app.get("/api/v1/users")
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
        app.get(&user_path(target_id))
            .bearer(&token)
            .send()
            .await
            .problem(StatusCode::FORBIDDEN);
        let r = app
            .patch(&user_path(target_id))
            .bearer(&token)
            .json(json!({"role": "admin"}))
            .send()
            .await;
        r.problem(StatusCode::FORBIDDEN);
        // Not even on their own account.
        let own = my_id(&app, &token).await;
        let r = app
            .patch(&user_path(&own))
            .bearer(&token)
            .json(json!({"role": "admin"}))
            .send()
            .await;
        r.problem(StatusCode::FORBIDDEN);
    }

    assert_eq!(
        app.count("SELECT COUNT(*) FROM app_user").await,
        users_before
    );
    let still = app.get(&user_path(target_id)).bearer(&admin).send().await;
    assert_eq!(still.body["role"], "nurse");
    assert_eq!(still.body["version"], 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM app_user WHERE role = 'admin'")
            .await,
        1,
        "no clinical role promoted itself"
    );
}

#[tokio::test]
async fn account_routes_without_a_token_get_401() {
    let app = TestApp::spawn().await;
    let id = Uuid::new_v4().to_string();
    let responses = [
        app.post("/api/v1/users")
            .json(account_body("admin"))
            .send()
            .await,
        app.get("/api/v1/users").send().await,
        app.get(&user_path(&id)).send().await,
        app.patch(&user_path(&id))
            .json(json!({"active": false}))
            .send()
            .await,
        app.get("/api/v1/users").bearer("not-a-jwt").send().await,
    ];
    for r in responses {
        r.problem(StatusCode::UNAUTHORIZED);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM app_user").await, 4);
}

#[tokio::test]
async fn offset_pages_report_the_total_and_cursor_pages_walk_every_account_once() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let mut created = Vec::new();
    for role in ["physician", "nurse", "technician"] {
        created.push(
            open_account(&app, &admin, role).await.0["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let total = 4 + created.len();

    let first = app
        .get("/api/v1/users?limit=3&offset=0")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(first.body["total"], total);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        first.body["next_cursor"],
        first.body["items"][2]["id"]
            .as_str()
            .unwrap()
            .replace('-', "")
    );
    assert_eq!(
        first.body["_links"]["next"]["href"],
        "/api/v1/users?limit=3&offset=3"
    );

    let last = app
        .get("/api/v1/users?limit=3&offset=6")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(last.body["total"], total);
    assert_eq!(last.body["items"].as_array().unwrap().len(), total - 6);
    assert!(last.body["_links"].get("next").is_none());

    let beyond = app
        .get("/api/v1/users?limit=3&offset=100")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(beyond.body["total"], total);
    assert!(beyond.body["items"].as_array().unwrap().is_empty());

    // Cursor pages: no repeats, nothing missed, and the walk ends.
    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=2".to_owned();
    for _ in 0..=total {
        let page = app.get(&path).bearer(&admin).send().await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.get("total").is_none());
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/users?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), total, "{seen:?}");
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), total, "an account was repeated: {seen:?}");
    for id in &created {
        assert!(unique.contains(id), "{id} missing from the walk");
    }
    let mut usernames = HashSet::new();
    let all = app
        .get("/api/v1/users?limit=200")
        .bearer(&admin)
        .send()
        .await;
    for u in all.body["items"].as_array().unwrap() {
        usernames.insert(u["username"].as_str().unwrap().to_owned());
    }
    for role in Role::ALL {
        assert!(usernames.contains(&username_of(role)));
    }

    // Filters and bad paging parameters.
    let nurses = app
        .get("/api/v1/users?role=nurse&offset=0")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(nurses.body["total"], 2);
    assert!(
        nurses.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["role"] == "nurse")
    );
    let r = app.get("/api/v1/users?limit=0").bearer(&admin).send().await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["limit"]);
    let r = app
        .get("/api/v1/users?cursor=garbage")
        .bearer(&admin)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["cursor"]);
}

#[tokio::test]
async fn reading_an_unknown_account_is_404_and_a_malformed_id_is_422() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    app.get(&user_path(&Uuid::new_v4().to_string()))
        .bearer(&admin)
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    let r = app
        .patch(&user_path(&Uuid::new_v4().to_string()))
        .bearer(&admin)
        .json(json!({"full_name": fake_full_name()}))
        .send()
        .await;
    r.problem(StatusCode::NOT_FOUND);
    let r = app
        .get("/api/v1/users/not-a-uuid")
        .bearer(&admin)
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["id"]);
}

#[tokio::test]
async fn patching_full_name_and_role_bumps_the_version_and_the_etag() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let (user, password) = open_account(&app, &admin, "nurse").await;
    let id = user["id"].as_str().unwrap();
    let username = user["username"].as_str().unwrap();
    let refresh = app.login_as(username, &password).await.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let name = fake_full_name();
    let r = app
        .patch(&user_path(id))
        .bearer(&admin)
        .json(json!({"full_name": name}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["full_name"], name);
    assert_eq!(r.body["role"], "nurse");
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));

    let r = app
        .patch(&user_path(id))
        .bearer(&admin)
        .header("if-match", "\"2\"")
        .json(json!({"role": "technician"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["role"], "technician");
    assert_eq!(r.body["full_name"], name);
    assert_eq!(r.body["version"], 3);
    assert_eq!(r.header("etag"), Some("\"3\""));

    let read = app.get(&user_path(id)).bearer(&admin).send().await;
    assert_eq!(read.body["role"], "technician");
    assert_eq!(read.header("etag"), Some("\"3\""));

    // A role change ends the old sessions; a new sign-in carries the new role.
    let r = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": refresh}))
        .send()
        .await;
    r.problem(StatusCode::UNAUTHORIZED);
    let fresh = app.login_as(username, &password).await;
    let token = fresh.body["access_token"].as_str().unwrap();
    let r = app
        .post("/api/v1/patients")
        .bearer(token)
        .json(crate::helpers::patient_body())
        .send()
        .await;
    r.problem(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_an_empty_patch_is_422() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let (user, _) = open_account(&app, &admin, "physician").await;
    let id = user["id"].as_str().unwrap();

    let first = fake_full_name();
    let r = app
        .patch(&user_path(id))
        .bearer(&admin)
        .header("if-match", "\"1\"")
        .json(json!({"full_name": first}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    for stale in ["\"1\"", "\"7\"", "W/\"2\"", "garbage"] {
        let r = app
            .patch(&user_path(id))
            .bearer(&admin)
            .header("if-match", stale)
            .json(json!({"full_name": fake_full_name()}))
            .send()
            .await;
        r.problem(StatusCode::PRECONDITION_FAILED);
    }

    let r = app
        .patch(&user_path(id))
        .bearer(&admin)
        .json(json!({}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["body"]);
    let r = app
        .patch(&user_path(id))
        .bearer(&admin)
        .json(json!({"password": "short"}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["password"]);
    let r = app
        .patch(&user_path(id))
        .bearer(&admin)
        .json(json!({"username": "renamed"}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["username"]);

    let read = app.get(&user_path(id)).bearer(&admin).send().await;
    assert_eq!(read.body["full_name"], first);
    assert_eq!(read.body["version"], 2);
    assert_eq!(read.body["username"], user["username"]);
}

#[tokio::test]
async fn a_password_reset_retires_the_old_password_and_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let (user, old) = open_account(&app, &admin, "nurse").await;
    let id = user["id"].as_str().unwrap();
    let username = user["username"].as_str().unwrap();
    let session = app.login_as(username, &old).await;
    assert_eq!(session.status, StatusCode::OK);

    let new = fake_password();
    let r = app
        .patch(&user_path(id))
        .bearer(&admin)
        .json(json!({"password": new}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    assert!(r.body.get("password").is_none());

    app.login_as(username, &old)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    let login = app.login_as(username, &new).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let r = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": session.body["refresh_token"]}))
        .send()
        .await;
    r.problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_deactivated_account_can_neither_sign_in_nor_refresh() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let (user, password) = open_account(&app, &admin, "technician").await;
    let id = user["id"].as_str().unwrap();
    let username = user["username"].as_str().unwrap();
    let session = app.login_as(username, &password).await;
    assert_eq!(session.status, StatusCode::OK);
    let access = session.body["access_token"].as_str().unwrap();

    let r = app
        .patch(&user_path(id))
        .bearer(&admin)
        .json(json!({"active": false}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["version"], 2);

    app.login_as(username, &password)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    let r = app
        .post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": session.body["refresh_token"]}))
        .send()
        .await;
    r.problem(StatusCode::UNAUTHORIZED);
    app.get("/api/v1/auth/me")
        .bearer(access)
        .send()
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'login' AND outcome = 'failure' AND actor_username = '{username}'"
        ))
        .await,
        1
    );

    let inactive = app
        .get("/api/v1/users?active=false&offset=0")
        .bearer(&admin)
        .send()
        .await;
    assert_eq!(inactive.body["total"], 1);
    assert_eq!(inactive.body["items"][0]["id"], id);

    // Reactivated, the same password works again.
    let r = app
        .patch(&user_path(id))
        .bearer(&admin)
        .json(json!({"active": true}))
        .send()
        .await;
    assert_eq!(r.body["active"], true);
    assert_eq!(
        app.login_as(username, &password).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_cannot_deactivate_itself_or_change_its_own_role() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let own = my_id(&app, &admin).await;

    let r = app
        .patch(&user_path(&own))
        .bearer(&admin)
        .json(json!({"active": false}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["active"]);
    let r = app
        .patch(&user_path(&own))
        .bearer(&admin)
        .json(json!({"role": "physician"}))
        .send()
        .await;
    r.problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.error_fields(), ["role"]);

    // Other changes to one's own account are fine.
    let name = fake_full_name();
    let r = app
        .patch(&user_path(&own))
        .bearer(&admin)
        .json(json!({"full_name": name}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["full_name"], name);
    assert_eq!(r.body["role"], "admin");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["version"], 2);
    assert_eq!(
        app.login_as(&username_of(Role::Admin), &password_of(Role::Admin))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_demoted_admin_loses_account_management_at_once_even_with_a_live_token() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let admin_id = my_id(&app, &admin).await;
    let (second, password) = open_account(&app, &admin, "admin").await;
    let second_id = second["id"].as_str().unwrap();
    // The second admin signs in while still an administrator: its access token says so until
    // it expires, but account management checks the account itself, not the token.
    let second_token = app
        .login_as(second["username"].as_str().unwrap(), &password)
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = app
        .patch(&user_path(second_id))
        .bearer(&admin)
        .json(json!({"role": "physician"}))
        .send()
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["role"], "physician");

    for change in [json!({"role": "nurse"}), json!({"active": false})] {
        let r = app
            .patch(&user_path(&admin_id))
            .bearer(&second_token)
            .json(change)
            .send()
            .await;
        r.problem(StatusCode::FORBIDDEN);
    }
    app.get("/api/v1/audit-events")
        .bearer(&second_token)
        .send()
        .await
        .problem(StatusCode::FORBIDDEN);
    let me = app.get(&user_path(&admin_id)).bearer(&admin).send().await;
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["active"], true);
    assert_eq!(me.body["version"], 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM app_user WHERE role = 'admin' AND active = TRUE")
            .await,
        1
    );
}

/// The last-admin rule under concurrency: two administrators demote each other at the same
/// moment. Exactly one may win. Repeated a few rounds because the race needs the two
/// transactions to overlap; each round the loser's victim is promoted back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin).await;
    let admin_id = my_id(&app, &admin).await;
    let (second, password) = open_account(&app, &admin, "admin").await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    // Both access tokens keep saying "admin" until they expire, whatever happens below.
    let second_token = app
        .login_as(second["username"].as_str().unwrap(), &password)
        .await
        .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let admins = "SELECT COUNT(*) FROM app_user WHERE role = 'admin' AND active = TRUE";

    for round in 0..10 {
        assert_eq!(
            app.count(admins).await,
            2,
            "round {round} starts with two admins"
        );
        let demote_second = app
            .patch(&user_path(&second_id))
            .bearer(&admin)
            .json(json!({"role": "nurse"}))
            .send();
        let demote_first = app
            .patch(&user_path(&admin_id))
            .bearer(&second_token)
            .json(json!({"role": "nurse"}))
            .send();
        let (a, b) = if round % 2 == 0 {
            tokio::join!(demote_second, demote_first)
        } else {
            let (b, a) = tokio::join!(demote_first, demote_second);
            (a, b)
        };
        // Exactly one wins. The loser is refused either by the last-admin rule (409) or, when
        // the winner committed first, because its own account is no longer an admin (403).
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert!(
            statuses == [StatusCode::OK, StatusCode::FORBIDDEN]
                || statuses == [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}: {} / {}",
            a.body,
            b.body
        );
        assert_eq!(
            app.count(admins).await,
            1,
            "round {round}: the registry must keep one active administrator"
        );
        // Put the demoted one back, as the one who stayed.
        let (victim, winner_token) = if a.status == StatusCode::OK {
            (&second_id, &admin)
        } else {
            (&admin_id, &second_token)
        };
        let r = app
            .patch(&user_path(victim))
            .bearer(winner_token)
            .json(json!({"role": "admin"}))
            .send()
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
}

//! The operator's subcommands, run as library calls against a fresh database.

use oncology_registry::commands;

use crate::helpers::{fresh_database, test_settings};

#[tokio::test]
async fn seeding_registers_realistic_patients_once_per_seed() {
    let (url, cleanup) = fresh_database().await;
    let settings = test_settings(&url);
    assert_eq!(commands::seed(&settings, 25, 7).await.unwrap(), 25);
    // The same seed again finds every MRN taken and adds nothing.
    assert_eq!(commands::seed(&settings, 25, 7).await.unwrap(), 0);
    assert_eq!(commands::seed(&settings, 5, 8).await.unwrap(), 5);

    let db = sea_orm::Database::connect(&url).await.unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT mrn, icd10_code, phone FROM patient".to_owned(),
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 30);
    for row in rows {
        let mrn: String = row.try_get("", "mrn").unwrap();
        let code: String = row.try_get("", "icd10_code").unwrap();
        let phone: String = row.try_get("", "phone").unwrap();
        assert!(mrn.starts_with("DEMO-"));
        assert!(code.starts_with('C'), "{code}");
        // Ofcom's range for fiction: no real patient is ever texted.
        assert!(phone.starts_with("+447700900"), "{phone}");
    }
    db.close().await.unwrap();
    cleanup();
}

#[tokio::test]
async fn create_user_refuses_weak_passwords_and_taken_names() {
    let (url, cleanup) = fresh_database().await;
    let settings = test_settings(&url);
    let id = commands::create_user(
        &settings,
        "t.tech",
        "technician",
        "Tess Tech",
        Some("long-enough-pass".into()),
        false,
    )
    .await
    .unwrap();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    let weak = commands::create_user(
        &settings,
        "t.two",
        "technician",
        "Tess Two",
        Some("short".into()),
        false,
    )
    .await;
    assert!(weak.unwrap_err().to_string().contains("password"));
    let taken = commands::create_user(
        &settings,
        "t.tech",
        "nurse",
        "Other",
        Some("long-enough-pass".into()),
        false,
    )
    .await;
    assert!(taken.unwrap_err().to_string().contains("taken"));
    let missing = commands::create_user(&settings, "t.three", "nurse", "Other", None, false).await;
    assert!(
        missing
            .unwrap_err()
            .to_string()
            .contains("NEW_USER_PASSWORD")
    );
    cleanup();
}

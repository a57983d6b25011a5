//! The operator's subcommands besides `serve`: migrate, create-user, seed and openapi.

use std::io::BufRead;

use chrono::NaiveDate;
use fake::Fake;
use fake::faker::internet::en::SafeEmail;
use fake::faker::name::en::{FirstName, LastName};
use fake::rand::rngs::StdRng;
use fake::rand::{RngExt, SeedableRng};
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::{AppState, StartupError};
use crate::config::Settings;
use crate::domain::patient::{NewPatient, PatientInput};
use crate::domain::user::NewUser;
use crate::persistence::Database;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Service(#[from] crate::services::ServiceError),
}

pub async fn migrate(settings: &Settings) -> Result<(), CommandError> {
    let db = Database::connect(&settings.database_url, settings.pool).await?;
    db.migrate().await?;
    db.close().await?;
    Ok(())
}

/// Opens an account. The password comes from `password` (the NEW_USER_PASSWORD variable) or,
/// with `from_stdin`, from the first line of standard input: never from a flag.
pub async fn create_user(
    settings: &Settings,
    username: &str,
    role: &str,
    full_name: &str,
    password: Option<String>,
    from_stdin: bool,
) -> Result<String, CommandError> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CommandError::Invalid(format!("cannot read the password: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        password.ok_or_else(|| {
            CommandError::Invalid("set NEW_USER_PASSWORD or pass --password-stdin".to_owned())
        })?
    };
    let new = NewUser::parse(username, full_name, role, &password)
        .map_err(|e| CommandError::Invalid(e.to_string()))?;
    let state = AppState::build(settings).await?;
    let user = state.services.users.create_as_operator(new).await?;
    Ok(user.id.to_string())
}

/// Oncology diagnoses a ward sees, with their ICD-10 codes.
const DIAGNOSES: &[(&str, &str)] = &[
    ("Invasive ductal carcinoma of the breast", "C50.9"),
    ("Non-small cell lung cancer", "C34.9"),
    ("Small cell lung cancer", "C34.1"),
    ("Adenocarcinoma of the colon", "C18.9"),
    ("Rectal adenocarcinoma", "C20"),
    ("Pancreatic ductal adenocarcinoma", "C25.9"),
    ("Diffuse large B-cell lymphoma", "C83.3"),
    ("Hodgkin lymphoma", "C81.9"),
    ("Acute myeloid leukaemia", "C92.0"),
    ("Multiple myeloma", "C90.0"),
    ("Metastatic prostate adenocarcinoma", "C61"),
    ("High-grade serous ovarian carcinoma", "C56"),
    ("Glioblastoma", "C71.9"),
    ("Malignant melanoma of the skin", "C43.9"),
    ("Gastric adenocarcinoma", "C16.9"),
    ("Hepatocellular carcinoma", "C22.0"),
];
const WARDS: &[&str] = &["ONC-1", "ONC-2", "ONC-3", "HAEM-1"];

/// Registers `count` fake patients (reproducible from `seed`), with a progress bar.
pub async fn seed(settings: &Settings, count: usize, seed: u64) -> Result<usize, CommandError> {
    let state = AppState::build(settings).await?;
    let mut rng = StdRng::seed_from_u64(seed);
    let today = chrono::Utc::now().date_naive();
    let bar = ProgressBar::new(count as u64).with_style(
        ProgressStyle::with_template("{spinner} seeding patients [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut created = 0;
    let run = seed;
    for i in 0..count {
        let first: String = FirstName().fake_with_rng(&mut rng);
        let last: String = LastName().fake_with_rng(&mut rng);
        let email: String = SafeEmail().fake_with_rng(&mut rng);
        let (diagnosis, code) = DIAGNOSES[rng.random_range(0..DIAGNOSES.len())];
        let ward = WARDS[rng.random_range(0..WARDS.len())];
        let birth = NaiveDate::from_ymd_opt(
            rng.random_range(1935..2006),
            rng.random_range(1..=12),
            rng.random_range(1..=28),
        );
        let bed = rng.random_range(1..=24).to_string();
        // +44 7700 900xxx is reserved by Ofcom for fiction, so no real person is texted.
        let phone = format!("+447700900{:03}", rng.random_range(0..1000));
        let sex = if rng.random_bool(0.5) {
            "female"
        } else {
            "male"
        };
        let discharged = rng.random_bool(0.2);
        let contact = ["sms", "email", "none"][rng.random_range(0..3)];
        let mrn = format!("DEMO-{run}-{i:06}");
        let new = NewPatient::parse(
            PatientInput {
                mrn: &mrn,
                first_name: &first,
                last_name: &last,
                birth_date: birth,
                sex,
                diagnosis,
                icd10_code: Some(code),
                ward,
                bed: Some(&bed),
                status: Some(if discharged { "discharged" } else { "admitted" }),
                phone: Some(&phone),
                email: Some(&email),
                preferred_contact: Some(contact),
            },
            today,
        )
        .map_err(|e| CommandError::Invalid(format!("generated patient is invalid: {e}")))?;
        match state.services.patients.register_as_operator(new).await {
            Ok(_) => created += 1,
            Err(crate::services::ServiceError::Conflict(_)) => {} // already seeded with this seed
            Err(e) => return Err(e.into()),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(created)
}

pub fn openapi_json() -> String {
    crate::app::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

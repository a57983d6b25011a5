//! Configuration: command-line flags mirrored by environment variables (and a `.env` file in
//! development), validated once at start-up into `Settings`. Secrets are read from the
//! environment only, so they never show up in process listings, and are redacted in `Debug`.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::alert::FeverDefinition;
use crate::domain::user::{NewUser, Password};
use crate::persistence::PoolSettings;
use crate::persistence::result_store::ResultsLocation;
use crate::services::passwords::HashCost;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://oncology-registry.db?mode=rwc";
const MIN_SECRET_BYTES: usize = 32;
/// Access tokens are checked without the database, so they must not live long: a day at most.
const MAX_ACCESS_TTL_SECONDS: i64 = 24 * 3600;
const MAX_REFRESH_TTL_SECONDS: i64 = 90 * 24 * 3600;
/// Some results (biopsies) take weeks; a year is the most an exam token may live.
const MAX_EXAM_TOKEN_TTL_HOURS: i64 = 365 * 24;

#[derive(Debug, Parser)]
#[command(
    name = "oncology-registry",
    version,
    about = "Registry service of an oncology ward"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Open a staff account. The password comes from NEW_USER_PASSWORD or standard input.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = ["admin", "physician", "nurse", "technician"])]
        role: String,
        #[arg(long)]
        full_name: String,
        /// Read the password from standard input (the first line) instead of NEW_USER_PASSWORD.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Fill the database with realistic fake ward data for demonstrations.
    Seed {
        /// How many patients to register.
        #[arg(long, default_value_t = 200)]
        patients: usize,
        /// Random seed, so a demo can be reproduced.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Print the OpenAPI document and exit.
    Openapi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// Flags and their environment variables. Secrets (`JWT_SECRET`, `ADMIN_PASSWORD`) are not
/// flags: they are read from the environment in `Settings::load`.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database: `sqlite://FILE?mode=rwc` (default) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,
    /// Read connections (SQLite) or pool size (PostgreSQL).
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 8,
        global = true
    )]
    pub database_max_connections: u32,
    #[arg(
        long,
        env = "BIND_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind_addr: SocketAddr,
    #[arg(
        long,
        env = "ACCESS_TOKEN_TTL_SECONDS",
        default_value_t = 900,
        global = true
    )]
    pub access_token_ttl_seconds: i64,
    #[arg(long, env = "REFRESH_TOKEN_TTL_SECONDS", default_value_t = 7 * 24 * 3600, global = true)]
    pub refresh_token_ttl_seconds: i64,
    /// Bootstrap administrator, created at start-up when no active administrator exists
    /// (its password comes from ADMIN_PASSWORD).
    #[arg(long, env = "ADMIN_USERNAME", global = true)]
    pub admin_username: Option<String>,
    /// tracing filter, e.g. `info` or `oncology_registry=debug,info`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info", global = true)]
    pub log_level: String,
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "human",
        global = true
    )]
    pub log_format: LogFormat,
    /// Reverse proxies (comma-separated IPs) whose `X-Forwarded-For` is believed: the client
    /// address (audit log, per-address login throttle) is then the one they forwarded.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', global = true)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    #[arg(
        long,
        env = "REQUEST_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_seconds: u64,
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// The largest CSV file `POST /api/v1/vital-signs/import` takes.
    #[arg(long, env = "IMPORT_MAX_BYTES", default_value_t = 64 * 1024 * 1024, global = true)]
    pub import_max_bytes: usize,
    /// Which guideline defines fever for the febrile neutropenia alert: `idsa` or `esmo`.
    #[arg(long, env = "FEVER_DEFINITION", default_value = "idsa", global = true)]
    pub fever_definition: String,
    /// Systemic anticancer therapy within this many days makes a patient without a recent
    /// neutrophil count possibly neutropenic.
    #[arg(
        long,
        env = "SYSTEMIC_THERAPY_WINDOW_DAYS",
        default_value_t = 30,
        global = true
    )]
    pub systemic_therapy_window_days: u32,
    /// IANA zone of the ward: device-local times in uploaded Holter files are read in it.
    #[arg(long, env = "WARD_TIMEZONE", default_value = "UTC", global = true)]
    pub ward_timezone: String,
    /// How often a following WebSocket stream looks for new changes in the database (which is
    /// what lets it see changes made through other replicas), in milliseconds: 50 to 60000.
    #[arg(
        long,
        env = "STREAM_POLL_MILLIS",
        default_value_t = 1000,
        global = true
    )]
    pub stream_poll_millis: u64,
    /// argon2id memory in KiB (at least 19456, OWASP's minimum).
    #[arg(long, env = "ARGON2_MEMORY_KIB", default_value_t = 19 * 1024, global = true)]
    pub argon2_memory_kib: u32,
    /// argon2id iterations (at least 2).
    #[arg(long, env = "ARGON2_ITERATIONS", default_value_t = 2, global = true)]
    pub argon2_iterations: u32,
    #[arg(long, env = "ARGON2_PARALLELISM", default_value_t = 1, global = true)]
    pub argon2_parallelism: u32,
    /// The `iss` every result token of the exam execution system must carry (its key comes
    /// from RESULT_TOKEN_SECRET).
    #[arg(
        long,
        env = "RESULT_TOKEN_ISSUER",
        default_value = "exam-execution-system",
        global = true
    )]
    pub result_token_issuer: String,
    /// How long an exam token (printed on the result paper at start) stays valid.
    #[arg(
        long,
        env = "EXAM_TOKEN_TTL_HOURS",
        default_value_t = 720,
        global = true
    )]
    pub exam_token_ttl_hours: i64,
    /// Where patient notifications go: `log` or `webhook` (POST to NOTIFY_WEBHOOK_URL).
    #[arg(long, env = "NOTIFY_SENDER", default_value = "log", global = true)]
    pub notify_sender: String,
    /// The hospital SMS/e-mail gateway's URL, for NOTIFY_SENDER=webhook.
    #[arg(long, env = "NOTIFY_WEBHOOK_URL", global = true)]
    pub notify_webhook_url: Option<String>,
    /// How often the delivery worker looks for due notifications, in milliseconds.
    #[arg(
        long,
        env = "NOTIFY_POLL_MILLIS",
        default_value_t = 1000,
        global = true
    )]
    pub notify_poll_millis: u64,
    /// The result store holding the results inbox and report files: a directory (created when
    /// missing), `file:///dir`, or `s3://bucket/prefix` (S3-compatible storage configured by
    /// the usual AWS_* variables: AWS_REGION, AWS_ENDPOINT, AWS_ACCESS_KEY_ID, ...).
    #[arg(long, env = "RESULTS_DIR", default_value = "./results", global = true)]
    pub results_dir: String,
    /// How often the results inbox worker looks for new files under `completed/`, in seconds.
    #[arg(
        long,
        env = "RESULTS_POLL_SECONDS",
        default_value_t = 10,
        global = true
    )]
    pub results_poll_seconds: u64,
    /// The same in milliseconds (10 to 3600000), for tests and benchmarks; wins when set.
    #[arg(long, env = "RESULTS_POLL_MILLIS", global = true)]
    pub results_poll_millis: Option<u64>,
}

/// A secret string whose `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}

/// Validated settings the application runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub pool: PoolSettings,
    pub bind_addr: SocketAddr,
    pub jwt_secret: Secret,
    /// True when no JWT_SECRET was configured and a random one was made for this run.
    pub jwt_secret_generated: bool,
    pub access_token_ttl: chrono::Duration,
    pub refresh_token_ttl: chrono::Duration,
    pub bootstrap_admin: Option<NewUser>,
    pub log_level: String,
    pub log_format: LogFormat,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
    pub hash_cost: HashCost,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub import_max_bytes: usize,
    pub clinical: ClinicalRules,
    pub ward_timezone: chrono_tz::Tz,
    pub stream_poll: Duration,
    pub exams: ExamSettings,
    pub notify: NotifySettings,
    pub results: ResultsSettings,
}

/// The result store and its inbox worker.
#[derive(Debug, Clone)]
pub struct ResultsSettings {
    pub location: ResultsLocation,
    pub poll: Duration,
    /// How long a worker owns a file it claimed: a worker that dies holding one leaves it to
    /// the others after this.
    pub lease: Duration,
}

/// Longer than handling one file may take, short enough that a crashed replica's file is
/// picked up within minutes.
pub const RESULTS_LEASE: Duration = Duration::from_secs(120);

/// Keys and lifetimes of exam and result tokens.
#[derive(Debug, Clone)]
pub struct ExamSettings {
    pub exam_token_secret: Secret,
    /// True when EXAM_TOKEN_SECRET was not set and a random key was made for this run.
    pub exam_token_secret_generated: bool,
    pub exam_token_ttl: chrono::Duration,
    pub result_token_secret: Secret,
    pub result_token_secret_generated: bool,
    pub result_token_issuer: String,
}

/// Where notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifySender {
    Log,
    Webhook(String),
}

/// Notification delivery.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub sender: NotifySender,
    pub poll: Duration,
    pub retry: crate::domain::notification::RetryPolicy,
}

/// A secret from the environment: at least `MIN_SECRET_BYTES` when set, else random for this
/// run only (the flag says so, for the warning at start-up).
fn secret(
    env: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<(Secret, bool), ConfigError> {
    match env(name).filter(|s| !s.is_empty()) {
        Some(s) if s.len() < MIN_SECRET_BYTES => Err(ConfigError::SecretTooShort(name, s.len())),
        Some(s) => Ok((Secret(s.into_bytes()), false)),
        None => {
            let mut bytes = vec![0_u8; 48];
            getrandom::fill(&mut bytes).map_err(|e| ConfigError::Random(e.to_string()))?;
            Ok((Secret(bytes), true))
        }
    }
}

/// The configurable parts of the clinical rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClinicalRules {
    pub fever_definition: FeverDefinition,
    pub systemic_therapy_window_days: u32,
}

impl Default for ClinicalRules {
    fn default() -> Self {
        Self {
            fever_definition: FeverDefinition::Idsa,
            systemic_therapy_window_days: 30,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be at least {MIN_SECRET_BYTES} bytes (got {1})")]
    SecretTooShort(&'static str, usize),
    #[error("{0} must be a positive number of seconds")]
    NotPositive(&'static str),
    #[error("{0} must be between 1 and {1} seconds")]
    OutOfRange(&'static str, i64),
    #[error("FEVER_DEFINITION {0}")]
    FeverDefinition(String),
    #[error("WARD_TIMEZONE '{0}' is not an IANA time zone")]
    WardTimezone(String),
    #[error("STREAM_POLL_MILLIS must be between 50 and 60000")]
    StreamPoll,
    #[error("SYSTEMIC_THERAPY_WINDOW_DAYS must be between 1 and 365")]
    TherapyWindow,
    #[error("argon2 parameters below OWASP's minimum (m=19456 KiB, t=2, p=1)")]
    WeakHashCost,
    #[error("ADMIN_USERNAME and ADMIN_PASSWORD must be set together")]
    IncompleteAdmin,
    #[error("bootstrap administrator: {0}")]
    InvalidAdmin(String),
    #[error("DATABASE_URL must start with sqlite: or postgres:")]
    UnsupportedDatabase,
    #[error("DATABASE_MAX_CONNECTIONS must be between 1 and 512")]
    PoolSize,
    #[error("MAX_BODY_BYTES must be between 1 KiB and 64 MiB")]
    BodyLimit,
    #[error("EXAM_TOKEN_TTL_HOURS must be between 1 and {MAX_EXAM_TOKEN_TTL_HOURS}")]
    ExamTokenTtl,
    #[error("RESULT_TOKEN_ISSUER must be 1-200 characters")]
    ResultTokenIssuer,
    #[error("NOTIFY_SENDER must be log or webhook, not '{0}'")]
    NotifySender(String),
    #[error("NOTIFY_SENDER=webhook needs NOTIFY_WEBHOOK_URL, an http:// or https:// URL")]
    WebhookUrl,
    #[error("NOTIFY_POLL_MILLIS must be between 10 and 3600000")]
    NotifyPoll,
    #[error("RESULTS_DIR {0}")]
    ResultsDir(String),
    #[error(
        "RESULTS_POLL_SECONDS must be between 1 and 3600 (RESULTS_POLL_MILLIS between 10 and 3600000)"
    )]
    ResultsPoll,
    #[error("LOG_LEVEL '{0}' is not a tracing filter: {1}")]
    LogLevel(String, String),
    #[error("could not generate a random secret: {0}")]
    Random(String),
}

impl Settings {
    /// Validates the flags, reading secrets with `env`.
    pub fn load(
        config: &Config,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let url = config.database_url.trim();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            return Err(ConfigError::UnsupportedDatabase);
        }
        if !(1..=512).contains(&config.database_max_connections) {
            return Err(ConfigError::PoolSize);
        }
        let (jwt_secret, generated) = secret(&env, "JWT_SECRET")?;
        let exams = exam_settings(config, &env)?;
        let notify = notify_settings(config)?;
        let results = results_settings(config)?;
        if !(1..=MAX_ACCESS_TTL_SECONDS).contains(&config.access_token_ttl_seconds) {
            return Err(ConfigError::OutOfRange(
                "ACCESS_TOKEN_TTL_SECONDS",
                MAX_ACCESS_TTL_SECONDS,
            ));
        }
        if !(1..=MAX_REFRESH_TTL_SECONDS).contains(&config.refresh_token_ttl_seconds) {
            return Err(ConfigError::OutOfRange(
                "REFRESH_TOKEN_TTL_SECONDS",
                MAX_REFRESH_TTL_SECONDS,
            ));
        }
        if config.request_timeout_seconds == 0 {
            return Err(ConfigError::NotPositive("REQUEST_TIMEOUT_SECONDS"));
        }
        if !(1024..=64 * 1024 * 1024).contains(&config.max_body_bytes) {
            return Err(ConfigError::BodyLimit);
        }
        let hash_cost = HashCost {
            memory_kib: config.argon2_memory_kib,
            iterations: config.argon2_iterations,
            parallelism: config.argon2_parallelism,
        };
        if !hash_cost.meets_owasp_minimum() {
            return Err(ConfigError::WeakHashCost);
        }
        let bootstrap_admin = match (config.admin_username.as_deref(), env("ADMIN_PASSWORD")) {
            (None, None) => None,
            (Some(username), Some(password)) => {
                Password::parse(&password)
                    .map_err(|e| ConfigError::InvalidAdmin(format!("password {e}")))?;
                Some(
                    NewUser::parse(username, "Administrator", "admin", &password)
                        .map_err(|e| ConfigError::InvalidAdmin(e.to_string()))?,
                )
            }
            _ => return Err(ConfigError::IncompleteAdmin),
        };
        let fever_definition = config
            .fever_definition
            .parse::<FeverDefinition>()
            .map_err(ConfigError::FeverDefinition)?;
        if !(1..=365).contains(&config.systemic_therapy_window_days) {
            return Err(ConfigError::TherapyWindow);
        }
        let ward_timezone = config
            .ward_timezone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| ConfigError::WardTimezone(config.ward_timezone.clone()))?;
        if !(50..=60_000).contains(&config.stream_poll_millis) {
            return Err(ConfigError::StreamPoll);
        }
        crate::telemetry::LogFilter::parse(&config.log_level)
            .map_err(|e| ConfigError::LogLevel(config.log_level.clone(), e))?;
        Ok(Self {
            database_url: url.to_owned(),
            pool: PoolSettings {
                max_connections: config.database_max_connections,
                ..PoolSettings::default()
            },
            bind_addr: config.bind_addr,
            jwt_secret,
            jwt_secret_generated: generated,
            access_token_ttl: chrono::Duration::seconds(config.access_token_ttl_seconds),
            refresh_token_ttl: chrono::Duration::seconds(config.refresh_token_ttl_seconds),
            bootstrap_admin,
            log_level: config.log_level.clone(),
            log_format: config.log_format,
            request_timeout: Duration::from_secs(config.request_timeout_seconds),
            max_body_bytes: config.max_body_bytes,
            hash_cost,
            trusted_proxies: config.trusted_proxies.clone(),
            import_max_bytes: config.import_max_bytes,
            clinical: ClinicalRules {
                fever_definition,
                systemic_therapy_window_days: config.systemic_therapy_window_days,
            },
            ward_timezone,
            stream_poll: Duration::from_millis(config.stream_poll_millis),
            exams,
            notify,
            results,
        })
    }
}

fn exam_settings(
    config: &Config,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<ExamSettings, ConfigError> {
    let (exam_token_secret, exam_token_secret_generated) = secret(env, "EXAM_TOKEN_SECRET")?;
    let (result_token_secret, result_token_secret_generated) = secret(env, "RESULT_TOKEN_SECRET")?;
    if !(1..=MAX_EXAM_TOKEN_TTL_HOURS).contains(&config.exam_token_ttl_hours) {
        return Err(ConfigError::ExamTokenTtl);
    }
    let issuer = config.result_token_issuer.trim();
    if issuer.is_empty() || issuer.len() > 200 {
        return Err(ConfigError::ResultTokenIssuer);
    }
    Ok(ExamSettings {
        exam_token_secret,
        exam_token_secret_generated,
        exam_token_ttl: chrono::Duration::hours(config.exam_token_ttl_hours),
        result_token_secret,
        result_token_secret_generated,
        result_token_issuer: issuer.to_owned(),
    })
}

fn notify_settings(config: &Config) -> Result<NotifySettings, ConfigError> {
    let url = config
        .notify_webhook_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let sender = match (config.notify_sender.as_str(), url) {
        ("log", _) => NotifySender::Log,
        ("webhook", Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            NotifySender::Webhook(url.to_owned())
        }
        ("webhook", _) => return Err(ConfigError::WebhookUrl),
        (other, _) => return Err(ConfigError::NotifySender(other.to_owned())),
    };
    if !(10..=3_600_000).contains(&config.notify_poll_millis) {
        return Err(ConfigError::NotifyPoll);
    }
    Ok(NotifySettings {
        sender,
        poll: Duration::from_millis(config.notify_poll_millis),
        retry: Default::default(),
    })
}

fn results_settings(config: &Config) -> Result<ResultsSettings, ConfigError> {
    let location = ResultsLocation::parse(&config.results_dir).map_err(ConfigError::ResultsDir)?;
    let poll = match config.results_poll_millis {
        Some(ms) if (10..=3_600_000).contains(&ms) => Duration::from_millis(ms),
        None if (1..=3600).contains(&config.results_poll_seconds) => {
            Duration::from_secs(config.results_poll_seconds)
        }
        _ => return Err(ConfigError::ResultsPoll),
    };
    Ok(ResultsSettings {
        location,
        poll,
        lease: RESULTS_LEASE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        let mut argv = vec!["oncology-registry"];
        argv.extend_from_slice(args);
        Cli::parse_from(argv).config
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_valid_and_generate_a_secret() {
        let s = Settings::load(&config(&[]), no_env).unwrap();
        assert!(s.jwt_secret_generated);
        assert_eq!(s.jwt_secret.0.len(), 48);
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:8080");
        assert!(s.database_url.starts_with("sqlite:"));
        assert!(!format!("{s:?}").contains(&format!("{:?}", s.jwt_secret.0)));
    }

    #[test]
    fn short_secrets_and_weak_hashing_are_refused() {
        let env = |k: &str| (k == "JWT_SECRET").then(|| "short".to_owned());
        assert!(matches!(
            Settings::load(&config(&[]), env),
            Err(ConfigError::SecretTooShort("JWT_SECRET", 5))
        ));
        assert!(matches!(
            Settings::load(&config(&["--argon2-memory-kib", "1024"]), no_env),
            Err(ConfigError::WeakHashCost)
        ));
        assert!(matches!(
            Settings::load(&config(&["--database-url", "mysql://x"]), no_env),
            Err(ConfigError::UnsupportedDatabase)
        ));
        assert!(matches!(
            Settings::load(
                &config(&["--access-token-ttl-seconds", "9223372036854775807"]),
                no_env
            ),
            Err(ConfigError::OutOfRange("ACCESS_TOKEN_TTL_SECONDS", _))
        ));
        assert!(matches!(
            Settings::load(&config(&["--refresh-token-ttl-seconds", "0"]), no_env),
            Err(ConfigError::OutOfRange("REFRESH_TOKEN_TTL_SECONDS", _))
        ));
        assert!(matches!(
            Settings::load(&config(&["--log-level", "info=verbose"]), no_env),
            Err(ConfigError::LogLevel(level, _)) if level == "info=verbose"
        ));
        assert!(
            Settings::load(
                &config(&["--log-level", "oncology_registry=debug,info"]),
                no_env
            )
            .is_ok()
        );
    }

    #[test]
    fn trusted_proxies_are_a_comma_separated_list_of_addresses() {
        let s = Settings::load(&config(&["--trusted-proxies", "127.0.0.1,::1"]), no_env).unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        assert!(Cli::try_parse_from(["oncology-registry", "--trusted-proxies", "nginx"]).is_err());
    }

    #[test]
    fn admin_bootstrap_needs_both_halves_and_a_good_password() {
        assert!(matches!(
            Settings::load(&config(&["--admin-username", "root-admin"]), no_env),
            Err(ConfigError::IncompleteAdmin)
        ));
        let weak = |k: &str| (k == "ADMIN_PASSWORD").then(|| "short".to_owned());
        assert!(matches!(
            Settings::load(&config(&["--admin-username", "root-admin"]), weak),
            Err(ConfigError::InvalidAdmin(_))
        ));
        let good = |k: &str| (k == "ADMIN_PASSWORD").then(|| "a long enough passphrase".to_owned());
        let s = Settings::load(&config(&["--admin-username", "root-admin"]), good).unwrap();
        assert_eq!(s.bootstrap_admin.unwrap().username.as_str(), "root-admin");
    }

    #[test]
    fn exam_and_result_keys_are_random_unless_set_and_long_enough() {
        let s = Settings::load(&config(&[]), |_| None).unwrap();
        assert!(s.exams.exam_token_secret_generated && s.exams.result_token_secret_generated);
        assert_ne!(s.exams.exam_token_secret, s.jwt_secret);
        assert_eq!(s.exams.result_token_issuer, "exam-execution-system");
        assert_eq!(s.notify.sender, NotifySender::Log);
        let short = |k: &str| (k == "RESULT_TOKEN_SECRET").then(|| "short".to_owned());
        assert!(matches!(
            Settings::load(&config(&[]), short),
            Err(ConfigError::SecretTooShort("RESULT_TOKEN_SECRET", 5))
        ));
        let set = |k: &str| (k == "EXAM_TOKEN_SECRET").then(|| "e".repeat(32));
        let s = Settings::load(&config(&[]), set).unwrap();
        assert!(!s.exams.exam_token_secret_generated);
        assert!(!format!("{s:?}").contains(&"e".repeat(32)));
    }

    #[test]
    fn the_webhook_sender_needs_a_url() {
        assert!(matches!(
            Settings::load(&config(&["--notify-sender", "webhook"]), |_| None),
            Err(ConfigError::WebhookUrl)
        ));
        assert!(matches!(
            Settings::load(&config(&["--notify-sender", "pager"]), |_| None),
            Err(ConfigError::NotifySender(_))
        ));
        let s = Settings::load(
            &config(&[
                "--notify-sender",
                "webhook",
                "--notify-webhook-url",
                "https://gateway.example/sms",
            ]),
            |_| None,
        )
        .unwrap();
        assert_eq!(
            s.notify.sender,
            NotifySender::Webhook("https://gateway.example/sms".to_owned())
        );
    }

    #[test]
    fn the_result_store_is_a_directory_or_a_bucket_polled_every_ten_seconds() {
        let s = Settings::load(&config(&[]), no_env).unwrap();
        assert_eq!(
            s.results.location,
            ResultsLocation::Directory("./results".into())
        );
        assert_eq!(s.results.poll, Duration::from_secs(10));
        let s = Settings::load(
            &config(&[
                "--results-dir",
                "s3://ward-results/inbox/",
                "--results-poll-millis",
                "50",
            ]),
            no_env,
        )
        .unwrap();
        assert_eq!(
            s.results.location,
            ResultsLocation::S3 {
                bucket_url: "s3://ward-results".to_owned(),
                prefix: "inbox".to_owned()
            }
        );
        assert_eq!(s.results.poll, Duration::from_millis(50));
        for bad in [
            &["--results-dir", "ftp://host/x"][..],
            &["--results-dir", "s3://"][..],
        ] {
            assert!(matches!(
                Settings::load(&config(bad), no_env),
                Err(ConfigError::ResultsDir(_))
            ));
        }
        assert!(matches!(
            Settings::load(&config(&["--results-poll-seconds", "0"]), no_env),
            Err(ConfigError::ResultsPoll)
        ));
    }
}

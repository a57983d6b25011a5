//! The `oncology-registry` binary: parses the command line, sets up logging, runs a command.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use oncology_registry::config::{Cli, Command, Settings};
use oncology_registry::{app, commands, telemetry};

// Many threads (the runtime's and one per SQLite connection) allocate small, short-lived
// buffers for every request; glibc's malloc spends much of a request's time in its locks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A .env file is for development; real deployments set the environment.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config, |k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("oncology-registry: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    // Checked by `Settings::load`; a filter that no longer parses here would be a bug.
    match telemetry::LogFilter::parse(&settings.log_level) {
        Ok(filter) => telemetry::init(filter, settings.log_format),
        Err(e) => {
            eprintln!("oncology-registry: invalid configuration: LOG_LEVEL {e}");
            return ExitCode::from(2);
        }
    }
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => app::serve(settings).await.map_err(|e| e.to_string()),
        Command::Migrate => commands::migrate(&settings)
            .await
            .map(|()| eprintln!("migrations applied"))
            .map_err(|e| e.to_string()),
        Command::CreateUser {
            username,
            role,
            full_name,
            password_stdin,
        } => {
            let password = std::env::var("NEW_USER_PASSWORD").ok();
            commands::create_user(
                &settings,
                &username,
                &role,
                &full_name,
                password,
                password_stdin,
            )
            .await
            .map(|id| println!("{id}"))
            .map_err(|e| e.to_string())
        }
        Command::Seed { patients, seed } => commands::seed(&settings, patients, seed)
            .await
            .map(|n| eprintln!("registered {n} demo patients"))
            .map_err(|e| e.to_string()),
        Command::Openapi => {
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{}", commands::openapi_json());
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oncology-registry: {e}");
            ExitCode::FAILURE
        }
    }
}

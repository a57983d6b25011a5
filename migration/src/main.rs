//! `sea-orm-cli migrate` entry point: applies or rolls back the migrations on `DATABASE_URL`.

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(migration::Migrator).await;
}

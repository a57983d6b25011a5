//! Database migrations for oncology-registry, run by the server at start-up, by its `migrate`
//! subcommand, by the tests and by `sea-orm-cli migrate`.
//!
//! Migrations name tables and columns through their own `DeriveIden` enums, never through the
//! application's entities, so an old migration keeps its meaning when the entities change.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_foundation;
mod m20261124_000002_vital_signs;
mod m20261124_000003_ecgs;
mod m20261124_000004_ecg_trends;
mod m20261124_000005_exams;
mod m20261124_000006_stream_events;
mod m20261124_000007_results_inbox;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_foundation::Migration),
            Box::new(m20261124_000002_vital_signs::Migration),
            Box::new(m20261124_000003_ecgs::Migration),
            Box::new(m20261124_000004_ecg_trends::Migration),
            Box::new(m20261124_000005_exams::Migration),
            Box::new(m20261124_000006_stream_events::Migration),
            Box::new(m20261124_000007_results_inbox::Migration),
        ]
    }
}

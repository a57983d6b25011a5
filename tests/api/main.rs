//! The integration tests: the real router, the real migrations, a fresh database per test
//! (SQLite by default; PostgreSQL when TEST_DATABASE_URL names a server).

mod helpers;

mod alerts;
mod audit;
mod auth;
mod commands;
mod ecg_trends;
mod ecgs;
mod exams;
mod health;
mod migrations;
mod notifications;
mod patients;
mod results_inbox;
mod streams;
mod users;
mod vital_signs;
mod wards;

//! oncology-registry: the registry service of an oncology ward, as a library so that the binary
//! and the tests build the very same application.
//!
//! Layers, each depending only on the ones below it: `routes` (HTTP) -> `services` (use cases,
//! transactions, permissions) -> `domain` (plain rules) and `persistence` (SeaORM) -> `domain`.

pub mod app;
pub mod commands;
pub mod config;
pub mod domain;
pub mod error;
pub mod persistence;
pub mod routes;
pub mod services;
pub mod telemetry;

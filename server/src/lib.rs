//! The `ballot-tracker` process: configuration, start-up, the router, and the CLI subcommands.

pub mod api;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod exports_http;
pub mod health;
pub mod imports_http;
pub mod notify;
pub mod router;
pub mod security;
pub mod standin;
pub mod telemetry;

pub use router::build_router;

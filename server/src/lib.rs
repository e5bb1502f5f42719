//! The `ballot-tracker` process: configuration, start-up, the router, and the CLI subcommands.

/// Microsoft's mimalloc in place of glibc's allocator, in every program of this crate (the
/// server, the command line, the examples and the tests): with many tasks on few threads
/// allocating and freeing small buffers, glibc's arenas spent a quarter of the delivery
/// workers' time and contended on their locks. README, Benchmarks (dispatch, 2026-12-05).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

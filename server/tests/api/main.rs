//! The whole app over real HTTP on 127.0.0.1, against a fresh real database per test.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers fail the test loudly"
)]

mod accounts;
mod admin;
mod announce;
mod feeds_api;
mod helpers;
mod imports;
mod lookup;
mod notify;
mod pages;
mod reports;

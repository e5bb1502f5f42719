//! The county admin portal: sign-in with two-factor codes, server-side sessions, searching
//! voters and ballots, a ballot's whole record, and status changes through the spine.
//!
//! The portal's words are English only: it is county election staff's working tool. What a
//! voter reads (statuses, reasons) comes from the same sentences the status page uses.

pub mod accounts;
pub mod announcements;
pub mod api_tokens;
pub mod audit_view;
pub mod ballot;
pub mod code_maps;
pub mod county_settings;
pub mod elections;
pub mod frame;
pub mod imports_view;
pub mod messages_view;
pub mod records;
pub mod reissue;
pub mod reports_view;
pub mod roles;
pub mod signin;
pub mod two_factor;

#[cfg(feature = "ssr")]
pub mod announcement_store;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod session_store;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod totp;

pub use roles::{Role, Staff};

#[cfg(all(test, feature = "ssr"))]
mod isolation_tests;

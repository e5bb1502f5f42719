//! The JSON API for county systems: per-county tokens (stored as SHA-256 hashes, shown once,
//! scoped, revocable) and idempotency keys. The handlers are in the server (`server::api`); a
//! request becomes rows of the ELG or PKG format and goes through the same import code as a
//! file — the same validation, guards, status machine, audit and outbox.

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Push ballot status changes (ELG rows).
    Statuses,
    /// Push postal scans (PKG rows).
    Scans,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::Statuses, Scope::Scans];
    pub const fn code(self) -> &'static str {
        match self {
            Scope::Statuses => "statuses:write",
            Scope::Scans => "scans:write",
        }
    }
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == raw.trim())
    }
}

#[cfg(feature = "ssr")]
pub(crate) mod tokens;
#[cfg(feature = "ssr")]
pub use tokens::*;

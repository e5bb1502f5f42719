//! Domain types, compiled for the server and the browser alike. Raw input becomes one of these
//! values in exactly one place (`parse`); everything past that point can trust it.

pub mod dates;
pub mod imb;
pub mod language;
pub mod names;
pub mod place;
pub mod reason;
pub mod status;
pub mod transition;
pub mod wording;

pub use language::Language;
pub use names::NormalizedName;
pub use place::{CountyFips, Zip5};
pub use reason::NotCountedReason;
pub use status::BallotStatus;
pub use transition::{Applied, Current, Refusal, StatusChange, transition};

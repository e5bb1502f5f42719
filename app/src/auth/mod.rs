//! Administrator accounts. Sign-in and sessions come with the admin portal.

pub mod password;
pub mod tokens;
pub mod users;

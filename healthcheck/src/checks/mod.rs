//! Built-in checks, and what every check should do with what it says: [`redact`] masks
//! credentials in messages, fields and log lines, for the built-in checkers and an application's
//! own checks alike.

mod redact;

pub use redact::{MASK, redact};

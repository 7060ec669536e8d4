//! The files a run reads and keeps on disk besides its rows: creating files
//! safely ([`safefs`]: no links, exact modes, atomic replacement) and
//! their side names ([`paths`]), the locks ([`lock`]), the resume journal
//! ([`journal`]), the `--state` watermark ([`state`]) and the list of
//! customer IDs ([`input`]). The rows themselves are [`crate::output`]'s.

pub mod input;
pub mod journal;
pub mod lock;
pub mod paths;
pub mod safefs;
pub mod state;

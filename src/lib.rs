//! yuju-export: export chat records from the Yuju AI (语聚AI) open API.
//!
//! The binary is a thin shell over this library. Its layers, from the front
//! doors down (imports run downward):
//!
//! - **front doors**: [`app`] (the command line: `export`, `demo`, `mock`,
//!   the plan of `--dry-run`, the man page) and [`protocol`] (`tap-yuju`
//!   and `source-yuju`);
//! - **the engine**: [`export`] (read IDs, fetch with bounded concurrency,
//!   write in order, end the run: exit code, state, metrics, summary);
//! - **settings**: [`config`] (the one list of options, layered, validated
//!   once into an [`config::ExportConfig`]);
//! - **policies**: [`pace`] (rate limiter, retries, buffers);
//! - **rows and files**: [`output`] (CSV, JSON Lines, Parquet, the failed
//!   file), [`record`] (what a row is) and [`store`] (journal, state,
//!   locks, safe file creation, the ID list);
//! - **the wire**: [`api`] (the HTTP client, the key, what answers mean);
//! - **around them**: [`console`] (logs and progress on stderr),
//!   [`shutdown`] (signals), [`error`] (exit codes and user errors).
//!
//! The [`simulator`] is a library too, so the `mock` and `demo` commands,
//! the integration tests and the benchmarks all talk to the same fake
//! platform.

pub mod api;
pub mod app;
pub mod config;
pub mod console;
pub mod error;
pub mod export;
pub mod output;
pub mod pace;
pub mod protocol;
pub mod record;
pub mod shutdown;
pub mod simulator;
pub mod store;

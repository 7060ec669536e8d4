//! yuju-export: export chat records from the Yuju AI (语聚AI) open API.
//!
//! The binary is a thin shell over this library: [`cli`] parses the command
//! line, [`options`] defines and layers the settings (flags, env, a TOML
//! file, defaults), [`config`] validates them into an
//! [`config::ExportConfig`], and [`export::run`] performs the job. The
//! [`simulator`] is a library too, so the `mock` and `demo` commands, the
//! integration tests and the benchmarks all talk to the same fake platform.

pub mod api;
pub mod app;
pub mod bufpool;
pub mod cli;
pub mod config;
pub mod demo;
pub mod drift;
pub mod error;
pub mod export;
pub mod input;
pub mod journal;
pub mod lock;
pub mod logging;
pub mod manpage;
pub mod metrics;
pub mod options;
pub mod output;
pub mod paths;
pub mod plan;
pub mod progress;
pub mod protocol;
pub mod query;
pub mod ratelimit;
pub mod retry;
pub mod safefs;
pub mod shard;
pub mod shutdown;
pub mod simulator;
pub mod state;
pub mod template;

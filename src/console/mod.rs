//! What the operator sees on stderr while a run goes: the log lines
//! ([`logging`]) and the progress bar or its periodic line ([`progress`]).

pub mod logging;
pub mod progress;

//! Integration tests: the real binary (or the library's `run`) against the
//! simulator over loopback HTTP; outputs parsed back with csv and serde_json.

mod common;
mod contacts;
mod cron;
mod docs;
mod doctor;
mod drift;
mod envelope;
mod export;
mod faults;
mod hostile;
mod input;
mod limits;
mod mask;
mod parquet_output;
mod pipeline;
mod pipeline_contacts;
mod progress;
mod request;
mod resume;
mod secrecy;
mod security;
mod skipped;
mod state;
mod tls;
mod upgrade;

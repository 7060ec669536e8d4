//! Talking to the platform: the response shape ([`types`]), what each answer
//! means ([`classify`]) and the HTTP client that keeps the key secret
//! ([`client`]).

pub mod classify;
pub mod client;
pub mod types;

pub use classify::{Cause, StopReason, Verdict};
pub use client::ApiClient;
pub use types::{Chat, Envelope, Field, Message};

//! Talking to the platform: the response shape ([`types`]), what each answer
//! means ([`classify`], and a non-2000 `Code` in [`codes`]), where requests go and the key they carry
//! ([`endpoint`]), the HTTP client that keeps the key secret
//! ([`client`]), the request's window and filters ([`query`]) and the pool
//! of reused answer and row buffers that keeps memory flat ([`bufpool`]).

pub mod bufpool;
pub mod classify;
pub mod client;
pub mod codes;
pub mod endpoint;
pub mod query;
#[cfg(feature = "static-resolver")]
pub mod resolve;
pub mod types;
pub mod untrusted;

pub use classify::{Cause, CodeAnswer, StopReason, Verdict};
pub use client::ApiClient;
pub use codes::{CodeClass, CodePolicy};
pub use endpoint::ApiKey;
pub use types::{Chat, Envelope, Field, Message};

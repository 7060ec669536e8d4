//! Talking to the platform: the response shape ([`types`]), what each answer
//! means ([`classify`], and a non-2000 `Code` in [`codes`]), where requests go and the key they carry
//! ([`endpoint`]) and the HTTP client that keeps the key secret
//! ([`client`]).

pub mod classify;
pub mod client;
pub mod codes;
pub mod endpoint;
#[cfg(feature = "static-resolver")]
pub mod resolve;
pub mod types;
pub mod untrusted;

pub use classify::{Cause, CodeAnswer, StopReason, Verdict};
pub use client::ApiClient;
pub use codes::{CodeClass, CodePolicy};
pub use endpoint::ApiKey;
pub use types::{Chat, Envelope, Field, Message};

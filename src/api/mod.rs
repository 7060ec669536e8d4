//! Talking to the platform: the envelope of every answer ([`envelope`]),
//! read tolerantly ([`json`]), the chat records ([`chat_record`]), the contact
//! list ([`contacts`]), what each answer
//! means ([`classify`], and a non-2000 `Code` in [`codes`]), where requests go and the key they carry
//! ([`endpoint`]), the HTTP client that keeps the key secret
//! ([`client`]), the request's window and filters ([`query`]) and the pool
//! of reused answer and row buffers that keeps memory flat ([`bufpool`]).

pub mod bufpool;
pub mod chat_record;
pub mod classify;
pub mod client;
pub mod codes;
pub mod contacts;
pub mod endpoint;
pub mod envelope;
pub mod json;
pub mod query;
#[cfg(feature = "static-resolver")]
pub mod resolve;
pub mod untrusted;

pub use chat_record::{Chat, ChatAnswer, Message};
pub use classify::{Cause, CodeAnswer, StopReason, Verdict};
pub use client::ApiClient;
pub use codes::{CodeClass, CodePolicy};
pub use endpoint::{ApiKey, Endpoint, Request};
pub use envelope::Envelope;
pub use json::Field;
